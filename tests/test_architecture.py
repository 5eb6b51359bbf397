"""The package's layering, read from its source with ``ast``: no import cycle, and library code never
imports a command-line module (``cli.py``, ``__main__.py``, ``*/commands.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import betavae_sym

PACKAGE = Path(betavae_sym.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The package modules that ``path`` imports anywhere in its body (function-level imports included)."""
    found = set()
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) for name, path in mods.items()}


def is_command_line(name: str) -> bool:
    return name in ("betavae_sym.cli", "betavae_sym.__main__") or name.endswith(".commands")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


# Package-level __init__ modules are not edges: ``import betavae_sym.x.y`` runs ``betavae_sym.x`` first,
# but that is Python's import machinery, not a dependency of y on x's contents.
def _edges() -> dict[str, set[str]]:
    return {name: {t for t in targets if modules()[t].name != "__init__.py"} for name, targets in graph().items()}


def test_the_walker_sees_known_imports():
    edges = graph()
    assert "betavae_sym.errors" in edges["betavae_sym.cli"]
    assert "betavae_sym.symbolic.model" in edges["betavae_sym.symbolic.derivations"]


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Violations found by the structure review (issue 12), being removed; each entry must still exist
# (a stale entry fails), and the lists end empty.
KNOWN_CYCLES = []
KNOWN_LIBRARY_TO_CLI = []


def test_no_import_cycles():
    assert cycles(_edges()) == KNOWN_CYCLES


def test_library_never_imports_the_command_line():
    bad = sorted((name, target) for name, targets in _edges().items() if not is_command_line(name)
                 for target in targets if is_command_line(target))
    assert bad == KNOWN_LIBRARY_TO_CLI


def test_cli_names_the_flag_of_a_library_parameter():
    from betavae_sym.cli import build_parser, flag_names
    from betavae_sym.errors import BadInput

    parser = build_parser()
    args = parser.parse_args(["simulate", "--dataset", "mixed-digits", "--store", "x.db", "--preset", "quick"])
    flags = flag_names(parser, args.handler)
    assert flags["batch_size"] == "--batch-size" and flags["lr"] == "--lr"
    error = BadInput("0 must be an integer >= 1", parameter="batch_size")
    assert error.naming(flags) == "--batch-size: 0 must be an integer >= 1"
    assert BadInput("x", parameter="not_a_flag").naming(flags) == "not_a_flag: x"

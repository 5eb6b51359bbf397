"""Reuse of the symbolic derivations between runs of ``reproduce``, keyed by a content hash of their sources.

The derivations (``paper_checks.context.run_symbolic``: every equation record,
the Markdown documents, the moment identities) are a pure function of

* the source files of ``betavae_sym/symbolic`` and ``betavae_sym/paper_checks``
  (the engine, and the code that turns its results into records and LaTeX;
  every ``.py`` file of both folders, so that no dependency is missed),
* the versions of betavae-sym, SymPy, mpmath and Python (printing and
  simplification change between SymPy releases),
* the topics derived.

:func:`derivation_key` hashes all of these (SHA-256); :func:`load` returns the
saved run only when its key is the current one, so any edit to a source file,
or another version, derives afresh. The cache is one JSON file,
``<out>/.cache/derivations.json``, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

#: The package folder whose sources the key covers.
PACKAGE_ROOT = Path(__file__).resolve().parent
#: Sub-folders of the package whose ``.py`` files the derivations depend on.
SOURCE_FOLDERS = ("symbolic", "paper_checks")
#: Format of the cache file; a file in another format is ignored.
CACHE_FORMAT = 1


def source_files(root: Path | None = None) -> list[Path]:
    """Every ``.py`` file under the :data:`SOURCE_FOLDERS` of ``root`` (default :data:`PACKAGE_ROOT`), sorted."""
    root = Path(PACKAGE_ROOT if root is None else root)
    return sorted(path for folder in SOURCE_FOLDERS for path in (root / folder).rglob("*.py"))


def derivation_key(topics, root: Path | None = None) -> str:
    """SHA-256 (hex) of the source files under ``root`` (names and bytes; default :data:`PACKAGE_ROOT`), the
    versions, and the sorted ``topics``."""
    import mpmath
    import sympy

    from betavae_sym import __version__

    root = Path(PACKAGE_ROOT if root is None else root)
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    versions = {"betavae-sym": __version__, "sympy": sympy.__version__, "mpmath": mpmath.__version__,
                "python": platform.python_version(), "format": CACHE_FORMAT}
    digest.update(json.dumps({"versions": versions, "topics": sorted(topics)}, sort_keys=True).encode())
    return digest.hexdigest()


def cache_path(out: Path) -> Path:
    return Path(out) / ".cache" / "derivations.json"


def _to_json(run) -> dict:
    return {"equations": run.equations, "documents": run.documents,
            "identities": [list(identity) for identity in run.identities], "topics": sorted(run.topics)}


def _from_json(document: dict):
    from betavae_sym.paper_checks.context import SymbolicRun

    return SymbolicRun(equations=document["equations"], documents=document["documents"],
                       identities=[tuple(identity) for identity in document["identities"]],
                       topics=set(document["topics"]))


def load(path: Path, key: str):
    """The saved :class:`~betavae_sym.paper_checks.context.SymbolicRun` if ``path`` holds one made under ``key``;
    None when the file is missing, unreadable, in another format, or made from other sources."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("key") != key:
            return None
        return _from_json(document["run"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(path: Path, key: str, run) -> None:
    """Write ``run`` under ``key`` to ``path`` (atomically; the folder is created)."""
    from betavae_sym.fileio import atomic_write_text

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), json.dumps({"key": key, "run": _to_json(run)}, sort_keys=True) + "\n")

"""A second ``reproduce`` reuses the derivations while their sources and versions are unchanged, and only then."""

from __future__ import annotations

import shutil

import pytest

from betavae_sym import derivation_cache
from betavae_sym.derivation_cache import PACKAGE_ROOT, SOURCE_FOLDERS, derivation_key
from betavae_sym.reproduce import reproduce


@pytest.fixture
def sources(tmp_path):
    """A copy of the package folders the derivations depend on (byte for byte: the same key)."""
    root = tmp_path / "package"
    for folder in SOURCE_FOLDERS:
        shutil.copytree(PACKAGE_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_key_changes_with_every_source_file_the_versions_and_the_topics(sources, monkeypatch):
    import sympy

    key = derivation_key(["propositions"], sources)
    assert key == derivation_key(["propositions"], PACKAGE_ROOT) == derivation_key(("propositions",), sources)
    model = sources / "symbolic" / "model.py"
    original = model.read_bytes()
    model.write_bytes(original + b"\n# an edit\n")
    assert derivation_key(["propositions"], sources) != key
    model.write_bytes(original)
    assert derivation_key(["propositions"], sources) == key
    (sources / "paper_checks" / "new.py").write_text("X = 1\n")       # a new file counts
    assert derivation_key(["propositions"], sources) != key
    (sources / "paper_checks" / "new.py").unlink()
    (sources / "README.txt").write_text("not a source\n")              # outside the source folders: no change
    assert derivation_key(["propositions"], sources) == key
    assert derivation_key(["propositions", "objective"], sources) != key
    monkeypatch.setattr(sympy, "__version__", "0.0.1")
    assert derivation_key(["propositions"], sources) != key


def test_an_unreadable_or_foreign_cache_is_ignored(tmp_path):
    path = tmp_path / "derivations.json"
    assert derivation_cache.load(path, "k") is None                     # missing
    for text in ("{not json", "[]", '{"key": "k"}', '{"key": "k", "run": {"equations": 3}}'):
        path.write_text(text)
        assert derivation_cache.load(path, "k") is None, text


def _run(out, **kw):
    return reproduce(out, "quick", progress=False, jobs=1, only=["eq21", "eq63"], topics=("propositions",),
                     analytic_betas=[1.0], **kw)


def test_a_second_reproduce_reuses_the_derivations_until_a_symbolic_source_changes(tmp_path, sources, monkeypatch):
    import betavae_sym.paper_checks.context as context

    out = tmp_path / "report"
    first = _run(out)
    assert first.failed == [] and "reused" not in first.stages[0].detail
    documents = {path.name: path.read_text() for path in (out / "derivations").iterdir()}
    checks = (out / "checks.json").read_text()
    calls = []

    def must_not_derive(*args, **kwargs):
        raise AssertionError("derived again although nothing changed")

    monkeypatch.setattr(context, "run_symbolic", must_not_derive)
    monkeypatch.setattr(derivation_cache, "PACKAGE_ROOT", sources)  # an identical copy: the same key
    second = _run(out)
    assert second.failed == [] and "reused from .cache/derivations.json" in second.stages[0].detail
    assert {path.name: path.read_text() for path in (out / "derivations").iterdir()} == documents
    assert (out / "checks.json").read_text() == checks

    def counted(*args, **kwargs):  # stands in for the derivation (the first run's result), counting the calls
        calls.append(args)
        return first.context.symbolic_run

    monkeypatch.setattr(context, "run_symbolic", counted)
    model = sources / "symbolic" / "model.py"
    model.write_text(model.read_text() + "\n# a change to a symbolic source\n")
    third = _run(out)
    assert len(calls) == 1, "a changed symbolic source did not derive afresh"
    assert third.failed == [] and "reused" not in third.stages[0].detail
    assert derivation_cache.load(derivation_cache.cache_path(out), derivation_key(["propositions"], sources))

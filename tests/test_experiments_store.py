"""Damaged stores: one line naming the store and the row, exit status 2, nothing written, no work done first."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from betavae_sym.cli import main
from test_experiments_sweep import reference  # noqa: F401 - a fixture: the tiny sweep's store and summary


def _damaged(reference, tmp_path, statement: str, name: str = "damaged.db"):
    """A copy of the reference store with ``statement`` applied."""
    store = tmp_path / name
    shutil.copyfile(reference[0], store)
    connection = sqlite3.connect(store)
    connection.execute(statement)
    connection.commit()
    connection.close()
    return store


TRUNCATED_BLOB = "UPDATE tasks SET params = substr(params, 1, length(params) / 2) WHERE beta = 4.0 AND realization = 0"
BROKEN_METRICS = "UPDATE tasks SET metrics = substr(metrics, 1, 30) WHERE beta = 1.0 AND realization = 2"
BROKEN_SETTINGS = "UPDATE meta SET value = substr(value, 1, 30) WHERE key = 'settings'"
NOT_A_RECORD = "UPDATE tasks SET metrics = '[1, 2]' WHERE beta = 0.5 AND realization = 1"


def _one_line(capsys, *names) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, (name, err)
    return err


@pytest.mark.parametrize("statement, row", [(TRUNCATED_BLOB, "beta = 4.0, realization 0"),
                                            (BROKEN_METRICS, "beta = 1.0, realization 2"),
                                            (NOT_A_RECORD, "beta = 0.5, realization 1"),
                                            (BROKEN_SETTINGS, "'settings' row")])
def test_summarize_of_a_damaged_store_names_it_and_writes_nothing(reference, tmp_path, capsys, statement, row):
    store = _damaged(reference, tmp_path, statement)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["summarize", "--store", str(store), "--json", str(out / "s.json"), "--csv", str(out / "s.csv"),
                 "--plot", str(out / "figures")]) == 2
    _one_line(capsys, str(store), row)
    assert list(out.iterdir()) == []


def test_simulate_refuses_a_store_with_damaged_settings(reference, tmp_path, capsys):
    from test_experiments_sweep import tiny_args

    store = _damaged(reference, tmp_path, BROKEN_SETTINGS)
    before = store.read_bytes()
    assert main(tiny_args(store)) == 2
    _one_line(capsys, str(store), "--store", "not valid JSON")
    assert store.read_bytes() == before


def _sweeps_with_damaged_positioned_digit_store(reference, tmp_path):
    """A sweeps folder whose quick positioned-digit store has a damaged row (the settings match the quick preset
    only in name: the row is checked first)."""
    folder = tmp_path / "sweeps"
    folder.mkdir()
    _damaged(reference, folder, BROKEN_METRICS, name="positioned-digit-quick.db")
    return folder


def test_check_validates_the_deep_stores_before_training_anything(reference, tmp_path, capsys):
    folder = _sweeps_with_damaged_positioned_digit_store(reference, tmp_path)
    assert main(["check", "--preset", "quick", "--only", "fig5-kl-decreasing", "--sweeps", str(folder),
                 "--no-progress"]) == 2
    _one_line(capsys, "positioned-digit-quick.db", "beta = 1.0, realization 2")
    assert sorted(path.name for path in folder.iterdir()) == ["positioned-digit-quick.db"]  # no mixed-digits sweep


def test_reproduce_validates_the_deep_stores_before_writing_anything(reference, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    folder = _sweeps_with_damaged_positioned_digit_store(reference, out)
    assert main(["reproduce", "--preset", "quick", "--out", str(out), "--no-progress"]) == 2
    _one_line(capsys, "positioned-digit-quick.db", "beta = 1.0, realization 2")
    assert [path.name for path in out.iterdir()] == ["sweeps"]
    assert [path.name for path in folder.iterdir()] == ["positioned-digit-quick.db"]


def test_a_store_made_before_heldout_evaluation_is_refused_untouched(reference, tmp_path, capsys):
    import json

    from test_experiments_sweep import tiny_args

    # the reference store with its settings as a version before held-out evaluation wrote them
    store = tmp_path / "old.db"
    shutil.copyfile(reference[0], store)
    connection = sqlite3.connect(store)
    settings = json.loads(connection.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()[0])
    del settings["metrics"]["heldout"]
    connection.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(settings),))
    connection.commit()
    connection.close()
    before = store.read_bytes()
    for args in (tiny_args(store), ["summarize", "--store", str(store), "--json", str(tmp_path / "s.json")]):
        assert main(args) == 2
        _one_line(capsys, str(store), "before held-out evaluation", "use a new --store")
    assert store.read_bytes() == before and not (tmp_path / "s.json").exists()

"""The rows of issue 15's table "Bad input that still crashes or lies", each as its command.

Every one must end as exactly one line on standard error, exit status 2,
before anything is computed, with no traceback, no NumPy warning and no file
written (``bad_input.assert_refused``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_input import assert_refused, lay_out_workspace

from betavae_sym.cli import main

ANALYTIC = ["analytic", "--mixing", "paper", "--N", "4", "--k", "2", "--betas", "1,2", "--no-progress"]
SIMULATE = ["simulate", "--dataset", "mixed-digits", "--betas", "1", "--realizations", "1", "--epochs", "1",
            "--n", "20", "--batch-size", "10", "--encoder-hidden", "4", "--decoder-hidden", "4", "--samples", "2",
            "--store", "new.db", "--no-progress"]
PREVIEW = ["datasets", "preview", "--dataset", "mixed-digits", "--n", "4"]


@pytest.fixture
def workdir(tmp_path) -> Path:
    lay_out_workspace(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv", [
    [*ANALYTIC, "--json", "folder.json"],
    [*ANALYTIC, "--csv", "folder.csv"],
    [*ANALYTIC, "--plot", "folder.png"],
    [*ANALYTIC, "--plot", "fig.png", "--json", "fig.svg"],  # the plot's SVG sibling is another output
    [*ANALYTIC, "--json", "ok.json", "--csv", "folder.csv"],  # ok.json must not be left behind
    [*ANALYTIC, "--json", "same.json", "--csv", "same.json"],
    [*ANALYTIC, "--json", "ok.json", "--plot", "file.txt/figure.png"],
    [*PREVIEW, "--out", "folder.png"],
    ["check", "--only", "eq1", "--json", "folder.json"],
    ["check", "--list", "--json", "folder.json"],
], ids=lambda argv: " ".join(argv[-2:]))
def test_outputs_are_checked_before_computing(workdir, argv):
    line = assert_refused(argv, workdir).stderr
    assert "folder" in line or "same.json" in line or "fig.svg" in line or "file.txt" in line


@pytest.mark.parametrize(("argv", "flag"), [
    ([*ANALYTIC, "--seed", "-1"], "--seed"),
    ([*PREVIEW, "--out", "p.png", "--data-seed", "-1"], "--data-seed"),
    ([*SIMULATE, "--data-seed", "-1"], "--data-seed"),
    ([*SIMULATE, "--lr", "inf"], "--lr"),
    ([*SIMULATE, "--sigma-eta", "nan"], "--sigma-eta"),
])
def test_negative_seeds_and_non_finite_numbers(workdir, argv, flag):
    assert assert_refused(argv, workdir).stderr.split(": error: ")[1].startswith(flag)


@pytest.mark.parametrize(("argv", "flag", "size"), [
    (["analytic", "--mixing", "paper", "--betas", "1:2:1000000000000"], "--betas", "1000000000000"),
    (["analytic", "--mixing", "paper", "--N", "1000000000000", "--betas", "1"], "--N", "1000000000000"),
    (["analytic", "--mixing", "paper", "--N", "100000", "--k", "1000", "--betas", "1"], "--k", "1000"),
    ([*SIMULATE, "--n", "1000000000000"], "--n", "1000000000000"),
    ([*SIMULATE, "--decoder-hidden", "1000000000000"], "--decoder-hidden", "1000000000000"),
])
def test_sizes_beyond_memory_name_the_size_and_the_memory(workdir, argv, flag, size):
    line = assert_refused(argv, workdir).stderr
    assert line.split(": error: ")[1].startswith(flag) and size in line
    assert "memory" in line and ("TB" in line or "PB" in line)


def test_mixing_matrix_near_1e200_is_refused(workdir):
    np.save(workdir / "huge.npy", np.array([[1e200, 0.0], [0.0, 1e200], [1e200, 1e200]]))
    line = assert_refused(["analytic", "--mixing", "huge.npy", "--betas", "1"], workdir).stderr
    assert "--mixing" in line and "condition number" in line


def test_mixing_folder_is_named_a_folder(workdir):
    line = assert_refused(["analytic", "--mixing", "folder.npy", "--betas", "1"], workdir).stderr
    assert "is a folder" in line


@pytest.mark.parametrize("argv", [
    ["analytic", "--mixing", "empty.csv", "--betas", "1"],
    ["analytic", "--mixing", "paper", "--betas", "1e300"],
    ["analytic", "--mixing", "paper", "--betas", "1:1e13:3"],
])
def test_no_numpy_warnings_around_the_error_line(workdir, argv):
    assert_refused(argv, workdir)


def test_no_numpy_warnings_in_a_real_process(workdir):
    """The same through a fresh interpreter: what reaches file descriptor 2 is the one line."""
    run = subprocess.run([sys.executable, "-m", "betavae_sym", "analytic", "--mixing", "empty.csv", "--betas", "1"],
                         cwd=workdir, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr


def test_mixing_matrix_of_moderate_scale_is_accepted(tmp_path, capsys):
    """The conditioning bound refuses only what float64 cannot hold: A scaled by 100 still solves."""
    np.save(tmp_path / "scaled.npy", 100 * 0.5 * (np.ones((5, 2)) + np.eye(5, 2)))
    assert main(["analytic", "--mixing", str(tmp_path / "scaled.npy"), "--betas", "1", "--json", "-",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["records"][0]["converged"]


@pytest.mark.parametrize("target", ["-", "list.json"])
def test_check_list_json_is_json(tmp_path, capsys, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--list", "--json", target]) == 0
    text = capsys.readouterr().out if target == "-" else (tmp_path / target).read_text()
    listing = json.loads(text)
    assert {"eq1", "eq26"} <= {entry["id"] for entry in listing}
    assert all(set(entry) == {"id", "claim", "location"} for entry in listing)

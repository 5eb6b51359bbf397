"""Sweeps: task seeds, the store (resume, refusal, SIGKILL), executors (pool, Dask) and summaries."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from betavae_sym.cli import main
from betavae_sym.errors import BadInput
from betavae_sym.experiments.sweep import simulate, summarize

ROOT = Path(__file__).resolve().parents[1]
# a tiny sweep: 3 betas x 4 realizations on 60 positioned digits (scored on 40 held-out rows), a small network,
# a few epochs
TINY = ["--dataset", "positioned-digit", "--betas", "0.5,1,4", "--realizations", "4", "--epochs", "15", "--n", "60",
        "--batch-size", "20", "--samples", "8", "--encoder-hidden", "24,12", "--decoder-hidden", "12,24",
        "--heldout", "40"]


def tiny_args(store, *extra):
    return ["simulate", *TINY, "--store", str(store), "--no-progress", *extra]


def tiny_settings(**changes):
    """The SweepSettings that the command line makes of the tiny sweep, with ``changes`` to its parsed options."""
    from betavae_sym.cli import build_parser
    from betavae_sym.experiments.commands import sweep_settings

    args = build_parser().parse_args(tiny_args("unused.db"))
    for key, value in changes.items():
        setattr(args, key, value)
    return sweep_settings(args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted local run of the tiny sweep and its summary."""
    store = tmp_path_factory.mktemp("reference") / "sweep.db"
    assert main(tiny_args(store, "--workers", "2")) == 0
    return store, summarize(store)


def rows(store) -> int:
    try:
        connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return connection.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def test_task_seed_depends_on_dataset_training_beta_and_realization_only():
    from betavae_sym.experiments.settings import SweepSettings
    from betavae_sym.experiments.tasks import Task

    settings = tiny_settings()
    seed = Task(settings, 1.0, 2).seed
    round_trip = SweepSettings.from_json(json.loads(json.dumps(settings.to_json())))
    assert Task(round_trip, 1.0, 2).seed == seed  # a JSON round trip keeps it
    assert len({seed, Task(settings, 1.0, 3).seed, Task(settings, 0.5, 2).seed}) == 3
    assert Task(tiny_settings(epochs=16), 1.0, 2).seed != seed
    assert Task(tiny_settings(data_seed=1), 1.0, 2).seed != seed
    assert Task(tiny_settings(samples=9), 1.0, 2).seed == seed  # metrics settings do not change training
    assert Task(tiny_settings(betas="1", realizations=3), 1.0, 2).seed == seed  # nor does the grid


def test_a_task_gives_the_same_numbers_in_this_process_and_in_a_worker_pool():
    from betavae_sym.experiments.executors import run_local
    from betavae_sym.experiments.tasks import make_tasks, run_task

    tasks = make_tasks(tiny_settings(betas="1", realizations=2))
    here = [run_task(task) for task in tasks]
    pooled = sorted(run_local(tasks, workers=2), key=lambda result: result["realization"])
    assert [r["metrics"] for r in here] == [r["metrics"] for r in pooled]
    assert here[0]["params"] == pooled[0]["params"] and here[1]["params"] is None  # realization 0 keeps its weights
    assert here[0]["metrics"] != here[1]["metrics"]


def test_a_diverged_task_is_recorded_as_diverged_and_left_out_of_the_statistics(tmp_path, monkeypatch):
    import math

    from betavae_sym.deep.model import BetaVAE
    from betavae_sym.experiments.store import Store, create_store
    from betavae_sym.experiments.tasks import make_tasks, run_task

    settings = tiny_settings(betas="1", realizations=2)
    tasks = make_tasks(settings)
    initialize = BetaVAE._initialize

    def blown_up(self, shapes):  # the second task's network overflows float32 in its first step
        initialize(self, shapes)
        if self.seed == tasks[1].seed:
            self.params["out.W"][...] *= 1e20

    monkeypatch.setattr(BetaVAE, "_initialize", blown_up)
    results = [run_task(task) for task in tasks]
    assert [result["status"] for result in results] == ["done", "diverged"]
    assert "at epoch 1" in results[1]["message"]
    assert results[1]["metrics"] is None and results[1]["final_loss"] is None and results[1]["params"] is None
    path, digest = tmp_path / "sweep.db", settings.settings_hash
    create_store(path, settings.identity(), digest, "test")
    store = Store(path, digest)
    for result in results:
        store.write(result)
    store.close()
    summary = summarize(path)
    assert summary["count"] == [1] and summary["diverged"] == [1]
    defined = [name for name in summary["metrics"] if results[0]["metrics"].get(name, 0.0) is not None]  # kl_unit_j too
    assert all(math.isfinite(summary["metrics"][name]["mean"][0]) for name in defined)


def test_rerun_skips_finished_tasks_and_a_larger_sweep_runs_only_the_new_ones(reference, tmp_path, capsys):
    store, summary = reference
    copy = tmp_path / "copy.db"
    copy.write_bytes(store.read_bytes())
    assert main(tiny_args(copy)) == 0
    assert "12 already in" in capsys.readouterr().out and rows(copy) == 12
    more = tiny_args(copy)
    more[more.index("--realizations") + 1] = "5"
    assert main(more) == 0
    assert "12 already in" in capsys.readouterr().out and rows(copy) == 15
    extended = summarize(copy)
    assert extended["count"] == [5, 5, 5]
    assert extended["metrics"]["elbo"]["max"][0] >= summary["metrics"]["elbo"]["max"][0]


def test_summary_after_sigkill_and_resume_equals_an_uninterrupted_run(reference, tmp_path):
    store = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "betavae_sym", *tiny_args(store, "--workers", "1")],
                               env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while rows(store) < 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever of that run is left (its workers exit by themselves)
        except ProcessLookupError:
            pass
    interrupted = rows(store)
    assert 1 <= interrupted < 12, "the sweep was not interrupted in the middle"
    assert main(tiny_args(store)) == 0
    assert rows(store) == 12
    resumed = summarize(store)
    assert resumed == reference[1]


@pytest.mark.slow  # the default run has the stronger test_experiments_dask.py (separate processes, a killed worker)
def test_dask_local_cluster_run_equals_the_local_run(reference, tmp_path):
    LocalCluster = pytest.importorskip("dask.distributed").LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = simulate(tiny_settings(), tmp_path / "dask.db", executor="dask",
                          scheduler=cluster.scheduler_address, progress=False)
    assert report.ran == 12
    assert summarize(tmp_path / "dask.db") == reference[1]


def test_summary_json_csv_and_figures(reference, tmp_path, capsys):
    store, summary = reference
    assert main(["summarize", "--store", str(store), "--json", "-", "--csv", str(tmp_path / "s.csv"),
                 "--plot", str(tmp_path / "figs")]) == 0
    document = json.loads(capsys.readouterr().out)  # standard output holds only the JSON
    assert document["betas"] == [0.5, 1.0, 4.0] and document["count"] == [4, 4, 4]
    assert set(document["metrics"]["tie"]) == {"mean", "min", "max", "sem"}
    assert document["evaluation"] == {"heldout": 40, "train_rows": 40}
    assert document["protocol"] == {"n": 60, "epochs": 15, "batch_size": 20, "realizations": [4, 4], "heldout": 40}
    assert "theory" not in document and not any(name.startswith("theory_") for name in document["metrics"])
    sd, sem = document["spread"]["elbo"]["sd"], document["metrics"]["elbo"]["sem"]
    assert sd == pytest.approx([s * 2 for s in sem])  # sem = sd / sqrt(R), R = 4
    for name in ("elbo", "tie", "recon", "kl", "mie", "mig", "dci_disentanglement", "kl_unit_1", "active_units",
                 "train_elbo", "train_tie", "tie_rotation", "train_tie_rotation", "p_mig", "p_axes_angle_deg"):
        entry = document["metrics"][name]
        assert all(lo <= m <= hi for lo, m, hi in zip(entry["min"], entry["mean"], entry["max"]))
    assert document["extrema"]["elbo"]["kind"] == "max" and document["extrema"]["tie"]["kind"] == "min"
    assert document["extrema"]["elbo"]["value"] == max(document["metrics"]["elbo"]["mean"])
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("beta,count,diverged,elbo_mean,elbo_min,elbo_max,elbo_sem")
    for name in ("figure5", "figure5-rotation", "figure5e"):
        assert (tmp_path / "figs" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (tmp_path / "figs" / f"{name}.svg").read_bytes()[:1000]


def _untouched(path: Path, action) -> str:
    before = path.read_bytes()
    with pytest.raises(BadInput) as info:
        action()
    assert path.read_bytes() == before
    return str(info.value)


def test_a_store_made_with_other_settings_is_refused_untouched(reference, tmp_path):
    store = tmp_path / "copy.db"
    store.write_bytes(reference[0].read_bytes())
    args = tiny_args(store)
    args[args.index("--epochs") + 1] = "16"
    message = _untouched(store, lambda: _raise_if_exit(args))
    assert "other settings" in message and "training.epochs" in message
    assert main(args) == 2 and store.read_bytes() == reference[0].read_bytes()


def _raise_if_exit(args):  # main() turns BadInput into exit status 2: call the handler to see the exception
    from betavae_sym.cli import build_parser

    parsed = build_parser().parse_args(args)
    parsed.handler(parsed)


@pytest.mark.parametrize("content", [b"not a database at all" * 100, "sqlite"])
def test_a_corrupt_or_foreign_file_is_refused_untouched(tmp_path, content):
    store = tmp_path / "foreign.db"
    if content == "sqlite":
        connection = sqlite3.connect(store)
        connection.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        connection.commit()
        connection.close()
    else:
        store.write_bytes(content)
    message = _untouched(store, lambda: _raise_if_exit(tiny_args(store)))
    assert "not a" in message and str(store) in message
    message = _untouched(store, lambda: summarize(store))


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")

    def changed(option, value, store=tmp_path / "new" / "sub" / "c.db"):
        args = tiny_args(store)
        args[args.index(option) + 1] = value
        return args

    cases = [
        (changed("--dataset", "cifar"), "--dataset"),
        (changed("--realizations", "0"), "--realizations"),
        (changed("--betas", "1,,x"), "--betas"),
        (changed("--betas", "1,-2"), "--betas"),
        (changed("--epochs", "-1"), "--epochs"),
        (tiny_args(blocker / "store.db"), "--store"),  # a folder that is a file: unwritable
        ([*tiny_args(tmp_path / "a.db")[:4], "", *tiny_args(tmp_path / "a.db")[5:]], "--betas"),  # empty list
        (tiny_args(tmp_path / "b.db", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                   "--connect-timeout", "1"), "--scheduler"),
        (tiny_args(tmp_path), "--store"),  # a folder
        (["summarize", "--store", str(tmp_path / "missing.db")], "--store"),
    ]
    for args, option in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and option in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no store and no folder was created


def test_run_sweeps_gives_the_command_line_numbers_summaries_and_figures(reference, tmp_path):
    from betavae_sym.experiments.settings import preset_sweeps
    from betavae_sym.experiments.store import read_rows
    from betavae_sym.experiments.sweep import run_sweeps

    sweeps = preset_sweeps(None, ["positioned-digit"], betas=[1.0], realizations=2, epochs=15, n=60, batch_size=20,
                           samples=8, encoder_hidden=(24, 12), decoder_hidden=(12, 24), heldout=40)
    outputs = run_sweeps(tmp_path / "out", sweeps, progress=False, workers=2)
    output = outputs["positioned-digit"]
    assert output.report.ran == 2 and output.summary["betas"] == [1.0] and output.summary["count"] == [2]
    # the same tasks as in the command-line sweep: the same numbers
    theirs = {row["task_id"]: row["metrics"] for row in read_rows(reference[0])[1]}
    ours = read_rows(output.store)[1]
    assert [theirs[row["task_id"]] for row in ours] == [row["metrics"] for row in ours]
    names = sorted(path.name for path in output.files)
    assert names == sorted(["positioned-digit-summary.json", "positioned-digit-summary.csv", "figure5.png",
                            "figure5.svg", "figure5-rotation.png", "figure5-rotation.svg", "figure5e.png",
                            "figure5e.svg"])
    assert json.loads((tmp_path / "out" / "positioned-digit-summary.json").read_text())["betas"] == [1.0]
    assert output.store.name == "positioned-digit-custom.db"
    assert run_sweeps(tmp_path / "out", sweeps, progress=False)["positioned-digit"].report.ran == 0  # resumed
    with pytest.raises(BadInput, match="sweeps: give one SweepSettings per dataset"):
        run_sweeps(tmp_path / "out", sweeps * 2, progress=False)


def test_a_port_that_answers_but_is_not_a_dask_scheduler_is_bad_input_within_the_timeout(tmp_path):
    pytest.importorskip("dask.distributed")
    import socket
    import threading

    from betavae_sym.experiments.executors import DaskExecutor

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer_garbage():
        try:
            while True:
                connection, _ = server.accept()
                connection.sendall(b"\xff" * 64)  # an absurd frame length, like an HTTP proxy's reply
        except OSError:
            pass

    threading.Thread(target=answer_garbage, daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(BadInput, match="--scheduler: cannot reach"):
            DaskExecutor(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=2)
    finally:
        server.close()
    assert time.monotonic() - start < 10

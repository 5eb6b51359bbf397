"""A sweep on a Dask cluster of separate processes (a scheduler and two workers on 127.0.0.1, as on a cluster)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from test_experiments_sweep import ROOT, reference, rows, tiny_args  # noqa: F401 - reference is a fixture

distributed = pytest.importorskip("dask.distributed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(*arguments, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dask", *arguments], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def cluster(tmp_path):
    """``(address, {worker name: process})``: `dask scheduler` and two `dask worker --nthreads 1 --no-nanny`."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    log = open(tmp_path / "dask.log", "wb")
    processes = [_start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard",
                        log=log)]
    workers = {}
    try:
        for name in ("w0", "w1"):
            workers[name] = _start("worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                                   "--no-dashboard", "--host", "127.0.0.1", "--death-timeout", "60", log=log)
            processes.append(workers[name])
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_a_sweep_on_separate_dask_processes_survives_a_killed_worker_and_equals_the_local_run(
        cluster, reference, tmp_path):
    from betavae_sym.experiments.store import read_rows

    address, workers = cluster
    store = tmp_path / "dask.db"
    sweep = subprocess.Popen([sys.executable, "-m", "betavae_sym", *tiny_args(store, "--executor", "dask",
                                                                              "--scheduler", address)],
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        with distributed.Client(address, timeout=30) as client:
            deadline = time.monotonic() + 120
            while killed is None and sweep.poll() is None and time.monotonic() < deadline:
                names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
                busy = [names[addr] for addr, keys in client.processing().items() if keys and addr in names]
                if rows(store) >= 2 and busy:  # mid-sweep: some tasks stored, a worker holds one now
                    killed = busy[0]
                    workers[killed].send_signal(signal.SIGKILL)
                    workers[killed].wait()
                    done_when_killed = rows(store)
                time.sleep(0.01)
        out, err = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert killed is not None, "the sweep ended before a worker could be killed in the middle"
    assert done_when_killed < 12
    assert sweep.returncode == 0, err
    assert "12 run now" in out
    theirs = {row["task_id"]: row["metrics"] for row in read_rows(reference[0])[1]}
    ours = {row["task_id"]: row["metrics"] for row in read_rows(store)[1]}
    assert ours == theirs  # every task, with the local executor's numbers

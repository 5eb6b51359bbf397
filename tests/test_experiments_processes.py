"""Processes of a sweep: pool workers die with their parent; concurrent sweeps share a store's tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_experiments_sweep import ROOT, rows, tiny_args

#: Seconds an orphaned worker may outlive its killed parent.
ORPHAN_GRACE = 5.0


def _process_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, start time) of every process, from /proc (Linux)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        table[int(entry.name)] = (int(fields[1]), fields[0], fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """Living descendants of ``pid``: pid -> start time (the pair names a process even if its pid is reused)."""
    table = _process_table()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, state, start) in table.items():
            if ppid == parent and child not in found and state != "Z":
                found[child] = start
                frontier.append(child)
    return found


def _alive(processes: dict[int, str]) -> dict[int, str]:
    table = _process_table()
    return {pid: start for pid, start in processes.items()
            if pid in table and table[pid][2] == start and table[pid][1] != "Z"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to list child processes")
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_workers_exit_within_seconds_when_simulate_is_killed(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed")
    args = tiny_args(tmp_path / "sweep.db", "--workers", "2", "--executor", executor)
    args[args.index("--epochs") + 1] = "400"  # long enough to be killed in the middle
    process = subprocess.Popen([sys.executable, "-m", "betavae_sym", *args], env={**os.environ, "PYTHONPATH": str(ROOT)},
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    children = {}
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            children = _descendants(process.pid)
            if len(children) >= 2 and rows(tmp_path / "sweep.db") == 0:  # the pool is up, training
                time.sleep(1.0)
                children = _descendants(process.pid)
                break
            time.sleep(0.05)
        assert process.poll() is None and len(children) >= 2, "simulate did not start its worker pool"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        killed = time.monotonic()
        while _alive(children) and time.monotonic() - killed < ORPHAN_GRACE:
            time.sleep(0.1)
        left = _alive(children)
        assert not left, f"processes still alive {ORPHAN_GRACE} s after their parent was killed: {sorted(left)}"
    finally:
        for pid in _alive(children):
            os.kill(pid, signal.SIGKILL)

"""Processes of a sweep: pool workers die with their parent; concurrent sweeps share a store's tasks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_experiments_sweep import ROOT, rows, tiny_args, tiny_settings

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


def _assert_no_process_outlives_a_kill(argv, cwd) -> None:
    """Start ``betavae-sym argv``; once it has child processes, kill it (SIGKILL) and require every descendant
    to be gone within :data:`ORPHAN_GRACE` seconds."""
    process = subprocess.Popen([sys.executable, "-m", "betavae_sym", *argv], env={**os.environ, "PYTHONPATH": str(ROOT)},
                               cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    children = {}
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and len(children) < 2:
            children = _descendants(process.pid)
            time.sleep(0.05)
        time.sleep(1.0)  # the rest of the pool starts and gets to work
        children = _descendants(process.pid)
        assert process.poll() is None and len(children) >= 2, f"{argv[0]} did not start its worker pool"
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


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to list processes")


@needs_proc
@pytest.mark.parametrize("executor", ["local", pytest.param("dask", marks=pytest.mark.slow)])  # dask: its own nannies
def test_workers_exit_within_seconds_when_simulate_is_killed(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed")
    args = tiny_args(tmp_path / "sweep.db", "--workers", "2", "--executor", executor)
    args[args.index("--epochs") + 1] = "400"  # long enough to be killed in the middle of its tasks
    _assert_no_process_outlives_a_kill(args, tmp_path)


@needs_proc
def test_derivation_workers_exit_within_seconds_when_derive_is_killed(tmp_path):
    _assert_no_process_outlives_a_kill(["derive", "--out", str(tmp_path / "derivations"), "--jobs", "2",
                                        "--no-progress"], tmp_path)


def _simulate(args, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "betavae_sym", *args], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _task_metrics(store) -> dict:
    from betavae_sym.experiments.store import read_rows

    return {row["task_id"]: row["metrics"] for row in read_rows(store)[1]}


def test_two_simulates_on_one_new_store_share_its_tasks_and_equal_a_single_run(tmp_path):
    from betavae_sym.experiments.tasks import make_tasks, run_task

    shared = tmp_path / "shared.db"
    args = tiny_args(shared, "--workers", "1")
    args[args.index("--epochs") + 1] = "40"  # enough work that both processes are up before it is done
    both = [_simulate(args, tmp_path) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in both]
    assert [process.returncode for process in both] == [0, 0], outputs
    ran = [int(re.search(r"(\d+) run now", out).group(1)) for out, _ in outputs]
    assert sum(ran) == 12, f"tasks trained twice or not at all: {ran}"  # a task is trained once
    assert min(ran) >= 1, f"one process did all the work: {ran}"
    alone = {task.task_id: run_task(task)["metrics"] for task in make_tasks(tiny_settings(epochs=40))}
    assert _task_metrics(shared) == alone  # every task, with the numbers of a run in this process alone


class InProcessExecutor:
    """One slot; runs the submitted tasks in this process when asked for results."""

    slots = 1

    def __init__(self):
        self.queue, self.ran = [], []

    def submit(self, task):
        self.queue.append(task)

    def wait(self, timeout):
        from betavae_sym.experiments.tasks import run_task

        results = [run_task(task) for task in self.queue]
        self.ran += [task.task_id for task in self.queue]
        self.queue = []
        return results

    def close(self):
        pass


def _store_with_claim(tmp_path, owner: str, expires_in: float):
    """A new store of the tiny sweep's beta = 1, two realizations; task 0 claimed by ``owner``."""
    from betavae_sym.experiments.store import Store, create_store
    from betavae_sym.experiments.tasks import make_tasks

    settings = tiny_settings().with_options(betas=[1.0], realizations=2)
    digest = settings.settings_hash
    create_store(tmp_path / "claimed.db", settings.identity(), digest, "test")
    store = Store(tmp_path / "claimed.db", digest)
    tasks = make_tasks(settings)
    store.connection.execute("INSERT INTO claims VALUES (?, ?, ?, ?)",
                             (tasks[0].task_id, owner, time.time() + expires_in, time.time()))
    return store, tasks


def test_a_task_whose_claim_expires_is_run_by_another_process(tmp_path):
    from betavae_sym.experiments.executors import run_claimed

    store, tasks = _store_with_claim(tmp_path, "another-host/4242/abc", expires_in=1.5)
    executor = InProcessExecutor()
    start = time.monotonic()
    steps = list(run_claimed(tasks, store, executor, lease_seconds=1.0))
    waited = time.monotonic() - start
    assert executor.ran == [tasks[1].task_id, tasks[0].task_id]  # the free task first, the claimed one after expiry
    assert waited >= 1.4, "a live claim of another host was taken before it expired"
    assert [step.done for step in steps if step.result is not None] == [1, 2]
    assert store.finished_ids() == {task.task_id for task in tasks}
    assert store.connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    store.close()


def test_a_claim_of_a_process_of_this_host_that_ended_is_taken_at_once(tmp_path):
    import socket

    from betavae_sym.experiments.executors import run_claimed

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    store, tasks = _store_with_claim(tmp_path, f"{socket.gethostname()}/{ended.pid}/abc", expires_in=3600)
    executor = InProcessExecutor()
    list(run_claimed(tasks, store, executor, lease_seconds=3600))
    assert sorted(executor.ran) == sorted(task.task_id for task in tasks)
    store.close()


def test_a_store_made_before_claims_existed_gets_the_table_and_is_resumed(tmp_path):
    import sqlite3

    from betavae_sym.experiments.executors import run_claimed
    from betavae_sym.experiments.store import Store, read_meta

    store, tasks = _store_with_claim(tmp_path, "another-host/1/x", expires_in=-1.0)  # an expired claim
    store.close()
    connection = sqlite3.connect(tmp_path / "claimed.db")
    connection.execute("DROP TABLE claims")  # as an older version wrote it
    connection.commit()
    connection.close()
    store = Store(tmp_path / "claimed.db", read_meta(tmp_path / "claimed.db")["settings_hash"])
    executor = InProcessExecutor()
    list(run_claimed(tasks, store, executor))
    assert store.finished_ids() == {task.task_id for task in tasks}
    store.close()

"""Executors: run tasks and hand back their results as they finish; :func:`run_claimed` shares a store's tasks.

``local``
    A pool of worker processes (``concurrent.futures.ProcessPoolExecutor``,
    spawn start method). Each task runs with one BLAS thread (see
    ``tasks.run_task``), so ``workers`` processes use ``workers`` cores; the
    default is the number of cores available to this process.
``dask``
    ``dask.distributed``: a running scheduler (``--scheduler tcp://HOST:PORT``;
    its workers need ``betavae-sym`` installed and, for ``--mnist DIR``, the
    same folder; start them with ``dask worker ADDRESS --nthreads 1``: BLAS
    thread limits are per process, so several task threads in one worker
    oversubscribe the cores), or without ``--scheduler`` a ``LocalCluster`` of
    ``workers`` single-threaded worker processes. Connecting gives up after
    ``timeout`` seconds with a one-line error.

Both have ``slots`` (tasks to keep in flight), ``submit(task)``,
``wait(timeout) -> [result, ...]`` and ``close()``. Workers only compute;
the parent process writes every result to the store, and claims every task
in the store before submitting it (:func:`run_claimed`), so that several
``simulate`` processes on one store (local, Dask, or both) share the work.
A local pool worker whose parent process dies (``kill -9``) exits within a
second (:func:`betavae_sym.processes.exit_with_parent`).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from betavae_sym.errors import BadInput
from betavae_sym.processes import exit_with_parent

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10.0


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _init_worker(parent: int, settings, dataset) -> None:  # settings: the tasks' SweepSettings, or None
    # Ctrl-C goes to the whole process group: the parent handles it and ends the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent)
    if dataset is not None:
        from betavae_sym.experiments.tasks import preload_dataset

        preload_dataset(settings, dataset)


class LocalExecutor:
    """A pool of ``workers`` worker processes (spawn), started at the first task; one BLAS thread per task.

    ``dataset``, when given, is the tasks' data (``tasks.SweepData``: all tasks share the settings), sent once
    to each worker.
    Processes start on demand, so fewer tasks than ``workers`` start fewer processes.
    """

    def __init__(self, workers: int | None = None, dataset=None):
        self.slots = workers or available_cores()
        self.dataset = dataset
        self._pool = None
        self._futures: set = set()

    def submit(self, task) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from betavae_sym.experiments.tasks import run_task

        if self._pool is None:
            preload = (task.settings, self.dataset) if self.dataset is not None else (None, None)
            self._pool = ProcessPoolExecutor(max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(os.getpid(), *preload))
        self._futures.add(self._pool.submit(run_task, task))

    def wait(self, timeout: float) -> list[dict]:
        """The results of the tasks that finish within ``timeout`` seconds (at least one unless none is running)."""
        from concurrent.futures import FIRST_COMPLETED, wait

        if not self._futures:
            return []
        done, self._futures = wait(self._futures, timeout=timeout, return_when=FIRST_COMPLETED)
        return [future.result() for future in done]

    def close(self) -> None:
        """Shut the pool down; tasks still running (an interruption) are abandoned and their workers ended."""
        if self._pool is None:
            return
        if not self._futures:
            self._pool.shutdown(wait=True)
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()


def run_local(tasks, workers: int | None = None, dataset=None) -> Iterator[dict]:
    """Run ``tasks`` in a local process pool (no store, no claims); yield each result when it is done."""
    executor = LocalExecutor(workers, dataset)
    try:
        for task in tasks:
            executor.submit(task)
        while results := executor.wait(timeout=None):
            yield from results
    finally:
        executor.close()


class DaskExecutor:
    """A ``dask.distributed.Client``, connected on construction (BadInput when unreachable).

    ``dataset`` (optional, the tasks' ``tasks.SweepData``) is scattered once to every worker at the first task.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None, timeout: float = CONNECT_TIMEOUT,
                 dataset=None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise BadInput("--executor dask: dask.distributed is not installed; "
                           "pip install 'dask[distributed]'") from None
        self.cluster = None
        self.dataset = dataset
        self._scattered = None
        self._futures: set = set()
        if scheduler is None:
            self.cluster = LocalCluster(n_workers=workers or available_cores(), threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
            return
        try:
            self.client = Client(scheduler, timeout=timeout)
        except Exception as exc:  # refused, timed out, bad address, or something else answering the port
            reason = type(exc).__name__ if isinstance(exc, (OSError, TimeoutError)) else \
                f"{type(exc).__name__}: is it a Dask scheduler?"
            raise BadInput(f"--scheduler: cannot reach the Dask scheduler at '{scheduler}' within "
                           f"{timeout:g} s ({reason}); start it or check the address") from None
        threads = list(self.client.nthreads().values())
        if any(count > 1 for count in threads):
            sys.stderr.write(f"warning: Dask workers at {scheduler} run up to {max(threads)} tasks each in threads; "
                             "start them with --nthreads 1 to keep one BLAS thread per core\n")

    @property
    def slots(self) -> int:
        """Tasks to keep in flight: the cluster's worker threads now (at least one, for a cluster still starting)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, task) -> None:
        from betavae_sym.experiments.tasks import run_task

        extra = {}
        if self.dataset is not None:
            if self._scattered is None:
                self._scattered = self.client.scatter(self.dataset, broadcast=True)
            extra["data"] = self._scattered
        self._futures.add(self.client.submit(run_task, task, key=f"betavae-task-{task.task_id}", pure=False,
                                             **extra))

    def wait(self, timeout: float) -> list[dict]:
        """The results of the tasks that finish within ``timeout`` seconds. A worker that dies loses its tasks to
        the scheduler, which runs them on another worker."""
        from dask.distributed import wait

        if not self._futures:
            return []
        try:
            done, self._futures = wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        self._futures = set(self._futures)
        return [future.result() for future in done]

    def close(self) -> None:
        if self._futures:
            self.client.cancel(list(self._futures))
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


#: Seconds a claim lasts unless renewed (a claimant that died frees its tasks after this long; one that died on
#: this host frees them at once, see ``store.owner_alive``).
LEASE_SECONDS = 60.0


@dataclass
class Step:
    """What :func:`run_claimed` did: ``result`` (a task this process ran and stored now, or None) and ``done``
    (how many tasks of the sweep the store holds now, whoever ran them)."""

    result: dict | None
    done: int


def run_claimed(tasks, store, executor, *, lease_seconds: float = LEASE_SECONDS) -> Iterator[Step]:
    """Run every task of ``tasks`` that ``store`` lacks on ``executor``, sharing the work with other processes.

    Each task is claimed in the store (:meth:`Store.claim`) just before it is
    submitted, and only as many as the executor has ``slots``; claims are
    renewed every quarter lease while they run and dropped with the result
    (:meth:`Store.write`). Tasks that other processes hold are left to them:
    when nothing else is free this waits, and runs a task itself once its
    claim has died (lease expired, or the claimant was a process of this host
    that ended). Returns when the store holds every task; on an interruption
    this process's claims are dropped, so the others need not wait for them.
    Results do not depend on who runs a task (its seed comes from its id).
    """
    from betavae_sym.experiments.store import new_owner

    order = list(dict.fromkeys(task.task_id for task in tasks))
    by_id = {task.task_id: task for task in tasks}
    wanted = set(order)
    owner = new_owner()
    poll = min(1.0, lease_seconds / 4)
    running: set[str] = set()
    renewed = time.monotonic()
    done = len(store.finished_ids() & wanted)
    try:
        while done < len(order):
            for task_id in store.claim(order, executor.slots - len(running), owner, lease_seconds):
                executor.submit(by_id[task_id])
                running.add(task_id)
            results = executor.wait(timeout=poll) if running else []
            if not running:  # the rest is held by others: wait for their results or for their claims to die
                time.sleep(poll)
            for result in results:
                store.write(result)
                running.discard(result["task_id"])
            now_done = len(store.finished_ids() & wanted)
            for result in results:
                yield Step(result, now_done)
            if now_done != done and not results:
                yield Step(None, now_done)
            done = now_done
            if running and time.monotonic() - renewed > lease_seconds / 4:
                store.renew(owner, lease_seconds)
                renewed = time.monotonic()
    finally:
        store.release(owner)

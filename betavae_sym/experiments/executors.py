"""Executors: run tasks and yield their results as they finish.

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

Workers only compute; the parent process writes every result to the store.
A local pool worker whose parent process dies (``kill -9``) exits within
:data:`PARENT_POLL_SECONDS` (see :func:`exit_with_parent`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

from betavae_sym.errors import BadInput

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10.0
#: How often a pool worker checks that its parent process is still alive.
PARENT_POLL_SECONDS = 0.5


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def exit_with_parent(parent: int, poll_seconds: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process as soon as ``parent`` (a process id) is no longer its parent.

    A pool worker blocks on its task queue forever once the parent is gone
    (it holds both ends of the queue's pipe, so it never sees end-of-file);
    the thread notices the change of parent (the orphan is re-parented)
    within ``poll_seconds`` and exits at once, abandoning the task in flight.
    ``parent`` is passed in rather than read here, so that a parent that died
    before the worker got this far is noticed too.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)  # no clean-up: the parent that would want the result is gone

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def _init_worker(parent: int, settings: dict | None, dataset) -> None:
    # Ctrl-C goes to the whole process group: the parent handles it and ends the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent)
    if dataset is not None:
        from betavae_sym.experiments.tasks import preload_dataset

        preload_dataset(settings, dataset)


def run_local(tasks, workers: int | None = None, dataset=None) -> Iterator[dict]:
    """Run ``tasks`` in a local process pool; yield each result when it is done.

    ``dataset``, when given, is the tasks' dataset (all tasks share the settings), sent once to each worker.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from betavae_sym.experiments.tasks import run_task

    tasks = list(tasks)
    if not tasks:
        return
    workers = min(workers or available_cores(), len(tasks))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker,
                               initargs=(os.getpid(), *((tasks[0].settings, dataset) if dataset is not None
                                                         else (None, None))))
    finished = False
    try:
        pending = {pool.submit(run_task, task) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: id(f)):
                yield future.result()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # interrupted: in-flight tasks are lost, nothing is half-written
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()


class DaskExecutor:
    """A ``dask.distributed.Client``, connected on construction (BadInput when unreachable)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, timeout: float = CONNECT_TIMEOUT):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise BadInput("--executor dask: dask.distributed is not installed; "
                           "pip install 'dask[distributed]'") from None
        self.cluster = None
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
        threads = [info.get("nthreads", 1) for info in self.client.scheduler_info().get("workers", {}).values()]
        if any(count > 1 for count in threads):
            sys.stderr.write(f"warning: Dask workers at {scheduler} run up to {max(threads)} tasks each in threads; "
                             "start them with --nthreads 1 to keep one BLAS thread per core\n")

    def run(self, tasks, dataset=None) -> Iterator[dict]:
        """Run ``tasks`` on the cluster; ``dataset`` (optional) is scattered once to every worker."""
        from dask.distributed import as_completed

        from betavae_sym.experiments.tasks import run_task

        tasks = list(tasks)
        if not tasks:
            return
        extra = {}
        if dataset is not None:
            extra["dataset"] = self.client.scatter(dataset, broadcast=True)
        futures = self.client.map(run_task, tasks, key=[f"betavae-task-{task.task_id}" for task in tasks],
                                  pure=False, **extra)
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

"""Worker processes that end with their parent.

A ``concurrent.futures.ProcessPoolExecutor`` worker blocks on its task queue
forever once the parent process is gone (it holds both ends of the queue's
pipe, so it never sees end-of-file): after ``kill -9`` of the parent it would
finish its task and then wait, idle, until the machine restarts. Every pool
of the package starts its workers with :func:`exit_with_parent`::

    ProcessPoolExecutor(..., initializer=exit_with_parent, initargs=(os.getpid(),))
"""

from __future__ import annotations

import os
import threading
import time

#: How often a worker checks that its parent process is still alive.
PARENT_POLL_SECONDS = 0.5


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

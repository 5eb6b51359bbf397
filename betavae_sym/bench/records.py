"""The pieces every section of ``betavae-sym bench`` shares: records, timing, fresh processes, BLAS threads."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np

from betavae_sym.errors import CheckFailed


def measurement(section: str, name: str, config: dict, values, unit: str = "s", note: str | None = None,
                **extra) -> dict:
    """One record: ``config``, ``median``/``min``/``max`` of ``values``, ``runs``, ``unit`` and ``extra`` fields."""
    values = [float(v) for v in values]
    record = {"section": section, "name": name, "config": config, "unit": unit,
              "median": statistics.median(values) if values else None,
              "min": min(values) if values else None, "max": max(values) if values else None,
              "runs": len(values), "values": values, "load_average_1min": os.getloadavg()[0]}
    if note is not None:
        record["note"] = note
    record.update(extra)
    return record


def median(values) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def ratios(ours, theirs) -> float | None:
    """The median of the per-repeat ratios ``ours[i] / theirs[i]`` (None when either is missing)."""
    return median([a / b for a, b in zip(ours, theirs)]) if ours and theirs else None


def timed(function, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def fresh_process(arguments: list[str], what: str) -> tuple[float, str]:
    """Run ``python arguments`` in a new interpreter; (wall seconds, stdout); CheckFailed if it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckFailed(f"{what} failed in a fresh process (exit {done.returncode}): {last}")
    return seconds, done.stdout


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process (all its threads), or of its finished, waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Progress:
    """One tqdm bar on stderr, one tick per timed run."""

    def __init__(self, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(desc="bench", unit="run", file=sys.stderr, disable=not enabled, dynamic_ncols=True)

    def step(self, what: str) -> None:
        self.bar.set_description(f"bench {what}")
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


@contextmanager
def blas_limit(threads: int | None):
    """NumPy's BLAS limited to ``threads`` threads inside the block (threadpoolctl); no limit for None."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, user_api="blas"):
        yield


def blas_threads() -> int | None:
    """The number of threads NumPy's BLAS uses now (None when threadpoolctl sees no BLAS)."""
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def gemm_gflops(dtype=np.float32, n: int = 1024, calls: int = 10) -> float:
    """Best-of-``calls`` GEMM rate (``np.matmul`` of two n x n matrices) in ``dtype``, GFLOP/s (2 n^3 flops per call).

    Uses NumPy's BLAS at its current thread count (see :func:`blas_limit`).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    best = np.inf
    for _ in range(calls):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9

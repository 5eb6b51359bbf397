"""Timing of analytic beta sweeps (wired into ``betavae-sym bench`` later).

For the paper's mixing matrix at N = 128 and N = 1600, k = 2, times a
200-point beta sweep (0.05 to 3) with the numeric solver (the full
:func:`betavae_sym.linear.sweep.sweep_problem`, including metrics, the
closed-form check and the three refined extrema) and with the closed form
alone (parameters and metrics), after one warm-up call that compiles the
lambdified functions. Reports medians over ``repeats`` runs and the largest
``closed_form_gap``.

Cost growth: building the reduced problem is one thin QR, O(N k^2); after
that every evaluation works on n = min(N, 4k + 1) dimensions, so a sweep costs
O(B p^3) with p ~ 3 n k + n + 2k parameters, independent of N apart from
conditioning (larger N spreads the eigenvalues of Sigma_x and costs the
optimizer a few more iterations). TIE alignment adds 2^k k! evaluations per beta.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def _paper(N: int, k: int) -> np.ndarray:
    return 0.5 * (np.ones((N, k)) + np.eye(N, k))


def bench_sweeps(sizes=(128, 1600), k: int = 2, points: int = 200, repeats: int = 3) -> dict:
    """``{"N=128": {"numeric_s": median, "closed_form_s": median, "max_closed_form_gap": float, ...}, ...}``."""
    from betavae_sym.linear.metrics import evaluate
    from betavae_sym.linear.problem import make_problem
    from betavae_sym.linear.solver import closed_form_parameters
    from betavae_sym.linear.sweep import sweep_problem

    betas = np.linspace(0.05, 3.0, points)
    report = {}
    for N in sizes:
        A = _paper(N, k)
        sweep_problem(make_problem(A), betas[:2])  # compile
        numeric, closed, gap = [], [], 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            result = sweep_problem(make_problem(A), betas)
            numeric.append(time.perf_counter() - start)
            gap = max(gap, max(r["closed_form_gap"] for r in result.records))
            start = time.perf_counter()
            problem = make_problem(A)
            evaluate(problem, closed_form_parameters(problem, betas), betas)
            closed.append(time.perf_counter() - start)
        report[f"N={N}"] = {"N": N, "k": k, "points": points, "repeats": repeats,
                            "numeric_s": statistics.median(numeric), "closed_form_s": statistics.median(closed),
                            "max_closed_form_gap": gap}
    return report

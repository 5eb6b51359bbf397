"""beta sweeps of the analytic beta-VAE (Figure 3), each point checked against the closed form.

The numeric solver (:mod:`betavae_sym.linear.solver`) runs once from several
random starts at each end of the (sorted) beta grid and follows the maximizer
along the grid in both directions: at each beta, Newton polishing from the
neighbour's solution (L-BFGS-B and saddle escapes when that is not a converged
local maximum). Of the two tracked candidates the higher objective wins, so a
branch that stops being the global maximum (a unit collapsing or reviving) is
caught from the other side. Every point is compared with the closed form
(:func:`betavae_sym.linear.solver.closed_form_parameters`): ``closed_form_gap``
is the largest relative difference ``|numeric - closed| / max(1, |closed|)``
over the seven metrics.

Extrema (``elbo_argmax``, ``tie_argmin``, ``mie_argmin``) are refined by
bounded scalar minimization in beta (``scipy.optimize.minimize_scalar``,
bounded method) between the grid neighbours of the grid extremum, the
metric at each trial beta coming from the numeric solver warm-started at the
nearest grid solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.linear.metrics import evaluate
from betavae_sym.linear.problem import Problem, check_positive, make_problem
from betavae_sym.linear.solver import (_best_local_maximum, _local_maximum, _Objective, _random_start,
                                       closed_form_parameters, STARTS)

#: The metrics of a sweep record, in the JSON order.
RECORD_METRICS = ("elbo", "mie", "tie", "recon", "kl", "log_likelihood", "objective")

#: Extremum name -> (metric, +1 for a maximum / -1 for a minimum).
EXTREMA = {"elbo_argmax": ("elbo", 1.0), "tie_argmin": ("tie", -1.0), "mie_argmin": ("mie", -1.0)}


@dataclass
class SweepResult:
    """A beta sweep: one record per beta (sorted), plus the refined extrema.

    ``records[i]`` has ``beta``, the metrics of :data:`RECORD_METRICS` (nats,
    averaged over p(x), constants included; TIE best signed permutation),
    ``converged``, ``max_grad`` and ``closed_form_gap``. ``closed`` holds the
    closed-form metrics by name, arrays over beta.
    """

    N: int
    k: int
    mixing: str
    fixed_decoder: bool
    records: list
    extrema: dict
    closed: dict

    def to_dict(self) -> dict:
        """The documented JSON document of ``betavae-sym analytic``."""
        return {"N": self.N, "k": self.k, "mixing": self.mixing, "records": self.records, "extrema": self.extrema}

    @property
    def betas(self) -> np.ndarray:
        return np.array([r["beta"] for r in self.records])

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.records])


def _track(problem: Problem, betas: np.ndarray, start: np.ndarray, progress=None):
    """Follow a maximizer along ``betas`` from the whitened vector ``start``; returns (thetas, max_grads, oks)."""
    thetas, max_grads, oks = [], [], []
    theta = start
    for beta in betas:
        objective = _Objective(problem, beta)
        theta, gmax, ok = _local_maximum(objective, theta, polish_first=True)
        thetas.append(objective.unpack(theta))
        max_grads.append(gmax)
        oks.append(bool(ok and gmax <= objective.gtol))
        if progress is not None:
            progress.update(1)
    return thetas, np.array(max_grads), np.array(oks)


def _anchor(problem: Problem, beta: float, seed: int) -> np.ndarray:
    objective = _Objective(problem, beta)
    rng = np.random.default_rng(seed)
    theta, _, _ = _best_local_maximum(objective, [_random_start(objective, rng) for _ in range(STARTS)])
    return theta


def _stack(params: list[dict]) -> dict:
    return {name: np.stack([np.asarray(p[name]) for p in params]) for name in params[0]}


def _solve_grid(problem: Problem, betas: np.ndarray, seed: int, progress: bool):
    """Numeric maximizers on the grid: (reduced params stacked, max_grads, converged), betas sorted."""
    import scipy.optimize  # noqa: F401 - load SciPy's BLAS before limiting its threads
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    with threadpool_limits(1, user_api="blas"), tqdm(total=2 * len(betas), desc="analytic sweep", unit="beta",
                                                       disable=not progress, leave=False) as bar:
        first = _anchor(problem, betas[0], seed)
        forward = _track(problem, betas, first, bar)
        last = _Objective(problem, betas[-1]).pack(forward[0][-1])
        backward_start = _anchor(problem, betas[-1], seed + 1)
        if _Objective(problem, betas[-1]).value(last) > _Objective(problem, betas[-1]).value(backward_start):
            backward_start = last
        backward = [part[::-1] for part in _track(problem, betas[::-1], backward_start, bar)]
    params, max_grads, oks = [], [], []
    for i, beta in enumerate(betas):
        candidates = [(side[0][i], side[1][i], side[2][i]) for side in (forward, backward)]
        objective = _Objective(problem, beta)
        values = [float(objective.value(objective.pack(c[0]))) if c[2] else -np.inf for c in candidates]
        best = candidates[int(np.argmax(values))] if max(values) > -np.inf else min(candidates, key=lambda c: c[1])
        params.append(best[0])
        max_grads.append(best[1])
        oks.append(best[2])
    return _stack(params), np.array(max_grads), np.array(oks)


def _refine(problem: Problem, betas: np.ndarray, params: dict, metric: str, sign: float, values: np.ndarray) -> float:
    """Bounded scalar optimization of ``metric`` in beta around its grid extremum (see the module docstring)."""
    from scipy.optimize import minimize_scalar
    import scipy.optimize  # noqa: F401 - load SciPy's BLAS before limiting its threads
    from threadpoolctl import threadpool_limits

    i = int(np.argmax(sign * values))
    lo, hi = betas[max(i - 1, 0)], betas[min(i + 1, len(betas) - 1)]
    if lo == hi:
        return float(betas[i])

    def negative(beta):
        j = int(np.argmin(np.abs(betas - beta)))
        objective = _Objective(problem, beta)
        theta, _, _ = _local_maximum(objective, objective.pack({n: v[j] for n, v in params.items()}),
                                     polish_first=True)
        unpacked = {name: value[None] for name, value in objective.unpack(theta).items()}
        return -sign * float(evaluate(problem, unpacked, np.array([beta]))[0][metric][0])

    with threadpool_limits(1, user_api="blas"):
        result = minimize_scalar(negative, bounds=(lo, hi), method="bounded",
                                 options={"xatol": 1e-9 * max(1.0, hi)})
    return float(result.x)


def sweep_problem(problem: Problem, betas, *, seed: int = 0, progress: bool = False, mixing: str = "custom",
                  warn=None) -> SweepResult:
    """:func:`sweep` on a prepared :class:`Problem`."""
    betas = np.unique(np.asarray([check_positive(b, "beta") for b in np.ravel(betas)], dtype=np.float64))
    if betas.size == 0:
        raise BadInput("betas: no values given")
    params, max_grads, oks = _solve_grid(problem, betas, seed, progress)
    numeric, _ = evaluate(problem, params, betas)
    closed, _ = evaluate(problem, closed_form_parameters(problem, betas), betas)
    gaps = np.max([np.abs(numeric[m] - closed[m]) / np.maximum(1.0, np.abs(closed[m])) for m in RECORD_METRICS],
                  axis=0)
    records = []
    for i, beta in enumerate(betas):
        record = {"beta": float(beta)}
        record.update({m: float(numeric[m][i]) for m in RECORD_METRICS})
        record.update(converged=bool(oks[i]), max_grad=float(max_grads[i]), closed_form_gap=float(gaps[i]))
        records.append(record)
        if not oks[i] and warn is not None:
            warn(f"beta = {beta:g}: the numeric solver did not converge (max |grad L| = {max_grads[i]:.3e})")
    extrema = {name: _refine(problem, betas, params, metric, sign, numeric[metric])
               for name, (metric, sign) in EXTREMA.items()}
    return SweepResult(N=problem.N, k=problem.k, mixing=mixing, fixed_decoder=problem.fixed_D is not None,
                       records=records, extrema=extrema, closed=closed)


def sweep(A, betas, *, fix_decoder=None, sigma_y2: float = 1.0, sigma_eta2: float = 1.0, seed: int = 0,
          progress: bool = False, mixing: str = "custom") -> SweepResult:
    """Solve the analytic beta-VAE at every beta of ``betas`` (Figure 3), cross-checked by the closed form.

    Parameters as in :func:`betavae_sym.linear.solver.solve`; ``betas`` positive
    (sorted and de-duplicated); ``progress`` draws a tqdm bar on stderr;
    ``mixing`` names A in the result.
    """
    problem = make_problem(A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2, seed=seed)
    return sweep_problem(problem, betas, seed=seed, progress=progress, mixing=mixing)

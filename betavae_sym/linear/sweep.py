"""beta sweeps of the analytic beta-VAE (Figure 3), each point checked against the closed form.

The numeric solver (:mod:`betavae_sym.linear.solver`) runs from several
random starts at each end of the (sorted) beta grid's :data:`SEGMENTS`
segments and follows the maximizer along every segment in both directions,
all tracks in lockstep (one batched call per step): at each beta it climbs
from the quadratic extrapolation of the track's last three solutions (Newton
steps with the previous beta's Hessian, then a fresh Hessian for the curvature
check, saddle escapes, polishing to the rounding floor). Of the two tracked
candidates the higher objective wins, so a branch that stops being the global
maximum (a unit collapsing or reviving) is caught from the other side. Every point is compared with the closed form
(:func:`betavae_sym.linear.solver.closed_form_parameters`): ``closed_form_gap``
is the largest relative difference ``|numeric - closed| / max(1, |closed|)``
over the seven metrics.

Extrema (``elbo_argmax``, ``tie_argmin``, ``mie_argmin``) are refined by
bounded scalar minimization in beta (``scipy.optimize.minimize_scalar``,
bounded method, ``xatol`` 1e-7 relative: the flat top of a smooth extremum
limits float64 to about that) between the grid neighbours of the grid
extremum, the metric at each trial beta coming from the numeric solver
warm-started at the nearest grid solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.linear.ascent import ascend, ascend_from_starts, best_row
from betavae_sym.linear.metrics import evaluate
from betavae_sym.linear.objective import Objective
from betavae_sym.linear.problem import Problem, make_problem
from betavae_sym.linear.solver import STARTS, closed_form_parameters
from betavae_sym.validate import positive_number

#: The metrics of a sweep record, in the JSON order.
RECORD_METRICS = ("elbo", "mie", "tie", "recon", "kl", "log_likelihood", "objective")

#: Segments of the beta grid, each tracked from both ends (more: shorter tracks, more random starts).
SEGMENTS = 2

#: Extremum name -> (metric, +1 for a maximum / -1 for a minimum).
EXTREMA = {"elbo_argmax": ("elbo", 1.0), "tie_argmin": ("tie", -1.0), "mie_argmin": ("mie", -1.0)}


@dataclass
class SweepResult:
    """A beta sweep: one record per beta (sorted), plus the refined extrema.

    ``data`` says which covariance: ``{"noise_var": number | name | None, "sigma_x": name | None}``
    (``A A^T + noise_var I``, ``A A^T + diag(noise_var)``, or a given ``Sigma_x``).
    ``records[i]`` has ``beta``, the metrics of :data:`RECORD_METRICS` (nats,
    averaged over p(x), constants included; TIE best signed permutation),
    ``converged``, ``max_grad`` and ``closed_form_gap``. ``closed`` holds the
    closed-form metrics by name, arrays over beta.
    """

    N: int
    k: int
    mixing: str
    data: dict
    fixed_decoder: bool
    records: list
    extrema: dict
    closed: dict

    def to_dict(self) -> dict:
        """The documented JSON document of ``betavae-sym analytic``."""
        return {"N": self.N, "k": self.k, "mixing": self.mixing, "data": self.data, "records": self.records,
                "extrema": self.extrema}

    @property
    def betas(self) -> np.ndarray:
        return np.array([r["beta"] for r in self.records])

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.records])


def _predict(history: np.ndarray, betas: np.ndarray, beta: float) -> np.ndarray:
    """The next start on a track: the polynomial through its last (up to three) solutions (whitened),
    extrapolated to ``beta`` (Lagrange form)."""
    start = np.zeros_like(history[0])
    for i, (theta, b) in enumerate(zip(history, betas)):
        weight = np.prod([(beta - other) / (b - other) for j, other in enumerate(betas) if j != i])
        start += weight * theta
    return start


def _solve_grid(objective: Objective, betas: np.ndarray, seed: int, progress: bool):
    """Numeric maximizers on the sorted grid: whitened ``thetas`` (B, p), max_grads (B,), converged (B,).

    The grid is cut into :data:`SEGMENTS` segments at anchor points; at each
    anchor the best of :data:`STARTS` random starts (all anchors in one batch).
    Every segment is tracked from both of its anchors towards the other, all
    tracks in lockstep (one batched solver call per step); each step starts from
    the quadratic extrapolation of the track's last three solutions, with the
    Newton matrix of its last solution. So every beta is reached from two
    independent directions, and the converged local maximum with the higher
    objective wins.
    """
    from tqdm import tqdm

    B = len(betas)
    anchors = np.unique(np.linspace(0, B - 1, min(SEGMENTS, max(B - 1, 1)) + 1).round().astype(int))
    tracks = [np.arange(a, b + 1) for a, b in zip(anchors[:-1], anchors[1:])]
    tracks += [track[::-1] for track in tracks]
    best = {"theta": np.empty((B, objective.size)), "value": np.full(B, -np.inf), "gmax": np.full(B, np.inf),
            "ok": np.zeros(B, dtype=bool)}

    def record(index, theta, value, gmax, ok):
        for i, t, v, m, o in zip(index, theta, value, gmax, ok):
            if (o and (not best["ok"][i] or v > best["value"][i])) or (not o and not best["ok"][i]
                                                                        and m < best["gmax"][i]):
                best["theta"][i], best["value"][i], best["gmax"][i], best["ok"][i] = t, v, m, o

    solves = len(anchors) + sum(len(track) - 1 for track in tracks)
    with tqdm(total=solves, desc="analytic sweep (each beta from both sides)", unit="solve", disable=not progress,
              leave=False) as bar:
        starts = objective.random_starts(np.random.default_rng(seed), len(anchors) * STARTS)
        state = ascend_from_starts(objective, starts, np.repeat(betas[anchors], STARTS))
        chosen = [best_row(state, range(i, i + STARTS))[0] for i in range(0, len(starts), STARTS)]
        record(anchors, state.theta[chosen], state.value[chosen], state.max_grad[chosen], state.converged[chosen])
        start_of = dict(zip(anchors.tolist(), chosen))
        history = [[state.theta[start_of[track[0]]]] for track in tracks]
        carried = np.array([state.newton[start_of[track[0]]] for track in tracks])
        bar.update(len(anchors))
        for step in range(1, max((len(track) for track in tracks), default=1)):
            live = [t for t, track in enumerate(tracks) if step < len(track)]
            index = np.array([tracks[t][step] for t in live])
            predicted = np.array([_predict(np.array(history[t][-3:]), betas[tracks[t][max(step - 3, 0):step]],
                                           betas[tracks[t][step]]) for t in live])
            state = ascend(objective, predicted, betas[index], newton=carried[live])
            record(index, state.theta, state.value, state.max_grad, state.converged)
            for row, t in enumerate(live):
                history[t].append(state.theta[row])
            carried[live] = state.newton
            bar.update(len(live))
    return best["theta"], best["gmax"], best["ok"]


def _refine(objective: Objective, betas: np.ndarray, thetas: np.ndarray, metric: str, sign: float,
            values: np.ndarray) -> float:
    """Bounded scalar optimization of ``metric`` in beta around its grid extremum (see the module docstring)."""
    from scipy.optimize import minimize_scalar

    i = int(np.argmax(sign * values))
    lo, hi = betas[max(i - 1, 0)], betas[min(i + 1, len(betas) - 1)]
    if lo == hi:
        return float(betas[i])
    newton = {}  # grid index -> Newton matrix of the last solution started there

    def negative(beta):
        j = int(np.argmin(np.abs(betas - beta)))
        state = ascend(objective, thetas[j][None], beta, newton=newton.get(j))
        newton[j] = state.newton
        metrics = evaluate(objective.problem, objective.unpack(state.theta), np.array([beta]),
                           align_units=metric == "tie")[0]
        return -sign * float(metrics[metric][0])

    result = minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-7 * max(1.0, hi)})
    return float(result.x)


def sweep_problem(problem: Problem, betas, *, seed: int = 0, progress: bool = False, mixing: str = "custom",
                  data: dict | None = None, warn=None) -> SweepResult:
    """:func:`sweep` on a prepared :class:`Problem`; ``data`` describes its covariance (:class:`SweepResult`),
    by default ``{"noise_var": sigma_eta2, "sigma_x": None}`` (``noise_var`` None if not isotropic)."""
    import scipy.optimize  # noqa: F401 - load SciPy's BLAS before limiting its threads
    from threadpoolctl import threadpool_limits

    betas = np.unique(np.asarray([positive_number(b, "betas") for b in np.ravel(betas)], dtype=np.float64))
    if betas.size == 0:
        raise BadInput("no values given", parameter="betas")
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only add overhead
        return _sweep(problem, betas, seed, progress, mixing, data, warn)


def _sweep(problem: Problem, betas: np.ndarray, seed: int, progress: bool, mixing: str, data, warn) -> SweepResult:
    objective = Objective(problem)
    thetas, max_grads, oks = _solve_grid(objective, betas, seed, progress)
    numeric, _ = evaluate(problem, objective.unpack(thetas), betas)
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
    extrema = {name: _refine(objective, betas, thetas, metric, sign, numeric[metric])
               for name, (metric, sign) in EXTREMA.items()}
    if data is None:
        data = {"noise_var": problem.sigma_eta2, "sigma_x": None}
    return SweepResult(N=problem.N, k=problem.k, mixing=mixing, data=data, fixed_decoder=problem.fixed_D is not None,
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

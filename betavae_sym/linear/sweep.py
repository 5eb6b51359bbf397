"""beta sweeps of the analytic beta-VAE (Figure 3), each point checked against the closed form.

The numeric solver (:mod:`betavae_sym.linear.ascent`) climbs from several
random starts at the middle of the (sorted) beta grid, then follows the
maximizer along beta (:func:`_solve_grid`): out to both ends over anchors
every :data:`ANCHOR_SPACING` grid points (fresh Hessians at each), then into
every stretch between two anchors from both of its ends, all tracks in
lockstep (one batched call per step), by Newton steps with the matrix carried
along the track from the quadratic extrapolation of its last three solutions.
Of the two candidates at each beta the higher objective is certified by a
fresh Hessian (curvature check, exact Newton polishing to the rounding floor;
a saddle is left along its ascent direction), all in one batched call. Every
point is compared with the closed form
(:func:`betavae_sym.linear.solver.closed_form_parameters`): ``closed_form_gap``
is the largest relative difference ``|numeric - closed| / max(1, |closed|)``
over the seven metrics.

Extrema (``elbo_argmax``, ``tie_argmin``, ``mie_argmin``) are refined by
bounded scalar minimization in beta (``scipy.optimize.minimize_scalar``,
bounded method, ``xatol`` 1e-7 relative: the flat top of a smooth extremum
limits float64 to about that) between the grid neighbours of the grid
extremum, the metric at each trial beta coming from the numeric solver
(:func:`betavae_sym.linear.ascent.ascend`: Newton steps with the previous
matrix, then a fresh Hessian and exact polishing) started at the previous
trial's solution, the first at the grid extremum's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.linear.ascent import ascend, ascend_from_starts, best_row, certify, follow
from betavae_sym.linear.metrics import evaluate
from betavae_sym.linear.objective import Objective
from betavae_sym.linear.problem import Problem, make_problem
from betavae_sym.linear.solver import STARTS, closed_form_parameters
from betavae_sym.validate import positive_number

#: The metrics of a sweep record, in the JSON order.
RECORD_METRICS = ("elbo", "mie", "tie", "recon", "kl", "log_likelihood", "objective")

#: Grid steps between two anchors of a sweep (:func:`_solve_grid`): anchors are climbed with fresh Hessians,
#: the points between them by Newton steps with carried matrices, then certified in one batch.
ANCHOR_SPACING = 10

#: Extremum name -> (metric, +1 for a maximum / -1 for a minimum).
EXTREMA = {"elbo_argmax": ("elbo", 1.0), "tie_argmin": ("tie", -1.0), "mie_argmin": ("mie", -1.0)}


@dataclass
class SweepResult:
    """A beta sweep: one record per beta (sorted), plus the refined extrema.

    ``data`` says which covariance: ``{"noise_var": number | name | None, "sigma_x": name | None}``
    (``A A^T + noise_var I``, ``A A^T + diag(noise_var)``, or a given ``Sigma_x``).
    ``records[i]`` has ``beta``, the metrics of :data:`RECORD_METRICS` (nats,
    averaged over p(x), constants included; TIE best signed permutation),
    ``tie_min``, ``tie_max`` (TIE over the optimal set,
    :mod:`betavae_sym.linear.degeneracy`; both the closed form's TIE when
    ``optimum_unique``), ``converged``, ``max_grad`` and ``closed_form_gap``
    (for TIE of a non-unique optimum: the distance to ``[tie_min, tie_max]``).
    ``extrema`` has the refined extrema (name -> beta); ``ambiguous`` is ``{}``,
    or ``{"tie_argmin": {"reason", "tie_min_argmin", "tie_max_argmin"}}`` when
    the optimum is not unique somewhere on the grid. ``closed`` holds the
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
    ambiguous: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The documented JSON document of ``betavae-sym analytic`` (``ambiguous`` inside ``extrema``)."""
        return {"N": self.N, "k": self.k, "mixing": self.mixing, "data": self.data, "records": self.records,
                "extrema": {**self.extrema, "ambiguous": self.ambiguous}}

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


@dataclass
class _Grid:
    """The best solution found so far at each of B grid points (whitened ``theta`` (B, p), ``value``,
    ``max_grad``, ``converged`` (certified local maximum), ``newton`` (B, p, p) its Newton matrix)."""

    theta: np.ndarray
    value: np.ndarray
    max_grad: np.ndarray
    converged: np.ndarray
    newton: np.ndarray
    gtol: float

    @classmethod
    def empty(cls, B: int, p: int, gtol: float) -> _Grid:
        return cls(theta=np.zeros((B, p)), value=np.full(B, -np.inf), max_grad=np.full(B, np.inf),
                   converged=np.zeros(B, dtype=bool), newton=np.zeros((B, p, p)), gtol=gtol)

    def record(self, index, state, rows=None) -> None:
        """Keep the rows ``rows`` (default all) of the ascent ``state`` found at grid points ``index`` where
        they beat what is there: a certified local maximum beats any other point, then the higher ``L`` among
        points within the gradient tolerance, then the smaller gradient."""
        rows = np.arange(len(index)) if rows is None else rows
        for i, row in zip(index, rows):
            new_ok, new_small = state.converged[row], state.max_grad[row] <= self.gtol
            old_small = self.max_grad[i] <= self.gtol
            if self.converged[i] != new_ok:
                better = new_ok
            elif new_small != old_small:
                better = new_small
            else:
                better = (state.value[row] > self.value[i]) if new_small else state.max_grad[row] < self.max_grad[i]
            if better:
                self.theta[i], self.value[i], self.max_grad[i] = state.theta[row], state.value[row], state.max_grad[row]
                self.converged[i], self.newton[i] = new_ok, state.newton[row]


def _track(objective: Objective, betas: np.ndarray, paths: list, grid: _Grid, step, bar) -> None:
    """Follow every path (grid indices, the first one solved in ``grid``) in lockstep, one batched ``step``
    (:func:`ascend` or :func:`follow`) per grid step, each from the quadratic extrapolation of the path's last
    three solutions with the Newton matrix carried along it; the results go to ``grid``."""
    history = [[grid.theta[path[0]]] for path in paths]
    carried = np.array([grid.newton[path[0]] for path in paths])
    for k in range(1, max((len(path) for path in paths), default=1)):
        live = [t for t, path in enumerate(paths) if k < len(path)]
        index = np.array([paths[t][k] for t in live])
        predicted = np.array([_predict(np.array(history[t][-3:]), betas[paths[t][max(k - 3, 0):k]],
                                       betas[paths[t][k]]) for t in live])
        state = step(objective, predicted, betas[index], newton=carried[live])
        grid.record(index, state)
        for row, t in enumerate(live):
            history[t].append(state.theta[row])
        carried[live] = state.newton
        bar.update(len(live))


def _solve_grid(objective: Objective, betas: np.ndarray, seed: int, progress: bool) -> _Grid:
    """Numeric maximizers on the sorted grid (see :class:`_Grid`).

    1. Anchors: every :data:`ANCHOR_SPACING`-th grid point from the middle one
       outwards, and both ends. At the middle anchor the best of :data:`STARTS`
       random starts; from there two tracks run out over the anchors to both
       ends by :func:`ascend` (fresh Hessians, curvature checks, saddle escapes).
    2. Fill: the points between two neighbouring anchors are tracked from both
       of them, all tracks in lockstep (one batched call per step), by
       :func:`follow` (Newton steps with the matrix carried along the track,
       down to the gradient tolerance; fresh Hessians only where these do not
       converge). So every beta between anchors is reached from two directions.
    3. Certify: at each of those betas the candidate with the higher objective
       gets a fresh Hessian, all in one batched call (:func:`certify`): a local
       maximum is polished by exact Newton steps to the rounding floor and is
       converged, a saddle or an unconverged point climbs on.
    """
    from tqdm import tqdm

    B = len(betas)
    middle = B // 2
    anchors = np.unique(np.concatenate([np.arange(middle, -1, -ANCHOR_SPACING), np.arange(middle, B, ANCHOR_SPACING),
                                        [0, B - 1]]))
    outward = [anchors[anchors <= middle][::-1], anchors[anchors >= middle]]
    fill = [np.arange(a, b) for a, b in zip(anchors[:-1], anchors[1:]) if b - a > 1]
    fill += [np.arange(b, a, -1) for a, b in zip(anchors[:-1], anchors[1:]) if b - a > 1]
    grid = _Grid.empty(B, objective.size, objective.gtol)
    with tqdm(total=len(anchors) + sum(len(path) - 1 for path in fill), desc="analytic sweep", unit="solve",
              disable=not progress, leave=False) as bar:
        state = ascend_from_starts(objective, objective.random_starts(np.random.default_rng(seed), STARTS),
                                   np.full(STARTS, betas[middle]))
        grid.record([middle], state, rows=[best_row(state)[0]])
        bar.update(1)
        _track(objective, betas, outward, grid, ascend, bar)
        _track(objective, betas, fill, grid, follow, bar)
    pending = np.flatnonzero(~grid.converged)
    if pending.size:
        grid.record(pending, certify(objective, grid.theta[pending], betas[pending]))
    return grid


def _refine(objective: Objective, betas: np.ndarray, grid: _Grid, metric: str, sign: float,
            values: np.ndarray) -> float:
    """Bounded scalar optimization of ``metric`` in beta around its grid extremum (see the module docstring)."""
    from scipy.optimize import minimize_scalar

    i = int(np.argmax(sign * values))
    lo, hi = betas[max(i - 1, 0)], betas[min(i + 1, len(betas) - 1)]
    if lo == hi:
        return float(betas[i])

    last = {"theta": grid.theta[i], "newton": grid.newton[i]}  # each trial starts from the previous one

    def negative(beta):
        state = ascend(objective, last["theta"][None], np.array([beta]), newton=last["newton"][None])
        last["theta"], last["newton"] = state.theta[0], state.newton[0]
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
    from betavae_sym.linear.degeneracy import degenerate_groups, tie_range

    objective = Objective(problem)
    grid = _solve_grid(objective, betas, seed, progress)
    thetas, max_grads, oks = grid.theta, grid.max_grad, grid.converged
    numeric, _ = evaluate(problem, objective.unpack(thetas), betas)
    closed, _ = evaluate(problem, closed_form_parameters(problem, betas), betas)
    # TIE over the optimal set where it is not one point (issue 14); elsewhere the closed form's TIE
    ranges = {i: tie_range(problem, beta, seed=seed) for i, beta in enumerate(betas) if degenerate_groups(problem, beta)}
    tie_min = np.array([ranges[i].minimum if i in ranges else closed["tie"][i] for i in range(len(betas))])
    tie_max = np.array([ranges[i].maximum if i in ranges else closed["tie"][i] for i in range(len(betas))])
    gaps = {m: np.abs(numeric[m] - closed[m]) / np.maximum(1.0, np.abs(closed[m])) for m in RECORD_METRICS}
    # a member of a non-unique optimal set is compared with the set's TIE range, never with another member
    gaps["tie"] = np.maximum.reduce([tie_min - numeric["tie"], numeric["tie"] - tie_max, np.zeros(len(betas))]) / (
        np.maximum(1.0, np.abs(tie_min)))
    gaps = np.max([gaps[m] for m in RECORD_METRICS], axis=0)
    records = []
    for i, beta in enumerate(betas):
        record = {"beta": float(beta)}
        record.update({m: float(numeric[m][i]) for m in RECORD_METRICS})
        record.update(tie_min=float(tie_min[i]), tie_max=float(tie_max[i]), optimum_unique=i not in ranges,
                      converged=bool(oks[i]), max_grad=float(max_grads[i]), closed_form_gap=float(gaps[i]))
        records.append(record)
        if not oks[i] and warn is not None:
            warn(f"beta = {beta:g}: the numeric solver did not converge (max |grad L| = {max_grads[i]:.3e})")
    extrema = {name: _refine(objective, betas, grid, metric, sign, numeric[metric])
               for name, (metric, sign) in EXTREMA.items()}
    ambiguous = {} if not ranges else {"tie_argmin": _ambiguity(betas, ranges, tie_min, tie_max)}
    if data is None:
        data = {"noise_var": problem.sigma_eta2, "sigma_x": None}
    return SweepResult(N=problem.N, k=problem.k, mixing=mixing, data=data, fixed_decoder=problem.fixed_D is not None,
                       records=records, extrema=extrema, closed=closed, ambiguous=ambiguous)


def _ambiguity(betas: np.ndarray, ranges: dict, tie_min: np.ndarray, tie_max: np.ndarray) -> dict:
    """Why ``tie_argmin`` is ambiguous, and the grid minima of both ends of the TIE range."""
    widest = max(ranges, key=lambda i: ranges[i].maximum - ranges[i].minimum)
    reason = (f"the optimum is not unique at {len(ranges)} of {len(betas)} beta values (units sharing an "
              f"eigenvalue of Sigma_x can be rotated among themselves with the same objective and ELBO): TIE "
              f"ranges over the optimal set, e.g. [{tie_min[widest]:.6g}, {tie_max[widest]:.6g}] at beta = "
              f"{betas[widest]:.6g}; the tie column is one member's, so its minimum is ambiguous")
    return {"reason": reason, "tie_min_argmin": float(betas[np.argmin(tie_min)]),
            "tie_max_argmin": float(betas[np.argmin(tie_max)])}


def sweep(A, betas, *, fix_decoder=None, sigma_y2: float = 1.0, sigma_eta2: float = 1.0, seed: int = 0,
          progress: bool = False, mixing: str = "custom") -> SweepResult:
    """Solve the analytic beta-VAE at every beta of ``betas`` (Figure 3), cross-checked by the closed form.

    Parameters as in :func:`betavae_sym.linear.solver.solve`; ``betas`` positive
    (sorted and de-duplicated); ``progress`` draws a tqdm bar on stderr;
    ``mixing`` names A in the result.
    """
    problem = make_problem(A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2, seed=seed)
    return sweep_problem(problem, betas, seed=seed, progress=progress, mixing=mixing)

"""Stationary points of the data-averaged beta-VAE objective: numeric solver and closed form.

``solve`` finds the global maximizer of ``L`` (Eq. 34) by solving the
stationarity system (Eqs. 36-41; Eq. 43 once Eq. 42 holds), using only
lambdified callables (:mod:`betavae_sym.linear.compiled`):

1. several seeded random starts, all climbed together (one batched call per
   stage) by trust-region Newton steps with backtracking, the Hessian exact to
   rounding by complex-step differentiation of the lambdified gradient;
2. a curvature check at the converged point (largest Hessian eigenvalue <= 0
   up to rounding); a saddle is left along its ascent direction and climbed again;
3. Newton polishing down to the rounding floor of the gradient;
4. the converged local maximum with the highest objective wins.

``closed_form`` evaluates the optimum of :mod:`betavae_sym.symbolic.closed_form`
(lambdified) at the eigenvectors of the reduced ``Sigma_x``. Both work on the
exact reduction of :mod:`betavae_sym.linear.problem` and return parameters in
full N-dimensional coordinates.

Cost: building the reduced problem is one thin QR, O(N k^2); after that every
evaluation works on n = min(N, 4k + 1) dimensions with p = n (3k + 1) + 2k
parameters (67 at k = 2), independent of N apart from conditioning. A Hessian
costs p batched gradient evaluations of O(n^3) and its factorization O(p^3), so
a solve grows steeply with k (README, Benchmarks).

A point counts as converged when ``max |grad L| <= GRADIENT_TOLERANCE * max(1,
||Sigma_x||_2)`` and it is a local maximum; an unconverged best point is
returned with ``converged = False`` and a message, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from betavae_sym.linear.metrics import evaluate, model_arguments
from betavae_sym.linear.problem import Problem, check_positive, make_problem

#: Parameter names in the paper's order (same as ``betavae_sym.symbolic.model.PARAMETERS``).
PARAMETERS = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D")
ENCODER = PARAMETERS[:4]

#: Relative gradient tolerance (times ``max(1, ||Sigma_x||_2)``) for ``converged``.
GRADIENT_TOLERANCE = 1e-9

#: Random starts of :func:`solve`.
STARTS = 4

#: A stationary point is a local maximum when the largest Hessian eigenvalue is at most this times
#: ``max(1, max |eigenvalue|)`` (rounding of the Hessian; a collapsing unit's curvature tends to 0).
CURVATURE_TOLERANCE = 1e-7

#: Complex step of the Hessian (:meth:`_Objective.hessian`).
COMPLEX_STEP = 1e-20

#: Longest step (whitened coordinates, where the optimum's entries are of order 1 to 10).
MAX_STEP = 10.0

#: Polishing stops below this fraction of the gradient tolerance: about 10 eps ||Sigma_x||.
ROUNDING_FLOOR = 1e-5

#: Newton iterations for the trust-region shift (the step length needs only a few digits).
TRUST_ITERATIONS = 8

#: Above this many free parameters, random starts climb by L-BFGS-B before Newton (:func:`_from_starts`).
LBFGS_ABOVE = 100

#: Step shortenings (by 4) before a row gives up, and Newton steps with one matrix at most.
BACKTRACKS = 12
NEWTON_STEPS = 12


@dataclass
class Solution:
    """A stationary point of ``L`` and its metrics (cf. ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    W_mu, W_sigma : (k, N); b_mu, b_sigma : (k, 1); D : (N, k); b_D : (N, 1)
        Parameters in data coordinates.
    beta, sigma_y2, sigma_eta2 : float
    converged : bool
        ``max_grad`` within tolerance and a local maximum.
    max_grad : float
        ``max |dL/dtheta|`` over all free parameters.
    metrics : dict
        ``objective, elbo, recon, kl, mie, tie, log_likelihood`` (nats, averaged over
        p(x) in closed form, constants included; TIE for the best signed permutation).
    tie_permutation : (k, k)
        The signed permutation ``P`` aligning units to sources (``z_aligned = P z``).
    method : str
        ``"numeric"`` or ``"closed_form"``.
    message : str
    """

    W_mu: np.ndarray
    b_mu: np.ndarray
    W_sigma: np.ndarray
    b_sigma: np.ndarray
    D: np.ndarray
    b_D: np.ndarray
    beta: float
    sigma_y2: float
    sigma_eta2: float
    converged: bool
    max_grad: float
    metrics: dict
    tie_permutation: np.ndarray
    method: str
    message: str = ""
    reduced: dict = field(default=None, repr=False)  # parameters in the reduced coordinates of the Problem

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics") or {}
        if name in metrics:
            return metrics[name]
        raise AttributeError(name)

    def parameters(self) -> dict:
        """The six parameters by name (data coordinates)."""
        return {name: getattr(self, name) for name in PARAMETERS}


# ----- the objective as a function of a flat parameter vector -------------------------------------
class _Objective:
    """``L``, ``grad L`` and the Hessian of a :class:`Problem` over flat vectors, batched over rows.

    Every method takes whitened flat vectors ``theta`` of shape (..., p) and a
    ``beta`` that broadcasts against the batch shape ``...`` (one beta per row),
    so one call serves several starts, several betas or all Hessian columns.

    The vectors are whitened (a change of variables, not of the model):
    ``W_mu = W~ S^{-1/2}``, ``W_sigma = W~_sigma S^{-1/2}``, ``D = S^{1/2} D~``
    with ``S`` the reduced ``Sigma_x``, so that all directions have comparable
    curvature whatever the spread of the eigenvalues of ``S``; gradients follow
    by the chain rule (``g~_W = g_W S^{-1/2}``, ``g~_D = S^{1/2} g_D``).
    """

    def __init__(self, problem: Problem):
        from betavae_sym.linear.compiled import gradient_function, objective_and_gradient_function

        self.problem = problem
        n, k = problem.n, problem.k
        shapes = {"W_mu": (k, n), "b_mu": (k, 1), "W_sigma": (k, n), "b_sigma": (k, 1), "D": (n, k), "b_D": (n, 1)}
        self.free = ENCODER if problem.D_r is not None else PARAMETERS
        self.shapes = {name: shapes[name] for name in self.free}
        self.slices, start = {}, 0
        for name in self.free:
            size = int(np.prod(self.shapes[name]))
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start
        self._value_and_gradient = objective_and_gradient_function(n, k)
        self._gradient = gradient_function(n, k)
        eigenvalues, eigenvectors = np.linalg.eigh(problem.Sigma_r)
        root = (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T
        inverse_root = (eigenvectors / np.sqrt(eigenvalues)) @ eigenvectors.T
        self.gtol = GRADIENT_TOLERANCE * max(1.0, float(eigenvalues[-1]))
        # the whitening as one linear map of flat vectors: raw = whitened @ to_raw (p, p), and back
        basis = self._blocks(np.eye(self.size))
        for name in ("W_mu", "W_sigma"):
            basis[name] = basis[name] @ inverse_root
        if problem.D_r is None:
            basis["D"] = root @ basis["D"]
        self.to_raw = self._flat(basis, (self.size,))
        self.to_whitened = np.linalg.inv(self.to_raw)

    def _blocks(self, flat: np.ndarray) -> dict:
        """Flat vectors (..., p) -> the free parameters' blocks by name (no change of variables)."""
        batch = flat.shape[:-1]
        return {name: flat[..., self.slices[name]].reshape(*batch, *self.shapes[name]) for name in self.free}

    def _flat(self, blocks: dict, batch) -> np.ndarray:
        """The free parameters' blocks (batch shape ``batch``, or broadcastable to it) -> flat vectors (..., p)."""
        flat = np.empty((*batch, self.size), dtype=np.result_type(*(blocks[name] for name in self.free)))
        for name in self.free:
            block, shape = blocks[name], (*batch, *self.shapes[name])
            flat[..., self.slices[name]] = (block if block.shape == shape else np.broadcast_to(block, shape)).reshape(
                *batch, -1)
        return flat

    def unpack(self, theta: np.ndarray) -> dict:
        """Whitened flat vectors (..., p) -> reduced parameters by name (batch shape kept)."""
        return self._parameters(np.asarray(theta) @ self.to_raw)

    def _parameters(self, raw: np.ndarray) -> dict:
        """Flat vectors in the model's own coordinates (..., p) -> reduced parameters by name."""
        batch = raw.shape[:-1]
        params = self._blocks(raw)
        if self.problem.D_r is not None:
            params["D"] = np.broadcast_to(self.problem.D_r, (*batch, self.problem.n, self.problem.k))
            params["b_D"] = np.zeros((*batch, self.problem.n, 1))
        return params

    def pack(self, params: dict) -> np.ndarray:
        """Reduced parameters (any batch shape) -> whitened flat vectors (..., p)."""
        raw = self._flat({name: np.asarray(params[name]) for name in self.free}, np.shape(params["b_mu"])[:-2])
        return raw @ self.to_whitened

    def _flat_gradient(self, blocks, batch) -> tuple[np.ndarray, np.ndarray]:
        """Gradient blocks (in the order of PARAMETERS) -> (whitened flat gradient (..., p), max |block entry| (...)).

        The chain rule of ``raw = whitened @ to_raw`` is ``g~ = g @ to_raw^T``.
        Non-finite trial points stay non-finite, silently: the line search rejects them.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            flat = self._flat(dict(zip(PARAMETERS, blocks)), batch)
            return flat @ self.to_raw.T, np.max(np.abs(flat), axis=-1)

    def value_and_gradient(self, theta, beta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(L (...), whitened grad L (..., p), max |dL/dtheta| (...))``; the maximum is over the
        model's own parameters (Eqs. 36-41), not the whitened ones."""
        theta = np.asarray(theta, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            value, *blocks = self._value_and_gradient(*model_arguments(self.problem, self.unpack(theta), beta))
        gradient, gmax = self._flat_gradient(blocks, theta.shape[:-1])
        return np.broadcast_to(value, theta.shape[:-1]).astype(np.float64), gradient, gmax

    def hessian(self, theta, beta) -> np.ndarray:
        """The whitened Hessian at ``theta`` (S, p) for ``beta`` (S,): shape (S, p, p), symmetric.

        Complex-step differentiation of the lambdified gradient (all ``S p`` columns
        in one call): ``H e_j = Im grad L(theta + i h e_j) / h`` with ``h = 1e-20``,
        exact to rounding (no subtraction), as every gradient block is analytic.
        """
        theta = np.asarray(theta, dtype=np.float64)
        # raw coordinates of theta + i h e_j, all j: (S, p, p)
        points = (theta @ self.to_raw)[:, None, :] + (1j * COMPLEX_STEP) * self.to_raw
        blocks = self._gradient(*model_arguments(self.problem, self._parameters(points),
                                                  np.asarray(beta, dtype=np.float64)[:, None]))
        with np.errstate(over="ignore", invalid="ignore"):
            H = (self._flat(dict(zip(PARAMETERS, blocks)), points.shape[:-1]).imag / COMPLEX_STEP) @ self.to_raw.T
        return (H + np.swapaxes(H, -1, -2)) / 2


# ----- local search ----------------------------------------------------------------------------
def _ascend(objective: _Objective, theta: np.ndarray, beta, *, newton: np.ndarray | None = None,
            iterations: int = 200, escapes: int = 4):
    """Batched local maximization of ``L`` from the rows of ``theta`` (S, p), row s at ``beta[s]``.

    Trust-region Newton with backtracking, all active rows in one batched call per stage:

    * a row outside the gradient tolerance steps ``M g`` with the trust-region
      matrix of :func:`_newton_matrices` for the exact Hessian (Newton's step
      when it is concave and the step fits the row's radius), capped at length
      :data:`MAX_STEP`, shortened fourfold until ``L`` rises (Armijo) or, at the
      rounding floor of ``L``, the gradient shrinks; the radius doubles after a
      full step and shrinks to a shortened one;
    * a row whose gradient is within tolerance and whose largest Hessian eigenvalue
      is positive (a saddle) is pushed along that eigenvector (both signs, four
      lengths; at most ``escapes`` times);
    * a row within tolerance at a local maximum (largest eigenvalue <=
      :data:`CURVATURE_TOLERANCE` relative) is polished by Newton steps with
      that ``M`` (:func:`_newton_iterations`) and stops at the rounding floor.

    ``newton`` (S, p, p), optional: Newton matrices ``M`` from nearby points
    (the previous beta of a sweep); each row first takes steps ``M g`` while the
    gradient halves, until it is within tolerance, which saves Hessians; the
    curvature check is still made with a fresh Hessian.

    Returns ``(theta, value, max_grad, is_local_max, newton)`` with shapes (S, p),
    (S,), (S,), (S,), (S, p, p): ``max_grad`` is ``max |dL/dtheta|`` in the
    model's own parameters, ``newton`` the last ``M`` of each row.
    """
    theta = np.array(theta, dtype=np.float64)
    S = theta.shape[0]
    beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), (S,))
    value, g, gmax = objective.value_and_gradient(theta, beta)
    matrices = np.zeros((S, objective.size, objective.size)) if newton is None else np.array(newton)
    if newton is not None:
        _newton_iterations(objective, np.arange(S), matrices, theta, beta, value, g, gmax, rate=0.5,
                           target=objective.gtol)
    active = np.ones(S, dtype=bool)
    is_max = np.zeros(S, dtype=bool)
    escapes_left = np.full(S, escapes)
    radius = np.ones(S)
    for _ in range(iterations):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        small = gmax[rows] <= objective.gtol
        concave, top = _newton_matrices(objective.hessian(theta[rows], beta[rows]), matrices, rows, g[rows],
                                        radius[rows], trust=~small)
        done = concave & small
        if done.any():
            finished = _newton_iterations(objective, rows[done], matrices, theta, beta, value, g, gmax, rate=0.1,
                                          target=ROUNDING_FLOOR * objective.gtol)
            is_max[rows[done]] = True
            active[rows[done][finished]] = False
        saddle = ~concave & small
        if saddle.any():
            _escape(objective, rows[saddle], top[saddle], theta, beta, value, g, gmax, active, escapes_left)
        climb = ~small
        if climb.any():
            _climb(objective, rows[climb], matrices, theta, beta, value, g, gmax, active, radius)
    return theta, value, gmax, is_max, matrices


def _newton_matrices(H, matrices, rows, g, radius, trust) -> tuple[np.ndarray, np.ndarray]:
    """Store the step matrices ``M`` of the Hessians ``H`` (R, p, p) in ``matrices[rows]``; is each concave?

    Rows with ``-H`` positive definite (a Cholesky factor) whose Newton step fits
    their ``radius`` (R,), or which are not in ``trust``: Newton's
    ``M = (-H)^{-1}``, concave. All other rows: from ``H = V diag(w) V^T``, the
    trust-region step of length at most ``radius`` for the gradient ``g``
    (R, p): ``M = V diag(1 / (lam - w)) V^T`` with the ``lam > max(w, 0)`` at
    which ``|M g| = radius`` (Newton's method), or ``lam = 0`` for a zero
    gradient; concave when
    the largest eigenvalue is at most :data:`CURVATURE_TOLERANCE` times
    ``max(1, max |w|)``. Returns ``(concave (R,), top (R, p))``, ``top`` the
    eigenvector of the largest eigenvalue (zeros for the Cholesky rows).
    """
    concave = np.zeros(len(rows), dtype=bool)
    top = np.zeros(g.shape)
    definite = _positive_definite(-H)
    if definite.any():  # Newton's step where it is concave and the step fits (or no trust region is asked)
        inverse = np.linalg.inv(-H[definite])
        fits = ~trust[definite] | (np.linalg.norm((inverse @ g[definite][:, :, None])[:, :, 0], axis=1)
                                    <= radius[definite])
        newton = np.flatnonzero(definite)[fits]
        matrices[rows[newton]] = inverse[fits]
        concave[newton] = True
    trust = ~concave  # every other row: eigen-decomposition (also for the curvature check and saddle direction)
    if not trust.any():
        return concave, top
    w, V = np.linalg.eigh(H[trust])
    scale = np.maximum(1.0, np.max(np.abs(w), axis=1))
    c = (g[trust][:, None, :] @ V)[:, 0, :]
    R = radius[trust]
    floor = 1e-12 * scale
    lam = np.where(w[:, -1] < -floor, 0.0, np.maximum(w[:, -1], 0.0) + floor)
    for _ in range(TRUST_ITERATIONS):  # Newton on 1/|s(lam)| = 1/R, s = c / (lam - w): increasing, monotone
        gap = lam[:, None] - w
        norm = np.linalg.norm(c / gap, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            update = lam + (1.0 / R - 1.0 / norm) / (np.sum(c * c / gap**3, axis=1) / norm**3)
        lam = np.where(norm > R, update, lam)  # a zero gradient (norm 0) needs no step
    matrices[rows[trust]] = (V / np.maximum(lam[:, None] - w, floor[:, None])[:, None, :]) @ np.swapaxes(V, -1, -2)
    concave[trust] = w[:, -1] <= CURVATURE_TOLERANCE * scale
    top[trust] = V[:, :, -1]
    return concave, top


def _positive_definite(A) -> np.ndarray:
    """Which of the symmetric matrices ``A`` (R, p, p) have a Cholesky factor: (R,) bools."""
    try:
        np.linalg.cholesky(A)
        return np.ones(len(A), dtype=bool)
    except np.linalg.LinAlgError:
        def definite(a):
            try:
                np.linalg.cholesky(a)
                return True
            except np.linalg.LinAlgError:
                return False

        return np.array([definite(a) for a in A], dtype=bool)


def _steps(matrices, rows, g):
    """Newton steps ``M g`` of ``rows``: (R, p)."""
    return (matrices[rows] @ g[rows][:, :, None])[:, :, 0]


def _accept(rows, mask, trial, value_t, g_t, gmax_t, theta, value, g, gmax):
    """Copy the accepted trial rows (``mask``) into the state arrays."""
    chosen = rows[mask]
    theta[chosen], value[chosen], g[chosen], gmax[chosen] = trial[mask], value_t[mask], g_t[mask], gmax_t[mask]


def _climb(objective, rows, matrices, theta, beta, value, g, gmax, active, radius):
    """One saddle-free Newton step with backtracking for ``rows``; rows that cannot rise stop."""
    step = _steps(matrices, rows, g)
    length = np.linalg.norm(step, axis=1, keepdims=True)
    step *= np.minimum(1.0, MAX_STEP / np.maximum(length, 1e-300))
    slope = np.einsum("rp,rp->r", g[rows], step)
    pending = np.ones(len(rows), dtype=bool)
    t = 1.0
    for _ in range(BACKTRACKS):
        index = np.flatnonzero(pending)
        trial = theta[rows[index]] + t * step[index]
        value_t, g_t, gmax_t = objective.value_and_gradient(trial, beta[rows[index]])
        base = value[rows[index]]
        rises = value_t >= base + 1e-4 * t * slope[index]
        flat = (value_t >= base - 1e-12 * (1.0 + np.abs(base))) & (gmax_t < gmax[rows[index]])
        ok = np.isfinite(value_t) & np.isfinite(gmax_t) & (rises | flat)
        _accept(rows[index], ok, trial, value_t, g_t, gmax_t, theta, value, g, gmax)
        taken = t * length[index[ok], 0]
        radius[rows[index[ok]]] = np.maximum(radius[rows[index[ok]]], 2 * taken) if t == 1.0 else taken
        pending[index[ok]] = False
        if not pending.any():
            return
        t /= 4
    active[rows[pending]] = False  # no ascent along the Newton direction: a stationary point that is not one


def _escape(objective, rows, directions, theta, beta, value, g, gmax, active, escapes_left):
    """Leave the saddles ``rows`` along their positive-curvature ``directions`` (R, p); rows that cannot, stop."""
    lengths = np.array([sign * t for t in (1.0, 1e-1, 1e-2, 1e-3) for sign in (1.0, -1.0)])
    trial = theta[rows][:, None, :] + lengths[None, :, None] * directions[:, None, :]  # (R, 8, p)
    value_t, g_t, gmax_t = objective.value_and_gradient(trial, beta[rows][:, None])
    value_t = np.where(np.isfinite(value_t), value_t, -np.inf)
    best = np.argmax(value_t, axis=1)
    pick = np.arange(len(rows))
    ok = value_t[pick, best] > value[rows]
    _accept(rows, ok, trial[pick, best], value_t[pick, best], g_t[pick, best], gmax_t[pick, best],
            theta, value, g, gmax)
    escapes_left[rows] -= 1
    active[rows[~ok | (escapes_left[rows] <= 0)]] = False


def _newton_iterations(objective, rows, matrices, theta, beta, value, g, gmax, rate: float,
                       target: float) -> np.ndarray:
    """Steps ``theta += M g`` for ``rows`` while each shrinks the gradient by the factor ``rate``.

    A step is kept when it shrinks the gradient without lowering ``L`` beyond
    rounding. Returns, per row, whether it is finished: the gradient is at most
    ``target``, or the last step did not shrink it by 10 % (the rounding floor).
    A row that stops otherwise (converging slower than ``rate``, e.g. along a
    nearly flat direction of a unit at its collapse threshold) needs a fresh Hessian.
    """
    finished = np.zeros(len(rows), dtype=bool)
    pending = np.ones(len(rows), dtype=bool)
    for _ in range(NEWTON_STEPS):
        finished |= pending & (gmax[rows] <= target)
        pending &= ~finished
        index = np.flatnonzero(pending)
        if index.size == 0:
            break
        here = rows[index]
        trial = theta[here] + _steps(matrices, here, g)
        value_t, g_t, gmax_t = objective.value_and_gradient(trial, beta[here])
        better = np.isfinite(gmax_t) & (gmax_t < gmax[here]) & (
            value_t >= value[here] - 1e-12 * (1.0 + np.abs(value[here])))
        shrinking, fast = better & (gmax_t <= 0.9 * gmax[here]), better & (gmax_t <= rate * gmax[here])
        _accept(here, better, trial, value_t, g_t, gmax_t, theta, value, g, gmax)
        finished[index[~shrinking]] = True
        pending[index[~fast]] = False
    return finished


def _from_starts(objective: _Objective, starts: np.ndarray, beta):
    """:func:`_ascend` from the random ``starts`` (S, p) at ``beta`` (S,); same returns.

    With more than :data:`LBFGS_ABOVE` parameters a Hessian costs more than many
    gradients, so each start first climbs by L-BFGS-B (gradient only) to a
    coarse tolerance; the Newton phase then converges in a few steps.
    """
    if objective.size > LBFGS_ABOVE:
        from scipy.optimize import minimize

        beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), starts.shape[:1])

        def negative(theta, b):
            value, gradient, _ = objective.value_and_gradient(theta, b)
            return (-float(value), -gradient) if np.isfinite(value) else (np.inf, np.zeros_like(gradient))

        starts = np.array([minimize(negative, start, args=(b,), jac=True, method="L-BFGS-B",
                                    options={"maxiter": 2000, "ftol": 1e-15,
                                             "gtol": 1e-6 * objective.gtol / GRADIENT_TOLERANCE}).x
                           for start, b in zip(starts, beta)])
    return _ascend(objective, starts, beta)


def _random_starts(objective: _Objective, rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` random whitened starts (count, p): entries ``N(0, 1/n)`` for ``W~, D~``,
    ``N(0, 0.01/n)`` for ``W~_sigma``, ``N(0, 0.01)`` for biases."""
    n = objective.problem.n
    spread = {"W_mu": 1 / np.sqrt(n), "b_mu": 0.1, "W_sigma": 0.1 / np.sqrt(n), "b_sigma": 0.1,
              "D": 1 / np.sqrt(n), "b_D": 0.1}
    scale = np.concatenate([np.full(int(np.prod(objective.shapes[name])), spread[name]) for name in objective.free])
    return scale * rng.standard_normal((count, objective.size))


def _best(value, gmax, is_max, gtol) -> tuple[int, bool]:
    """Index of the converged local maximum with the highest ``value`` (and True); else of the smallest gradient."""
    good = is_max & (gmax <= gtol)
    if good.any():
        return int(np.flatnonzero(good)[np.argmax(value[good])]), True
    return int(np.argmin(gmax)), False


# ----- public API --------------------------------------------------------------------------------
def _solution(problem: Problem, reduced: dict, beta: float, converged: bool, max_grad: float, method: str,
              message: str) -> Solution:
    batched = {name: np.asarray(value, dtype=np.float64)[None] for name, value in reduced.items()}
    metrics, P = evaluate(problem, batched, np.array([beta]))
    full = problem.embed(reduced)
    return Solution(**{name: np.array(full[name], dtype=np.float64) for name in PARAMETERS},
                    beta=float(beta), sigma_y2=problem.sigma_y2, sigma_eta2=problem.sigma_eta2,
                    converged=bool(converged), max_grad=float(max_grad),
                    metrics={name: float(value[0]) for name, value in metrics.items()},
                    tie_permutation=P[0], method=method, message=message, reduced=reduced)


def solve_problem(problem: Problem, beta: float, *, seed: int = 0, starts: int = STARTS,
                  initial: dict | None = None) -> Solution:
    """:func:`solve` on a prepared :class:`Problem`; ``initial`` (reduced parameters) adds a warm start."""
    import scipy.optimize  # noqa: F401 - load SciPy's BLAS before limiting its threads
    from threadpoolctl import threadpool_limits

    objective = _Objective(problem)
    candidates = _random_starts(objective, np.random.default_rng(seed), starts)
    if initial is not None:
        candidates = np.vstack([objective.pack(initial)[None], candidates])
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only add overhead
        theta, value, gmax, is_max, _ = _from_starts(objective, candidates, beta)
    best, converged = _best(value, gmax, is_max, objective.gtol)
    message = ("converged: stationary point and local maximum, best of "
               f"{len(candidates)} starts" if converged else
               f"not converged: max |grad L| = {gmax[best]:.3e} > {objective.gtol:.1e} or not a local maximum")
    reduced = {name: np.array(value) for name, value in objective.unpack(theta[best]).items()}
    return _solution(problem, reduced, beta, converged, gmax[best], "numeric", message)


def solve(A, beta: float, *, fix_decoder=None, sigma_y2: float = 1.0, sigma_eta2: float = 1.0, seed: int = 0,
          starts: int = STARTS) -> Solution:
    """The global maximizer of the data-averaged beta-VAE objective ``L`` (Eq. 34), numerically.

    Parameters
    ----------
    A : (N, k) array
        Mixing matrix; ``p(x) = N(0, A A^T + sigma_eta2 I_N)`` (Eq. 27).
    beta : float > 0
    fix_decoder : (N, k) array, optional
        Optimize the encoder only, with ``D`` fixed and ``b_D = 0``.
    sigma_y2, sigma_eta2 : float > 0
        Decoder variance (Eq. 32) and data noise variance (paper: 1 and 1).
    seed : int
        Seeds the random starts.
    starts : int
        Number of random starts.

    Returns
    -------
    Solution

    Examples
    --------
    >>> import numpy as np
    >>> s = solve(0.5 * (np.ones((4, 2)) + np.eye(4, 2)), 1.0)
    >>> s.converged, abs(s.mie - (s.log_likelihood - s.elbo)) < 1e-9
    (True, True)
    """
    beta = check_positive(beta, "beta")
    problem = make_problem(A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2, seed=seed)
    return solve_problem(problem, beta, seed=seed, starts=starts)


def closed_form_parameters(problem: Problem, betas) -> dict:
    """The closed-form optimum at each beta (shape (B,)), in reduced coordinates, by parameter name.

    Free decoder: :func:`betavae_sym.symbolic.closed_form.global_optimum` at the
    top-k eigenvectors of the reduced ``Sigma_x`` (``numpy.linalg.eigh``). Fixed
    decoder: :func:`betavae_sym.symbolic.closed_form.optimal_encoder`.
    """
    from betavae_sym.linear.compiled import global_optimum_function, optimal_encoder_function

    betas = np.asarray(betas, dtype=np.float64)
    n, k, B = problem.n, problem.k, betas.shape
    if problem.D_r is None:
        eigenvalues, eigenvectors = np.linalg.eigh(problem.Sigma_r)
        U, lam = eigenvectors[:, ::-1][:, :k], eigenvalues[::-1][:k, None]
        W_mu, b_sigma, D = global_optimum_function(n, k)(U, lam, betas, problem.sigma_y2)
    else:
        D = np.broadcast_to(problem.D_r, (*B, n, k))
        W_mu, b_sigma = optimal_encoder_function(n, k)(problem.D_r, betas, problem.sigma_y2)
    return {"W_mu": np.broadcast_to(W_mu, (*B, k, n)), "b_mu": np.zeros((*B, k, 1)),
            "W_sigma": np.zeros((*B, k, n)), "b_sigma": np.broadcast_to(b_sigma, (*B, k, 1)),
            "D": np.broadcast_to(D, (*B, n, k)), "b_D": np.zeros((*B, n, 1))}


def closed_form_problem(problem: Problem, beta: float) -> Solution:
    """:func:`closed_form` on a prepared :class:`Problem`."""
    params = closed_form_parameters(problem, np.array(beta))
    objective = _Objective(problem)
    gmax = float(objective.value_and_gradient(objective.pack(params), beta)[2])
    converged = gmax <= objective.gtol
    message = ("closed form; max |grad L| within tolerance (Eq. 43 holds numerically)" if converged else
               f"closed form, but max |grad L| = {gmax:.3e} exceeds {objective.gtol:.1e}")
    return _solution(problem, {name: np.array(value) for name, value in params.items()}, beta, converged, gmax,
                     "closed_form", message)


def closed_form(A, beta: float, *, fix_decoder=None, sigma_y2: float = 1.0, sigma_eta2: float = 1.0,
                seed: int = 0) -> Solution:
    """The global maximizer of ``L`` in closed form (:mod:`betavae_sym.symbolic.closed_form`).

    With ``s2 = beta sigma_y2`` and ``(lambda_i, u_i)`` the k leading eigenpairs of
    ``Sigma_x``: ``D = [u_i sqrt(max(lambda_i - s2, 0))]``, ``W_mu = (D^T D + s2 I)^{-1} D^T``,
    ``b_sigma = log(s2 / (diag(D^T D) + s2))``, ``W_sigma = b_mu = b_D = 0``. With
    ``fix_decoder`` only the encoder part. Parameters as in :func:`solve`;
    ``seed`` only chooses the (irrelevant) completion of the reduced basis.
    ``max_grad`` is the numerically evaluated gradient (Eqs. 36-41) there.
    """
    beta = check_positive(beta, "beta")
    problem = make_problem(A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2, seed=seed)
    return closed_form_problem(problem, beta)

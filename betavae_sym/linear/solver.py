"""Stationary points of the data-averaged beta-VAE objective: numeric solver and closed form.

``solve`` finds the global maximizer of ``L`` (Eq. 34) by solving the
stationarity system (Eqs. 36-41; Eq. 43 once Eq. 42 holds) with SciPy, using
only lambdified callables (:mod:`betavae_sym.linear.compiled`):

1. several seeded random starts, each run by L-BFGS-B on ``-L`` with the
   lambdified gradient;
2. Newton polishing on ``grad L = 0`` with the Hessian by central differences
   of the lambdified gradient (all ``2 p`` points in one batched call);
3. a curvature check (largest Hessian eigenvalue <= 0 up to round-off); a
   saddle is left along its ascent direction and re-optimized;
4. the converged local maximum with the highest objective wins.

``closed_form`` evaluates the optimum of :mod:`betavae_sym.symbolic.closed_form`
(lambdified) at the eigenvectors of the reduced ``Sigma_x``. Both work on the
exact reduction of :mod:`betavae_sym.linear.problem` and return parameters in
full N-dimensional coordinates.

A point counts as converged when ``max |grad L| <= GRADIENT_TOLERANCE * max(1,
||Sigma_x||_2)`` and it is a local maximum; an unconverged best point is
returned with ``converged = False`` and a message, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from betavae_sym.linear.problem import Problem, check_positive, make_problem

#: Parameter names in the paper's order (same as ``betavae_sym.symbolic.model.PARAMETERS``).
PARAMETERS = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D")
ENCODER = PARAMETERS[:4]

#: Relative gradient tolerance (times ``max(1, ||Sigma_x||_2)``) for ``converged``.
GRADIENT_TOLERANCE = 1e-9

#: Random starts of :func:`solve`.
STARTS = 4


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
    """``L`` and ``grad L`` of a :class:`Problem` at fixed beta over flat vectors (batched).

    The optimizer works in whitened coordinates (a change of variables, not of
    the model): ``W_mu = W~ S^{-1/2}``, ``W_sigma = W~_sigma S^{-1/2}``,
    ``D = S^{1/2} D~`` with ``S`` the reduced ``Sigma_x``, so that all directions
    have comparable curvature whatever the spread of the eigenvalues of ``S``;
    gradients follow by the chain rule (``g~_W = g_W S^{-1/2}``, ``g~_D = S^{1/2} g_D``).
    """

    def __init__(self, problem: Problem, beta):
        from betavae_sym.linear.compiled import gradient_function, objective_function

        self.problem, self.beta = problem, beta
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
        self._objective, self._gradient = objective_function(n, k), gradient_function(n, k)
        eigenvalues, eigenvectors = np.linalg.eigh(problem.Sigma_r)
        self.root = (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T
        self.inverse_root = (eigenvectors / np.sqrt(eigenvalues)) @ eigenvectors.T
        self.gtol = GRADIENT_TOLERANCE * max(1.0, float(eigenvalues[-1]))

    def unpack(self, theta: np.ndarray) -> dict:
        """Whitened flat vectors (..., p) -> reduced parameters by name (batch shape kept)."""
        theta = np.asarray(theta, dtype=np.float64)
        batch = theta.shape[:-1]
        params = {name: theta[..., self.slices[name]].reshape(*batch, *self.shapes[name]) for name in self.free}
        for name in ("W_mu", "W_sigma"):
            params[name] = params[name] @ self.inverse_root
        if self.problem.D_r is not None:
            params["D"] = np.broadcast_to(self.problem.D_r, (*batch, self.problem.n, self.problem.k))
            params["b_D"] = np.zeros((*batch, self.problem.n, 1))
        else:
            params["D"] = self.root @ params["D"]
        return params

    def pack(self, params: dict) -> np.ndarray:
        """Reduced parameters (unbatched) -> whitened flat vector."""
        whitened = dict(params)
        for name in ("W_mu", "W_sigma"):
            whitened[name] = params[name] @ self.root
        if self.problem.D_r is None:
            whitened["D"] = self.inverse_root @ params["D"]
        return np.concatenate([np.ravel(whitened[name]) for name in self.free])

    def _arguments(self, theta):
        p, q = self.unpack(theta), self.problem
        return (p["W_mu"], p["b_mu"], p["W_sigma"], p["b_sigma"], p["D"], p["b_D"], q.A_r, q.Sigma_r,
                self.beta, q.sigma_y2, q.sigma_eta2)

    def value(self, theta) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(self._objective(*self._arguments(theta)), dtype=np.float64)

    def _blocks(self, theta) -> dict:
        with np.errstate(over="ignore", invalid="ignore"):
            return dict(zip(PARAMETERS, self._gradient(*self._arguments(theta))))

    def _flatten(self, blocks: dict, batch) -> np.ndarray:
        return np.concatenate([np.broadcast_to(blocks[name], (*batch, *self.shapes[name])).reshape(*batch, -1)
                               for name in self.free], axis=-1)

    def _whiten(self, blocks: dict) -> dict:
        """Chain rule to the whitened parameters; non-finite trial points stay non-finite, silently
        (the line search rejects them; the final point is checked by ``converged`` and the closed form)."""
        with np.errstate(over="ignore", invalid="ignore"):
            for name in ("W_mu", "W_sigma"):
                blocks[name] = blocks[name] @ self.inverse_root
            blocks["D"] = self.root @ blocks["D"]
        return blocks

    def gradient(self, theta) -> np.ndarray:
        """Gradient with respect to the whitened vector (chain rule), shape (..., p)."""
        theta = np.asarray(theta, dtype=np.float64)
        return self._flatten(self._whiten(self._blocks(theta)), theta.shape[:-1])

    def max_gradient(self, theta) -> float:
        """``max |dL/dtheta|`` in the model's own parameters (Eqs. 36-41)."""
        return self.gradient_and_max(theta)[1]

    def gradient_and_max(self, theta) -> tuple[np.ndarray, float]:
        """(whitened gradient (p,), ``max |dL/dtheta|`` in the model's own parameters) for one vector."""
        blocks = self._blocks(theta)
        gmax = float(np.max(np.abs(self._flatten(blocks, ()))))
        return self._flatten(self._whiten(blocks), ()), gmax

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Central differences of the lambdified gradient (whitened), symmetrized, shape (p, p)."""
        steps = 1e-5 * np.maximum(1.0, np.abs(theta))
        points = np.concatenate([theta + np.diag(steps), theta - np.diag(steps)])
        g = self.gradient(points)
        H = (g[:self.size] - g[self.size:]) / (2 * steps[:, None])
        return (H + H.T) / 2


# ----- local search ----------------------------------------------------------------------------
def _lbfgs(objective: _Objective, theta: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize

    def negative(t):
        return -float(objective.value(t)), -objective.gradient(t)

    result = minimize(negative, theta, jac=True, method="L-BFGS-B",
                      options={"maxiter": 3000, "maxcor": 20, "ftol": 1e-13, "gtol": 1e-6})
    return result.x


def _newton(objective: _Objective, theta: np.ndarray, iterations: int = 25):
    """Newton steps on ``grad L = 0``, the Hessian refreshed only when a step gains less than half.

    Returns ``(theta, max |grad|, the last Hessian computed)``.
    """
    H = objective.hessian(theta)
    g, gmax = objective.gradient_and_max(theta)
    for _ in range(iterations):
        if gmax <= objective.gtol / 10:
            break
        trial = theta + np.linalg.lstsq(H, -g, rcond=None)[0]
        g_trial, gmax_trial = objective.gradient_and_max(trial)
        if not np.isfinite(gmax_trial):
            break
        if gmax_trial > gmax / 2:
            H = objective.hessian(trial)
        theta, g, gmax = trial, g_trial, gmax_trial
    return theta, gmax, H


def _ascent_direction(H: np.ndarray) -> np.ndarray | None:
    """Unit eigenvector of the largest Hessian eigenvalue when it is clearly positive, else None."""
    values, vectors = np.linalg.eigh(H)
    if values[-1] <= 1e-7 * max(1.0, np.max(np.abs(values))):
        return None
    return vectors[:, -1]


def _local_maximum(objective: _Objective, theta: np.ndarray, polish_first: bool = False, escapes: int = 4):
    """From ``theta``: (optionally Newton first, then) L-BFGS-B, Newton, escape saddles.

    Returns ``(theta, max |grad|, is_local_maximum)``.
    """
    if polish_first:
        theta_n, gmax, H = _newton(objective, theta, iterations=8)
        if gmax <= objective.gtol and _ascent_direction(H) is None:
            return theta_n, gmax, True
    for _ in range(escapes + 1):
        theta = _lbfgs(objective, theta)
        theta, gmax, H = _newton(objective, theta)
        direction = _ascent_direction(H)
        if direction is None:
            return theta, gmax, True
        base = float(objective.value(theta))
        trials = np.array([theta + sign * scale * direction for scale in (1e-3, 1e-2, 1e-1, 1.0)
                           for sign in (1.0, -1.0)])
        values = objective.value(trials)
        if not np.nanmax(values) > base:
            return theta, gmax, False
        theta = trials[int(np.nanargmax(values))]
    return theta, gmax, False


def _random_start(objective: _Objective, rng: np.random.Generator) -> np.ndarray:
    """A random whitened start: entries ``N(0, 1/n)`` for ``W~, D~``, ``N(0, 0.01/n)`` for ``W~_sigma``, 0.1 for biases."""
    n = objective.problem.n
    spread = {"W_mu": 1 / np.sqrt(n), "b_mu": 0.1, "W_sigma": 0.1 / np.sqrt(n), "b_sigma": 0.1,
              "D": 1 / np.sqrt(n), "b_D": 0.1}
    return np.concatenate([spread[name] * rng.standard_normal(int(np.prod(objective.shapes[name])))
                           for name in objective.free])


def _best_local_maximum(objective: _Objective, starts: list[np.ndarray], polish_first: bool = False):
    """The converged local maximum with the highest objective among runs from ``starts``.

    Returns ``(theta, max |grad|, converged)``; when no run converged, the run with the smallest gradient.
    """
    runs = [_local_maximum(objective, start, polish_first=polish_first) for start in starts]
    good = [(float(objective.value(theta)), theta, gmax) for theta, gmax, ok in runs if ok and gmax <= objective.gtol]
    if good:
        _, theta, gmax = max(good, key=lambda run: run[0])
        return theta, gmax, True
    theta, gmax, _ = min(runs, key=lambda run: run[1])
    return theta, gmax, False


# ----- public API --------------------------------------------------------------------------------
def _solution(problem: Problem, reduced: dict, beta: float, converged: bool, max_grad: float, method: str,
              message: str) -> Solution:
    from betavae_sym.linear.metrics import evaluate

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

    objective = _Objective(problem, beta)
    rng = np.random.default_rng(seed)
    candidates = [_random_start(objective, rng) for _ in range(starts)]
    if initial is not None:
        candidates.insert(0, objective.pack(initial))
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only add overhead
        theta, gmax, converged = _best_local_maximum(objective, candidates)
    message = ("converged: stationary point and local maximum, best of "
               f"{len(candidates)} starts" if converged else
               f"not converged: max |grad L| = {gmax:.3e} > {objective.gtol:.1e} or not a local maximum")
    reduced = {name: np.array(value) for name, value in objective.unpack(theta).items()}
    return _solution(problem, reduced, beta, converged, gmax, "numeric", message)


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
    objective = _Objective(problem, beta)
    gmax = objective.max_gradient(objective.pack(params))
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

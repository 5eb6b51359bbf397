"""Stationary points of the data-averaged beta-VAE objective: numeric solver and closed form.

``solve`` finds the global maximizer of ``L`` (Eq. 34) by solving the
stationarity system (Eqs. 36-41; Eq. 43 once Eq. 42 holds), using only
lambdified callables (:mod:`betavae_sym.linear.compiled`) through
:class:`~betavae_sym.linear.objective.Objective`:

1. several seeded random starts, all climbed together (one batched call per
   stage) by trust-region Newton steps with backtracking, the Hessian exact to
   rounding by complex-step differentiation of the lambdified gradient;
2. a curvature check at the converged point (largest Hessian eigenvalue <= 0
   up to rounding); a saddle is left along its ascent direction and climbed again;
3. Newton polishing down to the rounding floor of the gradient;
4. the converged local maximum with the highest objective wins.

Steps 1-3 are :func:`betavae_sym.linear.ascent.ascend_from_starts`, step 4
:func:`betavae_sym.linear.ascent.best_row`.

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
||Sigma_x||_2)`` (:mod:`betavae_sym.linear.objective`) and it is a local maximum; an unconverged best point is
returned with ``converged = False`` and a message, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from betavae_sym.linear.ascent import ascend_from_starts, best_row
from betavae_sym.linear.metrics import evaluate
from betavae_sym.linear.objective import Objective
from betavae_sym.linear.problem import Problem, make_problem
from betavae_sym.symbolic.model import PARAMETERS
from betavae_sym.validate import positive_number

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
    metrics : dict of str -> float
        ``objective, elbo, recon, kl, mie, tie, log_likelihood`` (nats, averaged over
        p(x) in closed form, constants included; TIE for the best signed permutation),
        see :mod:`betavae_sym.linear.metrics`.
    tie_permutation : (k, k)
        The signed permutation ``P`` aligning units to sources (``z_aligned = P z``).
    method : str
        ``"numeric"`` or ``"closed_form"``.
    message : str
    reduced : dict
        The parameters in the reduced coordinates of the :class:`Problem`, by name.
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
    reduced: dict = field(default=None, repr=False)

    def parameters(self) -> dict:
        """The six parameters by name (data coordinates)."""
        return {name: getattr(self, name) for name in PARAMETERS}


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

    objective = Objective(problem)
    candidates = objective.random_starts(np.random.default_rng(seed), starts)
    if initial is not None:
        candidates = np.vstack([objective.pack(initial)[None], candidates])
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only add overhead
        state = ascend_from_starts(objective, candidates, beta)
    best, converged = best_row(state)
    gmax = state.max_grad[best]
    message = ("converged: stationary point and local maximum, best of "
               f"{len(candidates)} starts" if converged else
               f"not converged: max |grad L| = {gmax:.3e} > {objective.gtol:.1e} or not a local maximum")
    reduced = {name: np.array(value) for name, value in objective.unpack(state.theta[best]).items()}
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
    >>> m = s.metrics
    >>> s.converged, abs(m["mie"] - (m["log_likelihood"] - m["elbo"])) < 1e-9
    (True, True)
    """
    beta = positive_number(beta, "beta")
    problem = make_problem(A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2, seed=seed)
    return solve_problem(problem, beta, seed=seed, starts=starts)


def closed_form_parameters(problem: Problem, betas, basis=None) -> dict:
    """The closed-form optimum at each beta (shape (B,)), in reduced coordinates, by parameter name.

    Free decoder: :func:`betavae_sym.symbolic.closed_form.global_optimum` at the
    top-k eigenvectors of the reduced ``Sigma_x`` (:func:`leading_eigenpairs`), or at
    ``basis`` (``(U, lam)``: other orthonormal eigenvectors (..., n, k) for the same
    eigenvalues, e.g. another member of a degenerate optimal set; its batch shape
    broadcasts with ``betas``). Fixed decoder: :func:`betavae_sym.symbolic.closed_form.optimal_encoder`.
    """
    from betavae_sym.linear.compiled import global_optimum_function, optimal_encoder_function

    betas = np.asarray(betas, dtype=np.float64)
    n, k = problem.n, problem.k
    if problem.D_r is None:
        U, lam = leading_eigenpairs(problem) if basis is None else basis
        W_mu, b_sigma, D = global_optimum_function(n, k)(U, lam, betas, problem.sigma_y2)
    else:
        D = problem.D_r
        W_mu, b_sigma = optimal_encoder_function(n, k)(problem.D_r, betas, problem.sigma_y2)
    B = np.broadcast_shapes(betas.shape, np.shape(W_mu)[:-2])
    return {"W_mu": np.broadcast_to(W_mu, (*B, k, n)), "b_mu": np.zeros((*B, k, 1)),
            "W_sigma": np.zeros((*B, k, n)), "b_sigma": np.broadcast_to(b_sigma, (*B, k, 1)),
            "D": np.broadcast_to(D, (*B, n, k)), "b_D": np.zeros((*B, n, 1))}


def leading_eigenpairs(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """``(U (n, k), lam (k, 1))``: the k leading eigenpairs of the reduced ``Sigma_x``, largest first
    (``numpy.linalg.eigh``)."""
    eigenvalues, eigenvectors = np.linalg.eigh(problem.Sigma_r)
    return eigenvectors[:, ::-1][:, :problem.k], eigenvalues[::-1][:problem.k, None]


def closed_form_problem(problem: Problem, beta: float) -> Solution:
    """:func:`closed_form` on a prepared :class:`Problem`."""
    params = closed_form_parameters(problem, np.array(beta))
    objective = Objective(problem)
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
    beta = positive_number(beta, "beta")
    problem = make_problem(A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2, seed=seed)
    return closed_form_problem(problem, beta)

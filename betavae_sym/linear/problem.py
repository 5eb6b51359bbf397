"""The data of the linear beta-VAE turned into an exactly reduced problem (validation at the boundary).

The reduction (exact, any N)
----------------------------
Let ``Q`` (N, n) be orthonormal with ``col(Q)`` invariant under ``Sigma_x``
(``Sigma_x Q = Q Sigma_r``) and containing ``col(D)`` of a fixed decoder, and
``Q_c`` (N, N - n) its orthonormal complement. For parameters that live in
``col(Q)`` (``W = W_r Q^T``, ``W_sigma = W_sigma_r Q^T``, ``D = Q D_r``,
``b_D = Q b_D_r``):

* each metric equals the metric of the size-(n, k) problem with
  ``Sigma_r = Q^T Sigma_x Q`` and TIE target ``(F Q, P)``, plus the metric of
  the complement at zero parameters: each of the ``N - n`` complement
  directions ``e`` with variance ``lambda = e^T Sigma_x e`` and target column
  ``f = F e`` adds what the model's formulas give for a one-dimensional
  problem with all weights zero (recon, objective, ELBO, log-likelihood:
  ``-1/2 log(2 pi sigma_y2) - lambda / (2 sigma_y2)``; KL and MIE: 0; TIE:
  ``lambda f^T P f / 2``); :func:`complement_increments` evaluates them with
  the lambdified metrics at size (1, k), so no formula is typed here;
* every gradient component along a complement direction vanishes
  (``Sigma_x e = lambda e``, ``W e = 0``, ``D^T e = 0`` in Eqs. 36-41), so a
  stationary point of the reduced problem is one of the full problem.

Two constructions:

* :func:`make_problem`, the paper's data ``Sigma_x = A A^T + sigma_eta2 I_N``:
  ``col(Q) ⊇ col(A)`` (one thin QR), ``n = min(N, 4k + 1)``. Every complement
  direction has variance ``sigma_eta2`` and ``F e = 0``. Nothing is lost by
  searching in ``col(Q)`` once ``n >= k + 3k + 1``: the objective is invariant
  under rotations fixing ``col(A)``, and the k rows of ``W_mu``, k rows of
  ``W_sigma``, k columns of ``D`` and ``b_D`` together touch at most ``3k + 1``
  orthogonal directions, which a rotation moves into ``col(Q)``.
* :func:`data_problem`, any :class:`~betavae_sym.linear.gaussian_data.GaussianData`
  (a general noise covariance, or ``Sigma_x`` given): ``Q`` holds the
  ``n = min(N, 4k + 1)`` leading eigenvectors of ``Sigma_x`` (no reduction with
  a fixed decoder). The metrics and stationarity are exact as above; that the
  global maximum lies in ``col(Q)`` is the closed form's theorem (the optimum
  uses the k leading eigenvectors), which the numeric solver then does not
  test beyond those n directions.

So N = 1600, k = 2 becomes a 9-dimensional problem. Costs: building ``Q`` is one
thin QR, O(N n^2) (or one symmetric eigendecomposition, O(N^3)); everything
else is O(n^3) per evaluation, independent of N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.validate import positive_number


def check_mixing(A, name: str = "A", *, source: str = "") -> np.ndarray:
    """``A`` as a float64 (N, k) array with finite entries, ``k <= N`` and rank k; BadInput otherwise.

    ``name`` is the parameter the error names; ``source`` (e.g. a file name) is put in front of the message.
    """
    where = f"{source}: " if source else ""
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInput(f"{where}not a numeric matrix", parameter=name) from None
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise BadInput(f"{where}expected an N x k matrix, got shape {A.shape}", parameter=name)
    if not np.all(np.isfinite(A)):
        raise BadInput(f"{where}contains NaN or infinite entries", parameter=name)
    N, k = A.shape
    if k > N:
        raise BadInput(f"{where}k = {k} latent sources exceed N = {N} data dimensions; give an N x k matrix, k <= N",
                       parameter=name)
    if np.linalg.matrix_rank(A) < k:
        raise BadInput(f"{where}rank {np.linalg.matrix_rank(A)} < k = {k}; the sources must be identifiable",
                       parameter=name)
    return A


def reduced_size(N: int, k: int) -> int:
    """``n = min(N, 4k + 1)``, the exact reduced data dimension (see the module docstring)."""
    return min(N, 4 * k + 1)


@dataclass(frozen=True)
class Problem:
    """The data-averaged beta-VAE for one data distribution, reduced exactly to size (n, k).

    Attributes
    ----------
    N, k : sizes of the data and of the latent code.
    Q : (N, n) orthonormal basis of the reduced space (module docstring), or None when n = N (no reduction).
    Sigma_r : (n, n) ``Q^T Sigma_x Q`` (Eq. 27).
    F_r, P : (k, n), (k, k) the TIE target ``p(s|x) = N(F x, P^{-1})`` in reduced coordinates (``F_r = F Q``).
    fixed_D : (N, k) fixed decoder or None; D_r : (n, k) ``Q^T fixed_D`` or None.
    sigma_y2 : decoder variance; sigma_eta2 : the data's noise variance when it is isotropic, else None.
    increments : what the ``N - n`` complement directions add to each metric (nats), by name.
    """

    N: int
    k: int
    Q: np.ndarray | None
    Sigma_r: np.ndarray
    F_r: np.ndarray
    P: np.ndarray
    fixed_D: np.ndarray | None
    D_r: np.ndarray | None
    sigma_y2: float
    sigma_eta2: float | None
    increments: dict

    @property
    def n(self) -> int:
        return self.Sigma_r.shape[0]

    def arguments(self, params: dict, beta) -> tuple:
        """The arguments of the compiled model functions (:data:`betavae_sym.linear.compiled.ARGUMENTS`)
        for reduced parameters ``params`` (by name, any batch shape) at ``beta``."""
        return (params["W_mu"], params["b_mu"], params["W_sigma"], params["b_sigma"], params["D"], params["b_D"],
                self.F_r, self.P, self.Sigma_r, beta, self.sigma_y2)

    def embed(self, params: dict) -> dict:
        """Reduced parameters (any batch shape) -> full (N-dimensional) parameters, by name."""
        if self.Q is None:
            return dict(params)
        Q = self.Q
        full = dict(params)
        for name in ("W_mu", "W_sigma"):
            full[name] = params[name] @ Q.T
        for name in ("D", "b_D"):
            full[name] = Q @ params[name]
        return full


def complement_increments(variances, target_columns, P, sigma_y2: float) -> dict:
    """What complement directions add to each metric (nats), by name (see the module docstring).

    ``variances`` (m,): ``e^T Sigma_x e`` of each direction; ``target_columns`` (k, m): ``F e``, or
    None for zeros; ``P`` (k, k) the target's precision. The sum over the directions of the
    lambdified metrics at size (1, k) with all weights zero; for TIE, minus its value for a zero
    target column (that part belongs to the units, not to the direction).
    """
    from betavae_sym.linear.compiled import METRICS, metrics_function

    variances = np.asarray(variances, dtype=np.float64)
    m, k = variances.shape[0], P.shape[0]
    if m == 0:
        return dict.fromkeys(METRICS, 0.0)
    zero = np.zeros((m, k, 1))
    columns = zero if target_columns is None else np.asarray(target_columns).T[:, :, None]

    def total(F) -> dict:
        values = metrics_function(1, k)(*_zero_point(k, F, P, variances[:, None, None], sigma_y2))
        return {name: float(np.sum(np.broadcast_to(value, (m,)))) for name, value in values.items()}

    increments = total(columns)
    increments["tie"] -= total(zero)["tie"]
    return increments


def _zero_point(k: int, F, P, variance, sigma_y2: float) -> tuple:
    """Arguments (:data:`betavae_sym.linear.compiled.ARGUMENTS`) of a one-dimensional problem with all weights zero."""
    return (np.zeros((k, 1)), np.zeros((k, 1)), np.zeros((k, 1)), np.zeros((k, 1)), np.zeros((1, k)), np.zeros((1, 1)),
            F, P, variance, 1.0, sigma_y2)


def make_problem(A, *, fix_decoder=None, sigma_y2: float = 1.0, sigma_eta2: float = 1.0, seed: int = 0) -> Problem:
    """Validate the inputs and build the reduced :class:`Problem` for ``Sigma_x = A A^T + sigma_eta2 I_N``.

    Parameters
    ----------
    A : (N, k) array, the mixing matrix (Eq. 26).
    fix_decoder : (N, k) array or None; a fixed decoder ``D`` (then ``b_D = 0``).
    sigma_y2, sigma_eta2 : positive floats (paper: 1, 1).
    seed : seeds the directions that complete ``Q`` (any choice is exact).
    """
    from betavae_sym.linear.compiled import data_covariance_function, isotropic_posterior_function

    A = check_mixing(A, "A")
    N, k = A.shape
    D = _fixed_decoder(fix_decoder, N, k)
    sigma_y2 = positive_number(sigma_y2, "sigma_y2")
    sigma_eta2 = positive_number(sigma_eta2, "sigma_eta2")
    n = reduced_size(N, k)
    if n == N:
        Q, A_r, D_r = None, A, D
    else:
        spans = [A] if D is None else [A, D]
        filler = np.random.default_rng([seed, N, k]).standard_normal((N, n - sum(s.shape[1] for s in spans)))
        Q = np.linalg.qr(np.hstack([*spans, filler]))[0]
        A_r, D_r = Q.T @ A, None if D is None else Q.T @ D
    Sigma_r = data_covariance_function(n, k)(A_r, sigma_eta2)
    F_r, P = isotropic_posterior_function(n, k)(A_r, sigma_eta2)
    increments = complement_increments(np.full(N - n, sigma_eta2), None, P, sigma_y2)
    return Problem(N=N, k=k, Q=Q, Sigma_r=Sigma_r, F_r=F_r, P=P, fixed_D=D, D_r=D_r, sigma_y2=sigma_y2,
                   sigma_eta2=sigma_eta2, increments=increments)


def data_problem(data, *, fix_decoder=None, sigma_y2: float = 1.0, seed: int = 0) -> Problem:
    """The reduced :class:`Problem` for a :class:`~betavae_sym.linear.gaussian_data.GaussianData`.

    Isotropic noise goes to :func:`make_problem` (``seed`` as there); otherwise
    ``Q`` holds the leading eigenvectors of ``Sigma_x`` (module docstring).
    """
    if data.isotropic:
        return make_problem(data.A, fix_decoder=fix_decoder, sigma_y2=sigma_y2, sigma_eta2=data.noise_var, seed=seed)
    N, k = data.A.shape
    D = _fixed_decoder(fix_decoder, N, k)
    sigma_y2 = positive_number(sigma_y2, "sigma_y2")
    Sigma_x = data.covariance()
    F, P = data.posterior()
    n = N if D is not None else reduced_size(N, k)
    if n == N:
        return Problem(N=N, k=k, Q=None, Sigma_r=Sigma_x, F_r=F, P=P, fixed_D=D, D_r=D, sigma_y2=sigma_y2,
                       sigma_eta2=None, increments=complement_increments(np.zeros(0), None, P, sigma_y2))
    eigenvalues, eigenvectors = np.linalg.eigh(Sigma_x)
    Q, Q_c = eigenvectors[:, N - n:], eigenvectors[:, :N - n]
    return Problem(N=N, k=k, Q=Q, Sigma_r=np.diag(eigenvalues[N - n:]), F_r=F @ Q, P=P, fixed_D=None, D_r=None,
                   sigma_y2=sigma_y2, sigma_eta2=None,
                   increments=complement_increments(eigenvalues[:N - n], F @ Q_c, P, sigma_y2))


def _fixed_decoder(fix_decoder, N: int, k: int) -> np.ndarray | None:
    if fix_decoder is None:
        return None
    D = np.asarray(fix_decoder, dtype=np.float64)
    if D.shape != (N, k) or not np.all(np.isfinite(D)):
        raise BadInput(f"expected a finite {N} x {k} matrix like A, got shape {D.shape}", parameter="fix_decoder")
    return D

"""A mixing matrix turned into an exactly reduced problem (validation at the boundary).

The reduction (exact, any N)
----------------------------
``Sigma_x = A A^T + sigma_eta2 I_N`` acts as ``sigma_eta2`` on every direction
orthogonal to the columns of ``A``. Let ``Q`` (N, n) be orthonormal with
``col(Q) ⊇ col(A)`` (and ``col(D)`` for a fixed decoder). For parameters that
live in ``col(Q)`` (``W = W_r Q^T``, ``W_sigma = W_sigma_r Q^T``,
``D = Q D_r``, ``b_D = Q b_D_r``):

* each metric equals the metric of the size-(n, k) problem with
  ``A_r = Q^T A``, ``Sigma_r = Q^T Sigma_x Q = A_r A_r^T + sigma_eta2 I_n``,
  plus ``(N - n)`` times the increment of one untouched noise dimension
  (:func:`betavae_sym.symbolic.closed_form.isotropic_increment`: for
  recon/objective/ELBO/log-likelihood ``-1/2 log(2 pi sigma_y2) -
  sigma_eta2 / (2 sigma_y2)``, for KL/MIE/TIE 0);
* every gradient component along a direction ``e`` orthogonal to ``col(Q)``
  vanishes (``Sigma_x e = sigma_eta2 e``, ``W e = 0``, ``D^T e = 0`` in Eqs. 36-41),
  so a stationary point of the reduced problem is one of the full problem;
* nothing is lost by searching in ``col(Q)`` once ``n >= k + 3k + 1``: the
  objective is invariant under rotations fixing ``col(A)``, and the k rows of
  ``W_mu``, k rows of ``W_sigma``, k columns of ``D`` and ``b_D`` together touch
  at most ``3k + 1`` orthogonal directions, which a rotation moves into ``col(Q)``.

So ``n = min(N, 4k + 1)``: N = 1600, k = 2 becomes a 9-dimensional problem.
Costs: building ``Q`` is one thin QR, O(N n^2); everything else is O(n^3)
per evaluation, independent of N.
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
    """The data-averaged beta-VAE for one mixing matrix, reduced exactly to size (n, k).

    Attributes
    ----------
    A : (N, k) mixing matrix; ``fixed_D`` : (N, k) fixed decoder or None.
    Q : (N, n) orthonormal basis with ``col(Q) ⊇ col(A), col(fixed_D)``, or None when n = N (no reduction).
    A_r, D_r : (n, k) ``Q^T A``, ``Q^T fixed_D``; ``Sigma_r`` : (n, n) reduced ``Sigma_x`` (Eq. 27).
    sigma_y2, sigma_eta2 : decoder and data noise variances.
    """

    A: np.ndarray
    fixed_D: np.ndarray | None
    Q: np.ndarray | None
    A_r: np.ndarray
    D_r: np.ndarray | None
    Sigma_r: np.ndarray
    sigma_y2: float
    sigma_eta2: float

    @property
    def N(self) -> int:
        return self.A.shape[0]

    @property
    def k(self) -> int:
        return self.A.shape[1]

    @property
    def n(self) -> int:
        return self.A_r.shape[0]

    def arguments(self, params: dict, beta) -> tuple:
        """The arguments of the compiled model functions (:data:`betavae_sym.linear.compiled.ARGUMENTS`)
        for reduced parameters ``params`` (by name, any batch shape) at ``beta``."""
        return (params["W_mu"], params["b_mu"], params["W_sigma"], params["b_sigma"], params["D"], params["b_D"],
                self.A_r, self.Sigma_r, beta, self.sigma_y2, self.sigma_eta2)

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

    def increments(self) -> dict:
        """``(N - n)`` times the untouched-dimension increment of each metric (nats), by name."""
        from betavae_sym.linear.compiled import increment_function

        per_dimension = increment_function()(self.sigma_y2, self.sigma_eta2)
        return {name: (self.N - self.n) * float(value) for name, value in per_dimension.items()}


def make_problem(A, *, fix_decoder=None, sigma_y2: float = 1.0, sigma_eta2: float = 1.0, seed: int = 0) -> Problem:
    """Validate the inputs and build the reduced :class:`Problem`.

    Parameters
    ----------
    A : (N, k) array, the mixing matrix (Eq. 26).
    fix_decoder : (N, k) array or None; a fixed decoder ``D`` (then ``b_D = 0``).
    sigma_y2, sigma_eta2 : positive floats (paper: 1, 1).
    seed : seeds the directions that complete ``Q`` (any choice is exact).
    """
    from betavae_sym.linear.compiled import data_covariance_function

    A = check_mixing(A, "A")
    N, k = A.shape
    D = None
    if fix_decoder is not None:
        D = np.asarray(fix_decoder, dtype=np.float64)
        if D.shape != (N, k) or not np.all(np.isfinite(D)):
            raise BadInput(f"expected a finite {N} x {k} matrix like A, got shape {D.shape}", parameter="fix_decoder")
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
    return Problem(A=A, fixed_D=D, Q=Q, A_r=A_r, D_r=D_r, Sigma_r=Sigma_r, sigma_y2=sigma_y2, sigma_eta2=sigma_eta2)

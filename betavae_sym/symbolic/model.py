"""The linear-Gaussian beta-VAE of the paper (Eqs. 26-32) as a SymPy model object.

Generative process (Eq. 26): ``x = A s + eta``, ``s ~ N(0, I_k)``,
``eta ~ N(0, sigma_eta2 I_N)``, so ``p(x) = N(0, Sigma_x)`` with
``Sigma_x = A A^T + sigma_eta2 I_N`` (Eq. 27).

Encoder (Eqs. 29-30): ``mu_z = W_mu x + b_mu``,
``Sigma_z = diag(exp(W_sigma x + b_sigma))``. Decoder (Eq. 32):
``p(x|z) = N(D z + b_D, sigma_y2 I_N)``. Prior ``p(z) = N(0, I_k)``.

Shapes: ``W_mu, W_sigma: (k, N)``, ``b_mu, b_sigma: (k, 1)``, ``D, A: (N, k)``,
``b_D: (N, 1)``, ``Sigma_x: (N, N)``, ``x: (N, 1)``.

Conventions of every quantity below: nats; per datum or averaged over
``p(x) = N(0, Sigma_x)`` as the name says; all normalizing constants kept
(``-N/2 log(2 pi sigma_y2)`` in the reconstruction term), so that
``MIE = log p_theta(x) - ELBO`` holds exactly. ``sigma_y2`` and ``sigma_eta2``
stay symbols; the paper's case is ``sigma_y2 = sigma_eta2 = 1``.

The methods return the *closed matrix forms* of the derived results. They are
not trusted on their own: ``betavae_sym.symbolic.derivations`` derives each
quantity component by component from first principles and proves these forms
equal to it at several sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import MatrixSymbol, Rational

Matrix = sp.MatrixBase | sp.MatrixExpr

from betavae_sym.symbolic import ops

#: The paper's specialization of the two variances.
PAPER_VARIANCES = {"sigma_y2": 1, "sigma_eta2": 1}

#: Names of the trainable parameters, in the paper's order (Eq. 34 text).
PARAMETERS = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D")

_LATEX = {
    "W_mu": r"W^{\mu}", "b_mu": r"b^{\mu}", "W_sigma": r"W^{\sigma}", "b_sigma": r"b^{\sigma}",
    "D": "D", "b_D": "b^{D}", "A": "A", "Sigma_x": r"\Sigma_{x}", "x": "x", "s": "s",
    "eta": r"\eta", "eps": r"\epsilon",
}


def _explicit(name: str, rows: int, cols: int) -> sp.Matrix:
    """A matrix of real component symbols, 1-based indices in the names (LaTeX-ready)."""
    base = _LATEX[name]
    if cols == 1:
        return sp.Matrix(rows, 1, lambda i, j: sp.Symbol(f"{base}_{{{i + 1}}}", real=True))
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{base}_{{{i + 1}{j + 1}}}", real=True))


def _explicit_symmetric(name: str, n: int) -> sp.Matrix:
    """A generic symmetric matrix of real symbols (``S_ij = S_ji``)."""
    base = _LATEX[name]
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"{base}_{{{min(i, j) + 1}{max(i, j) + 1}}}", real=True))


@dataclass
class LinearBetaVAE:
    """The analytic beta-VAE at size (N, k), explicit (components) or general (MatrixSymbol).

    Parameters
    ----------
    N, k : int or sympy.Symbol
        Data and latent dimensions. Explicit models need integers.
    explicit : bool
        True: every matrix is a ``sympy.Matrix`` of component symbols.
        False: every matrix is a ``MatrixSymbol`` (general shape, for typesetting
        and lambdify).

    Examples
    --------
    >>> m = LinearBetaVAE(2, 1)
    >>> m.W_mu.shape
    (1, 2)
    """

    N: int | sp.Symbol
    k: int | sp.Symbol
    explicit: bool = True
    beta: sp.Expr = field(default_factory=lambda: sp.Symbol("beta", positive=True))
    sigma_y2: sp.Expr = field(default_factory=lambda: sp.Symbol("sigma_y^2", positive=True))
    sigma_eta2: sp.Expr = field(default_factory=lambda: sp.Symbol("sigma_eta^2", positive=True))
    #: Where a model evaluated at a random rational point was drawn (``derivations.pointed_model``):
    #: ``(seed, scalars drawn too)``; None for a model of symbols.
    point: tuple[int, bool] | None = None
    #: Parameters replaced by zero matrices (``derivations.with_zero``).
    zeroed: frozenset[str] = frozenset()
    # The matrices, built in __post_init__ (explicit Matrix or MatrixSymbol, shapes in the module docstring).
    W_mu: Matrix = field(init=False, repr=False)
    b_mu: Matrix = field(init=False, repr=False)
    W_sigma: Matrix = field(init=False, repr=False)
    b_sigma: Matrix = field(init=False, repr=False)
    D: Matrix = field(init=False, repr=False)
    b_D: Matrix = field(init=False, repr=False)
    A: Matrix = field(init=False, repr=False)
    x: Matrix = field(init=False, repr=False)
    s: Matrix = field(init=False, repr=False)
    eta: Matrix = field(init=False, repr=False)
    eps: Matrix = field(init=False, repr=False)
    Sigma_x: Matrix = field(init=False, repr=False)

    def __post_init__(self) -> None:
        N, k = self.N, self.k
        shapes = {
            "W_mu": (k, N), "b_mu": (k, 1), "W_sigma": (k, N), "b_sigma": (k, 1),
            "D": (N, k), "b_D": (N, 1), "A": (N, k), "x": (N, 1), "s": (k, 1),
            "eta": (N, 1), "eps": (k, 1),
        }
        for name, (rows, cols) in shapes.items():
            value = _explicit(name, rows, cols) if self.explicit else MatrixSymbol(_LATEX[name], rows, cols)
            setattr(self, name, value)
        self.Sigma_x = _explicit_symmetric("Sigma_x", N) if self.explicit else MatrixSymbol(_LATEX["Sigma_x"], N, N)

    @property
    def key(self) -> tuple:
        """What identifies this model's values: size, random point, zeroed parameters (a cache key)."""
        return (self.N, self.k, self.point, self.zeroed)

    # ----- symbols ---------------------------------------------------------------
    def parameter_symbols(self) -> set[sp.Symbol]:
        """Component symbols of the trainable parameters (explicit models only)."""
        return set().union(*(getattr(self, p).free_symbols for p in PARAMETERS))

    def paper_case(self) -> dict:
        """Substitution ``{sigma_y2: 1, sigma_eta2: 1}``: the paper's specialization."""
        return {self.sigma_y2: 1, self.sigma_eta2: 1}

    def data_covariance(self):
        """Eq. 27: ``Sigma_x = A A^T + sigma_eta2 I_N``, shape (N, N)."""
        return self.A * self.A.T + self.sigma_eta2 * ops.eye(self.N, self.A)

    # ----- encoder and per-datum objective (Eqs. 29-30, 65-66) -------------------
    def mu_z(self):
        """Eq. 29: ``mu_z = W_mu x + b_mu``, shape (k, 1)."""
        return self.W_mu * self.x + self.b_mu

    def var_z(self):
        """Eq. 30: the diagonal of ``Sigma_z``, ``exp(W_sigma x + b_sigma)``, shape (k, 1)."""
        return ops.exp_elementwise(self.W_sigma * self.x + self.b_sigma)

    def recon(self):
        """Eq. 65 (derived form): ``E_q[log p(x|z)]`` per datum, nats, constants kept.

        ``-N/2 log(2 pi sigma_y2) - (|D mu_z + b_D - x|^2 + Tr(D^T D Sigma_z)) / (2 sigma_y2)``
        """
        residual = self.D * self.mu_z() + self.b_D - self.x
        spread = ops.scalar(ops.col_sq_norms(self.D).T * self.var_z())
        return (-Rational(1, 2) * self.N * sp.log(2 * sp.pi * self.sigma_y2)
                - (ops.sq_norm(residual) + spread) / (2 * self.sigma_y2))

    def kl(self):
        """Eq. 66 (derived form): ``KL(q(z|x) || N(0, I_k))`` per datum, nats.

        ``1/2 (Tr Sigma_z + mu_z^T mu_z - k - log det Sigma_z)``
        """
        log_var = self.W_sigma * self.x + self.b_sigma
        return Rational(1, 2) * (ops.vsum(self.var_z()) + ops.sq_norm(self.mu_z()) - self.k - ops.vsum(log_var))

    def objective_per_datum(self):
        """Eq. 13: ``L_beta = E_q[log p(x|z)] - beta KL(q(z|x) || p(z))`` per datum, nats."""
        return self.recon() - self.beta * self.kl()

    # ----- averaged over p(x) = N(0, Sigma_x) (Eqs. 34, 67) ----------------------
    def mean_var_z(self):
        """``E_p(x)[diag Sigma_z] = exp(1/2 diag(W_sigma Sigma_x W_sigma^T) + b_sigma)``, (k, 1)."""
        quad = ops.diag_col(self.W_sigma * self.Sigma_x * self.W_sigma.T)
        return ops.exp_elementwise(Rational(1, 2) * quad + self.b_sigma)

    def recon_avg(self):
        """``E_p(x) E_q[log p(x|z)]``, nats, constants kept (first half of Eq. 34)."""
        I_N = ops.eye(self.N, self.D)
        error = self.D * self.W_mu - I_N
        spread = ops.scalar(ops.col_sq_norms(self.D).T * self.mean_var_z())
        return (-Rational(1, 2) * self.N * sp.log(2 * sp.pi * self.sigma_y2)
                - (ops.tr(error * self.Sigma_x * error.T) + ops.sq_norm(self.D * self.b_mu + self.b_D) + spread)
                / (2 * self.sigma_y2))

    def kl_avg(self):
        """``E_p(x) KL(q(z|x) || p(z))``, nats (second half of Eq. 34)."""
        return Rational(1, 2) * (ops.vsum(self.mean_var_z()) + ops.tr(self.W_mu * self.Sigma_x * self.W_mu.T)
                                 + ops.sq_norm(self.b_mu) - self.k - ops.vsum(self.b_sigma))

    def objective(self):
        """Eq. 34 (derived form): the data-averaged beta-VAE objective ``L``, nats, constants kept."""
        return self.recon_avg() - self.beta * self.kl_avg()

    def elbo(self):
        """Eq. 8 averaged over p(x): ``E_p(x)[ELBO] = recon_avg - kl_avg``, nats."""
        return self.recon_avg() - self.kl_avg()

    # ----- gradients (Eqs. 36-41, derived forms) ----------------------------------
    def gradient(self, param: str):
        """``dL/d param`` of the averaged objective, same shape as ``param`` (Eqs. 36-41, derived).

        ``param`` is one of :data:`PARAMETERS`. With ``c = diag(D^T D)`` and
        ``v = E[diag Sigma_z]`` (both (k, 1)):

        - W_mu:    ``-(D^T (D W_mu - I) / sigma_y2 + beta W_mu) Sigma_x``
        - b_mu:    ``-(D^T (D b_mu + b_D) / sigma_y2 + beta b_mu)``
        - D:       ``-((D W_mu - I) Sigma_x W_mu^T + (D b_mu + b_D) b_mu^T + D diag(v)) / sigma_y2``
        - b_D:     ``-(D b_mu + b_D) / sigma_y2``
        - W_sigma: ``-1/2 ((c / sigma_y2 + beta) * v) 1^T * (W_sigma Sigma_x)`` (elementwise)
        - b_sigma: ``-1/2 (c / sigma_y2 + beta) * v + beta / 2``
        """
        N, k, s2, beta = self.N, self.k, self.sigma_y2, self.beta
        I_N = ops.eye(N, self.D)
        offset = self.D * self.b_mu + self.b_D
        v = self.mean_var_z()
        weight = ops.hadamard(ops.col_sq_norms(self.D) / s2 + beta * ops.ones(k, self.D), v)
        if param == "W_mu":
            return -(self.D.T * (self.D * self.W_mu - I_N) / s2 + beta * self.W_mu) * self.Sigma_x
        if param == "b_mu":
            return -(self.D.T * offset / s2 + beta * self.b_mu)
        if param == "D":
            scaled_D = ops.hadamard(self.D, ops.ones(N, self.D) * v.T)
            return -((self.D * self.W_mu - I_N) * self.Sigma_x * self.W_mu.T + offset * self.b_mu.T + scaled_D) / s2
        if param == "b_D":
            return -offset / s2
        if param == "W_sigma":
            return -Rational(1, 2) * ops.hadamard(weight * ops.ones(N, self.D).T, self.W_sigma * self.Sigma_x)
        if param == "b_sigma":
            return -Rational(1, 2) * weight + beta / 2 * ops.ones(k, self.D)
        raise ValueError(f"unknown parameter {param!r}; expected one of {PARAMETERS}")

    # ----- posteriors (Eqs. 27-28, 44, 78-81) --------------------------------------
    def ground_truth_posterior(self):
        """Eq. 28: ``p(s|x) = N(F x, E)``, ``E = (A^T A / sigma_eta2 + I_k)^{-1}``, ``F = E A^T / sigma_eta2``.

        Returns ``(F, E)`` with shapes (k, N) and (k, k).
        """
        E = ops.inv(self.A.T * self.A / self.sigma_eta2 + ops.eye(self.k, self.A))
        return E * self.A.T / self.sigma_eta2, E

    def model_posterior(self):
        """Eq. 44: ``p_theta(z|x) = N(F (x - b_D), E)``, ``E = (D^T D / sigma_y2 + I_k)^{-1}``, ``F = E D^T / sigma_y2``.

        Returns ``(F, E)`` with shapes (k, N) and (k, k).
        """
        E = ops.inv(self.D.T * self.D / self.sigma_y2 + ops.eye(self.k, self.D))
        return E * self.D.T / self.sigma_y2, E

    def model_evidence_covariance(self):
        """Eq. 80: ``p_theta(x) = N(b_D, D D^T + sigma_y2 I_N)``; returns the covariance (N, N)."""
        return self.D * self.D.T + self.sigma_y2 * ops.eye(self.N, self.D)

    # ----- inference errors (Eqs. 45-47, 77) ----------------------------------------
    def inference_error(self, F, E, f=None):
        """Eq. 45 (derived form): ``E_p(x) KL(q(z|x) || N(F x + f, E))``, nats.

        ``1/2 { sum_i (E^{-1})_ii v_i - sum_i b_sigma_i + log det E
        + Tr[(F - W_mu)^T E^{-1} (F - W_mu) Sigma_x] + (f - b_mu)^T E^{-1} (f - b_mu) - k }``
        with ``v = E[diag Sigma_z]``; ``f`` defaults to 0.
        """
        E_inv = ops.inv(E)
        gap = F - self.W_mu
        offset = (-self.b_mu) if f is None else (f - self.b_mu)
        return Rational(1, 2) * (
            ops.scalar(ops.diag_col(E_inv).T * self.mean_var_z()) - ops.vsum(self.b_sigma) + ops.logdet_spd(E)
            + ops.tr(gap.T * E_inv * gap * self.Sigma_x) + ops.scalar(offset.T * E_inv * offset) - self.k
        )

    def tie(self):
        """Eqs. 45-46: true inference error ``E_p(x) KL(q(z|x) || p_gt(s|x))``, nats (units as sources)."""
        F, E = self.ground_truth_posterior()
        return self.inference_error(F, E)

    def mie(self):
        """Eqs. 45, 47: model inference error ``E_p(x) KL(q(z|x) || p_theta(z|x))``, nats."""
        F, E = self.model_posterior()
        return self.inference_error(F, E, -F * self.b_D)

    def log_likelihood(self):
        """``E_p(x)[log p_theta(x)]`` with ``p_theta(x) = N(b_D, C)``, ``C = D D^T + sigma_y2 I``, nats.

        ``-1/2 (N log 2 pi + log det C + Tr(C^{-1} Sigma_x) + b_D^T C^{-1} b_D)``
        """
        C = self.model_evidence_covariance()
        C_inv = ops.inv(C)
        return -Rational(1, 2) * (self.N * sp.log(2 * sp.pi) + ops.logdet_spd(C)
                                  + ops.tr(C_inv * self.Sigma_x) + ops.scalar(self.b_D.T * C_inv * self.b_D))

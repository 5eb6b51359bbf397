"""First-principles derivations, component by component, at explicit sizes.

Nothing here is typed in from the paper or from the closed matrix forms of
:mod:`betavae_sym.symbolic.model`: each function starts from the model's
definitions (densities, the reparameterization, the generative process) and
lets SymPy do the algebra, using only the Gaussian expectation operator of
:mod:`betavae_sym.symbolic.gaussian` (whose identities are proved by
integration) and the conditioning formula for jointly Gaussian vectors.

All functions take an explicit :class:`LinearBetaVAE` and return SymPy
expressions or matrices in its component symbols.
"""

from __future__ import annotations

import copy
import functools
import random
from functools import lru_cache

import sympy as sp
from sympy import Rational

from betavae_sym.symbolic import ops
from betavae_sym.symbolic.compare import random_rational
from betavae_sym.symbolic.gaussian import gaussian_expectation
from betavae_sym.symbolic.model import PARAMETERS, LinearBetaVAE


def log_normal_density(value: sp.Matrix, mean: sp.Matrix, covariance: sp.Matrix) -> sp.Expr:
    """``log N(value; mean, covariance)`` from the density, constants kept, logs expanded."""
    n = value.shape[0]
    residual = value - mean
    density = (sp.exp(-Rational(1, 2) * (residual.T * ops.inv(covariance) * residual)[0, 0])
               / sp.sqrt((2 * sp.pi) ** n * covariance.det()))
    return sp.expand_log(sp.log(density), force=True)


def reparameterized_z(m: LinearBetaVAE) -> sp.Matrix:
    """Appendix 1: ``z = mu_z + Sigma_z^{1/2} eps`` with ``Sigma_z^{1/2} = diag(exp((W^s x + b^s)/2))``, (k, 1)."""
    root = ops.exp_elementwise((m.W_sigma * m.x + m.b_sigma) / 2)
    return m.mu_z() + ops.hadamard(root, m.eps)


def encoder_covariance(m: LinearBetaVAE) -> sp.Matrix:
    """Eq. 30: ``Sigma_z = diag(exp(W^s x + b^s))``, (k, k)."""
    return sp.diag(*[sp.exp(e) for e in (m.W_sigma * m.x + m.b_sigma)])


def over_eps(m: LinearBetaVAE, expr: sp.Expr) -> sp.Expr:
    """``E_eps[expr]`` for the reparameterization noise ``eps ~ N(0, I_k)``."""
    return gaussian_expectation(expr, list(m.eps), sp.eye(m.k))


def over_x(m: LinearBetaVAE, expr: sp.Expr) -> sp.Expr:
    """``E_p(x)[expr]`` for ``x ~ N(0, Sigma_x)`` (generic symmetric Sigma_x)."""
    return gaussian_expectation(expr, list(m.x), m.Sigma_x)


# ----- Appendix 1: per-datum terms and the average over the data --------------------------
def recon_per_datum(m: LinearBetaVAE) -> sp.Expr:
    """Eq. 65 derived: ``E_q[log N(x; D z + b^D, sigma_y2 I_N)]`` with ``z`` reparameterized."""
    z = reparameterized_z(m)
    log_lik = log_normal_density(m.x, m.D * z + m.b_D, m.sigma_y2 * sp.eye(m.N))
    return over_eps(m, log_lik)


def kl_per_datum(m: LinearBetaVAE) -> sp.Expr:
    """Eq. 66 derived: ``KL(q(z|x) || N(0, I_k)) = E_q[log q(z|x) - log p(z)]``."""
    z = reparameterized_z(m)
    log_q = log_normal_density(z, m.mu_z(), encoder_covariance(m))
    log_p = log_normal_density(z, sp.zeros(m.k, 1), sp.eye(m.k))
    return over_eps(m, log_q - log_p)


# ----- Eqs. 36-41: gradients of the derived averaged objective ------------------------------
def gradient(m: LinearBetaVAE, objective: sp.Expr, param: str) -> sp.Matrix:
    """``dL/d param`` by component-wise differentiation, same shape as the parameter."""
    P = getattr(m, param)
    terms = sp.Add.make_args(objective)
    # term by term, skipping the terms free of the entry: the same derivative as sp.diff, about twice as fast
    return P.applyfunc(lambda entry: sp.Add(*[term.diff(entry) for term in terms if term.has(entry)]))


# ----- Eq. 42 and the closed-form pieces of the stationary point -----------------------------
def solve_biases(m: LinearBetaVAE, objective: sp.Expr) -> dict:
    """Eq. 42 derived: solve ``dL/db^mu = 0``, ``dL/db^D = 0`` jointly (a linear system)."""
    equations = list(gradient(m, objective, "b_mu")) + list(gradient(m, objective, "b_D"))
    unknowns = list(m.b_mu) + list(m.b_D)
    solutions = sp.solve(equations, unknowns, dict=True)
    if len(solutions) != 1:
        raise ArithmeticError(f"expected one solution for the biases, got {solutions}")
    return solutions[0]


def solve_W_sigma(m: LinearBetaVAE, objective: sp.Expr) -> dict:
    """``dL/dW^s = 0`` derived: each row is a positive factor times ``[W^s Sigma_x]_a``; solve ``W^s Sigma_x = 0``.

    Returns ``{W^s_ab: value}``; raises if the gradient does not factor so.
    """
    return W_sigma_from_gradient(m, gradient(m, objective, "W_sigma"))


def W_sigma_from_gradient(m: LinearBetaVAE, grad: sp.Matrix) -> dict:
    """:func:`solve_W_sigma` given ``dL/dW^s`` (k, N), derived component-wise."""
    WS = m.W_sigma * m.Sigma_x
    for a in range(m.k):
        factors = {sp.cancel(grad[a, b] / WS[a, b]) for b in range(m.N)}
        if len(factors) != 1:
            raise ArithmeticError(f"row {a} of dL/dW_sigma is not a common factor times [W_sigma Sigma_x]")
    solutions = sp.solve(list(WS), list(m.W_sigma), dict=True)
    if len(solutions) != 1:
        raise ArithmeticError(f"expected the unique solution W_sigma = 0, got {solutions}")
    return solutions[0]


def solve_b_sigma(m: LinearBetaVAE, objective: sp.Expr, at: dict) -> dict:
    """``dL/db^s = 0`` derived at the point ``at`` (e.g. ``W^s = 0``): one equation per unit."""
    return b_sigma_from_gradient(m, gradient(m, objective, "b_sigma").subs(at))


def b_sigma_from_gradient(m: LinearBetaVAE, grad: sp.Matrix) -> dict:
    """:func:`solve_b_sigma` given ``dL/db^s`` (k, 1) at the point of interest."""
    solution = {}
    for a in range(m.k):
        roots = sp.solve(grad[a], m.b_sigma[a])
        if len(roots) != 1:
            raise ArithmeticError(f"expected one root for b_sigma_{a + 1}, got {roots}")
        solution[m.b_sigma[a]] = sp.simplify(roots[0])
    return solution


def solve_W_mu(m: LinearBetaVAE, objective: sp.Expr, at: dict) -> sp.Matrix:
    """``dL/dW^mu = 0`` derived at ``at`` (biases zero): a linear system for ``W^mu`` given ``D``.

    ``dL/dW^mu = -X Sigma_x`` with ``X`` free of ``Sigma_x`` (checked), and
    ``Sigma_x`` is invertible, so the system is ``X = 0``; solved by linsolve.
    """
    return W_mu_from_gradient(m, gradient(m, objective, "W_mu").subs(at))


def W_mu_from_gradient(m: LinearBetaVAE, grad: sp.Matrix) -> sp.Matrix:
    """:func:`solve_W_mu` given ``dL/dW^mu`` (k, N) at the point of interest."""
    X = -grad * m.Sigma_x.adjugate() / m.Sigma_x.det()
    X = X.applyfunc(lambda e: sp.factor(sp.cancel(e)))
    if X.free_symbols & m.Sigma_x.free_symbols:
        raise ArithmeticError("dL/dW_mu does not factor as X Sigma_x")
    (solution,) = sp.linsolve(list(X), list(m.W_mu))
    return sp.Matrix(m.k, m.N, [sp.factor(e) for e in solution])


def per_model(fn):
    """Cache ``fn(m)`` per model values (``m.key``: size, random point, zeroed parameters)."""
    cache = {}

    @functools.wraps(fn)
    def cached(m: LinearBetaVAE):
        if m.key not in cache:
            cache[m.key] = fn(m)
        return cache[m.key]

    return cached


# ----- Eqs. 27, 28, 44, 78-80: Gaussian moments and conditioning -----------------------------
def joint_moments(latent: sp.Matrix, noise: sp.Matrix, noise_var, mixing: sp.Matrix, offset: sp.Matrix):
    """Moments of ``x = mixing @ latent + noise + offset`` with ``latent ~ N(0, I)``, ``noise ~ N(0, noise_var I)``.

    Returns ``(E[x], Cov(x, x), Cov(x, latent))`` computed entry by entry with
    the Gaussian expectation operator over the stacked vector ``(latent, noise)``.
    """
    k, N = latent.shape[0], noise.shape[0]
    u = list(latent) + list(noise)
    cov_u = sp.diag(sp.eye(k), noise_var * sp.eye(N))
    x = mixing * latent + noise + offset
    mean = x.applyfunc(lambda e: gaussian_expectation(e, u, cov_u))
    centred = x - mean
    cov_xx = sp.Matrix(N, N, lambda i, j: gaussian_expectation(sp.expand(centred[i] * centred[j]), u, cov_u))
    cov_xs = sp.Matrix(N, k, lambda i, j: gaussian_expectation(sp.expand(centred[i] * latent[j]), u, cov_u))
    return mean, cov_xx, cov_xs


def condition(x: sp.Matrix, mean_x: sp.Matrix, cov_xx: sp.Matrix, cov_xs: sp.Matrix):
    """Conditioning a zero-mean latent on x (Appendix 2): ``(Cov^T Sigma^{-1} (x - mean), I - Cov^T Sigma^{-1} Cov)``."""
    k = cov_xs.shape[1]
    gain = cov_xs.T * ops.inv(cov_xx)
    return gain * (x - mean_x), sp.eye(k) - gain * cov_xs


@per_model
def ground_truth(m: LinearBetaVAE):
    """Eqs. 27-28 derived from ``x = A s + eta``: ``(Sigma_x, mu_{s|x}, Sigma_{s|x})``."""
    mean, cov_xx, cov_xs = joint_moments(m.s, m.eta, m.sigma_eta2, m.A, sp.zeros(m.N, 1))
    mu, cov = condition(m.x, mean, cov_xx, cov_xs)
    return cov_xx, mu, cov


@per_model
def model_posterior(m: LinearBetaVAE):
    """Eqs. 44, 78-80 derived from ``x = D z + b^D + noise``: ``(cov of p_theta(x), mu_{z|x}, Sigma_{z|x})``."""
    mean, cov_xx, cov_xz = joint_moments(m.eps, m.eta, m.sigma_y2, m.D, m.b_D)
    mu, cov = condition(m.x, mean, cov_xx, cov_xz)
    return cov_xx, mu, cov


# ----- Eqs. 45, 77: inference error, from the KL definition -----------------------------------
def generic_gaussian_target(m: LinearBetaVAE):
    """A generic target ``N(F x + f, E)``: ``F (k, N)``, ``f (k, 1)``, ``E (k, k)`` symmetric symbols.

    For a model from :func:`pointed_model`, the target is drawn at the same random
    point: rational ``F``, ``f`` and a symmetric positive definite rational ``E``.
    """
    if m.point is not None:
        rng = random.Random(m.point[0] + 500)
        F, f, Q = (sp.Matrix(r, c, lambda i, j: random_rational(rng)) for r, c in ((m.k, m.N), (m.k, 1), (m.k, m.k)))
        return F, f, Q * Q.T + sp.eye(m.k)
    F = sp.Matrix(m.k, m.N, lambda i, j: sp.Symbol(f"F_{{{i + 1}{j + 1}}}", real=True))
    f = sp.Matrix(m.k, 1, lambda i, j: sp.Symbol(f"f_{{{i + 1}}}", real=True))
    E = sp.Matrix(m.k, m.k, lambda i, j: sp.Symbol(f"E_{{{min(i, j) + 1}{max(i, j) + 1}}}", real=True))
    return F, f, E


def expected_log_ratio(m: LinearBetaVAE, log_target) -> sp.Expr:
    """``E_p(x) E_q[log q(z|x) - log_target(z)]`` with ``z`` reparameterized (a KL when ``log_target`` is a log density of z).

    ``log_target(z)``: a function of the (k, 1) sample ``z`` returning a scalar.
    """
    z = reparameterized_z(m)
    log_q = log_normal_density(z, m.mu_z(), encoder_covariance(m))
    return over_x(m, over_eps(m, log_q - log_target(z)))


def inference_error(m: LinearBetaVAE, F: sp.Matrix, f: sp.Matrix, E: sp.Matrix) -> sp.Expr:
    """Eq. 77 derived: ``E_p(x) E_q[log q(z|x) - log N(z; F x + f, E)]`` (KL from its definition)."""
    return expected_log_ratio(m, lambda z: log_normal_density(z, F * m.x + f, E))


@lru_cache(maxsize=None)
def model(N: int, k: int) -> LinearBetaVAE:
    """The explicit model at size (N, k), shared by all derivations (symbols are cached by SymPy)."""
    return LinearBetaVAE(N, k)


#: Attributes of the model that ``pointed_model`` replaces by random rationals; the
#: integration variables x, s, eta, eps and the scalars beta, sigma_y2, sigma_eta2 stay symbols.
POINTED = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D", "A")


@lru_cache(maxsize=None)
def pointed_model(N: int, k: int, seed: int, scalars: bool = False) -> LinearBetaVAE:
    """The model at (N, k) with parameters, A and Sigma_x set to random rationals (seeded).

    ``Sigma_x`` is drawn symmetric positive definite (``Q Q^T + I_N``). With
    ``scalars``, beta, sigma_y2 and sigma_eta2 become random positive rationals
    too (for identities that hold for every value of them; not for printed
    equations, which are compared in the paper's case sigma_y2 = sigma_eta2 = 1).
    Used for comparisons at random points, where inverses and determinants of
    rational matrices are cheap. See ``compare.relate_at_points``.
    """
    rng = random.Random(seed)
    m = copy.copy(model(N, k))
    if scalars:
        m.beta, m.sigma_y2, m.sigma_eta2 = (random_rational(rng, positive=True) for _ in range(3))
    for name in POINTED:
        rows, cols = getattr(m, name).shape
        setattr(m, name, sp.Matrix(rows, cols, lambda i, j: random_rational(rng)))
    Q = sp.Matrix(N, N, lambda i, j: random_rational(rng))
    m.Sigma_x = Q * Q.T + sp.eye(N)
    m.point = (seed, scalars)
    return m


def with_zero(m: LinearBetaVAE, *names: str) -> LinearBetaVAE:
    """A copy of ``m`` with the named parameters (e.g. ``"b_D"``) set to zero matrices.

    Used instead of ``subs({symbol: 0})``, which on a :func:`pointed_model`
    would replace a *number* wherever it occurs.
    """
    zeroed = copy.copy(m)
    for name in names:
        setattr(zeroed, name, sp.zeros(*getattr(m, name).shape))
    zeroed.zeroed = m.zeroed | set(names)
    return zeroed


@lru_cache(maxsize=None)
def recon_at(N: int, k: int) -> sp.Expr:
    """The derived per-datum reconstruction term (Eq. 65) at (N, k), computed once per size."""
    return recon_per_datum(model(N, k))


@lru_cache(maxsize=None)
def averaged_objective(N: int, k: int) -> sp.Expr:
    """Eqs. 34/55 derived: ``L = E_p(x)[recon - beta KL]`` over ``x ~ N(0, Sigma_x)`` at (N, k), once per size."""
    m = model(N, k)
    return over_x(m, recon_at(N, k) - m.beta * kl_per_datum(m))


__all__ = [name for name in dir() if not name.startswith("_")] + ["PARAMETERS"]

"""The paper's equations transcribed into SymPy exactly as printed.

These are the *printed* objects; the derivations never use them. Each function
takes a :class:`~betavae_sym.symbolic.model.LinearBetaVAE` (explicit, with the
paper's ``sigma_y2 = sigma_eta2 = 1`` already implied by the print) and returns
what the paper writes, typos included. Where the print is ambiguous the
docstring says which reading is transcribed; where it uses an undefined symbol
the symbol is kept as a fresh one. Comparison with the derived forms lives in
:mod:`betavae_sym.symbolic.derivations`.

Index conventions of the paper (Eq. 35): repeated indices are summed, ``Sigma``
stands for ``Sigma_x``, ``(v)^2`` of a vector means ``v^T v``.
"""

from __future__ import annotations

import sympy as sp
from sympy import Rational

from betavae_sym.symbolic import ops
from betavae_sym.symbolic.model import LinearBetaVAE


def _exp_quadratic_diag(m: LinearBetaVAE):
    """``exp(1/2 [W^s Sigma W^s^T]_ii + b^s_i)`` for each i, as printed in Eqs. 34, 38, 43, 45 (k, 1)."""
    return ops.exp_elementwise(Rational(1, 2) * ops.diag_col(m.W_sigma * m.Sigma_x * m.W_sigma.T) + m.b_sigma)


# ----- per-datum terms (Appendix 1) --------------------------------------------------
def eq65(m: LinearBetaVAE):
    """Eq. 65: ``E_q[log p(x|z)] = -(D mu_z + b^D - x)^2 - Tr(D^T D Sigma_z)``."""
    residual = m.D * m.mu_z() + m.b_D - m.x
    Sigma_z = ops.diag_matrix(m.var_z())
    return -ops.sq_norm(residual) - ops.tr(m.D.T * m.D * Sigma_z)


def eq66(m: LinearBetaVAE):
    """Eq. 66: ``KL(q||p) = -1/2 (k + Tr log Sigma_z - mu_z^T mu_z - Tr Sigma_z)``."""
    log_diag = m.W_sigma * m.x + m.b_sigma  # log of the diagonal entries, Eq. 30
    return -Rational(1, 2) * (m.k + ops.vsum(log_diag) - ops.sq_norm(m.mu_z()) - ops.vsum(m.var_z()))


def eq67_integrand(m: LinearBetaVAE):
    """Eq. 67 (Appendix 1), the bracket inside ``1/2 E_p(x)[...]``, times 1/2.

    ``1/2 [-(D mu + b^D - x)^T (D mu + b^D - x) - beta mu^T mu - Tr(D^T D Sigma_z)
    + beta Tr log Sigma_z - beta Tr Sigma_z]`` ("the objective ... without constants").
    """
    residual = m.D * m.mu_z() + m.b_D - m.x
    return Rational(1, 2) * (-ops.sq_norm(residual) - m.beta * ops.sq_norm(m.mu_z())
                             - ops.scalar(ops.col_sq_norms(m.D).T * m.var_z())
                             + m.beta * ops.vsum(m.W_sigma * m.x + m.b_sigma) - m.beta * ops.vsum(m.var_z()))


# ----- averaged objective (Eqs. 34, 35) -------------------------------------------------
def eq34(m: LinearBetaVAE):
    """Eq. 34: the data-averaged objective as printed."""
    I_N = ops.eye(m.N, m.D)
    error = m.D * m.W_mu - I_N
    beta = m.beta
    exp_terms = ops.scalar((ops.col_sq_norms(m.D) + beta * ops.ones(m.k, m.D)).T * _exp_quadratic_diag(m))
    return -Rational(1, 2) * (ops.tr(error * m.Sigma_x * error.T) + beta * ops.tr(m.W_mu * m.Sigma_x * m.W_mu.T)
                              + exp_terms + ops.sq_norm(m.D * m.b_mu + m.b_D) + beta * ops.sq_norm(m.b_mu)
                              - beta * ops.vsum(m.b_sigma))


def eq35(m: LinearBetaVAE):
    """Eq. 35, index form, summed with explicit loops exactly as printed (explicit models only).

    ``-1/2 {(D_ij W_jk - d_ik) S_kl (W_ml D_im - d_il) - beta sum_i b^s_i + beta W_ij S_jk W_ik
    + (D_ij b_j + b^D_i)^2 + beta (b_i)^2 + sum_i (D_li^2 + beta) exp(1/2 W^s_ij S_jk W^s_ik + b^s_i)}``
    """
    N, k, beta = m.N, m.k, m.beta
    D, W, S, Ws = m.D, m.W_mu, m.Sigma_x, m.W_sigma
    delta = sp.KroneckerDelta
    first = sum((sum(D[i, j] * W[j, kk] for j in range(k)) - delta(i, kk)) * S[kk, l]
                * (sum(W[mm, l] * D[i, mm] for mm in range(k)) - delta(i, l))
                for i in range(N) for kk in range(N) for l in range(N))
    second = -beta * sum(m.b_sigma[i] for i in range(k))
    third = beta * sum(W[i, j] * S[j, kk] * W[i, kk] for i in range(k) for j in range(N) for kk in range(N))
    fourth = sum((sum(D[i, j] * m.b_mu[j] for j in range(k)) + m.b_D[i]) ** 2 for i in range(N))
    fifth = beta * sum(m.b_mu[i] ** 2 for i in range(k))
    sixth = sum((sum(D[l, i] ** 2 for l in range(N)) + beta)
                * sp.exp(Rational(1, 2) * sum(Ws[i, j] * S[j, kk] * Ws[i, kk] for j in range(N) for kk in range(N))
                         + m.b_sigma[i])
                for i in range(k))
    return -Rational(1, 2) * (first + second + third + fourth + fifth + sixth)


# ----- gradients (Eqs. 36-41) -----------------------------------------------------------
def eq36(m: LinearBetaVAE):
    """Eq. 36: ``dL/dW^mu_ab = [(D^T (D W^mu - I_N) + beta W^mu) Sigma]_ab``, shape (k, N)."""
    return (m.D.T * (m.D * m.W_mu - ops.eye(m.N, m.D)) + m.beta * m.W_mu) * m.Sigma_x


def eq37(m: LinearBetaVAE):
    """Eq. 37: ``dL/db^mu_a = [(D b^mu + b^D) D + beta b^mu]_a``, shape (k, 1).

    ``(D b^mu + b^D) D`` does not conform as a matrix product ((N,1)(N,k)); it is
    transcribed in its only well-formed reading, the row vector
    ``(D b^mu + b^D)^T D`` turned into a column.
    """
    return ((m.D * m.b_mu + m.b_D).T * m.D).T + m.beta * m.b_mu


def eq38(m: LinearBetaVAE):
    """Eq. 38: ``dL/dD_ab = [(D W - I) S W^T]_ab + [D b^mu + b^D]_a b^mu_b + D_ab exp(1/2 [W^s S W^s^T]_bb + b^s_b)``, (N, k)."""
    e = _exp_quadratic_diag(m)
    scaled = ops.hadamard(m.D, ops.ones(m.N, m.D) * e.T)
    return (m.D * m.W_mu - ops.eye(m.N, m.D)) * m.Sigma_x * m.W_mu.T + (m.D * m.b_mu + m.b_D) * m.b_mu.T + scaled


def eq39(m: LinearBetaVAE):
    """Eq. 39: ``dL/db^D_a = [D b^mu + b^D]_a``, shape (N, 1)."""
    return m.D * m.b_mu + m.b_D


def eq40(m: LinearBetaVAE):
    """Eq. 40: ``dL/dW^s_ab = ([D^T D]_aa + beta) exp(1/2 [W^s S]_ab W^s_ab + b^s_a) [W^s S]_ab`` (k, N).

    ``a`` and ``b`` are free indices on the left, so the exponent is transcribed
    without a sum over ``b`` (explicit models only).
    """
    WS = m.W_sigma * m.Sigma_x
    c = ops.col_sq_norms(m.D)
    return sp.Matrix(m.k, m.N, lambda a, b: (c[a] + m.beta)
                     * sp.exp(Rational(1, 2) * WS[a, b] * m.W_sigma[a, b] + m.b_sigma[a]) * WS[a, b])


#: The undefined symbol ``C`` of Eq. 41 (the paper writes ``W^s C W^s^T`` there).
def undefined_C(m: LinearBetaVAE) -> sp.Matrix:
    """A fresh symmetric matrix standing for the undefined ``C`` of Eq. 41."""
    n = m.N
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"C_{{{min(i, j) + 1}{max(i, j) + 1}}}", real=True))


def eq41(m: LinearBetaVAE):
    """Eq. 41: ``dL/db^s_a = ([D^T D]_aa + beta) exp(1/2 [W^s C W^s^T]_aa + b^s_a) - beta``, (k, 1), ``C`` undefined."""
    C = undefined_C(m)
    quad = ops.diag_col(m.W_sigma * C * m.W_sigma.T)
    e = ops.exp_elementwise(Rational(1, 2) * quad + m.b_sigma)
    return ops.hadamard(ops.col_sq_norms(m.D) + m.beta * ops.ones(m.k, m.D), e) - m.beta * ops.ones(m.k, m.D)


# ----- stationary point (Eqs. 42-43) --------------------------------------------------------
def eq42():
    """Eq. 42: ``b^mu = b^D = 0`` (returned as the pair of values)."""
    return (0, 0)


def eq43(m: LinearBetaVAE):
    """Eq. 43: the four remaining stationarity equations, as printed (each ``0 = ...``).

    Returns the right-hand sides ``(R1, R2, R3, R4)`` with shapes (k, N), (N, k),
    (k, N), (k, 1); printed lines 1-2 are Eqs. 36 and 38 at ``b^mu = b^D = 0``,
    lines 3-4 Eqs. 40 and 41 with ``Sigma_x`` where Eq. 41 had ``C``.
    """
    I_N = ops.eye(m.N, m.D)
    e = _exp_quadratic_diag(m)
    line1 = (m.D.T * (m.D * m.W_mu - I_N) + m.beta * m.W_mu) * m.Sigma_x
    line2 = (m.D * m.W_mu - I_N) * m.Sigma_x * m.W_mu.T + ops.hadamard(m.D, ops.ones(m.N, m.D) * e.T)
    line3 = eq40(m)
    line4 = ops.hadamard(ops.col_sq_norms(m.D) + m.beta * ops.ones(m.k, m.D), e) - m.beta * ops.ones(m.k, m.D)
    return line1, line2, line3, line4


# ----- posteriors (Eqs. 27, 28, 44, 67-69, 78-81) ---------------------------------------------
def eq27(m: LinearBetaVAE):
    """Eq. 27: ``Sigma_x = A A^T + I_N``."""
    return m.A * m.A.T + ops.eye(m.N, m.A)


def eq28(m: LinearBetaVAE):
    """Eq. 28: ``mu_{s|x} = (A^T A + I_k)^{-1} A^T x``, ``Sigma_{s|x} = (A^T A + I_k)^{-1}``."""
    E = ops.inv(m.A.T * m.A + ops.eye(m.k, m.A))
    return E * m.A.T * m.x, E


def eq44(m: LinearBetaVAE):
    """Eq. 44: ``mu_{z|x} = (D^T D + I_k)^{-1} D^T x``, ``Sigma_{z|x} = (D^T D + I_k)^{-1}``."""
    E = ops.inv(m.D.T * m.D + ops.eye(m.k, m.D))
    return E * m.D.T * m.x, E


def eq67_push_through(U, V):
    """Eq. 67 (Appendix 2, second use of the number): ``(I_N + U V)^{-1} U`` and ``U (I_k + V U)^{-1}``."""
    return ops.inv(ops.eye(U.shape[0], U) + U * V) * U, U * ops.inv(ops.eye(V.shape[0], V) + V * U)


def eq68(m: LinearBetaVAE):
    """Eq. 68: the four lines of the covariance chain (explicit models)."""
    AtA = m.A.T * m.A
    I_k, I_N = ops.eye(m.k, m.A), ops.eye(m.N, m.A)
    return (
        I_k - m.A.T * ops.inv(m.A * m.A.T + I_N) * m.A,
        I_k - AtA * ops.inv(AtA + I_k),
        I_k - AtA * (ops.inv(AtA) - ops.inv(AtA) * ops.inv(AtA + I_k)),
        ops.inv(AtA + I_k),
    )


def eq69(B, U, V):
    """Eq. 69 (Woodbury): ``(B + U V)^{-1}`` and ``B^{-1} - B^{-1} U (I_k + V B^{-1} U)^{-1} V B^{-1}``."""
    B_inv = ops.inv(B)
    I_k = ops.eye(V.shape[0], V)
    return ops.inv(B + U * V), B_inv - B_inv * U * ops.inv(I_k + V * B_inv * U) * V * B_inv


def eq80(m: LinearBetaVAE):
    """Eqs. 79-80: ``p_theta(x) = N(0, D D^T + I_N)``; returns the covariance."""
    return m.D * m.D.T + ops.eye(m.N, m.D)


def eq81(m: LinearBetaVAE):
    """Eq. 81: ``p_theta(x|z) = N((D D^T + I_N)^{-1} D^T, (D D^T + I_N)^{-1})`` as printed.

    Returns ``(mean, covariance)``; the mean raises ``ShapeError`` unless N = k
    (an (N, N) matrix times the (k, N) matrix ``D^T``), which is recorded.
    """
    C_inv = ops.inv(m.D * m.D.T + ops.eye(m.N, m.D))
    return C_inv * m.D.T, C_inv


# ----- inference errors (Eqs. 45-47, 77) ---------------------------------------------------------
def eq77_first_line_target(m: LinearBetaVAE, z):
    """Eq. 77, first line: the KL's second argument as printed, ``p_theta(x|z) = N(x; D z + b^D, I_N)``.

    Returns ``(value, mean, covariance)`` of that density for the sample ``z``
    (k, 1): read as a function of ``z``, the only reading in which
    ``KL(q(z|x) || p_theta(x|z))`` can be evaluated.
    """
    return m.x, m.D * z + m.b_D, ops.eye(m.N, m.D)


def eq77_integrand(m: LinearBetaVAE, F, E):
    """Eq. 77, second line: the bracket inside ``1/2 E_p(x)[...]``, times 1/2, for the target ``N(F x, E)``.

    ``1/2 [(F x - mu_z)^T E^{-1} (F x - mu_z) + Tr(E^{-1} Sigma_z) - log(det Sigma_z / det E) - k]``
    (explicit models; ``log det Sigma_z = sum_i (W^s x + b^s)_i``, Eq. 30).
    """
    gap = F * m.x - m.mu_z()
    E_inv = ops.inv(E)
    return Rational(1, 2) * ((gap.T * E_inv * gap)[0, 0] + ops.scalar(ops.diag_col(E_inv).T * m.var_z())
                             - ops.vsum(m.W_sigma * m.x + m.b_sigma) + sp.log(E.det()) - m.k)


def eq45(m: LinearBetaVAE, F, E, *, inverse_reading: str = "inverse-then-entry"):
    """Eq. 45: MIE/TIE as printed, with ``E``, ``F`` from Eq. 46 or 47.

    ``1/2 { sum_i E^{-1}_ii exp[1/2 (W^s S W^s^T)_ii + b^s_i] - sum_i b^s_i + Tr log E
    + Tr[(F - W^mu)^T E^{-1} (F - W^mu) S] - k }``.
    ``E_ii^{-1}`` is ambiguous: ``inverse-then-entry`` reads ``(E^{-1})_ii``,
    ``entry-then-inverse`` reads ``1 / E_ii``.
    """
    E_inv = ops.inv(E)
    if inverse_reading == "inverse-then-entry":
        weights = ops.diag_col(E_inv)
    else:
        weights = ops.diag_col(E).applyfunc(lambda e: 1 / e)
    gap = F - m.W_mu
    return Rational(1, 2) * (ops.scalar(weights.T * _exp_quadratic_diag(m)) - ops.vsum(m.b_sigma)
                             + ops.logdet_spd(E) + ops.tr(gap.T * E_inv * gap * m.Sigma_x) - m.k)


def eq46(m: LinearBetaVAE):
    """Eq. 46 (TIE): ``E = (A^T A + I_k)^{-1}``, ``F = (A^T A + I_k)^{-1} A^T``; returns ``(F, E)``."""
    E = ops.inv(m.A.T * m.A + ops.eye(m.k, m.A))
    return E * m.A.T, E


def eq47(m: LinearBetaVAE):
    """Eq. 47 (MIE): ``E = (D^T D + I_k)^{-1}``, ``F = (D^T D + I_k)^{-1} D^T``; returns ``(F, E)``."""
    E = ops.inv(m.D.T * m.D + ops.eye(m.k, m.D))
    return E * m.D.T, E

"""The linear beta-VAE on general Gaussian data: a general noise covariance, and per-example metrics.

The paper's data (Eqs. 26-27) are ``x = A s + eta`` with isotropic noise
``eta ~ N(0, sigma_eta2 I_N)``. Standardized data are not isotropic: with
``x' = S^{-1} (x - m)`` (``S`` the diagonal of per-pixel standard deviations)
the process is ``x' = A' s + eta'`` with ``A' = S^{-1} A`` and
``eta' ~ N(0, Psi')``, ``Psi' = sigma_eta2 S^{-2}`` diagonal. This module gives,
for a noise covariance ``Psi = diag(psi)`` (``psi`` a column, shape (N, 1)):

* the data covariance ``Sigma_x = A A^T + Psi`` (Eq. 27 generalized);
* the ground-truth posterior ``p(s|x) = N(F x, P^{-1})`` (Eq. 28 generalized),
  in two forms: from the noise, ``P = A^T Psi^{-1} A + I_k``,
  ``F = P^{-1} A^T Psi^{-1}`` (:func:`noise_posterior`), and from the
  covariance and the cross-covariance ``Cov(x, s) = A`` alone,
  ``F = A^T Sigma_x^{-1}``, ``P^{-1} = I_k - A^T Sigma_x^{-1} A``
  (:func:`covariance_posterior`, for any Gaussian noise independent of s);
* the seven metrics averaged over ``p(x) = N(0, Sigma_x)`` with TIE against
  that target (:func:`population_metrics`), and the same seven per example
  ``x`` (:func:`per_example_metrics`), so that a dataset's held-out rows can
  be scored by the theory.

A target is always given as its gain ``F`` (k, N) and precision ``P`` (k, k):
the model's inference error (Eq. 45) uses ``E^{-1} = P``, so ``E = P^{-1}``
needs no inverse of an inverse. Conventions: nats, normalizing constants kept
(those of :mod:`betavae_sym.symbolic.model`).

Nothing here is trusted on its own: :func:`verify_posteriors` derives the
posterior from the joint moments of ``(s, x)`` (entry by entry, with the
Gaussian expectation operator) and conditioning, and proves both forms equal to
it and, for ``Psi = sigma_eta2 I``, to Eq. 28; :func:`verify_per_example`
derives the per-example KL from its definition (an expectation over the
reparameterization noise), and proves that averaging each per-example metric
over ``x ~ N(0, Sigma_x)`` gives the population metric, and that
``log p_theta(x) = ELBO(x) + MIE(x)`` equals ``log N(x; b_D, D D^T + sigma_y2 I)``.
"""

from __future__ import annotations

import sympy as sp
from sympy import Rational

from betavae_sym.symbolic import ops
from betavae_sym.symbolic.model import LinearBetaVAE

#: The seven metrics, in the order of :data:`betavae_sym.linear.compiled.METRICS`.
METRICS = ("objective", "elbo", "recon", "kl", "mie", "tie", "log_likelihood")


def _reciprocal(v):
    """``1 / v`` entry by entry (a column, explicit or a matrix expression)."""
    if ops.is_explicit(v):
        return v.applyfunc(lambda e: 1 / e)
    t = sp.Dummy("t", positive=True)
    return sp.matrices.expressions.applyfunc.ElementwiseApplyFunction(sp.Lambda(t, 1 / t), v)


def noise_variances(m: LinearBetaVAE):
    """The noise's variances ``psi`` (the diagonal of ``Psi``), shape (N, 1): component symbols
    ``psi_i`` for an explicit model, a ``MatrixSymbol`` otherwise."""
    if m.explicit:
        return sp.Matrix(m.N, 1, lambda i, j: sp.Symbol(f"\\psi_{{{i + 1}}}", positive=True))
    return sp.MatrixSymbol(r"\psi", m.N, 1)


def data_covariance(m: LinearBetaVAE, psi):
    """Eq. 27 with ``eta ~ N(0, diag(psi))``: ``Sigma_x = A A^T + diag(psi)``, shape (N, N)."""
    return m.A * m.A.T + ops.diag_matrix(psi)


def noise_posterior(m: LinearBetaVAE, psi):
    """Eq. 28 with ``eta ~ N(0, diag(psi))``: ``(F, P)``, ``P = A^T Psi^{-1} A + I_k``, ``F = P^{-1} A^T Psi^{-1}``.

    ``Psi^{-1} A`` is formed entry by entry (``A_ij / psi_i``), never as an N x N
    inverse. Shapes: F (k, N), P (k, k).
    """
    weighted = ops.hadamard(m.A, _reciprocal(psi) * ops.ones(m.k, m.A).T)  # Psi^{-1} A, (N, k)
    P = m.A.T * weighted + ops.eye(m.k, m.A)
    return ops.inv(P) * weighted.T, P


def covariance_posterior(m: LinearBetaVAE):
    """p(s|x) from ``Sigma_x`` (the model's) and ``Cov(x, s) = A``: ``(F, P)``, ``F = A^T Sigma_x^{-1}``,
    ``P = (I_k - A^T Sigma_x^{-1} A)^{-1}``. Shapes: F (k, N), P (k, k)."""
    gain = m.A.T * ops.inv(m.Sigma_x)
    return gain, ops.inv(ops.eye(m.k, m.A) - gain * m.A)


def isotropic_posterior(m: LinearBetaVAE):
    """Eq. 28 (``Psi = sigma_eta2 I_N``, :meth:`LinearBetaVAE.ground_truth_posterior`) as ``(F, P)``."""
    F, E = m.ground_truth_posterior()
    return F, ops.inv(E)


def population_metrics(m: LinearBetaVAE, F, P) -> dict:
    """The seven metrics averaged over ``p(x) = N(0, Sigma_x)`` (nats, constants kept), TIE against ``N(F x, P^{-1})``.

    Objective, ELBO, reconstruction, KL, MIE and log-likelihood are the model's
    (they depend on the data only through ``Sigma_x``); TIE is Eq. 45 with the given target.
    """
    return {"objective": m.objective(), "elbo": m.elbo(), "recon": m.recon_avg(), "kl": m.kl_avg(), "mie": m.mie(),
            "tie": m.inference_error(F, ops.inv(P)), "log_likelihood": m.log_likelihood()}


def inference_error_per_example(m: LinearBetaVAE, F, P, f=None):
    """``KL(q(z|x) || N(F x + f, P^{-1}))`` at the example ``m.x`` (nats); ``f`` defaults to 0.

    ``1/2 { sum_i P_ii v_i + (F x + f - mu_z)^T P (F x + f - mu_z) - k - log det P - sum_i log v_i }``
    with ``mu_z = W_mu x + b_mu`` and ``log v = W_sigma x + b_sigma`` (Eqs. 29-30).
    """
    gap = F * m.x - m.mu_z() if f is None else F * m.x + f - m.mu_z()
    log_var = m.W_sigma * m.x + m.b_sigma
    return Rational(1, 2) * (ops.scalar(ops.diag_col(P).T * m.var_z()) + ops.scalar(gap.T * P * gap) - m.k
                             - ops.logdet_spd(P) - ops.vsum(log_var))


def per_example_metrics(m: LinearBetaVAE, F, P) -> dict:
    """The seven metrics at one example ``m.x`` (nats, constants kept), by the names of :data:`METRICS`.

    ``recon``, ``kl`` and the objective are Eqs. 65, 66, 13; ``elbo = recon - kl``;
    ``mie = KL(q(z|x) || p_theta(z|x))`` (Eq. 44's posterior, Eq. 47);
    ``tie = KL(q(z|x) || N(F x, P^{-1}))``; ``log_likelihood = elbo + mie``
    (exact: :func:`verify_per_example` proves it equal to ``log N(x; b_D, D D^T + sigma_y2 I)``).
    """
    F_model, E_model = m.model_posterior()
    elbo = m.recon() - m.kl()
    mie = inference_error_per_example(m, F_model, ops.inv(E_model), -F_model * m.b_D)
    return {"objective": m.objective_per_datum(), "elbo": elbo, "recon": m.recon(), "kl": m.kl(), "mie": mie,
            "tie": inference_error_per_example(m, F, P), "log_likelihood": elbo + mie}


# ----- checks ------------------------------------------------------------------------------------
def derived_noise_posterior(m: LinearBetaVAE, psi):
    """From first principles (explicit ``m``): the joint moments of ``(s, x)`` for ``x = A s + eta``,
    ``eta ~ N(0, diag(psi))``, then Gaussian conditioning. Returns ``(Sigma_x, F, E)`` with
    ``E[s|x] = F x`` and ``Cov(s|x) = E``."""
    from betavae_sym.symbolic import derivations

    mean, cov_xx, cov_xs = derivations.joint_moments(m.s, m.eta, sp.diag(*psi), m.A, sp.zeros(m.N, 1))
    mu, cov = derivations.condition(m.x, mean, cov_xx, cov_xs)
    F = mu.jacobian(m.x)
    if any(sp.simplify(e) != 0 for e in mu - F * m.x):
        raise ArithmeticError("the derived posterior mean is not linear in x")
    return cov_xx, F, cov


def _vanishes(matrix) -> bool:
    return all(sp.simplify(sp.cancel(e)) == 0 for e in matrix)


def verify_posteriors(symbolic=((1, 1), (2, 1)), points=((2, 2), (3, 2), (4, 3)), seed: int = 0) -> list:
    """Prove :func:`data_covariance`, :func:`noise_posterior` and :func:`covariance_posterior` equal to
    :func:`derived_noise_posterior`, and :func:`noise_posterior` at ``psi = sigma_eta2 1`` equal to Eq. 28.

    At the ``symbolic`` sizes for symbolic ``A`` and ``psi`` (an identity of rational functions); at the
    ``points`` sizes for ``A`` and ``psi`` drawn as random rationals (seeded), where exact rational
    arithmetic stays fast. Returns the ``(N, k, how)`` cases proved; raises ArithmeticError otherwise.
    """
    import random

    from betavae_sym.symbolic.compare import random_rational

    rng = random.Random(seed)
    proved = []
    for (N, k), how in [(size, "symbolic") for size in symbolic] + [(size, "random point") for size in points]:
        m = LinearBetaVAE(N, k, explicit=True)
        psi = noise_variances(m)
        if how == "random point":
            m.A = sp.Matrix(N, k, lambda i, j: random_rational(rng))
            psi = sp.Matrix(N, 1, lambda i, j: random_rational(rng, positive=True))
        Sigma_x, F, E = derived_noise_posterior(m, psi)
        if not _vanishes(data_covariance(m, psi) - Sigma_x):
            raise ArithmeticError(f"Sigma_x = A A^T + Psi fails at N={N}, k={k}")
        F_noise, P_noise = noise_posterior(m, psi)
        if not (_vanishes(F_noise - F) and _vanishes(P_noise * E - sp.eye(k))):
            raise ArithmeticError(f"the noise form of p(s|x) fails at N={N}, k={k}")
        m.Sigma_x = Sigma_x
        F_cov, P_cov = covariance_posterior(m)
        if not (_vanishes(F_cov - F) and _vanishes(P_cov * E - sp.eye(k))):
            raise ArithmeticError(f"the covariance form of p(s|x) fails at N={N}, k={k}")
        if how == "symbolic":
            isotropic = dict(zip(psi, [m.sigma_eta2] * N))
            F_28, P_28 = isotropic_posterior(m)
            if not (_vanishes(F_noise.xreplace(isotropic) - F_28) and _vanishes(P_noise.xreplace(isotropic) - P_28)):
                raise ArithmeticError(f"the noise form does not reduce to Eq. 28 at N={N}, k={k}")
        proved.append((N, k, how))
    return proved


def verify_per_example(sizes=((1, 1), (2, 1))) -> list:
    """Prove the per-example metrics at each explicit size, symbolic parameters and a generic target ``(F, P)``
    (larger k: the Monte Carlo tests of ``tests/test_linear_general_data.py``):

    1. :func:`inference_error_per_example` equals ``E_eps[log q(z|x) - log N(z; F x + f, P^{-1})]``
       derived from the densities (the KL's definition);
    2. each of :func:`per_example_metrics`, averaged over ``x ~ N(0, Sigma_x)`` (Gaussian
       expectation), equals the same metric of :func:`population_metrics`;
    3. ``elbo + mie`` equals ``log N(x; b_D, D D^T + sigma_y2 I_N)``.

    Returns the sizes proved; raises ArithmeticError otherwise.
    """
    from betavae_sym.symbolic import derivations

    for N, k in sizes:
        m = derivations.model(N, k)
        F, f, E = derivations.generic_gaussian_target(m)
        P = E  # a generic symmetric matrix: read as the precision
        z = derivations.reparameterized_z(m)
        definition = derivations.over_eps(m, derivations.log_normal_density(z, m.mu_z(), derivations.encoder_covariance(m))
                                          - derivations.log_normal_density(z, F * m.x + f, ops.inv(P)))
        if sp.simplify(sp.expand_log(definition - inference_error_per_example(m, F, P, f), force=True)) != 0:
            raise ArithmeticError(f"the per-example KL differs from its definition at N={N}, k={k}")
        per_example, population = per_example_metrics(m, F, P), population_metrics(m, F, P)
        for name in METRICS:
            averaged = derivations.over_x(m, per_example[name])
            if sp.simplify(sp.expand_log(averaged - population[name], force=True)) != 0:
                raise ArithmeticError(f"E_x of the per-example {name} differs from the population {name} "
                                      f"at N={N}, k={k}")
        direct = derivations.log_normal_density(m.x, m.b_D, m.model_evidence_covariance())
        if sp.simplify(sp.expand_log(direct - per_example["log_likelihood"], force=True)) != 0:
            raise ArithmeticError(f"ELBO + MIE differs from log p_theta(x) at N={N}, k={k}")
    return list(sizes)

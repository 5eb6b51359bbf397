"""Derived expressions against Monte Carlo estimates from the generative process.

Independent truth: sample s ~ N(0, I_k), eta ~ N(0, sigma_eta2 I_N), x = A s + eta,
eps ~ N(0, I_k), z = mu_z + Sigma_z^{1/2} eps, and average the log densities
(scipy.stats) directly. The derived expressions (first-principles derivations of
:mod:`betavae_sym.symbolic.derivations` and the closed forms of the model) are
lambdified at explicit sizes. Agreement is required within 4 standard errors.
"""

from functools import lru_cache

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from betavae_sym.symbolic import derivations as dv

SAMPLES = 200_000
#: (N, k); the larger size is the slow cross-check (``pytest -m slow``), the smaller runs by default
SIZES = [(2, 1), pytest.param(3, 2, marks=pytest.mark.slow)]


def random_values(N, k, seed):
    """Random parameters, mixing matrix and the two variances (beta, sigma_y2, sigma_eta2)."""
    rng = np.random.default_rng(seed)
    return {
        "W_mu": rng.normal(0, 0.5, (k, N)), "b_mu": rng.normal(0, 0.5, (k, 1)),
        "W_sigma": rng.normal(0, 0.3, (k, N)), "b_sigma": rng.normal(0, 0.5, (k, 1)),
        "D": rng.normal(0, 1, (N, k)), "b_D": rng.normal(0, 0.5, (N, 1)), "A": rng.normal(0, 1, (N, k)),
        "beta": rng.uniform(0.2, 3), "sigma_y2": rng.uniform(0.5, 2), "sigma_eta2": rng.uniform(0.5, 2),
    }


def substitution(m, values):
    """Symbol -> number for the explicit model m (Sigma_x = A A^T + sigma_eta2 I, Eq. 27)."""
    sub = {m.beta: values["beta"], m.sigma_y2: values["sigma_y2"], m.sigma_eta2: values["sigma_eta2"]}
    for name in ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D", "A"):
        sub.update(zip(getattr(m, name), values[name].ravel()))
    sigma_x = values["A"] @ values["A"].T + values["sigma_eta2"] * np.eye(m.N)
    for i in range(m.N):
        for j in range(i, m.N):
            sub[m.Sigma_x[i, j]] = sigma_x[i, j]
    return sub


@lru_cache(maxsize=None)
def derived_expressions(N, k):
    """Averaged quantities, derived from first principles or from the proved matrix forms."""
    m = dv.model(N, k)
    return m, {
        "objective": dv.averaged_objective(N, k),
        "recon": dv.over_x(m, dv.recon_per_datum(m)),
        "kl": dv.over_x(m, dv.kl_per_datum(m)),
        "log_likelihood": m.log_likelihood(),
        "mie": m.mie(),
        "tie": m.tie(),
    }


def derived_values(N, k, values):
    m, expressions = derived_expressions(N, k)
    sub = substitution(m, values)
    return {name: float(sp.N(expr.xreplace(sub))) for name, expr in expressions.items()}


def log_gauss_diag(z, mean, var):
    return stats.norm.logpdf(z, loc=mean, scale=np.sqrt(var)).sum(axis=1)


def monte_carlo(N, k, values, seed):
    """Per-sample estimates of every averaged quantity, shape (SAMPLES,) each."""
    rng = np.random.default_rng(seed)
    v = values
    s = rng.standard_normal((SAMPLES, k))
    x = s @ v["A"].T + np.sqrt(v["sigma_eta2"]) * rng.standard_normal((SAMPLES, N))
    mu = x @ v["W_mu"].T + v["b_mu"].T
    var = np.exp(x @ v["W_sigma"].T + v["b_sigma"].T)
    z = mu + np.sqrt(var) * rng.standard_normal((SAMPLES, k))
    log_q = log_gauss_diag(z, mu, var)
    log_prior = log_gauss_diag(z, 0.0, 1.0)
    recon = log_gauss_diag(x, z @ v["D"].T + v["b_D"].T, v["sigma_y2"])
    kl = log_q - log_prior
    evidence = stats.multivariate_normal(v["b_D"].ravel(), v["D"] @ v["D"].T + v["sigma_y2"] * np.eye(N))
    # model posterior p_theta(z|x) and ground-truth posterior p(s|x), by conditioning numerically
    def posterior_logpdf(M, noise, offset):
        E = np.linalg.inv(M.T @ M / noise + np.eye(k))
        means = (x - offset.T) @ (E @ M.T / noise).T
        return stats.multivariate_normal(np.zeros(k), E).logpdf(z - means).reshape(SAMPLES)
    return {
        "objective": recon - v["beta"] * kl,
        "recon": recon,
        "kl": kl,
        "log_likelihood": evidence.logpdf(x).reshape(SAMPLES),
        "mie": log_q - posterior_logpdf(v["D"], v["sigma_y2"], v["b_D"]),
        "tie": log_q - posterior_logpdf(v["A"], v["sigma_eta2"], np.zeros((N, 1))),
    }


@pytest.mark.parametrize("N,k", SIZES)
@pytest.mark.parametrize("seed", [0, 1])
def test_derived_averages_match_monte_carlo(N, k, seed):
    values = random_values(N, k, seed)
    derived = derived_values(N, k, values)
    samples = monte_carlo(N, k, values, seed + 100)
    for name, per_sample in samples.items():
        mean, se = per_sample.mean(), per_sample.std(ddof=1) / np.sqrt(SAMPLES)
        assert abs(derived[name] - mean) <= 4 * se, (name, derived[name], mean, se)


def test_monte_carlo_check_detects_a_wrong_constant():
    """The 4-SE criterion has power: dropping -N/2 log(2 pi sigma_y2)'s 1/2 factor is caught."""
    N, k = 2, 1
    values = random_values(N, k, 0)
    wrong = derived_values(N, k, values)["recon"] - 0.5 * N * np.log(2 * np.pi * values["sigma_y2"])
    per_sample = monte_carlo(N, k, values, 100)["recon"]
    se = per_sample.std(ddof=1) / np.sqrt(SAMPLES)
    assert abs(wrong - per_sample.mean()) > 4 * se


def test_monte_carlo_tells_the_two_readings_of_eq45_apart():
    """Eq. 45's E_ii^{-1}: (E^{-1})_ii agrees with a Monte Carlo KL, 1 / E_ii does not (k = 2, E not diagonal).

    Truth: E_p(x) E_q[log q(z|x) - log N(z; F x, E)] by sampling x ~ N(0, Sigma_x) and z ~ q(z|x), at
    b^mu = 0 (where Eq. 45 as printed holds, Eq. 42).
    """
    from betavae_sym.symbolic import printed

    N, k = 3, 2
    values = random_values(N, k, 5)
    values["b_mu"] = np.zeros((k, 1))
    rng = np.random.default_rng(6)
    F = rng.normal(0, 0.5, (k, N))
    E = np.array([[1.0, 0.6], [0.6, 0.8]])                         # symmetric positive definite, not diagonal
    m = dv.model(N, k)
    sub = substitution(m, values)
    sub[m.sigma_eta2] = 1  # the paper's case, in which Eq. 45 is printed
    sigma_x = values["A"] @ values["A"].T + np.eye(N)
    sub.update({m.Sigma_x[i, j]: sigma_x[i, j] for i in range(N) for j in range(i, N)})

    def printed_value(reading):
        expr = printed.eq45(m, sp.Matrix(F), sp.Matrix(E), inverse_reading=reading)
        return float(sp.N(expr.xreplace(sub)))

    x = rng.standard_normal((SAMPLES, k)) @ values["A"].T + rng.standard_normal((SAMPLES, N))
    mu = x @ values["W_mu"].T
    var = np.exp(x @ values["W_sigma"].T + values["b_sigma"].T)
    z = mu + np.sqrt(var) * rng.standard_normal((SAMPLES, k))
    target = stats.multivariate_normal(np.zeros(k), E).logpdf(z - x @ F.T)
    per_sample = log_gauss_diag(z, mu, var) - target
    mean, se = per_sample.mean(), per_sample.std(ddof=1) / np.sqrt(SAMPLES)
    inverse_then_entry, entry_then_inverse = printed_value("inverse-then-entry"), printed_value("entry-then-inverse")
    assert abs(inverse_then_entry - mean) <= 4 * se, (inverse_then_entry, mean, se)
    assert abs(entry_then_inverse - mean) > 20 * se, (entry_then_inverse, mean, se)

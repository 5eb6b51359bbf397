"""Metrics of a trained network against independent truths (closed forms, scipy, constructed codes)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from betavae_sym.experiments.metrics import dci, evaluate, gaussian_kl_to_full, mig, true_inference_error


class LinearModel:
    """A linear-Gaussian 'network': p(x|z) = N(D z + b, I), q(z|x) = N(E x + c, diag var)."""

    def __init__(self, D, b, E, c, var):
        self.D, self.b, self.E, self.c, self.var = D, b, E, c, var

    def encode(self, X):
        mu = X @ self.E.T + self.c
        return mu[None], np.broadcast_to(np.log(self.var), mu.shape)[None]

    def decode(self, Z):
        return Z @ self.D.T + self.b


def linear_case(rng, n=40, N=5, exact_posterior=False):
    # orthogonal decoder columns make the exact posterior covariance (D^T D + I)^-1 diagonal
    Q, _ = np.linalg.qr(rng.standard_normal((N, 2)))
    D = Q * np.array([1.7, 0.6])
    b = rng.standard_normal(N)
    X = rng.standard_normal((n, 2)) @ D.T + b + rng.standard_normal((n, N))
    post_cov = np.linalg.inv(D.T @ D + np.eye(2))
    if exact_posterior:
        E, c, var = post_cov @ D.T, -post_cov @ D.T @ b, np.diag(post_cov).copy()
    else:
        E, c, var = 0.8 * post_cov @ D.T, np.full(2, 0.1), np.array([0.5, 0.9])
    dataset = SimpleNamespace(X=X, S=rng.standard_normal((n, 2)), posterior_mean=X @ E.T + c, posterior_cov=post_cov)
    return LinearModel(D, b, E, c, var), dataset


def exact_log_likelihood(model, X):
    """log N(x; b, D D^T + I): the marginal of the linear-Gaussian model (independent truth)."""
    cov = model.D @ model.D.T + np.eye(model.D.shape[0])
    return stats.multivariate_normal(mean=model.b, cov=cov).logpdf(X)


def test_iwae_equals_the_exact_log_likelihood_when_q_is_the_true_posterior():
    # with q(z|x) = p(z|x) every importance weight equals p(x): the estimate is exact for any K
    model, dataset = linear_case(np.random.default_rng(0), exact_posterior=True)
    metrics = evaluate(model, dataset, beta=1.0, samples=7, iwae_samples=3, seed=1)
    assert metrics["log_likelihood"] == pytest.approx(exact_log_likelihood(model, dataset.X).mean(), rel=1e-10)


def test_iwae_approaches_the_exact_log_likelihood_from_below_as_k_grows():
    model, dataset = linear_case(np.random.default_rng(2))
    truth = exact_log_likelihood(model, dataset.X).mean()
    estimates = [evaluate(model, dataset, 1.0, samples=1, iwae_samples=K, seed=3)["log_likelihood"]
                 for K in (1, 30, 3000)]
    gaps = [truth - value for value in estimates]
    assert gaps[0] > gaps[1] > gaps[2] > 0


def test_reconstruction_matches_its_closed_form_within_the_reported_standard_error():
    model, dataset = linear_case(np.random.default_rng(4))
    metrics = evaluate(model, dataset, 1.0, samples=400, seed=5)
    mu, _ = model.encode(dataset.X)
    N = dataset.X.shape[1]
    # E_q log N(x; D z + b, I) = -N/2 log 2 pi - (|x - D mu - b|^2 + tr(D diag(var) D^T)) / 2
    resid = dataset.X - mu[0] @ model.D.T - model.b
    closed = np.mean(-0.5 * N * math.log(2 * math.pi) - 0.5 * (np.sum(resid**2, axis=1)
                                                                + np.trace(model.D @ np.diag(model.var) @ model.D.T)))
    assert abs(metrics["recon"] - closed) < 4 * metrics["recon_mc_se"]
    assert 0 < metrics["recon_mc_se"] < 0.1 * abs(closed)


def test_objective_terms_obey_their_identities():
    model, dataset = linear_case(np.random.default_rng(6))
    m = evaluate(model, dataset, 2.5, samples=50, seed=0)
    assert m["elbo"] == pytest.approx(m["recon"] - m["kl"], rel=1e-14)
    assert m["objective"] == pytest.approx(m["recon"] - 2.5 * m["kl"], rel=1e-14)
    assert m["mie"] == pytest.approx(m["log_likelihood"] - m["elbo"], rel=1e-12)
    assert sum(m["kl_units"]) == pytest.approx(m["kl"], rel=1e-12)
    # the KL to N(0, I) by scipy's entropy formula: KL = cross-entropy - entropy
    mu, logvar = model.encode(dataset.X)
    var = np.exp(logvar[0])
    kl = np.mean(np.sum(0.5 * (mu[0] ** 2 + var) + 0.5 * math.log(2 * math.pi)
                        - stats.norm(scale=np.sqrt(var)).entropy(), axis=1))
    assert m["kl"] == pytest.approx(kl, rel=1e-12)


def test_same_seed_gives_the_same_metrics_and_another_seed_other_samples():
    model, dataset = linear_case(np.random.default_rng(7))
    a = evaluate(model, dataset, 1.0, samples=20, seed=[5, 0, 2])
    b = evaluate(model, dataset, 1.0, samples=20, seed=[5, 0, 2], max_batch=7)  # other chunking
    c = evaluate(model, dataset, 1.0, samples=20, seed=[6, 0, 2])
    assert a["recon"] == pytest.approx(b["recon"], rel=1e-13)
    assert a["recon"] != c["recon"]


def test_gaussian_kl_matches_monte_carlo_with_scipy_densities():
    rng = np.random.default_rng(8)
    mu_q, var_q = rng.standard_normal((1, 3)), rng.uniform(0.3, 2.0, (1, 3))
    L = rng.standard_normal((3, 3))
    cov_p, mu_p = L @ L.T + 0.5 * np.eye(3), rng.standard_normal((1, 3))
    z = mu_q + np.sqrt(var_q) * rng.standard_normal((400_000, 3))
    log_q = stats.multivariate_normal(mu_q[0], np.diag(var_q[0])).logpdf(z)
    log_p = stats.multivariate_normal(mu_p[0], cov_p).logpdf(z)
    mc = np.mean(log_q - log_p)
    sem = np.std(log_q - log_p) / math.sqrt(len(z))
    assert abs(gaussian_kl_to_full(mu_q, var_q, mu_p, cov_p)[0] - mc) < 4 * sem


def test_tie_is_zero_for_the_true_posterior_up_to_a_signed_permutation():
    rng = np.random.default_rng(9)
    cov = np.diag([0.3, 0.7, 0.5])
    mean = rng.standard_normal((30, 3))
    # units: (-s3, s1, s2)
    mu_q = np.stack([-mean[:, 2], mean[:, 0], mean[:, 1]], axis=1)
    var_q = np.tile([0.5, 0.3, 0.7], (30, 1))
    tie, perm, signs = true_inference_error(mu_q, var_q, mean, cov)
    assert tie == pytest.approx(0.0, abs=1e-12)
    assert perm.tolist() == [1, 2, 0] and signs.tolist() == [1.0, 1.0, -1.0]
    tie_unaligned = np.mean(gaussian_kl_to_full(mu_q, var_q, mean, cov))
    assert tie_unaligned > 0.1


def test_mig_is_one_for_a_disentangled_code_and_near_zero_for_a_rotated_one():
    rng = np.random.default_rng(10)
    S = rng.standard_normal((20_000, 2))
    # a monotone transform of each source, units swapped: the same quantile bins as the sources
    disentangled = np.stack([np.tanh(S[:, 1]), 3 * S[:, 0] + 1], axis=1)
    rotation = np.array([[1, 1], [-1, 1]]) / math.sqrt(2)
    assert mig(disentangled, S) == pytest.approx(1.0, abs=0.02)  # plug-in bias (19^2 / 2n) / log 20
    assert mig(S @ rotation, S) < 0.05
    assert mig(S @ np.array([[1, 0.3], [0, 1]]), S) < mig(disentangled, S)


def test_dci_is_one_for_a_linear_disentangled_code_and_zero_for_a_45_degree_rotation():
    rng = np.random.default_rng(11)
    S = rng.standard_normal((5000, 2))
    S = (S - S.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(S.T, bias=True))).T  # sample-whitened
    scores = dci(np.stack([-2 * S[:, 1], 0.5 * S[:, 0]], axis=1), S)
    assert scores["dci_disentanglement"] == pytest.approx(1.0, abs=1e-9)
    assert scores["dci_completeness"] == pytest.approx(1.0, abs=1e-9)
    assert scores["dci_informativeness"] == pytest.approx(1.0, abs=1e-9)
    rotated = dci(S @ np.array([[1, 1], [-1, 1]]), S)
    assert rotated["dci_disentanglement"] == pytest.approx(0.0, abs=1e-9)
    assert rotated["dci_informativeness"] == pytest.approx(1.0, abs=1e-9)
    noisy = dci(S + rng.standard_normal(S.shape), S)
    assert noisy["dci_informativeness"] == pytest.approx(0.5, abs=0.03)  # R^2 = 1 / (1 + 1)


def test_deep_model_metrics_are_finite_and_units_collapse_with_large_beta():
    from betavae_sym.deep.model import Architecture
    from betavae_sym.deep.train import train

    rng = np.random.default_rng(12)
    S = rng.standard_normal((60, 2))
    A = rng.standard_normal((8, 2)) * 2
    X = S @ A.T + rng.standard_normal((60, 8))
    precision = A.T @ A + np.eye(2)
    cov = np.linalg.inv(precision)
    dataset = SimpleNamespace(X=X, S=S, posterior_mean=X @ A @ cov, posterior_cov=cov)
    arch = Architecture(N=8, k=2, encoder_hidden=(6,), decoder_hidden=(6,))
    m = {}
    for beta in (0.5, 200.0):
        result = train(X, beta, epochs=40, batch_size=20, architecture=arch, seed=1, dtype=np.float64)
        m[beta] = evaluate(result.model, dataset, beta, samples=30, seed=0)
    assert all(math.isfinite(v) for v in m[0.5].values() if isinstance(v, float))
    assert m[200.0]["kl"] < m[0.5]["kl"]
    assert m[200.0]["active_units"] <= m[0.5]["active_units"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3), data=st.data())
def test_tie_is_nonnegative_and_invariant_to_signed_permutations_of_the_units(seed, k, data):
    rng = np.random.default_rng(seed)
    n = 12
    L = rng.standard_normal((k, k))
    cov = L @ L.T + 0.3 * np.eye(k)
    mean = rng.standard_normal((n, k))
    mu_q, var_q = rng.standard_normal((n, k)), rng.uniform(0.2, 2.0, (n, k))
    perm = np.array(data.draw(st.permutations(range(k))))
    signs = np.array(data.draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=k, max_size=k)))
    tie = true_inference_error(mu_q, var_q, mean, cov)[0]
    relabelled = true_inference_error(mu_q[:, perm] * signs, var_q[:, perm], mean, cov)[0]
    assert tie >= 0
    assert relabelled == pytest.approx(tie, rel=1e-12, abs=1e-12)
    # and the best alignment is no worse than leaving the units as they are
    assert tie <= np.mean(gaussian_kl_to_full(mu_q, var_q, mean, cov)) + 1e-12

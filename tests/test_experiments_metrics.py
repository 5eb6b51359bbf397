"""Metrics of a trained network against independent truths (closed forms, scipy, constructed codes)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from betavae_sym.alignment import rotation_2d
from betavae_sym.errors import BadInput
from betavae_sym.experiments.metrics import (SCALAR_METRICS, MetricsFailed, MetricUndefined, dci, evaluate, mig,
                                             tie_objective, true_inference_error)


class LinearModel:
    """A linear-Gaussian 'network': p(x|z) = N(D z + b, I), q(z|x) = N(E x + c, diag var)."""

    def __init__(self, D, b, E, c, var):
        self.D, self.b, self.E, self.c, self.var = D, b, E, c, var

    def encode(self, X):
        mu = X @ self.E.T + self.c
        return mu[None], np.broadcast_to(np.log(self.var), mu.shape)[None]

    def decode(self, Z):
        return Z @ self.D.T + self.b


def linear_case(rng, n=40, N=5, k=2):
    """A linear model with a deliberately imperfect encoder, its rows and a Gaussian ground-truth posterior."""
    Q, _ = np.linalg.qr(rng.standard_normal((N, k)))
    D = Q * np.linspace(1.7, 0.6, k)
    b = rng.standard_normal(N)
    X = rng.standard_normal((n, k)) @ D.T + b + rng.standard_normal((n, N))
    post_cov = np.linalg.inv(D.T @ D + np.eye(k))
    E, c, var = 0.8 * post_cov @ D.T, np.full(k, 0.1), np.linspace(0.5, 0.9, k)
    dataset = SimpleNamespace(X=X, S=rng.standard_normal((n, k)), posterior_mean=X @ (post_cov @ D.T).T,
                              posterior_cov=post_cov)
    return LinearModel(D, b, E, c, var), dataset


def kl_to_gaussian(mu_q, var_q, mu_p, cov_p):
    """KL(N(mu_q, diag var_q) || N(mu_p, cov_p)) per row, written out (the reference for TIE)."""
    k = mu_q.shape[1]
    precision = np.linalg.inv(cov_p)
    d = mu_p - mu_q
    return 0.5 * (var_q @ np.diag(precision) + np.einsum("ni,ij,nj->n", d, precision, d) - k
                  + np.linalg.slogdet(cov_p)[1] - np.sum(np.log(var_q), axis=1))


def same(a, b, rel=1e-9, abs=1e-9):
    return (a is None and b is None) or (a is not None and b is not None and a == pytest.approx(b, rel=rel, abs=abs))


# --- the objective terms ---------------------------------------------------------------------------

def test_sampling_reconstruction_matches_its_closed_form_within_the_reported_standard_error():
    model, dataset = linear_case(np.random.default_rng(4))
    metrics = evaluate(model, dataset, 1.0, samples=400, estimator="sampling", seed=5)
    mu, _ = model.encode(dataset.X)
    N = dataset.X.shape[1]
    resid = dataset.X - mu[0] @ model.D.T - model.b
    closed = np.mean(-0.5 * N * math.log(2 * math.pi)
                     - 0.5 * (np.sum(resid**2, axis=1) + np.trace(model.D @ np.diag(model.var) @ model.D.T)))
    assert abs(metrics["recon"] - closed) < 4 * metrics["recon_mc_se"]
    assert 0 < metrics["recon_mc_se"] < 0.1 * abs(closed)


@pytest.mark.parametrize("estimator", ["exact", "sampling"])
def test_objective_terms_obey_their_identities(estimator):
    model, dataset = linear_case(np.random.default_rng(6))
    m = evaluate(model, dataset, 2.5, samples=50, estimator=estimator, seed=0)
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
    assert all(name in m for name in SCALAR_METRICS)


def test_exact_and_sampling_estimators_agree_within_the_sampling_error():
    model, dataset = linear_case(np.random.default_rng(7))
    exact = evaluate(model, dataset, 1.0, estimator="exact")
    sampled = evaluate(model, dataset, 1.0, samples=2000, estimator="sampling", seed=1)
    assert exact["recon"] == pytest.approx(sampled["recon"], abs=4 * sampled["recon_mc_se"])
    assert exact["log_likelihood"] == pytest.approx(sampled["log_likelihood"], abs=0.02)
    assert exact["mie"] >= -2 * exact["quadrature_error"]


def test_same_seed_gives_the_same_metrics_and_another_seed_other_draws():
    model, dataset = linear_case(np.random.default_rng(7))
    a = evaluate(model, dataset, 1.0, samples=20, estimator="sampling", seed=[5, 0, 2])
    b = evaluate(model, dataset, 1.0, samples=20, estimator="sampling", seed=[5, 0, 2])
    c = evaluate(model, dataset, 1.0, samples=20, estimator="sampling", seed=[6, 0, 2])
    assert a["recon"] == b["recon"] and a["log_likelihood"] == b["log_likelihood"]
    assert a["recon"] != c["recon"]


def test_unknown_estimators_and_the_exact_one_above_two_units_are_refused():
    model, dataset = linear_case(np.random.default_rng(8), k=3)
    with pytest.raises(BadInput, match="estimator: 'mcmc' is not one of auto, exact, sampling"):
        evaluate(model, dataset, 1.0, estimator="mcmc")
    with pytest.raises(BadInput, match="at most 2 latent units"):
        evaluate(model, dataset, 1.0, estimator="exact")
    m = evaluate(model, dataset, 1.0, samples=30)
    assert m["estimators"]["log_likelihood"].startswith("defensive importance sampling")


# --- TIE, with and without rotations --------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4))
def test_the_tie_objective_equals_the_mean_kl_written_out_at_any_orthogonal_map(seed, k):
    from scipy.stats import ortho_group

    rng = np.random.default_rng(seed)
    L = rng.standard_normal((k, k))
    cov = L @ L.T + 0.3 * np.eye(k)
    mean, mu = rng.standard_normal((12, k)), rng.standard_normal((12, k))
    logvar = rng.uniform(-2, 1, (12, k))
    Q = ortho_group.rvs(k, random_state=rng) if k > 1 else np.array([[-1.0]])
    f = tie_objective(mu, logvar, mean, cov)
    # KL(N(Q mu, Q S Q^T) || N(m, C)) = KL(N(mu, S) || N(Q^T m, Q^T C Q)): a diagonal q against a turned posterior
    direct = kl_to_gaussian(mu, np.exp(logvar), mean @ Q, Q.T @ cov @ Q).mean()
    assert f.value(Q) == pytest.approx(direct, rel=1e-10, abs=1e-10)


def test_tie_is_zero_for_the_true_posterior_up_to_a_signed_permutation():
    rng = np.random.default_rng(9)
    cov = np.diag([0.3, 0.7, 0.5])
    mean = rng.standard_normal((30, 3))
    mu_q = np.stack([-mean[:, 2], mean[:, 0], mean[:, 1]], axis=1)  # units: (-s3, s1, s2)
    logvar = np.log(np.tile([0.5, 0.3, 0.7], (30, 1)))
    tie, P, exact = true_inference_error(mu_q, logvar, mean, cov)
    assert exact and tie == pytest.approx(0.0, abs=1e-12)
    assert np.argmax(np.abs(P), axis=1).tolist() == [1, 2, 0] and P[2, 0] == -1.0
    assert np.mean(kl_to_gaussian(mu_q, np.exp(logvar), mean, cov)) > 0.1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3), data=st.data())
def test_tie_is_nonnegative_and_invariant_to_signed_permutations_of_the_units(seed, k, data):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((k, k))
    cov = L @ L.T + 0.3 * np.eye(k)
    mean, mu = rng.standard_normal((12, k)), rng.standard_normal((12, k))
    logvar = rng.uniform(-2, 1, (12, k))
    perm = np.array(data.draw(st.permutations(range(k))))
    signs = np.array(data.draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=k, max_size=k)))
    tie = true_inference_error(mu, logvar, mean, cov)[0]
    relabelled = true_inference_error(mu[:, perm] * signs, logvar[:, perm], mean, cov)[0]
    assert tie >= 0
    assert relabelled == pytest.approx(tie, rel=1e-12, abs=1e-12)
    assert tie <= np.mean(kl_to_gaussian(mu, np.exp(logvar), mean, cov)) + 1e-12


def rotated_posterior_case(degrees, n=200, seed=10):
    """A code equal to the true posterior turned by ``degrees``: q = N(R^T m, diag v), p(s|x) = N(m, R diag v R^T)."""
    rng = np.random.default_rng(seed)
    R = rotation_2d(np.radians(degrees))
    v = np.array([0.2, 0.6])
    mean = rng.standard_normal((n, 2)) * [1.5, 0.8]
    return mean @ R, np.tile(np.log(v), (n, 1)), mean, R @ np.diag(v) @ R.T


@pytest.mark.parametrize("degrees", [0.0, 27.0, -40.0, 117.0])
def test_rotation_tie_recovers_a_planted_rotation(degrees):
    mu, logvar, mean, cov = rotated_posterior_case(degrees)
    dataset = SimpleNamespace(X=np.zeros((len(mu), 3)), S=mean, posterior_mean=mean, posterior_cov=cov)
    model = SimpleNamespace(encode=lambda X: (mu[None], logvar[None]), decode=lambda Z: np.zeros(Z.shape[:2] + (3,)))
    m = evaluate(model, dataset, 1.0)
    folded = abs((degrees + 45.0) % 90.0 - 45.0)
    assert m["tie_rotation"] == pytest.approx(0.0, abs=1e-9)
    assert m["rotation_angle_deg"] == pytest.approx(folded, abs=1e-6)
    assert m["tie_rotation"] <= m["tie"] + 1e-12
    if folded > 1:
        assert m["tie"] > 0.05
    else:
        assert m["tie"] == pytest.approx(m["tie_rotation"], abs=1e-9)  # an aligned code: both the same


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 3))
def test_best_rotation_tie_never_exceeds_best_signed_permutation_tie(seed, k):
    from betavae_sym.alignment import best_orthogonal

    rng = np.random.default_rng(seed)
    L = rng.standard_normal((k, k))
    mu, logvar, mean = rng.standard_normal((15, k)), rng.uniform(-2, 1, (15, k)), rng.standard_normal((15, k))
    cov = L @ L.T + 0.3 * np.eye(k)
    tie = true_inference_error(mu, logvar, mean, cov)[0]
    rotation = best_orthogonal(tie_objective(mu, logvar, mean, cov), seed=0)
    assert rotation.value <= tie + 1e-12
    # and the map it found gives the value it claims, by the KL written out
    Q = rotation.Q
    assert kl_to_gaussian(mu, np.exp(logvar), mean @ Q, Q.T @ cov @ Q).mean() == pytest.approx(rotation.value,
                                                                                               rel=1e-10, abs=1e-10)


def test_reference_angle_is_the_angle_between_two_codes_axes():
    model, dataset = linear_case(np.random.default_rng(11))
    mu = model.encode(dataset.X)[0][0]
    m = evaluate(model, dataset, 1.0, reference_mean=mu @ rotation_2d(np.radians(20.0)).T)
    assert m["reference_angle_deg"] == pytest.approx(20.0, abs=1e-9)
    assert evaluate(model, dataset, 1.0)["reference_angle_deg"] is None


# --- MIG ------------------------------------------------------------------------------------------

def test_mig_does_not_depend_on_the_order_of_rows_with_a_constant_unit():
    # the review's reproduction: a constant unit used to take another unit's bins in row order
    S = np.random.default_rng(0).standard_normal((2000, 2))
    Z = np.column_stack([np.full(2000, 0.7), S[:, 1]])
    order = np.argsort(S[:, 0])
    assert mig(Z, S) == mig(Z[order], S[order])
    # source 2: unit 2 carries all of it, the constant unit none (gap 1); source 1: no unit carries it
    # (gap = the plug-in MI of two independent variables, about 19^2 / (2 n) / log 20 = 0.03)
    assert mig(Z, S) == pytest.approx(0.5 + 0.5 * 361 / 4000 / math.log(20), abs=0.02)


def test_mig_is_one_for_a_disentangled_code_and_near_zero_for_a_rotated_one():
    rng = np.random.default_rng(10)
    S = rng.standard_normal((20_000, 2))
    disentangled = np.stack([np.tanh(S[:, 1]), 3 * S[:, 0] + 1], axis=1)  # monotone maps: the sources' bins
    rotation = np.array([[1, 1], [-1, 1]]) / math.sqrt(2)
    assert mig(disentangled, S) == pytest.approx(1.0, abs=0.02)
    assert mig(S @ rotation, S) < 0.05
    assert mig(S @ np.array([[1, 0.3], [0, 1]]), S) < mig(disentangled, S)


def reference_mig(codes, sources, bins=20):
    """MIG written independently: bins from scipy's 'min' ranks, joint counts by numpy's histogram2d."""
    def binned(values):
        return np.floor((stats.rankdata(values, method="min") - 1) * bins / len(values))

    def mutual_information(a, b):
        joint, _, _ = np.histogram2d(a, b, bins=bins, range=[[0, bins], [0, bins]])
        joint /= joint.sum()
        outer = joint.sum(1)[:, None] * joint.sum(0)[None, :]
        mask = joint > 0
        return np.sum(joint[mask] * np.log(joint[mask] / outer[mask]))

    gaps = []
    for s_ in sources.T:
        sb = binned(s_)
        p = np.bincount(sb.astype(int), minlength=bins) / len(sb)
        mi = sorted((mutual_information(binned(z), sb) for z in codes.T), reverse=True)
        gaps.append((mi[0] - mi[1]) / -np.sum(p[p > 0] * np.log(p[p > 0])))
    return np.mean(gaps)


def test_mig_equals_an_independent_computation_with_and_without_ties():
    rng = np.random.default_rng(12)
    S = rng.standard_normal((700, 2))
    codes = np.column_stack([S[:, 0] + 0.5 * rng.standard_normal(700), np.round(S[:, 1], 1), np.zeros(700)])
    assert mig(codes, S) == pytest.approx(reference_mig(codes, S), abs=1e-12)
    assert mig(codes, np.round(S, 1)) == pytest.approx(reference_mig(codes, np.round(S, 1)), abs=1e-12)


def test_the_plug_in_bias_of_a_perfect_code_vanishes_like_bins_squared_over_2n():
    # a perfect unit plus an independent one: MIG = 1 - (plug-in MI of independent bins) / log 20, and
    # that MI tends to (bins - 1)^2 / (2 n) nats (chi-square with 19^2 degrees of freedom over 2n) for large n
    rng = np.random.default_rng(13)
    n = 8000
    scores = []
    for _ in range(20):
        S = rng.standard_normal((n, 1))
        scores.append(mig(np.column_stack([S[:, 0], rng.standard_normal(n)]), S))
    assert np.mean(scores) == pytest.approx(1 - 361 / (2 * n) / math.log(20), abs=0.002)


def test_mig_is_undefined_for_fewer_rows_than_bins_or_a_single_unit():
    S = np.random.default_rng(13).standard_normal((19, 2))
    with pytest.raises(MetricUndefined, match="at least 20 rows, got 19"):
        mig(S, S)
    with pytest.raises(MetricUndefined, match="at least 2 latent units"):
        mig(S[:, :1], S)
    with pytest.raises(BadInput, match="sources: source 2 is constant"):
        mig(np.random.default_rng(1).standard_normal((30, 2)), np.column_stack([np.arange(30.0), np.ones(30)]))


@settings(max_examples=30, deadline=None)
@given(codes=arrays(np.float64, (40, 3), elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0, 3.0])),
       seed=st.integers(0, 2**32 - 1))
@example(codes=np.zeros((40, 3)), seed=0)
def test_mig_with_ties_is_invariant_to_permuting_the_rows(codes, seed):
    rng = np.random.default_rng(seed)
    sources = np.round(rng.standard_normal((40, 2)), 1)  # ties in the sources too
    order = rng.permutation(40)
    assert mig(codes, sources) == pytest.approx(mig(codes[order], sources[order]), abs=1e-12)


# --- DCI ------------------------------------------------------------------------------------------

def test_dci_is_one_for_a_linear_disentangled_code_and_zero_for_a_45_degree_rotation():
    rng = np.random.default_rng(11)
    S = rng.standard_normal((5000, 2))
    S = (S - S.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(S.T, bias=True))).T  # sample-whitened
    scores, undefined = dci(np.stack([-2 * S[:, 1], 0.5 * S[:, 0]], axis=1), S)
    assert not undefined
    assert scores["dci_disentanglement"] == pytest.approx(1.0, abs=1e-9)
    assert scores["dci_completeness"] == pytest.approx(1.0, abs=1e-9)
    assert scores["dci_informativeness"] == pytest.approx(1.0, abs=1e-9)
    rotated, _ = dci(S @ np.array([[1, 1], [-1, 1]]), S)
    assert rotated["dci_disentanglement"] == pytest.approx(0.0, abs=1e-9)
    noisy, _ = dci(S + rng.standard_normal(S.shape), S)
    assert noisy["dci_informativeness"] == pytest.approx(0.5, abs=0.03)  # R^2 = 1 / (1 + 1)


@pytest.mark.parametrize("k", [2, 5])
def test_dci_of_a_code_independent_of_the_sources_is_undefined(k):
    # the review measured disentanglement 0.387 (k = 2) and 0.154 (k = 5) here: noise
    rng = np.random.default_rng(14)
    for _ in range(20):
        scores, undefined = dci(rng.standard_normal((1000, k)), rng.standard_normal((1000, k)))
        assert scores["dci_disentanglement"] is None and scores["dci_completeness"] is None
        assert "uninformative" in undefined["dci_disentanglement"]
    weak = rng.standard_normal((1000, k))
    scores, undefined = dci(weak[:, ::-1] + 3 * rng.standard_normal((1000, k)), weak)  # R^2 = 0.1: informative
    assert not undefined and 0 < scores["dci_disentanglement"] <= 1 and 0 < scores["dci_completeness"] <= 1


def test_the_null_distribution_of_dci_informativeness_is_the_documented_beta():
    # in-sample R^2 of a Gaussian source on p independent units: Beta(p/2, (n-p-1)/2), mean p/(n-1)
    rng = np.random.default_rng(15)
    n, p = 200, 3
    values = [dci(rng.standard_normal((n, p)), rng.standard_normal((n, 1)))[0]["dci_informativeness"]
              for _ in range(2000)]
    assert np.mean(values) == pytest.approx(p / (n - 1), rel=0.05)
    assert stats.kstest(values, stats.beta(p / 2, (n - p - 1) / 2).cdf).pvalue > 1e-3
    flagged = np.mean([not dci(rng.standard_normal((n, 2)), rng.standard_normal((n, 2)))[1] for _ in range(1000)])
    assert flagged < 0.006  # false "informative" verdicts: 0.001 expected


# --- bad codes -----------------------------------------------------------------------------------

def broken(mu, logvar, N=3):
    n, k = mu.shape
    dataset = SimpleNamespace(X=np.zeros((n, N)), S=np.random.default_rng(0).standard_normal((n, k)),
                              posterior_mean=np.zeros((n, k)), posterior_cov=np.eye(k))
    model = SimpleNamespace(encode=lambda X: (mu[None], logvar[None]), decode=lambda Z: np.zeros(Z.shape[:2] + (N,)))
    return model, dataset


@pytest.mark.parametrize("what, mu_value, logvar_value, message", [
    ("NaN mean", math.nan, 0.0, "the encoder's mean is NaN or infinite for 1 of 30 examples \\(first: row 4\\)"),
    ("infinite log-variance", 0.0, math.inf, "the encoder's log-variance is NaN or infinite"),
    ("overflowing variance", 0.0, 800.0, "variance is 0 or infinite in float64: log sigma\\^2 = 800"),
    ("vanishing variance", 0.0, -800.0, "log sigma\\^2 = -800"),
    ("huge mean", 1e200, 0.0, "came out|not finite"),
])
def test_a_non_finite_code_or_variance_is_a_clear_error(what, mu_value, logvar_value, message):
    rng = np.random.default_rng(16)
    mu, logvar = rng.standard_normal((30, 2)), np.zeros((30, 2))
    mu[4, 1], logvar[4, 0] = mu_value if mu_value else mu[4, 1], logvar_value
    model, dataset = broken(mu, logvar)
    for estimator in ("exact", "sampling"):
        with pytest.raises(MetricsFailed, match=message):
            evaluate(model, dataset, 1.0, samples=5, estimator=estimator)


def test_a_decoder_that_outputs_nan_is_a_clear_error():
    model, dataset = linear_case(np.random.default_rng(17))
    model.b = np.full_like(model.b, np.nan)
    with pytest.raises(MetricsFailed, match="not finite"):
        evaluate(model, dataset, 1.0)


def test_mig_and_dci_name_non_finite_inputs_instead_of_failing_in_lapack():
    codes = np.random.default_rng(18).standard_normal((50, 2))
    codes[3, 0] = np.nan
    with pytest.raises(BadInput, match="codes: 1 entries are NaN or infinite"):
        mig(codes, codes)
    with pytest.raises(BadInput, match="codes: 1 entries are NaN or infinite"):
        dci(codes, np.ones((50, 2)))


def test_metrics_failed_is_recorded_as_a_failed_task_with_its_message(monkeypatch):
    from betavae_sym.experiments import metrics, tasks
    from betavae_sym.experiments.settings import SweepSettings

    settings_ = SweepSettings.preset("quick", dataset="mixed-digits", n=20, epochs=1, encoder_hidden=(4,),
                                     decoder_hidden=(4,), samples=2, iwae_samples=2)

    def fail(*args, **kwargs):
        raise MetricsFailed("the encoder's mean is NaN or infinite for 3 of 20 examples (first: row 2)")

    monkeypatch.setattr(metrics, "evaluate", fail)
    rng = np.random.default_rng(20)
    dataset = SimpleNamespace(X=rng.standard_normal((20, 6)), N=6, params={})  # training needs X; evaluate is replaced
    data = SimpleNamespace(split=SimpleNamespace(train=dataset, heldout=dataset), train_view=dataset, theory=None)
    result = tasks.run_task(tasks.Task(settings_, 2.0, 1), data=data)
    assert result["status"] == "diverged" and result["metrics"] is None
    assert result["message"] == ("evaluation failed (beta = 2, realization 1): the encoder's mean is NaN or "
                                 "infinite for 3 of 20 examples (first: row 2)")


# --- every metric is invariant to the order of the rows -------------------------------------------

@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(21, 60), estimator=st.sampled_from(["exact", "sampling"]))
@example(seed=0, n=21, estimator="exact")
def test_every_metric_is_invariant_to_permuting_the_examples(seed, n, estimator):
    rng = np.random.default_rng(seed)
    model, dataset = linear_case(rng, n=n)
    dataset.S = np.round(dataset.S, 1)  # ties
    order = rng.permutation(n)
    permuted = SimpleNamespace(X=dataset.X[order], S=dataset.S[order], posterior_mean=dataset.posterior_mean[order],
                               posterior_cov=dataset.posterior_cov)
    reference = model.encode(dataset.X)[0][0] @ rotation_2d(0.3).T
    a = evaluate(model, dataset, 1.5, samples=30, estimator=estimator, seed=seed, reference_mean=reference)
    b = evaluate(model, permuted, 1.5, samples=30, estimator=estimator, seed=seed, reference_mean=reference[order])
    for name in SCALAR_METRICS:
        # a minimizer is fixed only to about sqrt(float64 epsilon): 1e-8 rad
        assert same(a[name], b[name], abs=1e-5 if name.endswith("angle_deg") else 1e-9), name
    assert a["kl_units"] == pytest.approx(b["kl_units"], rel=1e-12)
    assert a["alignment"] == b["alignment"]


def test_undefined_metrics_are_null_with_a_reason():
    model, dataset = linear_case(np.random.default_rng(19), n=15)
    m = evaluate(model, dataset, 1.0)
    assert m["mig"] is None and "at least 20 rows" in m["undefined"]["mig"]
    assert m["recon_mc_se"] is None and "quadrature" in m["undefined"]["recon_mc_se"]
    assert set(m["undefined"]) <= set(SCALAR_METRICS)
    assert all(m[name] is None for name in m["undefined"])


def test_deep_model_metrics_are_finite_and_units_collapse_with_large_beta():
    from betavae_sym.deep.model import Architecture
    from betavae_sym.deep.train import train

    rng = np.random.default_rng(12)
    S = rng.standard_normal((60, 2))
    A = rng.standard_normal((8, 2)) * 2
    X = S @ A.T + rng.standard_normal((60, 8))
    cov = np.linalg.inv(A.T @ A + np.eye(2))
    dataset = SimpleNamespace(X=X, S=S, posterior_mean=X @ A @ cov, posterior_cov=cov)
    arch = Architecture(N=8, k=2, encoder_hidden=(6,), decoder_hidden=(6,))
    m = {}
    for beta in (0.5, 200.0):
        result = train(X, beta, epochs=40, batch_size=20, architecture=arch, seed=1, dtype=np.float64)
        m[beta] = evaluate(result.model, dataset, beta)
    assert all(math.isfinite(m[0.5][name]) for name in SCALAR_METRICS if m[0.5][name] is not None)
    assert m[0.5]["mie"] >= -2 * m[0.5]["quadrature_error"]
    assert m[200.0]["kl"] < m[0.5]["kl"]
    assert m[200.0]["active_units"] <= m[0.5]["active_units"]


def test_a_summary_treats_null_metrics_as_missing(tmp_path):
    import json

    from betavae_sym.experiments.store import Store, create_store
    from betavae_sym.experiments.settings import SweepSettings
    from betavae_sym.experiments.sweep import summarize, summary_json
    from betavae_sym.experiments.tasks import Task

    settings_ = SweepSettings.preset("quick", dataset="positioned-digit", n=30, heldout=20)
    path, digest = tmp_path / "sweep.db", settings_.settings_hash
    create_store(path, settings_.identity(), digest, "test")
    store = Store(path, digest)
    for r, disentanglement in enumerate([None, 0.5, 0.7]):
        task = Task(settings_, 1.0, r)
        metrics = {name: 1.0 for name in SCALAR_METRICS}
        metrics.update(dci_disentanglement=disentanglement, reference_angle_deg=None, kl_units=[0.5, 0.5])
        store.write({"task_id": task.task_id, "beta": 1.0, "realization": r, "seed": str(task.seed),
                     "status": "done", "message": None, "metrics": metrics, "final_loss": 0.0, "train_seconds": 0.0,
                     "eval_seconds": 0.0, "version": "test", "host": "test", "params": None})
    store.close()
    summary = summarize(path)
    assert summary["count"] == [3]
    assert summary["metrics"]["dci_disentanglement"]["mean"] == [pytest.approx(0.6)]
    assert summary["metrics"]["dci_disentanglement"]["sem"] == [pytest.approx(math.sqrt(0.02) / math.sqrt(2))]
    assert json.loads(summary_json(summary))["metrics"]["reference_angle_deg"]["mean"] == [None]

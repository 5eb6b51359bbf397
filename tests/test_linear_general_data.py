"""The theory for a general data covariance: derivations, closed form vs numeric solver, Monte Carlo."""

import numpy as np
import pytest
from scipy import stats

from betavae_sym.errors import BadInput
from betavae_sym.linear import compiled
from betavae_sym.linear.gaussian_data import GaussianData
from betavae_sym.linear.metrics import permute_units
from betavae_sym.linear.mixing import paper_mixing
from betavae_sym.linear.problem import data_problem
from betavae_sym.linear.solver import closed_form_problem, solve_problem
from betavae_sym.linear.theory import exact_optimum
from betavae_sym.symbolic import general_data
from betavae_sym.symbolic.model import PARAMETERS


def _diagonal_noise(N, k, seed):
    """A random mixing matrix with diagonal, non-isotropic noise and a non-zero mean."""
    rng = np.random.default_rng(seed)
    return GaussianData.from_noise(rng.standard_normal((N, k)), rng.uniform(0.2, 2.0, N), rng.standard_normal(N))


def _sample(data, n, rng):
    """Rows x = A s + eta + mean with eta ~ N(0, diag(noise_var)), and their sources: (X (n, N), S (n, k))."""
    S = rng.standard_normal((n, data.k))
    return S @ data.A.T + rng.standard_normal((n, data.N)) * np.sqrt(data.noise_var) + data.mean, S


def test_general_noise_posterior_is_derived_from_the_joint_moments():
    assert len(general_data.verify_posteriors()) == 5


def test_per_example_metrics_agree_with_their_definitions_and_average_to_the_population_metrics():
    assert general_data.verify_per_example(((2, 1),)) == [(2, 1)]


def test_monte_carlo_residual_of_the_posterior_mean_is_uncorrelated_with_x_and_has_covariance_p_inverse():
    """Gaussian conditioning: s - F (x - mean) is independent of x with covariance P^{-1} (4 standard errors)."""
    data = _diagonal_noise(6, 2, 0)
    F, P = data.posterior()
    rng = np.random.default_rng(1)
    n = 200_000
    X, S = _sample(data, n, rng)
    residual = S - (X - data.mean) @ F.T
    for sample, expected in ((residual[:, :, None] * (X - data.mean)[:, None, :], np.zeros((2, 6))),
                             (residual[:, :, None] * residual[:, None, :], np.linalg.inv(P))):
        error = sample.std(axis=0, ddof=1) / np.sqrt(n)
        assert np.all(np.abs(sample.mean(axis=0) - expected) <= 4 * error)


def test_data_covariance_is_a_a_transpose_plus_the_noise_and_standardizing_keeps_the_posterior():
    data = _diagonal_noise(5, 2, 2)
    assert np.allclose(data.covariance(), data.A @ data.A.T + np.diag(data.noise_var), rtol=1e-14, atol=0)
    rng = np.random.default_rng(3)
    center, scale = rng.standard_normal(5), rng.uniform(0.5, 3, 5)
    standard = data.standardized(center, scale)
    x = rng.standard_normal(5)
    F, P = data.posterior()
    F_s, P_s = standard.posterior()
    # p(s|x) is the same distribution whichever invertible coordinates x is given in
    assert np.allclose(F_s @ ((x - center) / scale - standard.mean), F @ (x - data.mean), rtol=1e-12, atol=1e-12)
    assert np.allclose(P_s, P, rtol=1e-12, atol=0)
    assert np.allclose(standard.covariance(), data.covariance() / np.outer(scale, scale), rtol=1e-13, atol=0)


@pytest.mark.parametrize("N", [5, 12])  # 5: no reduction (n = N); 12: reduced to the 9 leading eigenvectors
def test_numeric_solver_matches_closed_form_on_diagonal_noise(N):
    problem = data_problem(_diagonal_noise(N, 2, N), sigma_y2=0.8)
    eigenvalues = np.linalg.eigvalsh(problem.Sigma_r)[::-1]
    for beta in (0.3, 1.0, 1.3 * eigenvalues[1] / 0.8):  # the last: unit 2 collapsed (beta sigma_y2 > lambda_2)
        numeric, closed = solve_problem(problem, beta, starts=3), closed_form_problem(problem, beta)
        assert numeric.converged and closed.converged
        for name, value in closed.metrics.items():
            assert abs(numeric.metrics[name] - value) <= 1e-9 * max(1.0, abs(value)), (beta, name)


@pytest.mark.parametrize("kind", ["noise", "covariance"])
def test_reduced_metrics_equal_the_full_size_computation(kind):
    """The exact reduction (leading eigenvectors + complement increments) against the full-size functions."""
    rng = np.random.default_rng(4)
    N, k = 14, 2
    A = rng.standard_normal((N, k))
    if kind == "noise":
        data = GaussianData.from_noise(A, rng.uniform(0.2, 2.0, N))
    else:
        R = rng.standard_normal((N, N))
        data = GaussianData.from_covariance(A @ A.T + R @ R.T / N + 0.1 * np.eye(N), A)
    theory = exact_optimum(data, [0.4, 1.0, 3.0], sigma_y2=0.9)
    assert theory.problem.n == 9
    F, P = data.posterior()
    full = permute_units(theory.problem.embed(theory.reduced), theory.tie_permutation)
    metrics = compiled.metrics_function(N, k)(*[full[name] for name in PARAMETERS], F, P, data.covariance(),
                                              theory.betas, 0.9)
    for name, value in metrics.items():
        assert np.allclose(theory.metrics[name], value, rtol=1e-11, atol=1e-11), name


def test_monte_carlo_of_the_optimum_on_rows_and_in_the_population():
    """Independent truth: log-densities by scipy, expectations over z ~ q(z|x) and rows x ~ p(x) by sampling.

    on_rows(X) must match the Monte Carlo average over the same rows (z sampled), and the population values
    the Monte Carlo average over fresh rows, each within 4 standard errors.
    """
    data = _diagonal_noise(6, 2, 5)
    theory = exact_optimum(data, [0.5, 1.7], sigma_y2=0.7)
    F, P = data.posterior()
    rng = np.random.default_rng(6)
    X, _ = _sample(data, 4000, rng)
    on_rows = theory.on_rows(X, average=False)
    params = theory.parameters()
    for i, beta in enumerate(theory.betas):
        W, b, bs, D, bD = (params[name][i] for name in ("W_mu", "b_mu", "b_sigma", "D", "b_D"))
        mu, sd = X @ W.T + b[:, 0], np.exp(bs[:, 0] / 2)  # W_sigma = 0 at the optimum
        z = mu + sd * rng.standard_normal(mu.shape)  # one z per row: the row's terms are unbiased estimates
        log_q = stats.norm.logpdf(z, mu, sd).sum(axis=1)
        recon = stats.norm.logpdf(X, z @ D.T + bD[:, 0], np.sqrt(0.7)).sum(axis=1)
        kl = log_q - stats.norm.logpdf(z).sum(axis=1)
        log_p = stats.multivariate_normal(bD[:, 0], D @ D.T + 0.7 * np.eye(6)).logpdf(X)
        tie = log_q - stats.multivariate_normal(np.zeros(2), np.linalg.inv(P)).logpdf(z - (X - data.mean) @ F.T)
        sampled = {"recon": recon, "kl": kl, "elbo": recon - kl, "objective": recon - beta * kl,
                   "mie": log_p - (recon - kl), "tie": tie, "log_likelihood": log_p}
        for name, sample in sampled.items():
            error = sample.std(ddof=1) / np.sqrt(len(sample))
            assert abs(sample.mean() - on_rows[name][i].mean()) <= 4 * error + 1e-12, (beta, name)
            population = np.sqrt(error**2 + (on_rows[name][i].std(ddof=1) / np.sqrt(len(X)))**2)
            assert abs(on_rows[name][i].mean() - theory.metrics[name][i]) <= 4 * population + 1e-12, (beta, name)


def test_bad_general_data_is_refused_with_the_parameter_named():
    A = paper_mixing(4, 2)
    for make, parameter in ((lambda: GaussianData.from_noise(A, [1.0, 1.0, -1.0, 1.0]), "noise_var"),
                            (lambda: GaussianData.from_noise(A, np.ones(3)), "noise_var"),
                            (lambda: GaussianData.from_covariance(np.eye(4), A), "sigma_x"),  # Sigma_x - A A^T < 0
                            (lambda: GaussianData.from_covariance(np.ones((4, 4)) + np.eye(4) * [1, 2, 3, 4] +
                                                                  np.triu(np.ones((4, 4)), 1), A), "sigma_x"),
                            (lambda: GaussianData.from_noise(A, 1.0).standardized(np.zeros(4), np.zeros(4)), "scale")):
        with pytest.raises(BadInput) as error:
            make()
        assert error.value.parameter == parameter
    with pytest.raises(BadInput) as error:
        exact_optimum(GaussianData.from_noise(A, 1.0), [1.0]).on_rows(np.ones((3, 5)))
    assert error.value.parameter == "X"


def test_exact_optimum_reports_whether_its_tie_is_one_member_of_a_larger_optimal_set():
    isotropic = exact_optimum(GaussianData.from_noise(paper_mixing(12, 3), 1.0), [0.5, 5.0])
    degenerate, collapsed = isotropic.tie_ranges()
    assert not degenerate.unique and degenerate.minimum <= isotropic.metrics["tie"][0] <= degenerate.maximum
    assert collapsed.unique and collapsed.minimum == isotropic.metrics["tie"][1]

"""Lambdified callables against independent truths: finite differences, mpmath, Monte Carlo, full size."""

import mpmath
import numpy as np
import sympy as sp
from scipy import stats

from betavae_sym.linear import compiled
from betavae_sym.linear.problem import make_problem
from betavae_sym.linear.solver import closed_form, solve
from betavae_sym.symbolic.closed_form import METRIC_METHODS, global_optimum
from betavae_sym.symbolic.model import PARAMETERS, LinearBetaVAE


def _random_point(N, k, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, k))
    params = {"W_mu": rng.standard_normal((k, N)) / 2, "b_mu": rng.standard_normal((k, 1)) / 2,
              "W_sigma": rng.standard_normal((k, N)) / 4, "b_sigma": rng.standard_normal((k, 1)) / 2,
              "D": rng.standard_normal((N, k)), "b_D": rng.standard_normal((N, 1)) / 2}
    return A, params


def _paper_data(A, sigma_eta2):
    """``(F, P, Sigma_x)`` of Eqs. 27-28, typed in NumPy: ``P = A^T A / sigma_eta2 + I``, ``F = P^{-1} A^T / sigma_eta2``."""
    P = A.T @ A / sigma_eta2 + np.eye(A.shape[1])
    return np.linalg.solve(P, A.T) / sigma_eta2, P, A @ A.T + sigma_eta2 * np.eye(A.shape[0])


def _arguments(params, A, beta, sigma_y2=0.7, sigma_eta2=1.3):
    return [params[name] for name in PARAMETERS] + [*_paper_data(A, sigma_eta2), beta, sigma_y2]


def test_lambdified_gradient_matches_central_differences():
    N, k, beta = 5, 2, 1.7
    A, params = _random_point(N, k, 0)
    objective, gradient = compiled.objective_function(N, k), compiled.gradient_function(N, k)
    blocks = dict(zip(PARAMETERS, gradient(*_arguments(params, A, beta))))
    h = 1e-6
    for name in PARAMETERS:
        for index in np.ndindex(params[name].shape):
            up, down = {n: v.copy() for n, v in params.items()}, {n: v.copy() for n, v in params.items()}
            up[name][index] += h
            down[name][index] -= h
            fd = (objective(*_arguments(up, A, beta)) - objective(*_arguments(down, A, beta))) / (2 * h)
            assert abs(fd - blocks[name][index]) <= 1e-7 * max(1.0, abs(fd)), (name, index)


def test_float64_matches_mpmath_at_50_digits_near_a_collapse_threshold():
    """Closed form and metrics in float64 vs the explicit SymPy model evaluated in 50-digit floats."""
    A = np.array([[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]])  # Sigma_x = diag(5, 1.25, 1)
    for beta in (0.7, 1.25 * (1 - 1e-7)):  # the second just below the threshold of unit 2
        numeric = closed_form(A, beta)
        m = LinearBetaVAE(3, 2, explicit=True)
        m.beta, m.sigma_y2, m.sigma_eta2 = sp.Float(beta, 50), sp.Integer(1), sp.Integer(1)
        optimum = global_optimum(m, sp.eye(3)[:, :2], sp.Matrix([5, sp.Rational(5, 4)]))
        for name in PARAMETERS:
            setattr(m, name, optimum[name].evalf(50))
        m.A = sp.Matrix(A).applyfunc(lambda v: sp.Float(v, 50))
        m.Sigma_x = sp.diag(5, sp.Rational(5, 4), 1)
        with mpmath.workdps(50):
            for name, method in METRIC_METHODS.items():
                exact = float(sp.N(getattr(m, method)(), 50))
                if name == "tie":  # numeric TIE is the best over signed permutations, so at most the identity's
                    assert numeric.metrics[name] <= exact + 1e-12
                else:
                    assert abs(numeric.metrics[name] - exact) <= 1e-12 * max(1.0, abs(exact)), name


def test_monte_carlo_objective_agrees_with_closed_expression_within_4_standard_errors():
    N, k, beta, sigma_y2, sigma_eta2 = 4, 2, 1.3, 0.7, 1.3
    A, params = _random_point(N, k, 5)
    closed = compiled.objective_function(N, k)(*_arguments(params, A, beta, sigma_y2, sigma_eta2))
    rng = np.random.default_rng(11)
    n = 200_000
    Sigma_x = A @ A.T + sigma_eta2 * np.eye(N)
    x = rng.multivariate_normal(np.zeros(N), Sigma_x, size=n)
    mu = x @ params["W_mu"].T + params["b_mu"][:, 0]
    var = np.exp(x @ params["W_sigma"].T + params["b_sigma"][:, 0])
    z = mu + np.sqrt(var) * rng.standard_normal((n, k))
    mean_x = z @ params["D"].T + params["b_D"][:, 0]
    log_lik = stats.norm.logpdf(x, mean_x, np.sqrt(sigma_y2)).sum(axis=1)
    log_q = stats.norm.logpdf(z, mu, np.sqrt(var)).sum(axis=1)
    log_p = stats.norm.logpdf(z).sum(axis=1)
    sample = log_lik - beta * (log_q - log_p)
    assert abs(sample.mean() - closed) <= 4 * sample.std(ddof=1) / np.sqrt(n)


def test_reduced_problem_equals_the_full_size_computation():
    N, k = 30, 2
    rng = np.random.default_rng(2)
    A = rng.standard_normal((N, k))
    for fix in (None, A):
        solution = solve(A, 0.8, fix_decoder=fix, starts=2)
        assert make_problem(A).n == 9
        full = [solution.parameters()[name] for name in PARAMETERS]
        args = full + [*_paper_data(A, 1.0), 0.8, 1.0]
        metrics = compiled.metrics_function(N, k)(*args)
        for name in ("objective", "elbo", "recon", "kl", "mie", "log_likelihood"):
            assert abs(metrics[name] - solution.metrics[name]) <= 1e-10 * max(1, abs(metrics[name])), name
        gradient = compiled.gradient_function(N, k)(*args)
        blocks = gradient[:4] if fix is not None else gradient
        assert max(np.max(np.abs(g)) for g in blocks) <= 1e-8

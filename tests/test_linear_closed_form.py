"""The closed form: symbolic stationarity, agreement with first-principles derivations, numeric Eq. 43."""

import numpy as np
import sympy as sp

from betavae_sym.linear.solver import closed_form
from betavae_sym.symbolic import closed_form as cf


def test_closed_form_solves_the_stationarity_system_symbolically():
    checked = cf.verify_stationarity(sizes=((1, 1), (2, 1), (3, 2)))
    assert len(checked) == 2 + 2 + 4  # every active/collapsed pattern at each size


def test_optimal_encoder_equals_the_component_wise_solution_of_the_gradient_equations():
    residuals = cf.encoder_derivation_residuals(2, 1)
    assert all(entry == 0 for block in residuals.values() for entry in block)


def test_untouched_dimension_adds_only_constants_to_recon_and_nothing_to_kl_mie_tie():
    increments = cf.isotropic_increment()
    assert increments["kl"] == increments["mie"] == increments["tie"] == 0
    s2, e2 = sp.Symbol("sigma_y^2", positive=True), sp.Symbol("sigma_eta^2", positive=True)
    # independent truth: E[-(x^2)/(2 s2)] - 1/2 log(2 pi s2) for x ~ N(0, e2)
    assert sp.simplify(increments["recon"] - (-e2 / (2 * s2) - sp.log(2 * sp.pi * s2) / 2)) == 0


def test_closed_form_satisfies_eq_43_numerically():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((7, 3))
    for beta in (0.2, 1.0, 2.5, 40.0):  # 40: every unit collapsed
        solution = closed_form(A, beta)
        assert solution.converged and solution.max_grad < 1e-11 * max(1, np.linalg.norm(A, 2) ** 2)


def test_collapsed_unit_has_the_prior_as_posterior():
    A = np.array([[3.0, 0.0], [0.0, 0.5], [0.0, 0.0]])  # Sigma_x eigenvalues 10, 1.25, 1
    solution = closed_form(A, 2.0)  # 1.25 <= beta sigma_y2 = 2: unit 2 collapses
    assert np.allclose(solution.D[:, 1], 0) and np.allclose(solution.W_mu[1], 0) and abs(solution.b_sigma[1, 0]) < 1e-15
    assert np.isclose(np.linalg.norm(solution.D[:, 0]) ** 2, 10 - 2)


def test_complement_increments_equal_the_derived_untouched_dimension_increments():
    """The numeric reduction's increments (lambdified metrics at size (1, k), weights zero) against
    :func:`isotropic_increment` (derived symbolically), and the TIE increment against lambda f^T P f / 2."""
    from betavae_sym.linear.problem import complement_increments

    s2, e2 = sp.Symbol("sigma_y^2", positive=True), sp.Symbol("sigma_eta^2", positive=True)
    derived = cf.isotropic_increment()
    P = np.array([[2.0, 0.3], [0.3, 1.5]])
    numeric = complement_increments(np.full(7, 1.3), None, P, 0.7)
    for name, expression in derived.items():
        exact = 7 * float(expression.subs({s2: 0.7, e2: 1.3}))
        assert abs(numeric[name] - exact) <= 1e-13 * max(1.0, abs(exact)), name
    rng = np.random.default_rng(0)
    variances, columns = rng.uniform(0.5, 2, 5), rng.standard_normal((2, 5))
    targeted = complement_increments(variances, columns, P, 0.7)
    expected = 0.5 * np.sum(variances * np.einsum("im,ij,jm->m", columns, P, columns))
    assert abs(targeted["tie"] - expected) <= 1e-13 * expected
    assert abs(targeted["recon"] - np.sum(-0.5 * np.log(2 * np.pi * 0.7) - variances / 1.4)) <= 1e-13 * 10

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

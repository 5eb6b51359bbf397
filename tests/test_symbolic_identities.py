"""Identities of the analytic model at random sizes and values, and the comparison engine itself.

Independent truths: central finite differences for the derived gradients; the
first-principles derivations for the closed matrix forms; the definition of a KL
(non-negative) for MIE and TIE; expressions built to have a known relation for
the comparison engine.
"""

from functools import lru_cache

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from betavae_sym.symbolic import derivations as dv
from betavae_sym.symbolic.compare import relate, relate_at_points
from betavae_sym.symbolic.gaussian import verify_moment_identities
from betavae_sym.symbolic.model import PARAMETERS

SIZES = st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2), (3, 1)])


@lru_cache(maxsize=None)
def compiled(N, k):
    """Lambdified derived objective and gradients, matrix forms, and MIE/TIE/evidence at (N, k)."""
    m = dv.model(N, k)
    L = dv.averaged_objective(N, k)
    symbols = [m.beta, m.sigma_y2, m.sigma_eta2]
    for name in PARAMETERS + ("A",):
        symbols += list(getattr(m, name))
    symbols += sorted(m.Sigma_x.free_symbols, key=str)
    derived_gradients = [dv.gradient(m, L, p) for p in PARAMETERS]
    matrix_gradients = [m.gradient(p) for p in PARAMETERS]
    f = sp.lambdify(symbols, [L, m.objective(), m.mie(), m.tie(), m.log_likelihood(), m.elbo()], "mpmath")
    g = sp.lambdify(symbols, [list(d) for d in derived_gradients] + [list(mg) for mg in matrix_gradients], "mpmath")
    return m, symbols, f, g


def point(N, k, seed):
    """Random values in the order of ``compiled``'s symbols; Sigma_x = A A^T + sigma_eta2 I (Eq. 27)."""
    rng = np.random.default_rng(seed)
    beta, s_y, s_eta = rng.uniform(0.2, 3), rng.uniform(0.5, 2), rng.uniform(0.5, 2)
    params = [rng.normal(0, 0.5, size) for size in (k * N, k, k * N, k, N * k, N)]
    A = rng.normal(0, 1, (N, k))
    sigma_x = A @ A.T + s_eta * np.eye(N)
    m = dv.model(N, k)
    by_symbol = {m.Sigma_x[i, j]: sigma_x[i, j] for i in range(N) for j in range(i, N)}
    sigma_values = [by_symbol[s] for s in sorted(m.Sigma_x.free_symbols, key=str)]
    return [beta, s_y, s_eta] + [v for p in params for v in p] + list(A.ravel()) + sigma_values


def test_gaussian_moment_identities_hold_by_integration():
    checks = verify_moment_identities()
    assert len(checks) == 4 and all(c.holds for c in checks)


@settings(max_examples=8, deadline=None)
@given(size=SIZES, seed=st.integers(0, 10**6))
def test_derived_gradients_match_central_finite_differences(size, seed):
    N, k = size
    m, symbols, f, g = compiled(N, k)
    values = point(N, k, seed)
    first_param = 3
    n_params = sum(getattr(m, p).shape[0] * getattr(m, p).shape[1] for p in PARAMETERS)
    analytic = [float(v) for block in g(*values)[:len(PARAMETERS)] for v in block]
    h = 1e-6
    for i in range(n_params):
        up, down = list(values), list(values)
        up[first_param + i] += h
        down[first_param + i] -= h
        numeric = (float(f(*up)[0]) - float(f(*down)[0])) / (2 * h)
        assert abs(numeric - analytic[i]) <= 1e-5 * max(1.0, abs(analytic[i])), (i, numeric, analytic[i])


@settings(max_examples=8, deadline=None)
@given(size=SIZES, seed=st.integers(0, 10**6))
def test_matrix_forms_equal_first_principles_derivations(size, seed):
    N, k = size
    _, _, f, g = compiled(N, k)
    values = point(N, k, seed)
    derived_objective, matrix_objective = (float(v) for v in f(*values)[:2])
    assert abs(derived_objective - matrix_objective) <= 1e-10 * max(1.0, abs(derived_objective))
    blocks = g(*values)
    for derived, matrix in zip(blocks[:len(PARAMETERS)], blocks[len(PARAMETERS):]):
        assert np.allclose(np.array(derived, float), np.array(matrix, float), rtol=1e-10, atol=1e-10)


@settings(max_examples=8, deadline=None)
@given(size=SIZES, seed=st.integers(0, 10**6))
def test_mie_is_log_likelihood_minus_elbo_and_errors_are_nonnegative(size, seed):
    N, k = size
    _, _, f, _ = compiled(N, k)
    _, _, mie, tie, log_likelihood, elbo = (float(v) for v in f(*point(N, k, seed)))
    assert abs(mie - (log_likelihood - elbo)) <= 1e-10 * max(1.0, abs(log_likelihood))
    assert mie >= 0 and tie >= 0


def test_relate_classifies_known_relations():
    x, y, beta = sp.symbols("x y beta", real=True)
    variables = {x, y}
    derived = sp.exp(x) * y + x**2 / (1 + y**2)
    assert relate(sp.expand(derived * (1 + y**2)) / (1 + y**2), derived, variables).kind == "equal"
    constant = relate(derived + beta / 2 - sp.log(2 * sp.pi), derived, variables)
    assert constant.kind == "constant" and sp.simplify(constant.detail - (beta / 2 - sp.log(2 * sp.pi))) == 0
    scaled = relate(sp.Matrix([-2 * derived, -2 * x]), sp.Matrix([derived, x]), variables)
    assert scaled.kind == "scaled" and scaled.detail == -2
    assert relate(derived + x, derived, variables).kind == "different"
    assert relate(sp.Matrix([x, y]), sp.Matrix([[x, y]]), variables).kind == "ill-formed"


def test_relate_at_points_classifies_known_relations():
    beta = sp.Symbol("beta", positive=True)

    def pairs(printed, derived):
        rng = np.random.default_rng(3)
        out = []
        for _ in range(3):
            at = {s: sp.Rational(int(rng.integers(1, 40)), int(rng.integers(2, 30))) for s in sp.symbols("x y")}
            out.append((printed.xreplace(at), derived.xreplace(at)))
        return out

    x, y = sp.symbols("x y")
    derived = sp.exp(x / 3) * y + beta * x / (1 + y**2)
    assert relate_at_points(pairs(derived, derived)).kind == "equal"
    constant = relate_at_points(pairs(derived + beta / 2 - sp.log(2 * sp.pi), derived))
    assert constant.kind == "constant" and sp.simplify(constant.detail - (beta / 2 - sp.log(2 * sp.pi))) == 0
    scaled = relate_at_points(pairs(-2 * derived, derived))
    assert scaled.kind == "scaled" and scaled.detail == -2
    assert relate_at_points(pairs(derived + x * y, derived)).kind == "different"

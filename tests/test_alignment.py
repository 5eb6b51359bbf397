"""The shared alignment: signed permutations, best orthogonal maps, angles between axes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from betavae_sym.alignment import (MAX_EXACT_ALIGNMENT_K, OrthogonalQuadratic, axes_angle_between, axes_angle_deg,
                                   axes_angles_deg, best_orthogonal, best_signed_permutation,
                                   nearest_signed_permutation, permutation_and_signs, rotation_2d,
                                   signed_permutations)


def random_quadratic(rng, k, planted=None):
    """``f(Q) = 1/2 |L^T (Q A - B)|_F^2`` (left = L L^T, right = A A^T, linear = A B^T L L^T); zero at ``planted``."""
    L = rng.standard_normal((k, k)) + 2 * np.eye(k)
    A = rng.standard_normal((k, 3 * k))
    B = planted @ A if planted is not None else rng.standard_normal((k, 3 * k))
    left = L @ L.T
    f = OrthogonalQuadratic(left, A @ A.T, A @ B.T @ left, 0.5 * float(np.sum((L.T @ B) ** 2)))
    return f, lambda Q: 0.5 * np.sum((L.T @ (Q @ A - B)) ** 2)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_signed_permutations_are_all_distinct_orthogonal_and_start_with_the_identity(k):
    P = signed_permutations(k)
    assert len(P) == 2**k * math.factorial(k)
    assert np.array_equal(P[0], np.eye(k))
    assert len({p.tobytes() for p in P}) == len(P)
    assert np.allclose(P @ np.swapaxes(P, 1, 2), np.eye(k))
    assert np.all(np.sum(np.abs(P), axis=2) == 1)


def test_permutation_and_signs_read_the_matrix():
    P = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert permutation_and_signs(P) == ([1, 2, 0], [-1.0, 1.0, 1.0])


@pytest.mark.parametrize("k", [2, 3])
def test_the_exhaustive_search_finds_the_brute_force_minimum(k):
    rng = np.random.default_rng(k)
    f, direct = random_quadratic(rng, k)
    value, P, exact = best_signed_permutation(f.value, k)
    brute = min(direct(Q) for Q in signed_permutations(k))
    assert exact and value == pytest.approx(brute, rel=1e-12)
    assert direct(P) == pytest.approx(value, rel=1e-12)


def test_above_the_exhaustive_limit_the_local_search_improves_on_the_identity_and_says_so():
    k = MAX_EXACT_ALIGNMENT_K + 1
    rng = np.random.default_rng(3)
    truth = np.eye(k)[rng.permutation(k)] * rng.choice([-1.0, 1.0], k)[:, None]
    f, direct = random_quadratic(rng, k, planted=truth)
    value, P, exact = best_signed_permutation(f.value, k)
    assert not exact
    assert value <= direct(np.eye(k)) and np.allclose(np.abs(P).sum(axis=1), 1)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_the_gradient_matches_central_differences(k):
    rng = np.random.default_rng(10 + k)
    f, _ = random_quadratic(rng, k)
    Q = ortho_group.rvs(k, random_state=1)
    numeric = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            E = np.zeros((k, k))
            E[i, j] = 1e-6
            numeric[i, j] = (f.value(Q + E) - f.value(Q - E)) / 2e-6
    assert np.allclose(f.gradient(Q), numeric, rtol=1e-6, atol=1e-6)


def test_the_two_dimensional_search_equals_a_dense_scan_of_both_components():
    rng = np.random.default_rng(5)
    for _ in range(5):
        f, direct = random_quadratic(rng, 2)
        result = best_orthogonal(f)
        theta = np.linspace(0, 2 * np.pi, 200_001)
        scan = min(f.value(rotation_2d(theta, reflect)).min() for reflect in (False, True))
        assert result.exact
        assert scan - 1e-9 * abs(scan) <= result.value <= scan + 1e-9
        assert direct(result.Q) == pytest.approx(result.value, rel=1e-10)
        assert np.allclose(result.Q @ result.Q.T, np.eye(2))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 4))
@example(seed=0, k=2)
def test_a_planted_orthogonal_map_is_recovered(seed, k):
    rng = np.random.default_rng(seed)
    truth = ortho_group.rvs(k, random_state=rng)
    f, _ = random_quadratic(rng, k, planted=truth)
    result = best_orthogonal(f, seed=1)
    assert result.value == pytest.approx(0.0, abs=1e-8 * max(1.0, f.constant))
    assert np.allclose(result.Q, truth, atol=1e-5)
    assert result.value <= best_signed_permutation(f.value, k)[0] + 1e-12


@pytest.mark.parametrize("degrees, expected", [(0, 0), (17, 17), (45, 45), (60, 30), (100, 10), (-130, 40), (200, 20)])
def test_the_axes_angle_of_a_rotation_is_its_distance_to_the_nearest_quarter_turn(degrees, expected):
    Q = rotation_2d(np.radians(degrees))
    assert axes_angle_deg(Q) == pytest.approx(expected, abs=1e-9)
    # a reflection or a relabelling of the units changes nothing
    assert axes_angle_deg(Q @ np.diag([1.0, -1.0])) == pytest.approx(expected, abs=1e-9)
    assert axes_angle_deg(np.array([[0.0, 1.0], [1.0, 0.0]]) @ Q) == pytest.approx(expected, abs=1e-9)


def test_the_axes_angle_of_a_three_dimensional_rotation_is_its_rotation_angle():
    from scipy.spatial.transform import Rotation

    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    Q = Rotation.from_rotvec(np.radians(25.0) * axis).as_matrix()
    assert axes_angle_deg(Q) == pytest.approx(25.0, abs=1e-9)
    assert axes_angle_deg(signed_permutations(3)[17] @ Q) == pytest.approx(25.0, abs=1e-9)
    assert np.allclose(axes_angles_deg(Q), [25.0, 25.0, 0.0], atol=1e-9)


def test_two_planes_turned_by_different_angles_give_both_angles():
    Q = np.zeros((4, 4))
    Q[:2, :2], Q[2:, 2:] = rotation_2d(np.radians(10.0)), rotation_2d(np.radians(-30.0))
    assert np.allclose(axes_angles_deg(Q), [30.0, 30.0, 10.0, 10.0], atol=1e-9)


def test_nearest_signed_permutation_maximizes_the_trace_over_all_of_them():
    for seed in range(5):
        Q = ortho_group.rvs(3, random_state=seed)
        P = nearest_signed_permutation(Q)
        assert np.trace(P.T @ Q) == pytest.approx(max(np.trace(C.T @ Q) for C in signed_permutations(3)))


def test_procrustes_angle_recovers_a_rotation_between_two_codes_whatever_their_scale_and_offset():
    rng = np.random.default_rng(6)
    reference = rng.standard_normal((500, 2)) * [2.0, 0.7]
    codes = 3.0 * reference @ rotation_2d(np.radians(33.0)).T + [1.0, -2.0]  # turned 33 degrees
    assert axes_angle_between(codes, reference) == pytest.approx(33.0, abs=1e-9)
    assert axes_angle_between(reference, reference[:, ::-1] * [-1, 1]) == pytest.approx(0.0, abs=1e-9)

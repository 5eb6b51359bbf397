"""Aligning latent codes: signed permutations, the best orthogonal map, the angle between codes' axes.

A beta-VAE's objective is invariant to signed permutations of its latent units
and nearly invariant to their rotations; a comparison with ground-truth
sources (TIE, paper Eqs. 45-46) is not. This module holds the one alignment
search used by the analytic metrics (``linear.metrics``) and the deep metrics
(``experiments.metrics``), and its rotation-aware counterpart. Pure NumPy/SciPy.

Conventions: a k x k orthogonal matrix Q maps a code z to ``Q z`` (column
vectors); codes stored as rows ``(n, k)`` map to ``codes @ Q.T``. A signed
permutation P has ``P[i, perm[i]] = signs[i]``: unit ``perm[i]`` times
``signs[i]`` is matched to source i.

Objectives over Q are :class:`OrthogonalQuadratic`: ``f(Q) = 1/2 tr(left Q
right Q^T) - tr(linear Q) + constant``, the form every mean Gaussian KL
``mean_x KL(N(Q mu, Q Sigma Q^T) || N(m, C))`` takes (see
``experiments.metrics.tie_objective``).

Search methods
--------------
* signed permutations (:func:`best_signed_permutation`): all ``2^k k!`` for
  ``k <= MAX_EXACT_ALIGNMENT_K`` (46,080 at k = 6, in chunks); above, a local
  search from the identity (the best single sign flip or swap of two units,
  repeated until none improves) gives an upper bound.
* orthogonal maps (:func:`best_orthogonal`): k = 1: both signs. k = 2: exact,
  each of the two components (rotations by theta and rotations followed by a
  reflection) on a grid of 1440 angles (every signed permutation on it), the
  four lowest grid local minima refined by bounded Brent (``xatol`` 1e-12
  rad); ``f`` is a trigonometric polynomial of degree 2 in theta, so it has at
  most two local minima per component, several grid steps wide. k >= 3: a
  feasible descent along the Cayley curves ``Y(tau) = (I + tau A/2)^-1 (I -
  tau A/2) Q``, ``A = G Q^T - Q G^T`` (G the gradient), with Barzilai-Borwein
  steps and Armijo backtracking (Wen & Yin 2013, "A feasible method for
  optimization with orthogonality constraints"), from the best signed
  permutation and ``starts`` Haar-random orthogonal matrices
  (``scipy.stats.ortho_group``, seeded); a local method, so the result is an
  upper bound on the minimum, never above the best signed permutation's value.

Angles
------
:func:`axes_angles_deg` are the principal angles (degrees) of ``P^T Q``, P
the signed permutation nearest to Q (largest ``tr(P^T Q)``, by
``scipy.optimize.linear_sum_assignment``): how far Q turns the axes beyond
relabelling them; :func:`axes_angle_deg` is the largest. For k = 2 it lies in
[0, 45] when ``P^T Q`` is a rotation; 180 marks a reflection no signed
permutation removes (possible only for k >= 3).
:func:`axes_angle_between` applies it to the orthogonal Procrustes map
(``scipy.linalg.orthogonal_procrustes``) from one code's centred rows to
another's on the same examples; Procrustes fits the directions of largest
spread first, so axes of very different spread weigh unequally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product
from typing import Callable

import numpy as np

#: Largest k for which alignments search all 2^k k! signed permutations.
MAX_EXACT_ALIGNMENT_K = 6
#: Grid angles per component for the exact k = 2 search (every 0.25 degrees, multiples of 90 included).
ANGLE_GRID = 1440

#: Largest number of steps, and the stopping gradient (relative to 1 + |f|), of the descent for k >= 3.
DESCENT_STEPS, DESCENT_GTOL = 5000, 1e-11

_CHUNK = 4096


@lru_cache(maxsize=None)
def signed_permutations(k: int) -> np.ndarray:
    """All ``2^k k!`` signed permutation matrices, shape (M, k, k), the identity first (read-only)."""
    matrices = []
    for order in permutations(range(k)):
        for signs in product((1.0, -1.0), repeat=k):
            P = np.zeros((k, k))
            P[np.arange(k), order] = signs
            matrices.append(P)
    array = np.array(matrices)
    array.flags.writeable = False
    return array


def permutation_and_signs(P: np.ndarray) -> tuple[list[int], list[float]]:
    """``(perm, signs)`` of a signed permutation matrix: ``P[i, perm[i]] = signs[i]``."""
    perm = np.argmax(np.abs(P), axis=1)
    return perm.tolist(), P[np.arange(len(P)), perm].tolist()


def best_signed_permutation(objective: Callable[[np.ndarray], np.ndarray], k: int) -> tuple[float, np.ndarray, bool]:
    """The signed permutation minimizing ``objective``; see the module docstring.

    Parameters
    ----------
    objective : callable, ``(M, k, k) -> (M,)``
        Values at a stack of signed permutations.
    k : int

    Returns
    -------
    value : float
    P : ndarray, (k, k)
    exact : bool
        True when all signed permutations were searched (``k <= MAX_EXACT_ALIGNMENT_K``).
    """
    if k <= MAX_EXACT_ALIGNMENT_K:
        candidates = signed_permutations(k)
        values = np.concatenate([np.asarray(objective(candidates[i:i + _CHUNK]), dtype=float)
                                 for i in range(0, len(candidates), _CHUNK)])
        best = int(np.argmin(values))
        return float(values[best]), candidates[best].copy(), True
    moves = [np.diag(np.where(np.arange(k) == i, -1.0, 1.0)) for i in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            swap = np.eye(k)
            swap[[i, j]] = swap[[j, i]]
            moves.append(swap)
    moves = np.array(moves)
    P = np.eye(k)
    value = float(objective(P[None])[0])
    while True:
        trial = moves @ P
        values = np.asarray(objective(trial), dtype=float)
        best = int(np.argmin(values))
        if not values[best] < value:
            return value, P, False
        value, P = float(values[best]), trial[best]


@dataclass(frozen=True)
class OrthogonalQuadratic:
    """``f(Q) = 1/2 tr(left Q right Q^T) - tr(linear Q) + constant`` for orthogonal Q (k, k).

    ``left``, ``right``: symmetric (k, k); ``linear``: (k, k); ``constant``: float.
    """

    left: np.ndarray
    right: np.ndarray
    linear: np.ndarray
    constant: float

    @property
    def k(self) -> int:
        return self.left.shape[0]

    def value(self, Q: np.ndarray) -> np.ndarray:
        """``f`` at ``Q: (..., k, k)`` -> ``(...)``."""
        quadratic = np.einsum("ij,...jl,lm,...im->...", self.left, Q, self.right, Q)
        return 0.5 * quadratic - np.einsum("ij,...ji->...", self.linear, Q) + self.constant

    def gradient(self, Q: np.ndarray) -> np.ndarray:
        """Euclidean gradient ``df/dQ = left Q right - linear^T`` at ``Q: (k, k)``."""
        return self.left @ Q @ self.right - self.linear.T


@dataclass(frozen=True)
class OrthogonalResult:
    """The best orthogonal map found.

    Attributes
    ----------
    value : float
        ``f(Q)``.
    Q : ndarray, (k, k)
    exact : bool
        True when ``value`` is the global minimum (k <= 2), False for a local search's best.
    method : str
    starts : int
        Starting points of the search (0 for the exact methods).
    """

    value: float
    Q: np.ndarray
    exact: bool
    method: str
    starts: int


def rotation_2d(theta: np.ndarray, reflect: bool = False) -> np.ndarray:
    """``[[cos, -sin], [sin, cos]]`` at each angle (radians), times ``diag(1, -1)`` with ``reflect``: (..., 2, 2)."""
    c, s = np.cos(theta), np.sin(theta)
    sign = -1.0 if reflect else 1.0
    return np.stack([np.stack([c, -sign * s], axis=-1), np.stack([s, sign * c], axis=-1)], axis=-2)


def best_orthogonal(f: OrthogonalQuadratic, *, starts: int = 8, seed=0) -> OrthogonalResult:
    """The orthogonal Q minimizing ``f`` (methods in the module docstring).

    ``starts`` and ``seed`` (``numpy.random.default_rng(seed)``) matter only for k >= 3.
    """
    k = f.k
    if k == 1:
        candidates = np.array([[[1.0]], [[-1.0]]])
        values = f.value(candidates)
        best = int(np.argmin(values))
        return OrthogonalResult(float(values[best]), candidates[best], True, "both signs", 0)
    if k == 2:
        return _best_orthogonal_2d(f)
    return _best_orthogonal_descent(f, starts, seed)


def _best_orthogonal_2d(f: OrthogonalQuadratic) -> OrthogonalResult:
    from scipy.optimize import minimize_scalar

    grid = np.arange(ANGLE_GRID) * (2.0 * math.pi / ANGLE_GRID)
    step = grid[1]
    best = (math.inf, None)
    for reflect in (False, True):
        values = f.value(rotation_2d(grid, reflect))
        minima = np.flatnonzero((values <= np.roll(values, 1)) & (values <= np.roll(values, -1)))
        for j in minima[np.argsort(values[minima])][:4]:  # at most two true minima; more only on plateaus
            if values[j] < best[0]:
                best = (float(values[j]), rotation_2d(grid[j], reflect))
            refined = minimize_scalar(lambda theta: float(f.value(rotation_2d(theta, reflect))), method="bounded",
                                      bounds=(grid[j] - step, grid[j] + step), options={"xatol": 1e-12})
            if refined.fun < best[0]:
                best = (float(refined.fun), rotation_2d(refined.x, reflect))
    return OrthogonalResult(best[0], best[1], True, "angle grid + bounded Brent", 0)


def _curvilinear_descent(f: OrthogonalQuadratic, Q: np.ndarray) -> tuple[float, np.ndarray]:
    """A local minimum of ``f`` from the orthogonal ``Q`` (Wen & Yin 2013; module docstring)."""
    k = len(Q)
    identity = np.eye(k)

    def direction(Q):
        G = f.gradient(Q)
        return G @ Q.T - Q @ G.T  # skew: the descent curve is Y(tau) = (I + tau A / 2)^-1 (I - tau A / 2) Q

    value, A, tau = float(f.value(Q)), direction(Q), 1.0
    for _ in range(DESCENT_STEPS):
        slope = 0.5 * float(np.sum(A * A))  # -dF(Y(tau))/dtau at tau = 0
        if math.sqrt(slope) <= DESCENT_GTOL * (1.0 + abs(value)):
            break
        while True:
            Y = np.linalg.solve(identity + 0.5 * tau * A, (identity - 0.5 * tau * A) @ Q)
            trial = float(f.value(Y))
            if trial <= value - 1e-4 * tau * slope or tau < 1e-20:
                break
            tau *= 0.5
        if not trial < value:
            break
        A_new = direction(Y)
        step, change = Y - Q, A_new @ Y - A @ Q
        curvature = abs(float(np.sum(step * change)))
        tau = float(np.sum(step * step)) / curvature if curvature > 0 else 1.0  # Barzilai-Borwein
        Q, value, A = Y, trial, A_new
    U, _, Vt = np.linalg.svd(Q)  # the polar factor: exactly orthogonal
    return float(f.value(U @ Vt)), U @ Vt


def _best_orthogonal_descent(f: OrthogonalQuadratic, starts: int, seed) -> OrthogonalResult:
    from scipy.stats import ortho_group

    value, P, _ = best_signed_permutation(f.value, f.k)
    best = (value, P)
    rng = np.random.default_rng(seed)
    initial = [P] + [ortho_group.rvs(f.k, random_state=rng) for _ in range(starts)]
    for Q0 in initial:
        candidate = _curvilinear_descent(f, Q0)
        if candidate[0] < best[0]:
            best = candidate
    return OrthogonalResult(best[0], best[1], False, "curvilinear descent (Wen & Yin 2013)", len(initial))


def nearest_signed_permutation(Q: np.ndarray) -> np.ndarray:
    """The signed permutation P maximizing ``tr(P^T Q)``, ``Q: (k, k)`` -> ``(k, k)``."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-np.abs(Q))
    P = np.zeros_like(Q, dtype=float)
    P[rows, cols] = np.where(Q[rows, cols] < 0, -1.0, 1.0)
    return P


def axes_angles_deg(Q: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, descending) of ``P^T Q``, P the nearest signed permutation: ``(k,)``.

    The eigenvalues of an orthogonal matrix are ``exp(+-i phi)`` pairs and +-1;
    each is listed by its |phase| (a rotation by phi in a plane gives phi twice).
    """
    R = nearest_signed_permutation(Q).T @ Q
    return np.sort(np.degrees(np.abs(np.angle(np.linalg.eigvals(R)))))[::-1]


def axes_angle_deg(Q: np.ndarray) -> float:
    """The largest of :func:`axes_angles_deg` (module docstring); 0 for k = 0."""
    angles = axes_angles_deg(Q)
    return float(angles[0]) if angles.size else 0.0


def procrustes_map(codes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Orthogonal Q minimizing ``sum_rows |Q z - r|^2`` over the centred rows; ``(n, k), (n, k) -> (k, k)``."""
    from scipy.linalg import orthogonal_procrustes

    R, _ = orthogonal_procrustes(codes - codes.mean(axis=0), reference - reference.mean(axis=0))
    return R.T


def axes_angle_between(codes: np.ndarray, reference: np.ndarray) -> float:
    """Angle (degrees) between two codes' latent axes on the same rows: :func:`axes_angle_deg` of the Procrustes map."""
    return axes_angle_deg(procrustes_map(codes, reference))

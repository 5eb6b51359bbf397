"""When the optimum is not unique: the range of TIE over the optimal set (issue 14).

The closed form (:mod:`betavae_sym.symbolic.closed_form`, step 4) takes the
decoder's directions as eigenvectors of ``Sigma_x``. Where ``u`` active units
share an eigenvalue whose eigenspace has dimension ``g >= u`` (the paper's
A for k >= 3 has k - 1 equal eigenvalues), any orthonormal basis of u
directions in that eigenspace is as good: the optimal set is
``{U_G V : V (g, u) with orthonormal columns}`` for each such group ``G``, all
members with the same objective, ELBO, reconstruction, KL and MIE, but not the
same TIE. (Units collapsed at the prior, and a fixed decoder, leave nothing to
choose.)

TIE over the set, computed properly:

* on the set, TIE with the units relabelled by a signed permutation ``Pi`` is
  affine in the group bases, ``a + sum_G <C_G, V_G>`` (its quadratic part
  ``Tr(P W Sigma_x W^T)`` is constant there: ``V^T U_G^T Sigma_x U_G V = lambda I``);
  ``a`` and ``C`` are fitted by least squares to the lambdified TIE at random
  members (seeded), and the fit is checked (:data:`AFFINE_TOLERANCE`);
* relabelling units inside a group is a change of ``V``, so only the signed
  permutations that keep each group's units in order and sign (one per coset)
  need a fit, and the best relabelling inside the groups is a linear
  assignment (``scipy.optimize.linear_sum_assignment``);
* the minimum over the set of the aligned TIE is exact:
  ``min_Pi (a - sum_G ||C_G||_*)`` (nuclear norms; the minimizing ``V`` from an SVD);
* the maximum of the aligned TIE (a maximum of a minimum over relabellings) is
  found by Powell's method over ``V_G = cay(S_G) V0_G`` (the Cayley transform
  ``(I - S)^{-1} (I + S)`` of a skew-symmetric ``S_G``, a rotation) from
  the closed form's own member, the best coset maximizers and random members:
  the largest value found, a lower bound on the maximum.

Both ends are recomputed by the lambdified TIE at their members, with the
relabelling that minimizes it over all signed permutations (for k <= 6 the same
as :func:`betavae_sym.linear.metrics.evaluate`; for larger k its local search
may find a larger TIE).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product

import numpy as np

from betavae_sym.linear.metrics import evaluate, permute_units
from betavae_sym.linear.problem import Problem
from betavae_sym.linear.solver import closed_form_parameters, leading_eigenpairs

#: Eigenvalues within this fraction of ``max(1, lambda_max)`` count as equal (the numeric solver's
#: gradient tolerance is the same fraction: splittings below it do not fix the optimum in float64).
DEGENERACY_TOLERANCE = 1e-9

#: Largest misfit of the affine model of TIE on the set, relative to ``max(1, |TIE|)``.
AFFINE_TOLERANCE = 1e-7

#: Random members (besides the closed form's own and the coset maximizers) that start the search for the maximum.
RANDOM_STARTS = 2

#: Powell evaluations per parameter of the maximum's search, at most.
POWELL_EVALUATIONS = 200


@dataclass(frozen=True)
class Group:
    """Units sharing an eigenvalue: ``units`` (u,) indices of the active units, ``directions`` (g,) indices
    (largest eigenvalue first) of the eigenspace's eigenvectors in the reduced space, ``g >= u >= 1``."""

    units: tuple
    directions: tuple


@dataclass(frozen=True)
class TieRange:
    """TIE (aligned, nats, averaged over p(x)) over the optimal set at one beta: ``minimum``, ``maximum``;
    ``unique`` when the set is one point up to signed permutations (then both are the closed form's TIE)."""

    minimum: float
    maximum: float
    unique: bool


def degenerate_groups(problem: Problem, beta: float) -> list[Group]:
    """The groups of at least two directions sharing the eigenvalue of an active unit (``lambda > beta sigma_y2``);
    empty when the optimum is unique up to signed permutations (always with a fixed decoder)."""
    if problem.D_r is not None:
        return []
    eigenvalues = np.linalg.eigvalsh(problem.Sigma_r)[::-1]
    tolerance = DEGENERACY_TOLERANCE * max(1.0, float(eigenvalues[0]))
    groups, start = [], 0
    while start < problem.k:
        stop = start + 1
        while stop < len(eigenvalues) and eigenvalues[start] - eigenvalues[stop] <= tolerance:
            stop += 1
        units = tuple(i for i in range(start, min(stop, problem.k)) if eigenvalues[i] > beta * problem.sigma_y2)
        if stop - start > 1 and units:
            groups.append(Group(units=units, directions=tuple(range(start, stop))))
        start = stop
    return groups


@lru_cache(maxsize=None)
def _coset_representatives(k: int, groups: tuple) -> np.ndarray:
    """One signed permutation (k, k) per coset of the relabellings inside the groups (``groups``: tuples of
    units): each group's units go to increasing positions with sign +1; the other units anywhere, either sign."""
    in_group = {unit for group in groups for unit in group}
    singles = [unit for unit in range(k) if unit not in in_group]
    representatives = []
    for position in permutations(range(k)):
        if any(list(np.array(position)[list(group)]) != sorted(np.array(position)[list(group)]) for group in groups):
            continue
        for signs in product((1.0, -1.0), repeat=len(singles)):
            P = np.zeros((k, k))
            P[list(position), list(range(k))] = 1.0
            for unit, sign in zip(singles, signs):
                P[position[unit], unit] = sign
            representatives.append(P)
    return np.array(representatives)


def random_orthonormal(rng: np.random.Generator, g: int, u: int, count: int) -> np.ndarray:
    """``count`` random (g, u) matrices with orthonormal columns (Haar, by QR with the sign fix)."""
    Q, R = np.linalg.qr(rng.standard_normal((count, g, u)))
    return Q * np.sign(np.diagonal(R, axis1=-2, axis2=-1))[:, None, :]


class OptimalSet:
    """The members of the optimal set at ``beta`` as functions of the group bases ``V`` (one (g, u) per
    :class:`Group` of ``groups``, from :func:`degenerate_groups`)."""

    def __init__(self, problem: Problem, beta: float, groups: list[Group]):
        self.problem, self.beta, self.groups = problem, beta, groups
        self.U, self.lam = leading_eigenpairs(problem)
        eigenvectors = np.linalg.eigh(problem.Sigma_r)[1][:, ::-1]
        self.bases = [eigenvectors[:, list(group.directions)] for group in groups]
        self.sizes = [(len(group.directions), len(group.units)) for group in groups]

    def own(self) -> list[np.ndarray]:
        """The closed form's own member: each group's units on its first u eigenvectors."""
        return [np.eye(g, u) for g, u in self.sizes]

    def parameters(self, V: list[np.ndarray]) -> dict:
        """Reduced parameters of the members with group bases ``V`` (each (S, g, u)): batch shape (S,)."""
        U = np.array(np.broadcast_to(self.U, (len(V[0]), *self.U.shape)))
        for group, basis, block in zip(self.groups, self.bases, V):
            U[:, :, list(group.units)] = basis @ block
        return closed_form_parameters(self.problem, np.full(len(V[0]), self.beta), basis=(U, self.lam))

    def tie(self, V: list[np.ndarray], P: np.ndarray) -> np.ndarray:
        """Unaligned TIE (nats) of the members ``V`` (each (S, g, u)) relabelled by ``P`` (C, k, k): (C, S)."""
        from betavae_sym.linear.compiled import tie_function

        params = {name: value[None] for name, value in self.parameters(V).items()}
        moved = permute_units(params, P[:, None])
        betas = np.full(moved["b_mu"].shape[:2], self.beta)
        value = tie_function(self.problem.n, self.problem.k)(*self.problem.arguments(moved, betas))
        return np.broadcast_to(value, betas.shape) + self.problem.increments["tie"]


def tie_range(problem: Problem, beta: float, *, seed: int = 0) -> TieRange:
    """TIE over the optimal set at ``beta`` (see the module docstring); ``unique`` if the set is one point."""
    groups = degenerate_groups(problem, beta)
    if not groups:
        value = float(evaluate(problem, closed_form_parameters(problem, np.array([beta])), np.array([beta]))[0]["tie"][0])
        return TieRange(minimum=value, maximum=value, unique=True)
    members = OptimalSet(problem, beta, groups)
    cosets = _coset_representatives(problem.k, tuple(group.units for group in groups))
    model = _AlignedTie(*_affine_fit(members, cosets, np.random.default_rng([seed, 14])))

    # the minimum: exact, per coset the nuclear norms (SVD), the best coset's minimizing member
    nuclear = [sum(np.linalg.svd(C, compute_uv=False).sum() for C in blocks) for blocks in model.coefficients]
    best = int(np.argmin(model.offset - np.array(nuclear)))
    lowest = []
    for C in model.coefficients[best]:
        X, _, Yt = np.linalg.svd(C, full_matrices=False)
        lowest.append(-X @ Yt)

    # the maximum: Powell from the closed form's member, the coset maximizers and random members
    rng = np.random.default_rng([seed, 15])
    starts = [members.own()] + [[X @ Yt for X, _, Yt in (np.linalg.svd(C, full_matrices=False) for C in blocks)]
                                for blocks in model.coefficients]
    starts += [[random_orthonormal(rng, g, u, 1)[0] for g, u in members.sizes] for _ in range(RANDOM_STARTS)]
    starts = sorted(starts, key=model.value, reverse=True)[:2 + RANDOM_STARTS]
    highest = max((_climb(model.value, start) for start in starts), key=model.value)
    return TieRange(minimum=model.exact(members, cosets, lowest), maximum=model.exact(members, cosets, highest),
                    unique=False)


@dataclass
class _AlignedTie:
    """The affine model of TIE on the optimal set, ``a_c + sum_G <C_cG, V_G>`` per coset ``c``, and the
    aligned TIE: the minimum over all signed relabellings of the units (cosets times the best
    relabelling inside each group, a linear assignment)."""

    offset: np.ndarray
    coefficients: list

    def relabelled(self, V: list[np.ndarray]) -> tuple[float, int, list[np.ndarray]]:
        """``(aligned TIE from the model, best coset, V with the best relabelling inside the groups)``."""
        best = (np.inf, 0, V)
        for c, blocks in enumerate(self.coefficients):
            total, moved = float(self.offset[c]), []
            for block, C in zip(V, blocks):
                B = block.T @ C  # (u, u): <C, V Gamma> = <V^T C, Gamma>, least over signed permutations Gamma
                rows, cols = _assignment(np.abs(B))
                Gamma = np.zeros_like(B)
                Gamma[rows, cols] = -np.sign(B[rows, cols])
                total -= np.abs(B[rows, cols]).sum()
                moved.append(block @ Gamma)
            if total < best[0]:
                best = (total, c, moved)
        return best

    def value(self, V: list[np.ndarray]) -> float:
        return self.relabelled(V)[0]

    def exact(self, members: OptimalSet, cosets: np.ndarray, V: list[np.ndarray]) -> float:
        """The aligned TIE of the member ``V`` recomputed by the lambdified TIE at its best relabelling."""
        _, c, moved = self.relabelled(V)
        return float(members.tie([block[None] for block in moved], cosets[c][None])[0, 0])


def _assignment(weights: np.ndarray):
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(weights, maximize=True)


def _affine_fit(members: OptimalSet, cosets: np.ndarray, rng: np.random.Generator):
    """Least-squares fit of ``TIE(Pi_c, V) = a_c + sum_G <C_cG, V_G>`` at random members, checked.

    Returns ``(a (C,), C)`` with ``C[c][G]`` of shape (g, u). ArithmeticError if the misfit exceeds
    :data:`AFFINE_TOLERANCE` (TIE would not be affine on the set: a broken assumption, not a number).
    """
    unknowns = 1 + sum(g * u for g, u in members.sizes)
    samples = 2 * unknowns + 4
    V = [random_orthonormal(rng, g, u, samples) for g, u in members.sizes]
    design = np.hstack([np.ones((samples, 1))] + [block.reshape(samples, -1) for block in V])
    values = members.tie(V, cosets)  # (C, S)
    solution = np.linalg.lstsq(design, values.T, rcond=None)[0]  # (unknowns, C)
    misfit = np.max(np.abs(design @ solution - values.T)) / max(1.0, float(np.max(np.abs(values))))
    if misfit > AFFINE_TOLERANCE:
        raise ArithmeticError(f"TIE is not affine on the optimal set (misfit {misfit:.1e})")
    coefficients, start = [], 1
    blocks = []
    for g, u in members.sizes:
        blocks.append(solution[start:start + g * u].T.reshape(len(cosets), g, u))
        start += g * u
    coefficients = [[block[c] for block in blocks] for c in range(len(cosets))]
    return solution[0], coefficients


def _climb(aligned, start: list[np.ndarray]) -> list[np.ndarray]:
    """Powell's method maximizing ``aligned`` over ``V_G = cay(S_G) start_G`` (``S_G`` skew-symmetric)."""
    from scipy.optimize import minimize

    shapes = [block.shape for block in start]
    sizes = [g * (g - 1) // 2 for g, _ in shapes]
    if sum(sizes) == 0:
        return start

    def members(x):
        V, offset = [], 0
        for (g, _), size, block in zip(shapes, sizes, start):
            S = np.zeros((g, g))
            S[np.triu_indices(g, 1)] = x[offset:offset + size]
            S -= S.T
            V.append(np.linalg.solve(np.eye(g) - S, (np.eye(g) + S) @ block))
            offset += size
        return V

    result = minimize(lambda x: -aligned(members(x)), np.zeros(sum(sizes)), method="Powell",
                      options={"maxfev": POWELL_EVALUATIONS * sum(sizes), "xtol": 1e-6, "ftol": 1e-12})
    return members(result.x)

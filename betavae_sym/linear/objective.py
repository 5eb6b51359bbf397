"""The data-averaged objective ``L`` (Eq. 34) of a :class:`~betavae_sym.linear.problem.Problem` over flat vectors.

The numeric solvers (:mod:`betavae_sym.linear.ascent`) work on flat,
whitened parameter vectors batched over rows; :class:`Objective` turns such
vectors into the model's parameters and back, and evaluates ``L``, its
gradient (Eqs. 36-41) and its Hessian with the lambdified functions of
:mod:`betavae_sym.linear.compiled`.
"""

from __future__ import annotations

import numpy as np

from betavae_sym.linear.problem import Problem
from betavae_sym.symbolic.model import PARAMETERS

#: The encoder's parameters (the free ones when the decoder is fixed).
ENCODER = PARAMETERS[:4]

#: Relative gradient tolerance (times ``max(1, ||Sigma_x||_2)``) for a converged point.
GRADIENT_TOLERANCE = 1e-9

#: Complex step of the Hessian (:meth:`Objective.hessian`).
COMPLEX_STEP = 1e-20

#: Entries ``S p^2`` of the complex points of one batched Hessian call: larger calls are split by rows, since
#: their stacks fall out of the cache (measured at p = 67: 0.3-0.6 ms per row up to 4 rows, twice that from 8).
HESSIAN_BATCH = 20_000


class Objective:
    """``L``, ``grad L`` and the Hessian of a :class:`Problem` over flat vectors, batched over rows.

    Every method takes whitened flat vectors ``theta`` of shape (..., p) and a
    ``beta`` that broadcasts against the batch shape ``...`` (one beta per row),
    so one call serves several starts, several betas or all Hessian columns.

    The vectors are whitened (a change of variables, not of the model):
    ``W_mu = W~ S^{-1/2}``, ``W_sigma = W~_sigma S^{-1/2}``, ``D = S^{1/2} D~``
    with ``S`` the reduced ``Sigma_x``, so that all directions have comparable
    curvature whatever the spread of the eigenvalues of ``S``; gradients follow
    by the chain rule (``g~_W = g_W S^{-1/2}``, ``g~_D = S^{1/2} g_D``).

    Attributes
    ----------
    problem : Problem
    free : tuple of str
        The free parameters (all six, or the encoder's four with a fixed decoder).
    size : int
        ``p``, the length of a flat vector.
    gtol : float
        The gradient tolerance of a converged point, ``GRADIENT_TOLERANCE * max(1, ||Sigma_x||_2)``.
    """

    def __init__(self, problem: Problem):
        from betavae_sym.linear.compiled import gradient_function, objective_and_gradient_function

        self.problem = problem
        n, k = problem.n, problem.k
        shapes = {"W_mu": (k, n), "b_mu": (k, 1), "W_sigma": (k, n), "b_sigma": (k, 1), "D": (n, k), "b_D": (n, 1)}
        self.free = ENCODER if problem.D_r is not None else PARAMETERS
        self.shapes = {name: shapes[name] for name in self.free}
        self.slices, start = {}, 0
        for name in self.free:
            size = int(np.prod(self.shapes[name]))
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start
        self._value_and_gradient = objective_and_gradient_function(n, k)
        self._gradient = gradient_function(n, k)
        eigenvalues, eigenvectors = np.linalg.eigh(problem.Sigma_r)
        root = (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T
        inverse_root = (eigenvectors / np.sqrt(eigenvalues)) @ eigenvectors.T
        self.gtol = GRADIENT_TOLERANCE * max(1.0, float(eigenvalues[-1]))
        # the whitening as one linear map of flat vectors: raw = whitened @ to_raw (p, p), and back
        basis = self._blocks(np.eye(self.size))
        for name in ("W_mu", "W_sigma"):
            basis[name] = basis[name] @ inverse_root
        if problem.D_r is None:
            basis["D"] = root @ basis["D"]
        self.to_raw = self._flat(basis, (self.size,))
        self.to_whitened = np.linalg.inv(self.to_raw)

    def _blocks(self, flat: np.ndarray) -> dict:
        """Flat vectors (..., p) -> the free parameters' blocks by name (no change of variables)."""
        batch = flat.shape[:-1]
        return {name: flat[..., self.slices[name]].reshape(*batch, *self.shapes[name]) for name in self.free}

    def _flat(self, blocks: dict, batch) -> np.ndarray:
        """The free parameters' blocks (batch shape ``batch``, or broadcastable to it) -> flat vectors (..., p)."""
        flat = np.empty((*batch, self.size), dtype=np.result_type(*(blocks[name] for name in self.free)))
        for name in self.free:
            block, shape = blocks[name], (*batch, *self.shapes[name])
            flat[..., self.slices[name]] = (block if block.shape == shape else np.broadcast_to(block, shape)).reshape(
                *batch, -1)
        return flat

    def unpack(self, theta: np.ndarray) -> dict:
        """Whitened flat vectors (..., p) -> reduced parameters by name (batch shape kept)."""
        return self._parameters(np.asarray(theta) @ self.to_raw)

    def _parameters(self, raw: np.ndarray) -> dict:
        """Flat vectors in the model's own coordinates (..., p) -> reduced parameters by name."""
        batch = raw.shape[:-1]
        params = self._blocks(raw)
        if self.problem.D_r is not None:
            params["D"] = np.broadcast_to(self.problem.D_r, (*batch, self.problem.n, self.problem.k))
            params["b_D"] = np.zeros((*batch, self.problem.n, 1))
        return params

    def pack(self, params: dict) -> np.ndarray:
        """Reduced parameters (any batch shape) -> whitened flat vectors (..., p)."""
        raw = self._flat({name: np.asarray(params[name]) for name in self.free}, np.shape(params["b_mu"])[:-2])
        return raw @ self.to_whitened

    def random_starts(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` random whitened starts (count, p): entries ``N(0, 1/n)`` for ``W~, D~``,
        ``N(0, 0.01/n)`` for ``W~_sigma``, ``N(0, 0.01)`` for biases."""
        n = self.problem.n
        spread = {"W_mu": 1 / np.sqrt(n), "b_mu": 0.1, "W_sigma": 0.1 / np.sqrt(n), "b_sigma": 0.1,
                  "D": 1 / np.sqrt(n), "b_D": 0.1}
        scale = np.concatenate([np.full(int(np.prod(self.shapes[name])), spread[name]) for name in self.free])
        return scale * rng.standard_normal((count, self.size))

    def _flat_gradient(self, blocks, batch) -> tuple[np.ndarray, np.ndarray]:
        """Gradient blocks (in the order of PARAMETERS) -> (whitened flat gradient (..., p), max |block entry| (...)).

        The chain rule of ``raw = whitened @ to_raw`` is ``g~ = g @ to_raw^T``.
        Non-finite trial points stay non-finite, silently: the line search rejects them.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            flat = self._flat(dict(zip(PARAMETERS, blocks)), batch)
            return flat @ self.to_raw.T, np.max(np.abs(flat), axis=-1)

    def value_and_gradient(self, theta, beta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(L (...), whitened grad L (..., p), max |dL/dtheta| (...))``; the maximum is over the
        model's own parameters (Eqs. 36-41), not the whitened ones."""
        theta = np.asarray(theta, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            value, *blocks = self._value_and_gradient(*self.problem.arguments(self.unpack(theta), beta))
        gradient, gmax = self._flat_gradient(blocks, theta.shape[:-1])
        return np.broadcast_to(value, theta.shape[:-1]).astype(np.float64), gradient, gmax

    def hessian(self, theta, beta) -> np.ndarray:
        """The whitened Hessian at ``theta`` (S, p) for ``beta`` (S,): shape (S, p, p), symmetric.

        Complex-step differentiation of the lambdified gradient (all ``S p`` columns
        in one call): ``H e_j = Im grad L(theta + i h e_j) / h`` with ``h = 1e-20``,
        exact to rounding (no subtraction), as every gradient block is analytic.
        Rows are evaluated in calls of at most :data:`HESSIAN_BATCH` complex entries.
        """
        theta = np.asarray(theta, dtype=np.float64)
        beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), theta.shape[:1])
        rows = max(1, HESSIAN_BATCH // self.size**2)
        if len(theta) > rows:
            return np.concatenate([self.hessian(theta[i:i + rows], beta[i:i + rows])
                                   for i in range(0, len(theta), rows)])
        # raw coordinates of theta + i h e_j, all j: (S, p, p)
        points = (theta @ self.to_raw)[:, None, :] + (1j * COMPLEX_STEP) * self.to_raw
        blocks = self._gradient(*self.problem.arguments(self._parameters(points), beta[:, None]))
        with np.errstate(over="ignore", invalid="ignore"):
            H = (self._flat(dict(zip(PARAMETERS, blocks)), points.shape[:-1]).imag / COMPLEX_STEP) @ self.to_raw.T
        return (H + np.swapaxes(H, -1, -2)) / 2

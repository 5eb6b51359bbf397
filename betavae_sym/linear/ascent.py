"""Batched trust-region Newton ascent of ``L`` from many rows at once (one beta per row).

:func:`ascend` climbs every row of a batch of whitened starts
(:class:`~betavae_sym.linear.objective.Objective`) to a local maximum of
``L``, all active rows in one batched call per stage; the state of the whole
batch is one :class:`Ascent` object whose methods are the stages:

* :meth:`Ascent.newton_matrices`: the trust-region matrix ``M`` of each row's
  exact Hessian (Newton's ``(-H)^{-1}`` where concave and the step fits the
  row's radius), and the curvature check;
* :meth:`Ascent.climb`: a row outside the gradient tolerance steps ``M g``,
  capped at length :data:`MAX_STEP`, shortened fourfold until ``L`` rises
  (Armijo) or, at the rounding floor of ``L``, the gradient shrinks; the radius
  doubles after a full step and shrinks to a shortened one;
* :meth:`Ascent.escape`: a row within tolerance whose largest Hessian
  eigenvalue is positive (a saddle) is pushed along that eigenvector (both
  signs, four lengths), at most ``escapes`` times;
* :meth:`Ascent.newton_iterations`: a row within tolerance at a local maximum
  (largest eigenvalue <= :data:`CURVATURE_TOLERANCE` relative) is polished by
  Newton steps with its ``M`` and stops at the rounding floor.

:func:`ascend_from_starts` adds an L-BFGS-B phase for large problems, and
:func:`best_row` picks the converged local maximum with the highest ``L``.

Continuation along beta (:mod:`betavae_sym.linear.sweep`) saves Hessians:
:func:`follow` converges rows by Newton steps with matrices carried from
nearby points (falling back to :func:`ascend` where they do not converge),
and :func:`certify` makes the curvature check of many such points in one
batched Hessian call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betavae_sym.linear.objective import GRADIENT_TOLERANCE, Objective

#: A stationary point is a local maximum when the largest Hessian eigenvalue is at most this times
#: ``max(1, max |eigenvalue|)`` (rounding of the Hessian; a collapsing unit's curvature tends to 0).
CURVATURE_TOLERANCE = 1e-7

#: Longest step (whitened coordinates, where the optimum's entries are of order 1 to 10).
MAX_STEP = 10.0

#: Polishing stops below this fraction of the gradient tolerance: about 10 eps ||Sigma_x||.
ROUNDING_FLOOR = 1e-5

#: Newton iterations for the trust-region shift (the step length needs only a few digits).
TRUST_ITERATIONS = 8

#: Above this many free parameters, random starts climb by L-BFGS-B before Newton (:func:`ascend_from_starts`).
LBFGS_ABOVE = 100

#: Step shortenings (by 4) before a row gives up, and Newton steps with one matrix at most.
BACKTRACKS = 12
NEWTON_STEPS = 12


@dataclass
class Ascent:
    """The state of a batched ascent: S rows, row s maximizing ``L`` at ``beta[s]``.

    Attributes
    ----------
    objective : Objective
    beta : (S,) the beta of each row.
    theta : (S, p) whitened parameters; value : (S,) ``L`` there;
    gradient : (S, p) whitened ``grad L``; max_grad : (S,) ``max |dL/dtheta|`` in the model's own parameters.
    newton : (S, p, p) each row's last step matrix ``M`` (steps are ``M g``).
    radius : (S,) trust radius; escapes_left : (S,) saddle escapes still allowed.
    active : (S,) rows still climbing; is_max : (S,) rows found at a local maximum.
    """

    objective: Objective
    beta: np.ndarray
    theta: np.ndarray
    value: np.ndarray
    gradient: np.ndarray
    max_grad: np.ndarray
    newton: np.ndarray
    radius: np.ndarray
    escapes_left: np.ndarray
    active: np.ndarray
    is_max: np.ndarray

    @classmethod
    def start(cls, objective: Objective, theta, beta, *, newton=None, escapes: int = 4) -> Ascent:
        """The state at the rows of ``theta`` (S, p), with optional step matrices ``newton`` (S, p, p)."""
        theta = np.array(theta, dtype=np.float64)
        S = theta.shape[0]
        beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), (S,))
        value, gradient, max_grad = objective.value_and_gradient(theta, beta)
        matrices = np.zeros((S, objective.size, objective.size)) if newton is None else np.array(newton)
        return cls(objective=objective, beta=beta, theta=theta, value=value, gradient=gradient, max_grad=max_grad,
                   newton=matrices, radius=np.ones(S), escapes_left=np.full(S, escapes),
                   active=np.ones(S, dtype=bool), is_max=np.zeros(S, dtype=bool))

    @property
    def converged(self) -> np.ndarray:
        """(S,) rows at a local maximum with the gradient within tolerance."""
        return self.is_max & (self.max_grad <= self.objective.gtol)

    def run(self, iterations: int = 200) -> Ascent:
        """Climb until every row is finished (or ``iterations`` rounds); see the module docstring."""
        gtol = self.objective.gtol
        for _ in range(iterations):
            rows = np.flatnonzero(self.active)
            if rows.size == 0:
                break
            small = self.max_grad[rows] <= gtol
            concave, top = self.newton_matrices(rows, trust=~small)
            done = concave & small
            if done.any():
                finished = self.newton_iterations(rows[done], rate=0.1, target=ROUNDING_FLOOR * gtol)
                self.is_max[rows[done]] = True
                self.active[rows[done][finished]] = False
            saddle = ~concave & small
            if saddle.any():
                self.escape(rows[saddle], top[saddle])
            climb = ~small
            if climb.any():
                self.climb(rows[climb])
        return self

    def newton_matrices(self, rows, trust) -> tuple[np.ndarray, np.ndarray]:
        """Store the step matrices ``M`` of the Hessians at ``rows`` (R,) in ``newton[rows]``; is each concave?

        Rows with ``-H`` positive definite (a Cholesky factor) whose Newton step fits
        their radius, or which are not in ``trust`` (R,): Newton's
        ``M = (-H)^{-1}``, concave. All other rows: from ``H = V diag(w) V^T``, the
        trust-region step of length at most the radius for the gradient ``g``:
        ``M = V diag(1 / (lam - w)) V^T`` with the ``lam > max(w, 0)`` at
        which ``|M g| = radius`` (Newton's method), or ``lam = 0`` for a zero
        gradient; concave when the largest eigenvalue is at most
        :data:`CURVATURE_TOLERANCE` times ``max(1, max |w|)``. Returns
        ``(concave (R,), top (R, p))``, ``top`` the eigenvector of the largest
        eigenvalue (zeros for the Cholesky rows).
        """
        H = self.objective.hessian(self.theta[rows], self.beta[rows])
        g, radius = self.gradient[rows], self.radius[rows]
        concave = np.zeros(len(rows), dtype=bool)
        top = np.zeros(g.shape)
        definite = _positive_definite(-H)
        if definite.any():  # Newton's step where it is concave and the step fits (or no trust region is asked)
            inverse = np.linalg.inv(-H[definite])
            fits = ~trust[definite] | (np.linalg.norm((inverse @ g[definite][:, :, None])[:, :, 0], axis=1)
                                        <= radius[definite])
            newton = np.flatnonzero(definite)[fits]
            self.newton[rows[newton]] = inverse[fits]
            concave[newton] = True
        trust = ~concave  # every other row: eigen-decomposition (also for the curvature check and saddle direction)
        if not trust.any():
            return concave, top
        w, V = np.linalg.eigh(H[trust])
        scale = np.maximum(1.0, np.max(np.abs(w), axis=1))
        c = (g[trust][:, None, :] @ V)[:, 0, :]
        R = radius[trust]
        floor = 1e-12 * scale
        lam = np.where(w[:, -1] < -floor, 0.0, np.maximum(w[:, -1], 0.0) + floor)
        for _ in range(TRUST_ITERATIONS):  # Newton on 1/|s(lam)| = 1/R, s = c / (lam - w): increasing, monotone
            gap = lam[:, None] - w
            norm = np.linalg.norm(c / gap, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                update = lam + (1.0 / R - 1.0 / norm) / (np.sum(c * c / gap**3, axis=1) / norm**3)
            lam = np.where(norm > R, update, lam)  # a zero gradient (norm 0) needs no step
        self.newton[rows[trust]] = ((V / np.maximum(lam[:, None] - w, floor[:, None])[:, None, :])
                                    @ np.swapaxes(V, -1, -2))
        concave[trust] = w[:, -1] <= CURVATURE_TOLERANCE * scale
        top[trust] = V[:, :, -1]
        return concave, top

    def _steps(self, rows) -> np.ndarray:
        """Newton steps ``M g`` of ``rows``: (R, p)."""
        return (self.newton[rows] @ self.gradient[rows][:, :, None])[:, :, 0]

    def _accept(self, rows, mask, trial, value, gradient, max_grad) -> None:
        """Move the rows ``rows[mask]`` to their trial points (``trial`` etc. indexed like ``rows``)."""
        chosen = rows[mask]
        self.theta[chosen], self.value[chosen] = trial[mask], value[mask]
        self.gradient[chosen], self.max_grad[chosen] = gradient[mask], max_grad[mask]

    def climb(self, rows) -> None:
        """One saddle-free Newton step with backtracking for ``rows``; rows that cannot rise stop."""
        step = self._steps(rows)
        length = np.linalg.norm(step, axis=1, keepdims=True)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(length, 1e-300))
        slope = np.einsum("rp,rp->r", self.gradient[rows], step)
        pending = np.ones(len(rows), dtype=bool)
        t = 1.0
        for _ in range(BACKTRACKS):
            index = np.flatnonzero(pending)
            here = rows[index]
            trial = self.theta[here] + t * step[index]
            value, gradient, max_grad = self.objective.value_and_gradient(trial, self.beta[here])
            base = self.value[here]
            rises = value >= base + 1e-4 * t * slope[index]
            flat = (value >= base - 1e-12 * (1.0 + np.abs(base))) & (max_grad < self.max_grad[here])
            ok = np.isfinite(value) & np.isfinite(max_grad) & (rises | flat)
            self._accept(here, ok, trial, value, gradient, max_grad)
            taken = t * length[index[ok], 0]
            self.radius[here[ok]] = np.maximum(self.radius[here[ok]], 2 * taken) if t == 1.0 else taken
            pending[index[ok]] = False
            if not pending.any():
                return
            t /= 4
        self.active[rows[pending]] = False  # no ascent along the Newton direction: a stationary point that is not one

    def escape(self, rows, directions) -> None:
        """Leave the saddles ``rows`` along their positive-curvature ``directions`` (R, p); rows that cannot, stop."""
        lengths = np.array([sign * t for t in (1.0, 1e-1, 1e-2, 1e-3) for sign in (1.0, -1.0)])
        trial = self.theta[rows][:, None, :] + lengths[None, :, None] * directions[:, None, :]  # (R, 8, p)
        value, gradient, max_grad = self.objective.value_and_gradient(trial, self.beta[rows][:, None])
        value = np.where(np.isfinite(value), value, -np.inf)
        best = np.argmax(value, axis=1)
        pick = np.arange(len(rows))
        ok = value[pick, best] > self.value[rows]
        self._accept(rows, ok, trial[pick, best], value[pick, best], gradient[pick, best], max_grad[pick, best])
        self.escapes_left[rows] -= 1
        self.active[rows[~ok | (self.escapes_left[rows] <= 0)]] = False

    def newton_iterations(self, rows, rate: float, target: float) -> np.ndarray:
        """Steps ``theta += M g`` for ``rows`` while each shrinks the gradient by the factor ``rate``.

        A step is kept when it shrinks the gradient without lowering ``L`` beyond
        rounding. Returns, per row, whether it is finished: the gradient is at most
        ``target``, or the last step did not shrink it by 10 % (the rounding floor).
        A row that stops otherwise (converging slower than ``rate``, e.g. along a
        nearly flat direction of a unit at its collapse threshold) needs a fresh Hessian.
        """
        finished = np.zeros(len(rows), dtype=bool)
        pending = np.ones(len(rows), dtype=bool)
        for _ in range(NEWTON_STEPS):
            finished |= pending & (self.max_grad[rows] <= target)
            pending &= ~finished
            index = np.flatnonzero(pending)
            if index.size == 0:
                break
            here = rows[index]
            trial = self.theta[here] + self._steps(here)
            value, gradient, max_grad = self.objective.value_and_gradient(trial, self.beta[here])
            better = np.isfinite(max_grad) & (max_grad < self.max_grad[here]) & (
                value >= self.value[here] - 1e-12 * (1.0 + np.abs(self.value[here])))
            shrinking, fast = better & (max_grad <= 0.9 * self.max_grad[here]), better & (
                max_grad <= rate * self.max_grad[here])
            self._accept(here, better, trial, value, gradient, max_grad)
            finished[index[~shrinking]] = True
            pending[index[~fast]] = False
        return finished


def _positive_definite(A) -> np.ndarray:
    """Which of the symmetric matrices ``A`` (R, p, p) have a Cholesky factor: (R,) bools."""
    try:
        np.linalg.cholesky(A)
        return np.ones(len(A), dtype=bool)
    except np.linalg.LinAlgError:
        def definite(a):
            try:
                np.linalg.cholesky(a)
                return True
            except np.linalg.LinAlgError:
                return False

        return np.array([definite(a) for a in A], dtype=bool)


def ascend(objective: Objective, theta, beta, *, newton=None, iterations: int = 200, escapes: int = 4) -> Ascent:
    """Batched local maximization of ``L`` from the rows of ``theta`` (S, p), row s at ``beta[s]``.

    ``newton`` (S, p, p), optional: step matrices ``M`` from nearby points
    (the previous beta of a sweep); each row first takes steps ``M g`` while the
    gradient halves, until it is within tolerance, which saves Hessians; the
    curvature check is still made with a fresh Hessian. Returns the final
    :class:`Ascent` (``theta``, ``value``, ``max_grad``, ``is_max``, ``newton``, ...).
    """
    state = Ascent.start(objective, theta, beta, newton=newton, escapes=escapes)
    if newton is not None:
        state.newton_iterations(np.arange(len(state.beta)), rate=0.5, target=objective.gtol)
    return state.run(iterations)


def follow(objective: Objective, theta, beta, newton) -> Ascent:
    """Converge the rows of ``theta`` (S, p) at ``beta`` (S,) to the gradient tolerance by Newton steps
    ``M g`` with the carried matrices ``newton`` (S, p, p) alone (no Hessian).

    Rows that get there while every step at least halves the gradient are left inactive and *not*
    marked as local maxima (``is_max`` False): :func:`certify` checks and polishes them. The other
    rows climb on by :meth:`Ascent.run` (fresh Hessians, curvature check and polishing included).
    """
    state = Ascent.start(objective, theta, beta, newton=newton)
    rows = np.arange(len(state.beta))
    state.newton_iterations(rows, rate=0.5, target=objective.gtol)
    state.active[rows[state.max_grad <= objective.gtol]] = False
    return state.run()


def certify(objective: Objective, theta, beta) -> Ascent:
    """The curvature check of many points at once (:meth:`Ascent.run` from ``theta`` (S, p) at ``beta``
    (S,)): one batched fresh Hessian; rows within the gradient tolerance where it is negative
    (semi)definite are polished by exact Newton steps and are converged local maxima, the others
    (saddles, unconverged points) climb on."""
    return Ascent.start(objective, theta, beta).run()


def ascend_from_starts(objective: Objective, starts: np.ndarray, beta) -> Ascent:
    """:func:`ascend` from the random ``starts`` (S, p) at ``beta`` (S,).

    With more than :data:`LBFGS_ABOVE` parameters a Hessian costs more than many
    gradients, so each start first climbs by L-BFGS-B (gradient only) to a
    coarse tolerance; the Newton phase then converges in a few steps.
    """
    if objective.size > LBFGS_ABOVE:
        from scipy.optimize import minimize

        beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), starts.shape[:1])

        def negative(theta, b):
            value, gradient, _ = objective.value_and_gradient(theta, b)
            return (-float(value), -gradient) if np.isfinite(value) else (np.inf, np.zeros_like(gradient))

        starts = np.array([minimize(negative, start, args=(b,), jac=True, method="L-BFGS-B",
                                    options={"maxiter": 2000, "ftol": 1e-15,
                                             "gtol": 1e-6 * objective.gtol / GRADIENT_TOLERANCE}).x
                           for start, b in zip(starts, beta)])
    return ascend(objective, starts, beta)


def best_row(state: Ascent, rows=None) -> tuple[int, bool]:
    """Index of the converged local maximum with the highest ``L`` among ``rows`` (default all), and True;
    else the row with the smallest gradient, and False."""
    rows = np.arange(len(state.beta)) if rows is None else np.asarray(rows)
    good = state.converged[rows]
    if good.any():
        return int(rows[np.flatnonzero(good)[np.argmax(state.value[rows][good])]]), True
    return int(rows[np.argmin(state.max_grad[rows])]), False

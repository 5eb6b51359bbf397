"""log p_theta(x) and E_q[log p(x|z)] of a Gaussian-decoder VAE, per example, in nats.

The model: ``p(z) = N(0, I_k)``, ``p(x|z) = N(x; d(z), I_N)`` (constants kept),
encoder ``q(z|x) = N(mu, diag exp(logvar))``.

Exact to a tolerance, k <= 2 (:func:`exact_terms`)
--------------------------------------------------
**Reconstruction** ``E_q[log p(x|z)]``: tensor Gauss-Hermite on q's own axes
(the weight function is q exactly), ``RECON_NODES`` per axis in turn, per row
until two successive rules agree within the tolerance.

**Marginal** ``log p_theta(x) = log int p(x|z) p(z) dz``: a network's
posterior can be far from q (on held-out rows of a briefly trained decoder it
sits several posterior s.d. from q's mean, 2-6 times wider, with several
modes), so no rule adapted to q alone converges cheaply. The main rule is
shared by all rows: two interleaved square lattices on the box ``[-R, R]^k``
(``R = LATTICE_HALF_WIDTH``), A with spacing h and B = A shifted by h/2 on
every axis; per row ``T_A = h^k sum_A p(x|z) p(z)``, likewise ``T_B``, and
``log p = log((T_A + T_B) / 2)`` (the checkerboard lattice A u B). The
trapezoid rule on a lattice converges faster than any power of h for smooth
integrands that vanish at the box's edge, and ``|log T_A - log T_B|`` bounds
the error of their mean with room to spare (each alone errs like exp(-2 pi^2
s^2 / h^2) for a Gaussian of s.d. s; their mean like exp(-4 pi^2 s^2 / h^2)).
Each row's error estimate is that difference, or, if larger, the share of its
integral on the outermost ring of A (mass near the box's edge). Spacings
``LATTICE_SPACINGS`` in turn, each for the rows not yet within the tolerance.
The decoder runs once per lattice point for all rows; a row costs only its
readout against the points (one GEMM).

Rows the lattices leave above the tolerance (a posterior narrower than the
finest spacing, or mass near the edge) go to **adaptive Gauss-Hermite**
(:func:`gauss_hermite_marginal`): G^k nodes t_j, weights w_j (sum 1), placed by
a frame (centre c, Cholesky factor L), ``z_j = c + L t_j``,
``log p ~= logsumexp_j [log p(x|z_j) + log N(z_j; 0, I) - log N(z_j; c, L L^T) + log w_j]``,
exact when the integrand is the frame's Gaussian. The frame starts at q
(widths floored at ``FRAME_FLOOR``) and each pass re-centres it on the
integrand's mean and covariance as the pass's own weights estimate them (as in
adaptive quadrature for mixed models, Liu & Pierce 1994), a new covariance
kept within a factor 8 of the old in every direction: ``ADAPT_PASSES`` passes
at ``ADAPT_NODES`` nodes, then ``REFINE_NODES`` in turn until two successive
passes agree within the tolerance.

A row that no rule brings within the tolerance is reported unconverged with
its error estimate (never silently rounded).

Sampling, any k
---------------
**Defensive importance sampling** (:func:`defensive_importance`; biased low,
consistent): ``log p ~= logsumexp_s log[p(x|z_s) p(z_s) / r(z_s)] - log K``.
A pilot (``PILOT_SHARE`` of the K draws) from ``r0 = alpha N(0, I) + (1 -
alpha) N(mu, c^2 diag sigma^2)`` (``alpha = PRIOR_SHARE``, ``c =
PROPOSAL_WIDTH``) estimates each row's posterior mean m and covariance C from
its self-normalized weights; the estimate uses the other draws, from ``r =
alpha N(0, I) + (1 - alpha)/2 N(m, s^2 C) + (1 - alpha)/2 N(mu, c^2 diag
sigma^2)`` (``s^2 = PROPOSAL_INFLATION``). Every mixture is drawn in fixed
counts and each weight divides by the mixture with those counts' shares (the
balance heuristic), so the estimate of p(x) is unbiased. The weights are
bounded by ``p(x|z) / alpha <= (2 pi)^(-N/2) / alpha``, so their variance is
finite for every network and the bias decays like 1/K (Burda et al. 2016);
with q itself as proposal (IWAE) the variance is infinite once q is narrower
than half the posterior in some direction (beta < 1/2 for the linear model)
and the bias falls far slower.

**Reconstruction by Monte Carlo** (:func:`monte_carlo_recon`): S draws of q.

All draws are shared by the rows (one ``(S, k)`` array of standard normals),
so every average over rows is invariant to the order of the rows.

Cost
----
The decoder is split into hidden features h(z) (F values) and its last,
affine layer ``d(z) = h W + b``, so ``log p(x|z) = -N/2 log 2 pi - |x - b|^2/2
+ h . (W (x - b)) - h^T (W W^T) h / 2``: F^2 instead of F N multiply-adds per
latent point (F = 256, N = 1600 in the paper's network), F per (row, point)
pair. Latent points go through the hidden layers in the model's dtype
(float32 for trained networks) in GEMMs of ``POINTS_PER_CALL`` points; the
readout is float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable

import numpy as np
from scipy.special import logsumexp

LOG_2PI = math.log(2.0 * math.pi)
#: Gauss-Hermite nodes per axis of the reconstruction's rules on q, tried in turn.
RECON_NODES = (5, 7, 9, 13, 19, 27)
#: Half-width R of the lattices' box [-R, R]^k (prior s.d.) and their spacings h, tried in turn.
LATTICE_HALF_WIDTH = 6.0
LATTICE_SPACINGS = (0.2, 0.1, 0.05)
#: Smallest frame s.d. of the first adaptive Gauss-Hermite pass (latent units; the prior's is 1).
FRAME_FLOOR = 1e-3
#: Nodes per axis and number of the passes that place the adaptive frame.
ADAPT_NODES, ADAPT_PASSES = 9, 2
#: Node counts per axis of the refining adaptive passes.
REFINE_NODES = (13, 19, 27, 39, 55)
#: Default tolerance, nats per example, of every quadrature.
QUADRATURE_TOLERANCE = 1e-3
#: Defensive importance sampling: share of the pilot draws, width c of the pilot's widened q, the factor s^2
#: on the pilot's posterior covariance in the estimating proposal, and the prior's share a in both.
PILOT_SHARE, PROPOSAL_WIDTH, PROPOSAL_INFLATION, PRIOR_SHARE = 0.2, 2.0, 2.0, 0.1
#: Fewest pilot draws per latent unit for the pilot's moments to place the proposal.
MIN_PILOT_PER_UNIT = 10
#: Latent points per decoder call (memory: about 3 KB per point in the paper's network).
POINTS_PER_CALL = 8192


@dataclass(frozen=True)
class GaussianDecoder:
    """``log N(x; d(z), I_N)`` for (row, latent point) pairs, with ``d(z) = features(z) W + b``.

    Attributes
    ----------
    features : callable, ``(m, k) -> (m, F)`` float64
        The decoder's hidden features (or, with ``W = None``, its mean itself).
    W : ndarray (F, N) or None
    b : ndarray (N,) or float
    """

    features: Callable[[np.ndarray], np.ndarray]
    W: np.ndarray | None
    b: np.ndarray | float

    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: ``W (x - b)`` (or ``x - b``) ``(n, F)`` and ``-N/2 log 2 pi - |x - b|^2 / 2`` ``(n,)``."""
        centred = X - self.b
        constant = -0.5 * X.shape[1] * LOG_2PI - 0.5 * np.einsum("nd,nd->n", centred, centred)
        return (centred if self.W is None else centred @ self.W.T), constant

    @cached_property
    def gram(self) -> np.ndarray | None:
        """``W W^T`` (F, F), or None for the identity readout."""
        return None if self.W is None else self.W @ self.W.T

    def readout(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per latent point ``Z: (m, k)``: ``h(z)`` ``(m, F)`` and ``|d(z) - b|^2 / 2`` ``(m,)``."""
        H = self.features(Z)
        HW = H if self.gram is None else H @ self.gram
        return H, 0.5 * np.einsum("mf,mf->m", HW, H)

    def log_likelihood(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """``log N(x_i; d(z_ij), I)`` for ``X: (n, N)`` and each row's own points ``Z: (n, P, k)`` -> ``(n, P)``."""
        n, P, k = Z.shape
        projected, constant = self.prepare(X)
        out = np.empty((n, P))
        rows = max(1, POINTS_PER_CALL // P)
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            H, half_square = self.readout(Z[lo:hi].reshape(-1, k))
            cross = np.einsum("npf,nf->np", H.reshape(hi - lo, P, -1), projected[lo:hi])
            out[lo:hi] = constant[lo:hi, None] + cross - half_square.reshape(hi - lo, P)
        return out


def gaussian_decoder(model) -> GaussianDecoder:
    """The :class:`GaussianDecoder` of ``model``.

    A one-realization :class:`~betavae_sym.deep.model.BetaVAE`: its hidden
    decoder layers (in the model's dtype) and its last Dense layer's W, b (float64).
    Any other object with ``decode(Z: (1, m, k)) -> (1, m, N)``: that mean itself.
    """
    from betavae_sym.deep.model import BetaVAE

    if isinstance(model, BetaVAE) and model.R == 1:
        network = model.shards[0]
        hidden, last = network.decoder[:-1], network.decoder[-1]

        def features(Z):
            h = np.asarray(Z, dtype=model.dtype)[None]
            for layer in hidden:
                h = layer.forward(h)
            return np.array(h[0], dtype=np.float64)  # a copy: the layers reuse their buffers

        return GaussianDecoder(features, np.asarray(last.params["W"][0], dtype=np.float64),
                               np.asarray(last.params["b"][0, 0], dtype=np.float64))
    return GaussianDecoder(lambda Z: np.asarray(model.decode(Z[None])[0], dtype=np.float64), None, 0.0)


@dataclass(frozen=True)
class Estimate:
    """Per-row values of one quadrature.

    Attributes
    ----------
    value : ndarray, (n,)
    error : ndarray, (n,)
        Each row's error estimate (nats).
    converged : ndarray of bool, (n,)
        ``error <= tolerance``.
    points : int
        Latent points decoded (the cost).
    """

    value: np.ndarray
    error: np.ndarray
    converged: np.ndarray
    points: int


@lru_cache(maxsize=None)
def hermite_grid(nodes: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor probabilists' Gauss-Hermite rule: ``t: (nodes^k, k)``, ``log_w: (nodes^k,)`` (weights sum to 1)."""
    from numpy.polynomial.hermite_e import hermegauss

    t, w = hermegauss(nodes)
    axes = np.meshgrid(*([t] * k), indexing="ij")
    weights = np.meshgrid(*([np.log(w / w.sum())] * k), indexing="ij")
    T, log_w = np.stack([a.ravel() for a in axes], axis=1), sum(w.ravel() for w in weights)
    T.flags.writeable = log_w.flags.writeable = False
    return T, log_w


def _log_prior(Z: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(Z**2, axis=-1) - 0.5 * Z.shape[-1] * LOG_2PI


def _log_normal_at_nodes(T: np.ndarray, scale_diagonal: np.ndarray) -> np.ndarray:
    """``log N(c + L t; c, L L^T)`` at nodes ``T: (P, k)`` for rows with ``diag L: (r, k)`` -> ``(r, P)``."""
    log_det = np.sum(np.log(np.abs(scale_diagonal)), axis=1)
    return -0.5 * np.sum(T**2, axis=1)[None, :] - log_det[:, None] - 0.5 * T.shape[1] * LOG_2PI


def gauss_hermite_recon(decoder: GaussianDecoder, X: np.ndarray, mu: np.ndarray, logvar: np.ndarray, *,
                        tolerance: float = QUADRATURE_TOLERANCE) -> Estimate:
    """``E_q[log p(x|z)]`` per row by Gauss-Hermite on q, refined per row (module docstring)."""
    n, k = mu.shape
    sigma = np.exp(0.5 * logvar)
    value, error = np.full(n, np.nan), np.full(n, np.inf)
    active, points = np.arange(n), 0
    for count in RECON_NODES:
        T, log_w = hermite_grid(count, k)
        Z = mu[active, None, :] + sigma[active, None, :] * T
        estimate = decoder.log_likelihood(X[active], Z) @ np.exp(log_w)
        points += Z.shape[0] * Z.shape[1]
        error[active] = np.abs(estimate - value[active])  # inf after the first rule (NaN - x)
        value[active] = estimate
        active = active[~(error[active] <= tolerance)]
        if not active.size:
            break
    return Estimate(value, error, error <= tolerance, points)


def _lattice(spacing: float, half_width: float, k: int, shifted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lattice points in ``[-R, R]^k`` ``(P, k)`` and the mask of the outermost ring (unshifted lattice)."""
    m = int(math.floor(half_width / spacing + 1e-9))
    axis = spacing * ((np.arange(-m, m) + 0.5) if shifted else np.arange(-m, m + 1))
    Z = np.stack([a.ravel() for a in np.meshgrid(*([axis] * k), indexing="ij")], axis=1)
    ring = np.zeros(len(Z), dtype=bool) if shifted else np.max(np.abs(Z), axis=1) >= (m - 0.25) * spacing
    return Z, ring


def lattice_marginal(decoder: GaussianDecoder, X: np.ndarray, k: int, *,
                     tolerance: float = QUADRATURE_TOLERANCE, half_width: float = LATTICE_HALF_WIDTH,
                     spacings=LATTICE_SPACINGS) -> Estimate:
    """``log p_theta(x)`` per row by the interleaved lattices (module docstring); rows ``X: (n, N)``."""
    n = X.shape[0]
    projected, constant = decoder.prepare(X)
    value, error = np.full(n, np.nan), np.full(n, np.inf)
    active, points = np.arange(n), 0
    for h in spacings:
        logs, ring_share = [], None
        for shifted in (False, True):
            Z, ring = _lattice(h, half_width, k, shifted)
            total, on_ring = _streamed_logsumexp(decoder, projected[active], constant[active], Z, ring)
            logs.append(total + k * math.log(h))
            if not shifted:
                ring_share = np.exp(on_ring - total)
            points += len(Z)
        estimate = np.logaddexp(logs[0], logs[1]) - math.log(2.0)
        difference = np.maximum(np.abs(logs[0] - logs[1]), ring_share)
        error[active] = np.where(np.isfinite(difference), difference, np.inf)  # no mass seen: not converged
        value[active] = estimate
        active = active[~(error[active] <= tolerance)]
        if not active.size:
            break
    return Estimate(value, error, error <= tolerance, points)


def _streamed_logsumexp(decoder, projected, constant, Z, ring) -> tuple[np.ndarray, np.ndarray]:
    """Per row: ``logsumexp_j [log p(x|z_j) + log p(z_j)]`` over ``Z: (P, k)``, and over the ``ring`` points."""
    rows = len(projected)
    top, total, top_ring, total_ring = (np.full(rows, -np.inf), np.zeros(rows), np.full(rows, -np.inf),
                                        np.zeros(rows))
    for lo in range(0, len(Z), POINTS_PER_CALL):
        chunk = Z[lo:lo + POINTS_PER_CALL]
        H, half_square = decoder.readout(chunk)
        terms = constant[:, None] + projected @ H.T + (_log_prior(chunk) - half_square)[None, :]
        top, total = _accumulate(top, total, terms)
        on_ring = ring[lo:lo + POINTS_PER_CALL]
        if on_ring.any():
            top_ring, total_ring = _accumulate(top_ring, total_ring, terms[:, on_ring])
    with np.errstate(divide="ignore"):
        return top + np.log(total), top_ring + np.log(total_ring)


def _accumulate(top: np.ndarray, total: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running ``logsumexp``: ``(max, sum exp(. - max))`` updated with ``terms: (rows, m)``."""
    new_top = np.maximum(top, terms.max(axis=1))
    with np.errstate(invalid="ignore"):
        scale = np.where(np.isfinite(top), np.exp(top - new_top), 0.0)
    return new_top, total * scale + np.exp(terms - new_top[:, None]).sum(axis=1)


class _Frames:
    """Centres (n, k) and Cholesky factors (n, k, k) of the rows' Gauss-Hermite grids."""

    def __init__(self, centre: np.ndarray, chol: np.ndarray):
        self.centre, self.chol = centre, chol

    def points(self, rows: np.ndarray, T: np.ndarray) -> np.ndarray:
        """``z = c + L t`` for each row and node: ``(len(rows), P, k)``."""
        return self.centre[rows, None, :] + np.einsum("rij,pj->rpi", self.chol[rows], T)

    def log_density(self, rows: np.ndarray, T: np.ndarray) -> np.ndarray:
        """``log N(z; c, L L^T)`` at the nodes, ``(len(rows), P)``."""
        return _log_normal_at_nodes(T, np.diagonal(self.chol[rows], axis1=1, axis2=2))

    def recentre(self, rows: np.ndarray, Z: np.ndarray, weights: np.ndarray) -> None:
        """Move the frames of ``rows`` to the mean and covariance of ``weights: (r, P)`` over ``Z: (r, P, k)``.

        In the old frame's coordinates the new covariance's eigenvalues are
        clipped to [1/64, 64] (a frame changes its scale by at most 8 per pass).
        """
        mean = np.einsum("rp,rpi->ri", weights, Z)
        D = Z - mean[:, None, :]
        cov = np.einsum("rp,rpi,rpj->rij", weights, D, D)
        old = self.chol[rows]
        inverse = np.linalg.inv(old)
        relative = inverse @ cov @ np.swapaxes(inverse, 1, 2)
        values, vectors = np.linalg.eigh(0.5 * (relative + np.swapaxes(relative, 1, 2)))
        relative = (vectors * np.clip(values, 1.0 / 64.0, 64.0)[:, None, :]) @ np.swapaxes(vectors, 1, 2)
        self.centre[rows] = mean
        self.chol[rows] = np.linalg.cholesky(old @ relative @ np.swapaxes(old, 1, 2))


def gauss_hermite_marginal(decoder: GaussianDecoder, X: np.ndarray, mu: np.ndarray, logvar: np.ndarray, *,
                           tolerance: float = QUADRATURE_TOLERANCE) -> Estimate:
    """``log p_theta(x)`` per row by adaptive Gauss-Hermite (module docstring); ``mu, logvar: (n, k)``."""
    n, k = mu.shape
    chol = np.zeros((n, k, k))
    chol[:, np.arange(k), np.arange(k)] = np.maximum(np.exp(0.5 * logvar), FRAME_FLOOR)
    frames = _Frames(mu.copy(), chol)
    points = 0

    def quadrature_pass(rows, nodes_per_axis):
        nonlocal points
        T, log_w = hermite_grid(nodes_per_axis, k)
        Z = frames.points(rows, T)
        terms = decoder.log_likelihood(X[rows], Z) + _log_prior(Z) - frames.log_density(rows, T) + log_w
        points += Z.shape[0] * Z.shape[1]
        value = logsumexp(terms, axis=1)
        frames.recentre(rows, Z, np.exp(terms - value[:, None]))
        return value

    everything = np.arange(n)
    for _ in range(ADAPT_PASSES):
        value = quadrature_pass(everything, ADAPT_NODES)
    error = np.full(n, np.inf)
    active = everything
    for count in REFINE_NODES:
        estimate = quadrature_pass(active, count)
        error[active] = np.abs(estimate - value[active])
        value[active] = estimate
        active = active[~(error[active] <= tolerance)]
        if not active.size:
            break
    return Estimate(value, error, error <= tolerance, points)


@dataclass(frozen=True)
class ExactTerms:
    """:func:`exact_terms`: the reconstruction and the marginal of every row, and how they were obtained.

    ``recon``, ``log_marginal``: :class:`Estimate`; ``adaptive_rows``: rows whose
    marginal came from adaptive Gauss-Hermite (the lattices left them above the tolerance).
    """

    recon: Estimate
    log_marginal: Estimate
    adaptive_rows: int


def exact_terms(decoder: GaussianDecoder, X: np.ndarray, mu: np.ndarray, logvar: np.ndarray, *,
                tolerance: float = QUADRATURE_TOLERANCE) -> ExactTerms:
    """Reconstruction and ``log p_theta(x)`` of every row, each within ``tolerance`` nats (k <= 2)."""
    recon = gauss_hermite_recon(decoder, X, mu, logvar, tolerance=tolerance)
    marginal = lattice_marginal(decoder, X, mu.shape[1], tolerance=tolerance)
    rows = np.flatnonzero(~marginal.converged)
    points = recon.points + marginal.points
    value, error = marginal.value.copy(), marginal.error.copy()
    if rows.size:
        adaptive = gauss_hermite_marginal(decoder, X[rows], mu[rows], logvar[rows], tolerance=tolerance)
        better = adaptive.error < error[rows]
        value[rows[better]], error[rows[better]] = adaptive.value[better], adaptive.error[better]
        points += adaptive.points
    return ExactTerms(recon, Estimate(value, error, error <= tolerance, points - recon.points), int(rows.size))


@dataclass(frozen=True)
class SamplingResult:
    """Per-row Monte Carlo results (see :func:`monte_carlo_recon`, :func:`defensive_importance`).

    ``value: (n,)``; ``per_draw: (S,)`` the row average of each shared draw's term (for the
    standard error of the row mean); ``points``: latent points decoded.
    """

    value: np.ndarray
    per_draw: np.ndarray
    points: int

    @property
    def standard_error(self) -> float:
        """Standard error of ``value.mean()`` over the shared draws (NaN for one draw)."""
        S = len(self.per_draw)
        return float(np.std(self.per_draw, ddof=1) / math.sqrt(S)) if S > 1 else math.nan


def monte_carlo_recon(decoder: GaussianDecoder, X: np.ndarray, mu: np.ndarray, logvar: np.ndarray,
                      eps: np.ndarray) -> SamplingResult:
    """``E_q[log p(x|z)]`` by Monte Carlo: ``z_s = mu + sigma eps_s`` with the shared draws ``eps: (S, k)``."""
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps[None]
    log_lik = decoder.log_likelihood(X, Z)
    return SamplingResult(log_lik.mean(axis=1), log_lik.mean(axis=0), Z.shape[0] * Z.shape[1])


class _Mixture:
    """Per-row proposal: the prior N(0, I) and Gaussians ``N(c_j, L_j L_j^T)`` (``c_j: (n, k)``, ``L_j: (n, k, k)``).

    Drawn in fixed counts (``shares`` of K, the prior's first, rounded to sum to K); every weight divides by
    the mixture with the shares of those counts (the balance heuristic), so the estimate of p(x) is unbiased.
    """

    def __init__(self, prior_share: float, components: list[tuple[float, np.ndarray, np.ndarray]]):
        self.shares = np.array([prior_share] + [share for share, _, _ in components])
        self.components = [(centre, chol) for _, centre, chol in components]

    def counts(self, K: int) -> np.ndarray:
        edges = np.round(np.cumsum(self.shares) / self.shares.sum() * K).astype(int)
        return np.diff(edges, prepend=0)

    def draws(self, eps: np.ndarray, n: int) -> np.ndarray:
        """``(n, K, k)``: the shared standard normals ``eps: (K, k)`` placed by each component in turn."""
        ends = np.cumsum(self.counts(len(eps)))
        parts = [np.broadcast_to(eps[None, :ends[0]], (n, ends[0], eps.shape[1]))]
        for (centre, chol), lo, hi in zip(self.components, ends[:-1], ends[1:]):
            parts.append(centre[:, None, :] + np.einsum("nij,sj->nsi", chol, eps[lo:hi]))
        return np.concatenate(parts, axis=1)

    def log_density(self, Z: np.ndarray) -> np.ndarray:
        """``log r(z)`` at ``Z: (n, K, k)``, r with the shares of the counts drawn."""
        k = Z.shape[2]
        shares = self.counts(Z.shape[1]) / Z.shape[1]
        terms = [math.log(shares[0]) + _log_prior(Z)] if shares[0] > 0 else []
        for share, (centre, chol) in zip(shares[1:], self.components):
            if share > 0:
                standard = np.linalg.solve(chol[:, None, :, :], (Z - centre[:, None, :])[..., None])[..., 0]
                log_det = np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
                terms.append(math.log(share) - 0.5 * np.sum(standard**2, axis=2) - log_det[:, None]
                             - 0.5 * k * LOG_2PI)
        return logsumexp(np.stack(terms), axis=0)

    def log_weights(self, decoder: GaussianDecoder, X: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The draws ``Z: (n, K, k)`` and their log weights ``log p(x|z) + log p(z) - log r(z)``, ``(n, K)``."""
        Z = self.draws(eps, len(X))
        return Z, decoder.log_likelihood(X, Z) + _log_prior(Z) - self.log_density(Z)


def defensive_importance(decoder: GaussianDecoder, X: np.ndarray, mu: np.ndarray, logvar: np.ndarray,
                         eps: np.ndarray, *, prior_share: float = PRIOR_SHARE) -> SamplingResult:
    """``log p_theta(x)`` by adaptive defensive importance sampling (module docstring), shared draws ``eps: (K, k)``.

    Pilot: the first ``round(PILOT_SHARE K)`` draws, from ``a N(0, I) + (1 - a) N(mu, c^2 diag sigma^2)``;
    their self-normalized weights give each row's posterior mean m and covariance C. Estimate: the other
    draws, from ``a N(0, I) + (1 - a)/2 N(m, s^2 C) + (1 - a)/2 N(mu, c^2 diag sigma^2)`` (``a = prior_share``,
    ``c = PROPOSAL_WIDTH``, ``s^2 = PROPOSAL_INFLATION``). With fewer than ``MIN_PILOT_PER_UNIT k`` pilot
    draws there is no pilot: all K draws come from the pilot's proposal. ``per_draw``: the row average of
    each estimating draw's log weight.
    """
    K, k = eps.shape
    n = len(mu)
    wide = np.zeros((n, k, k))
    wide[:, np.arange(k), np.arange(k)] = PROPOSAL_WIDTH * np.exp(0.5 * logvar)
    proposal = _Mixture(prior_share, [(1.0 - prior_share, mu, wide)])
    pilot = int(round(PILOT_SHARE * K))
    points = 0
    if pilot >= MIN_PILOT_PER_UNIT * k:
        Z, log_weight = proposal.log_weights(decoder, X, eps[:pilot])
        points += Z.shape[0] * Z.shape[1]
        weight = np.exp(log_weight - logsumexp(log_weight, axis=1)[:, None])
        mean = np.einsum("ns,nsi->ni", weight, Z)
        D = Z - mean[:, None, :]
        chol = np.linalg.cholesky(PROPOSAL_INFLATION * np.einsum("ns,nsi,nsj->nij", weight, D, D) + 1e-12 * np.eye(k))
        half = 0.5 * (1.0 - prior_share)
        proposal = _Mixture(prior_share, [(half, mean, chol), (half, mu, wide)])
    else:
        pilot = 0
    Z, log_weight = proposal.log_weights(decoder, X, eps[pilot:])
    points += Z.shape[0] * Z.shape[1]
    return SamplingResult(logsumexp(log_weight, axis=1) - math.log(K - pilot), log_weight.mean(axis=0), points)

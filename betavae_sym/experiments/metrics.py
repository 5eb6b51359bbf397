"""Metrics of a trained beta-VAE on its dataset (paper, "Calculation of Objective Terms").

Every quantity is in nats per example, normalizing constants included,
averaged over the n examples of the dataset the network was trained on (the
empirical distribution, not p(x)), so the deep numbers sit on the analytic
model's scale when the data are the same. Conventions (x: the network's input,
standardized or not; ``log N(x; m, I_N) = -N/2 log 2 pi - |x - m|^2 / 2``)::

    recon      = mean_x E_q(z|x)[log p(x|z)]          Monte Carlo, S samples per x (paper: 1000)
    recon_mc_se = standard error of that Monte Carlo estimate (dataset fixed, only z random)
    kl         = mean_x KL(q(z|x) || N(0, I_k))          exact (Eq. 66)
    elbo       = recon - kl                              (Eq. 12)
    objective  = recon - beta kl                         the beta-VAE objective L_beta (Eq. 13)
    log_likelihood = mean_x IWAE_K(x),  IWAE_K(x) = log 1/K sum_s p(x|z_s) p(z_s) / q(z_s|x),  z_s ~ q(z|x)
    mie        = log_likelihood - elbo                   model inference error, mean_x KL(q(z|x) || p_theta(z|x))
    tie        = min over signed permutations P of mean_x KL(N(P mu_q, P diag sigma_q^2 P^T) || p(s|x_raw))

IWAE bias: E[IWAE_K(x)] <= log p_theta(x), increasing in K, with a bias of
about Var[w] / (2 K E[w]^2) (Burda et al. 2016; w the importance weight), so
``log_likelihood`` is biased low and ``mie`` biased low (it can come out
slightly negative when q(z|x) is close to the model's posterior). The first
``min(S, K)`` latent samples are shared by ``recon`` and the IWAE estimate.

Beyond the paper (posterior collapse and disentanglement diagnostics):

* ``kl_units``: mean_x KL of each latent unit, listed in the order of the
  sources the TIE alignment matched them to.
* ``active_units``: units with Cov_x(E_q[z_u]) > 0.01 (Burda et al. 2016).
* ``mig``: mutual information gap (Chen et al. 2018) between the encoder means
  and the true sources, both discretized into 20 equal-frequency (quantile)
  bins; plug-in mutual information of the binned pairs; each source's gap
  (largest minus second-largest MI over units) divided by the entropy of the
  binned source (log 20), averaged over sources. The plug-in estimator is
  biased up by about (bins - 1)^2 / (2 n) nats for independent pairs.
* ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``
  (Eastwood & Williams 2018) with a linear regressor: importance ``R[u, i]`` =
  |coefficient of unit u| in the least-squares regression of the standardized
  source i on all standardized encoder means; disentanglement = sum_u rho_u
  (1 - H_K(R[u, :] / sum)), rho_u the unit's share of the total importance;
  completeness = sum_i rho_i (1 - H_U(R[:, i] / sum)); informativeness = mean
  R^2 of those regressions (in-sample). Entropies in base K (sources) and U (units).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.special import logsumexp

from betavae_sym.errors import BadInput

LOG_2PI = math.log(2.0 * math.pi)
#: Scalar metrics, in the order of tables and summaries.
SCALAR_METRICS = ("elbo", "tie", "recon", "kl", "objective", "mie", "log_likelihood", "recon_mc_se",
                  "active_units", "mig", "dci_disentanglement", "dci_completeness", "dci_informativeness")
#: Largest k for the exact signed-permutation search (k! 2^k alignments).
MAX_EXACT_ALIGNMENT_K = 6
#: Bins of the MIG estimator.
MIG_BINS = 20
#: Activity threshold on Cov_x(E_q[z_u]) (Burda et al. 2016).
ACTIVE_UNIT_THRESHOLD = 0.01


def gaussian_kl_to_full(mu_q: np.ndarray, var_q: np.ndarray, mu_p: np.ndarray, cov_p: np.ndarray) -> np.ndarray:
    """KL(N(mu_q, diag var_q) || N(mu_p, cov_p)) per row, in nats.

    ``1/2 [tr(cov_p^-1 diag var_q) + (mu_p - mu_q)^T cov_p^-1 (mu_p - mu_q) - k + log det cov_p - sum log var_q]``

    Parameters
    ----------
    mu_q, var_q : ndarray, (n, k)
    mu_p : ndarray, (n, k)
    cov_p : ndarray, (k, k)

    Returns
    -------
    ndarray, (n,)
    """
    k = mu_q.shape[1]
    precision = np.linalg.inv(cov_p)
    d = mu_p - mu_q
    trace = var_q @ np.diag(precision)
    quadratic = np.einsum("ni,ij,nj->n", d, precision, d)
    logdet_p = np.linalg.slogdet(cov_p)[1]
    return 0.5 * (trace + quadratic - k + logdet_p - np.sum(np.log(var_q), axis=1))


def signed_permutations(k: int):
    """All ``(perm, signs)``: unit ``perm[i]`` times ``signs[i]`` is matched to source i (k! 2^k of them)."""
    for perm in itertools.permutations(range(k)):
        for signs in itertools.product((1.0, -1.0), repeat=k):
            yield np.array(perm), np.array(signs)


def true_inference_error(mu_q: np.ndarray, var_q: np.ndarray, posterior_mean: np.ndarray,
                         posterior_cov: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """TIE: mean_x KL(q(z|x) || p(s|x)) at the best signed permutation of the units.

    Parameters
    ----------
    mu_q, var_q : ndarray, (n, k)
        The encoder's mean and variance of each example.
    posterior_mean : ndarray, (n, k)
    posterior_cov : ndarray, (k, k)
        The ground-truth Gaussian posterior p(s|x_raw).

    Returns
    -------
    tie : float
    perm, signs : ndarray, (k,)
        Source i is matched to unit ``perm[i]`` with sign ``signs[i]``.
    """
    k = mu_q.shape[1]
    if posterior_mean.shape != mu_q.shape:
        raise BadInput(f"TIE: the network has {k} latent units but the data have {posterior_mean.shape[1]} "
                       "sources; use as many latent units as sources")
    if k > MAX_EXACT_ALIGNMENT_K:
        raise BadInput(f"TIE: exact alignment searches k! 2^k signed permutations; k = {k} is above "
                       f"{MAX_EXACT_ALIGNMENT_K}")
    best = (math.inf, None, None)
    for perm, signs in signed_permutations(k):
        value = float(np.mean(gaussian_kl_to_full(mu_q[:, perm] * signs, var_q[:, perm], posterior_mean,
                                                  posterior_cov)))
        if value < best[0]:
            best = (value, perm, signs)
    return best


def _entropy(p: np.ndarray, base: float, axis: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=axis) / math.log(base) if base > 1 else np.zeros(p.shape[1 - axis])


def quantile_bins(values: np.ndarray, bins: int = MIG_BINS) -> np.ndarray:
    """Equal-frequency bin index (0..bins-1) of each entry of each column, ``(n, d) -> (n, d)`` ints."""
    n = values.shape[0]
    ranks = np.argsort(np.argsort(values, axis=0, kind="stable"), axis=0, kind="stable")
    return (ranks * bins) // n


def discrete_mutual_information(a: np.ndarray, b: np.ndarray, bins: int) -> float:
    """Plug-in mutual information (nats) of two integer label arrays in ``0..bins-1``."""
    joint = np.zeros((bins, bins))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    mask = joint > 0
    return float(np.sum(joint[mask] * np.log(joint[mask] / (pa @ pb)[mask])))


def mig(codes: np.ndarray, sources: np.ndarray, bins: int = MIG_BINS) -> float:
    """Mutual information gap of ``codes: (n, U)`` against ``sources: (n, K)`` (see module docstring)."""
    zc, sc = quantile_bins(codes, bins), quantile_bins(sources, bins)
    U, K = codes.shape[1], sources.shape[1]
    if U < 2:
        return math.nan
    gaps = []
    for i in range(K):
        mi = sorted((discrete_mutual_information(zc[:, u], sc[:, i], bins) for u in range(U)), reverse=True)
        entropy = -sum(p * math.log(p) for p in np.bincount(sc[:, i], minlength=bins) / len(sc) if p > 0)
        gaps.append((mi[0] - mi[1]) / entropy)
    return float(np.mean(gaps))


def dci(codes: np.ndarray, sources: np.ndarray) -> dict:
    """DCI disentanglement, completeness and informativeness with a linear regressor (module docstring)."""
    def standardize(values):
        std = values.std(axis=0)
        return (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)

    Z, S = standardize(codes), standardize(sources)
    coef, *_ = np.linalg.lstsq(Z, S, rcond=None)  # (U, K)
    importance = np.abs(coef)
    residual = S - Z @ coef
    r2 = 1.0 - residual.var(axis=0) / np.where(S.var(axis=0) > 0, S.var(axis=0), 1.0)
    total = importance.sum()
    U, K = importance.shape
    if total == 0:
        return {"dci_disentanglement": 0.0, "dci_completeness": 0.0, "dci_informativeness": float(np.mean(r2))}
    unit_share = importance.sum(axis=1) / total
    source_share = importance.sum(axis=0) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        per_unit = importance / importance.sum(axis=1, keepdims=True)
        per_source = importance / importance.sum(axis=0, keepdims=True)
    disentanglement = 1.0 - _entropy(np.nan_to_num(per_unit), K, axis=1)
    completeness = 1.0 - _entropy(np.nan_to_num(per_source), U, axis=0)
    return {"dci_disentanglement": float(np.sum(unit_share * disentanglement)),
            "dci_completeness": float(np.sum(source_share * completeness)),
            "dci_informativeness": float(np.mean(r2))}


def evaluate(model, dataset, beta: float, *, samples: int = 1000, iwae_samples: int | None = None,
             seed=0, max_batch: int = 20_000) -> dict:
    """All metrics of a one-realization model on ``dataset`` (see the module docstring).

    Parameters
    ----------
    model : object with ``encode(X) -> (mu, logvar)`` ``(1, n, k)`` and ``decode(Z: (1, m, k)) -> (1, m, N)``
        A :class:`~betavae_sym.deep.model.BetaVAE` with one realization.
    dataset : SyntheticDataset
        Uses ``X`` (the network's input), ``S``, ``posterior_mean``, ``posterior_cov``.
    beta : float
        The beta of the objective L_beta.
    samples : int
        S, latent samples per example for ``recon`` (paper: 1000).
    iwae_samples : int, optional
        K of the IWAE estimate (default S).
    seed : int or sequence of int
        Seed of the latent samples (``numpy.random.default_rng(seed)``; one draw of shape (n, max(S, K), k)).
    max_batch : int
        Decode at most this many latent samples at once (memory; the numbers do not depend on it).

    Returns
    -------
    dict
        The floats of :data:`SCALAR_METRICS` plus ``kl_units`` (list of k) and
        ``alignment`` (``{"perm": [...], "signs": [...]}``).
    """
    samples = int(samples)
    K = samples if iwae_samples is None else int(iwae_samples)
    if samples < 1 or K < 1:
        raise BadInput(f"metrics: samples = {samples} and IWAE samples = {K} must be positive")
    X = np.asarray(dataset.X, dtype=np.float64)
    n, N = X.shape
    mu, logvar = (np.asarray(a, dtype=np.float64)[0] for a in model.encode(dataset.X))
    var = np.exp(logvar)
    k = mu.shape[1]
    draws = max(samples, K)
    eps = np.random.default_rng(seed).standard_normal((n, draws, k))
    log_lik = np.empty((n, draws))  # log N(x; decoder(z_s), I)
    per_chunk = max(1, max_batch // draws)
    for lo in range(0, n, per_chunk):
        hi = min(n, lo + per_chunk)
        z = mu[lo:hi, None, :] + np.sqrt(var[lo:hi, None, :]) * eps[lo:hi]  # (m, D, k)
        mean = np.asarray(model.decode(z.reshape(1, -1, k))[0], dtype=np.float64).reshape(hi - lo, draws, N)
        diff = mean - X[lo:hi, None, :]
        log_lik[lo:hi] = -0.5 * N * LOG_2PI - 0.5 * np.einsum("msn,msn->ms", diff, diff)
    rec = log_lik[:, :samples]
    recon = float(rec.mean())
    recon_mc_se = float(math.sqrt(np.sum(rec.var(axis=1, ddof=1)) / samples) / n) if samples > 1 else math.nan
    kl_units_raw = 0.5 * (mu**2 + var - 1.0 - logvar)  # (n, k), Eq. 66 per unit
    kl = float(kl_units_raw.sum(axis=1).mean())
    # IWAE: log w = log p(x|z) + log N(z; 0, I) - log N(z; mu, var)
    e = eps[:, :K]
    z = mu[:, None, :] + np.sqrt(var[:, None, :]) * e
    log_prior = -0.5 * np.sum(z**2, axis=2) - 0.5 * k * LOG_2PI
    log_q = -0.5 * np.sum(e**2, axis=2) - 0.5 * np.sum(logvar, axis=1)[:, None] - 0.5 * k * LOG_2PI
    log_w = log_lik[:, :K] + log_prior - log_q
    log_likelihood = float(np.mean(logsumexp(log_w, axis=1) - math.log(K)))
    elbo = recon - kl
    tie, perm, signs = true_inference_error(mu, var, dataset.posterior_mean, dataset.posterior_cov)
    activity = mu.var(axis=0)
    result = {
        "elbo": elbo, "tie": tie, "recon": recon, "kl": kl, "objective": recon - beta * kl,
        "mie": log_likelihood - elbo, "log_likelihood": log_likelihood, "recon_mc_se": recon_mc_se,
        "active_units": int(np.sum(activity > ACTIVE_UNIT_THRESHOLD)),
        "mig": mig(mu, np.asarray(dataset.S)),
        **dci(mu, np.asarray(dataset.S)),
        "kl_units": kl_units_raw.mean(axis=0)[perm].tolist(),
        "alignment": {"perm": perm.tolist(), "signs": signs.tolist()},
    }
    return result

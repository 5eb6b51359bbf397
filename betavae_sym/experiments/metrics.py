"""Metrics of a trained beta-VAE on a dataset (paper, "Calculation of Objective Terms").

Every quantity is in nats per example, normalizing constants included,
averaged over the n rows of the dataset given (the empirical distribution, not
p(x)), so the deep numbers sit on the analytic model's scale when the data are
the same. Conventions (x: the network's input, standardized or not;
``log N(x; m, I_N) = -N/2 log 2 pi - |x - m|^2 / 2``)::

    recon      = mean_x E_q(z|x)[log p(x|z)]
    kl         = mean_x KL(q(z|x) || N(0, I_k))          exact (Eq. 66)
    elbo       = recon - kl                              (Eq. 12)
    objective  = recon - beta kl                         the beta-VAE objective L_beta (Eq. 13)
    log_likelihood = mean_x log p_theta(x)
    mie        = log_likelihood - elbo = mean_x KL(q(z|x) || p_theta(z|x))
    tie        = min over signed permutations P of mean_x KL(N(P mu, P diag sigma^2 P^T) || p(s|x))
    tie_rotation = the same minimum over all orthogonal Q (<= tie)

Estimators (``estimator=``; cost and error in the README, methods in
:mod:`betavae_sym.experiments.likelihood`):

* ``"exact"`` (the default for k <= 2): ``recon`` by Gauss-Hermite on q and
  ``log_likelihood`` by quadrature over z (interleaved lattices, adaptive
  Gauss-Hermite for the rows they leave), each row within ``tolerance`` nats,
  so ``mie`` is exact to twice that; ``quadrature_error`` is the largest row
  error estimate of the two, ``recon_mc_se`` is null.
* ``"sampling"`` (the default for k > 2): ``recon`` by Monte Carlo with S draws
  of q (paper: 1000) and its standard error ``recon_mc_se``;
  ``log_likelihood`` by defensive importance sampling with K draws (biased low
  by a measured amount, README), so ``mie`` is biased low too.

All latent draws are shared by the rows (``numpy.random.default_rng(seed)``),
so every metric is invariant to the order of the rows.

Alignment (:mod:`betavae_sym.alignment`): ``tie`` at the best signed
permutation (exhaustive for k <= 6; the alignment is in ``alignment``);
``tie_rotation`` at the best orthogonal map (exact for k <= 2, a seeded local
search above, started at the best signed permutation); ``rotation_angle_deg``:
how far that map turns the axes beyond relabelling them (the largest
principal angle of P^T Q, P its nearest signed permutation; in [0, 45] for
k = 2); ``reference_angle_deg``: the same angle for the orthogonal Procrustes
map from the encoder means to another code's means on the same rows (e.g. the
exact linear optimum's), null without one.

Beyond the paper (posterior collapse and disentanglement diagnostics):

* ``kl_units``: mean_x KL of each latent unit, listed in the order of the
  sources the TIE alignment matched them to.
* ``active_units``: units with Cov_x(E_q[z_u]) > 0.01 (Burda et al. 2016).
* ``mig``: mutual information gap (Chen et al. 2018) between the encoder means
  and the true sources, both discretized into 20 equal-frequency (quantile)
  bins, tied values sharing the bin of their first rank; plug-in mutual
  information of the binned pairs; each source's gap (largest minus
  second-largest MI over units) divided by the entropy of the binned source,
  averaged over sources. Undefined (null) for one unit or fewer rows than
  bins. The plug-in estimate is biased: a perfect code scores below 1 (the
  README gives the bias against n).
* ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``
  (Eastwood & Williams 2018) with a linear regressor: importance ``R[u, i]`` =
  |coefficient of unit u| in the least-squares regression of the standardized
  source i on all standardized encoder means; disentanglement = sum_u rho_u
  (1 - H_K(R[u, :] / sum)), rho_u the unit's share of the total importance;
  completeness = sum_i rho_i (1 - H_U(R[:, i] / sum)); informativeness = mean
  R^2 of those regressions (in-sample). Entropies in base K (sources) and U
  (units). Disentanglement and completeness are undefined (null) unless the
  code predicts some source better than chance (then the importances are
  noise: a code independent of the sources scored 0.39 at k = 2): the F-test
  of each regression, exact for Gaussian sources independent of the code
  (in-sample R^2 is then Beta(p/2, (n - p - 1)/2), mean p/(n - 1), p the
  number of non-constant units), must reject at ``DCI_SIGNIFICANCE`` (0.001)
  after a Bonferroni correction over the sources.
* ``p_mig``, ``p_dci_*``, ``p_axes_angle_deg`` (the positioned digit, given
  ``positions``; Figure 5E's "units encode seemingly orthogonal axes of
  motion"): MIG and DCI with the two position coordinates p as the sources,
  and the angle between the units' directions in p-space (each unit's mean
  regressed on p; :func:`position_metrics`).

A metric that is undefined is null in the result, with its reason in
``undefined``. A non-finite code, variance or decoder output raises
:class:`MetricsFailed`, never a number.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from betavae_sym.alignment import (OrthogonalQuadratic, axes_angle_between, axes_angle_deg, best_orthogonal,
                                   best_signed_permutation, permutation_and_signs)
from betavae_sym.errors import BadInput, CheckFailed

#: The metrics of :func:`position_metrics` (null without positions).
POSITION_METRICS = ("p_mig", "p_dci_disentanglement", "p_dci_completeness", "p_dci_informativeness",
                    "p_axes_angle_deg")
#: Scalar metrics, in the order of tables and summaries (null where undefined).
SCALAR_METRICS = ("elbo", "tie", "recon", "kl", "objective", "mie", "log_likelihood", "recon_mc_se",
                  "active_units", "mig", "dci_disentanglement", "dci_completeness", "dci_informativeness",
                  "tie_rotation", "rotation_angle_deg", "reference_angle_deg", "quadrature_error", *POSITION_METRICS)
#: Estimators of ``evaluate`` (``"auto"``: exact for k <= MAX_EXACT_K, sampling above).
ESTIMATORS = ("auto", "exact", "sampling")
#: Largest latent dimension of the exact (quadrature) estimator.
MAX_EXACT_K = 2
#: Bins of the MIG estimator.
MIG_BINS = 20
#: Activity threshold on Cov_x(E_q[z_u]) (Burda et al. 2016).
ACTIVE_UNIT_THRESHOLD = 0.01
#: DCI D and C are undefined unless some source is predicted better than chance at this significance.
DCI_SIGNIFICANCE = 1e-3
#: log sigma^2 outside this range makes sigma^2 = exp(log sigma^2) 0 or inf in float64.
LOGVAR_RANGE = (math.log(np.finfo(np.float64).tiny), math.log(np.finfo(np.float64).max))


class MetricsFailed(CheckFailed):
    """A network's code, variance or decoder output is not finite: no metric is a number."""


class MetricUndefined(ValueError):
    """A metric has no value for these inputs (the message says why)."""


def tie_objective_from_moments(second: np.ndarray, cross: np.ndarray, target_second: np.ndarray,
                               log_variance: float, posterior_cov: np.ndarray) -> OrthogonalQuadratic:
    """TIE of the units turned by Q, ``E_x KL(N(Q mu, Q diag(sigma^2) Q^T) || N(m, C))``, as a function of Q,
    from the moments of the code and the target under any distribution of x (rows, or p(x) itself).

    With ``P = C^-1`` and ``B = second = E mu mu^T + diag(E sigma^2)``, ``G = cross = E mu m^T``:
    ``1/2 [tr(P Q B Q^T) - 2 tr(G P Q) + tr(P E m m^T) - k + log det C - E sum log sigma^2]``
    (Eqs. 45-46 for a Gaussian posterior ``p(s|x) = N(m(x), C)``).

    Parameters
    ----------
    second, cross, target_second : ndarray, (k, k)
        ``E mu mu^T + diag(E sigma^2)``, ``E mu m^T``, ``E m m^T``.
    log_variance : float
        ``E sum_u log sigma_u^2``.
    posterior_cov : ndarray, (k, k)
        ``C``.
    """
    k = second.shape[0]
    precision = np.linalg.inv(posterior_cov)
    precision = 0.5 * (precision + precision.T)
    constant = 0.5 * (float(np.sum(precision * target_second)) - k + np.linalg.slogdet(posterior_cov)[1]
                      - log_variance)
    return OrthogonalQuadratic(precision, second, cross @ precision, float(constant))


def tie_objective(mu: np.ndarray, logvar: np.ndarray, posterior_mean: np.ndarray,
                  posterior_cov: np.ndarray) -> OrthogonalQuadratic:
    """TIE of the units turned by Q, ``mean_x KL(N(Q mu, Q diag(sigma^2) Q^T) || N(m, C))``, over the rows:
    :func:`tie_objective_from_moments` with the rows' moments.

    Parameters
    ----------
    mu, logvar : ndarray, (n, k)
        The encoder's mean and log-variance of each example.
    posterior_mean : ndarray, (n, k)
    posterior_cov : ndarray, (k, k)
    """
    n, k = mu.shape
    if posterior_mean.shape != mu.shape or np.shape(posterior_cov) != (k, k):
        raise BadInput(f"the network has {k} latent units but the data have {posterior_mean.shape[1]} sources; "
                       "use as many latent units as sources", parameter="latent")
    return tie_objective_from_moments(mu.T @ mu / n + np.diag(np.exp(logvar).mean(axis=0)),
                                      mu.T @ posterior_mean / n, posterior_mean.T @ posterior_mean / n,
                                      float(logvar.sum(axis=1).mean()), posterior_cov)


def true_inference_error(mu: np.ndarray, logvar: np.ndarray, posterior_mean: np.ndarray,
                         posterior_cov: np.ndarray) -> tuple[float, np.ndarray, bool]:
    """TIE at the best signed permutation: ``(tie, P, exact)`` (see :func:`tie_objective`).

    ``P: (k, k)`` maps units to sources (``P[i, perm[i]] = signs[i]``); ``exact``
    is False above ``alignment.MAX_EXACT_ALIGNMENT_K`` (a local search's upper bound).
    """
    f = tie_objective(mu, logvar, posterior_mean, posterior_cov)
    return best_signed_permutation(f.value, f.k)


def quantile_bins(values: np.ndarray, bins: int = MIG_BINS) -> np.ndarray:
    """Equal-frequency bin of each entry of each column, ``(n, d) -> (n, d)`` ints in ``0..bins-1``.

    An entry's bin is ``floor(bins * (number of entries of its column below it) / n)``:
    equal values share a bin, and the bins do not depend on the order of the rows.
    """
    n = values.shape[0]
    below = np.stack([np.searchsorted(np.sort(column), column, side="left") for column in values.T], axis=1)
    return (below * bins) // n


def discrete_mutual_information(a: np.ndarray, b: np.ndarray, bins: int) -> float:
    """Plug-in mutual information (nats) of two integer label arrays in ``0..bins-1``."""
    joint = np.zeros((bins, bins))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    mask = joint > 0
    return float(np.sum(joint[mask] * np.log(joint[mask] / (pa @ pb)[mask])))


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy (nats) of the distributions along ``axis`` (zeros contribute nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, -p * np.log(p), 0.0).sum(axis=axis)


def _check_finite(codes: np.ndarray, sources: np.ndarray) -> None:
    for name, values in (("codes", codes), ("sources", sources)):
        if not np.all(np.isfinite(values)):
            raise BadInput(f"{np.sum(~np.isfinite(values))} entries are NaN or infinite", parameter=name)
    if codes.shape[0] != sources.shape[0]:
        raise BadInput(f"{codes.shape[0]} rows of codes against {sources.shape[0]} rows of sources",
                       parameter="codes")


def mig(codes: np.ndarray, sources: np.ndarray, bins: int = MIG_BINS) -> float:
    """Mutual information gap of ``codes: (n, U)`` against ``sources: (n, K)`` (module docstring).

    Raises :class:`MetricUndefined` for fewer than 2 units or fewer rows than
    bins, :class:`~betavae_sym.errors.BadInput` for non-finite values or a constant source.
    """
    _check_finite(codes, sources)
    n, U = codes.shape
    if U < 2:
        raise MetricUndefined(f"MIG needs at least 2 latent units, the code has {U}")
    if n < bins:
        raise MetricUndefined(f"MIG with {bins} bins needs at least {bins} rows, got {n}")
    zc, sc = quantile_bins(codes, bins), quantile_bins(sources, bins)
    gaps = []
    for i in range(sources.shape[1]):
        entropy = float(_entropy(np.bincount(sc[:, i], minlength=bins) / n, axis=0))
        if entropy == 0:
            raise BadInput(f"source {i + 1} is constant; MIG needs varying sources", parameter="sources")
        mi = sorted((discrete_mutual_information(zc[:, u], sc[:, i], bins) for u in range(U)), reverse=True)
        gaps.append((mi[0] - mi[1]) / entropy)
    return float(np.mean(gaps))


def dci(codes: np.ndarray, sources: np.ndarray) -> tuple[dict, dict]:
    """DCI scores with a linear regressor (module docstring): ``(scores, undefined)``.

    ``scores``: ``dci_disentanglement``, ``dci_completeness`` (None when the code
    is uninformative) and ``dci_informativeness``; ``undefined``: name -> reason.
    """
    _check_finite(codes, sources)
    n = codes.shape[0]

    def standardize(values):
        std = values.std(axis=0)
        return (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)

    Z, S = standardize(codes), standardize(sources)
    coef, _, rank, _ = np.linalg.lstsq(Z, S, rcond=None)  # (U, K)
    source_var = S.var(axis=0)
    r2 = 1.0 - (S - Z @ coef).var(axis=0) / np.where(source_var > 0, source_var, 1.0)
    informativeness = float(np.mean(r2))
    scores = {"dci_disentanglement": None, "dci_completeness": None, "dci_informativeness": informativeness}
    df = n - rank - 1
    if df <= 0 or rank == 0:
        reason = f"DCI needs a non-constant unit and more rows ({n}) than units + 1 ({rank + 1})"
        return scores, {"dci_disentanglement": reason, "dci_completeness": reason}
    # F-test of each regression (exact for Gaussian sources independent of the code), Bonferroni over sources
    with np.errstate(divide="ignore"):
        F = (r2 / rank) / (np.maximum(1.0 - r2, 0.0) / df)
    p_value = float(np.min(stats.f.sf(F, rank, df))) * S.shape[1]
    if p_value > DCI_SIGNIFICANCE:
        reason = (f"the code is uninformative: no source is predicted better than chance (F-test, p = "
                  f"{min(p_value, 1.0):.2g} > {DCI_SIGNIFICANCE:g} with a Bonferroni correction; informativeness "
                  f"{informativeness:.3g} against {rank / (n - 1):.3g} expected by chance)")
        return scores, {"dci_disentanglement": reason, "dci_completeness": reason}
    importance = np.abs(coef)
    U, K = importance.shape
    total = importance.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_unit = np.nan_to_num(importance / importance.sum(axis=1, keepdims=True))
        per_source = np.nan_to_num(importance / importance.sum(axis=0, keepdims=True))
    disentanglement = 1.0 - _entropy(per_unit, axis=1) / math.log(K) if K > 1 else np.ones(U)
    completeness = 1.0 - _entropy(per_source, axis=0) / math.log(U) if U > 1 else np.ones(K)
    scores["dci_disentanglement"] = float(np.sum(importance.sum(axis=1) / total * disentanglement))
    scores["dci_completeness"] = float(np.sum(importance.sum(axis=0) / total * completeness))
    return scores, {}


def position_metrics(codes: np.ndarray, positions: np.ndarray) -> tuple[dict, dict]:
    """How the units depend on the position p of the positioned digit (Figure 5E): ``(scores, undefined)``.

    ``p_mig``, ``p_dci_*``: :func:`mig` and :func:`dci` with the position coordinates ``positions: (n, 2)`` as
    the sources. ``p_axes_angle_deg``: each unit's mean regressed on p by least squares (with an intercept),
    ``E_q[z_u] ~ a_u^T p + c_u``; the angle in [0, 90] degrees between the lines of ``a_1`` and ``a_2``
    (90: the two units follow orthogonal axes of motion). Undefined unless the code has 2 units, both active
    (Cov_x(E_q[z_u]) > ``ACTIVE_UNIT_THRESHOLD``: a collapsed unit's direction is noise).
    """
    scores, undefined = {}, {}
    try:
        scores["p_mig"] = mig(codes, positions)
    except MetricUndefined as exc:
        scores["p_mig"], undefined["p_mig"] = None, str(exc)
    dci_scores, dci_undefined = dci(codes, positions)
    scores.update({f"p_{name}": value for name, value in dci_scores.items()})
    undefined.update({f"p_{name}": reason for name, reason in dci_undefined.items()})
    active = codes.var(axis=0) > ACTIVE_UNIT_THRESHOLD
    if codes.shape[1] != 2 or not active.all():
        scores["p_axes_angle_deg"] = None
        undefined["p_axes_angle_deg"] = (f"the angle between the units' directions in p-space needs 2 active units; "
                                         f"the code has {codes.shape[1]} units, {int(active.sum())} active")
        return scores, undefined
    design = np.column_stack([positions, np.ones(len(positions))])
    directions = np.linalg.lstsq(design, codes, rcond=None)[0][:2]  # (2, U): column u is a_u
    a, b = directions.T
    cosine = abs(float(a @ b)) / (float(np.linalg.norm(a) * np.linalg.norm(b)))
    scores["p_axes_angle_deg"] = math.degrees(math.acos(min(cosine, 1.0)))
    return scores, undefined


def _check_code(mu: np.ndarray, logvar: np.ndarray) -> None:
    """Raise :class:`MetricsFailed` unless the code is finite and ``exp(logvar)`` a positive float64."""
    for name, values in (("mean", mu), ("log-variance", logvar)):
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise MetricsFailed(f"the encoder's {name} is NaN or infinite for {int(bad.any(axis=1).sum())} of "
                                f"{len(values)} examples (first: row {row})")
    low, high = LOGVAR_RANGE
    if logvar.min() < low or logvar.max() > high:
        value = float(logvar.min() if logvar.min() < low else logvar.max())
        raise MetricsFailed(f"the encoder's variance is 0 or infinite in float64: log sigma^2 = {value:.4g} "
                            f"is outside [{low:.5g}, {high:.5g}]")


def evaluate(model, dataset, beta: float, *, samples: int = 1000, iwae_samples: int | None = None, seed=0,
             estimator: str = "auto", tolerance: float | None = None, reference_mean=None, positions=None) -> dict:
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
        S, Monte Carlo draws of q per example for ``recon`` (sampling estimator; paper: 1000).
    iwae_samples : int, optional
        K, draws of the importance sampler for ``log_likelihood`` (sampling estimator; default S).
    seed : int or sequence of int
        Seed of the latent draws (``numpy.random.default_rng(seed)``; one ``(S + K, k)`` array shared by the rows).
    estimator : {"auto", "exact", "sampling"}
    tolerance : float, optional
        Nats per example of the exact estimator (default ``likelihood.QUADRATURE_TOLERANCE``).
    reference_mean : ndarray (n, k), optional
        Another code's means on the same rows, for ``reference_angle_deg``.
    positions : ndarray (n, 2), optional
        The positioned digit's position p of each row, for the ``p_*`` metrics (:func:`position_metrics`).

    Returns
    -------
    dict
        :data:`SCALAR_METRICS` (floats or None), ``kl_units`` (list of k),
        ``alignment`` (``perm``, ``signs``, ``exact``), ``rotation`` (``Q``, ``exact``, ``method``),
        ``estimators`` (``recon``, ``log_likelihood``, and for the exact one ``tolerance``,
        ``unconverged_rows``, ``adaptive_rows``), ``decoded_points``, ``undefined`` (name -> reason).

    Raises
    ------
    MetricsFailed
        A non-finite code, variance or decoder output, or a metric that comes out infinite.
    """
    from betavae_sym.experiments import likelihood
    from betavae_sym.validate import count, positive_number

    samples = count(samples, "samples")
    K = samples if iwae_samples is None else count(iwae_samples, "iwae_samples")
    tolerance = likelihood.QUADRATURE_TOLERANCE if tolerance is None else positive_number(tolerance, "tolerance")
    if estimator not in ESTIMATORS:
        raise BadInput(f"'{estimator}' is not one of {', '.join(ESTIMATORS)}", parameter="estimator")
    X = np.asarray(dataset.X, dtype=np.float64)
    mu, logvar = (np.asarray(a, dtype=np.float64)[0] for a in model.encode(dataset.X))
    _check_code(mu, logvar)
    n, k = mu.shape
    exact = estimator == "exact" or (estimator == "auto" and k <= MAX_EXACT_K)
    if exact and k > MAX_EXACT_K:
        raise BadInput(f"the exact estimator integrates over at most {MAX_EXACT_K} latent units, the network has {k}; "
                       "use estimator='sampling'", parameter="estimator")
    decoder = likelihood.gaussian_decoder(model)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, as non-finite values
        if exact:
            terms = likelihood.exact_terms(decoder, X, mu, logvar, tolerance=tolerance)
            estimates = _exact_estimates(terms, tolerance)
        else:
            eps = np.random.default_rng(seed).standard_normal((samples + K, k))
            estimates = _sampling_estimates(likelihood.monte_carlo_recon(decoder, X, mu, logvar, eps[:samples]),
                                            likelihood.defensive_importance(decoder, X, mu, logvar, eps[samples:]))
        recon_rows, log_marginal, undefined = estimates["recon_rows"], estimates["log_marginal"], estimates["undefined"]
        for name, values in (("reconstruction", recon_rows), ("log-likelihood", log_marginal)):
            if not np.all(np.isfinite(values)):
                raise MetricsFailed(f"the {name} is not finite for {int(np.sum(~np.isfinite(values)))} of {n} "
                                    "examples (the decoder's output overflows or is NaN)")
        kl_units = 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)  # (n, k), Eq. 66 per unit
        recon, kl = float(recon_rows.mean()), float(kl_units.sum(axis=1).mean())
        log_likelihood = float(log_marginal.mean())
        elbo = recon - kl
        f = tie_objective(mu, logvar, np.asarray(dataset.posterior_mean, dtype=np.float64),
                          np.asarray(dataset.posterior_cov, dtype=np.float64))
        tie, P, exact_alignment = best_signed_permutation(f.value, k)
    result = {"elbo": elbo, "tie": tie, "recon": recon, "kl": kl, "objective": recon - beta * kl,
              "mie": log_likelihood - elbo, "log_likelihood": log_likelihood}
    bad = [name for name, value in result.items() if not math.isfinite(value)]
    if bad:
        raise MetricsFailed(f"{', '.join(bad)} came out {result[bad[0]]} (the code or the decoder overflows)")
    rotation = best_orthogonal(f, seed=seed)
    perm, signs = permutation_and_signs(P)
    S = np.asarray(dataset.S, dtype=np.float64)
    try:
        mig_value = mig(mu, S)
    except MetricUndefined as exc:
        mig_value, undefined["mig"] = None, str(exc)
    dci_scores, dci_undefined = dci(mu, S)
    undefined.update(dci_undefined)
    if reference_mean is None:
        reference_angle = None
        undefined["reference_angle_deg"] = "no reference code given"
    else:
        reference_angle = axes_angle_between(mu, np.asarray(reference_mean, dtype=np.float64))
    if positions is None:
        position_scores = dict.fromkeys(POSITION_METRICS)
        undefined.update(dict.fromkeys(POSITION_METRICS, "no positions given (not the positioned digit)"))
    else:
        position_scores, position_undefined = position_metrics(mu, np.asarray(positions, dtype=np.float64))
        undefined.update(position_undefined)
    result.update({
        "recon_mc_se": estimates["recon_mc_se"], "active_units": int(np.sum(mu.var(axis=0) > ACTIVE_UNIT_THRESHOLD)),
        "mig": mig_value, **dci_scores,
        "tie_rotation": rotation.value, "rotation_angle_deg": axes_angle_deg(rotation.Q),
        "reference_angle_deg": reference_angle, "quadrature_error": estimates["quadrature_error"], **position_scores,
    })
    result = {name: result[name] for name in SCALAR_METRICS}
    result.update({
        "kl_units": kl_units.mean(axis=0)[perm].tolist(),
        "alignment": {"perm": perm, "signs": signs, "exact": exact_alignment},
        "rotation": {"Q": rotation.Q.tolist(), "exact": rotation.exact, "method": rotation.method},
        "estimators": estimates["estimators"], "decoded_points": estimates["points"], "undefined": undefined,
    })
    return result


def _exact_estimates(terms, tolerance: float) -> dict:
    """The per-row terms and their descriptions from :func:`likelihood.exact_terms`."""
    return {"recon_rows": terms.recon.value, "log_marginal": terms.log_marginal.value, "recon_mc_se": None,
            "quadrature_error": float(max(terms.recon.error.max(), terms.log_marginal.error.max())),
            "estimators": {"recon": "gauss-hermite on q",
                           "log_likelihood": "interleaved lattices + adaptive gauss-hermite",
                           "tolerance": tolerance, "adaptive_rows": terms.adaptive_rows,
                           "unconverged_rows": int(np.sum(~(terms.recon.converged & terms.log_marginal.converged)))},
            "points": terms.recon.points + terms.log_marginal.points,
            "undefined": {"recon_mc_se": "the reconstruction is by quadrature, not Monte Carlo"}}


def _sampling_estimates(recon, marginal) -> dict:
    """The per-row terms and their descriptions from Monte Carlo and defensive importance sampling."""
    undefined = {"quadrature_error": "sampling estimators have no quadrature error"}
    S = len(recon.per_draw)
    if S == 1:
        undefined["recon_mc_se"] = "one Monte Carlo draw has no standard error"
    return {"recon_rows": recon.value, "log_marginal": marginal.value,
            "recon_mc_se": recon.standard_error if S > 1 else None, "quadrature_error": None,
            "estimators": {"recon": f"monte carlo, {S} draws of q",
                           "log_likelihood": f"defensive importance sampling, {len(marginal.per_draw)} draws"},
            "points": recon.points + marginal.points, "undefined": undefined}

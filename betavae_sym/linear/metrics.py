"""Metrics at given parameters: the lambdified closed expressions plus the best alignment for TIE.

Every metric is in nats, averaged over ``p(x) = N(0, Sigma_x)`` in closed form,
all normalizing constants included, so ``mie = log_likelihood - elbo``:

========================  ===============================================================
``objective``             the beta-VAE objective ``L`` (Eq. 34)
``elbo``                  ``E_p(x)[ELBO]``
``recon``                 ``E_p(x) E_q[log p(x|z)]`` (Eq. 49)
``kl``                    ``E_p(x) KL(q(z|x) || p(z))`` (Eq. 50)
``mie``                   ``E_p(x) KL(q(z|x) || p_theta(z|x))`` (Eqs. 45, 47)
``tie``                   ``E_p(x) KL(q(z|x) || p_gt(s|x))`` (Eqs. 45-46), best signed permutation
``log_likelihood``        ``E_p(x) log p_theta(x)``
========================  ===============================================================

TIE alignment
-------------
The objective is invariant under permuting the latent units and flipping
their signs (``z -> P z``, ``P`` a signed permutation), TIE is not. TIE is
reported for the ``P`` minimizing it: ``W_mu -> P W_mu``, ``b_mu -> P b_mu``,
``W_sigma -> |P| W_sigma``, ``b_sigma -> |P| b_sigma``. For ``k <= 6`` all
``2^k k!`` signed permutations are evaluated (46,080 at k = 6, in chunks). For
``k > 6`` a local search from the identity (best single sign flip or pairwise
swap, repeated until none improves) gives an upper bound on the aligned TIE.
"""

from __future__ import annotations

import numpy as np

from betavae_sym.alignment import MAX_EXACT_ALIGNMENT_K, best_signed_permutation, signed_permutations
from betavae_sym.linear.problem import Problem

_CHUNK = 4096


def permute_units(params: dict, P: np.ndarray) -> dict:
    """The same model with its units relabelled, ``z -> P z`` for signed permutations ``P`` (..., k, k).

    ``W_mu -> P W_mu``, ``b_mu -> P b_mu``, ``W_sigma -> |P| W_sigma``,
    ``b_sigma -> |P| b_sigma``, ``D -> D P^T`` (``P^T = P^{-1}``), ``b_D`` kept:
    every metric but TIE is unchanged. Shapes broadcast (parameters (..., rows, cols)).
    """
    magnitude = np.abs(P)
    return {"W_mu": P @ params["W_mu"], "b_mu": P @ params["b_mu"],
            "W_sigma": magnitude @ params["W_sigma"], "b_sigma": magnitude @ params["b_sigma"],
            "D": params["D"] @ np.swapaxes(P, -1, -2), "b_D": params["b_D"]}


def _tie_under(problem: Problem, params: dict, beta, P: np.ndarray) -> np.ndarray:
    """TIE with units transformed by the signed permutations ``P`` (M, k, k).

    ``params`` and ``beta`` unbatched (result (M,)) or with a batch shape ``(...)``
    (result ``(..., M)``).
    """
    from betavae_sym.linear.compiled import tie_function

    batched = np.ndim(params["b_mu"]) > 2
    if batched:
        params = {name: np.asarray(value)[..., None, :, :] for name, value in params.items()}
        beta = np.asarray(beta)[..., None]
    shape = (*np.shape(beta)[:-1], len(P)) if batched else (len(P),)
    moved = permute_units(params, P)
    return np.broadcast_to(tie_function(problem.n, problem.k)(*problem.arguments(moved, beta)), shape)


def align(problem: Problem, params: dict, beta: float) -> tuple[float, np.ndarray]:
    """``(aligned TIE, P)`` for one (unbatched) set of reduced parameters; see the module docstring."""
    value, P, _ = best_signed_permutation(lambda P: _tie_under(problem, params, beta, P), problem.k)
    return value, P


def evaluate(problem: Problem, params: dict, beta, align_units: bool = True) -> tuple[dict, np.ndarray]:
    """All metrics at reduced parameters with batch shape (B,) (or none), and the TIE alignments.

    Returns ``(metrics, P)``: ``metrics[name]`` has the batch shape (full-size
    values: reduced metric plus the complement's increments, :attr:`Problem.increments`),
    ``P`` (B, k, k) the aligning signed permutations. With ``align_units=False``
    TIE takes the units in their order and ``P`` is the identity.
    """
    from betavae_sym.linear.compiled import metrics_function

    beta = np.asarray(beta, dtype=np.float64)
    raw = metrics_function(problem.n, problem.k)(*problem.arguments(params, beta))
    extra = problem.increments
    metrics = {name: np.broadcast_to(np.asarray(value, dtype=np.float64) + extra[name], beta.shape).copy()
               for name, value in raw.items()}
    flat = {name: np.reshape(value, (-1, *value.shape[-2:])) for name, value in params.items()}
    betas = np.broadcast_to(beta, metrics["tie"].shape).reshape(-1)
    if not align_units:
        return metrics, np.broadcast_to(np.eye(problem.k), (*beta.shape, problem.k, problem.k))
    if problem.k <= MAX_EXACT_ALIGNMENT_K and len(betas) * len(signed_permutations(problem.k)) <= _CHUNK:
        candidates = signed_permutations(problem.k)
        values = _tie_under(problem, {name: np.broadcast_to(value, (len(betas), *value.shape[-2:]))
                                      for name, value in flat.items()}, betas, candidates)  # (B, M)
        best = np.argmin(values, axis=1)
        tie, P = values[np.arange(len(betas)), best], candidates[best]
    else:
        aligned = [align(problem, {name: value[i] for name, value in flat.items()}, betas[i])
                   for i in range(len(betas))]
        tie, P = np.array([value for value, _ in aligned]), np.array([P for _, P in aligned])
    metrics["tie"] = tie.reshape(beta.shape) + extra["tie"]
    return metrics, P.reshape(*beta.shape, problem.k, problem.k)

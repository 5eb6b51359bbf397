"""The global maximizer of the data-averaged linear beta-VAE objective in closed form (Eqs. 34, 42-43).

Conventions: nats, averaged over ``p(x) = N(0, Sigma_x)``, normalizing constants
kept (those of :mod:`betavae_sym.symbolic.model`). Write ``s2 = beta sigma_y2``
and let ``lambda_1 >= ... >= lambda_N`` be the eigenvalues of ``Sigma_x`` with
orthonormal eigenvectors ``U = [u_1 ... u_k]`` (N, k) for the k largest.

Derivation
----------
1. *beta rescales the observation noise.* ``L / beta = E_p(x)[E_q log N(x; D z +
   b_D, s2 I_N)] - KL + const``: up to a constant, ``L / beta`` is the ELBO of a
   plain VAE whose observation variance is ``s2 = beta sigma_y2`` (Eq. 34 with
   ``(2 sigma_y2)^{-1} / beta = (2 s2)^{-1}``).
2. *Encoder given the decoder* (``L`` is concave in the encoder): ``b_mu = 0``
   (with ``b_D = 0``), ``W_sigma = 0``, ``W_mu = (D^T D + s2 I_k)^{-1} D^T`` and
   ``b_sigma_i = log(s2 / ([D^T D]_ii + s2))``: :func:`optimal_encoder`, the same
   as :mod:`betavae_sym.symbolic.derivations` solves component by component
   (:func:`encoder_derivation_residuals`).
3. *ELBO <= log-likelihood* of the VAE with variance ``s2``, with equality iff
   ``q(z|x)`` is its exact posterior ``N((D^T D + s2 I)^{-1} D^T x, s2 (D^T D +
   s2 I)^{-1})``; a diagonal ``Sigma_z`` can equal it iff ``D^T D`` is diagonal.
4. *The likelihood* ``E_p(x) log N(x; 0, D D^T + s2 I)`` is maximized by
   probabilistic PCA with the noise fixed at ``s2`` (Tipping & Bishop 1999):
   ``D = U diag(d) R``, ``d_i = sqrt(max(lambda_i - s2, 0))``, any orthogonal
   ``R``. ``R = I`` makes ``D^T D = diag(d^2)`` diagonal, so the bound of step 3
   is attained: :func:`global_optimum` is a global maximizer (unique up to the
   signed permutations of the units when the ``d_i`` differ).
5. *Collapse.* A unit with ``lambda_i <= beta sigma_y2`` has ``d_i = 0``,
   ``W_mu`` row 0, ``b_sigma_i = 0``: its posterior is the prior.

:func:`stationarity_residuals` checks symbolically that this point solves the
whole stationarity system (Eqs. 36-41, of which Eq. 43 is the bias-free part)
in the eigenbasis of ``Sigma_x``, for every pattern of active and collapsed
units; the objective is invariant under ``x -> Q x`` (``W -> W Q^T``,
``D -> Q D``) for orthogonal ``Q``, which carries the check to any
``Sigma_x``. Each unit's equations involve only its own ``lambda_i, d_i``,
so the sizes checked cover every k.

:func:`isotropic_increment` derives what one extra data dimension that no unit
touches (``Sigma_x`` eigenvalue ``sigma_eta2``, zero weights) adds to each
metric; the numeric solvers use it to reduce ``N`` to a few times ``k`` exactly.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import sympy as sp

from betavae_sym.symbolic import ops
from betavae_sym.symbolic.model import PARAMETERS, LinearBetaVAE

#: Metric methods of :class:`LinearBetaVAE` (nats, averaged over p(x)) by their public names.
METRIC_METHODS = {
    "objective": "objective", "elbo": "elbo", "recon": "recon_avg", "kl": "kl_avg",
    "mie": "mie", "tie": "tie", "log_likelihood": "log_likelihood",
}


def _elementwise(function, v):
    """Apply the scalar ``function`` (a Python callable) to each entry of the column ``v``."""
    if ops.is_explicit(v):
        return v.applyfunc(function)
    t = sp.Dummy("t", real=True)
    return sp.matrices.expressions.applyfunc.ElementwiseApplyFunction(sp.Lambda(t, function(t)), v)


def _zeros(rows: int, cols: int, like):
    return sp.zeros(rows, cols) if ops.is_explicit(like) else sp.ZeroMatrix(rows, cols)


def optimal_encoder(m: LinearBetaVAE, D=None) -> dict:
    """Step 2: the encoder maximizing ``L`` for a fixed decoder ``D`` (N, k) and ``b_D = 0``.

    ``W_mu = (D^T D + beta sigma_y2 I_k)^{-1} D^T`` (k, N), ``b_mu = 0`` (k, 1),
    ``W_sigma = 0`` (k, N), ``b_sigma = log(beta sigma_y2 / (diag(D^T D) + beta sigma_y2))`` (k, 1).
    Works on explicit and on general-shape (MatrixSymbol) models; ``D`` defaults to ``m.D``.
    """
    D = m.D if D is None else D
    s2 = m.beta * m.sigma_y2
    W_mu = ops.inv(D.T * D + s2 * ops.eye(m.k, D)) * D.T
    b_sigma = _elementwise(lambda c: sp.log(s2 / (c + s2)), ops.col_sq_norms(D))
    return {"W_mu": W_mu, "b_mu": _zeros(m.k, 1, D), "W_sigma": _zeros(m.k, m.N, D), "b_sigma": b_sigma}


def optimal_decoder(m: LinearBetaVAE, U, lam):
    """Step 4: ``D = U diag(sqrt(max(lambda - beta sigma_y2, 0)))``, (N, k).

    ``U`` (N, k): orthonormal eigenvectors of ``Sigma_x`` for its k largest
    eigenvalues ``lam`` (k, 1).
    """
    s2 = m.beta * m.sigma_y2
    # max(y, 0) written as (y + |y|) / 2: Max cannot compare a matrix entry with 0, Abs needs no ordering
    d = _elementwise(lambda x: sp.sqrt((x - s2 + sp.Abs(x - s2)) / 2), lam)
    return ops.hadamard(U, ops.ones(m.N, U) * d.T)


def global_optimum(m: LinearBetaVAE, U, lam) -> dict:
    """Steps 2-5: all six parameters at the global maximizer, by name (see :data:`PARAMETERS`)."""
    D = optimal_decoder(m, U, lam)
    return {**optimal_encoder(m, D), "D": D, "b_D": _zeros(m.N, 1, D)}


# ----- checks ---------------------------------------------------------------------------------
def encoder_derivation_residuals(N: int, k: int) -> dict:
    """``derivations`` solution minus :func:`optimal_encoder`, simplified, per encoder parameter.

    Solves ``dL/db = 0``, ``dL/dW_sigma = 0``, ``dL/db_sigma = 0`` and ``dL/dW_mu = 0``
    component by component from the first-principles objective at size (N, k),
    with a generic decoder ``D``. All entries are 0 when step 2 holds.
    """
    from betavae_sym.symbolic import derivations

    m = derivations.model(N, k)
    objective = derivations.averaged_objective(N, k)
    at = derivations.solve_biases(m, objective)
    at |= derivations.solve_W_sigma(m, objective)
    at |= derivations.solve_b_sigma(m, objective, at)
    W_mu = derivations.solve_W_mu(m, objective, at)
    closed = optimal_encoder(m)
    derived = {"W_mu": W_mu, "b_mu": m.b_mu.subs(at), "W_sigma": m.W_sigma.subs(at), "b_sigma": m.b_sigma.subs(at)}
    return {name: (derived[name] - closed[name]).applyfunc(lambda e: sp.simplify(sp.expand_log(e, force=True)))
            for name in derived}


def eigenbasis_point(N: int, k: int, active: tuple[bool, ...]):
    """An explicit model at size (N, k) in the eigenbasis of ``Sigma_x``, and the optimum there.

    ``Sigma_x = diag(lambda_1, ..., lambda_k, n, ..., n)`` with ``U = [I_k; 0]``.
    Unit i is active (``lambda_i = d_i^2 + beta sigma_y2``, ``d_i > 0``) or
    collapsed (``lambda_i = beta sigma_y2 - e_i``, ``e_i >= 0``). Returns
    ``(model, substitution for Sigma_x, optimum by parameter name)``.
    """
    m = LinearBetaVAE(N, k, explicit=True)
    s2 = m.beta * m.sigma_y2
    lam = sp.Matrix([sp.Symbol(f"d_{i + 1}", positive=True) ** 2 + s2 if on
                     else s2 - sp.Symbol(f"e_{i + 1}", nonnegative=True) for i, on in enumerate(active)])
    noise = sp.Symbol("n", positive=True)
    sigma = sp.diag(*lam, *([noise] * (N - k)))
    U = sp.eye(N)[:, :k]
    return m, dict(zip(m.Sigma_x, sigma)), global_optimum(m, U, lam)


def stationarity_residuals(N: int, k: int, active: tuple[bool, ...]) -> dict:
    """All gradient blocks (Eqs. 36-41) at :func:`global_optimum`, simplified, by parameter name.

    Every entry is 0 when the closed form solves the stationarity system (Eq. 43
    with Eq. 42) for the activity pattern ``active`` (one flag per unit).
    """
    m, sigma, optimum = eigenbasis_point(N, k, active)
    at = dict(sigma)
    for name in PARAMETERS:
        at.update(zip(getattr(m, name), optimum[name]))
    return {name: m.gradient(name).xreplace(at).applyfunc(sp.simplify) for name in PARAMETERS}


def verify_stationarity(sizes=((1, 1), (2, 1), (3, 2))) -> list[tuple[int, int, tuple[bool, ...]]]:
    """Check :func:`stationarity_residuals` for every activity pattern at each size.

    Returns the (N, k, pattern) cases checked; raises ArithmeticError on a non-zero residual.
    """
    checked = []
    for N, k in sizes:
        for active in product((True, False), repeat=k):
            residuals = stationarity_residuals(N, k, active)
            for name, block in residuals.items():
                if any(entry != 0 for entry in block):
                    raise ArithmeticError(f"dL/d{name} != 0 at the closed form, N={N}, k={k}, active={active}: {block}")
            checked.append((N, k, active))
    return checked


@lru_cache(maxsize=None)
def isotropic_increment() -> dict:
    """What one untouched noise dimension adds to each metric (nats), by name of :data:`METRIC_METHODS`.

    Derived, not typed: the metrics of an explicit model at size (2, 1) whose
    second data coordinate has variance ``sigma_eta2``, no correlation with the
    first, and zero weights in every parameter, minus those of the size-(1, 1)
    model on the first coordinate alone. The difference depends only on
    ``sigma_y2`` and ``sigma_eta2`` (checked), e.g. ``recon``:
    ``-1/2 log(2 pi sigma_y2) - sigma_eta2 / (2 sigma_y2)``.
    """
    big, small = LinearBetaVAE(2, 1, explicit=True), LinearBetaVAE(1, 1, explicit=True)
    shared = {"W_mu": (0, 0), "W_sigma": (0, 0), "D": (0, 0), "A": (0, 0), "b_D": (0, 0), "Sigma_x": (0, 0)}
    at = {big.b_mu[0]: small.b_mu[0], big.b_sigma[0]: small.b_sigma[0]}
    for name, index in shared.items():
        at[getattr(big, name)[index]] = getattr(small, name)[index]
    untouched = {"W_mu": (0, 1), "W_sigma": (0, 1), "D": (1, 0), "A": (1, 0), "b_D": (1, 0), "Sigma_x": (0, 1)}
    for name, index in untouched.items():
        at[getattr(big, name)[index]] = 0
    at[big.Sigma_x[1, 1]] = big.sigma_eta2
    increments = {}
    for name, method in METRIC_METHODS.items():
        difference = sp.expand(sp.expand_log(sp.simplify(getattr(big, method)().xreplace(at) - getattr(small, method)()),
                                                force=True))
        if not difference.free_symbols <= {big.sigma_y2, big.sigma_eta2}:
            raise ArithmeticError(f"the {name} increment depends on {difference.free_symbols}")
        increments[name] = difference
    return increments

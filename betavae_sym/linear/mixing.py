"""Mixing matrices: the paper's, or one read from a file (validated at the boundary)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.linear.problem import check_mixing


def paper_mixing(N: int, k: int) -> np.ndarray:
    """The paper's mixing matrix ``A_ij = (1 + delta_ij) / 2``, shape (N, k).

    Results, 'Numerical Verification of Analytical Model' (N = 128, k = 2 there).

    >>> paper_mixing(3, 2)
    array([[1. , 0.5],
           [0.5, 1. ],
           [0.5, 0.5]])
    """
    if not (isinstance(N, (int, np.integer)) and isinstance(k, (int, np.integer)) and 1 <= k <= N):
        raise BadInput(f"need integers 1 <= k <= N, got N = {N}, k = {k}", parameter="k")
    return 0.5 * (np.ones((N, k)) + np.eye(N, k))


def read_matrix(path, name: str) -> np.ndarray:
    """A real float64 array read from ``.npy`` (no pickles) or ``.csv`` (comma-separated, at least 2-D).

    BadInput naming the parameter ``name`` when the file is missing, unreadable or not real numbers.
    """
    path = Path(path)
    if path.suffix not in (".npy", ".csv"):
        raise BadInput(f"'{path}' is not a .npy or .csv file", parameter=name)
    if path.is_dir():
        raise BadInput(f"'{path}' is a folder; give a {path.suffix} file", parameter=name)
    if not path.is_file():
        raise BadInput(f"file '{path}' does not exist", parameter=name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # loadtxt warns, then returns nothing, on an empty file
            if path.suffix == ".npy":
                array = np.load(path, allow_pickle=False)
            else:
                array = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, ValueError, EOFError, UserWarning, MemoryError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise BadInput(f"cannot read '{path}' as a numeric matrix ({reason})", parameter=name) from None
    if not np.issubdtype(np.asarray(array).dtype, np.number) or np.iscomplexobj(array):
        raise BadInput(f"'{path}' does not hold real numbers", parameter=name)
    return np.asarray(array, dtype=np.float64)


def load_mixing(spec: str, N: int, k: int) -> tuple[np.ndarray, str]:
    """``(A, name)``: :func:`paper_mixing` for ``spec == "paper"``, else A (N x k) read from a .npy or .csv file.

    BadInput on bad input, naming the parameter ``mixing`` (or ``k`` for bad paper sizes).
    """
    if spec == "paper":
        return paper_mixing(N, k), "paper"
    path = Path(spec)
    if path.suffix not in (".npy", ".csv"):
        raise BadInput(f"'{spec}' is neither 'paper' nor a .npy or .csv file", parameter="mixing")
    return check_mixing(read_matrix(path, "mixing"), "mixing", source=f"'{spec}'"), path.name

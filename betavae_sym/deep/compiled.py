"""The kernels of ``kernels`` compiled with numba (imported only when numba is installed and chosen).

Each loop does, element by element, the operations of the NumPy reference in
the same order and precision: numba's defaults contract no multiply-add and
reassociate nothing, and the scalars are cast to the arrays' dtype first (as
NumPy does with a Python float), so the results are the reference's bit for
bit. ``error_model="numpy"`` lets a division by zero give inf/NaN as NumPy's
does (and lets the loop vectorize); ``nogil`` lets Python threads run kernels
side by side; the machine code is cached on disk between processes.
"""

from __future__ import annotations

import numba
import numpy as np


def _jit(function):
    """Compiled with numba, the machine code cached on disk when a cache folder can be written."""
    try:
        return numba.njit(nogil=True, cache=True, error_model="numpy")(function)
    except RuntimeError:  # numba finds no writable cache location: compile in each process instead
        return numba.njit(nogil=True, error_model="numpy")(function)


@_jit
def _adam(params, grads, m, v, b1, b2, c, e):
    for i in range(params.size):
        g = grads[i]
        m_i = m[i] * b1 + g
        v_i = v[i] * b2 + g * g
        m[i] = m_i
        v[i] = v_i
        params[i] -= c * (m_i / (np.sqrt(v_i) + e))


def adam(params, grads, m, v, b1, b2, c, e) -> None:
    """``m <- b1 m + g``, ``v <- b2 v + g^2``, ``params -= c m / (sqrt(v) + e)``, in one pass (``grads`` kept)."""
    scalar = params.dtype.type
    _adam(params, grads, m, v, scalar(b1), scalar(b2), scalar(c), scalar(e))


@_jit
def _tanh_backward(dh, h, one):
    for i in range(dh.size):
        dh[i] *= one - h[i] * h[i]


def tanh_backward(dh, h) -> None:
    """``dh <- dh (1 - h^2)`` in one pass (any shape, both C-contiguous)."""
    if not (dh.flags.c_contiguous and h.flags.c_contiguous):
        raise ValueError("tanh_backward needs C-contiguous arrays")
    _tanh_backward(dh.reshape(-1), h.reshape(-1), h.dtype.type(1))

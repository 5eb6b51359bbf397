"""The compiled kernels give the NumPy reference's floats bit for bit; training does not depend on the kernels."""

from __future__ import annotations

import numpy as np
import pytest

from betavae_sym.deep import kernels
from betavae_sym.deep.model import Architecture
from betavae_sym.deep.train import train
from betavae_sym.errors import BadInput

needs_numba = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed (optional: [fast])")
DTYPES = [np.float32, np.float64]


def awkward(rng, size, dtype):
    """Values of every scale, with exact zeros, subnormals and huge ones among them."""
    values = rng.standard_normal(size) * 10.0 ** rng.integers(-40, 30, size)
    values[::17] = 0.0
    values[5::23] = np.finfo(dtype).smallest_subnormal * 3
    values[7::29] = np.finfo(dtype).max / 4
    return values.astype(dtype)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_adam_equals_numpy_adam_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    size = 1001  # not a multiple of any vector width: the loop's remainder is checked too
    params, grads = awkward(rng, size, dtype), awkward(rng, size, dtype)
    m, v = awkward(rng, size, dtype), np.abs(awkward(rng, size, dtype))
    constants = (0.9, 0.999, 3.3e-4, 1.1e-8)  # Python floats: each kernel casts them as NumPy does
    reference = [a.copy() for a in (params, grads, m, v)]
    compiled = [a.copy() for a in (params, grads, m, v)]
    with np.errstate(all="ignore"):
        kernels.adam_numpy(*reference, *constants)
        kernels.select("numba").adam(*compiled, *constants)
    for name, want, got in zip(("params", "m", "v"), [reference[0], *reference[2:]], [compiled[0], *compiled[2:]]):
        np.testing.assert_array_equal(got, want, err_msg=name)  # NaN where NaN, equal elsewhere
        assert got.dtype == dtype


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_tanh_backward_equals_numpy_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    h = np.tanh(rng.standard_normal((3, 7, 33)) * 3).astype(dtype)
    dh = awkward(rng, h.size, dtype).reshape(h.shape)
    want, got = dh.copy(), dh.copy()
    with np.errstate(all="ignore"):
        kernels.tanh_backward_numpy(want, h)
        kernels.select("numba").tanh_backward(got, h)
    np.testing.assert_array_equal(got, want)


@needs_numba
def test_training_gives_the_same_parameters_with_either_kernels():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((45, 10))
    arch = Architecture(N=10, k=2, encoder_hidden=(8, 6), decoder_hidden=(6, 8))
    kwargs = dict(epochs=3, batch_size=20, seed=4, architecture=arch, realizations=3, threads=2)
    a = train(X, 0.8, kernels="numpy", **kwargs)
    b = train(X, 0.8, kernels="numba", **kwargs)
    np.testing.assert_array_equal(a.model.flat_params, b.model.flat_params)
    np.testing.assert_array_equal(a.history, b.history)


def test_unknown_kernels_are_bad_input():
    with pytest.raises(BadInput) as error:
        kernels.select("fortran")
    assert error.value.parameter == "kernels"


def test_without_numba_auto_is_numpy_and_numba_is_bad_input(monkeypatch):
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    assert kernels.select("auto") is kernels.NUMPY
    with pytest.raises(BadInput, match=r"betavae-sym\[fast\]") as error:
        kernels.select("numba")
    assert error.value.parameter == "kernels"

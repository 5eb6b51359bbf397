"""The beta-VAE's objective terms, initialization and encode/decode against independent truths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from betavae_sym.deep.kernels import numba_available
from betavae_sym.deep.model import Architecture, BetaVAE
from betavae_sym.deep.optim import Adam
from betavae_sym.errors import BadInput

ARCH = Architecture(N=6, k=2, encoder_hidden=(5, 4), decoder_hidden=(4, 5))


def test_loss_terms_are_the_gaussian_log_likelihood_and_kl_in_nats():
    model = BetaVAE(ARCH, [0, 1], seed=1, dtype=np.float64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, ARCH.N))
    eps = rng.standard_normal((2, 4, ARCH.k))
    beta = 0.7
    loss, rec, kl = model.loss_and_grad(x, eps, beta)
    mu, logvar = model.encode(x)
    sigma = np.exp(0.5 * logvar)
    y = model.decode(mu + sigma * eps)
    # scipy's normal log-density, normalizing constant included
    want_rec = stats.norm.logpdf(x, loc=y, scale=1.0).sum(-1).mean(-1)
    np.testing.assert_allclose(rec, want_rec, rtol=1e-12)
    # KL by Monte Carlo from its definition E_q[log q - log p]
    mc = np.random.default_rng(1).standard_normal((200_000, *mu.shape))
    z = mu + sigma * mc
    log_q = stats.norm.logpdf(z, loc=mu, scale=sigma).sum(-1)
    log_p = stats.norm.logpdf(z).sum(-1)
    kl_mc = (log_q - log_p).mean(0).mean(-1)
    np.testing.assert_allclose(kl, kl_mc, rtol=0.02, atol=2e-3)
    np.testing.assert_allclose(loss, beta * kl - rec, rtol=1e-12)


def test_initialization_is_glorot_uniform_with_zero_biases():
    arch = Architecture(N=300, k=2, encoder_hidden=(200,), decoder_hidden=(200,))
    model = BetaVAE(arch, [0], seed=0, dtype=np.float64)
    W = model.params["enc1.W"][0]
    a = math.sqrt(6 / (300 + 200))
    assert np.abs(W).max() <= a and np.abs(W).max() > 0.99 * a
    assert W.var() == pytest.approx(a**2 / 3, rel=0.03)  # variance of U(-a, a)
    assert all(not value.any() for key, value in model.params.items() if key.endswith(".b"))


def test_realization_r_is_initialized_the_same_whatever_else_is_stacked():
    stacked = BetaVAE(ARCH, [0, 1, 2], seed=7)
    alone = BetaVAE(ARCH, [2], seed=7)
    for key in stacked.params:
        np.testing.assert_array_equal(stacked.params[key][2], alone.params[key][0])
    assert not np.array_equal(stacked.params["enc1.W"][0], stacked.params["enc1.W"][1])


def test_stacked_realizations_do_not_interact():
    # the loss and gradient of one realization are those of that realization alone
    model = BetaVAE(ARCH, [0, 1], seed=2, dtype=np.float64)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, ARCH.N))
    eps = rng.standard_normal((2, 3, ARCH.k))
    loss, _, _ = model.loss_and_grad(x, eps, 1.0)
    grads = {key: value.copy() for key, value in model.grads.items()}
    alone = BetaVAE(ARCH, [1], seed=2, dtype=np.float64)
    loss1, _, _ = alone.loss_and_grad(x[1:], eps[1:], 1.0)
    assert loss1[0] == pytest.approx(loss[1], rel=1e-14)
    for key, value in alone.grads.items():
        np.testing.assert_allclose(value[0], grads[key][1], rtol=1e-12, atol=1e-15)


def test_float32_model_agrees_with_float64():
    m32 = BetaVAE(ARCH, [0], seed=4, dtype=np.float32)
    m64 = BetaVAE(ARCH, [0], seed=4, dtype=np.float64)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 8, ARCH.N))
    eps = rng.standard_normal((1, 8, ARCH.k))
    l32, _, _ = m32.loss_and_grad(x.astype(np.float32), eps.astype(np.float32), 1.0)
    l64, _, _ = m64.loss_and_grad(x, eps, 1.0)
    np.testing.assert_allclose(l32, l64, rtol=1e-5)
    for key in m64.grads:
        np.testing.assert_allclose(m32.grads[key], m64.grads[key], rtol=1e-3, atol=1e-5)


def test_float32_gradients_stay_float32_with_a_numpy_beta(monkeypatch):
    from betavae_sym.deep import layers

    seen = set()
    backward = layers.Dense.backward
    monkeypatch.setattr(layers.Dense, "backward", lambda self, dy: seen.add(dy.dtype) or backward(self, dy))
    model = BetaVAE(ARCH, [0, 1], seed=1)
    x = np.random.default_rng(0).standard_normal((2, 4, ARCH.N)).astype(np.float32)
    loss, _, _ = model.loss_and_grad(x, np.zeros((2, 4, ARCH.k), np.float32), np.float64(0.5))
    assert seen == {np.dtype(np.float32)} and np.isfinite(loss).all()


def test_encode_rejects_data_of_the_wrong_width():
    with pytest.raises(BadInput, match="expected"):
        BetaVAE(ARCH, [0]).encode(np.zeros((3, ARCH.N + 1)))


@pytest.mark.parametrize("change, parameter", [(dict(k=7), "k"), (dict(k=0), "k"), (dict(N=0), "N"),
                                               (dict(encoder_hidden=(4, 0)), "encoder_hidden"),
                                               (dict(decoder_hidden=(2.5,)), "decoder_hidden")])
def test_bad_architecture_is_bad_input_naming_the_size(change, parameter):
    with pytest.raises(BadInput) as error:
        Architecture(**({"N": 6, "k": 2} | change))
    assert error.value.parameter == parameter


@pytest.mark.parametrize("change, parameter", [(dict(encoder_hidden=(10**12,)), "encoder_hidden"),
                                               (dict(N=10**8, decoder_hidden=(10**6,)), "N")])
def test_a_model_too_large_for_memory_is_bad_input_before_allocating(change, parameter):
    with pytest.raises(BadInput, match=r"would need about .* of memory") as error:
        BetaVAE(Architecture(**({"N": 6} | change)), [0])
    assert error.value.parameter == parameter
    with pytest.raises(BadInput, match=r"would need about .* PB of memory") as error:
        ARCH.check_memory(10**12, np.float32, buffers=4)
    assert error.value.parameter == "realizations"


def adam_textbook(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba (2014), Algorithm 1, written out."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


KERNELS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="numba missing"))]


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("pieces", [[(0, 50)], [(0, 7), (30, 50), (7, 30)]])
def test_adam_equals_the_textbook_algorithm(kernels, pieces):
    # one whole update per step, or the same step as ranges in any order (as the backward pass does it)
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.integers(-6, 2) for _ in range(20)]
    params, buffer = theta0.copy(), np.zeros(50)
    adam = Adam(params, buffer, lr=0.01, kernels=kernels)
    for g in grads:
        buffer[...] = g
        adam.start_step()
        for start, stop in pieces:
            adam.update(start, stop)
    np.testing.assert_allclose(params, adam_textbook(theta0, grads, 0.01), rtol=1e-12, atol=1e-15)


def test_adam_equals_pytorch_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    theta0 = rng.standard_normal(30)
    grads = [rng.standard_normal(30) for _ in range(10)]
    params, buffer = theta0.copy(), np.zeros(30)
    adam = Adam(params, buffer, lr=1e-3)
    p = torch.tensor(theta0, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-3)
    for g in grads:
        buffer[...] = g
        adam.step()
        p.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(params, p.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_non_positive_learning_rate_is_bad_input(lr):
    with pytest.raises(BadInput) as error:
        Adam(np.zeros(3), np.zeros(3), lr=lr)
    assert error.value.parameter == "lr"

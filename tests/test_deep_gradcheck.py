"""Hand-written gradients of the deep beta-VAE against independent truths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from betavae_sym.cli import main
from betavae_sym.deep import layers
from betavae_sym.deep.gradcheck import gradcheck
from betavae_sym.deep.model import Architecture, BetaVAE

hidden = st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple)


@settings(max_examples=12, deadline=None)
@given(N=st.integers(1, 7), k=st.integers(1, 3), enc=hidden, dec=hidden, R=st.integers(1, 3),
       B=st.integers(1, 4), beta=st.floats(0.0, 4.0), seed=st.integers(0, 1000))
def test_hand_written_gradients_match_central_differences(N, k, enc, dec, R, B, beta, seed):
    k = min(k, N)
    result = gradcheck(Architecture(N=N, k=k, encoder_hidden=enc, decoder_hidden=dec),
                       realizations=R, batch_size=B, beta=beta, seed=seed)
    assert result.worst_relative_error < 1e-6, result.relative_errors


def test_gradcheck_detects_a_wrong_backward(monkeypatch):
    def wrong_backward(self, dh):  # d tanh/da taken as 1 - h instead of 1 - h^2
        dh *= 1 - self.cache["h"]
        return dh

    monkeypatch.setattr(layers.Tanh, "backward", wrong_backward)
    result = gradcheck(Architecture(N=5, k=2, encoder_hidden=(4,), decoder_hidden=(4,)))
    assert not result.passed and result.worst_relative_error > 1e-3


def test_gradcheck_command_reports_json_and_exits_0(capsys):
    assert main(["deep", "gradcheck", "--N", "6", "--encoder-hidden", "5,4", "--decoder-hidden", "4",
                 "--json", "-"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] is True and document["worst_relative_error"] < 1e-6
    assert set(document["relative_errors"]) == {"enc1.W", "enc1.b", "enc2.W", "enc2.b", "mu.W", "mu.b",
                                                "logvar.W", "logvar.b", "dec1.W", "dec1.b", "out.W", "out.b"}


def test_gradcheck_command_exits_1_above_the_threshold(capsys):
    # float64 central differences cannot reach 1e-30: the check must fail, not pass silently
    assert main(["deep", "gradcheck", "--N", "4", "--threshold", "1e-30"]) == 1
    assert "gradient check failed" in capsys.readouterr().err


def test_gradients_match_pytorch_autograd():
    torch = pytest.importorskip("torch")
    arch = Architecture(N=9, k=2, encoder_hidden=(8, 7), decoder_hidden=(7, 8))
    R, B, beta = 2, 5, 2.5
    model = BetaVAE(arch, range(R), seed=3, dtype=np.float64)
    rng = np.random.default_rng(0)
    for key, value in model.params.items():
        value[...] = value + 0.1 * rng.standard_normal(value.shape)
    x = rng.standard_normal((R, B, arch.N))
    eps = rng.standard_normal((R, B, arch.k))
    loss, rec, kl = model.loss_and_grad(x, eps, beta)

    P = {key: torch.tensor(np.array(value), requires_grad=True) for key, value in model.params.items()}
    X, E = torch.tensor(x), torch.tensor(eps)

    def dense(name, h):
        return h @ P[f"{name}.W"] + P[f"{name}.b"]

    h = X
    for name in ("enc1", "enc2"):
        h = torch.tanh(dense(name, h))
    mu, logvar = dense("mu", h), dense("logvar", h)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    z = mu + torch.exp(0.5 * logvar) * E
    y = z
    for name in ("dec1", "dec2"):
        y = torch.tanh(dense(name, y))
    y = dense("out", y)
    log_lik = torch.distributions.Normal(y, torch.ones_like(y)).log_prob(X).sum(-1)  # log N(x; y, I)
    kl_t = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)
    loss_t = (beta * kl_t - log_lik).mean(-1)  # (R,)
    loss_t.sum().backward()
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(rec, log_lik.mean(-1).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(kl, kl_t.mean(-1).detach().numpy(), rtol=1e-12)
    for key, value in model.grads.items():
        np.testing.assert_allclose(value, P[key].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize(
    "extra, flag, words",
    [
        (["--beta", "nan"], "--beta", "finite"),  # used to pass with every error 0.0
        (["--beta", "inf"], "--beta", "finite"),
        (["--max-entries", "0"], "--max-entries", "integer >= 1"),  # used to pass with nothing checked
        (["--max-entries", "-5"], "--max-entries", "integer >= 1"),
        (["--seed", "-1"], "--seed", "integer >= 0"),
        (["--threshold", "0"], "--threshold", "> 0"),
        (["--realizations", "0"], "--realizations", "integer >= 1"),
        (["--realizations", str(10**12)], "--realizations", "memory"),
        (["--batch-size", str(10**12)], "--batch-size", "memory"),
        (["--N", str(10**12)], "--N", "memory"),
        (["--encoder-hidden", str(10**12)], "--encoder-hidden", "memory"),
        (["--k", "13"], "--k", "between 1 and 12"),
    ],
)
def test_gradcheck_bad_input_is_one_line_exit_2(tmp_path, capsys, extra, flag, words):
    code = main(["deep", "gradcheck", "--json", str(tmp_path / "g.json"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and flag in err and words in err, err
    assert list(tmp_path.iterdir()) == []


def test_gradcheck_refuses_a_folder_as_json_output_before_computing(tmp_path, capsys, monkeypatch):
    from betavae_sym.deep import gradcheck as module

    monkeypatch.setattr(module, "gradcheck", lambda *a, **k: pytest.fail("computed before refusing the output"))
    (tmp_path / "D").mkdir()
    assert main(["deep", "gradcheck", "--json", str(tmp_path / "D")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json" in err and "is a folder" in err
    assert list((tmp_path / "D").iterdir()) == []

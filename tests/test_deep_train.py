"""Training: stacked realizations, determinism, divergence, saving, the train command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from betavae_sym.cli import main
from betavae_sym.deep.model import Architecture, BetaVAE
from betavae_sym.deep.train import TrainingDiverged, load_model, save_result, train
from betavae_sym.errors import BadInput

ARCH = Architecture(N=10, k=2, encoder_hidden=(8, 6), decoder_hidden=(6, 8))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    S = rng.standard_normal((45, 2))
    return S @ rng.standard_normal((2, 10)) + 0.3 * rng.standard_normal((45, 10))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_training_equals_training_each_realization_alone(data, dtype):
    # batch 20 over 45 examples: two full minibatches and a partial one per epoch
    kwargs = dict(epochs=4, batch_size=20, seed=11, dtype=dtype, architecture=ARCH)
    stacked = train(data, 1.3, realizations=3, threads=2, **kwargs)  # two shards, one per thread
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for r in range(3):
        alone = train(data, 1.3, realizations=[r], **kwargs)
        for key, value in alone.model.params.items():
            np.testing.assert_allclose(stacked.model.params[key][r], value[0], **tol, err_msg=key)
        np.testing.assert_allclose(stacked.history[:, r], alone.history[:, 0], **tol)


def test_training_reduces_the_objective(data):
    result = train(data, 1.0, epochs=30, batch_size=15, architecture=ARCH, dtype=np.float64, realizations=2)
    assert np.all(result.history[-1] < result.history[0] - 1.0)
    np.testing.assert_allclose(result.history, result.kl_history - result.reconstruction_history, rtol=1e-12)


def test_divergence_stops_training_naming_the_epoch():
    huge = np.full((20, 10), 1e30)  # |x - y|^2 overflows float32 in the first step
    with pytest.raises(TrainingDiverged, match="at epoch 1") as error:
        train(huge, 1.0, epochs=3, batch_size=10, architecture=ARCH, realizations=2)
    assert error.value.diverged == {0: 1, 1: 1}


@pytest.fixture
def diverging(monkeypatch):
    """``diverging(ids)``: realizations ``ids`` start with an output layer so large that their first loss
    overflows float32."""
    def install(ids):
        initialize = BetaVAE._initialize

        def blown_up(self, shapes):
            initialize(self, shapes)
            for i, r in enumerate(self.realization_ids):
                if r in ids:
                    self.params["out.W"][i] *= 1e20

        monkeypatch.setattr(BetaVAE, "_initialize", blown_up)
    return install


def test_a_diverging_realization_stops_and_the_others_train_on_unchanged(data, diverging):
    kwargs = dict(epochs=3, batch_size=20, seed=5, architecture=ARCH)
    alone = {r: train(data, 1.0, realizations=[r], **kwargs) for r in (0, 2, 3)}
    diverging({1})
    result = train(data, 1.0, realizations=4, threads=2, **kwargs)
    assert result.diverged == {1: 1} and result.model.realization_ids == [0, 2, 3]
    assert result.config["diverged"] == [{"realization": 1, "epoch": 1}]
    assert result.config["realization_ids"] == [0, 2, 3] and result.history.shape == (3, 3)
    assert np.all(np.isfinite(result.history)) and np.all(np.isfinite(result.model.flat_params))
    for i, r in enumerate([0, 2, 3]):  # the others never see the diverged one
        for key, value in alone[r].model.params.items():
            np.testing.assert_allclose(result.model.params[key][i], value[0], rtol=1e-5, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(result.history[:, i], alone[r].history[:, 0], rtol=1e-5)


@pytest.mark.parametrize(
    "change, parameter",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(lr=-1.0), "lr"),
        (dict(epochs=0), "epochs"),
        (dict(realizations=0), "realizations"),
        (dict(realizations=[1, 1]), "realizations"),
        (dict(beta=float("nan")), "beta"),
        (dict(beta=-0.5), "beta"),
        (dict(threads=0), "threads"),
    ],
)
def test_bad_training_parameters_are_bad_input_naming_the_parameter(data, change, parameter):
    kwargs = dict(beta=1.0, epochs=1, architecture=ARCH) | change
    with pytest.raises(BadInput) as error:
        train(data, kwargs.pop("beta"), **kwargs)
    assert error.value.parameter == parameter


def test_nan_in_data_is_bad_input(data):
    bad = data.copy()
    bad[3, 4] = np.nan
    with pytest.raises(BadInput, match="NaN or inf"):
        train(bad, 1.0, epochs=1, architecture=ARCH)


def test_saved_model_reloads_with_the_same_encoder(tmp_path, data):
    result = train(data, 0.5, epochs=2, realizations=2, architecture=ARCH)
    sidecar = save_result(tmp_path / "m.npz", result)
    model, config = load_model(tmp_path / "m.npz")
    assert config["beta"] == 0.5 and json.loads(sidecar.read_text())["realization_ids"] == [0, 1]
    for a, b in zip(model.encode(data), result.model.encode(data)):
        np.testing.assert_array_equal(a, b)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["history"], result.history)


def test_train_command_saves_npz_and_json_sidecar(tmp_path, capsys):
    out = tmp_path / "run.npz"
    code = main(["train", "--dataset", "positioned-digit", "--beta", "2", "--epochs", "1", "--n", "30",
                 "--batch-size", "10", "--realizations", "2", "--encoder-hidden", "8", "--decoder-hidden", "8",
                 "--save", str(out), "--json", "-", "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    config = json.loads((tmp_path / "run.json").read_text())
    assert config["dataset"]["dataset"] == "positioned-digit" and config["dataset"]["standardized"] is True
    with np.load(out, allow_pickle=False) as saved:
        assert saved["enc1.W"].shape == (2, 1600, 8)
        assert saved["standardization.std"].shape == (1600,)
    assert len(summary["final_loss"]) == 2 and all(np.isfinite(summary["final_loss"]))


def test_train_command_warns_once_per_diverged_realization_and_saves_the_others(tmp_path, capsys, diverging):
    diverging({0, 2})
    out = tmp_path / "run.npz"
    code = main(["train", "--dataset", "positioned-digit", "--beta", "2", "--epochs", "2", "--n", "30",
                 "--batch-size", "10", "--realizations", "3", "--encoder-hidden", "8", "--decoder-hidden", "8",
                 "--save", str(out), "--json", "-", "--no-progress"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    warnings = [line for line in captured.err.splitlines() if "diverged at" in line]
    assert code == 0 and len(warnings) == 2
    assert "realization 0 diverged at epoch 1" in warnings[0] and "realization 2 diverged at epoch 1" in warnings[1]
    assert summary["realization_ids"] == [1] and len(summary["final_loss"]) == 1
    assert summary["diverged"] == [{"realization": 0, "epoch": 1}, {"realization": 2, "epoch": 1}]
    with np.load(out, allow_pickle=False) as saved:
        assert saved["enc1.W"].shape[0] == 1 and np.all(np.isfinite(saved["history"]))
    model, config = load_model(out)
    assert model.realization_ids == [1] and config["diverged"] == summary["diverged"]


def test_train_command_exits_1_when_every_realization_diverged(tmp_path, capsys, diverging):
    diverging({0, 1})
    code = main(["train", "--dataset", "positioned-digit", "--beta", "1", "--epochs", "2", "--n", "20",
                 "--realizations", "2", "--encoder-hidden", "8", "--decoder-hidden", "8", "--no-progress",
                 "--save", str(tmp_path / "run.npz")])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1 and len(lines) == 3
    assert "warning: realization 0 diverged at epoch 1" in lines[0] and "realization 1" in lines[1]
    assert "every realization" in lines[2] and "at epoch 1" in lines[2]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dataset", "spirals"], "unknown dataset 'spirals'"),
        (["--dataset", "mixed-digits", "--k", "0"], "k: 0"),
        (["--dataset", "mixed-digits", "--digit-classes", "3,10"], "digit class 10"),
        (["--dataset", "mixed-digits", "--lr", "0"], "--lr"),
        (["--dataset", "mixed-digits", "--batch-size", "-5"], "--batch-size"),
    ],
)
def test_train_command_bad_input_is_one_line_exit_2(tmp_path, capsys, extra, message):
    out = tmp_path / "run.npz"
    code = main(["train", "--beta", "1", "--epochs", "1", "--n", "20", "--save", str(out), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


TINY = ["--dataset", "positioned-digit", "--beta", "1", "--epochs", "1", "--n", "20", "--batch-size", "10",
        "--encoder-hidden", "8", "--decoder-hidden", "8", "--no-progress"]


def refused(capsys, tmp_path, argv, flag):
    """The command exits 2 with one line on stderr naming ``flag``, and leaves ``tmp_path`` as it was."""
    before = sorted(tmp_path.rglob("*"))
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and flag in err and "Traceback" not in err, err
    assert sorted(tmp_path.rglob("*")) == before
    return err


@pytest.fixture
def nothing_computed(monkeypatch):
    """Fail the test if the dataset is built (the command went past its up-front checks)."""
    from betavae_sym.data import synthetic

    def built(*args, **kwargs):
        raise AssertionError("the dataset was built before the bad input was refused")

    monkeypatch.setattr(synthetic, "build_dataset", built)


def test_train_refuses_a_folder_as_json_output_before_computing(tmp_path, capsys, nothing_computed):
    folder = tmp_path / "D"
    folder.mkdir()
    err = refused(capsys, tmp_path, ["train", *TINY, "--json", str(folder)], "--json")
    assert "is a folder" in err


def test_train_refuses_a_save_path_whose_sidecar_is_a_folder_and_writes_nothing(tmp_path, capsys, nothing_computed):
    (tmp_path / "sc" / "m.json").mkdir(parents=True)
    err = refused(capsys, tmp_path, ["train", *TINY, "--save", str(tmp_path / "sc" / "m.npz")], "--save")
    assert "m.json' is a folder" in err and not (tmp_path / "sc" / "m.npz").exists()


def test_save_result_writes_both_files_or_neither(tmp_path, data, monkeypatch):
    from betavae_sym import fileio

    result = train(data, 0.5, epochs=1, architecture=ARCH)
    calls = []
    chmod = fileio.os.chmod

    def disk_full_at_the_second_file(path, mode):  # called once each file's content is written
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        chmod(path, mode)

    monkeypatch.setattr(fileio.os, "chmod", disk_full_at_the_second_file)
    with pytest.raises(OSError):
        save_result(tmp_path / "m.npz", result)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(fileio.os, "chmod", chmod)
    save_result(tmp_path / "m.npz", result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


@pytest.mark.parametrize(
    "extra, flag, words",
    [
        (["--seed", "-1"], "--seed", "integer >= 0"),
        (["--lr", "1e300"], "--lr", "too large"),
        (["--lr", "nan"], "--lr", "finite"),
        (["--n", str(10**12)], "--n", "memory"),
        (["--realizations", str(10**12)], "--realizations", "memory"),
        (["--encoder-hidden", f"8,{10**12}"], "--encoder-hidden", "memory"),
        (["--decoder-hidden", str(10**12)], "--decoder-hidden", "memory"),
        (["--latent", "0"], "--latent", "integer between 1 and 1600"),
        (["--epochs", str(10**15)], "--epochs", "memory"),
    ],
)
def test_train_bad_numbers_give_one_line_exit_2_and_write_nothing(tmp_path, capsys, extra, flag, words):
    err = refused(capsys, tmp_path, ["train", *TINY, "--save", str(tmp_path / "m.npz"), *extra], flag)
    assert words in err


def test_a_sweep_task_trains_realization_0_with_one_blas_thread_and_restores_the_threads(data, monkeypatch):
    from threadpoolctl import threadpool_info

    from betavae_sym.deep import model as model_module
    from betavae_sym.deep.train import train_sweep_task

    seen = []
    forward = model_module.BetaVAE.forward

    def recording(self, x, eps, beta):  # the threads of NumPy's BLAS (numba may load SciPy's too)
        seen.append([info["num_threads"] for info in threadpool_info() if "numpy" in info["filepath"]])
        return forward(self, x, eps, beta)

    before = [info["num_threads"] for info in threadpool_info()]
    monkeypatch.setattr(model_module.BetaVAE, "forward", recording)
    task = train_sweep_task(data, 0.7, epochs=2, seed=3, batch_size=20, architecture=ARCH)
    assert seen == [[1]] * 6 and [info["num_threads"] for info in threadpool_info()][: len(before)] == before
    alone = train(data, 0.7, epochs=2, seed=3, batch_size=20, architecture=ARCH, realizations=[0], threads=1)
    np.testing.assert_array_equal(task.model.flat_params, alone.model.flat_params)
    assert task.model.realization_ids == [0]


def test_one_realization_on_two_threads_trains_to_the_same_bits_as_on_one():
    # the paper's network: its 1600 x 256 and 256 x 1600 products are computed in two pieces side by side
    X = np.random.default_rng(6).standard_normal((150, 1600)).astype(np.float32)
    one, two = (train(X, 1.0, epochs=2, batch_size=100, seed=2, threads=threads) for threads in (1, 2))
    assert [dense.pieces for dense in two.model.shards[0].decoder[-1:]] == [2]
    np.testing.assert_array_equal(one.model.flat_params, two.model.flat_params)
    np.testing.assert_array_equal(one.history, two.history)

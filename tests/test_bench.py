"""`betavae-sym bench`: bad input, the JSON contract of a smoke run, the plot files, the anchors. No test asserts a time.

The anchors (PyTorch, JAX) are checked against our hand-written network: the
same parameters and noise give the same loss and gradients by their autograd.
"""

from __future__ import annotations

import json
import sys

import pytest

import numpy as np

from betavae_sym.bench.suite import SECTIONS, BenchConfig, deep_memory_bytes, deep_section, measurement
from betavae_sym.bench.training import compare
from betavae_sym.cli import main
from betavae_sym.errors import BadInput

RECORD_KEYS = {"section", "name", "config", "unit", "median", "min", "max", "runs", "values", "load_average_1min"}
ANCHOR_KEYS = {"torch_examples_per_second", "ratio_vs_torch", "jax_examples_per_second", "ratio_vs_jax",
               "best_peer", "best_peer_examples_per_second", "ratio_vs_best_peer"}
DEEP_KEYS = {"examples_per_second", "fraction_of_sgemm_peak", "fraction_of_step_gemms"} | ANCHOR_KEYS


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One smoke run of every section, JSON to standard output, plot to a folder: (document, stdout, stderr, folder)."""
    folder = tmp_path_factory.mktemp("plot")
    capture = pytest.MonkeyPatch()
    import io

    out, err = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", out)
    capture.setattr(sys, "stderr", err)
    try:
        status = main(["bench", "--smoke", "--n", "100", "--json", "-", "--plot", str(folder), "--no-progress"])
    finally:
        capture.undo()
    assert status == 0, err.getvalue()
    return json.loads(out.getvalue()), out.getvalue(), err.getvalue(), folder


@pytest.mark.parametrize("options, named", [
    (["--only", "analytics"], "--only"),
    (["--only", "deep,gpu"], "--only"),
    (["--only", ","], "--only"),
    (["--dtype", "float16"], "--dtype"),
    (["--N", "0"], "--N"),
    (["--batch-size", "-5"], "--batch-size"),
    (["--realizations", "0"], "--realizations"),
    (["--repeats", "0"], "--repeats"),
    (["--n", "0"], "--n"),
    (["--threads", "0"], "--threads"),
    (["--derive-repeats", "-1"], "--derive-repeats"),
    (["--N", "abc"], "--N"),
    (["--batch-size", "2000"], "--batch-size"),
    (["--only", "deep", "--plot", "PLOTDIR"], "--plot"),
    (["--only", "deep", "--threads", "100000"], "--threads"),
    (["--N", "1000000000000"], "--N"),
    (["--n", "1000000000000"], "--n"),
    (["--realizations", "1000000000000"], "--realizations"),
    (["--task-preset", "nope"], "--task-preset"),
])
def test_bad_input_is_one_line_and_exit_2(options, named, tmp_path, capsys):
    options = [str(tmp_path / "p") if o == "PLOTDIR" else o for o in options]
    assert _status(["bench", "--smoke", "--no-progress", *options]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], captured.err
    assert not (tmp_path / "p").exists()


def _status(argv) -> int:
    """Exit status of ``betavae-sym argv`` (argparse usage errors exit through SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_json_to_a_folder_is_bad_input(tmp_path, capsys):
    assert main(["bench", "--smoke", "--only", "deep", "--json", str(tmp_path), "--no-progress"]) == 2
    assert "--json" in capsys.readouterr().err


def test_config_refuses_unknown_sections_and_dtypes():
    with pytest.raises(BadInput, match="--only"):
        BenchConfig(sections=("deep", "nope"))
    with pytest.raises(BadInput, match="--dtype"):
        BenchConfig(dtype="int8")
    with pytest.raises(BadInput, match="positive integer"):
        BenchConfig(scale_deep_N=(100, 0))


def test_measurement_statistics_are_those_of_its_runs():
    record = measurement("deep", "x", {"N": 3}, [3.0, 1.0, 2.0], unit="s", extra=5)
    assert (record["median"], record["min"], record["max"], record["runs"]) == (2.0, 1.0, 3.0, 3)
    assert record["extra"] == 5 and RECORD_KEYS <= record.keys()
    empty = measurement("deep", "y", {}, [], note="left out")
    assert empty["runs"] == 0 and empty["median"] is None and empty["note"] == "left out"


def test_smoke_run_writes_only_json_to_stdout_and_the_table_to_stderr(smoke):
    document, out, err, _ = smoke
    assert out.lstrip().startswith("{") and out.rstrip().endswith("}")
    assert "sweep_numeric" in err and "machine:" in err


def test_smoke_run_follows_the_json_contract(smoke):
    document = smoke[0]
    assert document["sections"] == list(SECTIONS)
    assert document["command"].startswith("betavae-sym bench") and "--smoke" in document["command"]
    machine = document["machine"]
    assert machine["nproc"] >= 1 and len(machine["load_average_start"]) == 3 and len(machine["load_average_end"]) == 3
    assert {"torch", "jax", "optax"} <= machine.keys()
    measurements = document["measurements"]
    assert {m["section"] for m in measurements} == set(SECTIONS)
    for m in measurements:
        assert RECORD_KEYS <= m.keys(), m["name"]
        assert isinstance(m["config"], dict)
        assert m["runs"] == len(m["values"])
        if m["runs"]:
            assert m["min"] <= m["median"] <= m["max"]
        else:
            assert m["median"] is None and m["note"]
    records = {(m["section"], m["name"]): m for m in measurements}
    assert {("analytic", "sweep_numeric"), ("analytic", "sweep_closed_form"), ("analytic", "cli_sweep_beyond_one_beta"),
            ("symbolic", "derive_cold"), ("symbolic", "first_lambdified_call"), ("deep", "sgemm"),
            ("deep", "step_gemms"), ("deep", "train_R1"), ("deep", "train_stacked"), ("deep", "train_torch"),
            ("deep", "train_jax"), ("sweep", "sgemm"), ("sweep", "simulate"), ("sweep", "evaluation"),
            ("sweep", "torch_processes"), ("sweep", "torch_threads"), ("sweep", "jax_processes"),
            ("sweep", "jax_threads")} <= records.keys()
    analytic = [m for m in measurements if m["section"] == "analytic" and m["runs"]]
    assert sorted({m["config"]["N"] for m in analytic}) == [16, 32]
    assert all(0 <= m["max_closed_form_gap"] < 1e-3 for m in analytic)
    assert records["analytic", "cli_sweep_beyond_one_beta"]["runs"] == 0  # fresh processes: not in a smoke run
    for m in measurements:
        if m["section"] == "deep" and m["name"].startswith("train_R") or m["name"] == "train_stacked":
            assert DEEP_KEYS <= m.keys()
            assert m["examples_per_second"] > 0 and m["fraction_of_sgemm_peak"] > 0 and m["fraction_of_step_gemms"] > 0
            # a smoke run leaves the anchors out: null comparisons, and a note that says so
            assert all(m[key] is None for key in ANCHOR_KEYS) and "PyTorch" in m["note"] and "JAX" in m["note"]
    for name in ("train_torch", "train_jax"):
        assert records["deep", name]["runs"] == 0 and "--anchors" in records["deep", name]["note"]
    simulate = records["sweep", "simulate"]
    assert ANCHOR_KEYS | {"training_only_examples_per_second", "fraction_of_sgemm_peak", "wall_seconds"} <= simulate.keys()
    assert simulate["training_only_examples_per_second"] > 0
    assert simulate["config"]["tasks"] == 2 and simulate["config"]["workers"] == 2
    evaluation = records["sweep", "evaluation"]
    assert evaluation["runs"] == 1 and evaluation["median"] > 0 and evaluation["config"]["task_preset"] == "quick"
    assert evaluation["task_training_seconds"] is None or evaluation["fraction_of_task_training"] > 0
    scale = [m for m in measurements if m["section"] == "scale"]
    assert {m["series"] for m in scale} == set(document["scale_slopes"])
    assert all("x" in m for m in scale)


def test_smoke_run_writes_the_log_log_plot(smoke):
    document, _, _, folder = smoke
    png, svg = folder / "bench_scale.png", folder / "bench_scale.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
    assert document["plots"] == [str(png), str(svg)]


class Silent:
    def step(self, what):
        pass


def test_deep_without_the_anchors_reports_null_with_a_note(monkeypatch):
    from betavae_sym.bench import anchors

    monkeypatch.setattr(anchors.importlib.util, "find_spec", lambda name: None)  # nothing installed
    config = BenchConfig.smoke_config(n=100, sections=("deep",), torch=True, jax=True)
    records = {m["name"]: m for m in deep_section(config, Silent())}
    for name in ("train_R1", "train_stacked"):
        assert all(records[name][key] is None for key in ANCHOR_KEYS)
        assert "PyTorch is not installed" in records[name]["note"] and "JAX is not installed" in records[name]["note"]
    assert records["train_torch"]["runs"] == 0 and records["train_jax"]["runs"] == 0


def test_an_anchor_that_fails_leaves_a_note_and_the_run_goes_on(monkeypatch):
    from betavae_sym.bench import training
    from betavae_sym.errors import CheckFailed

    def crash(spec):
        raise CheckFailed("bench: the PyTorch anchor failed in its own process (exit -6): abort")

    monkeypatch.setattr(training, "installed", lambda framework: True)
    monkeypatch.setattr(training, "run_peer", crash)
    config = BenchConfig.smoke_config(n=100, sections=("deep",), torch=True, jax=False)
    records = {m["name"]: m for m in deep_section(config, Silent())}
    assert records["train_torch"]["runs"] == 0 and "failed in 1 of 1 repeat(s)" in records["train_torch"]["note"]
    assert "exit -6" in records["train_torch"]["note"]
    assert records["train_R1"]["runs"] == 1 and records["train_R1"]["ratio_vs_torch"] is None


def test_sweep_takes_the_way_that_ran_when_the_other_fails(monkeypatch):
    from betavae_sym.bench import training
    from betavae_sym.bench.training import sweep_section
    from betavae_sym.errors import CheckFailed

    def crash(specs):
        raise CheckFailed("bench: the PyTorch anchor failed in its own process (exit 1): boom")

    def planted(spec):  # 5,000 examples per second, one core busy
        return {"examples": 5000, "seconds": 1.0, "cpu_seconds": 1.0, "version": "planted"}

    monkeypatch.setattr(training, "installed", lambda framework: True)
    monkeypatch.setattr(training, "run_side_by_side", crash)
    monkeypatch.setattr(training, "run_peer", planted)
    config = BenchConfig.smoke_config(sections=("sweep",), torch=True, jax=False)
    records = {m["name"]: m for m in sweep_section(config, Silent())}
    assert records["torch_processes"]["runs"] == 0 and "boom" in records["torch_processes"]["note"]
    assert records["torch_threads"]["median"] == 5000.0 and records["torch_threads"]["config"]["version"] == "planted"
    simulate = records["simulate"]
    assert simulate["best_way"] == {"torch": "threads"} and simulate["torch_examples_per_second"] == 5000.0
    if simulate["runs"]:  # the differenced timing of a tiny smoke sweep can come out empty (then noted)
        assert simulate["ratio_vs_torch"] == pytest.approx(simulate["median"] / 5000.0)


def test_compare_takes_medians_of_per_repeat_ratios_and_the_faster_anchor():
    # ours 2, 4, 6 against torch 1, 1, 3: ratios 2, 4, 2 -> 2 (the ratio of the medians would be 4);
    # jax 5, 5, 5 has the higher median, so it is the best anchor: ratios 0.4, 0.8, 1.2 -> 0.8
    fields = compare([2.0, 4.0, 6.0], {"torch": [1.0, 1.0, 3.0], "jax": [5.0, 5.0, 5.0]})
    assert fields["ratio_vs_torch"] == 2.0 and fields["torch_examples_per_second"] == 1.0
    assert fields["best_peer"] == "jax" and fields["ratio_vs_best_peer"] == pytest.approx(0.8)
    # a repeat that ours did not measure is left out of the pairs, not paired with the next one
    assert compare([None, 4.0], {"torch": [1.0, 2.0]})["ratio_vs_torch"] == 2.0
    assert compare([1.0], {})["best_peer"] is None


def test_analytic_command_line_record_differences_two_fresh_runs():
    from betavae_sym.bench.suite import analytic_cli_record

    record = analytic_cli_record(BenchConfig.smoke_config(analytic_cli=True), Silent())
    assert record["runs"] == 1 and record["config"]["baseline"].endswith("--betas 1 --json F --no-progress")
    assert record["wall_seconds_sweep"] > 0 and record["wall_seconds_one_beta"] > 0
    assert record["median"] == pytest.approx(record["wall_seconds_sweep"] - record["wall_seconds_one_beta"])
    assert 0 <= record["max_closed_form_gap"] < 1e-9  # read from the sweep's own JSON


def test_deep_benchmark_from_python_gives_the_deep_records_by_name():
    from betavae_sym.deep.bench import benchmark

    records = benchmark(realizations=2, repeats=1, epochs=1, n=100, N=32, batch_size=50, blas_threads=1,
                        torch=False, jax=False)
    assert {"sgemm", "step_gemms", "train_R1", "train_stacked", "train_torch", "train_jax"} <= records.keys()
    assert records["train_stacked"]["config"]["realizations"] == 2 and records["train_R1"]["examples_per_second"] > 0


def test_anchors_flag_needs_smoke(capsys):
    assert main(["bench", "--anchors", "--only", "deep", "--no-progress"]) == 2
    assert "--anchors" in capsys.readouterr().err


def test_memory_estimate_counts_inputs_parameters_and_activations():
    small = BenchConfig(sections=("deep",))
    wide = BenchConfig(sections=("deep",), n=2000)
    # the inputs (and the trainer's copy) are the only term in n: 2 x n x N float32 values
    assert deep_memory_bytes(wide) - deep_memory_bytes(small) == 2 * 1000 * 1600 * 4
    double = BenchConfig(sections=("deep",), dtype="float64")
    assert deep_memory_bytes(double) == 2 * deep_memory_bytes(small)
    with pytest.raises(BadInput, match="memory"):
        BenchConfig(sections=("deep",), N=10**12)


# ---------------------------------------------------------------- the anchors


def _tiny_architecture():
    from betavae_sym.deep.model import Architecture

    return Architecture(N=12, k=2, encoder_hidden=(9, 7), decoder_hidden=(7, 9))


def _ours_and_peer_inputs(seed=3):
    """Our float32 model with random (nonzero-bias) parameters, a minibatch and noise; and the same in peer form."""
    from betavae_sym.deep.model import BetaVAE

    architecture = _tiny_architecture()
    model = BetaVAE(architecture, [0], seed=seed, dtype=np.float32)
    rng = np.random.default_rng(seed)
    for key, value in model.params.items():
        if key.endswith(".b"):
            value[...] = 0.3 * rng.standard_normal(value.shape)
    x = rng.standard_normal((1, 5, architecture.N)).astype(np.float32)
    eps = rng.standard_normal((1, 5, architecture.k)).astype(np.float32)
    params = {name: (model.params[f"{name}.W"][0].copy(), model.params[f"{name}.b"][0, 0].copy())
              for name, _, _ in architecture.layers()}
    return architecture, model, x, eps, params


def _assert_same_loss_and_gradients(model, x, eps, beta, loss, grads):
    ours = model.loss_and_grad(x, eps, beta)[0][0]
    assert loss == pytest.approx(float(ours), rel=1e-5)
    for name, (dW, db) in grads.items():
        for theirs, key in ((dW, f"{name}.W"), (db, f"{name}.b")):
            mine = model.grads[key][0].reshape(theirs.shape)
            scale = max(1.0, float(np.abs(mine).max()))
            np.testing.assert_allclose(theirs, mine, rtol=0, atol=2e-5 * scale, err_msg=key)


def test_torch_anchor_trains_our_network_same_loss_and_gradients():
    pytest.importorskip("torch")
    from betavae_sym.bench.peer import TorchPeer

    architecture, model, x, eps, params = _ours_and_peer_inputs()
    beta = 1.7
    loss, grads = TorchPeer(architecture.layers(), params, beta).gradients(x[0], eps[0])
    _assert_same_loss_and_gradients(model, x, eps, beta, loss, grads)


def test_jax_anchor_trains_our_network_same_loss_and_gradients():
    pytest.importorskip("jax")
    from betavae_sym.bench.peer import jax_gradients

    architecture, model, x, eps, params = _ours_and_peer_inputs(seed=4)
    beta = 0.6
    loss, grads = jax_gradients(architecture.layers(), params, x[0], eps[0], beta)
    _assert_same_loss_and_gradients(model, x, eps, beta, loss, grads)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_anchor_runs_in_its_own_process_and_counts_its_examples(framework, tmp_path):
    pytest.importorskip(framework)
    from betavae_sym.bench.anchors import peer_spec, run_peer, run_side_by_side

    data = tmp_path / "X.npy"
    np.save(data, np.random.default_rng(0).standard_normal((30, 12)).astype(np.float32))
    spec = peer_spec(framework, _tiny_architecture(), n=20, batch_size=10, epochs=2, networks=3, threads=1,
                     data=str(data))
    alone = run_peer(spec)
    assert alone["examples"] == 3 * 2 * 20 and alone["seconds"] > 0 and np.isfinite(alone["final_loss"])
    assert alone["start"] <= alone["end"] and alone["framework"] == framework
    if framework == "torch":
        assert alone["threads_used"] == 1
    together = run_side_by_side([spec, {**spec, "networks": 1}])
    assert together["examples"] == 4 * 2 * 20 and len(together["processes"]) == 2
    # timed together: from the first start to the last end, so at least each one's own training time
    assert together["seconds"] >= max(p["seconds"] for p in together["processes"])

"""`betavae-sym bench`: bad input, the JSON contract of a smoke run, the plot files. No test asserts a time."""

from __future__ import annotations

import json
import sys

import pytest

from betavae_sym.bench.suite import SECTIONS, BenchConfig, deep_section, measurement
from betavae_sym.cli import main
from betavae_sym.errors import BadInput

RECORD_KEYS = {"section", "name", "config", "unit", "median", "min", "max", "runs", "values", "load_average_1min"}
DEEP_KEYS = {"examples_per_second", "torch_examples_per_second", "ratio_vs_torch", "fraction_of_sgemm_peak",
             "fraction_of_step_gemms"}


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
    names = {(m["section"], m["name"]) for m in measurements}
    assert {("analytic", "sweep_numeric"), ("analytic", "sweep_closed_form"), ("symbolic", "derive_cold"),
            ("symbolic", "first_lambdified_call"), ("deep", "sgemm"), ("deep", "step_gemms"), ("deep", "train_R1"),
            ("deep", "train_stacked")} <= names
    analytic = [m for m in measurements if m["section"] == "analytic"]
    assert sorted({m["config"]["N"] for m in analytic}) == [16, 32]
    assert all(0 <= m["max_closed_form_gap"] < 1e-3 for m in analytic)
    for m in measurements:
        if m["name"].startswith("train_") and m["name"] != "train_torch":
            assert DEEP_KEYS <= m.keys()
            assert m["examples_per_second"] > 0 and m["fraction_of_sgemm_peak"] > 0 and m["fraction_of_step_gemms"] > 0
            if m["torch_examples_per_second"] is None:
                assert m["ratio_vs_torch"] is None and "PyTorch" in m["note"]
            else:
                assert m["ratio_vs_torch"] > 0
    scale = [m for m in measurements if m["section"] == "scale"]
    assert {m["series"] for m in scale} == set(document["scale_slopes"])
    assert all("x" in m for m in scale)


def test_smoke_run_writes_the_log_log_plot(smoke):
    document, _, _, folder = smoke
    png, svg = folder / "bench_scale.png", folder / "bench_scale.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
    assert document["plots"] == [str(png), str(svg)]


def test_deep_without_torch_reports_null_with_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    config = BenchConfig.smoke_config(n=100, sections=("deep",))

    class Silent:
        def step(self, what):
            pass

    records = {m["name"]: m for m in deep_section(config, Silent())}
    for name in ("train_R1", "train_stacked"):
        assert records[name]["torch_examples_per_second"] is None and records[name]["ratio_vs_torch"] is None
        assert "not installed" in records[name]["note"]
    assert records["train_torch"]["runs"] == 0

"""Sweep settings as data: the store hash, JSON round trips, presets, validation naming parameters and flags."""

from __future__ import annotations

import doctest
import hashlib
import json
import math

import pytest

from betavae_sym.cli import main
from betavae_sym.data.synthetic import DatasetSpec
from betavae_sym.errors import BadInput
from betavae_sym.experiments.settings import PRESETS, MetricsSpec, SweepSettings, TrainingSpec, preset_sweeps

# The settings of `simulate --dataset mixed-digits --betas 0.5,1 --realizations 2 --epochs 2 --n 200
# --samples 10`, written out by hand as the store records them (README: Store), and the hash of the store
# that version b26fed2 made with that command, before held-out evaluation (its metrics section had no
# "heldout"): such a store is refused (test_a_store_made_before_heldout_evaluation_is_refused_untouched).
MIXED_DIGITS_SMALL_B26FED2 = {
    "dataset": {"dataset": "mixed-digits", "n": 200, "standardize": True, "k": 2, "digit_classes": None,
                "digit_indices": None, "sigma_eta": 1.0, "scale": 1.0, "data_seed": 0, "mnist": None,
                "sampling": "row-wise"},
    "training": {"epochs": 2, "batch_size": 100, "lr": 0.001, "dtype": "float32", "encoder_hidden": [256, 200, 200],
                 "decoder_hidden": [200, 200, 256], "latent": 2},
    "metrics": {"samples": 10, "iwae_samples": 10},
}
MIXED_DIGITS_SMALL_HASH_B26FED2 = "79f9b048382ae7472a60334d54e7a32aff087510ca5d08abd75a040da8c6be64"
# the same command now: scored on 2000 held-out rows by default
MIXED_DIGITS_SMALL = {**MIXED_DIGITS_SMALL_B26FED2, "metrics": {"samples": 10, "iwae_samples": 10, "heldout": 2000}}


def test_settings_hash_is_the_sha256_of_the_canonical_json_of_the_store_settings():
    settings = SweepSettings.preset(None, dataset="mixed-digits", betas=[0.5, 1], realizations=2, epochs=2, n=200,
                                    samples=10)
    assert settings.identity() == MIXED_DIGITS_SMALL
    text = json.dumps(MIXED_DIGITS_SMALL, sort_keys=True, separators=(",", ":"))
    assert settings.settings_hash == hashlib.sha256(text.encode()).hexdigest()
    old = json.dumps(MIXED_DIGITS_SMALL_B26FED2, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(old.encode()).hexdigest() == MIXED_DIGITS_SMALL_HASH_B26FED2 != settings.settings_hash
    # the grid is not part of the identity: a store grows with more betas or realizations
    assert settings.with_options(betas=[0.25, 4], realizations=9).settings_hash == settings.settings_hash
    assert settings.with_options(lr=0.002).settings_hash != settings.settings_hash


@pytest.mark.parametrize("settings", [
    SweepSettings.preset("quick", dataset="mixed-digits"),
    SweepSettings.preset("paper", dataset="positioned-digit", digit_indices=[17], scale=1.5),
    SweepSettings.preset(None, dataset="mixed-digits", betas=[0, 3], realizations=1, epochs=1, k=3,
                         digit_classes=(3, 7, 8), sigma_eta=0.5, data_seed=4, standardize=False, lr=2e-3,
                         dtype="float64", encoder_hidden=[24, 12], decoder_hidden=[12, 24], samples=7, mnist="."),
])
def test_json_round_trip_gives_the_same_settings(settings):
    document = json.loads(json.dumps(settings.to_json()))  # through JSON text: only JSON values
    assert SweepSettings.from_json(document) == settings
    assert SweepSettings.from_json(document).settings_hash == settings.settings_hash
    for section, spec in (("dataset", DatasetSpec), ("training", TrainingSpec), ("metrics", MetricsSpec)):
        assert spec.from_json(document[section]) == getattr(settings, section)
    assert SweepSettings.preset(None, **settings.options()) == settings


def test_presets_fill_in_their_values_and_explicit_options_win():
    quick = SweepSettings.preset("quick", dataset="mixed-digits")
    assert list(quick.betas) == PRESETS["quick"]["betas"] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert (quick.realizations, quick.dataset.n, quick.training.epochs, quick.metrics.samples) == (3, 500, 60, 100)
    assert quick.training.encoder_hidden == (256, 200, 200) and quick.training.lr == 1e-3  # the paper's network
    assert quick.dataset.standardize and quick.training.latent == quick.dataset.k == 2
    paper = SweepSettings.preset("paper", dataset="positioned-digit", betas=[2, 1, 1], realizations=7)
    assert paper.betas == (1.0, 2.0) and paper.realizations == 7 and paper.training.epochs == 1000
    assert paper.metrics == MetricsSpec(samples=1000, iwae_samples=1000)
    grid = SweepSettings.preset("paper", dataset="mixed-digits").betas  # beta = 10^(-1 + j/6), j = 0..12
    assert len(grid) == 13 and all(math.isclose(b, 10 ** (-1 + j / 6)) for j, b in enumerate(grid))
    assert [s.dataset.dataset for s in preset_sweeps("quick", epochs=5)] == ["mixed-digits", "positioned-digit"]
    assert all(s.training.epochs == 5 for s in preset_sweeps("quick", epochs=5))


def test_iwae_samples_default_to_samples_and_latent_follows_k():
    plain = SweepSettings.preset(None, dataset="mixed-digits", betas=[1], realizations=1, epochs=1, samples=7)
    assert plain.metrics.iwae_samples == 7
    assert SweepSettings.preset("quick", dataset="mixed-digits", samples=7).metrics.iwae_samples == 100  # preset's
    three = plain.with_options(k=3)
    assert three.dataset.k == three.training.latent == 3
    assert plain.with_options(k=3, latent=1).training.latent == 1


@pytest.mark.parametrize("preset, options, parameter", [
    ("fast", {}, "preset"),
    ("quick", {"dataset": "cifar"}, "dataset"),
    ("quick", {"epoch": 3}, "epoch"),
    ("quick", {"workers": 2}, "workers"),  # an option of simulate, not a setting
    ("quick", {"realizations": 0}, "realizations"),
    ("quick", {"betas": []}, "betas"),
    ("quick", {"betas": [1, -2]}, "betas"),
    ("quick", {"betas": [1, math.nan]}, "betas"),
    ("quick", {"betas": "0.5,1"}, "betas"),  # text is for the command line (argtypes.parse_betas)
    ("quick", {"n": 0}, "n"),
    ("quick", {"n": 2.5}, "n"),
    ("quick", {"k": 1601}, "k"),
    ("quick", {"dataset": "positioned-digit", "k": 3}, "k"),
    ("quick", {"digit_classes": "1,x"}, "digit_classes"),
    ("quick", {"digit_classes": [1]}, "digit_classes"),  # two digits (k = 2) need two classes
    ("quick", {"digit_classes": [1, 2], "digit_indices": [3, 4]}, "digit_indices"),
    ("quick", {"dataset": "positioned-digit", "digit_indices": [3, 4]}, "digit_indices"),
    ("quick", {"sigma_eta": 0}, "sigma_eta"),
    ("quick", {"scale": math.inf}, "scale"),
    ("quick", {"data_seed": -1}, "data_seed"),
    ("quick", {"standardize": "no"}, "standardize"),
    ("quick", {"sampling": "all-at-once"}, "sampling"),
    ("quick", {"epochs": 0}, "epochs"),
    ("quick", {"batch_size": -1}, "batch_size"),
    ("quick", {"lr": 0}, "lr"),
    ("quick", {"dtype": "float16"}, "dtype"),
    ("quick", {"encoder_hidden": [24, 0]}, "encoder_hidden"),
    ("quick", {"decoder_hidden": 24}, "decoder_hidden"),
    ("quick", {"latent": 0}, "latent"),
    ("quick", {"samples": 0}, "samples"),
    ("quick", {"iwae_samples": True}, "iwae_samples"),
    (None, {"betas": [1], "realizations": 1}, "epochs"),  # no preset: the grid and the epochs must be given
    (None, {"epochs": 1, "realizations": 1}, "betas"),
])
def test_bad_settings_are_bad_input_naming_the_parameter(preset, options, parameter):
    with pytest.raises(BadInput) as info:
        SweepSettings.preset(preset, **{"dataset": "mixed-digits", **options})
    assert info.value.parameter == parameter and str(info.value).startswith(f"{parameter}: ")


def test_with_options_validates_and_leaves_the_original_unchanged():
    quick = SweepSettings.preset("quick", dataset="mixed-digits")
    for options, parameter in (({"lr": -1.0}, "lr"), ({"nonsense": 1}, "nonsense")):
        with pytest.raises(BadInput) as info:
            quick.with_options(**options)
        assert info.value.parameter == parameter
    assert quick.with_options(epochs=7).training.epochs == 7 and quick.training.epochs == 60
    with pytest.raises(BadInput) as info:
        quick.training.with_options(batch_size=0)
    assert info.value.parameter == "batch_size"


def test_from_json_refuses_unknown_and_missing_keys():
    document = SweepSettings.preset("quick", dataset="mixed-digits").to_json()
    for broken, parameter in (({**document, "extra": 1}, "extra"),
                              ({k: v for k, v in document.items() if k != "metrics"}, "metrics"),
                              ({**document, "training": {**document["training"], "momentum": 0.9}}, "momentum"),
                              ({**document, "dataset": {k: v for k, v in document["dataset"].items()
                                                        if k != "sampling"}}, "sampling"),
                              ({**document, "realizations": -3}, "realizations")):
        with pytest.raises(BadInput) as info:
            SweepSettings.from_json(broken)
        assert info.value.parameter == parameter


def test_a_dataset_spec_builds_the_dataset_of_the_generator_functions():
    import numpy as np

    from betavae_sym.data.synthetic import build_dataset, mixed_digits, positioned_digit

    spec = DatasetSpec("mixed-digits", n=7, k=3, digit_classes="3,7,8", sigma_eta=0.5, data_seed=4, standardize=False)
    direct = mixed_digits(n=7, k=3, digit_classes=[3, 7, 8], sigma_eta=0.5, seed=4)
    np.testing.assert_array_equal(build_dataset(spec).X, direct.X)
    spec = DatasetSpec("positioned-digit", n=5, digit_indices=[17], scale=1.5, data_seed=2)
    direct = positioned_digit(n=5, digit_index=17, scale=1.5, seed=2, standardize=True)
    np.testing.assert_array_equal(build_dataset(spec).X, direct.X)


def test_the_sweep_data_cache_builds_once_per_spec_and_holds_what_it_is_given(monkeypatch):
    from betavae_sym.experiments import tasks

    built = []
    monkeypatch.setattr(tasks.SweepData, "build", classmethod(lambda cls, spec, heldout: built.append((spec, heldout))
                                                               or object()))
    cache = tasks.SweepDataCache()
    small, other = DatasetSpec("mixed-digits", n=5), DatasetSpec("mixed-digits", n=6)
    first = cache.get(small, 10)
    assert cache.get(DatasetSpec("mixed-digits", n=5), 10) is first and built == [(small, 10)]  # built once
    assert cache.get(other, 10) is not first and built == [(small, 10), (other, 10)]
    assert cache.get(other, 11) is not first and len(built) == 3  # other held-out rows: other data
    given = object()
    cache.put(small, 10, given)  # a worker holds the parent's data and builds nothing
    assert cache.get(small, 10) is given and len(built) == 3


def test_parse_betas_reads_lists_and_ranges():
    from betavae_sym.argtypes import parse_betas

    assert parse_betas("2,0.5,1,1", allow_zero=False) == [0.5, 1.0, 2.0]  # sorted, without repeats
    assert parse_betas(" 0:2:5 ", allow_zero=True) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert parse_betas("1:1:1", allow_zero=False) == [1.0]
    for bad in ("", ",", "a", "1:2", "1:a:3", "2:1:5", "0:1:0", "1:2:1", "-1", "nan", "inf,1"):
        with pytest.raises(BadInput) as info:
            parse_betas(bad, allow_zero=True)
        assert info.value.parameter == "betas", bad
    with pytest.raises(BadInput, match="> 0"):
        parse_betas("0,1", allow_zero=False)


def _error_of(args, capsys) -> str:
    assert main(args) == 2, args
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


SIMULATE = ["simulate", "--dataset", "mixed-digits", "--preset", "quick", "--no-progress"]


@pytest.mark.parametrize("extra, message", [
    (["--batch-size", "0"], "--batch-size: 0 must be an integer >= 1"),
    (["--iwae-samples", "0"], "--iwae-samples: 0 must be an integer >= 1"),
    (["--lr", "0"], "--lr: 0.0 must be a finite number > 0"),
    (["--sigma-eta", "nan"], "--sigma-eta: nan must be a finite number > 0"),
    (["--data-seed", "-1"], "--data-seed: -1 must be an integer >= 0"),
    (["--digit-classes", "1,x"], "--digit-classes: '1,x' is not a comma-separated list of integers"),
    (["--digit-indices", "1,2", "--digit-classes", "3,4"], "--digit-indices: give digit classes or digit indices"),
    (["--k", "0"], "--k: 0 must be an integer"),
    (["--betas", "1,-2"], "--betas: -2 in '1,-2' must be a finite number >= 0"),
    (["--betas", "2:1:3"], "--betas: '2:1:3' needs NUM >= 1 and STOP >= START"),
    (["--workers", "0"], "--workers: 0 must be an integer >= 1"),
    (["--connect-timeout", "0"], "--connect-timeout: 0.0 must be a finite number > 0"),
    (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler: a scheduler address needs the dask executor"),
])
def test_simulate_names_the_flag_of_a_bad_setting(tmp_path, capsys, extra, message):
    err = _error_of([*SIMULATE, "--store", str(tmp_path / "new" / "s.db"), *extra], capsys)
    assert f"betavae-sym simulate: error: {message}" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_positioned_digit_k_and_missing_settings_name_their_flags(tmp_path, capsys):
    store = ["--store", str(tmp_path / "s.db"), "--no-progress"]
    err = _error_of(["simulate", "--dataset", "positioned-digit", "--preset", "quick", "--k", "3", *store], capsys)
    assert "--k: positioned-digit has k = 2 sources" in err
    err = _error_of(["simulate", "--dataset", "mixed-digits", "--betas", "1", "--realizations", "1", *store], capsys)
    assert "--epochs: not given; give it, or choose a preset" in err
    assert list(tmp_path.iterdir()) == []


def test_other_commands_name_the_flags_of_dataset_settings_and_betas(tmp_path, capsys):
    out = tmp_path / "grid.png"
    err = _error_of(["datasets", "preview", "--dataset", "mixed-digits", "--digit-classes", "1", "--out", str(out)],
                    capsys)
    assert "--digit-classes: 1 given for 2 digit(s)" in err
    err = _error_of(["train", "--dataset", "positioned-digit", "--beta", "1", "--epochs", "1", "--scale", "-1"],
                    capsys)
    assert "--scale: -1.0 must be a finite number > 0" in err
    err = _error_of(["analytic", "--mixing", "paper", "--betas", "0,1", "--no-progress"], capsys)
    assert "--betas: 0 in '0,1' must be a finite number > 0" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module", ["betavae_sym.experiments.settings", "betavae_sym.argtypes",
                                    "betavae_sym.validate"])
def test_docstring_examples_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

"""Issue 13: held-out evaluation, the exact theory on a sweep's own data, rotation-aware TIE, end to end.

Truths: the generative process written out (x = A s + sigma eta on fresh standard normals, the posterior by
conditioning), the standardization recomputed from the raw rows, Monte Carlo over fresh rows for the
theory's population values, and two independent formulas for TIE (the lambdified per-example KL and the
moment form the networks are scored with).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from betavae_sym.data.synthetic import DatasetSpec, build_dataset, build_split, linear_gaussian_posterior


@pytest.mark.parametrize("spec", [DatasetSpec("mixed-digits", n=120, sigma_eta=0.7, data_seed=3),
                                  DatasetSpec("positioned-digit", n=120, data_seed=3, standardize=False)])
def test_heldout_rows_are_disjoint_from_the_training_rows_and_drawn_from_the_same_process(spec):
    heldout = 300
    split = build_split(spec, heldout)
    train, held = split.train, split.heldout
    # the training rows are the dataset of the spec itself, bit for bit
    alone = build_dataset(spec)
    for name in ("X", "X_raw", "S", "eta"):
        np.testing.assert_array_equal(getattr(train, name), getattr(alone, name))
    # the held-out rows are the next rows of the same seed: row i of default_rng(seed) is (s_i, eta_i)
    draws = np.random.default_rng(spec.data_seed).standard_normal((spec.n + heldout, spec.k + held.eta.shape[1]))
    np.testing.assert_array_equal(held.S, draws[spec.n:, :spec.k])
    np.testing.assert_array_equal(held.eta, draws[spec.n:, spec.k:])
    # disjoint: no held-out source vector is a training one
    assert not (held.S[:, None, :] == train.S[None, :, :]).all(axis=2).any()
    # the same process: the generative equation and the exact posterior hold for the held-out rows
    if spec.dataset == "mixed-digits":
        np.testing.assert_allclose(held.X_raw, held.S @ held.A.T + spec.sigma_eta * held.eta, rtol=0, atol=1e-12)
        targets = held.X_raw
    else:
        c, scale = np.array(held.params["center"]), held.params["scale"]
        np.testing.assert_allclose(held.params["p"], c + scale * (held.S @ held.A.T + spec.sigma_eta * held.eta))
        targets = (held.params["p"] - c) / scale
        assert held.params["p"].shape == (heldout, 2) and held.params["ink_clipped"].shape == (heldout,)
    mean, cov = linear_gaussian_posterior(held.A, spec.sigma_eta, targets)
    np.testing.assert_allclose(held.posterior_mean, mean, atol=1e-9)
    np.testing.assert_allclose(held.posterior_cov, cov, atol=1e-12)
    # the sources are standard normal (300 rows: 5 standard errors)
    assert np.abs(held.S.mean(axis=0)).max() < 5 / math.sqrt(heldout)
    # the standardization is the training rows' own, applied unchanged to the held-out rows
    if spec.standardize:
        np.testing.assert_allclose(train.standardization.mean, train.X_raw.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(train.standardization.std, train.X_raw.std(axis=0), atol=1e-12)
        np.testing.assert_allclose(held.X, (held.X_raw - train.X_raw.mean(axis=0)) / train.X_raw.std(axis=0),
                                   atol=1e-10)
        assert held.standardization is train.standardization
    else:
        assert held.standardization is None and held.X is held.X_raw
    # the training-row view: the first min(n, heldout) training rows
    np.testing.assert_array_equal(split.train_view(50).X, train.X[:50])
    assert split.train_view(10**6).n == spec.n


@pytest.fixture(scope="module")
def standardized_theory():
    """Standardized mixed digits (k = 2, sigma_eta = 0.7), its theory, and 4000 fresh rows of the process."""
    from betavae_sym.experiments.theory import DatasetTheory

    split = build_split(DatasetSpec("mixed-digits", n=400, sigma_eta=0.7, data_seed=11), 4000)
    return split, DatasetTheory.of(split.train)


def test_the_theory_is_for_the_covariance_of_the_data_as_fed_to_the_network(standardized_theory):
    split, theory = standardized_theory
    train = split.train
    m, s = train.X_raw.mean(axis=0), train.X_raw.std(axis=0)  # the training rows' standardization, recomputed
    raw = train.A @ train.A.T + 0.7**2 * np.eye(train.N)
    np.testing.assert_allclose(theory.data.covariance(), raw / np.outer(s, s), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(theory.data.mean, -m / s, rtol=1e-10, atol=1e-12)  # population mean of (x - m) / s
    assert "standardized" in theory.description


def test_the_theory_on_standardized_data_agrees_with_monte_carlo_over_fresh_rows(standardized_theory):
    from betavae_sym.experiments.theory import population_tie_objectives

    split, theory = standardized_theory
    betas = [0.5, 1.0, 2.0]
    optimum = theory.optimum(betas)
    per_row = optimum.on_rows(split.heldout.X, average=False)  # (B, 4000) per example, fresh rows
    n = split.heldout.n
    for name in ("elbo", "recon", "kl", "mie", "tie", "log_likelihood"):
        mean = per_row[name].mean(axis=1)
        se = per_row[name].std(axis=1, ddof=1) / math.sqrt(n)
        assert np.all(np.abs(mean - optimum.metrics[name]) <= 4 * se + 1e-9), (name, mean, optimum.metrics[name], se)
    # the population TIE by the networks' moment form equals the lambdified one (the units already aligned)
    for objective, tie in zip(population_tie_objectives(optimum), optimum.metrics["tie"]):
        assert float(objective.value(np.eye(2))) == pytest.approx(tie, rel=1e-10)


def test_the_theory_on_rows_scores_tie_like_a_network_and_its_rotation_tie_is_never_larger(standardized_theory):
    from betavae_sym.experiments.theory import theory_on_rows

    split, theory = standardized_theory
    optimum = theory.optimum([0.5, 1.0, 2.0])
    per_row = optimum.on_rows(split.heldout.X)
    population = theory.population([0.5, 1.0, 2.0])
    for i, values in enumerate(theory_on_rows(optimum, split.heldout)):
        # the network's TIE (moments of the rows, best signed permutation) = the mean per-example KL
        assert values["tie"] == pytest.approx(per_row["tie"][i], rel=1e-9)
        assert values["elbo"] == per_row["elbo"][i]
        assert values["tie_rotation"] <= values["tie"] + 1e-12
        assert population["tie_rotation"][i] <= population["tie"][i] + 1e-12
        assert 0 <= values["rotation_angle_deg"] <= 45


def test_training_never_sees_the_heldout_rows(monkeypatch):
    from betavae_sym.deep import train as train_module
    from betavae_sym.experiments.settings import SweepSettings
    from betavae_sym.experiments.tasks import SweepData, Task, run_task

    settings = SweepSettings.preset(None, dataset="positioned-digit", betas=[1.0], realizations=1, epochs=1, n=30,
                                    heldout=20, batch_size=10, samples=4, encoder_hidden=(8,), decoder_hidden=(8,))
    data = SweepData.build(settings.dataset, 20)
    seen = []
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", lambda dataset, *a, **k: seen.append(dataset.X) or real_train(
        dataset, *a, **k))
    result = run_task(Task(settings, 1.0, 0), data=data)
    assert result["status"] == "done"
    (X,) = seen
    np.testing.assert_array_equal(X, data.split.train.X)
    assert not (data.split.heldout.X[:, None, :] == X[None, :, :]).all(axis=2).any()


def test_a_tiny_run_of_both_datasets_stores_and_summarizes_heldout_train_and_theory_and_writes_figures(tmp_path):
    from betavae_sym.experiments.settings import preset_sweeps
    from betavae_sym.experiments.store import read_rows
    from betavae_sym.experiments.sweep import run_sweeps
    from betavae_sym.experiments.tasks import THEORY_METRICS

    sweeps = preset_sweeps(None, betas=[0.5, 1.0, 2.0], realizations=2, epochs=3, n=60, heldout=40, batch_size=20,
                           samples=8, encoder_hidden=(16, 8), decoder_hidden=(8, 16))
    outputs = run_sweeps(tmp_path, sweeps, progress=False, workers=2)
    for name, output in outputs.items():
        summary = output.summary
        assert summary["evaluation"] == {"heldout": 40, "train_rows": 40}
        assert summary["protocol"] == {"n": 60, "epochs": 3, "batch_size": 20, "realizations": [2, 2], "heldout": 40}
        for metric in ("elbo", "train_elbo", "generalization_gap", "tie", "tie_rotation", "train_tie_rotation"):
            assert all(math.isfinite(v) for v in summary["metrics"][metric]["mean"]), metric
            assert len(summary["spread"][metric]["sd"]) == 3
        _, rows = read_rows(output.store)
        assert len(rows) == 6 and all(row["status"] == "done" for row in rows)
        for row in rows:
            m = row["metrics"]
            assert m["generalization_gap"] == pytest.approx(m["train_elbo"] - m["elbo"], abs=1e-9)
            # the best rotation is never worse than the best signed permutation, on either set of rows
            assert m["tie_rotation"] <= m["tie"] + 1e-9 and m["train_tie_rotation"] <= m["train_tie"] + 1e-9
        figure = "figure4" if name == "mixed-digits" else "figure5"
        written = {path.name for path in output.files}
        for stem in (figure, f"{figure}-rotation", f"{figure}e"):
            assert {f"{stem}.png", f"{stem}.svg"} <= written
            assert (tmp_path / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if name == "mixed-digits":
            theory = summary["theory"]
            assert len(theory["betas"]) == 200 and theory["betas"][0] == pytest.approx(0.5)
            assert set(theory["population"]) >= {"elbo", "tie", "tie_rotation", "recon", "kl", "mie"}
            assert "standardized" in theory["data"]
            for metric in THEORY_METRICS:
                assert all(math.isfinite(v) for v in summary["metrics"][metric]["mean"]), metric
                assert summary["spread"][metric]["sd"] == [0.0] * 3  # the same optimum for every realization
            # the theory on the held-out rows sits near its population curve (40 rows: within 10 nats here)
            at_grid = np.interp(summary["betas"], theory["betas"], theory["population"]["elbo"])
            assert np.all(np.abs(np.array(summary["metrics"]["theory_elbo"]["mean"]) - at_grid) < 10)
            assert all(row["metrics"]["reference_angle_deg"] is not None for row in rows)
            assert all(row["metrics"]["theory_tie_rotation"] <= row["metrics"]["theory_tie"] + 1e-9 for row in rows)
            assert all(row["metrics"]["p_axes_angle_deg"] is None for row in rows)
        else:
            assert "theory" not in summary and not set(THEORY_METRICS) & set(summary["metrics"])
            assert all(row["metrics"]["p_dci_informativeness"] is not None for row in rows)
            assert all(0 <= row["metrics"]["p_axes_angle_deg"] <= 90 for row in rows
                       if row["metrics"]["p_axes_angle_deg"] is not None)

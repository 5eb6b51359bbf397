"""Figures: Figure 3B resolves both TIE and MIE; deep figures carry consistent titles and labelled axes."""

from __future__ import annotations

import numpy as np

from betavae_sym.linear.figure import figure3
from betavae_sym.linear.sweep import SweepResult


def _analytic_result() -> SweepResult:
    """TIE between 19 and 22 nats with its minimum at beta = 1.2, MIE between 0 and 2 (the paper's scales)."""
    betas = np.linspace(0.1, 4.0, 40)
    tie = 19.0 + 0.2 * (betas - 1.2) ** 2
    mie = 2.0 * (np.log(betas)) ** 2 / np.log(40.0) ** 2
    records = [{"beta": b, "elbo": -184 - m, "tie": t, "mie": m, "recon": -181 - b, "kl": 5 / (1 + b),
                "tie_min": t, "tie_max": t, "optimum_unique": True}
               for b, t, m in zip(betas, tie, mie)]
    extrema = {"elbo_argmax": 1.0, "tie_argmin": 1.2, "mie_argmin": 1.0}
    return SweepResult(N=128, k=2, mixing="paper", data={"noise_var": 1.0, "sigma_x": None}, fixed_decoder=False,
                       records=records, extrema=extrema, closed={})


def _axis_of(figure, label):
    return next(ax for ax in figure.axes for line in ax.get_lines() if line.get_label() == label)


def test_figure3b_gives_tie_and_mie_axes_of_their_own_that_resolve_each_curve():
    result = _analytic_result()
    figure = figure3(result)
    tie_axis, mie_axis = _axis_of(figure, "TIE"), _axis_of(figure, "MIE")
    assert tie_axis is not mie_axis
    for axis, values in ((tie_axis, result.column("tie")), (mie_axis, result.column("mie"))):
        low, high = axis.get_ylim()
        spread = values.max() - values.min()
        assert low <= values.min() and values.max() <= high
        assert high - low < 1.5 * spread, "the axis is stretched by another curve: the minimum is flattened"
    assert "nats" in tie_axis.get_ylabel() and "nats" in mie_axis.get_ylabel()
    assert figure._suptitle.get_text().startswith("Figure 3")


def test_traversal_axes_are_in_prior_standard_deviations(monkeypatch, tmp_path):
    from betavae_sym.experiments import figures

    saved = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: saved.append(fig) or [])
    grid = np.random.default_rng(0).random((7 * 4, 7 * 4))
    figures.plot_traversals([(0.25, grid), (8.0, grid)], tmp_path / "t", title=figures.TRAVERSAL_TITLES["mixed-digits"])
    (figure,) = saved
    for axis in figure.axes:
        assert "prior standard deviations" in axis.get_xlabel() and "prior s.d." in axis.get_ylabel()
        assert [tick.get_text() for tick in axis.get_xticklabels()][0] == "-2.5"
    assert figure._suptitle.get_text() == "Figure 4E: mixed digits"


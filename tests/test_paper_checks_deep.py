"""The deep verdict rules (paper_checks.deep, the judges of paper_checks.claims) on summaries whose truth is known
by construction, and the realization counts they ask for against Monte Carlo."""

import math

import numpy as np
import pytest

from betavae_sym.paper_checks import Context
from betavae_sym.paper_checks import claims, deep
from betavae_sym.paper_checks.context import DEEP_SWEEPS, SECOND_SCALE_SWEEP

BETAS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _summary(series: dict, betas=BETAS, count=10, dataset="mixed-digits", scale=1.0, **extra):
    """A summary in the format of experiments.sweep.summarize: ``series`` maps metric -> (means, sds)."""
    metrics, spread = {}, {}
    for name, (means, sds) in series.items():
        sds = np.broadcast_to(np.asarray(sds, float), (len(betas),))
        metrics[name] = {"mean": list(map(float, means)), "sem": list(sds / math.sqrt(count)),
                         "min": list(means), "max": list(means)}
        spread[name] = {"sd": list(map(float, sds))}
    return {"dataset": dataset, "betas": list(betas), "count": [count] * len(betas), "metrics": metrics,
            "spread": spread, "evaluation": {"heldout": 2000, "train_rows": 2000},
            "protocol": {"n": 20000, "epochs": 10, "batch_size": 100, "realizations": [count, count], "heldout": 2000},
            "settings": {"dataset": {"dataset": dataset, "n": 20000, "standardize": True, "scale": scale},
                         "training": {"epochs": 10, "batch_size": 100}}, **extra}


def _series(means, sds, count=10, betas=BETAS, metric="elbo"):
    return deep.Series.of(_summary({metric: (means, sds)}, betas=betas, count=count), metric)


# -- "maximal near beta = 1" ------------------------------------------------------------------------------------
def test_a_maximum_at_one_beating_both_neighbours_by_two_standard_errors_is_verified():
    finding = deep.maximal_at_one(_series([-10, -9, -8, -9, -10], 0.3))
    assert finding.status == "verified" and finding.needed is None


@pytest.mark.parametrize("means, sd", [([-1, -5, -8, -9, -10], 0.3),                 # falls from the left edge
                                       ([-8.0, -8.05, -8.1, -9, -10], 0.3),         # ... within noise of 1's value
                                       ([-8.0, -7.9, -8.0, -8.1, -8.2], 1.0)])      # flat, all within noise
def test_a_curve_falling_from_the_left_edge_never_passes(means, sd):
    assert deep.maximal_at_one(_series(means, sd)).status != "verified"


def test_a_resolvably_higher_value_away_from_one_refutes_the_maximum_at_one():
    finding = deep.maximal_at_one(_series([-1, -5, -8, -9, -10], 0.3))
    assert finding.status == "refuted" and "beta 0.25 - beta 1" in finding.text


def test_a_grid_without_neighbours_within_a_factor_2_cannot_decide():
    finding = deep.maximal_at_one(_series([-10, -8, -10], 0.01, betas=(0.25, 1.0, 4.0)))
    assert finding.status == "not-checkable" and "factor 2" in finding.text


def test_an_unresolved_maximum_asks_for_the_realizations_from_the_measured_spread():
    # beta = 1 above beta = 0.5 by 0.2 and above beta = 2 by 0.3, sd 0.3 at every beta, R = 4: unresolved
    finding = deep.maximal_at_one(_series([-10, -8.2, -8.0, -8.3, -10], 0.3, count=4))
    assert finding.status == "not-checkable"
    # the harder side (0.2 nats): R = (2 hypot(0.3, 0.3) / 0.2)^2 = (3 sqrt 2)^2 = 18; 80 % power: (2 + z_0.8)
    assert finding.needed == 18
    assert finding.needed_80 == math.ceil(((2 + 0.8416) * math.hypot(0.3, 0.3) / 0.2) ** 2)
    assert f"R >= {finding.needed:.0f}" in finding.text


def test_the_realizations_for_80_percent_power_resolve_the_difference_in_80_percent_of_monte_carlo_sweeps():
    """Power of the 2-s.e. rule at the R it asks for, against sweeps drawn with known means and spreads."""
    rng = np.random.default_rng(0)
    true_means, sd = np.array([-10.0, -8.2, -8.0, -8.3, -10.0]), np.array([0.5, 0.4, 0.3, 0.35, 0.5])
    planning = deep.maximal_at_one(_series(true_means, sd, count=4))   # exact means and spreads: the plan
    R = int(planning.needed_80)
    hits = 0
    trials = 1500
    for _ in range(trials):
        draws = true_means + sd * rng.standard_normal((R, 5))
        summary = _summary({"elbo": (draws.mean(axis=0), draws.std(axis=0, ddof=1))}, count=R)
        hits += deep.maximal_at_one(deep.Series.of(summary, "elbo")).status == "verified"
    # the plan's 80 % is for the harder side alone (beta 1 vs 0.5); the other side is nearly certain at this R
    assert 0.74 <= hits / trials <= 0.86, (R, hits / trials)


# -- an optimal beta, decreasing, trends -----------------------------------------------------------------------
def test_interior_minimum_verdicts():
    assert deep.interior_minimum(_series([70, 40, 25, 27, 45], 1.0, metric="tie")).status == "verified"
    refuted = deep.interior_minimum(_series([57, 31, 19, 15, 10], 1.0, metric="tie"))
    assert refuted.status == "refuted" and "edge" in refuted.text
    flat = deep.interior_minimum(_series([16, 15.5, 15, 15.4, 15.8], 1.0, metric="tie"))
    assert flat.status == "not-checkable" and flat.needed > 10


def test_interior_minimum_at_the_edge_within_noise_is_not_refuted():
    assert deep.interior_minimum(_series([57, 31, 19, 10.5, 10], 1.0, metric="tie")).status == "not-checkable"


def test_decreasing_needs_no_resolved_rise_and_a_resolved_overall_fall():
    assert deep.decreasing(_series([6, 5, 5.1, 3, 2], 0.3, metric="kl")).status == "verified"
    assert deep.decreasing(_series([6, 5, 7, 3, 2], 0.3, metric="kl")).status == "refuted"
    assert deep.decreasing(_series([6, 6, 5.9, 6, 5.95], 0.3, metric="kl")).status == "not-checkable"


def test_a_trend_is_the_largest_beta_against_the_smallest_in_the_claimed_direction():
    rising = _series([0.1, 0.2, 0.3, 0.4, 0.5], 0.05, metric="mig")
    assert deep.trend(rising, +1).status == "verified"
    assert deep.trend(rising, -1).status == "refuted"
    assert deep.trend(_series([0.1, 0.2, 0.3, 0.2, 0.11], 0.05, metric="mig"), +1).status == "not-checkable"


def test_two_readings_that_contradict_each_other_are_not_checkable():
    yes, no = deep.Finding("verified", "a"), deep.Finding("refuted", "b")
    assert deep.agreeing({"tie": yes, "tie_rotation": no}, "they disagree").status == "not-checkable"
    assert deep.agreeing({"tie": yes, "tie_rotation": yes}, "").status == "verified"
    assert deep.all_of({"mig": yes, "dci": no}).status == "refuted"


# -- Figure 5's TIE at two scales --------------------------------------------------------------------------------
def _tie_summary(tie, scale, sd=0.5, **kw):
    return _summary({"tie": (tie, sd), "tie_rotation": (tie, sd)}, dataset="positioned-digit", scale=scale, **kw)


def test_a_tie_minimum_that_moves_with_the_position_scale_is_refuted():
    first, second = _tie_summary([9, 5, 7, 9, 12], 1.0), _tie_summary([12, 9, 7, 5, 9], 0.5)
    finding = claims.TieAcrossScales()([first, second])
    assert finding.status == "refuted" and "moves from beta = 0.5" in finding.text


def test_a_tie_minimum_that_stays_at_both_scales_is_verified():
    first, second = _tie_summary([9, 5, 7, 9, 12], 1.0), _tie_summary([19, 15, 17, 19, 22], 0.5)
    assert claims.TieAcrossScales()([first, second]).status == "verified"


def test_an_unresolved_move_is_not_checkable_with_a_realization_count():
    first, second = _tie_summary([9, 5, 5.2, 9, 12], 1.0, sd=2.0), _tie_summary([9, 5.2, 5, 9, 12], 0.5, sd=2.0)
    finding = claims.TieAcrossScales()([first, second])
    assert finding.status == "not-checkable" and finding.needed > 10 and "R >=" in finding.text


# -- Figure 5E: orthogonal axes --------------------------------------------------------------------------------
@pytest.mark.parametrize("angles, status", [([88, 89, 90, 91, 92], "verified"), ([60, 70, 80, 85, 60], "refuted"),
                                            ([82, 85, 88, 85, 81], "not-checkable")])
def test_orthogonal_axes_within_the_tolerance_at_the_smallest_and_largest_beta(angles, status):
    summary = _summary({"p_axes_angle_deg": (angles, 3.0)}, dataset="positioned-digit")
    assert claims.OrthogonalAxes()([summary]).status == status


# -- what a verdict rests on -------------------------------------------------------------------------------------
class Summaries(Context):
    """A context whose deep sweeps are given summaries."""

    def __init__(self, preset, summaries, **kw):
        super().__init__(preset=preset, progress=False, **kw)
        self.summaries = summaries

    def summary(self, name):
        return self.summaries[name]


def test_a_deep_verdict_names_its_protocol_and_a_non_deciding_preset_gets_a_caveat():
    summary = _summary({"elbo": ([-10, -9, -8, -9, -10], 0.3)})
    claim = claims.DeepClaim(("mixed-digits",), claims.MaxNearOne())
    decided = claim(Summaries("decide", {"mixed-digits": summary}))
    assert decided.status == "verified" and decided.caveat is None
    for part in ("preset decide", "n = 20000", "10 epochs", "10 realizations per beta", "2000 held-out rows"):
        assert part in decided.evidence
    assert decided.protocol[0]["heldout"] == 2000
    hinted = claim(Summaries("quick", {"mixed-digits": summary}))
    assert hinted.status == "verified" and "Not a decision" in hinted.caveat
    changed = claim(Summaries("decide", {"mixed-digits": summary}, sweep_options={"realizations": 2}))
    assert "realizations changed" in changed.caveat


def test_the_checks_use_the_sweeps_the_context_runs():
    used = {name for check in claims.checks() if "deep" in check.needs for name in check.run.sweeps}
    assert used == set(DEEP_SWEEPS) and SECOND_SCALE_SWEEP in used
    sweeps = Context(preset="quick").deep_sweeps()
    assert sweeps[SECOND_SCALE_SWEEP].dataset.scale != sweeps["positioned-digit"].dataset.scale

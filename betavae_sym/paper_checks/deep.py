"""Verdict rules of the deep claims (Figures 4 and 5), applied to deep sweep summaries.

A summary (:func:`betavae_sym.experiments.sweep.summarize`) gives, per beta and
metric, the mean over realizations, its standard error ``sem`` (``metrics``)
and the sample standard deviation ``sd`` (``spread``); the metrics are those of
the held-out rows, ``train_*`` those of the training rows, ``theory_*`` the
exact linear optimum on the same held-out rows (mixed digits). The rules:

* **Resolved difference.** Two means differ when ``|difference| > SE_FACTOR``
  (2) combined standard errors, ``hypot(sem_a, sem_b)``; otherwise the
  comparison is *unresolved*.
* **Realizations that would resolve it.** From the measured spread, the
  realizations per beta that put the measured difference at SE_FACTOR
  combined standard errors: ``R = ceil((SE_FACTOR * hypot(sd_a, sd_b) / |difference|)^2)``
  (an even chance of resolving it, if the true difference is the measured
  one); for 80 % power, ``ceil(((SE_FACTOR + 0.8416) * hypot(sd_a, sd_b) / |difference|)^2)``.
* **Maximal near beta = 1** (:func:`maximal_at_one`): beta = 1 is on the
  grid with a neighbour on each side within a factor NEIGHBOUR_FACTOR (2), it
  beats both by a resolved difference, and no beta of the grid has a higher
  mean. Refuted when some beta beats beta = 1 by a resolved difference (a curve
  falling from the left edge is refuted, never passed).
* **An optimal beta** (:func:`interior_minimum`): the grid minimum is
  interior, with a beta on each side above it by a resolved difference.
  Refuted when the minimum is at an edge of the grid and below every other
  beta by a resolved difference (monotonic over the grid).
* **Decreasing** (:func:`decreasing`): no rise between neighbouring betas
  beyond the rule, and the first beta above the last by a resolved difference.
* **Trend** (:func:`trend`): the largest beta against the smallest, in the
  claimed direction, by a resolved difference.

A rule returns a :class:`Finding` (status, text, the realizations that would
resolve it); :class:`Protocol` names what a summary rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

#: A difference counts when it exceeds this many combined standard errors.
SE_FACTOR = 2.0
#: One-sided normal quantile of 80 % power, for the realizations a difference would need.
POWER_80_Z = 0.8416
#: "near beta = 1": beta = 1 must have a grid neighbour on each side within this factor.
NEIGHBOUR_FACTOR = 2.0
#: Realization counts above this are written as "more than" (the measured difference is within noise of zero).
NEEDED_CAP = 100_000


@dataclass(frozen=True)
class Series:
    """One metric of a summary, per beta: ``mean``, ``sem`` and ``sd`` over realizations (NaN where unknown)."""

    metric: str
    betas: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    sd: np.ndarray

    @classmethod
    def of(cls, summary: dict, metric: str) -> Series:
        """The series of ``metric`` in ``summary`` (KeyError naming it when the summary has none)."""
        if metric not in summary["metrics"]:
            raise KeyError(f"the {summary.get('dataset', 'deep')} summary has no metric '{metric}'")
        entry = summary["metrics"][metric]
        spread = summary.get("spread", {}).get(metric, {})

        def floats(values):
            return np.array([math.nan if v is None else float(v) for v in values], dtype=float)

        mean, sem = floats(entry["mean"]), floats(entry["sem"])
        sd = floats(spread["sd"]) if "sd" in spread else sem * np.sqrt(np.array(summary["count"], dtype=float))
        return cls(metric, np.array(summary["betas"], dtype=float), mean, sem, sd)

    def has(self, beta: float) -> int | None:
        """The index of ``beta`` on the grid, or None."""
        hits = np.flatnonzero(np.isclose(self.betas, beta, rtol=1e-12, atol=0.0))
        return int(hits[0]) if hits.size else None

    def compare(self, i: int, j: int) -> Comparison:
        """``mean[i] - mean[j]`` against SE_FACTOR combined standard errors."""
        return Comparison(self, i, j)

    def curve(self) -> str:
        """``beta: mean ± sem`` for every beta, to the decimals the standard error resolves."""
        return ", ".join(f"{b:g}: {mean_text(m, s)}" for b, m, s in zip(self.betas, self.mean, self.sem))

    def finite(self) -> bool:
        return bool(np.all(np.isfinite(self.mean)))


@dataclass(frozen=True)
class Comparison:
    """``series.mean[i] - series.mean[j]`` and its combined standard error ``hypot(sem_i, sem_j)``."""

    series: Series
    i: int
    j: int

    @property
    def difference(self) -> float:
        return float(self.series.mean[self.i] - self.series.mean[self.j])

    @property
    def standard_error(self) -> float:
        """The combined standard error (0 when a sem is unknown: one realization)."""
        sems = np.nan_to_num(self.series.sem[[self.i, self.j]], nan=0.0)
        return float(math.hypot(*sems))

    @property
    def resolved(self) -> bool:
        """``|difference| > SE_FACTOR * combined standard error``, with a known standard error."""
        known = bool(np.all(np.isfinite(self.series.sem[[self.i, self.j]])))
        return known and abs(self.difference) > SE_FACTOR * self.standard_error

    def needed(self, z: float = SE_FACTOR) -> float:
        """Realizations per beta that put the measured difference at ``z`` combined standard errors (inf when
        the difference is 0 or the spread unknown)."""
        sd = math.hypot(*np.nan_to_num(self.series.sd[[self.i, self.j]], nan=math.inf))
        if self.difference == 0 or not math.isfinite(sd):
            return math.inf
        return float(math.ceil((z * sd / abs(self.difference)) ** 2 * (1 - 1e-9)))  # 1e-9: rounding of means

    def text(self) -> str:
        b = self.series.betas
        return (f"beta {b[self.i]:g} - beta {b[self.j]:g}: {self.difference:+.3g} "
                f"({SE_FACTOR:g} combined s.e. = {SE_FACTOR * self.standard_error:.2g})")


@dataclass(frozen=True)
class Finding:
    """What a rule found: ``status`` (verified | refuted | not-checkable); ``conclusion``, one line of what was
    decided and on which numbers; ``measured``, the curves it looked at; for an unresolved finding the
    realizations per beta that would resolve it (``needed``: even chance; ``needed_80``: 80 % power)."""

    status: str
    conclusion: str
    measured: str = ""
    needed: float | None = None
    needed_80: float | None = None

    @property
    def text(self) -> str:
        return self.conclusion + (f". Measured: {self.measured}" if self.measured else "")

    def beside(self, measured: str) -> Finding:
        """The same finding with ``measured`` added to its measurements."""
        return replace(self, measured="; ".join(part for part in (self.measured, measured) if part))


def needed_text(needed: float | None, needed_80: float | None) -> str:
    """"R >= 37 realizations per beta would resolve it ... (80 % power: 75)", from the measured spread."""
    if needed is None:
        return ""
    if not math.isfinite(needed) or needed > NEEDED_CAP:
        return (f"no realization count would resolve it (the measured difference is within noise of zero: "
                f"more than {NEEDED_CAP:,} per beta)")
    return (f"R >= {needed:.0f} realizations per beta would resolve it from the measured spread "
            f"(80 % power: {needed_80:.0f})")


def unresolved(conclusion: str, measured: str = "", comparisons=(), findings=()) -> Finding:
    """Not-checkable, with the largest realization count that the unresolved ``comparisons`` and ``findings``
    need (said in the conclusion unless a single finding already says it)."""
    counts = [(c.needed(), c.needed(SE_FACTOR + POWER_80_Z)) for c in comparisons]
    parts = [(f.needed, f.needed_80) for f in findings if f.needed is not None]
    if not counts + parts:
        return Finding("not-checkable", conclusion, measured)
    needed, needed_80 = max(c[0] for c in counts + parts), max(c[1] for c in counts + parts)
    if not counts and len(parts) == 1:
        return Finding("not-checkable", conclusion, measured, needed, needed_80)
    said = needed_text(needed, needed_80)
    if not counts:
        said = "all parts: " + said
    return Finding("not-checkable", f"{conclusion}; {said}", measured, needed, needed_80)


def _curve(series: Series) -> str:
    return f"{series.metric} per beta (mean ± s.e.) {series.curve()}"


def maximal_at_one(series: Series) -> Finding:
    """Maximal near beta = 1 (module docstring): neighbours within NEIGHBOUR_FACTOR on both sides, beaten by
    resolved differences, and the grid maximum at 1; refuted when some beta beats beta = 1 resolvably."""
    curve = _curve(series)
    one = series.has(1.0)
    if one is None:
        return Finding("not-checkable", "beta = 1 is not on the grid", curve)
    below = [j for j in range(one) if series.betas[j] >= 1.0 / NEIGHBOUR_FACTOR]
    above = [j for j in range(one + 1, len(series.betas)) if series.betas[j] <= NEIGHBOUR_FACTOR]
    if not below or not above:
        return Finding("not-checkable", f"the grid has no neighbour of beta = 1 within a factor {NEIGHBOUR_FACTOR:g} "
                                        f"on {'either side' if not below and not above else 'one side'}", curve)
    better = [c for c in (series.compare(j, one) for j in range(len(series.betas)) if j != one)
              if c.difference > 0 and c.resolved]
    if better:
        return Finding("refuted", f"{series.metric} at beta = 1 is beaten: " + "; ".join(c.text() for c in better),
                       curve)
    neighbours = [series.compare(one, below[-1]), series.compare(one, above[0])]
    top = int(np.nanargmax(series.mean))
    if all(c.difference > 0 and c.resolved for c in neighbours) and top == one:
        return Finding("verified", f"{series.metric} maximal at beta = 1, above both neighbours: "
                                   + "; ".join(c.text() for c in neighbours), curve)
    open_ = [c for c in neighbours if not (c.difference > 0 and c.resolved)]
    if top != one and all(c.j != top for c in open_):
        open_.append(series.compare(one, top))
    return unresolved(f"{series.metric} highest at beta = {series.betas[top]:g}, unresolved: "
                      + "; ".join(c.text() for c in open_), curve, open_)


def interior_minimum(series: Series) -> Finding:
    """An optimal (minimizing) beta inside the grid, resolved on both sides; refuted when the minimum is at an
    edge and below every other beta by resolved differences (module docstring)."""
    curve = _curve(series)
    if len(series.betas) < 3:
        return Finding("not-checkable", "fewer than 3 beta values", curve)
    best = int(np.nanargmin(series.mean))
    others = [series.compare(j, best) for j in range(len(series.betas)) if j != best]
    where = f"{series.metric} lowest at beta = {series.betas[best]:g}"
    if best in (0, len(series.betas) - 1):
        open_ = [c for c in others if not c.resolved]
        if not open_:
            return Finding("refuted", f"{where}, the edge of the grid, below every other beta by more than "
                                      f"{SE_FACTOR:g} combined s.e. (monotonic over the grid)", curve)
        return unresolved(f"{where}, the edge of the grid; unresolved: " + "; ".join(c.text() for c in open_),
                          curve, open_)
    sides = [[c for c in others if c.i < best], [c for c in others if c.i > best]]
    strongest = [max(side, key=lambda c: c.difference / max(c.standard_error, 1e-300)) for side in sides]
    if all(c.resolved for c in strongest):
        return Finding("verified", f"{where}, above it on both sides: " + "; ".join(c.text() for c in strongest), curve)
    open_ = [c for c in strongest if not c.resolved]
    return unresolved(f"{where}, unresolved on {'both sides' if len(open_) == 2 else 'one side'}: "
                      + "; ".join(c.text() for c in open_), curve, open_)


def argmin_beta(series: Series) -> float:
    """The beta of the grid minimum."""
    return float(series.betas[int(np.nanargmin(series.mean))])


def decreasing(series: Series) -> Finding:
    """Decreasing in beta: no rise between neighbours by a resolved difference, and first above last resolvably."""
    curve = _curve(series)
    rises = [c for c in (series.compare(i + 1, i) for i in range(len(series.betas) - 1))
             if c.difference > 0 and c.resolved]
    if rises:
        return Finding("refuted", f"{series.metric} rises beyond {SE_FACTOR:g} combined s.e.: "
                                  + "; ".join(c.text() for c in rises), curve)
    overall = series.compare(0, len(series.betas) - 1)
    if overall.difference > 0 and overall.resolved:
        return Finding("verified", f"{series.metric} falls ({overall.text()}) with no rise between neighbours beyond "
                                   f"{SE_FACTOR:g} combined s.e.", curve)
    return unresolved(f"{series.metric}: no resolved rise, but no resolved fall either ({overall.text()})", curve,
                      [overall])


def trend(series: Series, sign: float) -> Finding:
    """``sign`` +1: higher at the largest beta than at the smallest, -1: lower, by a resolved difference."""
    curve = _curve(series)
    change = series.compare(len(series.betas) - 1, 0)
    claimed = "rise" if sign > 0 else "fall"
    if not np.isfinite(change.difference):
        return Finding("not-checkable", f"{series.metric} undefined at the smallest or the largest beta", curve)
    if change.resolved:
        ok = sign * change.difference > 0
        return Finding("verified" if ok else "refuted", f"{series.metric}: {change.text()}"
                       + ("" if ok else f", against the claimed {claimed}"), curve)
    return unresolved(f"{series.metric}: {change.text()}, unresolved", curve, [change])


def _joined(findings: dict[str, Finding]) -> tuple[str, str]:
    return ("; ".join(f"{name}: {f.conclusion}" for name, f in findings.items()),
            "; ".join(f"[{name}] {f.measured}" for name, f in findings.items() if f.measured))


def agreeing(findings: dict[str, Finding], disagreement: str) -> Finding:
    """One finding from several readings of the same claim (e.g. the two TIEs): their common status; a verdict
    of one that the other contradicts is not-checkable, with ``disagreement`` saying why."""
    statuses = {f.status for f in findings.values()}
    conclusion, measured = _joined(findings)
    if statuses in ({"verified"}, {"refuted"}):
        return Finding(statuses.pop(), conclusion, measured)
    if statuses == {"verified", "refuted"}:
        return Finding("not-checkable", f"{conclusion}. {disagreement}", measured)
    return unresolved(conclusion, measured, findings=findings.values())


def all_of(findings: dict[str, Finding]) -> Finding:
    """Every measure must agree with the claim: verified when all verify, refuted when one refutes, else
    not-checkable (with the largest realization count that the unresolved ones need)."""
    statuses = [f.status for f in findings.values()]
    conclusion, measured = _joined(findings)
    if "refuted" in statuses:
        return Finding("refuted", conclusion, measured)
    if all(s == "verified" for s in statuses):
        return Finding("verified", conclusion, measured)
    return unresolved(conclusion, measured, findings=findings.values())


@dataclass(frozen=True)
class Protocol:
    """What a deep summary rests on: preset, dataset, training rows, epochs, realizations, evaluation rows."""

    preset: str
    dataset: str
    n: int
    epochs: int
    batch_size: int
    realizations: tuple[int, int]
    heldout: int | None
    standardize: bool
    scale: float | None

    @classmethod
    def of(cls, summary: dict, preset: str) -> Protocol:
        settings = summary.get("settings", {})
        data, training = settings.get("dataset", {}), settings.get("training", {})
        protocol = summary.get("protocol", {})
        counts = summary.get("count") or [0]
        realizations = tuple(protocol.get("realizations", (min(counts), max(counts))))
        heldout = protocol.get("heldout", summary.get("evaluation", {}).get("heldout"))
        return cls(preset=preset, dataset=summary.get("dataset", data.get("dataset", "?")),
                   n=int(protocol.get("n", data.get("n", 0))), epochs=int(protocol.get("epochs", training.get("epochs", 0))),
                   batch_size=int(protocol.get("batch_size", training.get("batch_size", 0))),
                   realizations=(int(realizations[0]), int(realizations[-1])), heldout=heldout,
                   standardize=bool(data.get("standardize", True)),
                   scale=data.get("scale") if summary.get("dataset") == "positioned-digit" else None)

    @property
    def evaluation(self) -> str:
        if self.heldout:
            return f"{self.heldout} held-out rows (rows {self.n}..{self.n + self.heldout - 1} of the data seed, no task trains on them)"
        return f"the {self.n} training rows"

    def realizations_text(self) -> str:
        lo, hi = self.realizations
        return f"{_plural(lo, 'realization')} per beta" if lo == hi else f"{lo} to {hi} realizations per beta (some diverged)"

    def text(self) -> str:
        what = self.dataset.replace("-", " ") + (f" (position scale {self.scale:g})" if self.scale is not None else "")
        steps = self.epochs * math.ceil(self.n / self.batch_size) if self.batch_size else None
        return (f"preset {self.preset}: {what}, {'standardized' if self.standardize else 'raw pixels'}, n = {self.n} "
                f"training rows, {_plural(self.epochs, 'epoch')}"
                + (f" ({_plural(steps, 'Adam step')} of {min(self.batch_size, self.n)})" if steps else "")
                + f", {self.realizations_text()}, scored on {self.evaluation}")

    def to_json(self) -> dict:
        return {"preset": self.preset, "dataset": self.dataset, "n": self.n, "epochs": self.epochs,
                "batch_size": self.batch_size, "realizations": list(self.realizations), "heldout": self.heldout,
                "standardize": self.standardize, "scale": self.scale, "evaluation": self.evaluation}


#: What the thesis ran (Ch. II, "Training Details"; Figure 4's caption), for the report's side-by-side table.
PAPER_PROTOCOL = ("the thesis: n = 1000 training examples, 1000 epochs (batch size not stated), Adam 1e-3, "
                  "standardized; 100 realizations per beta (Figure 4 caption; 300 in Ch. II); scored on the "
                  "training set; beta grid not stated")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def mean_text(mean: float, sem: float) -> str:
    """``mean ± sem`` with two significant digits of the standard error (``mean`` alone when it has none)."""
    if not np.isfinite(mean):
        return "undefined"
    if not (np.isfinite(sem) and sem > 0):
        return f"{mean:.6g}"
    decimals = int(min(max(1 - math.floor(math.log10(sem)), 0), 6))
    return f"{mean:.{decimals}f} ± {sem:.{decimals}f}"

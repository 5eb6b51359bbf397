"""Checks of the paper's claims: what a check is, its verdict, and running checks.

A check is one claim of the paper (an equation, a proposition, a statement
about a figure, a stated setting) with an id (``eq36``, ``prop2``,
``fig3-elbo-max``), the claim in one sentence, where the paper makes it, the
resources it needs (``symbolic``, ``analytic``, ``deep``) and a function that
returns a :class:`Verdict`:

- ``verified``: the claim holds (evidence says how it was established);
- ``erratum``: the claim is a typo or a misprint; ``corrected`` holds the
  corrected form, itself verified (evidence says how);
- ``refuted``: the claim does not hold; ``evidence`` holds the measurements;
- ``not-checkable``: there is nothing to check (a definition, prose, a
  missing number); ``evidence`` gives the reason.

A check that raises is recorded with status ``crashed`` (the exception as
evidence); the command line then exits 1. The checks themselves are plain
lists (:func:`betavae_sym.paper_checks.equations.checks`,
:func:`betavae_sym.paper_checks.claims.checks`), composed by
:mod:`betavae_sym.paper_checks.registry`.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable

#: The verdicts a check can reach (``crashed`` is not one: it is a failure of the check itself).
STATUSES = ("verified", "erratum", "refuted", "not-checkable")

#: Resources a check may need; the :class:`~betavae_sym.paper_checks.context.Context` computes each once.
RESOURCES = ("symbolic", "analytic", "deep")


@dataclass
class Verdict:
    """What a check found. ``printed`` / ``corrected``: LaTeX or plain text, or None; ``*_mathml``: the same
    as presentation MathML where the form is a SymPy expression (the report renders it). Deep checks add
    ``protocol`` (what each sweep they used rests on: preset, n, epochs, realizations, evaluation rows),
    ``summary`` (the finding in one line, for the report's headline) and, for a verdict from a protocol not
    sized to reach it, ``caveat``."""

    status: str
    evidence: str
    printed: str | None = None
    corrected: str | None = None
    printed_mathml: str | None = None
    corrected_mathml: str | None = None
    caveat: str | None = None
    protocol: list | None = None
    summary: str | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")


@dataclass(frozen=True)
class Check:
    """One claim of the paper and how to check it (a declaration: building it runs nothing)."""

    id: str
    claim: str
    location: str
    run: Callable[..., Verdict]         # run(context) -> Verdict
    needs: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()        # symbolic topics needed (when "symbolic" in needs)
    group: str = "equation"             # equation | proposition | figure | setting


@dataclass(frozen=True)
class Fixed:
    """A verdict that needs no computation (a definition, a stated setting, a missing number)."""

    status: str
    evidence: str
    printed: str | None = None
    corrected: str | None = None

    def __call__(self, context) -> Verdict:
        return Verdict(self.status, self.evidence, printed=self.printed, corrected=self.corrected)


@dataclass
class Result:
    """A check and its verdict (or its crash), as written to JSON."""

    id: str
    claim: str
    location: str
    status: str
    printed: str | None
    corrected: str | None
    evidence: str
    group: str = "equation"
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    printed_mathml: str | None = None       # for the report; not part of the JSON
    corrected_mathml: str | None = None
    caveat: str | None = None
    protocol: list | None = None
    summary: str | None = None              # for the report; not part of the JSON

    def to_json(self) -> dict:
        """The documented JSON object: id, claim, location, status, printed, corrected, evidence, caveat, protocol."""
        return {"id": self.id, "claim": self.claim, "location": self.location, "status": self.status,
                "printed": self.printed, "corrected": self.corrected, "evidence": self.evidence,
                "caveat": self.caveat, "protocol": self.protocol}


def run_one(check: Check, context) -> Result:
    """Run one check; an exception becomes a ``crashed`` result (never propagates)."""
    import time

    start = time.perf_counter()
    try:
        verdict = check.run(context)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"check {check.id} returned {type(verdict).__name__}, not a Verdict")
        status, evidence, printed, corrected = verdict.status, verdict.evidence, verdict.printed, verdict.corrected
        mathml = (verdict.printed_mathml, verdict.corrected_mathml)
        caveat, protocol, summary = verdict.caveat, verdict.protocol, verdict.summary
    except Exception as exc:  # noqa: BLE001 - a crashing check is reported, not raised
        status, printed, corrected, mathml = "crashed", None, None, (None, None)
        caveat, protocol, summary = None, None, None
        evidence = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=4))
    return Result(check.id, check.claim, check.location, status, printed, corrected, evidence, check.group,
                  time.perf_counter() - start, printed_mathml=mathml[0], corrected_mathml=mathml[1], caveat=caveat,
                  protocol=protocol, summary=summary)


def run_checks(checks: list[Check], context, progress: bool = False) -> list[Result]:
    """Run ``checks`` with the shared ``context`` (resources computed once, before the checks that need them)."""
    from tqdm import tqdm

    context.prepare(checks)
    results = []
    for check in tqdm(checks, desc="checks", unit="check", disable=not progress, leave=False):
        results.append(run_one(check, context))
    return results


def table(results: list[Result], width: int = 72) -> str:
    """A fixed-width table: id, status, claim (shortened), then a count per status."""
    lines = [f"{'id':<26} {'status':<14} claim"]
    for r in results:
        claim = r.claim if len(r.claim) <= width else r.claim[: width - 3] + "..."
        lines.append(f"{r.id:<26} {r.status:<14} {claim}")
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) + f" ({len(results)} checks)")
    return "\n".join(lines) + "\n"

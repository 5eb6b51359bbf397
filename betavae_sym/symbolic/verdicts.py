"""Equations as declarative specs, and how a verdict is reached (once, with its diagnosis).

An :class:`EquationSpec` says what to compare for one equation of the paper:
the printed form and the derived form (for typesetting), a :class:`Comparison`
(how to build both sides on an explicit model at each size), and what the
paper's context allows. :func:`evaluate` runs it and returns an
:class:`EquationCheck` record with a verdict:

- ``agrees``: equal at every size, or equal up to the additive term the paper
  says it drops (verified to be that term), or equal under a condition the paper's own context supplies
  (the ``condition`` field says which);
- ``erratum``: anything else; ``corrected`` holds the derived form, and
  ``diagnosis`` a description of the difference: the first of the spec's
  candidate explanations that holds (a proposed correction is verified by
  re-running the comparison with it), else the relation found at each size.

Results that are derived only (nothing printed to compare with) or proved by a
short derivation use a :class:`Proof` instead of a comparison.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Protocol, Union

import sympy as sp

from betavae_sym.symbolic import derivations as dv
from betavae_sym.symbolic.compare import RATIONAL_POINTS, Relation, components, random_rational, relate, relate_at_points
from betavae_sym.symbolic.model import LinearBetaVAE

#: Sizes (N, k) at which every equation is compared component by component.
SIZES = ((1, 1), (2, 1), (3, 2), (4, 3))

#: From this size on, comparisons are made at random rational points (exact arithmetic)
#: rather than by symbolic simplification, which takes minutes there.
RATIONAL_FROM = (3, 2)


@dataclass
class SizeResult:
    """The relation of printed to derived at one size."""

    N: int
    k: int
    method: str
    relation: Relation

    def describe(self) -> str:
        rel = self.relation
        text = {"equal": "equal", "constant": f"equal up to the parameter-free term {rel.detail}",
                "scaled": f"printed = ({rel.detail}) x derived", "different": "different",
                "ill-formed": f"ill-formed: {rel.message}"}[rel.kind]
        return f"(N, k) = ({self.N}, {self.k}), {self.method}: {text}"


@dataclass(frozen=True)
class EquationCheck:
    """One equation of the paper, evaluated: printed form, derived form, verdict (see :func:`evaluate`)."""

    eq: str
    topic: str
    title: str
    printed: object                 # SymPy object to typeset (general shape, or small explicit size)
    derived: object                 # SymPy object to typeset
    sizes: list[SizeResult]
    status: str                     # agrees | erratum
    condition: str = ""             # for agrees: the dropped term or the condition
    diagnosis: str = ""             # for erratum: a description of the difference
    corrected: object = None        # for erratum: the derived form to use instead
    steps: list[tuple[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _point_symbols(expr, m) -> list[sp.Symbol]:
    """The symbols of ``expr`` that a random point sets: all but beta and the variances, in a fixed order."""
    keep = {s for s in (m.beta, m.sigma_y2, m.sigma_eta2) if isinstance(s, sp.Symbol)}
    return sorted(set().union(*(e.free_symbols for e in components(expr))) - keep, key=str)


def _at_random_point(expr, m, seed: int, symbols: list[sp.Symbol] | None = None):
    """``expr`` with every symbol except beta and the variances set to random rationals (``symbols``: as
    :func:`_point_symbols` gives them, when already known)."""
    rng = random.Random(seed + 1000)
    symbols = _point_symbols(expr, m) if symbols is None else symbols
    point = {s: random_rational(rng, positive=bool(s.is_positive)) for s in symbols}
    return _map(expr, lambda e: e.xreplace(point))


def _map(expr, fn):
    if isinstance(expr, (tuple, list)):
        return type(expr)(_map(e, fn) for e in expr)
    return expr.applyfunc(fn) if isinstance(expr, sp.MatrixBase) else fn(sp.sympify(expr))




# ----- comparing at explicit sizes ---------------------------------------------------------------
def model_variables(m: LinearBetaVAE) -> set[sp.Symbol]:
    """Parameters, data and Sigma_x components of the explicit model: what a constant must not contain."""
    return m.parameter_symbols() | set(m.x) | m.Sigma_x.free_symbols


def posterior_variables(m: LinearBetaVAE) -> set[sp.Symbol]:
    """Data and decoder components: what a constant must not contain in posterior formulas."""
    return set(m.x) | set(m.A) | set(m.D) | set(m.b_D)


@dataclass(frozen=True)
class Comparison:
    """How to relate a printed form to the derived one on explicit models (Eq.-independent).

    ``printed_of(m)`` and ``derived_of(m)`` build both sides on the explicit
    model ``m`` (scalars, matrices or tuples of them). Below ``rational_from``
    the comparison is symbolic on ``derivations.model(N, k)``
    (``variables_of(m)``: what a constant or factor must not contain). At or
    beyond it, both sides are evaluated at ``RATIONAL_POINTS`` random points,
    every symbol except beta and the variances set to random rationals, and
    compared by ``relate_at_points``. ``build="pointed"`` builds both sides on
    ``derivations.pointed_model(N, k, i)`` directly (fast when they invert
    matrices); both sides must then be computed from ``m`` alone.
    ``scalars_at_points`` draws beta and the variances at random in the model
    too (only for identities that hold for all of them, see ``pointed_model``).
    ``build="symbolic"`` (default) builds both sides on the symbolic model once
    and then substitutes the points (needed when a side differentiates with
    respect to the parameters).
    """

    printed_of: Callable[[LinearBetaVAE], object]
    derived_of: Callable[[LinearBetaVAE], object]
    variables_of: Callable[[LinearBetaVAE], set] = model_variables
    sizes: tuple[tuple[int, int], ...] = SIZES
    build: str = "symbolic"
    rational_from: tuple[int, int] | None = RATIONAL_FROM
    scalars_at_points: bool = False

    def results(self) -> list[SizeResult]:
        """The relation of printed to derived at each size."""
        results = []
        for N, k in self.sizes:
            symbolic = self.rational_from is None or (N, k) < self.rational_from
            method = "symbolic" if symbolic else "rational"
            try:
                relation = self._relate(N, k, symbolic)
            except sp.ShapeError as exc:
                relation = Relation("ill-formed", None, str(exc))
            results.append(SizeResult(N, k, method, relation))
        return results

    def holds(self) -> bool:
        """True when printed equals derived at every size."""
        return all_equal(self.results())

    def _relate(self, N: int, k: int, symbolic: bool) -> Relation:
        if symbolic:
            m = dv.model(N, k)
            return relate(self.printed_of(m), self.derived_of(m), self.variables_of(m))
        if self.build == "symbolic":
            m = dv.model(N, k)
            both = (self.printed_of(m), self.derived_of(m))
            symbols = _point_symbols(both, m)
            return relate_at_points([_at_random_point(both, m, seed, symbols) for seed in range(RATIONAL_POINTS)],
                                    seed=N * 100 + k)
        pairs = []
        for seed in range(RATIONAL_POINTS):
            m = dv.pointed_model(N, k, seed, self.scalars_at_points)
            pairs.append(_at_random_point((self.printed_of(m), self.derived_of(m)), m, seed))
        return relate_at_points(pairs, seed=N * 100 + k)


def all_equal(sizes: list[SizeResult]) -> bool:
    return {r.relation.kind for r in sizes} == {"equal"}


def describe_sizes(sizes: list[SizeResult]) -> str:
    """The relations found, one clause per distinct relation (the plain description of a disagreement)."""
    return "; ".join(sorted({r.describe() for r in sizes}))


# ----- explanations of a disagreement (tried in order; the first that holds is the diagnosis) ----
class Explanation(Protocol):
    def explain(self, sizes: list[SizeResult]) -> str | None:
        """The diagnosis text when this explanation holds for the relations ``sizes``, else None."""


@dataclass(frozen=True)
class Correction:
    """A proposed correction of the print, verified: ``comparison`` (the corrected print) agrees at every size."""

    text: str
    comparison: Comparison

    def explain(self, sizes):
        return self.text if self.comparison.holds() else None


@dataclass(frozen=True)
class ScaledBy:
    """The print is ``factor`` times the derived form at every size."""

    factor: int
    text: str

    def explain(self, sizes):
        factors = {r.relation.detail for r in sizes if r.relation.kind == "scaled"}
        kinds = {r.relation.kind for r in sizes}
        return self.text if kinds == {"scaled"} and factors == {sp.Integer(self.factor)} else None


@dataclass(frozen=True)
class Reading:
    """What reading the print shows (no comparison proves it), followed by the relations found."""

    text: str

    def explain(self, sizes):
        return f"{self.text} {_plain_diagnosis(sizes)}"


@dataclass(frozen=True)
class LineByLine:
    """A system of printed lines, each compared with ``factor`` times its derived line.

    ``lines``: (name, factor, comparison) per printed line, comparison None for
    a line explained otherwise (``text``); the diagnosis says, per compared
    line, whether the scaled line agrees.
    """

    text: str
    lines: tuple[tuple[str, int, Comparison | None], ...]

    def explain(self, sizes):
        per_line = [f"line {i + 1} (d/d{name}) = ({factor}) x derived: "
                    + ("verified" if comparison.holds() else "NOT verified")
                    for i, (name, factor, comparison) in enumerate(self.lines) if comparison is not None]
        return self.text + "; ".join(per_line) + " (scaled lines give the same stationarity conditions)"


def _plain_diagnosis(sizes: list[SizeResult]) -> str:
    scaled = {r.relation.detail for r in sizes if r.relation.kind == "scaled"}
    if {r.relation.kind for r in sizes} == {"scaled"} and len(scaled) == 1:
        return f"printed = ({scaled.pop()}) x derived"
    return describe_sizes(sizes)


@dataclass(frozen=True)
class Dropped:
    """A term of the derived form that the print leaves out, on purpose (the paper says so).

    ``term(N, k, beta)``: derived - printed at size (N, k); it must be what each
    comparison found as the constant difference, or the print does not agree.
    ``text`` says what the term is and what dropping it changes.
    """

    text: str
    term: Callable[[int, int, sp.Symbol], sp.Expr]

    def matches(self, sizes: list[SizeResult]) -> bool:
        """True when printed - derived is ``-term`` at every size (exactly)."""
        return all(sp.simplify(sp.expand_log(r.relation.detail + self.term(r.N, r.k, dv.model(r.N, r.k).beta),
                                             force=True)) == 0 for r in sizes)


@dataclass(frozen=True)
class Condition:
    """The paper's context under which the print holds: ``comparison`` agrees at every size."""

    text: str
    comparison: Comparison


# ----- the specs ------------------------------------------------------------------------------------
#: A note: fixed text, or text computed when the spec is evaluated (a finding of the derivation).
Note = Union[str, Callable[[], Union[str, list]]]


@dataclass(frozen=True)
class Proof:
    """A result that is derived (or proved) rather than compared with a print.

    ``holds()`` returns whether the derivation confirms the statement; ``agrees``
    when it does, ``erratum`` with ``diagnosis`` when it does not.
    """

    holds: Callable[[], bool]
    condition: str = ""
    diagnosis: str = ""


@dataclass(frozen=True)
class EquationSpec:
    """One equation of the paper, declared: what is printed, what is derived, how to compare them.

    ``printed``, ``derived``, ``corrected`` and ``steps`` are callables returning
    SymPy objects to typeset (general shape, or a small explicit size);
    ``comparison`` relates the two at every size, or ``proof`` stands in for
    it. ``context`` states the paper's context in which ``comparison`` is
    already made (reported with the verdict); ``dropped`` is a term the paper
    says it drops (an additive difference free of the parameters agrees when
    it is that term); ``condition`` is a context under which a print that disagrees
    in general holds; ``explanations`` are tried in order when the print
    disagrees. A note is text, or a callable returning text or a list of
    texts (a finding of the derivation).
    """

    eq: str
    title: str
    printed: Callable[[], object]
    derived: Callable[[], object]
    comparison: Comparison | None = None
    proof: Proof | None = None
    context: str = ""
    dropped: Dropped | None = None
    condition: Condition | None = None
    explanations: tuple[Explanation, ...] = ()
    corrected: Callable[[], object] | None = None
    steps: Callable[[], list[tuple[str, object]]] = list
    notes: tuple[Note, ...] = ()


def evaluate(spec: EquationSpec, topic: str) -> EquationCheck:
    """Run ``spec``: the relation at each size, then the verdict with its condition or diagnosis, once."""
    sizes = spec.comparison.results() if spec.comparison is not None else []
    derived = spec.derived()
    status, condition, diagnosis = _verdict(spec, sizes)
    corrected = None
    if status == "erratum":
        corrected = spec.corrected() if spec.corrected is not None else derived
    notes = []
    for note in spec.notes:
        text = note if isinstance(note, str) else note()
        notes += [text] if isinstance(text, str) else list(text)
    return EquationCheck(spec.eq, topic, spec.title, printed=spec.printed(), derived=derived, sizes=sizes,
                         status=status, condition=condition, diagnosis=diagnosis, corrected=corrected,
                         steps=list(spec.steps()), notes=notes)


def _verdict(spec: EquationSpec, sizes: list[SizeResult]) -> tuple[str, str, str]:
    """``(status, condition, diagnosis)`` of a spec whose comparison gave ``sizes``."""
    if spec.proof is not None:
        if spec.proof.holds():
            return "agrees", spec.proof.condition, ""
        return "erratum", spec.proof.condition, spec.proof.diagnosis
    kinds = {r.relation.kind for r in sizes}
    if kinds == {"equal"}:
        return "agrees", spec.context, ""
    if kinds == {"constant"} and spec.dropped is not None and spec.dropped.matches(sizes):
        return "agrees", f"up to the additive term the print drops, {spec.dropped.text}", ""
    if spec.condition is not None and spec.condition.comparison.holds():
        return "agrees", spec.condition.text, ""
    for explanation in spec.explanations:
        text = explanation.explain(sizes)
        if text is not None:
            return "erratum", spec.context, text
    return "erratum", spec.context, _plain_diagnosis(sizes)

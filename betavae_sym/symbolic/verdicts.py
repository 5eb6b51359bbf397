"""Records of printed-vs-derived comparisons, and how a verdict is reached.

An :class:`EquationCheck` keeps the printed form and the derived form as two
separate objects, the relation found at each size, and a verdict:

- ``agrees``: equal at every size, or equal up to an additive constant the
  paper says it drops, or equal under a condition the paper's own context
  supplies (the ``condition`` field says which);
- ``erratum``: anything else; ``corrected`` holds the derived form, and
  ``diagnosis`` a verified description of the difference where one was found.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp

from betavae_sym.symbolic import derivations as dv
from betavae_sym.symbolic.compare import RATIONAL_POINTS, Relation, components, random_rational, relate, relate_at_points

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
        text = {"equal": "equal", "constant": f"equal up to the constant {rel.detail}",
                "scaled": f"printed = ({rel.detail}) x derived", "different": "different",
                "ill-formed": f"ill-formed: {rel.message}"}[rel.kind]
        return f"(N, k) = ({self.N}, {self.k}), {self.method}: {text}"


@dataclass
class EquationCheck:
    """One equation of the paper: printed form, derived form, verdict."""

    eq: str
    topic: str
    title: str
    printed: object                 # SymPy object to typeset (general shape, or small explicit size)
    derived: object                 # SymPy object to typeset
    sizes: list[SizeResult]
    status: str = ""                # agrees | erratum
    condition: str = ""             # for agrees: the constant or the condition
    diagnosis: str = ""             # for erratum: a verified description of the difference
    corrected: object = None        # for erratum: the derived form to use instead
    steps: list[tuple[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def compare_at_sizes(printed_of: Callable, derived_of: Callable, variables_of: Callable,
                     sizes=SIZES, rational_from: tuple[int, int] | None = RATIONAL_FROM,
                     scalars_at_points: bool = False, build: str = "symbolic") -> list[SizeResult]:
    """Relate ``printed_of(m)`` to ``derived_of(m)`` for the explicit model ``m`` at each size.

    Below ``rational_from`` the comparison is symbolic on ``derivations.model(N, k)``
    (``variables_of(m)``: what a constant or factor must not contain). At or
    beyond it, both sides are evaluated at ``RATIONAL_POINTS`` random points, every
    symbol except beta and the variances set to random rationals, and compared by
    ``relate_at_points``. ``build="pointed"`` builds both sides on
    ``derivations.pointed_model(N, k, i)`` directly (fast when they invert
    matrices); both sides must then be computed from ``m`` alone.
    ``scalars_at_points`` draws beta and the variances at random in the model
    too (only for identities that hold for all of them, see ``pointed_model``).
    ``build="symbolic"`` (default) builds both sides on the symbolic model once and
    then substitutes the points (needed when a side differentiates with respect
    to the parameters or uses a cache keyed by size).
    """
    results = []
    for N, k in sizes:
        symbolic = rational_from is None or (N, k) < rational_from
        method = "symbolic" if symbolic else "rational"
        try:
            if symbolic:
                m = dv.model(N, k)
                relation = relate(printed_of(m), derived_of(m), variables_of(m))
            elif build == "symbolic":
                m = dv.model(N, k)
                both = (printed_of(m), derived_of(m))
                relation = relate_at_points([_at_random_point(both, m, seed) for seed in range(RATIONAL_POINTS)],
                                            seed=N * 100 + k)
            else:
                pairs = []
                for seed in range(RATIONAL_POINTS):
                    m = dv.pointed_model(N, k, seed, scalars_at_points)
                    pairs.append(_at_random_point((printed_of(m), derived_of(m)), m, seed))
                relation = relate_at_points(pairs, seed=N * 100 + k)
        except sp.ShapeError as exc:
            relation = Relation("ill-formed", None, str(exc))
        results.append(SizeResult(N, k, method, relation))
    return results


def _at_random_point(expr, m, seed: int):
    """``expr`` with every symbol except beta and the variances set to random rationals."""
    rng = random.Random(seed + 1000)
    keep = {s for s in (m.beta, m.sigma_y2, m.sigma_eta2) if isinstance(s, sp.Symbol)}
    symbols = sorted(set().union(*(e.free_symbols for e in components(expr))) - keep, key=str)
    point = {s: random_rational(rng, positive=bool(s.is_positive)) for s in symbols}
    return _map(expr, lambda e: e.xreplace(point))


def _map(expr, fn):
    if isinstance(expr, (tuple, list)):
        return type(expr)(_map(e, fn) for e in expr)
    return expr.applyfunc(fn) if isinstance(expr, sp.MatrixBase) else fn(sp.sympify(expr))


def verdict(check: EquationCheck, *, constant_note: str = "", condition: Callable | None = None,
            condition_text: str = "", diagnoses: tuple[tuple[str, Callable], ...] = (),
            corrected=None) -> EquationCheck:
    """Fill in ``status`` from the size results.

    ``condition`` re-runs the comparison under the paper's context (returns a
    list of SizeResult); ``diagnoses`` are (description, callable returning
    size results) candidates for explaining a disagreement: the first whose
    comparison is ``equal`` at every size is reported.
    """
    kinds = {r.relation.kind for r in check.sizes}
    if kinds == {"equal"}:
        check.status = "agrees"
    elif kinds == {"constant"}:
        check.status = "agrees"
        check.condition = f"up to an additive constant ({constant_note})" if constant_note else "up to an additive constant"
    elif condition is not None and {r.relation.kind for r in condition()} == {"equal"}:
        check.status = "agrees"
        check.condition = condition_text
    else:
        check.status = "erratum"
        check.corrected = corrected if corrected is not None else check.derived
        for text, rerun in diagnoses:
            if {r.relation.kind for r in rerun()} == {"equal"}:
                check.diagnosis = text
                break
        if not check.diagnosis:
            scaled = {r.relation.detail for r in check.sizes if r.relation.kind == "scaled"}
            if kinds == {"scaled"} and len(scaled) == 1:
                check.diagnosis = f"printed = ({scaled.pop()}) x derived"
            else:
                check.diagnosis = "; ".join(sorted({r.describe() for r in check.sizes}))
    return check

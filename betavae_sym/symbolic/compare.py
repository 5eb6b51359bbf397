"""Exact comparison of a printed expression with a derived one.

The relation between the two is classified, never forced:

- ``equal``: printed - derived simplifies to 0;
- ``constant``: the difference is free of the parameters and the data (an
  additive constant the paper drops, e.g. ``-N/2 log 2 pi``);
- ``scaled``: printed = c * derived with c free of parameters and data (a sign
  or factor; a stationarity condition ``0 = ...`` is unaffected, the stated
  gradient is not);
- ``different``: none of these;
- ``ill-formed``: the printed expression cannot be built (shapes do not conform).

Zero tests are exact. ``symbolic`` expands (then cancels, then simplifies) the
difference; ``rational`` substitutes independent random rationals for every
free symbol and evaluates exactly (used where symbolic inverses of 4x4 generic
matrices would take minutes; a nonzero rational function vanishes at random
rational points with probability 0, Schwartz-Zippel).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

RATIONAL_POINTS = 3


def _as_list(expr) -> list[sp.Expr]:
    if isinstance(expr, sp.MatrixBase):
        return list(expr)
    if isinstance(expr, (tuple, list)):
        return [e for part in expr for e in _as_list(part)]
    return [sp.sympify(expr)]


def _shape(expr):
    if isinstance(expr, sp.MatrixBase):
        return expr.shape
    if isinstance(expr, (tuple, list)):
        return tuple(_shape(e) for e in expr)
    return ()


def is_zero(expr: sp.Expr, method: str = "symbolic", seed: int = 0) -> bool:
    """Exact zero test of a scalar expression (see module docstring for ``method``)."""
    if method == "rational":
        rng = random.Random(seed)
        symbols = sorted(expr.free_symbols, key=str)
        for _ in range(RATIONAL_POINTS):
            point = {s: sp.Rational(rng.randint(-29, 29) or 1, rng.randint(2, 31)) for s in symbols}
            for s in symbols:
                if s.is_positive:
                    point[s] = abs(point[s])
            value = expr.xreplace(point)
            value = sp.simplify(value) if value.has(sp.exp, sp.log) else sp.cancel(value)
            if value != 0:
                return False
        return True
    d = sp.expand(expr)
    if d == 0:
        return True
    d = sp.cancel(sp.together(d))
    if d == 0:
        return True
    return sp.simplify(d) == 0


@dataclass(frozen=True)
class Relation:
    """How a printed expression relates to the derived one at one size."""

    kind: str  # equal | constant | scaled | different | ill-formed
    detail: sp.Expr | None = None  # the constant difference or the factor
    message: str = ""


def relate(printed, derived, variables: set[sp.Symbol], method: str = "symbolic") -> Relation:
    """Classify ``printed`` against ``derived`` (scalars, matrices or tuples of them).

    ``variables``: the parameter and data symbols; a difference or factor free
    of them is a constant.
    """
    if _shape(printed) != _shape(derived):
        return Relation("ill-formed", None, f"printed shape {_shape(printed)} != derived shape {_shape(derived)}")
    p_list, d_list = _as_list(printed), _as_list(derived)
    diffs = [p - d for p, d in zip(p_list, d_list)]
    if all(is_zero(d, method) for d in diffs):
        return Relation("equal")
    if len(diffs) == 1:
        constant = sp.simplify(diffs[0])
        if not (constant.free_symbols & variables):
            return Relation("constant", constant)
    factor = None
    for p, d in zip(p_list, d_list):
        if is_zero(d, method):
            if not is_zero(p, method):
                return Relation("different")
            continue
        ratio = sp.simplify(sp.cancel(p / d))
        if ratio.free_symbols & variables:
            return Relation("different")
        if factor is None:
            factor = ratio
        elif not is_zero(ratio - factor, "symbolic"):
            return Relation("different")
    if factor is not None:
        return Relation("scaled", factor)
    return Relation("different")

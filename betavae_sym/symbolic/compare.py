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

Two methods. :func:`relate` works on symbolic expressions: it expands (then
cancels, then simplifies small leftovers) the difference, exactly.
:func:`relate_at_points` works on the values of printed and derived at several
random rational points (the model evaluated with random rational parameters and
data, see ``derivations.pointed_model``), in exact rational arithmetic; where
exponentials or logarithms of rationals remain, values are evaluated to 60
digits and must vanish to 1e-40. It is used at the larger sizes, where building
symbolic inverses of generic 3 x 3 and 4 x 4 matrices would take minutes; a
nonzero rational function vanishes at a random point with probability 0
(Schwartz-Zippel), and three independent points are used.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

RATIONAL_POINTS = 3
#: Leftover differences larger than this are not passed to ``simplify`` (too slow, never needed).
SIMPLIFY_MAX_OPS = 400


def components(expr) -> list[sp.Expr]:
    """The scalar entries of a scalar, a matrix, or a (nested) tuple of them, in order."""
    if isinstance(expr, sp.MatrixBase):
        return list(expr)
    if isinstance(expr, (tuple, list)):
        return [e for part in expr for e in components(part)]
    return [sp.sympify(expr)]


def _shape(expr):
    if isinstance(expr, sp.MatrixBase):
        return expr.shape
    if isinstance(expr, (tuple, list)):
        return tuple(_shape(e) for e in expr)
    return ()


def is_zero(expr: sp.Expr) -> bool:
    """Exact symbolic zero test of a scalar expression."""
    d = sp.expand(expr)
    if d == 0:
        return True
    if d.has(sp.Pow) and any(e.exp.is_negative for e in d.atoms(sp.Pow)):
        d = sp.cancel(sp.together(d))
        if d == 0:
            return True
    # expand (and cancel) are canonical for polynomials and rational functions of
    # exponentials; simplify is tried only on small leftovers (logarithms).
    return sp.count_ops(d) < SIMPLIFY_MAX_OPS and sp.simplify(d) == 0


@dataclass(frozen=True)
class Relation:
    """How a printed expression relates to the derived one at one size."""

    kind: str  # equal | constant | scaled | different | ill-formed
    detail: sp.Expr | None = None  # the constant difference or the factor
    message: str = ""


def relate(printed, derived, variables: set[sp.Symbol]) -> Relation:
    """Classify ``printed`` against ``derived`` (scalars, matrices or tuples of them).

    ``variables``: the parameter and data symbols; a difference or factor free
    of them is a constant.
    """
    if _shape(printed) != _shape(derived):
        return Relation("ill-formed", None, f"printed shape {_shape(printed)} != derived shape {_shape(derived)}")
    p_list, d_list = components(printed), components(derived)
    diffs = [p - d for p, d in zip(p_list, d_list)]
    if all(is_zero(d) for d in diffs):
        return Relation("equal")
    if len(diffs) == 1:
        constant = sp.expand(diffs[0])
        if not (constant.free_symbols & variables):
            return Relation("constant", constant)
    factor = None
    for p, d in zip(p_list, d_list):
        if is_zero(d):
            if not is_zero(p):
                return Relation("different")
            continue
        ratio = sp.cancel(p / d)
        if ratio.free_symbols & variables:
            return Relation("different")
        if factor is None:
            factor = ratio
        elif not is_zero(ratio - factor):
            return Relation("different")
    if factor is not None:
        return Relation("scaled", factor)
    return Relation("different")


def _vanishes(expr: sp.Expr, rng: random.Random) -> bool:
    """Zero test of an expression whose only symbols are scalars such as beta (exact where possible)."""
    for _ in range(RATIONAL_POINTS if expr.free_symbols else 1):
        point = {s: random_rational(rng, positive=bool(s.is_positive)) for s in sorted(expr.free_symbols, key=str)}
        value = expr.xreplace(point)
        if value.has(sp.exp, sp.log, sp.pi):
            if abs(sp.N(value, 60)) > sp.Float("1e-40", 60):
                return False
        elif sp.cancel(value) != 0:
            return False
    return True


def _tidy(value: sp.Expr) -> sp.Expr:
    """A value found at random points, readable: each numeric coefficient (of the powers of
    beta and the variances, when they remain) as a small rational plus a multiple of
    log(2 pi) when it is one, else to 15 digits."""
    symbols = sorted(value.free_symbols, key=str)
    if symbols:
        value = sp.cancel(value)
        numerator, denominator = sp.fraction(value)
        if denominator.free_symbols:
            return value
        poly = sp.Poly(sp.expand(numerator / denominator), *symbols)
        return sum((_tidy(c) * sp.Mul(*(s**e for s, e in zip(symbols, exps))) for exps, c in poly.terms()),
                   sp.Integer(0))
    number = sp.N(value, 50)
    for candidate in (sp.nsimplify(number, rational=True, tolerance=1e-30),
                      sp.nsimplify(number, [sp.log(2 * sp.pi)], tolerance=1e-30)):
        if all(r.q < 10**6 for r in candidate.atoms(sp.Rational)):
            return candidate
    return sp.N(value, 15)


def random_rational(rng: random.Random, positive: bool = False) -> sp.Rational:
    """A random small rational (nonzero), positive when asked."""
    value = sp.Rational(rng.randint(-29, 29) or 1, rng.randint(2, 31))
    return abs(value) if positive else value


def relate_at_points(pairs: list[tuple[object, object]], seed: int = 0) -> Relation:
    """Classify printed against derived from their values at several random points.

    ``pairs[i]`` is ``(printed, derived)`` with every parameter and data symbol
    replaced by the i-th random rational point; only scalar symbols such as
    beta and the variances may remain (they are drawn at random as well when
    testing for zero). Equal: the difference vanishes at every point;
    constant: the (scalar) difference is the same at every point; scaled: the
    ratio is the same at every point and in every component. A nonzero
    rational function vanishes at random points with probability 0
    (Schwartz-Zippel), so ``equal`` is exact up to that probability.
    """
    rng = random.Random(seed)
    shapes = {_shape(p) == _shape(d) for p, d in pairs}
    if shapes != {True}:
        p, d = pairs[0]
        return Relation("ill-formed", None, f"printed shape {_shape(p)} != derived shape {_shape(d)}")
    lists = [(components(p), components(d)) for p, d in pairs]
    diffs = [[a - b for a, b in zip(p, d)] for p, d in lists]
    if all(_vanishes(x, rng) for point in diffs for x in point):
        return Relation("equal")
    if len(diffs[0]) == 1 and all(_vanishes(point[0] - diffs[0][0], rng) for point in diffs[1:]):
        return Relation("constant", _tidy(sp.expand(diffs[0][0])))
    factors = []
    for component in range(len(diffs[0])):
        zero_d = [_vanishes(d[component], rng) for _, d in lists]
        if all(zero_d):
            if not all(_vanishes(p[component], rng) for p, _ in lists):
                return Relation("different")
            continue
        if any(zero_d):
            return Relation("different")
        factors += [p[component] / d[component] for p, d in lists]
    if factors and all(_vanishes(f - factors[0], rng) for f in factors[1:]):
        return Relation("scaled", _tidy(factors[0]))
    return Relation("different")

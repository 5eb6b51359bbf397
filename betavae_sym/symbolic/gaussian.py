"""Gaussian expectations done by SymPy, and the moment identities they rest on.

The derivations average over three Gaussians: the reparameterization noise
``eps ~ N(0, I_k)`` (Appendix 1, Eqs. 55-64), the data ``x ~ N(0, Sigma_x)``
(Eq. 34), and the sources and noise ``(s, eta)`` (Eq. 27). All three reduce to
one rule, the moment generating function of ``x ~ N(0, Sigma)``:

    E[exp(t^T x)] = exp(1/2 t^T Sigma t)                      (MGF identity)

so that ``E[x^alpha exp(v^T x)] = d^alpha/dt^alpha exp(1/2 t^T Sigma t) |_{t=v}``;
the quadratic identity ``E[x^T M x] = Tr(M Sigma)`` is its second derivative at
``t = 0``. :func:`verify_moment_identities` proves both by integration in one
and two dimensions before anything uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp


def _split_exponential(term: sp.Expr, xs: tuple[sp.Symbol, ...]) -> tuple[sp.Expr, sp.Expr]:
    """Split a product into (polynomial factor, combined exponent) w.r.t. ``xs``."""
    exponent = sp.Integer(0)
    rest = []
    for factor in sp.Mul.make_args(term):
        base, power = factor.as_base_exp()
        if isinstance(base, sp.exp) or base is sp.E:
            exponent += (base.args[0] if isinstance(base, sp.exp) else 1) * power
        elif isinstance(factor, sp.exp):
            exponent += factor.args[0]
        else:
            rest.append(factor)
    return sp.Mul(*rest), sp.expand(exponent)


def gaussian_expectation(expr: sp.Expr, xs, Sigma: sp.Matrix) -> sp.Expr:
    """``E[expr]`` for ``x ~ N(0, Sigma)``, ``x = xs``.

    ``expr`` must expand to a sum of terms ``c * x^alpha * exp(v^T x + d)`` with
    ``c, v, d`` free of ``x`` (any polynomial degree); anything else raises
    ``ValueError`` rather than returning a wrong answer.

    Parameters
    ----------
    expr : sympy expression in the symbols ``xs`` (and others).
    xs : sequence of n sympy Symbols, the Gaussian vector.
    Sigma : (n, n) symmetric sympy Matrix, its covariance.
    """
    xs = tuple(xs)
    derivative = _mgf_derivatives(sp.ImmutableMatrix(Sigma))
    expanded = sp.expand(expr, power_exp=False, log=False, multinomial=True, mul=True)
    terms = []
    for term in sp.Add.make_args(expanded):
        poly_part, exponent = _split_exponential(term, xs)
        linear = sp.Poly(exponent, *xs) if exponent.has(*xs) else None
        if linear is not None and linear.total_degree() > 1:
            raise ValueError(f"exponent {exponent} is not linear in {xs}")
        v = [exponent.coeff(x) for x in xs] if linear is not None else [0] * len(xs)
        const = sp.expand(exponent - sum(vi * x for vi, x in zip(v, xs)))
        monomials = _monomials(poly_part, xs, term)
        at_v = dict(zip(_mgf_arguments(len(xs)), v))
        for alpha, coeff in monomials:
            terms.append(coeff * sp.exp(const) * derivative(tuple(alpha)).subs(at_v))
    return sp.Add(*terms)


def _monomials(poly_part: sp.Expr, xs: tuple[sp.Symbol, ...], term: sp.Expr) -> list[tuple[tuple[int, ...], sp.Expr]]:
    """``poly_part`` as ``[(alpha, coefficient), ...]``, ``poly_part = sum coefficient * x^alpha``.

    An expanded term is one monomial, read off its factors directly (``Poly``
    is the general fallback, many times slower).
    """
    if not poly_part.has(*xs):
        return [((0,) * len(xs), poly_part)]
    if not poly_part.is_polynomial(*xs):
        raise ValueError(f"term {term} is not polynomial times exponential in {xs}")
    if isinstance(poly_part, sp.Add):
        return sp.Poly(poly_part, *xs).terms()
    position = {x: i for i, x in enumerate(xs)}
    alpha, coefficient = [0] * len(xs), []
    for factor in sp.Mul.make_args(poly_part):
        base, power = factor.as_base_exp()
        if base in position:
            alpha[position[base]] += int(power)
        else:
            coefficient.append(factor)
    return [(tuple(alpha), sp.Mul(*coefficient))]


def _mgf_arguments(n: int) -> tuple[sp.Symbol, ...]:
    """The MGF's arguments ``t = (t_0, ..., t_{n-1})``."""
    return sp.symbols(f"_t0:{n}", real=True)


@lru_cache(maxsize=64)
def _mgf_derivatives(Sigma: sp.ImmutableMatrix):
    """``alpha -> d^alpha/dt^alpha exp(1/2 t^T Sigma t)`` (cached: one MGF serves every expectation over Sigma)."""
    ts = _mgf_arguments(Sigma.shape[0])
    t = sp.Matrix(ts)
    mgf = sp.exp(sp.Rational(1, 2) * (t.T * Sigma * t)[0, 0])

    @lru_cache(maxsize=None)
    def derivative(alpha: tuple[int, ...]) -> sp.Expr:
        order = [s for s, a in zip(ts, alpha) for _ in range(a)]
        return sp.diff(mgf, *order) if order else mgf

    return derivative


@dataclass(frozen=True)
class IdentityCheck:
    """One moment identity proved by direct integration."""

    name: str
    dimension: int
    integral: sp.Expr
    closed_form: sp.Expr
    holds: bool


def verify_moment_identities() -> list[IdentityCheck]:
    """Prove ``E[x^T M x] = Tr(M Sigma)`` and ``E[exp(v^T x)] = exp(1/2 v^T Sigma v)`` by integration.

    One dimension: ``x ~ N(0, s^2)`` integrated against its density. Two
    dimensions: every covariance is ``Sigma = L L^T`` with ``L`` lower
    triangular, so ``x = L u`` with ``u ~ N(0, I_2)`` and the integral runs
    over ``u``. Returns one :class:`IdentityCheck` per identity and dimension.
    """
    checks = []
    x, s, m, v = sp.symbols("x s m v", real=True)
    s = sp.Symbol("s", positive=True)
    density = sp.exp(-x**2 / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    quad = sp.integrate(m * x**2 * density, (x, -sp.oo, sp.oo))
    checks.append(IdentityCheck("E[x^T M x] = Tr(M Sigma)", 1, quad, m * s**2, sp.simplify(quad - m * s**2) == 0))
    mgf = sp.simplify(sp.integrate(sp.exp(v * x) * density, (x, -sp.oo, sp.oo), conds="none").rewrite(sp.erf))
    target = sp.exp(v**2 * s**2 / 2)
    checks.append(IdentityCheck("E[exp(v^T x)] = exp(v^T Sigma v / 2)", 1, mgf, target, sp.simplify(mgf - target) == 0))

    u1, u2 = sp.symbols("u1 u2", real=True)
    l11, l22 = sp.symbols("l11 l22", positive=True)
    l21, m11, m12, m22, v1, v2 = sp.symbols("l21 m11 m12 m22 v1 v2", real=True)
    L = sp.Matrix([[l11, 0], [l21, l22]])
    Sigma = L * L.T
    M = sp.Matrix([[m11, m12], [m12, m22]])
    vec = sp.Matrix([v1, v2])
    xu = L * sp.Matrix([u1, u2])
    std = sp.exp(-(u1**2 + u2**2) / 2) / (2 * sp.pi)

    def integrate2(f):
        inner = sp.integrate(sp.expand(f * std), (u1, -sp.oo, sp.oo), conds="none")
        outer = sp.integrate(inner, (u2, -sp.oo, sp.oo), conds="none")
        return sp.simplify(outer.rewrite(sp.erf))

    quad2 = integrate2((xu.T * M * xu)[0, 0])
    target2 = (M * Sigma).trace()
    checks.append(IdentityCheck("E[x^T M x] = Tr(M Sigma)", 2, quad2, target2, sp.expand(quad2 - target2) == 0))
    mgf2 = integrate2(sp.exp((vec.T * xu)[0, 0]))
    target_mgf2 = sp.exp((vec.T * Sigma * vec)[0, 0] / 2)
    checks.append(IdentityCheck("E[exp(v^T x)] = exp(v^T Sigma v / 2)", 2, mgf2, target_mgf2,
                                sp.simplify(mgf2 / target_mgf2) == 1))
    return checks


@lru_cache(maxsize=None)
def _gaussian_integral_1d() -> tuple[sp.Symbol, sp.Symbol, sp.Expr]:
    """``(s, c, integral over z of exp(-z^2 / (2 s) + c z))``, done by SymPy once."""
    z = sp.Symbol("z", real=True)
    s, c = sp.Symbol("s", positive=True), sp.Symbol("c", real=True)
    value = sp.simplify(sp.integrate(sp.exp(-z**2 / (2 * s) + c * z), (z, -sp.oo, sp.oo), conds="none"))
    return s, c, value


@dataclass(frozen=True)
class SourceTerm:
    """Eq. 61's generating function ``Z[J]`` integrated at one size (``Sigma_z`` diagonal, as in Eq. 30).

    ``printed``: with the printed normalization ``(2 pi)^{n/2}`` (``n`` kept as a symbol);
    ``corrected``: with ``(2 pi)^{k/2}``; ``eq63``: ``exp(1/2 (A^T J)^T Sigma_z (A^T J))``.
    """

    N: int
    k: int
    n: sp.Symbol
    printed: sp.Expr
    corrected: sp.Expr
    eq63: sp.Expr

    def printed_at_zero(self) -> sp.Expr:
        """``Z[0]`` as printed: ``(2 pi)^{(k - n)/2}``, which is 1 only for n = k."""
        return sp.simplify(self.printed.subs({s: 0 for s in self.printed.free_symbols if s.name.startswith("J")}))

    def corrected_is_eq63(self) -> bool:
        return sp.simplify(self.corrected / self.eq63) == 1


def source_term(N: int, k: int) -> SourceTerm:
    """Eq. 61, ``Z[J] = int dz (2 pi)^{-n/2} det(Sigma_z)^{-1/2} exp(-z^T Sigma_z^{-1} z / 2 + J^T A z)``, integrated.

    ``J``: (N, 1), ``A``: (N, k), ``z``: (k, 1), ``Sigma_z = diag(s_1..s_k)``; the
    integral factorizes over the k coordinates of z, each done by SymPy.
    """
    s, c, integral = _gaussian_integral_1d()
    J = sp.Matrix(N, 1, lambda i, _: sp.Symbol(f"J_{i + 1}", real=True))
    A = sp.Matrix(N, k, lambda i, j: sp.Symbol(f"A_{i + 1}{j + 1}", real=True))
    variances = sp.symbols(f"s_1:{k + 1}", positive=True)
    n = sp.Symbol("n", positive=True, integer=True)
    v = A.T * J
    product = sp.Mul(*(integral.subs({s: si, c: vi}) for si, vi in zip(variances, v)))
    root_det = sp.sqrt(sp.Mul(*variances))
    eq63 = sp.exp(sp.Rational(1, 2) * (v.T * sp.diag(*variances) * v)[0, 0])
    return SourceTerm(N, k, n, printed=product / ((2 * sp.pi) ** (n / 2) * root_det),
                      corrected=product / ((2 * sp.pi) ** sp.Rational(k, 2) * root_det), eq63=eq63)

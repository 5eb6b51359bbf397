"""Matrix operations that work on explicit SymPy matrices and on matrix symbols.

Every formula of the package is written once, as a Python function of a
:class:`~betavae_sym.symbolic.model.LinearBetaVAE`'s matrices, using these
operations. With explicit ``Matrix`` entries (symbols per component) the formula
expands to components, which is how it is checked against the component-wise
derivation; with ``MatrixSymbol`` entries it is a general-shape matrix
expression, which is how it is typeset and lambdified.
"""

from __future__ import annotations

import sympy as sp
from sympy import HadamardProduct, Identity, MatrixBase, OneMatrix, Trace
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement


def is_explicit(M) -> bool:
    """True for an explicit ``Matrix`` (components), False for a matrix expression."""
    return isinstance(M, MatrixBase)


def eye(n, like):
    """Identity of size ``n`` in the representation of ``like``."""
    return sp.eye(n) if is_explicit(like) else Identity(n)


def ones(n, like):
    """Column of ``n`` ones, shape (n, 1)."""
    return sp.ones(n, 1) if is_explicit(like) else OneMatrix(n, 1)


def tr(M):
    """Trace of a square matrix."""
    return M.trace() if is_explicit(M) else Trace(M)


def hadamard(A, B):
    """Elementwise product, same shapes."""
    return A.multiply_elementwise(B) if is_explicit(A) and is_explicit(B) else HadamardProduct(A, B)


def exp_elementwise(v):
    """Elementwise exponential."""
    return v.applyfunc(sp.exp) if is_explicit(v) else ElementwiseApplyFunction(sp.exp, v)


def diag_col(M):
    """The diagonal of a square matrix as a column, shape (n, 1): ``[M_11, ..., M_nn]^T``."""
    n = M.shape[0]
    if is_explicit(M):
        return sp.Matrix(n, 1, [M[i, i] for i in range(n)])
    return HadamardProduct(M, Identity(n)) * OneMatrix(n, 1)


def col_sq_norms(M):
    """Squared norms of the columns of M (N, k) as a column (k, 1): ``diag(M^T M)``."""
    n = M.shape[0]
    return hadamard(M, M).T * ones(n, M)


def scalar(M):
    """The single entry of a 1 x 1 matrix.

    For a matrix expression the entry stays unevaluated (``MatrixElement``):
    indexing a ``MatMul`` would expand it into an explicit sum over its inner
    dimension (and, with an ``Inverse`` inside, into polynomial work that does
    not finish at N = 9), which defeats the general-shape form.
    """
    if is_explicit(M):
        return M[0, 0]
    return MatrixElement(M, 0, 0)


def vsum(v):
    """Sum of the entries of a column vector."""
    return scalar(ones(v.shape[0], v).T * v)


def sq_norm(v):
    """Squared Euclidean norm ``v^T v`` of a column vector."""
    return scalar(v.T * v)


def inv(M):
    """Matrix inverse (explicit: exact; symbolic: ``M^{-1}``).

    An explicit matrix with symbols is inverted as ``adj(M) / det(M)``: SymPy's
    own ``inv`` first proves ``det(M) != 0`` by ``simplify`` (seconds to
    minutes at 4 x 4); every matrix inverted here is generically invertible
    (covariances, ``I + U V``), which is the model's assumption anyway.
    """
    if not is_explicit(M):
        return M.I
    if not M.free_symbols:
        return M.inv(method="LU")
    return M.adjugate(method="berkowitz") / M.det(method="berkowitz")


def logdet_spd(M):
    """``log det M`` (explicit: log of the determinant; symbolic: ``log(Determinant(M))``)."""
    return sp.log(M.det()) if is_explicit(M) else sp.log(sp.Determinant(M))


def diag_matrix(v):
    """Diagonal matrix with the column vector v on its diagonal."""
    if is_explicit(v):
        return sp.diag(*list(v))
    return sp.DiagMatrix(v)

"""Numeric callables of the linear beta-VAE, lambdified from the symbolic model.

No formula is typed here: every function is ``sympy.lambdify`` of a method of
:class:`betavae_sym.symbolic.model.LinearBetaVAE` or of
:mod:`betavae_sym.symbolic.closed_form` (matrix form, integer sizes), printed
by a small NumPy printer whose code works on *stacks* of matrices. Arrays have
a leading batch shape: a matrix argument is ``(..., rows, cols)``, a scalar
argument (``beta``, ``sigma_y2``, ``sigma_eta2``) is ``(...)``, and a scalar
result is ``(...)``. Unbatched inputs (plain ``(rows, cols)`` arrays and floats)
work too. One call therefore evaluates a whole beta sweep, all points of a
finite-difference Hessian, or all signed permutations of the latent units.

Compiled functions are cached per ``(name, N, k)`` (:func:`functools.lru_cache`),
so importing the package compiles nothing and only the first call per size pays
for the SymPy work (about 1 s for the metrics at N = 9, k = 2).

Argument order of the model functions (:data:`ARGUMENTS`)::

    f(W_mu, b_mu, W_sigma, b_sigma, D, b_D, F_gt, P_gt, Sigma_x, beta, sigma_y2)

with shapes ``W_mu, W_sigma: (k, N)``, ``b_mu, b_sigma: (k, 1)``,
``D: (N, k)``, ``b_D: (N, 1)``, ``Sigma_x: (N, N)``, and the TIE target
``p(s|x) = N(F_gt x, P_gt^{-1})`` with ``F_gt: (k, N)``, ``P_gt: (k, k)``
(:mod:`betavae_sym.symbolic.general_data`). Every scalar result is in nats,
averaged over ``p(x) = N(0, Sigma_x)``, constants included.
"""

from __future__ import annotations

from functools import lru_cache

#: Names of the arguments of every compiled model function, in order (``F_gt``, ``P_gt``: the TIE target).
ARGUMENTS = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D", "F_gt", "P_gt", "Sigma_x", "beta", "sigma_y2")

#: Names of the arguments of the per-example function (``x``: the example, a column).
PER_EXAMPLE_ARGUMENTS = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D", "F_gt", "P_gt", "x", "beta", "sigma_y2")

#: Names of the scalar metrics, in the order the compiled metrics function returns them
#: (the keys of :data:`betavae_sym.symbolic.closed_form.METRIC_METHODS`).
METRICS = ("objective", "elbo", "recon", "kl", "mie", "tie", "log_likelihood")


def _printer_class():
    """The batched NumPy printer (built lazily so that importing this module stays cheap)."""
    import sympy as sp
    from sympy.printing.numpy import NumPyPrinter

    class BatchedNumPyPrinter(NumPyPrinter):
        """NumPy printer for matrix expressions over stacks ``(..., rows, cols)`` of matrices.

        Adds what SymPy 1.14's ``NumPyPrinter`` lacks (``Trace``,
        ``ElementwiseApplyFunction``, ``HadamardPower``, ``DiagMatrix``, ``log(Determinant)``)
        and prints the rest so that a leading batch shape broadcasts:
        products are ``matmul``, transposes swap the last two axes, matrix
        entries index the last two axes, and a scalar coefficient ``c`` of
        shape ``(...)`` multiplies a matrix as ``c[..., None, None]``.
        """

        def _np(self, name):
            return self._module_format("numpy." + name)

        def _print_MatMul(self, expr):
            coeff, matrices = expr.as_coeff_matrices()
            product = self._print(matrices[0])
            for m in matrices[1:]:
                product = f"{self._np('matmul')}({product}, {self._print(m)})"
            if coeff == 1:
                return product
            return f"({self._np('asarray')}({self._print(coeff)})[..., None, None]*{product})"

        def _print_MatAdd(self, expr):
            return "(" + " + ".join(self._print(a) for a in expr.args) + ")"

        def _print_Transpose(self, expr):
            return f"{self._np('swapaxes')}({self._print(expr.arg)}, -1, -2)"

        def _print_MatrixElement(self, expr):
            return f"{self._print(expr.parent)}[..., {int(expr.i)}, {int(expr.j)}]"

        def _print_Trace(self, expr):
            return f"{self._np('trace')}({self._print(expr.arg)}, axis1=-2, axis2=-1)"

        def _print_HadamardProduct(self, expr):
            return "(" + "*".join(f"({self._print(a)})" for a in expr.args) + ")"

        def _print_HadamardPower(self, expr):
            return f"{self._np('power')}({self._print(expr.base)}, {self._print(expr.exp)})"

        def _print_ElementwiseApplyFunction(self, expr):
            # the function's own scalar parameters (beta, ...) broadcast over the matrix axes
            dummy = sp.Symbol("_ELEMENTWISE_ARGUMENT_")
            applied = expr.function(dummy)
            scalars = sorted(applied.free_symbols - {dummy}, key=str)
            placeholders = {s: sp.Symbol(f"_SCALAR_{i}_") for i, s in enumerate(scalars)}
            text = self._print(applied.xreplace(placeholders))
            for scalar, placeholder in placeholders.items():
                text = text.replace(placeholder.name, f"{self._np('asarray')}({self._print(scalar)})[..., None, None]")
            return text.replace("_ELEMENTWISE_ARGUMENT_", f"({self._print(expr.expr)})")

        def _print_Identity(self, expr):
            return f"{self._np('eye')}({int(expr.rows)})"

        def _print_OneMatrix(self, expr):
            return f"{self._np('ones')}(({int(expr.rows)}, {int(expr.cols)}))"

        def _print_ZeroMatrix(self, expr):
            return f"{self._np('zeros')}(({int(expr.rows)}, {int(expr.cols)}))"

        def _print_DiagMatrix(self, expr):
            # a column (..., n, 1) or row (..., 1, n) v times the identity is diag(v) (broadcasting)
            return f"({self._print(expr.args[0])}*{self._np('eye')}({int(expr.rows)}))"

        def _print_Inverse(self, expr):
            return f"{self._np('linalg.inv')}({self._print(expr.arg)})"

        def _print_Determinant(self, expr):
            return f"{self._np('linalg.det')}({self._print(expr.arg)})"

        def _print_log(self, expr):
            arg = expr.args[0]
            if isinstance(arg, sp.Determinant):
                # log det of a positive-definite matrix (the model only takes it of SPD matrices)
                return f"{self._np('linalg.slogdet')}({self._print(arg.arg)})[1]"
            return f"{self._np('log')}({self._print(arg)})"

    return BatchedNumPyPrinter




@lru_cache(maxsize=None)
def printer():
    """One shared instance of the batched NumPy printer."""
    return _printer_class()({"fully_qualified_modules": True, "strict": True})


@lru_cache(maxsize=None)
def model(N: int, k: int):
    """The symbolic model ``LinearBetaVAE(N, k, explicit=False)`` (cached)."""
    from betavae_sym.symbolic.model import LinearBetaVAE

    return LinearBetaVAE(N, k, explicit=False)


def _compile(m, extra: dict, arguments, expressions, cse: bool = False):
    """``sympy.lambdify`` of ``expressions`` (a tuple) with the batched printer.

    ``cse=True`` lets lambdify share common subexpressions between them.

    ``arguments`` are names of the model's matrices and scalars or keys of
    ``extra`` (name -> symbol). The model's symbols carry LaTeX names
    (``W^{\\mu}``); they are renamed to the argument names first, since lambdify
    needs identifiers and its own dummification does not handle ``MatrixSymbol``.
    """
    import sympy as sp

    mapping, symbols = {}, []
    for name in arguments:
        original = extra[name] if name in extra else getattr(m, name)
        if isinstance(original, sp.MatrixSymbol):
            mapping[original] = sp.MatrixSymbol(name, *original.shape)
        else:
            mapping[original] = sp.Symbol(name, positive=True)
        symbols.append(mapping[original])
    renamed = tuple(e.xreplace(mapping) for e in expressions)
    return sp.lambdify(symbols, renamed, modules="numpy", printer=printer(), dummify=False, cse=cse)


def _target(N: int, k: int) -> dict:
    """The TIE target's symbols: gain ``F_gt`` (k, N) and precision ``P_gt`` (k, k) of ``p(s|x) = N(F x, P^{-1})``."""
    import sympy as sp

    return {"F_gt": sp.MatrixSymbol("F_gt", k, N), "P_gt": sp.MatrixSymbol("P_gt", k, k)}


@lru_cache(maxsize=None)
def metrics_function(N: int, k: int):
    """Compiled metrics at size (N, k): a function of :data:`ARGUMENTS` returning a dict by :data:`METRICS`.

    :func:`betavae_sym.symbolic.general_data.population_metrics`. TIE here takes
    the units as the sources in their order (Eqs. 45-46); see
    :func:`betavae_sym.linear.metrics.evaluate` for the TIE at the best signed permutation.
    """
    from betavae_sym.symbolic.general_data import population_metrics

    m, target = model(N, k), _target(N, k)
    metrics = population_metrics(m, target["F_gt"], target["P_gt"])
    function = _compile(m, target, ARGUMENTS, tuple(metrics[name] for name in METRICS))

    def evaluate(*arguments):
        return dict(zip(METRICS, function(*arguments)))

    return evaluate


@lru_cache(maxsize=None)
def per_example_function(N: int, k: int):
    """Compiled per-example metrics at size (N, k) (:func:`betavae_sym.symbolic.general_data.per_example_metrics`).

    A function of :data:`PER_EXAMPLE_ARGUMENTS` returning a dict by :data:`METRICS`;
    the example ``x`` is a stack of columns (..., N, 1), e.g. the rows of a dataset
    as ``X[:, :, None]``, and each metric has the stack's shape (...).
    """
    from betavae_sym.symbolic.general_data import per_example_metrics

    m, target = model(N, k), _target(N, k)
    metrics = per_example_metrics(m, target["F_gt"], target["P_gt"])
    function = _compile(m, target, PER_EXAMPLE_ARGUMENTS, tuple(metrics[name] for name in METRICS), cse=True)

    def evaluate(*arguments):
        return dict(zip(METRICS, function(*arguments)))

    return evaluate


@lru_cache(maxsize=None)
def objective_function(N: int, k: int):
    """Compiled objective ``L`` (Eq. 34) at size (N, k): a function of :data:`ARGUMENTS`."""
    m = model(N, k)
    function = _compile(m, _target(N, k), ARGUMENTS, (m.objective(),))
    return lambda *arguments: function(*arguments)[0]


@lru_cache(maxsize=None)
def gradient_function(N: int, k: int):
    """Compiled gradient blocks ``dL/dW_mu, dL/db_mu, dL/dW_sigma, dL/db_sigma, dL/dD, dL/db_D`` (Eqs. 36-41).

    A function of :data:`ARGUMENTS` returning a tuple in the order of
    :data:`betavae_sym.symbolic.model.PARAMETERS`; each block has its parameter's shape.
    """
    from betavae_sym.symbolic.model import PARAMETERS

    m = model(N, k)
    return _compile(m, _target(N, k), ARGUMENTS, tuple(m.gradient(p) for p in PARAMETERS), cse=True)


@lru_cache(maxsize=None)
def objective_and_gradient_function(N: int, k: int):
    """Compiled ``(L, dL/dW_mu, ..., dL/db_D)`` in one call (Eqs. 34, 36-41), common subexpressions shared.

    A function of :data:`ARGUMENTS`; the blocks follow :data:`betavae_sym.symbolic.model.PARAMETERS`.
    """
    from betavae_sym.symbolic.model import PARAMETERS

    m = model(N, k)
    return _compile(m, _target(N, k), ARGUMENTS, (m.objective(), *(m.gradient(p) for p in PARAMETERS)), cse=True)


@lru_cache(maxsize=None)
def tie_function(N: int, k: int):
    """Compiled TIE (Eqs. 45-46) at size (N, k), units taken as the sources in their order."""
    from betavae_sym.symbolic.general_data import population_metrics

    m, target = model(N, k), _target(N, k)
    function = _compile(m, target, ARGUMENTS, (population_metrics(m, target["F_gt"], target["P_gt"])["tie"],))
    return lambda *arguments: function(*arguments)[0]


@lru_cache(maxsize=None)
def data_covariance_function(N: int, k: int):
    """Compiled ``Sigma_x = A A^T + sigma_eta2 I_N`` (Eq. 27), shape (N, N); a function of ``(A, sigma_eta2)``."""
    m = model(N, k)
    function = _compile(m, {}, ("A", "sigma_eta2"), (m.data_covariance(),))
    return lambda A, sigma_eta2: function(A, sigma_eta2)[0]


@lru_cache(maxsize=None)
def isotropic_posterior_function(N: int, k: int):
    """Compiled Eq. 28 (:func:`betavae_sym.symbolic.general_data.isotropic_posterior`):
    ``(A, sigma_eta2) -> (F (k, N), P (k, k))``, ``p(s|x) = N(F x, P^{-1})``."""
    from betavae_sym.symbolic.general_data import isotropic_posterior

    m = model(N, k)
    return _compile(m, {}, ("A", "sigma_eta2"), isotropic_posterior(m))


@lru_cache(maxsize=None)
def noise_posterior_function(N: int, k: int):
    """Compiled Eqs. 27-28 for ``eta ~ N(0, diag(noise_var))`` (:mod:`betavae_sym.symbolic.general_data`):
    ``(A, noise_var (N, 1)) -> (Sigma_x (N, N), F (k, N), P (k, k))``."""
    from betavae_sym.symbolic import general_data

    m = model(N, k)
    psi = general_data.noise_variances(m)
    F, P = general_data.noise_posterior(m, psi)
    return _compile(m, {"noise_var": psi}, ("A", "noise_var"), (general_data.data_covariance(m, psi), F, P))


@lru_cache(maxsize=None)
def covariance_posterior_function(N: int, k: int):
    """Compiled p(s|x) from ``Sigma_x`` and ``Cov(x, s) = A``
    (:func:`betavae_sym.symbolic.general_data.covariance_posterior`): ``(A, Sigma_x) -> (F (k, N), P (k, k))``."""
    from betavae_sym.symbolic.general_data import covariance_posterior

    m = model(N, k)
    return _compile(m, {}, ("A", "Sigma_x"), covariance_posterior(m))


@lru_cache(maxsize=None)
def global_optimum_function(N: int, k: int):
    """Compiled closed-form optimum (:func:`betavae_sym.symbolic.closed_form.global_optimum`).

    A function of ``(U, lam, beta, sigma_y2)`` with ``U`` (N, k) orthonormal
    eigenvectors of ``Sigma_x`` for its k largest eigenvalues ``lam`` (k, 1);
    returns ``(W_mu, b_sigma, D)`` (the other parameters are 0).
    """
    import sympy as sp

    from betavae_sym.symbolic.closed_form import global_optimum

    m = model(N, k)
    extra = {"U": sp.MatrixSymbol("U", N, k), "lam": sp.MatrixSymbol("lam", k, 1)}
    optimum = global_optimum(m, extra["U"], extra["lam"])
    return _compile(m, extra, ("U", "lam", "beta", "sigma_y2"), (optimum["W_mu"], optimum["b_sigma"], optimum["D"]))


@lru_cache(maxsize=None)
def optimal_encoder_function(N: int, k: int):
    """Compiled best encoder for a fixed decoder (:func:`betavae_sym.symbolic.closed_form.optimal_encoder`).

    A function of ``(D, beta, sigma_y2)`` returning ``(W_mu, b_sigma)``
    (``b_mu = 0``, ``W_sigma = 0``; ``b_D = 0``).
    """
    from betavae_sym.symbolic.closed_form import optimal_encoder

    m = model(N, k)
    encoder = optimal_encoder(m)
    return _compile(m, {}, ("D", "beta", "sigma_y2"), (encoder["W_mu"], encoder["b_sigma"]))

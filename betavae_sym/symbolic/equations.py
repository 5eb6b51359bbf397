"""Every checkable equation of the analytic model, declared per topic: printed form, derived form, comparison.

Each topic function (:func:`objective`, :func:`gradients`, :func:`stationary`,
:func:`posteriors`, :func:`inference_errors`, :func:`propositions`) returns the
:class:`~betavae_sym.symbolic.verdicts.EquationSpec` of its equations, in the
paper's order; building them computes nothing. :func:`topic_checks` evaluates
one topic (:func:`~betavae_sym.symbolic.verdicts.evaluate`: comparison, then
verdict with its condition or diagnosis). The printed forms come from
:mod:`printed` (transcribed as printed), the derived forms from
:mod:`derivations` (first principles, component by component). The paper's
case ``sigma_y2 = sigma_eta2 = 1`` is substituted into the derived forms
before comparing, since the paper prints only that case.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import Rational

from betavae_sym.symbolic import derivations as dv
from betavae_sym.symbolic import ops, printed
from betavae_sym.symbolic.model import PARAMETERS, LinearBetaVAE
from betavae_sym.symbolic.verdicts import (
    SIZES, Comparison, Correction, Dropped, EquationCheck, EquationSpec, LineByLine, Proof, Reading, ScaledBy,
    evaluate, model_variables, posterior_variables,
)

N_SYM, K_SYM = sp.symbols("N k", integer=True, positive=True)


@lru_cache(maxsize=None)
def general() -> LinearBetaVAE:
    """The general-shape model (MatrixSymbols of shape N x k), for typesetting."""
    return LinearBetaVAE(N_SYM, K_SYM, explicit=False)


def paper(expr, m: LinearBetaVAE):
    """``expr`` in the paper's case ``sigma_y2 = sigma_eta2 = 1``."""
    if isinstance(expr, tuple):
        return tuple(paper(e, m) for e in expr)
    return expr.xreplace(m.paper_case())


def _biases_zero(m: LinearBetaVAE) -> dict:
    """``{b^mu_i: 0, b^D_j: 0}`` (Eq. 42), for substitution into an explicit model's expressions."""
    return {s: 0 for s in list(m.b_mu) + list(m.b_D)}


# =====================================================================================
# objective: Eqs. 65, 66, 67 (Appendix 1), 34, 35
# =====================================================================================
#: The term the paper drops from the averaged objective ("without constants", Eq. 67): derived - printed.
DROPPED = Dropped(
    "-N/2 log(2 pi) + beta k/2 (found at every size). It is free of the parameters, so the gradients and the "
    "stationarity conditions (Eqs. 36-43) are unchanged; but beta k/2 depends on beta: the print is shifted against "
    "the objective by k/2 per unit of beta, so its values at different beta are not comparable (the ELBO and "
    "objective against beta need the term), and with the print as L, Proposition 1 would read "
    "dL*/dbeta = -KL* - k/2 instead of -KL* (measured on the analytic optimum in check eq34)",
    lambda N, k, beta: -Rational(N, 2) * sp.log(2 * sp.pi) + beta * k / 2)


def _averaged_objective(m: LinearBetaVAE):
    return paper(dv.averaged_objective(m.N, m.k), m)


def objective() -> list[EquationSpec]:
    g, m11, m21 = general(), dv.model(1, 1), dv.model(2, 1)
    return [
        EquationSpec(
            "65", "Reconstruction objective per datum, E_q[log p(x|z)]",
            printed=lambda: printed.eq65(g), derived=lambda: paper(g.recon(), g),
            comparison=Comparison(printed.eq65, lambda m: paper(dv.recon_at(m.N, m.k), m)),
            steps=lambda: [
                ("Reparameterization (Appendix 1), z = mu_z + Sigma_z^{1/2} eps, at N = k = 1",
                 dv.reparameterized_z(m11)),
                ("log N(x; D z + b^D, sigma_y^2 I_N) at N = k = 1",
                 dv.log_normal_density(m11.x, m11.D * dv.reparameterized_z(m11) + m11.b_D, m11.sigma_y2 * sp.eye(1))),
                ("Its expectation over eps ~ N(0, I_k), at N = k = 1", dv.recon_at(1, 1))],
            explanations=(Correction(
                "the printed form is twice the derived one without its constant: the factor 1/2 in front of "
                "the squared error and the trace is missing (Appendix 1's own previous line and Eq. 67 have it), "
                "and -N/2 log(2 pi) is dropped",
                Comparison(printed.eq65, lambda m: 2 * (paper(dv.recon_at(m.N, m.k), m)
                                                        + Rational(m.N, 2) * sp.log(2 * sp.pi)))),),
        ),
        EquationSpec(
            "66", "KL(q(z|x) || p(z)) per datum",
            printed=lambda: printed.eq66(g), derived=g.kl,
            comparison=Comparison(printed.eq66, dv.kl_per_datum),
            steps=lambda: [("KL = E_q[log q(z|x) - log p(z)], the expectation over eps, at N = k = 1",
                            dv.kl_per_datum(m11))],
        ),
        EquationSpec(
            "67", "Data-averaged objective before the Gaussian integrals (Appendix 1)",
            printed=lambda: printed.eq67_integrand(g), derived=lambda: paper(g.objective(), g),
            comparison=Comparison(lambda m: dv.over_x(m, printed.eq67_integrand(m)), _averaged_objective),
            dropped=DROPPED,
            notes=("The printed form is the integrand; it is averaged over x ~ N(0, Sigma_x) with the same verified "
                   "Gaussian expectation operator before comparing.",
                   "The paper says 'without constants' here."),
        ),
        EquationSpec(
            "34", "Data-averaged beta-VAE objective L (matrix form)",
            printed=lambda: printed.eq34(g), derived=lambda: paper(g.objective(), g),
            comparison=Comparison(printed.eq34, _averaged_objective),
            dropped=DROPPED,
            steps=lambda: [("E_p(x)[L_beta(x)] with x ~ N(0, Sigma_x), at N = k = 1 (the moment generating function "
                            "rule)", dv.averaged_objective(1, 1))],
            notes=("(D b^mu + b^D)^2 and (b^mu)^2 are read as squared norms, as Eq. 67 writes them.",),
        ),
        EquationSpec(
            "35", "Data-averaged objective, index form",
            printed=lambda: printed.eq35(m21), derived=lambda: _averaged_objective(m21),
            comparison=Comparison(printed.eq35, _averaged_objective),
            dropped=DROPPED,
            notes=("Typeset at N = 2, k = 1 (index sums written out).",),
        ),
    ]


# =====================================================================================
# gradients: Eqs. 36-41
# =====================================================================================
@lru_cache(maxsize=None)
def _gradient_at(N: int, k: int, param: str) -> sp.Matrix:
    m = dv.model(N, k)
    return paper(dv.gradient(m, dv.averaged_objective(N, k), param), m)


def _derived_gradient(m: LinearBetaVAE, param: str) -> sp.Matrix:
    """dL/d(param) derived component-wise from the derived objective, paper case (explicit model)."""
    return _gradient_at(m.N, m.k, param)


@lru_cache(maxsize=None)
def general_shape_gradients() -> dict[str, bool]:
    """The trace and norm terms of L differentiated with MatrixSymbols, term by term (general N, k).

    Compares with the W_mu, b_mu, b_D blocks of the matrix form; Sigma_x^T is
    replaced by Sigma_x (it is symmetric), as SymPy does not know it.
    """
    g = general()
    I_N = sp.Identity(N_SYM)
    s2, beta = g.sigma_y2, g.beta
    offset = g.D * g.b_mu + g.b_D
    terms = [  # (coefficient, trace argument) of the terms of L that depend on W_mu, b_mu, b_D
        (-1 / (2 * s2), (g.D * g.W_mu - I_N) * g.Sigma_x * (g.D * g.W_mu - I_N).T),
        (-beta / 2, g.W_mu * g.Sigma_x * g.W_mu.T),
        (-1 / (2 * s2), offset * offset.T),
        (-beta / 2, g.b_mu * g.b_mu.T),
    ]
    results = {}
    for param in ("W_mu", "b_mu", "b_D"):
        P = getattr(g, param)
        total = sp.ZeroMatrix(*P.shape)
        for coeff, arg in terms:
            total = total + coeff * sp.Trace(arg).diff(P)
        total = total.subs(g.Sigma_x.T, g.Sigma_x)
        difference = (total - g.gradient(param)).doit().expand()
        results[param] = sp.simplify(difference) == sp.ZeroMatrix(*P.shape) or sp.simplify(difference) == 0
    return results


def _general_shape_note(param: str):
    def note() -> str:
        agrees = general_shape_gradients()[param]
        return ("General shape (MatrixSymbol, term-by-term matrix derivative): the derived block "
                + ("equals" if agrees else "DOES NOT equal") + " the matrix form.")
    return note


def _eq40_with_corrected_exponent(m: LinearBetaVAE) -> sp.Matrix:
    """Eq. 40 with the exponent 1/2 [W^s Sigma W^s^T]_aa + b^s_a (the derived E[Sigma_z]_aa)."""
    e = m.mean_var_z()
    WS = m.W_sigma * m.Sigma_x
    c = ops.col_sq_norms(m.D)
    return sp.Matrix(m.k, m.N, lambda a, b: (c[a] + m.beta) * e[a] * WS[a, b])


def _eq41_with_sigma(m: LinearBetaVAE) -> sp.Matrix:
    """Eq. 41 with Sigma_x where the print has the undefined C."""
    return printed.eq41(m).subs(dict(zip(printed.undefined_C(m), m.Sigma_x)))


def _bias_gradient_spec(eq: str, param: str, transcription, title: str, notes=()) -> EquationSpec:
    """Eqs. 36-39: a gradient whose print is compared with the derived block."""
    g = general()
    return EquationSpec(
        eq, f"Gradient {title}", printed=lambda: transcription(g), derived=lambda: paper(g.gradient(param), g),
        comparison=Comparison(transcription, lambda m: _derived_gradient(m, param)),
        explanations=(ScaledBy(-1, "sign: the printed right-hand side is -dL/d" + param
                               + "; setting it to 0 gives the same stationarity condition"),),
        notes=tuple(notes),
    )


def gradients() -> list[EquationSpec]:
    g, m21 = general(), dv.model(2, 1)
    return [
        _bias_gradient_spec("36", "W_mu", printed.eq36, "dL/dW^mu", notes=(_general_shape_note("W_mu"),)),
        _bias_gradient_spec("37", "b_mu", printed.eq37, "dL/db^mu",
                            notes=(_general_shape_note("b_mu"),
                                   "'(D b^mu + b^D) D' is read as the row vector (D b^mu + b^D)^T D.")),
        _bias_gradient_spec("38", "D", printed.eq38, "dL/dD"),
        _bias_gradient_spec("39", "b_D", printed.eq39, "dL/db^D", notes=(_general_shape_note("b_D"),)),
        EquationSpec(
            "40", "Gradient dL/dW^sigma", printed=lambda: printed.eq40(m21),
            derived=lambda: paper(g.gradient("W_sigma"), g),
            comparison=Comparison(printed.eq40, lambda m: _derived_gradient(m, "W_sigma")),
            explanations=(Correction(
                "two errors: the exponent must be 1/2 [W^sigma Sigma W^sigma^T]_aa + b^sigma_a (the printed "
                "1/2 [W^sigma Sigma]_ab W^sigma_ab + b^sigma_a depends on b), and the printed right-hand side is "
                "-2 dL/dW^sigma_ab",
                Comparison(_eq40_with_corrected_exponent, lambda m: -2 * _derived_gradient(m, "W_sigma"))),),
            notes=("Typeset at N = 2, k = 1: the printed exponent has free indices a, b.",),
        ),
        EquationSpec(
            "41", "Gradient dL/db^sigma", printed=lambda: printed.eq41(m21),
            derived=lambda: paper(g.gradient("b_sigma"), g),
            comparison=Comparison(printed.eq41, lambda m: _derived_gradient(m, "b_sigma")),
            explanations=(Correction(
                "the undefined C must be Sigma_x, and then the printed right-hand side is -2 dL/db^sigma_a "
                "(same stationarity condition)",
                Comparison(_eq41_with_sigma, lambda m: -2 * _derived_gradient(m, "b_sigma"))),),
            notes=("Typeset at N = 2, k = 1. The symbol C is not defined in the paper; it is kept as a fresh symbol.",),
        ),
    ]


# =====================================================================================
# stationary point: Eqs. 42, 43 and the closed-form pieces
# =====================================================================================
@lru_cache(maxsize=None)
def _bias_solution(N: int, k: int) -> dict:
    """Eq. 42 derived at (N, k): the joint solution of dL/db^mu = 0, dL/db^D = 0."""
    return dv.solve_biases(dv.model(N, k), dv.averaged_objective(N, k))


def _solved_biases(m: LinearBetaVAE) -> sp.Matrix:
    solution = _bias_solution(m.N, m.k)
    return sp.Matrix(list(m.b_mu.subs(solution)) + list(m.b_D.subs(solution)))


def _eq42_note() -> str:
    zero = all(all(v == 0 for v in _bias_solution(N, k).values()) for N, k in SIZES)
    return ("Derived by solving dL/db^mu = 0 and dL/db^D = 0 jointly (valid for beta > 0): "
            + ("the unique solution is zero at every size." if zero else "NOT zero at some size."))


@lru_cache(maxsize=None)
def _stationary_lines_at(N: int, k: int) -> tuple[sp.Matrix, ...]:
    m = dv.model(N, k)
    return tuple(_derived_gradient(m, p).xreplace(_biases_zero(m)) for p in ("W_mu", "D", "W_sigma", "b_sigma"))


def _stationary_lines(m: LinearBetaVAE) -> tuple[sp.Matrix, ...]:
    """dL/dW^mu, dL/dD, dL/dW^sigma, dL/db^sigma at b^mu = b^D = 0 (explicit model of symbols)."""
    return _stationary_lines_at(m.N, m.k)


def _line(i: int, factor: int) -> Comparison:
    """Line ``i`` of the printed Eq. 43 against ``factor`` times the derived line."""
    return Comparison(lambda m: printed.eq43(m)[i], lambda m: factor * _stationary_lines(m)[i])


@lru_cache(maxsize=None)
def _closed_form_pieces() -> tuple[list, list]:
    """Each closed-form piece of the stationary point solved from the derived objective.

    Returns ``([((N, k), W^sigma = 0 unique, b^sigma verified), ...], [((N, k), W^mu verified), ...])``.
    """
    pieces = []
    for N, k in SIZES:
        m = dv.model(N, k)
        d_W_mu, _, d_W_sigma, d_b_sigma = _stationary_lines_at(N, k)     # the gradients at b^mu = b^D = 0
        w_sigma = dv.W_sigma_from_gradient(m, d_W_sigma)
        b_sigma = dv.b_sigma_from_gradient(m, d_b_sigma.subs(w_sigma))
        c = ops.col_sq_norms(m.D)
        expected_b = {m.b_sigma[a]: sp.log(m.beta / (m.beta + c[a])) for a in range(k)}
        b_ok = all(sp.simplify(sp.expand_log(b_sigma[s] - expected_b[s], force=True)) == 0 for s in b_sigma)
        pieces.append(((N, k), all(v == 0 for v in w_sigma.values()), b_ok))
    w_mu_ok = []
    for N, k in SIZES[:3]:
        m = dv.model(N, k)
        W = dv.W_mu_from_gradient(m, _stationary_lines_at(N, k)[0])
        closed = ops.inv(m.D.T * m.D + m.beta * sp.eye(k)) * m.D.T
        w_mu_ok.append(((N, k), all(sp.cancel(e) == 0 for e in (W - closed))))
    return pieces, w_mu_ok


def _closed_form_holds() -> bool:
    pieces, w_mu_ok = _closed_form_pieces()
    return all(ok for _, ok, _ in pieces) and all(ok for _, _, ok in pieces) and all(ok for _, ok in w_mu_ok)


def _closed_form_notes() -> list[str]:
    pieces, w_mu_ok = _closed_form_pieces()
    return ([f"W^sigma = 0 solves dL/dW^sigma = 0 uniquely at (N, k) = {nk}: {ok}" for nk, ok, _ in pieces]
            + [f"b^sigma_a = log(beta / (beta + [D^T D]_aa)) (sigma_y^2 = 1) at (N, k) = {nk}: {ok}"
               for nk, _, ok in pieces]
            + [f"W^mu = (D^T D + beta I_k)^{{-1}} D^T (sigma_y^2 = 1) solves dL/dW^mu = 0 at (N, k) = {nk}: {ok}"
               for nk, ok in w_mu_ok])


def stationary() -> list[EquationSpec]:
    g, m21 = general(), dv.model(2, 1)
    return [
        EquationSpec(
            "42", "Stationary biases b^mu = b^D = 0",
            printed=lambda: sp.Eq(sp.Symbol("b^{mu}"), 0), derived=lambda: _bias_solution(2, 1),
            comparison=Comparison(lambda m: sp.Matrix([0] * (m.k + m.N)), _solved_biases),
            notes=(_eq42_note,),
        ),
        EquationSpec(
            "43", "The stationarity system for W^mu, D, W^sigma, b^sigma (at b^mu = b^D = 0)",
            printed=lambda: printed.eq43(m21), derived=lambda: _stationary_lines(m21),
            comparison=Comparison(printed.eq43, _stationary_lines),
            explanations=(LineByLine("line 3 carries the exponent error of Eq. 40; ",
                                     (("W^mu", -1, _line(0, -1)), ("D", -1, _line(1, -1)), ("W^sigma", 0, None),
                                      ("b^sigma", -2, _line(3, -2)))),),
            notes=("Typeset at N = 2, k = 1. The printed index ranges '(a = 1, ..., N; b = 1, ..., k)' fit the D "
                   "line only: W^mu and W^sigma are k x N, so there a = 1..k and b = 1..N.",),
        ),
        EquationSpec(
            "43*", "Closed-form pieces of the stationary point (derived; not printed in the paper)",
            printed=lambda: None,
            derived=lambda: (
                sp.Eq(sp.Symbol("W^{sigma}"), 0),
                sp.Eq(sp.Symbol("b^{sigma}_a"),
                      sp.log(g.beta * g.sigma_y2 / (g.beta * g.sigma_y2 + sp.Symbol("[D^T D]_aa")))),
                sp.Eq(g.W_mu, (g.D.T * g.D + g.beta * g.sigma_y2 * sp.Identity(K_SYM)).I * g.D.T)),
            proof=Proof(_closed_form_holds, condition="derived results, verified at the sizes listed",
                        diagnosis="a closed-form piece failed its check (see notes)"),
            steps=lambda: [("dL/dW^sigma at N = 2, k = 1, b = 0: a positive factor times [W^sigma Sigma_x]",
                            _derived_gradient(m21, "W_sigma").subs(_biases_zero(m21)))],
            notes=(_closed_form_notes,
                   "Hence Sigma_z = diag(beta sigma_y^2 / (beta sigma_y^2 + [D^T D]_aa)), independent of x, and only "
                   "D remains to be found from the D line of Eq. 43.",
                   "W^mu(D) is solved symbolically at the three smaller sizes; at (4, 3) the linear solve with a "
                   "symbolic 3 x 3 system takes over 10 minutes and is skipped."),
        ),
    ]


# =====================================================================================
# posteriors: Eqs. 27, 28, 44, 67 (push-through), 68, 69, 78-81
# =====================================================================================
def _mean_cov(FE, x):
    F, E = FE
    return F * x, E


def _model_posterior_at_zero_bias(m: LinearBetaVAE):
    """Derived (mean, covariance) of p_theta(z|x) at b^D = 0 (Eq. 42), paper case."""
    return paper(dv.model_posterior(dv.with_zero(m, "b_D"))[1:], m)


def _pointed(printed_of, derived_of, sizes=SIZES) -> Comparison:
    """A posterior comparison: both sides built on models at random rational points."""
    return Comparison(printed_of, derived_of, posterior_variables, sizes=sizes, build="pointed")


def _woodbury(m: LinearBetaVAE):
    """Eq. 69 with B = A A^T + I_N, U = D and V = W^mu (generic)."""
    return printed.eq69(m.A * m.A.T + sp.eye(m.N), m.D, m.W_mu)


def posteriors() -> list[EquationSpec]:
    g, m21, m22 = general(), dv.model(2, 1), dv.model(2, 2)
    model_posterior = lambda: paper(_mean_cov(g.model_posterior(), g.x - g.b_D), g)  # noqa: E731
    return [
        EquationSpec(
            "27", "Data distribution p(x) = N(0, A A^T + I_N)",
            printed=lambda: printed.eq27(g), derived=lambda: paper(g.data_covariance(), g),
            comparison=_pointed(printed.eq27, lambda m: paper(dv.ground_truth(m)[0], m)),
            steps=lambda: [("Cov(x) = E[x x^T] with x = A s + eta, over (s, eta), at N = 2, k = 1",
                            dv.ground_truth(m21)[0])],
        ),
        EquationSpec(
            "28", "Ground-truth posterior p(s|x)",
            printed=lambda: printed.eq28(g), derived=lambda: paper(_mean_cov(g.ground_truth_posterior(), g.x), g),
            comparison=_pointed(printed.eq28, lambda m: paper(dv.ground_truth(m)[1:], m)),
            steps=lambda: [("Conditioning the joint Gaussian of (s, x) (Appendix 2), at N = 2, k = 1: mean and "
                            "covariance", dv.ground_truth(m21)[1:])],
        ),
        EquationSpec(
            "44", "Model posterior p_theta(z|x)",
            printed=lambda: printed.eq44(g), derived=model_posterior,
            comparison=_pointed(printed.eq44, _model_posterior_at_zero_bias),
            context="at b^D = 0 (Eq. 42)",
            notes=("Derived by conditioning the joint Gaussian of (z, x) under the decoder. In general the mean is "
                   "(D^T D / sigma_y^2 + I)^{-1} D^T (x - b^D) / sigma_y^2; the print is its case b^D = 0, "
                   "sigma_y^2 = 1.",),
        ),
        EquationSpec(
            "67 (App. 2)", "Matrix push-through identity (I_N + U V)^{-1} U = U (I_k + V U)^{-1}",
            printed=lambda: printed.eq67_push_through(g.A, g.D.T)[0],
            derived=lambda: printed.eq67_push_through(g.A, g.D.T)[1],
            comparison=_pointed(lambda m: printed.eq67_push_through(m.A, m.D.T)[0],
                                lambda m: printed.eq67_push_through(m.A, m.D.T)[1]),
            notes=("The number 67 is used twice in the paper (Appendix 1's objective and this identity).",
                   "Checked with generic U (N x k) and V (k x N)."),
        ),
        EquationSpec(
            "68", "Covariance chain of Appendix 2 (each line equals the next)",
            printed=lambda: printed.eq68(m21), derived=lambda: paper(dv.ground_truth(m21)[2], m21),
            comparison=_pointed(lambda m: printed.eq68(m)[:3], lambda m: printed.eq68(m)[1:]),
            notes=("Line 3 needs A^T A invertible (rank A = k).",),
        ),
        EquationSpec(
            "69", "Woodbury identity",
            printed=lambda: printed.eq69(g.Sigma_x, g.D, g.W_mu)[0],
            derived=lambda: printed.eq69(g.Sigma_x, g.D, g.W_mu)[1],
            comparison=_pointed(lambda m: _woodbury(m)[0], lambda m: _woodbury(m)[1]),
            notes=("Checked with B = A A^T + I_N, U (N x k) and V (k x N) generic.",),
        ),
        EquationSpec(
            "78-80", "Model evidence p_theta(x) = N(0, D D^T + I_N)",
            printed=lambda: printed.eq80(g), derived=lambda: paper(g.model_evidence_covariance(), g),
            comparison=_pointed(printed.eq80, lambda m: paper(dv.model_posterior(m)[0], m)),
            notes=("Eq. 79 writes N(Dz, I_N), i.e. b^D = 0; the derived mean of p_theta(x) is b^D.",),
        ),
        EquationSpec(
            "81", "Model posterior as printed in Appendix 5",
            printed=lambda: printed.eq81(m22), derived=model_posterior,
            comparison=_pointed(printed.eq81, _model_posterior_at_zero_bias, sizes=SIZES + ((2, 2),)),
            explanations=(Reading(
                "the left side should be p_theta(z|x), the mean lacks x, and (D D^T + I_N)^{-1} (N x N) "
                "must be (D^T D + I_k)^{-1} (k x k): as printed the mean does not conform unless N = k; "
                "Eq. 44 has the correct form."),),
            corrected=model_posterior,
            notes=("Typeset at N = k = 2, the only shapes for which the printed mean can be formed.",),
        ),
    ]


# =====================================================================================
# inference errors: Eqs. 77, 45, 46, 47 and the identity of Eqs. 6/12/23
# =====================================================================================
def _target_variables(m: LinearBetaVAE) -> set[sp.Symbol]:
    """Model variables and the generic target's F, f: what a constant must not contain."""
    F, f, _ = dv.generic_gaussian_target(m)
    return model_variables(m) | set(F) | set(f)


@dv.per_model
def _generic_inference_error(m: LinearBetaVAE) -> sp.Expr:
    """Eq. 77 derived: E_p(x) KL(q(z|x) || N(F x, E)) for the generic target of ``m``."""
    F, _, E = dv.generic_gaussian_target(m)
    return dv.inference_error(m, F, sp.zeros(m.k, 1), E)


def _eq77_integrand_averaged(m: LinearBetaVAE) -> sp.Expr:
    """The printed second line of Eq. 77 for the generic target, averaged over x."""
    F, _, E = dv.generic_gaussian_target(m)
    return dv.over_x(m, printed.eq77_integrand(m, F, E))


def _eq77_first_line(m: LinearBetaVAE) -> sp.Expr:
    """The printed first line of Eq. 77, E_p(x) E_q[log q(z|x) - log p_theta(x|z)], p_theta(x|z) a function of z."""
    return dv.expected_log_ratio(m, lambda z: dv.log_normal_density(*printed.eq77_first_line_target(m, z)))


def _missing_offset_term(m: LinearBetaVAE) -> sp.Expr:
    """(b^mu)^T E^{-1} b^mu / 2 for the generic target of ``m``: the term Eq. 45 lacks when b^mu != 0."""
    _, _, E = dv.generic_gaussian_target(m)
    return Rational(1, 2) * ops.scalar(m.b_mu.T * ops.inv(E) * m.b_mu)


def _eq45(m: LinearBetaVAE, reading: str = "inverse-then-entry") -> sp.Expr:
    F, _, E = dv.generic_gaussian_target(m)
    return printed.eq45(m, F, E, inverse_reading=reading)


def _at_zero_b_mu(fn):
    def at_zero(m: LinearBetaVAE):
        return fn(dv.with_zero(m, "b_mu"))
    return at_zero


def _pointed_target(printed_of, derived_of) -> Comparison:
    return Comparison(printed_of, derived_of, _target_variables, build="pointed")


def _eq45_reading_note() -> str:
    other = _pointed_target(_at_zero_b_mu(lambda m: _eq45(m, "entry-then-inverse")),
                            _at_zero_b_mu(_generic_inference_error))
    return ("E_ii^{-1} is read as (E^{-1})_ii. The other reading, 1 / E_ii, "
            + ("also agrees" if other.holds() else "disagrees whenever E is not diagonal (k > 1)") + ".")


def _F_E_from(mean_cov, m: LinearBetaVAE):
    mean, cov = mean_cov
    return mean.jacobian(m.x), cov


def _generic_FE(g: LinearBetaVAE):
    """The generic target's ``F`` (k, N) and ``E`` (k, k) as matrix symbols of ``g``'s shape."""
    return sp.MatrixSymbol("F", g.k, g.N), sp.MatrixSymbol("E", g.k, g.k)


MIE = sp.Symbol(r"\mathrm{MIE}")
EQ77_SECOND_LINE = sp.Symbol(r"\frac{1}{2}\mathbb{E}_{p(x)}[(Fx-\mu_z)^T E^{-1}(Fx-\mu_z) + Tr(E^{-1}\Sigma_z) "
                             r"- \log(\det\Sigma_z/\det E) - k]")


def _kl_to(target: str) -> sp.Symbol:
    """``E_p(x)[KL(q_phi(z|x) || target)]`` typeset (``target``: LaTeX)."""
    return sp.Symbol(r"\mathbb{E}_{p(x)}\left[D_{KL}\left(q_{\phi}(z|x) \| " + target + r"\right)\right]")


def inference_errors() -> list[EquationSpec]:
    g = general()
    mie_generic = lambda: paper(g.inference_error(*_generic_FE(g)), g)  # noqa: E731
    identity = sp.Eq(sp.Symbol("MIE"), sp.Symbol(r"\mathbb{E}_{p(x)}[\ln p_\theta(x)] - ELBO"))
    return [
        EquationSpec(
            "77", "MIE as a Gaussian KL before the integrals (Appendix 4)",
            printed=lambda: (sp.Eq(MIE, _kl_to(r"p_{\theta}(x|z)")), EQ77_SECOND_LINE),
            derived=mie_generic,
            comparison=_pointed_target(lambda m: (_eq77_first_line(m), _eq77_integrand_averaged(m)),
                                       lambda m: (_generic_inference_error(m),) * 2),
            explanations=(Correction(
                "the first line writes KL(q(z|x) || p_theta(x|z)), a KL against the decoder's density of x; the "
                "target must be the model posterior p_theta(z|x) = N(F x, E) (Eq. 76): with it the first line is "
                "the derived form, and the printed second line equals it",
                _pointed_target(lambda m: (_generic_inference_error(m), _eq77_integrand_averaged(m)),
                                lambda m: (_generic_inference_error(m),) * 2)),),
            corrected=lambda: (sp.Eq(MIE, _kl_to(r"p_{\theta}(z|x)")), mie_generic()),
            notes=("The first line as printed is evaluated as E_p(x) E_q[log q(z|x) - log p_theta(x|z)], "
                   "p_theta(x|z) = N(x; D z + b^D, I_N) read as a function of z (the only reading in which it can be "
                   "evaluated).",
                   "Compared with a generic Gaussian target N(F x, E); the printed integrand is averaged over x with "
                   "the verified Gaussian expectation operator."),
        ),
        EquationSpec(
            "45", "MIE/TIE after the Gaussian integrals",
            printed=lambda: printed.eq45(g, *_generic_FE(g)), derived=mie_generic,
            comparison=_pointed_target(_eq45, _generic_inference_error),
            explanations=(Correction(
                "the term (b^mu)^T E^{-1} b^mu / 2 is missing: with it, and E_ii^{-1} read as (E^{-1})_ii (not "
                "1 / E_ii, see the notes), the print equals the derived form; at b^mu = 0 (Eq. 42, which the "
                "stationary point satisfies) the print holds as it stands",
                _pointed_target(lambda m: (_eq45(m) + _missing_offset_term(m), _at_zero_b_mu(_eq45)(m)),
                                lambda m: (_generic_inference_error(m),
                                           _at_zero_b_mu(_generic_inference_error)(m)))),),
            notes=(_eq45_reading_note,),
        ),
        EquationSpec(
            "46", "TIE: E and F of the ground-truth posterior",
            printed=lambda: printed.eq46(g), derived=lambda: paper(g.ground_truth_posterior(), g),
            comparison=_pointed(printed.eq46, lambda m: _F_E_from(paper(dv.ground_truth(m)[1:], m), m)),
        ),
        EquationSpec(
            "47", "MIE: E and F of the model posterior",
            printed=lambda: printed.eq47(g), derived=lambda: paper(g.model_posterior(), g),
            comparison=_pointed(printed.eq47, lambda m: _F_E_from(_model_posterior_at_zero_bias(m), m)),
            notes=("With b^D != 0 the model-posterior mean is F (x - b^D); the MIE then gains the offset term of "
                   "Eq. 45's derived form.",),
        ),
        EquationSpec(
            "6/12/23", "MIE = E_p(x)[log p_theta(x)] - ELBO, with every constant kept",
            printed=lambda: identity, derived=lambda: identity,
            comparison=Comparison(lambda m: m.mie(), lambda m: m.log_likelihood() - m.elbo(), model_variables,
                                  build="pointed", rational_from=(1, 1), scalars_at_points=True),
            notes=("Both sides from the matrix forms (each proved equal to its derivation), with b^D and sigma_y^2 "
                   "general: this ties the MIE formula, the evidence and the objective together.",),
        ),
    ]


# =====================================================================================
# propositions 1-3 (Eqs. 15-23, Appendix 3)
# =====================================================================================
BETA = sp.Symbol("beta", positive=True)


@lru_cache(maxsize=None)
def _envelope():
    """Prop. 1 for a generic two-parameter objective L = R(kappa) - beta K(kappa) (Eqs. 14, 17, 70).

    Returns ``(K, chain rule total derivative, the derivative at the optimum)``.
    """
    k1, k2 = sp.symbols("kappa_1 kappa_2", real=True)
    R = sp.Function("R")(k1, k2)   # reconstruction term A(kappa) of Eq. 70
    K = sp.Function("K")(k1, k2)   # KL term B(kappa) of Eq. 70
    L = R - BETA * K
    d1, d2 = sp.symbols("kappa_1' kappa_2'")
    total = sp.diff(L, k1) * d1 + sp.diff(L, k2) * d2 + sp.diff(L, BETA)     # chain rule, Eq. 17
    stationary_point = {sp.diff(R, k1): BETA * sp.diff(K, k1), sp.diff(R, k2): BETA * sp.diff(K, k2)}  # Eq. 14
    return K, total, sp.simplify(total.subs(stationary_point))


@lru_cache(maxsize=None)
def _optimal_derivatives():
    """d/dbeta of R* = L* + beta KL* and of ELBO* = R* - KL*, with dL*/dbeta = -KL* (Prop. 1)."""
    Ks = sp.Function("KL^*")(BETA)
    Ls = sp.Function("L^*")(BETA)
    prop1 = {sp.Derivative(Ls, BETA): -Ks}
    dR = sp.diff(Ls + BETA * Ks, BETA).subs(prop1)
    dELBO = sp.diff(Ls + BETA * Ks - Ks, BETA).subs(prop1)
    return Ks, dR, dELBO


@lru_cache(maxsize=None)
def _proposition2_identities():
    """The two identities of Eqs. 73-74 for O(kappa, beta) = A(kappa) - beta B(kappa) (Eq. 70)."""
    B, Af = sp.Function("B"), sp.Function("A")
    b1, b2 = sp.symbols("beta_1 beta_2", positive=True)
    ka, kb = sp.symbols("kappa_1 kappa_2")

    def obj(kappa, b):
        return Af(kappa) - b * B(kappa)
    line73 = sp.expand(obj(ka, b1) - (obj(ka, b2) + (b2 - b1) * B(ka)))
    line74 = sp.expand(obj(kb, b2) + (b2 - b1) * B(kb) - obj(kb, b1))
    return line73, line74


def propositions() -> list[EquationSpec]:
    dL_star = sp.Symbol(r"\frac{d\mathcal{L}^*}{d\beta}")
    ELBO_L = sp.Symbol(r"\mathcal{L} = ELBO + (1-\beta) D_{KL}")
    prop2 = sp.Symbol(r"B(\kappa^*(\beta_2)) \le B(\kappa^*(\beta_1)) \text{ for } \beta_2 > \beta_1")

    def restated_L():
        R, K = sp.Function("R")(), sp.Function("K")()
        return sp.expand((R - BETA * K) - ((R - K) + (1 - BETA) * K)) == 0

    return [
        EquationSpec(
            "16-17", "Proposition 1: dL*/dbeta = -KL* (envelope theorem)",
            printed=lambda: sp.Eq(dL_star, -_envelope()[0]), derived=lambda: sp.Eq(dL_star, _envelope()[2]),
            proof=Proof(lambda: sp.simplify(_envelope()[2] + _envelope()[0]) == 0),
            steps=lambda: [("Chain rule along kappa*(beta), L = R(kappa) - beta K(kappa)", _envelope()[1]),
                           ("At the optimum dL/dkappa = 0 (Eq. 14)", _envelope()[2])],
            notes=("Derived for a generic two-parameter objective; the number of parameters does not matter.",),
        ),
        EquationSpec(
            "19", "Reconstruction at the optimum is non-increasing in beta",
            printed=lambda: sp.Symbol(r"\frac{d\,\mathbb{E}_{q^*}[\log p^*(x|z)]}{d\beta} \le 0"),
            derived=lambda: sp.Eq(sp.Symbol("dRecon*/dbeta"), sp.simplify(_optimal_derivatives()[1])),
            proof=Proof(lambda: sp.simplify(_optimal_derivatives()[1]
                                            - BETA * sp.diff(_optimal_derivatives()[0], BETA)) == 0,
                        condition="dRecon*/dbeta = beta dKL*/dbeta <= 0 follows from Props. 1 and 2 (beta > 0)"),
        ),
        EquationSpec(
            "21", "L = ELBO + (1 - beta) KL",
            printed=lambda: ELBO_L, derived=lambda: ELBO_L,
            proof=Proof(restated_L),
            notes=("From the definitions Eq. 8 and Eq. 13.",),
        ),
        EquationSpec(
            "20-22", "Proposition 3: ELBO* is maximal at beta = 1",
            printed=lambda: sp.Symbol(r"\arg\max_\beta ELBO^*(\beta) = 1"),
            derived=lambda: sp.Eq(sp.Symbol("dELBO*/dbeta"), sp.factor(sp.simplify(_optimal_derivatives()[2]))),
            proof=Proof(lambda: sp.simplify(_optimal_derivatives()[2]
                                            - (BETA - 1) * sp.diff(_optimal_derivatives()[0], BETA)) == 0,
                        condition="dELBO*/dbeta = (beta - 1) dKL*/dbeta, >= 0 below 1 and <= 0 above 1 by Prop. 2"),
            notes=("There is no Eq. 22 in the paper (the numbering jumps from 21 to 23).",),
        ),
        EquationSpec(
            "70-75", "Proposition 2 (Appendix 3): KL* is non-increasing in beta",
            printed=lambda: prop2, derived=lambda: prop2,
            proof=Proof(lambda: _proposition2_identities() == (0, 0)),
            steps=lambda: [("Eq. 73 first line, O(k1,b1) - [O(k1,b2) + (b2-b1) B(k1)]", _proposition2_identities()[0]),
                           ("Eq. 74 last equality, O(k2,b2) + (b2-b1) B(k2) - O(k2,b1)",
                            _proposition2_identities()[1])],
            notes=("The proof cites 'equation 58' for its first line; it means Eq. 73 (there is no Eq. 58 in the "
                   "paper).",
                   "The appendix is titled 'Proof of Proposition 2'; it proves the statement of Eq. 18.",
                   "The two identities are exact; the inequality steps follow from the optimality of kappa_1, "
                   "kappa_2."),
        ),
    ]


#: Topic -> its spec list, in the paper's order.
TOPICS = {
    "objective": objective,
    "gradients": gradients,
    "stationary": stationary,
    "posteriors": posteriors,
    "inference_errors": inference_errors,
    "propositions": propositions,
}


def topic_checks(topic: str) -> list[EquationCheck]:
    """Evaluate every equation of ``topic``; returns its :class:`EquationCheck` records in order."""
    return [evaluate(spec, topic) for spec in TOPICS[topic]()]


def all_checks() -> dict[str, list[EquationCheck]]:
    """Evaluate every topic; returns ``{topic: [EquationCheck, ...]}`` in the paper's order."""
    return {topic: topic_checks(topic) for topic in TOPICS}


def registry_topics() -> dict[str, str]:
    """Equation key (``"36"``, ``"67 (App. 2)"``, ...) -> the topic that derives it (computes nothing)."""
    return {spec.eq: topic for topic, specs in TOPICS.items() for spec in specs()}


__all__ = ["TOPICS", "all_checks", "general", "registry_topics", "topic_checks", "PARAMETERS"]

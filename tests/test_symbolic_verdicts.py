"""Every printed-vs-derived verdict, pinned; and the `derive` command's contract.

The expected verdicts come from reading the paper against the model by hand
(see the diagnosis words pinned with each erratum); a change in the engine,
the transcriptions or the derivations that flips one fails here.
"""

import subprocess
import sys

import pytest

import sympy as sp

from betavae_sym.cli import main
from betavae_sym.symbolic import derive, equations
from betavae_sym.symbolic.verdicts import (
    Comparison, Condition, Correction, Dropped, EquationSpec, Proof, Reading, ScaledBy, evaluate,
)

#: eq -> (status, words that the condition or diagnosis must contain)
EXPECTED = {
    "objective": {
        "65": ("erratum", ["1/2", "log(2 pi)"]),
        "66": ("agrees", []),
        "67": ("agrees", ["-N/2 log(2 pi) + beta k/2", "depends on beta", "-KL* - k/2"]),
        "34": ("agrees", ["-N/2 log(2 pi) + beta k/2", "depends on beta", "-KL* - k/2"]),
        "35": ("agrees", ["-N/2 log(2 pi) + beta k/2", "depends on beta", "-KL* - k/2"]),
    },
    "gradients": {
        "36": ("erratum", ["sign"]),
        "37": ("erratum", ["sign"]),
        "38": ("erratum", ["sign"]),
        "39": ("erratum", ["sign"]),
        "40": ("erratum", ["exponent", "-2 dL/dW^sigma"]),
        "41": ("erratum", ["undefined C", "-2 dL/db^sigma"]),
    },
    "stationary": {
        "42": ("agrees", []),
        "43": ("erratum", ["exponent error of Eq. 40", "line 1 (d/dW^mu) = (-1) x derived: verified",
                           "line 2 (d/dD) = (-1) x derived: verified", "line 4 (d/db^sigma) = (-2) x derived: verified"]),
        "43*": ("agrees", []),
    },
    "posteriors": {
        "27": ("agrees", []),
        "28": ("agrees", []),
        "44": ("agrees", ["b^D = 0"]),
        "67 (App. 2)": ("agrees", []),
        "68": ("agrees", []),
        "69": ("agrees", []),
        "78-80": ("agrees", []),
        "81": ("erratum", ["p_theta(z|x)", "(D^T D + I_k)^{-1}"]),
    },
    "inference_errors": {
        "77": ("erratum", ["KL(q(z|x) || p_theta(x|z))", "p_theta(z|x) = N(F x, E)"]),
        "45": ("erratum", ["(b^mu)^T E^{-1} b^mu / 2 is missing", "(E^{-1})_ii", "at b^mu = 0"]),
        "46": ("agrees", []),
        "47": ("agrees", []),
        "6/12/23": ("agrees", []),
    },
    "propositions": {
        "16-17": ("agrees", []),
        "19": ("agrees", []),
        "21": ("agrees", []),
        "20-22": ("agrees", []),
        "70-75": ("agrees", []),
    },
}


def test_the_registry_topics_are_the_pinned_ones():
    # Declared per topic in betavae_sym.symbolic.equations; read here against the hand-written table above.
    assert equations.registry_topics() == {eq: topic for topic, rows in EXPECTED.items() for eq in rows}


# -- the verdict logic on toy equations whose relation is known by construction (N, k up to (2, 1)) ---------
SMALL = ((1, 1), (2, 1))


def _spec(printed_of, **kw):
    comparison = Comparison(printed_of, lambda m: m.D * m.b_mu + m.b_D, sizes=SMALL)
    return EquationSpec("t", "toy", printed=lambda: None, derived=lambda: "derived", comparison=comparison, **kw)


def test_a_print_equal_to_the_derivation_agrees():
    check = evaluate(_spec(lambda m: m.b_D + m.D * m.b_mu), "toy")
    assert (check.status, check.condition, check.diagnosis, check.corrected) == ("agrees", "", "", None)
    assert [r.relation.kind for r in check.sizes] == ["equal", "equal"]


def test_a_print_off_by_a_scalar_free_of_the_parameters_agrees_only_up_to_the_declared_dropped_term():
    norm = lambda m: (m.b_D.T * m.b_D)[0, 0]                              # noqa: E731

    def verdict(printed_of, term):
        comparison = Comparison(printed_of, norm, sizes=SMALL)
        dropped = Dropped("beta k/2", term) if term else None
        return evaluate(EquationSpec("c", "toy", printed=lambda: None, derived=lambda: None, comparison=comparison,
                                     dropped=dropped), "toy")

    check = verdict(lambda m: norm(m) - m.beta * m.k / 2, lambda N, k, beta: beta * k / 2)
    assert (check.status, check.condition) == ("agrees", "up to the additive term the print drops, beta k/2")
    assert [r.relation.detail for r in check.sizes] == [-sp.Symbol("beta", positive=True) / 2] * 2
    assert verdict(lambda m: norm(m) - m.beta * m.k / 2, lambda N, k, beta: beta * k).status == "erratum"
    assert verdict(lambda m: norm(m) - m.beta * m.k / 2, None).status == "erratum"      # nothing declared dropped
    assert verdict(lambda m: norm(m) + m.b_D[0], lambda N, k, beta: 0).status == "erratum"   # not a constant


def test_a_sign_error_is_diagnosed_by_its_explanation_and_corrected_by_the_derivation():
    check = evaluate(_spec(lambda m: -(m.D * m.b_mu + m.b_D), explanations=(ScaledBy(2, "two"), ScaledBy(-1, "sign"))),
                     "toy")
    assert (check.status, check.diagnosis, check.corrected) == ("erratum", "sign", "derived")


def test_only_a_verified_correction_explains_an_erratum():
    wrong = lambda m: m.D * m.b_mu                                         # noqa: E731 - b^D missing
    right = Comparison(lambda m: m.D * m.b_mu + m.b_D, lambda m: m.D * m.b_mu + m.b_D, sizes=SMALL)
    false = Comparison(lambda m: m.D * m.b_mu, lambda m: m.D * m.b_mu + m.b_D, sizes=SMALL)
    check = evaluate(_spec(wrong, explanations=(Correction("not this", false), Correction("b^D missing", right))),
                     "toy")
    assert (check.status, check.diagnosis) == ("erratum", "b^D missing")
    plain = evaluate(_spec(wrong, explanations=(Correction("not this", false),)), "toy")
    assert plain.diagnosis == "(N, k) = (1, 1), symbolic: different; (N, k) = (2, 1), symbolic: different"
    read = evaluate(_spec(wrong, explanations=(Reading("as printed, b^D is missing."),)), "toy")
    assert read.diagnosis == "as printed, b^D is missing. " + plain.diagnosis


def test_a_condition_from_the_papers_context_makes_a_print_agree_only_when_it_holds():
    zero_b_D = Comparison(lambda m: m.D * m.b_mu, lambda m: m.D * m.b_mu, sizes=SMALL)
    check = evaluate(_spec(lambda m: m.D * m.b_mu, condition=Condition("at b^D = 0", zero_b_D)), "toy")
    assert (check.status, check.condition) == ("agrees", "at b^D = 0")
    failing = Comparison(lambda m: m.D * m.b_mu, lambda m: m.b_D, sizes=SMALL)
    check = evaluate(_spec(lambda m: m.D * m.b_mu, condition=Condition("at b^D = 0", failing)), "toy")
    assert check.status == "erratum"


def test_a_proof_decides_a_derived_result():
    spec = EquationSpec("p", "toy", printed=lambda: None, derived=lambda: 1, proof=Proof(lambda: False, "c", "why"),
                        notes=("a", lambda: ["b", "c"], lambda: "d"))
    check = evaluate(spec, "toy")
    assert (check.status, check.condition, check.diagnosis, check.notes) == ("erratum", "c", "why", ["a", "b", "c", "d"])


@pytest.fixture(scope="module")
def derived():
    results, identities = derive.run_topics(jobs=2, progress=False)
    return results, identities


@pytest.mark.parametrize("topic", list(EXPECTED))
def test_every_verdict_is_pinned(derived, topic):
    results, _ = derived
    rows = {eq: (status, condition + " " + diagnosis) for eq, _, status, condition, diagnosis in results[topic][2]}
    assert set(rows) == set(EXPECTED[topic])
    for eq, (status, words) in EXPECTED[topic].items():
        assert rows[eq][0] == status, (eq, rows[eq])
        for word in words:
            assert word in rows[eq][1], (eq, word, rows[eq][1])


def test_moment_identities_in_the_index_hold(derived):
    _, identities = derived
    assert identities and all(holds for _, _, holds in identities)


def test_issue_equations_each_have_printed_derived_and_verdict(derived):
    """Eqs. 27, 28, 34, 35, 36-41, 43, 44, 45-47, 65, 66, 67, 78-81 are all in the documents."""
    results, _ = derived
    covered = {row[0] for topic in results.values() for row in topic[2]}
    required = {"27", "28", "34", "35", "36", "37", "38", "39", "40", "41", "43", "44", "45", "46", "47",
                "65", "66", "67", "78-80", "81"}
    assert required <= covered
    for name, text, _ in results.values():
        assert text.count("### Printed") == text.count("### Derived") == text.count("**Verdict:")


def fake_documents(monkeypatch, documents):
    monkeypatch.setattr(derive, "render_all", lambda jobs, progress: dict(documents))


def test_derive_writes_then_check_passes_and_detects_staleness(tmp_path, monkeypatch, capsys):
    fake_documents(monkeypatch, {"README.md": "index\n", "objective.md": "a\nb\n"})
    out = tmp_path / "derivations"
    assert main(["derive", "--out", str(out), "--no-progress"]) == 0
    assert (out / "objective.md").read_text() == "a\nb\n"
    assert main(["derive", "--out", str(out), "--check", "--no-progress"]) == 0
    (out / "objective.md").write_text("a\nc\n")
    (out / "README.md").unlink()
    capsys.readouterr()
    assert main(["derive", "--out", str(out), "--check", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "missing:" in err and "README.md" in err
    assert "stale:" in err and "-c" in err and "+b" in err


@pytest.mark.parametrize("argv, words", [
    (["derive", "--check", "--out", "{tmp}/absent"], ["not a folder of derivations"]),
    (["derive", "--out", "{tmp}/file.txt"], ["exists and is not a folder"]),
    (["derive", "--jobs", "0"], ["must be at least 1"]),
    (["derive", "--bogus"], ["unrecognized arguments"]),
])
def test_derive_bad_input_is_one_line_and_exit_2(tmp_path, argv, words):
    (tmp_path / "file.txt").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    run = subprocess.run([sys.executable, "-m", "betavae_sym", *argv], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), run.stderr
    assert "Traceback" not in run.stderr
    assert (tmp_path / "file.txt").read_text() == "x"

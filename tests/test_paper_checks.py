"""paper_checks: one check per claim, the registry mapping, and the verdicts pinned.

Equation verdicts of the symbolic registry are pinned in tests/test_symbolic_*;
here: the mapping from registry to verdict, the equations decided in
paper_checks, and every non-equation verdict. Analytic verdicts are compared
with independent closed-form values; deep verdict rules with summaries whose
truth is known by construction.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from betavae_sym.cli import main
from betavae_sym.paper_checks import STATUSES, Context, Verdict, all_checks, run_checks, select
from betavae_sym.paper_checks import claims
from betavae_sym.linear.mixing import paper_mixing
from betavae_sym.paper_checks.context import ANALYTIC_K, ANALYTIC_N
from betavae_sym.paper_checks import registry
from betavae_sym.paper_checks.core import Check, Fixed
from betavae_sym.paper_checks.claims import DeepClaim
from betavae_sym.paper_checks.equations import (
    MISSING, REGISTRY_TOPIC, printed_objective_slopes, registry_verdict,
)

ROOT = Path(__file__).resolve().parents[1]


# -- coverage and the mapping -----------------------------------------------------------------------------
def test_every_equation_number_from_1_to_81_has_exactly_one_check():
    numbers = [int(m.group(1)) for i in all_checks() if (m := re.fullmatch(r"eq(\d+)", i))]
    assert sorted(numbers) == list(range(1, 82))
    assert "eq67-app2" in all_checks()          # the second Eq. 67 (Appendix 2) has its own check


def test_every_check_has_an_id_claim_and_location():
    for check in all_checks().values():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", check.id)
        assert check.claim.strip() and check.location.strip()
        assert set(check.needs) <= {"symbolic", "analytic", "deep"}
        assert not check.topics or "symbolic" in check.needs


def test_registry_refuses_a_duplicate_id_and_puts_equations_first_by_number():
    a, b = Check("eq10", "c", "l", Fixed("verified", "e")), Check("eq9", "c", "l", Fixed("verified", "e"))
    other = Check("prop1", "c", "l", Fixed("verified", "e"))
    assert list(registry.compose([other, a], [b])) == ["eq9", "eq10", "prop1"]
    with pytest.raises(ValueError, match="eq10"):
        registry.compose([a], [a])


def test_importing_the_check_modules_registers_nothing():
    from betavae_sym.paper_checks import claims, core, equations

    assert not any(isinstance(value, dict) and value and all(isinstance(v, Check) for v in value.values())
                   for module in (core, claims, equations) for value in vars(module).values())


def test_missing_numbers_are_the_ones_the_paper_skips():
    text = (Path(__file__).resolve().parents[2] / "shared" / "paper" / "thesis.txt")
    if not text.exists():
        pytest.skip("paper text not available")
    # equation numbers close a line, "(n)" or "(n) $$", or sit in a \tag{n}
    printed = {int(n) for n in re.findall(r"\((\d{1,2})\)\s*(?:\$\$)?\s*$", text.read_text(), re.M)}
    printed |= {int(n) for n in re.findall(r"\\tag\{(\d+)\}", text.read_text())}
    assert set(MISSING) == set(range(1, 82)) - printed


def _record(status, **extra):
    return {"eq": "36", "topic": "gradients", "title": "t", "status": status, "condition": "", "diagnosis": "sign",
            "notes": [], "printed": "P", "derived": "D", "corrected": "C" if status == "erratum" else None,
            "sizes": ["(N, k) = (1, 1), symbolic: equal"], **extra}


def test_registry_agrees_maps_to_verified_and_erratum_to_erratum_with_the_corrected_form():
    verified = registry_verdict(_record("agrees", condition="at b^mu = 0"))
    assert (verified.status, verified.printed, verified.corrected) == ("verified", "P", None)
    assert "at b^mu = 0" in verified.evidence and "derivations/gradients.md" in verified.evidence
    erratum = registry_verdict(_record("erratum"))
    assert (erratum.status, erratum.printed, erratum.corrected) == ("erratum", "P", "C")
    assert "sign" in erratum.evidence
    with pytest.raises(ValueError):
        registry_verdict(_record("maybe"))


class FakeRegistry(Context):
    """A context whose symbolic registry is given (statuses as pinned by tests/test_symbolic_*)."""

    def __init__(self, statuses, **kw):
        super().__init__(progress=False, **kw)
        self.statuses = statuses

    def equation(self, key):
        return _record(self.statuses[key], eq=key, topic=REGISTRY_TOPIC[key])


ERRATA = {"65", "36", "37", "38", "39", "40", "41", "43", "81"}


def _registry_checks():
    """The checks whose verdict is a symbolic record's (FromRegistry, and eq34's PrintedObjectiveAcrossBeta)."""
    return [c for c in all_checks().values() if isinstance(getattr(c.run, "key", None), str)]


@pytest.mark.parametrize("erratum", [False, True])
def test_each_registry_equation_check_takes_the_registry_verdict(erratum):
    # The documented mapping: agrees -> verified (printed kept), erratum -> erratum with the corrected form.
    context = FakeRegistry({k: ("erratum" if erratum else "agrees") for k in REGISTRY_TOPIC})
    checks = _registry_checks()
    assert len(checks) >= 40
    for check in checks:
        verdict = check.run(context)
        assert verdict.status == ("erratum" if erratum else "verified"), check.id
        assert verdict.printed == "P" and verdict.corrected == ("C" if erratum else None), check.id
        assert check.topics == (REGISTRY_TOPIC[check.run.key],) and check.needs == ("symbolic",)


def test_every_symbolic_record_is_read_by_a_check():
    # "43*" (the closed-form stationary point) and "20-22" (Prop. 3) are read by the claims 'stationary'
    # and 'prop3' (pinned below); every other record backs at least one equation check.
    used = {c.run.key for c in _registry_checks()}
    assert used == set(REGISTRY_TOPIC) - {"43*", "20-22"}


def test_equation_checks_use_the_documented_registry_keys():
    expected = {"eq6": "6/12/23", "eq10": "6/12/23", "eq12": "6/12/23", "eq23": "6/12/23", "eq24": "6/12/23",
                "eq25": "6/12/23", "eq16": "16-17", "eq17": "16-17", "eq18": "70-75", "eq19": "19", "eq21": "21",
                "eq36": "36", "eq43": "43", "eq67": "67", "eq67-app2": "67 (App. 2)", "eq73": "70-75",
                "eq75": "70-75", "eq78": "78-80", "eq80": "78-80", "eq81": "81"}
    assert {check_id: all_checks()[check_id].run.key for check_id in expected} == expected


# -- the verdicts, pinned ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results():
    """Every check that needs at most the analytic solver and the cheap symbolic topic, run for real."""
    context = Context(progress=False)
    chosen = [c for c in all_checks().values() if "deep" not in c.needs and set(c.topics) <= {"propositions"}]
    return {r.id: r for r in run_checks(chosen, context)}, context


PINNED = {
    "verified": ["eq1", "eq2", "eq7", "eq11", "eq14", "eq16", "eq17", "eq18", "eq19", "eq21", "eq26", "eq29", "eq30",
                 "eq31", "eq32", "eq62", "eq64", "eq73", "eq74", "eq75", "prop1", "prop2", "prop3",
                 "fig3-elbo-max", "fig3-tie-nonmonotonic", "fig3-mie-nonmonotonic", "fig3-recon-decreasing",
                 "fig3-kl-decreasing", "fixed-decoder-mie-min", "fixed-decoder-tie-min",
                 "fixed-decoder-loglik-constant"],
    "erratum": ["eq61", "eq63", "ref-eq58", "numbering-67"],
    "refuted": ["fig3-loglik-decreasing", "settings-realizations", "settings-mixed-digits"],
    "not-checkable": ["eq3", "eq4", "eq5", "eq8", "eq9", "eq13", "eq15", "eq20", "eq33", "eq49", "eq50", "eq55",
                      "eq70", "eq71", "eq72", "eq76"]
                     + [f"eq{n}" for n in MISSING],
}


@pytest.mark.parametrize("status,check_id", [(s, i) for s, ids in PINNED.items() for i in ids])
def test_pinned_verdict(results, status, check_id):
    result = results[0][check_id]
    assert result.status == status, result.evidence
    assert result.evidence.strip()
    if status == "erratum":
        assert result.corrected


def test_no_check_crashes(results):
    assert [r.id for r in results[0].values() if r.status == "crashed"] == []


def test_elbo_maximum_at_one_agrees_with_the_closed_form():
    from betavae_sym.linear import closed_form

    elbo = [closed_form(paper_mixing(ANALYTIC_N, ANALYTIC_K), b).metrics["elbo"] for b in (0.8, 1.0, 1.25)]
    assert elbo[1] > elbo[0] and elbo[1] > elbo[2]


def test_loglikelihood_refutation_agrees_with_the_closed_form(results):
    # The paper expects log p(x) to fall as beta grows; the closed form rises from beta = 0.05 to beta = 1.
    from betavae_sym.linear import closed_form

    low, one = (closed_form(paper_mixing(ANALYTIC_N, ANALYTIC_K), b).metrics["log_likelihood"] for b in (0.05, 1.0))
    assert one > low
    assert results[0]["fig3-loglik-decreasing"].status == "refuted"


def test_the_term_eq34_drops_shifts_proposition_1_by_k_over_2():
    # Independent truths: Proposition 1 (envelope theorem) for the objective with its constants, and the
    # dropped term -N/2 log 2 pi + beta k/2 for the print; here at k = 1 and 3 (the check uses k = 2).
    for k in (1, 3):
        for beta, objective, printed in printed_objective_slopes(betas=(0.7, 1.6), N=4, k=k):
            assert abs(objective) < 1e-6 and abs(printed + k / 2) < 1e-6, (k, beta, objective, printed)


def _committed_statuses() -> dict:
    """Symbolic key -> status, read off the committed derivations/README.md (kept fresh by 'derive --check')."""
    text = (ROOT / "derivations" / "README.md").read_text()
    rows = re.findall(r"^\| \[[^]]+\]\([^)]+\) \| ([^|]+?) \| .*? \| (agrees|erratum) \|$", text, re.M)
    return dict(rows)


class CommittedRegistry(Context):
    """A context whose symbolic records have the statuses of the committed derivations/."""

    def __init__(self, analytic_run):
        super().__init__(progress=False)
        self.analytic_run = analytic_run
        self.statuses = _committed_statuses()

    def equation(self, key):
        return _record(self.statuses[key], eq=key, topic=REGISTRY_TOPIC[key])


def test_the_readme_errata_table_lists_exactly_the_checks_that_find_an_erratum(results):
    context = CommittedRegistry(results[1].analytic_run)
    assert set(context.statuses) == set(REGISTRY_TOPIC)
    errata = set()
    for check in all_checks().values():
        if "deep" in check.needs:   # the deep rules decide verified / refuted / not-checkable, never erratum
            assert isinstance(check.run, (DeepClaim, Fixed)) and getattr(check.run, "status", "") != "erratum"
            continue
        if check.run(context).status == "erratum":
            errata.add(check.id)
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("<!-- errata-table"):readme.index("<!-- /errata-table -->")]
    listed = [i for row in block.splitlines() if row.startswith("| `") for i in re.findall(r"`([a-z0-9-]+)`", row.split(" | ")[0])]
    assert len(listed) == len(set(listed))
    assert set(listed) == errata


def test_eq63_printed_form_is_ill_formed_and_corrected_form_uses_A_transpose_J(results):
    result = results[0]["eq63"]
    assert r"(\mathbf{J}\mathbf{A})" in result.printed and r"(\mathbf{A}^\top\mathbf{J})" in result.corrected


# -- deep verdict rules: tests/test_paper_checks_deep.py ----------------------------------------------------


# -- running, crashing, the command line --------------------------------------------------------------------
def test_a_crashing_check_is_reported_and_the_others_still_run(monkeypatch, capsys):
    def boom(context):
        raise RuntimeError("boom")

    checks = {**registry.all_checks(), "eq3": Check("eq3", "c", "l", boom)}
    monkeypatch.setattr(registry, "all_checks", lambda: checks)
    assert main(["check", "--only", "eq3", "eq8", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "crashed" in captured.out and "eq8" in captured.out
    assert "boom" in captured.err


def test_check_json_has_the_documented_schema(capsys):
    ids = ["eq3", "eq22", "settings-realizations", "numbering-67"]
    assert main(["check", "--only", *ids, "--json", "-", "--no-progress"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in document] == ids
    for entry in document:
        assert set(entry) == {"id", "claim", "location", "status", "printed", "corrected", "evidence", "caveat",
                              "protocol"}
        assert entry["status"] in STATUSES


def test_check_json_to_a_file(tmp_path):
    target = tmp_path / "sub" / "checks.json"
    assert main(["check", "--only", "eq8", "--json", str(target), "--no-progress"]) == 0
    assert json.loads(target.read_text())[0]["status"] == "not-checkable"


def test_unknown_check_id_is_one_line_exit_2(capsys):
    assert main(["check", "--only", "eq999", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eq999" in err[0]


def test_verdict_rejects_an_unknown_status():
    with pytest.raises(ValueError):
        Verdict("probably", "")


def test_select_keeps_the_registry_order():
    assert [c.id for c in select(["prop1", "eq2", "eq1"])] == ["eq1", "eq2", "prop1"]


def test_the_shared_symbolic_run_writes_the_documents_derive_writes():
    from betavae_sym.paper_checks.context import run_symbolic
    from betavae_sym.symbolic.derive import render_topic_text

    name, text, _ = render_topic_text("propositions")
    assert run_symbolic(("propositions",), jobs=1, progress=False).documents == {name: text}

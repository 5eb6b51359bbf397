"""``betavae-sym reproduce``: a tiny end-to-end run, a failing stage, bad input."""

import html
import json
import re

import pytest

from betavae_sym.cli import main
from betavae_sym.paper_checks.context import Context
from betavae_sym.reproduce import reproduce

TINY_SWEEPS = dict(betas=[0.5, 1.0, 2.0], realizations=2, epochs=1, n=40, samples=4, iwae_samples=4, heldout=40)
#: every kind of deep judge: near 1, TIE optimum, TIE at two scales, decreasing, trends, orthogonal axes
DEEP = ["fig4-elbo-max-near-1", "fig4-tie-nonmonotonic", "fig4-recon-decreasing", "fig5-tie-nonmonotonic",
        "fig5-traversal-axes", "fig4-factorized-high-beta"]   # in the registry's order
ONLY = ["eq21", "eq63", "prop3", "fig3-elbo-max", *DEEP, "settings-realizations"]


def _tiny(out, **kw):
    """The deciding preset's shape (three sweeps: both datasets and the second position scale) at tiny sizes."""
    return reproduce(out, "decide", progress=False, jobs=1, only=ONLY, topics=("propositions",),
                     sweep_options=TINY_SWEEPS, analytic_betas=[0.5, 1.0, 2.0], **kw)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """A tiny run (a few checks, one symbolic topic, tiny sweeps) and its output folder."""
    out = tmp_path_factory.mktemp("tiny") / "report"
    return _tiny(out), out


def test_tiny_reproduce_writes_every_output(tiny_report):
    run, out = tiny_report
    assert run.failed == [] and run.crashed == []
    assert [s.name for s in run.stages] == ["derivations", "analytic", "deep", "checks", "report"]
    for name in ("report.html", "report.md", "checks.json", "analytic.json", "analytic-fixed-decoder.json",
                 "figure3.png", "figure3.svg", "derivations/propositions.md",
                 "sweeps/figure4.png", "sweeps/figure4.svg", "sweeps/figure5.png", "sweeps/figure5e.svg",
                 "sweeps/mixed-digits-summary.json", "sweeps/positioned-digit-summary.json"):
        assert (out / name).is_file(), name
    checks = json.loads((out / "checks.json").read_text())
    assert [c["id"] for c in checks] == sorted(ONLY, key=lambda i: (not i.startswith("eq"), ONLY.index(i)))
    by_id = {c["id"]: c for c in checks}
    assert by_id["eq63"]["status"] == "erratum" and by_id["fig3-elbo-max"]["status"] == "verified"
    page = (out / "report.html").read_text()
    # self-contained: figures embedded, nothing fetched from elsewhere
    assert page.count("data:image/png;base64,") >= 4
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    markdown = (out / "report.md").read_text()
    for heading in ("Paper vs this run", "Measured extrema", "Errata, with corrected forms", "Verdict on every claim"):
        assert heading in markdown and heading in page
    captions = [line for line in markdown.splitlines() if line.startswith("_Figure")]
    assert any(c.startswith("_Figure 4E: mixed digits, latent traversals") for c in captions), captions
    assert not any("reconstructions" in c for c in captions)                # Figure 4E shows traversals only
    assert all("prior standard deviations" in c for c in captions if "traversals" in c)
    assert "(A^\\top\\mathbf{J})" in markdown or "A}^\\top\\mathbf{J}" in markdown   # Eq. 63 corrected form


def test_tiny_deep_verdicts_name_their_protocol_and_carry_the_caveat_of_a_changed_preset(tiny_report):
    run, out = tiny_report
    assert (out / "sweeps" / "positioned-digit-scale-0.5" / "figure5.png").is_file()
    checks = {c["id"]: c for c in json.loads((out / "checks.json").read_text())}
    for check_id in DEEP:
        check = checks[check_id]
        assert check["status"] in ("verified", "refuted", "not-checkable"), (check_id, check["evidence"])
        assert check["protocol"] and all(p["preset"] == "decide" and p["n"] == 40 and p["heldout"] == 40
                                          and p["realizations"] == [2, 2] for p in check["protocol"])
        assert "40 held-out rows" in check["evidence"]
        # 40 rows and one epoch are not the deciding protocol: a verdict says so
        assert (check["caveat"] is not None) == (check["status"] != "not-checkable")
    assert len(checks["fig5-tie-nonmonotonic"]["protocol"]) == 2          # both position scales
    page = (out / "report.html").read_text()
    for heading in ("Summary", "Deep claims: the thesis's protocol and this run's"):
        assert f">{html.escape(heading)}</h" in page


def test_a_failing_stage_is_named_and_the_other_stages_keep_their_outputs(tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("no deep today")

    monkeypatch.setattr(Context, "deep", broken)
    run = _tiny(tmp_path / "r")
    assert run.failed == ["deep"]
    assert run.crashed == DEEP                           # every check that needs the deep sweeps, none other
    out = tmp_path / "r"
    assert (out / "figure3.png").is_file() and (out / "checks.json").is_file()
    markdown = (out / "report.md").read_text()
    assert "FAILED stages: deep" in markdown and "no deep today" in markdown


def test_cli_exit_status_names_the_failed_stage(tmp_path, monkeypatch, capsys):
    import betavae_sym.reproduce as module

    def broken_analytic(run):
        raise RuntimeError("solver broke")

    real = module.reproduce
    monkeypatch.setattr(module, "_analytic", broken_analytic)
    monkeypatch.setattr(module, "reproduce", lambda out, preset, **kw: real(
        out, preset, progress=False, jobs=1, only=["eq21", "settings-realizations"], topics=("propositions",)))
    assert main(["reproduce", "--out", str(tmp_path / "x"), "--no-progress"]) == 1
    assert "analytic" in capsys.readouterr().err
    assert (tmp_path / "x" / "report.html").is_file()


@pytest.mark.parametrize("arguments", [["--preset", "huge"], ["--out", "FILE"]])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, arguments):
    (tmp_path / "FILE").write_text("not a folder")
    arguments = [str(tmp_path / "FILE") if a == "FILE" else a for a in arguments]
    assert main(["reproduce", *arguments, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1


def test_unknown_check_id_is_bad_input_before_any_output(tmp_path):
    from betavae_sym.errors import BadInput

    with pytest.raises(BadInput):
        reproduce(tmp_path / "never", only=["eq0"], progress=False)
    assert not (tmp_path / "never").exists()


def test_the_report_opens_in_a_real_browser_with_every_image_and_no_console_error(tiny_report, tmp_path):
    from chromium_devtools import find_browser, open_page

    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    _, out = tiny_report
    page = open_page(browser, out / "report.html", tmp_path / "profile")
    (tmp_path / "report.png").write_bytes(page.screenshot)  # for a person to look at
    assert len(page.images) >= 6, page.images  # Figures 3 (twice), 4, 4E, 5, 5E
    assert [image["alt"] for image in page.images if not (image["complete"] and image["naturalWidth"] > 0)] == []
    assert page.errors == []
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_browser_check_sees_a_broken_image_and_console_errors(tmp_path):
    from chromium_devtools import find_browser, open_page

    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img alt="good" src="data:image/png;base64,'
                    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==">'
                    '<img alt="broken" src="data:image/png;base64,AAAA">'
                    '<script>console.error("planted error"); undefined_function();</script></body></html>')
    report = open_page(browser, page, tmp_path / "profile")
    widths = {image["alt"]: image["naturalWidth"] for image in report.images}
    assert widths == {"good": 1, "broken": 0}
    assert any("planted error" in error for error in report.errors), report.errors
    assert any("undefined_function" in error for error in report.errors), report.errors

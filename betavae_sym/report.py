"""The reproduction report: one document model rendered as Markdown and as self-contained HTML.

``build_report(run)`` turns a :class:`betavae_sym.reproduce.ReproduceRun` into
a :class:`Document` (headings, paragraphs, tables, code blocks, figures);
``to_markdown`` links the figures by relative path, ``to_html`` embeds them as
base64 PNG so the page opens in any browser without a server.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Document:
    """A flat list of blocks: ("h", level, text), ("p", text), ("note", text), ("table", headers, rows),
    ("code", text), ("figure", path, caption), ("math", latex, mathml, missing)."""

    title: str
    blocks: list = field(default_factory=list)

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def note(self, text: str):
        """A paragraph set apart (a caveat the reader must not miss)."""
        self.blocks.append(("note", text))

    def table(self, headers, rows):
        self.blocks.append(("table", list(headers), [list(map(str, r)) for r in rows]))

    def code(self, text: str):
        self.blocks.append(("code", text))

    def figure(self, path: Path, caption: str):
        self.blocks.append(("figure", Path(path), caption))

    def math(self, latex: str | None, mathml: str | None, missing: str):
        """An equation: LaTeX (Markdown) and presentation MathML (HTML), or the text ``missing`` when absent."""
        self.blocks.append(("math", latex, mathml, missing))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document, base: Path) -> str:
    """Markdown; figures linked relative to ``base`` (the report's folder)."""
    lines = [f"# {doc.title}", ""]
    for block in doc.blocks:
        kind = block[0]
        if kind == "h":
            lines += ["#" * (block[1] + 1) + " " + block[2], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "note":
            lines += [f"> **{block[1]}**", ""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines.append("| " + " | ".join(map(_md_cell, headers)) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            lines.append("")
        elif kind == "code":
            lines += ["```", block[1], "```", ""]
        elif kind == "math":
            lines += (["$$", block[1], "$$", ""] if block[1] else [block[3], ""])
        elif kind == "figure":
            lines += [f"![{block[2]}]({_relative(block[1], base)})", "", f"_{block[2]}_", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}
figure{margin:1em 0}img{max-width:100%}math[display=block]{margin:.6em 0;overflow-x:auto;overflow-y:hidden}figcaption{font-style:italic;color:#444}
.verified{color:#176b17}.erratum{color:#8a5a00}.refuted{color:#b00020}.not-checkable{color:#555}.crashed{color:#fff;background:#b00020}
.failed{color:#b00020;font-weight:bold}.ok{color:#176b17}
.note{border-left:4px solid #b36b00;background:#fff6e5;padding:.5em .8em;font-weight:bold}"""

_STATUS_CLASSES = {"verified", "erratum", "refuted", "not-checkable", "crashed", "failed", "ok"}


def _html_cell(text: str) -> str:
    escaped = html.escape(text)
    return f'<span class="{text}">{escaped}</span>' if text in _STATUS_CLASSES else escaped


def _html_math(latex: str | None, mathml: str | None, missing: str) -> str:
    """MathML, which browsers render natively (no script, no network); LaTeX source where only that exists."""
    if mathml:
        return f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">{mathml}</math>'
    if latex:
        return f'<pre class="latex" title="LaTeX source">{html.escape(latex)}</pre>'
    return f"<p>{html.escape(missing)}</p>"


def to_html(doc: Document) -> str:
    """A self-contained HTML page (inline CSS, PNG figures embedded as base64; SVG/PNG files stay beside it)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(doc.title)}</h1>"]
    for block in doc.blocks:
        kind = block[0]
        if kind == "h":
            level = min(block[1] + 1, 6)
            parts.append(f"<h{level}>{html.escape(block[2])}</h{level}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "note":
            parts.append(f'<p class="note">{html.escape(block[1])}</p>')
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in block[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "code":
            parts.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "math":
            parts.append(_html_math(*block[1:]))
        elif kind == "figure":
            path, caption = block[1], block[2]
            if path.is_file():
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
            else:
                parts.append(f'<p class="failed">Figure missing: {html.escape(str(path))}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------------------
# the content
# ---------------------------------------------------------------------------------------------------------
def _short(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


#: What the thesis claims, in two sentences (the report's headline starts with it).
THESIS_CLAIMS = (
    "Analytic: for the linear-Gaussian beta-VAE at its optimum, the ELBO is maximal at beta = 1 (Proposition 3), "
    "the objective and the KL term fall with beta (Propositions 1, 2), and the error of inferring the true sources "
    "(TIE) is non-monotonic with a finite optimal beta (Figure 3). Deep: a deep beta-VAE on synthetic MNIST data "
    "shows the same (Figures 4, 5: ELBO maximal near beta = 1, TIE with an optimal beta, reconstruction and KL "
    "falling with beta), its units more factorized at higher beta and, on a moving digit, encoding orthogonal axes "
    "of motion.")


def _groups(results) -> dict[str, list]:
    """The results by what they rest on: "deep" (sweeps), "analytic" (the solver), "symbolic" (the rest)."""
    from betavae_sym.paper_checks.registry import all_checks

    needs = {check.id: check.needs for check in all_checks().values()}
    groups = {"symbolic": [], "analytic": [], "deep": []}
    for r in results:
        kind = needs.get(r.id, ())
        groups["deep" if "deep" in kind else "analytic" if "analytic" in kind else "symbolic"].append(r)
    return groups


def _ids(results, status) -> str:
    return ", ".join(r.id for r in results if r.status == status) or "none"


def _count_text(results) -> str:
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "none ran"


def _protocol_text(run) -> str:
    """This run's deep protocol, from the summaries (one line per distinct protocol)."""
    from betavae_sym.paper_checks.deep import Protocol

    deep = run.context.deep_run if run.context else None
    if not deep:
        return "The deep sweeps did not run."
    lines = [Protocol.of(output.summary, run.preset).text() for output in deep.values()]
    return "; ".join(lines) + "."


def _headline(doc: Document, run) -> None:
    """The opening summary: what the thesis claims, what this run found, on which protocol, what to conclude."""
    from betavae_sym.paper_checks.deep import PAPER_PROTOCOL

    results = run.results or []
    groups = _groups(results)
    caveat = run.context.deep_caveat() if run.context and groups["deep"] else None
    doc.h(1, "Summary")
    doc.p("What the thesis claims. " + THESIS_CLAIMS)
    equations = [r for r in groups["symbolic"] if r.id.startswith("eq")]
    doc.p(f"What this run found. Equations: {_count_text(equations)} of {len(equations)} checked (errata with "
          f"their corrected forms below). Propositions, settings and cross-references: "
          f"{_count_text([r for r in groups['symbolic'] if not r.id.startswith('eq')])}. Analytic model (the "
          f"paper's A, exact optimum): verified {_ids(groups['analytic'], 'verified')}; refuted "
          f"{_ids(groups['analytic'], 'refuted')}. Deep beta-VAE: {_count_text(groups['deep'])}, per claim in the "
          "table below." if results else "What this run found: no checks ran (see the stages).")
    if groups["deep"]:
        doc.table(["deep claim", "verdict", "what this run found", "caveat"],
                  [[f"{r.id}: {r.claim}", r.status, r.summary or _short(r.evidence), "yes (below)" if r.caveat else ""]
                   for r in groups["deep"]])
    doc.p(f"Deep protocol of this run: {_protocol_text(run)} The thesis's: {PAPER_PROTOCOL}.")
    if caveat:
        doc.note(f"Caveat on every verified or refuted deep verdict of this run: {caveat}")
    doc.p("What to conclude, and what not. The symbolic and analytic verdicts are exact computations on the "
          "paper's linear model (closed form cross-checked by a numeric solver), whatever the deep sweeps show. A "
          "deep verdict is about networks trained by the protocol above and scored on held-out rows of the same "
          "generative process: verified or refuted means the difference it rests on exceeds 2 combined standard "
          "errors over realizations; not-checkable means this protocol cannot resolve the claim (the verdict "
          "says how many realizations would), not that the claim is false. The thesis scored its networks on its "
          "1000 training examples after 1000 epochs, where the ELBO measures memorization as much as inference; "
          "the training-row numbers are shown beside the held-out ones. Numbers written a ± b are the mean over "
          "realizations and its standard error; 'R realizations per beta' are independently initialized networks.")


def build_report(run) -> Document:
    """The report of a reproduce run: a headline summary, stages, the deep protocols side by side, measured
    extrema, paper vs measured, errata, refuted claims, figures, every verdict."""
    doc = Document("betavae-sym: reproduction of Sikka (2020), beta-VAE")
    doc.p(f"Preset: {run.preset}. Output folder: {run.out}. Every quantity in nats, averaged over p(x) "
          "(analytic) or over the rows scored (deep: held-out rows unless said otherwise); TIE after aligning "
          "latent units to the sources by the best signed permutation, and the rotation TIE after the best "
          "rotation.")
    _headline(doc, run)
    doc.h(1, "Stages")
    doc.table(["stage", "status", "seconds", "detail"],
              [[s.name, "ok" if s.ok else "failed", f"{s.seconds:.1f}", _short(s.detail, 300)] for s in run.stages])
    failed = [s.name for s in run.stages if not s.ok]
    if failed:
        doc.p("FAILED stages: " + ", ".join(failed) + ". The outputs of the other stages are complete.")

    results = run.results or []
    doc.h(1, "Summary of verdicts")
    doc.p(_count_text(results) + f" ({len(results)} checks)." if results else "No checks ran.")

    deep = _groups(results)["deep"]
    if deep:
        from betavae_sym.paper_checks.deep import PAPER_PROTOCOL

        doc.h(1, "Deep claims: the thesis's protocol and this run's")
        doc.p(f"The thesis ran every deep claim on one protocol: {PAPER_PROTOCOL}. This package runs it with "
              "'betavae-sym reproduce --preset paper' (many hours on 2 cores), not by default.")
        doc.table(["claim", "thesis's protocol", "this run's protocol", "verdict"],
                  [[r.id, "as above", "; ".join(p["preset"] + ": " + _protocol_cell(p) for p in r.protocol or []),
                    r.status + (" (caveat)" if r.caveat else "")] for r in deep])

    doc.h(1, "Paper vs this run")
    doc.table(["quantity", "paper", "this run"], _side_by_side(run))

    doc.h(1, "Measured extrema")
    doc.table(["model", "quantity", "beta at the extremum", "note"], _extrema_rows(run))

    errata = [r for r in results if r.status == "erratum"]
    doc.h(1, "Errata, with corrected forms")
    if not errata:
        doc.p("None found (or the checks did not run).")
    for r in errata:
        doc.h(2, f"{r.id}: {r.location}")
        doc.p(r.claim)
        doc.p("Printed:")
        doc.math(r.printed, r.printed_mathml, "(not transcribed)")
        doc.p("Corrected:")
        doc.math(r.corrected, r.corrected_mathml, "(none)")
        doc.p("Evidence: " + r.evidence)

    for status, heading in (("refuted", "Refuted claims, with the measured evidence"),
                            ("crashed", "Checks that crashed")):
        chosen = [r for r in results if r.status == status]
        if chosen:
            doc.h(1, heading)
            for r in chosen:
                doc.h(2, f"{r.id}: {r.location}")
                doc.p(r.claim)
                if r.caveat:
                    doc.note("Caveat: " + r.caveat)
                doc.code(r.evidence)

    doc.h(1, "Figures")
    for path, caption in run.figures:
        doc.figure(path, caption)

    doc.h(1, "Verdict on every claim")
    doc.table(["id", "verdict", "claim", "location", "evidence"],
              [[r.id, r.status, r.claim, r.location, ("CAVEAT: " + r.caveat + " " if r.caveat else "") + _short(r.evidence)]
               for r in results])

    doc.h(1, "Files")
    doc.table(["file", "content"], [[_relative(p, run.out), what] for p, what in run.files])
    return doc


def _protocol_cell(protocol: dict) -> str:
    lo, hi = protocol["realizations"]
    realizations = f"{lo}" if lo == hi else f"{lo} to {hi}"
    return (f"{protocol['dataset']}" + (f" (scale {protocol['scale']:g})" if protocol.get("scale") is not None else "")
            + f", n = {protocol['n']}, {protocol['epochs']} epochs, {realizations} realizations per beta, scored on "
            + protocol["evaluation"])


def _side_by_side(run) -> list[list[str]]:
    from betavae_sym.paper_checks.context import SECOND_SCALE, SECOND_SCALE_SWEEP

    rows = []
    analytic = run.context.analytic_run if run.context else None
    if analytic:
        full, fixed = analytic["full"], analytic["fixed"]
        e = full.extrema
        rows += [["analytic ELBO* maximum (Fig. 3A)", "beta = 1", f"beta = {e['elbo_argmax']:.4f}"],
                 ["analytic TIE (Fig. 3B)", "non-monotonic, finite optimal beta", f"minimum at beta = {e['tie_argmin']:.4f}"],
                 ["analytic MIE (Fig. 3B)", "non-monotonic, optimal value", f"minimum at beta = {e['mie_argmin']:.4f}"],
                 ["analytic reconstruction, KL (Fig. 3C-D)", "decrease with beta",
                  _trend(full, "recon") + "; " + _trend(full, "kl")],
                 ["fixed decoder D = A: MIE minimum", "beta = 1", f"beta = {fixed.extrema['mie_argmin']:.4f}"]]
    deep = run.context.deep_run if run.context else None
    if deep:
        for dataset, fig in (("mixed-digits", "Fig. 4"), ("positioned-digit", "Fig. 5")):
            if dataset not in deep:
                continue
            s = deep[dataset].summary
            ex = s["extrema"]
            rows += [[f"deep {dataset}: ELBO maximum ({fig}A)", "near beta = 1" if fig == "Fig. 4" else "(as Fig. 4)",
                      _deep_extremum(ex, "elbo")],
                     [f"deep {dataset}: TIE ({fig}B)", "non-monotonic, optimal beta exists", _deep_extremum(ex, "tie")],
                     [f"deep {dataset}: reconstruction, KL ({fig}C-D)", "decrease with beta",
                      _deep_trend(s, "recon") + "; " + _deep_trend(s, "kl")]]
        if SECOND_SCALE_SWEEP in deep:
            rows.append([f"deep positioned digit at position scale {SECOND_SCALE:g}: TIE (Fig. 5B)",
                         "(not run in the thesis)", _deep_extremum(deep[SECOND_SCALE_SWEEP].summary["extrema"], "tie")])
        first = next(iter(deep.values())).summary
        settings = first.get("settings", {})
        lo, hi = min(first["count"]), max(first["count"])
        rows += [["realizations per beta", "300 (Ch. II) / 100 (Fig. 4 caption)",
                  f"{lo}" if lo == hi else f"{lo} to {hi} (some diverged)"],
                 ["epochs", "1000", str(settings.get("training", {}).get("epochs", "?"))],
                 ["beta values (deep)", "not stated", ", ".join(f"{b:g}" for b in first["betas"])]]
    if not rows:
        rows.append(["(no measurements)", "", "the analytic and deep stages did not run"])
    return rows


def _trend(result, metric) -> str:
    c = result.column(metric)
    return f"{metric} {c[0]:.4g} -> {c[-1]:.4g}"


def _deep_trend(summary, metric) -> str:
    m = summary["metrics"][metric]["mean"]
    return f"{metric} {m[0]:.4g} -> {m[-1]:.4g}"


def _deep_extremum(extrema, name) -> str:
    if name not in extrema:
        return "(not measured)"
    e = extrema[name]
    return f"{e['kind']} at beta = {e['beta']:g}" + ("" if e["interior"] else " (edge of the grid)")


def _extrema_rows(run) -> list[list[str]]:
    rows = []
    analytic = run.context.analytic_run if run.context else None
    if analytic:
        for which, label in (("full", "analytic (decoder trained)"), ("fixed", "analytic (decoder fixed, D = A)")):
            for name, value in analytic[which].extrema.items():
                rows.append([label, name, f"{value:.6g}", "refined by bounded scalar optimization"])
    deep = run.context.deep_run if run.context else None
    if deep:
        for dataset, output in deep.items():
            for name in ("elbo", "tie", "mie", "recon", "kl"):
                e = output.summary["extrema"].get(name)
                if e:
                    rows.append([f"deep {dataset}", f"{name} {e['kind']}", f"{e['beta']:g}",
                                 "grid value of the mean over realizations, not tested (the verdicts test it)"
                                 + ("" if e["interior"] else ", edge of the grid")])
    return rows or [["(none)", "", "", ""]]

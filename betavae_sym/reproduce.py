"""``betavae-sym reproduce``: derivations, analytic sweep (Figure 3), deep sweeps (Figures 4, 5), checks, report.

Stages run in order and share one :class:`~betavae_sym.paper_checks.Context`,
so the symbolic derivation runs once for both the derivations folder and the
equation checks. A stage that fails is recorded (name, error) and the run
goes on; the checks that depend on it crash with that error; the report names
it; the exit status is 1. Layout of ``out``::

    report.html  report.md  checks.json  analytic.json  analytic-fixed-decoder.json
    figure3.png/.svg  figure3-fixed-decoder.png/.svg
    derivations/*.md
    .cache/derivations.json  (the symbolic run, reused while its sources and versions are unchanged)
    sweeps/  (<dataset>-<preset>.db stores, resumed; summaries JSON/CSV; figure4, figure4-rotation, figure4e,
              figure5, figure5-rotation, figure5e)
    sweeps/positioned-digit-scale-0.5/  (Figure 5's sweep at the second position scale, the same files)

The default preset is the deciding one (``decide``, about 30 minutes on 2
cores, sized by the README's power analysis); ``quick`` is a 5-minute look whose
deep verdicts carry a caveat; ``paper`` is the thesis's protocol (hours).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Presets of the whole run (deep sweep preset and analytic grid), the default first: the names of
#: ``experiments.settings.PRESETS`` (not imported here, so that the command line starts light; a test ties them).
PRESETS = ("decide", "quick", "paper")


@dataclass
class Stage:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class ReproduceRun:
    out: Path
    preset: str
    context: object = None
    stages: list = field(default_factory=list)
    results: list | None = None
    figures: list = field(default_factory=list)      # (png path, caption)
    files: list = field(default_factory=list)        # (path, what)

    @property
    def failed(self) -> list[str]:
        return [s.name for s in self.stages if not s.ok]

    @property
    def crashed(self) -> list[str]:
        return [r.id for r in self.results or [] if r.status == "crashed"]


def _say(progress: bool, text: str) -> None:
    if progress:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def reproduce(out: Path, preset: str = PRESETS[0], *, progress: bool = True, jobs: int = 2, only=None,
              topics=None, sweep_options: dict | None = None, analytic_betas=None) -> ReproduceRun:
    """Run every stage into ``out``; returns the run record (never raises for a failing stage).

    ``only`` (check ids), ``topics`` (symbolic topics), ``sweep_options``
    (options overriding the deep sweeps' preset, by name, as in
    :meth:`betavae_sym.experiments.settings.SweepSettings.preset`) and
    ``analytic_betas`` shrink the run, for tests and quick looks. BadInput for
    an unknown preset, an unknown check id, an unwritable ``out``, or a
    damaged deep sweep store in ``out/sweeps`` (all before anything is written).
    """
    from betavae_sym.errors import BadInput
    from betavae_sym.fileio import ensure_writable_dir
    from betavae_sym.paper_checks import Context, select
    from betavae_sym.paper_checks.context import ALL_TOPICS

    if preset not in PRESETS:
        raise BadInput(f"--preset: unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
    checks = select(only)                                   # unknown ids: BadInput before any work
    needs_deep = only is None or any("deep" in c.needs for c in checks)
    context = Context(preset=preset, sweeps_dir=Path(out) / "sweeps", jobs=jobs, progress=progress,
                      sweep_options=dict(sweep_options or {}), analytic_betas=analytic_betas)
    if needs_deep:  # a damaged store of an earlier run: BadInput before any work
        context.check_deep_stores()
    out = ensure_writable_dir(Path(out), "--out")
    context.sweeps_dir = out / "sweeps"
    topics = tuple(ALL_TOPICS if topics is None else topics)
    run = ReproduceRun(out=out, preset=preset, context=context)
    stages = [("derivations", lambda: _derivations(run, topics)),
              ("analytic", lambda: _analytic(run)),
              ("deep", lambda: _deep(run)) if needs_deep else None,
              ("checks", lambda: _checks(run, checks)),
              ("report", lambda: _report(run))]
    stages = [s for s in stages if s is not None]
    for number, (name, fn) in enumerate(stages, 1):
        _say(progress, f"[{number}/{len(stages)}] {name} ...")
        start = time.perf_counter()
        try:
            detail = fn() or ""
            ok = True
        except Exception as exc:  # noqa: BLE001 - a failing stage is reported, the others go on
            ok, detail = False, f"{type(exc).__name__}: {exc}"
            context.failures.setdefault({"derivations": "symbolic"}.get(name, name), detail)
            if progress:
                traceback.print_exc(limit=3, file=sys.stderr)
        seconds = time.perf_counter() - start
        run.stages.append(Stage(name, ok, seconds, detail))
        _say(progress, f"[{number}/{len(stages)}] {name} {'done' if ok else 'FAILED'} in {seconds:.1f} s"
                       + ("" if ok else f": {detail}"))
    return run


def _derivations(run: ReproduceRun, topics) -> str:
    from betavae_sym import derivation_cache
    from betavae_sym.fileio import atomic_write_text

    cache, key = derivation_cache.cache_path(run.out), derivation_cache.derivation_key(topics)
    reused = derivation_cache.load(cache, key) if run.context.symbolic_run is None else None
    if reused is not None:
        run.context.symbolic_run = reused
        _say(run.context.progress, f"derivations: reused from {cache} (the symbolic sources and the versions of "
                                   f"betavae-sym, SymPy and Python are those of the run that saved it; key {key[:12]})")
    elif cache.exists() and run.context.symbolic_run is None:
        _say(run.context.progress, f"derivations: {cache} was made from other symbolic sources or versions; "
                                   "deriving afresh")
    symbolic = run.context.symbolic(topics)
    if reused is None:
        derivation_cache.save(cache, key, symbolic)
    folder = run.out / "derivations"
    folder.mkdir(exist_ok=True)
    for name, text in symbolic.documents.items():
        atomic_write_text(folder / name, text)
        run.files.append((folder / name, "derivation (Markdown, as 'betavae-sym derive' writes it)"))
    statuses = [r["status"] for r in symbolic.equations.values()]
    return (f"{len(symbolic.documents)} documents, {len(statuses)} equations: {statuses.count('agrees')} agree, "
            f"{statuses.count('erratum')} errata" + ("" if reused is None else f"; reused from {cache.relative_to(run.out)}"))


def _analytic(run: ReproduceRun) -> str:
    from betavae_sym.fileio import atomic_write_text
    from betavae_sym.linear.figure import save_figure3

    runs = run.context.analytic()
    for which, stem, caption in (("full", "figure3", "Figure 3: analytic β-VAE at its optimum against β "
                                                     "(paper's A, N = 128, k = 2; nats averaged over p(x))"),
                                 ("fixed", "figure3-fixed-decoder", "Figure 3 with the decoder fixed at D = A")):
        result = runs[which]
        name = "analytic.json" if which == "full" else "analytic-fixed-decoder.json"
        atomic_write_text(run.out / name, json.dumps(result.to_dict(), indent=2) + "\n")
        run.files.append((run.out / name, "analytic sweep (JSON of 'betavae-sym analytic')"))
        png, svg = save_figure3(result, run.out / f"{stem}.png")
        run.files += [(png, "figure (PNG)"), (svg, "figure (SVG)")]
        run.figures.append((png, caption))
    e = runs["full"].extrema
    return (f"{len(runs['full'].records)} beta values; ELBO max at {e['elbo_argmax']:.4f}, TIE min at "
            f"{e['tie_argmin']:.4f}, MIE min at {e['mie_argmin']:.4f}")


_DEEP_CAPTIONS = {
    "figure4": "Figure 4 A–D: deep β-VAE on mixed digits; ELBO, TIE, reconstruction and KL against β on held-out "
               "rows (mean over realizations solid, min and max dashed), the training-row mean beside it (thin, as "
               "in the paper), and the exact linear optimum for the same data as fed to the networks (curve: "
               "population; markers: on the same held-out rows)",
    "figure4-rotation": "Mixed digits, rotation panel: TIE at the best signed permutation and at the best rotation, "
                        "with the exact optimum's; how far the best rotation turns the latent axes, and their angle "
                        "to the exact optimum's axes (held-out rows)",
    "figure5-rotation": "Positioned digit, rotation panel: TIE at the best signed permutation and at the best "
                        "rotation; how far the best rotation turns the latent axes, and the angle between the two "
                        "units' directions in position space (held-out rows)",
    "figure4e": "Figure 4E: mixed digits, latent traversals of realization 0 at the smallest and the largest β "
                "(decoded images over a grid of the two latent units, in prior standard deviations)",
    "figure5": "Figure 5 A–D: deep β-VAE on a positioned digit; ELBO, TIE, reconstruction and KL against β on "
               "held-out rows (mean over realizations solid, min and max dashed), the training-row mean beside it "
               "(thin, as in the paper)",
    "figure5e": "Figure 5E: positioned digit, latent traversals of realization 0 at the smallest and the largest β "
                "(decoded images over a grid of the two latent units, in prior standard deviations)"}


def _caption(sweep: str, stem: str) -> str:
    """The caption of figure ``stem`` of the deep sweep ``sweep`` (the second position scale says so)."""
    from betavae_sym.paper_checks.context import SECOND_SCALE, SECOND_SCALE_SWEEP

    caption = _DEEP_CAPTIONS.get(stem, stem)
    if sweep == SECOND_SCALE_SWEEP:
        caption = caption.replace("positioned digit", f"positioned digit at position scale {SECOND_SCALE:g} "
                                                      "(the second scale of the TIE check)", 1)
    return caption


def _deep(run: ReproduceRun) -> str:
    outputs = run.context.deep()
    details = []
    for sweep, output in outputs.items():
        for path in output.files:
            path = Path(path)
            what = "figure" if path.suffix in (".png", ".svg") else "deep sweep summary"
            run.files.append((path, f"{what} ({path.suffix[1:].upper()})"))
            if path.suffix == ".png":
                run.figures.append((path, _caption(sweep, path.stem)))
        run.files.append((output.store, "deep sweep store (SQLite; a second run resumes it)"))
        r = output.report
        details.append(f"{sweep}: {r.total} tasks ({r.already_done} already in the store, {r.ran} run, "
                       f"{r.diverged} diverged)")
    return "; ".join(details)


def _checks(run: ReproduceRun, checks) -> str:
    from betavae_sym.fileio import atomic_write_text
    from betavae_sym.paper_checks import run_checks

    run.results = run_checks(checks, run.context, progress=run.context.progress)
    atomic_write_text(run.out / "checks.json", json.dumps([r.to_json() for r in run.results], indent=2) + "\n")
    run.files.append((run.out / "checks.json", "verdict of every check (JSON)"))
    counts = {}
    for r in run.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def _report(run: ReproduceRun) -> str:
    from betavae_sym.fileio import atomic_write_text
    from betavae_sym.report import build_report, to_html, to_markdown

    for name, what in (("report.md", "this report (Markdown)"), ("report.html", "this report (HTML, self-contained)")):
        if (run.out / name, what) not in run.files:
            run.files.append((run.out / name, what))
    # the report lists every stage, its own as done: it is the stage writing it (the run records it when it ends)
    doc = build_report(replace(run, stages=[*run.stages, Stage("report", True, 0.0, "report.html, report.md")]))
    atomic_write_text(run.out / "report.md", to_markdown(doc, run.out))
    atomic_write_text(run.out / "report.html", to_html(doc))
    return "report.html, report.md"

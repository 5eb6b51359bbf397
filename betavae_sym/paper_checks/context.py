"""Resources shared by the checks, each computed once: symbolic derivations, analytic sweeps, deep sweeps.

``Context.prepare(checks)`` computes what the selected checks need (only the
symbolic topics they use; the deep sweeps only when a deep check is selected).
A resource that fails is remembered: every check that needs it then crashes
with that error, and the other checks still run. ``betavae-sym reproduce``
fills the same context stage by stage, so the derivation runs once for both
the derivations folder and the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from betavae_sym.symbolic.derive import SUBMISSION_ORDER

#: The analytic model of Figure 3: N = 128, k = 2, A_ij = (1 + delta_ij) / 2.
ANALYTIC_N, ANALYTIC_K = 128, 2

#: beta grid of the analytic sweeps per preset (the extrema are refined between grid points).
ANALYTIC_BETAS = {"quick": (0.05, 4.0, 80), "decide": (0.05, 4.0, 80), "paper": (0.02, 6.0, 300)}

#: Symbolic topics in the order ``betavae_sym.symbolic.derive`` submits them (grouped by shared work).
ALL_TOPICS = SUBMISSION_ORDER

#: Figure 5 again at a second position scale (pixels per unit of A s + sigma_eta eta; the first is 1): its TIE
#: minimum is a property of inference only if it stays put when the units of the position change. 0.5, not 2:
#: at scale 2, 13 % of the digits would leave the canvas (the posterior p(s|x) is exact only while they stay).
SECOND_SCALE = 0.5
SECOND_SCALE_SWEEP = f"positioned-digit-scale-{SECOND_SCALE:g}"

#: The deep sweeps of the checks, by name: (dataset, options overriding the preset). The first two are Figures 4
#: and 5 (stores in the sweeps folder); the others keep their stores, summaries and figures in a subfolder named
#: after them.
DEEP_SWEEPS = {"mixed-digits": ("mixed-digits", {}), "positioned-digit": ("positioned-digit", {}),
               SECOND_SCALE_SWEEP: ("positioned-digit", {"scale": SECOND_SCALE})}

#: The preset sized by the power analysis (README) to decide the deep claims; the default of ``reproduce``.
DECIDING_PRESET = "decide"

#: Why a verified or refuted deep verdict of another preset is only a hint (the report shows it beside the verdict).
PRESET_CAVEATS = {
    "quick": "the quick preset is a 5-minute look (500 training rows, 60 epochs, 3 realizations per beta, whose "
             "standard errors are themselves uncertain)",
    "paper": "the paper preset is the thesis's protocol (1000 training rows, 1000 epochs), which the power analysis "
             "did not size",
}

#: Settings that define a deep protocol: changing one of them from the preset's value makes the protocol another.
PROTOCOL_OPTIONS = ("n", "epochs", "batch_size", "lr", "realizations", "betas", "heldout", "standardize", "k",
                    "sigma_eta", "scale")


@dataclass
class SymbolicRun:
    """Plain data from the symbolic engine (no SymPy objects).

    ``equations``: registry key (``"36"``, ``"67 (App. 2)"``, ...) -> dict with
    topic, title, status (agrees | erratum), condition, diagnosis, notes,
    printed / derived / corrected (LaTeX), printed_mathml / corrected_mathml
    (presentation MathML, for the report). ``documents``: file name ->
    Markdown, as ``betavae-sym derive`` writes them (the index ``README.md``
    only when every topic ran). ``identities``: (name, dimension, holds).
    """

    equations: dict = field(default_factory=dict)
    documents: dict = field(default_factory=dict)
    identities: list = field(default_factory=list)
    topics: set = field(default_factory=set)


def _latex(obj) -> str | None:
    """LaTeX as the derivation documents typeset it."""
    from betavae_sym.symbolic.document import latex

    if obj is None:
        return None
    if isinstance(obj, (tuple, list)):
        return ",\\quad ".join(_latex(o) for o in obj)
    if isinstance(obj, dict):
        return ",\\quad ".join(f"{_latex(k)} = {_latex(v)}" for k, v in sorted(obj.items(), key=lambda kv: str(kv[0])))
    return latex(obj)


def topic_data(topic: str) -> tuple[str, str, list[dict], list[tuple[str, str, str]]]:
    """Derive one topic (in a worker process): (file name, Markdown, equation records, index rows)."""
    from betavae_sym.symbolic import equations
    from betavae_sym.symbolic.document import TOPIC_TITLES, mathml, render_topic

    checks = equations.topic_checks(topic)
    stem, _ = TOPIC_TITLES[topic]
    records = [{"eq": c.eq, "topic": topic, "title": c.title, "status": c.status, "condition": c.condition,
                "diagnosis": c.diagnosis, "notes": list(c.notes), "printed": _latex(c.printed),
                "derived": _latex(c.derived), "corrected": _latex(c.corrected),
                "printed_mathml": mathml(c.printed), "corrected_mathml": mathml(c.corrected),
                "sizes": [s.describe() for s in c.sizes]} for c in checks]
    return f"{stem}.md", render_topic(topic, checks), records, [(c.eq, c.title, c.status) for c in checks]


def run_symbolic(topics=ALL_TOPICS, jobs: int = 2, progress: bool = True) -> SymbolicRun:
    """Run the symbolic engine for ``topics`` (process pool of ``jobs``) and the moment identities.

    With every topic the documents equal those of ``betavae-sym derive``
    (same renderer, index included).
    """
    from betavae_sym.symbolic.derive import run_topics
    from betavae_sym.symbolic.document import TOPIC_TITLES, render_index

    topics = [t for t in ALL_TOPICS if t in set(topics)]
    results, identities = run_topics(jobs, progress, topics, topic_data)
    run = SymbolicRun(identities=list(identities), topics=set(topics))
    if set(topics) == set(ALL_TOPICS):
        summary = {topic: results[topic][3] for topic in TOPIC_TITLES}
        run.documents["README.md"] = render_index(summary, identities)
    for topic in TOPIC_TITLES:
        if topic in results:
            name, text, records, _ = results[topic]
            run.documents[name] = text
            run.equations.update({r["eq"]: r for r in records})
    return run


class ResourceFailed(RuntimeError):
    """A shared resource could not be computed; the checks that need it crash with this."""


@dataclass
class Context:
    """Shared resources of a check run.

    preset : a preset of :data:`betavae_sym.experiments.settings.PRESETS` (deep sweeps, analytic grid); default
        the deciding preset.
    sweeps_dir : folder of the deep sweep stores (resumed if present).
    sweep_options : options overriding the deep sweeps' preset (:meth:`betavae_sym.experiments.settings.SweepSettings.preset`; tests, tiny runs).
    analytic_betas : override of the analytic beta grid.
    """

    preset: str = DECIDING_PRESET
    sweeps_dir: Path = Path("betavae-report") / "sweeps"
    jobs: int = 2
    progress: bool = True
    sweep_options: dict = field(default_factory=dict)
    analytic_betas: object = None
    symbolic_run: SymbolicRun | None = None
    analytic_run: dict | None = None
    deep_run: dict | None = None
    failures: dict = field(default_factory=dict)

    # -- resources ------------------------------------------------------------------------------------------
    def prepare(self, checks) -> None:
        """Compute every resource the ``checks`` need (failures are remembered, not raised; a damaged deep sweep
        store is BadInput, raised before any work)."""
        if self.deep_run is None and any("deep" in c.needs for c in checks):
            self.check_deep_stores()
        topics = {t for c in checks if "symbolic" in c.needs for t in c.topics}
        if topics:
            self._guard("symbolic", lambda: self.symbolic(topics))
        if any("analytic" in c.needs for c in checks):
            self._guard("analytic", self.analytic)
        if any("deep" in c.needs for c in checks):
            self._guard("deep", self.deep)

    def _guard(self, name, fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported by each check that needs it
            self.failures[name] = f"{type(exc).__name__}: {exc}"

    def _failed(self, name):
        if name in self.failures:
            raise ResourceFailed(f"the {name} stage failed: {self.failures[name]}")

    def symbolic(self, topics=ALL_TOPICS) -> SymbolicRun:
        """The symbolic run, extended with any of ``topics`` not yet derived."""
        self._failed("symbolic")
        missing = set(topics) - (self.symbolic_run.topics if self.symbolic_run else set())
        if missing:
            run = run_symbolic(missing, jobs=self.jobs, progress=self.progress)
            if self.symbolic_run is None:
                self.symbolic_run = run
            else:
                self.symbolic_run.equations.update(run.equations)
                self.symbolic_run.documents.update(run.documents)
                self.symbolic_run.topics |= run.topics
        return self.symbolic_run

    def equation(self, key: str) -> dict:
        """The symbolic record of registry key ``key`` (its topic derived if needed)."""
        from betavae_sym.paper_checks.equations import REGISTRY_TOPIC

        return self.symbolic((REGISTRY_TOPIC[key],)).equations[key]

    def identity(self, name: str) -> list[tuple[int, bool]]:
        """(dimension, holds) of the moment identity ``name`` at every dimension proved."""
        run = self.symbolic_run if self.symbolic_run is not None else self.symbolic(("propositions",))
        return [(d, h) for n, d, h in run.identities if n == name]

    def betas(self) -> np.ndarray:
        if self.analytic_betas is not None:
            return np.asarray(self.analytic_betas, dtype=float)
        start, stop, num = ANALYTIC_BETAS[self.preset]
        return np.linspace(start, stop, num)

    def analytic(self) -> dict:
        """{"full": SweepResult, "fixed": SweepResult (decoder fixed at D = A)} for the paper's mixing."""
        self._failed("analytic")
        if self.analytic_run is None:
            from betavae_sym.linear.mixing import paper_mixing
            from betavae_sym.linear.sweep import sweep

            A, betas = paper_mixing(ANALYTIC_N, ANALYTIC_K), self.betas()
            self.analytic_run = {
                "full": sweep(A, betas, mixing="paper", progress=self.progress),
                "fixed": sweep(A, betas, fix_decoder=A, mixing="paper", progress=self.progress),
            }
        return self.analytic_run

    # -- deep sweeps --------------------------------------------------------------------------------------------
    def deep_sweeps(self) -> dict:
        """{name: SweepSettings} of :data:`DEEP_SWEEPS` for this context's preset and ``sweep_options``."""
        from betavae_sym.experiments.settings import SweepSettings

        return {name: SweepSettings.preset(self.preset, dataset=dataset, **{**self.sweep_options, **overrides})
                for name, (dataset, overrides) in DEEP_SWEEPS.items()}

    def _sweep_folders(self) -> dict:
        """{folder: {name: SweepSettings}}: Figures 4 and 5 in ``sweeps_dir``, the others in a subfolder each."""
        folders = {}
        for name, settings in self.deep_sweeps().items():
            folder = Path(self.sweeps_dir) / ("" if name == settings.dataset.dataset else name)
            folders.setdefault(folder, {})[name] = settings
        return folders

    def check_deep_stores(self) -> None:
        """BadInput when a store of an earlier run is damaged or made with other settings (before any work)."""
        from betavae_sym.experiments.sweep import check_sweep_stores

        for folder, sweeps in self._sweep_folders().items():
            check_sweep_stores(folder, sweeps.values(), label=self.preset)

    def deep(self) -> dict:
        """{name: SweepOutput} of :data:`DEEP_SWEEPS` (resumed from the stores in ``sweeps_dir``)."""
        self._failed("deep")
        if self.deep_run is None:
            from betavae_sym.experiments.sweep import run_sweeps

            run = {}
            for folder, sweeps in self._sweep_folders().items():
                outputs = run_sweeps(folder, sweeps.values(), label=self.preset, progress=self.progress)
                run.update({name: outputs[settings.dataset.dataset] for name, settings in sweeps.items()})
            self.deep_run = {name: run[name] for name in DEEP_SWEEPS}
        return self.deep_run

    def summary(self, name: str) -> dict:
        """The summary of the deep sweep ``name`` (:data:`DEEP_SWEEPS`)."""
        return self.deep()[name].summary

    def deep_caveat(self) -> str | None:
        """Why a verified or refuted deep verdict of this context is only a hint; None for the deciding preset."""
        changed = sorted(set(self.sweep_options) & set(PROTOCOL_OPTIONS))
        if self.preset == DECIDING_PRESET and not changed:
            return None
        why = (f"preset {self.preset} with {', '.join(changed)} changed" if changed
               else PRESET_CAVEATS.get(self.preset, f"preset {self.preset}"))
        return (f"Not a decision: {why}; the power analysis (README) sized the {DECIDING_PRESET} preset, not this "
                f"protocol, to resolve the deep claims. The default 'betavae-sym reproduce' runs {DECIDING_PRESET}.")

"""Run a sweep into a store (resumable), and summarize a store per beta."""

from __future__ import annotations

import csv
import io
import math
import numbers
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.experiments.metrics import SCALAR_METRICS

#: Metrics whose best value is the largest (the others: the smallest), for the extrema of a summary.
MAXIMIZED = {"elbo", "recon", "objective", "log_likelihood", "mig", "dci_disentanglement", "dci_completeness",
             "dci_informativeness", "active_units"}


@dataclass
class SimulateReport:
    total: int
    already_done: int
    ran: int
    diverged: int
    seconds: float


def simulate(settings: dict, betas, realizations: int, store_path: Path, *, executor: str = "local",
             workers: int | None = None, scheduler: str | None = None, progress: bool = True,
             dataset=None, connect_timeout: float = 10.0) -> SimulateReport:
    """Train and evaluate every (beta, realization) not yet in the store; write each result as it finishes.

    The store is validated (read-only) before anything runs; it is created
    only after the executor is up, so a bad scheduler leaves no new file.
    Interrupting loses only the tasks in flight. ``dataset``: the settings' dataset, if
    already built (it is then sent to the workers instead of being rebuilt there).
    """
    import time

    from betavae_sym import __version__
    from betavae_sym.experiments.executors import DaskExecutor, run_local
    from betavae_sym.experiments.store import Store, check_settings, create_store, read_meta
    from betavae_sym.experiments.tasks import make_tasks, settings_hash

    from betavae_sym.experiments.commands import check_store_path

    betas = list(betas)
    if not betas:
        raise BadInput("--betas: the beta list is empty; give e.g. 0.5,1,2 or 0.1:4:9")
    bad = [b for b in betas if not (isinstance(b, numbers.Real) and math.isfinite(b) and b >= 0)]
    if bad:
        raise BadInput(f"--betas: {bad[0]!r} is not a finite number >= 0")
    if isinstance(realizations, bool) or not isinstance(realizations, int) or realizations < 1:
        raise BadInput(f"--realizations: {realizations!r} must be a positive integer")
    store_path = Path(store_path)
    check_store_path(store_path)
    digest = settings_hash(settings)
    exists = store_path.exists()
    if exists:
        check_settings(store_path, read_meta(store_path), settings, digest)
    tasks = make_tasks(settings, betas, realizations)
    start = time.perf_counter()
    runner = None
    if executor == "dask":
        runner = DaskExecutor(scheduler, workers, timeout=connect_timeout)
    elif executor != "local":
        raise BadInput(f"--executor: '{executor}' is not local or dask")
    store = None
    bar = None
    ran = diverged = 0
    try:
        if not exists:
            store_path.parent.mkdir(parents=True, exist_ok=True)
            create_store(store_path, settings, digest, __version__)
        store = Store(store_path, digest)
        done = store.finished_ids()
        pending = [task for task in tasks if task.task_id not in done]
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), initial=len(tasks) - len(pending), unit="task", file=sys.stderr,
                       desc=f"{settings['dataset']['dataset']}", dynamic_ncols=True)
        results = runner.run(pending, dataset) if runner is not None else run_local(pending, workers, dataset)
        for result in results:
            store.write(result)
            ran += 1
            diverged += result["status"] != "done"
            if bar is not None:
                bar.set_postfix(beta=f"{result['beta']:g}", r=result["realization"])
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
        if runner is not None:
            runner.close()
    return SimulateReport(total=len(tasks), already_done=len(tasks) - len(pending), ran=ran, diverged=diverged,
                          seconds=time.perf_counter() - start)


def preset_settings(dataset: str, preset: str | None = "quick", **options) -> tuple[dict, list[float], int]:
    """``(settings, betas, realizations)`` as ``simulate --dataset DATASET --preset PRESET`` makes them.

    Parameters
    ----------
    dataset : str
        ``"mixed-digits"`` or ``"positioned-digit"``.
    preset : {"quick", "paper", None}
    **options
        Any other option of ``simulate`` by its Python name, overriding the
        preset: ``betas`` (list of floats or the command-line text),
        ``realizations``, ``epochs``, ``n``, ``batch_size``, ``lr``, ``samples``,
        ``iwae_samples``, ``encoder_hidden`` / ``decoder_hidden`` (tuples),
        ``dtype``, ``no_standardize``, ``k``, ``digit_classes``, ``sigma_eta``, ``data_seed``, ``mnist``, ...

    Raises BadInput on unknown options or bad values, like the command line.
    """
    import argparse

    from betavae_sym.experiments.commands import add_simulate_arguments, sweep_settings
    from betavae_sym.experiments.tasks import PRESETS

    if preset is not None and preset not in PRESETS:
        raise BadInput(f"--preset: unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
    parser = argparse.ArgumentParser(add_help=False)
    add_simulate_arguments(parser)
    args = parser.parse_args(["--dataset", str(dataset), "--store", "unused.db"])
    args.preset = preset
    not_settings = {"store", "executor", "scheduler", "workers", "connect_timeout", "no_progress", "preset", "dataset"}
    for key, value in options.items():
        if key in not_settings or not hasattr(args, key):
            raise BadInput(f"sweep settings: unknown option '{key}'")
        if key == "betas" and value is not None and not isinstance(value, str):
            value = ",".join(repr(float(b)) for b in value)
        setattr(args, key, value)
    return sweep_settings(args)


@dataclass
class SweepOutput:
    """What :func:`run_sweeps` made for one dataset."""

    dataset: str
    store: Path
    report: SimulateReport
    summary: dict
    files: list[Path]


def run_sweeps(out_dir: Path, *, preset: str | None = "quick", datasets=("mixed-digits", "positioned-digit"),
               executor: str = "local", workers: int | None = None, scheduler: str | None = None,
               connect_timeout: float = 10.0, progress: bool = True, overlays: dict | None = None,
               **options) -> dict[str, SweepOutput]:
    """``simulate`` then ``summarize`` (JSON, CSV, figures) for each dataset, all into ``out_dir``.

    Files per dataset: the store ``<dataset>-<preset>.db`` (``custom`` without a
    preset; kept: a second call resumes it and runs only what is missing), ``<dataset>-summary.json`` and
    ``<dataset>-summary.csv`` (formats in the README), and the figures as PNG
    and SVG (``figure4`` and ``figure4e`` for mixed-digits, ``figure5`` and
    ``figure5e`` for positioned-digit). ``overlays``: ``{dataset: records}``
    drawn over Figures 4/5 A-D (see :func:`betavae_sym.experiments.figures.plot_beta_sweep`).
    ``options`` go to :func:`preset_settings` for every dataset.

    Examples
    --------
    >>> outputs = run_sweeps(Path("report"), preset="quick")              # doctest: +SKIP
    >>> outputs["mixed-digits"].summary["extrema"]["tie"]["beta"]         # doctest: +SKIP
    """
    from betavae_sym.experiments.figures import write_figures
    from betavae_sym.experiments.tasks import build_sweep_dataset
    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir

    plans = [(name, *preset_settings(name, preset, **options)) for name in datasets]  # all inputs checked first
    out_dir = ensure_writable_dir(Path(out_dir), "--out")
    outputs = {}
    for name, settings, betas, realizations in plans:
        store = out_dir / f"{name}-{preset or 'custom'}.db"
        report = simulate(settings, betas, realizations, store, executor=executor, workers=workers,
                          scheduler=scheduler, progress=progress, dataset=build_sweep_dataset(settings),
                          connect_timeout=connect_timeout)
        summary = summarize(store)
        files = [out_dir / f"{name}-summary.json", out_dir / f"{name}-summary.csv"]
        atomic_write_text(files[0], summary_json(summary))
        atomic_write_text(files[1], summary_csv(summary))
        files += write_figures(summary, store, out_dir, overlay=(overlays or {}).get(name))
        outputs[name] = SweepOutput(name, store, report, summary, files)
    return outputs


def _scalar_rows(rows: list[dict]) -> dict[str, list[float]]:
    values = {name: [] for name in SCALAR_METRICS}
    for row in rows:
        for name in SCALAR_METRICS:
            value = row["metrics"].get(name, math.nan)  # NaN: a metric newer than the row
            if value is not None:  # None: undefined for this network (a missing value, not a number)
                values[name].append(float(value))
        for j, value in enumerate(row["metrics"]["kl_units"]):
            values.setdefault(f"kl_unit_{j + 1}", []).append(float(value))
    return values


def summarize(store_path: Path) -> dict:
    """Per beta: count, and the mean, min, max and standard error of the mean of every metric; extrema.

    Returns the summary document (JSON-ready; format in the README). Only
    finished, non-diverged tasks enter the statistics; ``diverged`` counts the others.
    Statistics are taken over realizations in index order, so the same rows give the same numbers.
    """
    from betavae_sym.experiments.store import read_rows

    meta, rows = read_rows(store_path)
    if not rows:
        raise BadInput(f"--store: '{store_path}' has no finished task yet; run 'betavae-sym simulate' first")
    betas = sorted({row["beta"] for row in rows})
    metrics: dict[str, dict[str, list]] = {}
    counts, diverged = [], []
    for beta in betas:
        good = [row for row in rows if row["beta"] == beta and row["status"] == "done"]
        counts.append(len(good))
        diverged.append(sum(1 for row in rows if row["beta"] == beta and row["status"] != "done"))
        for name, values in _scalar_rows(good).items():
            entry = metrics.setdefault(name, {"mean": [], "min": [], "max": [], "sem": []})
            v = np.array(values)
            entry["mean"].append(float(v.mean()) if v.size else math.nan)
            entry["min"].append(float(v.min()) if v.size else math.nan)
            entry["max"].append(float(v.max()) if v.size else math.nan)
            entry["sem"].append(float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan)
    extrema = {}
    for name, entry in metrics.items():
        mean = np.array(entry["mean"], dtype=float)
        if np.all(np.isnan(mean)):
            continue
        best = int(np.nanargmax(mean) if name in MAXIMIZED else np.nanargmin(mean))
        extrema[name] = {"kind": "max" if name in MAXIMIZED else "min", "beta": betas[best],
                         "value": float(mean[best]), "interior": 0 < best < len(betas) - 1}
    settings = meta["settings"]
    return {"dataset": settings["dataset"]["dataset"], "settings_hash": meta["settings_hash"],
            "settings": settings, "betas": betas, "count": counts, "diverged": diverged,
            "metrics": metrics, "extrema": extrema}


def _finite_or_none(value):
    return value if isinstance(value, (int, str)) or (isinstance(value, float) and math.isfinite(value)) else None


def summary_json(summary: dict) -> str:
    """The summary as JSON text (NaN written as null)."""
    import json

    def clean(obj):
        if isinstance(obj, dict):
            return {key: clean(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [clean(value) for value in obj]
        return _finite_or_none(obj) if isinstance(obj, float) else obj

    return json.dumps(clean(summary), indent=2) + "\n"


def summary_csv(summary: dict) -> str:
    """One row per beta: ``beta, count, diverged``, then ``<metric>_mean, _min, _max, _sem`` for every metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(summary["metrics"])
    writer.writerow(["beta", "count", "diverged"] + [f"{name}_{stat}" for name in names
                                                     for stat in ("mean", "min", "max", "sem")])
    for i, beta in enumerate(summary["betas"]):
        writer.writerow([repr(beta), summary["count"][i], summary["diverged"][i]]
                        + [repr(summary["metrics"][name][stat][i]) for name in names
                           for stat in ("mean", "min", "max", "sem")])
    return buffer.getvalue()


def summary_table(summary: dict, names=("elbo", "tie", "recon", "kl", "mie", "active_units", "mig")) -> str:
    """A fixed-width text table of the means (± standard error) per beta, and the extrema."""
    lines = [f"{summary['dataset']}: {sum(summary['count'])} finished tasks over {len(summary['betas'])} beta values"
             f" ({sum(summary['diverged'])} diverged); nats per example, mean ± s.e. over realizations"]
    lines.append(f"{'beta':>9} {'R':>4} " + " ".join(f"{name:>20}" for name in names))
    for i, beta in enumerate(summary["betas"]):
        cells = []
        for name in names:
            m, s = summary["metrics"][name]["mean"][i], summary["metrics"][name]["sem"][i]
            cells.append(f"{m:>11.4g} ± {s:<6.2g}" if math.isfinite(s) else f"{m:>20.4g}")
        lines.append(f"{beta:>9.4g} {summary['count'][i]:>4} " + " ".join(f"{c:>20}" for c in cells))
    for name in ("elbo", "tie", "mie"):
        if name in summary["extrema"]:
            e = summary["extrema"][name]
            lines.append(f"{name} {e['kind']} at beta = {e['beta']:.4g} ({e['value']:.6g})"
                         + ("" if e["interior"] else " (at the edge of the grid)"))
    return "\n".join(lines) + "\n"

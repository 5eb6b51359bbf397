"""Run a sweep into a store (resumable), and summarize a store per beta."""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betavae_sym.errors import BadInput
from betavae_sym.experiments.settings import SweepSettings
from betavae_sym.validate import choice, count, positive_number

#: Metrics whose best value is the largest (the others: the smallest), for the extrema of a summary; their
#: ``train_`` and ``theory_`` versions likewise.
MAXIMIZED = {"elbo", "recon", "objective", "log_likelihood", "mig", "dci_disentanglement", "dci_completeness",
             "dci_informativeness", "active_units", "p_mig", "p_dci_disentanglement", "p_dci_completeness",
             "p_dci_informativeness"}
#: Points of the theory's population curves in a summary (log-spaced over the sweep's positive betas).
THEORY_POINTS = 200


@dataclass
class SimulateReport:
    total: int
    already_done: int
    ran: int
    diverged: int
    seconds: float
    by_others: int = 0  # tasks that other processes on the same store ran meanwhile


def simulate(settings: SweepSettings, store_path: Path, *, executor: str = "local", workers: int | None = None,
             scheduler: str | None = None, progress: bool = True, connect_timeout: float = 10.0) -> SimulateReport:
    """Train and evaluate every (beta, realization) of ``settings`` not yet in the store; write each result as
    it finishes.

    Everything is validated before anything runs: the options, the store
    (read-only), the data (the training and held-out rows and, for mixed digits,
    the theory: built here, once, and sent to the workers instead of being
    rebuilt there) and the network's sizes. The store is created only
    after the executor is up, so a bad scheduler leaves no new file.
    Interrupting loses only the tasks in flight.

    Parameters
    ----------
    settings : SweepSettings
    store_path : Path
        The SQLite results store: created if missing, resumed if made with the same settings, refused otherwise.
    executor : {"local", "dask"}
    workers : int, optional
        Worker processes (default: one per core).
    scheduler : str, optional
        Dask scheduler address (``executor="dask"`` only; default a LocalCluster).
    progress : bool
        A progress bar on standard error.
    connect_timeout : float
        Seconds to wait for the Dask scheduler.
    """
    import time

    from betavae_sym import __version__
    from betavae_sym.experiments.executors import DaskExecutor, LocalExecutor, run_claimed
    from betavae_sym.experiments.store import Store, check_settings, create_store, read_meta
    from betavae_sym.experiments.tasks import architecture_of, make_tasks, sweep_data
    from betavae_sym.fileio import check_writable_file

    if not isinstance(settings, SweepSettings):
        raise BadInput(f"{settings!r} is not a SweepSettings (see SweepSettings.preset)", parameter="settings")
    choice(executor, "executor", ("local", "dask"))
    if scheduler is not None and executor != "dask":
        raise BadInput("a scheduler address needs the dask executor", parameter="scheduler")
    if workers is not None:
        count(workers, "workers")
    positive_number(connect_timeout, "connect_timeout")
    store_path = Path(store_path)
    check_writable_file(store_path, "store")
    identity, digest = settings.identity(), settings.settings_hash
    exists = store_path.exists()
    if exists:
        check_settings(store_path, read_meta(store_path), identity, digest)
    data = sweep_data(settings)
    architecture_of(settings.training, data.split.train.N)
    tasks = make_tasks(settings)
    start = time.perf_counter()
    if executor == "dask":
        runner = DaskExecutor(scheduler, workers, timeout=connect_timeout, dataset=data)
    else:
        runner = LocalExecutor(workers, data)
    store = None
    bar = None
    ran = diverged = 0
    try:
        if not exists:
            store_path.parent.mkdir(parents=True, exist_ok=True)
            if not create_store(store_path, identity, digest, __version__):  # another process was first
                check_settings(store_path, read_meta(store_path), identity, digest)
        store = Store(store_path, digest)
        already_done = len(store.finished_ids() & {task.task_id for task in tasks})
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), initial=already_done, unit="task", file=sys.stderr,
                       desc=settings.dataset.dataset, dynamic_ncols=True)
        # tasks are claimed in the store, so that other processes on the same store share them
        for step in run_claimed(tasks, store, runner):
            if step.result is not None:
                ran += 1
                diverged += step.result["status"] != "done"
                if bar is not None:
                    bar.set_postfix(beta=f"{step.result['beta']:g}", r=step.result["realization"])
            if bar is not None:
                bar.update(step.done - bar.n)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
        runner.close()
    return SimulateReport(total=len(tasks), already_done=already_done, ran=ran, diverged=diverged,
                          seconds=time.perf_counter() - start,
                          by_others=len(tasks) - already_done - ran)


@dataclass
class SweepOutput:
    """What :func:`run_sweeps` made for one dataset."""

    dataset: str
    store: Path
    report: SimulateReport
    summary: dict
    files: list[Path]


def _step(progress: bool, text: str) -> None:
    """A step without a progress bar of its own, named on standard error (seconds each; the training has a bar)."""
    if progress:
        sys.stderr.write(text + " ...\n")
        sys.stderr.flush()


def sweep_store_path(out_dir: Path, dataset: str, label: str) -> Path:
    """The store of ``dataset`` that :func:`run_sweeps` keeps in ``out_dir``: ``<dataset>-<label>.db``."""
    return Path(out_dir) / f"{dataset}-{label}.db"


def check_sweep_stores(out_dir: Path, sweeps: Iterable[SweepSettings], *, label: str = "custom") -> list[SweepSettings]:
    """``sweeps`` as a list (one :class:`SweepSettings` per dataset), after checking every store of theirs
    that exists in ``out_dir`` (:func:`betavae_sym.experiments.store.validate_store`: readable, the same
    settings, every row's metrics and saved parameters intact).

    Run before any work, so that a damaged store is BadInput at once rather than after the other sweeps.
    """
    from betavae_sym.experiments.store import validate_store

    sweeps = list(sweeps)
    names = [settings.dataset.dataset if isinstance(settings, SweepSettings) else None for settings in sweeps]
    if None in names or len(set(names)) < len(names):
        raise BadInput("give one SweepSettings per dataset (their files share a folder)", parameter="sweeps")
    for settings in sweeps:
        store = sweep_store_path(out_dir, settings.dataset.dataset, label)
        if store.exists():
            validate_store(store, settings.identity(), settings.settings_hash)
    return sweeps


def run_sweeps(out_dir: Path, sweeps: Iterable[SweepSettings], *, label: str = "custom", executor: str = "local",
               workers: int | None = None, scheduler: str | None = None, connect_timeout: float = 10.0,
               progress: bool = True) -> dict[str, SweepOutput]:
    """:func:`simulate` then :func:`summarize` (JSON, CSV, figures) for each of ``sweeps``, all into ``out_dir``.

    ``sweeps``: one :class:`~betavae_sym.experiments.settings.SweepSettings`
    per dataset (e.g. :func:`~betavae_sym.experiments.settings.preset_sweeps`).
    Files per dataset: the store ``<dataset>-<label>.db`` (kept: a second call
    resumes it and runs only what is missing; ``reproduce`` labels it with its
    preset), ``<dataset>-summary.json`` and ``<dataset>-summary.csv`` (formats in
    the README), and the figures as PNG and SVG (``figure4``, ``figure4-rotation`` and
    ``figure4e`` for mixed-digits, ``figure5``, ``figure5-rotation`` and ``figure5e`` for
    positioned-digit; :func:`betavae_sym.experiments.figures.write_figures`). Returns ``{dataset: SweepOutput}``.

    Examples
    --------
    >>> outputs = run_sweeps(Path("report"), preset_sweeps("quick"), label="quick")     # doctest: +SKIP
    >>> outputs["mixed-digits"].summary["extrema"]["tie"]["beta"]                      # doctest: +SKIP
    """
    from betavae_sym.experiments.figures import write_figures
    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir

    sweeps = check_sweep_stores(out_dir, sweeps, label=label)  # all inputs checked first
    out_dir = ensure_writable_dir(Path(out_dir), "out_dir")
    outputs = {}
    for settings in sweeps:
        name = settings.dataset.dataset
        store = sweep_store_path(out_dir, name, label)
        _step(progress, f"{name}: building the dataset (n = {settings.dataset.n})")
        report = simulate(settings, store, executor=executor, workers=workers, scheduler=scheduler,
                          progress=progress, connect_timeout=connect_timeout)
        _step(progress, f"{name}: summary and figures")
        summary = summarize(store)
        files = [out_dir / f"{name}-summary.json", out_dir / f"{name}-summary.csv"]
        atomic_write_text(files[0], summary_json(summary))
        atomic_write_text(files[1], summary_csv(summary))
        files += write_figures(summary, store, out_dir)
        outputs[name] = SweepOutput(name, store, report, summary, files)
    return outputs


def _scalar_rows(rows: list[dict]) -> dict[str, list[float]]:
    """``name -> values over rows`` of every scalar of the records (:data:`~betavae_sym.experiments.tasks.RECORD_METRICS`
    that some row has, in that order), then ``kl_unit_j``; a null (undefined for that network) is left out."""
    from betavae_sym.experiments.tasks import RECORD_METRICS

    present = {name for row in rows for name in row["metrics"]}
    values = {name: [] for name in RECORD_METRICS if name in present}
    for row in rows:
        for name in values:
            value = row["metrics"].get(name)
            if value is not None:
                values[name].append(float(value))
        for j, value in enumerate(row["metrics"]["kl_units"]):
            values.setdefault(f"kl_unit_{j + 1}", []).append(float(value))
    return values


def _kind(name: str) -> str:
    """``"max"`` or ``"min"``: the best value of metric ``name`` (its ``train_``/``theory_`` versions alike)."""
    base = name.removeprefix("train_").removeprefix("theory_")
    return "max" if base in MAXIMIZED else "min"


def theory_betas(betas) -> np.ndarray:
    """:data:`THEORY_POINTS` log-spaced betas over the positive ones of ``betas`` (a factor 2 either side of a
    single one)."""
    positive = [beta for beta in betas if beta > 0]
    if not positive:
        return np.zeros(0)
    low, high = min(positive), max(positive)
    if low == high:
        low, high = low / 2, high * 2
    return np.logspace(math.log10(low), math.log10(high), THEORY_POINTS)


def summarize(store_path: Path) -> dict:
    """Per beta: count, and the mean, min, max, standard error of the mean and standard deviation of every
    metric; extrema; the protocol; the exact theory's curves (mixed digits).

    Returns the summary document (JSON-ready; format in the README). Only
    finished, non-diverged tasks enter the statistics; ``diverged`` counts the others.
    Statistics are taken over realizations in index order, so the same rows give the same numbers.
    ``theory`` (mixed digits): :meth:`betavae_sym.experiments.theory.DatasetTheory.population` on
    :func:`theory_betas` of the grid, for the data as fed to the networks (this builds the sweep's data,
    seconds, unless this process holds it).
    """
    from betavae_sym.data.synthetic import DatasetSpec
    from betavae_sym.experiments.settings import MetricsSpec, TrainingSpec
    from betavae_sym.experiments.store import read_rows
    from betavae_sym.experiments.tasks import SWEEP_DATA

    meta, rows = read_rows(store_path)
    if not rows:
        raise BadInput(f"--store: '{store_path}' has no finished task yet; run 'betavae-sym simulate' first")
    betas = sorted({row["beta"] for row in rows})
    metrics: dict[str, dict[str, list]] = {}
    spread: dict[str, dict[str, list]] = {}
    counts, diverged = [], []
    names = list(_scalar_rows([row for row in rows if row["status"] == "done"]))
    for beta in betas:
        good = [row for row in rows if row["beta"] == beta and row["status"] == "done"]
        counts.append(len(good))
        diverged.append(sum(1 for row in rows if row["beta"] == beta and row["status"] != "done"))
        at_beta = _scalar_rows(good)
        for name in names:
            entry = metrics.setdefault(name, {"mean": [], "min": [], "max": [], "sem": []})
            sd = spread.setdefault(name, {"sd": []})["sd"]
            v = np.array(at_beta.get(name, []))
            entry["mean"].append(float(v.mean()) if v.size else math.nan)
            entry["min"].append(float(v.min()) if v.size else math.nan)
            entry["max"].append(float(v.max()) if v.size else math.nan)
            sd.append(float(v.std(ddof=1)) if v.size > 1 else math.nan)
            entry["sem"].append(sd[-1] / math.sqrt(v.size) if v.size > 1 else math.nan)
    extrema = {}
    for name, entry in metrics.items():
        mean = np.array(entry["mean"], dtype=float)
        if np.all(np.isnan(mean)):
            continue
        kind = _kind(name)
        best = int(np.nanargmax(mean) if kind == "max" else np.nanargmin(mean))
        extrema[name] = {"kind": kind, "beta": betas[best], "value": float(mean[best]),
                         "interior": 0 < best < len(betas) - 1}
    settings = meta["settings"]
    dataset, heldout = DatasetSpec.from_json(settings["dataset"]), MetricsSpec.from_json(settings["metrics"]).heldout
    training = TrainingSpec.from_json(settings["training"])
    done = [count_ for count_ in counts if count_ > 0] or [0]
    summary = {"dataset": dataset.dataset, "settings_hash": meta["settings_hash"], "settings": settings,
               "betas": betas, "count": counts, "diverged": diverged,
               "evaluation": {"heldout": heldout, "train_rows": min(dataset.n, heldout)},
               "protocol": {"n": dataset.n, "epochs": training.epochs, "batch_size": training.batch_size,
                            "realizations": [min(done), max(done)], "heldout": heldout},
               "metrics": metrics, "spread": spread, "extrema": extrema}
    if dataset.dataset == "mixed-digits":
        theory = SWEEP_DATA.get(dataset, heldout).theory
        grid = theory_betas(betas)
        summary["theory"] = {"betas": grid.tolist(),
                             "population": theory.population(grid) if grid.size else {},
                             "data": theory.description}
    return summary


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


#: Columns of :func:`summary_table` (those the summary has).
TABLE_COLUMNS = ("elbo", "train_elbo", "theory_elbo", "tie", "tie_rotation", "theory_tie", "kl", "mie",
                 "active_units", "mig", "p_axes_angle_deg")


def summary_table(summary: dict, names=TABLE_COLUMNS) -> str:
    """A fixed-width text table of the means (± standard error) per beta, and the extrema."""
    names = [name for name in names if name in summary["metrics"]
             and any(isinstance(m, float) and math.isfinite(m) for m in summary["metrics"][name]["mean"])]
    evaluation = summary["evaluation"]
    lines = [f"{summary['dataset']}: {sum(summary['count'])} finished tasks over {len(summary['betas'])} beta values"
             f" ({sum(summary['diverged'])} diverged); nats per example, mean ± s.e. over realizations, on "
             f"{evaluation['heldout']} held-out rows (train_*: the first {evaluation['train_rows']} training rows; "
             "theory_*: the exact linear optimum on the held-out rows)"]
    lines.append(f"{'beta':>9} {'R':>4} " + " ".join(f"{name:>20}" for name in names))
    for i, beta in enumerate(summary["betas"]):
        cells = []
        for name in names:
            m, s = summary["metrics"][name]["mean"][i], summary["metrics"][name]["sem"][i]
            cells.append(f"{m:>11.7g} ± {s:<6.2g}" if math.isfinite(s) else f"{m:>20.7g}")
        lines.append(f"{beta:>9.4g} {summary['count'][i]:>4} " + " ".join(f"{c:>20}" for c in cells))
    for name in ("elbo", "tie", "mie"):
        if name in summary["extrema"]:
            e = summary["extrema"][name]
            lines.append(f"{name} {e['kind']} at beta = {e['beta']:.4g} ({e['value']:.6g})"
                         + ("" if e["interior"] else " (at the edge of the grid)"))
    return "\n".join(lines) + "\n"

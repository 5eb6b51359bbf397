"""Run a sweep into a store (resumable), and summarize a store per beta."""

from __future__ import annotations

import csv
import io
import math
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

    betas = list(betas)
    if not betas:
        raise BadInput("--betas: the beta list is empty; give e.g. 0.5,1,2 or 0.1:4:9")
    store_path = Path(store_path)
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


def _scalar_rows(rows: list[dict]) -> dict[str, list[float]]:
    values = {name: [] for name in SCALAR_METRICS}
    for row in rows:
        for name in SCALAR_METRICS:
            values[name].append(float(row["metrics"][name]))
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

"""The scale section as a log-log figure (matplotlib, Agg; PNG and SVG)."""

from __future__ import annotations

import io
from pathlib import Path

from betavae_sym.fileio import atomic_write_bytes

#: Panels of the figure: (title, x label, y label, series of the scale section).
PANELS = (
    ("(A) analytic solve against N (k = 2)", "N", "seconds per solve",
     ("analytic_numeric_vs_N", "analytic_closed_form_vs_N")),
    ("(B) analytic solve against k", "k", "seconds per solve",
     ("analytic_numeric_vs_k", "analytic_closed_form_vs_k")),
    ("(C) training epoch against N", "N (input width)", "seconds per epoch", ("epoch_vs_N",)),
    ("(D) training epoch against batch size", "batch size", "seconds per epoch", ("epoch_vs_batch_size",)),
    ("(E) training epoch against R", "R (stacked realizations)", "seconds per epoch", ("epoch_vs_realizations",)),
)

_LABELS = {"analytic_numeric_vs_N": "numeric", "analytic_closed_form_vs_N": "closed form",
           "analytic_numeric_vs_k": "numeric", "analytic_closed_form_vs_k": "closed form",
           "epoch_vs_N": "ours", "epoch_vs_batch_size": "ours", "epoch_vs_realizations": "ours"}


def scale_figure(document: dict):
    """Five log-log panels of the ``scale`` records of a bench document (median, min-max bars, fitted slope).

    The sixth panel names the machine and the load average. Returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

    rows = [m for m in document["measurements"] if m["section"] == "scale"]
    figure = Figure(figsize=(13, 7.5))
    axes = figure.subplots(2, 3).ravel()
    for ax, (title, xlabel, ylabel, names) in zip(axes, PANELS):
        ticks = set()
        for name in names:
            points = sorted((r for r in rows if r["series"] == name), key=lambda r: r["x"])
            if not points:
                continue
            xs = [r["x"] for r in points]
            ticks.update(xs)
            medians = [r["median"] for r in points]
            below = [r["median"] - r["min"] for r in points]
            above = [r["max"] - r["median"] for r in points]
            slope = points[0].get("slope")
            label = _LABELS.get(name, name) + (f" (slope {slope:.2f})" if slope is not None else "")
            ax.errorbar(xs, medians, yerr=[below, above], marker="o", capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if ticks:  # the measured sizes as plain numbers on the x axis
            ax.xaxis.set_major_locator(FixedLocator(sorted(ticks)))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    machine = document.get("machine", {})
    config = document.get("config", {})
    info = [f"{machine.get('cpu_model')}", f"{machine.get('nproc')} cores, {machine.get('memory_gib')} GiB",
            f"load average at start {_load(machine.get('load_average_start'))}",
            f"load average at end {_load(machine.get('load_average_end'))}",
            f"{config.get('repeats')} run(s) per point; {config.get('dtype')}; n = {config.get('n')} examples/epoch",
            f"training threads: {config.get('threads') or 'library defaults'}",
            "median, bars min-max; slope = log-log least squares"]
    axes[-1].axis("off")
    axes[-1].text(0.0, 1.0, "\n".join(info), va="top", fontsize=9, transform=axes[-1].transAxes, wrap=True)
    figure.suptitle("betavae-sym bench: how the cost grows")
    figure.tight_layout()
    return figure


def _load(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "?"


def save_scale_plot(document: dict, folder: Path) -> list[Path]:
    """Write ``folder/bench_scale.png`` and ``.svg`` (atomic writes); returns both paths."""
    figure = scale_figure(document)
    written = []
    for suffix in ("png", "svg"):
        target = Path(folder) / f"bench_scale.{suffix}"
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix, dpi=120)
        atomic_write_bytes(target, buffer.getvalue())
        written.append(target)
    return written

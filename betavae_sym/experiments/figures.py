"""Figures 4 and 5 of the paper from a sweep summary (matplotlib, Agg; each figure as PNG and SVG).

* :func:`plot_beta_sweep`: ELBO, TIE, reconstruction and KL against beta
  (panels A-D), mean solid, min and max dashed, a dashed vertical line at the
  panel's extremum (maximum of ELBO and reconstruction, minimum of TIE and KL)
  when it lies inside the grid. ``overlay`` adds another curve per panel (the
  analytic model's prediction on Figure 4: the ``records`` of the analytic
  sweep for the same A, ``[{"beta", "elbo", "tie", "recon", "kl", ...}, ...]``).
  The overlay is on the deep model's scale only when both see the same data:
  the deep sweep trains on standardized pixels by default, the analytic model
  on x = A s + sigma_eta eta itself; compare with ``--no-standardize`` sweeps, or
  solve the analytic model for the standardized mixing.
* :func:`plot_traversals`: Figures 4E and 5E, decoded images over a grid of the
  two latent units, in prior standard deviations (rows: unit 1 held fixed,
  columns: unit 2 sweeping), for the smallest and the largest beta, in raw
  pixels (the standardization undone).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

#: Panels of Figures 4 and 5 A-D: (metric, title, extremum kind).
PANELS = (("elbo", "(A) ELBO", "max"), ("tie", "(B) TIE", "min"),
          ("recon", "(C) Reconstruction objective", "max"), ("kl", "(D) KL (conditional independence loss)", "min"))
#: Latent values of a traversal (prior standard deviations).
TRAVERSAL = np.linspace(-2.5, 2.5, 7)
#: Per dataset: the file stem of its panels A-D and their title (the paper's figure number, as in the report).
FIGURE_TITLES = {"mixed-digits": ("figure4", "Figure 4 A–D: mixed digits"),
                 "positioned-digit": ("figure5", "Figure 5 A–D: positioned digit")}
#: Per dataset: the title of its traversals (panel E).
TRAVERSAL_TITLES = {"mixed-digits": "Figure 4E: mixed digits", "positioned-digit": "Figure 5E: positioned digit"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> list[Path]:
    """Write ``fig`` as ``path`` with suffix .png and .svg (atomically); return both paths."""
    from betavae_sym.fileio import atomic_write_bytes

    written = []
    for fmt in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
        target = Path(path).with_suffix(f".{fmt}")
        atomic_write_bytes(target, buffer.getvalue())
        written.append(target)
    _pyplot().close(fig)
    return written


def overlay_series(overlay) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``metric -> (betas, values)`` from analytic ``records`` (a list of dicts with ``beta``), a document
    with ``records``, or an already split ``{metric: (betas, values)}``."""
    if overlay is None:
        return {}
    if isinstance(overlay, dict) and "records" in overlay:
        overlay = overlay["records"]
    if isinstance(overlay, dict):
        return {name: (np.asarray(b, dtype=float), np.asarray(v, dtype=float)) for name, (b, v) in overlay.items()}
    records = sorted(overlay, key=lambda record: record["beta"])
    betas = np.array([record["beta"] for record in records], dtype=float)
    return {name: (betas, np.array([np.nan if record.get(name) is None else record[name] for record in records],
                                   dtype=float))
            for name, _, _ in PANELS if any(name in record for record in records)}


def _beta_axis(ax, betas: np.ndarray) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if np.all(betas > 0) and betas.max() / betas.min() > 8:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        if len(betas) <= 9:  # label the grid itself
            ax.xaxis.set_major_locator(FixedLocator(betas))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("β")


def plot_beta_sweep(summary: dict, path: Path, *, title: str, overlay=None,
                    overlay_label: str = "analytic model") -> list[Path]:
    """Panels A-D of Figure 4 / 5 from a summary (see ``sweep.summarize``).

    Parameters
    ----------
    summary : dict
        ``betas``, ``count`` and ``metrics[name]["mean" | "min" | "max"]``.
    path : Path
        The figure to write, as ``path.png`` and ``path.svg``.
    title : str
    overlay : list of dict, or dict, optional
        Another curve per panel, dotted, labelled ``overlay_label``: analytic
        ``records`` ``[{"beta", "elbo", "tie", "recon", "kl", ...}]`` (the JSON
        of ``betavae-sym analytic``, or that whole document), or ``{metric: (betas, values)}``.

    Returns
    -------
    list of Path
        The PNG and the SVG.
    """
    plt = _pyplot()
    betas = np.array(summary["betas"], dtype=float)
    series = overlay_series(overlay)
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), constrained_layout=True)
    for ax, (name, label, kind) in zip(axes.ravel(), PANELS):
        stats = summary["metrics"][name]
        ax.plot(betas, stats["mean"], "-o", color="C0", ms=3, label="mean")
        ax.plot(betas, stats["min"], "--", color="C0", lw=0.8, label="min / max")
        ax.plot(betas, stats["max"], "--", color="C0", lw=0.8)
        mean = np.array(stats["mean"], dtype=float)
        if np.any(np.isfinite(mean)):
            best = int(np.nanargmax(mean) if kind == "max" else np.nanargmin(mean))
            if 0 < best < len(betas) - 1:
                ax.axvline(betas[best], ls="--", color="gray", lw=1, label=f"{kind} at β = {betas[best]:.3g}")
        if name in series:
            ob, ov = series[name]
            ax.plot(ob, ov, ":", color="C3", lw=1.5, label=overlay_label)
        _beta_axis(ax, betas)
        ax.set_ylabel("nats per example")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=7)
    low, high = min(summary["count"]), max(summary["count"])
    counts = f"{low}" if low == high else f"{low}–{high}"
    fig.suptitle(f"{title}\n{counts} realizations per β; mean solid, min/max dashed", fontsize=10)
    return _save(fig, path)


def traversal_grid(model, dataset, alignment: dict | None = None, values=TRAVERSAL) -> np.ndarray:
    """Decoded images over ``values x values`` of the first two (aligned) units, others at 0.

    Returns
    -------
    ndarray, (len(values) * H, len(values) * W)
        Raw pixels; row i holds unit 1 at ``values[i]``, column j unit 2 at ``values[j]``.
    """
    k = model.architecture.k
    perm = (alignment or {}).get("perm", list(range(k)))
    signs = (alignment or {}).get("signs", [1.0] * k)
    m = len(values)
    Z = np.zeros((m * m, k))
    first, second = perm[0], perm[1] if k > 1 else None
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            Z[i * m + j, first] = signs[0] * a
            if second is not None:
                Z[i * m + j, second] = signs[1] * b
    images = np.asarray(model.decode(Z[None])[0], dtype=np.float64)
    if dataset.standardization is not None:
        images = dataset.standardization.invert(images)
    H, W = dataset.image_shape
    return images.reshape(m, m, H, W).transpose(0, 2, 1, 3).reshape(m * H, m * W)


def plot_traversals(panels: list[tuple[float, np.ndarray]], path: Path, *, title: str,
                    values=TRAVERSAL) -> list[Path]:
    """Figures 4E and 5E: one mosaic per beta, ``panels = [(beta, traversal_grid), ...]``; PNG and SVG of ``path``.

    Grey levels span the 0.5th to 99.5th percentile of each mosaic (the
    decoder's outputs are not confined to the pixel range)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 5), constrained_layout=True, squeeze=False)
    for ax, (beta, grid) in zip(axes[0], panels):
        m = len(values)
        low, high = np.percentile(grid, [0.5, 99.5])
        ax.imshow(grid, cmap="gray", vmin=low, vmax=high if high > low else low + 1.0)
        H, W = grid.shape[0] // m, grid.shape[1] // m
        ax.set_xticks((np.arange(m) + 0.5) * W, [f"{v:.2g}" for v in values], fontsize=7)
        ax.set_yticks((np.arange(m) + 0.5) * H, [f"{v:.2g}" for v in values], fontsize=7)
        ax.set_xlabel("latent unit 2 (prior standard deviations)")
        ax.set_ylabel("latent unit 1, fixed per row (prior s.d.)")
        ax.set_title(f"β = {beta:.3g}", fontsize=10)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def traversal_models(summary: dict, store_path: Path) -> list[tuple[float, object, dict | None]]:
    """``[(beta, model, alignment), ...]`` of realization 0 at the smallest and the largest beta that kept its
    parameters (one entry when there is one such beta). BadInput naming the store and the row when saved
    parameters cannot be read or do not fit the store's network."""
    from betavae_sym.data.synthetic import DatasetSpec
    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.settings import TrainingSpec
    from betavae_sym.experiments.store import read_params, read_rows
    from betavae_sym.experiments.tasks import DATASET_CACHE, load_params

    _, rows = read_rows(store_path)
    saved = [row for row in rows if row["has_params"] and row["status"] == "done"]
    if not saved:
        return []
    N = DATASET_CACHE.get(DatasetSpec.from_json(summary["settings"]["dataset"])).N
    training = TrainingSpec.from_json(summary["settings"]["training"])
    chosen = [saved[0]] if saved[0]["beta"] == saved[-1]["beta"] else [saved[0], saved[-1]]
    models = []
    for row in chosen:
        blob, _ = read_params(store_path, row["beta"], row["realization"])
        try:
            model = load_params(training, blob, N)
        except (ValueError, KeyError) as exc:
            raise BadInput(f"'{store_path}' row beta = {row['beta']}, realization {row['realization']}: its saved "
                           f"network parameters do not fit the store's network ({exc}); remove that row and run "
                           "simulate again to recompute it, or use another store", parameter="store") from None
        models.append((row["beta"], model, row["metrics"].get("alignment")))
    return models


def write_figures(summary: dict, store_path: Path, out_dir: Path, overlay=None, models=None) -> list[Path]:
    """All figures of a store into ``out_dir``, each as PNG and SVG: ``figure4`` (mixed digits) or
    ``figure5`` (positioned digit), panels A-D, and the traversals ``figure4e`` / ``figure5e`` for the
    smallest and largest beta whose realization 0 finished (``models``, read here by
    :func:`traversal_models` unless given). Everything is read and checked before the first file is
    written. ``overlay``: see :func:`plot_beta_sweep`."""
    from betavae_sym.data.synthetic import DatasetSpec
    from betavae_sym.experiments.tasks import DATASET_CACHE

    if models is None:
        models = traversal_models(summary, store_path)
    name = summary["dataset"]
    figure, title = FIGURE_TITLES[name]
    written = plot_beta_sweep(summary, out_dir / figure, title=title, overlay=overlay)
    if models:
        dataset = DATASET_CACHE.get(DatasetSpec.from_json(summary["settings"]["dataset"]))
        panels = [(beta, traversal_grid(model, dataset, alignment)) for beta, model, alignment in models]
        written += plot_traversals(panels, out_dir / f"{figure}e",
                                   title=f"{TRAVERSAL_TITLES[name]}: latent traversals (realization 0), "
                                         "smallest and largest β")
    return written

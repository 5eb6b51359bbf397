"""Figures 4 and 5 of the paper from a sweep summary (matplotlib, Agg; each figure as PNG and SVG).

* :func:`plot_beta_sweep`: ELBO, TIE, reconstruction and KL against beta
  (panels A-D) on the held-out rows, mean solid, min and max dashed, a dashed
  vertical line at the panel's extremum (maximum of ELBO and reconstruction,
  minimum of TIE and KL) when it lies inside the grid; beside it the mean on
  the training rows (thin, labelled "training rows (as in the paper)"); for
  mixed digits the exact linear optimum for the same data as fed to the
  networks (the summary's ``theory``: its population curve, and its value on
  the same held-out rows at the grid's betas as markers). Never another
  dataset's theory.
* :func:`plot_rotation`: the rotation panel: TIE at the best signed
  permutation and at the best rotation (with the theory's, mixed digits), and
  the angles: how far the best rotation turns the latent axes, the angle
  between the latent axes and the theory's (mixed digits), and the angle
  between the units' directions in position space (positioned digit).
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
#: Series of the rotation panel: (metric, label, colour); TIEs on the left, angles (degrees) on the right.
ROTATION_TIES = (("tie", "TIE, best signed permutation", "C0"), ("tie_rotation", "TIE, best rotation", "C1"))
ROTATION_ANGLES = (("rotation_angle_deg", "best rotation's turn beyond a signed permutation", "C1"),
                   ("reference_angle_deg", "latent axes against the exact optimum's axes", "C4"),
                   ("p_axes_angle_deg", "angle between the units' directions in position space", "C5"))
#: Per dataset: the file stem of its panels A-D and their title (the paper's figure number, as in the report).
FIGURE_TITLES = {"mixed-digits": ("figure4", "Figure 4 A–D: mixed digits"),
                 "positioned-digit": ("figure5", "Figure 5 A–D: positioned digit")}
#: Per dataset: the title of its rotation panel.
ROTATION_TITLES = {"mixed-digits": "Figure 4 data (mixed digits)", "positioned-digit": "Figure 5 data (positioned digit)"}
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


def _beta_axis(ax, betas: np.ndarray) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if np.all(betas > 0) and betas.max() / betas.min() > 8:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        if len(betas) <= 9:  # label the grid itself
            ax.xaxis.set_major_locator(FixedLocator(betas))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("β")


def _series(summary: dict, name: str, stat: str = "mean") -> np.ndarray | None:
    """The summary's ``stat`` of ``name`` per beta as floats (null -> NaN), or None when the summary has none."""
    entry = summary["metrics"].get(name)
    return None if entry is None else np.array(entry[stat], dtype=float)


def _plot_spread(ax, betas: np.ndarray, summary: dict, name: str, label: str, color: str, marker: str = "o") -> None:
    """Mean solid with markers, min and max dashed, of the held-out metric ``name``."""
    ax.plot(betas, _series(summary, name), f"-{marker}", color=color, ms=3, label=f"{label}: mean")
    ax.plot(betas, _series(summary, name, "min"), "--", color=color, lw=0.8, label=f"{label}: min / max")
    ax.plot(betas, _series(summary, name, "max"), "--", color=color, lw=0.8)


def _plot_theory(ax, summary: dict, name: str, label: str = "exact linear optimum", style: str = "-",
                 marker: str = "x") -> None:
    """The theory's population curve of ``name`` and its value on the held-out rows (``theory_<name>``) at the
    grid's betas, when the summary has them (mixed digits)."""
    theory = summary.get("theory")
    if theory is None:
        return
    population = theory["population"].get(name)
    if population is not None:
        ax.plot(theory["betas"], np.array(population, dtype=float), style, color="C3", lw=1.2,
                label=f"{label}, population")
    rows = _series(summary, f"theory_{name}")
    if rows is not None:
        ax.plot(summary["betas"], rows, marker, color="C3", ms=6, ls="none", label=f"{label}, held-out rows")


def _realizations(summary: dict) -> str:
    low, high = min(summary["count"]), max(summary["count"])
    return f"{low}" if low == high else f"{low}–{high}"


def plot_beta_sweep(summary: dict, path: Path, *, title: str) -> list[Path]:
    """Panels A-D of Figure 4 / 5 from a summary (see ``sweep.summarize`` and the module docstring).

    Parameters
    ----------
    summary : dict
        ``betas``, ``count``, ``evaluation`` and ``metrics[name]["mean" | "min" | "max"]`` for the panels'
        metrics (held out) and their ``train_`` versions; ``theory`` and ``theory_<name>`` when present.
    path : Path
        The figure to write, as ``path.png`` and ``path.svg``.
    title : str

    Returns
    -------
    list of Path
        The PNG and the SVG.
    """
    plt = _pyplot()
    betas = np.array(summary["betas"], dtype=float)
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 7), constrained_layout=True)
    for ax, (name, label, kind) in zip(axes.ravel(), PANELS):
        _plot_spread(ax, betas, summary, name, "held-out rows", "C0")
        mean = _series(summary, name)
        if np.any(np.isfinite(mean)):
            best = int(np.nanargmax(mean) if kind == "max" else np.nanargmin(mean))
            if 0 < best < len(betas) - 1:
                ax.axvline(betas[best], ls="--", color="gray", lw=1, label=f"{kind} at β = {betas[best]:.3g}")
        train = _series(summary, f"train_{name}")
        if train is not None:
            ax.plot(betas, train, "-", marker=".", color="C2", lw=0.8, ms=4, label="training rows (as in the paper)")
        _plot_theory(ax, summary, name)
        _beta_axis(ax, betas)
        ax.set_ylabel("nats per example")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=6)
    evaluation = summary["evaluation"]
    fig.suptitle(f"{title}\n{_realizations(summary)} realizations per β; {evaluation['heldout']} held-out rows: mean "
                 f"solid, min/max dashed; training rows: the first {evaluation['train_rows']}", fontsize=10)
    return _save(fig, path)


def plot_rotation(summary: dict, path: Path, *, title: str) -> list[Path]:
    """The rotation panel of a summary (module docstring): TIEs left, angles right; PNG and SVG of ``path``."""
    plt = _pyplot()
    betas = np.array(summary["betas"], dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    for name, label, color in ROTATION_TIES:
        _plot_spread(left, betas, summary, name, label, color)
    _plot_theory(left, summary, "tie", "exact optimum's TIE")
    _plot_theory(left, summary, "tie_rotation", "exact optimum's rotation TIE", style=":", marker="+")
    left.set_ylabel("nats per example")
    left.set_title("TIE at the best signed permutation and at the best rotation (held-out rows)", fontsize=9)
    for name, label, color in ROTATION_ANGLES:
        mean = _series(summary, name)
        if mean is not None and np.any(np.isfinite(mean)):
            _plot_spread(right, betas, summary, name, label, color)
    _plot_theory(right, summary, "rotation_angle_deg", "exact optimum's best-rotation turn", marker="+")
    right.set_ylabel("degrees")
    right.set_title("angles of the latent axes (held-out rows)", fontsize=9)
    for ax in (left, right):
        _beta_axis(ax, betas)
        ax.legend(fontsize=6)
    fig.suptitle(f"{title}: rotation-aware TIE and latent axes\n{_realizations(summary)} realizations per β; "
                 f"{summary['evaluation']['heldout']} held-out rows", fontsize=10)
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


def training_rows(summary: dict):
    """The training rows of a summary's sweep (this process's :class:`~betavae_sym.experiments.tasks.SweepData`,
    built unless held)."""
    from betavae_sym.data.synthetic import DatasetSpec
    from betavae_sym.experiments.tasks import SWEEP_DATA

    spec = DatasetSpec.from_json(summary["settings"]["dataset"])
    return SWEEP_DATA.get(spec, summary["evaluation"]["heldout"]).split.train


def traversal_models(summary: dict, store_path: Path) -> list[tuple[float, object, dict | None]]:
    """``[(beta, model, alignment), ...]`` of realization 0 at the smallest and the largest beta that kept its
    parameters (one entry when there is one such beta). BadInput naming the store and the row when saved
    parameters cannot be read or do not fit the store's network."""
    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.settings import TrainingSpec
    from betavae_sym.experiments.store import read_params, read_rows
    from betavae_sym.experiments.tasks import load_params

    _, rows = read_rows(store_path)
    saved = [row for row in rows if row["has_params"] and row["status"] == "done"]
    if not saved:
        return []
    N = training_rows(summary).N
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


def write_figures(summary: dict, store_path: Path, out_dir: Path, models=None) -> list[Path]:
    """All figures of a store into ``out_dir``, each as PNG and SVG: ``figure4`` (mixed digits) or
    ``figure5`` (positioned digit), panels A-D (:func:`plot_beta_sweep`); ``figure4-rotation`` /
    ``figure5-rotation`` (:func:`plot_rotation`); and the traversals ``figure4e`` / ``figure5e`` for the
    smallest and largest beta whose realization 0 finished (``models``, read here by
    :func:`traversal_models` unless given). Everything is read and checked before the first file is written."""
    if models is None:
        models = traversal_models(summary, store_path)
    panels = []
    if models:
        dataset = training_rows(summary)
        panels = [(beta, traversal_grid(model, dataset, alignment)) for beta, model, alignment in models]
    name = summary["dataset"]
    figure, title = FIGURE_TITLES[name]
    written = plot_beta_sweep(summary, out_dir / figure, title=title)
    written += plot_rotation(summary, out_dir / f"{figure}-rotation", title=ROTATION_TITLES[name])
    if panels:
        written += plot_traversals(panels, out_dir / f"{figure}e",
                                   title=f"{TRAVERSAL_TITLES[name]}: latent traversals (realization 0), "
                                         "smallest and largest β")
    return written

"""Figures 4 and 5 of the paper from a sweep summary (matplotlib, Agg, PNG).

* :func:`plot_beta_sweep`: ELBO, TIE, reconstruction and KL against beta
  (panels A-D), mean solid, min and max dashed, a dashed vertical line at the
  panel's extremum (maximum of ELBO and reconstruction, minimum of TIE and KL)
  when it lies inside the grid. ``overlay`` adds another curve per panel (the
  analytic model's prediction on Figure 4).
* :func:`plot_traversals`: Figure 5E, decoded images over a grid of the two
  latent units (rows: unit 1 held fixed, columns: unit 2 sweeping) for a small
  and a large beta, in raw pixels (the standardization undone).
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from betavae_sym.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    _pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def plot_beta_sweep(summary: dict, path: Path, *, title: str, overlay: dict | None = None,
                    overlay_label: str = "analytic model") -> Path:
    """Panels A-D of Figure 4 / 5 from a summary (see ``sweep.summarize``).

    Parameters
    ----------
    summary : dict
        ``betas`` and ``metrics[name]["mean" | "min" | "max"]``.
    path : Path
        The PNG to write.
    title : str
    overlay : dict, optional
        ``metric -> (betas, values)``, drawn as a dotted line labelled ``overlay_label``
        (e.g. ``linear.solve(A, beta)`` over a beta grid for the mixed digits).
    """
    plt = _pyplot()
    betas = np.array(summary["betas"], dtype=float)
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
        if overlay and name in overlay:
            ob, ov = overlay[name]
            ax.plot(ob, ov, ":", color="C3", lw=1.5, label=overlay_label)
        if np.all(betas > 0):
            ax.set_xscale("log")
        ax.set_xlabel("β")
        ax.set_ylabel("nats per example")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=7)
    counts = summary["count"]
    fig.suptitle(f"{title}\n{min(counts)}–{max(counts)} realizations per β; mean solid, min/max dashed",
                 fontsize=10)
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


def plot_traversals(panels: list[tuple[float, np.ndarray]], path: Path, *, title: str, values=TRAVERSAL) -> Path:
    """Figure 5E: one mosaic per beta, ``panels = [(beta, traversal_grid), ...]``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 5), constrained_layout=True, squeeze=False)
    for ax, (beta, grid) in zip(axes[0], panels):
        m = len(values)
        ax.imshow(grid, cmap="gray", vmin=min(0.0, grid.min()), vmax=max(1.0, grid.max()))
        H, W = grid.shape[0] // m, grid.shape[1] // m
        ax.set_xticks((np.arange(m) + 0.5) * W, [f"{v:.2g}" for v in values], fontsize=7)
        ax.set_yticks((np.arange(m) + 0.5) * H, [f"{v:.2g}" for v in values], fontsize=7)
        ax.set_xlabel("unit 2 (sweeps)")
        ax.set_ylabel("unit 1 (held fixed per row)")
        ax.set_title(f"β = {beta:.3g}", fontsize=10)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def write_figures(summary: dict, store_path: Path, out_dir: Path, overlay: dict | None = None) -> list[Path]:
    """All figures of a store into ``out_dir``: ``figure4.png`` (mixed digits) or ``figure5.png``
    (positioned digit), and the traversals ``figure4e.png`` / ``figure5e.png`` for the smallest and
    the largest beta whose realization 0 finished."""
    from betavae_sym.experiments.store import read_params, read_rows
    from betavae_sym.experiments.tasks import build_sweep_dataset, load_params

    name = summary["dataset"]
    figure = "figure4" if name == "mixed-digits" else "figure5"
    caption = "Figure 4: mixed digits" if name == "mixed-digits" else "Figure 5 A–D: positioned digit"
    written = [plot_beta_sweep(summary, out_dir / f"{figure}.png", title=caption, overlay=overlay)]
    _, rows = read_rows(store_path)
    saved = [row for row in rows if row["has_params"] and row["status"] == "done"]
    if saved:
        settings = summary["settings"]
        dataset = build_sweep_dataset(settings)
        chosen = [saved[0]] if len(saved) == 1 or saved[0]["beta"] == saved[-1]["beta"] else [saved[0], saved[-1]]
        panels = []
        for row in chosen:
            blob, seed = read_params(store_path, row["beta"], row["realization"])
            model = load_params(settings, blob, dataset.N)
            panels.append((row["beta"], traversal_grid(model, dataset, row["metrics"].get("alignment"))))
        written.append(plot_traversals(panels, out_dir / f"{figure}e.png",
                                       title=f"{name}: latent traversals (realization 0), small and large β"))
    return written


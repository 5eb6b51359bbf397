"""Figure 3: the optimal analytic beta-VAE against beta (matplotlib, Agg; PNG and SVG)."""

from __future__ import annotations

import io
from pathlib import Path

from betavae_sym.fileio import atomic_write_bytes

_EXTREMUM_STYLE = {"elbo_argmax": ("tab:blue", "ELBO max"), "tie_argmin": ("tab:red", "TIE min"),
                   "mie_argmin": ("tab:green", "MIE min")}


def figure3(result):
    """Four panels against beta: (A) ELBO, (B) MIE and TIE, (C) reconstruction, (D) KL; dashed lines at the extrema.

    Where the optimum is not unique, panel B shades TIE's range over the optimal set.

    ``result`` is a :class:`betavae_sym.linear.sweep.SweepResult`. All
    quantities in nats, averaged over p(x). Returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    betas = result.betas
    figure = Figure(figsize=(10, 7.5))
    axes = figure.subplots(2, 2, sharex=True)
    panels = [("A", axes[0, 0], [("elbo", "ELBO")], ["elbo_argmax"]),
              ("B", axes[0, 1], [("mie", "MIE"), ("tie", "TIE")], ["mie_argmin", "tie_argmin"]),
              ("C", axes[1, 0], [("recon", "reconstruction E[log p(x|z)]")], []),
              ("D", axes[1, 1], [("kl", "KL(q(z|x) || p(z))")], [])]
    for letter, ax, curves, extrema in panels:
        for name, label in curves:
            line, = ax.plot(betas, result.column(name), label=label)
            if name == "tie" and not all(result.column("optimum_unique")):
                ax.fill_between(betas, result.column("tie_min"), result.column("tie_max"), color=line.get_color(),
                                alpha=0.25, label="TIE over the optimal set (not unique)")
        for extremum in extrema:
            colour, label = _EXTREMUM_STYLE[extremum]
            beta = result.extrema[extremum]
            label += " (ambiguous)" if extremum in result.ambiguous else ""
            ax.axvline(beta, linestyle="--", color=colour, linewidth=1, label=f"{label}: β = {beta:.4g}")
        ax.set_title(f"({letter})", loc="left")
        ax.set_ylabel("nats (averaged over p(x))")
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("β")
    decoder = ", decoder fixed at D = A" if result.fixed_decoder else ""
    figure.suptitle(f"Analytic β-VAE at its optimum: N = {result.N}, k = {result.k}, mixing {result.mixing}{decoder}")
    figure.tight_layout()
    return figure


def save_figure3(result, path: Path) -> list[Path]:
    """Write Figure 3 as ``path`` and its PNG/SVG sibling (atomic writes); returns both paths."""
    path = Path(path)
    figure = figure3(result)
    written = []
    for suffix in (".png", ".svg"):
        target = path.with_suffix(suffix)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix[1:], dpi=150)
        atomic_write_bytes(target, buffer.getvalue())
        written.append(target)
    return written

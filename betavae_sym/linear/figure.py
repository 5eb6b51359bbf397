"""Figure 3: the optimal analytic beta-VAE against beta (matplotlib, Agg; PNG and SVG)."""

from __future__ import annotations

import io
from pathlib import Path

from betavae_sym.fileio import atomic_write_bytes

_EXTREMUM_STYLE = {"elbo_argmax": ("tab:blue", "ELBO max"), "tie_argmin": ("tab:red", "TIE min"),
                   "mie_argmin": ("tab:green", "MIE min")}


def figure3(result):
    """Four panels against beta: (A) ELBO, (B) TIE and MIE, (C) reconstruction, (D) KL; dashed lines at the extrema.

    Panel B stacks TIE over MIE, each on its own y axis (their scales differ by
    an order of magnitude, so one axis would flatten the TIE minimum).
    Where the optimum is not unique, the TIE panel shades TIE's range over the optimal set.

    ``result`` is a :class:`betavae_sym.linear.sweep.SweepResult`. All
    quantities in nats, averaged over p(x). Returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    betas = result.betas
    figure = Figure(figsize=(10, 8), layout="constrained")
    grid = figure.add_gridspec(2, 2)
    first = figure.add_subplot(grid[0, 0])
    panel_b = grid[0, 1].subgridspec(2, 1, hspace=0.0)
    axes = {"A": first, "B-tie": figure.add_subplot(panel_b[0], sharex=first),
            "B-mie": figure.add_subplot(panel_b[1], sharex=first),
            "C": figure.add_subplot(grid[1, 0], sharex=first), "D": figure.add_subplot(grid[1, 1], sharex=first)}
    panels = [("(A)", axes["A"], "elbo", "ELBO", "ELBO (nats)", "elbo_argmax"),
              ("(B)", axes["B-tie"], "tie", "TIE", "TIE (nats)", "tie_argmin"),
              (None, axes["B-mie"], "mie", "MIE", "MIE (nats)", "mie_argmin"),
              ("(C)", axes["C"], "recon", "reconstruction E[log p(x|z)]", "nats", None),
              ("(D)", axes["D"], "kl", "KL(q(z|x) || p(z))", "nats", None)]
    for title, ax, name, label, ylabel, extremum in panels:
        line, = ax.plot(betas, result.column(name), label=label)
        if name == "tie" and not all(result.column("optimum_unique")):
            ax.fill_between(betas, result.column("tie_min"), result.column("tie_max"), color=line.get_color(),
                            alpha=0.25, label="TIE over the optimal set (not unique)")
        if extremum is not None:
            colour, text = _EXTREMUM_STYLE[extremum]
            beta = result.extrema[extremum]
            text += " (ambiguous)" if extremum in result.ambiguous else ""
            ax.axvline(beta, linestyle="--", color=colour, linewidth=1, label=f"{text}: β = {beta:.4g}")
        if title is not None:
            ax.set_title(title, loc="left")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    axes["B-tie"].tick_params(labelbottom=False)
    for ax in (axes["B-mie"], axes["C"], axes["D"]):
        ax.set_xlabel("β")
    decoder = ", decoder fixed at D = A" if result.fixed_decoder else ""
    figure.suptitle(f"Figure 3: analytic β-VAE at its optimum: N = {result.N}, k = {result.k}, "
                    f"mixing {result.mixing}{decoder}; nats averaged over p(x)")
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

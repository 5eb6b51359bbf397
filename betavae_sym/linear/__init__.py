"""The analytic beta-VAE, numerically: lambdified callables, solvers, closed form, beta sweeps (README, Architecture).

Public API: :func:`solve`, :func:`closed_form` (both return a :class:`Solution`),
:func:`sweep` (a :class:`SweepResult`, Figure 3 via
:func:`betavae_sym.linear.figure.save_figure3`). Functions are compiled from the
symbolic model (:mod:`betavae_sym.linear.compiled`) when first called at a size.
"""

from betavae_sym.linear.solver import Solution, closed_form, solve
from betavae_sym.linear.sweep import SweepResult, sweep

__all__ = ["Solution", "SweepResult", "closed_form", "solve", "sweep"]

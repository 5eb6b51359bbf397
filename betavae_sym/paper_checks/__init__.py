"""paper_checks: a verdict on every claim of the paper (``betavae-sym check``).

Public API: :func:`all_checks` (id -> :class:`Check`), :func:`select`,
:func:`run_checks` (-> list of :class:`Result`), :class:`Context` (shared
symbolic / analytic / deep resources), :class:`Verdict`, :data:`STATUSES`.

This package lives inside ``betavae_sym`` (DESIGN.md sketches a top-level
``paper_checks/``) so that it is installed with the package.
"""

from betavae_sym.paper_checks.context import Context
from betavae_sym.paper_checks.core import STATUSES, Check, Result, Verdict, all_checks, run_checks, select, table

__all__ = ["Check", "Context", "Result", "STATUSES", "Verdict", "all_checks", "run_checks", "select", "table"]

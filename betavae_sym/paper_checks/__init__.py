"""paper_checks: a verdict on every claim of the paper (``betavae-sym check``).

Public API: :func:`all_checks` (id -> :class:`Check`, composed by
:mod:`~betavae_sym.paper_checks.registry`), :func:`select`,
:func:`run_checks` (-> list of :class:`Result`), :class:`Context` (shared
symbolic / analytic / deep resources), :class:`Verdict`, :data:`STATUSES`.
"""

_EXPORTS = {"Context": "context", "STATUSES": "core", "Check": "core", "Result": "core", "Verdict": "core",
            "all_checks": "registry", "run_checks": "core", "select": "registry", "table": "core"}


def __getattr__(name):  # imported lazily so that 'betavae-sym --help' stays fast
    import importlib

    if name in _EXPORTS:
        return getattr(importlib.import_module(f"betavae_sym.paper_checks.{_EXPORTS[name]}"), name)
    raise AttributeError(name)


__all__ = ["Check", "Context", "Result", "STATUSES", "Verdict", "all_checks", "run_checks", "select", "table"]

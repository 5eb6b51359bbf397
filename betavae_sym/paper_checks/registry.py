"""Every check of ``betavae-sym check``: the equation checks and the other claims, composed in one list.

Nothing registers itself: :mod:`equations` and :mod:`claims` each return their
checks; :func:`all_checks` puts them in the paper's order (equations 1-81, then
the other claims in the order declared) and refuses a duplicate id.
"""

from __future__ import annotations

import re

from betavae_sym.paper_checks import claims, equations
from betavae_sym.paper_checks.core import Check


def _order(indexed: tuple[int, Check]):
    position, check = indexed
    match = re.fullmatch(r"eq(\d+)(.*)", check.id)
    return (0, int(match.group(1)), match.group(2)) if match else (1, position, "")


def compose(*lists: list[Check]) -> dict[str, Check]:
    """The checks of ``lists`` by id, equations by number first; ValueError on a duplicate id."""
    checks = [check for checks in lists for check in checks]
    ids = [check.id for check in checks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate check id(s) {duplicates}")
    return {check.id: check for _, check in sorted(enumerate(checks), key=_order)}


def all_checks() -> dict[str, Check]:
    """Every check by id, in the paper's order (equations 1-81, then the other claims)."""
    return compose(equations.checks(), claims.checks())


def select(ids=None) -> list[Check]:
    """The checks with the given ids (all when None), in registry order; BadInput naming an unknown id."""
    from betavae_sym.errors import BadInput

    checks = all_checks()
    if not ids:
        return list(checks.values())
    unknown = [i for i in ids if i not in checks]
    if unknown:
        raise BadInput(f"unknown check id '{unknown[0]}'; 'betavae-sym check --list' shows the ids", parameter="only")
    wanted = set(ids)
    return [c for c in checks.values() if c.id in wanted]

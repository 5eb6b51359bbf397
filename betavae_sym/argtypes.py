"""Command-line helpers shared by the subcommands: argument types and text parsing.

``positive_int`` is an argparse ``type`` (argparse turns its error into one
line, exit 2). ``parse_betas`` reads the ``--betas`` text; its errors are
:class:`~betavae_sym.errors.BadInput` naming the parameter ``betas``, which the
command line reports as ``--betas``. ``given_options`` collects the options
that a settings dataclass takes.
"""

from __future__ import annotations

import argparse

BETAS_EXAMPLE = "use e.g. 0.5,1,2 or 0.05:3:200"


def positive_int(text: str) -> int:
    """An integer >= 1, e.g. ``--jobs``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def given_options(args: argparse.Namespace, names) -> dict:
    """``{name: value}`` for the options among ``names`` that ``args`` has and that were given (not None).

    Options whose defaults belong to a settings dataclass default to None on the
    command line, so that what was left out takes the dataclass's (or a preset's) value.
    """
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def parse_betas(text: str | None, *, allow_zero: bool) -> list[float]:
    """``"B,B,..."`` or ``"START:STOP:NUM"`` (NUM >= 1 evenly spaced values, both ends included) -> sorted
    distinct floats, each finite and > 0 (``>= 0`` with ``allow_zero``).

    STOP must not be below START, and NUM = 1 only with START = STOP.

    >>> parse_betas("2,0.5,1,1", allow_zero=False)
    [0.5, 1.0, 2.0]
    >>> parse_betas("0:2:5", allow_zero=True)
    [0.0, 0.5, 1.0, 1.5, 2.0]
    >>> parse_betas("0,1", allow_zero=False)
    Traceback (most recent call last):
    ...
    betavae_sym.errors.BadInput: betas: 0 in '0,1' must be a finite number > 0
    """
    import math

    import numpy as np

    from betavae_sym.errors import BadInput

    def number(part: str) -> float:
        try:
            value = float(part)
        except ValueError:
            raise BadInput(f"'{part}' in '{text}' is not a number; {BETAS_EXAMPLE}", parameter="betas") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise BadInput(f"{part} in '{text}' must be a finite number {'>= 0' if allow_zero else '> 0'}",
                           parameter="betas")
        return value

    text = (text or "").strip()
    if ":" not in text:
        betas = sorted({number(part.strip()) for part in text.split(",") if part.strip()})
        if not betas:
            raise BadInput(f"the beta list is empty; {BETAS_EXAMPLE}", parameter="betas")
        return betas
    parts = text.split(":")
    if len(parts) != 3:
        raise BadInput(f"'{text}' is not START:STOP:NUM; {BETAS_EXAMPLE}", parameter="betas")
    start, stop = number(parts[0]), number(parts[1])
    try:
        num = int(parts[2])
    except ValueError:
        raise BadInput(f"NUM '{parts[2]}' in '{text}' is not an integer", parameter="betas") from None
    if num < 1 or stop < start or (num == 1 and stop != start):
        raise BadInput(f"'{text}' needs NUM >= 1 and STOP >= START (NUM = 1 only with START = STOP)",
                       parameter="betas")
    from betavae_sym.validate import memory

    memory(100.0 * min(num, 10**20), "betas", text, what=" for the beta grid (about 100 bytes per value)")
    return sorted({float(b) for b in np.linspace(start, stop, num)})

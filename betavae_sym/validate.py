"""Validation of library inputs: one function per kind of value.

Each raises :class:`~betavae_sym.errors.BadInput` naming the parameter (its
Python name); the command line maps that name to its flag. Library functions
call these where user input enters (public functions, file readers); inside,
the types are trusted.
"""

from __future__ import annotations

import math
import numbers
import os

from betavae_sym.errors import BadInput


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def count(value, name: str, *, minimum: int = 1, maximum: int | None = None, hint: str = "") -> int:
    """An integer in ``[minimum, maximum]`` (default: at least 1), e.g. ``epochs`` or a seed (``minimum=0``).

    >>> count(3, "epochs")
    3
    >>> count(-1, "seed", minimum=0)
    Traceback (most recent call last):
    ...
    betavae_sym.errors.BadInput: seed: -1 must be an integer >= 0
    """
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadInput(f"{value!r} must be an integer {bound}" + (f"; {hint}" if hint else ""), parameter=name)
    return int(value)


def positive_number(value, name: str, *, allow_zero: bool = False, hint: str = "") -> float:
    """A finite real number > 0 (``>= 0`` with ``allow_zero``), as a float.

    >>> positive_number(1e-3, "lr")
    0.001
    >>> positive_number(float("nan"), "lr")
    Traceback (most recent call last):
    ...
    betavae_sym.errors.BadInput: lr: nan must be a finite number > 0
    """
    if not _is_real(value) or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise BadInput(f"{value!r} must be a finite number {bound}" + (f"; {hint}" if hint else ""), parameter=name)
    return float(value)


def choice(value, name: str, choices) -> str:
    """One of the names ``choices``, e.g. a dataset or a dtype.

    >>> choice("float64", "dtype", ("float32", "float64"))
    'float64'
    >>> choice("cifar", "dataset", ("mixed-digits", "positioned-digit"))
    Traceback (most recent call last):
    ...
    betavae_sym.errors.BadInput: dataset: unknown dataset 'cifar'; choose one of mixed-digits, positioned-digit
    """
    if not isinstance(value, str) or value not in choices:
        raise BadInput(f"unknown {name} {value!r}; choose one of {', '.join(choices)}", parameter=name)
    return value


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``; else free pages; None if unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def readable_bytes(nbytes: float) -> str:
    """``1.5e9`` -> ``'1.5 GB'`` (powers of 1000).

    >>> readable_bytes(16.4e6)
    '16.4 MB'
    """
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000:
            return f"{nbytes:.3g} {unit}"
        if unit == "PB":
            return f"{nbytes:,.0f} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")


def memory(nbytes: float, name: str, value, *, what: str = "") -> None:
    """Refuse ``value`` of parameter ``name`` when its estimated ``nbytes`` exceed the memory available.

    Call it before allocating, with an estimate of what the allocation needs;
    ``what`` says for what (e.g. ``" for the model"``).

    >>> memory(1e21, "n", 10**12, what=" for the dataset")
    Traceback (most recent call last):
    ...
    betavae_sym.errors.BadInput: n: 1000000000000 would need about 1,000,000 PB of memory for the dataset, ...
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise BadInput(f"{value!r} would need about {readable_bytes(nbytes)} of memory{what}, more than the "
                       f"{readable_bytes(available)} available; use a smaller value", parameter=name)

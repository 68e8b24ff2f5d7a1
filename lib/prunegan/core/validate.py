"""Argument checks that raise ``ValueError`` naming the bad value and what is allowed.

``name`` is what the message calls the value, e.g. ``"SweepConfig.trials"``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any


def check_int(name: str, value: object, minimum: int = 0, *, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` >= ``minimum`` (``None`` passes with ``allow_none``)."""
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{' or None' if allow_none else ''}, "
                         f"got {value!r}")
    return int(value)


def check_number(name: str, value: object, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False) -> float:
    """``value`` as a ``float`` in ``[low, high]`` (``(low, high]`` with ``low_open``); NaN never passes."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        parts = []
        if low != -math.inf:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high != math.inf:
            parts.append(f"<= {high:g}")
        bounds = (" " + " and ".join(parts)) if parts else ""
        raise ValueError(f"{name} must be a number{bounds}, got {value!r}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_sequence(name: str, value: object) -> tuple:
    """``value`` as a non-empty tuple (a string is not a sequence here)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    value = tuple(value)
    if not value:
        raise ValueError(f"{name} is empty; give at least one value")
    return value


def check_instance(name: str, value: Any, cls: type, what: str | None = None) -> Any:
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {what or cls.__name__}, got {value!r}")
    return value


def check_sparsity(sparsity: object, name: str = "sparsity") -> float:
    """``sparsity`` as a float, or ``ValueError`` unless it is a number in [0, 1)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real) or math.isnan(sparsity):
        raise ValueError(f"{name} must be a number in [0, 1), got {sparsity!r}")
    if not 0.0 <= float(sparsity) < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (the fraction of channels removed), got {sparsity!r}")
    return float(sparsity)


def check_sparsities(name: str, value: object) -> tuple[float, ...]:
    """A non-empty sequence of sparsities, each in [0, 1)."""
    return tuple(check_sparsity(s, f"{name} entry") for s in check_sequence(name, value))

"""Numbers as the report keeps them (rounded in results.json) and shows them (fixed decimals)."""

from __future__ import annotations

import math
from typing import Any

DECIMALS = 4  # results.json keeps, and the tables show, this many decimals


def round_values(value: Any, decimals: int = DECIMALS) -> Any:
    """Floats rounded (NaN and infinities become None), recursively through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): round_values(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_values(v, decimals) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float) or hasattr(value, "__float__"):
        number = float(value)
        return round(number, decimals) if math.isfinite(number) else None
    return value


def to_number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN, infinite)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_number(value: Any, decimals: int = DECIMALS) -> str:
    """A number with ``decimals`` fixed decimals, ``-`` when there is none."""
    number = to_number(value)
    return "-" if number is None else f"{number:.{decimals}f}"


def format_parameter(value: Any) -> str:
    """A parameter value as the prose quotes it: ``1.0`` as ``1``, ``0.5`` as ``0.5``."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def seed_values(row: dict | None, metric: str) -> list[float]:
    """The per-seed values of ``metric`` in a table row of results.json (``{mean, std,
    values}``; a bare number counts as one seed), finite ones only."""
    from krypto.evaluation.verdicts import finite_values

    value = (row or {}).get(metric)
    if isinstance(value, dict):
        if value.get("values") is not None:
            return finite_values(value["values"])
        value = value.get("mean")
    if isinstance(value, (list, tuple)):
        return finite_values(value)
    number = to_number(value)
    return [] if number is None else [number]


def mean_of(value: Any) -> float | None:
    """A cell's mean: ``mean`` of a ``{mean, std, values}`` dict, the mean of a list, or the
    number itself."""
    if isinstance(value, dict):
        return to_number(value.get("mean"))
    if isinstance(value, (list, tuple)):
        numbers = [n for n in (to_number(v) for v in value) if n is not None]
        return sum(numbers) / len(numbers) if numbers else None
    return to_number(value)

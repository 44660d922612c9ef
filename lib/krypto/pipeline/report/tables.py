"""Numbers as results.json keeps them (rounded) and as the markdown tables show them, and the
columns of those tables (report.yaml's ``metrics`` and ``run_columns``)."""

import json
from typing import Any

from krypto.evaluation.verdicts import DECIMALS, finite_values, format_mean_std, mean_std
from krypto.pipeline.report.spec import DATA, METRICS, SEED_COLUMNS

KEPT_DECIMALS = 4  # results.json keeps this many decimals; the tables show DECIMALS


def round_values(value: Any) -> Any:
    """Floats rounded to :data:`KEPT_DECIMALS` through dicts and lists, as JSON (NaN, inf: None)."""
    text = json.dumps(value, default=float)  # numpy numbers as floats
    return json.loads(
        text, parse_float=lambda n: round(float(n), KEPT_DECIMALS), parse_constant=lambda _: None
    )


def as_list(value: Any) -> list:
    """A list or tuple as a list; anything else as a list of one."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def to_number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN, infinite)."""
    numbers = finite_values([value])
    return numbers[0] if numbers else None


def format_number(value: Any, decimals: int = DECIMALS) -> str:
    """A number with ``decimals`` fixed decimals, ``-`` when there is none."""
    number = to_number(value)
    return "-" if number is None else f"{number:.{decimals}f}"


def seed_values(row: dict | None, metric: str) -> list[float]:
    """The finite per-seed values of ``metric`` in a row (``{mean, std, values}`` or a number)."""
    value = (row or {}).get(metric)
    if isinstance(value, dict):
        value = value["values"] if value.get("values") is not None else value.get("mean")
    return finite_values(as_list(value))


def _int(value: Any) -> str:
    number = to_number(value)
    return "-" if number is None else str(int(number))


def _mean_std(value: Any) -> str:
    cell = value if isinstance(value, dict) else {"mean": value}
    return format_mean_std(to_number(cell.get("mean")), to_number(cell.get("std")))


CELLS = {  # a column's kind -> how its cells read; "-" for a missing value
    "eer": format_number,  # DECIMALS decimals
    "mean_std": _mean_std,  # ``mean ± std`` of a {mean, std}; the mean alone for one seed
    "int": _int,
    "ints": lambda v: ", ".join(dict.fromkeys(map(_int, as_list(v)))) or "-",  # one per seed
    "seconds": lambda v: format_number(mean_std(as_list(v))[0], 1),  # the seeds' mean
    "text": lambda v: "-" if v is None else str(v).replace("|", "\\|"),
}


def table(rows: dict[str, dict], columns: list[tuple[str, str, str]], index: str) -> str:
    """A markdown table: one line per row; ``columns`` are (key, header, kind of :data:`CELLS`)."""
    lines = [
        "| " + " | ".join([index] + [header for _, header, _ in columns]) + " |",
        "|" + "|".join([":---"] + [":---" if k == "text" else "---:" for _, _, k in columns]) + "|",
    ]
    for name, row in rows.items():
        cells = [CELLS["text"](name)] + [CELLS[k]((row or {}).get(key)) for key, _, k in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def columns_of(rows: dict, kind: str) -> list[tuple[str, str, str]]:
    """Every column of a table's rows, in their first order, all of ``kind``."""
    return [(c, c, kind) for c in dict.fromkeys(k for row in rows.values() for k in row)]


def training_columns(rows: dict, kinds: set[str], seeded: bool = False) -> list[tuple]:
    """A trained table's columns (sections of ``kinds``): each test EER of report.yaml's
    ``metrics`` that a row has (ours or, ``seeded``, the seed's) and those kinds show, as mean ±
    std (``seeded``: the seed's number after ours where it gave one), then ``run_columns``."""
    present = {key for row in rows.values() for key in row or {}}
    columns = []
    for metric in METRICS:
        key, header = metric["key"], metric["header"]
        shown = key in present or (seeded and f"seed {key}" in present)
        if shown and set(kinds) <= set(metric.get("kinds", kinds)):
            columns.append((key, f"{header} ↓", "mean_std"))
            if seeded and key in SEED_COLUMNS:
                columns.append((f"seed {key}", f"seed {header} ↓", "eer"))
    return columns + [tuple(column) for column in DATA["run_columns"]]


def with_seed(rows: dict, seed_rows: dict) -> dict:
    """``rows`` with the seed's numbers as ``seed <column>``; a seed row we have no run for
    comes last, with the seed's numbers alone."""
    seeds = {n: {f"seed {k}": (s or {}).get(k) for k in SEED_COLUMNS} for n, s in seed_rows.items()}
    none = dict.fromkeys(f"seed {k}" for k in SEED_COLUMNS)
    out = {name: {**row, **seeds.get(name, none)} for name, row in rows.items()}
    return {**out, **{name: cells for name, cells in seeds.items() if name not in out}}

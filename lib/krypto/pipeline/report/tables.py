"""Markdown tables: cells formatted by kind, the columns of the training-run tables and the
seed's numbers beside ours."""

from __future__ import annotations

from typing import Any

from krypto.pipeline.report.seed import SEED_COLUMNS
from krypto.pipeline.report.values import DECIMALS, format_number, mean_of, to_number

# The test EERs of the training-run tables (krypto.evaluation.compare.EER_METRICS); every EER:
# lower is better.
EER_COLUMNS = ("eer_real", "eer_fake", "eer_fake_other", "eer")

# (key, header, kind): kind "eer" (a number), "mean_std" (``{mean, std}``), "int", "ints" (one
# per seed), "seconds" (the mean of the seeds') or "text"
Column = tuple[str, str, str]


def cell(value: Any, kind: str = "eer") -> str:
    """One table cell: ``eer`` 4 decimals, ``mean_std`` ``mean ± std`` (4 decimals; the mean
    alone for one seed), ``seconds`` 1 decimal (the mean of a list), ``int`` none, ``ints`` the
    per-seed integers (one when they agree), ``text`` as it is (``|`` escaped); ``-`` for a
    missing value."""
    if kind == "mean_std":
        if isinstance(value, dict):
            mean, std = to_number(value.get("mean")), to_number(value.get("std"))
            if mean is None:
                return "-"
            return f"{mean:.{DECIMALS}f}" + ("" if std is None else f" ± {std:.{DECIMALS}f}")
        return format_number(value)
    if kind == "int":
        number = to_number(value)
        return "-" if number is None else str(int(number))
    if kind == "ints":
        numbers = value if isinstance(value, (list, tuple)) else [value]
        texts = list(dict.fromkeys(cell(n, "int") for n in numbers))
        return ", ".join(texts) if texts else "-"
    if kind == "seconds":
        return format_number(mean_of(value), 1)
    if kind == "text":
        return "-" if value is None else str(value).replace("|", "\\|")
    return format_number(value)


def table(rows: dict[str, dict], columns: list[Column], index: str) -> list[str]:
    """A markdown table: one line per row; ``columns`` are (key, header, kind)."""
    lines = [
        "| " + " | ".join([index] + [header for _, header, _ in columns]) + " |",
        "|"
        + "|".join([":---"] + [":---" if kind == "text" else "---:" for _, _, kind in columns])
        + "|",
    ]
    for name, row in rows.items():
        cells = [cell(name, "text")] + [
            cell((row or {}).get(key), kind) for key, _, kind in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def eer_header(column: str) -> str:
    """The header of an EER column: lower is better."""
    return f"{column} ↓"


def run_columns(with_seed: bool) -> list[Column]:
    """The columns of a training-run table: each test EER as mean ± std over the seeds (with
    ``with_seed``, the seed's number after ours), the number of seeds, the best epoch and the
    epochs run of each seed, and the mean seconds of a seed's training."""
    columns = []
    for column in EER_COLUMNS:
        columns.append((column, eer_header(column), "mean_std"))
        if with_seed and column in SEED_COLUMNS:
            columns.append((f"seed {column}", eer_header(f"seed {column}"), "eer"))
    return columns + [
        ("n_seeds", "seeds", "int"),
        ("best_epoch", "best epoch", "ints"),
        ("epochs_run", "epochs", "ints"),
        ("seconds", "seconds", "seconds"),
    ]


def with_seed(rows: dict, seed_rows: dict) -> dict:
    """``rows`` with the seed's numbers as ``seed <column>``; a seed row we have no run for
    comes last, with the seed's numbers alone."""
    out = {}
    for name, row in rows.items():
        seed = seed_rows.get(name) or {}
        out[name] = {**row, **{f"seed {k}": seed.get(k) for k in SEED_COLUMNS}}
    for name, seed in seed_rows.items():
        if name not in out:
            out[name] = {f"seed {k}": seed.get(k) for k in SEED_COLUMNS}
    return out

"""Tables of finished training runs side by side: best-epoch metrics and per-epoch curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from krypto import constants as C
from krypto.pipeline.results import read_metrics
from krypto.paths import resolve_path

TABLE_COLUMNS = ("eer_real", "eer_fake", "eer_fake_other", "eer", "best_epoch", "epochs_run",
                 "seconds")


def compare_runs(train_runs: dict[str, str]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(table with one row per run, {run name: its epochs.csv}) for ``{name: run folder}``."""
    if not train_runs:
        raise ValueError("train_runs is empty: give {name: 02_train run folder}")
    rows, epochs = {}, {}
    for name, folder in train_runs.items():
        metrics = read_metrics(folder)
        rows[name] = {k: metrics.get(k) for k in TABLE_COLUMNS}
        epochs[name] = pd.read_csv(resolve_path(folder) / C.EPOCHS_FILE)
    table = pd.DataFrame(rows).T
    table.index.name = "run"
    return table, epochs


def best_row(table: pd.DataFrame, metric: str = "eer") -> str:
    """The run with the lowest ``metric``."""
    return str(pd.to_numeric(table[metric]).idxmin())


def comparison_figures(table: pd.DataFrame, epochs: dict[str, pd.DataFrame], title: str,
                       out: Path, metrics=("eer_real", "eer_fake", "eer")) -> dict[str, str]:
    """Per-epoch curves of each of ``metrics`` and the best-epoch bars, saved in ``out``;
    returns {figure: file name}."""
    from krypto.evaluation.plots import metric_bars, metric_per_epoch

    figures = {}
    for metric in metrics:
        figures[metric] = f"{metric}_per_epoch.png"
        metric_per_epoch(epochs, metric, title=f"{title}: {metric} per epoch",
                         path=out / figures[metric])
    figures["bars"] = "eer_bars.png"
    metric_bars(table, title=f"{title} (best epoch)", path=out / figures["bars"])
    return figures

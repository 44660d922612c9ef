"""Training configurations side by side, over their seeds: the held-out test EERs of each seed
(mean ± std), the per-epoch validation curves, and the verdicts of
:mod:`krypto.evaluation.verdicts` between them.

A configuration is a folder: either one finished 02_train run (it holds ``metrics.json``: one
seed) or a folder of them, one per seed, ``seed0/``, ``seed1/``, ... Every finished run holds
``metrics.json`` (the best epoch, chosen on the validation pairs), ``epochs.csv`` (validation
EERs per epoch) and ``test_metrics.json`` (the official EERs on the held-out test pairs, never
used for any choice): tables report the test EERs, curves show validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from krypto import constants as C
from krypto.evaluation.plots import metric_bars, metric_per_epoch
from krypto.evaluation.verdicts import (
    LowestVerdict,
    compare,
    decided_together,
    format_mean_std,
    lowest,
    mean_std,
    single_model,
)
from krypto.paths import display_path, resolve_path
from krypto.run_folder import read_metrics, read_test_metrics, seed_runs

EER_METRICS = ("eer_real", "eer_fake", "eer_fake_other", "eer")  # test_metrics.json; lower: better
RUN_COLUMNS = ("best_epoch", "epochs_run", "seconds")  # metrics.json, per seed
SHOWN_COLUMNS = (*EER_METRICS, "n_seeds", *RUN_COLUMNS)  # Comparison.shown


@dataclass
class Comparison:
    """What :func:`compare_runs` reads, per configuration name.

    ``values``: ``{name: {metric: [per-seed value]}}`` for :data:`EER_METRICS` (test) and
    :data:`RUN_COLUMNS` (training); ``seeds``: ``{name: [seed run folder]}``; ``epochs``:
    ``{name: epochs.csv of every seed, with a "seed" column (the seed's folder name)}``;
    ``test``: ``{name: [per-seed {"n_pairs", "source"}]}``; ``table``: one row per configuration
    (see :meth:`make_table`)."""

    values: dict[str, dict[str, list]]
    seeds: dict[str, list[Path]]
    epochs: dict[str, pd.DataFrame]
    test: dict[str, list[dict]]
    table: pd.DataFrame

    @staticmethod
    def make_table(values: dict[str, dict[str, list]]) -> pd.DataFrame:
        """Per configuration: each metric as ``mean ± std`` text (for display), then numeric
        ``<metric>_mean`` and ``<metric>_std`` (ddof=1; NaN for one seed), ``n_seeds``, the best
        epoch and epochs run of each seed (text; one number when the seeds agree) and the mean
        ``seconds`` of a seed."""
        rows = {}
        for name, metrics in values.items():
            row = {}
            for metric in EER_METRICS:
                mean, std = mean_std(metrics.get(metric, []))
                row[metric] = format_mean_std(mean, std)
                row[f"{metric}_mean"] = mean
                row[f"{metric}_std"] = std
            row["n_seeds"] = len(metrics.get("eer", []))
            for column in ("best_epoch", "epochs_run"):
                texts = ["-" if v is None else str(int(v)) for v in metrics.get(column, [])]
                row[column] = texts[0] if len(set(texts)) == 1 else ", ".join(texts)
            row["seconds"] = mean_std(metrics.get("seconds", []))[0]
            rows[name] = row
        table = pd.DataFrame.from_dict(rows, orient="index")
        numeric = [c for c in table.columns if c.endswith(("_mean", "_std"))] + ["seconds"]
        table[numeric] = table[numeric].astype(float)
        table.index.name = "run"
        return table

    @property
    def shown(self) -> pd.DataFrame:
        """The table as the notebooks display it: ``mean ± std`` per metric, seeds, epochs."""
        return self.table[list(SHOWN_COLUMNS)]

    def metric_values(self, metric: str = "eer") -> dict[str, list]:
        """``{name: per-seed values of metric}``."""
        return {name: list(metrics[metric]) for name, metrics in self.values.items()}

    def lowest(self, metric: str = "eer") -> LowestVerdict:
        """:func:`~krypto.evaluation.verdicts.lowest` over the per-seed test values."""
        return lowest(self.metric_values(metric))

    def versus(self, reference: str, metrics=EER_METRICS) -> pd.DataFrame:
        """Every other configuration against ``reference`` on each of ``metrics``: ``lower``,
        ``higher`` or ``undecided`` by the rule (:meth:`~.verdicts.Verdict.short`)."""
        if reference not in self.values:
            raise KeyError(f"no configuration {reference!r} (have {', '.join(self.values)})")
        rows = {
            name: {
                metric: compare(self.values[name][metric], self.values[reference][metric]).short()
                for metric in metrics
            }
            for name in self.values
            if name != reference
        }
        table = pd.DataFrame.from_dict(rows, orient="index", columns=list(metrics))
        table.index.name = f"against {reference}"
        return table

    def decide(self, reference: str, metrics=("eer",)) -> tuple[pd.DataFrame, LowestVerdict]:
        """:meth:`versus` ``reference`` on ``metrics`` and :meth:`lowest` on ``eer``, decided
        together (Holm's adjustment over their distinct comparisons)."""
        return decided_together(lambda: (self.versus(reference, metrics), self.lowest("eer")))[0]

    def one_model(self, name: str) -> bool:
        """Every seed of ``name`` is one model: none improved on its start (best epoch 0) and
        their values are identical; it counts as one model, not as seeds."""
        values = self.values[name]
        best = values.get("best_epoch") or []
        return len(best) >= 2 and all(b == 0 for b in best) and single_model(values["eer"])

    def records(self) -> dict[str, dict]:
        """The table as results.json keeps it: per configuration ``n_seeds``, ``seeds`` (folder
        names), each EER as ``{mean, std, values}`` (values per seed, in the order of
        ``seeds``), ``best_epoch``, ``epochs_run`` and ``seconds`` per seed, ``n_pairs`` (test
        pairs per seed) and ``one_model`` (:meth:`one_model`)."""
        out = {}
        for name, metrics in self.values.items():
            folder = self.seeds[name]
            row = {"n_seeds": len(folder), "seeds": [run.name for run in folder]}
            for metric in EER_METRICS:
                mean, std = mean_std(metrics[metric])
                row[metric] = {"mean": mean, "std": std, "values": list(metrics[metric])}
            for column in RUN_COLUMNS:
                row[column] = list(metrics[column])
            row["n_pairs"] = [t.get("n_pairs") for t in self.test[name]]
            row["one_model"] = self.one_model(name)
            out[name] = row
        return out

    def test_pairs(self) -> list[str]:
        """The test pairs folders the EERs come from (``source`` of test_metrics.json), each
        once."""
        sources = (t.get("source") for runs in self.test.values() for t in runs)
        return list(dict.fromkeys(str(s) for s in sources if s is not None))


def compare_runs(train_runs: dict[str, str | Path]) -> Comparison:
    """Read ``{name: configuration folder}`` (a 02_train run folder, or a folder of its seeds):
    every seed's test EERs, best epoch, epochs run and seconds, and its per-epoch validation
    EERs; see :class:`Comparison`."""
    if not train_runs:
        raise ValueError("train_runs is empty: give {name: 02_train run folder}")
    values, seeds, epochs, test = {}, {}, {}, {}
    for name, folder in train_runs.items():
        folder = resolve_path(folder)
        runs = seed_runs(folder)
        seeds[name] = runs
        metrics = {k: [] for k in (*EER_METRICS, *RUN_COLUMNS)}
        frames, tests = [], []
        for run in runs:
            scores = read_test_metrics(run)
            missing = [m for m in EER_METRICS if m not in scores]
            if missing:
                raise KeyError(
                    f"{display_path(run / C.TEST_METRICS_FILE)} lacks {', '.join(missing)}"
                )
            trained = read_metrics(run)
            for metric in EER_METRICS:
                metrics[metric].append(scores[metric])
            for column in RUN_COLUMNS:
                metrics[column].append(trained.get(column))
            tests.append({"n_pairs": scores.get("n_pairs"), "source": scores.get("source")})
            frames.append(pd.read_csv(run / C.EPOCHS_FILE).assign(seed=run.name))
        values[name], test[name] = metrics, tests
        epochs[name] = pd.concat(frames, ignore_index=True)
    return Comparison(
        values=values, seeds=seeds, epochs=epochs, test=test, table=Comparison.make_table(values)
    )


def best_row(table: pd.DataFrame, metric: str = "eer") -> str:
    """The configuration with the lowest mean ``metric`` (``<metric>_mean`` when the table has
    it); whether it is clearly lowest is :meth:`Comparison.lowest`'s to say."""
    column = f"{metric}_mean" if f"{metric}_mean" in table else metric
    return str(pd.to_numeric(table[column]).idxmin())


def comparison_figures(
    comparison: Comparison, title: str, out: Path, metrics=("eer_real", "eer_fake", "eer")
) -> dict[str, str]:
    """Per-epoch validation curves of each of ``metrics`` (mean over seeds, min-max band) and
    the bars of the test EERs (mean, std over seeds, the seeds as points), saved in ``out``;
    returns {figure: file name}."""
    figures = {}
    for metric in metrics:
        figures[metric] = f"{metric}_per_epoch.png"
        metric_per_epoch(
            comparison.epochs,
            metric,
            title=f"{title}: validation {metric} per epoch",
            path=Path(out) / figures[metric],
        )
    figures["bars"] = "eer_bars.png"
    metric_bars(comparison.values, title=f"{title} (test pairs)", path=Path(out) / figures["bars"])
    return figures

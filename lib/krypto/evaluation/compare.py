"""Training configurations side by side over their seeds (a configuration is one finished
02_train run or a folder of them, ``seed<k>/``): every held-out test EER the runs have as mean ±
std, the per-epoch validation curves, and the verdicts of :mod:`krypto.evaluation.verdicts`."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from krypto import constants as C
from krypto.evaluation import verdicts as VR
from krypto.evaluation.plots import metric_bars, metric_per_epoch
from krypto.paths import display_path, resolve_path
from krypto.run_folder import read_metrics, read_test_metrics, seed_runs

EER_METRICS = ("eer_real", "eer_fake", "eer_fake_other", "eer")  # every run has; lower: better
RUN_COLUMNS = ("best_epoch", "epochs_run", "seconds")  # metrics.json, per seed
TEST_COLUMNS = ("n_pairs", "source")  # test_metrics.json, per seed


def eer_keys(scores: dict) -> list[str]:
    """The EERs of a run's test scores: ``eer``, ``eer_<kind>``, ``<variant>_eer[_<kind>]``."""
    return [k for k, v in scores.items() if "eer" in k.split("_") and v is not None]


def heldout_scores(run: Path) -> dict:
    """A run's ``test_metrics.json``; a ``KeyError`` naming it when an :data:`EER_METRICS` lacks."""
    scores = read_test_metrics(run)
    missing = [m for m in EER_METRICS if m not in scores]
    if missing:
        raise KeyError(f"{display_path(run / C.TEST_METRICS_FILE)} lacks {', '.join(missing)}")
    return scores


@dataclass
class Comparison:
    """What :func:`compare_runs` reads, per configuration name: ``values``, ``{name: {column:
    [per-seed value]}}`` of its test EERs, :data:`RUN_COLUMNS` and :data:`TEST_COLUMNS`;
    ``seeds``, ``{name: [seed run folder]}``; ``epochs``, ``{name: epochs.csv of every seed,
    with a "seed" column (the seed's folder name)}``."""

    values: dict[str, dict[str, list]]
    seeds: dict[str, list[Path]]
    epochs: dict[str, pd.DataFrame]

    @property
    def metrics(self) -> list[str]:
        """The test EERs of the configurations, :data:`EER_METRICS` first."""
        found = (m for values in self.values.values() for m in eer_keys(values))
        return list(dict.fromkeys([*EER_METRICS, *found]))

    @property
    def table(self) -> pd.DataFrame:
        """The table as the notebooks show it, per configuration: each test EER as ``mean ± std``
        (ddof=1), ``n_seeds``, the best epoch and epochs run of each seed (one number when the
        seeds agree) and the mean ``seconds`` of a seed (the numbers: :meth:`records`)."""
        rows = {}
        for name, values in self.values.items():
            row = {m: VR.format_mean_std(*VR.mean_std(values.get(m, []))) for m in self.metrics}
            row["n_seeds"] = len(self.seeds[name])
            for column in ("best_epoch", "epochs_run"):
                texts = ["-" if v is None else str(int(v)) for v in values[column]]
                row[column] = texts[0] if len(set(texts)) == 1 else ", ".join(texts)
            rows[name] = {**row, "seconds": VR.mean_std(values["seconds"])[0]}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")

    def metric_values(self, metric: str = "eer") -> dict[str, list]:
        """``{name: per-seed values of metric}``."""
        return {name: list(values.get(metric, [])) for name, values in self.values.items()}

    def decide(self, reference: str, metrics=("eer",)) -> tuple[pd.DataFrame, VR.LowestVerdict]:
        """Every other configuration against ``reference`` on each of ``metrics`` (``lower``,
        ``higher`` or ``undecided``: :meth:`~.verdicts.Verdict.short`) and the lowest on ``eer``,
        decided together (Holm's adjustment over their distinct comparisons)."""
        if reference not in self.values:
            raise KeyError(f"no configuration {reference!r} (have {', '.join(self.values)})")
        values = {m: self.metric_values(m) for m in (*metrics, "eer")}

        def compute() -> tuple[pd.DataFrame, VR.LowestVerdict]:
            others = [name for name in self.values if name != reference]
            rows = {
                n: {m: VR.compare(values[m][n], values[m][reference]).short() for m in metrics}
                for n in others
            }
            table = pd.DataFrame.from_dict(rows, orient="index", columns=list(metrics))
            return table.rename_axis(f"against {reference}"), VR.lowest(values["eer"])

        return VR.decided_together(compute)[0]

    def one_model(self, name: str) -> bool:
        """Seeds of ``name`` are one model: none left its start (best epoch 0); equal values."""
        values = self.values[name]
        best = values.get("best_epoch") or []
        return len(best) >= 2 and all(b == 0 for b in best) and VR.single_model(values["eer"])

    def records(self) -> dict[str, dict]:
        """The table as results.json keeps it: per configuration ``n_seeds``, ``seeds`` (folder
        names), each test EER it has as ``{mean, std, values}`` (values per seed, in the order of
        ``seeds``), ``best_epoch``, ``epochs_run``, ``seconds`` and ``n_pairs`` (test pairs) per
        seed, and ``one_model`` (:meth:`one_model`)."""
        out = {}
        for name, values in self.values.items():
            row = {"n_seeds": len(self.seeds[name]), "seeds": [r.name for r in self.seeds[name]]}
            for metric in (m for m in self.metrics if m in values):
                mean, std = VR.mean_std(values[metric])
                row[metric] = {"mean": mean, "std": std, "values": list(values[metric])}
            row.update({c: list(values[c]) for c in (*RUN_COLUMNS, "n_pairs")})
            out[name] = {**row, "one_model": self.one_model(name)}
        return out

    def test_pairs(self) -> list[str]:
        """The test pairs folders the EERs come from (``source``), each once."""
        sources = (s for values in self.values.values() for s in values["source"])
        return list(dict.fromkeys(str(s) for s in sources if s is not None))


def compare_runs(train_runs: dict[str, str | Path]) -> Comparison:
    """Read ``{name: configuration folder}`` (a 02_train run folder, or a folder of its seeds):
    every seed's test EERs (a ``ValueError`` when its seeds have other ones), best epoch, epochs
    run and seconds, and its per-epoch validation EERs; see :class:`Comparison`."""
    if not train_runs:
        raise ValueError("train_runs is empty: give {name: 02_train run folder}")
    values, seeds, epochs = {}, {}, {}
    for name, folder in train_runs.items():
        seeds[name] = runs = seed_runs(resolve_path(folder))
        scores = [heldout_scores(run) for run in runs]
        eers = [eer_keys(score) for score in scores]
        if any(set(e) != set(eers[0]) for e in eers):
            found = {display_path(run): sorted(e) for run, e in zip(runs, eers)}
            raise ValueError(f"the seeds of {name!r} have other test EERs: {found}")
        trained = [read_metrics(run) for run in runs]
        values[name] = {
            k: [s[k] for s in scores] for k in sorted(eers[0], key=list(scores[0]).index)
        }
        values[name].update({c: [t.get(c) for t in trained] for c in RUN_COLUMNS})
        values[name].update({c: [s.get(c) for s in scores] for c in TEST_COLUMNS})
        frames = [pd.read_csv(run / C.EPOCHS_FILE).assign(seed=run.name) for run in runs]
        epochs[name] = pd.concat(frames, ignore_index=True)
    return Comparison(values=values, seeds=seeds, epochs=epochs)


def comparison_figures(
    comparison: Comparison, title: str, out: Path, metrics=("eer_real", "eer_fake", "eer")
) -> dict[str, str]:
    """Per-epoch validation curves of each of ``metrics`` (mean over seeds, min-max band) and bars
    of the test EERs (mean, std, the seeds as points), saved in ``out``: {figure: file name}."""
    figures = {}
    for metric in metrics:
        figures[metric] = f"{metric}_per_epoch.png"
        text = f"{title}: validation {metric} per epoch"
        metric_per_epoch(comparison.epochs, metric, title=text, path=Path(out) / figures[metric])
    figures["bars"] = "eer_bars.png"
    metric_bars(comparison.values, title=f"{title} (test pairs)", path=Path(out) / figures["bars"])
    return figures

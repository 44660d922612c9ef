"""krypto.evaluation.compare over fabricated 02_train run folders: seeds, test EERs, figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from krypto import constants as C
from krypto import run_folder as RF
from krypto.evaluation import compare as CMP

EERS = ("eer_real", "eer_fake", "eer_fake_other", "eer")


def make_run(
    folder: Path,
    test: dict,
    best_epoch: int = 2,
    epochs: int = 2,
    seconds: float = 10.0,
    validation: float = 0.5,
) -> Path:
    """A finished 02_train run folder: metrics.json (validation, best epoch), epochs.csv and
    test_metrics.json (the held-out test EERs)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / C.METRICS_FILE).write_text(
        json.dumps(
            {
                **{m: validation for m in EERS},
                "best_epoch": best_epoch,
                "epochs_run": epochs,
                "seconds": seconds,
                "history": [],
            }
        )
    )
    (folder / C.CONFIG_FILE).write_text(json.dumps({}))
    pd.DataFrame(
        {
            "epoch": range(epochs + 1),
            **{m: np.linspace(validation + 0.2, validation, epochs + 1) for m in EERS},
        }
    ).to_csv(folder / C.EPOCHS_FILE, index=False)
    (folder / C.TEST_METRICS_FILE).write_text(
        json.dumps({**test, "n_pairs": 400, "source": "data/test_pairs"})
    )
    return folder


def make_configuration(
    folder: Path, eer_fake: list[float], eer: list[float] | None = None, **kwargs
) -> Path:
    """A configuration folder with one seed folder per value."""
    eer = eer or eer_fake
    for i, (fake, combined) in enumerate(zip(eer_fake, eer)):
        make_run(
            folder / f"seed{i}",
            {"eer_real": 0.1 + i / 100, "eer_fake": fake, "eer_fake_other": 0.05, "eer": combined},
            best_epoch=2 - i % 2,
            seconds=10.0 + i,
            validation=0.5 - i / 10,
            **kwargs,
        )
    return folder


def test_seed_runs_of_a_configuration_and_of_a_single_run(tmp_path):
    config = make_configuration(tmp_path / "a", [0.1, 0.2, 0.3])
    make_run(config / "seed10", {m: 0.1 for m in EERS})  # seeds in the order of their number
    (config / "notes").mkdir()  # not a seed folder
    assert [p.name for p in RF.seed_runs(config)] == ["seed0", "seed1", "seed2", "seed10"]
    assert RF.first_seed(config) == config / "seed0"
    single = make_run(tmp_path / "single", {m: 0.1 for m in EERS})
    assert RF.seed_runs(single) == [single] and RF.first_seed(single) == single


def test_seed_runs_errors_name_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="seed0/"):
        RF.seed_runs(tmp_path / "empty")
    config = make_configuration(tmp_path / "a", [0.1, 0.2])
    (config / "seed2").mkdir()  # a seed that has not finished
    with pytest.raises(FileNotFoundError, match="seed2 has no metrics.json"):
        RF.seed_runs(config)


def test_compare_runs_aggregates_the_test_eers_over_seeds(tmp_path):
    a = make_configuration(tmp_path / "a", [0.10, 0.12, 0.14], eer=[0.2, 0.2, 0.2])
    b = make_configuration(tmp_path / "b", [0.40, 0.41], eer=[0.3, 0.5])
    single = make_run(
        tmp_path / "c",
        {"eer_real": 0.2, "eer_fake": 0.3, "eer_fake_other": 0.1, "eer": 0.25},
        seconds=7.0,
    )
    comparison = CMP.compare_runs({"a": a, "b": b, "c": str(single)})
    records = comparison.records()
    assert records["a"]["eer_fake"]["mean"] == pytest.approx(0.12)
    assert records["a"]["eer_fake"]["std"] == pytest.approx(0.02)  # ddof=1
    assert records["b"]["eer"]["mean"] == pytest.approx(0.4)
    assert records["b"]["eer"]["std"] == pytest.approx(np.std([0.3, 0.5], ddof=1))
    assert records["a"]["eer"]["std"] == 0.0
    assert records["c"]["eer"]["std"] is None  # one seed: no std
    table = comparison.table
    assert list(table.index) == ["a", "b", "c"] and table.index.name == "run"
    assert list(table.columns) == [*EERS, "n_seeds", "best_epoch", "epochs_run", "seconds"]
    assert list(table["n_seeds"]) == [3, 2, 1]
    assert table.loc["a", "eer_fake"] == "0.120 ± 0.020"  # display text
    assert table.loc["b", "eer"] == "0.400 ± 0.141" and table.loc["c", "eer"] == "0.250"
    assert table.loc["a", "best_epoch"] == "2, 1, 2"
    assert table.loc["a", "seconds"] == pytest.approx(11.0)
    # the per-seed values, in the order of the seeds, are the test values (not validation)
    assert comparison.values["a"]["eer_fake"] == [0.10, 0.12, 0.14]
    assert comparison.values["b"]["eer_real"] == [0.1, 0.11]
    assert comparison.metric_values("eer") == {"a": [0.2, 0.2, 0.2], "b": [0.3, 0.5], "c": [0.25]}
    assert [p.name for p in comparison.seeds["a"]] == ["seed0", "seed1", "seed2"]
    assert comparison.test_pairs() == ["data/test_pairs"]
    # per-epoch validation curves of every seed, told apart by their folder
    epochs = comparison.epochs["a"]
    assert sorted(epochs["seed"].unique()) == ["seed0", "seed1", "seed2"]
    assert len(epochs) == 9 and set(EERS) <= set(epochs.columns)
    assert list(comparison.epochs["c"]["seed"].unique()) == ["c"]


def test_records_keep_mean_std_and_values(tmp_path):
    a = make_configuration(tmp_path / "a", [0.10, 0.12, 0.14])
    records = CMP.compare_runs({"a": a}).records()
    row = records["a"]
    assert row["n_seeds"] == 3 and row["seeds"] == ["seed0", "seed1", "seed2"]
    assert row["eer_fake"]["values"] == [0.10, 0.12, 0.14]
    assert row["eer_fake"]["mean"] == pytest.approx(0.12)
    assert row["eer_fake"]["std"] == pytest.approx(0.02)
    assert row["best_epoch"] == [2, 1, 2] and row["seconds"] == [10.0, 11.0, 12.0]
    assert row["n_pairs"] == [400, 400, 400]
    json.dumps(records)  # plain values


def test_decide_uses_the_rule_over_the_comparisons_together(tmp_path):
    a = make_configuration(tmp_path / "a", [0.10, 0.11, 0.12])
    b = make_configuration(tmp_path / "b", [0.30, 0.31, 0.29])
    c = make_configuration(tmp_path / "c", [0.09, 0.20, 0.15])
    comparison = CMP.compare_runs({"a": a, "b": b, "c": c})
    versus, low = comparison.decide("b", metrics=("eer_fake", "eer_fake_other"))
    assert low.name == "a" and not low.clear and low.ties == ["c"]  # on eer (here = eer_fake)
    assert list(versus.index) == ["a", "c"] and versus.index.name == "against b"
    assert versus.loc["a", "eer_fake"].startswith("lower, -")
    assert versus.loc["a", "eer_fake_other"] == "undecided (one model each: no test)"
    with pytest.raises(KeyError, match="no configuration 'x'"):
        comparison.decide("x")
    # decided together: the distinct comparisons (a-b, c-b, a-c) adjusted by Holm over the three
    assert "Holm over 3" in versus.loc["a", "eer_fake"]
    assert "Holm over 3" in low.versus["c"].reason


def test_a_configuration_whose_seeds_never_left_their_start_is_one_model(tmp_path):
    same = tmp_path / "same"
    for i in range(3):
        make_run(same / f"seed{i}", {m: 0.2 for m in EERS}, best_epoch=0)
    moved = make_configuration(tmp_path / "moved", [0.1, 0.1, 0.1])  # equal, but trained
    comparison = CMP.compare_runs({"same": same, "moved": moved})
    assert comparison.one_model("same") and not comparison.one_model("moved")
    records = comparison.records()
    assert records["same"]["one_model"] is True and records["moved"]["one_model"] is False


def test_missing_test_metrics_is_an_error(tmp_path):
    a = make_configuration(tmp_path / "a", [0.1, 0.2])
    (a / "seed1" / C.TEST_METRICS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="test_metrics.json.*held-out test pairs"):
        CMP.compare_runs({"a": a})
    with pytest.raises(ValueError):
        CMP.compare_runs({})


def test_every_test_eer_the_runs_have_is_read_and_recorded(tmp_path):
    """A fifth pair kind and the altered test pairs: test_metrics.json's eer_<kind> and
    <variant>_<metric>; non-EER values (counts, the source) are not metrics."""
    extra = {"eer_fake_on_anchor": 0.3, "n_fake_on_anchor": 100}
    a = tmp_path / "a"
    for i in range(2):
        scores = {**dict.fromkeys(EERS, 0.1 + i / 10), **extra, "jpeg75_eer": 0.2 + i / 10}
        RF.record_results(make_run(a / f"seed{i}", scores), test_eer=0.9)  # not read
    comparison = CMP.compare_runs({"a": a, "b": make_configuration(tmp_path / "b", [0.1, 0.2])})
    assert comparison.metrics == [*EERS, "eer_fake_on_anchor", "jpeg75_eer"]
    assert comparison.values["a"]["jpeg75_eer"] == pytest.approx([0.2, 0.3])
    assert comparison.values["a"]["eer"] == pytest.approx([0.1, 0.2])  # test_metrics.json's
    records = comparison.records()
    assert records["a"]["eer_fake_on_anchor"]["values"] == [0.3, 0.3]
    assert records["a"]["jpeg75_eer"]["mean"] == pytest.approx(0.25)
    assert "jpeg75_eer" not in records["b"] and "n_fake_on_anchor" not in records["a"]
    assert comparison.table.loc["a", "jpeg75_eer"] == "0.250 ± 0.071"
    assert comparison.table.loc["b", "jpeg75_eer"] == "-"
    assert list(comparison.table.columns)[:6] == comparison.metrics


def test_seeds_with_other_test_eers_are_an_error(tmp_path):
    a = make_configuration(tmp_path / "a", [0.1, 0.2])
    RF.write_test_metrics(a / "seed1", {**RF.read_test_metrics(a / "seed1"), "half_eer": 0.3})
    with pytest.raises(ValueError, match="seeds of 'a' have other test EERs.*half_eer"):
        CMP.compare_runs({"a": a})


def test_comparison_figures_show_the_spread(tmp_path):
    a = make_configuration(tmp_path / "a", [0.10, 0.12, 0.14])
    b = make_run(tmp_path / "b", {m: 0.2 for m in EERS})
    comparison = CMP.compare_runs({"a": a, "b": b})
    out = tmp_path / "out"
    figures = CMP.comparison_figures(comparison, "test", out)
    assert figures == {
        "eer_real": "eer_real_per_epoch.png",
        "eer_fake": "eer_fake_per_epoch.png",
        "eer": "eer_per_epoch.png",
        "bars": "eer_bars.png",
    }
    for name in figures.values():
        assert (out / name).stat().st_size > 0


def test_metric_bars_draw_mean_std_and_every_seed(tmp_path):
    from krypto.evaluation.plots import metric_bars, metric_per_epoch

    values = {"a": {"eer": [0.1, 0.2, 0.3]}, "b": {"eer": [0.4]}}
    fig = metric_bars(values, metrics=("eer",))
    ax = fig.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == pytest.approx([0.2, 0.4])
    from matplotlib.collections import PathCollection

    points = np.concatenate(
        [c.get_offsets()[:, 1] for c in ax.collections if isinstance(c, PathCollection)]
    )
    assert sorted(points) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    epochs = {
        "a": pd.DataFrame(
            {
                "epoch": [0, 1, 0, 1],
                "eer": [0.5, 0.2, 0.7, 0.4],
                "seed": ["seed0", "seed0", "seed1", "seed1"],
            }
        )
    }
    fig = metric_per_epoch(epochs, "eer")
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_ydata()) == pytest.approx([0.6, 0.3])  # the mean over the seeds
    assert line.get_label() == "a (2 seeds)"

"""krypto.pipeline.report: collect, render, README block, findings, verdicts; fast and offline
(fake run folders)."""

from __future__ import annotations

import copy
import difflib
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
import yaml
from scipy import stats

from krypto import constants as C
from krypto.code_version import code_files, code_hash
from krypto.evaluation.verdicts import RULE, compare, mean_std
from krypto.pipeline.batch import load_batch
from krypto.pipeline.report import agreement, cli, findings, markdown, spec, tables
from krypto.pipeline.report.collect import collect
from krypto.run_folder import SEED_FOLDER

REPO_ROOT = C.REPO_ROOT
RECIPE = spec.SECTIONS_BY_KEY["beyond"].reference  # the seed's recipe, in every table of methods
PNG = b"\x89PNG\r\n\x1a\n fake"
COMPARE_FIGURES = {
    "eer_real": "eer_real_per_epoch.png",
    "eer_fake": "eer_fake_per_epoch.png",
    "eer": "eer_per_epoch.png",
    "bars": "eer_bars.png",
}


SEEDS = 3
SPREAD = 0.002  # the seeds of a fabricated row: mean - SPREAD, mean, mean + SPREAD


def seeds(mean: float, n: int = SEEDS, spread: float = SPREAD) -> list[float]:
    return [mean + spread * k for k in (-1, 0, 1, 2, -2)[:n]]


def cell(values: list[float]) -> dict:
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "values": values}


def row(
    eer_real,
    eer_fake,
    eer,
    eer_fake_other=0.05,
    epochs=4,
    seconds=12.345678,
    n=SEEDS,
    spread=SPREAD,
):
    """A table row as 05/06 record it (Comparison.records): each EER over ``n`` seeds around the
    given mean, ``spread`` apart."""
    return {
        "n_seeds": n,
        "seeds": [f"seed{i}" for i in range(n)],
        **{
            metric: cell(seeds(value, n, spread))
            for metric, value in (
                ("eer_real", eer_real),
                ("eer_fake", eer_fake),
                ("eer_fake_other", eer_fake_other),
                ("eer", eer),
            )
        },
        "best_epoch": [epochs] * n,
        "epochs_run": [epochs] * n,
        "seconds": [seconds] * n,
        "n_pairs": [400] * n,
    }


def seeded(**values: list[float]) -> dict:
    """A table row from explicit per-seed values of some metrics."""
    out = row(0.1, 0.1, 0.1, n=len(next(iter(values.values()))))
    out.update({metric: cell(v) for metric, v in values.items()})
    return out


TABLES = {
    "loss_selection": {
        "triplet": row(0.111111, 0.4, 0.25),
        "triplet + fake": row(0.123456, 0.02, 0.09),
    },
    "lambda": {
        "0.01": row(0.15, 0.07, 0.12),
        "0.1": row(0.14, 0.02, 0.1),
        "1": row(0.123456, 0.02, 0.09),
        "1 + cos head": row(0.16, 0.01, 0.11),
    },
    "model_selection": {
        "small_cnn": row(0.123456, 0.02, 0.09),
        "resnet18": row(0.2, 0.03, 0.14),
        "mobilenet_v3_large": row(0.25, 0.05, 0.2),
        "efficientnet_b0": row(0.3, 0.06, 0.22),
    },
    "cutout": {
        "mouth": row(0.17, 0.03, 0.13),
        "nose": row(0.18, 0.025, 0.12),
        "eyes": row(0.24, 0.1, 0.2),
        "no cutout": row(0.123456, 0.02, 0.09),
    },
    "beyond": {
        "seed: triplet + fake (lam 1)": row(0.123456, 0.02, 0.09),
        "fakes as class": row(0.2, 0.3, 0.25),
        "fakes as class + fake term": row(0.1, 0.01, 0.06),
        "ArcFace + fake term": row(0.13, 0.02, 0.1),
        "hard mining": row(0.14, 0.03, 0.11),
    },
    "portrait": {
        "seed: triplet + fake (lam 1)": row(0.13, 0.2, 0.15),
        "triplet": row(0.12, 0.3, 0.18),
        "hard mining": row(0.1, 0.19, 0.14),
    },
    "eigenfaces": {
        "seed: triplet + fake (lam 1)": row(0.14, 0.25, 0.2),
        "triplet": row(0.15, 0.35, 0.22),
        "real/fake head": row(0.14, 0.1, 0.12),
    },
}


def section_results(full_name: str) -> tuple[dict, list[str]]:
    """(results.json, figure files) of a fake section run."""
    batch = full_name.split("/")[0]
    if full_name == "readme/preprocess":
        return {
            "n_photos": 120,
            "n_identities": 20,
            "summary": {
                "train": {"identities": 16, "real photos": 64, "fake photos": 32},
                "validation": {"identities": 4, "real photos": 16, "fake photos": 8},
                "total": {"identities": 20, "real photos": 80, "fake photos": 40},
            },
            "pairs": {"same": 10, "different": 10, "fake_same": 8, "fake_other": 8},
            "problems": {},
        }, ["contact_sheet.png", "aligned_contact_sheet.png"]
    if full_name == "loss_selection/distances":
        table = {
            name: {
                "similarity same": 0.8,
                "similarity different": 0.1,
                "similarity fake_same": 0.7 if name == "triplet" else 0.2,
                "similarity fake_other": 0.05,
                "last epoch dist_pos": 0.5,
                "last epoch dist_neg": 1.2,
                "last epoch dist_fake": 0.9,
            }
            for name in ("triplet", "triplet + fake")
        }
        figures = ["distance_curves.png", "similarity_histograms.png"]
        seed_runs = {
            "triplet": "runs/loss_selection/triplet/seed0",
            "triplet + fake": "runs/loss_selection/quadruplet/seed0",
        }
        return {"table": table, "seed_runs": seed_runs, "figures": figures}, figures
    if full_name == "loss_selection/pca":
        table = {
            "before training": {
                "silhouette (real vs fake)": 0.01,
                "explained variance PC1+PC2": 0.4,
            },
            "after training": {
                "silhouette (real vs fake)": 0.3123456,
                "explained variance PC1+PC2": 0.5,
            },
        }
        return {
            "train_run": "loss_selection/quadruplet",
            "seed_run": "runs/loss_selection/quadruplet/seed0",
            "table": table,
            "figures": ["pca_real_fake.png"],
        }, ["pca_real_fake.png"]
    table = TABLES[batch]
    best = min(table, key=lambda name: table[name]["eer"]["mean"])
    if full_name == "cutout/ablation":
        figures = ["cutout_examples.png", "cutout_eer.png", "cutout_eer_fake_per_epoch.png"]
        return {
            "table": table,
            "best": best,
            "test_pairs": ["data/test_pairs"],
            "figures": figures,
        }, figures
    return (
        {
            "title": batch,
            "table": table,
            "best": best,
            "test_pairs": ["data/test_pairs"],
            "figures": COMPARE_FIGURES,
        },
        list(COMPARE_FIGURES.values()),
    )


def make_runs(runs_dir: Path) -> Path:
    """Every run of params/readme.yaml under ``runs_dir``, as the batch would leave it."""
    for run in load_batch(REPO_ROOT / "params/readme.yaml", runs_dir=runs_dir):
        run.run_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "notebook": str(run.notebook.relative_to(REPO_ROOT)),
            "parameters": run.parameters,
            "status": "done",
            "seconds": 60.0,
            "error": None,
        }
        (run.run_dir / "run.json").write_text(json.dumps(record))
        if run.notebook.name == "02_train.ipynb":  # its seeds, unless the batch runs each seed
            folders = (
                [run.run_dir]
                if SEED_FOLDER.fullmatch(run.run_dir.name)
                else [run.run_dir / f"seed{i}" for i in range(SEEDS)]
            )
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / C.METRICS_FILE).write_text(
                    json.dumps(
                        {"seconds": 12.345678, "epochs_run": run.parameters.get("epochs", 4)}
                    )
                )
            continue
        results, figures = section_results(run.full_name)
        (run.run_dir / "results.json").write_text(json.dumps(results))
        for figure in figures:
            (run.run_dir / figure).write_bytes(PNG)
    return runs_dir


@pytest.fixture
def runs(tmp_path) -> Path:
    return make_runs(tmp_path / "runs")


@pytest.fixture
def results(runs) -> dict:
    return collect(runs, runs / "report")


def readme_block(readme_text: str) -> str:
    """The text between the README's marker lines (without them)."""
    lines, begin, end = cli.marker_lines(readme_text)
    return "\n".join(lines[begin + 1 : end])


def figure_links(markdown_text: str) -> list[str]:
    """Targets of the markdown images ``![alt](target)``."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown_text)


def check_readme(readme: Path, results: Path, figure_prefix: str) -> list[str]:
    """Lines where the README's block and the render of ``results`` differ, then the figures the
    block links that do not exist; empty when they agree."""
    block = readme_block(readme.read_text())
    expected = markdown.render_markdown(json.loads(results.read_text()), figure_prefix, 3)
    differences = [
        f"{'README' if line[0] == '-' else 'expected'}: {line[2:]}"
        for line in difflib.ndiff(block.strip("\n").split("\n"), expected.strip("\n").split("\n"))
        if line[:2] in ("- ", "+ ")
    ]
    missing = [link for link in figure_links(block) if not (readme.parent / link).is_file()]
    return differences + [f"missing figure: {link}" for link in missing]


README = (
    "# krypto\n\nIntro text.\n\n## Results\n\n<!-- results:begin -->\nold\n"
    "<!-- results:end -->\n\n## Tail\nkept\n"
)


# --- collect ---------------------------------------------------------------------------------


def test_collect_writes_tables_figures_seed_and_provenance(runs, results):
    out = runs / "report"
    assert json.loads((out / "results.json").read_text()) == results
    sections = results["sections"]
    assert list(sections) == [s.key for s in spec.SECTIONS]
    assert sections["loss_selection"]["table"]["triplet + fake"]["eer_real"] == {
        "mean": 0.1235,
        "std": 0.002,
        "values": [0.1215, 0.1235, 0.1255],
    }  # 4 decimals
    assert sections["embeddings"]["table"]["after training"]["silhouette (real vs fake)"] == 0.3123
    assert sections["data"]["pairs"]["fake_same"] == 8
    expected = {
        "data_contact_sheet.png",
        "data_aligned_contact_sheet.png",
        "loss_selection_distance_curves.png",
        "loss_selection_similarity_histograms.png",
        "loss_selection_pca_real_fake.png",
        "model_selection_eer_real_per_epoch.png",
        "model_selection_eer_fake_per_epoch.png",
        "cutout_examples.png",
        "cutout_eer.png",
        "cutout_eer_fake_per_epoch.png",
    }
    assert {p.name for p in (out / "figures").iterdir()} == expected
    named = {name for s in sections.values() for name in s["figures"].values()}
    assert named == expected
    assert results["seed"]["cutout"]["rows"]["no cutout"]["eer_fake"] == 0.008
    assert [f["id"] for f in results["findings"]] == list("abcdefghijk")

    prov = results["provenance"]["lambda"]
    assert prov["run_dir"] == str(runs / "lambda" / "compare")
    assert (
        prov["command"] == f"python -m krypto.pipeline.batch params/readme.yaml --runs-dir {runs}"
    )
    configuration = runs / "loss_selection" / "quadruplet"
    trained = yaml.safe_load((REPO_ROOT / "params/loss_selection.yaml").read_text())["seeds"]
    seed_folders = [str(configuration / f"seed{i}") for i in trained]  # every seed, in order
    assert prov["train_runs"]["1"] == {"run_dir": str(configuration), "seeds": seed_folders}
    assert set(prov["train_runs"]) == set(TABLES["lambda"])
    embeddings = results["provenance"]["embeddings"]["train_runs"]["train_run"]
    assert embeddings["seeds"] == seed_folders
    assert "train_runs" not in results["provenance"]["data"]
    assert results["sections"]["beyond"]["lowest"]["name"] == "fakes as class + fake term"
    assert re.fullmatch("[0-9a-f]{64}", results["code_hash"])  # code_hash() of the tree
    # the rule, the seeds and the test pairs the tables come from
    about = results["about"]
    assert about["rule"] == RULE
    assert about["n_seeds"] == [SEEDS] and about["n_test_pairs"] == [400]
    assert about["test_pairs"] == ["data/test_pairs"]


def test_collect_adds_the_verdicts_of_every_training_table(results):
    sections = results["sections"]
    for key in ("loss_selection", "model_selection", "lambda", "cutout", "beyond"):
        assert set(sections[key]) >= {"table", "lowest", "reference", "versus", "figures"}
        assert "best" not in sections[key]  # the verdict says it: "lowest"
    low = sections["model_selection"]["lowest"]
    assert low["name"] == "small_cnn" and low["clear"] and low["ties"] == []
    assert sections["model_selection"]["reference"] is None
    assert sections["model_selection"]["versus"] == {}
    lam = sections["lambda"]
    assert lam["reference"] == "1" and set(lam["versus"]) == {"0.01", "0.1", "1 + cos head"}
    assert set(lam["versus"]["0.01"]) == {"eer"}  # against the reference: the official EER
    assert lam["versus"]["0.01"]["eer"]["lower"] == "b"  # 0.12 vs 0.09: 1 is lower
    # every verdict decided together: Holm over the distinct comparisons the README states
    family = results["about"]["comparisons"]
    assert lam["versus"]["0.01"]["eer"]["family_size"] == family["stated"] > 20
    assert 0 < family["decided"] <= family["stated"]
    assert sections["cutout"]["reference"] == "no cutout"
    assert sections["beyond"]["reference"] == RECIPE
    assert sections["loss_selection"]["reference"] == "triplet"


def test_seed_numbers_come_from_their_data_file(results):
    published = yaml.safe_load((REPO_ROOT / "params" / "seed_results.yaml").read_text())
    assert results["seed"] == published == spec.seed_results()
    assert published["loss_selection"]["rows"]["triplet + fake"]["as"] == "triplet real + fake"


def test_missing_results_names_the_folder_and_command(runs):
    (runs / "cutout" / "ablation" / "results.json").unlink()
    with pytest.raises(spec.ReportError) as error:
        collect(runs, runs / "report")
    message = str(error.value)
    assert str(runs / "cutout" / "ablation") in message
    assert "python -m krypto.pipeline.batch params/readme.yaml" in message
    assert not (runs / "report" / "results.json").exists()


def test_missing_results_of_a_failed_run_points_to_its_log(runs):
    folder = runs / "loss_selection" / "compare"
    (folder / "results.json").unlink()
    record = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**record, "status": "blocked"}))
    with pytest.raises(spec.ReportError, match="blocked.*papermill.log"):
        collect(runs)


def test_missing_figure_is_an_error(runs):
    (runs / "loss_selection" / "pca" / "pca_real_fake.png").unlink()
    with pytest.raises(spec.ReportError, match="pca_real_fake.png"):
        collect(runs)
    assert not (runs / "report").exists()  # nothing written before everything is checked


def test_round_values():
    assert tables.round_values({"a": [0.123456, 2, None, float("nan")], "b": True, "c": "x"}) == {
        "a": [0.1235, 2, None, None],
        "b": True,
        "c": "x",
    }


# --- render ----------------------------------------------------------------------------------


def test_render_sections_in_order_from_results_alone(results):
    text = markdown.render_markdown(json.loads(json.dumps(results)), "figs/")
    titles = [
        "## Data set",
        "## Loss selection",
        "## Embeddings",
        "## Model selection",
        "## Lambda",
        "## Cutout",
        "## Beyond the seed",
        "## Findings",
        "## Reading the results",
    ]
    positions = [text.index(t + "\n") for t in titles]
    assert positions == sorted(positions)
    assert figure_links(text) == [
        "figs/data_contact_sheet.png",
        "figs/data_aligned_contact_sheet.png",
        "figs/loss_selection_distance_curves.png",
        "figs/loss_selection_similarity_histograms.png",
        "figs/loss_selection_pca_real_fake.png",
        "figs/model_selection_eer_real_per_epoch.png",
        "figs/model_selection_eer_fake_per_epoch.png",
        "figs/cutout_examples.png",
        "figs/cutout_eer.png",
        "figs/cutout_eer_fake_per_epoch.png",
    ]
    # ours (mean ± std over the seeds) and the seed's side by side, 3 decimals, "-" for the
    # seed's combined EER, then the number of seeds
    line = next(x for x in text.splitlines() if x.startswith("| triplet + fake | 0.123"))
    assert line == (
        "| triplet + fake | 0.123 ± 0.002 | 0.137 | 0.020 ± 0.002 | 0.025 | "
        "0.050 ± 0.002 | 0.090 ± 0.002 | - | 3 | 4 | 4 | 12.3 |"
    )
    assert "| 1 + cos head | 0.160 ± 0.002 | 0.157 | 0.010 ± 0.002 | 0.005 |" in text
    assert "| eyes | 0.240 ± 0.002 | 0.242 |" in text
    # the rule, the seeds and the test pairs, once, above the sections
    assert text.count(RULE) == 1
    assert (
        "Each training configuration is trained with 3 seeds. The tables give the EERs on the "
        "held-out test pairs (`data/test_pairs`, 400 pairs)"
    ) in text
    # every other row against the reference, by the rule
    assert "| vs no cutout | eer ↓ |" in text
    mouth = next(line for line in text.splitlines() if line.startswith("| mouth | higher, +"))
    assert "] (p < 0.001; Holm over " in mouth  # the effect with its interval, then the p
    # every run table has the combined eer column
    for header in ("| run | eer_real", "| backbone |", "| method |"):
        lines = [x for x in text.splitlines() if x.startswith(header)]
        assert lines and all("eer ↓" in x and "| seeds |" in x for x in lines)
    assert "| total | 20 | 80 | 40 |" in text
    assert "| fake_same | 8 |" in text
    assert (
        "0.010 before training (the face model `pretrain/faces` it fine-tunes), 0.312 after "
        "training of `loss_selection/quadruplet` (its first seed, "
        "`runs/loss_selection/quadruplet/seed0`)."
    ) in text
    assert "of the first seed of each configuration (`runs/loss_selection/triplet/seed0`" in text
    assert (
        "Lowest mean combined `eer`: **fakes as class + fake term** (0.060 ± 0.002), clearly "
        "lower than the seed's recipe `seed: triplet + fake (lam 1)` (0.090 ± 0.002; "
        "p < 0.001; Holm over 25: adjusted p < 0.001): 0.030 lower in absolute terms, 33.3% "
        "lower. It is clearly lower than every other method too."
    ) in text
    assert (
        "Lowest mean combined `eer`: **small_cnn** (0.090 ± 0.002), clearly lower than "
        "every other one."
    ) in text
    assert "- (a) The fake term cuts eer_fake at least fivefold: **holds**." in text
    assert "20.00x: clearly lower (p < 0.001; Holm over 25: adjusted p < 0.001) (3 seeds)" in text
    assert "- (b) eer_fake falls as lam grows (0.01 -> 0.1 -> 1): **undecided**." in text
    # the interpretation, generated from the verdicts, closes the report
    reading = text[text.index("## Reading the results\n") :]
    assert (
        "- Lambda: against `1`, `0.01` is clearly higher on eer; `0.1` is clearly higher on eer;"
    ) in reading
    assert (
        "- The findings: (a) holds, (b) undecided, (c) holds, (d) holds, (e) n/a, (f) n/a, "
        "(g) n/a, (h) n/a, (i) n/a, (j) n/a and (k) n/a."
    ) in reading  # (e)-(h) need the fifth kind and the forgery branch, which this data lacks
    assert "Findings of our own" in text and "- (e) The fake term opens a hole" in text
    # pure: the same dict renders the same text; no file is read
    assert markdown.render_markdown(copy.deepcopy(results), "figs/") == text


def test_the_prose_states_the_parameters_of_the_batch_files(results, monkeypatch):
    runs = {}  # a configuration's parameters, from its first seed's run
    for run in load_batch(REPO_ROOT / "params/readme.yaml"):
        runs.setdefault(run.full_name.rsplit("/seed", 1)[0], run.parameters)
    text = markdown.render_markdown(results, "figs/")  # checked against the batch files first
    assert f"with probability {runs['cutout/mouth']['cutout_p']:g} during training" in text
    lam = runs["loss_selection/quadruplet"]["lam"]
    assert f"triplet(a, p, n_real) + lam * triplet(a, p, fake), lam = {lam:g}." in text
    start = runs["loss_selection/quadruplet"]["pretrained"]
    assert f"before training (the face model `{start}` it fine-tunes)" in text
    # a batch file that trains otherwise than the prose says stops the report, naming both
    trained, read = markdown.train_parameters("cutout"), markdown.train_parameters
    other = {**trained, "mouth": {**trained["mouth"], "cutout_p": 0.25}}
    monkeypatch.setattr(markdown, "train_parameters", lambda k: other if k == "cutout" else read(k))
    markdown.check_prose.cache_clear()
    with pytest.raises(spec.ReportError, match=r"Cutout .*cutout_p = 0.5, .*'mouth': 0.25"):
        markdown.render_markdown(results, "figs/")


def test_render_with_heading_level(results):
    text = markdown.render_markdown(results, "x/", heading_level=3)
    assert "\n### Cutout\n" in text and "\n## Cutout\n" not in text


def beyond(table: dict) -> tuple[dict, str]:
    """The verdicts of a table of methods (its reference the seed's recipe), and the sentence
    under it."""
    verdicts = findings.section_verdicts("beyond", table)
    cell = (table.get(RECIPE) or {}).get("eer")
    return verdicts, str(markdown.SENTENCES.beyond_sentence(verdicts["lowest"], RECIPE, cell))


def test_beyond_sentence_when_the_seed_recipe_wins():
    table = {RECIPE: row(0.1, 0.02, 0.05), "hard mining": row(0.1, 0.02, 0.07)}
    verdicts, sentence = beyond(table)
    assert verdicts["lowest"]["name"] == RECIPE and verdicts["lowest"]["clear"]
    assert verdicts["reference"] == RECIPE
    assert sentence == (
        f"The seed's recipe `{RECIPE}` keeps the lowest combined `eer` (0.050 ± 0.002), "
        f"clearly lower than every other method."
    )
    assert beyond({}) == (
        {"lowest": None, "reference": None, "versus": {}},
        "No method has a combined `eer`.",
    )
    only = beyond({"hard mining": row(0.1, 0.02, 0.07)})[1]
    assert only.endswith(f"the only one; the seed's recipe `{RECIPE}` is not in the table.")


def test_beyond_sentence_flips_to_undecided_when_the_seeds_overlap():
    clear = {RECIPE: row(0.1, 0.02, 0.09), "hard mining": row(0.1, 0.02, 0.06)}
    assert "clearly lower than the seed's recipe" in beyond(clear)[1]
    overlap = {
        RECIPE: row(0.1, 0.02, 0.09, spread=0.04),
        "hard mining": row(0.1, 0.02, 0.06, spread=0.04),
    }
    verdicts, sentence = beyond(overlap)
    assert verdicts["lowest"]["name"] == "hard mining" and not verdicts["lowest"]["clear"]
    assert verdicts["lowest"]["ties"] == [RECIPE]
    assert sentence.startswith(
        "Lowest mean combined `eer`: **hard mining** (0.060 ± 0.040), "
        "against 0.090 ± 0.040 for the seed's recipe"
    )
    p = stats.ttest_ind(seeds(0.06, spread=0.04), seeds(0.09, spread=0.04), equal_var=False)
    assert sentence.endswith(f": undecided (p = {p.pvalue:.3f}).")
    one_seed = {RECIPE: row(0.1, 0.02, 0.09, n=1), "hard mining": row(0.1, 0.02, 0.06, n=1)}
    assert beyond(one_seed)[1].endswith("undecided (1 seed: no test).")
    recipe_ties = {
        RECIPE: row(0.1, 0.02, 0.06, spread=0.04),
        "hard mining": row(0.1, 0.02, 0.09, spread=0.04),
    }
    assert beyond(recipe_ties)[1].endswith("but undecided from hard mining.")


# --- columns declared in report.yaml --------------------------------------------------------

SEEDED_HEADER = (
    "| run | eer_real ↓ | seed eer_real ↓ | eer_fake ↓ | seed eer_fake ↓ | eer_fake_other ↓ | "
    "{anchor}eer ↓ | seed eer ↓ | seeds | best epoch | epochs | seconds |"
)
METHODS_HEADER = (
    "| method | eer_real ↓ | eer_fake ↓ | eer_fake_other ↓ | {anchor}eer ↓ | {robust}seeds | "
    "best epoch | epochs | seconds |"
)


def with_metrics(table: dict, **metrics: float) -> dict:
    """``table`` with more test metrics in every row, as a run that has them records them."""
    return {
        name: {**r, **{m: cell(seeds(v)) for m, v in metrics.items()}} for name, r in table.items()
    }


def layout(extra: bool) -> dict:
    """A small results.json: the data set and every training table; ``extra``: with a fifth pair
    kind and the robustness variants of the test pairs in every row."""
    anchor = {"eer_fake_on_anchor": 0.2} if extra else {}
    robust = {"jpeg75_eer": 0.15, "half_eer": 0.17} if extra else {}
    pairs = {"same": 10, "different": 10, "fake_same": 8, "fake_other": 8}
    sections = {
        key: {"table": with_metrics(table, **anchor, **robust)} for key, table in TABLES.items()
    }
    sections["data"] = {"pairs": {**pairs, **({"fake_on_anchor": 8} if extra else {})}}
    verdicts, found, _ = findings.all_verdicts(sections)
    for key, values in verdicts.items():
        sections[key].update(values)
    return {"sections": sections, "findings": found}


def header_of(text: str, index: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"| {index} |")]


@pytest.mark.parametrize("extra", [True, False])
def test_metric_columns_show_when_the_runs_have_them(extra):
    results = layout(extra)
    text = markdown.render_markdown(results, "x/")
    anchor = "eer_fake_on_anchor ↓ | " if extra else ""
    robust = "eer (JPEG 75) ↓ | eer (half size) ↓ | " if extra else ""
    assert header_of(text, "run") == [SEEDED_HEADER.format(anchor=anchor)] * 3
    assert header_of(text, "method") == [METHODS_HEADER.format(anchor=anchor, robust=robust)] * 3
    # the robustness columns belong to the tables of methods, and to the recipes' table
    backbones = header_of(text, "backbone")[0]
    assert ("eer_fake_on_anchor ↓" in backbones) is extra and "JPEG" not in backbones
    assert (
        "| eer (JPEG 75) ↓ | eer (half size) ↓ |" in header_of(text, "data set: recipe")[0]
    ) is (extra)
    line = next(x for x in text.splitlines() if x.startswith("| hard mining |"))
    cells = "0.050 ± 0.002 | 0.200 ± 0.002 | 0.110 ± 0.002 | 0.150 ± 0.002 | 0.170 ± 0.002 | 3 |"
    assert (cells in line) is extra
    # the data set's validation pairs: each kind present, with its description
    described = "| fake_on_anchor | 8 | a person and a deepfake of another person made on a photo"
    assert (described in text) is extra
    kinds = "five pair kinds (same, different, fake_same, fake_other, fake_on_anchor)"
    assert (kinds in text) is extra
    assert ("four pair kinds (same, different, fake_same, fake_other)" in text) is not extra
    # a reproduction is checked on every metric the tables hold
    means = agreement.table_means(results)
    assert ("beyond / hard mining / jpeg75_eer" in means) is extra
    assert ("loss_selection / triplet / eer_fake_on_anchor" in means) is extra


def test_every_declared_metric_has_a_header_and_a_description():
    keys = [m["key"] for m in spec.METRICS]
    assert len(set(keys)) == len(keys) and spec.SEED_COLUMNS == ("eer_real", "eer_fake", "eer")
    assert all(m["header"] and m["what"] for m in spec.METRICS)
    assert set(spec.DATA["pair_kinds"]) >= {"same", "different", "fake_same", "fake_on_anchor"}


# --- findings --------------------------------------------------------------------------------


def findings_for(loss=None, lam=None, cutout=None) -> dict:
    sections = {
        "loss_selection": {
            "table": loss or {"triplet": row(0.1, 0.4, 0.2), "triplet + fake": row(0.12, 0.02, 0.1)}
        },
        "lambda": {
            "table": lam
            or {"0.01": row(0.1, 0.07, 0.1), "0.1": row(0.1, 0.02, 0.1), "1": row(0.1, 0.01, 0.1)}
        },
        "cutout": {
            "table": cutout or {"mouth": row(0.2, 0.03, 0.2), "no cutout": row(0.1, 0.01, 0.1)}
        },
    }
    return checked(sections)


def checked(sections: dict) -> dict:
    """Every finding checked on ``sections`` alone (outside a family: the raw p-values)."""
    seed = spec.seed_results()
    return {f["id"]: findings.check_finding(f, sections, seed) for f in spec.DATA["findings"]}


def compared(finding: dict, a: str, b: str, metric: str) -> dict:
    """One comparison of a finding (a Verdict dict, and the ratio), as its numbers hold it."""
    return finding["numbers"][f"{a} -> {b} on {metric}"]


def fake_rows(triplet: list[float], fake: list[float]) -> dict:
    return {"triplet": seeded(eer_fake=triplet), "triplet + fake": seeded(eer_fake=fake)}


@pytest.mark.parametrize(
    "triplet, fake, verdict",
    [
        ([0.39, 0.40, 0.41], [0.019, 0.02, 0.021], "holds"),  # 20x, clear
        ([0.099, 0.1, 0.101], [0.0199, 0.02, 0.0201], "holds"),  # exactly 5x, clear
        ([0.099, 0.1, 0.101], [0.0209, 0.021, 0.0211], "differs"),  # clearly lower, 4.8x
        ([0.29, 0.30, 0.31], [0.0, 0.0, 0.0], "holds"),  # to zero
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], "undecided"),  # identical
        ([0.02, 0.50, 0.30], [0.01, 0.02, 0.05], "undecided"),  # 10x, seeds overlap
        ([0.40], [0.02], "undecided"),  # 20x, one seed
        ([0.01, 0.011, 0.012], [0.10, 0.11, 0.12], "differs"),  # clearly higher
    ],
)
def test_finding_a_fivefold_and_clear(triplet, fake, verdict):
    f = findings_for(loss=fake_rows(triplet, fake))["a"]
    assert f["verdict"] == verdict
    decided = compared(f, "triplet", "triplet + fake", "eer_fake")["lower"] is not None
    assert decided is (verdict != "undecided")


def test_finding_a_detail():
    f = findings_for(loss=fake_rows([0.39, 0.40, 0.41], [0.019, 0.02, 0.021]))["a"]
    assert f["detail"] == (
        "eer_fake `triplet` 0.400 ± 0.010 -> `triplet + fake` 0.020 ± 0.001, 20.00x: "
        "clearly lower (p < 0.001) (3 seeds)"
    )
    assert f["seed"] == "eer_fake `triplet` 0.4250 -> `triplet + fake` 0.0250, 17.00x"
    assert compared(f, "triplet", "triplet + fake", "eer_fake")["ratio"] == 20.0
    under = findings_for(loss=fake_rows([0.099, 0.1, 0.101], [0.0209, 0.021, 0.0211]))["a"]
    assert under["detail"].endswith("4.76x: clearly lower (p < 0.001), but under 5-fold (3 seeds)")


def lam_rows(*values: list[float]) -> dict:
    return {k: seeded(eer_fake=v) for k, v in zip(("0.01", "0.1", "1"), values)}


@pytest.mark.parametrize(
    "values, verdict",
    [
        (([0.069, 0.07, 0.071], [0.019, 0.02, 0.021], [0.009, 0.01, 0.011]), "holds"),
        (([0.069, 0.07, 0.071], [0.079, 0.08, 0.081], [0.009, 0.01, 0.011]), "differs"),  # a rise
        (([0.069, 0.07, 0.071], [0.019, 0.02, 0.021], [0.029, 0.03, 0.031]), "differs"),
        (([0.069, 0.07, 0.071], [0.01, 0.03, 0.02], [0.005, 0.025, 0.015]), "undecided"),
        (([0.02, 0.02, 0.02], [0.02, 0.02, 0.02], [0.009, 0.01, 0.011]), "undecided"),
        (([0.07], [0.02], [0.01]), "undecided"),  # one seed: no step is clear
    ],
)
def test_finding_b_each_step_clear(values, verdict):
    f = findings_for(lam=lam_rows(*values))["b"]
    assert f["verdict"] == verdict
    steps = [compared(f, "0.01", "0.1", "eer_fake"), compared(f, "0.1", "1", "eer_fake")]
    assert all(step["lower"] == "b" for step in steps) is (verdict == "holds")


def test_finding_b_names_the_steps_that_are_not_clear():
    f = findings_for(lam=lam_rows([0.069, 0.07, 0.071], [0.01, 0.03, 0.02], [0.005, 0.025, 0.015]))[
        "b"
    ]
    assert compared(f, "0.01", "0.1", "eer_fake")["lower"] == "b"
    assert compared(f, "0.1", "1", "eer_fake")["lower"] is None
    assert (
        "eer_fake `0.01` 0.070 ± 0.001 -> `0.1` 0.020 ± 0.010, 3.50x: clearly lower (p = "
        in (f["detail"])
    )
    p = stats.ttest_ind([0.01, 0.03, 0.02], [0.005, 0.025, 0.015], equal_var=False).pvalue
    assert (
        f"`0.1` 0.020 ± 0.010 -> `1` 0.015 ± 0.010, 1.33x: undecided (p = {p:.3f})" in (f["detail"])
    )
    assert f["seed"] == (
        "eer_fake `0.01` 0.0670 -> `0.1` 0.0160, 4.19x; eer_fake `0.1` 0.0160 -> `1` 0.0070, 2.29x"
    )


def test_finding_c_cutout():
    base = seeded(eer=[0.099, 0.1, 0.101], eer_fake=[0.019, 0.02, 0.021])
    worse = seeded(eer=[0.199, 0.2, 0.201], eer_fake=[0.019, 0.02, 0.021])
    holds = findings_for(cutout={"mouth": worse, "no cutout": base})["c"]
    assert holds["verdict"] == "holds"  # clearly higher eer, no part clearly lower
    assert compared(holds, "mouth", "no cutout", "eer")["lower"] == "b"
    assert compared(holds, "mouth", "no cutout", "eer_fake")["lower"] is None
    lower_eer = findings_for(
        cutout={
            "nose": seeded(eer=[0.079, 0.08, 0.081], eer_fake=[0.029, 0.03, 0.031]),
            "no cutout": base,
        }
    )["c"]
    assert lower_eer["verdict"] == "differs"
    assert compared(lower_eer, "nose", "no cutout", "eer")["lower"] == "a"
    assert compared(lower_eer, "nose", "no cutout", "eer_fake")["lower"] == "b"
    lower_fake = findings_for(
        cutout={
            "eyes": seeded(eer=[0.199, 0.2, 0.201], eer_fake=[0.009, 0.01, 0.011]),
            "no cutout": base,
        }
    )["c"]
    assert lower_fake["verdict"] == "differs"
    assert compared(lower_fake, "eyes", "no cutout", "eer_fake")["lower"] == "a"
    overlap = findings_for(
        cutout={
            "nose": seeded(eer=[0.06, 0.14, 0.09], eer_fake=[0.01, 0.03, 0.015]),
            "no cutout": base,
        }
    )["c"]
    assert overlap["verdict"] == "undecided"
    assert overlap["detail"].count(": undecided (p = ") == 2
    assert overlap["detail"].startswith("eer `nose` 0.097 ± 0.040 -> `no cutout` 0.100 ± 0.001")
    assert holds["seed"].startswith("eer_real `mouth` 0.1780 -> `no cutout` 0.1290, 1.38x; ")


@pytest.mark.parametrize(
    "real_triplet, real_fake, verdict",
    [
        ([0.103, 0.104, 0.105], [0.136, 0.137, 0.138], "holds"),
        ([0.136, 0.137, 0.138], [0.103, 0.104, 0.105], "differs"),
        ([0.1, 0.1, 0.1], [0.1, 0.1, 0.1], "undecided"),
        ([0.08, 0.13, 0.10], [0.12, 0.10, 0.14], "undecided"),
    ],
)
def test_finding_d_cost_in_eer_real(real_triplet, real_fake, verdict):
    f = findings_for(
        loss={
            "triplet": seeded(eer_real=real_triplet, eer_fake=[0.4, 0.4]),
            "triplet + fake": seeded(eer_real=real_fake, eer_fake=[0.02, 0.02]),
        }
    )["d"]
    assert f["verdict"] == verdict
    ratio = compared(f, "triplet", "triplet + fake", "eer_real")["ratio"]
    assert ratio == round(np.mean(real_fake) / np.mean(real_triplet), 4)
    assert f["seed"].endswith(f"`triplet + fake` 0.1374, {0.1374 / 0.1041:.2f}x")


def test_findings_without_rows_are_not_checked():
    f = checked({})
    assert {x["verdict"] for x in f.values()} == {"n/a"}
    assert f["c"]["detail"] == (
        "not checked: the tables lack eer and eer_fake of the other rows and 'no cutout'"
    )
    assert f["b"]["detail"] == "not checked: the tables lack eer_fake of '0.01', '0.1' and '1'"
    partial = checked({"lambda": {"table": lam_rows([0.1, 0.1], [0.1, 0.1], [0.1, 0.1])}})
    assert partial["b"]["verdict"] == "undecided" and partial["d"]["verdict"] == "n/a"


def test_a_finding_flips_to_undecided_in_the_report_when_the_seeds_overlap(results):
    text = markdown.render_markdown(results, "figs/")
    assert "- (d) The fake term costs some eer_real: **holds**." in text
    assert "-> `triplet + fake` 0.123 ± 0.002, 1.11x: clearly higher (p = 0.002; Holm over " in text
    wide = copy.deepcopy(results)
    sections = wide["sections"]
    loss = sections["loss_selection"]["table"]
    loss["triplet"]["eer_real"] = cell([0.05, 0.1111, 0.17])
    loss["triplet + fake"]["eer_real"] = cell([0.07, 0.1235, 0.18])
    verdicts, wide["findings"], _ = findings.all_verdicts(sections)
    sections["loss_selection"].update(verdicts["loss_selection"])
    text = markdown.render_markdown(wide, "figs/")
    assert "- (d) The fake term costs some eer_real: **undecided**." in text
    assert "(d) undecided" in text[text.index("Reading the results") :]
    assert "`triplet + fake` is clearly lower on eer" in text


def test_lowest_line_flips_to_undecided_when_the_seeds_overlap():
    clear = findings.section_verdicts(
        "model_selection", {"a": row(0.1, 0.02, 0.05), "b": row(0.1, 0.02, 0.07)}
    )
    assert clear["lowest"]["clear"]
    overlap = findings.section_verdicts(
        "model_selection",
        {"a": row(0.1, 0.02, 0.05, spread=0.03), "b": row(0.1, 0.02, 0.07, spread=0.03)},
    )
    assert not overlap["lowest"]["clear"] and overlap["lowest"]["ties"] == ["b"]
    text = markdown.render_markdown(
        {"sections": {"model_selection": {"table": {}, **overlap}}},
        "x/",
    )
    assert ("Lowest mean combined `eer`: **a** (0.050 ± 0.030), but undecided from b.") in text


def versus(row_a: dict, row_b: dict, metrics=("eer",)) -> dict:
    """``row_a`` against ``row_b`` on each of ``metrics``, as results.json holds it."""
    return {
        m: compare(tables.seed_values(row_a, m), tables.seed_values(row_b, m)).to_dict()
        for m in metrics
    }


def test_versus_sentence():
    sentence = markdown.SENTENCES.versus_sentence
    ref, x = row(0.1, 0.02, 0.05), row(0.2, 0.02, 0.01)
    assert sentence("x", versus(x, ref)) == "`x` is clearly lower on eer"
    metrics = ("eer_real", "eer_fake", "eer_fake_other", "eer")
    assert sentence("x", versus(x, ref, metrics)) == (
        "`x` is clearly lower on eer, clearly higher on eer_real, with undecided on "
        "eer_fake and eer_fake_other"
    )
    assert sentence("x", versus(ref, ref)) == "`x`: undecided on eer"
    # in a table: every row against the section's reference, none without it
    cutout = findings.section_verdicts("cutout", {"no cutout": ref, "x": x})
    expected = {"x": tables.round_values(versus(x, ref))}
    assert cutout["reference"] == "no cutout" and cutout["versus"] == expected
    assert findings.section_verdicts("cutout", {"x": x})["versus"] == {}


# --- README ----------------------------------------------------------------------------------


def test_replace_readme_block_keeps_markers_and_outside_text():
    new = cli.replace_readme_block(README, "line 1\nline 2\n")
    assert readme_block(new) == "line 1\nline 2"
    before = README.split("<!-- results:begin -->")[0]
    after = README.split("<!-- results:end -->")[1]
    assert new.startswith(before + "<!-- results:begin -->\nline 1\nline 2\n<!-- results:end -->")
    assert new.endswith("<!-- results:end -->" + after)
    assert cli.replace_readme_block(new, "old") == README  # and back


@pytest.mark.parametrize(
    "text",
    [
        "# no markers\n",
        "<!-- results:begin -->\nonly the start\n",
        "<!-- results:end -->\n<!-- results:begin -->\n",
        "<!-- results:begin -->\n<!-- results:begin -->\n<!-- results:end -->\n",
    ],
)
def test_readme_markers_are_required(text):
    with pytest.raises(spec.ReportError, match="results:begin"):
        readme_block(text)
    with pytest.raises(spec.ReportError):
        cli.replace_readme_block(text, "x")


def test_main_writes_report_and_readme_then_check_agrees(runs, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    out = tmp_path / "report"
    assert cli.main(["--runs-dir", str(runs), "--out", str(out), "--readme", str(readme)]) == 0
    report = (out / "REPORT.md").read_text()
    assert report.startswith("# Results\n") and "](figures/cutout_eer.png)" in report
    text = readme.read_text()
    assert text.startswith("# krypto\n\nIntro text.\n\n## Results\n\n<!-- results:begin -->\n")
    assert text.endswith("<!-- results:end -->\n\n## Tail\nkept\n")
    assert "](report/figures/cutout_eer.png)" in text and "\n### Findings\n" in text
    assert "<!-- results:begin -->\n## Results\n\n_Made by" in text
    assert check_readme(readme, out / "results.json", "report/figures/") == []

    drifted = text.replace("| triplet + fake | 0.123 ± 0.002", "| triplet + fake | 0.129 ± 0.002")
    readme.write_text(drifted)
    differences = check_readme(readme, out / "results.json", "report/figures/")
    assert any(d.startswith("README: | triplet + fake | 0.129 ± 0.002") for d in differences)
    assert any(d.startswith("expected: | triplet + fake | 0.123 ± 0.002") for d in differences)
    assert "\n### Reading the results\n" in text and RULE in text

    (out / "figures" / "cutout_eer.png").unlink()
    readme.write_text(text)
    assert check_readme(readme, out / "results.json", "report/figures/") == [
        "missing figure: report/figures/cutout_eer.png"
    ]


def test_main_no_readme_and_readme_without_markers(runs, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# krypto\n")
    out = tmp_path / "report"
    assert cli.main(["--runs-dir", str(runs), "--out", str(out), "--readme", str(readme)]) == 2
    assert "results:begin" in capsys.readouterr().err
    assert not out.exists() and readme.read_text() == "# krypto\n"
    assert cli.main(["--runs-dir", str(runs), "--out", str(out), "--no-readme"]) == 0
    assert (out / "REPORT.md").is_file() and readme.read_text() == "# krypto\n"


def test_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "krypto.pipeline.report", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "--no-readme" in done.stdout


def test_main_missing_run_is_an_error(runs, capsys):
    (runs / "readme" / "preprocess" / "results.json").unlink()
    assert cli.main(["--runs-dir", str(runs), "--no-readme"]) == 2
    assert str(runs / "readme" / "preprocess") in capsys.readouterr().err


# --- provenance of the code ------------------------------------------------------------------


def code_tree(root: Path) -> Path:
    for name, text in {
        "lib/pkg/a.py": "a = 1\n",
        "notebooks/n.ipynb": "{}\n",
        "params/p.yaml": "x: 1\n",
        "requirements.txt": "numpy\n",
        "environment.yml": "name: x\n",
        "README.md": "not code\n",
        "runs/r/results.json": "{}\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_code_hash_covers_the_code_alone(tmp_path):
    root = code_tree(tmp_path / "tree")  # no git: the folders are walked
    assert code_files(root) == [
        "environment.yml",
        "lib/pkg/a.py",
        "notebooks/n.ipynb",
        "params/p.yaml",
        "requirements.txt",
    ]
    before = code_hash(root)
    assert len(before) == 64 and code_hash(root) == before
    (root / "lib/pkg/__pycache__").mkdir()
    (root / "lib/pkg/__pycache__/a.cpython-311.pyc").write_bytes(b"\0")
    (root / "README.md").write_text("other\n")
    (root / "runs/r/results.json").write_text("[]\n")
    assert code_hash(root) == before
    (root / "params/p.yaml").write_text("x: 2\n")
    assert code_hash(root) != before
    (root / "params/p.yaml").write_text("x: 1\n")
    assert code_hash(root) == before
    (root / "lib/pkg/a.py").rename(root / "lib/pkg/b.py")
    assert code_hash(root) != before


def test_code_files_of_the_repository_are_its_tracked_code():
    files = code_files(REPO_ROOT)
    assert files == sorted(files)
    assert {"requirements.txt", "environment.yml", "params/readme.yaml"} <= set(files)
    assert all(f.split("/")[0] in ("lib", "notebooks", "params") or "/" not in f for f in files)
    assert not [f for f in files if "__pycache__" in f]


# --- the committed report --------------------------------------------------------------------


def test_committed_results_come_from_the_committed_code():
    results = REPO_ROOT / "runs" / "report" / "results.json"
    if not results.is_file():
        pytest.skip("runs/report/results.json is not committed yet (make reproduce writes it)")
    recorded = json.loads(results.read_text()).get("code_hash")
    current = code_hash()
    # code checked to give the same numbers, run by run, as the code that made them
    equivalence = results.parent / "code_equivalence.json"
    if equivalence.is_file():
        checked = json.loads(equivalence.read_text())
        if (checked["results_code_hash"], checked["code_hash"]) == (recorded, current):
            return
    assert recorded == current, (
        f"runs/report/results.json was made from other code (its code_hash {recorded}, the "
        f"tree's {current}): the README's numbers may not be what this code gives; run "
        f"`make reproduce` to remake them"
    )


def test_committed_results_read_no_run_made_by_other_code():
    """Each run records the code that made it; a run reused from earlier code (the batch skips
    finished runs) would carry another hash than the report's."""
    results = REPO_ROOT / "runs" / "report" / "results.json"
    if not results.is_file():
        pytest.skip("runs/report/results.json is not committed yet (make reproduce writes it)")
    assert json.loads(results.read_text()).get("made_by_other_code") == []


def test_readme_agrees_with_committed_results():
    results = REPO_ROOT / "runs" / "report" / "results.json"
    if not results.is_file():
        pytest.skip("runs/report/results.json is not committed yet (make reproduce writes it)")
    readme = REPO_ROOT / "README.md"
    assert check_readme(readme, results, "runs/report/figures/") == []
    block = readme_block(readme.read_text())
    links = figure_links(block)
    assert links, "the README's results block shows no figure"
    missing = [link for link in links if not (REPO_ROOT / link).is_file()]
    assert not missing, f"figures the README shows are missing: {missing}"


def test_the_report_data_files_ship_with_the_package():
    """The report reads its sections, sentences and page templates from files beside its code:
    pyproject.toml must declare them package data, or an installed (non-editable) copy lacks
    them."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["krypto"]
    package = REPO_ROOT / "lib" / "krypto"
    folder = package / "pipeline" / "report"
    data = [p for p in folder.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert {"report.yaml", "report.md.j2", "sentences.j2"} <= {p.name for p in data}
    unshipped = [
        p.name
        for p in data
        if not any(fnmatch.fnmatch(p.relative_to(package).as_posix(), g) for g in patterns)
    ]
    assert not unshipped, f"not package data in pyproject.toml: {unshipped}"


def test_the_report_says_how_many_comparisons_are_decided_and_marks_single_models(results):
    text = markdown.render_markdown(results, "figs/")
    family = results["about"]["comparisons"]
    assert (
        f"The README states {family['stated']} distinct comparisons; the rule decides "
        f"{family['decided']} of them"
    ) in text
    assert "Each test EER is resolved to 0.01 (one pair of a kind)" in text  # 400 pairs
    assert "is one model: no epoch improved" not in text
    marked = copy.deepcopy(results)
    marked["sections"]["loss_selection"]["table"]["triplet"]["one_model"] = True
    text = markdown.render_markdown(marked, "figs/")
    assert (
        "`triplet` is one model: no epoch improved on the model it started from (best epoch 0 "
        "in each of its 3 seeds, identical values); it counts as one model in every comparison."
    ) in text

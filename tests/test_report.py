"""krypto.pipeline.report: collect, render, README block, findings; fast and offline (fake run folders)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from krypto import constants as C
from krypto.pipeline import report as R
from krypto.pipeline.batch import load_batch
from krypto.pipeline.report.provenance import code_files, code_hash

REPO_ROOT = C.REPO_ROOT
PNG = b"\x89PNG\r\n\x1a\n fake"
COMPARE_FIGURES = {"eer_real": "eer_real_per_epoch.png", "eer_fake": "eer_fake_per_epoch.png",
                   "eer": "eer_per_epoch.png", "bars": "eer_bars.png"}


def row(eer_real, eer_fake, eer, eer_fake_other=0.05, epochs=4, seconds=12.345678):
    return {"eer_real": eer_real, "eer_fake": eer_fake, "eer_fake_other": eer_fake_other,
            "eer": eer, "best_epoch": epochs, "epochs_run": epochs, "seconds": seconds}


TABLES = {
    "loss_selection": {"triplet": row(0.111111, 0.4, 0.25),
                       "triplet + fake": row(0.123456, 0.02, 0.09)},
    "lambda": {"0.01": row(0.15, 0.07, 0.12), "0.1": row(0.14, 0.02, 0.1),
               "1": row(0.123456, 0.02, 0.09), "1 + cos head": row(0.16, 0.01, 0.11)},
    "model_selection": {"small_cnn": row(0.123456, 0.02, 0.09), "resnet18": row(0.2, 0.03, 0.14),
                        "mobilenet_v3_large": row(0.25, 0.05, 0.2),
                        "efficientnet_b0": row(0.3, 0.06, 0.22)},
    "cutout": {"mouth": row(0.17, 0.03, 0.13), "nose": row(0.18, 0.025, 0.12),
               "eyes": row(0.24, 0.1, 0.2), "no cutout": row(0.123456, 0.02, 0.09)},
    "beyond": {"seed: triplet + fake (lam 1)": row(0.123456, 0.02, 0.09),
               "fakes as class": row(0.2, 0.3, 0.25),
               "fakes as class + fake term": row(0.1, 0.01, 0.06),
               "ArcFace + fake term": row(0.13, 0.02, 0.1), "hard mining": row(0.14, 0.03, 0.11)},
}


def section_results(full_name: str) -> tuple[dict, list[str]]:
    """(results.json, figure files) of a fake section run."""
    batch = full_name.split("/")[0]
    if full_name == "readme/preprocess":
        return {"n_photos": 120, "n_identities": 20,
                "summary": {"train": {"identities": 16, "real photos": 64, "fake photos": 32},
                            "validation": {"identities": 4, "real photos": 16, "fake photos": 8},
                            "total": {"identities": 20, "real photos": 80, "fake photos": 40}},
                "pairs": {"same": 10, "different": 10, "fake_same": 8, "fake_other": 8},
                "problems": {}}, ["contact_sheet.png"]
    if full_name == "loss_selection/distances":
        table = {name: {"similarity same": 0.8, "similarity different": 0.1,
                        "similarity fake_same": 0.7 if name == "triplet" else 0.2,
                        "similarity fake_other": 0.05, "last epoch dist_pos": 0.5,
                        "last epoch dist_neg": 1.2, "last epoch dist_fake": 0.9}
                 for name in ("triplet", "triplet + fake")}
        figures = ["distance_curves.png", "similarity_histograms.png"]
        return {"table": table, "figures": figures}, figures
    if full_name == "loss_selection/pca":
        table = {"before training": {"silhouette (real vs fake)": 0.01,
                                     "explained variance PC1+PC2": 0.4},
                 "after training": {"silhouette (real vs fake)": 0.3123456,
                                    "explained variance PC1+PC2": 0.5}}
        return {"train_run": "loss_selection/quadruplet", "table": table,
                "figures": ["pca_real_fake.png"]}, ["pca_real_fake.png"]
    table = TABLES[batch]
    best = min(table, key=lambda name: table[name]["eer"])
    if full_name == "cutout/ablation":
        figures = ["cutout_examples.png", "cutout_eer.png", "cutout_eer_fake_per_epoch.png"]
        return {"table": table, "best": best, "figures": figures}, figures
    return ({"title": batch, "table": table, "best": best, "figures": COMPARE_FIGURES},
            list(COMPARE_FIGURES.values()))


def make_runs(runs_dir: Path, quick: bool = False) -> Path:
    """Every run of params/readme.yaml under ``runs_dir``, as the batch would leave it."""
    for run in load_batch(REPO_ROOT / "params/readme.yaml", quick=quick, runs_dir=runs_dir):
        run.run_dir.mkdir(parents=True, exist_ok=True)
        record = {"notebook": str(run.notebook.relative_to(REPO_ROOT)),
                  "parameters": run.parameters, "status": "done", "started": "2025-01-01T00:00:00",
                  "finished": "2025-01-01T00:01:00", "seconds": 60.0, "error": None}
        (run.run_dir / "run.json").write_text(json.dumps(record))
        if run.notebook.name == "02_train.ipynb":
            (run.run_dir / C.METRICS_FILE).write_text(json.dumps(
                {"seconds": 12.345678, "epochs_run": run.parameters.get("epochs", 4)}))
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
    return R.collect(runs, runs / "report")


README = ("# krypto\n\nIntro text.\n\n## Results\n\n<!-- results:begin -->\nold\n"
          "<!-- results:end -->\n\n## Tail\nkept\n")


# --- collect ---------------------------------------------------------------------------------


def test_collect_writes_tables_figures_seed_and_provenance(runs, results):
    out = runs / "report"
    assert json.loads((out / "results.json").read_text()) == results
    sections = results["sections"]
    assert list(sections) == [s.key for s in R.SECTIONS]
    assert sections["loss_selection"]["table"]["triplet + fake"]["eer_real"] == 0.1235  # 4 decimals
    assert sections["embeddings"]["table"]["after training"]["silhouette (real vs fake)"] == 0.3123
    assert sections["data"]["pairs"]["fake_same"] == 8
    expected = {"data_contact_sheet.png", "loss_selection_distance_curves.png",
                "loss_selection_similarity_histograms.png", "loss_selection_pca_real_fake.png",
                "model_selection_eer_real_per_epoch.png", "model_selection_eer_fake_per_epoch.png",
                "cutout_examples.png", "cutout_eer.png", "cutout_eer_fake_per_epoch.png"}
    assert {p.name for p in (out / "figures").iterdir()} == expected
    named = {name for s in sections.values() for name in s["figures"].values()}
    assert named == expected
    assert results["seed"]["cutout"]["rows"]["no cutout"]["eer_fake"] == 0.008
    assert [f["id"] for f in results["findings"]] == ["a", "b", "c", "d"]

    prov = results["provenance"]["lambda"]
    assert prov["run_dir"] == str(runs / "lambda" / "compare")
    assert prov["command"] == f"python -m krypto.pipeline.batch params/readme.yaml --runs-dir {runs}"
    assert prov["train_runs"]["1"] == {"run_dir": str(runs / "loss_selection" / "quadruplet"),
                                       "seconds": 12.3457, "epochs_run": 4}
    assert set(prov["train_runs"]) == set(TABLES["lambda"])
    assert results["provenance"]["embeddings"]["train_runs"]["train_run"]["epochs_run"] == 4
    assert "train_runs" not in results["provenance"]["data"]
    assert results["sections"]["beyond"]["summary"]["best"] == "fakes as class + fake term"
    assert re.fullmatch("[0-9a-f]{64}", results["code_hash"])  # code_hash() of the tree


def test_seed_numbers_come_from_their_data_file(results):
    published = yaml.safe_load((REPO_ROOT / "params" / "seed_results.yaml").read_text())
    assert results["seed"] == published == R.seed_results()
    assert published["loss_selection"]["rows"]["triplet + fake"]["as"] == "triplet real + fake"


def test_collect_names_quick_runs(tmp_path):
    runs = make_runs(tmp_path / "runs", quick=True)
    results = R.collect(runs)
    command = results["provenance"]["cutout"]["command"]
    assert command == f"python -m krypto.pipeline.batch params/readme.yaml --quick --runs-dir {runs}"


def test_missing_results_names_the_folder_and_command(runs):
    (runs / "cutout" / "ablation" / "results.json").unlink()
    with pytest.raises(R.ReportError) as error:
        R.collect(runs, runs / "report")
    message = str(error.value)
    assert str(runs / "cutout" / "ablation") in message
    assert "python -m krypto.pipeline.batch params/readme.yaml" in message
    assert not (runs / "report" / "results.json").exists()


def test_missing_results_of_a_failed_run_points_to_its_log(runs):
    folder = runs / "loss_selection" / "compare"
    (folder / "results.json").unlink()
    record = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**record, "status": "blocked"}))
    with pytest.raises(R.ReportError, match="blocked.*papermill.log"):
        R.collect(runs)


def test_missing_figure_is_an_error(runs):
    (runs / "loss_selection" / "pca" / "pca_real_fake.png").unlink()
    with pytest.raises(R.ReportError, match="pca_real_fake.png"):
        R.collect(runs)
    assert not (runs / "report").exists()  # nothing written before everything is checked


def test_round_values():
    assert R.round_values({"a": [0.123456, 2, None, float("nan")], "b": True, "c": "x"}) == \
        {"a": [0.1235, 2, None, None], "b": True, "c": "x"}


# --- render ----------------------------------------------------------------------------------


def test_render_sections_in_order_from_results_alone(results):
    text = R.render_markdown(json.loads(json.dumps(results)), "figs/")
    titles = ["## Data set", "## Loss selection", "## Embeddings", "## Model selection",
              "## Lambda", "## Cutout", "## Beyond the seed", "## Findings"]
    positions = [text.index(t + "\n") for t in titles]
    assert positions == sorted(positions)
    assert R.figure_links(text) == [
        "figs/data_contact_sheet.png", "figs/loss_selection_distance_curves.png",
        "figs/loss_selection_similarity_histograms.png", "figs/loss_selection_pca_real_fake.png",
        "figs/model_selection_eer_real_per_epoch.png",
        "figs/model_selection_eer_fake_per_epoch.png",
        "figs/cutout_examples.png", "figs/cutout_eer.png", "figs/cutout_eer_fake_per_epoch.png"]
    # ours and the seed's side by side, 4 decimals, "-" for the seed's combined EER
    line = next(l for l in text.splitlines() if l.startswith("| triplet + fake | 0.1235"))
    assert line.startswith("| triplet + fake | 0.1235 | 0.1374 | 0.0200 | 0.0250 | 0.0500 | "
                           "0.0900 | - |")
    assert "| 1 + cos head | 0.1600 | 0.1570 | 0.0100 | 0.0050 |" in text
    assert "| eyes | 0.2400 | 0.2420 |" in text
    # every run table has the combined eer column
    for header in ("| run |", "| backbone |", "| method |"):
        assert all("eer ↓" in l for l in text.splitlines() if l.startswith(header))
    assert "| total | 20 | 80 | 40 |" in text
    assert "| fake_same | 8 |" in text
    assert "0.0100 before training, 0.3123 after training" in text
    assert ("Lowest combined `eer`: **fakes as class + fake term** (0.0600), against 0.0900 for "
            "the seed's recipe `seed: triplet + fake (lam 1)`: 0.0300 lower in absolute terms, "
            "33.3% lower.") in text
    assert "- (a) The fake term cuts eer_fake at least fivefold: **holds**." in text
    assert "20.0x" in text
    # pure: the same dict renders the same text; no file is read
    assert R.render_markdown(copy.deepcopy(results), "figs/") == text


def test_prose_quotes_the_parameters_of_the_batch_files(results):
    runs = {run.full_name: run.parameters for run in load_batch(REPO_ROOT / "params/readme.yaml")}
    quoted = R.prose_parameters()
    assert quoted["cutout"]["cutout_p"] == f"{runs['cutout/mouth']['cutout_p']:g}"
    assert quoted["loss_selection"]["lam"] == f"{runs['loss_selection/quadruplet']['lam']:g}"
    assert quoted["lambda"]["cos_head_lam"] == f"{runs['lambda/lam1_cos_head']['lam']:g}"
    text = R.render_markdown(results, "figs/")
    assert (f"with probability {quoted['cutout']['cutout_p']} during training, "
            f"{quoted['cutout']['fake_term']}.") in text
    other = {"loss_selection": {"lam": "2"},
             "model_selection": {"start": "from pretrained weights",
                                 "fake_term": "without the fake term"},
             "lambda": {"cos_head_lam": "3"},
             "cutout": {"cutout_p": "0.25", "fake_term": "with the fake term (lam = 4)"}}
    text = R.render_markdown(results, "figs/", parameters=other)
    assert "triplet(a, p, n_real) + lam * triplet(a, p, fake), lam = 2." in text
    assert "Backbones trained from pretrained weights without the fake term." in text
    assert "`1 + cos head`: lam = 3 with the cosine head" in text
    assert "with probability 0.25 during training, with the fake term (lam = 4)." in text


def test_render_with_heading_level(results):
    text = R.render_markdown(results, "x/", heading_level=3)
    assert "\n### Cutout\n" in text and "\n## Cutout\n" not in text


def test_beyond_sentence_when_the_seed_recipe_wins():
    table = {R.SEED_RECIPE: {"eer": 0.05}, "hard mining": {"eer": 0.07}}
    summary = R.beyond_summary(table)
    assert summary["best"] == R.SEED_RECIPE and summary["absolute"] == 0
    assert "keeps the lowest combined `eer` (0.0500)" in R.beyond_sentence(summary)
    assert "hard mining, is worse by 0.0200" in R.beyond_sentence(summary)
    assert R.beyond_summary({}) is None


# --- findings --------------------------------------------------------------------------------


def findings_for(loss=None, lam=None, cutout=None) -> dict:
    sections = {
        "loss_selection": {"table": loss or {"triplet": row(0.1, 0.4, 0.2),
                                             "triplet + fake": row(0.12, 0.02, 0.1)}},
        "lambda": {"table": lam or {"0.01": row(0.1, 0.07, 0.1), "0.1": row(0.1, 0.02, 0.1),
                                    "1": row(0.1, 0.01, 0.1)}},
        "cutout": {"table": cutout or {"mouth": row(0.2, 0.03, 0.2),
                                       "no cutout": row(0.1, 0.01, 0.1)}},
    }
    return {f["id"]: f for f in R.compute_findings(sections)}


@pytest.mark.parametrize("triplet, fake, verdict", [
    (0.40, 0.02, "holds"),    # 20x
    (0.10, 0.02, "holds"),    # exactly 5x
    (0.10, 0.021, "differs"), # 4.8x
    (0.30, 0.00, "holds"),    # to zero
    (0.00, 0.00, "differs"),
])
def test_finding_a_fivefold(triplet, fake, verdict):
    f = findings_for(loss={"triplet": row(0.1, triplet, 0.2),
                           "triplet + fake": row(0.1, fake, 0.1)})
    assert f["a"]["verdict"] == verdict


@pytest.mark.parametrize("values, verdict", [
    ((0.07, 0.02, 0.01), "holds"),
    ((0.07, 0.08, 0.01), "differs"),
    ((0.07, 0.02, 0.03), "differs"),
    ((0.02, 0.02, 0.01), "differs"),  # no fall from 0.01 to 0.1
])
def test_finding_b_monotone(values, verdict):
    lam = {k: row(0.1, v, 0.1) for k, v in zip(("0.01", "0.1", "1"), values)}
    f = findings_for(lam=lam)["b"]
    assert f["verdict"] == verdict
    assert f["numbers"]["monotone"] is (verdict == "holds")
    assert ("; monotone" in f["detail"]) is (verdict == "holds")


def test_finding_c_cutout():
    base = row(0.1, 0.02, 0.1)
    assert findings_for(cutout={"mouth": row(0.2, 0.03, 0.2), "no cutout": base})["c"]["verdict"] \
        == "holds"
    lower_eer = findings_for(cutout={"nose": row(0.2, 0.03, 0.09), "no cutout": base})["c"]
    assert lower_eer["verdict"] == "differs"
    assert lower_eer["numbers"]["lower eer"] == ["nose"]
    assert lower_eer["numbers"]["lower eer_fake"] == []
    lower_fake = findings_for(cutout={"eyes": row(0.2, 0.01, 0.2), "no cutout": base})["c"]
    assert lower_fake["verdict"] == "differs"
    assert lower_fake["numbers"]["lower eer_fake"] == ["eyes"]


@pytest.mark.parametrize("real_triplet, real_fake, verdict", [
    (0.104, 0.137, "holds"), (0.137, 0.104, "differs"), (0.1, 0.1, "differs")])
def test_finding_d_cost_in_eer_real(real_triplet, real_fake, verdict):
    f = findings_for(loss={"triplet": row(real_triplet, 0.4, 0.2),
                           "triplet + fake": row(real_fake, 0.02, 0.1)})["d"]
    assert f["verdict"] == verdict
    assert f["numbers"]["ratio"] == round(real_fake / real_triplet, 4)
    assert f["numbers"]["seed ratio"] == round(0.1374 / 0.1041, 4)


def test_findings_without_rows_are_not_checked():
    f = {x["id"]: x for x in R.compute_findings({})}
    assert {x["verdict"] for x in f.values()} == {"n/a"}


# --- README ----------------------------------------------------------------------------------


def test_replace_readme_block_keeps_markers_and_outside_text():
    new = R.replace_readme_block(README, "line 1\nline 2\n")
    assert R.readme_block(new) == "line 1\nline 2"
    before = README.split("<!-- results:begin -->")[0]
    after = README.split("<!-- results:end -->")[1]
    assert new.startswith(before + "<!-- results:begin -->\nline 1\nline 2\n<!-- results:end -->")
    assert new.endswith("<!-- results:end -->" + after)
    assert R.replace_readme_block(new, "old") == README  # and back


@pytest.mark.parametrize("text", [
    "# no markers\n", "<!-- results:begin -->\nonly the start\n",
    "<!-- results:end -->\n<!-- results:begin -->\n",
    "<!-- results:begin -->\n<!-- results:begin -->\n<!-- results:end -->\n"])
def test_readme_markers_are_required(text):
    with pytest.raises(R.ReportError, match="results:begin"):
        R.readme_block(text)
    with pytest.raises(R.ReportError):
        R.replace_readme_block(text, "x")


def test_main_writes_report_and_readme_then_check_agrees(runs, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    out = tmp_path / "report"
    assert R.main(["--runs-dir", str(runs), "--out", str(out), "--readme", str(readme)]) == 0
    report = (out / "REPORT.md").read_text()
    assert report.startswith("# Results\n") and "](figures/cutout_eer.png)" in report
    text = readme.read_text()
    assert text.startswith("# krypto\n\nIntro text.\n\n## Results\n\n<!-- results:begin -->\n")
    assert text.endswith("<!-- results:end -->\n\n## Tail\nkept\n")
    assert "](report/figures/cutout_eer.png)" in text and "\n### Findings\n" in text
    assert "<!-- results:begin -->\n## Results\n\n_Made by" in text
    assert R.check_readme(readme, out / "results.json", "report/figures/") == []

    drifted = text.replace("| triplet + fake | 0.1235", "| triplet + fake | 0.1299")
    readme.write_text(drifted)
    differences = R.check_readme(readme, out / "results.json", "report/figures/")
    assert any(d.startswith("README: | triplet + fake | 0.1299") for d in differences)
    assert any(d.startswith("expected: | triplet + fake | 0.1235") for d in differences)

    (out / "figures" / "cutout_eer.png").unlink()
    readme.write_text(text)
    assert R.check_readme(readme, out / "results.json", "report/figures/") == \
        ["missing figure: report/figures/cutout_eer.png"]


def test_main_no_readme_and_readme_without_markers(runs, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# krypto\n")
    out = tmp_path / "report"
    assert R.main(["--runs-dir", str(runs), "--out", str(out), "--readme", str(readme)]) == 2
    assert "results:begin" in capsys.readouterr().err
    assert not out.exists() and readme.read_text() == "# krypto\n"
    assert R.main(["--runs-dir", str(runs), "--out", str(out), "--no-readme"]) == 0
    assert (out / "REPORT.md").is_file() and readme.read_text() == "# krypto\n"


def test_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "krypto.pipeline.report", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--no-readme" in done.stdout


def test_main_missing_run_is_an_error(runs, capsys):
    (runs / "readme" / "preprocess" / "results.json").unlink()
    assert R.main(["--runs-dir", str(runs), "--no-readme"]) == 2
    assert str(runs / "readme" / "preprocess") in capsys.readouterr().err


# --- provenance of the code ------------------------------------------------------------------


def code_tree(root: Path) -> Path:
    for name, text in {"lib/pkg/a.py": "a = 1\n", "notebooks/n.ipynb": "{}\n",
                       "params/p.yaml": "x: 1\n", "requirements.txt": "numpy\n",
                       "environment.yml": "name: x\n", "README.md": "not code\n",
                       "runs/r/results.json": "{}\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_code_hash_covers_the_code_alone(tmp_path):
    root = code_tree(tmp_path / "tree")  # no git: the folders are walked
    assert code_files(root) == ["environment.yml", "lib/pkg/a.py", "notebooks/n.ipynb",
                                "params/p.yaml", "requirements.txt"]
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


@pytest.mark.xfail(strict=False, reason="results not yet remade")
def test_committed_results_come_from_the_committed_code():
    results = REPO_ROOT / "runs" / "report" / "results.json"
    if not results.is_file():
        pytest.skip("runs/report/results.json is not committed yet (make reproduce writes it)")
    recorded = json.loads(results.read_text()).get("code_hash")
    current = code_hash()
    assert recorded == current, (
        f"runs/report/results.json was made from other code (its code_hash {recorded}, the "
        f"tree's {current}): the README's numbers may not be what this code gives; run "
        f"`make reproduce` to remake them")


def test_readme_agrees_with_committed_results():
    results = REPO_ROOT / "runs" / "report" / "results.json"
    if not results.is_file():
        pytest.skip("runs/report/results.json is not committed yet (make reproduce writes it)")
    readme = REPO_ROOT / "README.md"
    assert R.check_readme(readme, results, "runs/report/figures/") == []
    block = R.readme_block(readme.read_text())
    links = R.figure_links(block)
    assert links, "the README's results block shows no figure"
    missing = [link for link in links if not (REPO_ROOT / link).is_file()]
    assert not missing, f"figures the README shows are missing: {missing}"

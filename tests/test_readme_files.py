"""Every file, folder and module the README names exists in the repository."""

from __future__ import annotations

import importlib.util
import json
import re

from krypto import constants as C
from krypto.evaluation.verdicts import format_p

README = (C.REPO_ROOT / "README.md").read_text()
# paths the README points at inside the repository (not the generated runs/ and data/ folders)
TRACKED_ROOTS = ("notebooks/", "lib/", "params/", "tests/", "runs/report/", ".ci/")
ROOT_FILES = ("Makefile", "environment.yml", "requirements.txt", "pyproject.toml")


def _named_paths() -> set[str]:
    names = set()
    for token in re.findall(r"[\w./-]+", README):
        token = token.rstrip(".,:;)")
        if token.startswith(TRACKED_ROOTS) or token in ROOT_FILES:
            names.add(token)
    return names


def test_the_readme_names_files():
    assert {"notebooks/02_train.ipynb", "params/readme.yaml"} <= _named_paths()


def test_every_file_the_readme_names_exists():
    missing = sorted(p for p in _named_paths() if not (C.REPO_ROOT / p).exists())
    assert not missing, f"README.md names files that do not exist: {missing}"


def test_every_module_the_readme_runs_exists():
    modules = set(re.findall(r"-m (krypto[\w.]*)", README))
    assert modules, "the README runs no module of the package"
    missing = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert not missing, f"README.md runs modules that do not exist: {missing}"


def test_the_submission_example_uses_the_lowest_recipe_of_beyond_the_seed():
    """The README's `krypto.challenge.submit` example submits with the recipe of the lowest
    mean combined EER in the committed "Beyond the seed" table (a folder of seeds: the seed best
    on validation), so it follows the results when they change."""
    results = json.loads((C.REPORT_DIR / "results.json").read_text())
    lowest = results["sections"]["beyond"]["lowest"]["name"]
    run_dir = results["provenance"]["beyond"]["train_runs"][lowest]["run_dir"]
    (example,) = re.findall(r"-m krypto\.challenge\.submit --run (\S+)", README)
    assert example == run_dir, (example, lowest, run_dir)


def test_the_defaults_paragraph_states_the_committed_mining_comparison():
    """The paragraph "Choosing the defaults" gives, for the forgery branch with hard mining and
    with random mining, each table's mean combined EER and the p-value between them: those of
    the committed results (the lowest row of each table is the branch with hard mining)."""
    results = json.loads((C.REPORT_DIR / "results.json").read_text())
    hard, random_ = "forgery branch + hard mining", "forgery branch"
    tables = ("beyond", "portrait", "eigenfaces")
    sections = [results["sections"][key] for key in tables]
    assert all(section["lowest"]["name"] == hard for section in sections)
    means = [f"{s['table'][row]['eer']['mean']:.3f}" for row in (hard, random_) for s in sections]
    stated = re.search(
        r"hard mining\s+gave the lowest mean combined EER of all three tables below "
        r"\(([\d.]+), ([\d.]+) and ([\d.]+) against\s+([\d.]+), ([\d.]+) and ([\d.]+) with",
        README,
    )
    assert stated and list(stated.groups()) == means, (stated and stated.groups(), means)
    p_values = [format_p(s["lowest"]["versus"][random_]["p_value"]) for s in sections]
    found = re.findall(r"\((p [=<] [\d.]+)(?:\)|, undecided)", README[stated.end() :][:400])
    assert found == p_values, (found, p_values)
    # the replication's comparison of the same rows, one-sided (half the two-sided Welch p)
    replication = json.loads((C.REPORT_DIR / "replication.json").read_text())
    versus = [replication["sections"][key]["lowest"] for key in tables]
    assert all(lowest["name"] == hard for lowest in versus)
    one_sided = [f"{lowest['versus'][random_]['p_value'] / 2:.3f}" for lowest in versus]
    stated = re.search(r"one-sided p = ([\d.]+), ([\d.]+) and ([\d.]+), unadjusted", README)
    assert stated and list(stated.groups()) == one_sided, (stated and stated.groups(), one_sided)

"""The check that a reproduction agrees with the committed results: each table mean within a
tolerance derived from the seeds' spread, each claim made again when tested as a replication."""

import copy
import json
import math

import pytest
from scipy import stats

from krypto import constants as C
from krypto.pipeline.report.agreement import (
    RESULTS,
    claims,
    disagreements,
    main,
    replicated_claims,
    table_means,
    tolerances,
)
from krypto.pipeline.report.findings import all_verdicts

COMMITTED = C.REPO_ROOT / RESULTS
EERS = ("eer_real", "eer_fake", "eer_fake_other", "eer")


def cell(values):
    mean = sum(values) / len(values)
    std = stats.tstd(values) if len(set(values)) > 1 else 0.0
    return {"mean": mean, "std": std, "values": list(values)}


def row(eer, spread=0.002, n_pairs=6000):
    values = [eer - spread, eer, eer + spread]
    return {
        **{m: cell(values) for m in EERS},
        "n_seeds": 3,
        "best_epoch": [3, 3, 3],
        "n_pairs": [n_pairs] * 3,
    }


def results_of(tables: dict) -> dict:
    """results.json of these tables, with the report's verdicts."""
    sections = {key: {"table": copy.deepcopy(table)} for key, table in tables.items()}
    verdicts, findings, _ = all_verdicts(sections)
    for key, values in verdicts.items():
        sections[key].update(values)
    return {"sections": sections, "findings": findings}


TABLES = {
    "cutout": {"mouth": row(0.13), "nose": row(0.12), "eyes": row(0.20), "no cutout": row(0.09)},
    "model_selection": {"small_cnn": row(0.09), "resnet18": row(0.091, spread=0.02)},
}


@pytest.fixture
def committed() -> dict:
    return results_of(TABLES)


def test_the_committed_results_hold_means_and_claims_of_every_section():
    """A check that finds nothing to compare could never fail."""
    committed = json.loads(COMMITTED.read_text())
    means, stated = table_means(committed), claims(committed)
    trained = [s for s, body in committed["sections"].items() if body.get("lowest")]
    assert len(trained) >= 5, trained  # loss selection, lambda, cutout, model selection, beyond
    for section in trained:
        assert any(key.startswith(f"{section} / ") for key in means), section
        assert f"{section}: lowest" in stated, section
    assert {f"finding ({f['id']})" for f in committed["findings"]} <= stated.keys()
    problems, _ = disagreements(committed, copy.deepcopy(committed))
    assert problems == []  # (tested alone, more comparisons are decided: listed as new)


def test_claims_name_the_decided_comparisons_and_leave_the_undecided_as_none(committed):
    stated = claims(committed)
    assert stated["cutout: lowest"] == "no cutout"
    assert stated["cutout: mouth vs no cutout on eer"] == "no cutout lower"
    assert stated["model_selection: lowest"] is None  # 0.090 vs 0.091 +- 0.02
    assert stated["model_selection: small_cnn vs resnet18 on eer"] is None
    assert stated["finding (c)"] == "holds"  # every part clearly higher on eer


def test_the_tolerance_is_derived_from_the_pooled_spread(committed):
    allowed = tolerances(committed, committed)
    n_means = len(table_means(committed))
    stds = [0.002] * 4  # the cutout rows, on eer: 3 seeds each, both sides
    pooled = math.sqrt(sum(s**2 * 2 for s in stds * 2) / (2 * 8))
    quantile = stats.t.ppf(1 - 0.05 / (2 * n_means), 16)
    expected = quantile * pooled * math.sqrt(2 / 3)
    assert allowed["cutout / mouth / eer"] == pytest.approx(max(expected, quantile / 1500))
    # a wider section gets a wider tolerance; never below the test set's resolution
    assert allowed["model_selection / small_cnn / eer"] > allowed["cutout / mouth / eer"]
    assert min(allowed.values()) >= quantile / 1500 - 1e-12


def test_a_single_model_is_one_sample_and_gets_the_wider_tolerance(committed):
    tables = copy.deepcopy(TABLES)
    tables["cutout"]["eyes"] = row(0.20, spread=0.0)  # one model: identical seeds
    single = results_of(tables)
    allowed = tolerances(single, single)
    assert allowed["cutout / eyes / eer"] == pytest.approx(
        allowed["cutout / mouth / eer"] * math.sqrt(2) / math.sqrt(2 / 3)
    )


def test_a_mean_beyond_its_tolerance_is_named_and_one_within_is_not(committed):
    allowed = tolerances(committed, committed)["cutout / eyes / eer"]
    moved = copy.deepcopy(committed)
    moved["sections"]["cutout"]["table"]["eyes"]["eer"]["mean"] += allowed * 0.5
    assert disagreements(committed, moved) == ([], [])
    moved["sections"]["cutout"]["table"]["eyes"]["eer"]["mean"] += allowed
    problems, _ = disagreements(committed, moved)
    assert [p.split(":")[0] for p in problems] == ["cutout / eyes / eer"]


def test_a_claim_lost_or_reversed_is_named(committed):
    tables = copy.deepcopy(TABLES)
    tables["cutout"]["mouth"] = row(0.09, spread=0.03)  # no longer told from no cutout
    problems, _ = disagreements(committed, results_of(tables))
    assert "cutout: mouth vs no cutout on eer: claim 'no cutout lower' lost" in problems
    tables["cutout"]["mouth"] = row(0.05)  # now clearly lower than no cutout
    problems, _ = disagreements(committed, results_of(tables))
    assert any(p.startswith("cutout: lowest: claim 'no cutout' reversed") for p in problems)
    assert any(p.startswith("cutout: mouth vs no cutout on eer: claim") for p in problems)


def test_a_replication_is_tested_one_sided_without_adjustment(committed):
    tables = copy.deepcopy(TABLES)
    # mouth barely above no cutout: one-sided p < 0.05 alone, but not after Holm over many
    tables["cutout"]["mouth"] = {**row(0.095), "eer": cell([0.093, 0.095, 0.097])}
    again = replicated_claims(results_of(tables))
    assert again["cutout: mouth vs no cutout on eer"] == "no cutout lower"
    assert results_of(tables)["sections"]["cutout"]["versus"]["mouth"]["eer"]["lower"] is None


def test_a_comparison_decided_only_by_the_reproduction_is_listed_not_failed(committed):
    tables = copy.deepcopy(TABLES)
    tables["model_selection"]["resnet18"] = row(0.11, spread=0.001)  # within the tolerance
    problems, new = disagreements(committed, results_of(tables))
    assert problems == []
    assert any(line.startswith("model_selection: lowest: 'small_cnn'") for line in new)


def test_a_missing_row_is_named(committed):
    fewer = copy.deepcopy(committed)
    del fewer["sections"]["cutout"]["table"]["nose"]
    problems, _ = disagreements(committed, fewer)
    assert "cutout / nose / eer: only in the committed results" in problems


def test_command_line_exit_codes(committed, tmp_path, capsys):
    same, base = tmp_path / "same.json", tmp_path / "base.json"
    same.write_text(json.dumps(committed))
    base.write_text(json.dumps(committed))
    assert main([str(same), "--committed", str(base)]) == 0
    assert capsys.readouterr().out.strip().endswith("agree")
    tables = copy.deepcopy(TABLES)
    tables["cutout"]["mouth"] = row(0.05)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(results_of(tables)))
    assert main([str(other), "--committed", str(base)]) == 1
    assert main([str(tmp_path / "absent.json"), "--committed", str(base)]) == 2


def test_the_readme_states_the_check():
    readme = (C.REPO_ROOT / "README.md").read_text()
    assert "make check-reproduction" in readme and "SEEDS=5,6,7" in readme
    assert "tolerance derived from the seeds' spread" in readme


REPLICATION = C.REPORT_DIR / "replication.json"  # SEEDS=5,6,7,8,9, other CPU kernels


def _seed_folders(results: dict) -> set[str]:
    """The seed folders (``seed<k>``) of every training the results' tables come from."""
    sections = results["provenance"].values()
    trained = [run for section in sections for run in section.get("train_runs", {}).values()]
    return {seed.rsplit("/", 1)[-1] for run in trained for seed in run["seeds"]}


def test_the_committed_replication_agrees_with_the_committed_results():
    """The replication of the README (disjoint seeds, the CPU's other kernels, the same code)
    makes every claim of the committed results again, each mean within its tolerance."""
    committed = json.loads(COMMITTED.read_text())
    replication = json.loads(REPLICATION.read_text())
    assert replication["code_hash"] == committed["code_hash"]
    assert _seed_folders(committed) == {f"seed{k}" for k in range(5)}
    assert _seed_folders(replication) == {f"seed{k}" for k in range(5, 10)}
    problems, _ = disagreements(committed, replication)
    assert problems == []

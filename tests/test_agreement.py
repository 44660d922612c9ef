"""The check that a fresh `make reproduce` agrees with the committed results: each table mean
within the README's tolerance, each verdict identical."""

import copy
import json

import pytest

from krypto import constants as C
from krypto.pipeline.report.agreement import (
    MEAN_TOLERANCE,
    RESULTS,
    disagreements,
    main,
    table_means,
    verdicts,
)

COMMITTED = C.REPO_ROOT / RESULTS


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(COMMITTED.read_text())


def test_the_committed_results_hold_means_and_verdicts_of_every_section(committed):
    """A check that finds nothing to compare could never fail."""
    means, stated = table_means(committed), verdicts(committed)
    trained = [s for s, body in committed["sections"].items() if body.get("lowest")]
    assert len(trained) >= 5, trained  # loss selection, lambda, cutout, model selection, beyond
    for section in trained:
        assert any(key.startswith(f"{section} / ") for key in means), section
        assert f"{section}: lowest" in stated, section
    assert {f"finding ({f['id']})" for f in committed["findings"]} <= stated.keys()


def test_identical_results_agree(committed):
    assert disagreements(committed, copy.deepcopy(committed)) == []


def test_a_mean_beyond_the_tolerance_is_named_and_one_within_is_not(committed):
    section, body = next((s, b) for s, b in committed["sections"].items() if b.get("table"))
    row = next(iter(body["table"]))
    moved = copy.deepcopy(committed)
    cell = moved["sections"][section]["table"][row]["eer"]
    cell["mean"] += MEAN_TOLERANCE * 0.5
    assert disagreements(committed, moved) == []
    cell["mean"] += MEAN_TOLERANCE
    (problem,) = disagreements(committed, moved)
    assert problem.startswith(f"{section} / {row} / eer: mean")


def test_a_flipped_verdict_is_named(committed):
    flipped = copy.deepcopy(committed)
    flipped["findings"][0]["verdict"] = "does not hold"
    section, body = next((s, b) for s, b in flipped["sections"].items() if b.get("versus"))
    row, metrics = next(iter(body["versus"].items()))
    metric, verdict = next(iter(metrics.items()))
    verdict["lower"] = None if verdict["lower"] else "a"
    problems = disagreements(committed, flipped)
    assert len(problems) == 2
    assert any(
        p.startswith(f"finding ({committed['findings'][0]['id']}): verdict") for p in problems
    )
    assert any(p.startswith(f"{section}: {row} vs ") and f"on {metric}" in p for p in problems)


def test_a_missing_row_is_named(committed):
    fewer = copy.deepcopy(committed)
    section, body = next((s, b) for s, b in fewer["sections"].items() if b.get("table"))
    row = next(iter(body["table"]))
    del body["table"][row]
    problems = disagreements(committed, fewer)
    assert f"{section} / {row} / eer: only in the committed results" in problems


def test_command_line_exit_codes(committed, tmp_path, capsys):
    same = tmp_path / "same.json"
    same.write_text(json.dumps(committed))
    assert main([str(same), "--committed", str(COMMITTED)]) == 0
    assert capsys.readouterr().out.strip().endswith("agree")
    moved = copy.deepcopy(committed)
    moved["findings"][0]["verdict"] = "does not hold"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(moved))
    assert main([str(other), "--committed", str(COMMITTED)]) == 1
    assert main([str(tmp_path / "absent.json"), "--committed", str(COMMITTED)]) == 2


def test_the_readme_states_the_tolerance_the_check_applies():
    readme = (C.REPO_ROOT / "README.md").read_text()
    assert f"within {MEAN_TOLERANCE} (absolute EER) and every verdict identical" in readme
    assert "make check-reproduction" in readme

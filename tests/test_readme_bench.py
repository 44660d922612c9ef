"""The README's performance table is the committed benchmark output, word for word."""

import json

import pytest

from krypto import constants as C

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def test_readme_performance_block_is_the_committed_benchmark():
    bench_md = C.REPORT_DIR / "bench.md"
    if not bench_md.exists():
        pytest.skip("no committed benchmark yet (make bench writes runs/report/bench.md)")
    readme = (C.REPO_ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme, "README lacks the bench markers"
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == demoted(bench_md.read_text()).strip()


def demoted(markdown: str) -> str:
    """The benchmark's headings two levels down, as the README nests them."""
    return "\n".join(
        "##" + line if line.startswith("#") else line for line in markdown.splitlines()
    )


def test_readme_says_which_goals_fail():
    """The text above the table says how many goals of the committed benchmark fail, and which."""
    bench_json = C.REPORT_DIR / "bench.json"
    if not bench_json.exists():
        pytest.skip("no committed benchmark yet (make bench writes runs/report/bench.json)")
    goals = json.loads(bench_json.read_text())["goals"]
    failing = [goal["measurement"] for goal in goals if not goal["passed"]]
    text = " ".join((C.REPO_ROOT / "README.md").read_text().split(BEGIN, 1)[0].split())
    counted = {0: "no goal fails", 1: "one goal fails", 2: "two goals fail", 3: "three goals fail"}
    assert counted[len(failing)] in text
    named = {"2. miner, batch 36": "the miner at batch 36", "3. inference": "make_submission"}
    for measurement in failing:
        assert any(measurement.startswith(k) and v in text for k, v in named.items()), measurement

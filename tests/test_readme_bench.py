"""The README's performance table is the committed benchmark output, word for word."""

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

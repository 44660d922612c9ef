"""The command line (collect the runs, write REPORT.md and the README's results block), and the
README's block: its marker lines, replacing it, and the drift check against a results.json."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path

from krypto import constants as C
from krypto.files import write_text
from krypto.paths import display_path
from krypto.pipeline.report.collect import collect
from krypto.pipeline.report.markdown import (
    README_HEADING_LEVEL,
    REPORT_HEADING_LEVEL,
    titled_markdown,
)
from krypto.pipeline.report.sections import FIGURES_DIR, REPORT_COMMAND, ReportError

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
REPORT_FILE = "REPORT.md"


def marker_lines(text: str) -> tuple[list[str], int, int]:
    """The lines of ``text`` and the indices of its one begin and, below, one end marker."""
    lines = text.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        found = f"found {len(begins)} and {len(ends)}"
        if len(begins) == len(ends) == 1:
            found += ", in the wrong order"
        raise ReportError(
            f"the README needs exactly one line {BEGIN} and, below it, one line "
            f"{END} ({found}): put them where the results go"
        )
    return lines, begins[0], ends[0]


def readme_block(readme_text: str) -> str:
    """The text between the marker lines (without them)."""
    lines, begin, end = marker_lines(readme_text)
    return "\n".join(lines[begin + 1 : end])


def replace_readme_block(readme_text: str, block: str) -> str:
    """``readme_text`` with the text between the marker lines replaced by ``block``."""
    lines, begin, end = marker_lines(readme_text)
    return "\n".join(lines[: begin + 1] + block.rstrip("\n").split("\n") + lines[end:])


def figure_links(markdown: str) -> list[str]:
    """Targets of the markdown images ``![alt](target)``."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown)


def readme_prefix(readme: Path, out: Path) -> str:
    """Figure prefix for a README: ``<out>/figures/`` relative to the README's folder."""
    rel = os.path.relpath(Path(out).absolute() / FIGURES_DIR, Path(readme).absolute().parent)
    return Path(rel).as_posix() + "/"


def check_readme(
    readme_path: str | Path,
    results_path: str | Path,
    figure_prefix: str,
    heading_level: int = README_HEADING_LEVEL,
) -> list[str]:
    """Lines where the README's block and the render of ``results_path`` differ, then the
    figures it links that do not exist; empty when they agree."""
    readme_path = Path(readme_path)
    try:
        block = readme_block(readme_path.read_text())
    except ReportError as error:
        return [f"{readme_path}: {error}"]
    expected = titled_markdown(
        json.loads(Path(results_path).read_text()), figure_prefix, heading_level=heading_level
    )
    differences = [
        f"{'README' if line[0] == '-' else 'expected'}: {line[2:]}"
        for line in difflib.ndiff(block.strip("\n").split("\n"), expected.strip("\n").split("\n"))
        if line[:2] in ("- ", "+ ")
    ]
    for link in figure_links(block):
        if not (readme_path.parent / link).is_file():
            differences.append(f"missing figure: {link}")
    return differences


def write_report(results: dict, out: Path, readme: Path | None = None) -> None:
    """``<out>/REPORT.md`` and, with ``readme``, the README's results block."""
    report = titled_markdown(results, FIGURES_DIR + "/", heading_level=REPORT_HEADING_LEVEL)
    write_text(out / REPORT_FILE, report)
    if readme is not None:
        prefix = readme_prefix(readme, out)
        block = titled_markdown(results, prefix, heading_level=README_HEADING_LEVEL)
        write_text(readme, replace_readme_block(readme.read_text(), block))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=REPORT_COMMAND,
        description="Collect the runs' results into <out>/results.json, REPORT.md and the README.",
    )
    parser.add_argument(
        "--runs-dir", type=Path, default=C.RUNS_DIR, help="folder of run folders (default runs/)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="report folder (default <runs-dir>/report)"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--readme",
        type=Path,
        default=C.REPO_ROOT / "README.md",
        help="README whose results block to replace (default README.md)",
    )
    group.add_argument("--no-readme", action="store_true", help="leave the README alone")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; 0 on success, 2 on a missing run or README marker."""
    args = _parser().parse_args(argv)
    runs_dir = args.runs_dir.absolute()
    out = (args.out or runs_dir / "report").absolute()
    readme = None if args.no_readme else args.readme.absolute()
    try:
        if readme is not None:  # fail before writing anything
            if not readme.is_file():
                raise ReportError(f"no README at {readme}; pass --readme PATH or --no-readme")
            marker_lines(readme.read_text())
        results = collect(runs_dir, out)
        write_report(results, out, readme)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"report: {display_path(out / REPORT_FILE)}, {display_path(out / C.RESULTS_FILE)}"
        + (f"; README block updated: {display_path(readme)}" if readme else "")
    )
    return 0

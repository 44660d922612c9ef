"""The command line: collect the runs, write REPORT.md and the README's results block."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from krypto import constants as C
from krypto.files import write_text
from krypto.paths import display_path
from krypto.pipeline.report.collect import collect
from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.markdown import (
    README_HEADING_LEVEL,
    REPORT_HEADING_LEVEL,
    titled_markdown,
)
from krypto.pipeline.report.readme import marker_lines, readme_prefix, replace_readme_block
from krypto.pipeline.report.sections import FIGURES_DIR, REPORT_COMMAND
from krypto.pipeline.results import RESULTS_FILE

REPORT_FILE = "REPORT.md"


def write_report(results: dict, out: Path, readme: Path | None = None) -> None:
    """``<out>/REPORT.md`` and, with ``readme``, the README's results block."""
    write_text(
        out / REPORT_FILE,
        titled_markdown(results, FIGURES_DIR + "/", heading_level=REPORT_HEADING_LEVEL),
    )
    if readme is not None:
        text = readme.read_text()
        block = titled_markdown(
            results, readme_prefix(readme, out), heading_level=README_HEADING_LEVEL
        )
        write_text(readme, replace_readme_block(text, block))


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
        f"report: {display_path(out / REPORT_FILE)}, {display_path(out / RESULTS_FILE)}"
        + (f"; README block updated: {display_path(readme)}" if readme else "")
    )
    return 0

"""``python -m krypto.pipeline.report``: collect the runs (:func:`~.collect.collect`), write
REPORT.md and replace the README's results block."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from krypto import constants as C
from krypto.files import write_text
from krypto.paths import display_path
from krypto.pipeline.report.collect import collect
from krypto.pipeline.report.markdown import (
    README_HEADING_LEVEL,
    REPORT_HEADING_LEVEL,
    marker_lines,
    replace_readme_block,
    titled_markdown,
)
from krypto.pipeline.report.spec import FIGURES_DIR, REPORT_COMMAND, ReportError

REPORT_FILE = "REPORT.md"


def readme_prefix(readme: Path, out: Path) -> str:
    """Figure prefix for a README: ``<out>/figures/`` relative to the README's folder."""
    rel = os.path.relpath(Path(out).absolute() / FIGURES_DIR, Path(readme).absolute().parent)
    return Path(rel).as_posix() + "/"


def write_report(results: dict, out: Path, readme: Path | None = None) -> None:
    """``<out>/REPORT.md`` and, with ``readme``, the README's results block."""
    report = titled_markdown(results, FIGURES_DIR + "/", REPORT_HEADING_LEVEL)
    write_text(out / REPORT_FILE, report)
    if readme is not None:
        block = titled_markdown(results, readme_prefix(readme, out), README_HEADING_LEVEL)
        write_text(readme, replace_readme_block(readme.read_text(), block))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=REPORT_COMMAND,
        description="Collect the runs' results into <out>/results.json, REPORT.md and the README.",
    )
    parser.add_argument("--runs-dir", type=Path, default=C.RUNS_DIR, help="default: runs/")
    parser.add_argument("--out", type=Path, help="report folder (default: <runs-dir>/report)")
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
        write_report(collect(runs_dir, out), out, readme)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    written = f"report: {display_path(out / REPORT_FILE)}, {display_path(out / C.RESULTS_FILE)}"
    print(written + (f"; README block updated: {display_path(readme)}" if readme else ""))
    return 0

"""``python -m krypto.pipeline.report``: collect the runs, write REPORT.md and the README's
results block."""

import argparse
import os
import sys
from pathlib import Path

from krypto import constants as C
from krypto.files import write_text
from krypto.paths import display_path
from krypto.pipeline.batch_file import BatchError
from krypto.pipeline.report.collect import collect
from krypto.pipeline.report.markdown import README_HEADING_LEVEL as README_LEVEL
from krypto.pipeline.report.markdown import REPORT_HEADING_LEVEL, check_prose, render_markdown
from krypto.pipeline.report.spec import FIGURES_DIR, REPORT_COMMAND, ReportError

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
REPORT_FILE = "REPORT.md"


def marker_lines(text: str) -> tuple[list[str], int, int]:
    """The lines of ``text`` and the indices of its one begin and, below, one end marker."""
    lines = text.split("\n")
    begins, ends = ([i for i, line in enumerate(lines) if line.strip() == m] for m in (BEGIN, END))
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        order = ", in the wrong order" if len(begins) == len(ends) == 1 else ""
        raise ReportError(
            f"the README needs exactly one line {BEGIN} and, below it, one line {END} (found "
            f"{len(begins)} and {len(ends)}{order}): put them where the results go"
        )
    return lines, begins[0], ends[0]


def replace_readme_block(readme_text: str, block: str) -> str:
    """``readme_text`` with the text between the marker lines replaced by ``block``."""
    lines, begin, end = marker_lines(readme_text)
    return "\n".join(lines[: begin + 1] + block.rstrip("\n").split("\n") + lines[end:])


def write_report(results: dict, out: Path, readme: Path | None = None) -> None:
    """``<out>/REPORT.md`` and, with ``readme``, the README's results block (its figures linked
    relative to the README's folder)."""
    write_text(out / REPORT_FILE, render_markdown(results, FIGURES_DIR + "/", REPORT_HEADING_LEVEL))
    if readme is not None:
        prefix = os.path.relpath(out.absolute() / FIGURES_DIR, readme.absolute().parent)
        block = render_markdown(results, Path(prefix).as_posix() + "/", README_LEVEL)
        write_text(readme, replace_readme_block(readme.read_text(), block))


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0, or 2 on a missing run, README marker or an unreadable batch file."""
    parser = argparse.ArgumentParser(
        prog=REPORT_COMMAND,
        description="Collect the runs' results into <out>/results.json, REPORT.md and the README.",
    )
    parser.add_argument("--runs-dir", type=Path, default=C.RUNS_DIR, help="default: runs/")
    parser.add_argument("--out", type=Path, help="report folder (default: <runs-dir>/report)")
    readme_options = parser.add_mutually_exclusive_group()
    readme_options.add_argument(
        "--readme", type=Path, default=C.REPO_ROOT / "README.md", help="default: README.md"
    )
    readme_options.add_argument("--no-readme", action="store_true", help="leave it alone")
    args = parser.parse_args(argv)
    runs_dir = args.runs_dir.absolute()
    out = (args.out or runs_dir / "report").absolute()
    readme = None if args.no_readme else args.readme.absolute()
    try:  # fail before writing anything: the README's markers, the prose's parameters
        if readme is not None:
            if not readme.is_file():
                raise ReportError(f"no README at {readme}; pass --readme PATH or --no-readme")
            marker_lines(readme.read_text())
        check_prose()
        write_report(collect(runs_dir, out), out, readme)
    except (ReportError, BatchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    written = f"report: {display_path(out / REPORT_FILE)}, {display_path(out / C.RESULTS_FILE)}"
    print(written + (f"; README block updated: {display_path(readme)}" if readme else ""))
    return 0

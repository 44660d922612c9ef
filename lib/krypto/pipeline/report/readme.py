"""The README's results block: the marker lines around it, replacing it, and the drift check
(the block against the render of a results.json)."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.markdown import README_HEADING_LEVEL, titled_markdown
from krypto.pipeline.report.sections import FIGURES_DIR

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def marker_lines(text: str) -> tuple[list[str], int, int]:
    """The lines of ``text`` and the indices of its two marker lines; a :class:`ReportError`
    unless there is exactly one of each, in order."""
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
    """``readme_text`` with the text between the marker lines replaced by ``block``; the markers
    and everything outside them are kept as they are."""
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
    """Differences between the README's results block and the render of ``results_path``
    (``-`` lines: README, ``+``: expected), then figures the README links that do not exist.
    Empty when they agree."""
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

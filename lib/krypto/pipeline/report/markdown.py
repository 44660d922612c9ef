"""The report as markdown: report.md.j2 rendered from a results.json dict and the parameter
values its prose quotes (:func:`~.parameters.prose_parameters`), every sentence about the
results generated (sentences.j2) from the verdicts results.json holds; and the README's block
of it: its marker lines, replacing it, and the check that it agrees with a results.json."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import jinja2

import krypto.pipeline.report.spec as S
import krypto.pipeline.report.tables as V
from krypto.evaluation import verdicts as VR
from krypto.pipeline.report.findings import VERSUS_METRICS
from krypto.pipeline.report.parameters import prose_parameters

# REPORT.md: "# Results", then ## sections; the README block: "## Results", then ### sections.
REPORT_HEADING_LEVEL, README_HEADING_LEVEL = 2, 3
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
TEMPLATE.filters["repr"] = repr
TEMPLATE.globals.update(S=S, V=V, VR=VR)
SENTENCES = TEMPLATE.get_template("sentences.j2").module  # its macros, callable from Python


def _epochs_of(rows: dict) -> str:
    """The epochs the rows' seeds ran, each once, in order."""
    runs = [e for row in rows.values() for e in V.as_list(row.get("epochs_run"))]
    return ", ".join(map(str, sorted({int(e) for e in map(V.to_number, runs) if e is not None})))


def render_markdown(
    results: dict,
    figure_prefix: str,
    heading_level: int = REPORT_HEADING_LEVEL,
    parameters: dict | None = None,
) -> str:
    """The markdown of every section from a results.json dict; figures are linked as
    ``figure_prefix + name``. The parameter values the prose quotes come from ``parameters``
    (default: :func:`~.parameters.prose_parameters`, the batch files)."""
    sections = results.get("sections") or {}
    text = TEMPLATE.get_template("report.md.j2").render(
        results=results,
        h="#" * heading_level,
        prefix=figure_prefix,
        quoted=parameters if parameters is not None else prose_parameters(),
        seed=results.get("seed") or S.seed_results(),
        provenance=results.get("provenance") or {},
        section=lambda key: sections.get(key) or {},
        versus_columns=[(m, f"{m} ↓", "text") for m in VERSUS_METRICS],
        epochs_of=_epochs_of,
    )
    return text.rstrip() + "\n"


def titled_markdown(
    results: dict,
    figure_prefix: str,
    heading_level: int = README_HEADING_LEVEL,
    parameters: dict | None = None,
) -> str:
    """:func:`render_markdown` under a "Results" heading one level up: the README block
    (``heading_level`` 3, the default) and REPORT.md (2)."""
    title = f"{'#' * (heading_level - 1)} Results\n\n"
    return title + render_markdown(results, figure_prefix, heading_level, parameters)


def marker_lines(text: str) -> tuple[list[str], int, int]:
    """The lines of ``text`` and the indices of its one begin and, below, one end marker."""
    lines = text.split("\n")
    begins, ends = ([i for i, line in enumerate(lines) if line.strip() == m] for m in (BEGIN, END))
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        order = ", in the wrong order" if len(begins) == len(ends) == 1 else ""
        raise S.ReportError(
            f"the README needs exactly one line {BEGIN} and, below it, one line {END} (found "
            f"{len(begins)} and {len(ends)}{order}): put them where the results go"
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
    except S.ReportError as error:
        return [f"{readme_path}: {error}"]
    results = json.loads(Path(results_path).read_text())
    expected = titled_markdown(results, figure_prefix, heading_level)
    differences = [
        f"{'README' if line[0] == '-' else 'expected'}: {line[2:]}"
        for line in difflib.ndiff(block.strip("\n").split("\n"), expected.strip("\n").split("\n"))
        if line[:2] in ("- ", "+ ")
    ]
    missing = [link for link in figure_links(block) if not (readme_path.parent / link).is_file()]
    return differences + [f"missing figure: {link}" for link in missing]

"""The results report: every table and figure of the README, from the finished runs.

``python -m krypto.pipeline.report [--runs-dir runs] [--out runs/report] [--readme README.md |
--no-readme]``: :func:`collect` writes ``<out>/results.json`` (every table, verdict, finding
and source of the runs of ``params/readme.yaml``) and the figures; :func:`render_markdown` makes
``REPORT.md`` and the README's block of it; :func:`check_readme` finds where they disagree.
"""

from krypto.pipeline.report.cli import (
    check_readme,
    figure_links,
    main,
    readme_block,
    replace_readme_block,
)
from krypto.pipeline.report.collect import collect
from krypto.pipeline.report.findings import (
    all_verdicts,
    beyond_summary,
    compute_findings,
    section_verdicts,
    versus_reference,
)
from krypto.pipeline.report.markdown import (
    beyond_sentence,
    reading_lines,
    render_markdown,
    titled_markdown,
    versus_sentence,
)
from krypto.pipeline.report.parameters import prose_parameters
from krypto.pipeline.report.sections import SECTIONS, SEED_RECIPE, ReportError, seed_results
from krypto.pipeline.report.values import round_values

__all__ = [
    "SECTIONS",
    "SEED_RECIPE",
    "ReportError",
    "all_verdicts",
    "beyond_sentence",
    "beyond_summary",
    "check_readme",
    "collect",
    "compute_findings",
    "figure_links",
    "main",
    "prose_parameters",
    "readme_block",
    "reading_lines",
    "render_markdown",
    "replace_readme_block",
    "round_values",
    "section_verdicts",
    "seed_results",
    "titled_markdown",
    "versus_reference",
    "versus_sentence",
]

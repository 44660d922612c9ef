"""The results report: every table and figure of the README, from the finished runs.

::

    python -m krypto.pipeline.report [--runs-dir runs] [--out runs/report]
                                     [--readme README.md | --no-readme]

Three steps:

1. :func:`collect` reads the ``results.json`` of the runs ``python -m krypto.pipeline.batch
   params/readme.yaml`` makes (see :data:`SECTIONS`), copies the figures the README shows into
   ``<out>/figures/`` under stable names and writes ``<out>/results.json``: every table (rounded to
   4 decimals; a training table holds, per configuration, each test EER as ``{mean, std,
   values}`` over its seeds), the verdicts of each training table (its lowest ``eer`` and every
   row against a reference row), the figure names, the seed's numbers
   (``params/seed_results.yaml``), the seed's findings checked against ours
   (:func:`compute_findings`), provenance (per section the run folder and the command that made
   it, and per seed ``seconds``/``epochs_run`` of every training configuration it read) and
   :func:`code_hash`, a fingerprint of the code that made the results.
2. :func:`render_markdown` turns that dict into markdown; the parameter values its prose quotes
   come from the batch files (:func:`prose_parameters`).

Every verdict, in the tables' sentences, the findings and "Reading the results", follows the one
rule of :mod:`krypto.evaluation.verdicts` (:data:`~krypto.evaluation.verdicts.RULE`): two
configurations differ on a metric when Welch's t-test over their per-seed values gives p < 0.05;
otherwise "no clear difference". A finding ``holds`` or ``differs`` only when the rule says so.
3. :func:`main` writes ``<out>/REPORT.md`` and replaces the block between the lines
   ``<!-- results:begin -->`` and ``<!-- results:end -->`` of the README with the same render
   (figure paths relative to the README). :func:`check_readme` says where a README's block and a
   ``results.json`` disagree, for a test that fails when the README drifts.

The modules: :mod:`.sections` (which run feeds which section), :mod:`.collect` (reading the runs,
writing results.json), :mod:`.provenance` (commands, run folders, the code hash), :mod:`.seed`
(the seed's numbers), :mod:`.findings` (the seed's findings and every table's verdicts),
:mod:`.parameters` (values quoted in the prose), :mod:`.tables`, :mod:`.section_blocks` and
:mod:`.markdown` (the render), :mod:`.reading` (the verdicts in words: "Reading the results"),
:mod:`.readme` (markers, splicing, the drift check), :mod:`.cli` (the command line).
"""

from krypto.pipeline.report.cli import REPORT_FILE, main, write_report
from krypto.pipeline.report.collect import collect
from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.findings import (
    DIFFERS,
    HOLDS,
    NO_CLEAR,
    UNKNOWN,
    beyond_summary,
    compute_findings,
    lowest_of,
    section_verdicts,
    versus_reference,
)
from krypto.pipeline.report.markdown import (
    README_HEADING_LEVEL,
    REPORT_HEADING_LEVEL,
    render_markdown,
    titled_markdown,
)
from krypto.pipeline.report.parameters import prose_parameters
from krypto.pipeline.report.provenance import code_files, code_hash
from krypto.pipeline.report.reading import beyond_sentence, reading_lines, versus_sentence
from krypto.pipeline.report.readme import (
    BEGIN,
    END,
    check_readme,
    figure_links,
    readme_block,
    readme_prefix,
    replace_readme_block,
)
from krypto.pipeline.report.sections import (
    BATCH_COMMAND,
    BATCH_FILE,
    FIGURES_DIR,
    SECTIONS,
    SEED_RECIPE,
    Section,
)
from krypto.pipeline.report.seed import seed_results
from krypto.pipeline.report.values import DECIMALS, format_number, round_values

__all__ = [
    "BATCH_COMMAND",
    "BATCH_FILE",
    "BEGIN",
    "DECIMALS",
    "DIFFERS",
    "END",
    "FIGURES_DIR",
    "HOLDS",
    "NO_CLEAR",
    "README_HEADING_LEVEL",
    "REPORT_FILE",
    "REPORT_HEADING_LEVEL",
    "ReportError",
    "SECTIONS",
    "SEED_RECIPE",
    "Section",
    "UNKNOWN",
    "beyond_sentence",
    "beyond_summary",
    "check_readme",
    "code_files",
    "code_hash",
    "collect",
    "compute_findings",
    "figure_links",
    "format_number",
    "lowest_of",
    "main",
    "prose_parameters",
    "readme_block",
    "readme_prefix",
    "reading_lines",
    "render_markdown",
    "replace_readme_block",
    "round_values",
    "section_verdicts",
    "seed_results",
    "titled_markdown",
    "versus_reference",
    "versus_sentence",
    "write_report",
]

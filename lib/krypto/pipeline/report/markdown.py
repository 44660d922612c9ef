"""The report as markdown: report.md.j2 rendered from a results.json dict, its sentences
(sentences.j2) from the verdicts results.json holds, and the parameter values the pages' intros
quote (report.yaml's ``quote``), read from the batch files."""

from __future__ import annotations

import functools
from dataclasses import asdict
from pathlib import Path

import jinja2

import krypto.pipeline.report.spec as S
import krypto.pipeline.report.tables as V
from krypto import constants as C
from krypto.evaluation import verdicts as VR
from krypto.learning.config import TrainConfig
from krypto.pipeline.batch_file import TRAIN_NOTEBOOK, TRAIN_PATH, load_batch
from krypto.pipeline.report.findings import VERSUS_METRICS

# REPORT.md: "# Results", then ## sections; the README block: "## Results", then ### sections.
REPORT_HEADING_LEVEL, README_HEADING_LEVEL = 2, 3
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


@functools.cache
def train_parameters(key: str) -> dict[str, dict]:
    """The training runs of section ``key`` (its run's ``train_runs``): row name -> every
    parameter of that training (:class:`~krypto.learning.config.TrainConfig`'s, its defaults
    included); a row naming a folder of seeds gets its first seed's."""
    runs = {run.full_name: run for run in load_batch(C.REPO_ROOT / S.BATCH_FILE)}
    section = S.SECTIONS_BY_KEY[key]
    out = {}
    for row, ref in S.train_refs(runs[section.run].parameters).items():
        run = runs.get(ref) or next((r for n, r in runs.items() if n.startswith(f"{ref}/")), None)
        if run is None or run.notebook != TRAIN_PATH:
            raise S.ReportError(
                f"{section.run} reads {ref} ({row}), which {S.BATCH_FILE} "
                f"does not train with {TRAIN_NOTEBOOK}"
            )
        out[row] = asdict(TrainConfig.from_dict(run.parameters))
    return out


def _quoted(rows: dict[str, dict], name: str) -> str:
    """The values of parameter ``name`` in ``rows`` as the prose quotes them (``1.0`` as ``1``),
    joined by "or" when they differ."""
    values = [row[name] for row in rows.values()]
    return " or ".join(dict.fromkeys(f"{v:g}" if isinstance(v, float) else str(v) for v in values))


def quote(spec: dict, runs: dict[str, dict]) -> str:
    """One field of report.yaml's ``quote`` (see there) over the training runs ``runs`` of its
    section (:func:`train_parameters`)."""
    rows = {
        name: row
        for name, row in runs.items()
        if name in spec.get("rows", runs) and name not in spec.get("except", [])
    }
    missing = [row for row in spec.get("rows", []) if row not in runs]
    if missing or not rows:
        raise S.ReportError(f"report.yaml quotes {spec} of rows its batch lacks: {missing}")
    name, say = spec["parameter"], spec.get("say")
    text = _quoted(rows, name)
    if say is not None and text not in say:
        values = [row[name] for row in rows.values()]
        hits = [v == spec["equals"] if "equals" in spec else bool(v) for v in values]
        text = "all" if all(hits) else "some" if any(hits) else "none"
    fields = {key: _quoted(rows, key) for key in next(iter(rows.values()))}
    return text if say is None else say[text].format(**fields)


@functools.cache
def prose_parameters() -> dict[str, dict[str, str]]:
    """Per section, the fields its intro quotes, as text."""
    return {
        section.key: {
            field: quote(spec, train_parameters(spec.get("of", section.key)))
            for field, spec in section.quote.items()
        }
        for section in S.SECTIONS
        if section.quote
    }


def render_markdown(
    results: dict,
    figure_prefix: str,
    heading_level: int = REPORT_HEADING_LEVEL,
    parameters: dict | None = None,
) -> str:
    """The markdown of every section from a results.json dict, under a "Results" heading one
    level up; figures are linked as ``figure_prefix + name``. The parameter values the prose
    quotes come from ``parameters`` (default: :func:`prose_parameters`, the batch files)."""
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
    )
    return text.rstrip() + "\n"

"""The report as markdown: report.md.j2 rendered from a results.json dict, its sentences
(sentences.j2) from the verdicts results.json holds, and its prose checked against the
parameters of the batch files (report.yaml's ``states``)."""

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


@functools.cache
def check_prose() -> None:
    """Raise :class:`~.spec.ReportError` unless every parameter value the pages' prose states
    (report.yaml's ``states``) is that of the training runs it describes in the batch files."""
    for section in S.SECTIONS:
        for spec in section.states:
            runs = train_parameters(spec.get("of", section.key))
            rows = spec.get("rows") or [row for row in runs if row not in spec.get("except", [])]
            found = {row: (runs.get(row) or {}).get(spec["parameter"], "no run") for row in rows}
            other = {row: value for row, value in found.items() if value != spec["equals"]}
            if other:
                raise S.ReportError(
                    f"the prose of {section.title} (report.yaml) states {spec['parameter']} = "
                    f"{spec['equals']!r}, but {S.BATCH_FILE} trains {other}: update the prose"
                )


def render_markdown(
    results: dict, figure_prefix: str, heading_level: int = REPORT_HEADING_LEVEL
) -> str:
    """The markdown of every section of a results.json dict under a "Results" heading a level up,
    figures linked as ``figure_prefix + name``, its prose checked first (:func:`check_prose`)."""
    check_prose()
    sections = results.get("sections") or {}
    text = TEMPLATE.get_template("report.md.j2").render(
        results=results,
        h="#" * heading_level,
        prefix=figure_prefix,
        seed=results.get("seed") or S.seed_results(),
        provenance=results.get("provenance") or {},
        section=lambda key: sections.get(key) or {},
        versus_columns=[(m, f"{m} ↓", "text") for m in VERSUS_METRICS],
    )
    return text.rstrip() + "\n"

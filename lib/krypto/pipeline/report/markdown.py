"""The report as markdown: report.md.j2 rendered from a results.json dict and the parameter
values its prose quotes (:func:`~.parameters.prose_parameters`), and the results in words, every
sentence generated from the verdicts results.json holds."""

from __future__ import annotations

from pathlib import Path

import jinja2

import krypto.pipeline.report.sections as S
import krypto.pipeline.report.values as V
from krypto.evaluation import verdicts as VR
from krypto.evaluation.verdicts import A, B, LowestVerdict, Verdict, join_names
from krypto.pipeline.report.findings import VERSUS_METRICS, beyond_summary
from krypto.pipeline.report.parameters import prose_parameters
from krypto.pipeline.report.values import as_list, table, to_number

# REPORT.md: "# Results", then ## sections; the README block: "## Results", then ### sections.
REPORT_HEADING_LEVEL = 2
README_HEADING_LEVEL = 3
RESULTS_TITLE = "Results"
NAMES = {"triplet": S.TRIPLET, "triplet_fake": S.TRIPLET_FAKE, "cos_head": S.COS_HEAD}
TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
TEMPLATE.filters["repr"] = repr
TEMPLATE.globals.update(S=S, V=V, VR=VR)
SENTENCES = TEMPLATE.get_template("sentences.j2").module


def beyond_summary_of(values: dict) -> dict | None:
    """The summary of a table of methods results.json holds (made from its table if need be)."""
    summary = values.get("summary")
    if isinstance(summary, dict) and "clear" in summary:
        return summary
    return beyond_summary(values.get("table") or {})


def versus_sentence(name: str, verdicts: dict) -> str:
    """``name`` against a reference on each metric: `` `x` is clearly lower on eer_fake and
    eer, clearly higher on eer_real, with undecided on eer_fake_other``."""
    groups = {A: [], B: [], None: []}
    for metric, verdict in verdicts.items():
        groups[Verdict.from_dict(verdict).lower].append(metric)
    return str(SENTENCES.versus_sentence(name, groups[A], groups[B], groups[None]))


def beyond_sentence(summary: dict | None) -> str:
    """The sentence under a table of methods (:func:`~.findings.beyond_summary`)."""
    return str(SENTENCES.beyond_sentence(summary))


def reading_lines(results: dict) -> list[str]:
    """One bullet per training section (its rows against the reference, its lowest), then the
    findings in a line."""
    sections, lines = results.get("sections") or {}, []
    for key in S.TRAINING_SECTIONS:
        values = sections.get(key) or {}
        parts = []
        reference, versus = values.get("reference"), values.get("versus") or {}
        if reference and versus:
            compared = "; ".join(versus_sentence(name, v) for name, v in versus.items())
            parts.append(S.say("against", reference=reference, compared=compared))
        if key in S.METHOD_SECTIONS:
            parts.append(beyond_sentence(beyond_summary_of(values)))
        elif values.get("lowest"):
            parts.append(LowestVerdict.from_dict(values["lowest"]).sentence("eer"))
        if parts:
            text = ". ".join(p.rstrip(".") for p in parts) + "."
            title = S.SECTIONS_BY_KEY[key].title
            lines.append(S.say("reading_section", title=title, text=text[0].lower() + text[1:]))
    findings = results.get("findings") or []
    if findings:
        verdicts = join_names([f"({f.get('id')}) {f.get('verdict')}" for f in findings])
        lines.append(S.say("reading_findings", verdicts=verdicts))
    return lines


def _ticked(values, sep: str = ", ", unique: bool = False) -> str:
    """``values`` in backticks, joined by ``sep`` (each once with ``unique``)."""
    ticked = [f"`{value}`" for value in values or []]
    return sep.join(dict.fromkeys(ticked) if unique else ticked)


def _recipe_rows(sections: dict) -> dict:
    """The seed's recipe and plain triplet on every data set of the method comparisons."""
    rows = {}
    for key in S.METHOD_SECTIONS:
        found = (sections.get(key) or {}).get("table") or {}
        rows.update({f"{key}: {n}": found[n] for n in (S.SEED_RECIPE, S.TRIPLET) if n in found})
    return rows


def _epochs_of(rows: dict) -> str:
    runs = [e for row in rows.values() for e in as_list(row.get("epochs_run"))]
    return ", ".join(map(str, sorted({int(e) for e in map(to_number, runs) if e is not None})))


def render_markdown(
    results: dict,
    figure_prefix: str,
    heading_level: int = REPORT_HEADING_LEVEL,
    parameters: dict | None = None,
) -> str:
    """The markdown of every section from a results.json dict; figures are linked as
    ``figure_prefix + name``. The parameter values the prose quotes come from ``parameters``
    (default: :func:`~.parameters.prose_parameters`, the batch files)."""
    quoted = parameters if parameters is not None else prose_parameters()
    sections = results.get("sections") or {}
    fields = {**quoted, **NAMES, "method_sections": S.METHOD_SECTIONS}
    text = TEMPLATE.get_template("report.md.j2").render(
        results=results,
        h="#" * heading_level,
        prefix=figure_prefix,
        quoted=quoted,
        seed=results.get("seed") or S.seed_results(),
        provenance=results.get("provenance") or {},
        intros={key: intro.format_map(fields) for key, intro in S.DATA["intros"].items()},
        section=lambda key: sections.get(key) or {},
        versus_columns=[(m, f"{m} ↓", "text") for m in VERSUS_METRICS],
        seed_counts=lambda n_seeds: sorted({int(n) for n in n_seeds or []}),
        table=lambda *args: "\n".join(table(*args)),
        pair_rows=lambda pairs: {
            kind: {"pairs": n, "what": S.DATA["pair_kinds"].get(kind, "")}
            for kind, n in pairs.items()
        },
        shorts=lambda versus: {
            name: {m: Verdict.from_dict(v).short() for m, v in metrics.items()}
            for name, metrics in versus.items()
        },
        lowest_sentence=lambda low: LowestVerdict.from_dict(low).sentence("eer"),
        recipe_rows=lambda: _recipe_rows(sections),
        epochs_of=_epochs_of,
        ticked=_ticked,
        **{f.__name__: f for f in (beyond_sentence, beyond_summary_of, reading_lines)},
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
    return f"{'#' * (heading_level - 1)} {RESULTS_TITLE}\n\n" + render_markdown(
        results, figure_prefix, heading_level=heading_level, parameters=parameters
    )

"""The report as markdown, from a results.json dict (and the parameter values its prose
quotes): every section's tables, figures, sources, the findings, and "Reading the results".

The blocks of a section are :mod:`.section_blocks`; the sentences that interpret the numbers,
:mod:`.reading`: every one is generated from the verdicts results.json holds
(:mod:`krypto.evaluation.verdicts`: Welch's t-test over seeds, p < 0.05), so none can go stale."""

from __future__ import annotations

from krypto import constants as C
from krypto.pipeline.report.parameters import prose_parameters
from krypto.pipeline.report.reading import beyond_sentence, beyond_summary_of, reading_lines
from krypto.pipeline.report.section_blocks import (
    about_lines,
    best_line,
    columns_of,
    figure_lines,
    first_seed,
    first_seeds,
    seed_table,
    source_lines,
    versus_table,
)
from krypto.pipeline.report.sections import (
    COS_HEAD,
    METHOD_SECTIONS,
    REPORT_COMMAND,
    SECTIONS_BY_KEY,
    SEED_RECIPE,
    TRIPLET,
    TRIPLET_FAKE,
)
from krypto.pipeline.report.seed import seed_results
from krypto.pipeline.report.tables import run_columns, table
from krypto.pipeline.report.values import format_number

# REPORT.md: "# Results", then ## sections; the README block (between the README's own ##
# sections): "## Results", then ### sections.
REPORT_HEADING_LEVEL = 2
README_HEADING_LEVEL = 3
RESULTS_TITLE = "Results"

PAIR_KIND_TEXT = {
    C.SAME: "two real photos of one person (label 1)",
    C.DIFFERENT: "real photos of two people (label 0)",
    C.FAKE_SAME: "a person and a deepfake of that person (label 0)",
    C.FAKE_OTHER: "a person and a deepfake of another person (label 0)",
}


def render_markdown(
    results: dict,
    figure_prefix: str,
    heading_level: int = REPORT_HEADING_LEVEL,
    parameters: dict | None = None,
) -> str:
    """The markdown of every section from a results.json dict; figures are linked as
    ``figure_prefix + name`` (e.g. ``figures/`` next to REPORT.md). The parameter values the
    prose quotes come from ``parameters`` (default: :func:`~.parameters.prose_parameters`, the
    batch files)."""
    h = "#" * heading_level
    sections = results.get("sections") or {}
    provenance = results.get("provenance") or {}
    seed = results.get("seed") or seed_results()
    quoted = parameters if parameters is not None else prose_parameters()
    out = [
        f"_Made by `{REPORT_COMMAND}` from `{(results.get('about') or {}).get('runs_dir')}`"
        f"; do not edit by hand. Every EER (↓): lower is better; `eer` is the official combined "
        f"EER over all four pair kinds (same, different, fake_same, fake_other)._",
        "",
        *about_lines(results),
    ]

    # Data set
    data = sections.get("data") or {}
    out += [
        f"{h} Data set",
        "",
        f"{data.get('n_photos', '-')} photos of {data.get('n_identities', '-')} identities.",
        "",
    ]
    summary = data.get("summary") or {}
    if summary:
        out += table(summary, [(c, c, "int") for c in columns_of(summary)], "split") + [""]
    pairs = data.get("pairs") or {}
    if pairs:
        out += ["Validation pairs:", ""]
        rows = {
            kind: {"pairs": n, "what": PAIR_KIND_TEXT.get(kind, "")} for kind, n in pairs.items()
        }
        out += table(rows, [("pairs", "pairs", "int"), ("what", "what", "text")], "kind") + [""]
    problems = data.get("problems") or {}
    out += [
        ("Data problems: " + ", ".join(f"{k} ({v})" for k, v in problems.items()) + ".")
        if problems
        else "Data problems: none found.",
        "",
    ]
    out += figure_lines(figure_prefix, data.get("figures"), "contact_sheet", "contact sheet")
    out += source_lines(provenance, "data")

    # Loss selection
    loss = sections.get("loss_selection") or {}
    out += [
        f"{h} Loss selection",
        "",
        f"`{TRIPLET}`: the seed's baseline, a fake counted as a photo of its identity; "
        f"`{TRIPLET_FAKE}`: triplet(a, p, n_real) + lam * triplet(a, p, fake), "
        f"lam = {quoted['loss_selection']['lam']}.",
        "",
    ]
    out += seed_table(loss, "loss_selection", seed)
    out += versus_table(loss)
    out += best_line(loss)
    distances = sections.get("distances") or {}
    out += figure_lines(
        figure_prefix, distances.get("figures"), "distance_curves", "distance curves"
    )
    out += figure_lines(
        figure_prefix, distances.get("figures"), "similarity_histograms", "similarity histograms"
    )
    dist_table = distances.get("table") or {}
    if dist_table:
        out += [
            "Mean cosine similarity of the validation pairs by kind, and mean batch distances "
            f"of the last training epoch, {first_seeds(distances.get('seed_runs'))}:",
            "",
        ]
        out += table(dist_table, [(c, c, "eer") for c in columns_of(dist_table)], "run") + [""]
    out += source_lines(provenance, "loss_selection", "distances")

    # Embeddings
    emb = sections.get("embeddings") or {}
    out += [f"{h} Embeddings", ""]
    out += figure_lines(figure_prefix, emb.get("figures"), "pca", "PCA of real photos and fakes")
    emb_table = emb.get("table") or {}
    if emb_table:
        out += table(emb_table, [(c, c, "eer") for c in columns_of(emb_table)], "embeddings") + [""]
        before = (emb_table.get("before training") or {}).get("silhouette (real vs fake)")
        after = (emb_table.get("after training") or {}).get("silhouette (real vs fake)")
        out += [
            f"Silhouette of the real/fake split (cosine, on the full embeddings; higher means "
            f"fakes lie apart from real photos): {format_number(before)} before training "
            f"({quoted['embeddings']['start']}), "
            f"{format_number(after)} after training of `{emb.get('train_run', '-')}`"
            f"{first_seed(emb.get('seed_run'))}.",
            "",
        ]
    out += source_lines(provenance, "embeddings")

    # Model selection
    models = sections.get("model_selection") or {}
    out += [
        f"{h} Model selection",
        "",
        f"Backbones trained {quoted['model_selection']['start']} "
        f"{quoted['model_selection']['fake_term']}.",
        "",
    ]
    out += table(models.get("table") or {}, run_columns(with_seed=False), "backbone") + [""]
    out += versus_table(models)
    out += best_line(models)
    out += figure_lines(
        figure_prefix, models.get("figures"), "eer_real_per_epoch", "eer_real per epoch"
    )
    out += figure_lines(
        figure_prefix, models.get("figures"), "eer_fake_per_epoch", "eer_fake per epoch"
    )
    out += source_lines(provenance, "model_selection")

    # Lambda
    lam = sections.get("lambda") or {}
    out += [
        f"{h} Lambda",
        "",
        f"The weight lam of the fake term; `{COS_HEAD}`: "
        f"lam = {quoted['lambda']['cos_head_lam']} with the cosine head (Baseline++).",
        "",
    ]
    out += seed_table(lam, "lambda", seed)
    out += versus_table(lam)
    out += best_line(lam)
    out += source_lines(provenance, "lambda")

    # Cutout
    cut = sections.get("cutout") or {}
    out += [
        f"{h} Cutout",
        "",
        f"One face part cut out (from the landmarks) with probability "
        f"{quoted['cutout']['cutout_p']} during training, {quoted['cutout']['fake_term']}.",
        "",
    ]
    out += seed_table(cut, "cutout", seed)
    out += versus_table(cut)
    out += best_line(cut)
    out += figure_lines(figure_prefix, cut.get("figures"), "examples", "cutout examples")
    out += figure_lines(figure_prefix, cut.get("figures"), "eer", "cutout EER")
    out += figure_lines(
        figure_prefix, cut.get("figures"), "eer_fake_per_epoch", "cutout eer_fake per epoch"
    )
    out += source_lines(provenance, "cutout")

    # Beyond the seed: the same methods on the embedded set and on faces of other renderers
    for key, data_set in METHOD_SECTIONS.items():
        values = sections.get(key) or {}
        out += [f"{h} {SECTIONS_BY_KEY[key].title}", "", f"Data: {data_set}.", ""]
        out += table(values.get("table") or {}, run_columns(with_seed=False), "method") + [""]
        out += versus_table(values)
        out += [beyond_sentence(beyond_summary_of(values)), ""]
        out += source_lines(provenance, key)
    out += recipe_by_data_set(sections)

    # Findings
    out += [f"{h} Findings", "", "The seed's findings, checked on our runs:", ""]
    for finding in results.get("findings") or []:
        out.append(
            f"- ({finding.get('id')}) {finding.get('claim')}: **{finding.get('verdict')}**. "
            f"Ours: {finding.get('detail')}. Seed: {finding.get('seed')}."
        )

    # Reading the results
    out += ["", f"{h} Reading the results", ""]
    out += reading_lines(results)
    return "\n".join(out).rstrip() + "\n"


def recipe_by_data_set(sections: dict) -> list[str]:
    """The seed's recipe (02_train's default loss) and plain triplet on every data set of the
    method comparisons: one row per (data set, recipe), with its test EERs."""
    rows = {}
    for key in METHOD_SECTIONS:
        found = (sections.get(key) or {}).get("table") or {}
        for name in (SEED_RECIPE, TRIPLET):
            if name in found:
                rows[f"{key}: {name}"] = found[name]
    if not rows:
        return []
    return (
        ["The default loss (the seed's recipe) and plain triplet on each data set:", ""]
        + table(rows, run_columns(with_seed=False), "data set: recipe")
        + [""]
    )


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

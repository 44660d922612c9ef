"""The report as markdown, from a results.json dict (and the parameter values its prose
quotes): every section's tables, figures, sources, the findings, and "Reading the results".

Every sentence that interprets a number is generated from the verdicts results.json holds
(:mod:`krypto.evaluation.verdicts`: Welch's t-test over seeds, p < 0.05), so none can go stale."""

from __future__ import annotations

from krypto import constants as C
from krypto.evaluation.verdicts import (
    NO_CLEAR,
    RULE,
    A,
    B,
    LowestVerdict,
    Verdict,
    format_mean_std,
    join_names,
)
from krypto.pipeline.report.findings import beyond_summary
from krypto.pipeline.report.parameters import prose_parameters
from krypto.pipeline.report.sections import (
    COS_HEAD,
    REPORT_COMMAND,
    SECTIONS_BY_KEY,
    TRIPLET,
    TRIPLET_FAKE,
)
from krypto.pipeline.report.seed import seed_results
from krypto.pipeline.report.tables import EER_COLUMNS, eer_header, run_columns, table, with_seed
from krypto.pipeline.report.values import format_number, to_number

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


def _figure(prefix: str, figures: dict, role: str, alt: str) -> list[str]:
    name = (figures or {}).get(role)
    return [f"![{alt}]({prefix}{name})", ""] if name else []


def _source(provenance: dict, *keys: str) -> list[str]:
    found = [provenance[key] for key in keys if provenance.get(key)]
    if not found:
        return []
    folders = " and ".join(f"`{p.get('run_dir')}`" for p in found)
    commands = " and ".join(dict.fromkeys(f"`{p.get('command')}`" for p in found))
    return [f"_Source: {folders}, made by {commands}._", ""]


def _best_line(values: dict) -> list[str]:
    """The section's lowest combined ``eer``, clearly lowest or not (its ``lowest`` verdict)."""
    low = values.get("lowest")
    if not low:
        return []
    return [LowestVerdict.from_dict(low).sentence("eer"), ""]


def _versus_table(values: dict) -> list[str]:
    """Every other row against the section's reference row, by the rule."""
    reference, versus = values.get("reference"), values.get("versus") or {}
    if not reference or not versus:
        return []
    rows = {
        name: {m: Verdict.from_dict(v).short() for m, v in metrics.items()}
        for name, metrics in versus.items()
    }
    columns = [(m, eer_header(m), "text") for m in EER_COLUMNS]
    return (
        [f"Against `{reference}` (the rule above; lower or higher only when p < 0.05):", ""]
        + table(rows, columns, f"vs {reference}")
        + [""]
    )


def _seeds_text(n_seeds: list) -> str:
    counts = sorted({int(n) for n in n_seeds or []})
    if not counts:
        return "an unknown number of seeds"
    if counts == [1]:
        return '1 seed (no std, and so no verdict: every comparison is "no clear difference")'
    if len(counts) == 1:
        return f"{counts[0]} seeds"
    return f"{counts[0]} to {counts[-1]} seeds (column `seeds`)"


def _about(results: dict) -> list[str]:
    """How to read the tables: the seeds, the test pairs, the rule."""
    about = results.get("about") or {}
    folders = about.get("test_pairs") or []
    pairs = about.get("n_test_pairs") or []
    where = ", ".join(f"`{f}`" for f in folders) or "-"
    count = f", {join_names([str(n) for n in pairs])} pairs" if pairs else ""
    return [
        f"**How to read the tables.** Each training configuration is trained with "
        f"{_seeds_text(about.get('n_seeds'))}. The tables give the EERs on the held-out test "
        f"pairs ({where}{count}), never used for any choice (the best epoch is chosen on the "
        f"validation pairs), as mean ± std (ddof=1) over the seeds; the per-epoch figures show "
        f"the validation pairs. **Rule:** {about.get('rule') or RULE}",
        "",
    ]


def _epochs_note(rows: dict, key: str, seed: dict) -> str:
    runs = [
        e
        for r in rows.values()
        for e in (
            r.get("epochs_run") if isinstance(r.get("epochs_run"), list) else [r.get("epochs_run")]
        )
    ]
    ours = sorted({int(e) for e in (to_number(v) for v in runs) if e is not None})
    seed_epochs = (seed.get(key) or {}).get("epochs")
    ours_text = ", ".join(map(str, ours)) or "-"
    seed_text = (
        f"the seed trained {seed_epochs} epochs"
        if seed_epochs
        else "the seed's write-up does not say how many epochs"
    )
    return f"Ours: {ours_text} epoch(s) per run; {seed_text}."


def _seed_table(values: dict, key: str, seed: dict) -> list[str]:
    rows = values.get("table") or {}
    seed_rows = (seed.get(key) or {}).get("rows") or {}
    renamed = [
        f"{name!r} is the seed's {row['as']!r}" for name, row in seed_rows.items() if row.get("as")
    ]
    lines = table(with_seed(rows, seed_rows), run_columns(with_seed=True), "run")
    note = (
        _epochs_note(rows, key, seed) + " The seed gave one number per row (no spread "
        'over seeds) and no combined EER ("-").'
    )
    if renamed:
        note += " " + "; ".join(renamed) + "."
    return lines + ["", note, ""]


def _columns_of(rows: dict) -> list[str]:
    return list(dict.fromkeys(k for row in rows.values() for k in row))


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
        *_about(results),
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
        out += table(summary, [(c, c, "int") for c in _columns_of(summary)], "split") + [""]
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
    out += _figure(figure_prefix, data.get("figures"), "contact_sheet", "contact sheet")
    out += _source(provenance, "data")

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
    out += _seed_table(loss, "loss_selection", seed)
    out += _versus_table(loss)
    out += _best_line(loss)
    distances = sections.get("distances") or {}
    out += _figure(figure_prefix, distances.get("figures"), "distance_curves", "distance curves")
    out += _figure(
        figure_prefix, distances.get("figures"), "similarity_histograms", "similarity histograms"
    )
    dist_table = distances.get("table") or {}
    if dist_table:
        out += [
            "Mean cosine similarity of the validation pairs by kind, and mean batch distances "
            f"of the last training epoch, {_first_seeds(distances.get('seed_runs'))}:",
            "",
        ]
        out += table(dist_table, [(c, c, "eer") for c in _columns_of(dist_table)], "run") + [""]
    out += _source(provenance, "loss_selection", "distances")

    # Embeddings
    emb = sections.get("embeddings") or {}
    out += [f"{h} Embeddings", ""]
    out += _figure(figure_prefix, emb.get("figures"), "pca", "PCA of real photos and fakes")
    emb_table = emb.get("table") or {}
    if emb_table:
        out += table(emb_table, [(c, c, "eer") for c in _columns_of(emb_table)], "embeddings") + [
            ""
        ]
        before = (emb_table.get("before training") or {}).get("silhouette (real vs fake)")
        after = (emb_table.get("after training") or {}).get("silhouette (real vs fake)")
        out += [
            f"Silhouette of the real/fake split (cosine, on the full embeddings; higher means "
            f"fakes lie apart from real photos): {format_number(before)} before training, "
            f"{format_number(after)} after training of `{emb.get('train_run', '-')}`"
            f"{_first_seed(emb.get('seed_run'))}.",
            "",
        ]
    out += _source(provenance, "embeddings")

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
    out += _versus_table(models)
    out += _best_line(models)
    out += _figure(figure_prefix, models.get("figures"), "eer_real_per_epoch", "eer_real per epoch")
    out += _figure(figure_prefix, models.get("figures"), "eer_fake_per_epoch", "eer_fake per epoch")
    out += _source(provenance, "model_selection")

    # Lambda
    lam = sections.get("lambda") or {}
    out += [
        f"{h} Lambda",
        "",
        f"The weight lam of the fake term; `{COS_HEAD}`: "
        f"lam = {quoted['lambda']['cos_head_lam']} with the cosine head (Baseline++).",
        "",
    ]
    out += _seed_table(lam, "lambda", seed)
    out += _versus_table(lam)
    out += _best_line(lam)
    out += _source(provenance, "lambda")

    # Cutout
    cut = sections.get("cutout") or {}
    out += [
        f"{h} Cutout",
        "",
        f"One face part cut out (from the landmarks) with probability "
        f"{quoted['cutout']['cutout_p']} during training, {quoted['cutout']['fake_term']}.",
        "",
    ]
    out += _seed_table(cut, "cutout", seed)
    out += _versus_table(cut)
    out += _best_line(cut)
    out += _figure(figure_prefix, cut.get("figures"), "examples", "cutout examples")
    out += _figure(figure_prefix, cut.get("figures"), "eer", "cutout EER")
    out += _figure(
        figure_prefix, cut.get("figures"), "eer_fake_per_epoch", "cutout eer_fake per epoch"
    )
    out += _source(provenance, "cutout")

    # Beyond the seed
    beyond = sections.get("beyond") or {}
    beyond_table = beyond.get("table") or {}
    out += [f"{h} Beyond the seed", ""]
    out += table(beyond_table, run_columns(with_seed=False), "method") + [""]
    out += _versus_table(beyond)
    out += [beyond_sentence(_beyond(beyond)), ""]
    out += _source(provenance, "beyond")

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


def _beyond(values: dict) -> dict | None:
    """The "Beyond the seed" summary results.json holds (made again from its table when it
    lacks one of this shape)."""
    summary = values.get("summary")
    if isinstance(summary, dict) and "clear" in summary:
        return summary
    return beyond_summary(values.get("table") or {})


def _first_seeds(seed_runs: dict | None) -> str:
    if not seed_runs:
        return "of one run per configuration"
    return (
        "of the first seed of each configuration ("
        + ", ".join(f"`{path}`" for path in seed_runs.values())
        + ")"
    )


def _first_seed(seed_run: str | None) -> str:
    return f" (its first seed, `{seed_run}`)" if seed_run else ""


def versus_sentence(name: str, verdicts: dict) -> str:
    """``name`` against a reference on each metric, in words: ``` `x` is clearly lower on
    eer_fake and eer, clearly higher on eer_real, with no clear difference on eer_fake_other```
    (or ``` `x`: no clear difference on ...``` when the rule finds none)."""
    groups = {A: [], B: [], None: []}
    for metric, verdict in verdicts.items():
        groups[Verdict.from_dict(verdict).lower].append(metric)
    if not groups[A] and not groups[B]:
        return f"`{name}`: {NO_CLEAR} on {join_names(groups[None])}"
    parts = [
        f"clearly {word} on {join_names(groups[side])}"
        for side, word in ((A, "lower"), (B, "higher"))
        if groups[side]
    ]
    if groups[None]:
        parts.append(f"with {NO_CLEAR} on {join_names(groups[None])}")
    return f"`{name}` is " + ", ".join(parts)


def reading_lines(results: dict) -> list[str]:
    """The interpretation of the tables, one bullet per section, then the findings in a line:
    every sentence generated from the verdicts of results.json."""
    sections = results.get("sections") or {}
    lines = []
    for key in ("loss_selection", "model_selection", "lambda", "cutout", "beyond"):
        values = sections.get(key) or {}
        title = SECTIONS_BY_KEY[key].title
        parts = []
        reference, versus = values.get("reference"), values.get("versus") or {}
        if reference and versus:
            parts.append(
                f"against `{reference}`, "
                + "; ".join(versus_sentence(name, v) for name, v in versus.items())
            )
        if key == "beyond":
            parts.append(beyond_sentence(_beyond(values)))
        elif values.get("lowest"):
            parts.append(LowestVerdict.from_dict(values["lowest"]).sentence("eer"))
        if parts:
            text = ". ".join(p.rstrip(".") for p in parts) + "."
            lines.append(f"- {title}: {text[0].lower()}{text[1:]}")
    findings = results.get("findings") or []
    if findings:
        lines.append(
            "- The seed's findings: "
            + join_names([f"({f.get('id')}) {f.get('verdict')}" for f in findings])
            + "."
        )
    return lines


def beyond_sentence(summary: dict | None) -> str:
    """The sentence under the "Beyond the seed" table, from :func:`~.findings.beyond_summary`:
    the lowest mean combined ``eer``, and whether the rule tells it from the seed's recipe and
    from every other method."""
    if not summary:
        return "No method has a combined `eer`."
    best, recipe = summary["best"], summary["seed_recipe"]
    eer = summary.get("eer") or {}
    best_text = format_mean_std(eer.get("mean"), eer.get("std"))
    ties = summary.get("ties") or []
    if summary.get("seed_eer") is None:
        low = LowestVerdict(
            name=best,
            mean=eer.get("mean"),
            std=eer.get("std"),
            n=eer.get("n") or 0,
            clear=bool(summary.get("clear")),
            ties=ties,
        )
        return (
            low.sentence("eer").rstrip(".") + f"; the seed's recipe `{recipe}` is not in the table."
        )
    seed_eer = summary["seed_eer"]
    recipe_text = format_mean_std(seed_eer.get("mean"), seed_eer.get("std"))
    if best == recipe:
        if summary.get("clear"):
            return (
                f"The seed's recipe `{recipe}` keeps the lowest combined `eer` "
                f"({best_text}), clearly lower than every other method."
            )
        return (
            f"The seed's recipe `{recipe}` has the lowest mean combined `eer` ({best_text}), "
            f"but {NO_CLEAR} from {join_names(ties)}."
        )
    versus = Verdict.from_dict(summary.get("versus_recipe") or {})
    head = f"Lowest mean combined `eer`: **{best}** ({best_text})"
    others = [n for n in ties if n != recipe]
    if not versus.lower_is(A):
        return (
            f"{head}, against {recipe_text} for the seed's recipe `{recipe}`: {NO_CLEAR} "
            f"({versus.reason})."
        )
    relative = summary.get("relative")
    rel = "" if relative is None else f", {100 * relative:.1f}% lower"
    tail = (
        " It is clearly lower than every other method too."
        if summary.get("clear")
        else f" It cannot be told from {join_names(others)} ({NO_CLEAR})."
    )
    return (
        f"{head}, clearly lower than the seed's recipe `{recipe}` ({recipe_text}; "
        f"{versus.reason}): {format_number(summary.get('absolute'))} lower in absolute "
        f"terms{rel}.{tail}"
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

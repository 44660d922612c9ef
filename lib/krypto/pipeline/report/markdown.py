"""The report as markdown, from a results.json dict (and the parameter values its prose
quotes): every section's tables, figures, sources, and the findings."""

from __future__ import annotations

from krypto import constants as C
from krypto.pipeline.report.findings import beyond_summary
from krypto.pipeline.report.parameters import prose_parameters
from krypto.pipeline.report.sections import COS_HEAD, REPORT_COMMAND, TRIPLET, TRIPLET_FAKE
from krypto.pipeline.report.seed import seed_results
from krypto.pipeline.report.tables import eer_header, run_columns, table, with_seed
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
    best = values.get("best")
    rows = values.get("table") or {}
    if best is None or best not in rows:
        return []
    return [f"Lowest combined `eer`: **{best}** ({format_number(rows[best].get('eer'))}).", ""]


def _epochs_note(rows: dict, key: str, seed: dict) -> str:
    ours = sorted({int(e) for e in (to_number(r.get("epochs_run")) for r in rows.values())
                   if e is not None})
    seed_epochs = (seed.get(key) or {}).get("epochs")
    ours_text = ", ".join(map(str, ours)) or "-"
    seed_text = (f"the seed trained {seed_epochs} epochs" if seed_epochs
                 else "the seed's write-up does not say how many epochs")
    return f"Ours: {ours_text} epoch(s) per run; {seed_text}."


def _seed_table(values: dict, key: str, seed: dict) -> list[str]:
    rows = values.get("table") or {}
    seed_rows = (seed.get(key) or {}).get("rows") or {}
    renamed = [f"{name!r} is the seed's {row['as']!r}" for name, row in seed_rows.items()
               if row.get("as")]
    lines = table(with_seed(rows, seed_rows), run_columns(with_seed=True), "run")
    note = _epochs_note(rows, key, seed) + " The seed gave no combined EER (\"-\")."
    if renamed:
        note += " " + "; ".join(renamed) + "."
    return lines + ["", note, ""]


def _columns_of(rows: dict) -> list[str]:
    return list(dict.fromkeys(k for row in rows.values() for k in row))


def render_markdown(results: dict, figure_prefix: str,
                    heading_level: int = REPORT_HEADING_LEVEL,
                    parameters: dict | None = None) -> str:
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
    ]

    # Data set
    data = sections.get("data") or {}
    out += [f"{h} Data set", "",
            f"{data.get('n_photos', '-')} photos of {data.get('n_identities', '-')} identities.",
            ""]
    summary = data.get("summary") or {}
    if summary:
        out += table(summary, [(c, c, "int") for c in _columns_of(summary)], "split") + [""]
    pairs = data.get("pairs") or {}
    if pairs:
        out += ["Validation pairs:", ""]
        rows = {kind: {"pairs": n, "what": PAIR_KIND_TEXT.get(kind, "")}
                for kind, n in pairs.items()}
        out += table(rows, [("pairs", "pairs", "int"), ("what", "what", "text")], "kind") + [""]
    problems = data.get("problems") or {}
    out += [("Data problems: " + ", ".join(f"{k} ({v})" for k, v in problems.items()) + ".")
            if problems else "Data problems: none found.", ""]
    out += _figure(figure_prefix, data.get("figures"), "contact_sheet", "contact sheet")
    out += _source(provenance, "data")

    # Loss selection
    loss = sections.get("loss_selection") or {}
    out += [f"{h} Loss selection", "",
            f"`{TRIPLET}`: the seed's baseline, a fake counted as a photo of its identity; "
            f"`{TRIPLET_FAKE}`: triplet(a, p, n_real) + lam * triplet(a, p, fake), "
            f"lam = {quoted['loss_selection']['lam']}.", ""]
    out += _seed_table(loss, "loss_selection", seed)
    out += _best_line(loss)
    distances = sections.get("distances") or {}
    out += _figure(figure_prefix, distances.get("figures"), "distance_curves", "distance curves")
    out += _figure(figure_prefix, distances.get("figures"), "similarity_histograms",
                   "similarity histograms")
    dist_table = distances.get("table") or {}
    if dist_table:
        loss_table = loss.get("table") or {}
        rows = {name: {**row, "eer": (loss_table.get(name) or {}).get("eer")}
                for name, row in dist_table.items()}
        out += ["Mean cosine similarity of the validation pairs by kind, and mean batch distances "
                "of the last training epoch:", ""]
        out += table(rows, [(c, c, "eer") for c in _columns_of(dist_table)]
                     + [("eer", eer_header("eer"), "eer")], "run") + [""]
    out += _source(provenance, "loss_selection", "distances")

    # Embeddings
    emb = sections.get("embeddings") or {}
    out += [f"{h} Embeddings", ""]
    out += _figure(figure_prefix, emb.get("figures"), "pca", "PCA of real photos and fakes")
    emb_table = emb.get("table") or {}
    if emb_table:
        out += table(emb_table, [(c, c, "eer") for c in _columns_of(emb_table)],
                     "embeddings") + [""]
        before = (emb_table.get("before training") or {}).get("silhouette (real vs fake)")
        after = (emb_table.get("after training") or {}).get("silhouette (real vs fake)")
        out += [f"Silhouette of the real/fake split (cosine, on the full embeddings; higher means "
                f"fakes lie apart from real photos): {format_number(before)} before training, "
                f"{format_number(after)} after training of `{emb.get('train_run', '-')}`.", ""]
    out += _source(provenance, "embeddings")

    # Model selection
    models = sections.get("model_selection") or {}
    out += [f"{h} Model selection", "",
            f"Backbones trained {quoted['model_selection']['start']} "
            f"{quoted['model_selection']['fake_term']}.", ""]
    out += table(models.get("table") or {}, run_columns(with_seed=False), "backbone") + [""]
    out += _best_line(models)
    out += _figure(figure_prefix, models.get("figures"), "eer_real_per_epoch", "eer_real per epoch")
    out += _figure(figure_prefix, models.get("figures"), "eer_fake_per_epoch", "eer_fake per epoch")
    out += _source(provenance, "model_selection")

    # Lambda
    lam = sections.get("lambda") or {}
    out += [f"{h} Lambda", "", f"The weight lam of the fake term; `{COS_HEAD}`: "
            f"lam = {quoted['lambda']['cos_head_lam']} with the cosine head (Baseline++).", ""]
    out += _seed_table(lam, "lambda", seed)
    out += _best_line(lam)
    out += _source(provenance, "lambda")

    # Cutout
    cut = sections.get("cutout") or {}
    out += [f"{h} Cutout", "", f"One face part cut out (from the landmarks) with probability "
            f"{quoted['cutout']['cutout_p']} during training, {quoted['cutout']['fake_term']}.",
            ""]
    out += _seed_table(cut, "cutout", seed)
    out += _best_line(cut)
    out += _figure(figure_prefix, cut.get("figures"), "examples", "cutout examples")
    out += _figure(figure_prefix, cut.get("figures"), "eer", "cutout EER")
    out += _figure(figure_prefix, cut.get("figures"), "eer_fake_per_epoch",
                   "cutout eer_fake per epoch")
    out += _source(provenance, "cutout")

    # Beyond the seed
    beyond = sections.get("beyond") or {}
    beyond_table = beyond.get("table") or {}
    out += [f"{h} Beyond the seed", ""]
    out += table(beyond_table, run_columns(with_seed=False), "method") + [""]
    out += [beyond_sentence(beyond_summary(beyond_table)), ""]
    out += _source(provenance, "beyond")

    # Findings
    out += [f"{h} Findings", "", "The seed's findings, checked on our runs:", ""]
    for finding in results.get("findings") or []:
        out.append(f"- ({finding.get('id')}) {finding.get('claim')}: **{finding.get('verdict')}**. "
                   f"Ours: {finding.get('detail')}. Seed: {finding.get('seed')}.")
    return "\n".join(out).rstrip() + "\n"


def beyond_sentence(summary: dict | None) -> str:
    """The sentence under the "Beyond the seed" table, from :func:`~.findings.beyond_summary`."""
    if not summary:
        return "No method has a combined `eer`."
    best, recipe = summary["best"], summary["seed_recipe"]
    if summary.get("seed_eer") is None:
        return (f"Lowest combined `eer`: **{best}** ({format_number(summary['eer'])}); the "
                f"seed's recipe `{recipe}` is not in the table.")
    if best == recipe:
        runner = summary.get("runner_up")
        tail = (f"; the next best, {runner}, is worse by "
                f"{format_number(summary['runner_up_eer'] - summary['eer'])}" if runner else "")
        return (f"The seed's recipe `{recipe}` keeps the lowest combined `eer` "
                f"({format_number(summary['eer'])}){tail}.")
    if not summary["absolute"]:
        return (f"**{best}** ties the seed's recipe `{recipe}` on combined `eer` "
                f"({format_number(summary['eer'])}).")
    relative = summary.get("relative")
    rel = "" if relative is None else f", {100 * relative:.1f}% lower"
    return (f"Lowest combined `eer`: **{best}** ({format_number(summary['eer'])}), against "
            f"{format_number(summary['seed_eer'])} for the seed's recipe `{recipe}`: "
            f"{format_number(summary['absolute'])} lower in absolute terms{rel}.")


def titled_markdown(results: dict, figure_prefix: str,
                    heading_level: int = README_HEADING_LEVEL,
                    parameters: dict | None = None) -> str:
    """:func:`render_markdown` under a "Results" heading one level up: the README block
    (``heading_level`` 3, the default) and REPORT.md (2)."""
    return (f"{'#' * (heading_level - 1)} {RESULTS_TITLE}\n\n"
            + render_markdown(results, figure_prefix, heading_level=heading_level,
                              parameters=parameters))

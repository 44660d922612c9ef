"""The markdown blocks the report's sections are made of: figure links, source lines, "How to
read the tables", a training table beside the seed's numbers, the table of verdicts against a
reference row and the lowest-``eer`` line."""

from __future__ import annotations

from krypto.evaluation.verdicts import RULE, LowestVerdict, Verdict, join_names
from krypto.pipeline.report.agreement import MEAN_TOLERANCE
from krypto.pipeline.report.tables import EER_COLUMNS, eer_header, run_columns, table, with_seed
from krypto.pipeline.report.values import to_number


def figure_lines(prefix: str, figures: dict, role: str, alt: str) -> list[str]:
    """The link to the section's figure ``role`` (named in ``figures``), if it has one."""
    name = (figures or {}).get(role)
    return [f"![{alt}]({prefix}{name})", ""] if name else []


def source_lines(provenance: dict, *keys: str) -> list[str]:
    """The run folders and commands the section was made from (its ``provenance`` entries)."""
    found = [provenance[key] for key in keys if provenance.get(key)]
    if not found:
        return []
    folders = " and ".join(f"`{p.get('run_dir')}`" for p in found)
    commands = " and ".join(dict.fromkeys(f"`{p.get('command')}`" for p in found))
    return [f"_Source: {folders}, made by {commands}._", ""]


def best_line(values: dict) -> list[str]:
    """The section's lowest combined ``eer``, clearly lowest or not (its ``lowest`` verdict)."""
    low = values.get("lowest")
    if not low:
        return []
    return [LowestVerdict.from_dict(low).sentence("eer"), ""]


def versus_table(values: dict) -> list[str]:
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


def about_lines(results: dict) -> list[str]:
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
        f"**Reproducing.** `make reproduce` on a fresh clone (any `JOBS`; every training with "
        f"`THREADS=1`, as here) must give every mean of these tables within {MEAN_TOLERANCE} "
        f"(absolute EER) and every verdict identical; `make check-reproduction` checks it "
        f"against the committed results. Other thread counts or other seeds are other draws "
        f"of the training noise: their means move by about a standard deviation, and verdicts "
        f"near p = 0.05 may flip.",
        "",
        *_other_code_lines(results.get("made_by_other_code") or []),
    ]


def _other_code_lines(folders: list[str]) -> list[str]:
    """A warning naming the runs that other code than the report's made, if any."""
    if not folders:
        return []
    shown = ", ".join(f"`{f}`" for f in folders[:10]) + (" ..." if len(folders) > 10 else "")
    return [
        f"**Warning:** {len(folders)} run(s) read here were made by other code than this "
        f"report's (their run.json records another code_hash): {shown}. Retrain them "
        f"(`make reproduce BATCH_FLAGS=--force`) before trusting these numbers.",
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


def seed_table(values: dict, key: str, seed: dict) -> list[str]:
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


def columns_of(rows: dict) -> list[str]:
    """Every column of a table's rows, in their first order."""
    return list(dict.fromkeys(k for row in rows.values() for k in row))


def first_seeds(seed_runs: dict | None) -> str:
    """Which runs a figure or table of one run per configuration shows."""
    if not seed_runs:
        return "of one run per configuration"
    return (
        "of the first seed of each configuration ("
        + ", ".join(f"`{path}`" for path in seed_runs.values())
        + ")"
    )


def first_seed(seed_run: str | None) -> str:
    """The run (the first seed) of a one-run figure, in parentheses."""
    return f" (its first seed, `{seed_run}`)" if seed_run else ""

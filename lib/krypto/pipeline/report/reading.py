"""The results in words: each row against its section's reference, the sentence under the
"Beyond the seed" table, and "Reading the results" (one bullet per section, then the findings).

Every sentence is generated from the verdicts results.json holds
(:mod:`krypto.evaluation.verdicts`: Welch's t-test over seeds, p < 0.05), so none can go stale."""

from __future__ import annotations

from krypto.evaluation.verdicts import (
    NO_CLEAR,
    A,
    B,
    LowestVerdict,
    Verdict,
    format_mean_std,
    join_names,
)
from krypto.pipeline.report.findings import beyond_summary
from krypto.pipeline.report.sections import METHOD_SECTIONS, SECTIONS_BY_KEY, TRAINING_SECTIONS
from krypto.pipeline.report.values import format_number


def beyond_summary_of(values: dict) -> dict | None:
    """The "Beyond the seed" summary results.json holds (made again from its table when it
    lacks one of this shape)."""
    summary = values.get("summary")
    if isinstance(summary, dict) and "clear" in summary:
        return summary
    return beyond_summary(values.get("table") or {})


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
    for key in TRAINING_SECTIONS:
        values = sections.get(key) or {}
        title = SECTIONS_BY_KEY[key].title
        parts = []
        reference, versus = values.get("reference"), values.get("versus") or {}
        if reference and versus:
            parts.append(
                f"against `{reference}`, "
                + "; ".join(versus_sentence(name, v) for name, v in versus.items())
            )
        if key in METHOD_SECTIONS:
            parts.append(beyond_sentence(beyond_summary_of(values)))
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

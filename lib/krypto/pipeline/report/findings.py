"""The report's verdicts, all by the rule of :mod:`krypto.evaluation.verdicts` over the per-seed
test values and decided together (:func:`all_verdicts`: Holm's adjustment over every distinct
comparison the README states): every training table's lowest ``eer`` and every row against its
reference on ``eer``, the summary of the methods beyond the seed, and the seed's four findings
(``holds`` or ``differs`` only when the rule says so, else ``undecided``; ``n/a`` when a row it
needs is missing)."""

from __future__ import annotations

import math
from itertools import pairwise

import krypto.pipeline.report.sections as S
from krypto.evaluation.verdicts import (
    NO_CLEAR,
    A,
    B,
    Family,
    compare,
    decided_together,
    format_mean_std,
    join_names,
    lowest,
    mean_std,
    ratio_of,
)
from krypto.pipeline.report.values import round_values, seed_values

HOLDS, DIFFERS, UNKNOWN = "holds", "differs", "n/a"
VERDICTS = (HOLDS, DIFFERS, NO_CLEAR, UNKNOWN)  # what a finding's verdict can be
TEXT = S.DATA["findings"]
CUTOUT_METRICS = ("eer", "eer_fake")  # finding (c): a part helps when clearly lower on one
STEPS = {B: ("falls", "clear falls"), A: ("rises", "clear rises"), None: (NO_CLEAR, "not clear")}
VERSUS_METRICS = ("eer",)  # each row against its section's reference: the official EER
PAIR = (S.TRIPLET, S.TRIPLET_FAKE)  # findings (a) and (d): rows a and b of the loss selection


def _summary(values: list[float]) -> dict:
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "n": len(values)}


def lowest_of(table: dict, metric: str = "eer") -> dict | None:
    """:func:`~krypto.evaluation.verdicts.lowest` over a table, as a dict; None when no row has
    ``metric``."""
    values = {name: seed_values(row, metric) for name, row in (table or {}).items()}
    values = {name: v for name, v in values.items() if v}
    return round_values(lowest(values).to_dict()) if values else None


def versus_reference(
    table: dict, reference: str | None, metrics=VERSUS_METRICS
) -> dict[str, dict[str, dict]]:
    """Every other row (``a``) against ``reference`` (``b``) on each of ``metrics``: ``{row:
    {metric: Verdict dict}}``; empty without that reference row."""
    if reference not in (table or {}):
        return {}
    ref = table[reference]
    return round_values(
        {
            name: {m: compare(seed_values(row, m), seed_values(ref, m)).to_dict() for m in metrics}
            for name, row in table.items()
            if name != reference
        }
    )


def section_verdicts(key: str, table: dict) -> dict:
    """A training section's ``lowest`` (of ``eer``), ``reference`` (None when the table lacks
    it) and ``versus`` (:func:`versus_reference`)."""
    reference = S.REFERENCES.get(key)
    if reference not in (table or {}):
        reference = None
    return {
        "lowest": lowest_of(table),
        "reference": reference,
        "versus": versus_reference(table, reference),
    }


def beyond_summary(table: dict, seed_recipe: str = S.SEED_RECIPE) -> dict | None:
    """The method of the lowest mean ``eer`` (``best``, ``eer``, ``clear``, ``ties``) against
    ``seed_recipe`` (``seed_eer``, ``versus_recipe``: the best as ``a``, ``absolute`` and
    ``relative`` gains; None where the recipe is missing or best); None for no usable row."""
    low = lowest_of(table)
    if low is None:
        return None
    recipe = seed_values((table or {}).get(seed_recipe), "eer")
    seed_eer = _summary(recipe) if recipe else None
    versus = absolute = relative = None
    if seed_eer is not None:
        absolute = seed_eer["mean"] - low["mean"]
        relative = None if seed_eer["mean"] == 0 else absolute / seed_eer["mean"]
        if low["name"] != seed_recipe:
            versus = compare(seed_values(table[low["name"]], "eer"), recipe).to_dict()
    return round_values(
        {
            "best": low["name"],
            "eer": {"mean": low["mean"], "std": low["std"], "n": low["n"]},
            "clear": low["clear"],
            "ties": low["ties"],
            "seed_recipe": seed_recipe,
            "seed_eer": seed_eer,
            "versus_recipe": versus,
            "absolute": absolute,
            "relative": relative,
        }
    )


def _values(sections: dict, key: str, run: str, metric: str) -> list[float] | None:
    row = ((sections.get(key) or {}).get("table") or {}).get(run)
    return seed_values(row, metric) or None


def _spread(values: list[float]) -> str:
    return format_mean_std(*mean_std(values))


def _seeds(*groups: list[float]) -> str:
    """``3 seeds`` or ``3 and 2 seeds``."""
    counts = list(dict.fromkeys(len(g) for g in groups))
    return f"{join_names([str(c) for c in counts])} seed{'s' if max(counts) != 1 else ''}"


def _finding(id_: str, claim: str, seed: str, verdict: str, numbers: dict, detail: str) -> dict:
    numbers = round_values(numbers)
    return dict(id=id_, claim=claim, seed=seed, verdict=verdict, numbers=numbers, detail=detail)


def _missing(id_: str, claim: str, seed: str, needed: str) -> dict:
    return _finding(id_, claim, seed, UNKNOWN, {}, TEXT["missing"].format(needed=needed))


def _pair_finding(id_: str, sections: dict) -> dict:
    """(a) or (d): triplet (``a``) against triplet + fake (``b``) on one metric (report.yaml)."""
    spec = TEXT[id_]
    metric, expected, decimals, fold = (spec[k] for k in ("metric", "expected", "decimals", "fold"))
    t, f = (S.seed_metric("loss_selection", row, metric) for row in PAIR)
    seed_ratio = t / f if expected == B else f / t
    seed = TEXT["pair_seed"].format(metric=metric, t=t, f=f, ratio=seed_ratio, decimals=decimals)
    ours = [_values(sections, "loss_selection", row, metric) for row in PAIR]
    if any(v is None for v in ours):
        needed = TEXT["pair_needed"].format(metric=metric, a=S.TRIPLET, b=S.TRIPLET_FAKE)
        return _missing(id_, spec["claim"], seed, needed)
    verdict = compare(*ours)
    means = (verdict.a_mean, verdict.b_mean)
    ratio = ratio_of(*(means if expected == B else means[::-1]))
    result = {None: NO_CLEAR, expected: HOLDS}.get(verdict.lower, DIFFERS)
    how = TEXT.get(f"lower_{verdict.lower}", NO_CLEAR) + (spec["words"] if verdict.differ else "")
    how += f" ({verdict.reason})"
    if result == HOLDS and fold and (ratio is None or ratio < fold):
        result, how = DIFFERS, TEXT["pair_fold"].format(how=how, fold=fold)
    if ratio is None or math.isinf(ratio):
        times = TEXT["no_change"] if ratio is None else spec["zero"]
    else:
        times = f"{ratio:.{decimals}f}x"
    numbers = {f"{row} {metric}": _summary(v) for row, v in zip(PAIR, ours)}
    numbers.update({"ratio": ratio, "seed ratio": seed_ratio, "verdict": verdict.to_dict()})
    a, b = (_spread(v) for v in ours)
    detail = TEXT["pair_detail"].format(
        metric=metric, a=a, b=b, seeds=_seeds(*ours), times=times, how=how
    )
    return _finding(id_, spec["claim"], seed, result, numbers, detail)


def _lambda_finding(sections: dict) -> dict:
    """(b): every step of lam clearly lowers eer_fake."""
    claim = TEXT["b_claim"].format(lams=" -> ".join(S.LAMBDAS))
    seeds = [S.seed_metric("lambda", lam, "eer_fake") for lam in S.LAMBDAS]
    seed = "eer_fake " + " -> ".join(f"{v:.4f}" for v in seeds)
    values = [_values(sections, "lambda", lam, "eer_fake") for lam in S.LAMBDAS]
    if any(v is None for v in values):
        return _missing("b", claim, seed, TEXT["b_needed"].format(lams=", ".join(S.LAMBDAS)))
    steps, grouped = {}, {label: [] for _, label in STEPS.values()}
    for (low, high), (before, after) in zip(pairwise(S.LAMBDAS), pairwise(values)):
        step = f"{low} -> {high}"
        verdict = compare(before, after)
        word, label = STEPS[verdict.lower]
        grouped[label].append(f"{step} ({verdict.reason})")
        steps[step] = {"verdict": word, **verdict.to_dict()}
    result = DIFFERS if grouped["clear rises"] else NO_CLEAR if grouped["not clear"] else HOLDS
    found = "; ".join(f"{label}: {', '.join(items)}" for label, items in grouped.items() if items)
    numbers = {
        "eer_fake": {lam: _summary(v) for lam, v in zip(S.LAMBDAS, values)},
        "steps": steps,
        "monotone": result == HOLDS,
        "seed eer_fake": dict(zip(S.LAMBDAS, seeds)),
    }
    detail = TEXT["b_detail"].format(
        values=" -> ".join(_spread(v) for v in values), seeds=_seeds(*values), found=found
    )
    return _finding("b", claim, seed, result, numbers, detail)


def _cutout_finding(sections: dict) -> dict:
    """(c): no part is clearly lower than no cutout on a metric of :data:`CUTOUT_METRICS`, and
    every part is clearly higher on one."""
    claim = TEXT["c_claim"]
    seed = TEXT["c_seed"].format(
        real=S.seed_metric("cutout", S.NO_CUTOUT, "eer_real"),
        fake=S.seed_metric("cutout", S.NO_CUTOUT, "eer_fake"),
    )
    table = (sections.get("cutout") or {}).get("table") or {}
    base = {m: _values(sections, "cutout", S.NO_CUTOUT, m) for m in CUTOUT_METRICS}
    parts = [name for name in table if name != S.NO_CUTOUT]
    if any(v is None for v in base.values()) or not parts:
        return _missing("c", claim, seed, TEXT["c_needed"].format(base=S.NO_CUTOUT))
    verdicts = {
        part: {m: compare(seed_values(table[part], m), base[m]) for m in CUTOUT_METRICS}
        for part in parts
    }  # a: the part, b: no cutout
    found = {
        (word, m): [p for p in parts if verdicts[p][m].lower_is(side)]
        for word, side in {"lower": A, "higher": B}.items()
        for m in CUTOUT_METRICS
    }
    costs_each = all(any(verdicts[p][m].lower_is(B) for m in CUTOUT_METRICS) for p in parts)
    lower_any = any(found["lower", m] for m in CUTOUT_METRICS)
    result = DIFFERS if lower_any else HOLDS if costs_each else NO_CLEAR

    def listed(names: list[str], metric: str) -> str:
        return ", ".join(
            f"{p} {_spread(seed_values(table[p], metric))} ({verdicts[p][metric].reason})"
            for p in names
        )

    unclear = [
        f"{p} ({', '.join(m for m in CUTOUT_METRICS if not verdicts[p][m].differ)})"
        for p in parts
        if not all(verdicts[p][m].differ for m in CUTOUT_METRICS)
    ]
    found_text = "; ".join(
        f"clearly {w} {m}: {listed(p, m) or 'none'}" for (w, m), p in found.items()
    ) + (f"; {NO_CLEAR}: {', '.join(unclear)}" if unclear else "")
    spreads = {m: _spread(v) for m, v in base.items()}  # the fields eer and eer_fake
    detail = TEXT["c_detail"].format(**spreads, seeds=_seeds(base["eer"]), found=found_text)
    numbers = {
        "no cutout": {m: _summary(base[m]) for m in CUTOUT_METRICS},
        "parts": {p: {m: verdicts[p][m].to_dict() for m in CUTOUT_METRICS} for p in parts},
        **{f"{word} {m}": names for (word, m), names in found.items()},
    }
    return _finding("c", claim, seed, result, numbers, detail)


def compute_findings(sections: dict) -> list[dict]:
    """The seed's four findings checked against ``sections`` (as in results.json): each
    ``id``, ``claim``, ``seed`` (its numbers, as text), ``verdict`` (one of :data:`VERDICTS`),
    ``numbers`` (ours, with the verdicts) and ``detail`` (ours, as text)."""
    return [
        _pair_finding("a", sections),
        _lambda_finding(sections),
        _cutout_finding(sections),
        _pair_finding("d", sections),
    ]


def all_verdicts(sections: dict) -> tuple[dict, list[dict], Family]:
    """Every verdict the README states, decided together over ``sections`` (their tables, as in
    results.json): per training section ``lowest``, ``reference``, ``versus`` (and a method
    section's ``summary``), the findings, and the family of comparisons they were decided in."""

    def compute() -> tuple[dict, list[dict]]:
        verdicts = {}
        for key in S.TRAINING_SECTIONS:
            table = (sections.get(key) or {}).get("table")
            if table is None:
                continue
            verdicts[key] = section_verdicts(key, table)
            if key in S.METHOD_SECTIONS:
                verdicts[key]["summary"] = beyond_summary(table)
        return verdicts, compute_findings(sections)

    (verdicts, findings), family = decided_together(compute)
    return verdicts, findings, family

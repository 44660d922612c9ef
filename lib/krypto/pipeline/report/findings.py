"""The seed's four findings checked against our tables, the summary of the methods that go beyond
the seed, and the verdicts of each table against its reference row: all by the rule of
:mod:`krypto.evaluation.verdicts` over the per-seed test values of results.json.

A finding ``holds`` or ``differs`` only when the rule says so; otherwise it is ``no clear
difference`` (and ``n/a`` when a row it needs is missing)."""

from __future__ import annotations

import math

from krypto.evaluation.verdicts import (
    NO_CLEAR,
    A,
    B,
    compare,
    format_mean_std,
    join_names,
    lowest,
    mean_std,
)
from krypto.pipeline.report.sections import (
    LAMBDAS,
    NO_CUTOUT,
    REFERENCES,
    SEED_RECIPE,
    TRIPLET,
    TRIPLET_FAKE,
)
from krypto.pipeline.report.seed import seed_metric
from krypto.pipeline.report.tables import EER_COLUMNS
from krypto.pipeline.report.values import round_values, seed_values

HOLDS, DIFFERS, UNKNOWN = "holds", "differs", "n/a"
VERDICTS = (HOLDS, DIFFERS, NO_CLEAR, UNKNOWN)  # what a finding's verdict can be
FOLD = 5  # finding (a): the fake term cuts eer_fake at least this many times
CUTOUT_METRICS = ("eer", "eer_fake")  # finding (c): a part helps when clearly lower on one


def _table(sections: dict, key: str) -> dict:
    return (sections.get(key) or {}).get("table") or {}


def _values(sections: dict, key: str, run: str, metric: str) -> list[float] | None:
    """Per-seed values of ``metric`` of row ``run``; None when the row or the metric is missing."""
    row = _table(sections, key).get(run)
    values = seed_values(row, metric)
    return values or None


def _spread(values: list[float]) -> str:
    return format_mean_std(*mean_std(values))


def _seeds(*groups: list[float]) -> str:
    """``3 seeds`` or ``3 and 2 seeds``."""
    counts = list(dict.fromkeys(len(g) for g in groups))
    return f"{join_names([str(c) for c in counts])} seed{'s' if max(counts) != 1 else ''}"


def _times(ratio: float | None, decimals: int = 1) -> str:
    if ratio is None:
        return "no change"
    return "to zero" if math.isinf(ratio) else f"{ratio:.{decimals}f}x"


def _missing(claim: str, key: str, seed: str, needed: str) -> dict:
    return {
        "id": key,
        "claim": claim,
        "seed": seed,
        "verdict": UNKNOWN,
        "numbers": {},
        "detail": f"not checked: the tables lack {needed}",
    }


def _summary(values: list[float]) -> dict:
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "n": len(values)}


def compute_findings(sections: dict) -> list[dict]:
    """The seed's four findings checked against our tables (``sections`` as in results.json).

    Each: ``id``, ``claim``, ``seed`` (its numbers, as text), ``verdict`` (``holds``,
    ``differs``, ``no clear difference``, or ``n/a`` when a needed row is missing), ``numbers``
    (ours, with the verdicts) and ``detail`` (ours, as text)."""
    return [_finding_a(sections), _finding_b(sections), _finding_c(sections), _finding_d(sections)]


def _finding_a(sections: dict) -> dict:
    claim = "The fake term cuts eer_fake at least fivefold"
    t = seed_metric("loss_selection", TRIPLET, "eer_fake")
    f = seed_metric("loss_selection", TRIPLET_FAKE, "eer_fake")
    seed = f"eer_fake {t:.4f} -> {f:.4f}, {t / f:.1f}x"
    ours_t = _values(sections, "loss_selection", TRIPLET, "eer_fake")
    ours_f = _values(sections, "loss_selection", TRIPLET_FAKE, "eer_fake")
    if ours_t is None or ours_f is None:
        return _missing(claim, "a", seed, f"eer_fake of {TRIPLET!r} and {TRIPLET_FAKE!r}")
    verdict = compare(ours_t, ours_f)  # a: triplet, b: triplet + fake
    ratio = verdict.ratio
    fivefold = ratio is not None and ratio >= FOLD
    if verdict.lower_is(B) and fivefold:
        result, how = HOLDS, f"clearly lower ({verdict.reason})"
    elif verdict.lower_is(B):
        result, how = DIFFERS, f"clearly lower ({verdict.reason}), but under {FOLD}-fold"
    elif verdict.lower_is(A):
        result, how = DIFFERS, f"clearly higher ({verdict.reason})"
    else:
        result, how = NO_CLEAR, f"{NO_CLEAR} ({verdict.reason})"
    return {
        "id": "a",
        "claim": claim,
        "seed": seed,
        "verdict": result,
        "numbers": round_values(
            {
                "triplet eer_fake": _summary(ours_t),
                "triplet + fake eer_fake": _summary(ours_f),
                "ratio": ratio,
                "seed ratio": t / f,
                "verdict": verdict.to_dict(),
            }
        ),
        "detail": (
            f"eer_fake {_spread(ours_t)} -> {_spread(ours_f)} "
            f"({_seeds(ours_t, ours_f)}), {_times(ratio)}; {how}"
        ),
    }


def _finding_b(sections: dict) -> dict:
    claim = f"eer_fake falls as lam grows ({' -> '.join(LAMBDAS)})"
    seed_values_ = [seed_metric("lambda", lam, "eer_fake") for lam in LAMBDAS]
    seed = "eer_fake " + " -> ".join(f"{v:.4f}" for v in seed_values_)
    values = [_values(sections, "lambda", lam, "eer_fake") for lam in LAMBDAS]
    if any(v is None for v in values):
        return _missing(claim, "b", seed, f"eer_fake of lam {', '.join(LAMBDAS)}")
    steps, falls, rises, unclear = {}, [], [], []
    for i in range(len(LAMBDAS) - 1):
        step = f"{LAMBDAS[i]} -> {LAMBDAS[i + 1]}"
        verdict = compare(values[i], values[i + 1])
        if verdict.lower_is(B):
            falls.append(f"{step} ({verdict.reason})")
            word = "falls"
        elif verdict.lower_is(A):
            rises.append(f"{step} ({verdict.reason})")
            word = "rises"
        else:
            unclear.append(f"{step} ({verdict.reason})")
            word = NO_CLEAR
        steps[step] = {"verdict": word, **verdict.to_dict()}
    if rises:
        result = DIFFERS
    elif unclear:
        result = NO_CLEAR
    else:
        result = HOLDS
    detail = (
        f"eer_fake {' -> '.join(_spread(v) for v in values)} ({_seeds(*values)}); "
        + "; ".join(
            part
            for part in (
                f"clear falls: {', '.join(falls)}" if falls else "",
                f"clear rises: {', '.join(rises)}" if rises else "",
                f"not clear: {', '.join(unclear)}" if unclear else "",
            )
            if part
        )
    )
    return {
        "id": "b",
        "claim": claim,
        "seed": seed,
        "verdict": result,
        "numbers": round_values(
            {
                "eer_fake": {lam: _summary(v) for lam, v in zip(LAMBDAS, values)},
                "steps": steps,
                "monotone": result == HOLDS,
                "seed eer_fake": dict(zip(LAMBDAS, seed_values_)),
            }
        ),
        "detail": detail,
    }


def _finding_c(sections: dict) -> dict:
    claim = "Cutout does not help"
    seed = (
        f"no cutout has the lowest eer_real "
        f"({seed_metric('cutout', NO_CUTOUT, 'eer_real'):.4f}) and eer_fake "
        f"({seed_metric('cutout', NO_CUTOUT, 'eer_fake'):.4f}); no combined EER"
    )
    table = _table(sections, "cutout")
    base = {m: _values(sections, "cutout", NO_CUTOUT, m) for m in CUTOUT_METRICS}
    parts = [name for name in table if name != NO_CUTOUT]
    if any(v is None for v in base.values()) or not parts:
        return _missing(claim, "c", seed, f"eer and eer_fake of {NO_CUTOUT!r} and cutout parts")
    verdicts = {
        part: {m: compare(seed_values(table[part], m), base[m]) for m in CUTOUT_METRICS}
        for part in parts
    }  # a: the part, b: no cutout
    lower = {m: [p for p in parts if verdicts[p][m].lower_is(A)] for m in CUTOUT_METRICS}
    higher = {m: [p for p in parts if verdicts[p][m].lower_is(B)] for m in CUTOUT_METRICS}
    costs_each = all(any(verdicts[p][m].lower_is(B) for m in CUTOUT_METRICS) for p in parts)
    if any(lower.values()):
        result = DIFFERS
    elif costs_each:
        result = HOLDS
    else:
        result = NO_CLEAR

    def listed(names: list[str], metric: str) -> str:
        return (
            ", ".join(
                f"{p} {_spread(seed_values(table[p], metric))} ({verdicts[p][metric].reason})"
                for p in names
            )
            or "none"
        )

    unclear = [
        f"{p} ({', '.join(m for m in CUTOUT_METRICS if not verdicts[p][m].differ)})"
        for p in parts
        if not all(verdicts[p][m].differ for m in CUTOUT_METRICS)
    ]
    detail = (
        f"no cutout: eer {_spread(base['eer'])}, eer_fake {_spread(base['eer_fake'])} "
        f"({_seeds(base['eer'])}); "
        + "; ".join(f"clearly lower {m}: {listed(lower[m], m)}" for m in CUTOUT_METRICS)
        + "; "
        + "; ".join(f"clearly higher {m}: {listed(higher[m], m)}" for m in CUTOUT_METRICS)
        + (f"; {NO_CLEAR}: {', '.join(unclear)}" if unclear else "")
    )
    return {
        "id": "c",
        "claim": claim,
        "seed": seed,
        "verdict": result,
        "numbers": round_values(
            {
                "no cutout": {m: _summary(base[m]) for m in CUTOUT_METRICS},
                "parts": {p: {m: verdicts[p][m].to_dict() for m in CUTOUT_METRICS} for p in parts},
                **{f"lower {m}": lower[m] for m in CUTOUT_METRICS},
                **{f"higher {m}": higher[m] for m in CUTOUT_METRICS},
            }
        ),
        "detail": detail,
    }


def _finding_d(sections: dict) -> dict:
    claim = "The fake term costs some eer_real"
    t = seed_metric("loss_selection", TRIPLET, "eer_real")
    f = seed_metric("loss_selection", TRIPLET_FAKE, "eer_real")
    seed = f"eer_real {t:.4f} -> {f:.4f}, {f / t:.2f}x"
    ours_t = _values(sections, "loss_selection", TRIPLET, "eer_real")
    ours_f = _values(sections, "loss_selection", TRIPLET_FAKE, "eer_real")
    if ours_t is None or ours_f is None:
        return _missing(claim, "d", seed, f"eer_real of {TRIPLET!r} and {TRIPLET_FAKE!r}")
    verdict = compare(ours_t, ours_f)  # a: triplet, b: triplet + fake
    if verdict.lower_is(A):
        result, how = HOLDS, f"clearly higher with the fake term ({verdict.reason})"
    elif verdict.lower_is(B):
        result, how = DIFFERS, f"clearly lower with the fake term ({verdict.reason})"
    else:
        result, how = NO_CLEAR, f"{NO_CLEAR} ({verdict.reason})"
    ratio = None if verdict.a_mean == 0 else verdict.b_mean / verdict.a_mean  # fake / triplet
    times = ("from zero" if verdict.b_mean else "no change") if ratio is None else f"{ratio:.2f}x"
    return {
        "id": "d",
        "claim": claim,
        "seed": seed,
        "verdict": result,
        "numbers": round_values(
            {
                "triplet eer_real": _summary(ours_t),
                "triplet + fake eer_real": _summary(ours_f),
                "ratio": ratio,
                "seed ratio": f / t,
                "verdict": verdict.to_dict(),
            }
        ),
        "detail": (
            f"eer_real {_spread(ours_t)} -> {_spread(ours_f)} "
            f"({_seeds(ours_t, ours_f)}), {times}; {how}"
        ),
    }


def lowest_of(table: dict, metric: str = "eer") -> dict | None:
    """:func:`~krypto.evaluation.verdicts.lowest` over a results.json table, as a dict; None
    when no row has ``metric``."""
    values = {name: seed_values(row, metric) for name, row in (table or {}).items()}
    values = {name: v for name, v in values.items() if v}
    return round_values(lowest(values).to_dict()) if values else None


def versus_reference(
    table: dict, reference: str | None, metrics=EER_COLUMNS
) -> dict[str, dict[str, dict]]:
    """Every other row of a results.json table against ``reference`` on each of ``metrics``
    (the row as ``a``, the reference as ``b``): ``{row: {metric: Verdict dict}}``; empty
    without that reference row."""
    table = table or {}
    if reference is None or reference not in table:
        return {}
    return round_values(
        {
            name: {
                m: compare(seed_values(row, m), seed_values(table[reference], m)).to_dict()
                for m in metrics
            }
            for name, row in table.items()
            if name != reference
        }
    )


def section_verdicts(key: str, table: dict) -> dict:
    """What results.json keeps of a training section's verdicts: ``lowest`` (of ``eer``),
    ``reference`` (:data:`~.sections.REFERENCES`, None when the table lacks it) and ``versus``
    (:func:`versus_reference`)."""
    reference = REFERENCES.get(key)
    if reference not in (table or {}):
        reference = None
    return {
        "lowest": lowest_of(table),
        "reference": reference,
        "versus": versus_reference(table, reference),
    }


def beyond_summary(table: dict, seed_recipe: str = SEED_RECIPE) -> dict | None:
    """The method with the lowest mean combined ``eer``, whether it is clearly lowest, and how
    it stands against ``seed_recipe``: ``best``, ``eer`` ({mean, std, n}), ``clear``, ``ties``,
    ``seed_recipe``, ``seed_eer`` ({mean, std, n}; None when the recipe's row is missing),
    ``versus_recipe`` (the best as ``a`` against the recipe, a Verdict dict; None when the best
    is the recipe or the recipe is missing), ``absolute`` (recipe - best, of the means) and
    ``relative`` (of the recipe's). None for no usable row."""
    low = lowest_of(table)
    if low is None:
        return None
    best = low["name"]
    recipe = seed_values((table or {}).get(seed_recipe), "eer")
    seed_eer = _summary(recipe) if recipe else None
    versus = None
    absolute = relative = None
    if seed_eer is not None:
        absolute = seed_eer["mean"] - low["mean"]
        relative = None if seed_eer["mean"] == 0 else absolute / seed_eer["mean"]
        if best != seed_recipe:
            versus = compare(seed_values(table[best], "eer"), recipe).to_dict()
    return round_values(
        {
            "best": best,
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

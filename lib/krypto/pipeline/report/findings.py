"""The report's verdicts, decided together by the rule of :mod:`krypto.evaluation.verdicts`
(:func:`all_verdicts`): every training table's lowest ``eer`` and every row against its reference,
and the seed's findings (report.yaml's ``findings``, each checked by :func:`check_finding`)."""

import math

from krypto.evaluation import verdicts as VR
from krypto.pipeline.report.spec import DATA, SECTIONS_BY_KEY, TRAINING_SECTIONS, seed_results
from krypto.pipeline.report.tables import round_values, seed_values

HOLDS, DIFFERS, UNKNOWN = "holds", "differs", "n/a"  # with VR.NO_CLEAR: a finding's verdicts
TEXT = DATA["text"]
VERSUS_METRICS = ("eer",)  # each row against its section's reference: the official EER


def section_verdicts(key: str, table: dict) -> dict:
    """A training section's ``lowest`` (of ``eer``; None when no row has it), ``reference``
    (None when the table lacks it) and ``versus``: every other row (``a``) against the reference
    (``b``) on each of :data:`VERSUS_METRICS`, ``{row: {metric: Verdict dict}}``."""
    table = table or {}
    values = {name: seed_values(row, "eer") for name, row in table.items()}
    values = {name: v for name, v in values.items() if v}
    reference = SECTIONS_BY_KEY[key].reference
    reference = reference if reference in table else None
    versus = {
        name: {
            m: VR.compare(seed_values(row, m), seed_values(table[reference], m)).to_dict()
            for m in VERSUS_METRICS
        }
        for name, row in table.items()
        if reference is not None and name != reference
    }
    low = VR.lowest(values).to_dict() if values else None
    return round_values({"lowest": low, "reference": reference, "versus": versus})


def _pairs(spec: dict, rows: dict) -> list[tuple[str, str]]:
    """A finding's pairs of rows, ``"*"`` standing for every row of ``rows`` but the other."""
    pairs = []
    for a, b in spec["pairs"]:
        pairs += [(row, b) for row in rows if row != b] if a == "*" else [(a, b)]
    return pairs


def _ratio(a: float | None, b: float | None, lower: str) -> float | None:
    """The mean expected higher over the one expected ``lower`` (``a`` or ``b``)."""
    return None if None in (a, b) else VR.ratio_of(a, b) if lower == VR.B else VR.ratio_of(b, a)


def _phrase(metric: str, a: str, b: str, values: list[str], ratio: float | None) -> str:
    times = "" if ratio is None else f", {ratio:.2f}x" if math.isfinite(ratio) else ", ∞x"
    return TEXT["comparison"].format(metric=metric, a=a, b=b, values=values, times=times)


def _seed_text(spec: dict, rows: dict) -> str:
    """The seed's numbers of a finding's comparisons (on ``seed_metrics``), as text."""
    phrases = []
    for a, b in _pairs(spec, rows):
        for m in spec.get("seed_metrics", spec["metrics"]):
            pair = (rows.get(a) or {}).get(m), (rows.get(b) or {}).get(m)
            if None not in pair:
                ratio = _ratio(*pair, spec["lower"])
                phrases.append(_phrase(m, a, b, [f"{v:.4f}" for v in pair], ratio))
    return "; ".join(phrases) or "-"


def _comparison(spec: dict, a: str, b: str, metric: str, values: dict) -> tuple[str, dict, str]:
    """One comparison of a finding: its outcome (HOLDS: the side ``lower`` clearly lower, by
    ``fold`` where given; DIFFERS: the other side clearly lower, or under ``fold``; else
    NO_CLEAR), its numbers and its phrase."""
    lower, fold = spec["lower"], spec.get("fold")
    verdict = VR.compare(values[a, metric], values[b, metric])
    ratio = _ratio(verdict.a_mean, verdict.b_mean, lower)
    under = fold is not None and verdict.lower == lower and (ratio is None or ratio < fold)
    holds = verdict.lower == lower and not under
    outcome = VR.NO_CLEAR if verdict.lower is None else HOLDS if holds else DIFFERS
    sides = [VR.format_mean_std(verdict.a_mean, verdict.a_std)]
    sides.append(VR.format_mean_std(verdict.b_mean, verdict.b_std))
    phrase = _phrase(metric, a, b, sides, ratio)
    phrase += f": {TEXT['outcome'][verdict.lower]} ({verdict.reason})"
    phrase += TEXT["under_fold"].format(fold=fold) if under else ""
    return outcome, {**verdict.to_dict(), "ratio": ratio}, phrase


def check_finding(spec: dict, sections: dict, seed: dict) -> dict:
    """One finding of report.yaml's ``findings`` checked on ``sections`` (as in results.json):
    ``id``, ``claim``, ``seed`` (the seed's numbers as text; None for ours), ``verdict`` (HOLDS:
    every pair holds on some metric, DIFFERS: a comparison differs, else NO_CLEAR; UNKNOWN
    without the rows), ``numbers`` (each comparison's verdict and ratio) and ``detail``."""
    table = (sections.get(spec["section"]) or {}).get("table") or {}
    seed_rows = (seed.get(spec["section"]) or {}).get("rows") or {}
    seed_text = None if spec.get("ours") else _seed_text(spec, seed_rows)
    found = {"id": spec["id"], "claim": spec["claim"], "seed": seed_text}
    pairs, metrics = _pairs(spec, table), spec["metrics"]
    values = {(r, m): seed_values(table.get(r), m) for p in pairs for r in p for m in metrics}
    if not pairs or not all(values.values()):
        rows = [repr(r) if r != "*" else TEXT["other_rows"] for p in spec["pairs"] for r in p]
        needed = f"{VR.join_names(metrics)} of {VR.join_names(list(dict.fromkeys(rows)))}"
        detail = TEXT["missing"].format(needed=needed)
        return {**found, "verdict": UNKNOWN, "numbers": {}, "detail": detail}
    numbers, phrases, outcomes = {}, [], []  # outcomes: per pair, those of its comparisons
    for a, b in pairs:
        outcomes.append(set())
        for m in metrics:
            outcome, numbers[f"{a} -> {b} on {m}"], phrase = _comparison(spec, a, b, m, values)
            outcomes[-1].add(outcome)
            phrases.append(phrase)
    verdict = HOLDS if all(HOLDS in pair for pair in outcomes) else VR.NO_CLEAR
    if any(DIFFERS in pair for pair in outcomes):
        verdict = DIFFERS
    counts = list(dict.fromkeys(len(v) for v in values.values()))
    seeds = f"{VR.join_names([str(c) for c in counts])} seed{'s' if max(counts) != 1 else ''}"
    detail = "; ".join(phrases) + f" ({seeds})"
    return {**found, "verdict": verdict, "numbers": round_values(numbers), "detail": detail}


def all_verdicts(sections: dict) -> tuple[dict, list[dict], VR.Family]:
    """Every verdict the README states, decided together over ``sections`` (their tables, as in
    results.json): per training section :func:`section_verdicts`, every finding checked against
    the seed's numbers, and the family of comparisons."""
    seed = seed_results()

    def compute() -> tuple[dict, list[dict]]:
        tables = {key: (sections.get(key) or {}).get("table") for key in TRAINING_SECTIONS}
        verdicts = {k: section_verdicts(k, t) for k, t in tables.items() if t is not None}
        return verdicts, [check_finding(spec, sections, seed) for spec in DATA["findings"]]

    (verdicts, findings), family = VR.decided_together(compute)
    return verdicts, findings, family

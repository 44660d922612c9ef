"""The seed's four findings checked against our tables, and the summary of the methods that go
beyond the seed."""

from __future__ import annotations

from krypto.pipeline.report.sections import LAMBDAS, NO_CUTOUT, SEED_RECIPE, TRIPLET, TRIPLET_FAKE
from krypto.pipeline.report.seed import seed_metric
from krypto.pipeline.report.values import round_values, to_number

HOLDS, DIFFERS, UNKNOWN = "holds", "differs", "n/a"
FOLD = 5  # finding (a): the fake term cuts eer_fake at least this many times


def _row(sections: dict, key: str, run: str) -> dict | None:
    return ((sections.get(key) or {}).get("table") or {}).get(run)


def _metric(sections: dict, key: str, run: str, metric: str) -> float | None:
    return to_number((_row(sections, key, run) or {}).get(metric))


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _missing(claim: str, key: str, seed: str, needed: str) -> dict:
    return {"id": key, "claim": claim, "seed": seed, "verdict": UNKNOWN, "numbers": {},
            "detail": f"not checked: the tables lack {needed}"}


def compute_findings(sections: dict) -> list[dict]:
    """The seed's four findings checked against our tables (``sections`` as in results.json).

    Each: ``id``, ``claim``, ``seed`` (its numbers, as text), ``verdict`` (``holds``,
    ``differs``, or ``n/a`` when a needed row is missing), ``numbers`` and ``detail`` (ours)."""
    return [_finding_a(sections), _finding_b(sections), _finding_c(sections),
            _finding_d(sections)]


def _finding_a(sections: dict) -> dict:
    claim = "The fake term cuts eer_fake at least fivefold"
    t = seed_metric("loss_selection", TRIPLET, "eer_fake")
    f = seed_metric("loss_selection", TRIPLET_FAKE, "eer_fake")
    seed = f"eer_fake {t:.4f} -> {f:.4f}, {t / f:.1f}x"
    ours_t = _metric(sections, "loss_selection", TRIPLET, "eer_fake")
    ours_f = _metric(sections, "loss_selection", TRIPLET_FAKE, "eer_fake")
    if ours_t is None or ours_f is None:
        return _missing(claim, "a", seed, f"eer_fake of {TRIPLET!r} and {TRIPLET_FAKE!r}")
    ratio = _ratio(ours_t, ours_f)
    holds = ours_t > 0 if ratio is None else ratio >= FOLD
    times = f"{ratio:.1f}x" if ratio is not None else ("to zero" if ours_t > 0 else "no change")
    return {"id": "a", "claim": claim, "seed": seed, "verdict": HOLDS if holds else DIFFERS,
            "numbers": round_values({"triplet eer_fake": ours_t, "triplet + fake eer_fake": ours_f,
                                     "ratio": ratio, "seed ratio": t / f}),
            "detail": f"eer_fake {ours_t:.4f} -> {ours_f:.4f}, {times}"}


def _finding_b(sections: dict) -> dict:
    claim = f"eer_fake falls as lam grows ({' -> '.join(LAMBDAS)})"
    seed_values = [seed_metric("lambda", lam, "eer_fake") for lam in LAMBDAS]
    seed = "eer_fake " + " -> ".join(f"{v:.4f}" for v in seed_values)
    values = [_metric(sections, "lambda", lam, "eer_fake") for lam in LAMBDAS]
    if any(v is None for v in values):
        return _missing(claim, "b", seed, f"eer_fake of lam {', '.join(LAMBDAS)}")
    monotone = all(a > b for a, b in zip(values, values[1:]))
    detail = "eer_fake " + " -> ".join(f"{v:.4f}" for v in values)
    if not monotone:
        rises = [f"{LAMBDAS[i]} -> {LAMBDAS[i + 1]}" for i in range(len(values) - 1)
                 if values[i + 1] >= values[i]]
        detail += f"; not monotone (no fall at {', '.join(rises)})"
    else:
        detail += "; monotone"
    return {"id": "b", "claim": claim, "seed": seed, "verdict": HOLDS if monotone else DIFFERS,
            "numbers": round_values({"eer_fake": dict(zip(LAMBDAS, values)), "monotone": monotone,
                                     "seed eer_fake": dict(zip(LAMBDAS, seed_values))}),
            "detail": detail}


def _finding_c(sections: dict) -> dict:
    claim = "Cutout does not help"
    seed = (f"no cutout has the lowest eer_real "
            f"({seed_metric('cutout', NO_CUTOUT, 'eer_real'):.4f}) and eer_fake "
            f"({seed_metric('cutout', NO_CUTOUT, 'eer_fake'):.4f}); no combined EER")
    table = (sections.get("cutout") or {}).get("table") or {}
    base_eer = _metric(sections, "cutout", NO_CUTOUT, "eer")
    base_fake = _metric(sections, "cutout", NO_CUTOUT, "eer_fake")
    parts = {name: {"eer": to_number(row.get("eer")), "eer_fake": to_number(row.get("eer_fake"))}
             for name, row in table.items() if name != NO_CUTOUT}
    if base_eer is None or base_fake is None or not parts:
        return _missing(claim, "c", seed, f"eer and eer_fake of {NO_CUTOUT!r} and cutout parts")
    lower_eer = [p for p, v in parts.items() if v["eer"] is not None and v["eer"] < base_eer]
    lower_fake = [p for p, v in parts.items()
                  if v["eer_fake"] is not None and v["eer_fake"] < base_fake]
    holds = not lower_eer and not lower_fake

    def beaten(names: list[str], metric: str) -> str:
        if not names:
            return f"no part has a lower {metric}"
        return "lower " + metric + ": " + ", ".join(f"{p} {parts[p][metric]:.4f}" for p in names)

    detail = (f"no cutout: eer {base_eer:.4f}, eer_fake {base_fake:.4f}; "
              f"{beaten(lower_eer, 'eer')}; {beaten(lower_fake, 'eer_fake')}")
    return {"id": "c", "claim": claim, "seed": seed, "verdict": HOLDS if holds else DIFFERS,
            "numbers": round_values({"no cutout": {"eer": base_eer, "eer_fake": base_fake},
                                     "parts": parts, "lower eer": lower_eer,
                                     "lower eer_fake": lower_fake}),
            "detail": detail}


def _finding_d(sections: dict) -> dict:
    claim = "The fake term costs some eer_real"
    t = seed_metric("loss_selection", TRIPLET, "eer_real")
    f = seed_metric("loss_selection", TRIPLET_FAKE, "eer_real")
    seed = f"eer_real {t:.4f} -> {f:.4f}, {f / t:.2f}x"
    ours_t = _metric(sections, "loss_selection", TRIPLET, "eer_real")
    ours_f = _metric(sections, "loss_selection", TRIPLET_FAKE, "eer_real")
    if ours_t is None or ours_f is None:
        return _missing(claim, "d", seed, f"eer_real of {TRIPLET!r} and {TRIPLET_FAKE!r}")
    ratio = _ratio(ours_f, ours_t)
    holds = ours_f > ours_t
    times = f"{ratio:.2f}x" if ratio is not None else "from zero"
    return {"id": "d", "claim": claim, "seed": seed, "verdict": HOLDS if holds else DIFFERS,
            "numbers": round_values({"triplet eer_real": ours_t, "triplet + fake eer_real": ours_f,
                                     "ratio": ratio, "seed ratio": f / t}),
            "detail": f"eer_real {ours_t:.4f} -> {ours_f:.4f}, {times}"}


def beyond_summary(table: dict, seed_recipe: str = SEED_RECIPE) -> dict | None:
    """The run with the lowest combined ``eer`` and its margin over ``seed_recipe``: ``best``,
    ``eer``, ``seed_recipe``, ``seed_eer``, ``absolute`` (seed - best), ``relative`` (of the
    seed's); the margins are None when the recipe's row is missing. None for no usable row."""
    eers = {name: to_number(row.get("eer")) for name, row in (table or {}).items()}
    eers = {name: v for name, v in eers.items() if v is not None}
    if not eers:
        return None
    best = min(eers, key=eers.get)
    seed_eer = eers.get(seed_recipe)
    absolute = None if seed_eer is None else seed_eer - eers[best]
    relative = _ratio(absolute, seed_eer)
    runner_up = min((n for n in eers if n != best), key=eers.get, default=None)
    return round_values({"best": best, "eer": eers[best], "seed_recipe": seed_recipe,
                         "seed_eer": seed_eer, "absolute": absolute, "relative": relative,
                         "runner_up": runner_up,
                         "runner_up_eer": eers.get(runner_up) if runner_up else None})

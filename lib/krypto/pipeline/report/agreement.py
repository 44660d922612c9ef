"""The check of a reproduction against the committed results (``make check-reproduction``). A
reproduction on another machine, with other seeds or another thread count, is another draw of
the training noise; what must survive it is derived from the measured spread:

* **Means.** Each table mean lies within ``t(1 - alpha / 2M, df) * s * sqrt(1/n_committed +
  1/n_reproduced)`` of the committed one: ``s`` pools the per-seed standard deviations of the
  section's rows on that metric (both results; ``df`` their degrees of freedom), ``n`` counts the
  seeds of a mean (1 for a single model), ``M`` the means checked (Bonferroni); never tighter
  than the same quantile times the test set's resolution (one pair of a kind).
* **Claims.** Every claim of the committed results (a decided comparison, a finding that holds
  or differs, a clearly lowest row) is made again, each tested alone
  (:func:`krypto.evaluation.verdicts.replication_rule`): one reversed or lost is a disagreement,
  one only the reproduction decides is listed."""

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from scipy import stats

from krypto import constants as C
from krypto.evaluation.verdicts import ALPHA, replication_rule, single_model
from krypto.pipeline.report.findings import all_verdicts

RESULTS = C.REPORT_DIR.relative_to(C.REPO_ROOT) / C.RESULTS_FILE  # the committed results


def _cells(results: dict) -> dict[tuple[str, str, str], tuple[dict, int | None]]:
    """``(section, row, metric) -> (cell, n_pairs)`` of every table cell with a mean (each
    test metric of a training table, whichever the runs have)."""
    out = {}
    for name, section in (results.get("sections") or {}).items():
        for row, cells in (section.get("table") or {}).items():
            pairs = [n for n in cells.get("n_pairs") or [] if isinstance(n, int)]
            for metric, cell in cells.items():
                if isinstance(cell, dict) and cell.get("mean") is not None:
                    out[name, row, metric] = cell, min(pairs) if pairs else None
    return out


def table_means(results: dict) -> dict[str, float]:
    """``"section / row / metric" -> mean`` for every table cell of ``results`` that has one."""
    return {" / ".join(key): float(cell["mean"]) for key, (cell, _) in _cells(results).items()}


def pooled_spread(*results: dict) -> dict[tuple[str, str], tuple[float, int]]:
    """``(section, metric) -> (pooled per-seed std, its degrees of freedom)`` over varying seeds."""
    sums: dict[tuple[str, str], list[float]] = {}
    for result in results:
        for (section, _, metric), (cell, _) in _cells(result).items():
            values = cell.get("values") or []
            if len(values) >= 2 and cell.get("std"):
                acc = sums.setdefault((section, metric), [0.0, 0])
                acc[0] += cell["std"] ** 2 * (len(values) - 1)
                acc[1] += len(values) - 1
    return {key: (math.sqrt(ss / df), int(df)) for key, (ss, df) in sums.items() if df}


def tolerances(committed: dict, reproduced: dict) -> dict[str, float]:
    """``"section / row / metric" -> tolerance`` of every mean both results have (module doc)."""
    spread = pooled_spread(committed, reproduced)
    ours, theirs = _cells(reproduced), _cells(committed)
    shared = [key for key in theirs if key in ours]
    out = {}
    for key in shared:
        (cell, pairs), (other, other_pairs) = theirs[key], ours[key]
        std, df = spread.get((key[0], key[2]), (0.0, 0))
        quantile = stats.t.ppf(1 - ALPHA / (2 * len(shared)), max(df, 1))
        values = [c.get("values") or [c["mean"]] for c in (cell, other)]
        n = [1 if single_model(v) else len(v) for v in values]  # a single model: one sample
        seeds = quantile * std * math.sqrt(1 / n[0] + 1 / n[1])
        per_kind = min((p for p in (pairs, other_pairs) if p), default=4) / 4
        out[" / ".join(key)] = max(seeds, quantile / per_kind)
    return out


def claims(results: dict) -> dict[str, str | None]:
    """``what -> claim`` (None: undecided) for each section's lowest, the lowest against each
    other row, each row against the reference, each finding."""
    out = {}
    for name, section in (results.get("sections") or {}).items():
        low = section.get("lowest") or {}
        if low:
            out[f"{name}: lowest"] = low.get("name") if low.get("clear") else None
        for other, verdict in (low.get("versus") or {}).items():  # a: the lowest
            said = {"a": low.get("name"), "b": other}.get(verdict.get("lower"))
            out[f"{name}: {low.get('name')} vs {other} on eer"] = said and f"{said} lower"
        reference = section.get("reference")
        for row, metrics in (section.get("versus") or {}).items():
            for metric, verdict in metrics.items():  # a: the row, b: the reference
                said = {"a": row, "b": reference}.get(verdict.get("lower"))
                out[f"{name}: {row} vs {reference} on {metric}"] = said and f"{said} lower"
    for finding in results.get("findings") or []:
        verdict = str(finding.get("verdict"))
        out[f"finding ({finding.get('id')})"] = verdict if verdict in ("holds", "differs") else None
    return out


def replicated_claims(reproduced: dict) -> dict[str, str | None]:
    """:func:`claims` of ``reproduced``'s tables, each comparison decided as a replication."""
    sections = reproduced.get("sections") or {}
    with replication_rule():
        verdicts, findings, _ = all_verdicts(sections)
    tables = {k: {**(sections.get(k) or {}), **v} for k, v in verdicts.items()}
    return claims({"sections": tables, "findings": findings})


def disagreements(committed: dict, reproduced: dict) -> tuple[list[str], list[str]]:
    """Every mean outside its tolerance, claim reversed or lost, cell only one side has; and
    the comparisons newly decided (listed, not disagreements)."""
    problems, new = [], []
    means_a, means_b = table_means(committed), table_means(reproduced)
    allowed = tolerances(committed, reproduced)
    for key in sorted(means_a.keys() | means_b.keys()):
        a, b = means_a.get(key), means_b.get(key)
        if a is None or b is None:
            where = "committed" if b is None else "reproduced"
            problems.append(f"{key}: only in the {where} results")
        elif abs(a - b) > allowed[key] + 1e-12:
            problems.append(
                f"{key}: mean {b:.4f}, committed {a:.4f} "
                f"(|difference| {abs(a - b):.4f} > {allowed[key]:.4f})"
            )
    again = replicated_claims(reproduced)
    for key, claim in claims(committed).items():
        if claim is not None and again.get(key) != claim:
            how = "lost" if again.get(key) is None else f"reversed: {again[key]!r}"
            problems.append(f"{key}: claim {claim!r} {how}")
        elif claim is None and again.get(key) is not None:
            new.append(f"{key}: {again[key]!r} (undecided in the committed results)")
    return problems, new


def committed_results() -> dict:
    """The results.json committed at HEAD (``git show``)."""
    where = f"HEAD:{RESULTS.as_posix()}"
    shown = subprocess.run(["git", "show", where], cwd=C.REPO_ROOT, capture_output=True, text=True)
    if shown.returncode != 0:
        message = f"git show {where} failed: {shown.stderr.strip()}; pass --committed FILE"
        raise FileNotFoundError(message)
    return json.loads(shown.stdout)


def main(argv: list[str] | None = None) -> int:
    """The check on the command line: 0 when the two agree, 1 when not, 2 on a missing file."""
    parser = argparse.ArgumentParser(
        prog="python -m krypto.pipeline.report.agreement",
        description="Check a reproduction against the committed results: every table mean "
        "within a tolerance derived from the seeds' spread, every claim made again.",
    )
    parser.add_argument("reproduced", nargs="?", type=Path, default=C.REPO_ROOT / RESULTS)
    parser.add_argument("--committed", type=Path, help="default: the committed one, from git")
    args = parser.parse_args(argv)
    try:
        reproduced = json.loads(args.reproduced.read_text())
        committed = (
            json.loads(args.committed.read_text()) if args.committed else committed_results()
        )
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problems, new = disagreements(committed, reproduced)
    if committed.get("code_hash") != reproduced.get("code_hash"):
        print("note: the two were made by different code (code_hash differs)")
    for line in [f"  {p}" for p in problems] + [f"  new: {line}" for line in new]:
        print(line)
    print("agree" if not problems else f"{len(problems)} disagreement(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())

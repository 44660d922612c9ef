"""How close a fresh ``make reproduce`` must come to the committed results, and the check.

With the pinned packages, on an x86-64 CPU and ``THREADS=1`` (as ``make reproduce`` runs every
training), a run is deterministic. :data:`MEAN_TOLERANCE` leaves room for what such a machine may
still change (another CPU's vector kernels moving a tie between two scores moves a 600-pair EER by
1/150), not for other seeds or thread counts: those are other draws of the training noise.

``python -m krypto.pipeline.report.agreement [REPRODUCED] [--committed FILE]``: every table mean
within the tolerance, every verdict identical; exit 0 when they agree, 1 when not, 2 on a
missing file."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from krypto import constants as C

MEAN_TOLERANCE = 0.01  # absolute EER, on each table mean (over the seeds)
RESULTS = C.REPORT_DIR.relative_to(C.REPO_ROOT) / C.RESULTS_FILE  # the committed results


def table_means(results: dict) -> dict[str, float]:
    """``"section / row / metric" -> mean`` for every table cell of ``results`` that has one."""
    out = {}
    for name, section in (results.get("sections") or {}).items():
        for row, cells in (section.get("table") or {}).items():
            for metric, cell in cells.items():
                if isinstance(cell, dict) and cell.get("mean") is not None:
                    out[f"{name} / {row} / {metric}"] = float(cell["mean"])
    return out


def verdicts(results: dict) -> dict[str, str]:
    """``what -> verdict`` for each section's lowest, each row against the reference on each
    metric, each finding."""
    out = {}
    for name, section in (results.get("sections") or {}).items():
        lowest = section.get("lowest")
        if lowest:
            ties = ", ".join(sorted(lowest.get("ties") or []))
            clear = "clear" if lowest.get("clear") else "not clear"
            out[f"{name}: lowest"] = f"{lowest.get('name')} ({clear}; ties: {ties or '-'})"
        reference = section.get("reference")
        for row, metrics in (section.get("versus") or {}).items():
            for metric, verdict in metrics.items():  # a: the row, b: the reference
                lower = {"a": row, "b": reference}.get(verdict.get("lower"))
                out[f"{name}: {row} vs {reference} on {metric}"] = (
                    f"{lower} lower" if lower else "no clear difference"
                )
    for finding in results.get("findings") or []:
        out[f"finding ({finding.get('id')})"] = str(finding.get("verdict"))
    return out


def disagreements(
    committed: dict, reproduced: dict, tolerance: float = MEAN_TOLERANCE
) -> list[str]:
    """Every table mean further than ``tolerance``, verdict that differs, or either only one
    has; empty when they agree."""
    problems = []
    means_a, means_b = table_means(committed), table_means(reproduced)
    for key in sorted(means_a.keys() | means_b.keys()):
        if key not in means_a or key not in means_b:
            where = "committed" if key in means_a else "reproduced"
            problems.append(f"{key}: only in the {where} results")
        elif abs(means_a[key] - means_b[key]) > tolerance + 1e-12:
            problems.append(
                f"{key}: mean {means_b[key]:.4f}, committed {means_a[key]:.4f} "
                f"(|difference| {abs(means_a[key] - means_b[key]):.4f} > {tolerance})"
            )
    verdicts_a, verdicts_b = verdicts(committed), verdicts(reproduced)
    for key in sorted(verdicts_a.keys() | verdicts_b.keys()):
        a, b = verdicts_a.get(key), verdicts_b.get(key)
        if a != b:
            problems.append(f"{key}: verdict {b!r}, committed {a!r}")
    return problems


def committed_results(path: Path = RESULTS, revision: str = "HEAD") -> dict:
    """``path`` as committed at ``revision`` (``git show``), read from the repository root."""
    shown = subprocess.run(
        ["git", "show", f"{revision}:{path.as_posix()}"],
        cwd=C.REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0:
        raise FileNotFoundError(
            f"git show {revision}:{path.as_posix()} failed: {shown.stderr.strip()}; "
            f"pass --committed FILE"
        )
    return json.loads(shown.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.pipeline.report.agreement",
        description="Check a fresh make reproduce against the committed results: every table "
        f"mean within {MEAN_TOLERANCE} and every verdict identical.",
    )
    parser.add_argument(
        "reproduced",
        nargs="?",
        type=Path,
        default=C.REPO_ROOT / RESULTS,
        help=f"the reproduced results (default {RESULTS})",
    )
    parser.add_argument(
        "--committed",
        type=Path,
        default=None,
        help=f"the results to match (default: the committed {RESULTS}, from git)",
    )
    parser.add_argument("--tolerance", type=float, default=MEAN_TOLERANCE)
    args = parser.parse_args(argv)
    try:
        reproduced = json.loads(args.reproduced.read_text())
        committed = (
            json.loads(args.committed.read_text()) if args.committed else committed_results()
        )
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problems = disagreements(committed, reproduced, args.tolerance)
    a, b = table_means(committed), table_means(reproduced)
    largest = max((abs(a[k] - b[k]) for k in a.keys() & b.keys()), default=0.0)
    print(
        f"{len(a)} table means (largest |difference| {largest:.4f}, tolerance "
        f"{args.tolerance}), {len(verdicts(committed))} verdicts"
    )
    if committed.get("code_hash") != reproduced.get("code_hash"):
        print("note: the two were made by different code (code_hash differs)")
    for problem in problems:
        print(f"  {problem}")
    print("agree" if not problems else f"{len(problems)} disagreement(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())

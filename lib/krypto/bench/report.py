"""The benchmark's goals and its table (both data: ``sections.yaml``), and its outputs:
``bench.json``, ``bench.md`` (the README's table) and ``bench.txt`` (the printed table)."""

from __future__ import annotations

import json
from pathlib import Path

from krypto.bench.common import SPEC
from krypto.bench.miner import MINER_BATCHES
from krypto.files import write_text

GOALS = tuple(SPEC["goals"])
ROWS = SPEC["rows"]
ITEMS = {
    "miner": lambda m: [{**m[str(size)], "size": size} for size in MINER_BATCHES],
    "growth": lambda g: g["sizes"],
    "scale": lambda s: s["sizes"],
}
# values that the words of a section's rows depend on
DERIVED = {
    "memory": lambda m: {"sized": "challenge-sized" if m.get("challenge_sized") else "smoke-sized"},
    "inference": lambda i: {
        "other": "overlapped" if "submission_overlapped_images_per_second" in i else "serial"
    },
}
HEADER = ("device", "measurement", "ours", "reference", "ratio", "goal", "result")


def evaluate_goals(results: dict, device: str) -> list[dict]:
    goals = []
    for goal in GOALS:
        node = results.get(goal["section"])
        for key in goal["path"].split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue
        value, threshold = node["value"], goal["threshold"]
        passed = value >= threshold if goal["op"] == ">=" else value <= threshold
        goals.append(
            {
                "id": goal["id"],
                "device": device,
                "what": goal["what"],
                "measured": value,
                "goal": f"{goal['op']} {threshold:g}",
                "threshold": threshold,
                "passed": bool(passed),
                "unit": node["unit"],
                "margin": round(value / threshold, 3),
            }
        )
    return goals


def _fmt(node) -> str:
    value, unit = node["value"], node["unit"]
    if unit == "x":
        return f"{value:.3g}x" if value < 100 else f"{value:.0f}x"
    if unit == "ratio":
        return f"{value:.3f}"
    text = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{text} {unit}"


class _Values(dict):
    """A section's values as a row's templates read them: a measurement as the table writes it."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return _fmt(value) if isinstance(value, dict) else value

    def cell(self, template: str) -> str:
        text = template.format_map(self)
        return self[text] if text in self else text  # noqa: SIM401 (get() skips __getitem__)


def table_rows(report: dict) -> list[tuple[str, ...]]:
    """(device, measurement, ours, reference, ratio, goal, result) rows of the table."""
    goals = {(g["device"], g["id"]): g for g in report.get("goals", [])}
    rows = []
    for device in ("cpu", "cuda"):
        results = report.get(device) or {}
        for section, *cells, goal_id in ROWS:
            name = section.removesuffix("[]")
            if name not in results:
                continue
            items = ITEMS[name](results[name]) if section.endswith("[]") else [results[name]]
            for item in items:
                values = _Values(item, **DERIVED.get(name, dict)(item))
                g = goals.get((device, values.cell(goal_id)))
                verdict = (g["goal"], "PASS" if g["passed"] else "FAIL") if g else ("", "")
                rows.append((device, *map(values.cell, cells), *verdict))
    return rows


def text_table(report: dict) -> str:
    rows = [HEADER] + table_rows(report)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(report: dict) -> str:
    m, cfg = report["machine"], report["config"]
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    lines = [
        "# krypto benchmark",
        "",
        f"`{report.get('command') or 'python -m krypto.bench'}` on {report['date']}, "
        f"{report['seconds']:.0f} s{' (quick smoke version)' if cfg['quick'] else ''}.",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_cores_usable']} usable cores of {m['cpu_cores']}, "
        f"torch {m['torch']} with {m['torch_threads']} threads{gpu}; load average "
        f"{m['load_average_at_start']} at the start, {m['load_average_at_end']} at the end.",
        "",
        f"Backbone {cfg['backbone']}, {cfg['image_size']} px, batches P x K = {cfg['P']} x "
        f"{cfg['K']}, median of {cfg['repeats']} repeat(s); each ratio is measured side by side in "
        f"one process.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows(report)]
    bounds = [d for d in ("cpu", "cuda") if "inference" in (report.get(d) or {})]
    lines += [""] if bounds else []
    lines += [
        f"Inference on {d} is bounded by {report[d]['inference']['bounded_by']}." for d in bounds
    ]
    if report.get("cuda_note"):
        lines += ["", f"CUDA: {report['cuda_note']}."]
    return "\n".join(lines) + "\n"


def write_outputs(report: dict, out: str | Path) -> dict[str, Path]:
    """``out`` (JSON), and next to it ``<stem>.md`` and ``<stem>.txt``, each atomically."""
    out = Path(out)
    paths = {"json": out, "md": out.with_suffix(".md"), "txt": out.with_suffix(".txt")}
    write_text(paths["json"], json.dumps(report, indent=2) + "\n")
    write_text(paths["md"], markdown(report))
    write_text(paths["txt"], text_table(report) + "\n")
    return paths

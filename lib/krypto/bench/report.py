"""The benchmark's table as data (:data:`ROWS`), its verdicts, and its outputs: ``bench.json``
and ``bench.md`` (the README's)."""

import json
import operator
import re
from pathlib import Path

from krypto.bench.miner import MINER_BATCHES
from krypto.files import write_text

# (section, measurement, ours, reference, ratio, goal): the section is a path in a device's
# results ("[]": a row per item of that list); the cells are templates over its measurements;
# the goal ("op threshold") is on the ratio cell's first measurement
ROWS = (
    ("training", "1. training loop vs compute bound", "{loop_images_per_second}",
     "{bound_images_per_second}", "{ratio_to_bound}", ">= 0.9"),
    *((f"miner.{size}", f"2. miner, batch {size} (seed loop / lists loop)", "{ours_ms}",
       "{reference_ms} / {reference_lists_ms}", "{speedup} / {speedup_vs_lists}",
       ">= 50" if size == MINER_BATCHES[0] else "") for size in MINER_BATCHES),
    ("inference", "3. inference: make_submission vs forward", "{submission_images_per_second}",
     "{forward_images_per_second}", "{ratio_to_forward}", ">= 0.85"),
    ("inference", "3. (limit) decoding alone vs forward", "{decode_images_per_second}",
     "{forward_images_per_second}", "{decode_over_forward}", ""),
    ("inference", "3. make_submission decoding each batch before its forward",
     "{submission_serial_images_per_second}", "{forward_images_per_second}", "", ""),
    ("memory", "4. memory held, {processes} processes vs 1, 1 epoch, {n_images:,} images",
     "{processes_mib}", "{one_process_mib}", "{ratio}", "<= 1.3"),
    ("memory", "4. memory at the sampled peak, {processes} processes vs 1",
     "{processes_peak_mib}", "{one_process_peak_mib}", "{peak_ratio}", ""),
    ("memory", "4. image cache ({image_cache_mib}): PSS, {processes} processes vs 1",
     "{processes_image_cache_pss_mib}", "{one_process_image_cache_pss_mib}",
     "{image_cache_ratio}", ""),
    ("memory", "4. the rest (activations, allocator: per process), {processes} processes vs 1",
     "{processes_working_mib}", "{one_process_working_mib}", "", ""),
    ("scale.sizes[]", "5. scale {identities:,} identities, {n_photos:,} photos: index / cache / "
     "epoch", "{index_seconds} / {image_cache_seconds} / {epoch_seconds}",
     "peak {index_peak_mib} / {image_cache_peak_mib} / {epoch_peak_mib}", "", ""),
    ("scale.sizes[]", "5. scale {identities:,} identities, {n_test_pairs:,} test pairs: "
     "validation / submission / landmarks (extrapolated)",
     "{validation_seconds} / {submission_seconds} / {landmarks_seconds}",
     "peak {validation_peak_mib} / {submission_peak_mib} / {landmarks_peak_mib}", "", ""),
    ("scale", "5. scale: seconds per photo, largest / smallest, of the stage growing most "
     "({growth_largest_stage})", "", "", "{growth_largest}", "<= 1.3"),
)  # fmt: skip
HEADER = ("device", "measurement", "ours", "reference", "ratio", "goal", "result")
GOALS = {">=": operator.ge, "<=": operator.le}


class _Values(dict):
    """An item's values as the cells read them: a measurement as the table writes it."""

    def __getitem__(self, key):
        node = super().__getitem__(key)
        if not isinstance(node, dict):
            return node
        value, unit = node["value"], node["unit"]
        if unit == "x":
            return f"{value:.3g}x" if value < 100 else f"{value:.0f}x"
        if unit == "ratio":
            return f"{value:.3f}"
        return f"{value:.4g} {unit}" if abs(value) < 1e4 else f"{value:.0f} {unit}"


def _items(section: str, results: dict) -> list[dict]:
    """The items of a row of ``section`` in a device's results (none where it lacks them)."""
    node = results
    for key in section.removesuffix("[]").split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return [] if node is None else node if section.endswith("[]") else [node]


def table_rows(report: dict) -> list[dict]:
    """The table's rows (:data:`HEADER` and ``passed``: None without a goal); a row whose
    measurements the report lacks is left out."""
    rows = []
    for device in ("cpu", "cuda"):
        for section, *cells, goal in ROWS:
            for item in _items(section, report.get(device) or {}):
                try:
                    texts = [cell.format_map(_Values(item)) for cell in cells]
                except KeyError:
                    continue
                row = dict(zip(HEADER, [device, *texts, goal, ""]), passed=None)
                if goal:
                    op, threshold = goal.split()
                    value = item[re.search(r"{(\w+)", cells[3])[1]]["value"]
                    row["passed"] = GOALS[op](value, float(threshold))
                    row.update(result="PASS" if row["passed"] else "FAIL", measured=value)
                rows.append(row)
    return rows


def verdicts(report: dict) -> list[dict]:
    """Each goal on each device measured, passed or not (``bench.json``'s ``goals``)."""
    keys = ("device", "measurement", "measured", "goal", "passed")
    return [{key: row[key] for key in keys} for row in table_rows(report) if row["goal"]]


def markdown(report: dict) -> str:
    m, cfg = report["machine"], report["config"]
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    lines = [
        "# krypto benchmark\n",
        f"`{report['command']}` on {report['date']}, {report['seconds']:.0f} s"
        f"{' (quick smoke version)' if cfg['quick'] else ''}.\n",
        f"Machine: {m['cpu_model']}, {m['cpu_cores_usable']} usable cores of {m['cpu_cores']}, "
        f"torch {m['torch']} with {m['torch_threads']} threads{gpu}; load average "
        f"{m['load_average_at_start']} at the start, {m['load_average_at_end']} at the end.\n",
        f"Backbone {cfg['backbone']}, {cfg['image_size']} px, batches P x K = {cfg['P']} x "
        f"{cfg['K']}, median of {cfg['repeats']} repeat(s); each ratio is measured side by side in "
        "one process.\n",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(row[k] for k in HEADER) + " |" for row in table_rows(report)),
    ]
    for device in ("cpu", "cuda"):
        bound = ((report.get(device) or {}).get("inference") or {}).get("bounded_by")
        lines += [f"\nInference on {device} is bounded by {bound}."] if bound else []
    lines += [f"\nCUDA: {report['cuda_note']}."] if report.get("cuda_note") else []
    return "\n".join(lines) + "\n"


def write_outputs(report: dict, out: str | Path) -> Path:
    """``out`` (JSON), and next to it ``<stem>.md``, each atomically; the latter's path."""
    md = Path(out).with_suffix(".md")
    write_text(Path(out), json.dumps(report, indent=2) + "\n")
    write_text(md, markdown(report))
    return md

"""The benchmark's goals and its outputs: ``bench.json``, ``bench.md`` (the README's table) and
``bench.txt`` (the printed table)."""

from __future__ import annotations

import json
from pathlib import Path

from krypto.bench.miner import MINER_BATCHES
from krypto.files import write_text

GOALS = (
    # id, section, path to the value, comparison, threshold, what
    (
        "training_vs_bound",
        "training",
        ("ratio_to_bound",),
        ">=",
        0.90,
        "training loop / compute bound",
    ),
    ("loop_vs_seed", "seed_pipeline", ("speedup",), ">=", 2.0, "our loop / seed pipeline"),
    (
        "miner_speedup_36",
        "miner",
        ("36", "speedup"),
        ">=",
        50.0,
        "miner speed-up over the seed's Python loop at batch 36",
    ),
    (
        "inference_vs_forward",
        "inference",
        ("ratio_to_forward",),
        ">=",
        0.85,
        "make_submission / pure forward",
    ),
    (
        "memory_processes",
        "memory",
        ("ratio",),
        "<=",
        1.3,
        "summed PSS held once trained, less imports, 2 processes / 1",
    ),
    (
        "growth_flat",
        "growth",
        ("relative_cost_ratio_16x_1x",),
        "<=",
        1.25,
        "per-image cost 16x / 1x, each relative to the compute bound around it (flat; 1.25 "
        "allowed for noise)",
    ),
)


def evaluate_goals(results: dict, device: str) -> list[dict]:
    goals = []
    for gid, section, path, op, threshold, what in GOALS:
        node = results.get(section)
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue
        value = node["value"]
        passed = value >= threshold if op == ">=" else value <= threshold
        goals.append(
            {
                "id": gid,
                "device": device,
                "what": what,
                "measured": value,
                "goal": f"{op} {threshold:g}",
                "threshold": threshold,
                "passed": bool(passed),
                "unit": node["unit"],
                "margin": round(value / threshold, 3),
            }
        )
    return goals


def _fmt(node) -> str:
    if node is None:
        return ""
    value, unit = node["value"], node["unit"]
    if unit == "x":
        return f"{value:.3g}x" if value < 100 else f"{value:.0f}x"
    if unit == "ratio":
        return f"{value:.3f}"
    text = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{text} {unit}"


def _section_rows(device: str, r: dict, verdict) -> list[tuple[str, ...]]:
    rows = []
    if "training" in r:
        t = r["training"]
        rows.append(
            (
                device,
                "1. training loop vs compute bound",
                _fmt(t["loop_images_per_second"]),
                _fmt(t["bound_images_per_second"]),
                _fmt(t["ratio_to_bound"]),
                *verdict(device, "training_vs_bound"),
            )
        )
    if "seed_pipeline" in r:
        s = r["seed_pipeline"]
        rows.append(
            (
                device,
                "2. our loop vs seed pipeline",
                _fmt(s["loop_images_per_second"]),
                _fmt(s["seed_images_per_second"]),
                _fmt(s["speedup"]),
                *verdict(device, "loop_vs_seed"),
            )
        )
        rows.append(
            (
                device,
                "2. (limit) compute bound vs seed pipeline",
                "",
                "",
                _fmt(s["max_possible_speedup"]),
                "",
                "",
            )
        )
    if "miner" in r:
        for size in MINER_BATCHES:
            m = r["miner"][str(size)]
            gid = "miner_speedup_36" if size == 36 else None
            rows.append(
                (
                    device,
                    f"3. miner, batch {size} (seed loop / lists loop)",
                    _fmt(m["ours_ms"]),
                    f"{_fmt(m['reference_ms'])} / {_fmt(m['reference_lists_ms'])}",
                    f"{_fmt(m['speedup'])} / {_fmt(m['speedup_vs_lists'])}",
                    *(verdict(device, gid) if gid else ("", "")),
                )
            )
    if "inference" in r:
        i = r["inference"]
        rows.append(
            (
                device,
                "4. inference: make_submission vs forward",
                _fmt(i["submission_images_per_second"]),
                _fmt(i["forward_images_per_second"]),
                _fmt(i["ratio_to_forward"]),
                *verdict(device, "inference_vs_forward"),
            )
        )
        rows.append(
            (
                device,
                "4. (limit) decoding alone, torchvision / PIL",
                _fmt(i["decode_images_per_second"]),
                _fmt(i["decode_pil_images_per_second"]),
                _fmt(i["ratio_limit"]),
                "",
                "",
            )
        )
        other = "overlapped" if "submission_overlapped_images_per_second" in i else "serial"
        rows.append(
            (
                device,
                f"4. make_submission: decoding {other}; PIL decoding",
                _fmt(i[f"submission_{other}_images_per_second"]),
                _fmt(i["submission_pil_images_per_second"]),
                "",
                "",
                "",
            )
        )
    if "memory" in r:
        m = r["memory"]
        size = "challenge-sized" if m.get("challenge_sized") else "smoke-sized"
        rows.append(
            (
                device,
                f"5. memory held, {m['processes']} processes vs 1, 1 epoch, "
                f"{m['n_images']:,} images ({size})",
                _fmt(m["processes_mib"]),
                _fmt(m["one_process_mib"]),
                _fmt(m["ratio"]),
                *verdict(device, "memory_processes"),
            )
        )
        rows.append(
            (
                device,
                f"5. memory at the sampled peak, {m['processes']} processes vs 1",
                _fmt(m["processes_peak_mib"]),
                _fmt(m["one_process_peak_mib"]),
                _fmt(m["peak_ratio"]),
                "",
                "",
            )
        )
        rows.append(
            (
                device,
                f"5. image cache ({_fmt(m['image_cache_mib'])}): PSS, "
                f"{m['processes']} processes vs 1",
                _fmt(m["processes_image_cache_pss_mib"]),
                _fmt(m["one_process_image_cache_pss_mib"]),
                _fmt(m["image_cache_ratio"]),
                "",
                "",
            )
        )
        rows.append(
            (
                device,
                "5. the rest (activations, allocator: per process), "
                f"{m['processes']} processes vs 1",
                _fmt(m["processes_working_mib"]),
                _fmt(m["one_process_working_mib"]),
                "",
                "",
                "",
            )
        )
    if "growth" in r:
        g = r["growth"]
        for s in g["sizes"]:
            rows.append(
                (
                    device,
                    f"6. growth {s['scale']:g}x: {s['n_train_images']} training "
                    f"images, {_fmt(s['epoch_seconds'])}/epoch",
                    f"{_fmt(s['images_per_second'])} ({_fmt(s['ms_per_image'])})",
                    f"bound {_fmt(s['bound_ms_per_image'])}",
                    _fmt(s["relative_cost"]),
                    "",
                    "",
                )
            )
        rows.append(
            (
                device,
                "6. growth: per-image cost 16x / 1x, raw",
                "",
                "",
                _fmt(g["cost_ratio_16x_1x"]),
                "",
                "",
            )
        )
        rows.append(
            (
                device,
                "6. growth: per-image cost 16x / 1x, relative to the bound",
                "",
                "",
                _fmt(g["relative_cost_ratio_16x_1x"]),
                *verdict(device, "growth_flat"),
            )
        )
    return rows


def table_rows(report: dict) -> list[tuple[str, ...]]:
    """(device, measurement, ours, reference, ratio, goal, result) rows of the table."""
    goals = {(g["device"], g["id"]): g for g in report.get("goals", [])}

    def verdict(device, gid):
        g = goals.get((device, gid))
        return (g["goal"], "PASS" if g["passed"] else "FAIL") if g else ("", "")

    rows = []
    for device in ("cpu", "cuda"):
        if report.get(device):
            rows += _section_rows(device, report[device], verdict)
    return rows


HEADER = ("device", "measurement", "ours", "reference", "ratio", "goal", "result")


def text_table(report: dict) -> str:
    rows = [HEADER] + table_rows(report)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(report: dict) -> str:
    m = report["machine"]
    cfg = report["config"]
    lines = [
        "# krypto benchmark",
        "",
        f"`{report.get('command') or 'python -m krypto.bench'}` on {report['date']}, "
        f"{report['seconds']:.0f} s{' (quick smoke version)' if cfg['quick'] else ''}.",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_cores_usable']} usable cores of {m['cpu_cores']}, "
        f"torch {m['torch']} with {m['torch_threads']} threads"
        + (f", GPU {m['gpu']}" if m.get("gpu") else "")
        + "; load average "
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
    bounds = [
        (d, report[d]["inference"]["bounded_by"])
        for d in ("cpu", "cuda")
        if report.get(d) and "inference" in report[d]
    ]
    if bounds:
        lines += [""] + [f"Inference on {d} is bounded by {text}." for d, text in bounds]
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

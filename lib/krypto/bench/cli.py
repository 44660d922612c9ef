"""Running the benchmark: every section asked for on every device, then the report files."""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from krypto.bench.common import (
    QUICK,
    SECTIONS,
    BenchConfig,
    fit_once,
    load_average,
    machine_info,
    prepared_data,
    train_config,
)
from krypto.bench.inference import measure_inference
from krypto.bench.memory import measure_memory
from krypto.bench.miner import measure_miner
from krypto.bench.report import text_table, verdicts, write_outputs
from krypto.bench.scale import measure_scale
from krypto.bench.training import measure_growth, measure_training

MEASUREMENTS = (  # the sections a function measures (it returns their results), on the CPU only?
    (("training", "seed_pipeline"), measure_training, False),
    (("miner",), measure_miner, False),
    (("inference",), measure_inference, False),
    (("memory",), measure_memory, True),  # processes on the CPU (gloo)
    (("growth",), measure_growth, False),
    (("scale",), measure_scale, True),  # the GPU's figures: make gpu-check
)


class Context:
    """What the measurements on one device share: the data set of sections 1, 2 and 4 (written
    when first asked for) and a run trained on it (section 1's last, or one trained for 4)."""

    def __init__(self, cfg: BenchConfig, device: torch.device, folder: Path, log):
        self.cfg, self.device, self.folder, self.log = cfg, device, folder, log
        self.run_dir: Path | None = None

    @functools.cached_property
    def data(self):
        """``(data folder, PreparedData)``."""
        pairs = self.cfg.test_pairs_per_kind
        return prepared_data(
            self.folder / "main", self.cfg, self.cfg.identities, test_pairs_per_kind=pairs
        )

    def trained_run(self) -> Path:
        if self.run_dir is None:
            self.run_dir = self.folder / "run"
            fit_once(train_config(self.cfg, self.run_dir, str(self.device)), self.data[1])
        return self.run_dir


def run_device(cfg: BenchConfig, device: torch.device, folder: Path, log) -> dict:
    results: dict = {"device": str(device), "section_seconds": {}}
    ctx, t0 = Context(cfg, device, folder, log), time.perf_counter()
    for sections, measure, cpu_only in MEASUREMENTS:
        if set(sections) & set(cfg.sections) and not (cpu_only and device.type != "cpu"):
            log(f"[{device}] {' and '.join(sections)}")
            lap = time.perf_counter()
            results.update(measure(ctx))
            results["section_seconds"][sections[0]] = round(time.perf_counter() - lap, 1)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    return results


def run(cfg: BenchConfig, workdir: str | Path | None = None, log=print) -> dict:
    """Run the benchmark; returns the content of ``bench.json``."""
    threads = cfg.resolved_threads()
    torch.set_num_threads(threads)
    config = {**asdict(cfg), "threads": threads}
    report = {"command": None, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "config": config}
    report.update(machine=machine_info(threads), cpu=None, cuda=None)
    if cfg.device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    elif cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {cfg.device} but CUDA is not available; use auto or cpu")
    else:
        devices = [cfg.device]
    root = Path(workdir or tempfile.mkdtemp(prefix="krypto-bench-"))
    t0 = time.perf_counter()
    try:
        for name in devices:
            device = torch.device(name)
            report[device.type] = run_device(cfg, device, root / device.type, log)
    finally:
        if not workdir:
            shutil.rmtree(root, ignore_errors=True)
    if report["cuda"] is None:
        why = f"--device {cfg.device}" if torch.cuda.is_available() else "no CUDA device"
        report["cuda_note"] = f"not measured: {why}"
    report["goals"] = verdicts(report)
    report["machine"]["load_average_at_end"] = load_average()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m krypto.bench",
        description="Speed and memory of training, mining and inference, side by side with "
        "references, into bench.json (bench.md and bench.txt beside it)",
    )
    p.add_argument("--out", default="bench.json", help="JSON to write")
    p.add_argument("--quick", action="store_true", help="tiny smoke version (about a minute)")
    p.add_argument("--device", default="auto", help="auto (CPU, and GPU when present) | cpu | cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    p.add_argument("--repeats", type=int, help="median of this many (default 3; quick 1)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--workdir", help="keep the data and runs here (default: temporary, deleted)")
    args = p.parse_args(argv)
    options = dict(device=args.device, threads=args.threads, sections=tuple(args.only or SECTIONS))
    cfg = replace(QUICK if args.quick else BenchConfig(), **options)
    cfg = replace(cfg, repeats=args.repeats or cfg.repeats)
    if cfg.repeats < 1:
        raise SystemExit("error: --repeats must be at least 1")
    report = run(cfg, args.workdir, log=lambda text: print(text, flush=True))
    report["command"] = " ".join(
        ["python -m krypto.bench", *(sys.argv[1:] if argv is None else argv)]
    )
    paths = write_outputs(report, args.out)
    print(f"\n{text_table(report)}\n\nwrote {paths['json']}, {paths['md']}, {paths['txt']}")
    return 0

"""Running the benchmark: each section asked for on each device, then the report files."""

import argparse
import functools
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from krypto.bench import common
from krypto.bench.inference import measure_inference
from krypto.bench.memory import measure_memory
from krypto.bench.miner import measure_miner
from krypto.bench.report import markdown, verdicts, write_outputs
from krypto.bench.scale import measure_scale
from krypto.bench.training import measure_training

MEASUREMENTS = {  # each section: the function that measures it, and whether on the CPU only
    "training": (measure_training, False),
    "miner": (measure_miner, False),
    "inference": (measure_inference, False),
    "memory": (measure_memory, True),  # processes on the CPU (gloo)
    "scale": (measure_scale, True),  # the user's path on a CPU (on a GPU: make gpu-check)
}


class Context:
    """What the measurements on one device share: the data set of sections 1 and 3 (written
    when first asked for) and a run trained on it (section 1's last, or one trained for 3)."""

    def __init__(self, cfg: common.BenchConfig, device: torch.device, folder: Path, log):
        self.cfg, self.device, self.folder, self.log = cfg, device, folder, log
        self.run_dir: Path | None = None

    @functools.cached_property
    def data(self):
        """``(data folder, PreparedData)``."""
        sizes = dict(test_pairs_per_kind=self.cfg.test_pairs_per_kind)
        return common.prepared_data(self.folder / "main", self.cfg, self.cfg.identities, **sizes)

    def trained_run(self) -> Path:
        if self.run_dir is None:
            self.run_dir = self.folder / "run"
            config = common.train_config(self.cfg, self.run_dir, str(self.device))
            common.fit_once(config, self.data[1])
        return self.run_dir


def run_device(cfg: common.BenchConfig, device: torch.device, folder: Path, log) -> dict:
    results: dict = {"device": str(device), "section_seconds": {}}
    ctx, t0 = Context(cfg, device, folder, log), time.perf_counter()
    for section, (measure, cpu_only) in MEASUREMENTS.items():
        if section in cfg.sections and not (cpu_only and device.type != "cpu"):
            log(f"[{device}] {section}")
            lap = time.perf_counter()
            results.update(measure(ctx))
            results["section_seconds"][section] = round(time.perf_counter() - lap, 1)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    return results


def run(cfg: common.BenchConfig, log=print) -> dict:
    """Run the benchmark in a temporary folder; returns the content of ``bench.json``."""
    threads, cuda = cfg.resolved_threads(), torch.cuda.is_available()
    torch.set_num_threads(threads)
    if cfg.device.startswith("cuda") and not cuda:
        raise ValueError(f"--device {cfg.device} but CUDA is not available; use auto or cpu")
    devices = ["cpu", *(["cuda"] if cuda else [])] if cfg.device == "auto" else [cfg.device]
    report = {"command": None, "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    report.update(config={**asdict(cfg), "threads": threads}, machine=common.machine_info(threads))
    report.update(cpu=None, cuda=None)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="krypto-bench-") as root:
        for device in map(torch.device, devices):
            report[device.type] = run_device(cfg, device, Path(root) / device.type, log)
    if report["cuda"] is None:
        why = f"--device {cfg.device}" if cuda else "no CUDA device"
        report["cuda_note"] = f"not measured: {why}"
    report["goals"] = verdicts(report)
    report["machine"]["load_average_at_end"] = common.load_average()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m krypto.bench",
        description="Speed and memory of training, mining and inference, side by side with "
        "references, into bench.json (bench.md beside it)",
    )
    p.add_argument("--out", default="bench.json", help="JSON to write")
    p.add_argument("--quick", action="store_true", help="tiny smoke version (about a minute)")
    p.add_argument("--device", default="auto", help="auto (CPU, and GPU when present) | cpu | cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    p.add_argument("--repeats", type=int, help="median of this many (default 3; quick 1)")
    p.add_argument("--only", nargs="+", choices=common.SECTIONS, help="run only these sections")
    args = p.parse_args(argv)
    cfg = common.QUICK if args.quick else common.BenchConfig()
    if (args.repeats or 1) < 1:
        raise SystemExit("error: --repeats must be at least 1")
    options = dict(device=args.device, threads=args.threads, repeats=args.repeats or cfg.repeats)
    cfg = replace(cfg, **options, sections=tuple(args.only or common.SECTIONS))
    report = run(cfg, log=lambda text: print(text, flush=True))
    given = sys.argv[1:] if argv is None else argv
    report["command"] = " ".join(["python -m krypto.bench", *given])
    md = write_outputs(report, args.out)
    print(f"\n{markdown(report)}\nwrote {args.out} and {md}")
    return 0

"""Running the benchmark: every section on every device asked for, then the report files."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from krypto.bench.common import (
    SECTIONS,
    BenchConfig,
    default_config,
    fit_once,
    load_average,
    machine_info,
    quick_config,
    synth_config,
    train_config,
    write_data,
)
from krypto.bench.report import evaluate_goals, text_table, write_outputs


def devices_for(name: str) -> list[torch.device]:
    if name == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} but CUDA is not available; use auto or cpu")
    return [device]


def run_device(cfg: BenchConfig, device: torch.device, folder: Path, log) -> dict:
    results: dict = {"device": str(device), "amp": device.type == "cuda", "section_seconds": {}}
    wanted = set(cfg.sections)
    t_start = lap_start = time.perf_counter()

    def lap(name):
        nonlocal lap_start
        now = time.perf_counter()
        results["section_seconds"][name] = round(now - lap_start, 1)
        lap_start = now

    if wanted & {"training", "seed_pipeline", "inference"}:
        from krypto.bench.inference import bench_inference
        from krypto.bench.training import bench_training

        log(f"[{device}] data: {cfg.identities} identities")
        synth = synth_config(cfg, cfg.identities, cfg.test_pairs_per_kind)
        data, prepared, synth = write_data(folder / "main", cfg, synth)
        results["dataset"] = {
            "identities": synth.identities,
            "test_identities": synth.test_identities,
            "real_per_identity": synth.real_per_identity,
            "fake_per_identity": synth.fake_per_identity,
            "jpeg_size": synth.image_size,
            "n_images": int(len(prepared.index)),
            "test_pairs": 4 * synth.test_pairs_per_kind,
        }
        lap("data")
        run_dir = folder / "main" / "run"
        if wanted & {"training", "seed_pipeline"}:
            log(f"[{device}] 1+2. training loop vs compute bound vs seed pipeline")
            training, seed, run_dir = bench_training(
                prepared, folder / "main", cfg, str(device), "seed_pipeline" in wanted, log
            )
            lap("training_and_seed_pipeline")
            if "training" in wanted:
                results["training"] = training
            if seed is not None:
                results["seed_pipeline"] = seed
        else:  # a trained run for the inference section
            fit_once(train_config(cfg, run_dir, str(device)), prepared)
        if "inference" in wanted:
            log(f"[{device}] 4. inference: make_submission vs forward")
            results["inference"] = bench_inference(run_dir, data, cfg, device, log)
            lap("inference")
    if "miner" in wanted:
        from krypto.bench.miner import bench_miner

        log(f"[{device}] 3. miner: ours vs the Python loop")
        results["miner"] = bench_miner(cfg, device, log)
        lap("miner")
    if "memory" in wanted and device.type == "cpu":  # processes on the CPU (gloo)
        from krypto.bench.memory import bench_memory

        log(f"[{device}] 5. memory: {cfg.memory_processes} training processes vs 1 (torchrun)")
        results["memory"] = bench_memory(folder / "memory", cfg, log)
        lap("memory")
    if "growth" in wanted:
        from krypto.bench.growth import bench_growth

        log(f"[{device}] 6. growth: {', '.join(map(str, cfg.growth_identities))} identities")
        results["growth"] = bench_growth(folder / "growth", cfg, str(device), log)
        lap("growth")
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    return results


def run(cfg: BenchConfig, workdir: str | Path | None = None, keep: bool = False, log=print) -> dict:
    """Run the benchmark; returns the content of ``bench.json``."""
    threads = cfg.resolved_threads()
    torch.set_num_threads(threads)
    report = {
        "command": None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(threads),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
    }
    report["config"]["threads"] = threads
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="krypto-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        report["cpu"], report["cuda"] = None, None
        for device in devices_for(cfg.device):
            report[device.type] = run_device(cfg, device, root / device.type, log)
    finally:
        if not keep and not workdir:
            shutil.rmtree(root, ignore_errors=True)
    if report["cuda"] is None:
        report["cuda_note"] = (
            "not measured: no CUDA device"
            if not torch.cuda.is_available()
            else f"not measured: --device {cfg.device}"
        )
    if report["cpu"] is None:
        report["cpu_note"] = f"not measured: --device {cfg.device}"
    report["goals"] = [
        g for d in ("cpu", "cuda") if report[d] for g in evaluate_goals(report[d], d)
    ]
    report["machine"]["load_average_at_end"] = load_average()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m krypto.bench",
        description="Speed and memory of training, mining and inference, "
        "side by side with references, into bench.json",
    )
    p.add_argument(
        "--out", default="bench.json", help="JSON to write (bench.md, bench.txt beside it)"
    )
    p.add_argument("--quick", action="store_true", help="tiny smoke version (about a minute)")
    p.add_argument("--device", default="auto", help="auto (CPU, and GPU when present) | cpu | cuda")
    p.add_argument("--backbone", default=None, help="model (default: TrainConfig's, small_cnn)")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument(
        "--batch",
        type=int,
        nargs=2,
        metavar=("P", "K"),
        default=None,
        help="identities x photos per batch (default: TrainConfig's)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="median of this many (default 3; quick 1)"
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    p.add_argument(
        "--jpeg-size",
        type=int,
        default=0,
        help="size of the synthetic JPEGs (default: the training image size)",
    )
    p.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=None, help="run only these sections"
    )
    p.add_argument(
        "--workdir",
        default=None,
        help="keep the data and runs here (default: a temporary folder, deleted)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return p


def config_from_args(args) -> BenchConfig:
    overrides = {"device": args.device, "threads": args.threads, "jpeg_size": args.jpeg_size}
    if args.backbone:
        overrides["backbone"] = args.backbone
    if args.image_size:
        overrides["image_size"] = args.image_size
    if args.batch:
        overrides["P"], overrides["K"] = args.batch
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.only:
        overrides["sections"] = tuple(args.only)
    cfg = (quick_config if args.quick else default_config)(**overrides)
    if cfg.repeats < 1:
        raise SystemExit("error: --repeats must be at least 1")
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = config_from_args(args)
    report = run(cfg, args.workdir, args.keep, log=lambda text: print(text, flush=True))
    report["command"] = " ".join(
        ["python -m krypto.bench", *(sys.argv[1:] if argv is None else argv)]
    ).strip()
    paths = write_outputs(report, args.out)
    print()
    print(text_table(report))
    print(f"\nwrote {paths['json']}, {paths['md']}, {paths['txt']} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

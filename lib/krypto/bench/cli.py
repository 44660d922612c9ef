"""Running the benchmark: every section on every device asked for, then the report files."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch

from krypto.bench.common import (
    SPEC,
    BenchConfig,
    default_config,
    fit_once,
    load_average,
    machine_info,
    parser,
    quick_config,
    train_config,
    write_data,
)
from krypto.bench.inference import bench_inference
from krypto.bench.memory import bench_memory
from krypto.bench.miner import bench_miner
from krypto.bench.report import evaluate_goals, text_table, write_outputs
from krypto.bench.scale import bench_scale
from krypto.bench.training import bench_growth, bench_training


def devices_for(name: str) -> list[torch.device]:
    if name == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} but CUDA is not available; use auto or cpu")
    return [device]


def run_trained_sections(cfg, device, folder: Path, results: dict, lap, log) -> None:
    """Sections 1, 2 and 4 on one data set (inference on the last run trained)."""
    wanted = set(cfg.sections)
    log(f"[{device}] data: {cfg.identities} identities")
    data, prepared, synth = write_data(folder, cfg, cfg.identities, cfg.test_pairs_per_kind)
    keys = ("identities", "test_identities", "real_per_identity", "fake_per_identity")
    results["dataset"] = {key: getattr(synth, key) for key in keys}
    results["dataset"].update(jpeg_size=synth.image_size, n_images=int(len(prepared.index)))
    results["dataset"]["test_pairs"] = 4 * synth.test_pairs_per_kind
    lap("data")
    run_dir = folder / "run"
    if wanted & {"training", "seed_pipeline"}:
        log(f"[{device}] 1+2. training loop vs compute bound vs seed pipeline")
        with_seed = "seed_pipeline" in wanted
        training, seed, run_dir = bench_training(prepared, folder, cfg, str(device), with_seed, log)
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
        run_trained_sections(cfg, device, folder / "main", results, lap, log)
    if "miner" in wanted:
        log(f"[{device}] 3. miner: ours vs the Python loop")
        results["miner"] = bench_miner(cfg, device, log)
        lap("miner")
    if "memory" in wanted and device.type == "cpu":  # processes on the CPU (gloo)
        log(f"[{device}] 5. memory: {cfg.memory_processes} training processes vs 1 (torchrun)")
        results["memory"] = bench_memory(folder / "memory", cfg, log)
        lap("memory")
    if "growth" in wanted:
        log(f"[{device}] 6. growth: {', '.join(map(str, cfg.growth_identities))} identities")
        results["growth"] = bench_growth(folder / "growth", cfg, str(device), log)
        lap("growth")
    if "scale" in wanted and device.type == "cpu":  # the GPU's figures: make gpu-check
        sizes = ", ".join(f"{n:,}" for n in cfg.scale_identities)
        log(f"[{device}] 7. scale: {sizes} identities x 10 photos, every stage of the path")
        results["scale"] = bench_scale(folder / "scale", cfg, log)
        lap("scale")
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
        why = f"--device {cfg.device}" if torch.cuda.is_available() else "no CUDA device"
        report["cuda_note"] = f"not measured: {why}"
    if report["cpu"] is None:
        report["cpu_note"] = f"not measured: --device {cfg.device}"
    report["goals"] = [
        g for d in ("cpu", "cuda") if report[d] for g in evaluate_goals(report[d], d)
    ]
    report["machine"]["load_average_at_end"] = load_average()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def config_from_args(args) -> BenchConfig:
    names = {field.name for field in fields(BenchConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in names and v}
    if args.batch:
        overrides["P"], overrides["K"] = args.batch
    if args.sections:
        overrides["sections"] = tuple(args.sections)
    cfg = (quick_config if args.quick else default_config)(**overrides)
    if cfg.repeats < 1:
        raise SystemExit("error: --repeats must be at least 1")
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parser(SPEC["cli"]).parse_args(argv)
    report = run(
        config_from_args(args), args.workdir, args.keep, log=lambda t: print(t, flush=True)
    )
    given = sys.argv[1:] if argv is None else argv
    report["command"] = " ".join(["python -m krypto.bench", *given]).strip()
    paths = write_outputs(report, args.out)
    print()
    print(text_table(report))
    print(f"\nwrote {paths['json']}, {paths['md']}, {paths['txt']} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

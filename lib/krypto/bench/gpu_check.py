"""``make gpu-check`` (``python -m krypto.bench.gpu_check --help``): every GPU code path once (a
short training for each loss, head and mining of ``params/``, resume, the challenge's recipe
with alignment, submission, ONNX export, torchrun, the collectives, the benchmark), each
recorded with its figures or its error (a failure never stops the others) in one JSON file;
``--device cpu`` is the dry run the tests run."""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist
import yaml

from krypto import constants as C
from krypto.bench.cli import run as run_bench
from krypto.bench.common import QUICK, BenchConfig, fit_once, machine_info
from krypto.challenge.export import export_onnx, onnx_embed
from krypto.challenge.submit import make_submission
from krypto.data.index import prepare, resolve_data_dir
from krypto.files import write_json
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.pipeline.children import torchrun_command

COMBINATION = ("loss", "head", "fakes_as_class", "mining")
TINY = dict(epochs=1, P=4, K=4, image_size=32, cutout_part="mouth", cutout_p=0.5, amp=True)
RECIPE = dict(align=True, landmarks="mtcnn", optimizer="adamw", warmup_epochs=1, epochs=2,
              schedule="cosine", fake_head=1.0, mining="hard", image_size=112)  # fmt: skip


def combinations() -> list[dict]:
    """The distinct (loss, head, fakes_as_class, mining) of the 02_train runs of params/."""
    found = set()
    for file in sorted(C.PARAMS_DIR.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text()) or {}
        base = (spec.get("base") or {}).get("notebooks/02_train.ipynb", {})
        for run in (spec.get("runs") or {}).values():
            if isinstance(run, dict) and run.get("notebook") == "notebooks/02_train.ipynb":
                config = TrainConfig.from_dict({**base, **(run.get("parameters") or {})})
                found.add(tuple(getattr(config, k) for k in COMBINATION))
    return [dict(zip(COMBINATION, combo)) for combo in sorted(found, key=str)]


def check(results: list, name: str, fn, *args, log=print, **kwargs):
    """Run ``fn(*args, **kwargs)``, recording its figures or its error under ``name``; its
    figures, or None when it failed."""
    entry, t0 = {"name": name, "passed": False}, time.perf_counter()
    try:
        entry.update(details=fn(*args, **kwargs) or {}, passed=True)
    except Exception as error:  # recorded, and the next check runs
        entry["error"] = f"{type(error).__name__}: {error}"
        entry["traceback"] = "".join(traceback.format_exception(error))[-4000:]
    entry["seconds"] = round(time.perf_counter() - t0, 2)
    results.append(entry)
    log(f"  {'PASS' if entry['passed'] else 'FAIL'}  {name} ({entry['seconds']} s)")
    return entry.get("details")


def train(config: TrainConfig, prepared) -> dict:
    metrics = fit_once(config, prepared)
    losses = [row["train_loss"] for row in metrics["history"] if row["epoch"] > 0]
    if not losses or not all(map(math.isfinite, losses)) or not 0 <= metrics["eer"] <= 1:
        raise AssertionError(f"losses {losses}, EER {metrics['eer']}")
    if not metrics["device"].startswith(config.device.split(":")[0]):
        raise AssertionError(f"trained on {metrics['device']}, asked for {config.device}")
    return {k: metrics[k] for k in ("eer", "epochs_run", "resumed", "device", "seconds")}


def resume(base: TrainConfig, prepared) -> dict:
    first, second = (train(replace(base, epochs=n), prepared) for n in (1, 2))
    if first["resumed"] or not second["resumed"] or second["epochs_run"] != 2:
        raise AssertionError(f"a fresh run, then one resumed to epoch 2? {first}, {second}")
    return {"first": first, "second": second}


def submission(run_dir: Path, pairs: Path, device: str) -> dict:
    """AMP and float32 on the device against the CPU, and decoding ahead against in turn."""

    def scores(**options):
        return make_submission(run_dir, pairs, progress=False, **options)[C.SIMILARITY].to_numpy()

    t0 = time.perf_counter()
    amp = scores(device=device, amp=True)
    seconds = time.perf_counter() - t0
    fp32, cpu, serial = (
        scores(device=device),
        scores(device="cpu"),
        scores(workers=0, device=device),
    )
    details = {
        "images_per_second": round(2 * len(amp) / seconds, 1),
        "max_diff_fp32_vs_cpu": float(np.abs(fp32 - cpu).max()),
        "max_diff_amp_vs_cpu": float(np.abs(amp - cpu).max()),
        "max_diff_threads_vs_serial": float(np.abs(fp32 - serial).max()),
    }
    # float32 on a GPU convolves in TF32 by default: a few 1e-4 from the CPU; AMP's float16 more
    if details["max_diff_fp32_vs_cpu"] > 1e-2 or details["max_diff_amp_vs_cpu"] > 5e-2:
        raise AssertionError(f"the device's similarities differ from the CPU's: {details}")
    if details["max_diff_threads_vs_serial"] > 0:
        raise AssertionError(f"decoding ahead changes the submission: {details}")
    return details


def export(run_dir: Path, out: Path, device: str) -> dict:
    import onnxruntime as ort

    export_onnx(run_dir, out, overwrite=True)
    model, config = load_model(run_dir, device=device)
    size = (16, 3, config.image_size, config.image_size)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, size, generator=generator, dtype=torch.uint8)
    with torch.no_grad():
        expected = model(images.to(device).float() / 255).float().cpu().numpy()
    provider = "CUDAExecutionProvider" if device.startswith("cuda") else "CPUExecutionProvider"
    if provider not in ort.get_available_providers():  # parity on the CPU provider then
        provider = "CPUExecutionProvider"
    got = onnx_embed(ort.InferenceSession(str(out), providers=[provider]), images.numpy())
    difference = float(np.abs(got - expected).max() / (np.abs(expected).max() or 1.0))
    # on a GPU, PyTorch's float32 convolutions run in TF32 by default: relative, not 1e-6
    if difference > (1e-2 if device.startswith("cuda") else 1e-4):
        raise AssertionError(f"onnxruntime ({provider}) and PyTorch on {device}: {difference}")
    return {"provider": provider, "max_relative_diff": difference}


def torchrun(n: int, module: str, *args: str, env: dict | None = None) -> None:
    command = torchrun_command(n, module, *args)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[1:])} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )


def training_on_processes(data: Path, workdir: Path, device: str, n: int) -> dict:
    flags = {**TINY, "data_dir": data, "run_dir": workdir / "torchrun", "overwrite": "true"}
    flags = [f"--{k}={v}" for k, v in {**flags, "device": device.split(":")[0]}.items()]
    env = dict(os.environ, KRYPTO_CACHE_DIR=str(workdir / "cache"))
    torchrun(n, "krypto.pipeline.launch", *flags, env=env)
    metrics = json.loads((workdir / "torchrun" / C.METRICS_FILE).read_text())
    if metrics["world_size"] != n:
        raise AssertionError(f"metrics.json says world_size {metrics['world_size']}, not {n}")
    return {"processes": n, "device": metrics["device"], "eer": metrics["eer"]}


def collectives(out: Path, device: str) -> dict:
    torchrun(1, "krypto.bench.gpu_check", "--collectives-child", str(out), "--device", device)
    return json.loads(out.read_text())


def collectives_child(out: str, device: str) -> None:
    """The trainer's collectives in a process group of one (NCCL's start on a single GPU)."""
    cuda = device.startswith("cuda")
    tdist.init_process_group("nccl" if cuda else "gloo")
    where = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    box, gathered, t = [{"rank": tdist.get_rank()}], [None], torch.ones(4, device=where)
    tdist.broadcast_object_list(box, src=0, device=where)
    tdist.all_gather_object(gathered, tdist.get_rank())
    tdist.all_reduce(t)
    tdist.barrier()
    tdist.destroy_process_group()
    write_json(out, {"broadcast": box[0], "gathered": gathered, "all_reduce": t.cpu().tolist()})


def environment(device: str) -> dict:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} but CUDA is not available here")
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": gpus,
            "nccl": tdist.is_nccl_available(), "gloo": tdist.is_gloo_available()}  # fmt: skip


def bench(device: str, workdir: Path) -> dict:
    """The benchmark's sections that run on the device (on a CPU, the dry run: the miner)."""
    if device.startswith("cuda"):
        cfg = BenchConfig(
            device=device, sections=("training", "seed_pipeline", "miner", "inference")
        )
    else:
        cfg = replace(QUICK, device=device, sections=("miner",), miner_seconds=0.005)
    report = run_bench(cfg, workdir, log=lambda text: None)
    return {"results": report[torch.device(device).type], "goals": report["goals"]}


def trainings(base: TrainConfig, work: Path, cuda: bool) -> list[tuple[str, TrainConfig, str]]:
    """``(check, config, data set)`` of each short training: one per combination of params/, and
    the recipe of params/challenge.yaml (published face backbones at 112 px on photos aligned by
    MTCNN on the device; on a CPU, the small model at the tiny size)."""
    out = []
    for combo in combinations():
        name = ",".join(f"{k}={v}" for k, v in combo.items())
        out.append((f"train[{name}]", replace(base, run_dir=str(work / name), **combo), "plain"))
    for backbone in ("ir50", "iresnet50") if cuda else ("small_cnn",):
        recipe = {**RECIPE, "backbone": backbone, **({} if cuda else {"image_size": 32})}
        config = replace(base, run_dir=str(work / backbone), **recipe)
        out.append((f"recipe[{backbone}]", config, "aligned"))
    return out


def gpu_check(
    device="cuda", data="synthetic:tiny", workdir=None, bench_too=True, log=print
) -> dict:
    """Every check on ``device``; the report (see the module docstring)."""
    work, cuda = Path(workdir or tempfile.mkdtemp()), device.startswith("cuda")
    results, sets, started = [], {}, time.perf_counter()
    run = functools.partial(check, results, log=log)
    run("environment", environment, device)
    root = Path(data) if run("data", resolve_data_dir, data) is None else resolve_data_dir(data)

    def data_set(name: str, **options) -> dict:
        sets[name] = prepare(root, out_dir=work / name, val_ratio=0.25, progress=False, **options)
        return {"photos": len(sets[name].index)}

    run("data set", data_set, "plain")
    aligned = dict(landmarks="mtcnn", align=True, device=device)
    run("alignment[MTCNN on the device]", data_set, "aligned", **aligned)
    base = TrainConfig(
        data_dir=str(root), device=device, overwrite=True, val_ratio=0.25, progress=False, **TINY
    )
    pairs, trained = root / C.TEST_DIR, []
    for name, config, on in trainings(base, work / "runs", cuda):
        if run(name, train, config, sets.get(on)):
            trained.append(Path(config.run_dir))
            if name.startswith("recipe"):
                run(f"{name} submission", submission, trained[-1], pairs, device)
    resumed = replace(base, run_dir=str(work / "resume"), overwrite=False)
    run("resume", resume, resumed, sets.get("plain"))
    if not trained:
        trained.append(work / "no run finished")
    run("submission", submission, trained[0], pairs, device)
    run("export", export, trained[0], work / "model.onnx", device)
    n = max(1, min(2, torch.cuda.device_count())) if cuda else 2
    run(f"torchrun[{n} process(es)]", training_on_processes, root, work, device, n)
    if n == 1:  # torchrun's single process has no process group: NCCL alone
        run("collectives[1 process]", collectives, work / "collectives.json", device)
    if bench_too:
        run("bench", bench, device, work / "bench")
    return {
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(torch.get_num_threads()),
        "data": str(root),
        "passed": sum(r["passed"] for r in results),
        "failed": [r["name"] for r in results if not r["passed"]],
        "seconds": round(time.perf_counter() - started, 1),
        "checks": results,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m krypto.bench.gpu_check",
        description="Check on a GPU everything that runs differently there; one JSON report.",
    )
    p.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (a dry run)")
    p.add_argument("--out", default=str(C.REPORT_DIR / "gpu_check.json"))
    p.add_argument("--data", default="synthetic:tiny", help="data set (default: tiny)")
    p.add_argument("--workdir", help="runs and files (default: temporary)")
    p.add_argument("--no-bench", action="store_true", help="skip the benchmark")
    p.add_argument("--collectives-child", help=argparse.SUPPRESS)  # a child of the check
    args = p.parse_args(argv)
    if args.collectives_child:
        collectives_child(args.collectives_child, args.device)
        return 0
    log = lambda text: print(text, flush=True)
    report = gpu_check(args.device, args.data, args.workdir, not args.no_bench, log)
    write_json(args.out, report, default=str)
    print(f"wrote {args.out}: {report['passed']} passed, failed: {report['failed'] or 'none'}")
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""``make gpu-check`` (``python -m krypto.bench.gpu_check --help``): every GPU code path once, the
checks of :func:`checks`, each recorded with its figures or its error (a failure never stops the
others) in one JSON file; ``--device cpu`` is the dry run the tests run."""

import argparse
import json
import math
import os
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
from krypto.bench.common import fit_once, machine_info, torchrun
from krypto.challenge.export import export_onnx, onnx_outputs
from krypto.challenge.submit import make_submission
from krypto.data.index import prepare, resolve_data_dir
from krypto.files import write_json
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig

COMBINATION = ("loss", "head", "fakes_as_class", "mining", "detector")
DETECTORS = {  # TrainConfig's options of each fake detector
    "none": dict(forgery=0.0),
    "fake_head": dict(fake_head=1.0, forgery=0.0),
    "forgery": dict(forgery=1.0, forgery_size=64),
}
TINY = dict(epochs=1, P=4, K=4, image_size=32, cutout_part="mouth", cutout_p=0.5, amp=True)
RECIPE = dict(align=True, landmarks="mtcnn", optimizer="adamw", warmup_epochs=1, epochs=2,
              schedule="cosine", forgery=1.0, forgery_size=112, image_size=112)  # fmt: skip
# the submissions compared (options over the device's), and how far apart two of them may be:
# on a GPU float32 convolves in TF32 (a few 1e-4 from the CPU), AMP's float16 more; decoding
# ahead of the forward changes nothing
SUBMISSIONS = dict(amp=dict(amp=True), fp32={}, cpu=dict(device="cpu"), serial=dict(workers=0))
AGREEMENT = (("fp32", "cpu", 1e-2), ("amp", "cpu", 5e-2), ("fp32", "serial", 0.0))
TIMEOUT = 600  # seconds of a torchrun: a process group that never forms is an error


def combinations() -> list[dict]:
    """The distinct (loss, head, fakes_as_class, mining, detector) of params/' 02_train runs."""
    found = set()
    for file in sorted(C.PARAMS_DIR.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text()) or {}
        base = (spec.get("base") or {}).get("notebooks/02_train.ipynb", {})
        for run in (spec.get("runs") or {}).values():
            if isinstance(run, dict) and run.get("notebook") == "notebooks/02_train.ipynb":
                config = TrainConfig.from_dict({**base, **(run.get("parameters") or {})})
                on = (n for n in DETECTORS if n != "none" and getattr(config, n) > 0)
                found.add((*(getattr(config, k) for k in COMBINATION[:-1]), next(on, "none")))
    return [dict(zip(COMBINATION, combo)) for combo in sorted(found, key=str)]


def check(results: list, name: str, fn, *args, log=print):
    """Record ``fn(*args)``'s figures or error under ``name``; the figures, None on failure."""
    entry, t0 = {"name": name, "passed": False}, time.perf_counter()
    try:
        entry.update(details=fn(*args) or {}, passed=True)
    except Exception as error:  # recorded, and the next check runs
        entry["error"] = f"{type(error).__name__}: {error}"
        entry["traceback"] = "".join(traceback.format_exception(error))[-4000:]
    entry["seconds"] = round(time.perf_counter() - t0, 2)
    results.append(entry)
    log(f"  {'PASS' if entry['passed'] else 'FAIL'}  {name} ({entry['seconds']} s)")
    return entry.get("details")


def prepared(config: TrainConfig, work: Path):
    """The data of ``config`` prepared in ``work`` (aligned by MTCNN on the run's device where
    the run aligns), or reused from there."""
    folder = work / ("aligned" if config.align else "plain")
    return prepare(**config.prepare_args(), out_dir=folder, device=config.device, progress=False)


def data_set(config: TrainConfig, work: Path) -> dict:
    return {"photos": len(prepared(config, work).index)}


def train(config: TrainConfig, work: Path) -> dict:
    metrics = fit_once(config, prepared(config, work))
    losses = [row["train_loss"] for row in metrics["history"] if row["epoch"] > 0]
    if not losses or not all(map(math.isfinite, losses)) or not 0 <= metrics["eer"] <= 1:
        raise AssertionError(f"losses {losses}, EER {metrics['eer']}")
    if not metrics["device"].startswith(config.device.split(":")[0]):
        raise AssertionError(f"trained on {metrics['device']}, asked for {config.device}")
    return {k: metrics[k] for k in ("eer", "epochs_run", "resumed", "device", "seconds")}


def resume(config: TrainConfig, work: Path) -> dict:
    first, second = (train(replace(config, epochs=n), work) for n in (1, 2))
    if first["resumed"] or not second["resumed"] or second["epochs_run"] != 2:
        raise AssertionError(f"a fresh run, then one resumed to epoch 2? {first}, {second}")
    return {"first": first, "second": second}


def submission(run_dir: Path, pairs: Path, device: str) -> dict:
    """The similarities of each of :data:`SUBMISSIONS`, as close as :data:`AGREEMENT` says."""
    scores, seconds = {}, []
    for name, options in SUBMISSIONS.items():
        options, t0 = {"device": device, "progress": False, **options}, time.perf_counter()
        scores[name] = make_submission(run_dir, pairs, **options)[C.SIMILARITY].to_numpy()
        seconds.append(time.perf_counter() - t0)
    details = {"images_per_second": round(2 * len(scores["amp"]) / seconds[0], 1)}
    for a, b, most in AGREEMENT:
        details[f"max_diff_{a}_vs_{b}"] = difference = float(np.abs(scores[a] - scores[b]).max())
        if difference > most:
            raise AssertionError(f"the {a} and {b} similarities differ by {difference}: {details}")
    return details


def export(run_dir: Path, out: Path, device: str) -> dict:
    """The run exported to ONNX against the run's model on the device."""
    export_onnx(run_dir, out, overwrite=True)
    model, config = load_model(run_dir, device=device)
    size = (16, 3, config.input_size, config.input_size)
    images = torch.randint(0, 256, size, generator=torch.Generator().manual_seed(0)).byte()
    with torch.no_grad():
        expected = model(images.to(device).float() / 255).float().cpu().numpy()
    got = onnx_outputs(out, images.numpy())  # embeddings (and fake logits) beside the model's
    difference = float(np.abs(got - expected).max() / (np.abs(expected).max() or 1.0))
    # on a GPU, PyTorch's float32 convolutions run in TF32 by default: relative, not 1e-6
    if difference > (1e-2 if device.startswith("cuda") else 1e-4):
        raise AssertionError(f"onnxruntime and PyTorch on {device} differ by {difference}")
    return {"max_relative_diff": difference}


def training_on_processes(config: TrainConfig, work: Path, n: int) -> dict:
    options = {**TINY, "data_dir": config.data_dir, "run_dir": work / "torchrun"}
    options.update(overwrite="true", device=config.device.split(":")[0])
    env = dict(os.environ, KRYPTO_CACHE_DIR=str(work / "cache"))
    flags = (f"--{k}={v}" for k, v in options.items())
    torchrun(n, "krypto.pipeline.launch", *flags, env=env, timeout=TIMEOUT)
    metrics = json.loads((work / "torchrun" / C.METRICS_FILE).read_text())
    if metrics["world_size"] != n:
        raise AssertionError(f"metrics.json says world_size {metrics['world_size']}, not {n}")
    return {"processes": n, "device": metrics["device"], "eer": metrics["eer"]}


def collectives(out: Path, device: str) -> dict:
    child = ("--collectives-child", str(out), "--device", device)
    torchrun(1, "krypto.bench.gpu_check", *child, timeout=TIMEOUT)
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


def checks(base: TrainConfig, work: Path) -> list[tuple]:
    """``(name, function, *arguments)`` of each check: the data set, and its photos aligned by
    MTCNN on the device; a short training for each combination of params/; the recipe of
    params/challenge.yaml (published face backbones at 112 px on aligned photos; on a CPU, the
    small model at the tiny size) and its submission; resume; the first run's submission and
    ONNX export; torchrun (with one GPU, its NCCL collectives alone)."""
    device, pairs, runs = base.device, Path(base.data_dir) / C.TEST_DIR, work / "runs"
    out, first = [("data set", data_set, base, work)], None
    out.append(("alignment[MTCNN on the device]", data_set, replace(base, **RECIPE), work))
    for combo in combinations():  # each in a folder of runs/ named by its combination
        label = ",".join(f"{k}={v}" for k, v in combo.items())
        options = {**{k: combo[k] for k in COMBINATION[:-1]}, **DETECTORS[combo["detector"]]}
        config = replace(base, run_dir=str(runs / label), **options)
        out.append((f"train[{label}]", train, config, work))
        first = first or runs / label
    cuda = device.startswith("cuda")
    for backbone in ("ir50", "iresnet50") if cuda else ("small_cnn",):
        small = {} if cuda else {"image_size": TINY["image_size"], "forgery_size": 64}
        recipe = {**RECIPE, "backbone": backbone, "run_dir": str(runs / backbone), **small}
        out.append((f"recipe[{backbone}]", train, replace(base, **recipe), work))
        out.append((f"recipe[{backbone}] submission", submission, runs / backbone, pairs, device))
    resumed = replace(base, run_dir=str(work / "resume"), overwrite=False)
    out.append(("resume", resume, resumed, work))
    out.append(("submission", submission, first, pairs, device))
    out.append(("export", export, first, work / "model.onnx", device))
    n = max(1, min(2, torch.cuda.device_count())) if cuda else 2
    out.append((f"torchrun[{n} process(es)]", training_on_processes, base, work, n))
    if n == 1:  # torchrun's single process has no process group: NCCL alone
        out.append(("collectives[1 process]", collectives, work / "collectives.json", device))
    return out


def gpu_check(device="cuda", data="synthetic:tiny", workdir=None, log=print) -> dict:
    """Every check on ``device``; the report (see the module docstring)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {device} but CUDA is not available here")
    work, results, started = Path(workdir or tempfile.mkdtemp()), [], time.perf_counter()
    root = check(results, "data", resolve_data_dir, data, log=log) or Path(data)
    options = dict(data_dir=str(root), device=device, overwrite=True, val_ratio=0.25)
    base = TrainConfig(**options, progress=False, **TINY)
    for name, fn, *args in checks(base, work):
        check(results, name, fn, *args, log=log)
    return {
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(torch.get_num_threads()),
        "versions": {"cuda": torch.version.cuda, "nccl": tdist.is_nccl_available()},
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
    p.add_argument("--collectives-child", help=argparse.SUPPRESS)  # a child of the check
    args = p.parse_args(argv)
    if args.collectives_child:
        collectives_child(args.collectives_child, args.device)
        return 0
    report = gpu_check(args.device, args.data, args.workdir, lambda text: print(text, flush=True))
    write_json(args.out, report, default=str)
    print(f"wrote {args.out}: {report['passed']} passed, failed: {report['failed'] or 'none'}")
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""One prepared check of everything that runs differently on a GPU: ``make gpu-check``.

Command line::

    python -m krypto.bench.gpu_check --device cuda --out runs/report/gpu_check.json
        [--data synthetic:tiny] [--workdir DIR] [--no-bench]

On the tiny synthetic set (or ``--data``), each check runs on ``--device`` and is recorded with
what it measured, or its error (the traceback's last lines); a failure never stops the others:

* ``train[...]``: a short training run (1 epoch, cutout and flip on the device, AMP and
  channels_last as the trainer does on CUDA) for every loss / head / fakes_as_class / mining
  combination of ``params/*.yaml``;
* ``resume``: 1 epoch, then 2 in the same run folder: the second run resumes from ``last.pt``;
* ``submission``: :func:`krypto.challenge.submit.make_submission` on the device, in float32
  and with AMP, against the same on the CPU, and identical with and without decoding ahead of
  the forward;
* ``export``: :func:`krypto.challenge.export.export_onnx`, then onnxruntime (its CUDA provider
  where installed, else the CPU one, said so) against PyTorch on the device;
* ``torchrun``: ``torchrun --nproc_per_node N -m krypto.pipeline.launch`` (NCCL on the GPUs, N =
  2 where there are 2, else 1; gloo with 2 processes on the CPU); on a single GPU also the
  collectives the trainer uses, in a NCCL group of one (a 1-process run has no group);
* ``bench``: :mod:`krypto.bench` on the device (training, seed pipeline, miner, inference).

It writes one JSON file: the machine, each check (``passed``, ``seconds``, ``details``,
``error``), and the device's figures. Exit code 0 when every check passed, else 1. With
``--device cpu`` (gloo instead of NCCL, tiny sizes) it is a dry run of the same code, which the
test suite runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

from krypto import constants as C

COMBINATION_KEYS = ("loss", "head", "fakes_as_class", "mining")
TRAIN_NOTEBOOK = "notebooks/02_train.ipynb"
TINY = dict(epochs=1, P=4, K=4, image_size=32, cutout_part="mouth", cutout_p=0.5, flip_p=0.5,
            amp=True, progress=False, val_ratio=0.25)


def combinations(params_dir: Path = C.REPO_ROOT / "params") -> list[dict]:
    """The distinct (loss, head, fakes_as_class, mining) of the training runs of
    ``params/*.yaml`` (each run's parameters over its batch's base, TrainConfig's defaults
    for the rest)."""
    import yaml

    from krypto.learning.train import TrainConfig

    found = set()
    for file in sorted(params_dir.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text()) or {}
        base = (spec.get("base") or {}).get(TRAIN_NOTEBOOK, {})
        for run in (spec.get("runs") or {}).values():
            if isinstance(run, dict) and run.get("notebook") == TRAIN_NOTEBOOK:
                config = TrainConfig.from_dict({**base, **(run.get("parameters") or {})})
                found.add(tuple(getattr(config, k) for k in COMBINATION_KEYS))
    return [dict(zip(COMBINATION_KEYS, combo)) for combo in sorted(found, key=str)]


def _label(combo: dict) -> str:
    return "train[" + ",".join(f"{k}={v}" for k, v in combo.items()) + "]"


class Checks:
    """Runs named checks, recording each one's result or error; never stops at a failure."""

    def __init__(self, log=print):
        self.results: list[dict] = []
        self.log = log

    def run(self, name: str, fn) -> dict | None:
        t0 = time.perf_counter()
        entry = {"name": name, "passed": False}
        try:
            entry["details"] = fn() or {}
            entry["passed"] = True
        except Exception as error:  # recorded, and the next check runs
            lines = traceback.format_exception(type(error), error, error.__traceback__)
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = "".join(lines)[-4000:]
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        self.results.append(entry)
        self.log(f"  {'PASS' if entry['passed'] else 'FAIL'}  {name} ({entry['seconds']} s)"
                 + ("" if entry["passed"] else f": {entry['error']}"))
        return entry.get("details") if entry["passed"] else None


def environment(device: str) -> dict:
    import torch

    info = {"torch": torch.__version__, "device": device,
            "cuda_available": torch.cuda.is_available(),
            "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
            "nccl_available": torch.distributed.is_nccl_available(),
            "gloo_available": torch.distributed.is_gloo_available()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        info["onnxruntime"] = None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} but CUDA is not available here")
    return info


def _train(config, prepared) -> dict:
    import math
    import warnings

    from krypto.learning.train import Trainer

    with warnings.catch_warnings():  # 1 epoch on tiny data: collapsed similarities are expected
        warnings.filterwarnings("ignore", message=".*similarities have collapsed.*")
        metrics = Trainer(config, prepared).fit()
    losses = [row.get("train_loss") for row in metrics["history"] if row["epoch"] > 0]
    if not losses or not all(math.isfinite(x) for x in losses):
        raise AssertionError(f"training losses not finite: {losses}")
    for key in ("eer", "eer_real", "eer_fake"):
        if metrics.get(key) is None or not 0 <= metrics[key] <= 1:
            raise AssertionError(f"{key} = {metrics.get(key)}")
    if not metrics["device"].startswith(config.device.split(":")[0]):
        raise AssertionError(f"trained on {metrics['device']}, asked for {config.device}")
    return {"eer": metrics["eer"], "epochs_run": metrics["epochs_run"],
            "resumed": metrics["resumed"], "device": metrics["device"],
            "train_images_per_second": metrics["train_images_per_second"],
            "seconds": metrics["seconds"]}


def check_resume(base, prepared, run_dir: Path) -> dict:
    first = _train(replace(base, run_dir=str(run_dir), epochs=1), prepared)
    second = _train(replace(base, run_dir=str(run_dir), epochs=2), prepared)
    if first["resumed"] or not second["resumed"] or second["epochs_run"] != 2:
        raise AssertionError(f"expected a fresh run, then a resumed one to epoch 2: {first}, "
                             f"{second}")
    history = json.loads((run_dir / C.METRICS_FILE).read_text())["history"]
    if [row["epoch"] for row in history] != [0, 1, 2]:
        raise AssertionError(f"epochs recorded: {[row['epoch'] for row in history]}")
    return {"first": first, "second": second}


def check_submission(run_dir: Path, pairs_dir: Path, device: str, out: Path) -> dict:
    from krypto.challenge.score import read_submission
    from krypto.challenge.submit import make_submission

    def similarity(**options):
        frame = make_submission(run_dir, pairs_dir, progress=False, **options)
        return frame, frame[C.SIMILARITY].to_numpy()

    t0 = time.perf_counter()
    frame, amp = similarity(device=device, amp=True, out=out, overwrite=True)
    seconds = time.perf_counter() - t0
    written = read_submission(out)
    if written[C.PAIR_ID].tolist() != frame[C.PAIR_ID].tolist() or not np.isfinite(amp).all():
        raise AssertionError("the written submission differs from the returned one")
    _, fp32 = similarity(device=device)
    _, serial = similarity(device=device, prefetch=0)
    cpu = fp32 if device == "cpu" else similarity(device="cpu")[1]
    details = {"pairs": len(frame), "images_per_second": round(2 * len(frame) / seconds, 1),
               "max_diff_fp32_vs_cpu": float(np.abs(fp32 - cpu).max()),
               "max_diff_amp_vs_cpu": float(np.abs(amp - cpu).max()),
               "max_diff_prefetch_vs_serial": float(np.abs(fp32 - serial).max())}
    # float32 on a GPU convolves in TF32 by default (torch.backends.cudnn.allow_tf32): a few
    # 1e-4 apart from the CPU's similarities; AMP's float16 somewhat more
    if details["max_diff_fp32_vs_cpu"] > 1e-2 or details["max_diff_amp_vs_cpu"] > 5e-2:
        raise AssertionError(f"the device's similarities differ from the CPU's: {details}")
    if details["max_diff_prefetch_vs_serial"] > 1e-6:
        raise AssertionError(f"decoding ahead changes the submission: {details}")
    return details


def check_export(run_dir: Path, out: Path, device: str) -> dict:
    import onnxruntime as ort
    import torch

    from krypto.challenge.export import export_onnx, onnx_embed, sidecar_path
    from krypto.learning.train import load_model

    export_onnx(run_dir, out, overwrite=True)
    info = json.loads(sidecar_path(out).read_text())
    model, config = load_model(run_dir, device=device)
    images = torch.randint(0, 256, (16, 3, config.image_size, config.image_size),
                           generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with torch.no_grad():
        expected = model(images.to(device).float() / 255).float().cpu().numpy()
    available = ort.get_available_providers()
    provider = "CUDAExecutionProvider" if device.startswith("cuda") else "CPUExecutionProvider"
    details = {"parity_at_export_cpu": info["parity_max_abs_diff"], "providers": available}
    if provider not in available:
        details["note"] = (f"onnxruntime has no {provider} here (providers: {available}): parity "
                           f"on the CPU provider against PyTorch on {device}")
        provider = "CPUExecutionProvider"
    session = ort.InferenceSession(str(out), providers=[provider])
    got = onnx_embed(session, images.numpy())
    scale = float(np.abs(expected).max()) or 1.0
    details.update(provider=provider, session_providers=session.get_providers(),
                   max_abs_diff=float(np.abs(got - expected).max()),
                   max_relative_diff=float(np.abs(got - expected).max()) / scale)
    # on a GPU, PyTorch's float32 convolutions run in TF32 by default: relative, not 1e-6
    if details["max_relative_diff"] > (1e-2 if device.startswith("cuda") else 1e-4):
        raise AssertionError(f"onnxruntime ({provider}) and PyTorch on {device} disagree: "
                             f"{details}")
    return details


def _torchrun(n: int, module_args: list[str], env: dict, timeout: int = 600):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(n), "-m", *module_args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} exited {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")
    return done


def check_torchrun(data: Path, workdir: Path, device: str, n: int) -> dict:
    run_dir = workdir / "torchrun"
    env = dict(os.environ, KRYPTO_CACHE_DIR=str(workdir / "cache"), PYTHONUNBUFFERED="1")
    args = ["krypto.pipeline.launch", "--data_dir", str(data), "--run_dir", str(run_dir),
            "--device", "cuda" if device.startswith("cuda") else "cpu", "--overwrite", "true",
            *[f"--{k}={v}" for k, v in TINY.items()]]
    _torchrun(n, args, env)
    metrics = json.loads((run_dir / C.METRICS_FILE).read_text())
    if metrics["world_size"] != n:
        raise AssertionError(f"metrics.json says world_size {metrics['world_size']}, not {n}")
    return {"processes": n, "backend": "nccl" if device.startswith("cuda") else "gloo",
            "device": metrics["device"], "eer": metrics["eer"],
            "train_images_per_second": metrics["train_images_per_second"]}


def check_collectives(workdir: Path, device: str) -> dict:
    """The trainer's collectives (broadcast of an object, all_gather_object, all_reduce,
    barrier) in a process group of one: NCCL init on a single GPU."""
    out = workdir / "collectives.json"
    _torchrun(1, ["krypto.bench.gpu_check", "--collectives-child", str(out), "--device",
                  device], dict(os.environ))
    return json.loads(out.read_text())


def _collectives_child(out: str, device: str) -> None:
    import torch
    import torch.distributed as tdist

    from krypto.files import write_json

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    backend = "nccl" if cuda else "gloo"
    tdist.init_process_group(backend=backend)
    where = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    box = [{"rank": tdist.get_rank()}]
    tdist.broadcast_object_list(box, src=0, device=where)
    gathered = [None] * tdist.get_world_size()
    tdist.all_gather_object(gathered, tdist.get_rank())
    t = torch.ones(4, device=where)
    tdist.all_reduce(t)
    tdist.barrier()
    tdist.destroy_process_group()
    write_json(out, {"backend": backend, "world_size": len(gathered), "broadcast": box[0],
                     "all_reduce": t.cpu().tolist()})


def check_bench(device: str, workdir: Path, quick: bool) -> dict:
    from krypto.bench.cli import run
    from krypto.bench.common import default_config, quick_config

    if quick:  # the dry run: the same code, on the quickest section
        cfg = quick_config(device=device, sections=("miner",), miner_seconds=0.005)
    else:
        cfg = default_config(device=device, repeats=3,
                             sections=("training", "seed_pipeline", "miner", "inference"))
    report = run(cfg, workdir, log=lambda text: None)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return {"results": report[kind], "goals": report["goals"]}


def gpu_check(device: str = "cuda", data: str = "synthetic:tiny", workdir: Path | None = None,
              bench: bool = True, log=print) -> dict:
    """Run every check; returns the report (see the module docstring)."""
    import torch

    from krypto.bench.common import machine_info
    from krypto.data.index import prepare, resolve_data_dir
    from krypto.learning.train import TrainConfig

    workdir = Path(workdir or tempfile.mkdtemp(prefix="krypto-gpu-check-"))
    cuda = device.startswith("cuda")
    checks = Checks(log)
    started = time.perf_counter()
    checks.run("environment", lambda: environment(device))
    held: dict = {}

    def data_set() -> dict:
        held["root"] = resolve_data_dir(data)
        held["prepared"] = prepare(held["root"], out_dir=workdir / "prepared",
                                   val_ratio=TINY["val_ratio"], pairs_per_kind=50,
                                   progress=False)
        return {"root": str(held["root"]), "photos": len(held["prepared"].index)}

    if checks.run("data", data_set) is None:  # nothing else can run: say so, check by check
        held["root"], held["prepared"] = Path(str(data)), None
    root, prepared = held["root"], held["prepared"]
    base = TrainConfig(data_dir=str(root), device=device, overwrite=True, **TINY)
    trained = None
    for combo in combinations():
        run_dir = workdir / "runs" / _label(combo)[6:-1].replace(",", "-")
        config = replace(base, run_dir=str(run_dir), **combo)
        if checks.run(_label(combo), lambda c=config: _train(c, prepared)) and trained is None:
            trained = run_dir
    checks.run("resume", lambda: check_resume(replace(base, overwrite=False), prepared,
                                              workdir / "resume"))

    def needs_run():
        if trained is None:
            raise RuntimeError("no training run finished: nothing to submit or export")
        return trained

    checks.run("submission", lambda: check_submission(needs_run(), root / C.TEST_DIR, device,
                                                      workdir / "submission.csv"))
    checks.run("export", lambda: check_export(needs_run(), workdir / "model.onnx", device))
    n = min(2, torch.cuda.device_count()) if cuda else 2
    checks.run(f"torchrun[{n} process(es)]",
               lambda: check_torchrun(root, workdir, device, max(1, n)))
    if n <= 1:  # one GPU: torchrun's single process has no process group; NCCL alone then
        checks.run("collectives[1 process]", lambda: check_collectives(workdir, device))
    if bench:
        checks.run("bench", lambda: check_bench(device, workdir / "bench", quick=not cuda))
    results = checks.results
    return {
        "device": device, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(torch.get_num_threads()), "data": str(root),
        "passed": sum(r["passed"] for r in results),
        "failed": [r["name"] for r in results if not r["passed"]],
        "seconds": round(time.perf_counter() - started, 1),
        "checks": results,
        "figures": {r["name"]: _figures(r) for r in results if r["passed"]},
    }


def _figures(result: dict) -> dict:
    """The numbers of a check worth reading at a glance (speeds, differences)."""
    details = result.get("details") or {}
    if result["name"] == "bench":
        return {k: v for k, v in details["results"].items() if k != "section_seconds"}
    return {k: v for k, v in details.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m krypto.bench.gpu_check",
                                     description="Check on a GPU everything that runs "
                                                 "differently there; one JSON report.")
    parser.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (a dry run)")
    parser.add_argument("--out", default=str(C.REPORT_DIR / "gpu_check.json"))
    parser.add_argument("--data", default="synthetic:tiny", help="data set (default: tiny)")
    parser.add_argument("--workdir", default=None, help="runs and files (default: temporary)")
    parser.add_argument("--no-bench", action="store_true", help="skip the benchmark")
    parser.add_argument("--collectives-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.collectives_child:
        _collectives_child(args.collectives_child, args.device)
        return 0
    from krypto.files import write_json

    print(f"gpu check on {args.device}", flush=True)
    report = gpu_check(args.device, args.data, args.workdir, bench=not args.no_bench,
                       log=lambda text: print(text, flush=True))
    write_json(args.out, report, default=str)
    print(f"wrote {args.out}: {report['passed']} passed, {len(report['failed'])} failed "
          f"({report['seconds']:.0f} s)" + (f": {report['failed']}" if report["failed"] else ""))
    return 0 if not report["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())

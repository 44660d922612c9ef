"""The checks of ``make gpu-check`` (:mod:`krypto.bench.gpu_check`) that exercise one GPU code
path each: a short training, resume, submission, ONNX export, torchrun and the collectives.
Each returns the figures it measured and raises on a failure."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist

from krypto import constants as C
from krypto import run_folder as RF
from krypto.bench.common import SPEC, fit_once
from krypto.challenge.export import export_onnx, onnx_embed, sidecar_path
from krypto.challenge.score import read_submission
from krypto.challenge.submit import make_submission
from krypto.files import write_json
from krypto.learning.checkpoint import load_model
from krypto.pipeline.children import torchrun_command

TINY = SPEC["gpu_check"]["tiny"]


def train_check(config, prepared) -> dict:
    metrics = fit_once(config, prepared)
    losses = [row.get("train_loss") for row in metrics["history"] if row["epoch"] > 0]
    if not losses or not all(math.isfinite(x) for x in losses):
        raise AssertionError(f"training losses not finite: {losses}")
    for key in ("eer", "eer_real", "eer_fake"):
        if metrics.get(key) is None or not 0 <= metrics[key] <= 1:
            raise AssertionError(f"{key} = {metrics.get(key)}")
    if not metrics["device"].startswith(config.device.split(":")[0]):
        raise AssertionError(f"trained on {metrics['device']}, asked for {config.device}")
    keys = ("eer", "epochs_run", "resumed", "device", "train_images_per_second", "seconds")
    return {key: metrics[key] for key in keys}


def check_resume(base, prepared, run_dir: Path) -> dict:
    first = train_check(replace(base, run_dir=str(run_dir), epochs=1), prepared)
    second = train_check(replace(base, run_dir=str(run_dir), epochs=2), prepared)
    if first["resumed"] or not second["resumed"] or second["epochs_run"] != 2:
        raise AssertionError(
            f"expected a fresh run, then a resumed one to epoch 2: {first}, {second}"
        )
    history = RF.read_metrics(run_dir)["history"]
    if [row["epoch"] for row in history] != [0, 1, 2]:
        raise AssertionError(f"epochs recorded: {[row['epoch'] for row in history]}")
    return {"first": first, "second": second}


def check_submission(run_dir: Path, pairs_dir: Path, device: str, out: Path) -> dict:
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
    details = {
        "pairs": len(frame),
        "images_per_second": round(2 * len(frame) / seconds, 1),
        "max_diff_fp32_vs_cpu": float(np.abs(fp32 - cpu).max()),
        "max_diff_amp_vs_cpu": float(np.abs(amp - cpu).max()),
        "max_diff_prefetch_vs_serial": float(np.abs(fp32 - serial).max()),
    }
    # float32 on a GPU convolves in TF32 by default (torch.backends.cudnn.allow_tf32): a few
    # 1e-4 apart from the CPU's similarities; AMP's float16 somewhat more
    if details["max_diff_fp32_vs_cpu"] > 1e-2 or details["max_diff_amp_vs_cpu"] > 5e-2:
        raise AssertionError(f"the device's similarities differ from the CPU's: {details}")
    if details["max_diff_prefetch_vs_serial"] > 1e-6:
        raise AssertionError(f"decoding ahead changes the submission: {details}")
    return details


def check_export(run_dir: Path, out: Path, device: str) -> dict:
    import onnxruntime as ort

    export_onnx(run_dir, out, overwrite=True)
    info = json.loads(sidecar_path(out).read_text())
    model, config = load_model(run_dir, device=device)
    size = (16, 3, config.image_size, config.image_size)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, size, generator=generator, dtype=torch.uint8)
    with torch.no_grad():
        expected = model(images.to(device).float() / 255).float().cpu().numpy()
    available = ort.get_available_providers()
    provider = "CUDAExecutionProvider" if device.startswith("cuda") else "CPUExecutionProvider"
    details = {"parity_at_export_cpu": info["parity_max_abs_diff"], "providers": available}
    if provider not in available:
        details["note"] = (
            f"onnxruntime has no {provider} here (providers: {available}): parity "
            f"on the CPU provider against PyTorch on {device}"
        )
        provider = "CPUExecutionProvider"
    session = ort.InferenceSession(str(out), providers=[provider])
    got = onnx_embed(session, images.numpy())
    scale = float(np.abs(expected).max()) or 1.0
    details.update(
        provider=provider,
        session_providers=session.get_providers(),
        max_abs_diff=float(np.abs(got - expected).max()),
        max_relative_diff=float(np.abs(got - expected).max()) / scale,
    )
    # on a GPU, PyTorch's float32 convolutions run in TF32 by default: relative, not 1e-6
    if details["max_relative_diff"] > (1e-2 if device.startswith("cuda") else 1e-4):
        raise AssertionError(
            f"onnxruntime ({provider}) and PyTorch on {device} disagree: {details}"
        )
    return details


def _torchrun(n: int, module_args: list[str], env: dict, timeout: int = 600):
    command = torchrun_command(n, *module_args)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[1:])} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done


def check_torchrun(data: Path, workdir: Path, device: str, n: int) -> dict:
    run_dir = workdir / "torchrun"
    env = dict(os.environ, KRYPTO_CACHE_DIR=str(workdir / "cache"), PYTHONUNBUFFERED="1")
    cuda = device.startswith("cuda")
    flags = {"data_dir": data, "run_dir": run_dir, "device": "cuda" if cuda else "cpu"}
    flags = {**flags, "overwrite": "true", **TINY}
    _torchrun(n, ["krypto.pipeline.launch", *[f"--{k}={v}" for k, v in flags.items()]], env)
    metrics = RF.read_metrics(run_dir)
    if metrics["world_size"] != n:
        raise AssertionError(f"metrics.json says world_size {metrics['world_size']}, not {n}")
    figures = {key: metrics[key] for key in ("device", "eer", "train_images_per_second")}
    return {"processes": n, "backend": "nccl" if cuda else "gloo", **figures}


def check_collectives(workdir: Path, device: str) -> dict:
    """The trainer's collectives (broadcast of an object, all_gather_object, all_reduce,
    barrier) in a process group of one: NCCL init on a single GPU."""
    out = workdir / "collectives.json"
    _torchrun(
        1,
        ["krypto.bench.gpu_check", "--collectives-child", str(out), "--device", device],
        dict(os.environ),
    )
    return json.loads(out.read_text())


def collectives_child(out: str, device: str) -> None:
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
    write_json(
        out,
        {
            "backend": backend,
            "world_size": len(gathered),
            "broadcast": box[0],
            "all_reduce": t.cpu().tolist(),
        },
    )

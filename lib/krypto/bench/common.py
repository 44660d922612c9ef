"""What every measurement shares: the benchmark's data (``sections.yaml``), its configuration,
the machine, timing, and the synthetic data the measurements run on."""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
import torch
import yaml

from krypto.challenge.batch_embedding import available_cores
from krypto.data.index import prepare
from krypto.data.synth import PRESETS, write_dataset
from krypto.learning.config import TrainConfig
from krypto.learning.train import Trainer

SPEC = yaml.safe_load((Path(__file__).parent / "sections.yaml").read_text())
SECTIONS = tuple(SPEC["sections"])
WHAT = SPEC["what"]


@dataclass
class BenchConfig:
    """What to measure and on what; :func:`default_config` / :func:`quick_config` fill it."""

    quick: bool = False
    device: str = "auto"  # auto: the CPU, and the GPU too when there is one | cpu | cuda
    backbone: str = "small_cnn"  # default_config(): TrainConfig's backbone, size and P x K
    image_size: int = 48
    P: int = 8
    K: int = 4
    repeats: int = 3
    threads: int = 0  # 0: every core this process may use
    # the data set of sections 1-4 (identities of train/ and test_public/, photos each)
    identities: int = 160
    test_identities: int = 20
    real_per_identity: int = 6
    fake_per_identity: int = 3
    test_pairs_per_kind: int = 512
    jpeg_size: int = 0  # size of the synthetic JPEGs; 0: image_size (as the embedded data)
    # the memory section's data set: about the challenge's training set (100,008 photos)
    memory_identities: int = 11_112
    memory_processes: int = 2  # the multi-process run of the memory section (gloo, CPU)
    growth_identities: tuple = (48, 192, 768)
    scale_identities: tuple = (1_000, 10_000)  # section 7: the challenge has about 10,000
    scale_image_size: int = 32
    scale_landmark_photos: int = 2000  # MTCNN on these, extrapolated to every photo
    miner_seconds: float = 0.2  # minimum time per miner repeat
    inference_batch: int = 256
    sections: tuple = SECTIONS

    def resolved_threads(self) -> int:
        return self.threads or available_cores()

    def pairs_per_kind(self) -> int:
        """Validation pairs per kind that ``prepare`` builds (what evaluate() scores each epoch)."""
        return 200 if self.quick else 1000


def default_config(**overrides) -> BenchConfig:
    """The full benchmark (about 6 minutes on 2 CPU cores), at TrainConfig's batch and size."""
    t = TrainConfig()
    base = BenchConfig(P=t.P, K=t.K, image_size=t.image_size, backbone=t.backbone)
    return replace(base, **overrides)


def quick_config(**overrides) -> BenchConfig:
    """A smoke version (about a minute on 2 CPU cores): tiny data, 32 px, 8 x 4 batches."""
    quick = dict(SPEC["quick"])
    for key in ("growth_identities", "scale_identities"):
        quick[key] = tuple(quick[key])
    return BenchConfig(**{**quick, **overrides})


def parser(spec: dict) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=spec["prog"], description=spec["description"])
    for option in spec["options"]:
        option = dict(option)
        if "type" in option:
            option["type"] = {"int": int}[option["type"]]
        if "metavar" in option:
            option["metavar"] = tuple(option["metavar"])
        if option.pop("hidden", False):
            option["help"] = argparse.SUPPRESS
        p.add_argument(*option.pop("flags"), **option)
    return p


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_info(threads: int) -> dict:
    cuda = torch.cuda.is_available()
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [x.split(":", 1)[1].strip() for x in lines if x.lower().startswith("model name")]
    return {
        "cpu_model": (models or [platform.processor() or platform.machine()])[0],
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": available_cores(),
        "torch": torch.__version__,
        "torch_threads": threads,
        "torch_interop_threads": torch.get_num_interop_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda_available": cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "load_average_at_start": load_average(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` once the device's queued work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def seconds(fn, device: torch.device, calls: int = 1) -> float:
    """Seconds of ``calls`` calls of ``fn``, the device's queued work included."""
    t0 = clock(device)
    for _ in range(calls):
        fn()
    return clock(device) - t0


def per_call_seconds(fn, min_seconds: float, device: torch.device) -> float:
    """Seconds per call of ``fn``, calling it until ``min_seconds`` have passed (at least once)."""
    calls, t0 = 0, clock(device)
    while True:
        fn()
        calls += 1
        elapsed = clock(device) - t0
        if elapsed >= min_seconds or calls >= 100_000:
            return elapsed / calls


def measure(value: float, unit: str, samples=None, digits: int = 4) -> dict:
    """One measurement: value, unit and (when repeated) the samples its median came from."""
    out = {"value": round(float(value), digits), "unit": unit}
    if samples is not None:
        out["samples"] = [round(float(s), digits) for s in samples]
    return out


def write_data(folder: Path, cfg: BenchConfig, identities: int, test_pairs_per_kind: int = 8):
    """The default synthetic set at the benchmark's sizes, written to ``folder/data`` and
    prepared into ``folder/prepared``: ``(data folder, PreparedData, synth)``."""
    keys = ("test_identities", "real_per_identity", "fake_per_identity")
    sizes = {key: getattr(cfg, key) for key in keys}
    sizes.update(
        image_size=cfg.jpeg_size or cfg.image_size, test_pairs_per_kind=test_pairs_per_kind
    )
    synth = replace(PRESETS["default"], identities=identities, seed=0, **sizes)
    data = write_dataset(folder / "data", synth, progress=False)
    out, pairs = folder / "prepared", cfg.pairs_per_kind()
    prepared = prepare(data, out_dir=out, progress=False, pairs_per_kind=pairs)
    return data, prepared, synth


def train_config(cfg: BenchConfig, run_dir: Path, device: str, **overrides) -> TrainConfig:
    """The TrainConfig of every training measurement (``train`` of ``sections.yaml``)."""
    options = {**SPEC["train"], "backbone": cfg.backbone, "image_size": cfg.image_size}
    options.update(P=cfg.P, K=cfg.K, device=device, num_threads=cfg.resolved_threads())
    return TrainConfig(run_dir=str(run_dir), **options, **overrides)


def fit_once(config, prepared) -> dict:
    """``Trainer(config, prepared).fit()``'s metrics and ``fit_call_seconds`` (the whole call)."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # an untrained model's EERs mean nothing here
        warnings.filterwarnings("ignore", message=".*similarities have collapsed.*")
        metrics = Trainer(config, prepared).fit()
    return {**metrics, "fit_call_seconds": time.perf_counter() - t0}


def trained_epoch(metrics: dict) -> dict:
    """The last training epoch's row of ``metrics['history']`` (images_per_second, seconds)."""
    return [row for row in metrics["history"] if row["epoch"] > 0][-1]

"""What every measurement shares: the benchmark's configuration, the machine, timing, and the
synthetic data the measurements run on."""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

SECTIONS = ("training", "seed_pipeline", "miner", "inference", "memory", "growth")


@dataclass
class BenchConfig:
    """What to measure and on what; :func:`default_config` / :func:`quick_config` fill it."""

    quick: bool = False
    device: str = "auto"  # auto: the CPU, and the GPU too when there is one | cpu | cuda
    backbone: str = "small_cnn"  # backbone, image size and P x K: default_config() reads
    image_size: int = 48  # TrainConfig's
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
    # the memory section's data set: about the challenge's training set (100,008 photos), whose
    # decoded images, not each process's own working memory, are what two processes could copy
    memory_identities: int = 11_112
    memory_processes: int = 2  # the multi-process run of the memory section (gloo, CPU)
    growth_identities: tuple = (48, 192, 768)
    miner_seconds: float = 0.2  # minimum time per miner repeat
    inference_batch: int = 256
    sections: tuple = SECTIONS

    def resolved_threads(self) -> int:
        return self.threads or available_cores()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_config(**overrides) -> BenchConfig:
    """The full benchmark (about 6 minutes on 2 CPU cores), at TrainConfig's batch and size."""
    from krypto.learning.train import TrainConfig

    t = TrainConfig()
    return replace(
        BenchConfig(P=t.P, K=t.K, image_size=t.image_size, backbone=t.backbone), **overrides
    )


def quick_config(**overrides) -> BenchConfig:
    """A smoke version (about a minute on 2 CPU cores): tiny data, 32 px, 8 x 4 batches."""
    base = BenchConfig(
        quick=True,
        image_size=32,
        P=8,
        K=4,
        repeats=1,
        identities=24,
        test_identities=6,
        real_per_identity=3,
        fake_per_identity=1,
        test_pairs_per_kind=16,
        memory_identities=24,
        growth_identities=(16, 64, 256),
        miner_seconds=0.03,
        inference_batch=64,
    )
    return replace(base, **overrides)


# --- the machine ----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_info(threads: int) -> dict:
    info = {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": available_cores(),
        "torch": torch.__version__,
        "torch_threads": threads,
        "torch_interop_threads": torch.get_num_interop_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "load_average_at_start": load_average(),
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


# --- timing ---------------------------------------------------------------------------------------


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` once the device's queued work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def per_call_seconds(
    fn, min_seconds: float, device: torch.device, max_calls: int = 100_000
) -> float:
    """Seconds per call of ``fn``, calling it until ``min_seconds`` have passed (at least once)."""
    calls, t0 = 0, clock(device)
    while True:
        fn()
        calls += 1
        elapsed = clock(device) - t0
        if elapsed >= min_seconds or calls >= max_calls:
            return elapsed / calls


def median(values) -> float:
    return float(statistics.median(values))


def measure(value: float, unit: str, samples=None, digits: int = 4) -> dict:
    """One measurement: value, unit and (when repeated) the samples its median came from."""
    out = {"value": round(float(value), digits), "unit": unit}
    if samples is not None:
        out["samples"] = [round(float(s), digits) for s in samples]
    return out


# --- data -----------------------------------------------------------------------------------------


def default_synth():
    """The generator settings of the embedded default data set."""
    from krypto.data.synth import PRESETS

    return PRESETS["default"]


def synth_config(cfg: BenchConfig, identities: int, test_pairs_per_kind: int = 8):
    """The default data set's generator settings with ``identities`` training identities and
    the benchmark's photos per identity, test identities and JPEG size."""
    return replace(
        default_synth(),
        identities=identities,
        test_identities=cfg.test_identities,
        real_per_identity=cfg.real_per_identity,
        fake_per_identity=cfg.fake_per_identity,
        image_size=cfg.jpeg_size or cfg.image_size,
        test_pairs_per_kind=test_pairs_per_kind,
        seed=0,
    )


def pairs_per_kind(cfg: BenchConfig) -> int:
    """Validation pairs per kind that ``prepare`` builds (what evaluate() scores each epoch)."""
    return 200 if cfg.quick else 1000


def write_data(folder: Path, cfg: BenchConfig, synth):
    """The synthetic data set ``synth`` in ``folder/data``, prepared into ``folder/prepared``:
    ``(data folder, PreparedData, synth)``."""
    from krypto.data.index import prepare
    from krypto.data.synth import write_dataset

    data = write_dataset(folder / "data", synth, progress=False)
    prepared = prepare(
        data, out_dir=folder / "prepared", progress=False, pairs_per_kind=pairs_per_kind(cfg)
    )
    return data, prepared, synth


def train_config(cfg: BenchConfig, run_dir: Path, device: str, epochs: int = 1, **overrides):
    """The TrainConfig every training measurement runs (cutout and flip on, as in the
    README's runs); a fresh run in ``run_dir``."""
    from krypto.learning.train import TrainConfig

    return TrainConfig(
        run_dir=str(run_dir),
        backbone=cfg.backbone,
        image_size=cfg.image_size,
        P=cfg.P,
        K=cfg.K,
        epochs=epochs,
        cutout_part="mouth",
        cutout_p=0.5,
        flip_p=0.5,
        device=device,
        num_threads=cfg.resolved_threads(),
        overwrite=True,
        progress=False,
        **overrides,
    )


def fit_once(config, prepared) -> dict:
    """``Trainer(config, prepared).fit()`` (a fresh run), quiet about the collapsed similarities
    of an untrained model; its metrics plus ``fit_call_seconds``, the wall time of the whole
    call (setup and validation included)."""
    import warnings

    from krypto.learning.train import Trainer

    t0 = time.perf_counter()
    with warnings.catch_warnings():  # an untrained model's EERs mean nothing here: no need to say
        warnings.filterwarnings("ignore", message=".*similarities have collapsed.*")
        metrics = Trainer(config, prepared).fit()
    return {**metrics, "fit_call_seconds": time.perf_counter() - t0}


def trained_epoch(metrics: dict) -> dict:
    """The last training epoch's row of ``metrics['history']`` (images_per_second, seconds)."""
    return [row for row in metrics["history"] if row["epoch"] > 0][-1]

"""What the measurements share: their configuration, the machine, timing side by side, and the
synthetic data and training runs they measure."""

import os
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
import torch

from krypto.challenge.batch_embedding import available_cores
from krypto.data.index import prepare
from krypto.data.synth import PRESETS, write_dataset
from krypto.learning.config import TrainConfig
from krypto.learning.train import Trainer
from krypto.pipeline.children import torchrun_command

SECTIONS = ("training", "miner", "inference", "memory", "scale")


@dataclass(frozen=True)
class BenchConfig:
    """What to measure and on what; :data:`QUICK` is the smoke version."""

    quick: bool = False
    device: str = "auto"  # auto: the CPU, and the GPU too when there is one | cpu | cuda
    threads: int = 0  # torch's CPU threads; 0: every core this process may use
    repeats: int = 3
    sections: tuple = SECTIONS
    backbone: str = TrainConfig.backbone
    image_size: int = TrainConfig.image_size
    P: int = TrainConfig.P
    K: int = TrainConfig.K
    # the data set of sections 1 and 3: identities of train/ and of test_public/, photos each
    identities: int = 160
    test_identities: int = 256
    real_per_identity: int = 6
    fake_per_identity: int = 3
    test_pairs_per_kind: int = 512
    memory_identities: int = 11_112  # about the challenge's training set (100,008 photos)
    memory_processes: int = 2
    scale_identities: tuple = (1_000, 10_000)  # the challenge has about 10,000
    scale_image_size: int = 32
    scale_landmark_photos: int = 2_000  # MTCNN on these, extrapolated to every photo
    miner_seconds: float = 0.2  # the least time of each timing of the miner
    inference_batch: int = 256
    pairs_per_kind: int = 1000  # validation pairs of the prepared data sets

    def resolved_threads(self) -> int:
        return self.threads or available_cores()


QUICK = BenchConfig(
    quick=True, repeats=1, image_size=32, identities=24, test_identities=6, real_per_identity=3,
    fake_per_identity=1, test_pairs_per_kind=16, memory_identities=24, miner_seconds=0.03,
    scale_identities=(16, 64), scale_landmark_photos=16, inference_batch=64, pairs_per_kind=200,
)  # fmt: skip


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_info(threads: int) -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [x.split(":", 1)[1].strip() for x in lines if x.lower().startswith("model name")]
    return {
        "cpu_model": (models or [platform.processor() or platform.machine()])[0],
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": available_cores(),
        "torch": torch.__version__,
        "torch_threads": threads,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": load_average(),
    }


def torchrun(n: int, module: str, *args: str, env=None, timeout: float | None = None) -> None:
    """``n`` processes of ``module`` under torchrun; a RuntimeError ending with their stderr."""
    command = torchrun_command(n, module, *args)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        command = " ".join(command[1:])
        raise RuntimeError(f"{command} exited {done.returncode}:\n{done.stderr[-3000:]}")


def what(fn) -> str:
    """What a measurement measures: its function's docstring, on one line."""
    return " ".join(fn.__doc__.split())


def seconds(fn, device: torch.device, calls: int = 1) -> float:
    """Seconds of ``calls`` calls of ``fn``, the device's queued work included."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    sync()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return time.perf_counter() - t0


def bracketed(ours, reference, repeats: int) -> tuple[list[float], list[float]]:
    """``repeats`` samples of ``ours()`` and, for each, the mean of ``reference()`` just before
    and just after it: the two side by side, under the same load."""
    mine, refs, before = [], [], reference()
    for _ in range(repeats):
        mine.append(ours())
        after = reference()
        refs.append((before + after) / 2)
        before = after
    return mine, refs


def measure(value: float, unit: str, samples=None, digits: int = 4) -> dict:
    """One measurement: value, unit and (when repeated) the samples its median came from."""
    out = {"value": round(float(value), digits), "unit": unit}
    if samples is not None:
        out["samples"] = [round(float(s), digits) for s in samples]
    return out


def write_data(folder: Path, cfg: BenchConfig, identities: int, **sizes):
    """The default synthetic set at the benchmark's sizes (``sizes`` over them), written to
    ``folder/data``: ``(data folder, its SynthConfig)``."""
    keys = ("test_identities", "real_per_identity", "fake_per_identity", "image_size")
    sizes = {**{key: getattr(cfg, key) for key in keys}, "test_pairs_per_kind": 8, **sizes}
    synth = replace(PRESETS["default"], identities=identities, seed=0, **sizes)
    return write_dataset(folder / "data", synth, progress=False), synth


def prepared_data(folder: Path, cfg: BenchConfig, identities: int, **sizes):
    """:func:`write_data`, then prepared into ``folder/prepared``: ``(data, PreparedData)``."""
    data, pairs = write_data(folder, cfg, identities, **sizes)[0], cfg.pairs_per_kind
    return data, prepare(data, out_dir=folder / "prepared", progress=False, pairs_per_kind=pairs)


def train_config(cfg: BenchConfig, run_dir: Path, device: str) -> TrainConfig:
    """The TrainConfig of every training measurement: 1 epoch with its augmentations."""
    options = dict(backbone=cfg.backbone, image_size=cfg.image_size, P=cfg.P, K=cfg.K)
    options.update(epochs=1, cutout_part="mouth", cutout_p=0.5, flip_p=0.5, overwrite=True)
    options.update(device=device, num_threads=cfg.resolved_threads(), progress=False)
    return TrainConfig(run_dir=str(run_dir), **options)


def fit_once(config: TrainConfig, prepared) -> dict:
    """``Trainer(config, prepared).fit()``'s metrics with ``epoch``, the last training epoch's
    row (``seconds``, ``images_per_second``)."""
    with warnings.catch_warnings():  # an untrained model's EERs mean nothing here
        warnings.filterwarnings("ignore", message=".*similarities have collapsed.*")
        metrics = Trainer(config, prepared).fit()
    return {**metrics, "epoch": [row for row in metrics["history"] if row["epoch"] > 0][-1]}

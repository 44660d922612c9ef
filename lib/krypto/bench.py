"""Speed and memory, measured side by side in one run on one machine: ``make bench``.

Command line::

    python -m krypto.bench [--out bench.json] [--quick] [--device auto|cpu|cuda]
        [--backbone small_cnn] [--image-size 48] [--batch P K] [--repeats 3] [--threads N]
        [--jpeg-size N] [--only SECTION ...] [--workdir DIR] [--keep]

Defaults: TrainConfig's backbone, image size and P x K; torch threads = every usable core (on a
machine shared with other jobs, ``--threads 1`` avoids the collapse of oversubscribed OpenMP
threads, which makes 2-thread timings swing several-fold). ``--quick``: a smoke version on tiny
data (32 px, P x K = 8 x 4, 1 repeat).

It writes ``bench.json`` (the machine, the command, every measurement with its unit and each
goal with its measured value and pass/fail), ``bench.md`` (the same as a markdown table, for the
README) and ``bench.txt`` (the printed table) next to each other, and prints the table.

Absolute numbers depend on the machine and on whatever else runs on it; what the benchmark is
for are the *ratios*, each measured side by side (interleaved repeat by repeat) in one process:

1. ``training``: images/s of the real training loop (:meth:`krypto.learning.train.Trainer.fit`, read
   from the per-epoch ``images_per_second`` it records, which excludes validation) against its
   compute bound: the same model class and optimizer doing forward + backward + step on an
   in-memory float batch of the same shape. Goal >= 0.90.
2. ``seed_pipeline``: the seed's pipeline re-implemented here as a reference (a PIL Dataset that
   decodes, resizes and converts every photo on every access, a ``DataLoader`` with
   ``num_workers=0`` over the same P x K batches, a miner looping over the batch in Python, the
   same backbone and loss) against our loop. Goal: ours >= 2x.
3. ``miner``: :func:`krypto.learning.miner.mine_quadruplets` against :func:`python_loop_quadruplets`
   (the reference miner, on the batch's tensors as the seed did, and on Python lists as the best
   a Python loop can do) at batch 36, 128, 256. Goal >= 50x at 36 against the seed-style loop.
4. ``inference``: images/s of :func:`krypto.challenge.submit.make_submission` on a ``test_public`` folder
   (decode, embed, score) against the model's pure forward on in-memory tensors of the same
   batch size. Goal >= 0.85.
5. ``memory``: peak RSS of a training run (1 epoch, its own subprocess) on a data set the size
   of the embedded default (:data:`krypto.data.synth.PRESETS` ``["default"]``).
6. ``growth``: seconds per epoch and images/s as the data set grows 1x, 4x, 16x; the cost per
   image should stay flat (goal: 16x/1x <= 1.25).

On a CUDA device the same runs with mixed precision; GPU figures are only written when they were
measured on a GPU (``"cuda": null`` otherwise, with a note). The data are synthetic
(:func:`krypto.data.synth.write_dataset`) in a temporary folder, prepared with
:func:`krypto.data.index.prepare`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from krypto import constants as C

SECTIONS = ("training", "seed_pipeline", "miner", "inference", "memory", "growth")
MINER_BATCHES = (36, 128, 256)
PHOTOS_PER_IDENTITY = 4  # miner batches: identities x 4 photos, one of them a fake


# --- configuration ---------------------------------------------------------------------------------

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
    test_pairs_per_kind: int = 128
    jpeg_size: int = 0  # size of the synthetic JPEGs; 0: image_size (as the embedded data)
    memory_identities: int = 0  # 0: as many as PRESETS["default"] (else a smaller smoke set)
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
    """The full benchmark (about 5 minutes on 2 CPU cores), at TrainConfig's batch and size."""
    from krypto.learning.train import TrainConfig

    t = TrainConfig()
    return replace(BenchConfig(P=t.P, K=t.K, image_size=t.image_size, backbone=t.backbone),
                   **overrides)


def quick_config(**overrides) -> BenchConfig:
    """A smoke version (< 1 minute on 2 CPU cores): tiny data, 32 px, 8 x 4 batches."""
    base = BenchConfig(quick=True, image_size=32, P=8, K=4, repeats=1, identities=24,
                       test_identities=6, real_per_identity=3, fake_per_identity=1,
                       test_pairs_per_kind=16, memory_identities=24,
                       growth_identities=(16, 64, 256), miner_seconds=0.03, inference_batch=64)
    return replace(base, **overrides)


# --- machine and timing ------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _clock(device: torch.device) -> float:
    _sync(device)
    return time.perf_counter()


def per_call_seconds(fn, min_seconds: float, device: torch.device, max_calls: int = 100_000) -> float:
    """Seconds per call of ``fn``, calling it until ``min_seconds`` have passed (at least once)."""
    calls, t0 = 0, _clock(device)
    while True:
        fn()
        calls += 1
        elapsed = _clock(device) - t0
        if elapsed >= min_seconds or calls >= max_calls:
            return elapsed / calls


def _median(values) -> float:
    return float(statistics.median(values))


def measure(value: float, unit: str, samples=None, digits: int = 4) -> dict:
    """One measurement: value, unit and (when repeated) the samples its median came from."""
    out = {"value": round(float(value), digits), "unit": unit}
    if samples is not None:
        out["samples"] = [round(float(s), digits) for s in samples]
    return out


# --- the reference (seed) pipeline -------------------------------------------------------------------

def python_loop_quadruplets(labels, is_fake, dist, strategy: str = "random",
                            rng: random.Random | None = None, lists: bool = False):
    """Reference miner, as the seed wrote it: for each real anchor, Python loops over the batch
    build the lists of its real positives, real negatives and fakes of its identity; one of each
    is picked (``random``: uniformly with ``rng``; ``hard``: farthest positive, nearest negative,
    nearest fake). O(B^2) interpreted steps.

    With ``lists=False`` it reads the batch's tensors element by element (what the seed did);
    ``lists=True`` converts them to Python lists first (the fastest a Python loop gets). Same
    rules and return value as :func:`krypto.learning.miner.mine_quadruplets`: ``(a, p, n, f)`` long
    tensors on the device of ``labels``."""
    device = labels.device if isinstance(labels, torch.Tensor) else torch.device("cpu")
    if lists:
        labels, is_fake, dist = (x.tolist() if isinstance(x, torch.Tensor) else x
                                 for x in (labels, is_fake, dist))
    rng = rng or random.Random(0)
    out = ([], [], [], [])
    size = len(labels)
    for i in range(size):
        if is_fake[i]:
            continue
        pos, neg, fake = [], [], []
        for j in range(size):
            if labels[j] == labels[i]:
                if is_fake[j]:
                    fake.append(j)
                elif j != i:
                    pos.append(j)
            elif not is_fake[j]:
                neg.append(j)
        if not (pos and neg and fake):
            continue
        row = dist[i]
        if strategy == "hard":
            p = max(pos, key=lambda j: row[j])
            n = min(neg, key=lambda j: row[j])
            f = min(fake, key=lambda j: row[j])
        elif strategy == "random":
            p, n, f = rng.choice(pos), rng.choice(neg), rng.choice(fake)
        else:
            raise ValueError(f"unknown mining strategy {strategy!r}")
        for column, value in zip(out, (i, p, n, f)):
            column.append(value)
    return tuple(torch.tensor(column, dtype=torch.long, device=device) for column in out)


class SeedDataset(torch.utils.data.Dataset):
    """The seed's dataset: every access opens the JPEG with PIL, converts, resizes, flips and
    normalises it (torchvision transforms); ``(image, label, is_fake)``."""

    def __init__(self, paths, labels, is_fake, image_size: int):
        from torchvision import transforms

        from krypto.learning.models import IMAGENET_MEAN, IMAGENET_STD

        self.paths, self.labels, self.is_fake = list(paths), list(labels), list(is_fake)
        self.transform = transforms.Compose([
            transforms.Resize((image_size, image_size)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            x = self.transform(img.convert("RGB"))
        return x, int(self.labels[i]), bool(self.is_fake[i])


class SeedQuadrupletLoss(torch.nn.Module):
    """The quadruplet loss of :class:`krypto.learning.losses.VerificationLoss` (same triplet terms, same
    margin and lambda) over tuples of the Python-loop miner."""

    def __init__(self, margin=0.2, lam: float = 1.0, strategy: str = "random", seed: int = 0):
        super().__init__()
        from oml.losses import TripletLoss

        self.triplet = TripletLoss(margin=margin, reduction="mean")
        self.lam, self.strategy, self.rng = lam, strategy, random.Random(seed)

    def forward(self, embeddings, labels, is_fake):
        e = torch.nn.functional.normalize(embeddings.float(), dim=1)
        with torch.no_grad():
            dist = torch.cdist(e, e)
        a, p, n, f = python_loop_quadruplets(labels, is_fake, dist, self.strategy, self.rng)
        if len(a) == 0:
            return e.sum() * 0.0
        return self.triplet(e[a], e[p], e[n]) + self.lam * self.triplet(e[a], e[p], e[f])


class SeedPipeline:
    """The seed's training loop on the rows ``trainer.train_rows`` with the same P x K batches,
    backbone, optimizer and loss as ``trainer``; :meth:`run` trains on ``n_batches`` batches."""

    def __init__(self, trainer, seed: int = 0):
        from krypto.learning.models import build_model
        from krypto.learning.sampler import IdentityBatchSampler

        cfg, index = trainer.config, trainer.data.index
        rows = trainer.train_rows
        self.device, self.use_amp = trainer.device, trainer.use_amp
        labels = index[C.LABEL].to_numpy()[rows]
        is_fake = index[C.IS_FAKE].to_numpy()[rows]
        dataset = SeedDataset(index[C.PATH].to_numpy()[rows], labels, is_fake, cfg.image_size)
        self.sampler = IdentityBatchSampler(labels, is_fake, cfg.P, cfg.K, cfg.n_fake, seed)
        self.loader = torch.utils.data.DataLoader(dataset, batch_sampler=self.sampler)
        torch.manual_seed(seed)
        self.model = build_model(cfg.backbone, False, cfg.embedding_dim).to(self.device)
        self.loss = SeedQuadrupletLoss(cfg.margin, cfg.lam, cfg.mining, seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.epoch, self.batch_images = 0, cfg.P * cfg.K

    def _forward(self, x):
        # the seed normalised in the transform: the model's own normalisation is skipped
        return self.model.head(self.model.backbone(x))

    def run(self, n_batches: int) -> float:
        """Train on ``n_batches`` batches (more epochs of the sampler if needed); seconds."""
        self.model.train()
        done, t0 = 0, _clock(self.device)
        while done < n_batches:
            self.epoch += 1
            self.sampler.set_epoch(self.epoch)
            for x, labels, is_fake in self.loader:
                x = x.to(self.device)
                labels, is_fake = labels.to(self.device), is_fake.to(self.device)
                with torch.autocast(self.device.type, enabled=self.use_amp):
                    e = self._forward(x)
                loss = self.loss(e, labels, is_fake)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                loss.item()  # logged every step
                done += 1
                if done >= n_batches:
                    break
        return _clock(self.device) - t0


class ComputeBound:
    """Forward + backward + optimizer step of the trainer's model class and optimizer on an
    in-memory float batch of the trainer's shape: what the training loop cannot beat."""

    def __init__(self, trainer, seed: int = 0):
        from krypto.learning.models import build_model

        cfg = trainer.config
        self.device, self.use_amp = trainer.device, trainer.use_amp
        torch.manual_seed(seed)
        self.model = build_model(cfg.backbone, False, cfg.embedding_dim).to(self.device)
        channels_last = self.device.type == "cuda"
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        # the same optimizer class with the same settings
        self.optimizer = type(trainer.optimizer)(self.model.parameters(), **trainer.optimizer.defaults)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        x = torch.rand(cfg.P * cfg.K, 3, cfg.image_size, cfg.image_size, device=self.device)
        self.x = x.contiguous(memory_format=torch.channels_last) if channels_last else x

    def step(self) -> None:
        with torch.autocast(self.device.type, enabled=self.use_amp):
            e = self.model(self.x)
        loss = e.float().pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def run(self, n_steps: int) -> float:
        t0 = _clock(self.device)
        for _ in range(n_steps):
            self.step()
        return _clock(self.device) - t0


# --- data --------------------------------------------------------------------------------------------

def default_synth():
    """The generator settings of the embedded default data set."""
    from krypto.data.synth import SynthConfig

    try:
        from krypto.data.synth import PRESETS
    except ImportError:
        return SynthConfig()
    return PRESETS.get("default", SynthConfig())


def synth_config(cfg: BenchConfig, identities: int, test_pairs_per_kind: int = 8):
    """The default data set's generator settings with ``identities`` training identities and
    the benchmark's photos per identity, test identities and JPEG size."""
    return replace(default_synth(), identities=identities, test_identities=cfg.test_identities,
                   real_per_identity=cfg.real_per_identity, fake_per_identity=cfg.fake_per_identity,
                   image_size=cfg.jpeg_size or cfg.image_size,
                   test_pairs_per_kind=test_pairs_per_kind, seed=0)


def pairs_per_kind(cfg: BenchConfig) -> int:
    """Validation pairs per kind that ``prepare`` builds (what evaluate() scores each epoch)."""
    return 200 if cfg.quick else 1000


def write_data(folder: Path, cfg: BenchConfig, synth):
    """The synthetic data set ``synth`` in ``folder/data``, prepared into ``folder/prepared``."""
    from krypto.data.index import prepare
    from krypto.data.synth import write_dataset

    data = write_dataset(folder / "data", synth, progress=False)
    prepared = prepare(data, out_dir=folder / "prepared", progress=False,
                       pairs_per_kind=pairs_per_kind(cfg))
    return data, prepared, synth


def train_config(cfg: BenchConfig, run_dir: Path, device: str, epochs: int = 1):
    from krypto.learning.train import TrainConfig

    return TrainConfig(run_dir=str(run_dir), backbone=cfg.backbone, image_size=cfg.image_size,
                       P=cfg.P, K=cfg.K, epochs=epochs, cutout_part="mouth", cutout_p=0.5,
                       flip_p=0.5, device=device, num_threads=cfg.resolved_threads(),
                       overwrite=True, progress=False)


def fit_epoch(trainer) -> dict:
    """One more epoch of ``trainer.fit()`` (it resumes from its own ``last.pt``); the epoch's
    row as fit() recorded it, plus the wall time of the whole call (validation included)."""
    trainer.config.epochs = trainer.epoch + 1
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # an untrained model's EERs mean nothing here: no need to say
        warnings.filterwarnings("ignore", message=".*similarities have collapsed.*")
        trainer.fit()
    row = dict(trainer.epochs[-1])
    row["fit_call_seconds"] = time.perf_counter() - t0
    return row


# --- the sections ------------------------------------------------------------------------------------

def bench_training(trainer, cfg: BenchConfig, with_seed: bool, log) -> tuple[dict, dict | None]:
    """Sections 1 and 2, interleaved repeat by repeat: compute bound, our loop, the seed's; one
    more bound at the end, so that each epoch of ours is compared with the mean of the bounds
    measured just before and just after it (a machine whose load drifts biases neither way)."""
    steps = len(trainer.sampler)
    batch = cfg.P * cfg.K
    bound = ComputeBound(trainer)
    seed = SeedPipeline(trainer) if with_seed else None
    log(f"  warm-up: 1 epoch of fit() ({steps} steps), the bound and the seed pipeline")
    fit_epoch(trainer)
    bound.run(3)
    if seed is not None:
        seed.run(2)
    ours, seeds, fit_calls = [], [], []
    bound_seconds = [bound.run(steps)]
    for r in range(cfg.repeats):
        row = fit_epoch(trainer)
        o = row["images_per_second"]
        ours.append(o)
        fit_calls.append(row["fit_call_seconds"])
        text = f"  repeat {r + 1}/{cfg.repeats}: bound {steps * batch / bound_seconds[-1]:.1f}, fit() {o:.1f}"
        if seed is not None:
            s = steps * batch / seed.run(steps)
            seeds.append(s)
            text += f", seed pipeline {s:.1f}"
        bound_seconds.append(bound.run(steps))
        log(text + " images/s")
    # the bound of repeat r: the mean time of the bounds measured before and after it
    bounds = [2 * steps * batch / (t0 + t1) for t0, t1 in zip(bound_seconds, bound_seconds[1:])]
    ratios = [o / b for o, b in zip(ours, bounds)]
    training = {
        "loop_images_per_second": measure(_median(ours), "images/s", ours, 2),
        "bound_images_per_second": measure(_median(bounds), "images/s", bounds, 2),
        "ratio_to_bound": measure(_median(ratios), "ratio", ratios),
        "loop_seconds_per_step": measure(batch / _median(ours), "s/step", digits=5),
        "bound_seconds_per_step": measure(batch / _median(bounds), "s/step", digits=5),
        "fit_call_seconds": measure(_median(fit_calls), "s", fit_calls, 3),
        "steps_per_epoch": steps,
        "n_train_images": int(len(trainer.train_rows)),
        "what": "Trainer.fit() per-epoch images_per_second (validation excluded; sampler, uint8 "
                "cache, cutout(mouth)+flip, miner, loss, optimizer step, logging) vs forward + "
                "backward + step of the same model class and optimizer on an in-memory float batch "
                "of the same shape, measured before and after each epoch; ratio = median of "
                "per-repeat ratios",
    }
    if seed is None:
        return training, None
    speedups = [o / s for o, s in zip(ours, seeds)]
    seed_section = {
        "seed_images_per_second": measure(_median(seeds), "images/s", seeds, 2),
        "loop_images_per_second": measure(_median(ours), "images/s", ours, 2),
        "speedup": measure(_median(speedups), "x", speedups),
        "max_possible_speedup": measure(_median([b / s for b, s in zip(bounds, seeds)]), "x"),
        "what": "the seed's pipeline (PIL decode + torchvision Resize/Flip/ToTensor/Normalize per "
                "access, DataLoader num_workers=0 over the same P x K batches, Python-loop miner "
                "on the batch tensors, same backbone, optimizer and quadruplet loss, loss.item() "
                "per step) vs our fit() loop; max_possible_speedup = bound / seed",
    }
    return training, seed_section


def miner_batch(size: int, seed: int = 0):
    """Labels, fake flags and distances of a realistic batch: ``size / 4`` identities x 4
    photos, one of them a fake."""
    g = torch.Generator().manual_seed(seed)
    ids = size // PHOTOS_PER_IDENTITY
    labels = torch.arange(ids).repeat_interleave(PHOTOS_PER_IDENTITY)
    is_fake = (torch.arange(len(labels)) % PHOTOS_PER_IDENTITY) == PHOTOS_PER_IDENTITY - 1
    e = torch.nn.functional.normalize(torch.randn(len(labels), 128, generator=g), dim=1)
    return labels, is_fake, torch.cdist(e, e)


def bench_miner(cfg: BenchConfig, device: torch.device, log) -> dict:
    from krypto.learning.miner import mine_quadruplets

    out = {"what": "ms per call at each batch size (identities x 4 photos, one fake each; "
                   "random strategy); reference = python_loop_quadruplets on the batch tensors "
                   "(the seed), reference_lists = the same loop on Python lists"}
    for size in MINER_BATCHES:
        labels, is_fake, dist = (x.to(device) for x in miner_batch(size))
        g = torch.Generator(device=device).manual_seed(0)
        rng = random.Random(0)
        fns = {
            "ours": lambda: mine_quadruplets(labels, is_fake, dist, "random", g),
            "reference": lambda: python_loop_quadruplets(labels, is_fake, dist, "random", rng),
            "reference_lists": lambda: python_loop_quadruplets(labels, is_fake, dist, "random",
                                                               rng, lists=True),
        }
        times = {name: [] for name in fns}
        fns["ours"](), fns["reference_lists"]()  # warm-up (the seed loop has nothing to warm)
        for _ in range(cfg.repeats):
            for name, fn in fns.items():
                times[name].append(per_call_seconds(fn, cfg.miner_seconds, device) * 1e3)
        ms = {name: _median(t) for name, t in times.items()}
        out[str(size)] = {
            "ours_ms": measure(ms["ours"], "ms/call", times["ours"], 5),
            "reference_ms": measure(ms["reference"], "ms/call", times["reference"], 4),
            "reference_lists_ms": measure(ms["reference_lists"], "ms/call", times["reference_lists"], 4),
            "speedup": measure(ms["reference"] / ms["ours"], "x", digits=1),
            "speedup_vs_lists": measure(ms["reference_lists"] / ms["ours"], "x", digits=2),
        }
        log(f"  batch {size}: ours {ms['ours']:.3f} ms, reference {ms['reference']:.2f} ms, "
            f"reference on lists {ms['reference_lists']:.3f} ms")
    return out


def bench_inference(run_dir: Path, data: Path, cfg: BenchConfig, device: torch.device, log) -> dict:
    """make_submission() on test_public vs the model's forward on in-memory tensors."""
    from krypto.data.images import decode_many
    from krypto.data.layout import read_pairs
    from krypto.challenge.submit import make_submission
    from krypto.learning.train import load_model

    amp = device.type == "cuda"
    pairs_dir = data / C.TEST_DIR
    pairs = read_pairs(pairs_dir)
    paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
    n_images = len(paths)
    model, config = load_model(run_dir, device=device)
    channels_last = device.type == "cuda"
    x = torch.rand(cfg.inference_batch, 3, config.image_size, config.image_size, device=device)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    n_batches = -(-n_images // cfg.inference_batch)

    @torch.no_grad()
    def forward_seconds() -> float:
        t0 = _clock(device)
        for _ in range(n_batches):
            with torch.autocast(device.type, enabled=amp):
                model(x).float()
        return (_clock(device) - t0) * n_images / (n_batches * cfg.inference_batch)

    def submission_seconds() -> float:
        t0 = _clock(device)
        make_submission(run_dir, pairs_dir, None, batch_size=cfg.inference_batch,
                        device=str(device), progress=False, amp=amp)
        return _clock(device) - t0

    def decode_seconds() -> float:  # what make_submission decodes, as it decodes it
        t0 = time.perf_counter()
        decode_many(paths, config.image_size, progress=False)
        return time.perf_counter() - t0

    forward_seconds(), submission_seconds()  # warm-up
    subs, fwds, decs = [], [], []
    for _ in range(cfg.repeats):
        fwds.append(n_images / forward_seconds())
        subs.append(n_images / submission_seconds())
        decs.append(n_images / decode_seconds())
    ratios = [s / f for s, f in zip(subs, fwds)]
    serial = [1 / (1 + f / d) for f, d in zip(fwds, decs)]
    log(f"  make_submission {_median(subs):.1f}, forward {_median(fwds):.1f}, decoding alone "
        f"{_median(decs):.1f} images/s")
    return {
        "submission_images_per_second": measure(_median(subs), "images/s", subs, 2),
        "forward_images_per_second": measure(_median(fwds), "images/s", fwds, 2),
        "ratio_to_forward": measure(_median(ratios), "ratio", ratios),
        "decode_images_per_second": measure(_median(decs), "images/s", decs, 2),
        "ratio_if_decode_then_forward": measure(_median(serial), "ratio", serial),
        "n_images": n_images,
        "batch_size": cfg.inference_batch,
        "what": "krypto.challenge.submit.make_submission on test_public (load the checkpoint, read the "
                "pairs, decode every JPEG, embed, score) vs the model's forward in eval mode on "
                "an in-memory float batch of the same size; decode = krypto.data.images.decode_many "
                "alone; ratio_if_decode_then_forward = 1 / (1 + forward/decode), what decoding "
                "and embedding one after the other allow",
    }


def bench_memory(folder: Path, cfg: BenchConfig, device: torch.device, log) -> dict:
    """Peak RSS of 1 epoch of training in its own subprocess, on a default-sized data set."""
    synth = default_synth()
    if cfg.memory_identities:  # a smoke-sized stand-in
        synth = synth_config(cfg, cfg.memory_identities)
    data, prepared, _ = write_data(folder, cfg, synth)
    job = {"data": str(data), "prepared": str(prepared.folder), "run_dir": str(folder / "run"),
           "pairs_per_kind": pairs_per_kind(cfg),
           "config": asdict(train_config(cfg, folder / "run", str(device)))}
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "krypto.bench", "--memory-child", json.dumps(job)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"the memory subprocess failed:\n{proc.stderr[-3000:]}")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    n = child["n_images"]
    log(f"  peak RSS {child['peak_rss_mib']:.0f} MiB ({n} images, after imports "
        f"{child['rss_after_imports_mib']:.0f} MiB)")
    out = {
        "peak_rss_mib": measure(child["peak_rss_mib"], "MiB", digits=1),
        "rss_after_imports_mib": measure(child["rss_after_imports_mib"], "MiB", digits=1),
        "rss_after_setup_mib": measure(child["rss_after_setup_mib"], "MiB", digits=1),
        "image_cache_mib": measure(child["image_cache_mib"], "MiB", digits=1),
        "train_seconds": measure(child["seconds"], "s", digits=2),
        "n_images": n,
        "n_train_images": child["n_train_images"],
        "dataset": {"identities": synth.identities, "real_per_identity": synth.real_per_identity,
                    "fake_per_identity": synth.fake_per_identity, "jpeg_size": synth.image_size},
        "default_sized": not cfg.memory_identities,
        "what": "ru_maxrss of a subprocess that prepares, builds a Trainer (decodes the uint8 "
                "cache) and runs fit() for 1 epoch with validation",
    }
    if "cuda_peak_mib" in child:
        out["cuda_peak_allocated_mib"] = measure(child["cuda_peak_mib"], "MiB", digits=1)
    return out


def _memory_child(job: dict) -> None:
    import psutil

    from krypto.data.index import prepare
    from krypto.learning.train import TrainConfig, Trainer

    proc = psutil.Process()
    mib = 2**20
    after_imports = proc.memory_info().rss / mib
    config = TrainConfig(**job["config"])
    prepared = prepare(job["data"], out_dir=job["prepared"], progress=False,
                       pairs_per_kind=job["pairs_per_kind"])  # reads what the parent prepared
    trainer = Trainer(config, prepared)
    after_setup = proc.memory_info().rss / mib
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {"peak_rss_mib": peak_kib / 1024, "rss_after_imports_mib": after_imports,
              "rss_after_setup_mib": after_setup,
              "image_cache_mib": trainer.images.numel() * trainer.images.element_size() / mib,
              "n_images": int(len(prepared.index)), "n_train_images": int(len(trainer.train_rows)),
              "seconds": seconds}
    if trainer.device.type == "cuda":
        result["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / mib
    print(json.dumps(result))


def bench_growth(folder: Path, cfg: BenchConfig, device: torch.device, log) -> dict:
    """1 epoch of fit() on data sets of growing size; the cost per image should stay flat.

    Each epoch is also divided by the compute bound measured just before and just after it
    (``relative_cost``), so that a load that drifts between the sizes (the 16x epoch runs
    minutes after the 1x one) does not pass for growth."""
    from krypto.learning.train import Trainer

    rows, bound = [], None
    for k, ids in enumerate(cfg.growth_identities):
        t0 = time.perf_counter()
        _, prepared, _ = write_data(folder / f"x{k}", cfg, synth_config(cfg, ids))
        t1 = time.perf_counter()
        trainer = Trainer(train_config(cfg, folder / f"x{k}" / "run", str(device)), prepared)
        t2 = time.perf_counter()
        batch = trainer.sampler.__iter__().__next__()
        trainer.train_step(np.asarray(batch))  # warm-up of this model and optimizer, untimed
        if bound is None:
            bound, n_bound = ComputeBound(trainer), max(3, min(len(trainer.sampler), 10))
            bound.run(2)
        before = bound.run(n_bound)
        row = fit_epoch(trainer)
        after = bound.run(n_bound)
        bound_ms = 1e3 * (before + after) / (2 * n_bound * cfg.P * cfg.K)
        ms = 1e3 / row["images_per_second"]
        scale = ids / cfg.growth_identities[0]
        rows.append({
            "scale": scale, "identities": ids, "n_images": int(len(prepared.index)),
            "n_train_images": int(len(trainer.train_rows)), "steps": len(trainer.sampler),
            "epoch_seconds": measure(row["seconds"], "s", digits=3),
            "images_per_second": measure(row["images_per_second"], "images/s", digits=2),
            "ms_per_image": measure(ms, "ms/image"),
            "bound_ms_per_image": measure(bound_ms, "ms/image"),
            "relative_cost": measure(ms / bound_ms, "ratio"),
            "setup_seconds": measure(t2 - t1, "s", digits=3),
            "synthesis_and_prepare_seconds": measure(t1 - t0, "s", digits=3),
        })
        log(f"  {scale:g}x ({ids} identities, {len(trainer.train_rows)} training images): "
            f"{row['seconds']:.2f} s/epoch, {row['images_per_second']:.1f} images/s")
    cost = [r["ms_per_image"]["value"] for r in rows]
    relative = [r["relative_cost"]["value"] for r in rows]
    return {
        "sizes": rows,
        "cost_ratio_16x_1x": measure(cost[-1] / cost[0], "ratio"),
        "cost_ratio_4x_1x": measure(cost[1] / cost[0], "ratio"),
        "relative_cost_ratio_16x_1x": measure(relative[-1] / relative[0], "ratio"),
        "what": "1 epoch of Trainer.fit() per data-set size (per-epoch images_per_second it "
                "records, validation excluded; one untimed warm-up step first); setup = "
                "Trainer() incl. decoding the uint8 cache; relative_cost = ms/image divided by "
                "the compute bound's, measured just before and after the epoch; the goal is on "
                "relative_cost_ratio_16x_1x (the raw cost_ratio_16x_1x also moves with the "
                "machine's load)",
    }


# --- goals -------------------------------------------------------------------------------------------

GOALS = (
    # id, section, path to the value, comparison, threshold, what
    ("training_vs_bound", "training", ("ratio_to_bound",), ">=", 0.90,
     "training loop / compute bound"),
    ("loop_vs_seed", "seed_pipeline", ("speedup",), ">=", 2.0, "our loop / seed pipeline"),
    ("miner_speedup_36", "miner", ("36", "speedup"), ">=", 50.0,
     "miner speed-up over the seed's Python loop at batch 36"),
    ("inference_vs_forward", "inference", ("ratio_to_forward",), ">=", 0.85,
     "make_submission / pure forward"),
    ("growth_flat", "growth", ("relative_cost_ratio_16x_1x",), "<=", 1.25,
     "per-image cost 16x / 1x, each relative to the compute bound around it (flat; 1.25 "
     "allowed for noise)"),
)


def evaluate_goals(results: dict, device: str) -> list[dict]:
    goals = []
    for gid, section, path, op, threshold, what in GOALS:
        node = results.get(section)
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue
        value = node["value"]
        passed = value >= threshold if op == ">=" else value <= threshold
        goals.append({"id": gid, "device": device, "what": what, "measured": value,
                      "goal": f"{op} {threshold:g}", "threshold": threshold, "passed": bool(passed),
                      "unit": node["unit"],
                      "margin": round(value / threshold, 3)})
    return goals


# --- the run -----------------------------------------------------------------------------------------

def devices_for(name: str) -> list[torch.device]:
    if name == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} but CUDA is not available; use auto or cpu")
    return [device]


def run_device(cfg: BenchConfig, device: torch.device, folder: Path, log) -> dict:
    from krypto.learning.train import Trainer

    results: dict = {"device": str(device), "amp": device.type == "cuda", "section_seconds": {}}
    wanted = set(cfg.sections)
    t_start = clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        results["section_seconds"][name] = round(now - clock, 1)
        clock = now

    if wanted & {"training", "seed_pipeline", "inference"}:
        log(f"[{device}] data: {cfg.identities} identities")
        data, prepared, synth = write_data(folder / "main", cfg,
                                           synth_config(cfg, cfg.identities, cfg.test_pairs_per_kind))
        results["dataset"] = {"identities": synth.identities, "test_identities": synth.test_identities,
                              "real_per_identity": synth.real_per_identity,
                              "fake_per_identity": synth.fake_per_identity,
                              "jpeg_size": synth.image_size, "n_images": int(len(prepared.index)),
                              "test_pairs": 4 * synth.test_pairs_per_kind}
        trainer = Trainer(train_config(cfg, folder / "main" / "run", str(device)), prepared)
        lap("data")
        log(f"[{device}] 1+2. training loop vs compute bound vs seed pipeline")
        training, seed = bench_training(trainer, cfg, "seed_pipeline" in wanted, log)
        lap("training_and_seed_pipeline")
        if "training" in wanted:
            results["training"] = training
        if seed is not None:
            results["seed_pipeline"] = seed
        if "inference" in wanted:
            log(f"[{device}] 4. inference: make_submission vs forward")
            results["inference"] = bench_inference(trainer.run_dir, data, cfg, device, log)
            lap("inference")
        del trainer
    if "miner" in wanted:
        log(f"[{device}] 3. miner: ours vs the Python loop")
        results["miner"] = bench_miner(cfg, device, log)
        lap("miner")
    if "memory" in wanted:
        log(f"[{device}] 5. peak memory of a training run (subprocess)")
        results["memory"] = bench_memory(folder / "memory", cfg, device, log)
        lap("memory")
    if "growth" in wanted:
        log(f"[{device}] 6. growth: {', '.join(map(str, cfg.growth_identities))} identities")
        results["growth"] = bench_growth(folder / "growth", cfg, device, log)
        lap("growth")
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    return results


def run(cfg: BenchConfig, workdir: str | Path | None = None, keep: bool = False,
        log=print) -> dict:
    """Run the benchmark; returns the content of ``bench.json``."""
    threads = cfg.resolved_threads()
    torch.set_num_threads(threads)
    report = {"command": None,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
              "machine": machine_info(threads),
              "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}}
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
        report["cuda_note"] = ("not measured: no CUDA device" if not torch.cuda.is_available()
                               else f"not measured: --device {cfg.device}")
    if report["cpu"] is None:
        report["cpu_note"] = f"not measured: --device {cfg.device}"
    report["goals"] = [g for d in ("cpu", "cuda") if report[d] for g in evaluate_goals(report[d], d)]
    report["machine"]["load_average_at_end"] = ([round(x, 2) for x in os.getloadavg()]
                                                if hasattr(os, "getloadavg") else None)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


# --- output ------------------------------------------------------------------------------------------

def _fmt(node) -> str:
    if node is None:
        return ""
    value, unit = node["value"], node["unit"]
    if unit == "x":
        return f"{value:.3g}x" if value < 100 else f"{value:.0f}x"
    if unit == "ratio":
        return f"{value:.3f}"
    text = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{text} {unit}"


def table_rows(report: dict) -> list[tuple[str, ...]]:
    """(device, measurement, ours, reference, ratio, goal, result) rows of the table."""
    goals = {(g["device"], g["id"]): g for g in report.get("goals", [])}

    def verdict(device, gid):
        g = goals.get((device, gid))
        return (g["goal"], "PASS" if g["passed"] else "FAIL") if g else ("", "")

    rows = []
    for device in ("cpu", "cuda"):
        r = report.get(device)
        if not r:
            continue
        if "training" in r:
            t = r["training"]
            rows.append((device, "1. training loop vs compute bound", _fmt(t["loop_images_per_second"]),
                         _fmt(t["bound_images_per_second"]), _fmt(t["ratio_to_bound"]),
                         *verdict(device, "training_vs_bound")))
        if "seed_pipeline" in r:
            s = r["seed_pipeline"]
            rows.append((device, "2. our loop vs seed pipeline", _fmt(s["loop_images_per_second"]),
                         _fmt(s["seed_images_per_second"]), _fmt(s["speedup"]),
                         *verdict(device, "loop_vs_seed")))
            rows.append((device, "2. (limit) compute bound vs seed pipeline", "", "",
                         _fmt(s["max_possible_speedup"]), "", ""))
        if "miner" in r:
            for size in MINER_BATCHES:
                m = r["miner"][str(size)]
                gid = "miner_speedup_36" if size == 36 else None
                rows.append((device, f"3. miner, batch {size} (seed loop / lists loop)",
                             _fmt(m["ours_ms"]),
                             f"{_fmt(m['reference_ms'])} / {_fmt(m['reference_lists_ms'])}",
                             f"{_fmt(m['speedup'])} / {_fmt(m['speedup_vs_lists'])}",
                             *(verdict(device, gid) if gid else ("", ""))))
        if "inference" in r:
            i = r["inference"]
            rows.append((device, "4. inference: make_submission vs forward",
                         _fmt(i["submission_images_per_second"]), _fmt(i["forward_images_per_second"]),
                         _fmt(i["ratio_to_forward"]), *verdict(device, "inference_vs_forward")))
            rows.append((device, "4. (limit) decoding alone; decode, then forward",
                         _fmt(i["decode_images_per_second"]), "",
                         _fmt(i["ratio_if_decode_then_forward"]), "", ""))
        if "memory" in r:
            m = r["memory"]
            size = "default-sized" if m["default_sized"] else "smoke-sized"
            rows.append((device, f"5. peak RSS, 1 epoch, {m['n_images']} images ({size})",
                         _fmt(m["peak_rss_mib"]), f"imports {_fmt(m['rss_after_imports_mib'])}",
                         "", "", ""))
        if "growth" in r:
            g = r["growth"]
            for s in g["sizes"]:
                rows.append((device, f"6. growth {s['scale']:g}x: {s['n_train_images']} training "
                             f"images, {_fmt(s['epoch_seconds'])}/epoch",
                             f"{_fmt(s['images_per_second'])} ({_fmt(s['ms_per_image'])})",
                             f"bound {_fmt(s['bound_ms_per_image'])}", _fmt(s["relative_cost"]),
                             "", ""))
            rows.append((device, "6. growth: per-image cost 16x / 1x, raw", "", "",
                         _fmt(g["cost_ratio_16x_1x"]), "", ""))
            rows.append((device, "6. growth: per-image cost 16x / 1x, relative to the bound", "",
                         "", _fmt(g["relative_cost_ratio_16x_1x"]), *verdict(device, "growth_flat")))
    return rows


HEADER = ("device", "measurement", "ours", "reference", "ratio", "goal", "result")


def text_table(report: dict) -> str:
    rows = [HEADER] + table_rows(report)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(report: dict) -> str:
    m = report["machine"]
    cfg = report["config"]
    lines = [
        "# krypto benchmark", "",
        f"`{report.get('command') or 'python -m krypto.bench'}` on {report['date']}, "
        f"{report['seconds']:.0f} s{' (quick smoke version)' if cfg['quick'] else ''}.", "",
        f"Machine: {m['cpu_model']}, {m['cpu_cores_usable']} usable cores of {m['cpu_cores']}, "
        f"torch {m['torch']} with {m['torch_threads']} threads"
        + (f", GPU {m['gpu']}" if m.get("gpu") else "") + "; load average "
        f"{m['load_average_at_start']} at the start, {m['load_average_at_end']} at the end.", "",
        f"Backbone {cfg['backbone']}, {cfg['image_size']} px, batches P x K = {cfg['P']} x "
        f"{cfg['K']}, median of {cfg['repeats']} repeat(s); each ratio is measured side by side in "
        f"one process.", "",
        "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows(report)]
    if report.get("cuda_note"):
        lines += ["", f"CUDA: {report['cuda_note']}."]
    return "\n".join(lines) + "\n"


def write_outputs(report: dict, out: str | Path) -> dict[str, Path]:
    """``out`` (JSON), and next to it ``<stem>.md`` and ``<stem>.txt``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = {"json": out, "md": out.with_suffix(".md"), "txt": out.with_suffix(".txt")}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["md"].write_text(markdown(report))
    paths["txt"].write_text(text_table(report) + "\n")
    return paths


# --- command line ------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m krypto.bench",
                                description="Speed and memory of training, mining and inference, "
                                            "side by side with references, into bench.json")
    p.add_argument("--out", default="bench.json", help="JSON to write (bench.md, bench.txt beside it)")
    p.add_argument("--quick", action="store_true", help="tiny smoke version (< 1 minute)")
    p.add_argument("--device", default="auto", help="auto (CPU, and GPU when present) | cpu | cuda")
    p.add_argument("--backbone", default=None, help="model (default: TrainConfig's, small_cnn)")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--batch", type=int, nargs=2, metavar=("P", "K"), default=None,
                   help="identities x photos per batch (default: TrainConfig's)")
    p.add_argument("--repeats", type=int, default=None, help="median of this many (default 3; quick 1)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    p.add_argument("--jpeg-size", type=int, default=0,
                   help="size of the synthetic JPEGs (default: the training image size)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=None, help="run only these sections")
    p.add_argument("--workdir", default=None, help="keep the data and runs here (default: a "
                                                   "temporary folder, deleted)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
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
    if args.memory_child:
        _memory_child(json.loads(args.memory_child))
        return 0
    cfg = config_from_args(args)
    report = run(cfg, args.workdir, args.keep, log=lambda text: print(text, flush=True))
    report["command"] = " ".join(["python -m krypto.bench",
                                  *(sys.argv[1:] if argv is None else argv)]).strip()
    paths = write_outputs(report, args.out)
    print()
    print(text_table(report))
    print(f"\nwrote {paths['json']}, {paths['md']}, {paths['txt']} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sections 1, 2 and 6: the training loop (fresh 1-epoch fit() runs, after an untimed warm-up)
against its compute bound (a run's step on an in-memory batch) and the seed's pipeline
re-implemented, and its cost per image as the data grows."""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from oml.losses import TripletLoss
from PIL import Image
from torchvision import transforms

from krypto import constants as C
from krypto.bench.common import (
    WHAT,
    BenchConfig,
    clock,
    fit_once,
    measure,
    seconds,
    train_config,
    trained_epoch,
    write_data,
)
from krypto.bench.miner import python_loop_quadruplets
from krypto.learning.device import pick_device
from krypto.learning.models import IMAGENET_MEAN, IMAGENET_STD, build_model, memory_format
from krypto.learning.optim import build_optimizer
from krypto.learning.sampler import IdentityBatchSampler
from krypto.learning.train import Trainer


def training_rows(prepared) -> np.ndarray:
    """Rows of the prepared index in the training split (what the trainer samples from)."""
    return np.flatnonzero(prepared.index[C.SPLIT].to_numpy() == C.TRAIN)


def training_batches(config, prepared, seed: int) -> tuple:
    """The training rows' labels and fake flags, and the trainer's sampler of P x K batches."""
    rows = training_rows(prepared)
    labels, is_fake = (prepared.index[c].to_numpy()[rows] for c in (C.LABEL, C.IS_FAKE))
    sampler = IdentityBatchSampler(labels, is_fake, config.P, config.K, config.n_fake, seed)
    return labels, is_fake, sampler


class SeedDataset(torch.utils.data.Dataset):
    """The seed's dataset: PIL decodes and transforms every photo on every access."""

    def __init__(self, paths, labels, is_fake, image_size: int):
        self.paths, self.labels, self.is_fake = list(paths), list(labels), list(is_fake)
        self.transform = transforms.Compose(
            [
                transforms.Resize((image_size, image_size)),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as img:
            x = self.transform(img.convert("RGB"))
        return x, int(self.labels[i]), bool(self.is_fake[i])


class SeedQuadrupletLoss(torch.nn.Module):
    """The quadruplet loss of ``VerificationLoss`` over tuples of the Python-loop miner."""

    def __init__(self, margin=0.2, lam: float = 1.0, strategy: str = "random", seed: int = 0):
        super().__init__()
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


class _Training:
    """A run's model class (trained from scratch), optimizer and AMP on its device; one step."""

    def __init__(self, config, seed: int = 0):
        self.device = pick_device(config.device)
        self.use_amp = config.amp and self.device.type == "cuda"
        torch.manual_seed(seed)
        self.model = build_model(config.backbone, False, config.embedding_dim).to(self.device)
        self.model.train()
        self.optimizer = build_optimizer(self.model.parameters(), config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def step(self, forward, loss) -> torch.Tensor:
        """One optimizer step of ``loss`` on the embeddings ``forward()`` gives."""
        with torch.autocast(self.device.type, enabled=self.use_amp):
            e = forward()
        value = loss(e)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(value).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value


class ComputeBound(_Training):
    """A run's training step on an in-memory batch: what the training loop cannot beat."""

    def __init__(self, config, seed: int = 0):
        super().__init__(config, seed)
        size = (config.P * config.K, 3, config.image_size, config.image_size)
        self.x = torch.rand(size, device=self.device)
        fmt = memory_format(config.backbone, self.device)  # as the trainer
        self.model = self.model.to(memory_format=fmt)
        self.x = self.x.contiguous(memory_format=fmt)

    def run(self, n_steps: int) -> float:
        def step():
            self.step(lambda: self.model(self.x), lambda e: e.float().pow(2).mean())

        return seconds(step, self.device, n_steps)


class SeedPipeline(_Training):
    """The seed's training loop with a run's batches, backbone, optimizer and loss."""

    def __init__(self, config, prepared, seed: int = 0):
        super().__init__(config, seed)
        labels, is_fake, self.sampler = training_batches(config, prepared, seed)
        paths = prepared.index[C.PATH].to_numpy()[training_rows(prepared)]
        dataset = SeedDataset(paths, labels, is_fake, config.image_size)
        self.loader = torch.utils.data.DataLoader(dataset, batch_sampler=self.sampler)
        self.loss = SeedQuadrupletLoss(config.margin, config.lam, config.mining, seed)
        self.epoch = 0

    def run(self, n_batches: int) -> float:
        """Train on ``n_batches`` batches (more epochs of the sampler if needed); seconds."""
        done, t0 = 0, clock(self.device)
        while done < n_batches:
            self.epoch += 1
            self.sampler.set_epoch(self.epoch)
            for x, labels, is_fake in self.loader:
                x, labels, is_fake = (t.to(self.device) for t in (x, labels, is_fake))
                # the seed normalised in the transform: the model's own normalisation is skipped
                forward = lambda: self.model.head(self.model.backbone(x))  # noqa: B023
                self.step(forward, lambda e: self.loss(e, labels, is_fake)).item()  # noqa: B023
                done += 1
                if done >= n_batches:
                    break
        return clock(self.device) - t0


def bench_training(
    prepared, folder: Path, cfg: BenchConfig, device: str, with_seed: bool, log
) -> tuple[dict, dict | None, Path]:
    """Sections 1 and 2, interleaved repeat by repeat, each epoch of ours against the mean of the
    bounds just before and after it; the two sections and the last repeat's run folder."""
    config = train_config(cfg, folder / "warm-up", device)
    steps = len(training_batches(config, prepared, config.seed)[2])
    batch = cfg.P * cfg.K
    bound = ComputeBound(config)
    seed = SeedPipeline(config, prepared) if with_seed else None
    log(f"  warm-up: 1 epoch of fit() ({steps} steps), the bound and the seed pipeline")
    fit_once(config, prepared)
    bound.run(3)
    if seed is not None:
        seed.run(2)
    ours, seeds, fit_calls = [], [], []
    bound_seconds = [bound.run(steps)]
    run_dir = folder / "warm-up"
    for r in range(cfg.repeats):
        run_dir = folder / f"repeat-{r + 1}"
        metrics = fit_once(replace(config, run_dir=str(run_dir)), prepared)
        o = trained_epoch(metrics)["images_per_second"]
        ours.append(o)
        fit_calls.append(metrics["fit_call_seconds"])
        text = (
            f"  repeat {r + 1}/{cfg.repeats}: bound "
            f"{steps * batch / bound_seconds[-1]:.1f}, fit() {o:.1f}"
        )
        if seed is not None:
            s = steps * batch / seed.run(steps)
            seeds.append(s)
            text += f", seed pipeline {s:.1f}"
        bound_seconds.append(bound.run(steps))
        log(text + " images/s")
    # the bound of repeat r: the mean time of the bounds measured before and after it
    bounds = [2 * steps * batch / (t0 + t1) for t0, t1 in zip(bound_seconds, bound_seconds[1:])]
    ratios = [o / b for o, b in zip(ours, bounds)]
    median = statistics.median
    training = {
        "loop_images_per_second": measure(median(ours), "images/s", ours, 2),
        "bound_images_per_second": measure(median(bounds), "images/s", bounds, 2),
        "ratio_to_bound": measure(median(ratios), "ratio", ratios),
        "loop_seconds_per_step": measure(batch / median(ours), "s/step", digits=5),
        "bound_seconds_per_step": measure(batch / median(bounds), "s/step", digits=5),
        "fit_call_seconds": measure(median(fit_calls), "s", fit_calls, 3),
        "steps_per_epoch": steps,
        "n_train_images": int(len(training_rows(prepared))),
        "what": WHAT["training"],
    }
    if seed is None:
        return training, None, run_dir
    speedups = [o / s for o, s in zip(ours, seeds)]
    seed_section = {
        "seed_images_per_second": measure(median(seeds), "images/s", seeds, 2),
        "loop_images_per_second": measure(median(ours), "images/s", ours, 2),
        "speedup": measure(median(speedups), "x", speedups),
        "max_possible_speedup": measure(median([b / s for b, s in zip(bounds, seeds)]), "x"),
        "what": WHAT["seed_pipeline"],
    }
    return training, seed_section, run_dir


def bench_growth(folder: Path, cfg: BenchConfig, device: str, log) -> dict:
    """1 epoch of fit() on growing data sets, and against the bounds around it."""
    rows, bound = [], None
    for k, ids in enumerate(cfg.growth_identities):
        t0 = time.perf_counter()
        _, prepared, _ = write_data(folder / f"x{k}", cfg, ids)
        t1 = time.perf_counter()
        config = train_config(cfg, folder / f"x{k}" / "run", device)
        # setup: a Trainer decodes the uint8 cache (the run itself builds its own Trainer)
        Trainer(train_config(cfg, folder / f"x{k}" / "setup", device), prepared)
        t2 = time.perf_counter()
        if bound is None:
            warm = Trainer(train_config(cfg, folder / "warm-up", device), prepared)
            warm.train_step(np.arange(cfg.P * cfg.K))  # warm-up of the model and optimizer
            bound, n_bound = ComputeBound(config), 10
            bound.run(2)
        before = bound.run(n_bound)
        metrics = fit_once(config, prepared)
        after = bound.run(n_bound)
        row = trained_epoch(metrics)
        bound_ms = 1e3 * (before + after) / (2 * n_bound * cfg.P * cfg.K)
        ms = 1e3 / row["images_per_second"]
        scale = ids / cfg.growth_identities[0]
        n_train = int(metrics["n_train_images"])
        rows.append(
            {
                "scale": scale,
                "identities": ids,
                "n_images": int(len(prepared.index)),
                "n_train_images": n_train,
                "steps": max(1, n_train // (cfg.P * cfg.K)),
                "epoch_seconds": measure(row["seconds"], "s", digits=3),
                "images_per_second": measure(row["images_per_second"], "images/s", digits=2),
                "ms_per_image": measure(ms, "ms/image"),
                "bound_ms_per_image": measure(bound_ms, "ms/image"),
                "relative_cost": measure(ms / bound_ms, "ratio"),
                "setup_seconds": measure(t2 - t1, "s", digits=3),
                "synthesis_and_prepare_seconds": measure(t1 - t0, "s", digits=3),
            }
        )
        log(
            f"  {scale:g}x ({ids} identities, {n_train} training images): "
            f"{row['seconds']:.2f} s/epoch, {row['images_per_second']:.1f} images/s"
        )
    cost = [r["ms_per_image"]["value"] for r in rows]
    relative = [r["relative_cost"]["value"] for r in rows]
    return {
        "sizes": rows,
        "cost_ratio_16x_1x": measure(cost[-1] / cost[0], "ratio"),
        "cost_ratio_4x_1x": measure(cost[1] / cost[0], "ratio"),
        "relative_cost_ratio_16x_1x": measure(relative[-1] / relative[0], "ratio"),
        "what": WHAT["growth"],
    }

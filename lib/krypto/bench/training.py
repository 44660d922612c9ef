"""Sections 1, 2 and 6: the training loop against its compute bound and against the seed's
pipeline re-implemented, and its cost per image as the data grows."""

from __future__ import annotations

import itertools
import random
import statistics
from dataclasses import replace

import torch
from oml.losses import TripletLoss
from PIL import Image
from torchvision import transforms as T

from krypto import constants as C
from krypto.bench.common import (
    bracketed,
    fit_once,
    measure,
    prepared_data,
    seconds,
    train_config,
    what,
)
from krypto.bench.miner import python_loop_quadruplets
from krypto.learning.models import IMAGENET_MEAN, IMAGENET_STD, build_model, memory_format
from krypto.learning.optim import build_optimizer
from krypto.learning.sampler import IdentityBatchSampler


class ComputeBound:
    """A run's training step (its model class from scratch, optimizer and AMP) on an in-memory
    batch: what the training loop cannot beat. ``step`` is the step of :class:`SeedPipeline`
    too."""

    def __init__(self, config):
        self.device = torch.device(config.device)
        self.amp = config.amp and self.device.type == "cuda"
        torch.manual_seed(config.seed)
        fmt = memory_format(config.backbone, self.device)
        model = build_model(config.backbone, False, config.embedding_dim)
        self.model = model.to(self.device, memory_format=fmt).train()
        self.optimizer = build_optimizer(self.model.parameters(), config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        size = (config.P * config.K, 3, config.image_size, config.image_size)
        self.x = torch.rand(size, device=self.device).contiguous(memory_format=fmt)

    def step(self, x: torch.Tensor, loss, forward=None) -> torch.Tensor:
        with torch.autocast(self.device.type, enabled=self.amp):
            e = (forward or self.model)(x)
        value = loss(e.float())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(value).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value

    def rate(self, steps: int) -> float:
        """Images per second over ``steps`` steps."""
        step = lambda: self.step(self.x, lambda e: e.pow(2).mean())
        return steps * len(self.x) / seconds(step, self.device, steps)


class SeedPipeline(ComputeBound):
    """The seed's pipeline: PIL decodes, resizes, flips and normalises every photo at every access
    (torchvision transforms, a DataLoader without workers, over the run's P x K batches), the
    Python-loop miner on the batch tensors, the same backbone, optimizer and quadruplet loss,
    loss.item() at each step."""

    def __init__(self, config, prepared):
        super().__init__(config)
        index = prepared.index[prepared.index[C.SPLIT] == C.TRAIN]
        self.paths, labels, fake = (index[c].to_numpy() for c in (C.PATH, C.LABEL, C.IS_FAKE))
        self.sampler = IdentityBatchSampler(labels, fake, config.P, config.K, config.n_fake)
        self.labels, self.is_fake = torch.tensor(labels), torch.tensor(fake)
        size = (config.image_size, config.image_size)
        steps = [T.Resize(size), T.RandomHorizontalFlip(), T.ToTensor()]
        self.transform = T.Compose([*steps, T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
        self.loader = torch.utils.data.DataLoader(self, batch_sampler=self.sampler)
        self.triplet, self.lam = TripletLoss(margin=config.margin), config.lam
        self.rng, self.epoch = random.Random(config.seed), 0

    def __getitem__(self, i: int):
        with Image.open(self.paths[i]) as img:
            return self.transform(img.convert("RGB")), self.labels[i], self.is_fake[i]

    def loss(self, e: torch.Tensor, labels, is_fake) -> torch.Tensor:
        e = torch.nn.functional.normalize(e, dim=1)
        with torch.no_grad():
            dist = torch.cdist(e, e)
        a, p, n, f = python_loop_quadruplets(labels, is_fake, dist, rng=self.rng)
        return self.triplet(e[a], e[p], e[n]) + self.lam * self.triplet(e[a], e[p], e[f])

    def seed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model without its own normalisation: the seed normalised in its transform."""
        return self.model.head(self.model.backbone(x))

    def rate(self, steps: int) -> float:
        """Images per second over ``steps`` batches (more epochs of the sampler if needed)."""

        def run():
            done = 0
            while done < steps:
                self.epoch += 1
                self.sampler.set_epoch(self.epoch)
                for x, labels, is_fake in itertools.islice(self.loader, steps - done):
                    loss = lambda e: self.loss(e, labels.to(e.device), is_fake.to(e.device))  # noqa: B023
                    self.step(x.to(self.device), loss, self.seed_forward).item()
                    done += 1

        return steps * len(self.x) / seconds(run, self.device)


def measure_training(ctx) -> dict:
    """Trainer.fit() per-epoch images_per_second of a fresh 1-epoch run (validation excluded;
    sampler, memory-mapped uint8 cache, cutout(mouth) + flip, miner, loss, optimizer step,
    logging) vs forward + backward + step of the same model class and optimizer on an in-memory
    batch of the same shape, measured just before and just after each epoch, after an untimed
    warm-up; ratio = median of the per-repeat ratios. The seed's pipeline (SeedPipeline) runs
    after each epoch, over as many batches."""
    cfg, prepared = ctx.cfg, ctx.data[1]
    config = train_config(cfg, ctx.folder / "warm-up", str(ctx.device))
    bound, seed = ComputeBound(config), SeedPipeline(config, prepared)
    steps, seeds, runs = len(seed.sampler), [], []
    ctx.log(f"  warm-up: 1 epoch of fit() ({steps} steps), the bound and the seed pipeline")
    fit_once(config, prepared), bound.rate(3)
    if "seed_pipeline" in cfg.sections:
        seed.rate(2)

    def ours() -> float:
        ctx.run_dir = ctx.folder / f"repeat-{len(runs) + 1}"
        runs.append(fit_once(replace(config, run_dir=str(ctx.run_dir)), prepared)["epoch"])
        if "seed_pipeline" in cfg.sections:
            seeds.append(seed.rate(steps))
        return runs[-1]["images_per_second"]

    loop, bounds = bracketed(ours, lambda: bound.rate(steps), cfg.repeats)
    ratios, speedups = [o / b for o, b in zip(loop, bounds)], [o / s for o, s in zip(loop, seeds)]
    median, loops = statistics.median, measure(statistics.median(loop), "images/s", loop, 2)
    training = {
        "loop_images_per_second": loops,
        "bound_images_per_second": measure(median(bounds), "images/s", bounds, 2),
        "ratio_to_bound": measure(median(ratios), "ratio", ratios),
        "steps_per_epoch": steps,
        "what": what(measure_training),
    }
    if not seeds:
        return {"training": training}
    seed_pipeline = {
        "seed_images_per_second": measure(median(seeds), "images/s", seeds, 2),
        "loop_images_per_second": loops,
        "speedup": measure(median(speedups), "x", speedups),
        "max_possible_speedup": measure(median(bounds) / median(seeds), "x"),
        "what": what(SeedPipeline) + " Against our loop; max_possible_speedup = bound / seed.",
    }
    return {"training": training, "seed_pipeline": seed_pipeline}


def measure_growth(ctx) -> dict:
    """1 epoch of a fresh Trainer.fit() run per data-set size (the images_per_second it records,
    validation excluded) against the compute bound measured just before and after it:
    relative_cost = ms per image / the bound's. The goal is on relative_cost_ratio_16x_1x (the
    raw cost ratio also moves with the machine's load)."""
    cfg, rows, device = ctx.cfg, [], str(ctx.device)
    bound = ComputeBound(train_config(cfg, ctx.folder, device))
    for ids in cfg.growth_identities:
        folder = ctx.folder / f"growth-{ids}"
        prepared = prepared_data(folder, cfg, ids)[1]
        if not rows:  # a warm-up of the model, the optimizer, the loss and the bound
            fit_once(train_config(cfg, folder / "warm-up", device), prepared), bound.rate(2)
        config, epochs = train_config(cfg, folder / "run", device), []
        ours = lambda: epochs.append(fit_once(config, prepared)["epoch"])  # noqa: B023
        _, (bound_rate,) = bracketed(ours, lambda: bound.rate(10), 1)
        ms, bound_ms = 1e3 / epochs[0]["images_per_second"], 1e3 / bound_rate
        rows.append(
            {
                "scale": ids / cfg.growth_identities[0],
                "identities": ids,
                "n_train_images": int((prepared.index[C.SPLIT] == C.TRAIN).sum()),
                "epoch_seconds": measure(epochs[0]["seconds"], "s", digits=3),
                "images_per_second": measure(1e3 / ms, "images/s", digits=2),
                "ms_per_image": measure(ms, "ms/image"),
                "bound_ms_per_image": measure(bound_ms, "ms/image"),
                "relative_cost": measure(ms / bound_ms, "ratio"),
            }
        )
        ctx.log(f"  {ids} identities: {epochs[0]['seconds']:.2f} s/epoch, {1e3 / ms:.1f} images/s")
    cost, relative = ([r[k]["value"] for r in rows] for k in ("ms_per_image", "relative_cost"))
    growth = {
        "sizes": rows,
        "cost_ratio_16x_1x": measure(cost[-1] / cost[0], "ratio"),
        "relative_cost_ratio_16x_1x": measure(relative[-1] / relative[0], "ratio"),
    }
    return {"growth": {**growth, "what": what(measure_growth)}}

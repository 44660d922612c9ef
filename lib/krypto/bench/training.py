"""Section 1: the training loop against its compute bound."""

import statistics
from dataclasses import replace

import torch

from krypto import constants as C
from krypto.bench.common import bracketed, fit_once, measure, seconds, train_config, what
from krypto.learning.device import mixed_precision
from krypto.learning.models import build_model, memory_format
from krypto.learning.optim import build_optimizer
from krypto.learning.sampler import IdentityBatchSampler


class ComputeBound:
    """A run's training step (its model class from scratch, optimizer and mixed precision as the
    training loop chooses it: bfloat16 on a CPU that computes it natively) on an in-memory batch
    ``[P * K, 3, image_size, image_size]``: what the training loop cannot beat."""

    def __init__(self, config):
        self.device = torch.device(config.device)
        self.amp, scaled = mixed_precision(config.amp, self.device)
        torch.manual_seed(config.seed)
        fmt = memory_format(config.backbone, self.device)
        model = build_model(pretrained=False, **config.model_args())
        self.model = model.to(self.device, memory_format=fmt).train()
        self.optimizer = build_optimizer(self.model.parameters(), config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=scaled)
        size = (config.P * config.K, 3, config.input_size, config.input_size)
        self.x = torch.rand(size, device=self.device).contiguous(memory_format=fmt)

    def step(self) -> None:
        with torch.autocast(self.device.type, enabled=self.amp):
            e = self.model(self.x)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(e.float().pow(2).mean()).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def rate(self, steps: int) -> float:
        """Images per second over ``steps`` steps."""
        return steps * len(self.x) / seconds(self.step, self.device, steps)


def measure_training(ctx) -> dict:
    """Trainer.fit() per-epoch images_per_second of a fresh 1-epoch run (validation excluded;
    sampler, memory-mapped uint8 cache, cutout(mouth) + flip, miner, loss, optimizer step,
    logging) vs forward + backward + step of the same model class and optimizer on an in-memory
    batch of the same shape, measured just before and just after each epoch, after an untimed
    warm-up; ratio = median of the per-repeat ratios."""
    cfg, prepared = ctx.cfg, ctx.data[1]
    config = train_config(cfg, ctx.folder / "warm-up", str(ctx.device))
    train = prepared.index[prepared.index[C.SPLIT] == C.TRAIN]
    labels, fake = (train[column].to_numpy() for column in (C.LABEL, C.IS_FAKE))
    steps = len(IdentityBatchSampler(labels, fake, config.P, config.K, config.n_fake))
    bound, runs = ComputeBound(config), []
    ctx.log(f"  warm-up: 1 epoch of fit() ({steps} steps) and the bound")
    fit_once(config, prepared), bound.rate(3)

    def ours() -> float:
        ctx.run_dir = ctx.folder / f"repeat-{len(runs) + 1}"
        runs.append(fit_once(replace(config, run_dir=str(ctx.run_dir)), prepared)["epoch"])
        return runs[-1]["images_per_second"]

    loop, bounds = bracketed(ours, lambda: bound.rate(steps), cfg.repeats)
    ratios = [o / b for o, b in zip(loop, bounds)]
    training = {
        "loop_images_per_second": measure(statistics.median(loop), "images/s", loop, 2),
        "bound_images_per_second": measure(statistics.median(bounds), "images/s", bounds, 2),
        "ratio_to_bound": measure(statistics.median(ratios), "ratio", ratios),
        "steps_per_epoch": steps,
        "what": what(measure_training),
    }
    return {"training": training}

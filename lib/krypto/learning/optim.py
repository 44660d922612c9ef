"""The optimiser of a training run and its learning-rate schedule."""

import math

import torch

from krypto.learning.config import TrainConfig


def build_optimizer(params: list, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (L2 weight decay in the gradient), AdamW (decoupled decay) or SGD with momentum 0.9."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    """The rate's factor per step: a linear warm-up over the first ``warmup_epochs`` (of
    ``total_steps / epochs`` steps each), then a cosine decay to 0 at ``total_steps``
    (``schedule="cosine"``) or a constant rate."""
    warm = cfg.warmup_epochs * total_steps / cfg.epochs

    def rate(step: int) -> float:
        decay = 1.0
        if cfg.schedule == "cosine":
            decay = 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        return min(1.0, (step + 1) / warm) * decay if warm else decay

    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)

"""The optimiser of a training run and its learning-rate schedule."""

from __future__ import annotations

import math

import torch

from krypto.learning.config import TrainConfig


def build_optimizer(params: list, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    """A cosine decay over ``total_steps`` (``schedule="cosine"``) or a constant rate."""
    total = total_steps
    if cfg.schedule == "cosine":
        rate = lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    else:
        rate = lambda step: 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)

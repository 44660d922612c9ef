"""Vectorised mining of triplets and real/fake quadruplets inside a batch.

open-metric-learning and pytorch-metric-learning mine triplets from labels alone; this task also
needs, for each real anchor, a fake *of its own identity*, and keeps fakes out of the other
roles. The miner works with masks over the batch's distance matrix, without a Python loop.

Every function takes ``labels`` ``[B]`` (identity), ``is_fake`` ``[B]`` (bool) and a distance
matrix ``dist`` ``[B, B]``, and returns index tensors ``[T]`` (empty without a valid tuple).
"""

from __future__ import annotations

import torch

STRATEGIES = ("random", "hard")


def _pick(
    masks: torch.Tensor,
    dist: torch.Tensor,
    hardest: tuple[str, ...],
    strategy: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """For each row of each mask ``[R, A, B]``, one column where it is True: uniformly at
    random, or the hardest one (``hardest[r]``: ``'far'``, the largest distance of ``dist``
    ``[A, B]``; ``'near'``, the smallest). Returns ``[R, A]``."""
    if strategy == "random":
        # drawn on the CPU from the run's seeded generator and moved: the same picks on every
        # device (CUDA refuses a CPU generator for a draw made on the GPU)
        score = torch.rand(masks.shape, generator=generator).to(masks.device)
    elif strategy == "hard":
        score = torch.stack([dist if h == "far" else -dist for h in hardest])
    else:
        raise ValueError(f"unknown mining strategy {strategy!r}; choose one of {STRATEGIES}")
    return score.masked_fill_(~masks, float("-inf")).argmax(dim=2)


def mine_triplets(labels, dist, strategy: str = "random", generator=None):
    """Triplets by label alone (a fake counts as a member of its identity): for every sample
    with a positive and a negative in the batch, one of each. Returns ``(a, p, n)``."""
    same = labels[:, None] == labels[None, :]
    pos = same.clone().fill_diagonal_(False)
    neg = ~same
    anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
    p, n = _pick(
        torch.stack([pos[anchors], neg[anchors]]),
        dist[anchors],
        ("far", "near"),
        strategy,
        generator,
    )
    return anchors, p, n


def mine_quadruplets(labels, is_fake, dist, strategy: str = "random", generator=None):
    """For every real anchor that has them in the batch: a real positive of its identity, a real
    negative of another identity and a fake of its own identity. Returns ``(a, p, n, f)``, the
    same on every device."""
    same = labels[:, None] == labels[None, :]
    real = ~is_fake
    pos = (same & real[None, :]).fill_diagonal_(False)
    neg = ~same & real[None, :]
    fake = same & is_fake[None, :]
    anchors = torch.nonzero(real & pos.any(1) & neg.any(1) & fake.any(1)).flatten()
    masks = torch.stack([pos[anchors], neg[anchors], fake[anchors]])
    p, n, f = _pick(masks, dist[anchors], ("far", "near", "near"), strategy, generator)
    return anchors, p, n, f

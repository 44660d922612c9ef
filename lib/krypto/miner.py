"""Vectorised mining of triplets and real/fake quadruplets inside a batch.

open-metric-learning and pytorch-metric-learning mine triplets from labels alone; this task also
needs, for each real anchor, a fake *of its own identity*, and must keep fakes out of the
anchor/positive/negative-real roles. That miner is written here, with masks over the batch's
distance matrix and no Python loop over the batch (the loop costs O(B^2) interpreted steps).

Every function takes ``labels`` ``[B]`` (identity), ``is_fake`` ``[B]`` (bool) and a distance
matrix ``dist`` ``[B, B]``, and returns index tensors ``[T]``; a batch with no valid tuple
returns empty tensors.
"""

from __future__ import annotations

import torch

STRATEGIES = ("random", "hard")


def _pick(mask: torch.Tensor, dist: torch.Tensor, strategy: str, hardest: str,
          generator: torch.Generator | None) -> torch.Tensor:
    """For each row of ``mask`` ``[A, B]``, one column where it is True: uniformly at random, or
    the hardest one (``hardest='far'``: largest distance, ``'near'``: smallest)."""
    if strategy == "random":
        score = torch.rand(mask.shape, generator=generator, device=mask.device)
    elif strategy == "hard":
        score = dist if hardest == "far" else -dist
    else:
        raise ValueError(f"unknown mining strategy {strategy!r}; choose one of {STRATEGIES}")
    return score.masked_fill(~mask, float("-inf")).argmax(dim=1)


def _masks(labels: torch.Tensor, is_fake: torch.Tensor):
    same = labels[:, None] == labels[None, :]
    not_self = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    real = ~is_fake
    return same, not_self, real


def mine_triplets(labels, dist, strategy: str = "random", generator=None):
    """Triplets by label alone (a fake counts as a member of its identity): for every sample
    with a positive and a negative in the batch, one of each. Returns ``(a, p, n)``."""
    same = labels[:, None] == labels[None, :]
    not_self = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos, neg = same & not_self, ~same
    anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
    p = _pick(pos[anchors], dist[anchors], strategy, "far", generator)
    n = _pick(neg[anchors], dist[anchors], strategy, "near", generator)
    return anchors, p, n


def mine_quadruplets(labels, is_fake, dist, strategy: str = "random", generator=None):
    """For every real anchor that has them in the batch: a real positive of its identity, a real
    negative of another identity and a fake of its own identity. Returns ``(a, p, n, f)``."""
    same, not_self, real = _masks(labels, is_fake)
    pos = same & not_self & real[None, :]
    neg = ~same & real[None, :]
    fake = same & is_fake[None, :]
    valid = real & pos.any(1) & neg.any(1) & fake.any(1)
    anchors = torch.nonzero(valid).flatten()
    p = _pick(pos[anchors], dist[anchors], strategy, "far", generator)
    n = _pick(neg[anchors], dist[anchors], strategy, "near", generator)
    f = _pick(fake[anchors], dist[anchors], strategy, "near", generator)
    return anchors, p, n, f

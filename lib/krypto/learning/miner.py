"""Mining of triplets and real/fake quadruplets inside a batch, with masks over its distance
matrix ``dist`` ``[B, B]`` (no Python loop). open-metric-learning and pytorch-metric-learning mine
triplets from labels alone; this task also needs, for each real anchor, a fake *of its own
identity*, and keeps fakes out of the other roles. ``labels`` ``[B]``: identities; ``is_fake``
``[B]``: bool. The miners return index tensors ``[T]`` (empty without a valid tuple).
"""

import torch

STRATEGIES = ("random", "hard")


def role_masks(labels, is_fake) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which photo (column) may play which role for which photo (row), each ``[B, B]``: a real
    positive (another real photo of its identity), a real negative (a real photo of another
    identity) and a fake of its identity."""
    same = labels[:, None] == labels[None, :]
    real = ~is_fake[None, :]
    return (same & real).fill_diagonal_(False), ~same & real, same & is_fake[None, :]


def _mine(
    masks: list[torch.Tensor],
    hardest: tuple[str, ...],
    anchors_allowed: torch.Tensor | None,
    dist: torch.Tensor,
    strategy: str,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, ...]:
    """The anchors: the rows where every mask ``[B, B]`` has a True (among ``anchors_allowed``
    ``[B]``); for each, one column of each mask where it is True: uniformly at random, or the
    hardest (``hardest[r]``: ``'far'``, the largest distance of ``dist``; ``'near'``, the
    smallest). Returns ``(anchors, one pick per mask)``, each ``[T]``."""
    usable = torch.stack([m.any(1) for m in masks]).all(0)
    if anchors_allowed is not None:
        usable &= anchors_allowed
    anchors = torch.nonzero(usable).flatten()
    chosen = torch.stack([m[anchors] for m in masks])  # [R, T, B]
    if strategy == "random":
        # drawn on the CPU from the run's seeded generator and moved: the same picks on every
        # device (CUDA refuses a CPU generator for a draw made on the GPU)
        score = torch.rand(chosen.shape, generator=generator).to(chosen.device)
    elif strategy == "hard":
        score = torch.stack([dist[anchors] if h == "far" else -dist[anchors] for h in hardest])
    else:
        raise ValueError(f"unknown mining strategy {strategy!r}; choose one of {STRATEGIES}")
    return anchors, *score.masked_fill_(~chosen, float("-inf")).argmax(dim=2)


def mine_triplets(labels, dist, strategy: str = "random", generator=None):
    """Triplets by label alone (a fake counts as a member of its identity): for every sample
    with a positive and a negative in the batch, one of each. Returns ``(a, p, n)``."""
    same = labels[:, None] == labels[None, :]
    pos = same.clone().fill_diagonal_(False)
    return _mine([pos, ~same], ("far", "near"), None, dist, strategy, generator)


def mine_quadruplets(labels, is_fake, dist, strategy: str = "random", generator=None):
    """For every real anchor that has them in the batch: a real positive of its identity, a real
    negative of another identity and a fake of its own identity. Returns ``(a, p, n, f)``, the
    same on every device."""
    masks = list(role_masks(labels, is_fake))
    return _mine(masks, ("far", "near", "near"), ~is_fake, dist, strategy, generator)

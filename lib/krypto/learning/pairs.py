"""A pairwise loss on explicit pairs with an adaptive margin (a public solution of the same
challenge): binary cross-entropy on ``scale * (cos - margin * y)``, where the margin of a
positive pair grows as the pair gets harder, ``0.35 + 0.1 * (1 - cos)``.

The pairs come from the batch (P identities x K photos, fakes included): every pair of two real
photos of one identity is a positive; as negatives, real photos of two identities and a real
photo with a fake of its own identity, each drawn down to half the number of positives. Drawn
on the CPU from the run's seeded generator, so every device makes the same pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAIR_SCALE = 64.0  # s: the logits' scale
MARGIN_BASE = 0.35  # a positive pair's margin at cos = 1
MARGIN_SLOPE = 0.1  # the margin grows by this much as cos falls from 1 to 0
NEGATIVES_PER_POSITIVE = 0.5  # of each negative kind, as a share of the positives
POSITIVE, NEGATIVE_REAL, NEGATIVE_FAKE = 0, 1, 2  # pair kinds


def mine_pairs(
    labels: torch.Tensor, is_fake: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Pairs of a batch with labels ``[B]`` and fake flags ``[B]``: index tensors ``a``, ``b``
    ``[N]`` and their kind ``[N]`` (:data:`POSITIVE`, :data:`NEGATIVE_REAL`,
    :data:`NEGATIVE_FAKE`), on the CPU. Empty tensors when the batch has no positive pair."""
    labels, is_fake = labels.cpu(), is_fake.cpu()
    same = labels[:, None] == labels[None, :]
    real = ~is_fake
    upper = torch.ones_like(same).triu(1)
    groups = {
        POSITIVE: same & real[:, None] & real[None, :] & upper,
        NEGATIVE_REAL: ~same & real[:, None] & real[None, :] & upper,
        NEGATIVE_FAKE: same & real[:, None] & is_fake[None, :],
    }
    pos = torch.nonzero(groups[POSITIVE])
    n_neg = int(len(pos) * NEGATIVES_PER_POSITIVE) if len(pos) else 0
    picked = [(pos, POSITIVE)]
    for kind in (NEGATIVE_REAL, NEGATIVE_FAKE):
        pairs = torch.nonzero(groups[kind])
        order = torch.randperm(len(pairs), generator=generator)[: max(n_neg, 1 if len(pos) else 0)]
        picked.append((pairs[order], kind))
    a = torch.cat([p[:, 0] for p, _ in picked])
    b = torch.cat([p[:, 1] for p, _ in picked])
    kind = torch.cat([torch.full((len(p),), k, dtype=torch.long) for p, k in picked])
    return a, b, kind


def adaptive_margin_bce(cos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pair loss ``[N]``: BCE of ``PAIR_SCALE * (cos - margin * target)`` against
    ``target`` (1 for a positive pair), the margin ``MARGIN_BASE + MARGIN_SLOPE * (1 - cos)``
    taken as a constant of the step."""
    margin = (MARGIN_BASE + MARGIN_SLOPE * (1 - cos)).detach()
    logits = PAIR_SCALE * (cos - margin * target)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def pairwise_terms(
    unit: torch.Tensor,
    labels: torch.Tensor,
    is_fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> dict:
    """The pairwise loss of L2-normalised embeddings ``unit`` ``[B, D]``, split in two terms:
    ``loss_real`` (positives and real negatives) and ``loss_fake`` (a real photo with its own
    identity's fake), each a mean over its pairs (zero, in the graph, without pairs), with the
    pair counts ``n_pairs`` and ``n_fake_pairs``."""
    a, b, kind = mine_pairs(labels, is_fake, generator)
    a, b, kind = a.to(unit.device), b.to(unit.device), kind.to(unit.device)
    cos = (unit[a] * unit[b]).sum(1)
    per_pair = adaptive_margin_bce(cos, (kind == POSITIVE).float())
    fake = kind == NEGATIVE_FAKE
    zero = unit.sum() * 0.0
    return {
        "loss_real": per_pair[~fake].mean() if (~fake).any() else zero,
        "loss_fake": per_pair[fake].mean() if fake.any() else zero,
        "n_pairs": int((~fake).sum()),
        "n_fake_pairs": int(fake.sum()),
    }

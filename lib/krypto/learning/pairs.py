"""A pairwise loss on explicit pairs with an adaptive margin (a public solution of the same
challenge): binary cross-entropy on ``scale * (cos - margin * y)``, where the margin of a
positive pair grows as the pair gets harder, ``0.35 + 0.1 * (1 - cos)``. From a batch, every
pair of two real photos of one identity is a positive; the negatives (real photos of two
identities; a real photo with a fake of its own identity) are drawn down to half the number of
positives each, on the CPU from the run's seeded generator.
"""

import torch
import torch.nn.functional as F

from krypto.learning.miner import role_masks

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
    positive, negative, fake = (m & ~is_fake[:, None] for m in role_masks(labels, is_fake))
    upper = torch.ones_like(positive).triu(1)  # each pair of two real photos once
    pos = torch.nonzero(positive & upper)
    n_neg = max(int(len(pos) * NEGATIVES_PER_POSITIVE), 1) if len(pos) else 0
    picked = [(pos, POSITIVE)]
    negatives = {NEGATIVE_REAL: negative & upper, NEGATIVE_FAKE: fake}
    for kind, mask in negatives.items():
        pairs = torch.nonzero(mask)
        picked.append((pairs[torch.randperm(len(pairs), generator=generator)[:n_neg]], kind))
    a, b = torch.cat([p for p, _ in picked]).unbind(1)
    kind = torch.cat([torch.full((len(p),), k, dtype=torch.long) for p, k in picked])
    return a, b, kind


def adaptive_margin_bce(cos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pair loss ``[N]``: BCE of ``PAIR_SCALE * (cos - margin * target)`` against ``target`` (1
    for a positive pair), the margin ``MARGIN_BASE + MARGIN_SLOPE * (1 - cos)`` detached."""
    margin = (MARGIN_BASE + MARGIN_SLOPE * (1 - cos)).detach()
    logits = PAIR_SCALE * (cos - margin * target)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def pairwise_terms(
    unit: torch.Tensor,
    labels: torch.Tensor,
    is_fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """The pairwise loss of L2-normalised embeddings ``unit`` ``[B, D]`` in two terms, each a
    mean over its pairs (zero, in the graph, without pairs): ``(loss_real, loss_fake, n_pairs,
    n_fake_pairs)``, ``loss_real`` over the positives and real negatives, ``loss_fake`` over a
    real photo with its own identity's fake."""
    a, b, kind = (t.to(unit.device) for t in mine_pairs(labels, is_fake, generator))
    cos = (unit[a] * unit[b]).sum(1)
    per_pair = adaptive_margin_bce(cos, (kind == POSITIVE).float())
    fake = kind == NEGATIVE_FAKE
    zero = unit.sum() * 0.0
    loss_real = per_pair[~fake].mean() if (~fake).any() else zero
    loss_fake = per_pair[fake].mean() if fake.any() else zero
    return loss_real, loss_fake, int((~fake).sum()), int(fake.sum())

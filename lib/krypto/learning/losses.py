"""Losses over a batch of embeddings with identity labels and real/fake flags; embeddings are
L2-normalised before the metric terms, so distances lie in [0, 2].

* ``triplet``: open-metric-learning's ``TripletLoss`` over triplets mined by label alone, a fake
  counted as a member of its identity.
* ``quadruplet``: ``triplet(a, p, n_real) + lam * triplet(a, p, fake_of_a)`` over real anchors
  (:func:`krypto.learning.miner.mine_quadruplets`).
* ``pairwise``: :mod:`krypto.learning.pairs`, its own-fake negatives weighted by ``lam``.
* heads, added to either: ``cosine`` (Baseline++, :class:`CosineHead`) and ``arcface``
  (open-metric-learning's ``ArcFaceLoss``).
* ``detector`` > 0: a fake detector's binary cross-entropy (:mod:`krypto.learning.detectors`).
* ``fakes_as_class``: each identity's fakes become a class of their own for the metric term and
  the head; the fake term still mines each anchor's own fakes.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from oml.losses import ArcFaceLoss, TripletLoss
from torch import nn

from krypto.learning.miner import STRATEGIES, mine_quadruplets, mine_triplets, role_masks
from krypto.learning.pairs import pairwise_terms

LOSSES = ("triplet", "quadruplet", "pairwise")
HEADS = ("none", "cosine", "arcface")


class CosineHead(nn.Module):
    """Baseline++ classifier: logits = cos(embedding, class weight) / temperature."""

    def __init__(self, embedding_dim: int, n_classes: int, temperature: float = 0.05):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)
        self.temperature = temperature

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = F.linear(F.normalize(embeddings, dim=1), F.normalize(self.weight, dim=1))
        return F.cross_entropy(logits / self.temperature, labels)


@dataclass
class LossConfig:
    loss: str = "quadruplet"
    lam: float = 1.0
    margin: float | None = 0.2  # None: soft margin, log(1 + exp(d_ap - d_an))
    mining: str = "random"
    head: str = "none"
    fakes_as_class: bool = False
    detector: float = 0.0  # weight of the fake detector's binary cross-entropy

    def validate(self) -> None:
        for name, allowed in (("loss", LOSSES), ("head", HEADS), ("mining", STRATEGIES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose one of {allowed}")
        for name in ("lam", "detector"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.margin is not None and self.margin <= 0:
            raise ValueError(f"margin must be > 0 or None (soft margin), got {self.margin}")


def batch_distances(dist: torch.Tensor, labels, is_fake) -> dict[str, float]:
    """Mean distances ``dist`` ``[B, B]`` from the batch's real photos to the other real photos of
    their identity (``dist_pos``), to real photos of other identities (``dist_neg``) and to their
    identity's fakes (``dist_fake``): what the distance curves show, whatever the loss mines."""
    masks = [m & ~is_fake[:, None] for m in role_masks(labels, is_fake)]
    names = ("dist_pos", "dist_neg", "dist_fake")
    return {k: dist[m].mean().item() if m.any() else float("nan") for k, m in zip(names, masks)}


class VerificationLoss(nn.Module):
    """The training objective chosen by a :class:`LossConfig`: ``forward(embeddings [B, D],
    labels [B], is_fake [B], fake_logits [B] | None)`` returns the loss and a dict of logs (each
    term, the number of mined tuples and the batch distances); ``fake_logits``: a fake
    detector's, its cross-entropy added with weight ``detector``."""

    def __init__(
        self,
        config: LossConfig,
        embedding_dim: int,
        n_classes: int,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        config.validate()
        self.config = config
        self.triplet = TripletLoss(margin=config.margin, reduction="mean")
        self.generator = generator
        classes = 2 * n_classes if config.fakes_as_class else n_classes
        self.n_classes = n_classes
        if config.head == "cosine":
            self.head = CosineHead(embedding_dim, classes)
        elif config.head == "arcface":
            self.head = ArcFaceLoss(embedding_dim, classes, m=0.3, s=30)
        else:
            self.head = None

    def _triplet(self, e, a, p, n, zero):
        return self.triplet(e[a], e[p], e[n]) if len(a) else zero

    def forward(self, embeddings, labels, is_fake, fake_logits=None):
        cfg = self.config
        e = F.normalize(embeddings.float(), dim=1)
        with torch.no_grad():
            dist = torch.cdist(e, e)
        logs = batch_distances(dist, labels, is_fake)
        zero = e.sum() * 0.0  # a term without tuples: zero, still part of the graph
        classes = labels + is_fake.long() * self.n_classes if cfg.fakes_as_class else labels
        loss_fake, n_fake = zero, 0
        if cfg.loss == "pairwise":
            loss_real, loss_fake, n_tuples, n_fake = pairwise_terms(
                e, labels, is_fake, self.generator
            )
            n_fake = n_fake if cfg.lam > 0 else 0
        else:
            if cfg.loss == "quadruplet":  # real anchors, positives and negatives; own fakes
                a, p, n, f = mine_quadruplets(labels, is_fake, dist, cfg.mining, self.generator)
                if cfg.lam > 0:
                    loss_fake, n_fake = self._triplet(e, a, p, f, zero), len(a)
            if cfg.loss == "triplet" or cfg.fakes_as_class:  # every photo, by ``classes``
                a, p, n = mine_triplets(classes, dist, cfg.mining, self.generator)
            loss_real, n_tuples = self._triplet(e, a, p, n, zero), len(a)
        loss = loss_real + cfg.lam * loss_fake
        logs.update(
            loss_real=loss_real.item(),
            loss_fake=loss_fake.item(),
            n_tuples=n_tuples,
            n_fake_tuples=n_fake,
        )
        if self.head is not None:
            keep = torch.ones_like(is_fake) if cfg.fakes_as_class else ~is_fake
            loss_head = self.head(embeddings[keep].float(), classes[keep]) if keep.any() else zero
            loss = loss + loss_head
            logs.update(loss_head=loss_head.item(), n_head=int(keep.sum()))
        if fake_logits is not None and cfg.detector > 0:
            loss_detector = F.binary_cross_entropy_with_logits(fake_logits.float(), is_fake.float())
            loss = loss + cfg.detector * loss_detector
            logs.update(loss_detector=loss_detector.item(), n_detector=len(fake_logits))
        logs["loss"] = loss.item()
        return loss, logs

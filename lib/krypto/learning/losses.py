"""Losses over a batch of embeddings with identity labels and real/fake flags.

* ``triplet``: the baseline, open-metric-learning's ``TripletLoss`` over triplets mined by label
  alone, a fake counted as a member of its identity.
* ``quadruplet``: ``triplet(a, p, n_real) + lam * triplet(a, p, fake_of_a)`` over real anchors
  (:func:`krypto.learning.miner.mine_quadruplets`). The fake term is always applied when
  ``lam > 0``.
* heads, added to either: ``cosine`` (Baseline++: a weight-normalised linear layer over
  L2-normalised real embeddings, cross-entropy over identities with a temperature) and
  ``arcface`` (open-metric-learning's ``ArcFaceLoss``).
* ``pairwise``: binary cross-entropy with an adaptive margin on explicit pairs of the batch
  (:mod:`krypto.learning.pairs`), its own-fake negatives weighted by ``lam``.
* ``detector`` > 0: a fake detector's binary cross-entropy over every photo of the batch, added
  with that weight (a real/fake head or a forgery branch: :mod:`krypto.learning.detectors`).
* ``fakes_as_class``: each identity's fakes become a class of their own before any of the above
  (with ``quadruplet``, the metric term is then the triplet loss over every photo by those
  classes, and the fake term is added to it; with ``pairwise``, the own-fake pairs stay
  negatives).

Embeddings are L2-normalised before the triplet terms, so distances lie in [0, 2].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from oml.losses import ArcFaceLoss, TripletLoss
from torch import nn

from krypto.learning.miner import STRATEGIES, mine_quadruplets, mine_triplets
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
    head_weight: float = 1.0
    fakes_as_class: bool = False
    detector: float = 0.0  # weight of the fake detector's binary cross-entropy

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose one of {HEADS}")
        if self.mining not in STRATEGIES:
            raise ValueError(f"unknown mining {self.mining!r}; choose one of {STRATEGIES}")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.detector < 0:
            raise ValueError(f"detector must be >= 0, got {self.detector}")
        if self.margin is not None and self.margin <= 0:
            raise ValueError(f"margin must be > 0 or None (soft margin), got {self.margin}")


def batch_distances(dist: torch.Tensor, labels, is_fake) -> dict[str, float]:
    """Mean distances ``dist`` ``[B, B]`` in the batch from real photos to the other real photos
    of their identity (``dist_pos``), to real photos of other identities (``dist_neg``) and to
    the fakes of their identity (``dist_fake``): what the distance curves show, whatever the
    loss mines."""
    same = labels[:, None] == labels[None, :]
    real = ~is_fake
    anchor = real[:, None]
    not_self = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    masks = {
        "dist_pos": anchor & same & real[None, :] & not_self,
        "dist_neg": anchor & ~same & real[None, :],
        "dist_fake": anchor & same & is_fake[None, :],
    }
    return {k: dist[m].mean().item() if m.any() else float("nan") for k, m in masks.items()}


class VerificationLoss(nn.Module):
    """The training objective chosen by a :class:`LossConfig`.

    ``forward(embeddings [B, D], labels [B], is_fake [B])`` returns the loss and a dict of logs
    (each term, the number of mined tuples and the batch distances)."""

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

    def _triplet(self, e, a, p, n):
        if len(a) == 0:
            return e.sum() * 0.0  # no valid tuple: zero, still part of the graph
        return self.triplet(e[a], e[p], e[n])

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        is_fake: torch.Tensor,
        fake_logits: torch.Tensor | None = None,
    ):
        """``fake_logits`` ``[B]``: the fake detector's logits of the batch, when the model has
        one (:mod:`krypto.learning.detectors`); its cross-entropy is added with weight
        ``detector``."""
        cfg = self.config
        e = F.normalize(embeddings.float(), dim=1)
        with torch.no_grad():
            dist = torch.cdist(e, e)
        logs = batch_distances(dist, labels, is_fake)
        # the classes of the triplet term and the head: with fakes_as_class, each identity's
        # fakes form a class of their own. The fake term always mines by identity (its fake
        # is a fake *of the anchor's identity*), whatever that relabelling.
        classes = labels + is_fake.long() * self.n_classes if cfg.fakes_as_class else labels
        if cfg.loss == "triplet":
            a, p, n = mine_triplets(classes, dist, cfg.mining, self.generator)
            loss_real, loss_fake = self._triplet(e, a, p, n), e.sum() * 0.0
            n_tuples, n_fake_tuples = len(a), 0
        elif cfg.loss == "pairwise":
            terms = pairwise_terms(e, labels, is_fake, self.generator)
            loss_real, loss_fake = terms["loss_real"], terms["loss_fake"]
            n_tuples, n_fake_tuples = terms["n_pairs"], terms["n_fake_pairs"] if cfg.lam > 0 else 0
        else:
            a, p, n, f = mine_quadruplets(labels, is_fake, dist, cfg.mining, self.generator)
            loss_fake = self._triplet(e, a, p, f) if cfg.lam > 0 else e.sum() * 0.0
            n_fake_tuples = len(a) if cfg.lam > 0 else 0
            if cfg.fakes_as_class:  # the metric term over every photo, fakes a class of their own
                ta, tp, tn = mine_triplets(classes, dist, cfg.mining, self.generator)
                loss_real, n_tuples = self._triplet(e, ta, tp, tn), len(ta)
            else:  # real anchors, real positives, real negatives
                loss_real, n_tuples = self._triplet(e, a, p, n), len(a)
        loss = loss_real + cfg.lam * loss_fake
        logs.update(
            loss_real=loss_real.item(),
            loss_fake=loss_fake.item(),
            n_tuples=n_tuples,
            n_fake_tuples=n_fake_tuples,
        )
        if self.head is not None:
            # the head classifies real photos by identity (all photos with fakes_as_class)
            keep = torch.ones_like(is_fake) if cfg.fakes_as_class else ~is_fake
            loss_head = (
                self.head(embeddings[keep].float(), classes[keep]) if keep.any() else e.sum() * 0
            )
            loss = loss + cfg.head_weight * loss_head
            logs.update(loss_head=loss_head.item(), n_head=int(keep.sum()))
        if fake_logits is not None and cfg.detector > 0:
            loss_detector = F.binary_cross_entropy_with_logits(fake_logits.float(), is_fake.float())
            loss = loss + cfg.detector * loss_detector
            logs.update(loss_detector=loss_detector.item(), n_detector=len(fake_logits))
        logs["loss"] = loss.item()
        return loss, logs

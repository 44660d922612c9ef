"""A real/fake head on the embedding, and the pair score that fuses it with the similarity.

A deepfake carries traces that one photo shows (seams, resampling, colour), so a head that
reads "fake" off a single embedding attacks the two fake kinds of pairs directly, whoever the
fake depicts. :class:`FakeHead` is a linear layer over the unit embedding ``[B, D] -> [B]``
(logits), trained by binary cross-entropy beside the metric loss (``fake_head`` of 02_train is
its weight). A pair's score is then its cosine similarity pulled toward -1 by the chance that a
photo of the pair is fake::

    score = (1 + cos) * (1 - weight * p) - 1,   p = max(p_a, p_b)  (rule "max")
                                                p = (p_a + p_b) / 2  (rule "mean")

which stays in [-1, 1] and equals the cosine at ``weight = 0``. The rule and the weight are chosen
on the validation pairs at every epoch (:func:`choose_fusion`, lowest official EER over the
grid), never on the test, and kept in the head's buffers: the model of a checkpoint scores
pairs as it was validated (:func:`pair_similarity`).

No library ships this fusion; open-metric-learning's pair-wise postprocessors re-rank
retrieval results and do not take a per-photo score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from krypto import constants as C
from krypto.evaluation.metrics import SCORE_DECIMALS, cosine_pair_scores, official_eer

FUSION_RULES = ("max", "mean")
FUSION_WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))  # the validation grid


class FakeHead(nn.Module):
    """Logits ``[B]`` of "this photo is a fake" from embeddings ``[B, D]`` (normalised here,
    so that the head reads the direction the similarity reads), with the fusion chosen on
    validation in its buffers (``weight`` 0 until chosen: the plain cosine)."""

    def __init__(self, embedding_dim: int):
        super().__init__()
        self.linear = nn.Linear(embedding_dim, 1)
        self.register_buffer("fusion_weight", torch.zeros(()))
        self.register_buffer("fusion_max", torch.ones(()))  # 1: rule "max", 0: rule "mean"

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(F.normalize(embeddings.float(), dim=1)).squeeze(1)

    @torch.no_grad()
    def probability(self, embeddings: torch.Tensor) -> torch.Tensor:
        """P(fake) ``[B]`` (on CPU) of each embedding."""
        return torch.sigmoid(self(embeddings.to(self.linear.weight.device))).cpu()

    @property
    def fusion(self) -> Fusion:
        rule = "max" if float(self.fusion_max) > 0.5 else "mean"
        return Fusion(rule, round(float(self.fusion_weight), 4))

    def set_fusion(self, fusion: Fusion) -> None:
        self.fusion_weight.fill_(fusion.weight)
        self.fusion_max.fill_(1.0 if fusion.rule == "max" else 0.0)


@dataclass(frozen=True)
class Fusion:
    rule: str = "max"
    weight: float = 0.0


def fuse(cos, p_a, p_b, fusion: Fusion) -> np.ndarray:
    """The fused scores ``[n]`` of pairs with similarities ``cos`` ``[n]`` and fake
    probabilities ``p_a``, ``p_b`` ``[n]`` (see the module docstring)."""
    cos, p_a, p_b = (np.asarray(v, dtype=np.float64) for v in (cos, p_a, p_b))
    if fusion.rule not in FUSION_RULES:
        raise ValueError(f"unknown fusion rule {fusion.rule!r}; choose one of {FUSION_RULES}")
    p = np.maximum(p_a, p_b) if fusion.rule == "max" else (p_a + p_b) / 2
    return np.round((1.0 + cos) * (1.0 - fusion.weight * p) - 1.0, SCORE_DECIMALS)


def choose_fusion(pairs: pd.DataFrame, cos, p_a, p_b) -> Fusion:
    """The rule and weight of the grid (:data:`FUSION_RULES` x :data:`FUSION_WEIGHTS`) with the
    lowest official EER on the scored pairs ``pairs`` (validation pairs, with their ``label``);
    ties go to the smaller weight, then to "max"."""
    labels = pairs[C.PAIR_LABEL].to_numpy().astype(int)
    best = (official_eer(labels, cos), 0.0, 0, Fusion())
    for weight in FUSION_WEIGHTS[1:]:
        for order, rule in enumerate(FUSION_RULES):
            fusion = Fusion(rule, float(weight))
            eer = official_eer(labels, fuse(cos, p_a, p_b, fusion))
            best = min(best, (eer, float(weight), order, fusion), key=lambda t: t[:3])
    return best[3]


def pair_similarity(model: nn.Module, embeddings: torch.Tensor, a, b) -> np.ndarray:
    """The score ``[n]`` of the pairs ``(embeddings[a], embeddings[b])`` under ``model``: the
    cosine similarity, fused with the model's real/fake head when it has one."""
    cos = cosine_pair_scores(embeddings, a, b)
    head = getattr(model, "fake_head", None)
    if head is None:
        return cos
    p = head.probability(embeddings).numpy()
    return fuse(cos, p[np.asarray(a)], p[np.asarray(b)], head.fusion)

"""The pair score: the cosine similarity of two embeddings, fused with the chance that a photo of
the pair is a fake when the model has a fake detector (:mod:`krypto.learning.detectors`)::

    score = (1 + cos) * (1 - weight * p) - 1,   p = max(p_a, p_b)  (rule "max")
                                                p = (p_a + p_b) / 2  (rule "mean")

which stays in [-1, 1], equals the cosine at ``weight = 0``, and is never raised by a photo that
looks real. The rule and the weight are chosen on the validation pairs at every epoch
(:func:`choose_fusion`, lowest official EER over the grid), never on the test, and kept in the
detector's buffers (:func:`pair_similarity`). No library ships this fusion: open-metric-learning's
pair-wise postprocessors re-rank retrieval results and do not take a per-photo score.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from krypto import constants as C
from krypto.evaluation.metrics import SCORE_DECIMALS, cosine_pair_scores, official_eer

FUSION_RULES = ("max", "mean")
FUSION_WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))  # the validation grid


@dataclass(frozen=True)
class Fusion:
    rule: str = "max"
    weight: float = 0.0


def get_fusion(detector: nn.Module) -> Fusion:
    """The fusion kept in a detector's buffers."""
    rule = "max" if float(detector.fusion_max) > 0.5 else "mean"
    return Fusion(rule, round(float(detector.fusion_weight), 4))


def set_fusion(detector: nn.Module, fusion: Fusion) -> None:
    detector.fusion_weight.fill_(fusion.weight)
    detector.fusion_max.fill_(1.0 if fusion.rule == "max" else 0.0)


def split_outputs(model: nn.Module, outputs: torch.Tensor):
    """Outputs ``[N, D (+ 1)]`` -> (embeddings ``[N, D]``, P(fake) ``[N]`` as numpy or None)."""
    outputs = torch.as_tensor(outputs)
    dim = model.embedding_dim
    if getattr(model, "detector", None) is None:
        return outputs[:, :dim], None
    return outputs[:, :dim], torch.sigmoid(outputs[:, dim].float()).numpy()


def fuse(cos, p_a, p_b, fusion: Fusion) -> np.ndarray:
    """Fused scores ``[n]`` of pairs: cosines ``cos``, P(fake) ``p_a`` and ``p_b`` (all ``[n]``)."""
    cos, p_a, p_b = (np.asarray(v, dtype=np.float64) for v in (cos, p_a, p_b))
    if fusion.rule not in FUSION_RULES:
        raise ValueError(f"unknown fusion rule {fusion.rule!r}; choose one of {FUSION_RULES}")
    p = np.maximum(p_a, p_b) if fusion.rule == "max" else (p_a + p_b) / 2
    return np.round((1.0 + cos) * (1.0 - fusion.weight * p) - 1.0, SCORE_DECIMALS)


def choose_fusion(pairs: pd.DataFrame, cos, p_a, p_b) -> Fusion:
    """The rule and weight of the grid (:data:`FUSION_RULES` x :data:`FUSION_WEIGHTS`) with the
    lowest official EER on the labelled ``pairs``; ties go to the smaller weight, then to "max"."""
    labels = pairs[C.PAIR_LABEL].to_numpy().astype(int)
    best = (official_eer(labels, cos), 0.0, 0, Fusion())
    for weight in FUSION_WEIGHTS[1:]:
        for order, rule in enumerate(FUSION_RULES):
            fusion = Fusion(rule, float(weight))
            eer = official_eer(labels, fuse(cos, p_a, p_b, fusion))
            best = min(best, (eer, float(weight), order, fusion), key=lambda t: t[:3])
    return best[3]


def pair_similarity(model: nn.Module, outputs: torch.Tensor, a, b) -> np.ndarray:
    """The score ``[n]`` of the pairs ``(outputs[a], outputs[b])`` of ``model``'s outputs: the
    cosine similarity of their embeddings, fused with the model's fake detector if it has one."""
    embeddings, p = split_outputs(model, outputs)
    cos = cosine_pair_scores(embeddings, a, b)
    if p is None:
        return cos
    return fuse(cos, p[np.asarray(a)], p[np.asarray(b)], get_fusion(model.detector))

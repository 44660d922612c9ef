"""The EERs of a model on the validation pairs, measured after every epoch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from krypto.evaluation.metrics import cosine_pair_scores, kind_eers
from krypto.learning.fake_head import choose_fusion, pair_similarity


def _choose_fusion(model, emb: torch.Tensor, cos, pairs: pd.DataFrame, a, b, is_fake) -> dict:
    """With a real/fake head: choose its fusion on the validation pairs (kept in the head, so
    the epoch's checkpoint scores as validated); the head's own quality as logs."""
    head = model.fake_head
    p = head.probability(emb).numpy()
    fusion = choose_fusion(pairs, cos, p[a], p[b])
    head.set_fusion(fusion)
    auc = roc_auc_score(is_fake, p) if 0 < is_fake.sum() < len(is_fake) else float("nan")
    return {
        "eer_cosine": kind_eers(pairs, cos)["eer"],
        "fake_auc": float(auc),
        "fusion_rule": fusion.rule,
        "fusion_weight": fusion.weight,
    }


def validation_eers(
    model: torch.nn.Module,
    emb: torch.Tensor,
    pairs: pd.DataFrame,
    a: np.ndarray,
    b: np.ndarray,
    is_fake: np.ndarray,
) -> dict:
    """EERs of ``model`` on the validation ``pairs`` from the embeddings ``emb`` ``[N, D]`` of
    the validation photos (pair ``i`` is ``emb[a[i]]`` and ``emb[b[i]]``; ``is_fake`` ``[N]``),
    with the spread of their cosine similarities and, with a real/fake head, the fusion chosen
    on them (set in the head)."""
    cos = cosine_pair_scores(emb, a, b)
    has_head = model.fake_head is not None
    fused = _choose_fusion(model, emb, cos, pairs, a, b, is_fake) if has_head else {}
    result = kind_eers(pairs, pair_similarity(model, emb, a, b))
    result["eer_mean"] = (result["eer_real"] + result["eer_fake"]) / 2
    result.update(fused)
    result["n_val_images"] = len(emb)
    result["similarity_std"] = float(np.std(cos))
    return result

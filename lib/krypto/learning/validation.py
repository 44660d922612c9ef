"""The EERs of a model on the validation pairs, measured after every epoch."""

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from krypto.evaluation.metrics import cosine_pair_scores, kind_eers
from krypto.learning.fusion import choose_fusion, pair_similarity, set_fusion, split_outputs


def validation_eers(
    model: torch.nn.Module,
    outputs: torch.Tensor,
    pairs: pd.DataFrame,
    a: np.ndarray,
    b: np.ndarray,
    is_fake: np.ndarray,
) -> dict:
    """EERs of ``model`` on the validation ``pairs`` from its outputs ``[N, D (+ 1)]`` on the
    validation photos (pair ``i`` is photos ``a[i]`` and ``b[i]``; ``is_fake`` ``[N]``), with the
    spread of their cosine similarities. With a fake detector, its fusion is chosen on these
    pairs first and set in the detector, and the unfused EER (``eer_cosine``), the detector's
    ROC AUC on the photos (``fake_auc``) and the fusion are logged."""
    embeddings, p = split_outputs(model, outputs)
    cos = cosine_pair_scores(embeddings, a, b)
    logged = {}
    if p is not None:
        fusion = choose_fusion(pairs, cos, p[a], p[b])
        set_fusion(model.detector, fusion)
        auc = roc_auc_score(is_fake, p) if 0 < is_fake.sum() < len(is_fake) else float("nan")
        logged = {
            "eer_cosine": kind_eers(pairs, cos)["eer"],
            "fake_auc": float(auc),
            "fusion_rule": fusion.rule,
            "fusion_weight": fusion.weight,
        }
    result = kind_eers(pairs, pair_similarity(model, outputs, a, b))
    result["eer_mean"] = (result["eer_real"] + result["eer_fake"]) / 2
    result.update(logged)
    result["n_val_images"] = len(outputs)
    result["similarity_std"] = float(np.std(cos))
    return result

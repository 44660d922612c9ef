"""The challenge's EER and the per-kind EERs of this task (open-metric-learning has retrieval
metrics but no verification EER, and the challenge's EER is a specific formula):

1. ``fpr, tpr, thr = sklearn.metrics.roc_curve(y_true, y_score)``;
2. the first threshold (infinite) is replaced by ``max(thr[1:]) + 1e-3``;
3. ``fnr = 1 - tpr``; the score is ``fnr[argmin |fnr - fpr|]`` (*not* the mean of fpr and fnr
   at the crossing, which an earlier solution used).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from krypto import constants as C


@dataclass
class EERResult:
    eer: float
    threshold: float
    fpr: np.ndarray  # along the ROC curve
    fnr: np.ndarray
    thresholds: np.ndarray


def eer_curve(y_true, y_score) -> EERResult:
    """The official EER with its ROC curve. ``y_true``: 1 same person, 0 not; ``y_score``:
    similarity, higher = more alike. Both of shape ``[n_pairs]``."""
    y_true = np.asarray(y_true).reshape(-1)
    labels = np.unique(y_true).tolist()
    if labels != [0, 1]:
        raise ValueError(f"EER needs both positive (1) and negative (0) pairs only; got {labels}")
    y_true = y_true.astype(int)
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true has {y_true.size} values, y_score {y_score.size}")
    if not np.isfinite(y_score).all():
        raise ValueError(f"{int((~np.isfinite(y_score)).sum())} scores are not finite numbers")
    fpr, tpr, thresholds = roc_curve(y_true, y_score)
    thresholds[0] = thresholds[1:].max() + 1e-3
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return EERResult(float(fnr[i]), float(thresholds[i]), fpr, fnr, thresholds)


def official_eer(y_true, y_score) -> float:
    """The challenge's score (see the module docstring)."""
    return eer_curve(y_true, y_score).eer


KIND_EER_NAMES = {
    C.DIFFERENT: "eer_real",
    C.FAKE_SAME: "eer_fake",
    C.FAKE_OTHER: "eer_fake_other",
    C.FAKE_ON_ANCHOR: "eer_fake_on_anchor",
}


def kind_eers(pairs: pd.DataFrame, scores) -> dict[str, float]:
    """EERs of a scored pair table with a ``kind`` column: ``eer`` (all kinds together, as the
    challenge mixes them) and, for every negative kind (label 0), the EER of its pairs against
    all positive pairs (label 1), named by :data:`KIND_EER_NAMES` (``eer_real``: two people,
    ``eer_fake``: a person and a deepfake of that person, ...), else ``eer_<kind>``."""
    scores = np.asarray(scores, dtype=np.float64)
    kinds = pairs[C.KIND].to_numpy()
    labels = pairs[C.PAIR_LABEL].to_numpy().astype(int)
    out = {"eer": official_eer(labels, scores)}  # refuses pairs without a positive
    positive = labels == 1
    for kind in pd.unique(kinds[~positive]):
        keep = positive | (kinds == kind)
        out[KIND_EER_NAMES.get(kind, f"eer_{kind}")] = official_eer(labels[keep], scores[keep])
    return out


SCORE_DECIMALS = 6  # float32 cosines carry noise near 1e-7: below it, scores are ties


def cosine_pair_scores(embeddings, index_a, index_b) -> np.ndarray:
    """Cosine similarity of rows ``index_a[i]`` and ``index_b[i]`` of ``embeddings`` ``[n, d]``,
    rounded to :data:`SCORE_DECIMALS`: a collapsed model (every similarity 1.0 up to float noise)
    then gets the EER its ties deserve instead of one ordered by rounding noise."""
    import torch

    e = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=1)
    a, b = (torch.tensor(np.asarray(i), dtype=torch.long) for i in (index_a, index_b))
    return np.round((e[a] * e[b]).sum(1).numpy().astype(np.float64), SCORE_DECIMALS)

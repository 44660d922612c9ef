"""How far apart real photos and fakes lie in an embedding space, and how similar each kind of
validation pair scores."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from krypto import constants as C


@dataclass
class Separation:
    xy: np.ndarray  # [N, 2] first two principal components of the L2-normalised embeddings
    is_fake: np.ndarray  # [N]
    silhouette: float  # of the real/fake split, cosine distance
    explained: float  # variance share of the two components


def real_fake_separation(
    embeddings: dict[str, torch.Tensor], is_fake: np.ndarray, max_points: int = 2000, seed: int = 0
) -> dict[str, Separation]:
    """PCA and silhouette of the real/fake split for each embedding set ``[N, D]`` (the same
    photos in each, subsampled to ``max_points`` with the same rows)."""
    n = len(is_fake)
    if is_fake.all() or not is_fake.any():
        raise ValueError("the photos need both real ones and fakes to measure their separation")
    keep = np.sort(np.random.default_rng(seed).choice(n, min(n, max_points), replace=False))
    out = {}
    for name, emb in embeddings.items():
        e = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float32), dim=1)
        e = e.numpy()[keep]
        pca = PCA(n_components=2, random_state=seed).fit(e)
        xy = pca.transform(e)
        silhouette = float(silhouette_score(e, is_fake[keep], metric="cosine"))
        explained = float(pca.explained_variance_ratio_.sum())
        out[name] = Separation(xy, is_fake[keep], silhouette, explained)
    return out


SILHOUETTE = "silhouette (real vs fake)"
EXPLAINED = "explained variance PC1+PC2"


def separation_table(separation: dict[str, Separation]) -> pd.DataFrame:
    """Per embedding set: its real/fake silhouette and the variance its first two PCs explain."""
    rows = {name: (s.silhouette, s.explained) for name, s in separation.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[SILHOUETTE, EXPLAINED])


def similarity_table(
    scored: dict[str, pd.DataFrame], histories: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Per run: mean validation similarity per pair kind, and last epoch's mean batch distances."""
    rows = {}
    for name, pairs in scored.items():
        row = pairs.groupby(C.KIND)[C.SIMILARITY].mean().reindex(C.PAIR_KINDS)
        rows[name] = row.add_prefix("similarity ")
        if name in (histories or {}):
            h = histories[name]
            last = h.loc[h["epoch"] == h["epoch"].max(), ["dist_pos", "dist_neg", "dist_fake"]]
            rows[name] = pd.concat([rows[name], last.mean().add_prefix("last epoch ")])
    return pd.DataFrame(rows).T

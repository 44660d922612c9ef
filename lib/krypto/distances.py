"""Reading a finished training run back: its validation pairs scored by its best checkpoint, its
validation embeddings, and summary tables of distances and similarities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from krypto import constants as C
from krypto.embed import cached_images, embed
from krypto.index import PreparedData, prepare
from krypto.metrics import cosine_pair_scores
from krypto.train import TrainConfig, load_model, pick_device


def run_data(config: TrainConfig) -> PreparedData:
    """The prepared data set a run was trained on (from the preparation cache)."""
    return prepare(config.data_dir, val_ratio=config.val_ratio, seed=config.seed, landmarks=config.landmarks,
                   progress=False)


def validation_embeddings(run_dir: str | Path, model: torch.nn.Module | None = None,
                          device: str = "auto"):
    """Embeddings ``[N, D]`` of a run's validation photos (best checkpoint, or ``model``), with
    the index rows they belong to."""
    best, config = load_model(run_dir, device=pick_device(device))
    data = run_data(config)
    rows = np.flatnonzero(data.index[C.SPLIT].to_numpy() == C.VALID)
    images = cached_images(data.index[C.PATH], config.image_size, data.folder, progress=False)
    emb = embed(model or best, images[torch.as_tensor(rows)], device=pick_device(device))
    return emb, data.index.iloc[rows].reset_index(drop=True)


def scored_validation_pairs(run_dir: str | Path, device: str = "auto") -> pd.DataFrame:
    """The run's validation pairs with a ``similarity`` column from its best checkpoint."""
    model, config = load_model(run_dir, device=pick_device(device))
    data = run_data(config)
    pairs = data.pairs.copy()
    rows = np.unique(np.concatenate([pairs["row_a"], pairs["row_b"]]))
    images = cached_images(data.index[C.PATH], config.image_size, data.folder, progress=False)
    emb = embed(model, images[torch.as_tensor(rows)], device=pick_device(device))
    where = {r: i for i, r in enumerate(rows)}
    pairs[C.SIMILARITY] = cosine_pair_scores(emb, pairs["row_a"].map(where), pairs["row_b"].map(where))
    return pairs


def similarity_table(scored: dict[str, pd.DataFrame],
                     histories: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per run: mean validation similarity of each pair kind and, from the training history, the
    mean batch distances of the last epoch."""
    rows = {}
    for name, pairs in scored.items():
        row = pairs.groupby(C.KIND)[C.SIMILARITY].mean().reindex(C.PAIR_KINDS)
        row = row.rename(lambda k: f"similarity {k}")
        if histories is not None and name in histories:
            h = histories[name]
            last = h[h["epoch"] == h["epoch"].max()]
            for key in ("dist_pos", "dist_neg", "dist_fake"):
                row[f"last epoch {key}"] = last[key].mean()
        rows[name] = row
    return pd.DataFrame(rows).T

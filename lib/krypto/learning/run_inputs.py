"""Reading a finished training run back: its validation pairs scored by its best checkpoint, its
validation embeddings, its photos with face parts cut out."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from krypto import constants as C
from krypto.data.alignment import crop_landmarks, index_landmarks
from krypto.data.index import PreparedData, pair_rows, prepare
from krypto.learning.augment import CUTOUT_PARTS, cutout
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.learning.device import pick_device
from krypto.learning.embed import ImageCache, cached_images, embed
from krypto.learning.fusion import pair_similarity, split_outputs


@dataclass
class RunInputs:
    """What a finished run needs to be evaluated again: its best model, its configuration, its
    prepared data and the decoded images (``[N, 3, S, S]`` uint8), loaded once."""

    model: torch.nn.Module
    config: TrainConfig
    data: PreparedData
    images: ImageCache
    device: torch.device

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto") -> "RunInputs":
        device = pick_device(device)
        model, config = load_model(run_dir, device=device)
        data = prepare(**config.prepare_args(), progress=False)  # from the preparation cache
        points = index_landmarks(data.index) if config.align else None
        images = cached_images(data.index[C.PATH], config.input_size, data.folder, False, points)
        return cls(model, config, data, images, device)

    def embed_rows(self, rows, model: torch.nn.Module | None = None) -> torch.Tensor:
        """Outputs ``[len(rows), D (+ 1)]`` of index rows (best checkpoint, or ``model``)."""
        return embed(model or self.model, self.images[torch.as_tensor(rows)], device=self.device)


def validation_embeddings(
    run_dir: str | Path,
    model: torch.nn.Module | None = None,
    device: str = "auto",
    inputs: RunInputs | None = None,
):
    """A run's validation embeddings ``[N, D]`` (best checkpoint, or ``model``) and index rows."""
    inputs = inputs or RunInputs.load(run_dir, device)
    index = inputs.data.index
    rows = np.flatnonzero(index[C.SPLIT].to_numpy() == C.VALID)
    outputs = inputs.embed_rows(rows, model)
    embeddings, _ = split_outputs(model or inputs.model, outputs)
    return embeddings, index.iloc[rows].reset_index(drop=True)


def scored_validation_pairs(run_dir: str | Path, device: str = "auto") -> pd.DataFrame:
    """A run's validation pairs with a ``similarity`` column from its best checkpoint (fused)."""
    inputs = RunInputs.load(run_dir, device)
    pairs = inputs.data.pairs.copy()
    rows, a, b = pair_rows(pairs)
    pairs[C.SIMILARITY] = pair_similarity(inputs.model, inputs.embed_rows(rows), a, b)
    return pairs


def cutout_examples(inputs: RunInputs) -> dict[str, torch.Tensor]:
    """``{part: uint8 image [3, S, S]}``: a run's first real photo with each face part cut out."""
    index = inputs.data.index
    row = int(np.flatnonzero(~index[C.IS_FAKE].to_numpy())[0])
    image = torch.from_numpy(inputs.images[row : row + 1])
    landmarks = torch.tensor(crop_landmarks(index.iloc[[row]], inputs.config.align))
    return {part: cutout(image.clone(), landmarks, part, p=1.0)[0] for part in CUTOUT_PARTS}

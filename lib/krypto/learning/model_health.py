"""Two checks of a model's embeddings that a training run makes: a random model's normalisation
statistics set from data before epoch 0, and a run stopped when training has collapsed every
photo onto one embedding."""

import numpy as np
import torch

from krypto.learning.config import TrainConfig
from krypto.learning.embed import to_model_input

COLLAPSED_STD = 1e-3  # validation similarities spread less than this: every photo embeds alike
CALIBRATION_IMAGES = 512  # training photos that set a random model's normalisation statistics
CALIBRATION_BATCH = 64  # in batches of this size, whatever P, K and the number of processes


class CollapsedEmbeddingsError(RuntimeError):
    """Every photo embeds almost alike: the run stops (the EER of tied scores is chance)."""


@torch.no_grad()
def calibrate_normalisation(
    model: torch.nn.Module,
    images: torch.Tensor,
    train_rows: np.ndarray,
    seed: int,
    device: torch.device,
) -> None:
    """Set the BatchNorm running statistics of a randomly initialised ``model`` from training
    photos ``images[train_rows]``: with the defaults (mean 0, variance 1) a random network in
    eval mode embeds every photo alike, a collapse at epoch 0 that training (by batch
    statistics) never sees. The weights are untouched and the photos drawn from their own
    generator seeded with ``seed``, so training goes exactly as without it."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or not len(train_rows):
        return
    rows = np.random.default_rng(seed).permutation(train_rows)[:CALIBRATION_IMAGES]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration batches
    model.train()
    for part in torch.as_tensor(rows).split(CALIBRATION_BATCH):
        if len(part) > 1:
            model(to_model_input(images[part], device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def check_not_collapsed(row: dict, config: TrainConfig, run_dir) -> None:
    """Raise :class:`CollapsedEmbeddingsError` when a trained epoch's validation row (its
    ``similarity_std``) shows the embeddings collapsed; epochs.csv and the checkpoints stay in
    ``run_dir`` for a look. Epoch 0 (before training) only warns, in evaluation."""
    std = row.get("similarity_std")
    if row["epoch"] == 0 or std is None or std >= COLLAPSED_STD:
        return
    margin = "soft margin" if config.margin is None else f"margin {config.margin}"
    other_mining = "random" if config.mining == "hard" else "hard"
    raise CollapsedEmbeddingsError(
        f"{run_dir}: after epoch {row['epoch']} the validation similarities spread by {std:.1e} "
        f"only (below {COLLAPSED_STD:g}): every photo embeds alike, and the training loss is "
        f"{row.get('train_loss', float('nan')):.3f} ({margin}). Try a lower learning rate "
        f"(lr={config.lr:g} now, e.g. lr={config.lr / 3:.1g}), schedule='cosine', "
        f"mining={other_mining!r}, or a pretrained backbone (pretrained=<a finished run folder>), "
        f"with overwrite=True to start afresh; see epochs.csv in the run folder"
    )

"""Checkpoints of a training run: ``best.pt`` (weights and config) and ``last.pt`` (everything
needed to resume), written atomically and read with ``torch.load(weights_only=True)`` so that
opening a checkpoint from elsewhere cannot run code."""

from pathlib import Path

import torch

from krypto import constants as C
from krypto.files import atomic_path, plain
from krypto.learning.config import TrainConfig
from krypto.learning.device import seed_everything
from krypto.learning.models import build_model
from krypto.run_folder import best_seed

RECORDS = ("config", "epochs", "best")  # plain Python values among the tensors


def save_checkpoint(file: Path, state: dict) -> None:
    """``state`` (tensors, state dicts and the plain records) to ``file``, atomically."""
    state = {k: plain(v) if k in RECORDS else v for k, v in state.items()}
    with atomic_path(file) as tmp:
        torch.save(state, tmp)


def read_checkpoint(file: Path, device="cpu") -> dict:
    """A checkpoint written by :func:`save_checkpoint`, loaded without running any code."""
    try:
        return torch.load(file, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any failure to read names the file
        raise ValueError(f"cannot read the checkpoint {file}: {err}") from err


def initial_model(config: TrainConfig):
    """The model as training starts (same seed, same weights): 'before training'."""
    seed_everything(config.seed)
    return build_model(pretrained=config.pretrained_weights(), **config.model_args())


def load_model(run_dir: str | Path, checkpoint: str = C.BEST_CHECKPOINT, device="cpu"):
    """(model in eval mode, config) of a run with the weights of ``checkpoint`` (a folder of seeds:
    its :func:`~krypto.run_folder.best_seed`); ``config.pretrained`` is where training started."""
    run = best_seed(run_dir)
    file = run / checkpoint
    if not file.is_file():
        raise FileNotFoundError(f"no checkpoint {file}: is {run} a 02_train run folder?")
    state = read_checkpoint(file, device)
    config = TrainConfig(**state["config"])
    model = build_model(**config.model_args())
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config

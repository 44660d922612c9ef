"""Checkpoints of a training run: ``best.pt`` (weights and config) and ``last.pt`` (everything
needed to resume), written atomically and read with ``torch.load(weights_only=True)`` so that
opening a checkpoint from elsewhere cannot run code."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from krypto import constants as C
from krypto.files import atomic_path, plain
from krypto.learning.config import TrainConfig
from krypto.learning.models import build_model
from krypto.paths import resolve_path

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


def best_seed(run_dir: str | Path) -> Path:
    """``run_dir`` itself when it holds a checkpoint; for a folder of seeds (``seed<k>/`` runs of
    one configuration, as a batch file's ``seeds`` writes them), the finished seed whose best
    epoch scored lowest on the validation pairs (the ``select_by`` metric of its metrics.json;
    never the test), ties to the lowest seed number."""
    run = resolve_path(run_dir)
    if (run / C.BEST_CHECKPOINT).is_file() or not run.is_dir():
        return run
    scored = []
    for folder in run.iterdir():
        seed = C.SEED_FOLDER.fullmatch(folder.name)
        if not (seed and (folder / C.METRICS_FILE).is_file()):
            continue
        metrics = json.loads((folder / C.METRICS_FILE).read_text())
        key = (metrics.get("params") or {}).get("select_by", "eer_mean")
        if metrics.get(key) is not None:
            scored.append((float(metrics[key]), int(seed.group(1)), folder))
    return min(scored)[2] if scored else run


def load_model(run_dir: str | Path, checkpoint: str = C.BEST_CHECKPOINT, device="cpu"):
    """(model in eval mode, config) of a finished or running run, with the weights of
    ``checkpoint`` (``config.pretrained`` still names where its training started:
    :func:`~krypto.learning.train.initial_model` rebuilds that start); a folder of seeds gives
    its :func:`best_seed`."""
    run = best_seed(run_dir)
    file = run / checkpoint
    if not file.is_file():
        raise FileNotFoundError(f"no checkpoint {file}: is {run} a 02_train run folder?")
    state = read_checkpoint(file, device)
    config = TrainConfig(**state["config"])  # its pretrained: where training started
    model = build_model(config.backbone, False, config.embedding_dim, config.fake_head > 0)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config

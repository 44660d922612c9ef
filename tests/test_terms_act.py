"""Every term of every loss configuration acts: one step on a small batch mines at least one
tuple for each active term, each active term is positive, and the weights change. Checked over
the whole grid of configurations and over every training run of the batch files in params/."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import yaml

from krypto import constants as C
from krypto.learning.config import TrainConfig
from krypto.learning.train import Trainer

TRAIN_NOTEBOOK = "notebooks/02_train.ipynb"
TINY = dict(P=4, K=4, n_fake=1, image_size=32, epochs=1, progress=False, val_ratio=0.25)
GRID = list(
    itertools.product(
        ("triplet", "quadruplet", "pairwise"),
        ("none", "cosine", "arcface"),
        (False, True),
        ("random", "hard"),
    )
)


def _batch_run_parameters() -> dict[str, dict]:
    """{batch/run: parameters} of every 02_train run in params/*.yaml (base, then run)."""
    out = {}
    for file in sorted(C.PARAMS_DIR.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text()) or {}
        base = (spec.get("base") or {}).get(TRAIN_NOTEBOOK, {})
        for name, run in (spec.get("runs") or {}).items():
            if run.get("notebook") == TRAIN_NOTEBOOK:
                out[f"{file.stem}/{name}"] = {**base, **(run.get("parameters") or {})}
    return out


def _one_step(prepared, tmp_path, **params) -> tuple[dict, TrainConfig]:
    """The logs of one training step, after checking that it changed the weights."""
    keep = {k: v for k, v in params.items() if k not in ("data_dir", "run_dir")}
    config = TrainConfig(run_dir=str(tmp_path / "run"), **{**keep, **TINY})
    trainer = Trainer(config, prepared=prepared)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    batch = np.asarray(next(iter(trainer.sampler)))
    logs = trainer.train_step(batch)
    changed = sum(
        not torch.equal(b, p.detach()) for b, p in zip(before, trainer.model.parameters())
    )
    assert changed > 0, f"{params}: one step changed no weight"
    return logs, config


def _assert_each_term_acts(logs: dict, config: TrainConfig, what: str) -> None:
    assert logs["n_tuples"] > 0, f"{what}: the metric term mined no tuple"
    assert logs["loss_real"] > 0, f"{what}: the metric term is zero"
    if config.loss in ("quadruplet", "pairwise") and config.lam > 0:
        assert logs["n_fake_tuples"] > 0, f"{what}: the fake term mined no tuple"
        assert logs["loss_fake"] > 0, f"{what}: the fake term is zero"
    if config.head != "none":
        assert logs["n_head"] > 0 and logs["loss_head"] > 0, f"{what}: the head does nothing"
    if config.fake_head > 0 or config.forgery > 0:
        assert logs["n_detector"] > 0 and logs["loss_detector"] > 0, (
            f"{what}: the fake detector's term is zero"
        )


@pytest.mark.parametrize("loss,head,fakes_as_class,mining", GRID)
def test_every_loss_configuration_trains_each_term(
    tiny_prepared, tmp_path, loss, head, fakes_as_class, mining
):
    logs, config = _one_step(
        tiny_prepared, tmp_path, loss=loss, head=head, fakes_as_class=fakes_as_class, mining=mining
    )
    _assert_each_term_acts(logs, config, f"{loss}/{head}/fakes_as_class={fakes_as_class}/{mining}")


def test_the_batch_files_hold_training_runs():
    runs = _batch_run_parameters()
    assert len(runs) >= 10 and any(p.get("fake_head") for p in runs.values())


# the backbones are checked by the model registry's tests, fine-tuning's start by test_training,
# and the data is the tiny set whatever the run's
NOT_A_TERM = ("backbone", "pretrained", "data_dir", "run_dir", "seed", "epochs")


def configuration_key(params: dict) -> tuple:
    """What a configuration trains, whatever parameters spell the defaults out."""
    trained = TrainConfig.from_dict(params).training_parameters()
    return tuple(sorted((k, str(v)) for k, v in trained.items()))


def distinct_configurations(runs: dict[str, dict], skipped: tuple[str, ...]) -> dict[str, dict]:
    """``runs`` (name -> parameters) without the ``skipped`` parameters, one per distinct
    :func:`configuration_key`, under the name of its first run in ``runs``' order."""
    out, seen = {}, set()
    for name, params in runs.items():
        params = {k: v for k, v in params.items() if k not in skipped}
        key = configuration_key(params)
        if key not in seen:
            seen.add(key)
            out[name] = params
    return out


# the batch files' training runs, one per distinct configuration of terms
DISTINCT_RUNS = distinct_configurations(dict(sorted(_batch_run_parameters().items())), NOT_A_TERM)


@pytest.mark.parametrize("name", sorted(DISTINCT_RUNS))
def test_every_training_run_of_the_batch_files_trains_each_term(tiny_prepared, tmp_path, name):
    params = dict(DISTINCT_RUNS[name])
    logs, config = _one_step(tiny_prepared, tmp_path, **params)
    _assert_each_term_acts(logs, config, name)


def test_fakes_as_class_with_the_fake_term_mines_own_fakes(tiny_prepared, tmp_path):
    """The relabelling of fakes_as_class must not hide a real anchor's own fakes from the fake
    term (with it, the term once mined nothing and trained nothing)."""
    logs, _ = _one_step(tiny_prepared, tmp_path, loss="quadruplet", fakes_as_class=True)
    assert logs["n_fake_tuples"] > 0 and logs["loss_fake"] > 0

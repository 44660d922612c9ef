"""The trainer: outputs, determinism, resume after an interruption, refusing to overwrite."""

import json
import math

import pandas as pd
import pytest
import torch

from krypto import constants as C
from krypto import run_folder as RF
from krypto.evaluation.metrics import kind_eers
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.learning.model_health import COLLAPSED_STD, CollapsedEmbeddingsError
from krypto.learning.train import Trainer

TINY = dict(epochs=2, P=4, K=4, image_size=32, progress=False, val_ratio=0.25)


def _fit(prepared, run_dir, **params):
    return Trainer(TrainConfig(run_dir=str(run_dir), **{**TINY, **params}), prepared=prepared).fit()


class Interrupted(Exception):
    pass


class StopAfterFirstEpoch(Trainer):
    """A trainer that dies right after saving its first epoch, as a killed job would."""

    def _end_epoch(self, *args, **kwargs):
        stop = super()._end_epoch(*args, **kwargs)
        if self.epoch == 1:
            raise Interrupted
        return stop


def test_outputs(tiny_prepared, tmp_path):
    metrics = _fit(tiny_prepared, tmp_path / "run")
    run = tmp_path / "run"
    for name in (
        C.METRICS_FILE,
        C.HISTORY_FILE,
        C.EPOCHS_FILE,
        C.BEST_CHECKPOINT,
        C.LAST_CHECKPOINT,
        C.CONFIG_FILE,
    ):
        assert (run / name).is_file(), name
    history = pd.read_csv(run / C.HISTORY_FILE)
    for column in ("loss", "loss_real", "loss_fake", "dist_pos", "dist_neg", "dist_fake", "lr"):
        assert column in history and history[column].notna().all(), column
    assert list(history["iteration"]) == list(range(len(history)))
    epochs = pd.read_csv(run / C.EPOCHS_FILE)
    assert list(epochs["epoch"]) == [0, 1, 2]  # epoch 0: before training
    stored = json.loads((run / C.METRICS_FILE).read_text())
    for key in ("eer", "eer_real", "eer_fake", "best_epoch", "history"):
        assert key in stored
    assert "params" not in stored and "test" not in stored  # config.json, test_metrics.json
    assert RF.read_config(run)["P"] == 4
    best = epochs.loc[epochs["epoch"] == metrics["best_epoch"]].iloc[0]
    assert metrics["eer_real"] == pytest.approx(best["eer_real"])
    # the EERs reported are those of best.pt on the validation pairs, scored again from the file
    trainer = Trainer(TrainConfig(run_dir=str(run), **TINY), prepared=tiny_prepared)
    rescored = kind_eers(tiny_prepared.pairs, trainer.pair_scores(load_model(run)[0]))
    for key in ("eer", "eer_real", "eer_fake"):
        assert metrics[key] == pytest.approx(rescored[key]), key
    assert metrics["n_val_images"] == len(
        set(tiny_prepared.pairs["row_a"]) | set(tiny_prepared.pairs["row_b"])
    )


def test_same_seed_same_metrics(tiny_prepared, tmp_path):
    a = _fit(tiny_prepared, tmp_path / "a")
    b = _fit(tiny_prepared, tmp_path / "b")
    _fit(tiny_prepared, tmp_path / "c", seed=1)
    keys = ("eer", "eer_real", "eer_fake")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "a" / C.HISTORY_FILE), pd.read_csv(tmp_path / "b" / C.HISTORY_FILE)
    )
    assert (
        pd.read_csv(tmp_path / "a" / C.HISTORY_FILE)["loss"].tolist()
        != pd.read_csv(tmp_path / "c" / C.HISTORY_FILE)["loss"].tolist()
    )


def test_resume_after_interruption_gives_the_same_run(tiny_prepared, tmp_path):
    straight = _fit(tiny_prepared, tmp_path / "straight")
    config = TrainConfig(run_dir=str(tmp_path / "resumed"), **TINY)
    with pytest.raises(Interrupted):
        StopAfterFirstEpoch(config, prepared=tiny_prepared).fit()
    assert not (tmp_path / "resumed" / C.METRICS_FILE).exists()
    resumed = _fit(tiny_prepared, tmp_path / "resumed")
    assert resumed["resumed"] is True
    for key in ("eer", "eer_real", "eer_fake", "best_epoch"):
        assert resumed[key] == straight[key], key
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "straight" / C.HISTORY_FILE),
        pd.read_csv(tmp_path / "resumed" / C.HISTORY_FILE),
    )


def test_resume_with_other_parameters_is_refused(tiny_prepared, tmp_path):
    config = TrainConfig(run_dir=str(tmp_path / "run"), **TINY)
    with pytest.raises(Interrupted):
        StopAfterFirstEpoch(config, prepared=tiny_prepared).fit()
    with pytest.raises(ValueError, match="other parameters"):
        _fit(tiny_prepared, tmp_path / "run", lam=0.5)


def test_finished_run_is_not_overwritten_silently(tiny_prepared, tmp_path):
    first = _fit(tiny_prepared, tmp_path / "run", epochs=1)
    before = {f.name: f.read_bytes() for f in (tmp_path / "run").iterdir() if f.is_file()}
    # the same parameters again: the finished run is reused, nothing is trained or written
    assert _fit(tiny_prepared, tmp_path / "run", epochs=1) == first
    assert {f.name: f.read_bytes() for f in (tmp_path / "run").iterdir() if f.is_file()} == before
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _fit(tiny_prepared, tmp_path / "run", epochs=1, lam=0.5)
    assert (tmp_path / "run" / C.METRICS_FILE).read_bytes() == before[C.METRICS_FILE]
    _fit(tiny_prepared, tmp_path / "run", epochs=1, overwrite=True, lam=0.5)
    assert RF.read_config(tmp_path / "run")["lam"] == 0.5


@pytest.mark.parametrize(
    "params,message",
    [
        (dict(backbone="resnet9000"), "backbone"),
        (dict(loss="contrastive"), "loss"),
        (dict(lam=-1.0), "lam"),
        (dict(cutout_part="ears"), "cutout_part"),
        (dict(head="softmax"), "head"),
        (dict(epochs=0), "epochs"),
        (dict(backbone="facenet", image_size=48), "facenet"),
    ],
)
def test_bad_parameters_stop_at_once(params, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**params).validate()


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match="lamda"):
        TrainConfig.from_dict({"lamda": 1.0})


def test_p_larger_than_the_data_is_refused(tiny_prepared, tmp_path):
    with pytest.raises(ValueError, match="lower P"):
        Trainer(
            TrainConfig(run_dir=str(tmp_path / "r"), **{**TINY, "P": 50}), prepared=tiny_prepared
        )


@pytest.mark.parametrize(
    "params",
    [
        dict(loss="triplet"),
        dict(head="cosine", lam=0.1),
        dict(head="arcface", fakes_as_class=True),
        dict(cutout_part="eyes", mining="hard", schedule="cosine", optimizer="sgd"),
    ],
)
def test_variants_train(tiny_prepared, tmp_path, params):
    metrics = _fit(tiny_prepared, tmp_path / "run", epochs=1, **params)
    history = pd.read_csv(tmp_path / "run" / C.HISTORY_FILE)
    assert len(history) > 0 and history["loss"].map(math.isfinite).all()
    epochs = pd.read_csv(tmp_path / "run" / C.EPOCHS_FILE).set_index("epoch")
    assert list(epochs.index) == [0, 1]
    assert metrics["eer"] == pytest.approx(epochs.loc[metrics["best_epoch"], "eer"])
    assert RF.read_config(tmp_path / "run").items() >= params.items()


class CollapsesAfterFirstEpoch(Trainer):
    """A trainer whose model embeds every photo alike after its first epoch."""

    def _train_epoch(self):
        logged = super()._train_epoch()
        with torch.no_grad():
            self.model.head.weight.zero_()
            self.model.head.bias.fill_(1.0)
        return logged


def test_a_collapsed_model_stops_the_run_saying_what_to_try(tiny_prepared, tmp_path):
    config = TrainConfig(run_dir=str(tmp_path / "run"), **TINY)
    with pytest.raises(CollapsedEmbeddingsError, match=r"after epoch 1 .*lower learning rate") as e:
        CollapsesAfterFirstEpoch(config, prepared=tiny_prepared).fit()
    other = "hard" if config.mining == "random" else "random"
    assert f"mining='{other}'" in str(e.value) and "overwrite=True" in str(e.value)
    epochs = pd.read_csv(tmp_path / "run" / C.EPOCHS_FILE)
    assert list(epochs["epoch"]) == [0, 1] and epochs["similarity_std"].iloc[1] < COLLAPSED_STD
    assert not (tmp_path / "run" / C.METRICS_FILE).exists()  # no table row at chance


def test_a_random_model_starts_spread_and_calibration_changes_no_training(
    tiny_prepared, tmp_path, monkeypatch
):
    calibrated = _fit(tiny_prepared, tmp_path / "a", epochs=1)
    assert calibrated["history"][0]["similarity_std"] > 10 * COLLAPSED_STD
    monkeypatch.setattr(Trainer, "calibrate_normalisation", lambda self: None)
    plain = _fit(tiny_prepared, tmp_path / "b", epochs=1)
    assert plain["history"][0]["similarity_std"] < COLLAPSED_STD  # the default statistics
    # the weights train alike (training uses batch statistics); only the running statistics
    # that evaluation uses started elsewhere
    for a, b in zip(calibrated["history"][1:], plain["history"][1:]):
        assert a["train_loss"] == b["train_loss"]


def test_fine_tuning_starts_from_the_named_run(tiny_prepared, tmp_path):
    """``pretrained`` names a finished run as a batch names it (``<batch>/<run>``, found in the
    runs folder above the run): the fine-tuned run's epoch 0 is that run's best model."""
    runs = tmp_path / "runs"
    start = _fit(tiny_prepared, runs / "pretrain" / "faces", epochs=1, loss="triplet", n_fake=0)
    tuned = _fit(
        tiny_prepared, runs / "lambda" / "lam1" / "seed0", pretrained="pretrain/faces", epochs=1
    )
    best = start["history"][start["best_epoch"]]
    assert tuned["history"][0]["eer"] == pytest.approx(best["eer"])
    assert tuned["history"][0]["eer_fake"] == pytest.approx(best["eer_fake"])
    with pytest.raises(FileNotFoundError, match="pretrain/none"):
        TrainConfig(run_dir=str(runs / "x"), pretrained="pretrain/none").pretrained_weights()

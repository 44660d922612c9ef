"""The held-out test: scored once after training through the submission path, on the data
set's own labelled test pairs or on the identity-disjoint test split."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from krypto import constants as C
from krypto.challenge.heldout import heldout_pairs
from krypto.challenge.score import score_files
from krypto.data.index import prepare
from krypto.learning.config import TrainConfig
from krypto.learning.train import Trainer
from krypto.pipeline.after_training import finish_training

TINY = dict(epochs=1, P=4, K=4, image_size=32, progress=False, val_ratio=0.25)


def _train_and_finish(run_dir, prepared, **params) -> dict:
    """Train, then what 02_train does after training; returns the run's results.json."""
    config = TrainConfig(run_dir=str(run_dir), **{**TINY, **params})
    trainer = Trainer(config, prepared=prepared)
    return finish_training(trainer, trainer.fit())


def test_training_scores_the_labelled_test_pairs_as_a_submission(tiny_prepared, tmp_path):
    results = _train_and_finish(tmp_path / "run", tiny_prepared)
    run = tmp_path / "run"
    stored = json.loads((run / C.TEST_METRICS_FILE).read_text())
    assert {k: results[f"test_{k}"] for k in stored if k.startswith("eer")} == {
        k: v for k, v in stored.items() if k.startswith("eer")
    }
    assert "test" not in json.loads((run / C.METRICS_FILE).read_text())  # stored once
    # exactly what scoring the written submission against the data set's gt.csv gives
    rescored = score_files(tiny_prepared.root / C.GT_FILE, run / C.TEST_SUBMISSION_FILE)
    assert {k: stored[k] for k in rescored} == rescored
    submission = pd.read_csv(run / C.TEST_SUBMISSION_FILE, dtype={C.PAIR_ID: str})
    gt = pd.read_csv(tiny_prepared.root / C.GT_FILE, dtype={C.PAIR_ID: str})
    assert sorted(submission[C.PAIR_ID]) == sorted(gt[C.PAIR_ID])
    assert {"eer", "eer_real", "eer_fake", "eer_fake_other"} <= set(stored)


def test_without_a_labelled_test_the_test_split_is_used(tiny_data, tmp_path):
    data = shutil.copytree(tiny_data, tmp_path / "data")
    (data / C.GT_FILE).unlink()  # like the challenge's public test: no labels
    plain = prepare(
        data, out_dir=tmp_path / "plain", val_ratio=0.25, progress=False, pairs_per_kind=20
    )
    assert heldout_pairs(plain.root, plain.folder) is None
    held = prepare(
        data,
        out_dir=tmp_path / "held",
        val_ratio=0.25,
        test_ratio=0.25,
        progress=False,
        pairs_per_kind=20,
    )
    assert heldout_pairs(held.root, held.folder) == held.folder / C.HELDOUT_DIR
    _train_and_finish(tmp_path / "run", held, test_ratio=0.25)
    stored = json.loads((tmp_path / "run" / C.TEST_METRICS_FILE).read_text())
    assert stored["n_pairs"] == len(pd.read_csv(held.folder / C.HELDOUT_DIR / C.GT_FILE))
    no_test = _train_and_finish(tmp_path / "run2", plain)
    assert not any(k.startswith("test_") for k in no_test)
    assert not (tmp_path / "run2" / C.TEST_METRICS_FILE).exists()


def test_a_reused_run_reads_its_test_back_and_a_longer_one_is_scored_again(tiny_prepared, tmp_path):
    first = _train_and_finish(tmp_path / "run", tiny_prepared)
    file = tmp_path / "run" / C.TEST_METRICS_FILE
    before = file.stat().st_mtime_ns
    assert _train_and_finish(tmp_path / "run", tiny_prepared) == first
    assert file.stat().st_mtime_ns == before  # reused: not scored again
    longer = _train_and_finish(tmp_path / "run", tiny_prepared, epochs=2)
    assert file.stat().st_mtime_ns != before  # trained on: its test is the new best's
    assert json.loads(file.read_text())["eer"] == longer["test_eer"]

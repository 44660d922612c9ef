"""The held-out test: scored once after training through the submission path, on the data
set's own labelled test pairs or on the identity-disjoint test split."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from krypto import constants as C
from krypto.challenge.heldout import VARIANTS, degrade, heldout_pairs, variant_pairs
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


def test_each_variant_degrades_every_photo_once_and_keeps_the_pairs(tiny_prepared, tmp_path):
    pairs = tiny_prepared.root
    one = sorted((pairs / C.TEST_DIR).iterdir())[0] / C.PAIR_IMAGES[0]
    original = Image.open(one)
    for variant in VARIANTS:
        copy = variant_pairs(pairs, variant, tmp_path)
        assert (copy / C.GT_FILE).read_bytes() == (pairs / C.GT_FILE).read_bytes()
        assert sorted(p.name for p in (copy / C.TEST_DIR).iterdir()) == sorted(
            p.name for p in (pairs / C.TEST_DIR).iterdir()
        )
        degraded = copy / C.TEST_DIR / one.parent.name / one.name
        assert degraded.read_bytes() != one.read_bytes()
        size = Image.open(degraded).size
        half = (original.width // 2, original.height // 2)
        assert size == (half if variant == "half" else original.size)
        before = degraded.stat().st_mtime_ns
        assert variant_pairs(pairs, variant, tmp_path) == copy  # written once
        assert degraded.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="unknown test variant"):
        degrade(one.read_bytes(), "blur")


def test_robustness_scores_each_variant_beside_the_clean_test(tiny_prepared, tmp_path):
    results = _train_and_finish(tmp_path / "run", tiny_prepared, robustness=True)
    stored = json.loads((tmp_path / "run" / C.TEST_METRICS_FILE).read_text())
    for variant in VARIANTS:
        submission = tmp_path / "run" / f"test_submission-{variant}.csv"
        copy = variant_pairs(tiny_prepared.root, variant, tiny_prepared.folder)
        rescored = score_files(copy / C.GT_FILE, submission)
        assert {k: stored[f"{variant}_{k}"] for k in rescored} == rescored
        assert results[f"test_{variant}_eer"] == stored[f"{variant}_eer"]
    # the variants' photos differ, so their scores do (the same pairs, other similarities)
    clean = pd.read_csv(tmp_path / "run" / C.TEST_SUBMISSION_FILE)[C.SIMILARITY]
    half = pd.read_csv(tmp_path / "run" / "test_submission-half.csv")[C.SIMILARITY]
    assert not np.allclose(clean, half)
    # a reused run asked for the variants only now scores them then
    plain = _train_and_finish(tmp_path / "plain", tiny_prepared)
    assert "test_jpeg75_eer" not in plain
    again = _train_and_finish(tmp_path / "plain", tiny_prepared, robustness=True)
    assert again["test_eer"] == plain["test_eer"] and "test_jpeg75_eer" in again

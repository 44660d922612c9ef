"""The held-out test: scored once at the end of training through the submission path, on the
data set's own labelled test pairs or on the identity-disjoint test split."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from krypto import constants as C
from krypto.challenge.heldout import heldout_pairs
from krypto.challenge.score import score_files
from krypto.data.index import prepare
from krypto.learning.train import TrainConfig, Trainer

TINY = dict(epochs=1, P=4, K=4, image_size=32, progress=False, val_ratio=0.25)


def test_training_scores_the_labelled_test_pairs_as_a_submission(tiny_prepared, tmp_path):
    metrics = Trainer(
        TrainConfig(run_dir=str(tmp_path / "run"), **TINY), prepared=tiny_prepared
    ).fit()
    run = tmp_path / "run"
    stored = json.loads((run / C.TEST_METRICS_FILE).read_text())
    assert metrics["test"] == stored
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
    metrics = Trainer(
        TrainConfig(run_dir=str(tmp_path / "run"), test_ratio=0.25, **TINY), prepared=held
    ).fit()
    assert metrics["test"]["n_pairs"] == len(pd.read_csv(held.folder / C.HELDOUT_DIR / C.GT_FILE))
    no_test = Trainer(TrainConfig(run_dir=str(tmp_path / "run2"), **TINY), prepared=plain).fit()
    assert no_test["test"] is None and not (tmp_path / "run2" / C.TEST_METRICS_FILE).exists()

"""The real/fake head and its fusion into the pair score (krypto.learning.fake_head): the fused
score's properties, the choice of the fusion on validation pairs, the head's term acting, and a
trained run scoring its validation, its checkpoint and its submission alike."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from krypto import constants as C
from krypto.challenge.submit import make_submission
from krypto.evaluation.metrics import cosine_pair_scores, kind_eers, official_eer
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.learning.fake_head import (
    FUSION_WEIGHTS,
    FakeHead,
    Fusion,
    choose_fusion,
    fuse,
    pair_similarity,
)
from krypto.learning.losses import LossConfig, VerificationLoss
from krypto.learning.models import build_model
from krypto.learning.train import Trainer

TINY = dict(P=4, K=4, image_size=32, progress=False, val_ratio=0.25)


def test_fused_score_is_the_cosine_at_weight_zero_and_stays_in_range():
    rng = np.random.default_rng(0)
    cos, p_a, p_b = rng.uniform(-1, 1, 500), rng.uniform(0, 1, 500), rng.uniform(0, 1, 500)
    for rule in ("max", "mean"):
        assert np.allclose(fuse(cos, p_a, p_b, Fusion(rule, 0.0)), cos, atol=1e-6)
        full = fuse(cos, p_a, p_b, Fusion(rule, 1.0))
        assert full.min() >= -1 and full.max() <= 1
        assert np.all(full <= cos + 1e-6)  # a fake probability only lowers a score
    # a certain fake at full weight scores -1, whatever the similarity
    assert np.allclose(fuse([0.9, -0.2], [1.0, 1.0], [0.0, 0.0], Fusion("max", 1.0)), -1.0)
    # "max" takes the likelier fake of the two photos, "mean" their average
    assert fuse([0.0], [0.8], [0.2], Fusion("max", 0.5))[0] == pytest.approx(1 * 0.6 - 1)
    assert fuse([0.0], [0.8], [0.2], Fusion("mean", 0.5))[0] == pytest.approx(1 * 0.75 - 1)
    with pytest.raises(ValueError, match="fusion rule"):
        fuse([0.0], [0.1], [0.1], Fusion("min", 0.5))


def _pairs(n: int) -> pd.DataFrame:
    kinds = np.repeat([C.SAME, C.DIFFERENT, C.FAKE_SAME, C.FAKE_OTHER], n)
    return pd.DataFrame({C.KIND: kinds, C.PAIR_LABEL: (kinds == C.SAME).astype(int)})


def test_the_fusion_chosen_on_validation_lowers_the_eer_when_the_head_sees_fakes():
    rng = np.random.default_rng(1)
    pairs = _pairs(200)
    kind = pairs[C.KIND].to_numpy()
    # the cosine cannot tell a fake of the same person from the person...
    cos = np.where(
        kind == C.DIFFERENT, rng.normal(0.0, 0.2, len(kind)), rng.normal(0.7, 0.1, len(kind))
    )
    # ...the head can: photo b of a fake pair looks fake
    fake_b = np.isin(kind, (C.FAKE_SAME, C.FAKE_OTHER))
    p_a = rng.uniform(0.0, 0.2, len(kind))
    p_b = np.where(fake_b, rng.uniform(0.7, 1.0, len(kind)), rng.uniform(0.0, 0.2, len(kind)))
    fusion = choose_fusion(pairs, cos, p_a, p_b)
    labels = pairs[C.PAIR_LABEL]
    assert fusion.weight > 0
    assert official_eer(labels, fuse(cos, p_a, p_b, fusion)) < official_eer(labels, cos) - 0.2
    # a head that sees nothing (the same probability everywhere) leaves the cosine alone
    flat = np.full(len(kind), 0.5)
    assert choose_fusion(pairs, cos, flat, flat) == Fusion("max", 0.0)
    assert FUSION_WEIGHTS[0] == 0.0 and FUSION_WEIGHTS[-1] == 1.0


def test_the_head_reads_unit_embeddings_and_keeps_its_fusion_in_the_state_dict():
    head = FakeHead(8)
    e = torch.randn(5, 8)
    assert torch.allclose(head(e), head(3 * e), atol=1e-6)  # scale-free, as the cosine
    head.set_fusion(Fusion("mean", 0.35))
    other = FakeHead(8)
    other.load_state_dict(head.state_dict())
    assert other.fusion == Fusion("mean", 0.35)


def test_the_head_term_trains_the_head_and_the_embedding():
    torch.manual_seed(0)
    labels = torch.arange(4).repeat_interleave(4)
    is_fake = torch.tensor([False, False, False, True] * 4)
    model = build_model("small_cnn", embedding_dim=16, fake_head=True)
    loss_fn = VerificationLoss(LossConfig(loss="triplet", fake_head=1.0), 16, 4)
    emb = model(torch.rand(16, 3, 32, 32))
    loss, logs = loss_fn(emb, labels, is_fake, model.fake_head(emb))
    assert logs["loss_fake_head"] > 0 and logs["n_fake_head"] == 16
    loss.backward()
    assert model.fake_head.linear.weight.grad.abs().sum() > 0
    assert model.head.weight.grad.abs().sum() > 0
    # weight 0: no head term at all
    _, logs = VerificationLoss(LossConfig(loss="triplet"), 16, 4)(emb, labels, is_fake, None)
    assert "loss_fake_head" not in logs


def test_a_run_with_a_head_scores_validation_checkpoint_and_submission_alike(
    tiny_prepared, tmp_path
):
    config = TrainConfig(run_dir=str(tmp_path / "run"), epochs=1, fake_head=1.0, **TINY)
    trainer = Trainer(config, prepared=tiny_prepared)
    metrics = trainer.fit()
    best = metrics["history"][metrics["best_epoch"]]
    for key in ("fusion_rule", "fusion_weight", "eer_cosine", "fake_auc"):
        assert metrics[key] == best[key]
    model, _ = load_model(tmp_path / "run")
    assert model.fake_head is not None
    assert model.fake_head.fusion == Fusion(metrics["fusion_rule"], metrics["fusion_weight"])
    # the checkpoint scores the validation pairs as they were scored when it was chosen
    scores = trainer.pair_scores(model)
    assert kind_eers(tiny_prepared.pairs, scores)["eer"] == pytest.approx(metrics["eer"])
    # the submission goes through the same score: forcing a full-weight fusion changes it
    pairs_dir = tiny_prepared.root / C.TEST_DIR
    plain = make_submission(tmp_path / "run", pairs_dir, progress=False)
    ckpt = torch.load(tmp_path / "run" / C.BEST_CHECKPOINT, weights_only=True)
    ckpt["model"]["fake_head.fusion_weight"] = torch.tensor(1.0)
    torch.save(ckpt, tmp_path / "run" / C.BEST_CHECKPOINT)
    fused = make_submission(tmp_path / "run", pairs_dir, progress=False)
    assert (fused[C.SIMILARITY] <= plain[C.SIMILARITY] + 1e-6).all()
    assert not np.allclose(fused[C.SIMILARITY], plain[C.SIMILARITY])


def test_a_model_without_head_scores_by_the_cosine():
    model = build_model("small_cnn", embedding_dim=8)
    assert model.fake_head is None
    e = torch.randn(6, 8)
    assert np.array_equal(
        pair_similarity(model, e, [0, 1], [2, 3]), cosine_pair_scores(e, [0, 1], [2, 3])
    )
    with pytest.raises(ValueError, match="fake_head"):
        TrainConfig(fake_head=-1).validate()


def test_export_keeps_the_head_in_the_sidecar(tiny_prepared, tmp_path):
    from krypto.challenge.export import export_onnx, sidecar_path

    config = TrainConfig(run_dir=str(tmp_path / "run"), epochs=1, fake_head=1.0, **TINY)
    Trainer(config, prepared=tiny_prepared).fit()
    out = export_onnx(tmp_path / "run", tmp_path / "m.onnx")
    info = json.loads(sidecar_path(out).read_text())
    model, _ = load_model(tmp_path / "run")
    assert len(info["fake_head"]["weight"]) == model.embedding_dim
    assert info["fake_head"]["fusion_rule"] == model.fake_head.fusion.rule

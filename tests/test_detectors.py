"""Fake detectors and their fusion into the pair score (krypto.learning.detectors, .fusion): the
fused score's properties, the choice of the fusion on validation pairs, the forgery branch's
cues and resize, each detector's term acting, and a trained run scoring its validation, its
checkpoint, its submission and its ONNX export alike."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from krypto import constants as C
from krypto.challenge.export import FAKE_OUTPUT_NAME, export_onnx, onnx_outputs, sidecar_path
from krypto.challenge.submit import make_submission
from krypto.evaluation.metrics import cosine_pair_scores, kind_eers, official_eer
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.learning.detectors import FakeHead, ForgeryBranch, band_means, dct_matrix
from krypto.learning.fusion import (
    FUSION_WEIGHTS,
    Fusion,
    choose_fusion,
    fuse,
    get_fusion,
    pair_similarity,
    set_fusion,
)
from krypto.learning.losses import LossConfig, VerificationLoss
from krypto.learning.models import build_model, resize_matrix
from krypto.learning.train import Trainer

TINY = dict(P=4, K=4, image_size=32, progress=False, val_ratio=0.25)
DETECTORS = {
    "fake_head": dict(fake_head=1.0, forgery=0.0),
    "forgery": dict(forgery=1.0, forgery_size=40),
}


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


def test_the_fusion_chosen_on_validation_lowers_the_eer_when_the_detector_sees_fakes():
    rng = np.random.default_rng(1)
    pairs = _pairs(200)
    kind = pairs[C.KIND].to_numpy()
    # the cosine cannot tell a fake of the same person from the person...
    cos = np.where(
        kind == C.DIFFERENT, rng.normal(0.0, 0.2, len(kind)), rng.normal(0.7, 0.1, len(kind))
    )
    # ...the detector can: photo b of a fake pair looks fake
    fake_b = np.isin(kind, (C.FAKE_SAME, C.FAKE_OTHER))
    p_a = rng.uniform(0.0, 0.2, len(kind))
    p_b = np.where(fake_b, rng.uniform(0.7, 1.0, len(kind)), rng.uniform(0.0, 0.2, len(kind)))
    fusion = choose_fusion(pairs, cos, p_a, p_b)
    labels = pairs[C.PAIR_LABEL]
    assert fusion.weight > 0
    assert official_eer(labels, fuse(cos, p_a, p_b, fusion)) < official_eer(labels, cos) - 0.2
    # a detector that sees nothing (the same probability everywhere) leaves the cosine alone
    flat = np.full(len(kind), 0.5)
    assert choose_fusion(pairs, cos, flat, flat) == Fusion("max", 0.0)
    assert FUSION_WEIGHTS[0] == 0.0 and FUSION_WEIGHTS[-1] == 1.0


def test_the_head_reads_unit_embeddings_and_keeps_its_fusion_in_the_state_dict():
    head = FakeHead(8)
    e = torch.randn(5, 8)
    images = torch.rand(5, 3, 16, 16)
    assert torch.allclose(head(images, e), head(images, 3 * e), atol=1e-6)  # scale-free
    set_fusion(head, Fusion("mean", 0.35))
    other = FakeHead(8)
    other.load_state_dict(head.state_dict())
    assert get_fusion(other) == Fusion("mean", 0.35)


def test_the_forgery_cues_see_pixel_traces_and_refuse_another_size():
    branch = ForgeryBranch(size=16)
    blocks = torch.rand(2, 3, 8, 8).repeat_interleave(2, -1).repeat_interleave(2, -2)
    pixels, profile = branch.cues(blocks)
    assert pixels.shape == (2, 9, 16, 16) and profile.shape == (2, 4)
    # an image made of 2x2 blocks (a nearest-neighbour upsampling) has no NPR residual...
    assert pixels[:, 3:6].abs().max() < 1e-5
    # ...while noise has one; a flat image has no SRM residual away from the border
    assert branch.cues(torch.rand(2, 3, 16, 16))[0][:, 3:6].abs().mean() > 0.5
    flat = branch.cues(torch.full((1, 3, 16, 16), 0.5))[0]
    assert flat[:, 6:, 2:-2, 2:-2].abs().max() < 1e-5
    with pytest.raises(ValueError, match="16 x 16"):
        branch.cues(torch.rand(1, 3, 32, 32))
    d = dct_matrix(16)
    assert torch.allclose(d @ d.T, torch.eye(16), atol=1e-5)  # orthonormal
    assert torch.allclose(band_means(16).sum(0), torch.ones(4))  # a mean per band


def test_the_backbone_sees_the_photo_resized_as_interpolate_would():
    r = resize_matrix(40, 32)
    x = torch.rand(2, 3, 40, 40)
    expected = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True)
    assert torch.allclose(r @ x @ r.T, expected, atol=1e-5)
    torch.manual_seed(0)
    model = build_model("small_cnn", embedding_dim=8, forgery_size=40, image_size=32).eval()
    plain = build_model("small_cnn", embedding_dim=8).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k in plain.state_dict()})
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 9)  # the embedding, then the branch's logit
        assert torch.allclose(out[:, :8], plain(expected), atol=1e-4)
    with pytest.raises(ValueError, match="one fake detector"):
        build_model("small_cnn", fake_head=True, forgery_size=40)


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_the_detector_term_trains_the_detector(kind):
    torch.manual_seed(0)
    labels = torch.arange(4).repeat_interleave(4)
    is_fake = torch.tensor([False, False, False, True] * 4)
    size = 40 if kind == "forgery" else 32
    model = build_model("small_cnn", embedding_dim=16, fake_head=kind == "fake_head",
                        forgery_size=40 if kind == "forgery" else 0, image_size=32)  # fmt: skip
    loss_fn = VerificationLoss(LossConfig(loss="triplet", detector=1.0), 16, 4)
    out = model(torch.rand(16, 3, size, size))
    loss, logs = loss_fn(out[:, :16], labels, is_fake, out[:, 16])
    assert logs["loss_detector"] > 0 and logs["n_detector"] == 16
    loss.backward()
    assert all(p.grad.abs().sum() > 0 for p in model.detector.parameters() if p.requires_grad)
    # the head shares the embedding, the branch does not
    assert (model.head.weight.grad.abs().sum() > 0) == (kind == "fake_head") or kind == "forgery"
    # weight 0: no detector term at all
    _, logs = VerificationLoss(LossConfig(loss="triplet"), 16, 4)(out[:, :16], labels, is_fake)
    assert "loss_detector" not in logs


def test_the_forgery_branch_learns_an_upsampling_trace():
    """Photos with the blocks of a nearest-neighbour upsampling against plain noisy photos: a
    few steps of the branch alone tell them apart."""
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 3, 16, 16, generator=g)
    fake = torch.rand(64, 3, 8, 8, generator=g).repeat_interleave(2, -1).repeat_interleave(2, -2)
    x, y = torch.cat([real, fake]), torch.cat([torch.zeros(64), torch.ones(64)])
    torch.manual_seed(0)
    branch = ForgeryBranch(size=16, width=8)
    optimizer = torch.optim.Adam(branch.parameters(), 1e-2)
    for _ in range(30):
        loss = F.binary_cross_entropy_with_logits(branch(x, None), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    branch.eval()
    with torch.no_grad():
        p = torch.sigmoid(branch(x, None))
    assert p[64:].min() > p[:64].max()  # every fake above every real


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_a_run_with_a_detector_scores_validation_checkpoint_submission_and_export_alike(
    kind, tiny_prepared, tmp_path
):
    run = tmp_path / "run"
    config = TrainConfig(run_dir=str(run), epochs=1, **DETECTORS[kind], **TINY)
    trainer = Trainer(config, prepared=tiny_prepared)
    metrics = trainer.fit()
    best = metrics["history"][metrics["best_epoch"]]
    for key in ("fusion_rule", "fusion_weight", "eer_cosine", "fake_auc"):
        assert metrics[key] == best[key]
    model, _ = load_model(run)
    assert model.detector is not None
    assert get_fusion(model.detector) == Fusion(metrics["fusion_rule"], metrics["fusion_weight"])
    # the checkpoint scores the validation pairs as they were scored when it was chosen
    scores = trainer.pair_scores(model)
    assert kind_eers(tiny_prepared.pairs, scores)["eer"] == pytest.approx(metrics["eer"])
    # the ONNX model gives the embeddings and the fake logits, the sidecar the fusion
    out = export_onnx(run, tmp_path / "m.onnx")
    info = json.loads(sidecar_path(out).read_text())
    assert info["parity_max_abs_diff"] < 1e-4
    assert info["fake_logits"]["name"] == FAKE_OUTPUT_NAME
    assert info["fake_logits"]["fusion_rule"] == metrics["fusion_rule"]
    images = trainer.images[:5]
    with torch.no_grad():
        expected = model(torch.as_tensor(images).float() / 255).numpy()
    assert np.allclose(onnx_outputs(out, images), expected, atol=1e-4)
    # the submission goes through the same score: forcing a full-weight fusion changes it
    pairs_dir = tiny_prepared.root / C.TEST_DIR
    plain = make_submission(run, pairs_dir, progress=False)
    ckpt = torch.load(run / C.BEST_CHECKPOINT, weights_only=True)
    ckpt["model"]["detector.fusion_weight"] = torch.tensor(1.0)
    torch.save(ckpt, run / C.BEST_CHECKPOINT)
    fused = make_submission(run, pairs_dir, progress=False)
    assert (fused[C.SIMILARITY] <= plain[C.SIMILARITY] + 1e-6).all()
    assert not np.allclose(fused[C.SIMILARITY], plain[C.SIMILARITY])


def test_a_model_without_detector_scores_by_the_cosine():
    model = build_model("small_cnn", embedding_dim=8)
    assert model.detector is None
    e = torch.randn(6, 8)
    assert np.array_equal(
        pair_similarity(model, e, [0, 1], [2, 3]), cosine_pair_scores(e, [0, 1], [2, 3])
    )
    for bad, match in (
        (dict(fake_head=-1), "fake_head"),
        (dict(forgery=-1), "forgery"),
        (dict(fake_head=1.0, forgery=1.0), "choose one"),
        (dict(forgery=1.0, forgery_size=32, image_size=48), "forgery_size=32"),
    ):
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad).validate()


def test_the_forgery_branch_learns_at_its_own_rate(tiny_prepared, tmp_path):
    config = TrainConfig(
        run_dir=str(tmp_path / "run"), epochs=1, lr=2e-3, **DETECTORS["forgery"], **TINY
    )
    trainer = Trainer(config, prepared=tiny_prepared)
    groups = trainer.optimizer.param_groups
    branch = {id(p) for p in trainer.model.detector.parameters()}
    assert {id(p) for p in groups[1]["params"]} == branch
    assert (
        groups[1]["lr"] == pytest.approx(2e-3 * ForgeryBranch.lr_scale) and groups[0]["lr"] == 2e-3
    )
    everything = {id(p) for p in [*trainer.model.parameters(), *trainer.criterion.parameters()]}
    assert {id(p) for g in groups for p in g["params"]} == everything  # each parameter once

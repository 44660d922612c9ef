"""Miner, losses, sampler, augmentations and the model registry."""

import numpy as np
import pytest
import torch

from krypto.learning.augment import cutout, part_boxes, random_flip
from krypto.learning.losses import CosineHead, LossConfig, VerificationLoss
from krypto.learning.miner import mine_quadruplets, mine_triplets
from krypto.learning.models import BACKBONES, EmbeddingModel, PretrainedWeightsError, build_model
from krypto.learning.sampler import IdentityBatchSampler


def _batch(seed=0, n_ids=6, k=5):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_ids).repeat_interleave(k)
    is_fake = torch.rand(len(labels), generator=g) < 0.3
    emb = torch.nn.functional.normalize(torch.randn(len(labels), 16, generator=g), dim=1)
    return labels, is_fake, emb, torch.cdist(emb, emb)


@pytest.mark.parametrize("strategy", ["random", "hard"])
@pytest.mark.parametrize("seed", range(5))
def test_every_mined_quadruplet_obeys_its_rule(strategy, seed):
    labels, is_fake, _, dist = _batch(seed)
    a, p, n, f = mine_quadruplets(labels, is_fake, dist, strategy)
    assert len(a) > 0
    assert (~is_fake[a]).all() and (~is_fake[p]).all() and (~is_fake[n]).all() and is_fake[f].all()
    assert (labels[a] == labels[p]).all() and (a != p).all()
    assert (labels[a] != labels[n]).all()
    assert (labels[a] == labels[f]).all()
    # every real anchor with a real positive, a real negative and a fake in the batch is used
    expected = [
        i
        for i in range(len(labels))
        if not is_fake[i]
        and ((labels == labels[i]) & ~is_fake).sum() > 1
        and ((labels == labels[i]) & is_fake).any()
    ]
    assert sorted(a.tolist()) == expected


def test_hard_mining_picks_the_extremes():
    labels, is_fake, _, dist = _batch(3)
    a, p, n, f = mine_quadruplets(labels, is_fake, dist, "hard")
    for ai, pi, ni, fi in zip(a, p, n, f):
        pos = (labels == labels[ai]) & ~is_fake
        pos[ai] = False
        assert dist[ai, pi] == dist[ai][pos].max()
        assert dist[ai, ni] == dist[ai][(labels != labels[ai]) & ~is_fake].min()
        assert dist[ai, fi] == dist[ai][(labels == labels[ai]) & is_fake].min()


def test_triplets_by_label_count_fakes_as_members():
    labels, is_fake, _, dist = _batch(1)
    a, p, n = mine_triplets(labels, dist)
    assert len(a) == len(labels)  # everyone has a positive and a negative
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()
    assert is_fake[a].any()  # fakes are anchors too in the baseline


def test_batch_without_a_valid_tuple_gives_zero_loss_not_nan():
    labels = torch.tensor([0, 0, 0, 0])  # one identity: no negative
    is_fake = torch.tensor([False, False, True, False])
    emb = torch.randn(4, 8, requires_grad=True)
    for loss_name in ("triplet", "quadruplet"):
        loss, logs = VerificationLoss(LossConfig(loss=loss_name), 8, 1)(emb, labels, is_fake)
        assert loss.item() == 0.0 and logs["n_tuples"] == 0
        loss.backward()
        assert torch.isfinite(emb.grad).all()
    a, p, n, f = mine_quadruplets(
        torch.tensor([0, 1]), torch.tensor([False, False]), torch.zeros(2, 2)
    )
    assert len(a) == len(p) == len(n) == len(f) == 0


def test_fake_term_is_applied_and_scaled_by_lambda():
    labels, is_fake, _, _ = _batch(2)
    emb = torch.randn(len(labels), 16, generator=torch.Generator().manual_seed(0))
    losses = {}
    for lam in (0.0, 1.0, 2.0):
        g = torch.Generator().manual_seed(7)
        loss, logs = VerificationLoss(LossConfig(loss="quadruplet", lam=lam), 16, 6, g)(
            emb, labels, is_fake
        )
        losses[lam] = (loss.item(), logs)
    assert losses[1.0][1]["loss_fake"] > 0
    for lam in (1.0, 2.0):
        real, fake = losses[lam][1]["loss_real"], losses[lam][1]["loss_fake"]
        assert losses[lam][0] == pytest.approx(real + lam * fake, rel=1e-5)
    assert losses[2.0][0] > losses[1.0][0] > losses[0.0][0]


def test_quadruplet_gradient_pushes_the_fake_away():
    labels = torch.tensor([0, 0, 0, 1])
    is_fake = torch.tensor([False, False, True, False])
    emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.95, 0.05], [-1.0, 0.0]], requires_grad=True)
    loss, _ = VerificationLoss(LossConfig(loss="quadruplet", lam=1.0, margin=0.5), 2, 2)(
        emb, labels, is_fake
    )
    loss.backward()
    with torch.no_grad():
        unit = torch.nn.functional.normalize(emb, dim=1)
        fake_moved = torch.nn.functional.normalize(emb[2] - 0.1 * emb.grad[2], dim=0)
        assert (fake_moved - unit[0]).norm() > (unit[2] - unit[0]).norm()  # the fake moves away
        positive_moved = torch.nn.functional.normalize(emb[1] - 0.1 * emb.grad[1], dim=0)
        assert (positive_moved - unit[0]).norm() < (unit[1] - unit[0]).norm()  # the positive closer


@pytest.mark.parametrize("head", ["cosine", "arcface"])
@pytest.mark.parametrize("fakes_as_class", [False, True])
def test_heads_and_fakes_as_class_train(head, fakes_as_class):
    labels, is_fake, _, _ = _batch(4)
    emb = torch.randn(len(labels), 16, requires_grad=True)
    criterion = VerificationLoss(LossConfig(head=head, fakes_as_class=fakes_as_class), 16, 6)
    loss, logs = criterion(emb, labels, is_fake)
    loss.backward()
    assert logs["loss_head"] > 0 and torch.isfinite(emb.grad).all()
    assert sum(p.numel() for p in criterion.parameters()) == 16 * 6 * (2 if fakes_as_class else 1)


def test_fakes_as_class_makes_own_fakes_negatives():
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    is_fake = torch.tensor([False, False, True, False, False, True])
    relabelled = labels + is_fake.long() * 2
    same_identity = labels[:, None] == labels[None, :]
    dist = torch.where(same_identity, 0.1, 1.0)  # own fakes are the nearest negatives
    a, p, n = mine_triplets(relabelled, dist, "hard")
    real = ~is_fake[a]
    assert (labels[a][real] == labels[n][real]).all() and is_fake[n][real].all()  # own fakes
    assert (relabelled[a] != relabelled[n]).all()


def test_cosine_head_is_scale_free():
    head = CosineHead(4, 3)
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    assert head(x, y).item() == pytest.approx(head(10 * x, y).item(), rel=1e-5)


def test_bad_loss_config_is_refused():
    for bad in (
        dict(loss="quad"),
        dict(head="softmax"),
        dict(lam=-1),
        dict(margin=0),
        dict(mining="x"),
    ):
        with pytest.raises(ValueError):
            LossConfig(**bad).validate()


def test_sampler_batches_hold_p_identities_with_their_fakes():
    labels = np.repeat(np.arange(10), 6)
    is_fake = np.tile([0, 0, 0, 0, 1, 1], 10).astype(bool)
    sampler = IdentityBatchSampler(labels, is_fake, n_identities=4, n_instances=4, n_fake=1, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 60 // 16
    for batch in batches:
        assert len(batch) == 16
        ids = labels[batch]
        for ident in np.unique(ids):
            members = np.asarray(batch)[ids == ident]
            assert is_fake[members].sum() >= 1 and (~is_fake[members]).sum() >= 2
    sampler.set_epoch(1)
    again = IdentityBatchSampler(labels, is_fake, 4, 4, 1, seed=3)
    again.set_epoch(1)
    assert list(sampler) == list(again) != batches


def test_sampler_gives_processes_disjoint_identities():
    labels = np.repeat(np.arange(12), 4)
    is_fake = np.tile([0, 0, 0, 1], 12).astype(bool)
    ranks = [
        IdentityBatchSampler(labels, is_fake, 3, 4, 1, seed=0, rank=r, world_size=2)
        for r in range(2)
    ]
    first = [set(labels[next(iter(s))]) for s in ranks]
    assert not first[0] & first[1]
    assert len(ranks[0]) == len(ranks[1])


def test_sampler_draws_from_each_identitys_rows_in_row_order():
    """The real and fake rows of each identity: those a scan of every row for it finds, in order
    (labels unsorted, not contiguous, some identities without fakes)."""
    rng = np.random.default_rng(0)
    labels, is_fake = rng.integers(0, 40, 600), rng.random(600) < 0.3
    labels[labels == 7] = 41  # a gap in the labels
    sampler = IdentityBatchSampler(labels, is_fake, 4, 4)
    assert list(sampler.real) == list(sampler.fake) == list(np.unique(labels))
    for ident in np.unique(labels):
        np.testing.assert_array_equal(
            sampler.real[ident], np.flatnonzero((labels == ident) & ~is_fake)
        )
        np.testing.assert_array_equal(
            sampler.fake[ident], np.flatnonzero((labels == ident) & is_fake)
        )


def test_sampler_refuses_too_large_p():
    with pytest.raises(ValueError, match="only 3 identities"):
        IdentityBatchSampler(np.repeat(np.arange(3), 4), np.zeros(12, bool), 4, 4)


def test_cutout_zeroes_the_part_box_only():
    images = torch.full((2, 3, 20, 20), 200, dtype=torch.uint8)
    # eyes at (0.3, 0.4) and (0.7, 0.4), nose (0.5, 0.55), mouth (0.35, 0.75)-(0.65, 0.75)
    lm = torch.tensor([[0.3, 0.4, 0.7, 0.4, 0.5, 0.55, 0.35, 0.75, 0.65, 0.75]] * 2)
    lm[1] = float("nan")  # unknown landmarks: left alone
    out = cutout(images.clone(), lm, "mouth", p=1.0)
    assert (out[0, :, 15, 10] == 0).all()  # mouth centre
    assert (out[0, :, 8, 6] == 200).all()  # left eye untouched
    assert (out[1] == 200).all()
    box = part_boxes(lm[:1], "eyes")[0]
    assert box[0] < 0.3 and box[2] > 0.7 and box[1] < 0.4 < box[3]
    assert (cutout(images.clone(), lm, "nose", p=0.0) == 200).all()
    with pytest.raises(ValueError, match="cutout part"):
        part_boxes(lm, "ears")


def test_flip_mirrors_images():
    images = torch.arange(2 * 3 * 2 * 4, dtype=torch.uint8).view(2, 3, 2, 4)
    assert torch.equal(random_flip(images, p=1.0), images.flip(-1))
    assert torch.equal(random_flip(images, p=0.0), images)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_builds_and_embeds(name):
    size = 80 if name == "facenet" else 32
    model = build_model(name, pretrained=False, embedding_dim=8).eval()
    assert isinstance(model, EmbeddingModel)
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2, 8) and torch.isfinite(out).all()


def test_unknown_backbone_and_missing_weights_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("resnet9000")
    with pytest.raises(PretrainedWeightsError, match="does not exist"):
        build_model("small_cnn", pretrained=str(tmp_path / "nope.pt"))


def test_local_weights_file_is_loaded(tmp_path):
    source = build_model("small_cnn", embedding_dim=8)
    file = tmp_path / "backbone.pt"
    torch.save(source.backbone.state_dict(), file)
    loaded = build_model("small_cnn", pretrained=str(file), embedding_dim=8)
    for a, b in zip(source.backbone.state_dict().values(), loaded.backbone.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("defect", ["missing", "extra", "shape"])
def test_weights_that_do_not_fit_are_refused_naming_what(tmp_path, defect):
    """Every tensor of the backbone comes from the file, or nothing loads: a key missing (the
    last 40% of the tensors), an unexpected key or a tensor of another shape stops, naming the
    file, the counts and the first keys; a published classifier head in the file is left out."""
    state = build_model("small_cnn", embedding_dim=8).backbone.state_dict()
    keys = list(state)
    if defect == "missing":
        state = {k: state[k] for k in keys[: int(len(keys) * 0.6)]}
    elif defect == "extra":
        state["7.weight"] = torch.zeros(3)
    else:
        state[keys[0]] = torch.zeros(1, 3, 3, 3)
    torch.save(state, tmp_path / "weights.pt")
    counts = {"missing": r"[1-9]\d* missing", "extra": "1 unexpected", "shape": "1 of another"}
    with pytest.raises(PretrainedWeightsError, match=counts[defect]) as error:
        build_model("small_cnn", pretrained=str(tmp_path / "weights.pt"), embedding_dim=8)
    assert "weights.pt" in str(error.value)
    first = {"missing": keys[int(len(keys) * 0.6)], "extra": "7.weight", "shape": keys[0]}
    assert first[defect] in str(error.value)
    published = {**build_model("small_cnn").backbone.state_dict(), "logits.weight": torch.zeros(2)}
    torch.save(published, tmp_path / "with_head.pt")
    build_model("small_cnn", pretrained=str(tmp_path / "with_head.pt"))  # the head is left out


def test_a_training_runs_checkpoint_is_a_starting_point(tmp_path):
    """pretrained= a run folder (its best.pt) or the checkpoint itself: the whole embedding
    model is loaded, the projection too when its size matches."""
    source = build_model("small_cnn", embedding_dim=8)
    run = tmp_path / "pretrain"
    run.mkdir()
    torch.save({"model": source.state_dict(), "config": {}, "epoch": 3}, run / "best.pt")
    for ref in (run, run / "best.pt"):
        loaded = build_model("small_cnn", pretrained=str(ref), embedding_dim=8)
        for key, value in source.state_dict().items():
            assert torch.equal(value, loaded.state_dict()[key]), key
    other_size = build_model("small_cnn", pretrained=str(run), embedding_dim=16)
    assert torch.equal(
        other_size.backbone.state_dict()["0.0.weight"], source.backbone.state_dict()["0.0.weight"]
    )
    with pytest.raises(PretrainedWeightsError, match="does not fit"):
        build_model("resnet18", pretrained=str(run), embedding_dim=8)


def test_pretrained_offline_says_which_file_goes_where(monkeypatch, tmp_path):
    """With no cached file and no network, asking for pretrained weights names the file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.hub.set_dir(str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    import facenet_pytorch.models.inception_resnet_v1 as irv1

    monkeypatch.setattr(irv1, "download_url_to_file", offline, raising=False)
    with pytest.raises(PretrainedWeightsError, match="resnet18"):
        build_model("resnet18", pretrained=True)
    with pytest.raises(PretrainedWeightsError, match="vggface2"):
        build_model("facenet", pretrained=True)


def test_pairwise_pairs_follow_their_rules():
    from krypto.learning.pairs import NEGATIVE_FAKE, NEGATIVE_REAL, POSITIVE, mine_pairs

    labels, is_fake, _, _ = _batch(2)
    a, b, kind = mine_pairs(labels, is_fake, torch.Generator().manual_seed(0))
    pos, neg, fake = kind == POSITIVE, kind == NEGATIVE_REAL, kind == NEGATIVE_FAKE
    real = ~is_fake
    assert (labels[a[pos]] == labels[b[pos]]).all() and (real[a[pos]] & real[b[pos]]).all()
    # every pair of two real photos of one identity, once
    expected = sum(int(n) * (int(n) - 1) // 2 for n in torch.bincount(labels[real]))
    assert int(pos.sum()) == expected and (a[pos] < b[pos]).all()
    assert (labels[a[neg]] != labels[b[neg]]).all() and (real[a[neg]] & real[b[neg]]).all()
    assert (
        (labels[a[fake]] == labels[b[fake]]).all()
        and real[a[fake]].all()
        and is_fake[b[fake]].all()
    )
    assert int(neg.sum()) == int(fake.sum()) == expected // 2  # half the positives each


def test_adaptive_margin_grows_with_hardness_and_pushes_the_right_way():
    from krypto.learning.pairs import adaptive_margin_bce

    cos = torch.tensor([0.45, 0.2, 0.3, -0.2], requires_grad=True)
    target = torch.tensor([1.0, 1.0, 0.0, 0.0])
    loss = adaptive_margin_bce(cos, target)
    assert loss[1] > loss[0] and loss[2] > loss[3]  # a far positive, a near negative cost more
    loss.sum().backward()
    assert (cos.grad[:2] < 0).all() and (cos.grad[2:] > 0).all()  # positives up, negatives down


def test_fakes_as_class_with_the_fake_term_differs_from_the_fake_term_alone():
    """With the quadruplet loss, fakes_as_class makes the metric term a triplet loss over every
    photo by class (fakes anchors and negatives too); without it, real photos only."""
    labels, is_fake, _, _ = _batch(2)
    emb = torch.randn(len(labels), 16, generator=torch.Generator().manual_seed(0))
    logs = {}
    for fac in (False, True):
        g = torch.Generator().manual_seed(7)
        _, logs[fac] = VerificationLoss(
            LossConfig(loss="quadruplet", fakes_as_class=fac), 16, 6, g
        )(emb, labels, is_fake)
    assert logs[True]["n_tuples"] > logs[False]["n_tuples"]  # fakes are anchors too
    assert logs[True]["n_fake_tuples"] == logs[False]["n_fake_tuples"] > 0
    assert logs[True]["loss_real"] != logs[False]["loss_real"]

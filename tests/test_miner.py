"""The miner: mine_quadruplets and mine_triplets against a brute-force search of the candidates
(both strategies, batches without any valid tuple included; with ``hard``, the extreme picks,
the first one on ties), hand-made batches with known picks, the logged batch distances; and
every random draw of a training step comes from the run's seeded CPU generator (drawn on the
CPU, then moved), never from the global generator nor on the device."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from krypto.learning import augment, miner
from krypto.learning.miner import STRATEGIES, mine_quadruplets, mine_triplets


def _batch(n_ids: int, k: int, fake_rate: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_ids, (n_ids * k,), generator=g)
    is_fake = torch.rand(len(labels), generator=g) < fake_rate
    e = torch.nn.functional.normalize(torch.randn(len(labels), 8, generator=g), dim=1)
    return labels, is_fake, torch.cdist(e, e)


def _identity_batch(ids, fakes):
    """A batch with the given labels and fake flags, distances from a fixed embedding."""
    labels, is_fake = torch.tensor(ids), torch.tensor(fakes, dtype=torch.bool)
    g = torch.Generator().manual_seed(7)
    e = torch.nn.functional.normalize(torch.randn(len(ids), 4, generator=g), dim=1)
    return labels, is_fake, torch.cdist(e, e)


BATCHES = {
    **{f"random-{s}": _batch(3 + s, 2 + s % 4, 0.3, s) for s in range(6)},
    "pk-36": _identity_batch(np.repeat(np.arange(9), 4).tolist(), [0, 0, 0, 1] * 9),
    "ties": (
        torch.tensor([0, 0, 0, 1, 1, 1]),
        torch.tensor([0, 0, 1, 0, 0, 1]).bool(),
        torch.zeros(6, 6),
    ),  # every distance equal: the first extreme wins on both paths
    # no valid quadruplet: one identity; no fakes; only fakes; a single photo
    "one-identity": _identity_batch([3, 3, 3, 3], [0, 0, 1, 1]),
    "no-fakes": _identity_batch([0, 0, 1, 1], [0, 0, 0, 0]),
    "only-fakes": _identity_batch([0, 0, 1, 1], [1, 1, 1, 1]),
    "one-photo": _identity_batch([0], [0]),
}
EMPTY = {"one-identity", "no-fakes", "only-fakes", "one-photo"}


def _check_quadruplet_rules(labels, is_fake, a, p, n, f):
    assert len(a) == len(p) == len(n) == len(f)
    assert (~is_fake[a]).all() and (~is_fake[p]).all() and (~is_fake[n]).all()
    assert is_fake[f].all()
    assert (labels[a] == labels[p]).all() and (a != p).all()
    assert (labels[a] != labels[n]).all() and (labels[a] == labels[f]).all()


def _brute_force_quadruplet_candidates(labels, is_fake):
    """Every real anchor that has a real positive, a real negative and a fake of its own
    identity, with those candidates, found by looping over the batch."""
    lab, fake = labels.tolist(), is_fake.tolist()
    found = {}
    for i, li in enumerate(lab):
        if fake[i]:
            continue
        pos = [j for j, lj in enumerate(lab) if lj == li and j != i and not fake[j]]
        neg = [j for j, lj in enumerate(lab) if lj != li and not fake[j]]
        fakes = [j for j, lj in enumerate(lab) if lj == li and fake[j]]
        if pos and neg and fakes:
            found[i] = (pos, neg, fakes)
    return found


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", sorted(BATCHES))
def test_mine_quadruplets_obeys_the_rules_found_by_brute_force(name, strategy):
    """Exactly the anchors that have all three, each once, with a candidate of each role; with
    ``hard``, the farthest positive, the nearest negative and the nearest fake, the first of
    equals on ties (the ``ties`` batch)."""
    labels, is_fake, dist = BATCHES[name]
    a, p, n, f = mine_quadruplets(labels, is_fake, dist, strategy, torch.Generator().manual_seed(5))
    assert all(x.dtype == torch.long for x in (a, p, n, f))
    _check_quadruplet_rules(labels, is_fake, a, p, n, f)
    candidates = _brute_force_quadruplet_candidates(labels, is_fake)
    assert a.tolist() == sorted(candidates)
    for i, j, k, m in zip(a.tolist(), p.tolist(), n.tolist(), f.tolist()):
        pos, neg, fakes = candidates[i]
        assert j in pos and k in neg and m in fakes
        if strategy == "hard":
            far = max(dist[i, q] for q in pos)
            assert j == next(q for q in pos if dist[i, q] == far)
            near = min(dist[i, q] for q in neg)
            assert k == next(q for q in neg if dist[i, q] == near)
            nearest_fake = min(dist[i, q] for q in fakes)
            assert m == next(q for q in fakes if dist[i, q] == nearest_fake)
    if name in EMPTY:
        assert len(a) == 0
    elif not name.startswith("random"):
        assert len(a) > 0


def test_the_random_batches_hold_quadruplets():
    """The random batches above are not all empty (the checks would then be vacuous)."""
    sizes = [len(mine_quadruplets(*BATCHES[f"random-{s}"], "hard")[0]) for s in range(6)]
    assert sum(size > 0 for size in sizes) >= 4, sizes


def test_random_quadruplets_reach_every_candidate_and_repeat_with_the_seed():
    labels, is_fake, dist = BATCHES["pk-36"]
    g = torch.Generator().manual_seed(0)
    draws = [mine_quadruplets(labels, is_fake, dist, "random", g) for _ in range(100)]
    for row, (anchor, (pos, neg, fakes)) in enumerate(
        _brute_force_quadruplet_candidates(labels, is_fake).items()
    ):
        assert int(draws[0][0][row]) == anchor
        assert {int(d[1][row]) for d in draws} == set(pos)
        assert {int(d[3][row]) for d in draws} == set(fakes)
        assert len({int(d[2][row]) for d in draws}) > len(neg) // 2
    again = mine_quadruplets(labels, is_fake, dist, "random", torch.Generator().manual_seed(0))
    assert [t.tolist() for t in again] == [t.tolist() for t in draws[0]]


def _brute_force_triplet_candidates(labels):
    """Every anchor that has a positive and a negative, with its positives and negatives,
    found by looping over the batch."""
    lab = labels.tolist()
    found = {}
    for i, li in enumerate(lab):
        pos = [j for j, lj in enumerate(lab) if lj == li and j != i]
        neg = [j for j, lj in enumerate(lab) if lj != li]
        if pos and neg:
            found[i] = (pos, neg)
    return found


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", sorted(BATCHES))
def test_mine_triplets_obeys_the_rules_found_by_brute_force(name, strategy):
    """Exactly the anchors that have a positive and a negative, each once; a positive of its
    identity (not itself) and a negative of another; with ``hard``, the farthest positive and
    the nearest negative."""
    labels, _, dist = BATCHES[name]
    a, p, n = mine_triplets(labels, dist, strategy, torch.Generator().manual_seed(5))
    candidates = _brute_force_triplet_candidates(labels)
    assert a.tolist() == sorted(candidates)
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
        pos, neg = candidates[i]
        assert j in pos and k in neg
        if strategy == "hard":
            assert dist[i, j] == max(dist[i, q] for q in pos)
            assert dist[i, k] == min(dist[i, q] for q in neg)


def test_mine_triplets_on_a_hand_made_batch():
    """Six photos on a line (distance = the gap): identities 0, 0, 0, 1, 1 and a lone 2, which
    has no positive and is no anchor. The hard picks are known; random ones reach every
    candidate over a few batches, and the same seed draws the same."""
    x = torch.tensor([0.0, 1.0, 3.0, 10.0, 11.0, 20.0])
    labels, dist = torch.tensor([0, 0, 0, 1, 1, 2]), (x[:, None] - x[None, :]).abs()
    a, p, n = mine_triplets(labels, dist, "hard")
    assert a.tolist() == [0, 1, 2, 3, 4]
    assert p.tolist() == [2, 2, 0, 4, 3]
    assert n.tolist() == [3, 3, 3, 2, 2]
    g = torch.Generator().manual_seed(0)
    draws = [mine_triplets(labels, dist, "random", g) for _ in range(200)]
    for anchor, (pos, neg) in _brute_force_triplet_candidates(labels).items():
        assert {int(d[1][anchor]) for d in draws} == set(pos)
        assert {int(d[2][anchor]) for d in draws} == set(neg)
    again = mine_triplets(labels, dist, "random", torch.Generator().manual_seed(0))
    assert [t.tolist() for t in again] == [t.tolist() for t in draws[0]]


def test_unknown_strategy_is_refused():
    labels, is_fake, dist = BATCHES["pk-36"]
    with pytest.raises(ValueError, match="unknown mining strategy"):
        mine_quadruplets(labels, is_fake, dist, "softest", None)
    with pytest.raises(ValueError, match="unknown mining strategy"):
        mine_triplets(labels, dist, "softest", None)


class _DrawSpy:
    """Wraps ``torch.rand``: counts the calls and refuses a draw without the run's generator or
    one made directly on a device."""

    def __init__(self, rand, generator):
        self.rand, self.generator, self.calls = rand, generator, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        assert kwargs.get("generator") is self.generator, "a draw outside the run's generator"
        # drawn where the generator lives, then moved: a device= here is what CUDA refuses
        # with a CPU generator, even where the tests (on a CPU) would not notice it
        assert "device" not in kwargs, f"a draw made on {kwargs['device']} with a CPU generator"
        return self.rand(*args, **kwargs)


def test_training_draws_come_from_the_run_generator_on_the_cpu(monkeypatch):
    """The miner's and the augmentations' draws: from the seeded CPU generator, made on the CPU
    (then moved to the batch's device), leaving the global generator alone."""
    generator = torch.Generator().manual_seed(3)
    spy = _DrawSpy(torch.rand, generator)
    monkeypatch.setattr(torch, "rand", spy)
    labels, is_fake, dist = BATCHES["pk-36"]
    images = torch.randint(0, 256, (len(labels), 3, 16, 16), dtype=torch.uint8)
    points = torch.tensor([0.35, 0.4, 0.65, 0.4, 0.5, 0.55, 0.4, 0.7, 0.6, 0.7])
    landmarks = points.repeat(len(labels), 1)
    before = torch.get_rng_state()
    mine_quadruplets(labels, is_fake, dist, "random", generator)
    mine_quadruplets(labels, is_fake, dist, "random", generator)
    mine_triplets(labels, dist, "random", generator)
    augment.cutout(images.clone(), landmarks, "mouth", 0.5, generator)
    augment.random_flip(images, generator, 0.5)
    assert spy.calls == 5
    assert torch.equal(torch.get_rng_state(), before)  # the global generator was not touched
    assert miner.torch.rand is spy  # the miner draws through torch.rand, not a private copy


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_batch_distances_are_the_means_found_by_brute_force(name):
    """The logged batch distances: from each real photo to the other real photos of its identity,
    to the real photos of others and to the fakes of its identity (NaN where there is none)."""
    from krypto.learning.losses import batch_distances

    labels, is_fake, dist = BATCHES[name]
    lab, fake = labels.tolist(), is_fake.tolist()
    found = {"dist_pos": [], "dist_neg": [], "dist_fake": []}
    for i, j in itertools.product(range(len(lab)), repeat=2):
        if fake[i] or i == j:
            continue
        if lab[i] != lab[j]:
            key = None if fake[j] else "dist_neg"
        else:
            key = "dist_fake" if fake[j] else "dist_pos"
        if key:
            found[key].append(float(dist[i, j]))
    got = batch_distances(dist, labels, is_fake)
    for key, values in found.items():
        expected = float(np.mean(values)) if values else float("nan")
        assert got[key] == pytest.approx(expected, nan_ok=True), key

"""The miner: its torch path (what runs on a GPU) picks exactly what its numpy path (the CPU) picks,
for both strategies, batches without any valid tuple included; mine_triplets against a
brute-force search and a hand-made batch with known picks; and every random draw of a training
step comes from the run's seeded CPU generator (drawn on the CPU, then moved), never from the
global generator nor on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from krypto.learning import augment, miner
from krypto.learning.miner import (
    STRATEGIES,
    _quadruplets_numpy,
    _quadruplets_torch,
    mine_quadruplets,
    mine_triplets,
)


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


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", sorted(BATCHES))
def test_torch_path_picks_what_the_numpy_path_picks(name, strategy):
    labels, is_fake, dist = BATCHES[name]
    g_numpy, g_torch = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    expected = _quadruplets_numpy(labels, is_fake, dist, strategy, g_numpy)
    got = _quadruplets_torch(labels, is_fake, dist, strategy, g_torch)
    for e, o in zip(expected, got):
        assert o.dtype == torch.long and e.dtype == torch.long
        assert o.tolist() == e.tolist()
    # the same draws were taken from the generator: the next batch is mined alike too
    assert torch.equal(g_numpy.get_state(), g_torch.get_state())
    _check_quadruplet_rules(labels, is_fake, *got)
    if name in EMPTY:
        assert all(len(x) == 0 for x in got)
    elif not name.startswith("random"):
        assert len(got[0]) > 0


def test_the_random_batches_hold_quadruplets():
    """The random batches above are not all empty (the comparison would then be vacuous)."""
    sizes = [len(_quadruplets_numpy(*BATCHES[f"random-{s}"], "hard", None)[0]) for s in range(6)]
    assert sum(size > 0 for size in sizes) >= 4, sizes


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_mine_quadruplets_on_cpu_is_the_numpy_path(strategy):
    labels, is_fake, dist = BATCHES["random-3"]
    a = mine_quadruplets(labels, is_fake, dist, strategy, torch.Generator().manual_seed(0))
    b = _quadruplets_numpy(labels, is_fake, dist, strategy, torch.Generator().manual_seed(0))
    assert [x.tolist() for x in a] == [x.tolist() for x in b]


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


def test_unknown_strategy_is_refused_on_both_paths():
    labels, is_fake, dist = BATCHES["pk-36"]
    for fn in (_quadruplets_numpy, _quadruplets_torch):
        with pytest.raises(ValueError, match="unknown mining strategy"):
            fn(labels, is_fake, dist, "softest", None)


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
    _quadruplets_torch(labels, is_fake, dist, "random", generator)
    mine_triplets(labels, dist, "random", generator)
    augment.cutout(images.clone(), landmarks, "mouth", 0.5, generator)
    augment.random_flip(images, generator, 0.5)
    assert spy.calls == 5
    assert torch.equal(torch.get_rng_state(), before)  # the global generator was not touched
    assert miner.torch.rand is spy  # the miner draws through torch.rand, not a private copy

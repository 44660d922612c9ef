"""Section 3: :func:`krypto.learning.miner.mine_quadruplets` against the seed's Python loop
(:func:`python_loop_quadruplets`, which the seed's pipeline of :mod:`.training` mines with)."""

from __future__ import annotations

import random
import statistics

import torch

from krypto.bench.common import WHAT, BenchConfig, measure, per_call_seconds
from krypto.learning.miner import mine_quadruplets

MINER_BATCHES = (36, 128, 256)
PHOTOS_PER_IDENTITY = 4  # miner batches: identities x 4 photos, one of them a fake
DIGITS = {"ours": 5, "reference": 4, "reference_lists": 4}


def _candidates(labels, is_fake, i: int):
    """The real positives, real negatives and fakes of its identity of photo ``i``."""
    pos, neg, fake = [], [], []
    for j in range(len(labels)):
        if labels[j] == labels[i]:
            if is_fake[j]:
                fake.append(j)
            elif j != i:
                pos.append(j)
        elif not is_fake[j]:
            neg.append(j)
    return pos, neg, fake


def python_loop_quadruplets(
    labels, is_fake, dist, strategy: str = "random", rng: random.Random | None = None, lists=False
):
    """The seed's miner, O(B^2) Python steps, with the rules and return value of
    :func:`krypto.learning.miner.mine_quadruplets`; ``lists=True`` reads Python lists, not
    the tensors element by element (the fastest a Python loop gets)."""
    device = labels.device if isinstance(labels, torch.Tensor) else torch.device("cpu")
    if lists:
        labels, is_fake, dist = (
            x.tolist() if isinstance(x, torch.Tensor) else x for x in (labels, is_fake, dist)
        )
    if strategy not in ("random", "hard"):
        raise ValueError(f"unknown mining strategy {strategy!r}")
    rng = rng or random.Random(0)
    out = []
    for i in range(len(labels)):
        if is_fake[i]:
            continue
        pos, neg, fake = _candidates(labels, is_fake, i)
        if not (pos and neg and fake):
            continue
        row = dist[i]
        if strategy == "hard":
            p = max(pos, key=lambda j: row[j])
            n = min(neg, key=lambda j: row[j])
            f = min(fake, key=lambda j: row[j])
        else:
            p, n, f = rng.choice(pos), rng.choice(neg), rng.choice(fake)
        out.append((i, p, n, f))
    columns = list(zip(*out)) or [(), (), (), ()]
    return tuple(torch.tensor(column, dtype=torch.long, device=device) for column in columns)


def miner_batch(size: int, seed: int = 0):
    """Labels, fake flags and distances of ``size / 4`` identities x 4 photos, one a fake."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(size // PHOTOS_PER_IDENTITY).repeat_interleave(PHOTOS_PER_IDENTITY)
    is_fake = (torch.arange(len(labels)) % PHOTOS_PER_IDENTITY) == PHOTOS_PER_IDENTITY - 1
    e = torch.nn.functional.normalize(torch.randn(len(labels), 128, generator=g), dim=1)
    return labels, is_fake, torch.cdist(e, e)


def bench_miner(cfg: BenchConfig, device: torch.device, log) -> dict:
    out = {"what": WHAT["miner"]}
    for size in MINER_BATCHES:
        batch = (*(x.to(device) for x in miner_batch(size)), "random")
        g = torch.Generator().manual_seed(0)  # the trainer's generator lives on the CPU
        rng = random.Random(0)
        fns = {
            "ours": lambda b=batch, g=g: mine_quadruplets(*b, g),
            "reference": lambda b=batch, r=rng: python_loop_quadruplets(*b, r),
            "reference_lists": lambda b=batch, r=rng: python_loop_quadruplets(*b, r, lists=True),
        }
        fns["ours"](), fns["reference_lists"]()  # warm-up (the seed loop has nothing to warm)
        times = {name: [] for name in fns}
        for _ in range(cfg.repeats):
            for name, fn in fns.items():
                times[name].append(per_call_seconds(fn, cfg.miner_seconds, device) * 1e3)
        ms = {name: statistics.median(t) for name, t in times.items()}
        row = {f"{n}_ms": measure(ms[n], "ms/call", times[n], DIGITS[n]) for n in fns}
        row["speedup"] = measure(ms["reference"] / ms["ours"], "x", digits=1)
        row["speedup_vs_lists"] = measure(ms["reference_lists"] / ms["ours"], "x", digits=2)
        out[str(size)] = row
        log(
            f"  batch {size}: ours {ms['ours']:.3f} ms, reference {ms['reference']:.2f} ms, "
            f"reference on lists {ms['reference_lists']:.3f} ms"
        )
    return out

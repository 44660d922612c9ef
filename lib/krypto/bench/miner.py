"""Section 3: :func:`krypto.learning.miner.mine_quadruplets` against the seed's Python loop."""

from __future__ import annotations

import random

import torch

from krypto.bench.common import BenchConfig, measure, median, per_call_seconds
from krypto.bench.reference import python_loop_quadruplets

MINER_BATCHES = (36, 128, 256)
PHOTOS_PER_IDENTITY = 4  # miner batches: identities x 4 photos, one of them a fake


def miner_batch(size: int, seed: int = 0):
    """Labels, fake flags and distances of a realistic batch: ``size / 4`` identities x 4
    photos, one of them a fake."""
    g = torch.Generator().manual_seed(seed)
    ids = size // PHOTOS_PER_IDENTITY
    labels = torch.arange(ids).repeat_interleave(PHOTOS_PER_IDENTITY)
    is_fake = (torch.arange(len(labels)) % PHOTOS_PER_IDENTITY) == PHOTOS_PER_IDENTITY - 1
    e = torch.nn.functional.normalize(torch.randn(len(labels), 128, generator=g), dim=1)
    return labels, is_fake, torch.cdist(e, e)


def bench_miner(cfg: BenchConfig, device: torch.device, log) -> dict:
    from krypto.learning.miner import mine_quadruplets

    out = {
        "what": "ms per call at each batch size (identities x 4 photos, one fake each; "
        "random strategy, the run's seeded CPU generator as in training); reference "
        "= python_loop_quadruplets on the batch tensors (the seed), reference_lists "
        "= the same loop on Python lists"
    }
    for size in MINER_BATCHES:
        labels, is_fake, dist = (x.to(device) for x in miner_batch(size))
        g = torch.Generator().manual_seed(0)  # the trainer's generator lives on the CPU
        rng = random.Random(0)
        batch = (labels, is_fake, dist, "random")
        fns = {
            "ours": lambda b=batch, g=g: mine_quadruplets(*b, g),
            "reference": lambda b=batch, r=rng: python_loop_quadruplets(*b, r),
            "reference_lists": lambda b=batch, r=rng: python_loop_quadruplets(*b, r, lists=True),
        }
        times = {name: [] for name in fns}
        fns["ours"](), fns["reference_lists"]()  # warm-up (the seed loop has nothing to warm)
        for _ in range(cfg.repeats):
            for name, fn in fns.items():
                times[name].append(per_call_seconds(fn, cfg.miner_seconds, device) * 1e3)
        ms = {name: median(t) for name, t in times.items()}
        out[str(size)] = {
            "ours_ms": measure(ms["ours"], "ms/call", times["ours"], 5),
            "reference_ms": measure(ms["reference"], "ms/call", times["reference"], 4),
            "reference_lists_ms": measure(
                ms["reference_lists"], "ms/call", times["reference_lists"], 4
            ),
            "speedup": measure(ms["reference"] / ms["ours"], "x", digits=1),
            "speedup_vs_lists": measure(ms["reference_lists"] / ms["ours"], "x", digits=2),
        }
        log(
            f"  batch {size}: ours {ms['ours']:.3f} ms, reference {ms['reference']:.2f} ms, "
            f"reference on lists {ms['reference_lists']:.3f} ms"
        )
    return out

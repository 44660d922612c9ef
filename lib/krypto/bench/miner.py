"""Section 2: :func:`krypto.learning.miner.mine_quadruplets` against the seed's Python loop
(:func:`python_loop_quadruplets`)."""

import random
import statistics
from functools import partial

import torch

from krypto.bench.common import measure, seconds, what
from krypto.learning.miner import mine_quadruplets

MINER_BATCHES = (36, 128, 256)  # identities x 4 photos, one of them a fake


def python_loop_quadruplets(labels, is_fake, dist, rng: random.Random, lists: bool = False):
    """The seed's miner, O(B^2) Python steps, with the rules and the return value of
    :func:`~krypto.learning.miner.mine_quadruplets`'s random strategy: for each real anchor
    with a real positive, a real negative and a fake of its identity, one of each at random.
    ``lists=True`` reads Python lists, not the tensors element by element (the fastest a Python
    loop gets); ``dist`` ``[B, B]`` as ``mine_quadruplets`` takes it, unused by a random choice."""
    device = labels.device
    if lists:
        labels, is_fake, dist = labels.tolist(), is_fake.tolist(), dist.tolist()
    out = []
    for i in range(len(labels)):
        if is_fake[i]:
            continue
        pos, neg, fake = [], [], []
        for j in range(len(labels)):
            if labels[j] == labels[i]:
                if is_fake[j]:
                    fake.append(j)
                elif j != i:
                    pos.append(j)
            elif not is_fake[j]:
                neg.append(j)
        if pos and neg and fake:
            out.append((i, rng.choice(pos), rng.choice(neg), rng.choice(fake)))
    columns = list(zip(*out)) or [(), (), (), ()]
    return tuple(torch.tensor(column, dtype=torch.long, device=device) for column in columns)


def miner_batch(size: int, seed: int = 0):
    """Labels, fake flags and distances ``[size, size]`` of ``size / 4`` identities x 4 photos,
    the last of each a fake."""
    labels = torch.arange(size // 4).repeat_interleave(4)
    is_fake = torch.arange(size) % 4 == 3
    e = torch.randn(size, 128, generator=torch.Generator().manual_seed(seed))
    e = torch.nn.functional.normalize(e, dim=1)
    return labels, is_fake, torch.cdist(e, e)


def ms_per_call(fn, least_seconds: float, device: torch.device) -> float:
    """Milliseconds per call of ``fn``, its calls doubled until they take ``least_seconds``."""
    calls = 1
    while (elapsed := seconds(fn, device, calls)) < least_seconds and calls < 100_000:
        calls *= 2
    return 1e3 * elapsed / calls


def measure_miner(ctx) -> dict:
    """ms per call at each batch size (identities x 4 photos, one fake each; the random
    strategy, the run's seeded CPU generator as in training) of our miner and of the seed's
    Python loop on the batch tensors (reference) and on Python lists (reference_lists)."""
    out = {"what": what(measure_miner)}
    for size in MINER_BATCHES:
        labels, is_fake, dist = (x.to(ctx.device) for x in miner_batch(size))
        g, rng = torch.Generator().manual_seed(0), random.Random(0)
        batch, loop = (labels, is_fake, dist), python_loop_quadruplets
        fns = {
            "ours": partial(mine_quadruplets, *batch, "random", g),
            "reference": partial(loop, *batch, rng),
            "reference_lists": partial(loop, *batch, rng, lists=True),
        }
        fns["ours"](), fns["reference_lists"]()  # warm-up
        ms = {name: [] for name in fns}
        for _ in range(ctx.cfg.repeats):
            for name, fn in fns.items():
                ms[name].append(ms_per_call(fn, ctx.cfg.miner_seconds, ctx.device))
        row = {f"{n}_ms": measure(statistics.median(t), "ms/call", t, 5) for n, t in ms.items()}
        ours = row["ours_ms"]["value"]
        row["speedup"] = measure(row["reference_ms"]["value"] / ours, "x", digits=1)
        row["speedup_vs_lists"] = measure(row["reference_lists_ms"]["value"] / ours, "x", digits=2)
        out[str(size)] = row
        ctx.log(f"  batch {size}: " + ", ".join(f"{n} {row[f'{n}_ms']['value']} ms" for n in ms))
    return {"miner": out}

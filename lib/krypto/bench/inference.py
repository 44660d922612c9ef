"""Section 4: :func:`krypto.challenge.submit.make_submission` against the model's bare forward.

Besides the ratio, it measures what bounds it: decoding alone (with the submission's decoder and
threads, and with each decoder), and the submission with and without decoding overlapped with
the forward. Two limits follow from decoding alone (``d`` images/s) and the forward alone
(``f``): where both run on the same CPU cores, at best one after the other on all of them,
``1 / (1 + f / d)``; where decoding has cores of its own (the forward runs on a GPU), ``min(1,
d / f)``."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from krypto import constants as C
from krypto.bench.common import BenchConfig, clock, measure, median


def decode_seconds(
    paths: list[str], size: int, decoder: str, workers: int, batch: int = 256
) -> float:
    """Seconds to decode ``paths`` as the submission does (batches split over ``workers``
    threads), without embedding them."""
    from krypto.challenge.image_decoding import decode_images

    def part(chunk):
        return decode_images(list(chunk), size, decoder)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), batch):
            chunks = np.array_split(np.asarray(paths[start : start + batch], dtype=object), workers)
            list(pool.map(part, [c for c in chunks if len(c)]))
    return time.perf_counter() - t0


def bounded_by(f: float, d: float, workers: int, shared_cores: bool) -> str:
    """What bounds the submission, in words: the forward alone runs at ``f`` images/s,
    decoding alone at ``d`` with ``workers`` threads; ``shared_cores``: both on the same cores,
    one after the other."""
    if shared_cores:
        return (
            f"the CPU cores, shared by decoding ({d:.0f} images/s alone) and the forward "
            f"({f:.0f} images/s alone): at best one after the other, 1 / (1 + f/d) = "
            f"{1 / (1 + f / d):.3f} of the forward"
        )
    if d < f:
        return (
            f"decoding ({d:.0f} images/s with {workers} threads) below the forward "
            f"({f:.0f} images/s): d/f = {d / f:.3f}"
        )
    return (
        f"the forward itself: decoding beside it, on cores it leaves free, keeps up "
        f"({d:.0f} images/s with {workers} thread{'s' if workers != 1 else ''}, {d / f:.1f}x "
        f"the forward's {f:.0f}); "
        f"the rest is the submission's fixed costs (reading the pairs folder, loading the "
        f"checkpoint) and whatever else runs on those cores"
    )


def bench_inference(run_dir: Path, data: Path, cfg: BenchConfig, device: torch.device, log) -> dict:
    """make_submission() on test_public vs the model's forward on in-memory tensors."""
    from krypto.challenge.batch_embedding import default_prefetch, default_workers
    from krypto.challenge.submit import make_submission
    from krypto.data.layout import read_pairs
    from krypto.learning.train import load_model

    amp = device.type == "cuda"
    pairs_dir = data / C.TEST_DIR
    pairs = read_pairs(pairs_dir)
    paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
    n_images = len(paths)
    model, config = load_model(run_dir, device=device)
    size = config.image_size
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    x = torch.rand(cfg.inference_batch, 3, size, size, device=device)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    n_batches = -(-n_images // cfg.inference_batch)
    workers, prefetch = default_workers(device), default_prefetch(device)

    @torch.no_grad()
    def forward_seconds() -> float:
        t0 = clock(device)
        for _ in range(n_batches):
            with torch.autocast(device.type, enabled=amp):
                model(x).float()
        return (clock(device) - t0) * n_images / (n_batches * cfg.inference_batch)

    def submission_seconds(**options) -> float:
        t0 = clock(device)
        make_submission(
            run_dir,
            pairs_dir,
            None,
            batch_size=cfg.inference_batch,
            device=str(device),
            progress=False,
            amp=amp,
            **options,
        )
        return clock(device) - t0

    other = {"prefetch": 2} if prefetch == 0 else {"prefetch": 0}
    variants = {  # name: make_submission options
        "submission": {},
        "submission_overlapped" if prefetch == 0 else "submission_serial": other,
        "submission_pil": {"decoder": "pil"},
    }
    decoders = {
        "decode": lambda: decode_seconds(paths, size, "auto", workers, cfg.inference_batch),
        "decode_pil": lambda: decode_seconds(paths, size, "pil", workers, cfg.inference_batch),
    }
    forward_seconds(), submission_seconds()  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in ["forward", *variants, *decoders]}
    ratios = []
    forward = n_images / forward_seconds()
    for _ in range(cfg.repeats):
        # each submission against the mean of the forwards just before and just after it
        rates["submission"].append(n_images / submission_seconds())
        after = n_images / forward_seconds()
        rates["forward"].append((forward + after) / 2)
        ratios.append(rates["submission"][-1] / rates["forward"][-1])
        forward = after
        for name, options in variants.items():
            if name != "submission":
                rates[name].append(n_images / submission_seconds(**options))
        for name, fn in decoders.items():
            rates[name].append(n_images / fn())
    rate = {name: median(values) for name, values in rates.items()}
    f, d = rate["forward"], rate["decode"]
    shared, separate = 1 / (1 + f / d), min(1.0, d / f)
    limit = shared if device.type == "cpu" and prefetch == 0 else separate
    bound = bounded_by(f, d, workers, device.type == "cpu" and prefetch == 0)
    log(
        f"  make_submission {rate['submission']:.1f}, forward {f:.1f}, decoding alone {d:.1f} "
        f"images/s; bounded by {bound}"
    )
    out = {
        "submission_images_per_second": measure(
            rate["submission"], "images/s", rates["submission"], 2
        ),
        "forward_images_per_second": measure(f, "images/s", rates["forward"], 2),
        "ratio_to_forward": measure(median(ratios), "ratio", ratios),
        "decode_images_per_second": measure(d, "images/s", rates["decode"], 2),
        "ratio_limit": measure(limit, "ratio"),
        "ratio_if_decode_then_forward": measure(shared, "ratio"),
        "ratio_if_decode_beside_forward": measure(separate, "ratio"),
        "bounded_by": bound,
        "workers": workers,
        "prefetch": prefetch,
        "n_images": n_images,
        "batch_size": cfg.inference_batch,
    }
    for name in variants.keys() - {"submission"} | {"decode_pil"}:
        out[f"{name}_images_per_second"] = measure(rate[name], "images/s", rates[name], 2)
    out["what"] = (
        "krypto.challenge.submit.make_submission on test_public (load the checkpoint, read the "
        "pairs, decode every JPEG, embed, score; its defaults: decoder auto = torchvision's "
        f"decode_jpeg, {workers} decoding threads, prefetch {prefetch}) vs the model's forward "
        "in eval mode on an in-memory float batch of the same size, measured just before and "
        "just after each submission. Variants: overlapped = prefetch 2, serial = prefetch 0, "
        "pil = decoder pil (PIL, as the training cache decodes). decode = the submission's "
        "decoding alone (the same threads); decode_pil = the same with PIL. "
        "ratio_if_decode_then_forward = 1 / (1 + forward/decode), ratio_if_decode_beside_forward "
        "= min(1, decode/forward); ratio_limit = the one that applies here"
    )
    return out

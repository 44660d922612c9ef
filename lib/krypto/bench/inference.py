"""Section 4: :func:`krypto.challenge.submit.make_submission` against the model's bare forward,
and what bounds it: decoding alone (``d`` images/s) against the forward alone (``f``)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from krypto import constants as C
from krypto.bench.common import SPEC, WHAT, BenchConfig, clock, measure, seconds
from krypto.challenge.batch_embedding import default_prefetch, default_workers
from krypto.challenge.image_decoding import decode_images
from krypto.challenge.submit import make_submission
from krypto.data.layout import read_pairs
from krypto.learning.checkpoint import load_model
from krypto.learning.models import memory_format


def decode_seconds(
    paths: list[str], size: int, decoder: str, workers: int, batch: int = 256
) -> float:
    """Seconds to decode ``paths`` as the submission does, without embedding them."""

    def part(chunk):
        return decode_images(list(chunk), size, decoder)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), batch):
            chunks = np.array_split(np.asarray(paths[start : start + batch], dtype=object), workers)
            list(pool.map(part, [c for c in chunks if len(c)]))
    return time.perf_counter() - t0


def bounded_by(f: float, d: float, workers: int, shared_cores: bool) -> str:
    """What bounds the submission, in words (``shared_cores``: decoding and forward share them)."""
    kind = "shared" if shared_cores else "decoding" if d < f else "forward"
    plural = "s" if workers != 1 else ""
    values = {"shared": 1 / (1 + f / d), "separate": d / f, "d_over_f": d / f, "plural": plural}
    return SPEC["bounded_by"][kind].format(f=f, d=d, workers=workers, **values)


def forward_timer(run_dir: Path, device: torch.device, batch: int, n_images: int):
    """``(seconds(), image size)``: the forward on an in-memory batch, scaled to ``n_images``."""
    amp = device.type == "cuda"
    model, config = load_model(run_dir, device=device)
    size = config.image_size
    fmt = memory_format(config.backbone, device)  # as the trainer
    model = model.to(memory_format=fmt)
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    n_batches = -(-n_images // batch)

    @torch.no_grad()
    def forward():
        with torch.autocast(device.type, enabled=amp):
            model(x).float()

    return lambda: seconds(forward, device, n_batches) * n_images / (n_batches * batch), size


def measure_rates(timers: dict, n_images: int, repeats: int) -> tuple[dict, list]:
    """Images/s of each timer, and the ratios of each submission to the forwards around it."""
    rates: dict[str, list[float]] = {name: [] for name in timers}
    ratios = []
    forward = n_images / timers["forward"]()
    for _ in range(repeats):
        rates["submission"].append(n_images / timers["submission"]())
        after = n_images / timers["forward"]()
        rates["forward"].append((forward + after) / 2)
        ratios.append(rates["submission"][-1] / rates["forward"][-1])
        forward = after
        for name, fn in timers.items():
            if name not in ("submission", "forward"):
                rates[name].append(n_images / fn())
    return rates, ratios


def bench_inference(run_dir: Path, data: Path, cfg: BenchConfig, device: torch.device, log) -> dict:
    """make_submission() on test_public vs the model's forward on in-memory tensors."""
    pairs_dir = data / C.TEST_DIR
    pairs = read_pairs(pairs_dir)
    paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
    n_images, batch = len(paths), cfg.inference_batch
    forward, size = forward_timer(run_dir, device, batch, n_images)
    workers, prefetch = default_workers(device), default_prefetch(device)

    defaults = {"batch_size": batch, "device": str(device), "progress": False}

    def submission(**options) -> float:
        t0 = clock(device)
        make_submission(run_dir, pairs_dir, None, amp=device.type == "cuda", **defaults, **options)
        return clock(device) - t0

    other = "submission_overlapped" if prefetch == 0 else "submission_serial"
    timers = {
        "submission": submission,
        "forward": forward,
        other: lambda: submission(prefetch=2 if prefetch == 0 else 0),
        "submission_pil": lambda: submission(decoder="pil"),
        "decode": lambda: decode_seconds(paths, size, "auto", workers, batch),
        "decode_pil": lambda: decode_seconds(paths, size, "pil", workers, batch),
    }
    forward(), submission()  # warm-up
    rates, ratios = measure_rates(timers, n_images, cfg.repeats)
    rate = {name: statistics.median(values) for name, values in rates.items()}
    f, d = rate["forward"], rate["decode"]
    shared, separate = 1 / (1 + f / d), min(1.0, d / f)
    one_after_the_other = device.type == "cpu" and prefetch == 0
    bound = bounded_by(f, d, workers, one_after_the_other)
    log(
        f"  make_submission {rate['submission']:.1f}, forward {f:.1f}, decoding alone {d:.1f} "
        f"images/s; bounded by {bound}"
    )
    out = {
        "submission_images_per_second": measure(
            rate["submission"], "images/s", rates["submission"], 2
        ),
        "forward_images_per_second": measure(f, "images/s", rates["forward"], 2),
        "ratio_to_forward": measure(statistics.median(ratios), "ratio", ratios),
        "decode_images_per_second": measure(d, "images/s", rates["decode"], 2),
        "ratio_limit": measure(shared if one_after_the_other else separate, "ratio"),
        "ratio_if_decode_then_forward": measure(shared, "ratio"),
        "ratio_if_decode_beside_forward": measure(separate, "ratio"),
        "bounded_by": bound,
        "workers": workers,
        "prefetch": prefetch,
        "n_images": n_images,
        "batch_size": batch,
    }
    for name in (other, "submission_pil", "decode_pil"):
        out[f"{name}_images_per_second"] = measure(rate[name], "images/s", rates[name], 2)
    out["what"] = WHAT["inference"].format(workers=workers, prefetch=prefetch)
    return out

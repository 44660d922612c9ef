"""Section 3: :func:`krypto.challenge.submit.make_submission` against the model's bare forward."""

import statistics

import torch

from krypto import constants as C
from krypto.bench.common import bracketed, measure, seconds, what
from krypto.challenge import batch_embedding as B
from krypto.challenge.submit import distinct_files, make_submission
from krypto.data.layout import read_pairs
from krypto.learning.checkpoint import load_model
from krypto.learning.models import memory_format


def measure_inference(ctx) -> dict:
    """make_submission on test_public (load the checkpoint, read the pairs, hash the files,
    decode each distinct photo once, embed, score; its default decoding threads) vs the model's
    forward in eval mode on an in-memory float batch, as many images as the distinct photos,
    measured just before and just after each submission; then make_submission decoding each
    batch before its forward (serial: workers 0), and the submission's decoding alone."""
    cfg, device, data = ctx.cfg, ctx.device, ctx.data[0]
    pairs_dir, run_dir, batch = data / C.TEST_DIR, ctx.trained_run(), cfg.inference_batch
    pairs = read_pairs(pairs_dir)
    photos = distinct_files(pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist())[0]
    n, workers, busy = len(photos), B.default_workers(device), B.busy_cpu(device)
    model, config = load_model(run_dir, device=device)
    fmt = memory_format(config.backbone, device)
    model = model.to(memory_format=fmt).eval()
    size = config.input_size
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    amp, calls = device.type == "cuda", -(-n // batch)

    @torch.no_grad()
    def forward() -> float:
        with torch.autocast(device.type, enabled=amp):
            return calls * batch / seconds(lambda: model(x).float(), device, calls)

    def submission(**options) -> float:
        options.update(batch_size=batch, device=str(device), amp=amp, progress=False)
        return n / seconds(lambda: make_submission(run_dir, pairs_dir, **options), device)

    def decode() -> float:
        decoded = B.decoded_batches(B.PhotoFiles(photos, size), batch, workers, 0 if busy else 1)
        return n / seconds(lambda: list(decoded), device)

    forward(), submission()  # warm-up
    subs, forwards = bracketed(submission, forward, cfg.repeats)
    serial = [submission(workers=0) for _ in range(cfg.repeats)]
    decodes = [decode() for _ in range(cfg.repeats)]
    ratios = [s / f for s, f in zip(subs, forwards)]
    median = statistics.median
    f, d = median(forwards), median(decodes)
    bound = "decoding" if d < f else "the forward"
    ctx.log(f"  make_submission {median(subs):.1f}, forward {f:.1f}, decoding {d:.1f} images/s")
    out = {
        "submission_images_per_second": measure(median(subs), "images/s", subs, 2),
        "forward_images_per_second": measure(f, "images/s", forwards, 2),
        "ratio_to_forward": measure(median(ratios), "ratio", ratios),
        "submission_serial_images_per_second": measure(median(serial), "images/s", serial, 2),
        "decode_images_per_second": measure(d, "images/s", decodes, 2),
        "decode_over_forward": measure(d / f, "ratio"),
        "bounded_by": f"{bound}: decoding alone {d:.0f} images/s on {workers} thread(s) "
        f"({'between forwards' if busy else 'beside the forward'}), the forward {f:.0f}",
        "workers": workers,
        "n_images": n,
        "n_pairs": len(pairs),
        "what": what(measure_inference),
    }
    return {"inference": out}

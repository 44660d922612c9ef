"""Section 5: the user's path at the challenge's size, each stage's seconds and peak memory at
N identities x 10 photos (``python -m krypto.bench --only scale``)."""

import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from krypto import constants as C
from krypto.bench.common import measure, train_config, what, write_data
from krypto.challenge.submit import make_submission
from krypto.data.index import prepare
from krypto.data.landmarks import detect_mtcnn
from krypto.learning.embed import cached_images
from krypto.learning.train import Trainer

STAGES = ("index", "image_cache", "epoch", "validation", "submission", "landmarks")
STATUS = Path("/proc/self/status")


@contextmanager
def _stage(out: dict, name: str):
    """``out[name] = [seconds, peak resident MiB]`` of the block: the kernel's high-water mark
    (VmHWM of /proc/self/status, reset before the block; None where it cannot be reset)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:  # not Linux, or not allowed
        reset = False
    t0 = time.perf_counter()
    yield
    lines = STATUS.read_text().splitlines() if reset else []
    peak = [int(x.split()[1]) / 1024 for x in lines if x.startswith("VmHWM:")]
    out[name] = [time.perf_counter() - t0, peak[0] if peak else None]


def _stages(folder: Path, cfg, ids: int) -> dict:
    """Every stage at one size (the data written beforehand, untimed)."""
    cfg, out = replace(cfg, image_size=cfg.scale_image_size), {}
    sizes = dict(test_identities=max(8, ids // 10), real_per_identity=7, fake_per_identity=3)
    data, synth = write_data(folder, cfg, ids, test_pairs_per_kind=max(2, ids // 2), **sizes)
    with _stage(out, "index"):
        prepared = prepare(
            data, out_dir=folder / "prepared", progress=False, pairs_per_kind=cfg.pairs_per_kind
        )
    config = train_config(cfg, folder / "run", "cpu")
    with _stage(out, "image_cache"):
        cached_images(prepared.index[C.PATH], config.input_size, prepared.folder, progress=False)
    trainer = Trainer(config, prepared)
    with _stage(out, "epoch"):
        trainer.fit()  # epoch 0's validation, the epoch, its validation: the epoch's own seconds
    out["epoch"][0] = trainer.epochs[-1]["seconds"]
    with _stage(out, "validation"):
        trainer.evaluate()
    with _stage(out, "submission"):
        make_submission(trainer.run_dir, data / C.TEST_DIR, progress=False, device="cpu")
    sample = prepared.index[C.PATH].iloc[: cfg.scale_landmark_photos].tolist()
    with _stage(out, "landmarks"):
        detect_mtcnn(sample, device="cpu", progress=False)
    out["landmarks"][0] *= len(prepared.index) / len(sample)  # extrapolated to every photo
    return {
        "identities": ids,
        "n_photos": int(len(prepared.index)),
        "n_test_pairs": 4 * synth.test_pairs_per_kind,
        **{f"{k}_seconds": measure(s, "s", digits=2) for k, (s, _) in out.items()},
        **{f"{k}_peak_mib": measure(m, "MiB", digits=0) for k, (_, m) in out.items() if m},
    }


def measure_scale(ctx) -> dict:
    """The path at the challenge's size, on the CPU: a synthetic set of N identities x 10 photos
    (7 real, 3 fake; N/10 more for 2 x N test pairs) through prepare() (index, split,
    validation pairs), the decoded-image cache, one epoch of Trainer.fit() at the section's
    image size (the seconds it records; validation excluded), one validation pass
    (Trainer.evaluate), make_submission over the test pairs, and MTCNN landmarks on a sample of
    photos (extrapolated to every photo); peak = the process's largest resident set during the
    stage; growth = seconds per photo at the largest size / at the smallest."""
    sizes = []
    for ids in ctx.cfg.scale_identities:
        sizes.append(_stages(ctx.folder / f"scale-{ids}", ctx.cfg, ids))
        text = ", ".join(f"{k} {sizes[-1][f'{k}_seconds']['value']:.1f} s" for k in STAGES)
        ctx.log(f"  {ids:,} identities ({sizes[-1]['n_photos']:,} photos): {text}")
    small, large = sizes[0], sizes[-1]
    per_photo = lambda row, k: row[f"{k}_seconds"]["value"] / row["n_photos"]
    growth = {k: per_photo(large, k) / max(per_photo(small, k), 1e-9) for k in STAGES}
    worst = max(growth, key=growth.get)
    scale = {
        "sizes": sizes,
        **{f"growth_{k}": measure(v, "ratio") for k, v in growth.items()},
        "growth_largest": measure(growth[worst], "ratio"),
        "growth_largest_stage": worst,
        "what": what(measure_scale),
    }
    return {"scale": scale}

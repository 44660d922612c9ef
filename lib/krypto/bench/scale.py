"""Section 7: the user's path at the challenge's size. A synthetic set of N identities x 10
photos (7 real, 3 fake; the challenge: about 10,000 x 10) through each stage the path takes:
indexing and splitting (``prepare``), decoding the image cache, one training epoch at a small
image size, the validation pass, and a submission over 2 x N test pairs; landmarks by MTCNN on
a sample of photos, extrapolated to all. Each stage's seconds and peak resident memory (sampled
every :data:`SAMPLE_SECONDS` in a thread) at each size, and its growth: seconds per photo at
the largest size over the smallest (1: linear in the photos).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

from krypto import constants as C
from krypto.bench.common import WHAT, BenchConfig, measure, train_config
from krypto.challenge.submit import make_submission
from krypto.data.index import prepare
from krypto.data.landmarks import detect_mtcnn
from krypto.data.synth import PRESETS, write_dataset
from krypto.learning.embed import cached_images
from krypto.learning.train import Trainer

MIB = 2**20
SAMPLE_SECONDS = 0.05
REAL, FAKE = 7, 3  # photos per identity
STAGES = ("index", "image_cache", "epoch", "validation", "submission", "landmarks")


class _Peak:
    """The largest resident set size of this process while the block runs (sampled)."""

    def __enter__(self):
        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(SAMPLE_SECONDS)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def _stages(folder: Path, cfg: BenchConfig, identities: int) -> dict:
    """Seconds and peak MiB of every stage at one size (the data written beforehand, untimed)."""
    cfg = replace(cfg, image_size=cfg.scale_image_size)
    synth = replace(
        PRESETS["default"],
        identities=identities,
        test_identities=max(8, identities // 10),
        real_per_identity=REAL,
        fake_per_identity=FAKE,
        image_size=cfg.image_size,
        test_pairs_per_kind=max(2, identities // 2),  # 2 x identities pairs in all
    )
    data = write_dataset(folder / "data", synth, progress=False)
    config = train_config(cfg, folder / "run", "cpu")
    out = {}
    with _Peak() as stage:
        prepared = prepare(data, out_dir=folder / "prepared", progress=False, pairs_per_kind=1000)
    out["index"] = stage
    with _Peak() as stage:
        cached_images(prepared.index[C.PATH], cfg.image_size, prepared.folder, progress=False)
    out["image_cache"] = stage
    trainer = Trainer(config, prepared)
    with _Peak() as stage:
        trainer.fit()
    # fit() = epoch 0's validation + the epoch + its validation: the epoch is what it records
    epoch_seconds = trainer.epochs[-1]["seconds"]
    with _Peak() as stage_val:
        trainer.evaluate()
    stage.seconds = epoch_seconds
    out["epoch"], out["validation"] = stage, stage_val
    with _Peak() as stage:
        make_submission(trainer.run_dir, data / C.TEST_DIR, progress=False, device="cpu")
    out["submission"] = stage
    sample = prepared.index[C.PATH].iloc[: cfg.scale_landmark_photos].tolist()
    with _Peak() as stage:
        detect_mtcnn(sample, device="cpu", progress=False)
    stage.seconds *= len(prepared.index) / len(sample)  # extrapolated to every photo
    out["landmarks"] = stage
    return {
        "identities": identities,
        "n_photos": int(len(prepared.index)),
        "n_test_pairs": 4 * synth.test_pairs_per_kind,
        **{f"{k}_seconds": measure(s.seconds, "s", digits=2) for k, s in out.items()},
        **{f"{k}_peak_mib": measure(s.peak / MIB, "MiB", digits=0) for k, s in out.items()},
    }


def bench_scale(folder: Path, cfg: BenchConfig, log) -> dict:
    """Every stage at each of ``cfg.scale_identities``; growth = seconds per photo, largest
    size over smallest (the ``growth_<stage>`` ratios; the goal is on the largest). The test
    pairs and the validation photos grow with the photos too."""
    sizes = []
    for ids in cfg.scale_identities:
        row = _stages(folder / f"id{ids}", cfg, ids)
        sizes.append(row)
        log(
            f"  {ids} identities ({row['n_photos']} photos): "
            + ", ".join(f"{k} {row[f'{k}_seconds']['value']:.1f} s" for k in STAGES)
        )
    small, large = sizes[0], sizes[-1]
    photos = large["n_photos"] / small["n_photos"]
    growth = {
        k: large[f"{k}_seconds"]["value"] / max(small[f"{k}_seconds"]["value"], 1e-3) / photos
        for k in STAGES
    }
    worst = max(growth, key=growth.get)
    return {
        "sizes": sizes,
        **{f"growth_{k}": measure(v, "ratio") for k, v in growth.items()},
        "growth_largest": measure(growth[worst], "ratio"),
        "growth_largest_stage": worst,
        "landmark_photos": cfg.scale_landmark_photos,
        "what": WHAT["scale"],
    }

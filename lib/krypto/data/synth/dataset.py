"""Writing a synthetic data set in the official layout::

    OUT/train/<id>/<n>.jpg     real and fake photos, ids zero-padded
    OUT/train/meta.json        {"<id>/<n>.jpg": 0 real | 1 fake}
    OUT/test_public/<pair>/0.jpg, 1.jpg
    OUT/gt.csv                 pair_id,label,kind
    OUT/landmarks.csv          path,<5 points x, y>, normalised to [0, 1]
    OUT/synth_config.json      the configuration it was made with

The index files are written through :mod:`krypto.files`; the photos, thousands of small files,
are written directly (:func:`~krypto.data.synth.presets.ensure_default_dataset` writes a whole
set into a temporary folder and renames it when complete).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from krypto import constants as C
from krypto.data.synth.config import SynthConfig
from krypto.data.synth.fakes import render_fake
from krypto.data.synth.render import render_real
from krypto.data.synth.traits import lookalike_heads, sample_identities, sample_nuisance, take
from krypto.files import write_text

CONFIG_FILE = "synth_config.json"


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def _pad(i: int, width: int | None) -> str:
    return str(i).zfill(width) if width else str(i)


def render_photos(
    cfg: SynthConfig,
    traits: dict,
    sources,
    targets,
    rng: np.random.Generator,
    batch: int = 256,
    on_batch=None,
) -> list[tuple[bytes, np.ndarray]]:
    """JPEG bytes and landmarks ``[5, 2]`` of photos of identities ``sources``; a photo whose
    ``targets`` entry is >= 0 is a face swap onto that identity's head, a real photo otherwise.
    ``on_batch(n)`` is called after each batch of ``n`` photos."""
    sources, targets = np.asarray(sources), np.asarray(targets)
    out: list = [None] * len(sources)
    for start in range(0, len(sources), batch):
        rows = np.arange(start, min(start + batch, len(sources)))
        nz = sample_nuisance(rng, len(rows), cfg.difficulty)
        fake = targets[rows] >= 0
        for is_fake in (False, True):
            keep = fake == is_fake
            if not keep.any():
                continue
            part, part_nz = rows[keep], take(nz, keep)
            src = take(traits, sources[part])
            if is_fake:
                heads = lookalike_heads(src, take(traits, targets[part]), cfg.lookalike)
                pixels, lms = render_fake(
                    src, heads, part_nz, cfg.image_size, cfg.fake_strength, rng
                )
            else:
                pixels, lms = render_real(src, part_nz, cfg.image_size, rng)
            for j, row in enumerate(part):
                out[row] = (encode_jpeg(pixels[j], part_nz["jpeg"][j]), lms[j])
        if on_batch is not None:
            on_batch(len(rows))
    return out


def write_dataset(
    out_dir: str | Path, config: SynthConfig | None = None, progress: bool = True
) -> Path:
    """Write a synthetic data set in the official layout into ``out_dir``; returns it.

    Identities ``0 .. identities-1`` go to ``train/``, the next ``test_identities`` make the pairs
    of ``test_public/``. Deterministic for ``config.seed``."""
    from tqdm.auto import tqdm

    cfg = config or SynthConfig()
    out = Path(out_dir)
    train_dir, test_dir = out / C.TRAIN_DIR, out / C.TEST_DIR
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    n_all = cfg.identities + cfg.test_identities
    traits = sample_identities(rng, n_all)

    # every photo: (identity, number, target head or -1); fakes swap onto a head of the same pool
    per_identity = cfg.real_per_identity + cfg.fake_per_identity
    sources = np.repeat(np.arange(n_all), per_identity)
    numbers = np.tile(np.arange(per_identity), n_all)
    targets = np.full(len(sources), -1)
    for i in np.flatnonzero(numbers >= cfg.real_per_identity):
        lo, hi = (0, cfg.identities) if sources[i] < cfg.identities else (cfg.identities, n_all)
        t = int(rng.integers(lo, hi - 1))
        targets[i] = t + (t >= sources[i])

    with tqdm(total=len(sources), desc="synthesising", unit="img", disable=not progress) as bar:
        photos = render_photos(cfg, traits, sources, targets, rng, on_batch=bar.update)

    meta: dict[str, int] = {}
    landmark_rows: list[tuple[str, np.ndarray]] = []
    meta_width = cfg.meta_id_width or cfg.id_width
    test_images: dict[int, dict[str, list]] = {}
    for ident, number, target, (data, lms) in zip(sources, numbers, targets, photos):
        is_fake = C.FAKE if target >= 0 else C.REAL
        if ident < cfg.identities:
            folder = train_dir / _pad(ident, cfg.id_width)
            folder.mkdir(exist_ok=True)
            (folder / f"{number}.jpg").write_bytes(data)
            meta[f"{_pad(ident, meta_width)}/{number}.jpg"] = is_fake
            landmark_rows.append((f"{C.TRAIN_DIR}/{folder.name}/{number}.jpg", lms))
        else:
            kinds = test_images.setdefault(int(ident), {"real": [], "fake": []})
            kinds["fake" if is_fake else "real"].append((data, lms))
    write_text(train_dir / C.META_FILE, json.dumps(meta, indent=0))

    gt_rows = _write_test_pairs(test_dir, test_images, cfg, landmark_rows)
    write_text(
        out / C.GT_FILE,
        f"{C.PAIR_ID},{C.PAIR_LABEL},{C.KIND}\n"
        + "".join(f"{pid},{label},{kind}\n" for pid, label, kind in gt_rows),
    )
    write_text(
        out / C.LANDMARKS_FILE,
        ",".join((C.PATH, *C.LANDMARK_COLUMNS))
        + "\n"
        + "".join(
            path + "," + ",".join(f"{x:.5f}" for x in lms.reshape(-1)) + "\n"
            for path, lms in landmark_rows
        ),
    )
    write_text(out / CONFIG_FILE, json.dumps(asdict(cfg), indent=2))
    return out


def _write_test_pairs(test_dir: Path, images: dict, cfg: SynthConfig, landmark_rows: list):
    """Pairs of the four kinds from the test identities, in shuffled order."""
    rng = np.random.default_rng([cfg.seed, 7])
    ids = sorted(images)
    pairs = []
    for _ in range(cfg.test_pairs_per_kind):
        a, b = rng.choice(ids, 2, replace=False)
        ia, ib = rng.choice(len(images[a]["real"]), 2, replace=False)
        pairs.append((images[a]["real"][ia], images[a]["real"][ib], 1, C.SAME))
        pairs.append((images[a]["real"][ia], images[b]["real"][ib], 0, C.DIFFERENT))
        fake_a = images[a]["fake"][rng.integers(len(images[a]["fake"]))]
        fake_b = images[b]["fake"][rng.integers(len(images[b]["fake"]))]
        pairs.append((images[a]["real"][ib], fake_a, 0, C.FAKE_SAME))
        pairs.append((images[a]["real"][ia], fake_b, 0, C.FAKE_OTHER))
    order = rng.permutation(len(pairs))
    rows = []
    for pair_number, k in enumerate(order):
        first, second, label, kind = pairs[k]
        if rng.random() < 0.5:
            first, second = second, first
        pid = _pad(pair_number, cfg.id_width)
        folder = test_dir / pid
        folder.mkdir(exist_ok=True)
        for name, (data, lms) in zip(C.PAIR_IMAGES, (first, second)):
            (folder / name).write_bytes(data)
            landmark_rows.append((f"{C.TEST_DIR}/{pid}/{name}", lms))
        rows.append((pid, label, kind))
    return rows

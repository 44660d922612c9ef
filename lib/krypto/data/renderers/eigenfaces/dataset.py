"""Every identity's photos (reals, then face swaps onto lookalike heads), rendered in batches,
and the data set written from them in the official layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from krypto.data.renderers._layout import RenderConfig, lookalike_targets, write_layout
from krypto.data.renderers.eigenfaces.canonical import render_heads
from krypto.data.renderers.eigenfaces.identities import sample_nuisance, sample_people, swap, take
from krypto.data.renderers.eigenfaces.photos import render_photos

NAME = "eigenfaces"
BATCH = 48  # photos rendered at once


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, is_fake), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0xE16E])
    people = sample_people(rng, cfg.n_all)
    # swaps are made onto heads that resemble the source: skin, hair colour and style, outline
    look = np.concatenate(
        [
            people["skin"] * 4,
            people["hair"] * 4,
            people["hair_vol"][:, None] * 10,
            np.clip(people["hair_end"][:, None], -0.2, 0.4) * 2,
            people["hairline"][:, None] * 2,
            people["face_w"][:, None] * 6,
        ],
        1,
    )
    targets = lookalike_targets(rng, cfg, look, nearest=3)
    per = cfg.n_real + cfg.n_fake
    nz_all = sample_nuisance(rng, cfg.n_all * per)
    photos: list[list[tuple]] = [[] for _ in range(cfg.n_all)]
    chunk = max(1, BATCH // per)
    for first in range(0, cfg.n_all, chunk):
        ids = np.arange(first, min(first + chunk, cfg.n_all))
        # heads: each identity's own, then one per fake (the identity's inner face on a target)
        source = np.concatenate([ids, np.repeat(ids, cfg.n_fake)])
        target = np.concatenate([ids, targets[ids].reshape(-1)])
        coeffs = swap(take(people, source), take(people, target))
        heads = render_heads(coeffs, cfg.image_size)
        k = np.arange(len(ids))
        own = np.repeat(k, cfg.n_real).reshape(len(ids), cfg.n_real)
        swapped = len(ids) + k[:, None] * cfg.n_fake + np.arange(cfg.n_fake)
        h = np.concatenate([own, swapped], 1).reshape(-1)
        fake = np.tile(np.arange(per) >= cfg.n_real, len(ids))
        rows = np.arange(first * per, (first + len(ids)) * per)
        batch_rng = np.random.default_rng([cfg.seed, 0xE16E, int(first)])
        data, lms = render_photos(
            heads,
            h,
            take(coeffs, h),
            take(nz_all, rows),
            batch_rng,
            cfg.image_size,
            cfg.fake_strength,
            fake,
        )
        for j, (d, lm) in enumerate(zip(data, lms)):
            photos[ids[j // per]].append((d, lm, bool(fake[j])))
    return photos


def write_dataset(
    out_dir: str | Path,
    *,
    identities: int = 200,
    image_size: int = 64,
    n_real: int = 6,
    n_fake: int = 3,
    fake_strength: float = 0.5,
    seed: int = 0,
    n_test_pairs: int = 400,
    test_identities: int | None = None,
) -> Path:
    """Render a data set in the official layout into ``out_dir`` (8-digit ids in folder names
    and meta.json keys); deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(
        identities, image_size, n_real, n_fake, fake_strength, seed, n_test_pairs, test_identities
    )
    return write_layout(out_dir, cfg, render_all(cfg), renderer=NAME, folder_width=8, meta_width=8)

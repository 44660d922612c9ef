"""Every identity's photos (reals, then fakes onto lookalike heads) and the data set written
from them in the official layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from krypto.data.renderers._layout import (
    RenderConfig,
    encode_jpeg,
    lookalike_targets,
    write_layout,
)
from krypto.data.renderers.portrait.fake import render_fake
from krypto.data.renderers.portrait.photo import person_texture, render_photo
from krypto.data.renderers.portrait.traits import HAIR_STYLES, sample_person, sample_shot

NAME = "portrait"


def _finish(pixels: np.ndarray, shot: dict, rng: np.random.Generator) -> bytes:
    noisy = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(shot["noise"])
    return encode_jpeg(np.clip(noisy + 0.5, 0, 255).astype(np.uint8), shot["quality"])


def render_identity(
    people: list[dict], ident: int, targets: np.ndarray, cfg: RenderConfig
) -> list[tuple]:
    """The photos of identity ``ident``: reals, then fakes onto ``targets``."""
    rng = np.random.default_rng([cfg.seed, 0x9047, ident])
    p = people[ident]
    texture = person_texture(p, cfg.image_size)
    out = []
    for _ in range(cfg.n_real):
        shot = sample_shot(rng, p)
        pixels, lms, _ = render_photo(p, shot, cfg.image_size, rng, texture=texture)
        out.append((_finish(pixels, shot, rng), lms, False))
    for t in targets:
        head = people[int(t)]
        shot = sample_shot(rng, head)
        pixels, lms = render_fake(
            p,
            head,
            shot,
            sample_shot(rng, p),
            cfg.image_size,
            cfg.fake_strength,
            rng,
            source_texture=texture,
        )
        out.append((_finish(pixels, shot, rng), lms, True))
    return out


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, is_fake), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0x9047])
    people = [sample_person(rng) for _ in range(cfg.n_all)]
    # swaps are made onto heads with the same hair style, a close hair colour and skin tone
    look = np.array(
        [
            [
                q["tone"] * 3,
                q["face_w"] * 20,
                *(q["hair"] / 25),
                *(6.0 * (np.array(HAIR_STYLES) == q["style"])),
            ]
            for q in people
        ]
    )
    targets = lookalike_targets(rng, cfg, look, nearest=2)
    return [render_identity(people, i, targets[i], cfg) for i in range(cfg.n_all)]


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
    """Render a data set in the official layout into ``out_dir`` (6-digit folder names,
    unpadded ids in meta.json keys); deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(
        identities, image_size, n_real, n_fake, fake_strength, seed, n_test_pairs, test_identities
    )
    return write_layout(out_dir, cfg, render_all(cfg), renderer=NAME, folder_width=6, meta_width=0)

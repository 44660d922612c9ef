"""Eigenfaces: a procedural, shaded face model in numpy, with face swaps made by a generator.

A person is a coefficient vector: the sizes and places of a face template's parts (face outline
and jaw, eyes, brows, nose, mouth, ears, hair mass and hairline), its colours (skin, hair, iris,
lips), and the weights of a fixed random basis of smooth fields (sums of Gaussian and Gabor
blobs on the face) that add albedo (blotches, shadows, tones) and relief (cheekbones, brow ridge,
chin) to the template. A face is rendered in a canonical frame as albedo times the shading of
its relief under a light, then posed (an affine warp, with yaw as a parallax that moves the
face's centre more than its outline) onto a background.

Per photo (nuisance): pose (roll, scale, shift, yaw parallax of the inner face), light
direction and ambient level, exposure and white balance, expression (smile, open mouth, raised
brows, half-closed eyes, gaze), clothes and background, sensor noise, JPEG quality.

A fake of person A is a face swap made in the model: A's inner-face coefficients (eyes, brows,
nose, mouth, iris, moles, the basis weights of the inner face) with the outer face (outline,
skin, hair, ears) of another person who resembles A (skin, hair, face width), rendered by
a generator that leaves, in proportion to ``fake_strength``, inside the swapped region: a
transposed-convolution checkerboard (a peak at half the sampling frequency), no sensor noise
(the region is too clean), and, on the whole photo, a first JPEG pass of lower quality (double
compression).

``python -m krypto.data.renderers.eigenfaces OUT --identities 200 --size 64`` or
:func:`write_dataset`. Folder names and meta.json keys are 8-digit zero-padded ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from krypto.data.renderers import RenderConfig, lookalike_targets, run_cli, write_rendered
from krypto.data.renderers.eigenfaces.canonical import render_heads
from krypto.data.renderers.eigenfaces.canvas import N_ALBEDO, N_RELIEF
from krypto.data.renderers.eigenfaces.photos import render_photos

_LIGHT_SKIN, _DARK_SKIN = np.array([0.95, 0.80, 0.68]), np.array([0.36, 0.23, 0.15])
# fmt: off
_HAIR_ROOTS = np.array([[0.06, 0.05, 0.05], [0.22, 0.13, 0.07], [0.42, 0.27, 0.14],
                        [0.78, 0.62, 0.38], [0.55, 0.22, 0.08], [0.70, 0.70, 0.72]])
_HAIR_P = np.array([0.32, 0.26, 0.16, 0.1, 0.07, 0.09])
_IRIS = np.array([[0.30, 0.18, 0.08], [0.28, 0.45, 0.65], [0.35, 0.48, 0.30],
                  [0.15, 0.10, 0.06], [0.50, 0.42, 0.30]])
# fmt: on

# keys that a face swap takes from the source (the person the fake shows); the rest from the head
# fmt: off
INNER = (
    "eye_x", "eye_y", "eye_w", "eye_h", "eye_slant", "iris", "iris_r",
    "brow_gap", "brow_w", "brow_h", "brow_tilt", "brow_dark",
    "nose_len", "nose_w", "nose_bridge", "mouth_gap", "mouth_w", "lip_h", "lips",
    "mole_x", "mole_y", "mole_r", "albedo_in", "relief", "beard",
)
# fmt: on


def sample_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Coefficient vectors of ``n`` people."""

    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, (n, *shape))

    tone = rng.beta(1.3, 1.6, n)
    skin = _LIGHT_SKIN + tone[:, None] * (_DARK_SKIN - _LIGHT_SKIN)
    skin = np.clip(skin + rng.normal(0, 0.025, (n, 3)), 0, 1)
    hair = np.clip(
        _HAIR_ROOTS[rng.choice(len(_HAIR_P), n, p=_HAIR_P)] + rng.normal(0, 0.04, (n, 3)), 0, 1
    )
    bald = rng.random(n) < 0.08
    long_hair = rng.random(n) < 0.4
    beard = np.where(rng.random(n) < 0.25, u(0.35, 0.9), 0.0)
    n_moles = rng.integers(0, 4, n)
    return {
        # outer face: outline, skin, hair, ears, beard
        "skin": skin,
        "face_w": u(0.40, 0.50),
        "face_h": u(0.55, 0.64),
        "jaw": u(0.05, 0.5),
        "hair": hair,
        "hair_vol": np.where(bald, u(0.0, 0.01), np.where(long_hair, u(0.05, 0.16), u(0.02, 0.08))),
        "hair_end": np.where(long_hair, u(0.25, 1.1), u(-0.2, 0.05)),
        "hairline": np.where(bald, u(-0.8, -0.7), u(-0.58, -0.4)),
        "fringe": u(0.0, 1.0) * (~bald),
        "parting": u(-0.25, 0.25),
        "hair_wave": u(0.0, 1.0),
        "ear": u(0.8, 1.25),
        "beard": beard,
        "albedo_out": rng.normal(0, 1, (n, N_ALBEDO)),
        # inner face
        "eye_x": u(0.17, 0.23),
        "eye_y": u(-0.12, -0.03),
        "eye_w": u(0.075, 0.105),
        "eye_h": u(0.035, 0.055),
        "eye_slant": u(-0.2, 0.25),
        "iris": np.clip(
            _IRIS[rng.integers(len(_IRIS), size=n)] + rng.normal(0, 0.04, (n, 3)), 0, 1
        ),
        "iris_r": u(0.85, 1.1),
        "brow_gap": u(0.065, 0.11),
        "brow_w": u(0.07, 0.11),
        "brow_h": u(0.016, 0.034),
        "brow_tilt": u(-0.3, 0.3),
        "brow_dark": u(0.3, 0.9),
        "nose_len": u(0.14, 0.24),
        "nose_w": u(0.035, 0.06),
        "nose_bridge": u(0.3, 1.0),
        "mouth_gap": u(0.09, 0.15),
        "mouth_w": u(0.085, 0.15),
        "lip_h": u(0.022, 0.042),
        "lips": np.clip(skin * [0.82, 0.52, 0.52] + rng.normal(0, 0.035, (n, 3)), 0, 1),
        "mole_x": u(-0.3, 0.3, 3),
        "mole_y": u(-0.15, 0.4, 3),
        "mole_r": u(0.012, 0.022, 3) * (np.arange(3) < n_moles[:, None]),
        "albedo_in": rng.normal(0, 1, (n, N_ALBEDO)),
        "relief": rng.normal(0, 1, (n, N_RELIEF)),
    }


def swap(source: dict, head: dict) -> dict:
    """The coefficients of a face swap: ``source``'s inner face on ``head``'s outer face."""
    return {k: (source[k] if k in INNER else head[k]) for k in source}


def sample_nuisance(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """What changes between two photos of one person, for ``n`` photos."""

    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, (n, *shape))

    azimuth, elevation = u(-np.pi, np.pi), u(0.35, 1.2)
    flat = np.cos(elevation)
    light = np.stack([np.cos(azimuth) * flat, np.sin(azimuth) * flat, np.sin(elevation)], 1)
    return {
        "roll": np.radians(rng.normal(0, 6, n).clip(-14, 14)),
        "scale": u(0.9, 1.1),
        "shift": u(-0.07, 0.07, 2),
        "yaw": u(-1, 1),
        "light": light,
        "ambient": u(0.35, 0.65),
        "exposure": u(0.8, 1.15),
        "tint": rng.normal(0, 0.035, (n, 3)),
        "contrast": u(-0.35, 0.35),
        "smile": u(0, 1) ** 1.5,
        "open": u(0, 1) ** 3,
        "raise": u(-0.4, 1.0),
        "eye_open": 1 - u(0, 0.5) ** 2,
        "gaze": u(-1, 1, 2),
        "clothes": u(0.05, 0.9, 3),
        "bg": u(0.1, 0.95, 3, 3, 3),
        "noise": u(0.008, 0.035),
        "quality": rng.integers(60, 96, n),
    }


def take(arrays: dict, rows) -> dict:
    return {k: v[rows] for k, v in arrays.items()}


NAME = "eigenfaces"
BATCH = 48  # photos rendered at once


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, is_fake), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0xE16E])
    people = sample_people(rng, cfg.n_all)
    # swaps are made onto heads that resemble the source: skin, hair colour and style, outline
    col = {k: people[k][:, None] for k in ("hair_vol", "hair_end", "hairline", "face_w")}
    look = [people["skin"] * 4, people["hair"] * 4, col["hair_vol"] * 10]
    look += [np.clip(col["hair_end"], -0.2, 0.4) * 2, col["hairline"] * 2, col["face_w"] * 6]
    targets = lookalike_targets(rng, cfg, np.concatenate(look, 1), nearest=3)
    per, size, strength = cfg.n_real + cfg.n_fake, cfg.image_size, cfg.fake_strength
    nz_all = sample_nuisance(rng, cfg.n_all * per)
    photos: list[list[tuple]] = [[] for _ in range(cfg.n_all)]
    chunk = max(1, BATCH // per)
    for first in range(0, cfg.n_all, chunk):
        ids = np.arange(first, min(first + chunk, cfg.n_all))
        # heads: each identity's own, then one per fake (the identity's inner face on a target)
        source = np.concatenate([ids, np.repeat(ids, cfg.n_fake)])
        target = np.concatenate([ids, targets[ids].reshape(-1)])
        coeffs = swap(take(people, source), take(people, target))
        heads = render_heads(coeffs, size)
        k = np.arange(len(ids))
        own = np.repeat(k, cfg.n_real).reshape(len(ids), cfg.n_real)
        swapped = len(ids) + k[:, None] * cfg.n_fake + np.arange(cfg.n_fake)
        h = np.concatenate([own, swapped], 1).reshape(-1)
        fake = np.tile(np.arange(per) >= cfg.n_real, len(ids))
        rows = np.arange(first * per, (first + len(ids)) * per)
        batch_rng = np.random.default_rng([cfg.seed, 0xE16E, int(first)])
        nz = take(nz_all, rows)
        data, lms = render_photos(heads, h, take(coeffs, h), nz, batch_rng, size, strength, fake)
        for j, (d, lm) in enumerate(zip(data, lms)):
            photos[ids[j // per]].append((d, lm, bool(fake[j])))
    return photos


def write_dataset(out_dir: str | Path, **params) -> Path:
    """Render a data set of :class:`~krypto.data.renderers.RenderConfig` ``params`` in the
    official layout into ``out_dir`` (8-digit ids in folder names and meta.json keys);
    deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(**params)
    return write_rendered(out_dir, NAME, cfg, render_all(cfg), (8, 8))


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    run_cli(NAME, write_dataset, __doc__, argv)


__all__ = ["NAME", "main", "render_all", "write_dataset"]

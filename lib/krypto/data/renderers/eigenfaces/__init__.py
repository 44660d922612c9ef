"""Eigenfaces: a procedural, shaded face model in numpy, with face swaps made by a generator.

A person is a coefficient vector: the sizes and places of a face template's parts, their colours,
and the weights of a fixed random basis of smooth fields that add albedo and relief to the
template. A face is drawn in a canonical frame as albedo times the shading of its relief under a
light, then posed (yaw as a parallax that moves the face's centre more than its outline) onto a
background. A photo varies pose, light, exposure, white balance, expression, clothes,
background, sensor noise and JPEG quality.

A fake of person A is a face swap made in the model: A's inner-face coefficients (:data:`INNER`)
with the outer face (outline, skin, hair, ears) of another person who resembles A (the host),
drawn by a generator that leaves, in proportion to ``fake_strength``, a checkerboard and no
sensor noise inside the swapped region, and a coarser first JPEG pass (double compression).

Folder names and meta.json keys are 8-digit zero-padded ids.
"""

from __future__ import annotations

import numpy as np

from krypto.data.dataset_writer import lookalike_hosts
from krypto.data.renderers import RenderConfig
from krypto.data.renderers.eigenfaces.canonical import render_heads
from krypto.data.renderers.eigenfaces.canvas import N_ALBEDO, N_RELIEF
from krypto.data.renderers.eigenfaces.photos import render_photos

FOLDER_WIDTHS = (8, 8)  # zero padding of folder names and of meta.json keys
_LIGHT_SKIN, _DARK_SKIN = np.array([0.95, 0.80, 0.68]), np.array([0.36, 0.23, 0.15])
# fmt: off
_HAIR_ROOTS = np.array([[0.06, 0.05, 0.05], [0.22, 0.13, 0.07], [0.42, 0.27, 0.14],
                        [0.78, 0.62, 0.38], [0.55, 0.22, 0.08], [0.70, 0.70, 0.72]])
_HAIR_P = np.array([0.32, 0.26, 0.16, 0.1, 0.07, 0.09])
_IRIS = np.array([[0.30, 0.18, 0.08], [0.28, 0.45, 0.65], [0.35, 0.48, 0.30],
                  [0.15, 0.10, 0.06], [0.50, 0.42, 0.30]])
# coefficients drawn uniformly in [low, high), in this order
_OUTLINE = {"face_w": (0.40, 0.50), "face_h": (0.55, 0.64), "jaw": (0.05, 0.5)}
_HAIR_STYLE = {"parting": (-0.25, 0.25), "hair_wave": (0.0, 1.0), "ear": (0.8, 1.25)}
_EYES = {
    "eye_x": (0.17, 0.23), "eye_y": (-0.12, -0.03), "eye_w": (0.075, 0.105),
    "eye_h": (0.035, 0.055), "eye_slant": (-0.2, 0.25),
}
_BROWS_NOSE_MOUTH = {
    "iris_r": (0.85, 1.1), "brow_gap": (0.065, 0.11), "brow_w": (0.07, 0.11),
    "brow_h": (0.016, 0.034), "brow_tilt": (-0.3, 0.3), "brow_dark": (0.3, 0.9),
    "nose_len": (0.14, 0.24), "nose_w": (0.035, 0.06), "nose_bridge": (0.3, 1.0),
    "mouth_gap": (0.09, 0.15), "mouth_w": (0.085, 0.15), "lip_h": (0.022, 0.042),
}
# fmt: on
# coefficients that a face swap takes from the person it shows; the rest from the host's head
INNER = (*_EYES, "iris", *_BROWS_NOSE_MOUTH, "lips", "mole_x", "mole_y", "mole_r")
INNER += ("albedo_in", "relief", "beard")


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
        "skin": skin,
        **_uniform(rng, n, _OUTLINE),
        "hair": hair,
        "hair_vol": np.where(bald, u(0.0, 0.01), np.where(long_hair, u(0.05, 0.16), u(0.02, 0.08))),
        "hair_end": np.where(long_hair, u(0.25, 1.1), u(-0.2, 0.05)),
        "hairline": np.where(bald, u(-0.8, -0.7), u(-0.58, -0.4)),
        "fringe": u(0.0, 1.0) * (~bald),
        **_uniform(rng, n, _HAIR_STYLE),
        "beard": beard,
        "albedo_out": rng.normal(0, 1, (n, N_ALBEDO)),
        **_uniform(rng, n, _EYES),
        "iris": np.clip(
            _IRIS[rng.integers(len(_IRIS), size=n)] + rng.normal(0, 0.04, (n, 3)), 0, 1
        ),
        **_uniform(rng, n, _BROWS_NOSE_MOUTH),
        "lips": np.clip(skin * [0.82, 0.52, 0.52] + rng.normal(0, 0.035, (n, 3)), 0, 1),
        "mole_x": u(-0.3, 0.3, 3),
        "mole_y": u(-0.15, 0.4, 3),
        "mole_r": u(0.012, 0.022, 3) * (np.arange(3) < n_moles[:, None]),
        "albedo_in": rng.normal(0, 1, (n, N_ALBEDO)),
        "relief": rng.normal(0, 1, (n, N_RELIEF)),
    }


def _uniform(rng: np.random.Generator, n: int, ranges: dict) -> dict:
    return {name: rng.uniform(low, high, n) for name, (low, high) in ranges.items()}


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


BATCH = 48  # photos rendered at once


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, host or None), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0xE16E])
    people = sample_people(rng, cfg.n_all)
    # swaps are made onto heads that resemble the source: skin, hair colour and style, outline
    col = {k: people[k][:, None] for k in ("hair_vol", "hair_end", "hairline", "face_w")}
    look = [people["skin"] * 4, people["hair"] * 4, col["hair_vol"] * 10]
    look += [np.clip(col["hair_end"], -0.2, 0.4) * 2, col["hairline"] * 2, col["face_w"] * 6]
    hosts = lookalike_hosts(rng, np.concatenate(look, 1), cfg.pools, cfg.n_fake, nearest=3)
    per, size, strength = cfg.n_real + cfg.n_fake, cfg.image_size, cfg.fake_strength
    nz_all = sample_nuisance(rng, cfg.n_all * per)
    photos: list[list[tuple]] = [[] for _ in range(cfg.n_all)]
    chunk = max(1, BATCH // per)
    for first in range(0, cfg.n_all, chunk):
        ids = np.arange(first, min(first + chunk, cfg.n_all))
        # heads: each identity's own, then one per fake (the identity's inner face on a host's)
        source = np.concatenate([ids, np.repeat(ids, cfg.n_fake)])
        host = np.concatenate([ids, hosts[ids].reshape(-1)])
        coeffs = swap(take(people, source), take(people, host))
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
            photos[ids[j // per]].append((d, lm, int(host[h[j]]) if fake[j] else None))
    return photos

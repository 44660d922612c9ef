"""Eigenfaces: a shaded procedural face model in numpy. A person is a coefficient vector (the
sizes, places and colours of a template's parts, the weights of a fixed basis of albedo and
relief fields); a photo is the face's albedo times the shading of its relief, posed (yaw as a
parallax) onto a background, and varies pose, light, exposure, white balance, expression,
clothes, background, noise and JPEG quality. A fake of A is A's inner-face coefficients
(:data:`INNER`) on the head of a lookalike (the host), drawn by a generator that leaves, with
``fake_strength``, a checkerboard and no sensor noise in the swapped region, and a coarser
first JPEG pass. Folder names and meta.json keys are 8-digit zero-padded ids.
"""

import numpy as np

from krypto.data.dataset_writer import lookalike_hosts
from krypto.data.renderers import RenderConfig
from krypto.data.renderers.eigenfaces.model import N_ALBEDO, N_RELIEF, render_heads
from krypto.data.renderers.eigenfaces.photos import render_photos

FOLDER_WIDTHS = (8, 8)  # zero padding of folder names and of meta.json keys
BATCH = 48  # photos rendered at once
_LIGHT_SKIN, _DARK_SKIN = np.array([0.95, 0.80, 0.68]), np.array([0.36, 0.23, 0.15])
# fmt: off
_HAIR = np.array([[0.06, 0.05, 0.05], [0.22, 0.13, 0.07], [0.42, 0.27, 0.14],
                  [0.78, 0.62, 0.38], [0.55, 0.22, 0.08], [0.70, 0.70, 0.72]])
_HAIR_P = np.array([0.32, 0.26, 0.16, 0.1, 0.07, 0.09])
_IRIS = np.array([[0.30, 0.18, 0.08], [0.28, 0.45, 0.65], [0.35, 0.48, 0.30],
                  [0.15, 0.10, 0.06], [0.50, 0.42, 0.30]])
# coefficients drawn uniformly in [low, high): of the outer face, that a face swap keeps from
# the host's head, and of the inner face, that it takes from the person it shows
_OUTER = {
    "face_w": (0.40, 0.50), "face_h": (0.55, 0.64), "jaw": (0.05, 0.5), "parting": (-0.25, 0.25),
    "hair_wave": (0.0, 1.0), "ear": (0.8, 1.25),
}
_INNER = {
    "eye_x": (0.17, 0.23), "eye_y": (-0.12, -0.03), "eye_w": (0.075, 0.105),
    "eye_h": (0.035, 0.055), "eye_slant": (-0.2, 0.25), "iris_r": (0.85, 1.1),
    "brow_gap": (0.065, 0.11), "brow_w": (0.07, 0.11), "brow_h": (0.016, 0.034),
    "brow_tilt": (-0.3, 0.3), "brow_dark": (0.3, 0.9), "nose_len": (0.14, 0.24),
    "nose_w": (0.035, 0.06), "nose_bridge": (0.3, 1.0), "mouth_gap": (0.09, 0.15),
    "mouth_w": (0.085, 0.15), "lip_h": (0.022, 0.042),
}
# conditions of a photo drawn uniformly in [low, high), of the shape given after them
_PHOTO = {
    "scale": (0.9, 1.1), "shift": (-0.07, 0.07, 2), "yaw": (-1, 1), "ambient": (0.35, 0.65),
    "exposure": (0.8, 1.15), "contrast": (-0.35, 0.35), "raise": (-0.4, 1.0), "gaze": (-1, 1, 2),
    "clothes": (0.05, 0.9, 3), "bg": (0.1, 0.95, 3, 3, 3), "noise": (0.008, 0.035),
}
# fmt: on
INNER = (*_INNER, "iris", "lips", "albedo_in", "relief", "beard")


def sample_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` people's coefficients: ``[n]``, ``[n, 3]`` (colours) or ``[n, K]`` (basis weights)."""
    u = lambda lo, hi, *shape: rng.uniform(lo, hi, (n, *shape))
    noisy = lambda colours, spread=0.04: np.clip(colours + rng.normal(0, spread, (n, 3)), 0, 1)
    skin = noisy(_LIGHT_SKIN + rng.beta(1.3, 1.6, (n, 1)) * (_DARK_SKIN - _LIGHT_SKIN), 0.025)
    bald, long_hair = rng.random(n) < 0.08, rng.random(n) < 0.4
    return {
        **{name: u(low, high) for name, (low, high) in {**_OUTER, **_INNER}.items()},
        "skin": skin,
        "hair": noisy(_HAIR[rng.choice(len(_HAIR), n, p=_HAIR_P)]),
        "hair_vol": np.where(bald, u(0.0, 0.01), np.where(long_hair, u(0.05, 0.16), u(0.02, 0.08))),
        "hair_end": np.where(long_hair, u(0.25, 1.1), u(-0.2, 0.05)),
        "hairline": np.where(bald, u(-0.8, -0.7), u(-0.58, -0.4)),
        "fringe": u(0.0, 1.0) * ~bald,
        "beard": np.where(rng.random(n) < 0.25, u(0.35, 0.9), 0.0),
        "iris": noisy(_IRIS[rng.integers(len(_IRIS), size=n)]),
        "lips": noisy(skin * [0.82, 0.52, 0.52], 0.035),
        "albedo_out": rng.normal(0, 1, (n, N_ALBEDO)),
        "albedo_in": rng.normal(0, 1, (n, N_ALBEDO)),
        "relief": rng.normal(0, 1, (n, N_RELIEF)),
    }


def sample_nuisance(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """What changes between two photos of one person, for ``n`` photos."""
    nz = {k: rng.uniform(low, high, (n, *shape)) for k, (low, high, *shape) in _PHOTO.items()}
    azimuth, elevation = rng.uniform(-np.pi, np.pi, n), rng.uniform(0.35, 1.2, n)
    flat = np.cos(elevation)
    nz["light"] = np.stack([np.cos(azimuth) * flat, np.sin(azimuth) * flat, np.sin(elevation)], 1)
    nz["roll"] = np.radians(rng.normal(0, 6, n).clip(-14, 14))
    nz["tint"] = rng.normal(0, 0.035, (n, 3))
    nz["smile"], nz["open"] = rng.uniform(0, 1, n) ** 1.5, rng.uniform(0, 1, n) ** 3
    nz["eye_open"] = 1 - rng.uniform(0, 0.5, n) ** 2
    nz["quality"] = rng.integers(60, 96, n)
    return nz


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, host or None), ...]``.
    Swaps are made onto heads that resemble the source: skin, hair colour and style, outline."""
    rng = np.random.default_rng([cfg.seed, 0xE16E])
    people = sample_people(rng, cfg.n_all)
    look = [people["skin"] * 4, people["hair"] * 4, people["hair_vol"] * 10, people["face_w"] * 6]
    look += [np.clip(people["hair_end"], -0.2, 0.4) * 2, people["hairline"] * 2]
    hosts = lookalike_hosts(rng, np.column_stack(look), cfg.pools, cfg.n_fake, nearest=3)
    per, size, strength = cfg.n_real + cfg.n_fake, cfg.image_size, cfg.fake_strength
    # the heads of an identity: its own, then one per fake (its inner face on the host's head);
    # the head of each of its photos: its own for the reals, then those of the fakes
    head_of_photo = np.r_[np.zeros(cfg.n_real, int), np.arange(1, cfg.n_fake + 1)]
    photos, chunk = [], max(1, BATCH // per)
    for first in range(0, cfg.n_all, chunk):
        ids = np.arange(first, min(first + chunk, cfg.n_all))
        source = np.repeat(ids, 1 + cfg.n_fake)
        host = np.column_stack([ids, hosts[ids]]).reshape(-1)
        coeffs = {k: people[k][source if k in INNER else host] for k in people}
        h = (np.arange(len(ids))[:, None] * (1 + cfg.n_fake) + head_of_photo).reshape(-1)
        fake = h % (1 + cfg.n_fake) > 0
        nz = sample_nuisance(rng, len(h))
        heads = render_heads(coeffs, size)
        data, lms = render_photos(heads, h, coeffs, nz, rng, size, strength, fake)
        hosts_of = [int(host[j]) if f else None for j, f in zip(h, fake)]
        photos += [list(zip(data, lms, hosts_of))[i * per : (i + 1) * per] for i in range(len(ids))]
    return photos

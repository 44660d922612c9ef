"""People as coefficient vectors (arrays of shape ``[n]``, colours ``[n, 3]``, basis weights
``[n, K]``), the face swap of two of them, and the conditions of photos.
"""

from __future__ import annotations

import numpy as np

from krypto.data.renderers.eigenfaces.basis import N_ALBEDO, N_RELIEF

_LIGHT_SKIN, _DARK_SKIN = np.array([0.95, 0.80, 0.68]), np.array([0.36, 0.23, 0.15])
_HAIR_ROOTS = np.array(
    [
        [0.06, 0.05, 0.05],
        [0.22, 0.13, 0.07],
        [0.42, 0.27, 0.14],
        [0.78, 0.62, 0.38],
        [0.55, 0.22, 0.08],
        [0.70, 0.70, 0.72],
    ]
)
_HAIR_P = np.array([0.32, 0.26, 0.16, 0.1, 0.07, 0.09])
_IRIS = np.array(
    [
        [0.30, 0.18, 0.08],
        [0.28, 0.45, 0.65],
        [0.35, 0.48, 0.30],
        [0.15, 0.10, 0.06],
        [0.50, 0.42, 0.30],
    ]
)

# keys that a face swap takes from the source (the person the fake shows); the rest from the head
INNER = (
    "eye_x",
    "eye_y",
    "eye_w",
    "eye_h",
    "eye_slant",
    "iris",
    "iris_r",
    "brow_gap",
    "brow_w",
    "brow_h",
    "brow_tilt",
    "brow_dark",
    "nose_len",
    "nose_w",
    "nose_bridge",
    "mouth_gap",
    "mouth_w",
    "lip_h",
    "lips",
    "mole_x",
    "mole_y",
    "mole_r",
    "albedo_in",
    "relief",
    "beard",
)


def sample_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Coefficient vectors of ``n`` people."""

    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, (n, *shape))

    tone = rng.beta(1.3, 1.6, n)
    skin = np.clip(
        _LIGHT_SKIN + tone[:, None] * (_DARK_SKIN - _LIGHT_SKIN) + rng.normal(0, 0.025, (n, 3)),
        0,
        1,
    )
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
    light = np.stack(
        [
            np.cos(azimuth) * np.cos(elevation),
            np.sin(azimuth) * np.cos(elevation),
            np.sin(elevation),
        ],
        1,
    )
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

"""Identities and photo conditions (see :mod:`krypto.data.synth`), sampled as arrays (one row
per face) so that a whole batch of faces is drawn with one numpy operation per shape."""

import math

import numpy as np

# fmt: off
_SKIN = np.array([[0.98, 0.85, 0.74], [0.92, 0.74, 0.60], [0.80, 0.60, 0.45],
                  [0.63, 0.45, 0.32], [0.45, 0.30, 0.20], [0.96, 0.80, 0.68]])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.30, 0.18, 0.10], [0.55, 0.38, 0.20],
                  [0.85, 0.70, 0.40], [0.60, 0.25, 0.10], [0.65, 0.65, 0.65]])
_IRIS = np.array([[0.25, 0.15, 0.08], [0.20, 0.35, 0.60], [0.25, 0.45, 0.30], [0.10, 0.08, 0.06]])
# traits drawn uniformly in [low, high): of the head (what a face swap keeps from the host) and
# of the inner face (what it carries from the person it shows)
_HEAD = {
    "face_w": (0.46, 0.62), "face_h": (0.62, 0.76), "hair_len": (0.0, 0.5),
    "fringe": (-0.62, -0.28), "hair_volume": (0.03, 0.12),
}
_INNER = {
    "eye_dx": (0.15, 0.27), "eye_y": (-0.16, -0.02), "eye_w": (0.06, 0.1), "eye_h": (0.03, 0.05),
    "brow_gap": (0.08, 0.14), "brow_w": (0.07, 0.12), "brow_h": (0.012, 0.03),
    "brow_tilt": (-0.35, 0.35), "nose_y": (0.1, 0.22), "nose_w": (0.04, 0.09),
    "nose_len": (0.08, 0.18), "mouth_y": (0.3, 0.42), "mouth_w": (0.1, 0.19),
    "lip_h": (0.02, 0.045),
}
# fmt: on
HEAD_TRAITS = (*_HEAD, "skin", "hair")


def _palette(rng, palette, n, spread):
    colours = palette[rng.integers(len(palette), size=n)]
    return np.clip(colours + rng.normal(0, spread, (n, 3)), 0, 1)


def sample_identities(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Stable traits of ``n`` people: a dict of arrays of shape ``[n]`` (or ``[n, 3]`` colours)."""
    traits = {name: rng.uniform(low, high, n) for name, (low, high) in {**_HEAD, **_INNER}.items()}
    traits["skin"] = _palette(rng, _SKIN, n, 0.04)
    traits["hair"] = _palette(rng, _HAIR, n, 0.05)
    traits["iris"] = _palette(rng, _IRIS, n, 0.05)
    lips = traits["skin"] * [0.85, 0.55, 0.55] + rng.normal(0, 0.04, (n, 3))
    traits["lips"] = np.clip(lips, 0, 1)
    return traits


def sample_nuisance(rng: np.random.Generator, n: int, difficulty: float) -> dict[str, np.ndarray]:
    """What changes between two photos of one person, for ``n`` photos."""
    d = difficulty
    u = lambda lo, hi, *shape: rng.uniform(lo, hi, (n, *shape))
    return {
        "roll": u(-1, 1) * math.radians(20) * d,
        "yaw": u(-1, 1) * 0.12 * d,
        "scale": 1 + u(-1, 1) * 0.15 * d,
        "shift": u(-1, 1, 2) * 0.12 * d,
        "light": 1 + u(-1, 1) * 0.3 * d,
        "light_grad": rng.normal(0, 0.25 * d, (n, 2)),
        "tint": rng.normal(0, 0.05 * d, (n, 3)),
        "mouth_open": u(0, 0.035) * d,
        "eye_open": 1 - u(0, 0.55) * d,
        "bg": u(0.1, 0.9, 3),
        "bg_grad": rng.normal(0, 0.3, (n, 2)),
        "bg_freq": u(0, 10 * d),
        "noise": u(0.005, 0.04) * d,
        "jpeg": np.round(95 - u(0, 50) * d).astype(int),
        "hair_shift": rng.normal(0, 0.02 * d, (n, 3)),
    }


def take(arrays: dict[str, np.ndarray], rows) -> dict[str, np.ndarray]:
    """The rows ``rows`` of every array of a traits or nuisance dict."""
    return {k: v[rows] for k, v in arrays.items()}

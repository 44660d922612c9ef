"""A fake: a person's face region cut from a photo of them and pasted onto a photo of another
person, aligned to that head's pose; with ``fake_strength``, a colour mismatch, resampling blur
and a blending seam.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from krypto.data.renderers.portrait.photo import render_photo


def _ellipse_mask(size: int, region, feather: float) -> np.ndarray:
    """A soft elliptic mask ``[size, size]`` of the face region, ``feather`` pixels wide."""
    cx, cy, rx, ry, roll = region
    line = np.arange(size, dtype=np.float32) + 0.5
    x, y = line[None, :] - cx, line[:, None] - cy
    c, s = math.cos(roll), math.sin(roll)
    u, v = c * x + s * y, -s * x + c * y
    r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    return np.clip((1 - r) * min(rx, ry) / max(feather, 0.3) + 0.5, 0, 1)


def render_fake(
    source: dict,
    target: dict,
    shot: dict,
    source_shot: dict,
    size: int,
    strength: float,
    rng: np.random.Generator,
    source_texture: np.ndarray | None = None,
):
    """``source``'s face region, from a photo of ``source`` aligned to a photo of ``target``,
    pasted onto it with a colour mismatch, resampling blur and a seam that grow with
    ``strength``."""
    base, lms, region = render_photo(target, shot, size, rng)
    face, _, _ = render_photo(
        source, source_shot, size, rng, pose_from=shot, texture=source_texture, room=False
    )
    # the soft mask of the swapped region; narrower feather with strength
    mask = _ellipse_mask(size, region, feather=(1 - strength) * size / 14 + size / 64)[..., None]
    # colour: matched to the target's region in proportion to 1 - strength
    w = mask[..., 0] > 0.5
    if w.any():
        mu_b, mu_f = base[w].mean(0), face[w].mean(0)
        sd_b, sd_f = base[w].std(0) + 1, face[w].std(0) + 1
        matched = (face - mu_f) * (sd_b / sd_f) + mu_b
        face = matched + strength * (face - matched)
    face = face * (1 + strength * rng.normal(0, 0.05, 3))
    # resampling: the region went through a lower resolution
    low = max(8, int(round(size / (1 + 1.8 * strength))))
    if low < size:
        small = cv2.resize(np.clip(face, 0, 255), (low, low), interpolation=cv2.INTER_LINEAR)
        face = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    out = base * (1 - mask) + face * mask
    # the seam: a bright or dark ring along the region's edge
    ring = (mask * (1 - mask))[..., 0] * 4
    out += (strength * 28 * rng.choice([-1, 1]) * ring)[..., None]
    return out, lms

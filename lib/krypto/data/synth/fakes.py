"""Face swaps: a source's inner face drawn onto a target's head, with the traces swaps leave.

A fake of identity X carries X's inner face (brows, eyes, nose, mouth, marks and, with
``fake_strength``, its skin tone) on the head of another person chosen to look like X,
resampled (blurred), with a blend seam at the edge of the swapped region, a faint upsampling
checkerboard and less sensor noise than the rest of the photo. A model that learns identity
alone sees X in it.
"""

from __future__ import annotations

import numpy as np

from krypto.data.synth.render import (
    Canvas,
    background,
    ellipse_coverage,
    finish,
    paint_head,
    paint_inner,
    per_face,
)


def inner_region(t: dict):
    """The swapped region of a face swap: an ellipse from the brows to below the mouth."""
    top = t["eye_y"] - t["brow_gap"] - t["brow_h"] - 0.05
    bottom = t["mouth_y"] + t["lip_h"] + 0.08
    return (top + bottom) / 2, t["eye_dx"] + t["eye_w"] + 0.07, (bottom - top) / 2


def resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Bilinear interpolation as a matrix ``[n_out, n_in]`` (pixel centres aligned)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] += 1 - w
    m[np.arange(n_out), hi] += w
    return m


def render_fake(
    source: dict, target: dict, nuisance: dict, size: int, strength: float, rng: np.random.Generator
):
    """Face swaps: ``source``'s inner face on ``target``'s head, with the traces swaps leave:
    resampling blur and misalignment (the source face is drawn at a lower resolution), a colour
    mismatch, a darkened blend seam, an upsampling checkerboard and less sensor noise inside the
    swapped region, all scaled by ``strength``.

    Returns uint8 images ``[B, size, size, 3]`` and landmarks ``[B, 5, 2]`` in [0, 1]."""
    n = len(nuisance["roll"])
    cv = Canvas(background(nuisance, size), nuisance)
    paint_head(cv, target)

    low = max(8, int(round(size / (1.0 + 3.0 * strength))))
    wobble = dict(nuisance, shift=nuisance["shift"] + rng.normal(0, 0.012 * strength, (n, 2)))
    # colour mismatch: the swapped skin keeps the source's tone, shifted by the swap's own cast
    inner_skin = np.clip(source["skin"] + rng.normal(0, 0.12 * strength, (n, 3)), 0, 1)
    face = Canvas(
        np.broadcast_to(inner_skin.astype(np.float32)[:, :, None, None], (n, 3, low, low)).copy(),
        wobble,
    )
    paint_inner(face, dict(source, skin=inner_skin))
    up = resize_matrix(size, low)
    face_img = up @ np.clip(face.img, 0, 1) @ up.T  # [B, 3, size, size]

    cy, ax, ay = inner_region(source)
    ax = np.minimum(ax, target["face_w"] - 0.03)
    feather = cv.edge * 3.0
    mask = ellipse_coverage(
        cv.u, cv.v, per_face(nuisance["yaw"]), per_face(cy), per_face(ax), per_face(ay), feather
    )
    ring = mask * (1 - mask) * 4
    img = cv.img + mask[:, None] * (face_img - cv.img)
    img *= (1 - 0.5 * strength * ring)[:, None]
    checker = ((np.arange(size)[:, None] + np.arange(size)[None, :]) % 2 * 2 - 1).astype(np.float32)
    img += (0.04 * strength * mask * checker)[:, None]
    landmarks = paint_inner(cv, source, draw=False)
    # the swapped face comes out of a generator, smoother than the sensor: less noise there
    return finish(img, nuisance, rng, noise_scale=1 - 0.9 * strength * mask), landmarks

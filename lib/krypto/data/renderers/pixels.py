"""Pixel operations shared by the face generators (:mod:`krypto.data.synth` and the renderers):
soft ellipses, the traces a face swap leaves (a blending seam, an upsampling checkerboard, a
double JPEG, missing sensor noise), sensor noise and JPEG. Images are float RGB in [0, 1]."""

import io

import numpy as np
from PIL import Image


def per_image(values) -> np.ndarray:
    """``[N]`` -> ``[N, 1, 1]`` float32, to broadcast over the pixels of ``[N, H, W]``."""
    return np.asarray(values, dtype=np.float32).reshape(-1, 1, 1)


def soft_ellipse(x, y, cx, cy, rx, ry, edge, tilt=None) -> np.ndarray:
    """Coverage in [0, 1] of ellipses at the points ``x, y``, anti-aliased over ``edge`` (a
    pixel, in the same units); the arguments broadcast (``x [1, 1, W]``, ``cx [N, 1, 1]`` ...)."""
    dx, dy = x - cx, y - cy
    if tilt is not None:
        c, s = np.cos(tilt), np.sin(tilt)
        dx, dy = c * dx + s * dy, c * dy - s * dx
    r2 = (dx / rx) ** 2 + (dy / ry) ** 2
    # 1 - r ~ (1 - r^2) / 2 near the border, where the anti-aliasing ramp lives
    alpha = (1.0 - r2) * (np.minimum(rx, ry) / (2.0 * edge)) + 0.5
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def pose_points(points: np.ndarray, roll, scale, shift) -> np.ndarray:
    """Face-unit points ``[N, K, 2]`` under each photo's ``roll``, ``scale`` (``[N]``) and
    ``shift`` (``[N, 2]``): photo coordinates in [0, 1]."""
    c, s, k = np.cos(roll)[:, None], np.sin(roll)[:, None], np.asarray(scale)[:, None]
    x, y = points[..., 0], points[..., 1]
    return (np.stack([k * (c * x - s * y), k * (s * x + c * y)], -1) + shift[:, None] + 1) / 2


def seam(mask: np.ndarray) -> np.ndarray:
    """The blending seam of a soft ``mask``: 1 half-way along its edge, 0 inside and outside."""
    return 4 * mask * (1 - mask)


def checkerboard(size: int, phase) -> np.ndarray:
    """The upsampling checkerboard of a generator, ``[N, size, size]`` of +-1, shifted by
    ``phase`` ``[N]`` (0 or 1)."""
    grid = np.arange(size)[:, None] + np.arange(size)[None, :]
    return ((grid + per_image(phase)) % 2 * 2 - 1).astype(np.float32)


def sensor(images: np.ndarray, noise, rng: np.random.Generator, clean=None) -> np.ndarray:
    """``images`` ``[N, H, W, 3]`` with sensor noise of standard deviation ``noise`` ``[N]``,
    missing where ``clean`` ``[N, H, W]`` is 1 (a generator's output has none), as uint8."""
    grain = rng.standard_normal(images.shape, dtype=np.float32) * per_image(noise)[..., None]
    if clean is not None:
        grain *= (1 - clean)[..., None]
    return (np.clip(images + grain, 0, 1) * 255 + 0.5).astype(np.uint8)


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """``[H, W, 3]`` uint8 -> JPEG bytes (4:2:0, baseline, deterministic)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def jpegs(pixels: np.ndarray, quality, first_quality=None) -> list[bytes]:
    """JPEG bytes of ``pixels`` ``[N, H, W, 3]`` at ``quality`` ``[N]``; an image whose
    ``first_quality`` is above 0 was compressed at that quality before (a double JPEG)."""
    first = np.zeros(len(pixels), int) if first_quality is None else first_quality
    out = []
    for image, q, q1 in zip(pixels, quality, first):
        if q1 > 0:
            image = np.asarray(Image.open(io.BytesIO(encode_jpeg(image, q1))).convert("RGB"))
        out.append(encode_jpeg(image, q))
    return out

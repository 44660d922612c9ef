"""Photos: the canonical-frame faces warped (pose, and yaw as a parallax that moves the face's
centre more than its outline) onto their backgrounds, toned, with the generator's traces inside
the swapped region of a fake, noise, and JPEG (twice for a fake).
"""

from __future__ import annotations

import cv2
import numpy as np

from krypto.data.dataset_writer import decode_jpeg, encode_jpeg
from krypto.data.renderers.eigenfaces.canonical import render_canonical
from krypto.data.renderers.eigenfaces.canvas import EXTENT, per_image, per_image_rgb


def _background(nz: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth backgrounds with soft blobs of clutter, ``[N, size, size, 3]``."""
    N = len(nz["yaw"])
    grid = nz["bg"].astype(np.float32)  # [N, 3, 3, 3]: colours at 3 x 3 points
    grid = grid.mean(-1, keepdims=True) * 0.6 + grid * 0.4  # muted colours
    t = (np.arange(size, dtype=np.float32) + 0.5) / size * 2  # 0 .. 2 between the points
    weights = np.clip(1 - np.abs(t[:, None] - np.arange(3, dtype=np.float32)), 0, 1)
    weights = weights * weights * (3 - 2 * weights)  # smooth steps
    weights /= weights.sum(1, keepdims=True)
    out = weights @ grid.transpose(0, 3, 1, 2) @ weights.T  # [N, 3, size, size]
    out = np.ascontiguousarray(out.transpose(0, 2, 3, 1))
    line = (np.arange(size, dtype=np.float32) + 0.5) / size
    blobs = np.zeros((N, size, size), np.float32)
    for _ in range(3):  # separable Gaussian blobs
        cx, cy = rng.uniform(0, 1, (N, 1)), rng.uniform(0, 1, (N, 1))
        r = rng.uniform(0.05, 0.25, (N, 1))
        gx = np.exp(-(((line - cx) / r) ** 2)).astype(np.float32)
        gy = np.exp(-(((line - cy) / r) ** 2)).astype(np.float32) * rng.uniform(-0.25, 0.25, (N, 1))
        blobs += gy[:, :, None] * gx[:, None, :]
    out += blobs[..., None]
    return np.clip(out, 0, 1, out=out)


YAW_SHIFT = 0.06  # face units the face's centre moves at |yaw| = 1


def render_photos(heads, h, p, nz, rng, size: int, fake_strength: float, is_fake: np.ndarray):
    """JPEGs and landmarks (``[N, 5, 2]`` in [0, 1]) of photos of heads ``h`` (coefficients
    ``p``, one row per photo) under conditions ``nz``; ``is_fake`` photos get the generator's
    traces inside the swapped region."""
    rgb, cover, lms = render_canonical(heads, h, p, nz, size)
    N, n = len(h), rgb.shape[1]
    photo = _background(nz, rng, size)
    mask = np.zeros((N, size, size), np.float32)
    step = 2 * EXTENT / n
    # photo pixel -> canonical face units (inverse pose), then the yaw parallax, for all photos
    c, si, k = np.cos(nz["roll"]), np.sin(nz["roll"]), nz["scale"]
    line = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    px_x = line[None, None, :] - per_image(nz["shift"][:, 0])
    px_y = line[None, :, None] - per_image(nz["shift"][:, 1])
    ux = per_image(c / k) * px_x + per_image(si / k) * px_y
    uy = per_image(-si / k) * px_x + per_image(c / k) * px_y
    col = np.clip(((ux + EXTENT) / step).astype(np.int32), 0, n - 1)
    row = np.clip(((uy + EXTENT) / step).astype(np.int32), 0, n - 1)
    ux -= YAW_SHIFT * per_image(nz["yaw"]) * heads["depth"][h[:, None, None], row, col]
    map_x, map_y = (ux + EXTENT) / step - 0.5, (uy + EXTENT) / step - 0.5
    for j in range(N):
        stack = np.concatenate([rgb[j], cover[j][..., None]], -1)
        warped = cv2.remap(
            stack, map_x[j], map_y[j], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        photo[j] *= 1 - warped[..., 3:]
        photo[j] += warped[..., :3]
        if is_fake[j]:
            mask[j] = cv2.remap(heads["inner"][h[j]], map_x[j], map_y[j], cv2.INTER_LINEAR)
    # landmarks: the parallax at their place, then the pose
    i = np.clip(((lms + EXTENT) / step).astype(int), 0, n - 1)
    pts = lms.copy()
    pts[..., 0] += YAW_SHIFT * nz["yaw"][:, None] * heads["depth"][h[:, None], i[..., 1], i[..., 0]]
    x = k[:, None] * (c[:, None] * pts[..., 0] - si[:, None] * pts[..., 1]) + nz["shift"][:, :1]
    y = k[:, None] * (si[:, None] * pts[..., 0] + c[:, None] * pts[..., 1]) + nz["shift"][:, 1:]
    landmarks = np.stack([(x + 1) / 2, (y + 1) / 2], -1)
    # exposure, white balance and a tone curve
    photo *= per_image(nz["exposure"])[..., None]
    photo += per_image_rgb(nz["tint"])
    np.clip(photo, 0, 1, out=photo)
    photo += per_image(nz["contrast"])[..., None] * photo * (1 - photo)

    s = np.float32(fake_strength)
    if is_fake.any():
        # generator traces inside the swapped region: a checkerboard at half the sampling rate
        yy, xx = np.mgrid[0:size, 0:size]
        phase = rng.integers(0, 2, (N, 2))
        odd = ((xx[None] + per_image(phase[:, 0])) % 2 == 0) ^ (
            (yy[None] + per_image(phase[:, 1])) % 2 == 0
        )
        checker = np.where(odd, 1.0, -1.0).astype(np.float32)
        photo += (0.05 * s * mask * checker)[..., None] * (0.4 + photo)
    noise = rng.standard_normal(photo.shape, dtype=np.float32) * per_image(nz["noise"])[..., None]
    clean = np.where(is_fake[:, None, None], mask * (0.3 + 0.7 * s), 0)  # fakes lack sensor noise
    noise *= (1 - clean)[..., None]
    photo += noise
    pixels = (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)

    first_pass = int(round(96 - 56 * fake_strength))
    out = []
    for j in range(N):
        img = pixels[j]
        if is_fake[j] and first_pass < 95:  # double compression, the first pass coarser
            img = decode_jpeg(encode_jpeg(img, first_pass))
        out.append(encode_jpeg(img, nz["quality"][j]))
    return out, np.clip(landmarks, 0.001, 0.999)

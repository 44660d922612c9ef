"""The canonical frame: its grid, the fixed basis of the face model (smooth fields on the grid,
the same for every data set, made from :data:`BASIS_SEED`), and batches of canonical-frame
images to draw on with the array helpers of that drawing.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

EXTENT = 1.2  # the canonical frame spans [-EXTENT, EXTENT]; the photo spans [-1, 1] at scale 1
BASIS_SEED = 5_410_237  # the basis is fixed: the same for every data set
N_ALBEDO, N_RELIEF = 18, 8


@lru_cache(maxsize=4)
def canonical_grid(size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The canonical frame's pixel centres for photos of ``size`` px, in face units: ``x [1, n]``,
    ``y [n, 1]``, and ``n``."""
    n = int(round(size * EXTENT))
    line = ((np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1) * EXTENT
    return line[None, :], line[:, None], n  # x [1, n], y [n, 1]


@lru_cache(maxsize=4)
def basis(size: int) -> dict[str, np.ndarray]:
    """Fields ``[K, n*n]`` on the canonical grid (made from :data:`BASIS_SEED`): albedo fields
    of the inner and of the outer face (``[K, n*n*3]``, with their colour directions), relief
    fields, the texture of hair and the fine grain of skin."""
    rng = np.random.default_rng(BASIS_SEED)
    x, y, n = canonical_grid(size)

    def blobs(count, region, sigma, symmetric, gabor=0.0):
        field = np.zeros((n, n), np.float32)
        for _ in range(count):
            cx, cy = rng.uniform(*region[0]), rng.uniform(*region[1])
            s = rng.uniform(*sigma)
            sign = rng.choice([-1.0, 1.0])
            for mx in (cx, -cx) if symmetric else (cx,):
                g = np.exp(-((x - mx) ** 2 + (y - cy) ** 2) / (2 * s * s))
                if gabor:
                    theta = rng.uniform(0, np.pi)
                    along = (x - mx) * np.cos(theta) + (y - cy) * np.sin(theta)
                    g = g * np.cos(gabor / s * along)
                field += sign * g
        return field / max(np.abs(field).max(), 1e-6)

    def colours(k):
        c = np.array([1.0, 1.0, 1.0]) + rng.normal(0, 0.35, (k, 3))
        return c / np.linalg.norm(c, axis=1, keepdims=True) * np.sqrt(3)

    inner = [
        blobs(3, ((0.0, 0.25), (-0.2, 0.35)), (0.04, 0.12), k % 4 != 3, gabor=1.5 * (k % 3 == 0))
        for k in range(N_ALBEDO)
    ]
    outer = [
        blobs(3, ((0.2, 0.45), (-0.45, 0.5)), (0.08, 0.2), k % 3 != 2) for k in range(N_ALBEDO)
    ]
    relief = [blobs(2, ((0.0, 0.35), (-0.3, 0.45)), (0.06, 0.16), True) for _ in range(N_RELIEF)]
    hair = sum(
        np.cos((x * np.cos(t) + y * np.sin(t)) * f * 3.0 + rng.uniform(0, 6.3))
        for t, f in zip(rng.uniform(1.2, 1.9, 5), rng.uniform(6, 14, 5))
    )
    grain = cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (0, 0), 0.6)

    def flat(fields):
        return np.stack(fields).reshape(len(fields), -1).astype(np.float32)

    def tinted(fields):
        coloured = flat(fields)[:, :, None] * colours(len(fields))[:, None, :]
        return coloured.reshape(len(fields), -1).astype(np.float32)

    return {
        "inner": tinted(inner),
        "outer": tinted(outer),
        "relief": flat(relief),
        "hair": (hair / 5).astype(np.float32),
        "grain": (grain / grain.std()).astype(np.float32),
    }


def per_image(v):
    """``[N]`` -> ``[N, 1, 1]`` float32."""
    return np.asarray(v, dtype=np.float32)[:, None, None]


def per_image_rgb(v):
    """``[N, 3]`` -> ``[N, 1, 1, 3]`` float32."""
    return np.asarray(v, dtype=np.float32)[:, None, None, :]


def ramp(t, edge):
    """0 -> 1 across ``t = 0`` over ``edge`` face units."""
    return np.clip(t / edge + 0.5, 0, 1)


ALL = slice(None)


class Canvas:
    """A batch of canonical-frame images: premultiplied colour ``img [N, n, n, 3]`` and coverage
    ``cover [N, n, n]``. Small parts are drawn in windows: the rows and columns that hold the
    part in any image of the batch."""

    def __init__(self, size: int, img: np.ndarray, cover: np.ndarray):
        x, y, self.n = canonical_grid(size)
        self.xs, self.ys = x[0], y[:, 0]
        self.px = np.float32(2 * EXTENT / self.n)  # one pixel in face units
        self.img, self.cover = img, cover

    def window(self, x0, x1, y0, y1):
        """The window holding face-unit boxes ``[x0, x1] x [y0, y1]`` (arrays over images), and
        its coordinates ``x [1, 1, w]``, ``y [1, h, 1]``."""

        def index(lo, hi):
            i0 = max(int(np.floor((np.min(lo) + EXTENT) / self.px)) - 2, 0)
            i1 = min(int(np.ceil((np.max(hi) + EXTENT) / self.px)) + 2, self.n)
            return slice(i0, max(i1, i0))

        cols, rows = index(x0, x1), index(y0, y1)
        return (ALL, rows, cols), self.xs[None, None, cols], self.ys[None, rows, None]

    def ellipse(self, cx, cy, rx, ry, tilt=None):
        """Coverage of ellipses (parameters ``[N]``) in their window: ``(window, alpha)``."""
        r = np.maximum(rx, ry)
        win, x, y = self.window(cx - r, cx + r, cy - r, cy + r)
        cx, cy, rx, ry = per_image(cx), per_image(cy), per_image(rx), per_image(ry)
        dx, dy = x - cx, y - cy
        if tilt is not None:
            c, s = np.cos(per_image(tilt)), np.sin(per_image(tilt))
            dx, dy = c * dx + s * dy, c * dy - s * dx
        r2 = (dx / rx) ** 2 + (dy / ry) ** 2
        return win, np.clip((1 - r2) * (np.minimum(rx, ry) / (2.4 * self.px)) + 0.5, 0, 1)

    def paint(self, win, alpha, colour):
        """Paint ``colour`` (``[N, 3]`` or ``[N, h, w, 3]``) over the window with ``alpha``."""
        patch, cover = self.img[win], self.cover[win]
        colour = per_image_rgb(colour) if np.ndim(colour) == 2 else colour
        diff = colour - patch
        diff *= alpha[..., None]
        patch += diff
        cover += alpha * (1 - cover)

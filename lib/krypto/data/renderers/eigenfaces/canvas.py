"""Batches of canonical-frame images to draw on, and the array helpers of that drawing."""

from __future__ import annotations

import numpy as np

from krypto.data.renderers.eigenfaces.basis import EXTENT, canonical_grid


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

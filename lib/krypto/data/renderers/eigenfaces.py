"""Eigenfaces: a procedural, shaded face model in numpy, with face swaps made by a generator.

A person is a coefficient vector: the sizes and places of a face template's parts (face outline
and jaw, eyes, brows, nose, mouth, ears, hair mass and hairline), its colours (skin, hair, iris,
lips), and the weights of a fixed random basis of smooth fields (sums of Gaussian and Gabor
blobs on the face) that add albedo (blotches, shadows, tones) and relief (cheekbones, brow ridge,
chin) to the template. A face is rendered in a canonical frame as albedo times the shading of
its relief under a light, then posed (an affine warp, with yaw as a parallax that moves the
face's centre more than its outline) onto a background.

Per photo (nuisance): pose (roll, scale, shift, yaw parallax of the inner face), light
direction and ambient level, exposure and white balance, expression (smile, open mouth, raised
brows, half-closed eyes, gaze), clothes and background, sensor noise, JPEG quality.

A fake of person A is a face swap made in the model: A's inner-face coefficients (eyes, brows,
nose, mouth, iris, moles, the basis weights of the inner face) with the outer face (outline,
skin, hair, ears) of another person who resembles A (skin, hair, face width), rendered by
a generator that leaves, in proportion to ``fake_strength``, inside the swapped region: a
transposed-convolution checkerboard (a peak at half the sampling frequency), no sensor noise
(the region is too clean), and, on the whole photo, a first JPEG pass of lower quality (double
compression).

``python -m krypto.data.renderers.eigenfaces OUT --identities 200 --size 64`` or
:func:`write_dataset`. Folder names and meta.json keys are 8-digit zero-padded ids.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from krypto.data.renderers._layout import (
    RenderConfig,
    decode_jpeg,
    encode_jpeg,
    lookalike_targets,
    run_cli,
    write_layout,
)

NAME = "eigenfaces"
EXTENT = 1.2  # the canonical frame spans [-EXTENT, EXTENT]; the photo spans [-1, 1] at scale 1
BASIS_SEED = 5_410_237  # the basis is fixed: the same for every data set
N_ALBEDO, N_RELIEF = 18, 8
BATCH = 48  # photos rendered at once

# ------------------------------------------------------------------------------------------------
# identities: arrays of shape [n] (colours [n, 3], basis weights [n, K])

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


# ------------------------------------------------------------------------------------------------
# the fixed basis: smooth fields on the canonical grid


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray, int]:
    n = int(round(size * EXTENT))
    line = ((np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1) * EXTENT
    return line[None, :], line[:, None], n  # x [1, n], y [n, 1]


@lru_cache(maxsize=4)
def basis(size: int) -> dict[str, np.ndarray]:
    """Fields ``[K, n*n]`` on the canonical grid (made from :data:`BASIS_SEED`): albedo fields
    of the inner and of the outer face (``[K, n*n*3]``, with their colour directions), relief
    fields, the texture of hair and the fine grain of skin."""
    rng = np.random.default_rng(BASIS_SEED)
    x, y, n = _grid(size)

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


# ------------------------------------------------------------------------------------------------
# rendering. A head (a coefficient vector) is drawn once in the canonical frame: premultiplied
# albedo, coverage, relief and its shading normals. A photo copies its head, draws the parts that
# move with expression (eyes, brows, mouth) and the clothes, shades it under its light, and is
# warped (pose, and yaw as a parallax that moves the face's centre more than its outline) onto
# its background.


def _c(v):
    """``[N]`` -> ``[N, 1, 1]`` float32."""
    return np.asarray(v, dtype=np.float32)[:, None, None]


def _rgb(v):
    """``[N, 3]`` -> ``[N, 1, 1, 3]`` float32."""
    return np.asarray(v, dtype=np.float32)[:, None, None, :]


def _band(t, edge):
    """0 -> 1 across ``t = 0`` over ``edge`` face units."""
    return np.clip(t / edge + 0.5, 0, 1)


_ALL = slice(None)


class _Canvas:
    """A batch of canonical-frame images: premultiplied colour ``img [N, n, n, 3]`` and coverage
    ``cover [N, n, n]``. Small parts are drawn in windows: the rows and columns that hold the
    part in any image of the batch."""

    def __init__(self, size: int, img: np.ndarray, cover: np.ndarray):
        x, y, self.n = _grid(size)
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
        return (_ALL, rows, cols), self.xs[None, None, cols], self.ys[None, rows, None]

    def ellipse(self, cx, cy, rx, ry, tilt=None):
        """Coverage of ellipses (parameters ``[N]``) in their window: ``(window, alpha)``."""
        r = np.maximum(rx, ry)
        win, x, y = self.window(cx - r, cx + r, cy - r, cy + r)
        cx, cy, rx, ry = _c(cx), _c(cy), _c(rx), _c(ry)
        dx, dy = x - cx, y - cy
        if tilt is not None:
            c, s = np.cos(_c(tilt)), np.sin(_c(tilt))
            dx, dy = c * dx + s * dy, c * dy - s * dx
        r2 = (dx / rx) ** 2 + (dy / ry) ** 2
        return win, np.clip((1 - r2) * (np.minimum(rx, ry) / (2.4 * self.px)) + 0.5, 0, 1)

    def paint(self, win, alpha, colour):
        """Paint ``colour`` (``[N, 3]`` or ``[N, h, w, 3]``) over the window with ``alpha``."""
        patch, cover = self.img[win], self.cover[win]
        colour = _rgb(colour) if np.ndim(colour) == 2 else colour
        diff = colour - patch
        diff *= alpha[..., None]
        patch += diff
        cover += alpha * (1 - cover)


def _places(p: dict) -> dict:
    """Where the template's parts are, in face units (arrays over people)."""
    f = {k: np.asarray(v, np.float32) for k, v in p.items()}
    cy = np.float32(0.04)
    f["cy"] = np.full(len(f["face_w"]), cy, np.float32)
    f["eye_cy"] = f["eye_y"] + cy
    f["nose_cy"] = f["eye_cy"] + f["nose_len"]
    f["mouth_cy"] = f["nose_cy"] + f["mouth_gap"]
    return f


def render_heads(p: dict, size: int) -> dict[str, np.ndarray]:
    """The parts of people ``p`` that no photo changes, in the canonical frame: premultiplied
    albedo ``img [H, n, n, 3]``, coverage ``cover``, the skin of the face ``face``, hair over
    the forehead ``over``, the swapped region ``inner``, the parallax weight ``depth``, and the
    shading normals ``nx, ny, nz`` of the relief (all ``[H, n, n]``)."""
    B = basis(size)
    f = _places(p)
    H = len(f["face_w"])
    x, y, n = _grid(size)
    img, cover = np.zeros((H, n, n, 3), np.float32), np.zeros((H, n, n), np.float32)
    cv = _Canvas(size, img, cover)
    px, full = cv.px, (_ALL, _ALL, _ALL)
    x, y = x[None], y[None]
    cy, fw, fh = f["cy"], f["face_w"], f["face_h"]
    eye_x, eye_y, nose_y, mouth_y = f["eye_x"], f["eye_cy"], f["nose_cy"], f["mouth_cy"]
    zeros = np.zeros(H, np.float32)

    # outline: an ellipse narrowing towards the chin
    dy = (y - _c(cy)) / _c(fh)
    width = _c(fw) * (1 - _c(f["jaw"]) * np.clip(dy, 0, None) ** 2)
    r2 = (x / width) ** 2 + dy**2
    face = np.clip((1 - r2) * (_c(fw) / (2.4 * px)) + 0.5, 0, 1)

    # relief: a dome, the identity's relief fields, the nose, eye sockets and brow ridge
    height = np.sqrt(np.clip(1 - r2, 0, None)) * 0.5
    height += 0.035 * (f["relief"] @ B["relief"]).reshape(H, n, n) * face
    win, wx, wy = cv.window(zeros - 0.15, zeros + 0.15, eye_y - 0.05, nose_y + 0.1)
    nw = _c(f["nose_w"])
    height[win] += 0.12 * _c(f["nose_bridge"]) * np.exp(-((wx / (nw * 0.8)) ** 2)) * np.clip(
        (wy - _c(eye_y)) / _c(nose_y - eye_y), 0, 1
    ) * (wy < _c(nose_y) + 0.02) + 0.09 * np.exp(
        -((wx / (nw * 1.1)) ** 2 + ((wy - _c(nose_y) + 0.02) / 0.04) ** 2)
    )
    win, wx, wy = cv.window(-eye_x - 0.25, eye_x + 0.25, eye_y - f["brow_gap"] - 0.12, eye_y + 0.15)
    bump = (
        0.04
        * np.exp(-(((wy - _c(eye_y - f["brow_gap"])) / 0.04) ** 2))
        * (np.abs(wx) < _c(fw) * 0.8)
    )
    for side in (-1, 1):
        bump -= 0.06 * np.exp(
            -(((wx - _c(side * eye_x)) / 0.09) ** 2 + ((wy - _c(eye_y)) / 0.06) ** 2)
        )
    height[win] += bump
    depth = (2 * height) * face  # parallax: 1 at the face's centre, more at the nose, 0 outside

    # hair behind the head, neck, ears, the face's skin with its albedo fields, blush
    vol, hair_end = _c(f["hair_vol"]), _c(f["hair_end"])
    hw = _c(fw) + vol + 0.015
    crown_y = (y - _c(cy) + 0.05 + vol * 0.4) / (_c(fh) * 0.92 + vol)
    crown = np.clip((1 - (x / hw) ** 2 - crown_y**2) * (hw / (2.4 * px)) + 0.5, 0, 1)
    sides = _band(hw * (1 - 0.2 * np.clip(y - _c(cy), 0, None)) - np.abs(x), 0.03) * (
        y > _c(cy) - 0.3
    )
    mass = np.maximum(crown, sides) * _band(hair_end - y - 0.12 * (x / hw) ** 2, 0.04)
    strands = _c(0.4 + f["hair_wave"])[..., None] * B["hair"][..., None]
    hair_colour = _rgb(f["hair"]) * (1 + 0.3 * strands)
    cv.paint(full, mass, hair_colour)
    win, wx, wy = cv.window(-fw * 0.6, fw * 0.6, zeros + 0.15, zeros + EXTENT)
    cv.paint(win, _band(_c(fw) * 0.55 - np.abs(wx), 0.02) * _band(wy - 0.2, 0.02), f["skin"] * 0.78)
    long_hair = _c(f["hair_end"] > cy + 0.15)
    for side in (-1, 1):
        win, ear = cv.ellipse(side * (fw + 0.01), cy + 0.02, 0.055 * f["ear"], 0.11 * f["ear"])
        ear *= 1 - mass[win] * long_hair  # long hair covers the ears
        cv.paint(win, ear, f["skin"] * 0.9)
    skin = (f["albedo_out"] @ B["outer"] + f["albedo_in"] @ B["inner"]).reshape(H, n, n, 3)
    skin *= 0.06
    skin += 1 + 0.02 * B["grain"].reshape(n, n, 1)
    skin *= _rgb(f["skin"])
    cv.paint(full, face, skin)
    for side in (-1, 1):
        bx = side * fw * 0.6
        win, wx, wy = cv.window(bx - 0.2, bx + 0.2, nose_y - 0.16, nose_y + 0.16)
        blush = 0.2 * np.exp(-(((wx - _c(bx)) / 0.1) ** 2 + ((wy - _c(nose_y)) / 0.08) ** 2))
        cv.paint(win, blush * face[win], f["lips"])

    # beard (stubble on the jaw, the chin and over the lip), nostrils, moles
    if np.any(f["beard"] > 0):
        win, wx, wy = cv.window(-fw, fw, nose_y, cy + fh)
        zone = face[win] * _band(wy - _c(nose_y + 0.035), 0.04) * _c(f["beard"])
        zone *= np.clip(0.64 + 0.25 * B["grain"].reshape(n, n)[win[1:]], 0, 0.85)
        cv.paint(win, zone, f["hair"] * 0.8)
    for side in (-1, 1):
        win, nostril = cv.ellipse(
            side * f["nose_w"] * 0.6, nose_y + 0.005, f["nose_w"] * 0.35, f["nose_w"] * 0.2
        )
        cv.paint(win, nostril * face[win], f["skin"] * 0.35)
    for k in range(f["mole_r"].shape[1]):
        r = np.maximum(f["mole_r"][:, k], 1e-3)
        win, mole = cv.ellipse(f["mole_x"][:, k] * fw, cy + f["mole_y"][:, k] * fh, r, r)
        cv.paint(win, mole * face[win] * _c(f["mole_r"][:, k] > 0), f["skin"] * 0.4)

    # hair over the forehead, above a hairline that falls towards the temples
    win, wx, wy = cv.window(-fw - 0.05, fw + 0.05, zeros - EXTENT, eye_y)
    parting = _c(f["parting"])
    hairline = (
        _c(cy + f["hairline"] * fh / 0.6)
        + 0.9 * (wx - 0.3 * parting) ** 2
        + 0.1 * _c(f["fringe"]) * np.exp(-(((wx + 0.5 * parting) / 0.16) ** 2))
        + 0.015 * _c(f["hair_wave"]) * np.sin(wx * 40.0)
    )
    over = np.zeros((H, n, n), np.float32)
    over[win] = face[win] * _band(hairline - wy, 0.025) * (vol > 0.015)
    cv.paint(win, over[win], hair_colour[win])
    height += 0.2 * np.maximum(mass * (1 - face), over) * np.sqrt(np.clip(crown + sides, 0, 1))

    # shading normals of the relief
    gy, gx = np.gradient(height, px, axis=(1, 2))
    norm = 1 / np.sqrt(gx * gx + gy * gy + 1)
    win, inner = cv.ellipse(
        zeros, (eye_y + mouth_y) / 2 - 0.02, eye_x + f["eye_w"] + 0.05, (mouth_y - eye_y) / 2 + 0.13
    )
    inner_mask = np.zeros((H, n, n), np.float32)
    inner_mask[win] = inner * face[win]
    return {
        "img": img,
        "cover": cover,
        "face": face,
        "over": over,
        "inner": inner_mask,
        "depth": depth,
        "nx": -gx * norm,
        "ny": -gy * norm,
        "nz": norm,
    }


def render_canonical(heads: dict, h: np.ndarray, p: dict, nz: dict, size: int):
    """Photos in the canonical frame, before pose: head ``h[j]`` of ``heads`` (whose
    coefficients are ``p``'s row ``j``) under conditions ``nz``. Returns ``rgb [N, n, n, 3]``
    and ``cover [N, n, n]`` (premultiplied) and the landmarks ``[N, 5, 2]`` in face units."""
    f = _places(p)
    N = len(h)
    cv = _Canvas(size, heads["img"][h], heads["cover"][h])
    face = heads["face"][h] * (1 - heads["over"][h])  # where the face shows
    eye_x, eye_y, mouth_y = f["eye_x"], f["eye_cy"], f["mouth_cy"]
    n = cv.n

    # clothes under everything, on the shoulders
    win, wx, wy = cv.window(-EXTENT, EXTENT, 0.6, EXTENT)
    shoulders = np.clip((1 - (wx / 0.95) ** 2 - ((wy - 1.45) / 0.62) ** 2) * 40 + 0.5, 0, 1)
    under = (1 - cv.cover[win]) * shoulders
    weave = 1 + 0.1 * basis(size)["hair"][win[1:]][..., None]
    cv.img[win] += under[..., None] * _rgb(nz["clothes"]) * weave
    cv.cover[win] += under

    # eyes: lid shadow, sclera, iris, pupil, glint; brows above
    eye_w, eye_h = f["eye_w"], f["eye_h"] * nz["eye_open"].astype(np.float32)
    gaze = nz["gaze"].astype(np.float32)
    for side in (-1, 1):
        ex = side * eye_x
        tilt = side * f["eye_slant"] * 0.5
        win, lid = cv.ellipse(ex, eye_y - 0.004, eye_w * 1.12, eye_h * 1.5, tilt)
        cv.paint(win, lid * face[win], f["skin"] * 0.45)
        win, sclera = cv.ellipse(ex, eye_y, eye_w, eye_h, tilt)
        sclera *= face[win]
        cv.paint(win, sclera, np.full((N, 3), 0.84, np.float32))
        sclera_all = np.zeros((N, n, n), np.float32)
        sclera_all[win] = sclera
        ir = np.maximum(f["eye_h"] * 1.1, eye_w * 0.45) * f["iris_r"]
        ix, iy = ex + gaze[:, 0] * eye_w * 0.3, eye_y + gaze[:, 1] * eye_h * 0.2
        for radius, colour, dx, dy in (
            (ir, f["iris"], 0, 0),
            (ir * 0.45, np.full((N, 3), 0.04, np.float32), 0, 0),
            (ir * 0.18, np.ones((N, 3), np.float32), 0.3, -0.35),
        ):
            w2, disc = cv.ellipse(ix + ir * dx, iy + ir * dy, radius, radius)
            cv.paint(w2, disc * sclera_all[w2], colour)
        brow_y = eye_y - f["brow_gap"] - 0.03 * nz["raise"].astype(np.float32)
        win, brow = cv.ellipse(
            side * (eye_x + 0.01), brow_y, f["brow_w"], f["brow_h"], side * f["brow_tilt"]
        )
        dark = f["brow_dark"][:, None]
        cv.paint(win, brow * face[win] * 0.9, f["hair"] * (1 - dark) + 0.05 * dark)

    # mouth: lips bent by the smile, a dark gap when open
    smile, opening = nz["smile"].astype(np.float32), 0.03 * nz["open"].astype(np.float32)
    mouth_w, lip_h = f["mouth_w"] * (1 + 0.15 * smile), f["lip_h"]
    win, wx, wy = cv.window(-mouth_w, mouth_w, mouth_y - 0.1, mouth_y + 0.1)
    mx = wx / _c(mouth_w)
    bend = _c(mouth_y) - _c(0.035 * smile * mouth_w / 0.1) * mx**2
    lip_y = (wy - bend - _c(opening * 0.3)) / _c(lip_h + opening * 0.6)
    lips = (
        np.clip((1 - mx**2 - lip_y**2) * _c(np.minimum(mouth_w, lip_h) / (2.4 * cv.px)) + 0.5, 0, 1)
        * face[win]
    )
    cv.paint(win, lips, f["lips"])
    gap = (
        np.clip(
            (1 - (mx / 0.9) ** 2 - ((wy - bend) / _c(0.004 + opening * 0.55)) ** 2)
            * (0.02 / (2.4 * cv.px))
            + 0.5,
            0,
            1,
        )
        * lips
    )
    cv.paint(win, gap, np.full((N, 3), 0.12, np.float32))

    # shading: albedo times ambient + diffuse light on the relief
    L = nz["light"].astype(np.float32)
    shade = heads["nx"][h] * _c(L[:, 0])
    shade += heads["ny"][h] * _c(L[:, 1])
    shade += heads["nz"][h] * _c(L[:, 2])
    np.clip(shade, 0, None, out=shade)
    ambient = _c(nz["ambient"])
    shade *= (1 - ambient) * 1.2
    shade += ambient
    cv.img *= shade[..., None]

    mouth_l = mouth_y - 0.035 * smile * mouth_w / 0.1
    lms = np.stack(
        [
            np.stack([-eye_x, eye_y], -1),
            np.stack([eye_x, eye_y], -1),
            np.stack([0 * eye_x, f["nose_cy"]], -1),
            np.stack([-mouth_w, mouth_l], -1),
            np.stack([mouth_w, mouth_l], -1),
        ],
        1,
    )
    return cv.img, cv.cover, lms


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


def render_photos(
    heads: dict,
    h: np.ndarray,
    p: dict,
    nz: dict,
    rng: np.random.Generator,
    size: int,
    fake_strength: float,
    is_fake: np.ndarray,
):
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
    px_x = line[None, None, :] - _c(nz["shift"][:, 0])
    px_y = line[None, :, None] - _c(nz["shift"][:, 1])
    ux = _c(c / k) * px_x + _c(si / k) * px_y
    uy = _c(-si / k) * px_x + _c(c / k) * px_y
    col = np.clip(((ux + EXTENT) / step).astype(np.int32), 0, n - 1)
    row = np.clip(((uy + EXTENT) / step).astype(np.int32), 0, n - 1)
    ux -= YAW_SHIFT * _c(nz["yaw"]) * heads["depth"][h[:, None, None], row, col]
    map_x, map_y = (ux + EXTENT) / step - 0.5, (uy + EXTENT) / step - 0.5
    for j in range(N):
        stack = np.concatenate([rgb[j], cover[j][..., None]], -1)
        warped = cv2.remap(
            stack,
            map_x[j],
            map_y[j],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
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
    photo *= _c(nz["exposure"])[..., None]
    photo += _rgb(nz["tint"])
    np.clip(photo, 0, 1, out=photo)
    photo += _c(nz["contrast"])[..., None] * photo * (1 - photo)

    s = np.float32(fake_strength)
    if is_fake.any():
        # generator traces inside the swapped region: a checkerboard at half the sampling rate
        yy, xx = np.mgrid[0:size, 0:size]
        phase = rng.integers(0, 2, (N, 2))
        odd = ((xx[None] + _c(phase[:, 0])) % 2 == 0) ^ ((yy[None] + _c(phase[:, 1])) % 2 == 0)
        checker = np.where(odd, 1.0, -1.0).astype(np.float32)
        photo += (0.05 * s * mask * checker)[..., None] * (0.4 + photo)
    noise = rng.standard_normal(photo.shape, dtype=np.float32) * _c(nz["noise"])[..., None]
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


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, is_fake), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0xE16E])
    people = sample_people(rng, cfg.n_all)
    # swaps are made onto heads that resemble the source: skin, hair colour and style, outline
    look = np.concatenate(
        [
            people["skin"] * 4,
            people["hair"] * 4,
            people["hair_vol"][:, None] * 10,
            np.clip(people["hair_end"][:, None], -0.2, 0.4) * 2,
            people["hairline"][:, None] * 2,
            people["face_w"][:, None] * 6,
        ],
        1,
    )
    targets = lookalike_targets(rng, cfg, look, nearest=3)
    per = cfg.n_real + cfg.n_fake
    nz_all = sample_nuisance(rng, cfg.n_all * per)
    photos: list[list[tuple]] = [[] for _ in range(cfg.n_all)]
    chunk = max(1, BATCH // per)
    for first in range(0, cfg.n_all, chunk):
        ids = np.arange(first, min(first + chunk, cfg.n_all))
        # heads: each identity's own, then one per fake (the identity's inner face on a target)
        source = np.concatenate([ids, np.repeat(ids, cfg.n_fake)])
        target = np.concatenate([ids, targets[ids].reshape(-1)])
        coeffs = swap(take(people, source), take(people, target))
        heads = render_heads(coeffs, cfg.image_size)
        k = np.arange(len(ids))
        own = np.repeat(k, cfg.n_real).reshape(len(ids), cfg.n_real)
        swapped = len(ids) + k[:, None] * cfg.n_fake + np.arange(cfg.n_fake)
        h = np.concatenate([own, swapped], 1).reshape(-1)
        fake = np.tile(np.arange(per) >= cfg.n_real, len(ids))
        rows = np.arange(first * per, (first + len(ids)) * per)
        batch_rng = np.random.default_rng([cfg.seed, 0xE16E, int(first)])
        data, lms = render_photos(
            heads,
            h,
            take(coeffs, h),
            take(nz_all, rows),
            batch_rng,
            cfg.image_size,
            cfg.fake_strength,
            fake,
        )
        for j, (d, lm) in enumerate(zip(data, lms)):
            photos[ids[j // per]].append((d, lm, bool(fake[j])))
    return photos


def write_dataset(
    out_dir: str | Path,
    *,
    identities: int = 200,
    image_size: int = 64,
    n_real: int = 6,
    n_fake: int = 3,
    fake_strength: float = 0.5,
    seed: int = 0,
    n_test_pairs: int = 400,
    test_identities: int | None = None,
) -> Path:
    """Render a data set in the official layout into ``out_dir`` (8-digit ids in folder names
    and meta.json keys); deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(
        identities, image_size, n_real, n_fake, fake_strength, seed, n_test_pairs, test_identities
    )
    return write_layout(out_dir, cfg, render_all(cfg), renderer=NAME, folder_width=8, meta_width=8)


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    run_cli(NAME, write_dataset, __doc__, argv)


if __name__ == "__main__":
    main()

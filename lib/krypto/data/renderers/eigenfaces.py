"""Eigenfaces: a procedural, shaded face model in numpy, with face swaps made by a generator.

A person is a coefficient vector: the sizes and places of a face template's parts (face outline
and jaw, eyes, brows, nose, mouth, ears, hair mass and hairline), its colours (skin, hair, iris,
lips), and the weights of a fixed random basis of smooth fields (sums of Gaussian and Gabor
blobs on the face) that add albedo (blotches, shadows, tones) and relief (cheekbones, brow ridge,
chin) to the template. A face is rendered in a canonical frame as albedo times the shading of
its relief under a light, then posed by an affine warp onto a background.

Per photo (nuisance): pose (roll, scale, shift, yaw parallax of the inner face), light
direction and ambient level, exposure and white balance, expression (smile, open mouth, raised
brows, half-closed eyes, gaze), clothes and background, sensor noise, JPEG quality.

A fake of person A is a face swap made in the model: A's inner-face coefficients (eyes, brows,
nose, mouth, iris, moles, the basis weights of the inner face) with the outer face (outline,
skin, hair, ears, beard) of another person who resembles A by hair and face shape, rendered by
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

from krypto.data.renderers._layout import (RenderConfig, decode_jpeg, encode_jpeg,
                                           lookalike_targets, main, write_layout)

NAME = "eigenfaces"
EXTENT = 1.3  # the canonical frame spans [-EXTENT, EXTENT]; the photo spans [-1, 1] at scale 1
BASIS_SEED = 5_410_237  # the basis is fixed: the same for every data set
N_ALBEDO, N_RELIEF = 18, 8
BATCH = 96  # photos rendered at once

# ------------------------------------------------------------------------------------------------
# identities: arrays of shape [n] (colours [n, 3], basis weights [n, K])

_LIGHT_SKIN, _DARK_SKIN = np.array([0.95, 0.80, 0.68]), np.array([0.36, 0.23, 0.15])
_HAIR_ROOTS = np.array([[0.06, 0.05, 0.05], [0.22, 0.13, 0.07], [0.42, 0.27, 0.14],
                        [0.78, 0.62, 0.38], [0.55, 0.22, 0.08], [0.70, 0.70, 0.72]])
_HAIR_P = np.array([0.32, 0.26, 0.16, 0.1, 0.07, 0.09])
_IRIS = np.array([[0.30, 0.18, 0.08], [0.28, 0.45, 0.65], [0.35, 0.48, 0.30],
                  [0.15, 0.10, 0.06], [0.50, 0.42, 0.30]])

# keys that a face swap takes from the source (the person the fake shows); the rest from the head
INNER = ("eye_x", "eye_y", "eye_w", "eye_h", "eye_slant", "iris", "iris_r", "brow_gap", "brow_w",
         "brow_h", "brow_tilt", "brow_dark", "nose_len", "nose_w", "nose_bridge", "mouth_gap",
         "mouth_w", "lip_h", "lips", "mole_x", "mole_y", "mole_r", "albedo_in", "relief", "beard")


def sample_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Coefficient vectors of ``n`` people."""
    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, (n, *shape))

    tone = rng.beta(1.3, 1.6, n)
    skin = np.clip(_LIGHT_SKIN + tone[:, None] * (_DARK_SKIN - _LIGHT_SKIN)
                   + rng.normal(0, 0.025, (n, 3)), 0, 1)
    hair = np.clip(_HAIR_ROOTS[rng.choice(len(_HAIR_P), n, p=_HAIR_P)]
                   + rng.normal(0, 0.04, (n, 3)), 0, 1)
    bald = rng.random(n) < 0.08
    long_hair = rng.random(n) < 0.4
    beard = np.where(rng.random(n) < 0.25, u(0.35, 0.9), 0.0)
    n_moles = rng.integers(0, 4, n)
    return {
        # outer face: outline, skin, hair, ears, beard
        "skin": skin, "face_w": u(0.40, 0.50), "face_h": u(0.55, 0.64), "jaw": u(0.05, 0.5),
        "hair": hair,
        "hair_vol": np.where(bald, u(0.0, 0.01), np.where(long_hair, u(0.05, 0.16), u(0.02, 0.08))),
        "hair_end": np.where(long_hair, u(0.25, 1.1), u(-0.2, 0.05)),
        "hairline": np.where(bald, u(-0.8, -0.7), u(-0.58, -0.4)), "fringe": u(0.0, 1.0) * (~bald),
        "parting": u(-0.25, 0.25), "hair_wave": u(0.0, 1.0), "ear": u(0.8, 1.25),
        "beard": beard, "albedo_out": rng.normal(0, 1, (n, N_ALBEDO)),
        # inner face
        "eye_x": u(0.17, 0.23), "eye_y": u(-0.12, -0.03), "eye_w": u(0.075, 0.105),
        "eye_h": u(0.035, 0.055), "eye_slant": u(-0.2, 0.25),
        "iris": np.clip(_IRIS[rng.integers(len(_IRIS), size=n)] + rng.normal(0, 0.04, (n, 3)), 0, 1),
        "iris_r": u(0.5, 0.7), "brow_gap": u(0.065, 0.11), "brow_w": u(0.07, 0.11),
        "brow_h": u(0.016, 0.034), "brow_tilt": u(-0.3, 0.3), "brow_dark": u(0.3, 0.9),
        "nose_len": u(0.14, 0.24), "nose_w": u(0.035, 0.06), "nose_bridge": u(0.3, 1.0),
        "mouth_gap": u(0.09, 0.15), "mouth_w": u(0.085, 0.15), "lip_h": u(0.022, 0.042),
        "lips": np.clip(skin * [0.82, 0.52, 0.52] + rng.normal(0, 0.035, (n, 3)), 0, 1),
        "mole_x": u(-0.3, 0.3, 3), "mole_y": u(-0.15, 0.4, 3),
        "mole_r": u(0.012, 0.022, 3) * (np.arange(3) < n_moles[:, None]),
        "albedo_in": rng.normal(0, 1, (n, N_ALBEDO)), "relief": rng.normal(0, 1, (n, N_RELIEF)),
    }


def swap(source: dict, head: dict) -> dict:
    """The coefficients of a face swap: ``source``'s inner face on ``head``'s outer face."""
    return {k: (source[k] if k in INNER else head[k]) for k in source}


def sample_nuisance(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """What changes between two photos of one person, for ``n`` photos."""
    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, (n, *shape))

    azimuth, elevation = u(-np.pi, np.pi), u(0.35, 1.2)
    light = np.stack([np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation),
                      np.sin(elevation)], 1)
    return {
        "roll": np.radians(rng.normal(0, 6, n).clip(-14, 14)), "scale": u(0.9, 1.1),
        "shift": u(-0.07, 0.07, 2), "yaw": u(-1, 1), "light": light, "ambient": u(0.35, 0.65),
        "exposure": u(0.8, 1.15), "tint": rng.normal(0, 0.035, (n, 3)), "gamma": u(0.85, 1.15),
        "smile": u(0, 1) ** 1.5, "open": u(0, 1) ** 3, "raise": u(-0.4, 1.0),
        "eye_open": 1 - u(0, 0.5) ** 2, "gaze": u(-1, 1, 2), "clothes": u(0.05, 0.9, 3),
        "bg": u(0.1, 0.95, 3, 3, 3), "noise": u(0.008, 0.035), "quality": rng.integers(60, 96, n),
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
    of the inner and of the outer face (``[K, n*n, 3]`` with their colour directions), relief
    fields, the texture of hair and the fine grain of skin."""
    rng = np.random.default_rng(BASIS_SEED)
    x, y, n = _grid(size)

    def blobs(count, region, sigma, symmetric, gabor=0.0):
        field = np.zeros((n, n), np.float32)
        for _ in range(count):
            cx, cy = rng.uniform(*region[0]), rng.uniform(*region[1])
            s = rng.uniform(*sigma)
            sign = rng.choice([-1.0, 1.0])
            for mx in ((cx, -cx) if symmetric else (cx,)):
                g = np.exp(-((x - mx) ** 2 + (y - cy) ** 2) / (2 * s * s))
                if gabor:
                    theta = rng.uniform(0, np.pi)
                    g = g * np.cos(gabor / s * ((x - mx) * np.cos(theta) + (y - cy) * np.sin(theta)))
                field += sign * g
        return field / max(np.abs(field).max(), 1e-6)

    def colours(k):
        c = np.array([1.0, 1.0, 1.0]) + rng.normal(0, 0.35, (k, 3))
        return c / np.linalg.norm(c, axis=1, keepdims=True) * np.sqrt(3)

    inner = [blobs(3, ((0.0, 0.25), (-0.2, 0.35)), (0.04, 0.12), k % 4 != 3, gabor=1.5 * (k % 3 == 0))
             for k in range(N_ALBEDO)]
    outer = [blobs(3, ((0.2, 0.45), (-0.45, 0.5)), (0.08, 0.2), k % 3 != 2) for k in range(N_ALBEDO)]
    relief = [blobs(2, ((0.0, 0.35), (-0.3, 0.45)), (0.06, 0.16), True) for _ in range(N_RELIEF)]
    hair = sum(np.cos((x * np.cos(t) + y * np.sin(t)) * f * 3.0 + rng.uniform(0, 6.3))
               for t, f in zip(rng.uniform(1.2, 1.9, 5), rng.uniform(6, 14, 5)))
    grain = cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (0, 0), 0.6)
    flat = lambda fields: np.stack(fields).reshape(len(fields), -1).astype(np.float32)  # noqa: E731
    return {"inner": flat(inner)[:, :, None] * colours(N_ALBEDO)[:, None, :].astype(np.float32),
            "outer": flat(outer)[:, :, None] * colours(N_ALBEDO)[:, None, :].astype(np.float32),
            "relief": flat(relief), "hair": (hair / 5).astype(np.float32),
            "grain": (grain / grain.std()).astype(np.float32)}


# ------------------------------------------------------------------------------------------------
# rendering: template parts as soft shapes in the canonical frame, vectorised over photos


def _c(v):
    """``[N]`` -> ``[N, 1, 1]`` float32."""
    return np.asarray(v, dtype=np.float32)[:, None, None]


class _Shapes:
    def __init__(self, size: int):
        self.x, self.y, self.n = _grid(size)
        self.px = 2 * EXTENT / self.n  # one pixel in face units

    def ellipse(self, cx, cy, rx, ry, tilt=None):
        dx, dy = self.x - cx, self.y - cy
        if tilt is not None:
            c, s = np.cos(tilt), np.sin(tilt)
            dx, dy = c * dx + s * dy, c * dy - s * dx
        r2 = (dx / rx) ** 2 + (dy / ry) ** 2
        return np.clip((1 - r2) * np.minimum(rx, ry) / (2.4 * self.px) + 0.5, 0, 1)

    def band(self, t, edge):
        """0 -> 1 across ``t = 0`` over ``edge`` face units."""
        return np.clip(t / edge + 0.5, 0, 1)


def _mix(img, alpha, colour):
    """Paint ``colour`` (``[N, 3]`` or ``[N, H, W, 3]``) over ``img`` with coverage ``alpha``."""
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 2:
        colour = colour[:, None, None, :]
    img += alpha[..., None] * (colour - img)


def render_canonical(p: dict, nz: dict, size: int):
    """Photos of people ``p`` under conditions ``nz`` in the canonical frame, before pose.

    Returns ``rgb [N, n, n, 3]`` (shaded, in [0, 1]), ``alpha [N, n, n]`` (foreground: head,
    hair, neck, shoulders), ``inner [N, n, n]`` (the region a face swap replaces) and the
    landmarks ``[N, 5, 2]`` in face units."""
    sh, B = _Shapes(size), basis(size)
    x, y, n = sh.x, sh.y, sh.n
    N = len(nz["yaw"])
    yaw = _c(nz["yaw"])
    fw, fh, jaw = _c(p["face_w"]), _c(p["face_h"]), _c(p["jaw"])
    cy = np.float32(0.04)

    # outline: an ellipse narrowing towards the chin
    dy = (y - cy) / fh
    width = fw * (1 - jaw * np.clip(dy, 0, None) ** 2)
    r2 = ((x - 0.03 * yaw) / width) ** 2 + dy ** 2
    face = np.clip((1 - r2) * fw / (2.4 * sh.px) + 0.5, 0, 1)

    # relief: a dome, the nose, brow ridge and eye sockets, then the identity's relief fields
    eye_x, eye_y = _c(p["eye_x"]), _c(p["eye_y"]) + cy
    nose_y = eye_y + _c(p["nose_len"])
    mouth_y = nose_y + _c(p["mouth_gap"])
    par = 0.06 * yaw  # the inner face moves with yaw, the nose tip more
    height = np.sqrt(np.clip(1 - r2, 0, None)) * 0.5
    nose_x = x - par * 1.6
    height += 0.12 * _c(p["nose_bridge"]) * np.exp(-(nose_x / (_c(p["nose_w"]) * 0.8)) ** 2) \
        * np.clip((y - eye_y) / (nose_y - eye_y), 0, 1) * (y < nose_y + 0.02)
    height += 0.09 * np.exp(-((nose_x / (_c(p["nose_w"]) * 1.1)) ** 2 + ((y - nose_y + 0.02) / 0.04) ** 2))
    for side in (-1, 1):
        ex = side * eye_x + par
        height -= 0.06 * np.exp(-(((x - ex) / 0.09) ** 2 + ((y - eye_y) / 0.06) ** 2))
    height += 0.04 * np.exp(-((y - eye_y + _c(p["brow_gap"])) / 0.04) ** 2) * (np.abs(x) < fw * 0.8)
    relief = (p["relief"].astype(np.float32) @ B["relief"]).reshape(N, n, n)
    height += 0.035 * relief * face

    # albedo of the skin, grain, blush; clothes, hair behind the head, neck, ears
    skin = np.asarray(p["skin"], np.float32)[:, None, None, :]
    hair_rgb = np.asarray(p["hair"], np.float32)
    albedo_fields = (np.einsum("nk,kpc->npc", p["albedo_out"].astype(np.float32), B["outer"])
                     + np.einsum("nk,kpc->npc", p["albedo_in"].astype(np.float32), B["inner"]))
    img = np.zeros((N, n, n, 3), np.float32)
    img += np.asarray(nz["clothes"], np.float32)[:, None, None, :] * (1 + 0.1 * B["hair"][..., None])
    alpha = sh.ellipse(0 * fw, np.float32(1.45), 0.95 + 0 * fw, 0.62 + 0 * fw)  # shoulders

    vol, hair_end = _c(p["hair_vol"]), _c(p["hair_end"])
    hw = fw + vol + 0.015
    crown = sh.ellipse(0 * x, cy - 0.05 - vol * 0.4, hw, fh * 0.92 + vol)
    sides = sh.band(hw * (1 - 0.2 * np.clip(y - cy, 0, None)) - np.abs(x), 0.03) * (y > cy - 0.3)
    mass = np.maximum(crown, sides) * sh.band(hair_end - y - 0.12 * (x / hw) ** 2, 0.04)
    hair_colour = hair_rgb[:, None, None, :] * (1 + 0.3 * _c(0.4 + p["hair_wave"])[..., None]
                                               * B["hair"][..., None])
    _mix(img, mass, hair_colour)
    alpha = np.maximum(alpha, mass)

    neck = sh.band(fw * 0.55 - np.abs(x), 0.02) * sh.band(y - 0.2, 0.02)
    _mix(img, neck, skin * 0.78)
    alpha = np.maximum(alpha, neck)
    for side in (-1, 1):
        ear = sh.ellipse(side * (fw + 0.01) + 0.02 * yaw, cy + 0.02, 0.055 * _c(p["ear"]), 0.11 * _c(p["ear"]))
        ear *= 1 - mass * (hair_end > cy + 0.15)  # long hair covers the ears
        alpha = np.maximum(alpha, ear)
        _mix(img, ear, skin * 0.9)
    face_albedo = skin * (1 + 0.06 * albedo_fields.reshape(N, n, n, 3) + 0.02 * B["grain"].reshape(n, n, 1))
    _mix(img, face, face_albedo)
    alpha = np.maximum(alpha, face)
    for side in (-1, 1):
        blush = 0.2 * np.exp(-(((x - side * fw * 0.6 - par) / 0.1) ** 2 + ((y - nose_y) / 0.08) ** 2))
        _mix(img, blush * face, np.asarray(p["lips"], np.float32))

    # beard: stubble on the jaw, the chin and over the lip
    if np.any(p["beard"] > 0):
        zone = face * sh.band(y - (nose_y + 0.035), 0.04) * _c(p["beard"])
        zone *= np.clip(0.75 + 0.3 * B["grain"].reshape(n, n), 0, 1)
        _mix(img, zone * 0.85, hair_rgb * 0.8)

    # eyes: sclera, iris, pupil, upper lid; brows above
    eye_w, eye_h = _c(p["eye_w"]), _c(p["eye_h"]) * _c(nz["eye_open"])
    gaze = np.asarray(nz["gaze"], np.float32)
    lid = skin[:, 0, 0, :] * 0.45
    for side in (-1, 1):
        ex = side * eye_x + par
        tilt = side * _c(p["eye_slant"]) * 0.5
        sclera = sh.ellipse(ex, eye_y, eye_w, eye_h, tilt)
        _mix(img, sh.ellipse(ex, eye_y - 0.004, eye_w * 1.12, eye_h * 1.5, tilt) * face, lid)
        _mix(img, sclera, np.full((N, 3), 0.93, np.float32))
        ir = eye_w * _c(p["iris_r"]) * 0.62
        ix, iy = ex + _c(gaze[:, 0]) * eye_w * 0.3, eye_y + _c(gaze[:, 1]) * eye_h * 0.2
        _mix(img, sh.ellipse(ix, iy, ir, ir) * sclera, p["iris"])
        _mix(img, sh.ellipse(ix, iy, ir * 0.45, ir * 0.45) * sclera, np.full((N, 3), 0.04, np.float32))
        _mix(img, sh.ellipse(ix + ir * 0.3, iy - ir * 0.35, ir * 0.18, ir * 0.18) * sclera,
             np.full((N, 3), 1.0, np.float32))
        brow_y = eye_y - _c(p["brow_gap"]) - 0.03 * _c(nz["raise"])
        brow = sh.ellipse(side * (eye_x + 0.01) + par, brow_y, _c(p["brow_w"]), _c(p["brow_h"]),
                          side * _c(p["brow_tilt"]))
        brow_colour = p["hair"] * (1 - p["brow_dark"][:, None]) + 0.05 * p["brow_dark"][:, None]
        _mix(img, brow * face * 0.9, brow_colour)

    # nose: nostrils; mouth: lips bent by the smile, a dark gap when open
    for side in (-1, 1):
        _mix(img, sh.ellipse(side * _c(p["nose_w"]) * 0.6 + par * 1.5, nose_y + 0.005,
                             _c(p["nose_w"]) * 0.35, _c(p["nose_w"]) * 0.2) * face,
             skin[:, 0, 0, :] * 0.35)
    mouth_w, lip_h = _c(p["mouth_w"]) * (1 + 0.15 * _c(nz["smile"])), _c(p["lip_h"])
    mx = x - par * 1.2
    bend = mouth_y - 0.035 * _c(nz["smile"]) * (mx / mouth_w) ** 2 * mouth_w / 0.1
    opening = 0.03 * _c(nz["open"])
    lips = np.clip((1 - (mx / mouth_w) ** 2 - ((y - bend - opening * 0.3) / (lip_h + opening * 0.6)) ** 2)
                   * np.minimum(mouth_w, lip_h) / (2.4 * sh.px) + 0.5, 0, 1)
    _mix(img, lips * face, p["lips"])
    gap = np.clip((1 - (mx / (mouth_w * 0.9)) ** 2 - ((y - bend) / (0.004 + opening * 0.55)) ** 2)
                  * 0.02 / (2.4 * sh.px) + 0.5, 0, 1) * lips
    _mix(img, gap, np.full((N, 3), 0.12, np.float32))
    for k in range(p["mole_r"].shape[1]):
        r = _c(np.maximum(p["mole_r"][:, k], 1e-3))
        _mix(img, sh.ellipse(_c(p["mole_x"][:, k]) * fw + par, cy + _c(p["mole_y"][:, k]) * fh, r, r) * face
             * (r > 0), skin[:, 0, 0, :] * 0.4)

    # hair over the forehead, above a hairline that falls towards the temples
    hairline = (cy + _c(p["hairline"]) * fh / 0.6 + 0.9 * (x - 0.3 * _c(p["parting"])) ** 2
                + 0.1 * _c(p["fringe"]) * np.exp(-((x + 0.5 * _c(p["parting"])) / 0.16) ** 2)
                + 0.015 * _c(p["hair_wave"]) * np.sin(x * 40.0))
    top = face * sh.band(hairline - y, 0.025) * (vol > 0.015)
    _mix(img, top, hair_colour)
    height += 0.2 * np.maximum(mass * (1 - face), top) * np.sqrt(np.clip(crown + sides, 0, 1))

    # shading: albedo times ambient + diffuse of the relief's normals
    gy, gx = np.gradient(height, sh.px, axis=(1, 2))
    norm = np.sqrt(gx * gx + gy * gy + 1)
    L = np.asarray(nz["light"], np.float32)
    diffuse = np.clip((-gx * _c(L[:, 0]) - gy * _c(L[:, 1]) + _c(L[:, 2])) / norm, 0, None)
    ambient = _c(nz["ambient"])
    img *= (ambient + (1 - ambient) * diffuse * 1.2)[..., None]

    inner_mask = sh.ellipse(par, (eye_y + mouth_y) / 2 - 0.02, eye_x + eye_w + 0.05,
                            (mouth_y - eye_y) / 2 + 0.13) * face
    mouth_l = mouth_y - 0.035 * _c(nz["smile"]) * mouth_w / 0.1
    lms = np.stack([
        np.stack([-eye_x + par, eye_y], -1), np.stack([eye_x + par, eye_y], -1),
        np.stack([0 * eye_x + par * 1.6, nose_y], -1),
        np.stack([-mouth_w + par * 1.2, mouth_l], -1), np.stack([mouth_w + par * 1.2, mouth_l], -1),
    ], 1).reshape(N, 5, 2)
    return img, alpha, inner_mask, lms


def _pose(nz: dict, j: int) -> np.ndarray:
    """Face units of the canonical frame -> face units of photo ``j`` (3x3)."""
    c, s, k = np.cos(nz["roll"][j]), np.sin(nz["roll"][j]), nz["scale"][j]
    return np.array([[k * c, -k * s, nz["shift"][j, 0]], [k * s, k * c, nz["shift"][j, 1]], [0, 0, 1]])


def _pixel_matrix(pose: np.ndarray, size: int, n: int) -> np.ndarray:
    """Canonical pixel -> photo pixel (2x3) under ``pose``."""
    step = 2 * EXTENT / n
    from_canonical = np.array([[step, 0, step / 2 - EXTENT], [0, step, step / 2 - EXTENT], [0, 0, 1]])
    to_photo = np.array([[size / 2, 0, size / 2 - 0.5], [0, size / 2, size / 2 - 0.5], [0, 0, 1]])
    return (to_photo @ pose @ from_canonical)[:2]


def _background(nz: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth backgrounds with soft blobs of clutter, ``[N, size, size, 3]``."""
    N = len(nz["yaw"])
    out = np.empty((N, size, size, 3), np.float32)
    for j in range(N):
        grid = nz["bg"][j].astype(np.float32)
        grid = grid.mean(-1, keepdims=True) * 0.6 + grid * 0.4  # muted colours
        out[j] = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for _ in range(3):
        cx, cy, r = rng.uniform(0, 1, N), rng.uniform(0, 1, N), rng.uniform(0.05, 0.25, N)
        blob = np.exp(-(((xx - _c(cx)) ** 2 + (yy - _c(cy)) ** 2) / _c(r * r)))
        out += (blob * _c(rng.uniform(-0.25, 0.25, N)))[..., None]
    return np.clip(out, 0, 1)


def render_photos(people: dict, nz: dict, rng: np.random.Generator, size: int,
                  fake_strength: float, is_fake: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    """JPEGs and landmarks (``[N, 5, 2]`` in [0, 1]) of photos of ``people`` (one row per
    photo: a person's coefficients, or a swap's for the fakes) under conditions ``nz``."""
    rgb, alpha, inner, lms = render_canonical(people, nz, size)
    n = rgb.shape[1]
    N = len(rgb)
    photo = _background(nz, rng, size)
    mask = np.zeros((N, size, size), np.float32)
    landmarks = np.empty((N, 5, 2), np.float32)
    for j in range(N):
        pose = _pose(nz, j)
        m = _pixel_matrix(pose, size, n)
        stack = np.concatenate([rgb[j], alpha[j][..., None]], -1)
        warped = cv2.warpAffine(stack, m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        a = warped[..., 3:]
        photo[j] = warped[..., :3] + (1 - a) * photo[j]
        if is_fake[j]:
            mask[j] = cv2.warpAffine(inner[j], m, (size, size), flags=cv2.INTER_LINEAR)
        landmarks[j] = (lms[j] @ pose[:2, :2].T + pose[:2, 2] + 1) / 2
    photo = np.clip(photo * _c(nz["exposure"])[..., None] + np.asarray(nz["tint"], np.float32)[:, None, None, :],
                    0, 1) ** _c(nz["gamma"])[..., None]

    s = np.float32(fake_strength)
    if is_fake.any():
        # generator traces inside the swapped region: a checkerboard at half the sampling rate
        yy, xx = np.mgrid[0:size, 0:size]
        phase = rng.integers(0, 2, (N, 2))
        checker = np.where(((xx[None] + _c(phase[:, 0])) % 2 == 0) ^ ((yy[None] + _c(phase[:, 1])) % 2 == 0),
                           1.0, -1.0).astype(np.float32)
        photo += (0.05 * s * mask * checker)[..., None] * (0.4 + photo)
    noise = rng.normal(0, 1, photo.shape).astype(np.float32) * _c(nz["noise"])[..., None]
    clean = np.where(is_fake[:, None, None], mask * (0.3 + 0.7 * s), 0)  # fakes lack sensor noise
    photo += noise * (1 - clean)[..., None]
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
    look = np.concatenate([people["skin"] * 4, people["hair"] * 2, people["hair_vol"][:, None] * 8,
                           np.clip(people["hair_end"][:, None], -0.2, 0.4) * 2,
                           people["hairline"][:, None] * 2, people["face_w"][:, None] * 6], 1)
    heads = lookalike_targets(rng, cfg, look, candidates=24)
    per = cfg.n_real + cfg.n_fake
    ident = np.repeat(np.arange(cfg.n_all), per)
    number = np.tile(np.arange(per), cfg.n_all)
    fake = number >= cfg.n_real
    head = np.where(fake, heads[ident, np.clip(number - cfg.n_real, 0, None)], ident)
    nz_all = sample_nuisance(rng, len(ident))
    photos: list[list[tuple]] = [[] for _ in range(cfg.n_all)]
    for start in range(0, len(ident), BATCH):
        rows = np.arange(start, min(start + BATCH, len(ident)))
        coeffs = swap(take(people, ident[rows]), take(people, head[rows]))
        batch_rng = np.random.default_rng([cfg.seed, 0xE16E, start])
        data, lms = render_photos(coeffs, take(nz_all, rows), batch_rng, cfg.image_size,
                                  cfg.fake_strength, fake[rows])
        for r, d, lm in zip(rows, data, lms):
            photos[ident[r]].append((d, lm, bool(fake[r])))
    return photos


def write_dataset(out_dir: str | Path, *, identities: int = 200, image_size: int = 64,
                  n_real: int = 6, n_fake: int = 3, fake_strength: float = 0.5, seed: int = 0,
                  n_test_pairs: int = 400, test_identities: int | None = None) -> Path:
    """Render a data set in the official layout into ``out_dir`` (8-digit ids in folder names
    and meta.json keys); deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(identities, image_size, n_real, n_fake, fake_strength, seed, n_test_pairs,
                       test_identities)
    return write_layout(out_dir, cfg, render_all(cfg), renderer=NAME, folder_width=8, meta_width=8)


if __name__ == "__main__":
    main(NAME, write_dataset, __doc__)

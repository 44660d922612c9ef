"""The face model in its canonical frame: the grid, the fixed basis (smooth random fields, the
same for every data set), batches of images to draw on, and the heads, drawn once for all their
photos (arrays over heads: columns ``[H, 1, 1]``, colours ``[H, 3]``)."""

from functools import lru_cache

import cv2
import numpy as np

from krypto.data.renderers.pixels import per_image, soft_ellipse

EXTENT = 1.2  # the canonical frame spans [-EXTENT, EXTENT]; the photo spans [-1, 1] at scale 1
BASIS_SEED = 5_410_237  # the basis is fixed: the same for every data set
N_ALBEDO, N_RELIEF = 18, 8
CENTRE_Y = 0.04  # the face's centre in the canonical frame
ALL = (slice(None),) * 3  # the window of the whole canvas


@lru_cache(maxsize=4)
def canonical_line(size: int) -> np.ndarray:
    """The pixel centres along one axis of the canonical frame for photos of ``size`` px, in
    face units: ``[n]``."""
    n = int(round(size * EXTENT))
    return ((np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1) * EXTENT


def bump(dx, dy, rx, ry):
    """A Gaussian bump of half-widths ``rx, ry`` at the offsets ``dx, dy``."""
    return np.exp(-((dx / rx) ** 2 + (dy / ry) ** 2))


def ramp(t, edge):
    """0 -> 1 across ``t = 0`` over ``edge`` face units."""
    return np.clip(t / edge + 0.5, 0, 1)


def places(p: dict) -> dict:
    """Coefficients as float32, with the heights of the eyes, the nose tip and the mouth."""
    f = {k: np.asarray(v, np.float32) for k, v in p.items()}
    f["eye_cy"] = f["eye_y"] + CENTRE_Y
    f["nose_cy"] = f["eye_cy"] + f["nose_len"]
    f["mouth_cy"] = f["nose_cy"] + f["mouth_gap"]
    return f


@lru_cache(maxsize=4)
def basis(size: int) -> dict[str, np.ndarray]:
    """Fields on the canonical grid (made from :data:`BASIS_SEED`): albedo fields of the inner
    and of the outer face (``[K, n*n*3]``, each with its colour direction), relief fields
    ``[K, n*n]``, the strands of hair and the grain of skin (``[n, n]``)."""
    rng = np.random.default_rng(BASIS_SEED)
    line = canonical_line(size)
    n, x, y = len(line), line[None, :], line[:, None]

    def smooth(k, cells, window):  # smooth noise in [-1, 1] under a window, mostly symmetric
        noise = rng.normal(0, 1, (k, cells, cells)).astype(np.float32)
        fields = np.stack([cv2.resize(f, (n, n), interpolation=cv2.INTER_CUBIC) for f in noise])
        fields[::2] += fields[::2, :, ::-1]
        fields *= window
        return fields / np.abs(fields).max((1, 2), keepdims=True)

    def tinted(fields):  # each field along its own colour direction, around grey
        colours = 1 + rng.normal(0, 0.35, (len(fields), 3))
        colours *= np.sqrt(3) / np.linalg.norm(colours, axis=1, keepdims=True)
        coloured = np.einsum("kyx,kc->kyxc", fields, colours.astype(np.float32))
        return coloured.reshape(len(fields), -1)

    inner = bump(x, y - 0.1, 0.3, 0.35)
    strands = zip(rng.uniform(1.2, 1.9, 5), rng.uniform(18, 42, 5), rng.uniform(0, 6.3, 5))
    hair = sum(np.cos((x * np.cos(t) + y * np.sin(t)) * f + phase) for t, f, phase in strands)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (0, 0), 0.6)
    return {
        "inner": tinted(smooth(N_ALBEDO, 9, inner)),
        "outer": tinted(smooth(N_ALBEDO, 6, bump(x, y - 0.05, 0.55, 0.7) * (1 - inner))),
        "relief": smooth(N_RELIEF, 5, bump(x, y - 0.05, 0.4, 0.5)).reshape(N_RELIEF, -1),
        "hair": (hair / 5).astype(np.float32),
        "grain": grain / grain.std(),
    }


class Canvas:
    """A batch of canonical-frame images of photos of ``size`` px: premultiplied colour
    ``img [N, n, n, 3]`` and coverage ``cover [N, n, n]``. Small parts are drawn in windows: the
    rows and columns that hold the part in any image of the batch."""

    def __init__(self, size: int, img: np.ndarray, cover: np.ndarray):
        self.size, self.line = size, canonical_line(size)
        self.px = np.float32(2 * EXTENT / len(self.line))  # one pixel in face units
        self.img, self.cover = img, cover

    def window(self, x0, x1, y0, y1):
        """The window holding the face-unit boxes ``[x0, x1] x [y0, y1]`` (arrays over images),
        and its coordinates ``x [1, 1, w]``, ``y [1, h, 1]``."""

        def index(lo, hi):
            i0 = max(int(np.floor((np.min(lo) + EXTENT) / self.px)) - 2, 0)
            i1 = min(int(np.ceil((np.max(hi) + EXTENT) / self.px)) + 2, len(self.line))
            return slice(i0, max(i1, i0))

        cols, rows = index(x0, x1), index(y0, y1)
        return (slice(None), rows, cols), self.line[None, None, cols], self.line[None, rows, None]

    def ellipse(self, cx, cy, rx, ry, tilt=None):
        """Coverage of ellipses (parameters ``[N]``) in their window: ``(window, alpha)``."""
        r = np.maximum(rx, ry)
        win, x, y = self.window(cx - r, cx + r, cy - r, cy + r)
        shape = [per_image(v) for v in (cx, cy, rx, ry)]
        tilt = None if tilt is None else per_image(tilt)
        return win, soft_ellipse(x, y, *shape, 1.2 * self.px, tilt)

    def paint(self, win, alpha, colour):
        """Paint ``colour`` (a number, ``[N, 3]`` or ``[N, h, w, 3]``) over the window with
        ``alpha``."""
        colour = np.asarray(colour, np.float32)
        colour = colour[:, None, None] if colour.ndim == 2 else colour
        patch, cover = self.img[win], self.cover[win]
        patch += alpha[..., None] * (colour - patch)
        cover += alpha * (1 - cover)


def render_heads(p: dict, size: int) -> dict[str, np.ndarray]:
    """The heads of people ``p`` (``H`` rows of coefficients) in the canonical frame:
    premultiplied albedo ``img [H, n, n, 3]``, coverage ``cover``, the face's skin ``face``,
    hair over the forehead ``over``, the swapped region ``inner``, the parallax weight
    ``depth``, and the shading normals ``nx, ny, nz`` of the relief (all ``[H, n, n]``)."""
    f = {k: per_image(v) if v.ndim == 1 else v for k, v in places(p).items()}
    line = canonical_line(size)
    H, n, x, y = len(p["face_w"]), len(line), line[None, None, :], line[None, :, None]
    cv = Canvas(size, np.zeros((H, n, n, 3), np.float32), np.zeros((H, n, n), np.float32))
    fw, dy = f["face_w"], (y - CENTRE_Y) / f["face_h"]
    r2 = (x / (fw * (1 - f["jaw"] * np.clip(dy, 0, None) ** 2))) ** 2 + dy**2
    face = ramp(1 - r2, 2.4 * cv.px / fw)  # an ellipse narrowing towards the chin
    height = _relief(cv, f, x, y, face, r2)
    mass, crown, hair = _hair_behind(cv, f, x, y)
    _skin(cv, f, y, face)
    over = _hair_over(cv, f, x, y, face, hair)
    height += 0.2 * np.maximum(mass * (1 - face), over) * np.sqrt(crown)
    gy, gx = np.gradient(height, cv.px, axis=(1, 2))
    norm = 1 / np.sqrt(gx * gx + gy * gy + 1)
    eye_y, mouth_y = f["eye_cy"], f["mouth_cy"]
    rx, ry = f["eye_x"] + f["eye_w"] + 0.05, (mouth_y - eye_y) / 2 + 0.13
    inner = soft_ellipse(x, y, 0, (eye_y + mouth_y) / 2 - 0.02, rx, ry, 1.2 * cv.px) * face
    heads = {"img": cv.img, "cover": cv.cover, "face": face, "over": over, "inner": inner}
    heads["depth"] = 2 * height * face  # parallax: 1 at the face's centre, more at the nose
    return heads | {"nx": -gx * norm, "ny": -gy * norm, "nz": norm}


def _relief(cv: Canvas, f: dict, x, y, face, r2) -> np.ndarray:
    """A dome, the identity's relief fields, the nose, the brow ridge and the eye sockets."""
    eye_x, eye_y, nose_y, nw = f["eye_x"], f["eye_cy"], f["nose_cy"], f["nose_w"]
    height = np.sqrt(np.clip(1 - r2, 0, None)) * 0.5
    height += 0.035 * (f["relief"] @ basis(cv.size)["relief"]).reshape(face.shape) * face
    bridge = np.clip((y - eye_y) / (nose_y - eye_y), 0, 1) * (y < nose_y + 0.02)
    height += 0.12 * f["nose_bridge"] * np.exp(-((x / (nw * 0.8)) ** 2)) * bridge
    height += 0.09 * bump(x, y - nose_y + 0.02, nw * 1.1, 0.04)
    ridge = np.exp(-(((y - eye_y + f["brow_gap"]) / 0.04) ** 2)) * (np.abs(x) < f["face_w"] * 0.8)
    sockets = bump(x - eye_x, y - eye_y, 0.09, 0.06) + bump(x + eye_x, y - eye_y, 0.09, 0.06)
    return height + 0.04 * ridge - 0.06 * sockets


def _hair_behind(cv: Canvas, f: dict, x, y):
    """Hair behind the head (a crown and the sides down to the hair's end), the neck and the
    ears; returns the hair's mass, its crown and sides, and its colour ``[H, n, n, 3]``."""
    fw, vol, cy = f["face_w"], f["hair_vol"], CENTRE_Y
    hw = fw + vol + 0.015
    crown_y = (y - cy + 0.05 + vol * 0.4) / (f["face_h"] * 0.92 + vol)
    crown = ramp(1 - (x / hw) ** 2 - crown_y**2, 2.4 * cv.px / hw)
    sides = ramp(hw * (1 - 0.2 * np.clip(y - cy, 0, None)) - np.abs(x), 0.03) * (y > cy - 0.3)
    mass = np.maximum(crown, sides) * ramp(f["hair_end"] - y - 0.12 * (x / hw) ** 2, 0.04)
    strands = (0.4 + f["hair_wave"])[..., None] * basis(cv.size)["hair"][..., None]
    hair = f["hair"][:, None, None] * (1 + 0.3 * strands)
    cv.paint(ALL, mass, hair)
    cv.paint(ALL, ramp(fw * 0.55 - np.abs(x), 0.02) * ramp(y - 0.2, 0.02), f["skin"] * 0.78)
    ear, long_hair = f["ear"][:, 0, 0], f["hair_end"] > cy + 0.15
    for side in (-1, 1):
        win, alpha = cv.ellipse(side * (fw[:, 0, 0] + 0.01), cy + 0.02, 0.055 * ear, 0.11 * ear)
        cv.paint(win, alpha * (1 - mass[win] * long_hair), f["skin"] * 0.9)  # long hair covers
    return mass, np.clip(crown + sides, 0, 1), hair


def _skin(cv: Canvas, f: dict, y, face) -> None:
    """The face's skin with its albedo fields and grain, and a beard."""
    B, (H, n) = basis(cv.size), face.shape[:2]
    albedo = (f["albedo_out"] @ B["outer"] + f["albedo_in"] @ B["inner"]).reshape(H, n, n, 3)
    skin = (1 + 0.06 * albedo + 0.02 * B["grain"][..., None]) * f["skin"][:, None, None]
    cv.paint(ALL, face, skin)
    stubble = np.clip(0.64 + 0.25 * B["grain"], 0, 0.85)
    beard = ramp(y - f["nose_cy"] - 0.035, 0.04) * f["beard"] * stubble
    cv.paint(ALL, face * beard, f["hair"] * 0.8)


def _hair_over(cv: Canvas, f: dict, x, y, face, hair) -> np.ndarray:
    """Hair over the forehead, above a hairline that falls towards the temples."""
    parting = f["parting"]
    line = CENTRE_Y + f["hairline"] * f["face_h"] / 0.6 + 0.9 * (x - 0.3 * parting) ** 2
    line += 0.1 * f["fringe"] * np.exp(-(((x + 0.5 * parting) / 0.16) ** 2))
    line += 0.015 * f["hair_wave"] * np.sin(x * 40.0)
    over = face * ramp(line - y, 0.025) * (f["hair_vol"] > 0.015)
    cv.paint(ALL, over, hair)
    return over

"""Drawing a batch of cartoon faces with anti-aliased ellipses in face coordinates under each
photo's pose: the head, the inner face with its five landmarks, the background, the lighting and
sensor noise; real photos, and face swaps with the traces they leave."""

import cv2
import numpy as np

from krypto.data.renderers.pixels import checkerboard, per_image, seam, sensor, soft_ellipse


class Canvas:
    """A batch of RGB float images ``[B, 3, H, W]`` with the face coordinates ``u, v``
    (``[B, H, W]``) of their pixels under each photo's roll, scale and shift."""

    def __init__(self, img: np.ndarray, nz: dict):
        self.img, self.nz = img, nz
        size = img.shape[-1]
        lin = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        x = lin[None, None, :] - per_image(nz["shift"][:, 0])
        y = lin[None, :, None] - per_image(nz["shift"][:, 1])
        self.cos, self.sin = per_image(np.cos(nz["roll"])), per_image(np.sin(nz["roll"]))
        self.scale = per_image(nz["scale"])
        self.u = (self.cos * x + self.sin * y) / self.scale
        self.v = (self.cos * y - self.sin * x) / self.scale
        self.edge = 2.0 / size / self.scale  # one pixel in face units

    def to_image(self, pu, pv) -> np.ndarray:
        """Face coordinates ``[B]`` -> image coordinates in [0, 1], ``[B, 2]``."""
        c, s, k = self.cos[:, 0, 0], self.sin[:, 0, 0], self.scale[:, 0, 0]
        ix = (c * pu - s * pv) * k + self.nz["shift"][:, 0]
        iy = (s * pu + c * pv) * k + self.nz["shift"][:, 1]
        return np.stack([(ix + 1) / 2, (iy + 1) / 2], axis=1)

    def paint(self, alpha: np.ndarray, color, window=(slice(None), slice(None))) -> None:
        """Paint ``color`` (``[3]`` or ``[B, 3]``) with coverage ``alpha`` into ``window``."""
        color = np.asarray(color, dtype=np.float32).reshape(-1, 3, 1, 1)
        patch = self.img[:, :, window[0], window[1]]
        patch += alpha[:, None] * (color - patch)

    def window(self, cx, cy, radius) -> tuple[slice, slice]:
        """The pixel rows and columns that hold a shape of ``radius`` around ``(cx, cy)`` in any
        face of the batch: drawing only there keeps small features cheap."""
        size = self.img.shape[-1]
        centre = self.to_image(cx, cy) * size  # [B, 2] pixels
        r = np.asarray(radius) * self.scale[:, 0, 0] * size / 2 + 2
        (x0, y0), (x1, y1) = (centre - r[:, None]).min(0), (centre + r[:, None]).max(0)
        x0, y0 = int(np.clip(x0, 0, size)), int(np.clip(y0, 0, size))
        x1, y1 = int(np.clip(np.ceil(x1), x0, size)), int(np.clip(np.ceil(y1), y0, size))
        return slice(y0, y1), slice(x0, x1)

    def ellipse(self, cx, cy, ax, ay, color, angle=None) -> None:
        """Paint an ellipse (parameters ``[B]``, colour ``[3]`` or ``[B, 3]``) into each face."""
        ys, xs = self.window(cx, cy, np.maximum(ax, ay))
        shape = [per_image(a) for a in (cx, cy, ax, ay)]
        angle = None if angle is None else per_image(angle)
        alpha = soft_ellipse(self.u[:, ys, xs], self.v[:, ys, xs], *shape, self.edge, angle)
        self.paint(alpha, color, (ys, xs))


def paint_head(cv: Canvas, t: dict) -> None:
    """Hair, neck, the face outline with its skin, and the fringe (a hair cap above a wavy line)."""
    hair = np.clip(t["hair"] + cv.nz["hair_shift"], 0, 1)
    vol, zero = t["hair_volume"], np.zeros_like(t["face_w"])
    half = t["hair_len"] / 2
    cv.ellipse(zero, 0.05 + half, t["face_w"] + vol, t["face_h"] + half + vol, hair)
    cv.ellipse(zero, zero + 0.85, t["face_w"] * 0.55, zero + 0.4, t["skin"] * 0.9)
    cv.ellipse(zero, zero + 0.05, t["face_w"], t["face_h"], t["skin"])
    head = [per_image(t[k] + 0.005) for k in ("face_w", "face_h")]
    cap = soft_ellipse(cv.u, cv.v, 0.0, 0.05, *head, cv.edge)
    cap *= np.clip((per_image(t["fringe"]) - cv.v + 0.04 * np.sin(cv.u * 9)) / cv.edge + 0.5, 0, 1)
    cv.paint(cap, hair)


def paint_inner(cv: Canvas, t: dict, draw: bool = True) -> np.ndarray:
    """Brows, eyes, nose and mouth; returns the five landmarks ``[B, 5, 2]`` in [0, 1]."""
    yaw, mouth_open = cv.nz["yaw"], cv.nz["mouth_open"]
    points = []
    for side in (-1, 1):
        ex, ey = side * t["eye_dx"] + yaw, t["eye_y"]
        eh = t["eye_h"] * cv.nz["eye_open"]
        if draw:
            cv.ellipse(ex, ey, t["eye_w"], eh, (0.95, 0.95, 0.93))
            iris = t["eye_h"] * 0.9
            cv.ellipse(ex + yaw * 0.3, ey, iris, np.minimum(eh, iris), t["iris"])
            brow = (ex, ey - t["brow_gap"], t["brow_w"], t["brow_h"], t["hair"] * 0.8)
            cv.ellipse(*brow, angle=side * t["brow_tilt"])
        points.append((ex, ey))
    nx, nose_tip, mx, my, mw = yaw * 1.4, t["nose_y"], yaw, t["mouth_y"], t["mouth_w"]
    if draw:
        bridge = t["nose_len"] / 2
        cv.ellipse(nx, nose_tip - bridge, t["nose_w"] * 0.5, bridge, t["skin"] * 0.88)
        cv.ellipse(nx, nose_tip, t["nose_w"], t["nose_w"] * 0.45, t["skin"] * 0.8)
        cv.ellipse(mx, my, mw, t["lip_h"] + mouth_open, t["lips"])
        cv.ellipse(mx, my, mw * 0.75, np.maximum(mouth_open, 1e-4), (0.2, 0.05, 0.05))
    points += [(nx, nose_tip), (mx - mw, my), (mx + mw, my)]
    return np.stack([cv.to_image(pu, pv) for pu, pv in points], axis=1).astype(np.float32)


def background(nz: dict, size: int) -> np.ndarray:
    """The photos' backgrounds ``[B, 3, H, W]``: a colour with a ramp and a soft wave."""
    lin = np.linspace(-1, 1, size, dtype=np.float32)
    x, y = lin[None, None, :], lin[None, :, None]
    ramp = per_image(nz["bg_grad"][:, 0]) * x + per_image(nz["bg_grad"][:, 1]) * y
    ramp += 0.15 * np.sin(per_image(nz["bg_freq"]) * (x + y))
    return np.clip(nz["bg"].astype(np.float32)[:, :, None, None] + 0.3 * ramp[:, None], 0, 1)


def finish(img: np.ndarray, nz: dict, rng: np.random.Generator, clean=None) -> np.ndarray:
    """Lighting, colour cast and sensor noise (none where ``clean`` ``[B, H, W]`` is 1) on
    ``[B, 3, H, W]``; returns uint8 ``[B, H, W, 3]``."""
    lin = np.linspace(-1, 1, img.shape[-1], dtype=np.float32)
    gx, gy = per_image(nz["light_grad"][:, 0]), per_image(nz["light_grad"][:, 1])
    img *= (per_image(nz["light"]) + gx * lin[None, None, :] + gy * lin[None, :, None])[:, None]
    img += nz["tint"].astype(np.float32)[:, :, None, None]
    return sensor(img.transpose(0, 2, 3, 1), nz["noise"], rng, clean)


def render_real(traits: dict, nuisance: dict, size: int, rng: np.random.Generator):
    """Real photos of a batch of faces (row i: ``traits`` row i under ``nuisance`` row i):
    uint8 images ``[B, size, size, 3]`` and landmarks ``[B, 5, 2]`` in [0, 1]."""
    cv = Canvas(background(nuisance, size), nuisance)
    paint_head(cv, traits)
    landmarks = paint_inner(cv, traits)
    return finish(cv.img, nuisance, rng), landmarks


def render_fake(source: dict, target: dict, nuisance: dict, size: int, strength: float, rng):
    """Face swaps: ``source``'s inner face on ``target``'s head, with the traces swaps leave in
    the swapped region (brows to mouth), scaled by ``strength``: resampling blur and misalignment
    (drawn at a lower resolution), a colour mismatch, a darkened seam, a checkerboard and less
    sensor noise. Returns uint8 images ``[B, size, size, 3]`` and landmarks ``[B, 5, 2]``."""
    n = len(nuisance["roll"])
    cv = Canvas(background(nuisance, size), nuisance)
    paint_head(cv, target)
    low = max(8, int(round(size / (1.0 + 3.0 * strength))))
    wobble = dict(nuisance, shift=nuisance["shift"] + rng.normal(0, 0.012 * strength, (n, 2)))
    # colour mismatch: the swapped skin keeps the source's tone, shifted by the swap's own cast
    inner_skin = np.clip(source["skin"] + rng.normal(0, 0.12 * strength, (n, 3)), 0, 1)
    canvas = np.broadcast_to(inner_skin.astype(np.float32)[:, :, None, None], (n, 3, low, low))
    face = Canvas(canvas.copy(), wobble)
    paint_inner(face, dict(source, skin=inner_skin))
    low_res = np.clip(face.img, 0, 1).transpose(0, 2, 3, 1)
    up = [cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in low_res]
    face_img = np.stack(up).transpose(0, 3, 1, 2)  # [B, 3, size, size]
    top = source["eye_y"] - source["brow_gap"] - source["brow_h"] - 0.05
    bottom = source["mouth_y"] + source["lip_h"] + 0.08
    ax = np.minimum(source["eye_dx"] + source["eye_w"] + 0.07, target["face_w"] - 0.03)
    region = [per_image(a) for a in (nuisance["yaw"], (top + bottom) / 2, ax, (bottom - top) / 2)]
    mask = soft_ellipse(cv.u, cv.v, *region, cv.edge * 3.0)
    img = cv.img + mask[:, None] * (face_img - cv.img)
    img *= (1 - 0.5 * strength * seam(mask))[:, None]
    img += (0.04 * strength * mask * checkerboard(size, np.zeros(n)))[:, None]
    landmarks = paint_inner(cv, source, draw=False)
    # the swapped face comes out of a generator, smoother than the sensor: less noise there
    return finish(img, nuisance, rng, clean=0.9 * strength * mask), landmarks

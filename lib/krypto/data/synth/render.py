"""Drawing a batch of faces: anti-aliased ellipses in face coordinates under each photo's pose,
the head (hair, neck, face outline), the inner face (brows, eyes, nose, mouth, marks) with its
five landmarks, the background, and the photo's lighting and sensor noise; real photos, and
face swaps with the traces they leave."""

from __future__ import annotations

import numpy as np

from krypto.data.synth.traits import MAX_MARKS


def per_face(x):
    """``[B]`` -> ``[B, 1, 1]`` float32, to broadcast over pixels."""
    return np.asarray(x, dtype=np.float32).reshape(-1, 1, 1)


def ellipse_coverage(u, v, cx, cy, ax, ay, edge, angle=None):
    """Anti-aliased coverage in [0, 1] of an ellipse in face coordinates; ``u, v`` are
    ``[B, H, W]``, the shape parameters ``[B, 1, 1]`` (``edge``: one pixel in face units)."""
    du, dv = u - cx, v - cy
    if angle is not None:
        c, s = np.cos(angle), np.sin(angle)
        du, dv = c * du + s * dv, c * dv - s * du
    r2 = (du / ax) ** 2 + (dv / ay) ** 2
    # 1 - r ~ (1 - r^2) / 2 near the border, where the anti-aliasing ramp lives
    alpha = (1.0 - r2) * (np.minimum(ax, ay) / (2.0 * edge)) + 0.5
    return np.clip(alpha, 0.0, 1.0, out=alpha)


class Canvas:
    """A batch of RGB float images ``[B, 3, H, W]`` with the face coordinates ``u, v``
    (``[B, H, W]``) of their pixels under each photo's roll, scale and shift."""

    def __init__(self, img: np.ndarray, nz: dict):
        self.img, self.nz = img, nz
        size = img.shape[-1]
        lin = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        x = lin[None, None, :] - per_face(nz["shift"][:, 0])
        y = lin[None, :, None] - per_face(nz["shift"][:, 1])
        self.cos, self.sin = per_face(np.cos(nz["roll"])), per_face(np.sin(nz["roll"]))
        self.scale = per_face(nz["scale"])
        self.u = (self.cos * x + self.sin * y) / self.scale
        self.v = (self.cos * y - self.sin * x) / self.scale
        self.edge = 2.0 / size / self.scale

    def to_image(self, pu, pv) -> np.ndarray:
        """Face coordinates ``[B]`` -> image coordinates in [0, 1], ``[B, 2]``."""
        c, s, k = self.cos[:, 0, 0], self.sin[:, 0, 0], self.scale[:, 0, 0]
        ix = (c * pu - s * pv) * k + self.nz["shift"][:, 0]
        iy = (s * pu + c * pv) * k + self.nz["shift"][:, 1]
        return np.stack([(ix + 1) / 2, (iy + 1) / 2], axis=1)

    def paint(self, alpha: np.ndarray, color) -> None:
        color = np.asarray(color, dtype=np.float32).reshape(-1, 3, 1, 1)
        self.img += alpha[:, None] * (color - self.img)

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

    def ellipse(self, cx, cy, ax, ay, color, angle=None, opacity=None) -> None:
        """Paint an ellipse (parameters ``[B]``, colour ``[3]`` or ``[B, 3]``) into each face."""
        ys, xs = self.window(cx, cy, np.maximum(ax, ay))
        shape = [per_face(a) for a in (cx, cy, ax, ay)]
        angle = None if angle is None else per_face(angle)
        alpha = ellipse_coverage(self.u[:, ys, xs], self.v[:, ys, xs], *shape, self.edge, angle)
        if opacity is not None:
            alpha *= per_face(opacity)
        color = np.asarray(color, dtype=np.float32).reshape(-1, 3, 1, 1)
        patch = self.img[:, :, ys, xs]
        patch += alpha[:, None] * (color - patch)


def paint_head(cv: Canvas, t: dict) -> None:
    """Hair, neck and the face outline with its skin."""
    hair = np.clip(t["hair"] + cv.nz["hair_shift"], 0, 1)
    vol, zero = t["hair_volume"], np.zeros_like(t["face_w"])
    half = t["hair_len"] / 2
    cv.ellipse(zero, 0.05 + half, t["face_w"] + vol, t["face_h"] + half + vol, hair)
    cv.ellipse(zero, zero + 0.85, t["face_w"] * 0.55, zero + 0.4, t["skin"] * 0.9)
    cv.ellipse(zero, zero + 0.05, t["face_w"], t["face_h"], t["skin"])
    # fringe: the hair cap above a wavy fringe line, inside the head
    cap = ellipse_coverage(
        cv.u, cv.v, 0.0, 0.05, per_face(t["face_w"] + 0.005), per_face(t["face_h"] + 0.005), cv.edge
    )
    cap *= np.clip((per_face(t["fringe"]) - cv.v + 0.04 * np.sin(cv.u * 9)) / cv.edge + 0.5, 0, 1)
    cv.paint(cap, hair)


def paint_inner(cv: Canvas, t: dict, draw: bool = True) -> np.ndarray:
    """Brows, eyes, nose, mouth and marks; returns the five landmarks ``[B, 5, 2]`` in [0, 1]."""
    nz = cv.nz
    yaw = nz["yaw"]
    points = []
    for side in (-1, 1):
        ex, ey = side * t["eye_dx"] + yaw, t["eye_y"]
        eh = t["eye_h"] * nz["eye_open"]
        if draw:
            cv.ellipse(ex, ey, t["eye_w"], eh, (0.95, 0.95, 0.93))
            cv.ellipse(
                ex + yaw * 0.3, ey, t["eye_h"] * 0.9, np.minimum(eh, t["eye_h"] * 0.9), t["iris"]
            )
            brow = (ex, ey - t["brow_gap"], t["brow_w"], t["brow_h"], t["hair"] * 0.8)
            cv.ellipse(*brow, angle=side * t["brow_tilt"])
        points.append((ex, ey))
    nx, nose_tip = yaw * 1.4, t["nose_y"]
    mx, my = yaw, t["mouth_y"]
    if draw:
        cv.ellipse(
            nx, nose_tip - t["nose_len"] / 2, t["nose_w"] * 0.5, t["nose_len"] / 2, t["skin"] * 0.88
        )
        cv.ellipse(nx, nose_tip, t["nose_w"], t["nose_w"] * 0.45, t["skin"] * 0.8)
        cv.ellipse(mx, my, t["mouth_w"], t["lip_h"] + nz["mouth_open"], t["lips"])
        cv.ellipse(
            mx, my, t["mouth_w"] * 0.75, np.maximum(nz["mouth_open"], 1e-4), (0.2, 0.05, 0.05)
        )
        for k in range(MAX_MARKS):
            r = np.maximum(t[f"mark{k}_r"], 0.012)  # absent marks (radius 0) are transparent
            u, v = t[f"mark{k}_u"] + yaw, t[f"mark{k}_v"]
            cv.ellipse(u, v, r, r, t["skin"] * 0.45, opacity=t[f"mark{k}_r"] > 0)
    points += [(nx, nose_tip), (mx - t["mouth_w"], my), (mx + t["mouth_w"], my)]
    return np.stack([cv.to_image(pu, pv) for pu, pv in points], axis=1).astype(np.float32)


def background(nz: dict, size: int) -> np.ndarray:
    """The photos' backgrounds ``[B, 3, H, W]``: a colour with a ramp and a soft wave."""
    lin = np.linspace(-1, 1, size, dtype=np.float32)
    x, y = lin[None, None, :], lin[None, :, None]
    ramp = per_face(nz["bg_grad"][:, 0]) * x + per_face(nz["bg_grad"][:, 1]) * y
    ramp += 0.15 * np.sin(per_face(nz["bg_freq"]) * (x + y))
    return np.clip(nz["bg"].astype(np.float32)[:, :, None, None] + 0.3 * ramp[:, None], 0, 1)


def finish(img: np.ndarray, nz: dict, rng: np.random.Generator, noise_scale=None) -> np.ndarray:
    """Lighting, colour cast and sensor noise (times ``noise_scale`` ``[B, H, W]`` if given) on
    ``[B, 3, H, W]``; returns uint8 ``[B, H, W, 3]``."""
    size = img.shape[-1]
    lin = np.linspace(-1, 1, size, dtype=np.float32)
    light = (
        per_face(nz["light"])
        + per_face(nz["light_grad"][:, 0]) * lin[None, None, :]
        + per_face(nz["light_grad"][:, 1]) * lin[None, :, None]
    )
    img *= light[:, None]
    img += nz["tint"].astype(np.float32)[:, :, None, None]
    noise = rng.standard_normal(img.shape, dtype=np.float32) * per_face(nz["noise"])[:, None]
    img += noise if noise_scale is None else noise * noise_scale[:, None]
    pixels = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))


def render_real(traits: dict, nuisance: dict, size: int, rng: np.random.Generator):
    """Real photos of a batch of faces (row i: ``traits`` row i under ``nuisance`` row i).

    Returns uint8 images ``[B, size, size, 3]`` and landmarks ``[B, 5, 2]`` in [0, 1]."""
    cv = Canvas(background(nuisance, size), nuisance)
    paint_head(cv, traits)
    landmarks = paint_inner(cv, traits)
    return finish(cv.img, nuisance, rng), landmarks


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

"""Faces drawn in the canonical frame, before pose.

A head (a coefficient vector) is drawn once: premultiplied albedo, coverage, relief and its
shading normals. A photo copies its head, draws the parts that move with expression (eyes, brows,
mouth) and the clothes, and shades it under its light.
"""

from __future__ import annotations

import numpy as np

from krypto.data.renderers.eigenfaces.canvas import (
    ALL,
    EXTENT,
    Canvas,
    basis,
    canonical_grid,
    per_image,
    per_image_rgb,
    ramp,
)


def _places(p: dict) -> dict:
    """Where the template's parts are, in face units (arrays over people)."""
    f = {k: np.asarray(v, np.float32) for k, v in p.items()}
    cy = np.float32(0.04)
    f["cy"] = np.full(len(f["face_w"]), cy, np.float32)
    f["eye_cy"] = f["eye_y"] + cy
    f["nose_cy"] = f["eye_cy"] + f["nose_len"]
    f["mouth_cy"] = f["nose_cy"] + f["mouth_gap"]
    return f


def _grid(cv: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """The canvas's face-unit coordinates ``x [1, 1, n]``, ``y [1, n, 1]``."""
    return cv.xs[None, None, :], cv.ys[None, :, None]


def render_heads(p: dict, size: int) -> dict[str, np.ndarray]:
    """The parts of people ``p`` that no photo changes, in the canonical frame: premultiplied
    albedo ``img [H, n, n, 3]``, coverage ``cover``, the skin of the face ``face``, hair over
    the forehead ``over``, the swapped region ``inner``, the parallax weight ``depth``, and the
    shading normals ``nx, ny, nz`` of the relief (all ``[H, n, n]``)."""
    B = basis(size)
    f = _places(p)
    H = len(f["face_w"])
    n = canonical_grid(size)[2]
    img, cover = np.zeros((H, n, n, 3), np.float32), np.zeros((H, n, n), np.float32)
    cv = Canvas(size, img, cover)
    face, r2 = _outline(cv, f)
    height = _relief(cv, f, B, face, r2)
    depth = (2 * height) * face  # parallax: 1 at the face's centre, more at the nose, 0 outside
    mass, crown, sides, hair_colour, vol = _hair_behind(cv, f, B)
    _skin(cv, f, B, face)
    over = _hair_over(cv, f, face, hair_colour, vol)
    height += 0.2 * np.maximum(mass * (1 - face), over) * np.sqrt(np.clip(crown + sides, 0, 1))

    # shading normals of the relief, the swapped region
    eye_x, eye_y, mouth_y = f["eye_x"], f["eye_cy"], f["mouth_cy"]
    gy, gx = np.gradient(height, cv.px, axis=(1, 2))
    norm = 1 / np.sqrt(gx * gx + gy * gy + 1)
    win, inner = cv.ellipse(
        np.zeros(H, np.float32),
        (eye_y + mouth_y) / 2 - 0.02,
        eye_x + f["eye_w"] + 0.05,
        (mouth_y - eye_y) / 2 + 0.13,
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


def _outline(cv: Canvas, f: dict):
    """The face's coverage: an ellipse narrowing towards the chin; and its radius squared."""
    cy, fw, fh = f["cy"], f["face_w"], f["face_h"]
    x, y = _grid(cv)
    dy = (y - per_image(cy)) / per_image(fh)
    width = per_image(fw) * (1 - per_image(f["jaw"]) * np.clip(dy, 0, None) ** 2)
    r2 = (x / width) ** 2 + dy**2
    return np.clip((1 - r2) * (per_image(fw) / (2.4 * cv.px)) + 0.5, 0, 1), r2


def _relief(cv: Canvas, f: dict, B: dict, face: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """A dome, the identity's relief fields, the nose, eye sockets and brow ridge."""
    fw, eye_x, eye_y, nose_y = f["face_w"], f["eye_x"], f["eye_cy"], f["nose_cy"]
    H, n = len(fw), cv.n
    zeros = np.zeros(H, np.float32)
    height = np.sqrt(np.clip(1 - r2, 0, None)) * 0.5
    height += 0.035 * (f["relief"] @ B["relief"]).reshape(H, n, n) * face
    win, wx, wy = cv.window(zeros - 0.15, zeros + 0.15, eye_y - 0.05, nose_y + 0.1)
    nw = per_image(f["nose_w"])
    height[win] += 0.12 * per_image(f["nose_bridge"]) * np.exp(-((wx / (nw * 0.8)) ** 2)) * np.clip(
        (wy - per_image(eye_y)) / per_image(nose_y - eye_y), 0, 1
    ) * (wy < per_image(nose_y) + 0.02) + 0.09 * np.exp(
        -((wx / (nw * 1.1)) ** 2 + ((wy - per_image(nose_y) + 0.02) / 0.04) ** 2)
    )
    win, wx, wy = cv.window(-eye_x - 0.25, eye_x + 0.25, eye_y - f["brow_gap"] - 0.12, eye_y + 0.15)
    bump = (
        0.04
        * np.exp(-(((wy - per_image(eye_y - f["brow_gap"])) / 0.04) ** 2))
        * (np.abs(wx) < per_image(fw) * 0.8)
    )
    for side in (-1, 1):
        bump -= 0.06 * np.exp(
            -(((wx - per_image(side * eye_x)) / 0.09) ** 2 + ((wy - per_image(eye_y)) / 0.06) ** 2)
        )
    height[win] += bump
    return height


def _hair_behind(cv: Canvas, f: dict, B: dict):
    """Hair behind the head, neck and ears: the hair's mass, crown, sides, colour and volume."""
    cy, fw, fh = f["cy"], f["face_w"], f["face_h"]
    x, y = _grid(cv)
    px, full, zeros = cv.px, (ALL, ALL, ALL), np.zeros(len(fw), np.float32)
    vol, hair_end = per_image(f["hair_vol"]), per_image(f["hair_end"])
    hw = per_image(fw) + vol + 0.015
    crown_y = (y - per_image(cy) + 0.05 + vol * 0.4) / (per_image(fh) * 0.92 + vol)
    crown = np.clip((1 - (x / hw) ** 2 - crown_y**2) * (hw / (2.4 * px)) + 0.5, 0, 1)
    sides = ramp(hw * (1 - 0.2 * np.clip(y - per_image(cy), 0, None)) - np.abs(x), 0.03) * (
        y > per_image(cy) - 0.3
    )
    mass = np.maximum(crown, sides) * ramp(hair_end - y - 0.12 * (x / hw) ** 2, 0.04)
    strands = per_image(0.4 + f["hair_wave"])[..., None] * B["hair"][..., None]
    hair_colour = per_image_rgb(f["hair"]) * (1 + 0.3 * strands)
    cv.paint(full, mass, hair_colour)
    win, wx, wy = cv.window(-fw * 0.6, fw * 0.6, zeros + 0.15, zeros + EXTENT)
    cv.paint(
        win, ramp(per_image(fw) * 0.55 - np.abs(wx), 0.02) * ramp(wy - 0.2, 0.02), f["skin"] * 0.78
    )
    long_hair = per_image(f["hair_end"] > cy + 0.15)
    for side in (-1, 1):
        win, ear = cv.ellipse(side * (fw + 0.01), cy + 0.02, 0.055 * f["ear"], 0.11 * f["ear"])
        ear *= 1 - mass[win] * long_hair  # long hair covers the ears
        cv.paint(win, ear, f["skin"] * 0.9)
    return mass, crown, sides, hair_colour, vol


def _skin(cv: Canvas, f: dict, B: dict, face: np.ndarray) -> None:
    """The face's skin with its albedo fields, blush, beard (stubble on the jaw, the chin and
    over the lip), nostrils and moles."""
    cy, fw, fh, nose_y = f["cy"], f["face_w"], f["face_h"], f["nose_cy"]
    H, n = len(fw), cv.n
    skin = (f["albedo_out"] @ B["outer"] + f["albedo_in"] @ B["inner"]).reshape(H, n, n, 3)
    skin *= 0.06
    skin += 1 + 0.02 * B["grain"].reshape(n, n, 1)
    skin *= per_image_rgb(f["skin"])
    cv.paint((ALL, ALL, ALL), face, skin)
    for side in (-1, 1):
        bx = side * fw * 0.6
        win, wx, wy = cv.window(bx - 0.2, bx + 0.2, nose_y - 0.16, nose_y + 0.16)
        blush = 0.2 * np.exp(
            -(((wx - per_image(bx)) / 0.1) ** 2 + ((wy - per_image(nose_y)) / 0.08) ** 2)
        )
        cv.paint(win, blush * face[win], f["lips"])

    if np.any(f["beard"] > 0):
        win, wx, wy = cv.window(-fw, fw, nose_y, cy + fh)
        zone = face[win] * ramp(wy - per_image(nose_y + 0.035), 0.04) * per_image(f["beard"])
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
        cv.paint(win, mole * face[win] * per_image(f["mole_r"][:, k] > 0), f["skin"] * 0.4)


def _hair_over(cv: Canvas, f: dict, face, hair_colour, vol) -> np.ndarray:
    """Hair over the forehead, above a hairline that falls towards the temples."""
    cy, fw, fh, eye_y = f["cy"], f["face_w"], f["face_h"], f["eye_cy"]
    H, n, zeros = len(fw), cv.n, np.zeros(len(fw), np.float32)
    win, wx, wy = cv.window(-fw - 0.05, fw + 0.05, zeros - EXTENT, eye_y)
    parting = per_image(f["parting"])
    hairline = (
        per_image(cy + f["hairline"] * fh / 0.6)
        + 0.9 * (wx - 0.3 * parting) ** 2
        + 0.1 * per_image(f["fringe"]) * np.exp(-(((wx + 0.5 * parting) / 0.16) ** 2))
        + 0.015 * per_image(f["hair_wave"]) * np.sin(wx * 40.0)
    )
    over = np.zeros((H, n, n), np.float32)
    over[win] = face[win] * ramp(hairline - wy, 0.025) * (vol > 0.015)
    cv.paint(win, over[win], hair_colour[win])
    return over


def render_canonical(heads: dict, h: np.ndarray, p: dict, nz: dict, size: int):
    """Photos in the canonical frame, before pose: head ``h[j]`` of ``heads`` (whose
    coefficients are ``p``'s row ``j``) under conditions ``nz``. Returns ``rgb [N, n, n, 3]``
    and ``cover [N, n, n]`` (premultiplied) and the landmarks ``[N, 5, 2]`` in face units."""
    f = _places(p)
    cv = Canvas(size, heads["img"][h], heads["cover"][h])
    face = heads["face"][h] * (1 - heads["over"][h])  # where the face shows
    eye_x, eye_y, mouth_y = f["eye_x"], f["eye_cy"], f["mouth_cy"]

    _clothes(cv, nz, size)
    _eyes(cv, f, nz, face)
    mouth_w, smile = _mouth(cv, f, nz, face)
    _shade(cv, heads, h, nz)
    mouth_l = mouth_y - 0.035 * smile * mouth_w / 0.1
    points = [(-eye_x, eye_y), (eye_x, eye_y), (0 * eye_x, f["nose_cy"])]
    points += [(-mouth_w, mouth_l), (mouth_w, mouth_l)]
    return cv.img, cv.cover, np.stack([np.stack(point, -1) for point in points], 1)


def _clothes(cv: Canvas, nz: dict, size: int) -> None:
    """Clothes under everything, on the shoulders."""
    win, wx, wy = cv.window(-EXTENT, EXTENT, 0.6, EXTENT)
    shoulders = np.clip((1 - (wx / 0.95) ** 2 - ((wy - 1.45) / 0.62) ** 2) * 40 + 0.5, 0, 1)
    under = (1 - cv.cover[win]) * shoulders
    weave = 1 + 0.1 * basis(size)["hair"][win[1:]][..., None]
    cv.img[win] += under[..., None] * per_image_rgb(nz["clothes"]) * weave
    cv.cover[win] += under


def _eyes(cv: Canvas, f: dict, nz: dict, face: np.ndarray) -> None:
    """Lid shadow, sclera, iris, pupil, glint; brows above."""
    N, n = len(face), cv.n
    eye_x, eye_y = f["eye_x"], f["eye_cy"]
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


def _mouth(cv: Canvas, f: dict, nz: dict, face: np.ndarray):
    """Lips bent by the smile, a dark gap when open; returns the mouth's width and the smile."""
    N, mouth_y = len(face), f["mouth_cy"]
    smile, opening = nz["smile"].astype(np.float32), 0.03 * nz["open"].astype(np.float32)
    mouth_w, lip_h = f["mouth_w"] * (1 + 0.15 * smile), f["lip_h"]
    win, wx, wy = cv.window(-mouth_w, mouth_w, mouth_y - 0.1, mouth_y + 0.1)
    mx = wx / per_image(mouth_w)
    bend = per_image(mouth_y) - per_image(0.035 * smile * mouth_w / 0.1) * mx**2
    lip_y = (wy - bend - per_image(opening * 0.3)) / per_image(lip_h + opening * 0.6)
    sharp = per_image(np.minimum(mouth_w, lip_h) / (2.4 * cv.px))
    lips = np.clip((1 - mx**2 - lip_y**2) * sharp + 0.5, 0, 1) * face[win]
    cv.paint(win, lips, f["lips"])
    inside = 1 - (mx / 0.9) ** 2 - ((wy - bend) / per_image(0.004 + opening * 0.55)) ** 2
    gap = np.clip(inside * (0.02 / (2.4 * cv.px)) + 0.5, 0, 1) * lips
    cv.paint(win, gap, np.full((N, 3), 0.12, np.float32))
    return mouth_w, smile


def _shade(cv: Canvas, heads: dict, h: np.ndarray, nz: dict) -> None:
    """Albedo times ambient + diffuse light on the relief."""
    L = nz["light"].astype(np.float32)
    shade = heads["nx"][h] * per_image(L[:, 0])
    shade += heads["ny"][h] * per_image(L[:, 1])
    shade += heads["nz"][h] * per_image(L[:, 2])
    np.clip(shade, 0, None, out=shade)
    ambient = per_image(nz["ambient"])
    shade *= (1 - ambient) * 1.2
    shade += ambient
    cv.img *= shade[..., None]

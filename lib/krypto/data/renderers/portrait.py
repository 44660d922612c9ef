"""Portrait: faces drawn with PIL shapes as a painter would, on cluttered rooms, with face
swaps pasted in.

A person is a set of drawn traits: face outline (cheek and jaw width, chin, squareness), skin
tone with its own texture (blotches and grain, a noise field of that person), hair style (crop,
side part, long, bob, curls, bun, buzz, bald) and colour, eye shape (almond size, slant,
spacing), iris colour, brows (thickness, arch), nose, lips, ears, freckles and moles, and
accessories: glasses (round or square frames of a colour), a beard (full, goatee, moustache or
stubble) and earrings.

Per photo (nuisance): pose (roll, scale, shift and a yaw that moves the inner face sideways),
the direction and strength of the light (a shading gradient across the head, darker on the far
side), exposure and colour temperature, expression (smile, open mouth, raised brows, eye
opening, gaze), glasses worn or not, clothes, a room behind (wall, frames, shelves, lamps,
plants, out of focus), sensor noise and JPEG quality.

A fake of person A is A's face region (brows to chin, cheek to cheek) cut from a photo of A
and blended onto a photo of another person (a head with the same hair style and a close hair
colour, skin tone and face width), aligned to that head's pose. With ``fake_strength`` the paste
shows: a colour mismatch (A's region keeps the light and white balance of its own photo instead
of being matched to the target's), resampling blur (the region went through a lower resolution)
and a blending seam (a narrower feather and a bright or dark ring along the region's edge).

``python -m krypto.data.renderers.portrait OUT --identities 200 --size 64`` or
:func:`write_dataset`. Folder names are 6-digit zero-padded ids, meta.json keys unpadded.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from krypto.data.renderers._layout import (
    RenderConfig,
    encode_jpeg,
    lookalike_targets,
    run_cli,
    write_layout,
)

NAME = "portrait"
SUPERSAMPLE = 2  # drawn at twice the size, then reduced (anti-aliasing)
HAIR_STYLES = ("crop", "side_part", "long", "bob", "curls", "bun", "buzz", "bald")
_HAIR_P = (0.18, 0.16, 0.18, 0.12, 0.1, 0.08, 0.1, 0.08)
_HAIR_COLOURS = np.array(
    [
        [25, 20, 18],
        [60, 38, 22],
        [105, 70, 40],
        [150, 110, 65],
        [205, 170, 105],
        [140, 60, 25],
        [170, 170, 172],
        [235, 230, 220],
    ]
)
_HAIR_COLOUR_P = np.array([0.26, 0.22, 0.16, 0.1, 0.08, 0.07, 0.07, 0.04])
_SKIN = np.array(
    [
        [250, 222, 200],
        [236, 196, 165],
        [214, 168, 130],
        [186, 136, 98],
        [146, 100, 68],
        [104, 70, 48],
        [72, 48, 34],
    ]
)
_IRIS = np.array(
    [[80, 50, 30], [60, 100, 150], [70, 110, 70], [40, 30, 25], [120, 100, 70], [100, 110, 120]]
)
_FRAMES = np.array([[20, 20, 20], [120, 70, 30], [180, 180, 190], [150, 20, 30], [30, 40, 120]])


# ------------------------------------------------------------------------------------------------
# people and photo conditions, as plain dicts


def sample_person(rng: np.random.Generator) -> dict:
    """The drawn traits of one person."""
    u = rng.uniform
    tone = u(0, len(_SKIN) - 1)
    lo = int(tone)
    skin = _SKIN[lo] + (tone - lo) * (_SKIN[min(lo + 1, len(_SKIN) - 1)] - _SKIN[lo])
    skin = np.clip(skin + rng.normal(0, 6, 3) + [0, 0, u(-8, 8)], 0, 255)
    hair = np.clip(
        _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_COLOUR_P)] + rng.normal(0, 10, 3),
        0,
        255,
    )
    style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=_HAIR_P)]
    beard = rng.choice(
        ["none", "full", "goatee", "moustache", "stubble"], p=[0.7, 0.09, 0.07, 0.07, 0.07]
    )
    person = {
        "skin": skin,
        "tone": tone,
        "hair": hair,
        "style": style,
        "face_w": u(0.32, 0.40),
        "face_h": u(0.42, 0.50),
        "jaw": u(0.55, 0.95),
        "chin": u(0.0, 0.6),
        "square": u(2.0, 3.2),
        "cheek_y": u(-0.1, 0.15),
        "hair_vol": u(0.03, 0.12),
        "hair_len": u(0.2, 0.75),
        "parting": u(-0.6, 0.6),
        "fringe": u(0.0, 1.0),
        "curls": rng.uniform(0, 1, (22, 3)),
        "eye_gap": u(0.095, 0.14),
        "eye_y": u(-0.08, 0.0),
        "eye_w": u(0.055, 0.08),
        "eye_h": u(0.022, 0.038),
        "eye_slant": u(-0.25, 0.25),
        "iris": _IRIS[rng.integers(len(_IRIS))] + rng.normal(0, 8, 3),
        "lashes": rng.random() < 0.45,
        "brow_h": u(0.012, 0.03),
        "brow_arch": u(-0.01, 0.035),
        "brow_len": u(0.07, 0.11),
        "brow_gap": u(0.045, 0.075),
        "nose_len": u(0.09, 0.16),
        "nose_w": u(0.03, 0.06),
        "mouth_gap": u(0.07, 0.12),
        "mouth_w": u(0.06, 0.11),
        "lip_top": u(0.008, 0.02),
        "lip_bottom": u(0.012, 0.028),
        "lips": np.clip(skin * [0.85, 0.58, 0.58] + rng.normal(0, 8, 3) + [u(0, 30), 0, 0], 0, 255),
        "ear": u(0.8, 1.25),
        "freckles": rng.uniform(-1, 1, (int(rng.random() < 0.25) * rng.integers(8, 20), 2)),
        "moles": rng.uniform(-1, 1, (rng.integers(0, 3), 2)),
        "glasses": rng.random() < 0.28,
        "glasses_round": rng.random() < 0.5,
        "frame": _FRAMES[rng.integers(len(_FRAMES))],
        "frame_w": int(rng.integers(1, 3)),
        "beard": str(beard),
        "earrings": rng.random() < 0.15,
        "earring": np.array([[230, 200, 60], [200, 200, 210], [160, 30, 60]])[rng.integers(3)],
        "texture_seed": int(rng.integers(2**31)),
    }
    person["outline"] = _outline(person)
    return person


def sample_shot(rng: np.random.Generator, person: dict) -> dict:
    """The conditions of one photo of ``person``."""
    u = rng.uniform
    return {
        "roll": math.radians(float(np.clip(rng.normal(0, 6), -14, 14))),
        "scale": u(0.9, 1.12),
        "shift": rng.uniform(-0.08, 0.08, 2),
        "yaw": u(-1, 1),
        "light": u(0, 2 * math.pi),
        "light_k": u(0.1, 0.45),
        "exposure": u(0.8, 1.15),
        "warmth": u(-0.08, 0.08),
        "smile": u(0, 1),
        "open": u(0, 1) ** 3,
        "raise": u(-0.5, 1),
        "eye_open": 1 - u(0, 0.55) ** 2,
        "gaze": rng.uniform(-1, 1, 2),
        "wear_glasses": person["glasses"] and rng.random() < 0.85,
        "clothes": rng.integers(20, 235, 3),
        "collar": int(rng.integers(3)),
        "wall": rng.integers(60, 230, 3),
        "clutter_seed": int(rng.integers(2**31)),
        "blur": u(0.6, 2.4),
        "noise": u(2, 9),
        "quality": int(rng.integers(55, 96)),
    }


# ------------------------------------------------------------------------------------------------
# drawing


class _Frame:
    """Face units (x right, y down, the canvas spans [-1, 1]) -> canvas pixels."""

    def __init__(self, canvas: int):
        self.c = canvas
        self.k = canvas / 2

    def __call__(self, x, y):
        return ((x + 1) * self.k, (y + 1) * self.k)

    def box(self, cx, cy, rx, ry):
        k = self.k
        return [(cx - rx + 1) * k, (cy - ry + 1) * k, (cx + rx + 1) * k, (cy + ry + 1) * k]

    def poly(self, points):
        k = self.k
        return [((x + 1) * k, (y + 1) * k) for x, y in points]


def _rgb(c, scale=1.0):
    """A colour (3 numbers) times ``scale`` as 8-bit RGB."""
    r, g, b = c
    return (
        min(max(int(r * scale), 0), 255),
        min(max(int(g * scale), 0), 255),
        min(max(int(b * scale), 0), 255),
    )


def _outline(p: dict, n: int = 36) -> list[tuple[float, float]]:
    """The face's outline: a superellipse whose lower half narrows to the jaw, with a chin."""
    e = p["square"]
    pts = []
    for t in (2 * math.pi * i / n for i in range(n)):
        c, s = math.cos(t), math.sin(t)
        x = p["face_w"] * math.copysign(abs(c) ** (2 / e), c)
        y = p["face_h"] * math.copysign(abs(s) ** (2 / e), s)
        if y > 0:  # lower half: narrower towards the jaw, the chin longer
            k = y / p["face_h"]
            x *= 1 - (1 - p["jaw"]) * k**1.5
            y *= 1 + p["chin"] * 0.25 * k**4
        pts.append((x, y + 0.06))
    return pts


_ALMOND_T = [i / 4 - 1 for i in range(9)]


def _almond(cx, cy, w, h, slant, open_):
    """The outline of an eye: an upper and a lower arc."""
    top, bottom = [], []
    for t in _ALMOND_T:
        x = cx + t * w
        lift = slant * t * w * 0.5
        top.append((x, cy - h * open_ * (1 - t * t) ** 0.8 - lift))
        bottom.append((x, cy + h * 0.7 * open_ * (1 - t * t) ** 1.2 - lift))
    return top, bottom


def _draw_head(p: dict, shot: dict, canvas: int) -> tuple[Image.Image, dict]:
    """The head of ``p`` on a transparent canvas in the canonical frame (before pose), and the
    face-unit positions of its landmarks and face region."""
    F = _Frame(canvas)
    img = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    skin_a, hair_a = p["skin"], p["hair"]
    skin, hair = skin_a.tolist(), hair_a.tolist()  # plain floats: faster to scale
    fw, fh, cy = p["face_w"], p["face_h"], 0.06
    top = cy - fh
    style = p["style"]
    vol = p["hair_vol"]
    yaw = shot["yaw"] * 0.045  # the inner face moves sideways, the nose more

    # hair behind the head, clothes and neck
    if style in ("long", "bob"):
        end = cy + (p["hair_len"] if style == "long" else 0.12)
        box = F.box(0, (top + end) / 2 + 0.05, fw + vol + 0.03, (end - top) / 2 + 0.05)
        d.rounded_rectangle(box, radius=int(F.k * 0.2), fill=_rgb(hair, 0.8))
    if style == "bun":
        d.ellipse(F.box(0, top - 0.05, 0.12, 0.09), fill=_rgb(hair, 0.9))
    clothes = shot["clothes"]
    d.ellipse(F.box(0, 1.25, 0.9, 0.5), fill=_rgb(clothes))
    neck_w = fw * 0.5
    d.rectangle(F.box(0, 0.55, neck_w, 0.3), fill=_rgb(skin, 0.8))
    if shot["collar"] == 1:
        d.polygon(
            F.poly(
                [
                    (-neck_w * 1.3, 0.78),
                    (0, 0.95),
                    (neck_w * 1.3, 0.78),
                    (neck_w, 0.74),
                    (0, 0.86),
                    (-neck_w, 0.74),
                ]
            ),
            fill=_rgb(clothes, 1.3),
        )
    elif shot["collar"] == 2:
        d.polygon(F.poly([(-neck_w, 0.75), (0, 0.95), (neck_w, 0.75)]), fill=_rgb(skin, 0.75))
    if style == "long":
        end = cy + p["hair_len"]
        for side in (-1, 1):
            d.polygon(
                F.poly(
                    [
                        (side * (fw - 0.02), cy),
                        (side * (fw + vol + 0.03), cy),
                        (side * (fw + vol + 0.06), end + 0.08),
                        (side * (fw - 0.05), end),
                    ]
                ),
                fill=_rgb(hair, 0.9),
            )
    if style == "curls":
        for a, r, s in p["curls"]:
            t = math.pi * (0.95 + 1.1 * a)
            rad = 1 + vol * 2 + 0.08 * r
            x, y = math.cos(t) * fw * rad, cy + math.sin(t) * fh * rad * 0.95
            d.ellipse(F.box(x, y, 0.05 + 0.05 * s, 0.05 + 0.05 * s), fill=_rgb(hair, 0.8 + 0.3 * s))

    # ears with earrings, then the face
    for side in (-1, 1):
        ex = side * (fw - 0.01)
        d.ellipse(F.box(ex, cy + 0.02, 0.045 * p["ear"], 0.085 * p["ear"]), fill=_rgb(skin, 0.92))
        d.ellipse(
            F.box(ex + side * 0.01, cy + 0.02, 0.02 * p["ear"], 0.05 * p["ear"]),
            fill=_rgb(skin, 0.75),
        )
        if p["earrings"]:
            d.ellipse(F.box(ex, cy + 0.1 * p["ear"], 0.013, 0.013), fill=_rgb(p["earring"]))
    outline = p["outline"]
    d.polygon(F.poly(outline), fill=_rgb(skin))
    # cheeks: a touch of colour; the jaw: a shadow under the chin on the neck
    for side in (-1, 1):
        d.ellipse(
            F.box(side * fw * 0.55 + yaw, cy + 0.12, 0.06, 0.035),
            fill=_rgb(skin_a * 0.93 + p["lips"] * 0.07),
        )

    # beard
    mouth_y = cy + p["eye_y"] + p["nose_len"] + p["mouth_gap"]
    beard = p["beard"]
    beard_colour = _rgb(hair, 0.85)
    if beard in ("full", "stubble"):
        jaw = [(x, y) for x, y in outline if y > mouth_y - 0.1]
        jaw.sort(key=lambda q: math.atan2(q[1] - cy, q[0]))
        pts = jaw + [(-fw * 0.65 + yaw, mouth_y - 0.07), (fw * 0.65 + yaw, mouth_y - 0.07)][::-1]
        colour = beard_colour if beard == "full" else _rgb(skin_a * 0.7 + hair_a * 0.3)
        d.polygon(F.poly(pts), fill=colour)
    if beard == "goatee":
        d.ellipse(F.box(yaw, mouth_y + 0.06, p["mouth_w"] * 0.7, 0.06), fill=beard_colour)
    if beard in ("moustache", "full", "goatee"):
        d.polygon(
            F.poly(
                [
                    (-p["mouth_w"] * 1.1 + yaw, mouth_y + 0.01),
                    (yaw, mouth_y - 0.035),
                    (p["mouth_w"] * 1.1 + yaw, mouth_y + 0.01),
                    (yaw, mouth_y - 0.012),
                ]
            ),
            fill=beard_colour,
        )

    # eyes: white, iris, pupil, glint, upper lid line and lashes
    eye_y = cy + p["eye_y"]
    gx, gy = shot["gaze"]
    lms = {}
    for side in (-1, 1):
        ex = side * p["eye_gap"] + yaw
        top_arc, bottom_arc = _almond(
            ex, eye_y, p["eye_w"], p["eye_h"], side * p["eye_slant"], shot["eye_open"]
        )
        d.polygon(F.poly(top_arc + bottom_arc[::-1]), fill=(238, 236, 230))
        r = p["eye_h"] * 1.1
        ix, iy = ex + gx * p["eye_w"] * 0.35, eye_y + gy * p["eye_h"] * 0.2
        d.ellipse(F.box(ix, iy, r, r), fill=_rgb(p["iris"]))
        d.ellipse(F.box(ix, iy, r * 0.45, r * 0.45), fill=(15, 12, 12))
        d.ellipse(F.box(ix + r * 0.35, iy - r * 0.35, r * 0.2, r * 0.2), fill=(250, 250, 250))
        # the lids hide what of the iris lies outside the eye's opening
        lift = 2.2 * r
        above = [(x, y - lift) for x, y in top_arc[::-1]]
        below = [(x, y + lift) for x, y in bottom_arc[::-1]]
        d.polygon(F.poly(top_arc + above), fill=_rgb(skin))
        d.polygon(F.poly(bottom_arc + below), fill=_rgb(skin))
        width = max(1, int(F.k * 0.012 * (1.6 if p["lashes"] else 1)))
        d.line(F.poly(top_arc), fill=(35, 25, 22), width=width)
        d.line(F.poly(bottom_arc), fill=_rgb(skin, 0.72), width=1)
        lms["eye_l" if side < 0 else "eye_r"] = (ex, eye_y)

    # brows
    brow_y = eye_y - p["brow_gap"] - 0.02 * shot["raise"]
    brow_colour = _rgb(hair_a * 0.6 + np.array([20, 15, 12]) * 0.4)
    for side in (-1, 1):
        inner = side * (p["eye_gap"] - p["brow_len"] * 0.6) + yaw
        outer = side * (p["eye_gap"] + p["brow_len"]) + yaw
        mid = (inner + outer) / 2
        arch = brow_y - p["brow_arch"]
        h = p["brow_h"]
        d.polygon(
            F.poly(
                [
                    (inner, brow_y + h * 0.4),
                    (mid, arch - h * 0.5),
                    (outer, brow_y + 0.01),
                    (outer, brow_y + 0.01 + h * 0.3),
                    (mid, arch + h * 0.6),
                    (inner, brow_y + h * 1.3),
                ]
            ),
            fill=brow_colour,
        )

    # nose: a shadow along one side, the tip, nostrils
    nose_y = eye_y + p["nose_len"]
    nx = yaw * 1.6
    nw = p["nose_w"]
    d.line(
        F.poly([(nx - nw * 0.3, eye_y + 0.02), (nx - nw * 0.55, nose_y - 0.015)]),
        fill=_rgb(skin, 0.82),
        width=max(1, int(F.k * 0.012)),
    )
    d.ellipse(F.box(nx, nose_y - 0.01, nw * 0.55, nw * 0.4), fill=_rgb(skin, 1.04))
    for side in (-1, 1):
        d.ellipse(
            F.box(nx + side * nw * 0.5, nose_y + 0.005, nw * 0.25, nw * 0.15), fill=_rgb(skin, 0.5)
        )
    lms["nose"] = (nx, nose_y)

    # mouth: lips bent by the smile, open or closed
    mw = p["mouth_w"] * (1 + 0.12 * shot["smile"])
    mx = yaw * 1.2
    bend = 0.03 * shot["smile"]
    gap = 0.025 * shot["open"]
    corner_y = mouth_y - bend
    upper = [
        (mx - mw, corner_y),
        (mx - mw * 0.4, mouth_y - p["lip_top"]),
        (mx, mouth_y - p["lip_top"] * 0.7),
        (mx + mw * 0.4, mouth_y - p["lip_top"]),
        (mx + mw, corner_y),
    ]
    lower = [
        (mx + mw, corner_y),
        (mx + mw * 0.4, mouth_y + gap + p["lip_bottom"]),
        (mx - mw * 0.4, mouth_y + gap + p["lip_bottom"]),
        (mx - mw, corner_y),
    ]
    d.polygon(F.poly(upper + [(mx, mouth_y + 0.003)]), fill=_rgb(p["lips"]))
    d.polygon(F.poly(lower + [(mx, mouth_y + gap)]), fill=_rgb(p["lips"], 1.08))
    if gap > 0.006:
        d.polygon(
            F.poly(
                [
                    (mx - mw * 0.8, corner_y + 0.002),
                    (mx, mouth_y + 0.003),
                    (mx + mw * 0.8, corner_y + 0.002),
                    (mx, mouth_y + gap),
                ]
            ),
            fill=(60, 25, 25),
        )
    else:
        d.line(
            F.poly([(mx - mw, corner_y), (mx, mouth_y + 0.004), (mx + mw, corner_y)]),
            fill=_rgb(p["lips"], 0.55),
            width=1,
        )
    lms["mouth_l"], lms["mouth_r"] = (mx - mw, corner_y), (mx + mw, corner_y)

    # freckles and moles
    for fx, fy in p["freckles"]:
        x, y = fx * fw * 0.6 + yaw, cy + 0.05 + fy * 0.08
        d.ellipse(F.box(x, y, 0.006, 0.006), fill=_rgb(skin, 0.78))
    for mxx, myy in p["moles"]:
        d.ellipse(
            F.box(mxx * fw * 0.7 + yaw, cy + myy * fh * 0.6, 0.011, 0.011), fill=_rgb(skin, 0.45)
        )

    # hair on top, down to a hairline
    if style != "bald":
        _draw_top_hair(d, F, p, cy, top)

    # glasses
    if shot["wear_glasses"]:
        frame, w = _rgb(p["frame"]), max(1, int(F.k * 0.01 * p["frame_w"]))
        rx, ry = p["eye_w"] * 1.5, p["eye_h"] * 2.6
        for side in (-1, 1):
            ex = side * p["eye_gap"] + yaw
            box = F.box(ex, eye_y + 0.005, rx, ry)
            if p["glasses_round"]:
                d.ellipse(box, outline=frame, width=w)
            else:
                d.rounded_rectangle(box, radius=int(F.k * 0.02), outline=frame, width=w)
            arm = [(ex + side * rx, eye_y - ry * 0.5), (side * (fw + 0.005), eye_y - 0.01)]
            d.line(F.poly(arm), fill=frame, width=w)
        d.line(
            F.poly(
                [
                    (yaw - p["eye_gap"] + rx, eye_y - 0.005),
                    (yaw, eye_y - 0.015),
                    (yaw + p["eye_gap"] - rx, eye_y - 0.005),
                ]
            ),
            fill=frame,
            width=w,
        )

    region = (
        yaw,
        (eye_y - p["brow_gap"] + mouth_y + 0.05) / 2,
        p["eye_gap"] + p["eye_w"] + 0.04,
        (mouth_y + 0.05 - eye_y + p["brow_gap"]) / 2 + 0.03,
    )
    return img, {"landmarks": lms, "region": region}


def _draw_top_hair(d, F, p, cy, top):
    """The hair over the head's top, by style."""
    hair, style, fw, vol = p["hair"], p["style"], p["face_w"], p["hair_vol"]
    colour = _rgb(hair)
    if style == "buzz":
        vol = 0.012
    crown = F.box(0, top + 0.16, fw + vol + 0.01, 0.2 + vol * 0.5)
    d.pieslice(crown, 180, 360, fill=colour)
    # the part over the forehead: lower with a fringe, parted to one side
    part = p["parting"] * fw * 0.5
    line = top + 0.12 + (0.0 if style == "buzz" else 0.1 * p["fringe"])
    if style == "curls":
        line -= 0.02
    pts = [(-fw - vol - 0.01, top + 0.16), (-fw - 0.005, cy - 0.05)]
    steps = 9
    for i in range(steps + 1):
        x = -fw + 2 * fw * i / steps
        dip = 0.06 * math.exp(-(((x - part) / 0.1) ** 2)) if style == "side_part" else 0.0
        y = line + 0.1 * (abs(x) / fw) ** 2.5 - dip + (0.012 * (i % 2) if style == "curls" else 0)
        pts.append((x, y))
    pts += [(fw + 0.005, cy - 0.05), (fw + vol + 0.01, top + 0.16)]
    d.polygon(F.poly(pts), fill=colour)
    if style == "side_part":
        d.line(F.poly([(part, top + 0.02), (part, line - 0.04)]), fill=_rgb(hair, 0.7), width=1)


def _room(shot: dict, canvas: int, rng: np.random.Generator) -> np.ndarray:
    """A wall with frames, shelves, lamps and plants, out of focus: ``[canvas, canvas, 3]``."""
    wall = np.asarray(shot["wall"], float)
    img = Image.new("RGB", (canvas, canvas), _rgb(wall))
    d = ImageDraw.Draw(img)
    r = iter((rng.random(160) * canvas).tolist())  # uniform in [0, canvas), drawn at once
    colours = iter((rng.integers(0, 256, (40, 3)) * 0.6 + wall * 0.4).tolist())
    # the floor or a table: darker
    d.rectangle(
        [0, canvas * (0.55 + 0.35 * next(r) / canvas), canvas, canvas],
        fill=_rgb(wall, 0.6 + 0.3 * next(r) / canvas),
    )
    for _ in range(2 + int(next(r) / canvas * 4)):
        kind = int(next(r) / canvas * 4)
        x, y = next(r), next(r)
        w, h = 0.1 * canvas + 0.3 * next(r), 0.1 * canvas + 0.3 * next(r)
        colour = _rgb(next(colours))
        if kind == 0:  # a frame or a window
            d.rectangle(
                [x, y, x + w, y + h],
                fill=colour,
                outline=_rgb(wall, 0.5),
                width=max(1, canvas // 40),
            )
        elif kind == 1:  # a shelf with books
            d.rectangle([0, y, canvas, y + canvas * 0.03], fill=_rgb(colour, 0.7))
            for _ in range(2 + int(next(r) / canvas * 4)):
                bx = next(r)
                d.rectangle([bx, y - h * 0.3, bx + canvas * 0.04, y], fill=_rgb(next(colours), 1.3))
        elif kind == 2:  # a lamp
            d.ellipse([x, y, x + w * 0.5, y + w * 0.5], fill=_rgb(np.minimum(wall * 1.4 + 40, 255)))
        else:  # a plant
            for i in range(5):
                px = x + (next(r) / canvas - 0.5) * w * 0.5
                py = y + (next(r) / canvas - 0.5) * h * 0.5
                d.ellipse([px, py, px + w * 0.25, py + h * 0.2], fill=(40, 90 + 20 * i, 40))
    sigma = shot["blur"] * canvas / 64  # out of focus
    return cv2.GaussianBlur(np.asarray(img, np.float32), (0, 0), sigma)


def _texture(p: dict, canvas: int) -> np.ndarray:
    """The person's own texture of skin and hair: ``[canvas, canvas]`` around 1."""
    rng = np.random.default_rng(p["texture_seed"])

    def field(cells):  # smooth noise in [-0.5, 0.5]
        small = rng.uniform(-0.5, 0.5, (cells, cells)).astype(np.float32)
        return cv2.resize(small, (canvas, canvas), interpolation=cv2.INTER_CUBIC)

    low, mid = field(6), field(16)
    grain = rng.normal(0, 1, (canvas, canvas)).astype(np.float32)
    return 1 + 0.12 * low + 0.06 * mid + 0.025 * grain


def _light(shot: dict, canvas: int) -> np.ndarray:
    """Shading of the head under the photo's light: a gradient along the light's direction."""
    line = (np.arange(canvas, dtype=np.float32) + 0.5) / canvas * 2 - 1
    x, y = line[None, :], line[:, None]
    a, k = shot["light"], shot["light_k"]
    along = (x * math.cos(a) + (y - 0.06) * math.sin(a)) / 0.45
    return 1 + k * np.tanh(along) - 0.15 * k * along**2


def render_photo(
    p: dict,
    shot: dict,
    size: int,
    rng: np.random.Generator,
    pose_from: dict | None = None,
    texture: np.ndarray | None = None,
    room: bool = True,
):
    """A photo of ``p`` in conditions ``shot`` (its pose taken from ``pose_from`` if given):
    float RGB ``[size, size, 3]`` in [0, 255] before noise, landmarks ``[5, 2]`` in [0, 1] and
    the face region (centre, half axes, roll) in photo pixels. ``texture``: ``p``'s
    :func:`texture` at this size, if already made; without ``room``, a black background."""
    canvas = size * SUPERSAMPLE
    pose = pose_from or shot
    shot = {**shot, "yaw": pose["yaw"]}
    head, geo = _draw_head(p, shot, canvas)
    # reduced to the photo's size (transparent pixels are black: premultiplied by coverage),
    # then textured and lit in the canonical frame, then posed
    px = cv2.resize(np.asarray(head), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    if texture is None:
        texture = _texture(p, size)
    shade = texture * _light(shot, size)
    warmth = shot["warmth"]
    tone = np.float32(shot["exposure"]) * np.array([1 + warmth, 1, 1 - warmth], np.float32)
    px[..., :3] *= shade[..., None] * tone

    # pose: canonical face units -> photo face units, x' = s R x + t
    c, s_, k = math.cos(pose["roll"]), math.sin(pose["roll"]), pose["scale"]
    tx, ty = pose["shift"]
    half = size / 2
    origin = 1 / (2 * half) - 1  # the first pixel's centre
    to_units = np.array([[1 / half, 0, origin], [0, 1 / half, origin], [0, 0, 1]])
    pose_m = np.array([[k * c, -k * s_, tx], [k * s_, k * c, ty], [0, 0, 1]])
    m = (np.linalg.inv(to_units) @ pose_m @ to_units)[:2]
    head_px = cv2.warpAffine(
        px, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    out = _room(shot, size, rng) if room else np.zeros((size, size, 3), np.float32)
    out *= 1 - np.clip(head_px[..., 3:], 0, 255) / 255
    out += head_px[..., :3]

    def to_photo(x, y):
        return (k * (c * x - s_ * y) + tx + 1) / 2, (k * (s_ * x + c * y) + ty + 1) / 2

    lms = np.array(
        [
            to_photo(*geo["landmarks"][name])
            for name in ("eye_l", "eye_r", "nose", "mouth_l", "mouth_r")
        ],
        np.float32,
    )
    cx, cy, rx, ry = geo["region"]
    (ux, uy), scale = to_photo(cx, cy), k * size / 2
    region = (ux * size, uy * size, rx * scale, ry * scale, pose["roll"])
    return out, np.clip(lms, 0.001, 0.999), region


def _ellipse_mask(size: int, region, feather: float) -> np.ndarray:
    """A soft elliptic mask ``[size, size]`` of the face region, ``feather`` pixels wide."""
    cx, cy, rx, ry, roll = region
    line = np.arange(size, dtype=np.float32) + 0.5
    x, y = line[None, :] - cx, line[:, None] - cy
    c, s = math.cos(roll), math.sin(roll)
    u, v = c * x + s * y, -s * x + c * y
    r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    return np.clip((1 - r) * min(rx, ry) / max(feather, 0.3) + 0.5, 0, 1)


def render_fake(
    source: dict,
    target: dict,
    shot: dict,
    source_shot: dict,
    size: int,
    strength: float,
    rng: np.random.Generator,
    source_texture: np.ndarray | None = None,
):
    """``source``'s face region, from a photo of ``source`` aligned to a photo of ``target``,
    pasted onto it with a colour mismatch, resampling blur and a seam that grow with
    ``strength``."""
    base, lms, region = render_photo(target, shot, size, rng)
    face, _, _ = render_photo(
        source, source_shot, size, rng, pose_from=shot, texture=source_texture, room=False
    )
    # the soft mask of the swapped region; narrower feather with strength
    mask = _ellipse_mask(size, region, feather=(1 - strength) * size / 14 + size / 64)[..., None]
    # colour: matched to the target's region in proportion to 1 - strength
    w = mask[..., 0] > 0.5
    if w.any():
        mu_b, mu_f = base[w].mean(0), face[w].mean(0)
        sd_b, sd_f = base[w].std(0) + 1, face[w].std(0) + 1
        matched = (face - mu_f) * (sd_b / sd_f) + mu_b
        face = matched + strength * (face - matched)
    face = face * (1 + strength * rng.normal(0, 0.05, 3))
    # resampling: the region went through a lower resolution
    low = max(8, int(round(size / (1 + 1.8 * strength))))
    if low < size:
        small = cv2.resize(np.clip(face, 0, 255), (low, low), interpolation=cv2.INTER_LINEAR)
        face = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    out = base * (1 - mask) + face * mask
    # the seam: a bright or dark ring along the region's edge
    ring = (mask * (1 - mask))[..., 0] * 4
    out += (strength * 28 * rng.choice([-1, 1]) * ring)[..., None]
    return out, lms


def _finish(pixels: np.ndarray, shot: dict, rng: np.random.Generator) -> bytes:
    noisy = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(shot["noise"])
    return encode_jpeg(np.clip(noisy + 0.5, 0, 255).astype(np.uint8), shot["quality"])


def render_identity(
    people: list[dict], ident: int, targets: np.ndarray, cfg: RenderConfig
) -> list[tuple]:
    """The photos of identity ``ident``: reals, then fakes onto ``targets``."""
    rng = np.random.default_rng([cfg.seed, 0x9047, ident])
    p = people[ident]
    texture = _texture(p, cfg.image_size)
    out = []
    for _ in range(cfg.n_real):
        shot = sample_shot(rng, p)
        pixels, lms, _ = render_photo(p, shot, cfg.image_size, rng, texture=texture)
        out.append((_finish(pixels, shot, rng), lms, False))
    for t in targets:
        head = people[int(t)]
        shot = sample_shot(rng, head)
        pixels, lms = render_fake(
            p,
            head,
            shot,
            sample_shot(rng, p),
            cfg.image_size,
            cfg.fake_strength,
            rng,
            source_texture=texture,
        )
        out.append((_finish(pixels, shot, rng), lms, True))
    return out


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, is_fake), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0x9047])
    people = [sample_person(rng) for _ in range(cfg.n_all)]
    # swaps are made onto heads with the same hair style, a close hair colour and skin tone
    look = np.array(
        [
            [
                q["tone"] * 3,
                q["face_w"] * 20,
                *(q["hair"] / 25),
                *(6.0 * (np.array(HAIR_STYLES) == q["style"])),
            ]
            for q in people
        ]
    )
    targets = lookalike_targets(rng, cfg, look, nearest=2)
    return [render_identity(people, i, targets[i], cfg) for i in range(cfg.n_all)]


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
    """Render a data set in the official layout into ``out_dir`` (6-digit folder names,
    unpadded ids in meta.json keys); deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(
        identities, image_size, n_real, n_fake, fake_strength, seed, n_test_pairs, test_identities
    )
    return write_layout(out_dir, cfg, render_all(cfg), renderer=NAME, folder_width=6, meta_width=0)


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    run_cli(NAME, write_dataset, __doc__, argv)


if __name__ == "__main__":
    main()

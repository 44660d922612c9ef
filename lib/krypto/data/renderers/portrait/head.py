"""A person's head drawn with PIL shapes in the canonical frame (before pose): hair, clothes,
ears, the face with its beard, eyes, brows, nose, mouth, freckles and moles, and glasses.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw


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


def rgb(c, scale=1.0):
    """A colour (3 numbers) times ``scale`` as 8-bit RGB."""
    r, g, b = c
    return (
        min(max(int(r * scale), 0), 255),
        min(max(int(g * scale), 0), 255),
        min(max(int(b * scale), 0), 255),
    )


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


def draw_head(p: dict, shot: dict, canvas: int) -> tuple[Image.Image, dict]:
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
        d.rounded_rectangle(box, radius=int(F.k * 0.2), fill=rgb(hair, 0.8))
    if style == "bun":
        d.ellipse(F.box(0, top - 0.05, 0.12, 0.09), fill=rgb(hair, 0.9))
    clothes = shot["clothes"]
    d.ellipse(F.box(0, 1.25, 0.9, 0.5), fill=rgb(clothes))
    neck_w = fw * 0.5
    d.rectangle(F.box(0, 0.55, neck_w, 0.3), fill=rgb(skin, 0.8))
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
            fill=rgb(clothes, 1.3),
        )
    elif shot["collar"] == 2:
        d.polygon(F.poly([(-neck_w, 0.75), (0, 0.95), (neck_w, 0.75)]), fill=rgb(skin, 0.75))
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
                fill=rgb(hair, 0.9),
            )
    if style == "curls":
        for a, r, s in p["curls"]:
            t = math.pi * (0.95 + 1.1 * a)
            rad = 1 + vol * 2 + 0.08 * r
            x, y = math.cos(t) * fw * rad, cy + math.sin(t) * fh * rad * 0.95
            d.ellipse(F.box(x, y, 0.05 + 0.05 * s, 0.05 + 0.05 * s), fill=rgb(hair, 0.8 + 0.3 * s))

    # ears with earrings, then the face
    for side in (-1, 1):
        ex = side * (fw - 0.01)
        d.ellipse(F.box(ex, cy + 0.02, 0.045 * p["ear"], 0.085 * p["ear"]), fill=rgb(skin, 0.92))
        d.ellipse(
            F.box(ex + side * 0.01, cy + 0.02, 0.02 * p["ear"], 0.05 * p["ear"]),
            fill=rgb(skin, 0.75),
        )
        if p["earrings"]:
            d.ellipse(F.box(ex, cy + 0.1 * p["ear"], 0.013, 0.013), fill=rgb(p["earring"]))
    outline = p["outline"]
    d.polygon(F.poly(outline), fill=rgb(skin))
    # cheeks: a touch of colour; the jaw: a shadow under the chin on the neck
    for side in (-1, 1):
        d.ellipse(
            F.box(side * fw * 0.55 + yaw, cy + 0.12, 0.06, 0.035),
            fill=rgb(skin_a * 0.93 + p["lips"] * 0.07),
        )

    # beard
    mouth_y = cy + p["eye_y"] + p["nose_len"] + p["mouth_gap"]
    beard = p["beard"]
    beard_colour = rgb(hair, 0.85)
    if beard in ("full", "stubble"):
        jaw = [(x, y) for x, y in outline if y > mouth_y - 0.1]
        jaw.sort(key=lambda q: math.atan2(q[1] - cy, q[0]))
        pts = jaw + [(-fw * 0.65 + yaw, mouth_y - 0.07), (fw * 0.65 + yaw, mouth_y - 0.07)][::-1]
        colour = beard_colour if beard == "full" else rgb(skin_a * 0.7 + hair_a * 0.3)
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
        d.ellipse(F.box(ix, iy, r, r), fill=rgb(p["iris"]))
        d.ellipse(F.box(ix, iy, r * 0.45, r * 0.45), fill=(15, 12, 12))
        d.ellipse(F.box(ix + r * 0.35, iy - r * 0.35, r * 0.2, r * 0.2), fill=(250, 250, 250))
        # the lids hide what of the iris lies outside the eye's opening
        lift = 2.2 * r
        above = [(x, y - lift) for x, y in top_arc[::-1]]
        below = [(x, y + lift) for x, y in bottom_arc[::-1]]
        d.polygon(F.poly(top_arc + above), fill=rgb(skin))
        d.polygon(F.poly(bottom_arc + below), fill=rgb(skin))
        width = max(1, int(F.k * 0.012 * (1.6 if p["lashes"] else 1)))
        d.line(F.poly(top_arc), fill=(35, 25, 22), width=width)
        d.line(F.poly(bottom_arc), fill=rgb(skin, 0.72), width=1)
        lms["eye_l" if side < 0 else "eye_r"] = (ex, eye_y)

    # brows
    brow_y = eye_y - p["brow_gap"] - 0.02 * shot["raise"]
    brow_colour = rgb(hair_a * 0.6 + np.array([20, 15, 12]) * 0.4)
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
        fill=rgb(skin, 0.82),
        width=max(1, int(F.k * 0.012)),
    )
    d.ellipse(F.box(nx, nose_y - 0.01, nw * 0.55, nw * 0.4), fill=rgb(skin, 1.04))
    for side in (-1, 1):
        d.ellipse(
            F.box(nx + side * nw * 0.5, nose_y + 0.005, nw * 0.25, nw * 0.15), fill=rgb(skin, 0.5)
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
    d.polygon(F.poly(upper + [(mx, mouth_y + 0.003)]), fill=rgb(p["lips"]))
    d.polygon(F.poly(lower + [(mx, mouth_y + gap)]), fill=rgb(p["lips"], 1.08))
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
            fill=rgb(p["lips"], 0.55),
            width=1,
        )
    lms["mouth_l"], lms["mouth_r"] = (mx - mw, corner_y), (mx + mw, corner_y)

    # freckles and moles
    for fx, fy in p["freckles"]:
        x, y = fx * fw * 0.6 + yaw, cy + 0.05 + fy * 0.08
        d.ellipse(F.box(x, y, 0.006, 0.006), fill=rgb(skin, 0.78))
    for mxx, myy in p["moles"]:
        d.ellipse(
            F.box(mxx * fw * 0.7 + yaw, cy + myy * fh * 0.6, 0.011, 0.011), fill=rgb(skin, 0.45)
        )

    # hair on top, down to a hairline
    if style != "bald":
        _draw_top_hair(d, F, p, cy, top)

    # glasses
    if shot["wear_glasses"]:
        frame, w = rgb(p["frame"]), max(1, int(F.k * 0.01 * p["frame_w"]))
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
    colour = rgb(hair)
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
        d.line(F.poly([(part, top + 0.02), (part, line - 0.04)]), fill=rgb(hair, 0.7), width=1)

"""A person's head drawn with PIL shapes in the canonical frame (before pose): hair, clothes,
ears, the face with its beard, eyes, brows, nose, mouth, freckles and moles, and glasses.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw


def rgb(c, scale=1.0):
    """A colour (3 numbers) times ``scale`` as 8-bit RGB."""
    return tuple(min(max(int(v * scale), 0), 255) for v in c)


class _Pen:
    """PIL drawing in face units (x right, y down, the canvas spans [-1, 1])."""

    def __init__(self, canvas: int):
        self.img = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
        self.d = ImageDraw.Draw(self.img)
        self.k = canvas / 2

    def box(self, cx, cy, rx, ry):
        k = self.k
        return [(cx - rx + 1) * k, (cy - ry + 1) * k, (cx + rx + 1) * k, (cy + ry + 1) * k]

    def poly(self, points):
        k = self.k
        return [((x + 1) * k, (y + 1) * k) for x, y in points]

    def ellipse(self, cx, cy, rx, ry, fill=None, **style):
        self.d.ellipse(self.box(cx, cy, rx, ry), fill=fill, **style)

    def polygon(self, points, fill):
        self.d.polygon(self.poly(points), fill=fill)

    def line(self, points, fill, width=1):
        self.d.line(self.poly(points), fill=fill, width=width)


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
    head = _Head(p, shot, _Pen(canvas))
    for part in (head.back, head.face, head.beard, head.eyes, head.brows, head.nose, head.mouth):
        part()
    head.marks()
    if p["style"] != "bald":
        head.top_hair()
    if shot["wear_glasses"]:
        head.glasses()
    eye_y, mouth_y = head.eye_y, head.mouth_y
    region = (
        head.yaw,
        (eye_y - p["brow_gap"] + mouth_y + 0.05) / 2,
        p["eye_gap"] + p["eye_w"] + 0.04,
        (mouth_y + 0.05 - eye_y + p["brow_gap"]) / 2 + 0.03,
    )
    return head.pen.img, {"landmarks": head.lms, "region": region}


class _Head:
    """The parts of one head, drawn in order by :func:`draw_head`."""

    def __init__(self, p: dict, shot: dict, pen: _Pen):
        self.p, self.shot, self.pen, self.lms = p, shot, pen, {}
        self.skin, self.hair = p["skin"].tolist(), p["hair"].tolist()  # plain floats: faster
        self.fw, self.fh, self.cy = p["face_w"], p["face_h"], 0.06
        self.top = self.cy - self.fh
        self.frame = self.fw, self.cy, self.top
        self.yaw = shot["yaw"] * 0.045  # the inner face moves sideways, the nose more
        self.mouth_y = self.cy + p["eye_y"] + p["nose_len"] + p["mouth_gap"]
        self.eye_y = self.cy + p["eye_y"]

    def back(self):
        """Hair behind the head, clothes and neck."""
        p, pen, hair, skin, fw, cy, top = self.p, self.pen, self.hair, self.skin, *self.frame
        style, vol, clothes = p["style"], p["hair_vol"], self.shot["clothes"]
        if style in ("long", "bob"):
            end = cy + (p["hair_len"] if style == "long" else 0.12)
            box = pen.box(0, (top + end) / 2 + 0.05, fw + vol + 0.03, (end - top) / 2 + 0.05)
            pen.d.rounded_rectangle(box, radius=int(pen.k * 0.2), fill=rgb(hair, 0.8))
        if style == "bun":
            pen.ellipse(0, top - 0.05, 0.12, 0.09, rgb(hair, 0.9))
        pen.ellipse(0, 1.25, 0.9, 0.5, rgb(clothes))
        neck_w = fw * 0.5
        pen.d.rectangle(pen.box(0, 0.55, neck_w, 0.3), fill=rgb(skin, 0.8))
        if self.shot["collar"] == 1:
            xs = (-neck_w * 1.3, 0, neck_w * 1.3, neck_w, 0, -neck_w)
            pen.polygon(zip(xs, (0.78, 0.95, 0.78, 0.74, 0.86, 0.74)), rgb(clothes, 1.3))
        elif self.shot["collar"] == 2:
            pen.polygon([(-neck_w, 0.75), (0, 0.95), (neck_w, 0.75)], rgb(skin, 0.75))
        if style == "long":
            end = cy + p["hair_len"]
            for side in (-1, 1):
                xs = (fw - 0.02, fw + vol + 0.03, fw + vol + 0.06, fw - 0.05)
                ys = (cy, cy, end + 0.08, end)
                pen.polygon([(side * x, y) for x, y in zip(xs, ys)], rgb(hair, 0.9))
        if style == "curls":
            for a, r, s in p["curls"]:
                t = math.pi * (0.95 + 1.1 * a)
                rad = 1 + vol * 2 + 0.08 * r
                x, y = math.cos(t) * fw * rad, cy + math.sin(t) * self.fh * rad * 0.95
                pen.ellipse(x, y, 0.05 + 0.05 * s, 0.05 + 0.05 * s, rgb(hair, 0.8 + 0.3 * s))

    def face(self):
        """Ears with earrings, the face, and a touch of colour on the cheeks."""
        p, pen, skin, fw, cy = self.p, self.pen, self.skin, self.fw, self.cy
        ear = p["ear"]
        for side in (-1, 1):
            ex = side * (fw - 0.01)
            pen.ellipse(ex, cy + 0.02, 0.045 * ear, 0.085 * ear, rgb(skin, 0.92))
            pen.ellipse(ex + side * 0.01, cy + 0.02, 0.02 * ear, 0.05 * ear, rgb(skin, 0.75))
            if p["earrings"]:
                pen.ellipse(ex, cy + 0.1 * ear, 0.013, 0.013, rgb(p["earring"]))
        pen.polygon(p["outline"], rgb(skin))
        for side in (-1, 1):
            cheek = rgb(p["skin"] * 0.93 + p["lips"] * 0.07)
            pen.ellipse(side * fw * 0.55 + self.yaw, cy + 0.12, 0.06, 0.035, cheek)

    def beard(self):
        p, pen, fw, cy, yaw, mouth_y = self.p, self.pen, self.fw, self.cy, self.yaw, self.mouth_y
        beard, colour, mw = p["beard"], rgb(self.hair, 0.85), p["mouth_w"]
        if beard in ("full", "stubble"):
            jaw = [(x, y) for x, y in p["outline"] if y > mouth_y - 0.1]
            jaw.sort(key=lambda q: math.atan2(q[1] - cy, q[0]))
            edge = [(-fw * 0.65 + yaw, mouth_y - 0.07), (fw * 0.65 + yaw, mouth_y - 0.07)]
            stubble = rgb(p["skin"] * 0.7 + p["hair"] * 0.3)
            pen.polygon(jaw + edge[::-1], colour if beard == "full" else stubble)
        if beard == "goatee":
            pen.ellipse(yaw, mouth_y + 0.06, mw * 0.7, 0.06, colour)
        if beard in ("moustache", "full", "goatee"):
            xs = (-mw * 1.1 + yaw, yaw, mw * 1.1 + yaw, yaw)
            ys = (mouth_y + 0.01, mouth_y - 0.035, mouth_y + 0.01, mouth_y - 0.012)
            pen.polygon(zip(xs, ys), colour)

    def eyes(self):
        """White, iris, pupil, glint, upper lid line and lashes."""
        p, pen, skin, eye_y = self.p, self.pen, self.skin, self.eye_y
        gx, gy = self.shot["gaze"]
        for side in (-1, 1):
            ex = side * p["eye_gap"] + self.yaw
            top_arc, bottom_arc = _almond(
                ex, eye_y, p["eye_w"], p["eye_h"], side * p["eye_slant"], self.shot["eye_open"]
            )
            pen.polygon(top_arc + bottom_arc[::-1], (238, 236, 230))
            r = p["eye_h"] * 1.1
            ix, iy = ex + gx * p["eye_w"] * 0.35, eye_y + gy * p["eye_h"] * 0.2
            pen.ellipse(ix, iy, r, r, rgb(p["iris"]))
            pen.ellipse(ix, iy, r * 0.45, r * 0.45, (15, 12, 12))
            pen.ellipse(ix + r * 0.35, iy - r * 0.35, r * 0.2, r * 0.2, (250, 250, 250))
            # the lids hide what of the iris lies outside the eye's opening
            lift = 2.2 * r
            pen.polygon(top_arc + [(x, y - lift) for x, y in top_arc[::-1]], rgb(skin))
            pen.polygon(bottom_arc + [(x, y + lift) for x, y in bottom_arc[::-1]], rgb(skin))
            width = max(1, int(pen.k * 0.012 * (1.6 if p["lashes"] else 1)))
            pen.line(top_arc, (35, 25, 22), width)
            pen.line(bottom_arc, rgb(skin, 0.72))
            self.lms["eye_l" if side < 0 else "eye_r"] = (ex, eye_y)

    def brows(self):
        p = self.p
        brow_y = self.eye_y - p["brow_gap"] - 0.02 * self.shot["raise"]
        colour = rgb(p["hair"] * 0.6 + np.array([20, 15, 12]) * 0.4)
        for side in (-1, 1):
            inner = side * (p["eye_gap"] - p["brow_len"] * 0.6) + self.yaw
            outer = side * (p["eye_gap"] + p["brow_len"]) + self.yaw
            mid = (inner + outer) / 2
            arch = brow_y - p["brow_arch"]
            h = p["brow_h"]
            xs = (inner, mid, outer, outer, mid, inner)
            ys = (brow_y + h * 0.4, arch - h * 0.5, brow_y + 0.01)
            ys += (brow_y + 0.01 + h * 0.3, arch + h * 0.6, brow_y + h * 1.3)
            self.pen.polygon(zip(xs, ys), colour)

    def nose(self):
        """A shadow along one side, the tip, nostrils."""
        p, pen, skin, eye_y = self.p, self.pen, self.skin, self.eye_y
        nose_y = eye_y + p["nose_len"]
        nx = self.yaw * 1.6
        nw = p["nose_w"]
        shadow = [(nx - nw * 0.3, eye_y + 0.02), (nx - nw * 0.55, nose_y - 0.015)]
        pen.line(shadow, rgb(skin, 0.82), max(1, int(pen.k * 0.012)))
        pen.ellipse(nx, nose_y - 0.01, nw * 0.55, nw * 0.4, rgb(skin, 1.04))
        for side in (-1, 1):
            pen.ellipse(nx + side * nw * 0.5, nose_y + 0.005, nw * 0.25, nw * 0.15, rgb(skin, 0.5))
        self.lms["nose"] = (nx, nose_y)

    def mouth(self):
        """Lips bent by the smile, open or closed."""
        p, pen, shot, mouth_y, lips = self.p, self.pen, self.shot, self.mouth_y, self.p["lips"]
        mw = p["mouth_w"] * (1 + 0.12 * shot["smile"])
        mx = self.yaw * 1.2
        bend = 0.03 * shot["smile"]
        gap = 0.025 * shot["open"]
        corner_y = mouth_y - bend
        xs = (mx - mw, mx - mw * 0.4, mx, mx + mw * 0.4, mx + mw, mx)
        ys = (
            corner_y,
            mouth_y - p["lip_top"],
            mouth_y - p["lip_top"] * 0.7,
            mouth_y - p["lip_top"],
        )
        pen.polygon(zip(xs, ys + (corner_y, mouth_y + 0.003)), rgb(lips))
        xs = (mx + mw, mx + mw * 0.4, mx - mw * 0.4, mx - mw, mx)
        low = mouth_y + gap + p["lip_bottom"]
        pen.polygon(zip(xs, (corner_y, low, low, corner_y, mouth_y + gap)), rgb(lips, 1.08))
        if gap > 0.006:
            xs = (mx - mw * 0.8, mx, mx + mw * 0.8, mx)
            ys = (corner_y + 0.002, mouth_y + 0.003, corner_y + 0.002, mouth_y + gap)
            pen.polygon(zip(xs, ys), (60, 25, 25))
        else:
            closed = [(mx - mw, corner_y), (mx, mouth_y + 0.004), (mx + mw, corner_y)]
            pen.line(closed, rgb(lips, 0.55))
        self.lms["mouth_l"], self.lms["mouth_r"] = (mx - mw, corner_y), (mx + mw, corner_y)

    def marks(self):
        """Freckles and moles."""
        p, pen, skin, fw, cy, yaw = self.p, self.pen, self.skin, self.fw, self.cy, self.yaw
        for fx, fy in p["freckles"]:
            pen.ellipse(fx * fw * 0.6 + yaw, cy + 0.05 + fy * 0.08, 0.006, 0.006, rgb(skin, 0.78))
        for mx, my in p["moles"]:
            pen.ellipse(mx * fw * 0.7 + yaw, cy + my * self.fh * 0.6, 0.011, 0.011, rgb(skin, 0.45))

    def top_hair(self):
        """The hair over the head's top, down to a hairline, by style."""
        p, pen, fw, cy, top = self.p, self.pen, *self.frame
        hair, style, vol = p["hair"], p["style"], p["hair_vol"]
        colour = rgb(hair)
        if style == "buzz":
            vol = 0.012
        crown = pen.box(0, top + 0.16, fw + vol + 0.01, 0.2 + vol * 0.5)
        pen.d.pieslice(crown, 180, 360, fill=colour)
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
            curl = 0.012 * (i % 2) if style == "curls" else 0
            pts.append((x, line + 0.1 * (abs(x) / fw) ** 2.5 - dip + curl))
        pen.polygon(pts + [(fw + 0.005, cy - 0.05), (fw + vol + 0.01, top + 0.16)], colour)
        if style == "side_part":
            pen.line([(part, top + 0.02), (part, line - 0.04)], rgb(hair, 0.7))

    def glasses(self):
        p, pen, yaw, eye_y = self.p, self.pen, self.yaw, self.eye_y
        frame, w = rgb(p["frame"]), max(1, int(pen.k * 0.01 * p["frame_w"]))
        rx, ry = p["eye_w"] * 1.5, p["eye_h"] * 2.6
        for side in (-1, 1):
            ex = side * p["eye_gap"] + yaw
            if p["glasses_round"]:
                pen.ellipse(ex, eye_y + 0.005, rx, ry, outline=frame, width=w)
            else:
                box = pen.box(ex, eye_y + 0.005, rx, ry)
                pen.d.rounded_rectangle(box, radius=int(pen.k * 0.02), outline=frame, width=w)
            arm = [(ex + side * rx, eye_y - ry * 0.5), (side * (self.fw + 0.005), eye_y - 0.01)]
            pen.line(arm, frame, w)
        xs = (yaw - p["eye_gap"] + rx, yaw, yaw + p["eye_gap"] - rx)
        pen.line(zip(xs, (eye_y - 0.005, eye_y - 0.015, eye_y - 0.005)), frame, w)

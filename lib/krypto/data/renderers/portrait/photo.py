"""A photo of a person: the head drawn with PIL shapes in the canonical frame, reduced, textured
with the person's skin, lit, posed and set in a room out of focus; and a fake: a person's face
region pasted from a photo of them onto a photo of the host, aligned to its pose, with a colour
mismatch, resampling blur and a seam that grow with ``fake_strength``. Images are float RGB
``[size, size, 3]`` in [0, 1]."""

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw

from krypto.data.renderers.pixels import pose_points, seam, soft_ellipse

CENTRE_Y = 0.06  # the face's centre in the canonical frame
SUPERSAMPLE = 2  # heads drawn at twice the size, then reduced (anti-aliasing)


def rgb(c, scale=1.0):
    """A colour (3 numbers) times ``scale`` as 8-bit RGB."""
    return tuple(min(max(int(v * scale), 0), 255) for v in c)


class Pen:
    """PIL drawing on a transparent canvas in face units (x right, y down, from -1 to 1)."""

    def __init__(self, canvas: int):
        self.img = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.img)
        self.k = canvas / 2

    def xy(self, points):
        return [((x + 1) * self.k, (y + 1) * self.k) for x, y in points]

    def box(self, cx, cy, rx, ry):
        return self.xy([(cx - rx, cy - ry), (cx + rx, cy + ry)])

    def ellipse(self, cx, cy, rx, ry, fill):
        self.draw.ellipse(self.box(cx, cy, rx, ry), fill=fill)

    def polygon(self, points, fill):
        self.draw.polygon(self.xy(points), fill=fill)

    def line(self, points, fill, width=0.0):
        """A line ``width`` face units wide (at least a pixel)."""
        self.draw.line(self.xy(points), fill=fill, width=max(1, int(self.k * width)))


def draw_head(p: dict, shot: dict, canvas: int) -> tuple[Image.Image, np.ndarray, tuple]:
    """The head of ``p`` in the conditions ``shot`` on a transparent ``canvas``-pixel square, its
    five landmarks ``[5, 2]`` and its face region (centre x, y, half axes) in face units."""
    pen, skin, hair, fw = Pen(canvas), p["skin"], p["hair"], p["face_w"]
    top, yaw = CENTRE_Y - p["face_h"], shot["yaw"] * 0.045  # the inner face moves with yaw
    eye_y = CENTRE_Y + p["eye_y"]
    nose_y = eye_y + p["nose_len"]
    mouth_y = nose_y + p["mouth_gap"]
    if p["hair_len"] > 0:  # hair behind the head
        end = CENTRE_Y + p["hair_len"]
        box = pen.box(0, (top + end) / 2 + 0.05, fw + p["hair_vol"] + 0.03, (end - top) / 2 + 0.05)
        pen.draw.rounded_rectangle(box, radius=int(pen.k * 0.2), fill=rgb(hair, 0.8))
    pen.ellipse(0, 1.25, 0.9, 0.5, rgb(shot["clothes"]))
    pen.draw.rectangle(pen.box(0, 0.55, fw * 0.5, 0.3), fill=rgb(skin, 0.8))  # the neck
    ear = p["ear"] * np.array([0.045, 0.085])  # half width and height
    for side in (-1, 1):
        pen.ellipse(side * (fw - 0.01), CENTRE_Y + 0.02, *ear, rgb(skin, 0.9))
    pen.polygon(p["outline"], rgb(skin))
    if p["beard"] == "full":
        pen.ellipse(yaw, mouth_y + 0.05, p["mouth_w"] * 1.6, 0.1, rgb(hair, 0.85))
    if p["beard"] != "none":  # a moustache
        xs = np.array([-1.1, 0, 1.1, 0]) * p["mouth_w"] + yaw
        pen.polygon(zip(xs, mouth_y + np.array([0.01, -0.035, 0.01, -0.012])), rgb(hair, 0.85))
    eyes = _eyes(pen, p, shot, eye_y, yaw)
    _brows(pen, p, eye_y - p["brow_gap"] - 0.02 * shot["raise"], yaw)
    nose = _nose(pen, p, nose_y, yaw)
    mouth = _mouth(pen, p, shot, mouth_y, yaw)
    if p["style"] != "bald":
        _top_hair(pen, p, top)
    if shot["wear_glasses"]:
        _glasses(pen, p, eye_y, yaw)
    landmarks = np.array(eyes + [nose] + mouth, np.float32)
    up, down = eye_y - p["brow_gap"], mouth_y + 0.05
    region = (yaw, (up + down) / 2, p["eye_gap"] + p["eye_w"] + 0.04, (down - up) / 2 + 0.03)
    return pen.img, landmarks, region


def _eyes(pen: Pen, p: dict, shot: dict, eye_y: float, yaw: float) -> list:
    """White, iris and pupil looking along the gaze, within the eye's opening, and the upper
    lid; the eyes' centres."""
    gx, gy = shot["gaze"]
    r, opening = p["eye_h"] * 1.1, p["eye_h"] * shot["eye_open"]
    for side in (-1, 1):
        ex = side * p["eye_gap"] + yaw
        pen.ellipse(ex, eye_y, p["eye_w"], opening, (238, 236, 230))
        ix, iy, ry = ex + gx * p["eye_w"] * 0.35, eye_y + gy * opening * 0.2, min(r, opening * 0.8)
        pen.ellipse(ix, iy, r, ry, rgb(p["iris"]))
        pen.ellipse(ix, iy, r * 0.45, ry * 0.45, (15, 12, 12))
        lid = pen.box(ex, eye_y, p["eye_w"], opening)
        pen.draw.arc(lid, 180, 360, fill=(35, 25, 22), width=max(1, int(pen.k * 0.012)))
    return [(-p["eye_gap"] + yaw, eye_y), (p["eye_gap"] + yaw, eye_y)]


def _brows(pen: Pen, p: dict, brow_y: float, yaw: float) -> None:
    """Arched strokes as thick as the person's brows."""
    for side in (-1, 1):
        inner = side * (p["eye_gap"] - p["brow_len"] * 0.6) + yaw
        outer = side * (p["eye_gap"] + p["brow_len"]) + yaw
        stroke = [(inner, brow_y), ((inner + outer) / 2, brow_y - p["brow_arch"]), (outer, brow_y)]
        pen.line(stroke, rgb(p["hair"] * 0.6 + 8), p["brow_h"])


def _nose(pen: Pen, p: dict, nose_y: float, yaw: float) -> tuple:
    """The tip of the nose, and its place."""
    nx, nw, skin = yaw * 1.6, p["nose_w"], p["skin"]
    pen.ellipse(nx, nose_y - 0.01, nw * 0.55, nw * 0.4, rgb(skin, 1.04))
    return nx, nose_y


def _mouth(pen: Pen, p: dict, shot: dict, mouth_y: float, yaw: float) -> list:
    """Lips bent by the smile, parted by a dark gap when open; the mouth's corners."""
    mw, mx, lips = p["mouth_w"] * (1 + 0.12 * shot["smile"]), yaw * 1.2, p["lips"]
    corner, gap = mouth_y - 0.03 * shot["smile"], 0.025 * shot["open"]
    upper, lower = mouth_y - p["lip_top"], mouth_y + gap + p["lip_bottom"]
    xs = mx + mw * np.array([-1, -0.4, 0, 0.4, 1, 0.4, -0.4])
    ys = (corner, upper, mouth_y - 0.7 * p["lip_top"], upper, corner, lower, lower)
    pen.polygon(zip(xs, ys), rgb(lips))
    parting = [(mx - mw, corner), (mx, mouth_y + gap), (mx + mw, corner)]
    if gap > 0.006:
        pen.polygon(parting + [(mx, mouth_y)], (60, 25, 25))
    else:
        pen.line(parting, rgb(lips, 0.55))
    return [(mx - mw, corner), (mx + mw, corner)]


def _top_hair(pen: Pen, p: dict, top: float) -> None:
    """The hair over the head's top, down to a hairline: lower with a fringe, parted to one side
    for a side parting."""
    fw, style, colour = p["face_w"], p["style"], rgb(p["hair"])
    vol = 0.012 if style == "buzz" else p["hair_vol"]
    crown = pen.box(0, top + 0.16, fw + vol + 0.01, 0.2 + vol * 0.5)
    pen.draw.pieslice(crown, 180, 360, fill=colour)
    part = p["parting"] * fw * 0.5
    line = top + 0.12 + (0.0 if style == "buzz" else 0.1 * p["fringe"])
    x = np.linspace(-fw, fw, 10)
    dip = 0.06 * np.exp(-(((x - part) / 0.1) ** 2)) * (style == "side_part")
    edge = [(-fw - vol - 0.01, top + 0.16), (-fw - 0.005, CENTRE_Y - 0.05)]
    edge += list(zip(x, line + 0.1 * (np.abs(x) / fw) ** 2.5 - dip))
    pen.polygon(edge + [(fw + 0.005, CENTRE_Y - 0.05), (fw + vol + 0.01, top + 0.16)], colour)


def _glasses(pen: Pen, p: dict, eye_y: float, yaw: float) -> None:
    """Oval rims (rounder for ``glasses_round``) and a bridge."""
    frame, w = rgb(p["frame"]), 0.01 * p["frame_w"]
    rx, ry = p["eye_w"] * 1.5, p["eye_h"] * (2.6 if p["glasses_round"] else 2.0)
    for side in (-1, 1):
        rim = pen.box(side * p["eye_gap"] + yaw, eye_y + 0.005, rx, ry)
        pen.draw.ellipse(rim, outline=frame, width=max(1, int(pen.k * w)))
    xs = (yaw - p["eye_gap"] + rx, yaw, yaw + p["eye_gap"] - rx)
    pen.line(zip(xs, (eye_y - 0.005, eye_y - 0.015, eye_y - 0.005)), frame, w)


def _room(shot: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """A wall, a floor and frames, windows and lamps of their own colours, out of focus."""
    wall = np.asarray(shot["wall"], float)
    img = Image.new("RGB", (size, size), rgb(wall))
    draw = ImageDraw.Draw(img)
    floor = size * rng.uniform(0.55, 0.9)
    draw.rectangle([0, floor, size, size], fill=rgb(wall, rng.uniform(0.6, 0.9)))
    for _ in range(rng.integers(2, 6)):
        x, y = rng.uniform(0, size, 2)
        w, h = rng.uniform(0.1, 0.4, 2) * size
        colour = rgb(rng.integers(0, 256, 3) * 0.6 + wall * 0.4)
        shape = draw.rectangle if rng.random() < 0.6 else draw.ellipse
        shape([x, y, x + w, y + h], fill=colour, outline=rgb(wall, 0.5), width=max(1, size // 40))
    return cv2.GaussianBlur(np.asarray(img, np.float32) / 255, (0, 0), shot["blur"] * size / 64)


def person_texture(p: dict, size: int) -> np.ndarray:
    """The person's own texture of skin and hair: ``[size, size]`` around 1."""
    rng = np.random.default_rng(p["texture_seed"])
    texture = rng.normal(0, 0.025, (size, size)).astype(np.float32)  # grain
    for cells, weight in ((6, 0.12), (16, 0.06)):  # smooth noise
        small = rng.uniform(-0.5, 0.5, (cells, cells)).astype(np.float32)
        texture += weight * cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return 1 + texture


def render_photo(p: dict, shot: dict, size: int, rng, pose_from=None, texture=None, room=True):
    """A photo of ``p`` in conditions ``shot`` (posed as ``pose_from`` if given; on black without
    ``room``; ``texture``: ``p``'s :func:`person_texture` if made), its landmarks ``[5, 2]`` in
    [0, 1] and its face region (centre, half axes, roll) in pixels."""
    pose = pose_from or shot
    head, landmarks, region = draw_head(p, {**shot, "yaw": pose["yaw"]}, size * SUPERSAMPLE)
    # reduced (transparent pixels are black: premultiplied by coverage), textured and lit in the
    # canonical frame: a gradient along the light's direction, exposure and white balance
    px = cv2.resize(np.asarray(head), (size, size), interpolation=cv2.INTER_AREA)
    px = px.astype(np.float32) / 255
    line = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    a, warmth = shot["light"], shot["warmth"]
    along = (math.cos(a) * line[None, :] + math.sin(a) * (line[:, None] - 0.06)) / 0.45
    light = 1 + shot["light_k"] * (np.tanh(along) - 0.15 * along**2)
    texture = person_texture(p, size) if texture is None else texture
    tone = shot["exposure"] * np.array([1 + warmth, 1, 1 - warmth], np.float32)
    px[..., :3] *= (texture * light)[..., None] * tone

    # pose: face units x' = k R x + t, about the centre of the photo
    k, centre = pose["scale"], size / 2 - 0.5
    m = cv2.getRotationMatrix2D((centre, centre), -math.degrees(pose["roll"]), k)
    m[:, 2] += np.asarray(pose["shift"]) * size / 2
    head_px = cv2.warpAffine(px, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    out = _room(shot, size, rng) if room else np.zeros((size, size, 3), np.float32)
    out *= 1 - np.clip(head_px[..., 3:], 0, 1)
    out += head_px[..., :3]
    points = np.vstack([landmarks, region[:2]])[None]  # the landmarks and the region's centre
    points = pose_points(points, np.array([pose["roll"]]), [k], np.array([pose["shift"]]))[0]
    axes = np.array(region[2:]) * k * size / 2
    return out, np.clip(points[:5], 0.001, 0.999), (*points[5] * size, *axes, pose["roll"])


def render_fake(source, target, shot, source_shot, size, strength, rng, source_texture=None):
    """``source``'s face region from a photo of them (``source_shot``), aligned to a photo of
    ``target`` (``shot``) and pasted onto it with a colour mismatch, resampling blur and a seam
    that grow with ``strength``; and the landmarks."""
    base, landmarks, region = render_photo(target, shot, size, rng)
    face, _, _ = render_photo(
        source, source_shot, size, rng, pose_from=shot, texture=source_texture, room=False
    )
    line = np.arange(size, dtype=np.float32) + 0.5

    def face_region(feather):  # a soft mask of the face region, ``feather`` pixels wide
        cx, cy, rx, ry, roll = region
        return soft_ellipse(line[None, :], line[:, None], cx, cy, rx, ry, feather, roll)[..., None]

    mask = face_region((1 - strength) * size / 14 + size / 64)  # sharper with strength
    # colour: matched to the target's region in proportion to 1 - strength, then cast along a
    # random direction (6 % per channel at strength 1)
    inside = mask[..., 0] > 0.5
    if inside.any():
        mu_b, mu_f = base[inside].mean(0), face[inside].mean(0)
        sd_b, sd_f = base[inside].std(0) + 0.004, face[inside].std(0) + 0.004
        matched = (face - mu_f) * (sd_b / sd_f) + mu_b
        face = matched + strength * (face - matched)
    cast = rng.normal(0, 1, 3)
    cast *= strength * 0.06 * np.sqrt(3) / np.linalg.norm(cast)
    face = face * (1 + cast).astype(np.float32)
    # resampling: the region went through a lower resolution
    low = max(8, int(round(size / (1 + 1.8 * strength))))
    if low < size:
        small = cv2.resize(np.clip(face, 0, 1), (low, low), interpolation=cv2.INTER_LINEAR)
        face = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    out = base + mask * (face - base)
    # the seam: a bright or dark ring along the region's edge
    out += strength * 0.11 * rng.choice([-1, 1]) * seam(face_region(size / 32))
    return out, landmarks

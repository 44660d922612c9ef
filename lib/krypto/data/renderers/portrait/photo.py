"""A real photo of a person: the drawn head reduced to the photo's size, textured with the
person's own skin, lit, posed, and set in a room (a wall with frames, shelves, lamps and plants,
out of focus); a fake: a person's face region cut from a photo of them and pasted onto a photo
of another person, aligned to that head's pose, with a colour mismatch, resampling blur and a
blending seam that grow with ``fake_strength``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw

from krypto.data.renderers.portrait.head import draw_head, rgb

SUPERSAMPLE = 2  # drawn at twice the size, then reduced (anti-aliasing)


def _room(shot: dict, canvas: int, rng: np.random.Generator) -> np.ndarray:
    """A wall with frames, shelves, lamps and plants, out of focus: ``[canvas, canvas, 3]``."""
    wall = np.asarray(shot["wall"], float)
    img = Image.new("RGB", (canvas, canvas), rgb(wall))
    d = ImageDraw.Draw(img)
    r = iter((rng.random(160) * canvas).tolist())  # uniform in [0, canvas), drawn at once
    colours = iter((rng.integers(0, 256, (40, 3)) * 0.6 + wall * 0.4).tolist())
    # the floor or a table: darker
    floor = canvas * (0.55 + 0.35 * next(r) / canvas)
    d.rectangle([0, floor, canvas, canvas], fill=rgb(wall, 0.6 + 0.3 * next(r) / canvas))
    for _ in range(2 + int(next(r) / canvas * 4)):
        kind = int(next(r) / canvas * 4)
        x, y = next(r), next(r)
        w, h = 0.1 * canvas + 0.3 * next(r), 0.1 * canvas + 0.3 * next(r)
        colour = rgb(next(colours))
        if kind == 0:  # a frame or a window
            edge = max(1, canvas // 40)
            d.rectangle([x, y, x + w, y + h], fill=colour, outline=rgb(wall, 0.5), width=edge)
        elif kind == 1:  # a shelf with books
            d.rectangle([0, y, canvas, y + canvas * 0.03], fill=rgb(colour, 0.7))
            for _ in range(2 + int(next(r) / canvas * 4)):
                bx = next(r)
                d.rectangle([bx, y - h * 0.3, bx + canvas * 0.04, y], fill=rgb(next(colours), 1.3))
        elif kind == 2:  # a lamp
            d.ellipse([x, y, x + w * 0.5, y + w * 0.5], fill=rgb(np.minimum(wall * 1.4 + 40, 255)))
        else:  # a plant
            for i in range(5):
                px = x + (next(r) / canvas - 0.5) * w * 0.5
                py = y + (next(r) / canvas - 0.5) * h * 0.5
                d.ellipse([px, py, px + w * 0.25, py + h * 0.2], fill=(40, 90 + 20 * i, 40))
    sigma = shot["blur"] * canvas / 64  # out of focus
    return cv2.GaussianBlur(np.asarray(img, np.float32), (0, 0), sigma)


def person_texture(p: dict, canvas: int) -> np.ndarray:
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


def render_photo(p: dict, shot: dict, size: int, rng, pose_from=None, texture=None, room=True):
    """A photo of ``p`` in conditions ``shot`` (its pose taken from ``pose_from`` if given):
    float RGB ``[size, size, 3]`` in [0, 255] before noise, landmarks ``[5, 2]`` in [0, 1] and
    the face region (centre, half axes, roll) in photo pixels. ``texture``: ``p``'s
    :func:`person_texture` at this size, if already made; without ``room``, a black background."""
    canvas = size * SUPERSAMPLE
    pose = pose_from or shot
    shot = {**shot, "yaw": pose["yaw"]}
    head, geo = draw_head(p, shot, canvas)
    # reduced to the photo's size (transparent pixels are black: premultiplied by coverage),
    # then textured and lit in the canonical frame, then posed
    px = cv2.resize(np.asarray(head), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    if texture is None:
        texture = person_texture(p, size)
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

    names = ("eye_l", "eye_r", "nose", "mouth_l", "mouth_r")
    lms = np.array([to_photo(*geo["landmarks"][name]) for name in names], np.float32)
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


def render_fake(source, target, shot, source_shot, size, strength, rng, source_texture=None):
    """``source``'s face region, from a photo of ``source`` (conditions ``source_shot``, its
    :func:`person_texture` ``source_texture`` if made) aligned to a photo of ``target``
    (``shot``), pasted onto it with a colour mismatch, resampling blur and a seam that grow with
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

"""Portrait: faces drawn with PIL shapes as a painter would, on cluttered rooms, with face
swaps pasted in.

A person is a face outline, a skin tone with its own texture, a hair style and colour, eyes,
brows, nose, lips, ears, freckles and moles, and accessories (glasses, beard, earrings). A photo
varies pose, light, exposure, colour temperature, expression, clothes, the room behind, sensor
noise and JPEG quality.

A fake of person A is A's face region (brows to chin, cheek to cheek) cut from a photo of A and
blended onto a photo of another person (the host: a head with the same hair style and a close
hair colour, skin tone and face width), aligned to that head's pose. With ``fake_strength`` the
paste shows: a colour mismatch, resampling blur and a blending seam.

Folder names are 6-digit zero-padded ids, meta.json keys unpadded.
"""

from __future__ import annotations

import math

import numpy as np

from krypto.data.dataset_writer import encode_jpeg, lookalike_hosts
from krypto.data.renderers import RenderConfig
from krypto.data.renderers.portrait.photo import person_texture, render_fake, render_photo

FOLDER_WIDTHS = (6, 0)  # zero padding of folder names and of meta.json keys (0: none)
HAIR_STYLES = ("crop", "side_part", "long", "bob", "curls", "bun", "buzz", "bald")
_HAIR_P = (0.18, 0.16, 0.18, 0.12, 0.1, 0.08, 0.1, 0.08)
# fmt: off
_HAIR_COLOURS = np.array([[25, 20, 18], [60, 38, 22], [105, 70, 40], [150, 110, 65],
                          [205, 170, 105], [140, 60, 25], [170, 170, 172], [235, 230, 220]])
_HAIR_COLOUR_P = np.array([0.26, 0.22, 0.16, 0.1, 0.08, 0.07, 0.07, 0.04])
_SKIN = np.array([[250, 222, 200], [236, 196, 165], [214, 168, 130], [186, 136, 98],
                  [146, 100, 68], [104, 70, 48], [72, 48, 34]])
_IRIS = np.array([[80, 50, 30], [60, 100, 150], [70, 110, 70], [40, 30, 25], [120, 100, 70],
                  [100, 110, 120]])
_FRAMES = np.array([[20, 20, 20], [120, 70, 30], [180, 180, 190], [150, 20, 30], [30, 40, 120]])
# traits drawn uniformly in [low, high), in this order
_HEAD = {
    "face_w": (0.32, 0.40), "face_h": (0.42, 0.50), "jaw": (0.55, 0.95), "chin": (0.0, 0.6),
    "square": (2.0, 3.2), "cheek_y": (-0.1, 0.15), "hair_vol": (0.03, 0.12),
    "hair_len": (0.2, 0.75), "parting": (-0.6, 0.6), "fringe": (0.0, 1.0),
}
_EYES = {
    "eye_gap": (0.095, 0.14), "eye_y": (-0.08, 0.0), "eye_w": (0.055, 0.08),
    "eye_h": (0.022, 0.038), "eye_slant": (-0.25, 0.25),
}
_BROWS_NOSE_MOUTH = {
    "brow_h": (0.012, 0.03), "brow_arch": (-0.01, 0.035), "brow_len": (0.07, 0.11),
    "brow_gap": (0.045, 0.075), "nose_len": (0.09, 0.16), "nose_w": (0.03, 0.06),
    "mouth_gap": (0.07, 0.12), "mouth_w": (0.06, 0.11), "lip_top": (0.008, 0.02),
    "lip_bottom": (0.012, 0.028),
}
# fmt: on


def _uniform(rng: np.random.Generator, ranges: dict) -> dict:
    return {name: rng.uniform(low, high) for name, (low, high) in ranges.items()}


def sample_person(rng: np.random.Generator) -> dict:
    """The drawn traits of one person."""
    u = rng.uniform
    tone = u(0, len(_SKIN) - 1)
    lo = int(tone)
    skin = _SKIN[lo] + (tone - lo) * (_SKIN[min(lo + 1, len(_SKIN) - 1)] - _SKIN[lo])
    skin = np.clip(skin + rng.normal(0, 6, 3) + [0, 0, u(-8, 8)], 0, 255)
    hair = _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_COLOUR_P)]
    hair = np.clip(hair + rng.normal(0, 10, 3), 0, 255)
    style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=_HAIR_P)]
    beard = rng.choice(
        ["none", "full", "goatee", "moustache", "stubble"], p=[0.7, 0.09, 0.07, 0.07, 0.07]
    )
    person = {
        "skin": skin,
        "tone": tone,
        "hair": hair,
        "style": style,
        **_uniform(rng, _HEAD),
        "curls": rng.uniform(0, 1, (22, 3)),
        **_uniform(rng, _EYES),
        "iris": _IRIS[rng.integers(len(_IRIS))] + rng.normal(0, 8, 3),
        "lashes": rng.random() < 0.45,
        **_uniform(rng, _BROWS_NOSE_MOUTH),
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


def _finish(pixels: np.ndarray, shot: dict, rng: np.random.Generator) -> bytes:
    noisy = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(shot["noise"])
    return encode_jpeg(np.clip(noisy + 0.5, 0, 255).astype(np.uint8), shot["quality"])


def render_identity(people: list[dict], ident: int, hosts: np.ndarray, cfg: RenderConfig) -> list:
    """The photos of identity ``ident``: reals, then fakes made on photos of ``hosts``."""
    rng = np.random.default_rng([cfg.seed, 0x9047, ident])
    p, size = people[ident], cfg.image_size
    texture = person_texture(p, size)
    out = []
    for _ in range(cfg.n_real):
        shot = sample_shot(rng, p)
        pixels, lms, _ = render_photo(p, shot, size, rng, texture=texture)
        out.append((_finish(pixels, shot, rng), lms, None))
    for host in hosts.tolist():
        head = people[host]
        shot = sample_shot(rng, head)
        own = sample_shot(rng, p)
        pixels, lms = render_fake(p, head, shot, own, size, cfg.fake_strength, rng, texture)
        out.append((_finish(pixels, shot, rng), lms, host))
    return out


def _look(q: dict) -> list:
    """Features of a head: swaps are made onto heads with the same hair style, a close hair
    colour and skin tone."""
    style = 6.0 * (np.array(HAIR_STYLES) == q["style"])
    return [q["tone"] * 3, q["face_w"] * 20, *(q["hair"] / 25), *style]


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, host or None), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0x9047])
    people = [sample_person(rng) for _ in range(cfg.n_all)]
    look = np.array([_look(q) for q in people])
    hosts = lookalike_hosts(rng, look, cfg.pools, cfg.n_fake, nearest=2)
    return [render_identity(people, i, hosts[i], cfg) for i in range(cfg.n_all)]

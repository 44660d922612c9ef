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

import numpy as np

from krypto.data.dataset_writer import encode_jpeg
from krypto.data.renderers import RenderConfig, lookalike_targets, run_cli, write_rendered
from krypto.data.renderers.portrait.photo import person_texture, render_fake, render_photo

HAIR_STYLES = ("crop", "side_part", "long", "bob", "curls", "bun", "buzz", "bald")
_HAIR_P = (0.18, 0.16, 0.18, 0.12, 0.1, 0.08, 0.1, 0.08)
# fmt: off
_HAIR_COLOURS = np.array([[25, 20, 18], [60, 38, 22], [105, 70, 40], [150, 110, 65],
                          [205, 170, 105], [140, 60, 25], [170, 170, 172], [235, 230, 220]])
_HAIR_COLOUR_P = np.array([0.26, 0.22, 0.16, 0.1, 0.08, 0.07, 0.07, 0.04])
_SKIN = np.array([[250, 222, 200], [236, 196, 165], [214, 168, 130], [186, 136, 98],
                  [146, 100, 68], [104, 70, 48], [72, 48, 34]])
# fmt: on
_IRIS = np.array(
    [[80, 50, 30], [60, 100, 150], [70, 110, 70], [40, 30, 25], [120, 100, 70], [100, 110, 120]]
)
_FRAMES = np.array([[20, 20, 20], [120, 70, 30], [180, 180, 190], [150, 20, 30], [30, 40, 120]])


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


NAME = "portrait"


def _finish(pixels: np.ndarray, shot: dict, rng: np.random.Generator) -> bytes:
    noisy = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(shot["noise"])
    return encode_jpeg(np.clip(noisy + 0.5, 0, 255).astype(np.uint8), shot["quality"])


def render_identity(
    people: list[dict], ident: int, targets: np.ndarray, cfg: RenderConfig
) -> list[tuple]:
    """The photos of identity ``ident``: reals, then fakes onto ``targets``."""
    rng = np.random.default_rng([cfg.seed, 0x9047, ident])
    p, size = people[ident], cfg.image_size
    texture = person_texture(p, size)
    out = []
    for _ in range(cfg.n_real):
        shot = sample_shot(rng, p)
        pixels, lms, _ = render_photo(p, shot, size, rng, texture=texture)
        out.append((_finish(pixels, shot, rng), lms, False))
    for t in targets:
        head = people[int(t)]
        shot = sample_shot(rng, head)
        own = sample_shot(rng, p)
        pixels, lms = render_fake(p, head, shot, own, size, cfg.fake_strength, rng, texture)
        out.append((_finish(pixels, shot, rng), lms, True))
    return out


def _look(q: dict) -> list:
    """Features of a head: swaps are made onto heads with the same hair style, a close hair
    colour and skin tone."""
    style = 6.0 * (np.array(HAIR_STYLES) == q["style"])
    return [q["tone"] * 3, q["face_w"] * 20, *(q["hair"] / 25), *style]


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, is_fake), ...]``."""
    rng = np.random.default_rng([cfg.seed, 0x9047])
    people = [sample_person(rng) for _ in range(cfg.n_all)]
    look = np.array([_look(q) for q in people])
    targets = lookalike_targets(rng, cfg, look, nearest=2)
    return [render_identity(people, i, targets[i], cfg) for i in range(cfg.n_all)]


def write_dataset(out_dir: str | Path, **params) -> Path:
    """Render a data set of :class:`~krypto.data.renderers.RenderConfig` ``params`` in the
    official layout into ``out_dir`` (6-digit folder names, unpadded ids in meta.json keys);
    deterministic for ``seed``. Returns ``out_dir``."""
    cfg = RenderConfig(**params)
    return write_rendered(out_dir, NAME, cfg, render_all(cfg), (6, 0))


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    run_cli(NAME, write_dataset, __doc__, argv)


__all__ = ["NAME", "main", "render_all", "write_dataset"]

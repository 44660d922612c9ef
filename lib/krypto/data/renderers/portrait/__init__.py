"""Portrait: faces drawn with PIL shapes as a painter would, in cluttered rooms. A person is a
face outline, a skin tone with its own texture, a hair style and colour, eyes, brows, nose,
lips, ears, glasses and a beard; a photo varies pose, light, exposure, colour temperature,
expression, clothes, the room, noise and JPEG quality. A fake of A is A's face region cut from
a photo of A and blended onto a photo of the host (a head with the same hair style and a close
hair colour, skin tone and face width), aligned to its pose; with ``fake_strength`` the paste
shows a colour mismatch, resampling blur and a blending seam. Folder names are 6-digit
zero-padded ids, meta.json keys unpadded.
"""

import math

import numpy as np

from krypto.data.dataset_writer import lookalike_hosts
from krypto.data.renderers import RenderConfig
from krypto.data.renderers.pixels import jpegs, sensor
from krypto.data.renderers.portrait.photo import CENTRE_Y, person_texture, render_fake, render_photo

FOLDER_WIDTHS = (6, 0)  # zero padding of folder names and of meta.json keys (0: none)
# probabilities of the hair styles and beards, and the hair's length below the face's centre
HAIR_STYLES = {"crop": 0.25, "side_part": 0.2, "long": 0.22, "bob": 0.15, "buzz": 0.1, "bald": 0.08}
HAIR_BELOW = {"long": (0.2, 0.75), "bob": (0.1, 0.14)}  # the other styles: none
BEARDS = {"none": 0.75, "full": 0.13, "moustache": 0.12}
# fmt: off
_HAIR_COLOURS = np.array([[25, 20, 18], [60, 38, 22], [105, 70, 40], [150, 110, 65],
                          [205, 170, 105], [140, 60, 25], [170, 170, 172], [235, 230, 220]])
_HAIR_COLOUR_P = np.array([0.26, 0.22, 0.16, 0.1, 0.08, 0.07, 0.07, 0.04])
_SKIN = np.array([[250, 222, 200], [236, 196, 165], [214, 168, 130], [186, 136, 98],
                  [146, 100, 68], [104, 70, 48], [72, 48, 34]])
_IRIS = np.array([[80, 50, 30], [60, 100, 150], [70, 110, 70], [40, 30, 25], [120, 100, 70]])
_FRAMES = np.array([[20, 20, 20], [120, 70, 30], [180, 180, 190], [150, 20, 30], [30, 40, 120]])
# traits drawn uniformly in [low, high)
_SHAPE = {
    "face_w": (0.32, 0.40), "face_h": (0.42, 0.50), "jaw": (0.55, 0.95), "chin": (0.0, 0.6),
    "square": (2.0, 3.2), "hair_vol": (0.03, 0.12), "parting": (-0.6, 0.6), "fringe": (0.0, 1.0),
    "ear": (0.8, 1.25), "eye_gap": (0.095, 0.14), "eye_y": (-0.08, 0.0), "eye_w": (0.055, 0.08),
    "eye_h": (0.022, 0.038), "brow_h": (0.012, 0.03), "brow_arch": (-0.01, 0.035),
    "brow_len": (0.07, 0.11), "brow_gap": (0.045, 0.075), "nose_len": (0.09, 0.16),
    "nose_w": (0.03, 0.06), "mouth_gap": (0.07, 0.12), "mouth_w": (0.06, 0.11),
    "lip_top": (0.008, 0.02), "lip_bottom": (0.012, 0.028),
}
# conditions of a photo drawn uniformly in [low, high)
_SHOT = {
    "scale": (0.9, 1.12), "yaw": (-1, 1), "light": (0, 2 * math.pi), "light_k": (0.1, 0.45),
    "exposure": (0.8, 1.15), "warmth": (-0.08, 0.08), "smile": (0, 1), "raise": (-0.5, 1),
    "blur": (0.6, 2.4),
}
# fmt: on


def sample_person(rng: np.random.Generator) -> dict:
    """The drawn traits of one person."""
    p = {name: rng.uniform(low, high) for name, (low, high) in _SHAPE.items()}
    p["tone"] = rng.uniform(0, len(_SKIN) - 1)
    skin = [np.interp(p["tone"], np.arange(len(_SKIN)), channel) for channel in _SKIN.T]
    p["skin"] = np.clip(np.array(skin) + rng.normal(0, 6, 3) + [0, 0, rng.uniform(-8, 8)], 0, 255)
    hair = _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_COLOUR_P)]
    p["hair"] = np.clip(hair + rng.normal(0, 10, 3), 0, 255)
    p["style"] = str(rng.choice(list(HAIR_STYLES), p=list(HAIR_STYLES.values())))
    p["hair_len"] = rng.uniform(*HAIR_BELOW.get(p["style"], (0, 0)))
    p["iris"] = _IRIS[rng.integers(len(_IRIS))] + rng.normal(0, 8, 3)
    lips = p["skin"] * [0.85, 0.58, 0.58] + rng.normal(0, 8, 3) + [rng.uniform(0, 30), 0, 0]
    p["lips"] = np.clip(lips, 0, 255)
    p["beard"] = str(rng.choice(list(BEARDS), p=list(BEARDS.values())))
    p["glasses"], p["glasses_round"] = rng.random() < 0.28, rng.random() < 0.5
    p["frame"], p["frame_w"] = _FRAMES[rng.integers(len(_FRAMES))], int(rng.integers(1, 3))
    p["texture_seed"] = int(rng.integers(2**31))
    p["outline"] = _outline(p)
    return p


def _outline(p: dict, n: int = 36) -> list[tuple[float, float]]:
    """The face's outline: a superellipse whose lower half narrows to the jaw, with a chin."""
    t = 2 * np.pi * np.arange(n) / n
    c, s, e = np.cos(t), np.sin(t), p["square"]
    x = p["face_w"] * np.sign(c) * np.abs(c) ** (2 / e)
    y = p["face_h"] * np.sign(s) * np.abs(s) ** (2 / e)
    k = np.clip(y / p["face_h"], 0, None)  # the lower half: narrower, the chin longer
    x *= 1 - (1 - p["jaw"]) * k**1.5
    y *= 1 + p["chin"] * 0.25 * k**4
    return list(zip(x.tolist(), (y + CENTRE_Y).tolist()))


def sample_shot(rng: np.random.Generator, person: dict) -> dict:
    """The conditions of one photo of ``person``."""
    shot = {name: rng.uniform(low, high) for name, (low, high) in _SHOT.items()}
    shot["roll"] = math.radians(float(np.clip(rng.normal(0, 6), -14, 14)))
    shot["shift"], shot["gaze"] = rng.uniform(-0.08, 0.08, 2), rng.uniform(-1, 1, 2)
    shot["open"], shot["eye_open"] = rng.uniform() ** 3, 1 - rng.uniform(0, 0.55) ** 2
    shot["wear_glasses"] = person["glasses"] and rng.random() < 0.85
    shot["clothes"], shot["wall"] = rng.integers(20, 235, 3), rng.integers(60, 230, 3)
    shot["noise"], shot["quality"] = rng.uniform(2, 9) / 255, int(rng.integers(55, 96))
    return shot


def render_identity(people: list[dict], ident: int, hosts: np.ndarray, cfg: RenderConfig) -> list:
    """The photos of identity ``ident``: reals, then fakes made on photos of ``hosts``."""
    rng = np.random.default_rng([cfg.seed, 0x9047, ident])
    p, size = people[ident], cfg.image_size
    texture = person_texture(p, size)
    photos, shots = [], []
    for host in [None] * cfg.n_real + hosts.tolist():
        shots.append(sample_shot(rng, p if host is None else people[host]))
        if host is None:
            photos.append(render_photo(p, shots[-1], size, rng, texture=texture)[:2])
        else:
            own, head, strength = sample_shot(rng, p), people[host], cfg.fake_strength
            photos.append(render_fake(p, head, shots[-1], own, size, strength, rng, texture))
    pixels = sensor(np.stack([image for image, _ in photos]), [s["noise"] for s in shots], rng)
    data = jpegs(pixels, [s["quality"] for s in shots])
    return list(zip(data, [lms for _, lms in photos], [None] * cfg.n_real + hosts.tolist()))


def render_all(cfg: RenderConfig) -> list[list[tuple]]:
    """Every identity's photos, reals then fakes: ``[(jpeg, landmarks, host or None), ...]``.
    Swaps are made onto heads with the same hair style, a close hair colour and skin tone."""
    rng = np.random.default_rng([cfg.seed, 0x9047])
    people = [sample_person(rng) for _ in range(cfg.n_all)]
    style = [[6.0 * (q["style"] == name) for name in HAIR_STYLES] for q in people]
    look = [[q["tone"] * 3, q["face_w"] * 20, *(q["hair"] / 25)] for q in people]
    hosts = lookalike_hosts(rng, np.hstack([look, style]), cfg.pools, cfg.n_fake, nearest=2)
    return [render_identity(people, i, hosts[i], cfg) for i in range(cfg.n_all)]

"""A synthetic stand-in for the challenge data, written in the official layout.

Real face data cannot ship with the repository, so this generator draws cartoon faces whose
statistics mimic the task:

* an identity is a set of stable traits: head shape, skin, hair colour and style, eye spacing,
  size and colour, brows, nose, mouth and marks (moles);
* real photos of one identity vary in nuisance factors: pose (roll, yaw), scale, shift,
  lighting, expression (mouth, eye opening), background, sensor noise and JPEG quality;
* a fake of identity X is a face swap: X's inner face (brows, eyes, nose, mouth, marks and, with
  ``fake_strength``, its skin tone) rendered onto the head of another person chosen to look
  like X (``lookalike``), resampled (blurred), with a blend seam at the edge of the swapped
  region, a faint upsampling checkerboard and less sensor noise than the rest of the photo. A
  model that learns identity alone sees X in it.

Output (``write_dataset``)::

    OUT/train/<id>/<n>.jpg     real and fake photos, ids zero-padded
    OUT/train/meta.json        {"<id>/<n>.jpg": 0 real | 1 fake}
    OUT/test_public/<pair>/0.jpg, 1.jpg
    OUT/gt.csv                 pair_id,label,kind
    OUT/landmarks.csv          path,<5 points x, y>, normalised to [0, 1]

Run ``python -m krypto.data.synth OUT --identities 200`` or call :func:`write_dataset`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image

from krypto import constants as C
from krypto.files import file_lock


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator. ``difficulty`` scales nuisance factors, ``fake_strength`` the
    traces a face swap leaves (0: a seamless swap, 1: obvious)."""

    identities: int = 400  # training identities (train/)
    test_identities: int = 80  # identities of test_public (disjoint from train)
    real_per_identity: int = 6
    fake_per_identity: int = 3
    image_size: int = 48
    difficulty: float = 0.6
    fake_strength: float = 0.7
    lookalike: float = 0.8  # how much a swap's target head resembles the source (0: any person)
    test_pairs_per_kind: int = 150
    id_width: int = 8  # zero padding of folder names
    meta_id_width: int | None = None  # zero padding of ids in meta.json keys (None: as folders)
    seed: int = 0

    def __post_init__(self):
        if self.identities < 2 or self.test_identities < 2:
            raise ValueError("identities and test_identities must be at least 2")
        if self.real_per_identity < 2:
            raise ValueError("real_per_identity must be at least 2 (a positive pair needs two)")
        if self.fake_per_identity < 1:
            raise ValueError("fake_per_identity must be at least 1")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        for name in ("difficulty", "fake_strength", "lookalike"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


# ------------------------------------------------------------------------------------------------
# identities and photo conditions, sampled as arrays (one row per face) so that a whole batch of
# faces is drawn with one numpy operation per shape

_SKIN = np.array([[0.98, 0.85, 0.74], [0.92, 0.74, 0.60], [0.80, 0.60, 0.45],
                  [0.63, 0.45, 0.32], [0.45, 0.30, 0.20], [0.96, 0.80, 0.68]])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.30, 0.18, 0.10], [0.55, 0.38, 0.20],
                  [0.85, 0.70, 0.40], [0.60, 0.25, 0.10], [0.65, 0.65, 0.65]])
_IRIS = np.array([[0.25, 0.15, 0.08], [0.20, 0.35, 0.60], [0.25, 0.45, 0.30], [0.10, 0.08, 0.06]])
MAX_MARKS = 2


def _palette(rng, palette, n, spread):
    return np.clip(palette[rng.integers(len(palette), size=n)] + rng.normal(0, spread, (n, 3)), 0, 1)


def sample_identities(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Stable traits of ``n`` people: a dict of arrays of shape ``[n]`` (or ``[n, 3]`` colours)."""
    def u(lo, hi):
        return rng.uniform(lo, hi, n)

    skin = _palette(rng, _SKIN, n, 0.04)
    traits = {
        # head (outer face): what a face swap keeps from the target
        "face_w": u(0.46, 0.62), "face_h": u(0.62, 0.76), "skin": skin,
        "hair": _palette(rng, _HAIR, n, 0.05), "hair_len": u(0.0, 0.5),
        "fringe": u(-0.62, -0.28), "hair_volume": u(0.03, 0.12),
        # inner face: what a face swap carries from the source
        "eye_dx": u(0.15, 0.27), "eye_y": u(-0.16, -0.02), "eye_w": u(0.06, 0.1),
        "eye_h": u(0.03, 0.05), "iris": _palette(rng, _IRIS, n, 0.05),
        "brow_gap": u(0.08, 0.14), "brow_w": u(0.07, 0.12), "brow_h": u(0.012, 0.03),
        "brow_tilt": u(-0.35, 0.35), "nose_y": u(0.1, 0.22), "nose_w": u(0.04, 0.09),
        "nose_len": u(0.08, 0.18), "mouth_y": u(0.3, 0.42), "mouth_w": u(0.1, 0.19),
        "lip_h": u(0.02, 0.045),
        "lips": np.clip(skin * [0.85, 0.55, 0.55] + rng.normal(0, 0.04, (n, 3)), 0, 1),
    }
    n_marks = rng.integers(0, MAX_MARKS + 1, n)
    for k in range(MAX_MARKS):
        traits[f"mark{k}_u"], traits[f"mark{k}_v"] = u(-0.3, 0.3), u(-0.1, 0.4)
        traits[f"mark{k}_r"] = u(0.012, 0.025) * (n_marks > k)
    return traits


def sample_nuisance(rng: np.random.Generator, n: int, difficulty: float) -> dict[str, np.ndarray]:
    """What changes between two photos of one person, for ``n`` photos."""
    d = difficulty

    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, (n, *shape))

    return {
        "roll": u(-1, 1) * math.radians(20) * d, "yaw": u(-1, 1) * 0.12 * d,
        "scale": 1 + u(-1, 1) * 0.15 * d, "shift": u(-1, 1, 2) * 0.12 * d,
        "light": 1 + u(-1, 1) * 0.3 * d, "light_grad": rng.normal(0, 0.25 * d, (n, 2)),
        "tint": rng.normal(0, 0.05 * d, (n, 3)), "mouth_open": u(0, 0.035) * d,
        "eye_open": 1 - u(0, 0.55) * d, "bg": u(0.1, 0.9, 3), "bg_grad": rng.normal(0, 0.3, (n, 2)),
        "bg_freq": u(0, 10 * d), "noise": u(0.005, 0.04) * d,
        "jpeg": np.round(95 - u(0, 50) * d).astype(int), "hair_shift": rng.normal(0, 0.02 * d, (n, 3)),
    }


HEAD_TRAITS = ("face_w", "face_h", "skin", "hair", "hair_len", "fringe", "hair_volume")


def lookalike_heads(source: dict, other: dict, lookalike: float) -> dict:
    """Target heads for face swaps: ``other``'s head traits pulled towards ``source``'s by
    ``lookalike`` (swaps are made onto targets that resemble the source)."""
    return {k: (source[k] + (1 - lookalike) * (other[k] - source[k])) if k in HEAD_TRAITS else v
            for k, v in other.items()}


def take(arrays: dict[str, np.ndarray], rows) -> dict[str, np.ndarray]:
    """The rows ``rows`` of every array of a traits or nuisance dict."""
    return {k: v[rows] for k, v in arrays.items()}


# ------------------------------------------------------------------------------------------------
# rendering a batch of faces


def _b(x):
    """``[B]`` -> ``[B, 1, 1]`` float32, to broadcast over pixels."""
    return np.asarray(x, dtype=np.float32).reshape(-1, 1, 1)


def _ellipse(u, v, cx, cy, ax, ay, edge, angle=None):
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


class _Canvas:
    """A batch of RGB float images ``[B, 3, H, W]`` with the face coordinates ``u, v``
    (``[B, H, W]``) of their pixels under each photo's roll, scale and shift."""

    def __init__(self, img: np.ndarray, nz: dict):
        self.img, self.nz = img, nz
        size = img.shape[-1]
        lin = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        x = lin[None, None, :] - _b(nz["shift"][:, 0])
        y = lin[None, :, None] - _b(nz["shift"][:, 1])
        self.cos, self.sin, self.scale = _b(np.cos(nz["roll"])), _b(np.sin(nz["roll"])), _b(nz["scale"])
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
        alpha = _ellipse(self.u[:, ys, xs], self.v[:, ys, xs], _b(cx), _b(cy), _b(ax), _b(ay),
                         self.edge, None if angle is None else _b(angle))
        if opacity is not None:
            alpha *= _b(opacity)
        color = np.asarray(color, dtype=np.float32).reshape(-1, 3, 1, 1)
        patch = self.img[:, :, ys, xs]
        patch += alpha[:, None] * (color - patch)


def _paint_head(cv: _Canvas, t: dict) -> None:
    """Hair, neck and the face outline with its skin."""
    hair = np.clip(t["hair"] + cv.nz["hair_shift"], 0, 1)
    vol, zero = t["hair_volume"], np.zeros_like(t["face_w"])
    cv.ellipse(zero, 0.05 + t["hair_len"] / 2, t["face_w"] + vol, t["face_h"] + t["hair_len"] / 2 + vol,
               hair)
    cv.ellipse(zero, zero + 0.85, t["face_w"] * 0.55, zero + 0.4, t["skin"] * 0.9)
    cv.ellipse(zero, zero + 0.05, t["face_w"], t["face_h"], t["skin"])
    # fringe: the hair cap above a wavy fringe line, inside the head
    cap = _ellipse(cv.u, cv.v, 0.0, 0.05, _b(t["face_w"] + 0.005), _b(t["face_h"] + 0.005), cv.edge)
    cap *= np.clip((_b(t["fringe"]) - cv.v + 0.04 * np.sin(cv.u * 9)) / cv.edge + 0.5, 0, 1)
    cv.paint(cap, hair)


def _paint_inner(cv: _Canvas, t: dict, draw: bool = True) -> np.ndarray:
    """Brows, eyes, nose, mouth and marks; returns the five landmarks ``[B, 5, 2]`` in [0, 1]."""
    nz = cv.nz
    yaw = nz["yaw"]
    points = []
    for side in (-1, 1):
        ex, ey = side * t["eye_dx"] + yaw, t["eye_y"]
        eh = t["eye_h"] * nz["eye_open"]
        if draw:
            cv.ellipse(ex, ey, t["eye_w"], eh, (0.95, 0.95, 0.93))
            cv.ellipse(ex + yaw * 0.3, ey, t["eye_h"] * 0.9, np.minimum(eh, t["eye_h"] * 0.9),
                       t["iris"])
            cv.ellipse(ex, ey - t["brow_gap"], t["brow_w"], t["brow_h"], t["hair"] * 0.8,
                       angle=side * t["brow_tilt"])
        points.append((ex, ey))
    nx, nose_tip = yaw * 1.4, t["nose_y"]
    mx, my = yaw, t["mouth_y"]
    if draw:
        cv.ellipse(nx, nose_tip - t["nose_len"] / 2, t["nose_w"] * 0.5, t["nose_len"] / 2,
                   t["skin"] * 0.88)
        cv.ellipse(nx, nose_tip, t["nose_w"], t["nose_w"] * 0.45, t["skin"] * 0.8)
        cv.ellipse(mx, my, t["mouth_w"], t["lip_h"] + nz["mouth_open"], t["lips"])
        cv.ellipse(mx, my, t["mouth_w"] * 0.75, np.maximum(nz["mouth_open"], 1e-4), (0.2, 0.05, 0.05))
        for k in range(MAX_MARKS):
            r = np.maximum(t[f"mark{k}_r"], 0.012)  # absent marks (radius 0) are transparent
            cv.ellipse(t[f"mark{k}_u"] + yaw, t[f"mark{k}_v"], r, r, t["skin"] * 0.45,
                       opacity=t[f"mark{k}_r"] > 0)
    points += [(nx, nose_tip), (mx - t["mouth_w"], my), (mx + t["mouth_w"], my)]
    return np.stack([cv.to_image(pu, pv) for pu, pv in points], axis=1).astype(np.float32)


def _inner_region(t: dict):
    """The swapped region of a face swap: an ellipse from the brows to below the mouth."""
    top = t["eye_y"] - t["brow_gap"] - t["brow_h"] - 0.05
    bottom = t["mouth_y"] + t["lip_h"] + 0.08
    return (top + bottom) / 2, t["eye_dx"] + t["eye_w"] + 0.07, (bottom - top) / 2


def _background(nz: dict, size: int) -> np.ndarray:
    lin = np.linspace(-1, 1, size, dtype=np.float32)
    x, y = lin[None, None, :], lin[None, :, None]
    ramp = _b(nz["bg_grad"][:, 0]) * x + _b(nz["bg_grad"][:, 1]) * y
    ramp += 0.15 * np.sin(_b(nz["bg_freq"]) * (x + y))
    return np.clip(nz["bg"].astype(np.float32)[:, :, None, None] + 0.3 * ramp[:, None], 0, 1)


def _finish(img: np.ndarray, nz: dict, rng: np.random.Generator, noise_scale=None) -> np.ndarray:
    """Lighting, colour cast and sensor noise (times ``noise_scale`` ``[B, H, W]`` if given) on
    ``[B, 3, H, W]``; returns uint8 ``[B, H, W, 3]``."""
    size = img.shape[-1]
    lin = np.linspace(-1, 1, size, dtype=np.float32)
    light = _b(nz["light"]) + _b(nz["light_grad"][:, 0]) * lin[None, None, :] \
        + _b(nz["light_grad"][:, 1]) * lin[None, :, None]
    img *= light[:, None]
    img += nz["tint"].astype(np.float32)[:, :, None, None]
    noise = rng.standard_normal(img.shape, dtype=np.float32) * _b(nz["noise"])[:, None]
    img += noise if noise_scale is None else noise * noise_scale[:, None]
    pixels = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))


def _resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Bilinear interpolation as a matrix ``[n_out, n_in]`` (pixel centres aligned)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] += 1 - w
    m[np.arange(n_out), hi] += w
    return m


def render_real(traits: dict, nuisance: dict, size: int, rng: np.random.Generator):
    """Real photos of a batch of faces (row i: ``traits`` row i under ``nuisance`` row i).

    Returns uint8 images ``[B, size, size, 3]`` and landmarks ``[B, 5, 2]`` in [0, 1]."""
    cv = _Canvas(_background(nuisance, size), nuisance)
    _paint_head(cv, traits)
    landmarks = _paint_inner(cv, traits)
    return _finish(cv.img, nuisance, rng), landmarks


def render_fake(source: dict, target: dict, nuisance: dict, size: int, strength: float,
                rng: np.random.Generator):
    """Face swaps: ``source``'s inner face on ``target``'s head, with the traces swaps leave:
    resampling blur and misalignment (the source face is drawn at a lower resolution), a colour
    mismatch, a darkened blend seam, an upsampling checkerboard and less sensor noise inside the
    swapped region, all scaled by ``strength``.

    Returns uint8 images ``[B, size, size, 3]`` and landmarks ``[B, 5, 2]`` in [0, 1]."""
    n = len(nuisance["roll"])
    cv = _Canvas(_background(nuisance, size), nuisance)
    _paint_head(cv, target)

    low = max(8, int(round(size / (1.0 + 3.0 * strength))))
    wobble = dict(nuisance, shift=nuisance["shift"] + rng.normal(0, 0.012 * strength, (n, 2)))
    # colour mismatch: the swapped skin keeps the source's tone, shifted by the swap's own cast
    inner_skin = np.clip(source["skin"] + rng.normal(0, 0.12 * strength, (n, 3)), 0, 1)
    face = _Canvas(np.broadcast_to(inner_skin.astype(np.float32)[:, :, None, None],
                                   (n, 3, low, low)).copy(), wobble)
    _paint_inner(face, dict(source, skin=inner_skin))
    up = _resize_matrix(size, low)
    face_img = up @ np.clip(face.img, 0, 1) @ up.T  # [B, 3, size, size]

    cy, ax, ay = _inner_region(source)
    ax = np.minimum(ax, target["face_w"] - 0.03)
    feather = cv.edge * 3.0
    mask = _ellipse(cv.u, cv.v, _b(nuisance["yaw"]), _b(cy), _b(ax), _b(ay), feather)
    ring = mask * (1 - mask) * 4
    img = cv.img + mask[:, None] * (face_img - cv.img)
    img *= (1 - 0.5 * strength * ring)[:, None]
    checker = ((np.arange(size)[:, None] + np.arange(size)[None, :]) % 2 * 2 - 1).astype(np.float32)
    img += (0.04 * strength * mask * checker)[:, None]
    landmarks = _paint_inner(cv, source, draw=False)
    # the swapped face comes out of a generator, smoother than the sensor: less noise there
    return _finish(img, nuisance, rng, noise_scale=1 - 0.9 * strength * mask), landmarks


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# the data set


def _pad(i: int, width: int | None) -> str:
    return str(i).zfill(width) if width else str(i)


def render_photos(cfg: SynthConfig, traits: dict, sources, targets, rng: np.random.Generator,
                  batch: int = 256, on_batch=None) -> list[tuple[bytes, np.ndarray]]:
    """JPEG bytes and landmarks ``[5, 2]`` of photos of identities ``sources``; a photo whose
    ``targets`` entry is >= 0 is a face swap onto that identity's head, a real photo otherwise.
    ``on_batch(n)`` is called after each batch of ``n`` photos."""
    sources, targets = np.asarray(sources), np.asarray(targets)
    out: list = [None] * len(sources)
    for start in range(0, len(sources), batch):
        rows = np.arange(start, min(start + batch, len(sources)))
        nz = sample_nuisance(rng, len(rows), cfg.difficulty)
        fake = targets[rows] >= 0
        for is_fake in (False, True):
            keep = fake == is_fake
            if not keep.any():
                continue
            part, part_nz = rows[keep], take(nz, keep)
            src = take(traits, sources[part])
            if is_fake:
                heads = lookalike_heads(src, take(traits, targets[part]), cfg.lookalike)
                pixels, lms = render_fake(src, heads, part_nz, cfg.image_size, cfg.fake_strength,
                                          rng)
            else:
                pixels, lms = render_real(src, part_nz, cfg.image_size, rng)
            for j, row in enumerate(part):
                out[row] = (encode_jpeg(pixels[j], part_nz["jpeg"][j]), lms[j])
        if on_batch is not None:
            on_batch(len(rows))
    return out


def write_dataset(out_dir: str | Path, config: SynthConfig | None = None,
                  progress: bool = True) -> Path:
    """Write a synthetic data set in the official layout into ``out_dir``; returns it.

    Identities ``0 .. identities-1`` go to ``train/``, the next ``test_identities`` make the pairs
    of ``test_public/``. Deterministic for ``config.seed``."""
    from tqdm.auto import tqdm

    cfg = config or SynthConfig()
    out = Path(out_dir)
    train_dir, test_dir = out / C.TRAIN_DIR, out / C.TEST_DIR
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    n_all = cfg.identities + cfg.test_identities
    traits = sample_identities(rng, n_all)

    # every photo: (identity, number, target head or -1); fakes swap onto a head of the same pool
    per_identity = cfg.real_per_identity + cfg.fake_per_identity
    sources = np.repeat(np.arange(n_all), per_identity)
    numbers = np.tile(np.arange(per_identity), n_all)
    targets = np.full(len(sources), -1)
    for i in np.flatnonzero(numbers >= cfg.real_per_identity):
        lo, hi = (0, cfg.identities) if sources[i] < cfg.identities else (cfg.identities, n_all)
        t = int(rng.integers(lo, hi - 1))
        targets[i] = t + (t >= sources[i])

    with tqdm(total=len(sources), desc="synthesising", unit="img", disable=not progress) as bar:
        photos = render_photos(cfg, traits, sources, targets, rng, on_batch=bar.update)

    meta: dict[str, int] = {}
    landmark_rows: list[tuple[str, np.ndarray]] = []
    meta_width = cfg.meta_id_width or cfg.id_width
    test_images: dict[int, dict[str, list]] = {}
    for (ident, number, target, (data, lms)) in zip(sources, numbers, targets, photos):
        is_fake = C.FAKE if target >= 0 else C.REAL
        if ident < cfg.identities:
            folder = train_dir / _pad(ident, cfg.id_width)
            folder.mkdir(exist_ok=True)
            (folder / f"{number}.jpg").write_bytes(data)
            meta[f"{_pad(ident, meta_width)}/{number}.jpg"] = is_fake
            landmark_rows.append((f"{C.TRAIN_DIR}/{folder.name}/{number}.jpg", lms))
        else:
            kinds = test_images.setdefault(int(ident), {"real": [], "fake": []})
            kinds["fake" if is_fake else "real"].append((data, lms))
    (train_dir / C.META_FILE).write_text(json.dumps(meta, indent=0))

    gt_rows = _write_test_pairs(test_dir, test_images, cfg, landmark_rows)
    with open(out / C.GT_FILE, "w") as f:
        f.write(f"{C.PAIR_ID},{C.PAIR_LABEL},{C.KIND}\n")
        f.writelines(f"{pid},{label},{kind}\n" for pid, label, kind in gt_rows)
    with open(out / C.LANDMARKS_FILE, "w") as f:
        f.write(",".join((C.PATH, *C.LANDMARK_COLUMNS)) + "\n")
        for path, lms in landmark_rows:
            f.write(path + "," + ",".join(f"{x:.5f}" for x in lms.reshape(-1)) + "\n")
    (out / "synth_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return out


def _write_test_pairs(test_dir: Path, images: dict, cfg: SynthConfig, landmark_rows: list):
    """Pairs of the four kinds from the test identities, in shuffled order."""
    rng = np.random.default_rng([cfg.seed, 7])
    ids = sorted(images)
    pairs = []
    for _ in range(cfg.test_pairs_per_kind):
        a, b = rng.choice(ids, 2, replace=False)
        ia, ib = rng.choice(len(images[a]["real"]), 2, replace=False)
        pairs.append((images[a]["real"][ia], images[a]["real"][ib], 1, C.SAME))
        pairs.append((images[a]["real"][ia], images[b]["real"][ib], 0, C.DIFFERENT))
        fake_a = images[a]["fake"][rng.integers(len(images[a]["fake"]))]
        fake_b = images[b]["fake"][rng.integers(len(images[b]["fake"]))]
        pairs.append((images[a]["real"][ib], fake_a, 0, C.FAKE_SAME))
        pairs.append((images[a]["real"][ia], fake_b, 0, C.FAKE_OTHER))
    order = rng.permutation(len(pairs))
    rows = []
    for pair_number, k in enumerate(order):
        first, second, label, kind = pairs[k]
        if rng.random() < 0.5:
            first, second = second, first
        pid = _pad(pair_number, cfg.id_width)
        folder = test_dir / pid
        folder.mkdir(exist_ok=True)
        for name, (data, lms) in zip(C.PAIR_IMAGES, (first, second)):
            (folder / name).write_bytes(data)
            landmark_rows.append((f"{C.TEST_DIR}/{pid}/{name}", lms))
        rows.append((pid, label, kind))
    return rows


# named data sets that `data_dir="synthetic:<name>"` asks for; "synthetic" alone is "default"
PRESETS = {
    "default": SynthConfig(),
    "tiny": SynthConfig(identities=32, test_identities=8, real_per_identity=4,
                        fake_per_identity=2, image_size=32, test_pairs_per_kind=10),
}


def preset_dataset(name: str = "default") -> Path:
    """The synthetic data set ``name`` of :data:`PRESETS`, generated once under ``data/``."""
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic data set {name!r}; choose one of {sorted(PRESETS)}")
    folder = C.SYNTHETIC_DIR if name == "default" else C.DATA_DIR / f"synthetic-{name}"
    return ensure_default_dataset(folder, PRESETS[name])


def ensure_default_dataset(out_dir: str | Path = C.SYNTHETIC_DIR,
                           config: SynthConfig | None = None) -> Path:
    """The embedded default data set: generated once into ``out_dir`` and reused.

    A folder written with another configuration is an error, never silently replaced. Processes
    asking at the same time wait for the one that generates it."""
    out = Path(out_dir)
    with file_lock(out.with_name(out.name + ".lock")):
        return _ensure_dataset(out, config or SynthConfig())


def _ensure_dataset(out: Path, cfg: SynthConfig) -> Path:
    config_file = out / "synth_config.json"
    if config_file.exists() and (out / C.GT_FILE).exists():
        stored = json.loads(config_file.read_text())
        if stored != json.loads(json.dumps(asdict(cfg))):
            raise FileExistsError(
                f"{out} holds a synthetic data set made with another configuration "
                f"({config_file}); delete the folder or pass another out_dir")
        return out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists, is not empty and holds no finished synthetic set "
                              f"(no {config_file.name} and {C.GT_FILE}); delete it to regenerate")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    write_dataset(tmp, cfg)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to write (official layout)")
    defaults = SynthConfig()
    for f in fields(SynthConfig):
        value = getattr(defaults, f.name)
        kind = int if f.name in ("meta_id_width",) else type(value)
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=value)
    args = parser.parse_args(argv)
    cfg = SynthConfig(**{f.name: getattr(args, f.name) for f in fields(SynthConfig)})
    out = write_dataset(args.out, cfg)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

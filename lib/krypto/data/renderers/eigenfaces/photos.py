"""Photos: each head with the parts that move with expression and the clothes, shaded under the
photo's light, posed (yaw as a parallax) onto a background, toned, with a generator's traces in
the swapped region of a fake, noise and JPEG (twice for a fake)."""

import cv2
import numpy as np

from krypto.data.renderers.eigenfaces.model import EXTENT, Canvas, basis, places
from krypto.data.renderers.pixels import checkerboard, jpegs, per_image, pose_points, sensor

YAW_SHIFT = 0.06  # face units the face's centre moves at |yaw| = 1


def _eyes(cv: Canvas, g: dict, nz: dict, face: np.ndarray) -> None:
    """Sclera, iris and pupil looking along the gaze, inside the eye's opening; brows above."""
    eye_h, gaze = g["eye_h"] * nz["eye_open"], nz["gaze"]
    iris = np.maximum(g["eye_h"] * 1.1, g["eye_w"] * 0.45) * g["iris_r"]
    ix, iy = gaze[:, 0] * g["eye_w"] * 0.3, g["eye_cy"] + gaze[:, 1] * eye_h * 0.2
    brow_y, dark = g["eye_cy"] - g["brow_gap"] - 0.03 * nz["raise"], g["brow_dark"][:, None]
    for side in (-1, 1):
        ex = side * g["eye_x"]
        win, sclera = cv.ellipse(ex, g["eye_cy"], g["eye_w"], eye_h, side * g["eye_slant"] / 2)
        opening = np.zeros_like(face)
        opening[win] = sclera * face[win]
        cv.paint(win, opening[win], 0.84)
        for radius, colour in ((iris, g["iris"]), (iris * 0.45, 0.04)):
            disc_win, disc = cv.ellipse(ex + ix, iy, radius, radius)
            cv.paint(disc_win, disc * opening[disc_win], colour)
        win, brow = cv.ellipse(ex, brow_y, g["brow_w"], g["brow_h"], side * g["brow_tilt"])
        cv.paint(win, brow * face[win] * 0.9, g["hair"] * (1 - dark) + 0.05 * dark)


def _mouth(cv: Canvas, g: dict, nz: dict, face: np.ndarray):
    """Lips, wider with a smile, and a dark gap when open; returns the mouth's half width."""
    opening, mouth_w = 0.03 * nz["open"], g["mouth_w"] * (1 + 0.15 * nz["smile"])
    mouth_y, centre = g["mouth_cy"] - 0.02 * nz["smile"], 0 * mouth_w
    win, lips = cv.ellipse(centre, mouth_y + opening * 0.3, mouth_w, g["lip_h"] + opening * 0.6)
    cv.paint(win, lips * face[win], g["lips"])
    win, gap = cv.ellipse(centre, mouth_y, mouth_w * 0.9, 0.004 + opening * 0.55)
    cv.paint(win, gap * face[win], 0.12)  # inside the lips
    return mouth_w, mouth_y


def render_canonical(heads: dict, h: np.ndarray, p: dict, nz: dict, size: int):
    """Photos of heads ``h`` (coefficients ``p``, a row per head) under conditions ``nz`` in the
    canonical frame, albedo times ambient and diffuse light: ``rgb [N, n, n, 3]`` and ``cover
    [N, n, n]`` (premultiplied) and the landmarks ``[N, 5, 2]`` in face units."""
    g = places({k: v[h] for k, v in p.items()})
    cv = Canvas(size, heads["img"][h], heads["cover"][h])
    win, wx, wy = cv.window(-EXTENT, EXTENT, 0.6, EXTENT)
    shoulders = np.clip((1 - (wx / 0.95) ** 2 - ((wy - 1.45) / 0.62) ** 2) * 40 + 0.5, 0, 1)
    under = (1 - cv.cover[win]) * shoulders
    weave = 1 + 0.1 * basis(size)["hair"][win[1:]][..., None]
    cv.img[win] += under[..., None] * nz["clothes"][:, None, None].astype(np.float32) * weave
    cv.cover[win] += under
    face = heads["face"][h] * (1 - heads["over"][h])  # where the face shows
    _eyes(cv, g, nz, face)
    mouth_w, mouth_y = _mouth(cv, g, nz, face)
    light = nz["light"].astype(np.float32)
    shade = sum(heads[k][h] * per_image(light[:, i]) for i, k in enumerate(("nx", "ny", "nz")))
    ambient = per_image(nz["ambient"])
    cv.img *= (ambient + np.clip(shade, 0, None) * (1 - ambient) * 1.2)[..., None]
    eye_x, eye_y = g["eye_x"], g["eye_cy"]
    xs = [-eye_x, eye_x, 0 * eye_x, -mouth_w, mouth_w]
    ys = [eye_y, eye_y, g["nose_cy"], mouth_y, mouth_y]
    return cv.img, cv.cover, np.stack([np.stack(xs, 1), np.stack(ys, 1)], -1)


def _background(nz: dict, size: int) -> np.ndarray:
    """Smooth backgrounds of muted colours, bicubic between 3 x 3 points: ``[N, size, size, 3]``."""
    grid = nz["bg"].astype(np.float32)  # [N, 3, 3, 3]
    grid = grid.mean(-1, keepdims=True) * 0.6 + grid * 0.4
    out = [cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC) for g in grid]
    return np.clip(np.stack(out), 0, 1)


def render_photos(heads, h, p, nz, rng, size: int, fake_strength: float, is_fake: np.ndarray):
    """JPEGs and landmarks (``[N, 5, 2]`` in [0, 1]) of photos of heads ``h`` (coefficients
    ``p``, a row per head) under conditions ``nz``; ``is_fake`` photos get the generator's
    traces inside the swapped region: a checkerboard, no sensor noise, a double JPEG."""
    rgb, cover, lms = render_canonical(heads, h, p, nz, size)
    N, n = len(h), rgb.shape[1]
    photo, mask = _background(nz, size), np.zeros((N, size, size), np.float32)
    step = 2 * EXTENT / n
    # photo pixel -> canonical face units (the inverse pose), then the yaw parallax
    line = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    px = line[None, None, :] - per_image(nz["shift"][:, 0])
    py = line[None, :, None] - per_image(nz["shift"][:, 1])
    c, s = per_image(np.cos(nz["roll"]) / nz["scale"]), per_image(np.sin(nz["roll"]) / nz["scale"])
    ux, uy = c * px + s * py, c * py - s * px
    col, row = (np.clip(((u + EXTENT) / step).astype(np.int32), 0, n - 1) for u in (ux, uy))
    ux -= YAW_SHIFT * per_image(nz["yaw"]) * heads["depth"][h[:, None, None], row, col]
    map_x, map_y = (ux + EXTENT) / step - 0.5, (uy + EXTENT) / step - 0.5
    for j in range(N):
        stack = np.dstack([rgb[j], cover[j], heads["inner"][h[j]] * is_fake[j]])
        warped = cv2.remap(stack, map_x[j], map_y[j], cv2.INTER_LINEAR, borderValue=0)
        photo[j] = photo[j] * (1 - warped[..., 3:4]) + warped[..., :3]
        mask[j] = warped[..., 4]
    # landmarks: the parallax at their place, then the pose
    i = np.clip(((lms + EXTENT) / step).astype(int), 0, n - 1)
    lms[..., 0] += YAW_SHIFT * nz["yaw"][:, None] * heads["depth"][h[:, None], i[..., 1], i[..., 0]]
    landmarks = pose_points(lms, nz["roll"], nz["scale"], nz["shift"])
    # exposure, white balance and a tone curve
    photo *= per_image(nz["exposure"])[..., None]
    photo += nz["tint"][:, None, None].astype(np.float32)
    np.clip(photo, 0, 1, out=photo)
    photo += per_image(nz["contrast"])[..., None] * photo * (1 - photo)
    # the generator's traces: a checkerboard at half the sampling rate, no sensor noise
    strength = np.float32(fake_strength)
    checker = checkerboard(size, rng.integers(0, 2, N))
    photo += (0.05 * strength * mask * checker)[..., None] * (0.4 + photo)
    pixels = sensor(photo, nz["noise"], rng, clean=mask * (0.3 + 0.7 * strength))
    first_pass = np.where(is_fake, int(round(96 - 56 * fake_strength)), 0)
    first_pass[first_pass >= 95] = 0  # double compression, the first pass coarser
    return jpegs(pixels, nz["quality"], first_pass), np.clip(landmarks, 0.001, 0.999)

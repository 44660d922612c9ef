"""Five-point face alignment: each photo warped by the similarity (rotation, uniform scale,
translation) that brings its five landmarks nearest, in least squares, to the standard template
of 112 x 112 face crops (insightface's ``arcface_dst``, the input of AdaFace and ArcFace models),
scaled by ``size / 112`` for other sizes. A photo without landmarks (no face found) falls back
to its centre crop, and :func:`warn_unaligned` names it.

Umeyama's closed-form fit uses all five points (``cv2.estimateAffinePartial2D`` fits by RANSAC or
LMedS and may leave one out); warping is OpenCV's (bilinear, black outside the photo), integer
coordinates at pixel centres as in the template.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from krypto import constants as C
from krypto.data.images import decode_many, read_rgb
from krypto.data.landmarks import detect_mtcnn

TEMPLATE_SIZE = 112
# left eye, right eye, nose tip, left and right mouth corner (x, y) in a 112 x 112 crop
TEMPLATE = np.array(
    [38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041]
).reshape(5, 2)
MAX_NAMED = 5  # photos a warning names
DETECT_MARGIN = 0.25  # black border (share of the longer side) for faces that cross it


def detect_faces(paths, device: str = "cpu", progress: bool = True) -> np.ndarray:
    """Landmarks ``[n, 10]`` (normalised, NaN: no face) of ``paths`` for alignment: MTCNN, a
    face box that crosses its photo's border detected again with a black border."""
    return detect_mtcnn(paths, device=device, progress=progress, margin=DETECT_MARGIN)


def template(size: int = TEMPLATE_SIZE) -> np.ndarray:
    """The five template points ``[5, 2]`` (x, y in pixels) of a ``size x size`` crop."""
    return TEMPLATE * (size / TEMPLATE_SIZE)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The similarity ``[2, 3]`` (``dst ≈ M @ [x, y, 1]``) that maps points ``src`` ``[n, 2]``
    nearest to ``dst`` ``[n, 2]`` in least squares (Umeyama 1991; a rotation, never a mirror)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / (src_c**2).sum(1).mean()
    return np.hstack([scale * rotation, (dst_mean - scale * rotation @ src_mean)[:, None]])


def alignable(landmarks: np.ndarray) -> np.ndarray:
    """Which photos ``[n]`` (bool) of landmarks ``[n, 10]`` can be aligned: all ten values
    finite and the points not all in one place."""
    points = np.asarray(landmarks, np.float64).reshape(len(landmarks), 5, 2)
    finite = np.isfinite(points).all((1, 2))
    return finite & (np.nan_to_num(points.std(1).sum(1)) > 1e-6)


def alignment_matrix(points, width: int, height: int, size: int) -> np.ndarray:
    """The ``[2, 3]`` transform of a ``width x height`` photo with landmarks ``points`` (ten
    values normalised to [0, 1]) onto the template of a ``size`` crop; for missing (NaN) or
    degenerate points, that of the largest central square (pixel areas mapped, not centres)."""
    points = np.asarray(points, np.float64).reshape(1, 10)
    if alignable(points)[0]:
        pixels = points.reshape(5, 2) * [width, height] - 0.5  # integers at pixel centres
        return similarity_transform(pixels, template(size))
    side = min(width, height)
    scale = size / side
    shift = scale * (0.5 - np.array([width - side, height - side]) / 2) - 0.5
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def read_aligned(path: str | Path, points, size: int) -> np.ndarray:
    """``[3, size, size]`` uint8 aligned crop of the photo at ``path`` with normalised landmarks
    ``points`` (ten values; NaN: the centre crop, edge pixels repeated where bilinear sampling
    reaches past the photo, as a resize does); raises :class:`CorruptImageError` naming it."""
    import cv2

    image = np.ascontiguousarray(np.asarray(read_rgb(path), dtype=np.uint8))
    height, width = image.shape[:2]
    matrix = alignment_matrix(points, width, height, size)
    aligned = alignable(np.asarray(points, np.float64).reshape(1, 10))[0]
    border = cv2.BORDER_CONSTANT if aligned else cv2.BORDER_REPLICATE
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
    return crop.transpose(2, 0, 1)


def align_photos(paths, landmarks: np.ndarray, size: int, workers: int = 4, progress=True):
    """Aligned crops ``[n, 3, size, size]`` uint8 of ``paths`` with their landmarks
    ``[n, 10]`` (normalised; NaN rows: centre crops), with the files that do not decode, as
    :func:`krypto.data.images.decode_many` returns them."""
    paths = [str(p) for p in paths]
    landmarks = np.asarray(landmarks, np.float64).reshape(len(paths), 10)
    read = lambda i: read_aligned(paths[i], landmarks[i], size)
    return decode_many(paths, size, workers, progress, "aligning", read)


def aligned_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks ``[n, 10]`` (normalised) of the aligned crops of photos with ``landmarks``
    ``[n, 10]``: the template's where a photo is aligned, NaN for a centre crop."""
    out = np.full((len(landmarks), 10), np.nan, dtype=np.float32)
    out[alignable(landmarks)] = ((TEMPLATE + 0.5) / TEMPLATE_SIZE).reshape(-1)
    return out


def warn_unaligned(names, landmarks: np.ndarray, what: str) -> list[str]:
    """The ``names`` of the photos that cannot be aligned (no face found), with a warning that
    counts them and names the first; ``what``: where they are (training photos, test photos)."""
    missing = [str(n) for n, ok in zip(names, alignable(landmarks)) if not ok]
    if missing:
        more = f" and {len(missing) - MAX_NAMED} more" if len(missing) > MAX_NAMED else ""
        named = ", ".join(missing[:MAX_NAMED]) + more
        warnings.warn(
            f"no face found in {len(missing)} {what}, centre-cropped instead of aligned: {named}",
            stacklevel=2,
        )
    return missing


def index_landmarks(index: pd.DataFrame) -> np.ndarray:
    """The landmarks ``[n, 10]`` (float32, normalised, NaN where none) of an index table."""
    return index[list(C.LANDMARK_COLUMNS)].to_numpy(np.float32)


def crop_landmarks(index: pd.DataFrame, align: bool) -> np.ndarray:
    """The landmarks ``[n, 10]`` of the photos of an index table as a model sees them: the
    index's, or with ``align`` those of the aligned crops (:func:`aligned_landmarks`)."""
    points = index_landmarks(index)
    return aligned_landmarks(points) if align else points


def write_aligned(index: pd.DataFrame, folder: str | Path, size: int = TEMPLATE_SIZE):
    """The photos of ``index`` rows aligned, written as PNG files into ``folder``: a copy of
    the rows with those paths and the crops' landmarks (:func:`aligned_landmarks`), ready for
    :func:`krypto.evaluation.plots.contact_sheet`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    points = index_landmarks(index)
    crops, _ = align_photos(index[C.PATH], points, size, progress=False)
    out = index.copy()
    out[C.PATH] = [str(folder / f"{i}.png") for i in range(len(index))]
    for path, crop in zip(out[C.PATH], crops):
        Image.fromarray(crop.transpose(1, 2, 0)).save(path)
    out[list(C.LANDMARK_COLUMNS)] = aligned_landmarks(points)
    return out

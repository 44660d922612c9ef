"""Decoding images: any mode (grayscale, RGBA, palette) and format PIL reads, returned as RGB."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class CorruptImageError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def read_rgb(path: str | Path, size: int | None = None) -> Image.Image:
    """Decode ``path`` fully as an RGB PIL image, resized to ``size x size`` when given; a
    missing, truncated or unreadable file raises :class:`CorruptImageError` naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise CorruptImageError(f"cannot decode image {path}: {error}") from error
    if size is not None and rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return rgb


def read_uint8(path: str | Path, size: int) -> np.ndarray:
    """``[3, size, size]`` uint8 array of an image, channels first."""
    return np.asarray(read_rgb(path, size), dtype=np.uint8).transpose(2, 0, 1)


def decode_many(paths, size: int, workers=4, progress=True, desc="decoding", read=None):
    """Decode ``paths`` into one ``[n, 3, size, size]`` uint8 array on ``workers`` threads (PIL
    releases the GIL while decoding); ``read(i)`` decodes the ``i``-th (default
    :func:`read_uint8`). Returns (array, list of (index, error message)) with failed images
    left as zeros, so one bad file is reported, never fatal."""
    from tqdm.auto import tqdm

    paths = list(paths)
    read = read or (lambda i: read_uint8(paths[i], size))
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    failures: list[tuple[int, str]] = []

    def load(i):
        try:
            out[i] = read(i)
        except CorruptImageError as error:
            failures.append((i, str(error)))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        jobs = pool.map(load, range(len(paths)))
        list(tqdm(jobs, total=len(paths), desc=desc, unit="img", disable=not progress))
    return out, sorted(failures)

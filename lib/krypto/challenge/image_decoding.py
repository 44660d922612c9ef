"""Test images decoded to the pixels the model was trained on, fast.

JPEGs are decoded by ``torchvision.io.decode_jpeg`` (libjpeg-turbo, a batch in one call), every
other file and every JPEG it refuses by PIL, and resizing is PIL's: the pixels are those of
:func:`krypto.data.images.read_uint8`, which decoded the training images (checked once per
process on the first JPEG; where the two decoders disagree, PIL decodes everything).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from krypto.data.alignment import align_photos
from krypto.data.images import CorruptImageError, read_uint8

try:  # deprecated in torchvision 0.29 in favour of TorchCodec, which is not a dependency here
    from torchvision.io import ImageReadMode, decode_jpeg
except ImportError:  # gone: PIL decodes everything
    decode_jpeg = None

DECODERS = ("auto", "pil")  # auto: torchvision's JPEG decoder where it gives PIL's pixels
_JPEG_START = b"\xff\xd8\xff"
_jpeg = {"agrees": None}  # torchvision's pixels equal PIL's here: None until checked once
_jpeg_lock = threading.Lock()  # the decoding threads of a submission check it once


def _torchvision_jpegs(paths: Sequence[str]) -> list:
    """``[3, H, W]`` uint8 numpy arrays of the JPEGs among ``paths`` by torchvision, in one
    call; None for a file it does not decode (not a JPEG, corrupt, CMYK, ...)."""
    out: list = [None] * len(paths)
    data = {}
    for i, path in enumerate(paths):
        with contextlib.suppress(OSError), open(path, "rb") as handle:
            raw = handle.read()
            if raw.startswith(_JPEG_START):
                data[i] = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    if decode_jpeg is None or not data:
        return out
    mode = ImageReadMode.UNCHANGED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision's notice at each call
        try:
            images = dict(zip(data, decode_jpeg(list(data.values()), mode=mode)))
        except (RuntimeError, ValueError):  # a bad file among them: one at a time
            images = {}
            for i, raw in data.items():
                with contextlib.suppress(RuntimeError, ValueError):
                    images[i] = decode_jpeg(raw, mode=mode)
    for i, image in images.items():
        if image.shape[0] == 1:  # grayscale: PIL's convert("RGB") repeats the channel
            image = image.expand(3, -1, -1)
        if image.shape[0] == 3:
            out[i] = image.numpy()
    return out


def _resized(image: np.ndarray, size: int) -> np.ndarray:
    """``[3, H, W]`` pixels resized as :func:`krypto.data.images.read_rgb` resizes (PIL)."""
    if image.shape[1:] == (size, size):
        return image
    rgb = Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)))
    return np.asarray(rgb.resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)


def _agrees(image: np.ndarray, path: str, size: int) -> bool:
    """Whether torchvision's pixels are PIL's here: compared once per process, on the first
    JPEG; where they differ, PIL decodes everything from then on (with a warning)."""
    with _jpeg_lock:
        if _jpeg["agrees"] is None:
            try:
                _jpeg["agrees"] = bool(np.array_equal(image, read_uint8(path, size)))
            except CorruptImageError:
                return False
            if not _jpeg["agrees"]:
                warnings.warn(
                    "torchvision and PIL decode JPEGs differently here: decoding with PIL (slower)",
                    stacklevel=2,
                )
        return _jpeg["agrees"]


def decode_images(paths: Sequence, size: int, decoder: str = "auto", landmarks=None):
    """``(pixels [n, 3, size, size], failures)`` of ``paths``, exactly those of
    :func:`krypto.data.images.read_uint8` (which decoded the training images); failures:
    ``(index, message)`` of the files that do not decode, their rows zeros. ``decoder="auto"``
    decodes JPEGs with torchvision (faster), ``"pil"`` everything with PIL. With ``landmarks``
    ``[n, 10]`` (normalised), the photos are aligned as aligned training photos were
    (:func:`krypto.data.alignment.align_photos`, decoded by PIL; NaN rows: centre crops)."""
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
    paths = [str(p) for p in paths]
    if landmarks is not None:
        return align_photos(paths, landmarks, size, workers=1, progress=False)
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    failures: list[tuple[int, str]] = []
    fast = [None] * len(paths)
    if decoder == "auto" and _jpeg["agrees"] is not False:
        fast = _torchvision_jpegs(paths)
    for i, (path, image) in enumerate(zip(paths, fast)):
        if image is not None:
            image = _resized(image, size)
            if _agrees(image, path, size):
                out[i] = image
                continue
        try:
            out[i] = read_uint8(path, size)
        except CorruptImageError as error:
            failures.append((i, str(error)))
    return out, failures


def decode_image(path: str, size: int, decoder: str = "auto") -> np.ndarray:
    """``[3, size, size]`` uint8 RGB pixels of ``path`` as :func:`decode_images` decodes them,
    raising :class:`CorruptImageError` (naming the file) for a file that does not decode."""
    images, failures = decode_images([path], size, decoder)
    if failures:
        raise CorruptImageError(failures[0][1])
    return images[0]

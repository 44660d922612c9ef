"""Test images decoded to the pixels the model was trained on, fast.

JPEGs are decoded by ``torchvision.io.decode_jpeg`` (libjpeg-turbo without Python in the loop,
which frees the GIL: threads decode in parallel), every other file and every JPEG it refuses by
PIL, and resizing is PIL's: the pixels are those of :func:`krypto.data.images.read_uint8`, which
decoded the training images (checked once per process on the first JPEG; where the two decoders
disagree, PIL decodes everything).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Sequence

import numpy as np

from krypto.data.images import CorruptImageError, read_uint8

DECODERS = ("auto", "pil")  # auto: torchvision's JPEG decoder where it gives PIL's pixels

_JPEG_START = b"\xff\xd8\xff"
_jpeg = {"agrees": None}  # torchvision's pixels equal PIL's here: None until checked once
_jpeg_lock = threading.Lock()


def _jpeg_decoder():
    """torchvision's ``decode_jpeg`` (deprecated in torchvision 0.29 in favour of TorchCodec,
    which is not a dependency here; its per-call notice is silenced), or None where it is gone:
    then PIL decodes everything."""
    if "decode" not in _jpeg:
        try:
            from torchvision.io import ImageReadMode, decode_jpeg
        except ImportError:
            _jpeg["decode"] = None
        else:
            warnings.filterwarnings(
                "ignore",
                category=DeprecationWarning,
                module="torchvision.io.image",
                message="The image decoding and encoding capabilities",
            )
            _jpeg["decode"] = (decode_jpeg, ImageReadMode.UNCHANGED)
    return _jpeg["decode"]


def _torchvision_jpegs(paths: Sequence[str]) -> list:
    """``[3, H, W]`` uint8 numpy arrays of the JPEGs among ``paths`` by torchvision, in one
    call; None for a file it does not decode (not a JPEG, corrupt, CMYK, ...)."""
    import torch

    decoder = _jpeg_decoder()
    out: list = [None] * len(paths)
    if decoder is None:
        return out
    decode_jpeg, mode = decoder
    data = {}
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        if raw.startswith(_JPEG_START):
            data[i] = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    if not data:
        return out
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
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)))
    return np.asarray(rgb.resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)


def _agrees(image: np.ndarray, path: str, size: int) -> bool:
    """Whether torchvision's pixels are PIL's here: compared once per process, on the first
    JPEG; where they differ, PIL decodes everything from then on (with a warning)."""
    if _jpeg["agrees"] is None:
        with _jpeg_lock:
            if _jpeg["agrees"] is None:
                try:
                    _jpeg["agrees"] = bool(np.array_equal(image, read_uint8(path, size)))
                except CorruptImageError:
                    return False
                if not _jpeg["agrees"]:
                    warnings.warn(
                        "torchvision and PIL decode JPEGs differently here: decoding "
                        "with PIL (slower)",
                        stacklevel=2,
                    )
    return _jpeg["agrees"]


def decode_into(
    out: np.ndarray, paths: Sequence[str], rows, size: int, decoder: str, failures: list
) -> None:
    """Decode ``paths[rows]`` into ``out[rows]``; ``(row, message)`` of a file that does not
    decode is appended to ``failures`` (its row is left as it is)."""
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
    fast = [None] * len(rows)
    if decoder == "auto" and _jpeg["agrees"] is not False:
        fast = _torchvision_jpegs([paths[i] for i in rows])
    for i, image in zip(rows, fast):
        if image is not None:
            image = _resized(image, size)
            if _agrees(image, paths[i], size):
                out[i] = image
                continue
        try:
            out[i] = read_uint8(paths[i], size)
        except CorruptImageError as error:
            failures.append((int(i), str(error)))


def decode_image(path: str, size: int, decoder: str = "auto") -> np.ndarray:
    """``[3, size, size]`` uint8 RGB pixels of ``path``, exactly those of
    :func:`krypto.data.images.read_uint8` (which decoded the training images), raising its
    :class:`CorruptImageError` for a file that does not decode. ``decoder="auto"`` decodes JPEGs
    with torchvision (faster, and without the GIL), ``"pil"`` everything with PIL."""
    out = np.zeros((1, 3, size, size), dtype=np.uint8)
    failures: list[tuple[int, str]] = []
    decode_into(out, [str(path)], [0], size, decoder, failures)
    if failures:
        raise CorruptImageError(failures[0][1])
    return out[0]


def decode_images(paths: Sequence[str], size: int, decoder: str = "auto"):
    """``(pixels [n, 3, size, size], failures)`` of ``paths`` as :func:`decode_image` decodes
    each, in this thread; failures: ``(index, message)``, their rows zeros."""
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    failures: list[tuple[int, str]] = []
    decode_into(out, [str(p) for p in paths], range(len(paths)), size, decoder, failures)
    return out, sorted(failures)

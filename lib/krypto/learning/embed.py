"""Decoded-image caches and batched embedding."""

import hashlib
from pathlib import Path

import numpy as np
import torch

from krypto.data.alignment import align_photos, warn_unaligned
from krypto.data.images import decode_many
from krypto.files import atomic_path, file_lock


class ImageCache:
    """Read-only uint8 images ``[N, 3, S, S]``, usually memory-mapped from a ``.npy`` file (the
    processes of a machine that open it share one copy in memory). Indexing (ints, slices, numpy
    arrays or torch tensors) copies the images out into a new, writable numpy array, free to
    augment in place; a torch tensor of one element selects *a batch of one*, as torch does."""

    def __init__(self, array: np.ndarray):
        if array.ndim != 4 or array.dtype != np.uint8:
            raise ValueError(f"expected uint8 images [N, 3, S, S], got {array.dtype} {array.shape}")
        if array.flags.writeable:
            array = array.view()
            array.flags.writeable = False
        self.array = array
        self.shape, self.dtype, self.nbytes = array.shape, array.dtype, int(array.nbytes)
        self.memory_mapped = isinstance(array, np.memmap)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return np.array(self.array[index])  # a copy, never a view of the cache


def _cache_key(paths: list[str], size: int, landmarks: np.ndarray | None = None) -> str:
    """A key of the images' paths, sizes and modification times and of ``size`` (and of the
    ``landmarks`` they are aligned with, when aligned): a data set rewritten in place gets a new
    cache instead of the old images."""
    digest = hashlib.sha1(f"{size}".encode())
    if landmarks is not None:
        digest.update(b"|aligned|" + np.ascontiguousarray(landmarks, np.float32).tobytes())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"\n{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def cached_images(
    paths,
    size: int,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    landmarks: np.ndarray | None = None,
) -> ImageCache:
    """All ``paths`` decoded and resized once: read-only uint8 images ``[N, 3, size, size]``
    (:class:`ImageCache`), or with ``landmarks`` ``[N, 10]`` (normalised) aligned to the
    five-point template (:mod:`krypto.data.alignment`; centre crops where they are NaN, named
    in a warning). With ``cache_dir``, the array is stored there as ``.npy`` (see
    :func:`_cache_key`) and memory-mapped by this and later runs: no JPEG is decoded twice."""
    paths = [str(p) for p in paths]
    if landmarks is not None:
        warn_unaligned(paths, landmarks, "indexed photo(s)")
    if cache_dir is None:
        return ImageCache(_decode_all(paths, size, progress, landmarks))
    key = _cache_key(paths, size, landmarks)
    kind = "" if landmarks is None else "aligned-"
    file = Path(cache_dir) / f"images-{size}px-{kind}{key}.npy"
    with file_lock(file.with_suffix(".lock")):
        if not file.is_file():
            array = _decode_all(paths, size, progress, landmarks)
            with atomic_path(file) as tmp, open(tmp, "wb") as handle:
                np.save(handle, array)
            del array
    return ImageCache(np.load(file, mmap_mode="r"))


def _decode_all(paths: list[str], size: int, progress: bool, landmarks) -> np.ndarray:
    if landmarks is None:
        array, failures = decode_many(paths, size, progress=progress)
    else:
        array, failures = align_photos(paths, landmarks, size, progress=progress)
    if failures:
        raise ValueError(
            f"{len(failures)} images do not decode although they are indexed "
            f"(were they changed after indexing?): {failures[0][1]}"
        )
    return array


def to_model_input(
    images, device: torch.device | str, memory_format=torch.contiguous_format
) -> torch.Tensor:
    """uint8 images ``[B, 3, H, W]`` -> floats in [0, 1] on ``device``, in ``memory_format``."""
    if not isinstance(images, torch.Tensor):
        images = torch.from_numpy(np.require(images, requirements="W"))  # copied if read-only
    x = images.to(device, non_blocking=True).float().div_(255)
    return x.contiguous(memory_format=memory_format)


@torch.no_grad()
def embed_batch(
    model: torch.nn.Module, images, device: torch.device, amp: bool = False, flip_tta: bool = False
) -> torch.Tensor:
    """Outputs ``[B, D (+ 1)]`` (float32, on CPU) of one batch of uint8 images or of
    :func:`to_model_input`'s output, ``model`` in the mode it is in. ``flip_tta`` sums the unit
    embeddings of each image and of its mirror image."""
    first_conv = next((p for p in model.parameters() if p.dim() == 4), None)
    placed = first_conv is not None and not first_conv.is_contiguous()  # as channels_last
    fmt = torch.channels_last if placed else torch.contiguous_format
    if isinstance(images, torch.Tensor) and images.is_floating_point():
        x = images.to(device, non_blocking=True).contiguous(memory_format=fmt)
    else:
        x = to_model_input(images, device, fmt)
    with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
        out = model(x).float()
        if flip_tta:  # unit embeddings summed; a fake detector's logits (past D) averaged
            mirrored = model(x.flip(-1)).float()
            dim = getattr(model, "embedding_dim", out.shape[1])
            unit = torch.nn.functional.normalize
            embeddings = unit(out[:, :dim], dim=1) + unit(mirrored[:, :dim], dim=1)
            out = torch.cat([embeddings, (out[:, dim:] + mirrored[:, dim:]) / 2], 1)
    return out.cpu()


# images per forward when embedding: on a CPU, 64 run faster than 256 (they stay in its caches)
# and hold a quarter of the activations; a GPU wants larger batches
EMBED_BATCH = {"cpu": 64, "cuda": 256}


@torch.no_grad()
def embed(
    model: torch.nn.Module,
    images,
    batch_size: int | None = None,
    device: torch.device | str = "cpu",
    amp: bool = False,
    flip_tta: bool = False,
) -> torch.Tensor:
    """Outputs ``[N, D (+ 1)]`` (float32, on CPU) of uint8 images ``[N, 3, H, W]`` (a tensor, a
    numpy array or an :class:`ImageCache`), ``batch_size`` at a time (default: :data:`EMBED_BATCH`
    of the device), the model in eval mode; ``flip_tta``: see :func:`embed_batch`."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    size = batch_size or EMBED_BATCH.get(device.type, EMBED_BATCH["cuda"])
    starts = range(0, len(images), size)
    try:
        out = [embed_batch(model, images[i : i + size], device, amp, flip_tta) for i in starts]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)

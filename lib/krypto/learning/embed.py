"""Decoded-image caches and batched embedding."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from krypto.files import file_lock
from krypto.data.images import decode_many


def cached_images(paths, size: int, cache_dir: str | Path | None = None,
                  progress: bool = True) -> torch.Tensor:
    """All ``paths`` decoded and resized once: a uint8 tensor ``[N, 3, size, size]``.

    With ``cache_dir``, the array is stored there as ``.npy`` (keyed by the paths and size) and
    memory-mapped by later runs, so no JPEG is decoded twice."""
    paths = [str(p) for p in paths]
    if cache_dir is None:
        return torch.from_numpy(_decode_all(paths, size, progress))
    key = hashlib.sha1(("\n".join(paths) + f"|{size}").encode()).hexdigest()[:12]
    file = Path(cache_dir) / f"images-{size}px-{key}.npy"
    with file_lock(file.with_suffix(".lock")):
        if not file.is_file():
            tmp = file.with_suffix(".tmp.npy")
            np.save(tmp, _decode_all(paths, size, progress))
            tmp.replace(file)
    return torch.from_numpy(np.load(file))


def _decode_all(paths: list[str], size: int, progress: bool) -> np.ndarray:
    array, failures = decode_many(paths, size, progress=progress)
    if failures:
        raise ValueError(f"{len(failures)} images do not decode although they are indexed "
                         f"(were they changed after indexing?): {failures[0][1]}")
    return array


def to_model_input(images: torch.Tensor, device: torch.device | str,
                   channels_last: bool = False) -> torch.Tensor:
    """uint8 ``[B, 3, H, W]`` -> float in [0, 1] on ``device``."""
    x = images.to(device, non_blocking=True).float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def embed(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256,
          device: torch.device | str = "cpu", amp: bool = False, flip_tta: bool = False,
          progress: bool = False) -> torch.Tensor:
    """Embeddings ``[N, D]`` (float32, on CPU) of uint8 images ``[N, 3, H, W]``.

    ``flip_tta`` averages the embeddings of each image and its mirror image."""
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    device = torch.device(device)
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc="embedding", disable=not progress):
        x = to_model_input(images[start:start + batch_size], device,
                           channels_last=device.type == "cuda")
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            e = model(x).float()
            if flip_tta:
                e = torch.nn.functional.normalize(e, dim=1) + \
                    torch.nn.functional.normalize(model(x.flip(-1)).float(), dim=1)
        out.append(e.cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)

"""Images embedded from their paths: a dataset of the photos decoded as training decoded them
(PIL), its batches decoded on a pool of threads ahead of the forward pass.

Threads, not a :class:`torch.utils.data.DataLoader`'s worker processes: starting and joining a
worker process at each call and sending it the pixels cost more than decoding, at the size of a
submission (PIL releases the GIL while it decodes)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

from krypto.data.alignment import read_aligned
from krypto.data.images import CorruptImageError, read_uint8
from krypto.learning.embed import embed_batch

MAX_NAMED = 5  # failures an error message names
MAX_WORKERS = 8


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_workers(device) -> int:
    """Decoding threads (at most 8): beside a CPU forward, the cores torch leaves free (none: each
    batch is decoded before its forward, as on the forward's cores a decoding thread would make
    torch's threads wait for it); beside a GPU, every usable core."""
    cores = available_cores()
    if torch.device(device).type == "cpu":
        cores -= torch.get_num_threads()
    return max(0, min(MAX_WORKERS, cores))


class PhotoFiles(torch.utils.data.Dataset):
    """The photos at ``paths`` as training decoded them (:func:`krypto.data.images.read_uint8`:
    ``size`` px, bilinear, RGB), or aligned with their ``landmarks`` ``[n, 10]``
    (:func:`krypto.data.alignment.read_aligned`; NaN rows: centre crops). Item ``i``:
    ``(pixels [3, size, size] uint8, error)``, error ``""`` or the message naming a file that
    does not decode (its pixels zeros)."""

    def __init__(self, paths: Sequence, size: int, landmarks: np.ndarray | None = None):
        self.paths, self.size, self.landmarks = [str(p) for p in paths], size, landmarks

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        try:
            if self.landmarks is None:
                pixels = read_uint8(self.paths[i], self.size)
            else:
                pixels = read_aligned(self.paths[i], self.landmarks[i], self.size)
        except CorruptImageError as error:
            return torch.zeros(3, self.size, self.size, dtype=torch.uint8), str(error)
        return torch.from_numpy(np.ascontiguousarray(pixels)), ""


def decoded_batches(photos: PhotoFiles, batch_size: int, workers: int) -> Iterator:
    """``(pixels [n, 3, S, S] uint8, errors)`` of each batch of ``photos`` in order, each batch
    decoded on one of ``workers`` threads, up to ``workers`` batches ahead of the one handed out
    (0: each batch in the calling thread, when asked for)."""

    def batch(start: int):
        rows = range(start, min(start + batch_size, len(photos)))
        return torch.utils.data.default_collate([photos[i] for i in rows])

    starts = range(0, len(photos), batch_size)
    if workers == 0:
        yield from map(batch, starts)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
        pending: deque = deque()
        try:
            for start in starts:
                pending.append(pool.submit(batch, start))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _describe_failures(failures: list[tuple[int, str]], labels: Sequence[str] | None) -> str:
    shown = [
        (f"{labels[i]}: " if labels is not None else "") + message
        for i, message in failures[:MAX_NAMED]
    ]
    more = f"; and {len(failures) - MAX_NAMED} more" if len(failures) > MAX_NAMED else ""
    return f"{len(failures)} image(s) cannot be decoded: " + "; ".join(shown) + more


@torch.no_grad()
def embed_paths(
    model: torch.nn.Module,
    paths: Sequence,
    image_size: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    tta: bool = False,
    amp: bool = False,
    progress: bool = False,
    failures: list | None = None,
    labels: Sequence[str] | None = None,
    workers: int | None = None,
    landmarks: np.ndarray | None = None,
) -> torch.Tensor:
    """Embeddings float32 ``[len(paths), D]`` on the CPU (not normalised) of the photos at
    ``paths``, each decoded once by :class:`PhotoFiles` (aligned with ``landmarks``) on
    ``workers`` threads (default :func:`default_workers`; 0: in this thread), ``batch_size``
    at a time (:func:`decoded_batches`). The embeddings do not depend on ``workers``: the same
    batches reach the model.

    An image that does not decode raises :class:`CorruptImageError` naming it (and its entry of
    ``labels``, e.g. its pair id) with every other failure of its batch; when a ``failures``
    list is given, ``(index, message)`` is appended to it instead and that row is NaN.
    ``tta``: horizontal-flip test-time augmentation (see :func:`krypto.learning.embed.embed`)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = torch.device(device)
    workers = default_workers(device) if workers is None else max(0, int(workers))
    batches = decoded_batches(PhotoFiles(paths, image_size, landmarks), batch_size, workers)
    was_training = model.training
    model.eval()
    out: list[torch.Tensor] = []
    bar = tqdm(total=len(paths), desc="decoding and embedding", disable=not progress)
    try:
        for start, (images, errors) in zip(range(0, len(paths), batch_size), batches):
            failed = [(start + i, message) for i, message in enumerate(errors) if message]
            if failed and failures is None:
                raise CorruptImageError(_describe_failures(failed, labels))
            emb = embed_batch(model, images, device, amp, tta)
            if failed:
                emb[[i - start for i, _ in failed]] = float("nan")
                failures.extend(failed)
            out.append(emb)
            bar.update(len(images))
    finally:
        batches.close()
        bar.close()
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)

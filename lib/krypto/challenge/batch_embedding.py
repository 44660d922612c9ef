"""Images embedded from their paths, decoded on a pool of threads ahead of the forward pass.

Decoding runs batch by batch (:func:`krypto.challenge.image_decoding.decode_images`, which
releases the GIL in its decoders), ``prefetch`` batches ahead of the forward pass (see
:func:`default_prefetch`), so that a GPU embeds one batch while the next ones are decoded.
Threads measured faster than a :class:`torch.utils.data.DataLoader`'s worker processes here:
a batch of pixels needs no copy between processes, and on a CPU the last thread to finish a
batch turns it into the model's float input off the thread that runs the forward.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

from krypto.challenge.image_decoding import decode_images
from krypto.data.images import CorruptImageError
from krypto.learning.embed import embed_batch, to_model_input

MAX_NAMED = 5  # failures an error message names


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_workers(device) -> int:
    """Decoding threads (at most 8): on a CPU whose cores torch does not all use, the cores it
    leaves free (decoding beside the forward, not on its cores); otherwise every usable core
    (on a GPU, or between two forwards that use them all)."""
    cores = available_cores()
    if torch.device(device).type == "cpu" and torch.get_num_threads() < cores:
        return max(1, min(8, cores - torch.get_num_threads()))
    return max(1, min(8, cores))


def default_prefetch(device) -> int:
    """Batches decoded ahead of the forward pass: 2 on a GPU (decoding on the CPU overlaps the
    forward on the GPU); on a CPU, 2 where torch leaves cores free, else 0: the forward already
    keeps every core busy, and a decoding thread beside it would make torch's OpenMP threads wait
    for a descheduled peer at each barrier (slower than decoding, on all cores, between two
    forwards)."""
    if torch.device(device).type != "cpu":
        return 2
    return 2 if torch.get_num_threads() < available_cores() else 0


class _Batch:
    """One batch being decoded on the pool in ``parts`` tasks: pixels ``[n, 3, S, S]`` (zeros
    where a file does not decode) and ``(index in the batch, message)`` failures. With
    ``as_input``, the task that finishes last turns the pixels into the model's float input;
    with ``points`` (landmarks ``[n, 10]``), the photos are aligned."""

    def __init__(self, pool, start, paths: list[str], size, decoder, parts, as_input, points):
        self.start, self.n, self.as_input = start, len(paths), as_input
        self.images = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
        self.failures: list[tuple[int, str]] = []
        rows = [r for r in np.array_split(np.arange(len(paths)), min(parts, len(paths))) if len(r)]
        self._left, self._lock = len(rows), threading.Lock()
        self.futures = [pool.submit(self._part, paths, r, size, decoder, points) for r in rows]

    def _part(self, paths: list[str], rows: np.ndarray, size: int, decoder: str, points) -> None:
        points = None if points is None else points[rows]
        images, failures = decode_images([paths[r] for r in rows], size, decoder, points)
        self.images[rows] = images
        with self._lock:
            self.failures += [(int(rows[i]), message) for i, message in failures]
            self._left -= 1
            last = self._left == 0
        if last and self.as_input:
            self.images = to_model_input(self.images, "cpu")

    def result(self):
        """``(images, failures)``: uint8 pixels, or the float input tensor."""
        for future in self.futures:
            future.result()
        return self.images, sorted(self.failures)


def _decoded_batches(
    paths, size, batch_size, decoder, workers, prefetch, as_input, landmarks=None
) -> Iterator:
    """``(start, images, failures)`` of each batch in order, decoded by ``workers`` threads,
    ``prefetch`` batches ahead of the one handed out (each batch split so that the batches in
    flight keep every thread busy; prefetch 0: one batch at a time, decoded by all of them);
    aligned with ``landmarks`` ``[len(paths), 10]`` when given."""
    starts = range(0, len(paths), batch_size)
    parts = -(-workers // (prefetch + 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        pending: deque[_Batch] = deque()
        try:
            for start in starts:
                pending.append(
                    _Batch(
                        pool,
                        start,
                        paths[start : start + batch_size],
                        size,
                        decoder,
                        parts,
                        as_input,
                        None if landmarks is None else landmarks[start : start + batch_size],
                    )
                )
                if len(pending) > prefetch:
                    batch = pending.popleft()
                    yield (batch.start, *batch.result())
            while pending:
                batch = pending.popleft()
                yield (batch.start, *batch.result())
        finally:
            for batch in pending:
                for future in batch.futures:
                    future.cancel()


def _describe_failures(failures: list[tuple[int, str]], labels: Sequence[str] | None) -> str:
    shown = [
        (f"{labels[i]}: " if labels is not None else "") + message
        for i, message in failures[:MAX_NAMED]
    ]
    more = f"; and {len(failures) - MAX_NAMED} more" if len(failures) > MAX_NAMED else ""
    return f"{len(failures)} image(s) cannot be decoded: " + "; ".join(shown) + more


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
    prefetch: int | None = None,
    decoder: str = "auto",
    landmarks: np.ndarray | None = None,
) -> torch.Tensor:
    """Decode ``paths`` (each once, as training did: ``image_size`` px, bilinear, RGB; see
    :func:`~krypto.challenge.image_decoding.decode_images`) and embed them: float32
    ``[len(paths), D]`` on the CPU, not normalised.

    Batches of ``batch_size`` images are decoded by ``workers`` threads (default
    :func:`default_workers`), ``prefetch`` batches ahead of the one being embedded (default
    :func:`default_prefetch`; 0: decode a batch, then embed it). The embeddings do not depend on
    ``workers`` nor ``prefetch``: the same batches reach the model. At most ``prefetch + 1``
    batches of decoded images are held in memory.

    An image that does not decode raises :class:`CorruptImageError` naming it (and its entry of
    ``labels``, e.g. its pair id) with every other failure of its batch; when a ``failures``
    list is given, ``(index, message)`` is appended to it instead and that row is NaN.
    ``tta``: horizontal-flip test-time augmentation (see :func:`krypto.learning.embed.embed`).
    ``landmarks`` ``[len(paths), 10]`` (normalised): each photo aligned to the five-point
    template as aligned training photos were (a centre crop where NaN)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = torch.device(device)
    workers = default_workers(device) if workers is None else max(1, int(workers))
    prefetch = default_prefetch(device) if prefetch is None else max(0, int(prefetch))
    paths = [str(p) for p in paths]
    # on a CPU forward beside the decoding, the threads also convert to floats (on a GPU, uint8
    # travels: a quarter of the bytes, converted there)
    as_input = prefetch > 0 and device.type == "cpu"
    batches = _decoded_batches(
        paths, image_size, batch_size, decoder, workers, prefetch, as_input, landmarks
    )
    was_training = model.training
    model.eval()
    out: list[torch.Tensor] = []
    bar = tqdm(
        total=len(paths),
        desc="decoding and embedding",
        unit="img",
        disable=not progress,
        mininterval=1.0,
    )
    try:
        for start, images, failed in batches:
            failed = [(start + i, message) for i, message in failed]
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

"""Images embedded from their paths, decoded on a pool of threads ahead of the forward pass.

Decoding runs batch by batch (:func:`krypto.challenge.image_decoding.decode_image`), ``prefetch``
batches ahead of the forward pass (see :func:`default_prefetch`), so that a GPU embeds one batch
while the next ones are decoded.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from krypto.challenge.image_decoding import decode_into
from krypto.data.images import CorruptImageError

if TYPE_CHECKING:  # torch and the model code are imported when needed
    import torch

DECODE_CHUNK = 8192  # images whose decoding failures are reported together
MAX_NAMED = 5  # failures an error message names


def _describe_failures(failures: list[tuple[int, str]], labels: Sequence[str] | None) -> str:
    shown = [
        (f"{labels[i]}: " if labels is not None else "") + message
        for i, message in failures[:MAX_NAMED]
    ]
    more = f"; and {len(failures) - MAX_NAMED} more" if len(failures) > MAX_NAMED else ""
    return "; ".join(shown) + more


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(device) -> int:
    """Decoding threads (at most 8): on a CPU whose cores torch does not all use, the cores it
    leaves free (decoding beside the forward, not on its cores); otherwise every usable core
    (on a GPU, or between two forwards that use them all)."""
    import torch

    cores = available_cores()
    torch_threads = torch.get_num_threads()
    if torch.device(device).type == "cpu" and torch_threads < cores:
        return max(1, min(8, cores - torch_threads))
    return max(1, min(8, cores))


def default_prefetch(device) -> int:
    """Batches decoded ahead of the forward pass: 2 on a GPU (decoding on the CPU overlaps the
    forward on the GPU); on a CPU, 2 where torch leaves cores free, else 0: the forward already
    keeps every core busy, and a decoding thread beside it would make torch's OpenMP threads wait
    for a descheduled peer at each barrier (slower than decoding, on all cores, between two
    forwards)."""
    import torch

    if torch.device(device).type != "cpu":
        return 2
    return 2 if torch.get_num_threads() < available_cores() else 0


class _Batch:
    """One batch being decoded on the pool, split in ``parts`` tasks: pixels ``[n, 3, S, S]``
    (zeros where a file does not decode) and ``(index in the batch, message)`` failures, once
    :meth:`result` returns. With ``as_input``, the task that finishes last also converts the
    batch into the model's float input (:func:`krypto.learning.embed.to_model_input` on the CPU),
    off the thread that runs the forward."""

    def __init__(
        self,
        pool,
        start: int,
        paths: Sequence[str],
        size: int,
        decoder: str,
        parts: int,
        as_input: bool,
    ):
        self.start, self.n, self.as_input = start, len(paths), as_input
        self.images = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
        self.failures: list[tuple[int, str]] = []
        rows = [
            r
            for r in np.array_split(np.arange(len(paths)), max(1, min(parts, len(paths))))
            if len(r)
        ]
        self._left, self._lock = len(rows), threading.Lock()
        self.futures = [pool.submit(self._part, paths, r, size, decoder) for r in rows]

    def _part(self, paths, rows, size: int, decoder: str) -> None:
        decode_into(self.images, paths, rows, size, decoder, self.failures)
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last and self.as_input:
            from krypto.learning.embed import to_model_input

            self.images = to_model_input(self.images, "cpu")

    def result(self):
        """``(images, failures)``: uint8 numpy pixels, or the float input tensor."""
        for future in self.futures:
            future.result()
        return self.images, sorted(self.failures)


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
    chunk: int = DECODE_CHUNK,
    workers: int | None = None,
    prefetch: int | None = None,
    decoder: str = "auto",
) -> torch.Tensor:
    """Decode ``paths`` (each once, as training did: ``image_size`` px, bilinear, RGB; see
    :func:`~krypto.challenge.image_decoding.decode_image`) and embed them: float32
    ``[len(paths), D]`` on the CPU, not normalised.

    Batches of ``batch_size`` images are decoded by ``workers`` threads (default
    :func:`default_workers`), ``prefetch`` batches ahead of the one being embedded (default
    :func:`default_prefetch`; 0: decode a batch, then embed it). The embeddings do not depend on
    ``workers`` nor ``prefetch``: the same batches reach the model.

    An image that does not decode raises :class:`CorruptImageError` naming it (and its entry of
    ``labels``, e.g. its pair id) with every other failure of its ``chunk`` of images; when a
    ``failures`` list is given, ``(index, message)`` is appended to it instead and that row is
    NaN. ``tta``: horizontal-flip test-time augmentation (see :func:`krypto.learning.embed.embed`).
    At most ``prefetch + 1`` batches of decoded images are held in memory."""
    import torch
    from tqdm.auto import tqdm

    from krypto.learning.embed import embed_batch

    if batch_size < 1 or chunk < 1:
        raise ValueError(f"batch_size and chunk must be at least 1, got {batch_size}, {chunk}")
    paths = [str(p) for p in paths]
    device = torch.device(device)
    workers = default_workers(device) if workers is None else max(1, int(workers))
    prefetch = default_prefetch(device) if prefetch is None else max(0, int(prefetch))
    # batches never straddle a chunk: a chunk's failures are all known before it is embedded
    starts = [
        (s, min(s + batch_size, c + chunk, len(paths)))
        for c in range(0, len(paths), chunk)
        for s in range(c, min(c + chunk, len(paths)), batch_size)
    ]
    parts = -(-workers // (prefetch + 1))  # each batch split so that the batches in flight
    # keep every worker busy (prefetch 0: one batch at a time, decoded by all of them)
    # for a CPU forward running beside the decoding, the threads also convert to floats (on a
    # GPU, uint8 travels: a quarter of the bytes, converted there)
    as_input = prefetch > 0 and device.type == "cpu"
    was_training = model.training
    model.eval()
    out: list[torch.Tensor] = []
    chunk_failed: list[tuple[int, str]] = []
    bar = tqdm(
        total=len(paths),
        desc="decoding and embedding",
        unit="img",
        disable=not progress,
        mininterval=1.0,
    )
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
            pending: deque[_Batch] = deque()
            queued = 0

            def fill():
                nonlocal queued
                while queued < len(starts) and len(pending) <= prefetch:
                    s, e = starts[queued]
                    pending.append(
                        _Batch(pool, s, paths[s:e], image_size, decoder, parts, as_input)
                    )
                    queued += 1

            try:
                fill()
                while pending:
                    batch = pending.popleft()
                    images, failed = batch.result()
                    fill()  # the next batches decode while this one is embedded
                    failed = [(batch.start + i, message) for i, message in failed]
                    if failed and failures is None:
                        chunk_failed += failed
                    if not chunk_failed:
                        emb = embed_batch(model, images, device, amp, tta)
                        if failed:
                            emb[[i - batch.start for i, _ in failed]] = float("nan")
                            failures.extend(failed)
                        out.append(emb)
                    end = batch.start + batch.n
                    if chunk_failed and (end % chunk == 0 or end == len(paths)):
                        raise CorruptImageError(
                            f"{len(chunk_failed)} image(s) cannot be "
                            f"decoded: " + _describe_failures(chunk_failed, labels)
                        )
                    bar.update(batch.n)
            except BaseException:
                for batch in pending:
                    for future in batch.futures:
                        future.cancel()
                raise
    finally:
        bar.close()
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)

"""Photos embedded from their paths, decoded to the pixels training decoded on a pool of threads
ahead of the forward. Threads, not a DataLoader's worker processes: starting those at each call
and sending them the pixels cost more than decoding at a submission's size (the decoders release
the GIL)."""

import contextlib
import os
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg, read_file  # deprecated for TorchCodec
from tqdm.auto import tqdm

from krypto.data.alignment import read_aligned
from krypto.data.images import CorruptImageError, read_uint8
from krypto.learning.embed import embed_batch

MAX_NAMED = 5  # failures an error message names
MAX_WORKERS = 8
AGREES: dict[str, bool] = {}  # "jpeg": whether torchvision gives PIL's pixels here (checked once)


def available_cores() -> int:
    """CPU cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def busy_cpu(device) -> bool:
    """Whether the forward runs on a CPU whose every core torch uses: photos are then decoded
    between forwards (a decoding thread beside the forward would make torch's threads wait)."""
    return torch.device(device).type == "cpu" and torch.get_num_threads() >= available_cores()


def default_workers(device) -> int:
    """Decoding threads (at most 8): beside a CPU forward, the cores torch leaves free; between
    forwards (:func:`busy_cpu`) and beside a GPU, every usable core."""
    cores, cpu = available_cores(), torch.device(device).type == "cpu"
    free = cores - torch.get_num_threads() if cpu and not busy_cpu(device) else cores
    return max(1, min(MAX_WORKERS, free))


def jpeg_by_torchvision(path: str, size: int) -> np.ndarray | None:
    """``read_uint8``'s pixels ``[3, size, size]`` by torchvision's JPEG decoder, or None where it
    does not decode the file (not a JPEG, CMYK, corrupt: PIL decodes it or names it) or its
    pixels are not PIL's here (compared once per process, on the first JPEG)."""
    if AGREES.get("jpeg") is False:
        return None
    try:
        with warnings.catch_warnings():  # torchvision's deprecation notice at each call
            warnings.simplefilter("ignore", DeprecationWarning)
            image = decode_jpeg(read_file(path), mode=ImageReadMode.UNCHANGED)
    except RuntimeError:
        return None
    if image.shape[0] not in (1, 3):
        return None
    pixels = np.ascontiguousarray(image.expand(3, -1, -1).numpy())  # gray: as convert("RGB")
    if pixels.shape[1:] != (size, size):  # resized as read_uint8 resizes (PIL, bilinear)
        rgb = Image.fromarray(pixels.transpose(1, 2, 0)).resize((size, size), Image.BILINEAR)
        pixels = np.asarray(rgb).transpose(2, 0, 1)
    if "jpeg" not in AGREES:
        AGREES["jpeg"] = bool(np.array_equal(pixels, read_uint8(path, size)))
        if not AGREES["jpeg"]:
            warnings.warn("torchvision and PIL decode JPEGs differently: PIL decodes", stacklevel=2)
    return pixels if AGREES["jpeg"] else None


class PhotoFiles(torch.utils.data.Dataset):
    """The photos at ``paths`` as training decoded them (:func:`krypto.data.images.read_uint8`;
    JPEGs by :func:`jpeg_by_torchvision`), or aligned by their ``landmarks`` ``[n, 10]`` (NaN:
    centre crops). Item ``i``: ``(pixels [3, size, size] uint8, error)``, error ``""`` or the
    message naming a file that does not decode (its pixels zeros)."""

    def __init__(self, paths: Sequence, size: int, landmarks: np.ndarray | None = None):
        self.paths, self.size, self.landmarks = [str(p) for p in paths], size, landmarks

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        path = self.paths[i]
        try:
            if self.landmarks is not None:
                pixels = read_aligned(path, self.landmarks[i], self.size)
            elif (pixels := jpeg_by_torchvision(path, self.size)) is None:
                pixels = read_uint8(path, self.size)
        except CorruptImageError as error:
            return torch.zeros(3, self.size, self.size, dtype=torch.uint8), str(error)
        return torch.from_numpy(np.ascontiguousarray(pixels)), ""


def decoded_batches(photos: PhotoFiles, batch_size: int, workers: int, ahead: int = 1) -> Iterator:
    """``(pixels [n, 3, S, S] uint8, errors)`` of each batch of ``photos`` in order, each batch
    decoded in ``workers`` parts, one per thread (0: in the calling thread), the next ``ahead``
    batches while one is handed out (0: each batch when asked for)."""
    starts = range(0, len(photos), batch_size)
    batch = lambda start: np.arange(start, min(start + batch_size, len(photos)))
    decode = lambda rows: [photos[i] for i in rows]
    collate = torch.utils.data.default_collate
    if workers == 0:
        yield from (collate(decode(batch(start))) for start in starts)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="decode")
    pending: deque = deque()  # the parts of the batches from the one handed out on
    try:
        for k in range(len(starts)):
            while len(pending) <= ahead and k + len(pending) < len(starts):
                parts = np.array_split(batch(starts[k + len(pending)]), workers)
                pending.append([pool.submit(decode, rows) for rows in parts if len(rows)])
            yield collate([item for part in pending.popleft() for item in part.result()])
    finally:
        pool.shutdown(cancel_futures=True)


def _describe_failures(failures: list[tuple[int, str]], labels: Sequence[str] | None) -> str:
    shown = [(f"{labels[i]}: " if labels else "") + why for i, why in failures[:MAX_NAMED]]
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
    """Outputs float32 ``[len(paths), D (+ 1)]`` on the CPU (not normalised) of the photos at
    ``paths`` (:class:`PhotoFiles`, aligned with ``landmarks``), ``batch_size`` at a time, decoded
    on ``workers`` threads (default :func:`default_workers`; 0: in this thread) the next batch
    beside the forward (between forwards on a :func:`busy_cpu`). ``workers`` change nothing in
    the outputs. ``tta``: see :func:`krypto.learning.embed.embed_batch`; ``model`` is left in
    eval mode. An image that does not decode raises :class:`CorruptImageError` naming it (and
    its entry of ``labels``, e.g. its pair id) with every other failure of its batch, or with a
    ``failures`` list, ``(index, message)`` is appended to it and its row is NaN."""
    if batch_size < 1 or (workers or 0) < 0:
        raise ValueError(f"need batch_size >= 1 and workers >= 0, got {batch_size}, {workers}")
    device = torch.device(device)
    workers = default_workers(device) if workers is None else workers
    photos, ahead = PhotoFiles(paths, image_size, landmarks), 0 if busy_cpu(device) else 1
    batches = decoded_batches(photos, batch_size, workers, ahead)
    model.eval()
    out: list[torch.Tensor] = []
    bar = tqdm(total=len(paths), desc="decoding and embedding", disable=not progress)
    with contextlib.closing(batches), bar:
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
    return torch.cat(out) if out else torch.empty(0)

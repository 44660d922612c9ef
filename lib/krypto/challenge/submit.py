"""A submission ``pair_id,similarity`` for a folder of test pairs, from a 02_train run.

Command line::

    python -m krypto.challenge.submit --run runs/train/small_cnn-quadruplet \\
        --pairs data/x/test_public --out submission.csv [--tta] [--skip-bad] [--overwrite] \\
        [--batch-size 256] [--device auto] [--checkpoint best.pt] [--amp] [--no-progress] \\
        [--workers N] [--prefetch N] [--decoder auto|pil]

Every image is decoded once, with the preprocessing the model was trained with (resized to the
run's ``image_size``, bilinear, RGB, [0, 1]), embedded in batches, and each pair scored by the
cosine similarity of its two embeddings (``--tta``: of the sums of the unit embeddings of an image
and of its mirror image). Rows are written sorted by ``pair_id``, which is the pair folder's name
exactly as on disk (zero padding kept).

Decoding runs on a pool of threads, batch by batch, ahead of the forward pass (``--prefetch``
batches; see :func:`default_prefetch`), so that a GPU embeds one batch while the next ones are
decoded. JPEGs are decoded by ``torchvision.io.decode_jpeg`` (libjpeg-turbo without Python in the
loop, which frees the GIL: the threads decode in parallel), every other file and every JPEG it
refuses by PIL, and resizing is PIL's: the pixels are those of
:func:`krypto.data.images.read_uint8`, which decoded the training images (checked once per
process on the first JPEG; where the two decoders disagree, PIL decodes everything).

A pair folder without both images or with an unreadable image is an error naming it; with
``--skip-bad`` such pairs are left out, listed in ``<out>.skipped.txt`` (``pair_id<TAB>reason``)
and a warning says how many: a gap is never silent. An existing ``--out`` is not replaced unless
``--overwrite``. Input errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.data.images import CorruptImageError, read_uint8
from krypto.data.layout import DataLayoutError, IncompletePairError, read_pairs

if TYPE_CHECKING:  # torch and the model code are imported when needed: input errors come fast
    import torch

DECODE_CHUNK = 8192  # images whose decoding failures are reported together
MAX_NAMED = 5  # failures an error message names


class SubmissionError(ValueError):
    """A submission that cannot be made as asked; the message says why."""


def skipped_path(out: str | Path) -> Path:
    """Where the list of skipped pairs of submission ``out`` goes: ``<out>.skipped.txt``."""
    return Path(str(out) + ".skipped.txt")


def _describe_failures(failures: list[tuple[int, str]], labels: Sequence[str] | None) -> str:
    shown = [
        (f"{labels[i]}: " if labels is not None else "") + message
        for i, message in failures[:MAX_NAMED]
    ]
    more = f"; and {len(failures) - MAX_NAMED} more" if len(failures) > MAX_NAMED else ""
    return "; ".join(shown) + more


DECODERS = ("auto", "pil")  # auto: torchvision's JPEG decoder where it gives PIL's pixels


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(device) -> int:
    """Decoding threads: every usable core (at most 8)."""
    return max(1, min(8, available_cores()))


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


def _decode_into(
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
    _decode_into(out, [str(path)], [0], size, decoder, failures)
    if failures:
        raise CorruptImageError(failures[0][1])
    return out[0]


def decode_images(paths: Sequence[str], size: int, decoder: str = "auto"):
    """``(pixels [n, 3, size, size], failures)`` of ``paths`` as :func:`decode_image` decodes
    each, in this thread; failures: ``(index, message)``, their rows zeros."""
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    failures: list[tuple[int, str]] = []
    _decode_into(out, [str(p) for p in paths], range(len(paths)), size, decoder, failures)
    return out, sorted(failures)


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
        _decode_into(self.images, paths, rows, size, decoder, self.failures)
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
    :func:`decode_image`) and embed them: float32 ``[len(paths), D]`` on the CPU, not normalised.

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


def _incomplete_ids(root: Path, kept: set[str], messages: list[str]) -> list[tuple[str, str]]:
    """(pair_id, reason) of the folders :func:`read_pairs` skipped, in its (sorted) order."""
    folders = [p.name for p in sorted(root.iterdir()) if p.is_dir() and p.name not in kept]
    if len(folders) != len(messages):  # cannot pair them up: keep the messages whole
        return [("?", m) for m in messages]
    return list(zip(folders, messages))


def _check_run(run_dir: str | Path, checkpoint: str) -> None:
    """Fail fast, before any image is read, when the checkpoint is not there (the same path
    rule as :func:`krypto.learning.train.resolve_path`: relative to the repository root)."""
    run = Path(run_dir).expanduser()
    run = run if run.is_absolute() else C.REPO_ROOT / run
    if not (run / checkpoint).is_file():
        raise FileNotFoundError(
            f"no checkpoint {run / checkpoint}: is {run} a 02_train run folder?"
        )


def make_submission(
    run_dir: str | Path,
    pairs_dir: str | Path,
    out: str | Path | None = None,
    tta: bool = False,
    skip_bad: bool = False,
    batch_size: int = 256,
    device: str = "auto",
    progress: bool = True,
    checkpoint: str = C.BEST_CHECKPOINT,
    overwrite: bool = False,
    amp: bool = False,
    workers: int | None = None,
    prefetch: int | None = None,
    decoder: str = "auto",
) -> pd.DataFrame:
    """Score every pair folder of ``pairs_dir`` with the model of the run ``run_dir``.

    Returns the submission frame (``pair_id`` as str, ``similarity`` float64, sorted by
    ``pair_id``; ``frame.attrs["skipped"]`` lists ``(pair_id, reason)`` of the pairs left out)
    and writes it to ``out`` when given (an existing file only with ``overwrite``).

    Raises :class:`krypto.data.layout.DataLayoutError` for a pair folder without both images,
    :class:`krypto.data.images.CorruptImageError` for an unreadable image (naming the file and its
    pair id), unless ``skip_bad``: then those pairs are left out, listed in
    ``<out>.skipped.txt`` and a warning is issued. ``workers``, ``prefetch``, ``decoder``: how
    images are decoded (see :func:`embed_paths`); the submission does not depend on them."""
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    _check_run(run_dir, checkpoint)
    root = Path(pairs_dir).expanduser().resolve()
    messages: list[str] = []
    try:
        pairs = read_pairs(root, skip_incomplete=skip_bad, skipped=messages)
    except IncompletePairError as error:
        raise IncompletePairError(
            error.problem, "pass --skip-bad / skip_bad=True to list and skip such pairs"
        ) from error
    skipped = _incomplete_ids(root, set(pairs[C.PAIR_ID]), messages) if messages else []

    from krypto.evaluation.metrics import cosine_pair_scores
    from krypto.learning.train import load_model, pick_device, set_threads

    set_threads(0)  # KRYPTO_NUM_THREADS, when set
    dev = pick_device(device)
    model, config = load_model(run_dir, checkpoint, dev)
    if dev.type == "cuda":  # as the trainer runs it (the inputs are channels_last there too)
        import torch

        model = model.to(memory_format=torch.channels_last)
    n = len(pairs)
    paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
    ids = pairs[C.PAIR_ID].tolist()
    labels = [f"pair_id {pid!r}" for pid in ids] * 2
    failures: list[tuple[int, str]] | None = [] if skip_bad else None
    try:
        emb = embed_paths(
            model,
            paths,
            config.image_size,
            batch_size,
            dev,
            tta=tta,
            amp=amp,
            progress=progress,
            failures=failures,
            labels=labels,
            workers=workers,
            prefetch=prefetch,
            decoder=decoder,
        )
    except CorruptImageError as error:
        raise CorruptImageError(
            f"{error} (pass --skip-bad / skip_bad=True to list and skip such pairs)"
        ) from error

    keep = np.ones(n, dtype=bool)
    reasons: dict[int, list[str]] = {}
    for i, message in failures or []:
        keep[i % n] = False
        reasons.setdefault(i % n, []).append(message)
    skipped += [(ids[row], "; ".join(texts)) for row, texts in sorted(reasons.items())]
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise SubmissionError(
            f"no pair of {root} could be scored: every pair was skipped "
            f"(first: {skipped[0][0]}: {skipped[0][1]})"
        )
    similarity = cosine_pair_scores(emb, rows, rows + n)
    if not np.isfinite(similarity).all():
        bad = [ids[r] for r, s in zip(rows, similarity) if not np.isfinite(s)]
        raise SubmissionError(
            f"the model gave non-finite similarities for {len(bad)} pairs "
            f"(e.g. {bad[:MAX_NAMED]}); is the checkpoint broken?"
        )
    frame = pd.DataFrame(
        {
            C.PAIR_ID: pd.Series([ids[r] for r in rows], dtype=object),
            C.SIMILARITY: np.clip(similarity, -1.0, 1.0),
        }
    )
    frame = frame.sort_values(C.PAIR_ID, kind="stable", ignore_index=True)
    skipped.sort()
    frame.attrs["skipped"] = skipped

    if out is not None:
        _write(frame, out, skipped, skip_bad)
    if skipped:
        where = f"; listed in {skipped_path(out)}" if out is not None else ""
        warnings.warn(
            f"{len(skipped)} pair(s) of {root} skipped and missing from the submission"
            f"{where}: "
            + ", ".join(repr(pid) for pid, _ in skipped[:MAX_NAMED])
            + (" ..." if len(skipped) > MAX_NAMED else ""),
            stacklevel=2,
        )
    return frame


def _write(frame: pd.DataFrame, out: Path, skipped: list[tuple[str, str]], skip_bad: bool) -> None:
    """Write the CSV (atomically) and, with ``skip_bad``, the list of skipped pairs (first)."""
    from krypto.challenge.score import read_submission
    from krypto.files import atomic_path, write_text

    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False, columns=[C.PAIR_ID, C.SIMILARITY])
        written = read_submission(tmp)  # the scorer reads back exactly what was meant
        if written[C.PAIR_ID].tolist() != frame[C.PAIR_ID].tolist():
            raise SubmissionError(
                f"{out}: pair ids did not survive writing (folder names with surrounding spaces?)"
            )
        report = skipped_path(out)
        if skip_bad:
            write_text(
                report,
                "".join(f"{pid}\t{' '.join(reason.splitlines())}\n" for pid, reason in skipped),
            )
        else:
            report.unlink(missing_ok=True)  # a stale list from an earlier run would mislead


# --- command line --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.submit",
        description="Write a submission (pair_id,similarity) for a folder of test pairs "
        "<pair_id>/0.jpg,1.jpg with the model of a 02_train run.",
    )
    parser.add_argument("--run", required=True, help="02_train run folder (holds best.pt)")
    parser.add_argument("--pairs", required=True, help="folder of pairs, e.g. DATA/test_public")
    parser.add_argument("--out", required=True, help="submission CSV to write")
    parser.add_argument("--checkpoint", default=C.BEST_CHECKPOINT, help="checkpoint file in --run")
    parser.add_argument("--tta", action="store_true", help="horizontal-flip test-time augmentation")
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip (and list in <out>.skipped.txt) pairs with a missing or "
        "unreadable image instead of stopping",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="decoding threads (default: the usable cores, at most 8)",
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="batches decoded ahead of the forward (default: 2 on a GPU or on free cores, else 0)",
    )
    parser.add_argument(
        "--decoder",
        choices=DECODERS,
        default="auto",
        help="auto: torchvision for JPEGs where it gives PIL's pixels; pil: PIL",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; input errors are one line on stderr and exit code 2."""
    args = _parser().parse_args(argv)
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    if (args.workers is not None and args.workers < 1) or (
        args.prefetch is not None and args.prefetch < 0
    ):
        print("error: --workers must be at least 1 and --prefetch at least 0", file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            frame = make_submission(
                args.run,
                args.pairs,
                args.out,
                tta=args.tta,
                skip_bad=args.skip_bad,
                batch_size=args.batch_size,
                device=args.device,
                progress=not args.no_progress,
                checkpoint=args.checkpoint,
                overwrite=args.overwrite,
                amp=args.amp,
                workers=args.workers,
                prefetch=args.prefetch,
                decoder=args.decoder,
            )
    except (DataLayoutError, CorruptImageError, SubmissionError, OSError, ValueError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print("warning: " + " ".join(str(warning.message).splitlines()), file=sys.stderr)
    print(
        f"wrote {args.out}: {len(frame)} pairs"
        + (
            f", {len(frame.attrs['skipped'])} skipped (see {skipped_path(args.out)})"
            if frame.attrs["skipped"]
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

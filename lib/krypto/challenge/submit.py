"""A submission ``pair_id,similarity`` for a folder of test pairs, from a 02_train run.

Command line::

    python -m krypto.challenge.submit --run runs/train/small_cnn-quadruplet \\
        --pairs data/x/test_public --out submission.csv [--tta] [--skip-bad] [--overwrite] \\
        [--batch-size 256] [--device auto] [--checkpoint best.pt] [--amp] [--no-progress] \\
        [--workers N]

Every distinct image file (by its bytes: one photo in several pairs counts once) is embedded
once, decoded as training decoded it (the run's ``input_size``, bilinear, RGB, [0, 1]), on a
pool of threads ahead of the forward (:mod:`krypto.challenge.batch_embedding`),
and each pair scored by the cosine similarity of its two embeddings (``--tta``: of the sums of
the unit embeddings of an image and of its mirror image), fused with the fake probabilities of
its two photos when the run trained a fake detector (:mod:`krypto.learning.fusion`). Rows
are sorted by ``pair_id``, the pair folder's name exactly as on disk (zero padding kept).

A pair folder without both images or with an unreadable image is an error naming it; with
``--skip-bad`` such pairs are left out, listed in ``<out>.skipped.txt`` (``pair_id<TAB>reason``)
and a warning says how many: a gap is never silent. An existing ``--out`` is not replaced unless
``--overwrite``. Input errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from krypto import constants as C
from krypto import run_folder as RF
from krypto.challenge.batch_embedding import MAX_NAMED, embed_paths
from krypto.challenge.score import read_submission
from krypto.data.alignment import detect_faces, warn_unaligned
from krypto.data.images import CorruptImageError
from krypto.data.layout import DataLayoutError, IncompletePairError, read_pairs
from krypto.files import atomic_path, write_text
from krypto.learning.checkpoint import load_model
from krypto.learning.device import pick_device, set_threads
from krypto.learning.fusion import pair_similarity
from krypto.learning.models import memory_format
from krypto.paths import display_path

SKIP_HINT = "pass --skip-bad / skip_bad=True to list and skip such pairs"


class SubmissionError(ValueError):
    """A submission that cannot be made as asked; the message says why."""


def skipped_path(out: str | Path) -> Path:
    """Where the list of skipped pairs of submission ``out`` goes: ``<out>.skipped.txt``."""
    return Path(str(out) + ".skipped.txt")


@contextlib.contextmanager
def _hint_skip_bad():
    """A missing or unreadable image's error, with the hint that ``skip_bad`` skips it."""
    try:
        yield
    except IncompletePairError as error:
        raise IncompletePairError(error.problem, SKIP_HINT) from error
    except CorruptImageError as error:
        raise CorruptImageError(f"{error} ({SKIP_HINT})") from error


def _read_pairs(root: Path, skip_bad: bool) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The pairs of ``root`` and ``(pair_id, reason)`` of the folders left out (``skip_bad``)."""
    messages: list[str] = []
    pairs = read_pairs(root, skip_incomplete=skip_bad, skipped=messages)
    kept = set(pairs[C.PAIR_ID])
    folders = [p.name for p in sorted(root.iterdir()) if p.is_dir() and p.name not in kept]
    if len(folders) != len(messages):  # cannot pair them up: keep the messages whole
        return pairs, [("?", m) for m in messages]
    return pairs, list(zip(folders, messages))


def _model(run_dir: str | Path, checkpoint: str, device: str):
    """(run folder, model, config, device) of ``run_dir`` (a folder of seeds gives its
    :func:`~krypto.run_folder.best_seed`); fails before any image is read without the
    checkpoint."""
    run = RF.best_seed(run_dir)
    if not (run / checkpoint).is_file():
        raise FileNotFoundError(
            f"no checkpoint {run / checkpoint}: is {run} a 02_train run folder?"
        )
    set_threads(0)  # KRYPTO_NUM_THREADS, when set
    dev = pick_device(device)
    model, config = load_model(run, checkpoint, dev)
    model = model.to(memory_format=memory_format(config.backbone, dev))  # as the trainer ran it
    return run, model, config, dev


def distinct_files(paths: list) -> tuple[list, torch.Tensor]:
    """One of ``paths`` for each distinct file content (sha256 of its bytes) and, for every
    path, the index of its content among them; an unreadable file stands alone."""

    def content(path) -> str:
        try:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return str(path)  # embed_paths names its error

    keys = [content(p) for p in paths]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return [paths[i] for i in first], torch.from_numpy(inverse.reshape(-1))


def _scores(model, emb: torch.Tensor, ids: list[str], failures) -> tuple[pd.DataFrame, list]:
    """The frame of the pairs whose two images embedded (``pair_id`` order) and
    ``(pair_id, reason)`` of those left out; ``emb`` holds every image a, then every b."""
    n = len(ids)
    reasons: dict[int, list[str]] = {}
    for i, message in failures:
        reasons.setdefault(i % n, []).append(message)
    skipped = [(ids[row], "; ".join(texts)) for row, texts in sorted(reasons.items())]
    rows = np.array([r for r in range(n) if r not in reasons], dtype=int)
    if len(rows) == 0:
        return pd.DataFrame(columns=[C.PAIR_ID, C.SIMILARITY]), skipped
    similarity = pair_similarity(model, emb, rows, rows + n)
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
    return frame.sort_values(C.PAIR_ID, kind="stable", ignore_index=True), skipped


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
) -> pd.DataFrame:
    """Score every pair folder of ``pairs_dir`` with the model of the run ``run_dir``.

    Returns the submission frame (``pair_id`` as str, ``similarity`` float64, sorted by
    ``pair_id``; ``frame.attrs["skipped"]`` lists ``(pair_id, reason)`` of the pairs left out,
    ``frame.attrs["run_dir"]`` is the run whose model scored them)
    and writes it to ``out`` when given (an existing file only with ``overwrite``).

    Raises :class:`krypto.data.layout.DataLayoutError` for a pair folder without both images,
    :class:`krypto.data.images.CorruptImageError` for an unreadable image (naming the file and its
    pair id), unless ``skip_bad``: then those pairs are left out, listed in
    ``<out>.skipped.txt`` and a warning is issued. ``workers``: the threads that decode the
    images (see :func:`embed_paths`); the submission does not depend on them.

    A run trained on aligned photos (``align``) gets its test photos aligned the same way, with
    landmarks found by MTCNN now; ``frame.attrs["unaligned"]`` names the photos without a face
    found (centre-cropped instead, with a warning)."""
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    run, model, config, dev = _model(run_dir, checkpoint, device)
    root = Path(pairs_dir).expanduser().resolve()
    failures: list[tuple[int, str]] = []
    sizes = dict(image_size=config.input_size, batch_size=batch_size, device=dev)
    options = dict(tta=tta, amp=amp, progress=progress, workers=workers)
    embed = functools.partial(embed_paths, model, **sizes, **options)
    with _hint_skip_bad():
        pairs, skipped = _read_pairs(root, skip_bad)
        ids = pairs[C.PAIR_ID].tolist()
        paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
        distinct, inverse = distinct_files(paths)
        points = detect_faces(distinct, str(dev), progress) if config.align else None
        try:  # each distinct file once
            emb = embed(distinct, landmarks=points)[inverse]
        except CorruptImageError:  # every file as named, so that the errors name each pair
            labels = [f"pair_id {pid!r}" for pid in ids] * 2
            each = None if points is None else points[inverse.numpy()]
            failed = failures if skip_bad else None
            emb = embed(paths, failures=failed, labels=labels, landmarks=each)
    frame, unreadable = _scores(model, emb, ids, failures)
    if points is not None:  # a photo without a face found: its centre crop, counted and named
        frame.attrs["unaligned"] = warn_unaligned(distinct, points, "test photo(s)")
    skipped = sorted(skipped + unreadable)
    if frame.empty:
        raise SubmissionError(
            f"no pair of {root} could be scored: every pair was skipped "
            f"(first: {skipped[0][0]}: {skipped[0][1]})"
        )
    frame.attrs.update(skipped=skipped, run_dir=run)
    if out is not None:
        _write(frame, out, skipped, skip_bad)
    if skipped:
        where = f"; listed in {skipped_path(out)}" if out is not None else ""
        more = " ..." if len(skipped) > MAX_NAMED else ""
        warnings.warn(
            f"{len(skipped)} pair(s) of {root} skipped and missing from the submission{where}: "
            + ", ".join(repr(pid) for pid, _ in skipped[:MAX_NAMED])
            + more,
            stacklevel=2,
        )
    return frame


def _write(frame: pd.DataFrame, out: Path, skipped: list[tuple[str, str]], skip_bad: bool) -> None:
    """Write the CSV (atomically) and, with ``skip_bad``, the list of skipped pairs (first)."""
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False, columns=[C.PAIR_ID, C.SIMILARITY])
        written = read_submission(tmp)  # the scorer reads back exactly what was meant
        if written[C.PAIR_ID].tolist() != frame[C.PAIR_ID].tolist():
            raise SubmissionError(
                f"{out}: pair ids did not survive writing (folder names with surrounding spaces?)"
            )
        report = skipped_path(out)
        if skip_bad:
            lines = [f"{pid}\t{' '.join(reason.splitlines())}\n" for pid, reason in skipped]
            write_text(report, "".join(lines))
        else:
            report.unlink(missing_ok=True)  # a stale list from an earlier run would mislead


# --- command line --------------------------------------------------------------------------------


OPTIONS = {  # flag: argparse keywords, after --run, --pairs and --out
    "--checkpoint": dict(default=C.BEST_CHECKPOINT, help="checkpoint file in --run"),
    "--tta": dict(action="store_true", help="horizontal-flip test-time augmentation"),
    "--skip-bad": dict(
        action="store_true",
        help="skip (and list in <out>.skipped.txt) pairs with a missing or unreadable image "
        "instead of stopping",
    ),
    "--overwrite": dict(action="store_true", help="replace an existing --out"),
    "--batch-size": dict(type=int, default=256),
    "--device": dict(default="auto", help="auto | cpu | cuda | cuda:N"),
    "--amp": dict(action="store_true", help="mixed precision on CUDA"),
    "--workers": dict(
        type=int,
        help="decoding threads (default: the cores torch leaves free, every core beside a GPU; "
        "at most 8; 0: decode each batch before its forward)",
    ),
    "--no-progress": dict(action="store_true", help="no progress bars"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.submit",
        description="Write a submission (pair_id,similarity) for a folder of test pairs "
        "<pair_id>/0.jpg,1.jpg with the model of a 02_train run.",
    )
    parser.add_argument(
        "--run",
        required=True,
        help="02_train run folder (holds best.pt), or a folder of seeds: the seed that scored "
        "best on the validation pairs",
    )
    parser.add_argument("--pairs", required=True, help="folder of pairs, e.g. DATA/test_public")
    parser.add_argument("--out", required=True, help="submission CSV to write")
    for flag, keywords in OPTIONS.items():
        parser.add_argument(flag, **keywords)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; input errors are one line on stderr and exit code 2."""
    args = _parser().parse_args(argv)
    if args.batch_size < 1 or (args.workers or 0) < 0:
        print("error: --batch-size must be at least 1 and --workers at least 0", file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    options = {k: v for k, v in vars(args).items() if k not in ("run", "pairs", "no_progress")}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            frame = make_submission(args.run, args.pairs, progress=not args.no_progress, **options)
    except (DataLayoutError, CorruptImageError, SubmissionError, OSError, ValueError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print("warning: " + " ".join(str(warning.message).splitlines()), file=sys.stderr)
    skipped = frame.attrs["skipped"]
    print(
        f"wrote {args.out}: {len(frame)} pairs, model {display_path(frame.attrs['run_dir'])}"
        + (f", {len(skipped)} skipped (see {skipped_path(args.out)})" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A submission ``pair_id,similarity`` for a folder of test pairs, from a 02_train run.

Command line::

    python -m krypto.challenge.submit --run runs/train/small_cnn-quadruplet \\
        --pairs data/x/test_public --out submission.csv [--tta] [--skip-bad] [--overwrite] \\
        [--batch-size 256] [--device auto] [--checkpoint best.pt] [--amp] [--no-progress] \\
        [--workers N] [--prefetch N] [--decoder auto|pil]

Every image is decoded once, with the preprocessing the model was trained with (resized to the
run's ``image_size``, bilinear, RGB, [0, 1]), embedded in batches, and each pair scored by the
cosine similarity of its two embeddings (``--tta``: of the sums of the unit embeddings of an image
and of its mirror image), fused with the fake probabilities of its two photos when the run trained
a real/fake head (:mod:`krypto.learning.fake_head`, the fusion chosen on validation). Rows are
written sorted by ``pair_id``, which is the pair folder's name exactly as on disk (zero padding
kept).

Decoding runs on a pool of threads, batch by batch, ahead of the forward pass (``--prefetch``
batches; see :func:`krypto.challenge.batch_embedding.default_prefetch`), so that a GPU embeds one
batch while the next ones are decoded. JPEGs are decoded by ``torchvision.io.decode_jpeg``
(libjpeg-turbo without Python in the loop, which frees the GIL: the threads decode in parallel),
every other file and every JPEG it refuses by PIL, and resizing is PIL's: the pixels are those of
:func:`krypto.data.images.read_uint8`, which decoded the training images (checked once per
process on the first JPEG; where the two decoders disagree, PIL decodes everything); see
:mod:`krypto.challenge.image_decoding`.

A pair folder without both images or with an unreadable image is an error naming it; with
``--skip-bad`` such pairs are left out, listed in ``<out>.skipped.txt`` (``pair_id<TAB>reason``)
and a warning says how many: a gap is never silent. An existing ``--out`` is not replaced unless
``--overwrite``. Input errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.challenge.batch_embedding import MAX_NAMED, embed_paths
from krypto.challenge.image_decoding import DECODERS
from krypto.data.images import CorruptImageError
from krypto.data.layout import DataLayoutError, IncompletePairError, read_pairs
from krypto.paths import display_path


class SubmissionError(ValueError):
    """A submission that cannot be made as asked; the message says why."""


def skipped_path(out: str | Path) -> Path:
    """Where the list of skipped pairs of submission ``out`` goes: ``<out>.skipped.txt``."""
    return Path(str(out) + ".skipped.txt")


def _incomplete_ids(root: Path, kept: set[str], messages: list[str]) -> list[tuple[str, str]]:
    """(pair_id, reason) of the folders :func:`read_pairs` skipped, in its (sorted) order."""
    folders = [p.name for p in sorted(root.iterdir()) if p.is_dir() and p.name not in kept]
    if len(folders) != len(messages):  # cannot pair them up: keep the messages whole
        return [("?", m) for m in messages]
    return list(zip(folders, messages))


def _check_run(run_dir: str | Path, checkpoint: str) -> Path:
    """The run folder of ``run_dir`` (a folder of seeds gives its
    :func:`~krypto.learning.checkpoint.best_seed`; relative paths mean the repository root);
    fails fast, before any image is read, when the checkpoint is not there."""
    from krypto.learning.checkpoint import best_seed

    run = best_seed(run_dir)
    if not (run / checkpoint).is_file():
        raise FileNotFoundError(
            f"no checkpoint {run / checkpoint}: is {run} a 02_train run folder?"
        )
    return run


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
    ``pair_id``; ``frame.attrs["skipped"]`` lists ``(pair_id, reason)`` of the pairs left out,
    ``frame.attrs["run_dir"]`` is the run whose model scored them)
    and writes it to ``out`` when given (an existing file only with ``overwrite``).

    Raises :class:`krypto.data.layout.DataLayoutError` for a pair folder without both images,
    :class:`krypto.data.images.CorruptImageError` for an unreadable image (naming the file and its
    pair id), unless ``skip_bad``: then those pairs are left out, listed in
    ``<out>.skipped.txt`` and a warning is issued. ``workers``, ``prefetch``, ``decoder``: how
    images are decoded (see :func:`embed_paths`); the submission does not depend on them."""
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    run_dir = _check_run(run_dir, checkpoint)
    root = Path(pairs_dir).expanduser().resolve()
    messages: list[str] = []
    try:
        pairs = read_pairs(root, skip_incomplete=skip_bad, skipped=messages)
    except IncompletePairError as error:
        raise IncompletePairError(
            error.problem, "pass --skip-bad / skip_bad=True to list and skip such pairs"
        ) from error
    skipped = _incomplete_ids(root, set(pairs[C.PAIR_ID]), messages) if messages else []

    from krypto.learning.fake_head import pair_similarity
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
    frame = frame.sort_values(C.PAIR_ID, kind="stable", ignore_index=True)
    skipped.sort()
    frame.attrs["skipped"] = skipped
    frame.attrs["run_dir"] = run_dir

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
    parser.add_argument(
        "--run",
        required=True,
        help="02_train run folder (holds best.pt), or a folder of seeds: the seed that scored "
        "best on the validation pairs",
    )
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
        f"wrote {args.out}: {len(frame)} pairs, model {display_path(frame.attrs['run_dir'])}"
        + (
            f", {len(frame.attrs['skipped'])} skipped (see {skipped_path(args.out)})"
            if frame.attrs["skipped"]
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A submission ``pair_id,similarity`` for a folder of test pairs, from a 02_train run.

Command line::

    python -m krypto.challenge.submit --run runs/train/small_cnn-quadruplet --pairs data/x/test_public \\
        --out submission.csv [--tta] [--skip-bad] [--overwrite] [--batch-size 256] \\
        [--device auto] [--checkpoint best.pt] [--amp] [--no-progress]

Every image is decoded once, with the preprocessing the model was trained with (resized to the
run's ``image_size``, bilinear, RGB, [0, 1]), embedded in batches, and each pair scored by the
cosine similarity of its two embeddings (``--tta``: of the sums of the unit embeddings of an image
and of its mirror image). Rows are written sorted by ``pair_id``, which is the pair folder's name
exactly as on disk (zero padding kept).

A pair folder without both images or with an unreadable image is an error naming it; with
``--skip-bad`` such pairs are left out, listed in ``<out>.skipped.txt`` (``pair_id<TAB>reason``)
and a warning says how many: a gap is never silent. An existing ``--out`` is not replaced unless
``--overwrite``. Input errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.data.images import CorruptImageError, decode_many
from krypto.data.layout import DataLayoutError, read_pairs

if TYPE_CHECKING:  # torch and the model code are imported when needed: input errors come fast
    import torch

EXIT_INPUT_ERROR = 2
DECODE_CHUNK = 8192  # images decoded (and held in memory) at a time
MAX_NAMED = 5  # failures an error message names


class SubmissionError(ValueError):
    """A submission that cannot be made as asked; the message says why."""


def skipped_path(out: str | Path) -> Path:
    """Where the list of skipped pairs of submission ``out`` goes: ``<out>.skipped.txt``."""
    return Path(str(out) + ".skipped.txt")


def _describe_failures(failures: list[tuple[int, str]], labels: Sequence[str] | None) -> str:
    shown = [(f"{labels[i]}: " if labels is not None else "") + message
             for i, message in failures[:MAX_NAMED]]
    more = f"; and {len(failures) - MAX_NAMED} more" if len(failures) > MAX_NAMED else ""
    return "; ".join(shown) + more


def embed_paths(model: torch.nn.Module, paths: Sequence, image_size: int, batch_size: int = 256,
                device: torch.device | str = "cpu", tta: bool = False, amp: bool = False,
                progress: bool = False, failures: list | None = None,
                labels: Sequence[str] | None = None, chunk: int = DECODE_CHUNK,
                workers: int = 4) -> torch.Tensor:
    """Decode ``paths`` (each once, as training did: ``image_size`` px, bilinear, RGB) and embed
    them: float32 ``[len(paths), D]`` on the CPU, not normalised.

    An image that does not decode raises :class:`CorruptImageError` naming it (and its entry of
    ``labels``, e.g. its pair id) before anything of its chunk is embedded; when a ``failures``
    list is given, ``(index, message)`` is appended to it instead and that row is NaN.
    ``tta``: horizontal-flip test-time augmentation (see :func:`krypto.learning.embed.embed`). Images are
    decoded ``chunk`` at a time, which bounds the memory they take."""
    import torch

    from krypto.learning.embed import embed

    paths = [str(p) for p in paths]
    device = torch.device(device)
    parts = []
    n_chunks = max(1, -(-len(paths) // chunk))
    for k, start in enumerate(range(0, len(paths), chunk)):
        part = paths[start:start + chunk]
        suffix = f" {k + 1}/{n_chunks}" if n_chunks > 1 else ""
        images, failed = decode_many(part, image_size, workers=workers, progress=progress,
                                     desc="decoding" + suffix)
        failed = [(start + i, message) for i, message in failed]
        if failed and failures is None:
            raise CorruptImageError(f"{len(failed)} image(s) cannot be decoded: "
                                    + _describe_failures(failed, labels))
        emb = embed(model, torch.from_numpy(images), batch_size=batch_size, device=device,
                    amp=amp, flip_tta=tta, progress=progress)
        if failed:
            emb[[i - start for i, _ in failed]] = float("nan")
            failures.extend(failed)
        parts.append(emb)
    return torch.cat(parts) if parts else torch.empty(0)


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
        raise FileNotFoundError(f"no checkpoint {run / checkpoint}: is {run} a 02_train run "
                                f"folder?")


def make_submission(run_dir: str | Path, pairs_dir: str | Path, out: str | Path | None = None,
                    tta: bool = False, skip_bad: bool = False, batch_size: int = 256,
                    device: str = "auto", progress: bool = True,
                    checkpoint: str = C.BEST_CHECKPOINT, overwrite: bool = False,
                    amp: bool = False) -> pd.DataFrame:
    """Score every pair folder of ``pairs_dir`` with the model of the run ``run_dir``.

    Returns the submission frame (``pair_id`` as str, ``similarity`` float64, sorted by
    ``pair_id``; ``frame.attrs["skipped"]`` lists ``(pair_id, reason)`` of the pairs left out)
    and writes it to ``out`` when given (an existing file only with ``overwrite``).

    Raises :class:`krypto.data.layout.DataLayoutError` for a pair folder without both images,
    :class:`krypto.data.images.CorruptImageError` for an unreadable image (naming the file and its
    pair id), unless ``skip_bad``: then those pairs are left out, listed in
    ``<out>.skipped.txt`` and a warning is issued."""
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    _check_run(run_dir, checkpoint)
    root = Path(pairs_dir).expanduser().resolve()
    messages: list[str] = []
    try:
        pairs = read_pairs(root, skip_incomplete=skip_bad, skipped=messages)
    except DataLayoutError as error:
        if "skip_incomplete" not in str(error):
            raise
        text = str(error).replace(" (pass skip_incomplete to list and skip it)", "")
        raise DataLayoutError(f"{text} (pass --skip-bad / skip_bad=True to list and skip such "
                              f"pairs)") from error
    skipped = _incomplete_ids(root, set(pairs[C.PAIR_ID]), messages) if messages else []

    from krypto.evaluation.metrics import cosine_pair_scores
    from krypto.learning.train import load_model, pick_device, set_threads

    set_threads(0)  # KRYPTO_NUM_THREADS, when set
    dev = pick_device(device)
    model, config = load_model(run_dir, checkpoint, dev)
    n = len(pairs)
    paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
    ids = pairs[C.PAIR_ID].tolist()
    labels = [f"pair_id {pid!r}" for pid in ids] * 2
    failures: list[tuple[int, str]] | None = [] if skip_bad else None
    try:
        emb = embed_paths(model, paths, config.image_size, batch_size, dev, tta=tta, amp=amp,
                          progress=progress, failures=failures, labels=labels)
    except CorruptImageError as error:
        raise CorruptImageError(f"{error} (pass --skip-bad / skip_bad=True to list and skip "
                                f"such pairs)") from error

    keep = np.ones(n, dtype=bool)
    reasons: dict[int, list[str]] = {}
    for i, message in failures or []:
        keep[i % n] = False
        reasons.setdefault(i % n, []).append(message)
    skipped += [(ids[row], "; ".join(texts)) for row, texts in sorted(reasons.items())]
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise SubmissionError(f"no pair of {root} could be scored: every pair was skipped "
                              f"(first: {skipped[0][0]}: {skipped[0][1]})")
    similarity = cosine_pair_scores(emb, rows, rows + n)
    if not np.isfinite(similarity).all():
        bad = [ids[r] for r, s in zip(rows, similarity) if not np.isfinite(s)]
        raise SubmissionError(f"the model gave non-finite similarities for {len(bad)} pairs "
                              f"(e.g. {bad[:MAX_NAMED]}); is the checkpoint broken?")
    frame = pd.DataFrame({C.PAIR_ID: pd.Series([ids[r] for r in rows], dtype=object),
                          C.SIMILARITY: np.clip(similarity, -1.0, 1.0)})
    frame = frame.sort_values(C.PAIR_ID, kind="stable", ignore_index=True)
    skipped.sort()
    frame.attrs["skipped"] = skipped

    if out is not None:
        _write(frame, out, skipped, skip_bad)
    if skipped:
        where = f"; listed in {skipped_path(out)}" if out is not None else ""
        warnings.warn(f"{len(skipped)} pair(s) of {root} skipped and missing from the submission"
                      f"{where}: " + ", ".join(repr(pid) for pid, _ in skipped[:MAX_NAMED])
                      + (" ..." if len(skipped) > MAX_NAMED else ""), stacklevel=2)
    return frame


def _write(frame: pd.DataFrame, out: Path, skipped: list[tuple[str, str]], skip_bad: bool) -> None:
    """Write the CSV (atomically) and, with ``skip_bad``, the list of skipped pairs."""
    from krypto.challenge.score import read_submission

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        frame.to_csv(tmp, index=False, columns=[C.PAIR_ID, C.SIMILARITY])
        written = read_submission(tmp)  # the scorer reads back exactly what was meant
        if written[C.PAIR_ID].tolist() != frame[C.PAIR_ID].tolist():
            raise SubmissionError(f"{out}: pair ids did not survive writing (folder names with "
                                  f"surrounding spaces?)")
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    report = skipped_path(out)
    if skip_bad:
        report.write_text("".join(f"{pid}\t{' '.join(reason.splitlines())}\n"
                                  for pid, reason in skipped))
    else:
        report.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
    os.replace(tmp, out)


# --- command line --------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.submit",
        description="Write a submission (pair_id,similarity) for a folder of test pairs "
                    "<pair_id>/0.jpg,1.jpg with the model of a 02_train run.")
    parser.add_argument("--run", required=True, help="02_train run folder (holds best.pt)")
    parser.add_argument("--pairs", required=True, help="folder of pairs, e.g. DATA/test_public")
    parser.add_argument("--out", required=True, help="submission CSV to write")
    parser.add_argument("--checkpoint", default=C.BEST_CHECKPOINT, help="checkpoint file in --run")
    parser.add_argument("--tta", action="store_true", help="horizontal-flip test-time augmentation")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip (and list in <out>.skipped.txt) pairs with a missing or "
                             "unreadable image instead of stopping")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; input errors are one line on stderr and exit code 2."""
    args = _parser().parse_args(argv)
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return EXIT_INPUT_ERROR
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            frame = make_submission(args.run, args.pairs, args.out, tta=args.tta,
                                    skip_bad=args.skip_bad, batch_size=args.batch_size,
                                    device=args.device, progress=not args.no_progress,
                                    checkpoint=args.checkpoint, overwrite=args.overwrite,
                                    amp=args.amp)
    except (DataLayoutError, CorruptImageError, SubmissionError, OSError, ValueError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)
        return EXIT_INPUT_ERROR
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print("warning: " + " ".join(str(warning.message).splitlines()), file=sys.stderr)
    print(f"wrote {args.out}: {len(frame)} pairs"
          + (f", {len(frame.attrs['skipped'])} skipped (see {skipped_path(args.out)})"
             if frame.attrs["skipped"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

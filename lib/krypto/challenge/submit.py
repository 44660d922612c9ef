"""A submission ``pair_id,similarity`` for a folder of test pairs (:func:`make_submission`).

Command line::

    python -m krypto.challenge.submit --run runs/train/small_cnn-quadruplet \\
        --pairs data/x/test_public --out submission.csv [--tta] [--skip-bad] [--overwrite] \\
        [--batch-size 256] [--device auto] [--amp] [--no-progress]

``--skip-bad`` lists the pairs it leaves out in ``<out>.skipped.txt`` (``pair_id<TAB>reason``).
Warnings and input errors are one line each on stderr; an input error exits with code 2."""

import argparse
import contextlib
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto import run_folder as RF
from krypto.challenge.batch_embedding import embed_paths
from krypto.challenge.score import name_ids, read_submission
from krypto.data.alignment import detect_faces, warn_unaligned
from krypto.data.images import CorruptImageError
from krypto.data.layout import IncompletePairError, read_pairs
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


def _one_line(text) -> str:
    return " ".join(str(text).splitlines())


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
    reasons: list[str] = []
    pairs = read_pairs(root, skip_incomplete=skip_bad, skipped=reasons)
    kept = set(pairs[C.PAIR_ID])
    left_out = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in kept)
    return pairs, list(zip(left_out, reasons, strict=True))  # both in folder order


def distinct_files(paths: list) -> tuple[list, np.ndarray]:
    """One of ``paths`` for each distinct file content (sha256 of its bytes) and, for every
    path, the index of its content among them; an unreadable file stands alone."""

    def content(path) -> str:
        try:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return str(path)  # embed_paths names its error

    keys = [content(p) for p in paths]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return [paths[i] for i in first], inverse.reshape(-1)


def _scores(model, emb, inverse, ids: list[str], reasons: list[str]) -> tuple[pd.DataFrame, list]:
    """The frame of the pairs whose two images embedded (``pair_id`` order) and ``(pair_id,
    reason)`` of the others. ``emb``: the outputs of the distinct files, ``inverse`` ``[2n]``:
    the distinct file of every image a, then every b, ``reasons`` ``[2n]``: why each did not
    decode, ``""`` where it did."""
    n, inverse = len(ids), np.asarray(inverse)
    per_pair = [[why for why in (reasons[r], reasons[r + n]) if why] for r in range(n)]
    skipped = [(ids[r], "; ".join(texts)) for r, texts in enumerate(per_pair) if texts]
    rows = np.array([r for r, texts in enumerate(per_pair) if not texts], dtype=int)
    if len(rows) == 0:
        pid, reason = skipped[0]
        raise SubmissionError(f"no pair could be scored: every pair was skipped ({pid}: {reason})")
    similarity = pair_similarity(model, emb, inverse[rows], inverse[rows + n])
    bad = [ids[r] for r, s in zip(rows, similarity) if not np.isfinite(s)]
    if bad:
        raise SubmissionError(
            f"the model gave non-finite similarities for {len(bad)} pairs: {name_ids(bad)}; "
            "is the checkpoint broken?"
        )
    pair_ids = pd.Series(np.take(ids, rows), dtype=object)
    frame = pd.DataFrame({C.PAIR_ID: pair_ids, C.SIMILARITY: np.clip(similarity, -1.0, 1.0)})
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
    overwrite: bool = False,
    amp: bool = False,
    workers: int | None = None,
) -> pd.DataFrame:
    """Score every pair folder of ``pairs_dir`` with the best checkpoint of ``run_dir`` (a folder
    of seeds: its :func:`~krypto.run_folder.best_seed`): each distinct image file (by its bytes)
    embedded once as training decoded it (:func:`embed_paths`: ``tta``, ``amp``, ``workers``;
    aligned by landmarks MTCNN finds now when the run trained aligned), each pair scored by
    :func:`krypto.learning.fusion.pair_similarity`. Returns the frame ``pair_id`` (the folder
    name as on disk), ``similarity`` (float64), sorted by ``pair_id``, with ``attrs``
    ``skipped`` (``(pair_id, reason)``), ``run_dir`` (the run that scored) and, aligned,
    ``unaligned`` (photos without a face found, centre-cropped); written to ``out`` when given
    (if it exists, only with ``overwrite``). A pair folder without both images raises
    :class:`~krypto.data.layout.DataLayoutError`, an unreadable image :class:`CorruptImageError`
    naming it and its pair id; with ``skip_bad`` such pairs are left out, listed in
    ``<out>.skipped.txt`` and counted by a warning."""
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    set_threads(0)  # KRYPTO_NUM_THREADS, when set
    dev = pick_device(device)
    model, config = load_model(run_dir, device=dev)  # before any image is read
    model = model.to(memory_format=memory_format(config.backbone, dev))  # as the trainer ran it
    root = Path(pairs_dir).expanduser().resolve()
    failed: list[tuple[int, str]] = []  # (distinct file, reason)
    sizes = dict(image_size=config.input_size, batch_size=batch_size, device=dev, workers=workers)
    options = dict(tta=tta, amp=amp, progress=progress, failures=failed if skip_bad else None)
    with _hint_skip_bad():
        pairs, skipped = _read_pairs(root, skip_bad)
        ids = pairs[C.PAIR_ID].tolist()
        paths = pairs[C.PATH_A].tolist() + pairs[C.PATH_B].tolist()
        distinct, inverse = distinct_files(paths)
        points = detect_faces(distinct, str(dev), progress) if config.align else None
        first = np.unique(inverse, return_index=True)[1]  # the first path of each distinct file
        labels = [f"pair_id {ids[i % len(ids)]!r}" for i in first]
        emb = embed_paths(model, distinct, labels=labels, landmarks=points, **sizes, **options)
    why = dict(failed)  # the files that did not decode, each named as its image holds it
    files = zip(np.asarray(inverse).tolist(), paths)
    reasons = [why[k].replace(distinct[k], path) if k in why else "" for k, path in files]
    frame, unreadable = _scores(model, emb, inverse, ids, reasons)
    if points is not None:  # a photo without a face found: its centre crop, counted and named
        frame.attrs["unaligned"] = warn_unaligned(distinct, points, "test photo(s)")
    skipped = sorted(skipped + unreadable)
    frame.attrs.update(skipped=skipped, run_dir=RF.best_seed(run_dir))
    if out is not None:
        _write(frame, out, skipped if skip_bad else None)
    if skipped:
        where = f"; listed in {skipped_path(out)}" if out is not None else ""
        message = f"{len(skipped)} pair(s) of {root} skipped and missing from the submission"
        warnings.warn(f"{message}{where}: {name_ids([p for p, _ in skipped])}", stacklevel=2)
    return frame


def _write(frame: pd.DataFrame, out: str | Path, skipped: list[tuple[str, str]] | None) -> None:
    """Write the CSV (atomically) and the list of ``skipped`` pairs (first; None: no list)."""
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False, columns=[C.PAIR_ID, C.SIMILARITY])
        written = read_submission(tmp)  # the scorer reads back exactly what was meant
        if written[C.PAIR_ID].tolist() != frame[C.PAIR_ID].tolist():
            raise SubmissionError(
                f"{out}: pair ids did not survive writing (folder names with surrounding spaces?)"
            )
        report = skipped_path(out)
        if skipped is None:
            report.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
        else:
            write_text(report, "".join(f"{pid}\t{_one_line(why)}\n" for pid, why in skipped))


def main(argv: list[str] | None = None) -> int:
    """Entry point; warnings and input errors are one line each on stderr (exit code 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.submit",
        description="Write a submission (pair_id,similarity) for a folder of test pairs "
        "<pair_id>/0.jpg,1.jpg with the model of a 02_train run.",
    )
    add = parser.add_argument
    add("--run", required=True, help="02_train run folder (holds best.pt), or a folder of seeds")
    add("--pairs", required=True, help="folder of pairs, e.g. DATA/test_public")
    add("--out", required=True, help="submission CSV to write")
    add("--tta", action="store_true", help="horizontal-flip test-time augmentation")
    add("--skip-bad", action="store_true", help="skip and list pairs with a bad image")
    add("--overwrite", action="store_true", help="replace an existing --out")
    add("--batch-size", type=int, default=256)
    add("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    add("--amp", action="store_true", help="mixed precision on CUDA")
    add("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("run", "pairs", "no_progress")}
    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, *_: print(
                "warning: " + _one_line(message), file=sys.stderr
            )
            frame = make_submission(args.run, args.pairs, progress=not args.no_progress, **options)
    except (OSError, ValueError) as error:  # DataLayoutError, CorruptImageError, SubmissionError
        print("error: " + _one_line(error), file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    skipped = frame.attrs["skipped"]
    print(
        f"wrote {args.out}: {len(frame)} pairs, model {display_path(frame.attrs['run_dir'])}"
        + (f", {len(skipped)} skipped (see {skipped_path(args.out)})" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scoring a submission against a ground truth with the challenge's EER.

A submission is a CSV ``pair_id,similarity``; a ground truth is ``pair_id,label[,kind]`` (read by
:func:`krypto.data.layout.read_gt`). Rows are matched by ``pair_id`` (never by row order), and
pair ids
are compared as strings, so ``00000042`` and ``42`` are different ids.

Command line::

    python -m krypto.challenge.score --gt gt.csv --submission submission.csv [--out scores.json]

prints ``{"eer": ..., "n_pairs": ..., ...}`` as JSON; any problem with the inputs is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.data.layout import DataLayoutError, read_gt
from krypto.evaluation.metrics import kind_eers, official_eer
from krypto.files import write_text

MAX_NAMED = 10  # how many offending pair ids an error message lists
SUBMISSION_COLUMNS = (C.PAIR_ID, C.SIMILARITY)
KIND_LABELS = {kind: int(kind == C.SAME) for kind in C.PAIR_KINDS}


class ScoringError(ValueError):
    """A submission or ground truth that cannot be scored; the message names the file and ids."""


def name_ids(ids: Iterable, limit: int = MAX_NAMED) -> str:
    """``'a', 'b' and N more``: the first ``limit`` ids quoted, so padding and spaces show."""
    ids = list(ids)
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _count(n: int, what: str) -> str:
    """``1 pair_id`` / ``3 pair_ids``."""
    return f"{n} {what}" + ("" if n == 1 else "s")


def _parse_float(value) -> float | None:
    """``value`` as a float, or None when it is not a number (text, empty cell)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _check_similarity(ids: pd.Series, values: pd.Series, source: str) -> np.ndarray:
    """Similarities as float64; text, blanks, NaN and infinities are an error naming the ids."""
    parsed = [_parse_float(v) for v in values.tolist()]
    bad = {
        ("non-numeric", ""): [i for i, p in zip(ids, parsed) if p is None],
        ("non-finite", " (NaN or inf)"): [
            i for i, p in zip(ids, parsed) if p is not None and not math.isfinite(p)
        ],
    }
    problems = [
        f"{_count(len(found), 'pair_id')} with a {what} {C.SIMILARITY}{note}: {name_ids(found)}"
        for (what, note), found in bad.items()
        if found
    ]
    if problems:
        raise ScoringError(f"{source}: " + "; ".join(problems))
    return np.asarray(parsed, dtype=np.float64)


def _unique_ids(frame: pd.DataFrame, columns: Sequence[str], source: str) -> pd.Series:
    """The pair ids of a frame that must have ``columns``, as stripped strings: missing columns,
    numeric pair ids (zero padding lost), blank or duplicate ones are an error naming them."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ScoringError(
            f"{source}: no column {', '.join(map(repr, missing))} (expected "
            f"{','.join(columns)}; found {list(frame.columns)})"
        )
    ids = frame[C.PAIR_ID]
    if pd.api.types.is_numeric_dtype(ids) and len(ids):
        raise ScoringError(
            f"{source}: column {C.PAIR_ID!r} holds numbers, not strings; read it "
            f"with dtype=str so that zero padding ('00000042') is kept"
        )
    text = ids.astype(object).map(lambda v: "" if pd.isna(v) else str(v).strip())
    blank = (text == "").to_numpy()
    if blank.any():
        raise ScoringError(
            f"{source}: {_count(int(blank.sum()), 'row')} with an empty {C.PAIR_ID} "
            f"(row index {name_ids(ids.index[blank])})"
        )
    duplicated = text[text.duplicated()].unique().tolist()
    if duplicated:
        raise ScoringError(
            f"{source}: {_count(len(duplicated), 'pair_id')} appear more than once: "
            f"{name_ids(duplicated)}"
        )
    return text


def check_submission(frame: pd.DataFrame, source: str = "submission") -> pd.DataFrame:
    """A clean copy of a submission frame: ``pair_id`` (str) and ``similarity`` (float64).

    Raises :class:`ScoringError` naming ``source`` for missing columns, empty or numeric pair ids,
    duplicate pair ids, and non-numeric or non-finite similarities."""
    ids = _unique_ids(frame, SUBMISSION_COLUMNS, source)
    similarity = _check_similarity(ids, frame[C.SIMILARITY], source)
    return pd.DataFrame({C.PAIR_ID: ids.to_numpy(dtype=object), C.SIMILARITY: similarity})


def read_submission(path: str | Path) -> pd.DataFrame:
    """Read and check ``submission.csv`` (``pair_id,similarity``; other columns are ignored).

    Pair ids are kept as written (strings, zero padding kept, surrounding spaces removed).
    Raises :class:`ScoringError` naming the file when it is missing, unreadable, lacks a column,
    repeats a pair id or has a similarity that is not a finite number."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"submission {path} does not exist")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as error:
        raise ScoringError(f"submission {path} is empty") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ScoringError(f"submission {path} is not a readable CSV: {error}") from error
    raw.columns = [str(c).strip() for c in raw.columns]
    return check_submission(raw, source=str(path))


def check_gt(gt: pd.DataFrame, source: str = "ground truth") -> pd.DataFrame:
    """A clean copy of a ground-truth frame: ``pair_id`` (str), ``label`` (0/1 int), ``kind``.

    Raises :class:`ScoringError` for missing columns, empty, numeric or duplicate pair ids, labels
    other than 0 and 1, unknown kinds, and kinds that disagree with their labels."""
    ids = _unique_ids(gt, (C.PAIR_ID, C.PAIR_LABEL), source)
    labels = pd.to_numeric(gt[C.PAIR_LABEL], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        raise ScoringError(
            f"{source}: {_count(int(bad.sum()), 'pair_id')} with a {C.PAIR_LABEL} "
            f"other than 0 or 1: {name_ids(ids[bad])}"
        )
    out = pd.DataFrame(
        {C.PAIR_ID: ids.to_numpy(dtype=object), C.PAIR_LABEL: labels.to_numpy().astype(int)}
    )
    if C.KIND in gt.columns:
        out[C.KIND] = _check_kinds(ids, gt[C.KIND], out[C.PAIR_LABEL], source)
    return out


def _check_kinds(ids: pd.Series, kinds: pd.Series, labels: pd.Series, source: str) -> np.ndarray:
    """Kinds as strings, any names: a kind groups pairs of one label (e.g. ``same`` with 1,
    ``other`` or ``fake_same`` with 0). Empty kinds, and kinds that hold both labels (or a known
    kind of this package with the wrong label), are errors naming the ids."""
    kinds = kinds.astype(object).map(lambda v: "" if pd.isna(v) else str(v).strip()).to_numpy()
    ids, labels = ids.to_numpy(), labels.to_numpy()
    empty = kinds == ""
    if empty.any():
        raise ScoringError(
            f"{source}: {_count(int(empty.sum()), 'pair_id')} with an empty "
            f"{C.KIND}: {name_ids(ids[empty])}"
        )
    for kind in pd.unique(kinds):
        members = kinds == kind
        if kind in KIND_LABELS:
            expected = KIND_LABELS[kind]
        else:  # a kind of the user's: its pairs share the label most of them have
            expected = int(np.bincount(labels[members].astype(int), minlength=2).argmax())
        wrong = members & (labels != expected)
        if wrong.any():
            raise ScoringError(
                f"{source}: {_count(int(wrong.sum()), 'pair_id')} whose {C.PAIR_LABEL} "
                f"disagrees with its {C.KIND} {kind!r} ({C.SAME} is 1, "
                f"{', '.join(C.NEGATIVE_KINDS)} are 0; a kind of other name holds one label): "
                f"{name_ids(ids[wrong])}"
            )
    return kinds


def _check_same_ids(gt_ids: pd.Series, sub_ids: pd.Series, source: str) -> None:
    """The submission must hold exactly the ground truth's pair ids: no more, no fewer."""
    gt_set, sub_set = set(gt_ids), set(sub_ids)
    missing = [i for i in gt_ids if i not in sub_set]
    extra = [i for i in sub_ids if i not in gt_set]
    found = {"of the ground truth missing": missing, "not in the ground truth": extra}
    problems = [
        f"{_count(len(ids), 'pair_id')} {what}: {name_ids(ids)}"
        for what, ids in found.items()
        if ids
    ]
    if not problems:
        return
    message = f"{source}: " + "; ".join(problems)
    value = lambda ids: {i.lstrip("0") or "0" for i in ids if i.isdigit()}  # noqa: E731
    if value(missing) & value(extra):  # some differ only by zero padding
        message += (
            " (pair ids are compared as strings: keep the zero padding of the pair "
            "folder names, e.g. '00000042', not '42')"
        )
    raise ScoringError(message)


def _eers(pairs: pd.DataFrame, scores: np.ndarray, source: str) -> dict[str, float]:
    """The official EER, and the per-kind EERs when ``pairs`` has a kind column."""
    try:
        out = {"eer": float(official_eer(pairs[C.PAIR_LABEL].to_numpy(), scores))}
        if C.KIND in pairs.columns:
            out.update({name: float(v) for name, v in kind_eers(pairs, scores).items()})
        return out
    except ValueError as error:
        raise ScoringError(f"{source} cannot be scored: {error}") from error


def score(
    gt: pd.DataFrame,
    submission: pd.DataFrame,
    submission_name: str = "submission",
    gt_name: str = "ground truth",
) -> dict[str, float | int]:
    """Score ``submission`` against ``gt``, matching rows by ``pair_id``.

    Returns ``eer`` (the official EER over all pairs) and ``n_pairs``; when ``gt`` has a ``kind``
    column, also ``eer_<kind>`` for every negative kind (its pairs against all positives, whatever
    the kinds are named), ``eer_real``, ``eer_fake`` and ``eer_fake_other`` for this package's
    kind names (see :func:`krypto.evaluation.metrics.kind_eers`) and ``n_<kind>`` for every kind.
    Raises :class:`ScoringError` when the pair ids of the two differ (naming them) or either
    frame is malformed; ``submission_name`` and ``gt_name`` name the two in messages."""
    truth = check_gt(gt, source=gt_name)
    sub = check_submission(submission, source=submission_name)
    _check_same_ids(truth[C.PAIR_ID], sub[C.PAIR_ID], submission_name)
    similarity = sub.set_index(C.PAIR_ID)[C.SIMILARITY]
    scores = similarity.reindex(truth[C.PAIR_ID].to_numpy()).to_numpy(dtype=np.float64)
    result: dict[str, float | int] = dict(_eers(truth, scores, gt_name))
    result["n_pairs"] = int(len(truth))
    if C.KIND in truth.columns:
        counts = truth[C.KIND].value_counts()
        for kind in dict.fromkeys([*C.PAIR_KINDS, *counts.index]):
            result[f"n_{kind}"] = int(counts.get(kind, 0))
    return result


def score_files(gt_path: str | Path, submission_path: str | Path) -> dict[str, float | int]:
    """:func:`score` of two CSV files; errors are :class:`ScoringError` naming the file."""
    try:
        gt = read_gt(gt_path)
    except DataLayoutError as error:
        raise ScoringError(str(error)) from error
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ScoringError(f"ground truth {gt_path} is not a readable CSV: {error}") from error
    submission = read_submission(submission_path)
    return score(gt, submission, submission_name=str(submission_path), gt_name=str(gt_path))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.score",
        description="Score a submission (pair_id,similarity) against a ground truth "
        "(pair_id,label[,kind]) with the challenge's EER; prints JSON.",
    )
    parser.add_argument("--gt", required=True, help="ground-truth CSV: pair_id,label[,kind]")
    parser.add_argument("--submission", required=True, help="submission CSV: pair_id,similarity")
    parser.add_argument("--out", help="also write the JSON to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the scores as JSON; input errors are one stderr line and exit code 2."""
    args = _parser().parse_args(argv)
    try:
        result = score_files(args.gt, args.submission)
        text = json.dumps(result, indent=2)
        if args.out:
            write_text(args.out, text + "\n")
    except (ScoringError, OSError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

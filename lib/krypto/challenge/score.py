"""Scoring a submission against a ground truth with the challenge's EER.

A submission is a CSV ``pair_id,similarity``; a ground truth ``pair_id,label[,kind]`` (read by
:func:`krypto.data.layout.read_gt`). Rows are joined on ``pair_id``, never by row order, and pair
ids are compared as strings: ``00000042`` and ``42`` are different ids.

Command line::

    python -m krypto.challenge.score --gt gt.csv --submission submission.csv [--out scores.json]

prints ``{"eer": ..., "n_pairs": ..., ...}`` as JSON; any problem with the inputs is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.data.layout import DataLayoutError, read_gt
from krypto.evaluation.metrics import kind_eers, official_eer
from krypto.files import write_text

MAX_NAMED = 10  # how many offending pair ids an error message lists
KIND_LABELS = {kind: int(kind == C.SAME) for kind in C.PAIR_KINDS}
KIND_RULE = (
    f"({C.SAME} is 1, {', '.join(C.NEGATIVE_KINDS)} are 0; a kind of another name holds one "
    f"{C.PAIR_LABEL})"
)
PADDING_HINT = (
    "(pair ids are compared as strings: keep the zero padding of the pair folder names, "
    "e.g. '00000042', not '42')"
)


class ScoringError(ValueError):
    """A submission or ground truth that cannot be scored; the message names the file and ids."""


def name_ids(ids: Sequence, limit: int = MAX_NAMED) -> str:
    """``'a', 'b' and N more``: the first ``limit`` ids quoted, so padding and spaces show."""
    ids = list(ids)
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _refuse(source: str, problems: dict[str, Sequence], noun: str = "pair_id", hint: str = ""):
    """Raise :class:`ScoringError` ``<source>: N <noun>s <problem>: <ids>; ... <hint>`` for every
    problem that has ids; nothing when none has."""
    found = [
        f"{len(ids)} {noun}{'' if len(ids) == 1 else 's'} {what}: {name_ids(ids)}"
        for what, ids in problems.items()
        if len(ids)
    ]
    if found:
        raise ScoringError(f"{source}: " + "; ".join(found) + (f" {hint}" if hint else ""))


def _text(column: pd.Series) -> pd.Series:
    """A column as stripped strings, ``""`` where empty."""
    return column.fillna("").astype(str).str.strip()


def _as_float(value) -> float | None:
    """``value`` as a float, or None when it is not a number (text, an empty cell)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _unique_ids(frame: pd.DataFrame, columns: Sequence[str], source: str) -> pd.Series:
    """The pair ids of a frame that must have ``columns``, as stripped strings: missing columns,
    numeric pair ids (zero padding lost), blank or duplicate ones are an error naming them."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ScoringError(
            f"{source}: no column {', '.join(map(repr, missing))} (expected "
            f"{','.join(columns)}; found {list(frame.columns)})"
        )
    if len(frame) and pd.api.types.is_numeric_dtype(frame[C.PAIR_ID]):
        raise ScoringError(
            f"{source}: column {C.PAIR_ID!r} holds numbers, not strings; read it "
            f"with dtype=str so that zero padding ('00000042') is kept"
        )
    ids = _text(frame[C.PAIR_ID])
    _refuse(source, {f"with an empty {C.PAIR_ID} (by row index)": frame.index[ids == ""]}, "row")
    _refuse(source, {"appear more than once": ids[ids.duplicated()].unique()})
    return ids


def check_submission(frame: pd.DataFrame, source: str = "submission") -> pd.DataFrame:
    """A clean copy of a submission frame: ``pair_id`` (str) and ``similarity`` (float64).

    Raises :class:`ScoringError` naming ``source`` for missing columns, empty or numeric pair ids,
    duplicate pair ids, and non-numeric or non-finite similarities."""
    ids = _unique_ids(frame, (C.PAIR_ID, C.SIMILARITY), source)
    parsed = [_as_float(v) for v in frame[C.SIMILARITY]]
    numbers = np.array(parsed, dtype=np.float64)  # None: NaN
    text = np.array([p is None for p in parsed], dtype=bool)
    problems = {
        f"with a non-numeric {C.SIMILARITY}": ids[text],
        f"with a non-finite {C.SIMILARITY} (NaN or inf)": ids[~text & ~np.isfinite(numbers)],
    }
    _refuse(source, problems)
    return pd.DataFrame({C.PAIR_ID: ids.to_numpy(), C.SIMILARITY: numbers})


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

    A kind may have any name; it groups pairs of one label (``same`` 1, ``different``, ``other``
    or ``fake_same`` 0). Raises :class:`ScoringError` for missing columns, empty, numeric or
    duplicate pair ids, labels other than 0 and 1, empty kinds, and kinds that hold both labels
    (or a kind of this package with the wrong one)."""
    ids = _unique_ids(gt, (C.PAIR_ID, C.PAIR_LABEL), source)
    labels = pd.to_numeric(gt[C.PAIR_LABEL], errors="coerce")
    _refuse(source, {f"with a {C.PAIR_LABEL} other than 0 or 1": ids[~labels.isin([0, 1])]})
    out = pd.DataFrame({C.PAIR_ID: ids.to_numpy(), C.PAIR_LABEL: labels.to_numpy().astype(int)})
    if C.KIND not in gt.columns:
        return out
    ids, labels, kinds = out[C.PAIR_ID], out[C.PAIR_LABEL], _text(gt[C.KIND]).to_numpy()
    _refuse(source, {f"with an empty {C.KIND}": ids[kinds == ""]})
    majority = labels.groupby(kinds).transform(lambda group: group.mode()[0])  # a tie: 0
    wrong = labels != pd.Series(kinds).map(KIND_LABELS).fillna(majority)
    problems = {
        f"whose {C.PAIR_LABEL} disagrees with its {C.KIND} {kind!r}": ids[wrong & (kinds == kind)]
        for kind in pd.unique(kinds[wrong])
    }
    _refuse(source, problems, hint=KIND_RULE)
    out[C.KIND] = kinds
    return out


def _digits(ids: pd.Series) -> set[str]:
    """The numbers that the all-digit ids write, zero padding dropped."""
    return {i.lstrip("0") or "0" for i in ids if i.isdigit()}


def score(
    gt: pd.DataFrame,
    submission: pd.DataFrame,
    submission_name: str = "submission",
    gt_name: str = "ground truth",
) -> dict[str, float | int]:
    """Score ``submission`` against ``gt``, joining rows on ``pair_id``.

    Returns ``eer`` (the official EER over all pairs) and ``n_pairs``; when ``gt`` has a ``kind``
    column, also the EER of every negative kind against all positives (named as
    :func:`krypto.evaluation.metrics.kind_eers` names them) and ``n_<kind>`` for every kind.
    Raises :class:`ScoringError` when the pair ids of the two differ (naming them) or either
    frame is malformed; ``submission_name`` and ``gt_name`` name the two in messages."""
    truth = check_gt(gt, source=gt_name)
    sub = check_submission(submission, source=submission_name)
    gt_ids, sub_ids = truth[C.PAIR_ID], sub[C.PAIR_ID]
    missing, extra = gt_ids[~gt_ids.isin(sub_ids)], sub_ids[~sub_ids.isin(gt_ids)]
    hint = PADDING_HINT if _digits(missing) & _digits(extra) else ""
    found = {"of the ground truth missing": missing, "not in the ground truth": extra}
    _refuse(submission_name, found, hint=hint)
    scores = sub.set_index(C.PAIR_ID)[C.SIMILARITY].reindex(gt_ids).to_numpy()
    try:
        if C.KIND in truth.columns:
            eers = kind_eers(truth, scores)
        else:
            eers = {"eer": official_eer(truth[C.PAIR_LABEL].to_numpy(), scores)}
    except ValueError as error:
        raise ScoringError(f"{gt_name} cannot be scored: {error}") from error
    result: dict[str, float | int] = {name: float(v) for name, v in eers.items()}
    result["n_pairs"] = len(truth)
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
        text = json.dumps(score_files(args.gt, args.submission), indent=2)
        if args.out:
            write_text(args.out, text + "\n")
    except (ScoringError, OSError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scoring a submission ``pair_id,similarity`` against a ground truth ``pair_id,label[,kind]``
with the challenge's EER, rows joined on ``pair_id`` compared as strings (``42`` is not
``00000042``). ``python -m krypto.challenge.score --gt gt.csv --submission submission.csv
[--out scores.json]`` prints ``{"eer": ..., "n_pairs": ..., ...}``; a problem with the inputs is
one stderr line, exit 2."""

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
KIND_RULE = f"({C.SAME} is 1, {', '.join(C.NEGATIVE_KINDS)} are 0; another kind holds one label)"
PADDING_HINT = "(pair ids are strings: keep the zero padding of the folder names, '00000042')"


class ScoringError(ValueError):
    """A submission or ground truth that cannot be scored; the message names the file and ids."""


def name_ids(ids: Sequence, limit: int = MAX_NAMED) -> str:
    """``'a', 'b' and N more``: the first ``limit`` ids quoted, so padding and spaces show."""
    ids = list(ids)
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _refuse(source: str, problems: dict[str, Sequence], noun: str = "pair_id", hint: str = ""):
    """:class:`ScoringError` ``<source>: N <noun>s <problem>: <ids>; ... <hint>``, if any ids."""
    found = [
        f"{len(ids)} {noun}{'' if len(ids) == 1 else 's'} {what}: {name_ids(ids)}"
        for what, ids in problems.items()
        if len(ids)
    ]
    if found:
        raise ScoringError(f"{source}: " + "; ".join(found) + (f" {hint}" if hint else ""))


def _text(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).str.strip()


def _as_float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _unique_ids(frame: pd.DataFrame, columns: Sequence[str], source: str) -> pd.Series:
    """The pair ids of a frame that must have ``columns``, as stripped strings: missing columns,
    blank or duplicate ids are an error naming them."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ScoringError(
            f"{source}: no column {', '.join(map(repr, missing))} (expected "
            f"{','.join(columns)}; found {list(frame.columns)})"
        )
    ids = _text(frame[C.PAIR_ID])
    _refuse(source, {f"with an empty {C.PAIR_ID} (by row index)": frame.index[ids == ""]}, "row")
    _refuse(source, {"appear more than once": ids[ids.duplicated()].unique()})
    return ids


def check_submission(frame: pd.DataFrame, source: str = "submission") -> pd.DataFrame:
    """A clean copy of a submission frame, ``pair_id`` (str) and ``similarity`` (float64); the
    :class:`ScoringError` of a bad one names ``source`` (see :func:`read_submission`)."""
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
    """Read and check ``submission.csv`` (``pair_id,similarity``; other columns are ignored),
    pair ids as written but for surrounding spaces. Raises :class:`ScoringError` naming the file
    when it is missing, unreadable, lacks a column, has an empty or repeated pair id, or a
    similarity that is not a finite number (naming those ids)."""
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
    """A clean copy of a ground-truth frame: ``pair_id`` (str), ``label`` (0/1 int), ``kind``;
    :class:`ScoringError` for missing columns, empty or duplicate pair ids, labels other than 0
    and 1, empty kinds, kinds holding both labels and, of this package's kinds, the wrong one."""
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


def score(
    gt: pd.DataFrame,
    submission: pd.DataFrame,
    submission_name: str = "submission",
    gt_name: str = "ground truth",
) -> dict[str, float | int]:
    """Score ``submission`` against ``gt``, joining rows on ``pair_id``: ``eer`` (the official EER
    over all pairs), ``n_pairs`` and, when ``gt`` has a ``kind`` column, the EER of every
    negative kind against all positives (:func:`krypto.evaluation.metrics.kind_eers`) and
    ``n_<kind>``. Raises :class:`ScoringError` naming ``submission_name`` or ``gt_name`` when
    the pair ids of the two differ (naming them) or either frame is malformed."""
    truth = check_gt(gt, source=gt_name)
    sub = check_submission(submission, source=submission_name)
    gt_ids, sub_ids = truth[C.PAIR_ID], sub[C.PAIR_ID]
    missing, extra = gt_ids[~gt_ids.isin(sub_ids)], sub_ids[~sub_ids.isin(gt_ids)]
    numbers = [set(pd.to_numeric(ids, errors="coerce").dropna()) for ids in (missing, extra)]
    hint = PADDING_HINT if numbers[0] & numbers[1] else ""  # '42' for '00000042'?
    found = {"of the ground truth missing": missing, "not in the ground truth": extra}
    _refuse(submission_name, found, hint=hint)
    scores = sub.set_index(C.PAIR_ID)[C.SIMILARITY].reindex(gt_ids).to_numpy()
    labels, has_kinds = truth[C.PAIR_LABEL].to_numpy(), C.KIND in truth.columns
    try:
        eers = kind_eers(truth, scores) if has_kinds else {"eer": official_eer(labels, scores)}
    except ValueError as error:
        raise ScoringError(f"{gt_name} cannot be scored: {error}") from error
    result: dict[str, float | int] = {name: float(v) for name, v in eers.items()}
    result["n_pairs"] = len(truth)
    if has_kinds:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.score",
        description="Score a submission (pair_id,similarity) against a ground truth "
        "(pair_id,label[,kind]) with the challenge's EER; prints JSON.",
    )
    parser.add_argument("--gt", required=True, help="ground-truth CSV: pair_id,label[,kind]")
    parser.add_argument("--submission", required=True, help="submission CSV: pair_id,similarity")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
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

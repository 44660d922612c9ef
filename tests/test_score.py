"""Tests of krypto.challenge.score (reading and scoring submissions, CLI) and of the EER in
krypto.evaluation.metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from krypto import constants as C
from krypto.challenge.score import ScoringError, check_gt, main, name_ids, read_submission, score
from krypto.evaluation.metrics import eer_curve, kind_eers, official_eer

KINDS = list(C.PAIR_KINDS)


# --- helpers -------------------------------------------------------------------------------------


def reference_eer(labels, scores) -> float:
    """Independent re-implementation of the challenge's EER formula."""
    fpr, tpr, thr = roc_curve(labels, scores)
    thr[0] = max(thr[1:]) + 1e-3
    fnr = 1 - tpr
    return float(fnr[np.argmin(np.abs(fnr - fpr))])


def make_gt(n: int = 40, seed: int = 0, with_kind: bool = True) -> pd.DataFrame:
    """A ground truth of ``n`` pairs with zero-padded ids, every kind present."""
    rng = np.random.default_rng(seed)
    kinds = [KINDS[i % len(KINDS)] for i in range(n)]
    rng.shuffle(kinds)
    gt = pd.DataFrame(
        {C.PAIR_ID: [f"{i:08d}" for i in range(n)], C.PAIR_LABEL: [int(k == C.SAME) for k in kinds]}
    )
    if with_kind:
        gt[C.KIND] = kinds
    return gt


def make_submission(gt: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Noisy similarities, higher for the positive pairs."""
    rng = np.random.default_rng(seed)
    sim = rng.normal(size=len(gt)) + gt[C.PAIR_LABEL].to_numpy() * 1.0
    return pd.DataFrame({C.PAIR_ID: gt[C.PAIR_ID].tolist(), C.SIMILARITY: sim})  # a copy


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "krypto.challenge.score", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- krypto.evaluation.metrics -----------------------------------------------------------------


def test_official_eer_by_hand_crossing():
    # labels [1,1,0,0], scores [0.9,0.4,0.6,0.1].
    # Sorted by score, descending: 0.9 (pos), 0.6 (neg), 0.4 (pos), 0.1 (neg).
    # Cumulative tp = [1,1,2,2], fp = [0,1,1,2]; no point is collinear with its neighbours, so
    # roc_curve keeps all four and prepends (0,0) at threshold inf:
    #   thresholds = [inf->0.9+1e-3, 0.9, 0.6, 0.4, 0.1]
    #   tpr = [0, .5, .5, 1, 1]   fpr = [0, 0, .5, .5, 1]
    #   fnr = 1 - tpr = [1, .5, .5, 0, 0]
    #   |fnr - fpr|   = [1, .5, 0, .5, 1]  -> argmin = 2 -> EER = fnr[2] = 0.5 at threshold 0.6
    labels, scores = [1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]
    result = eer_curve(labels, scores)
    assert result.eer == 0.5
    assert result.threshold == 0.6
    np.testing.assert_array_equal(result.fnr, [1, 0.5, 0.5, 0, 0])
    np.testing.assert_array_equal(result.fpr, [0, 0, 0.5, 0.5, 1])
    assert result.thresholds[0] == pytest.approx(0.9 + 1e-3)


def test_official_eer_by_hand_is_fnr_not_mean():
    # labels [1,1,0], scores [0.9,0.5,0.7].
    # Sorted: 0.9 (pos), 0.7 (neg), 0.5 (pos); tp = [1,1,2], fp = [0,1,1], all kept,
    # (0,0) prepended:
    #   tpr = [0, .5, .5, 1]   fpr = [0, 0, 1, 1]   fnr = [1, .5, .5, 0]
    #   |fnr - fpr| = [1, .5, .5, 1] -> argmin (first minimum) = 1 -> EER = fnr[1] = 0.5,
    # while the mean of fpr and fnr there would be 0.25: the official score is fnr alone.
    result = eer_curve([1, 1, 0], [0.9, 0.5, 0.7])
    assert result.eer == 0.5
    assert result.threshold == 0.9


def test_official_eer_separable_is_zero():
    assert official_eer([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert official_eer([0, 1, 0, 1], [-5.0, 3.0, -1.0, 2.0]) == 0.0


def test_official_eer_reversed_is_one():
    assert official_eer([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_official_eer_identical_scores():
    # One distinct threshold: tpr = [0, 1], fpr = [0, 1], fnr = [1, 0]; |fnr - fpr| = [1, 1],
    # argmin takes the first point: EER = fnr[0] = 1.0 (a constant submission scores 1, not 0.5).
    assert official_eer([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 1.0


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 0, 0], [2, 0, 1]])
def test_official_eer_rejects_labels_without_both_classes(labels):
    with pytest.raises(ValueError, match="both positive"):
        official_eer(labels, [0.1, 0.2, 0.3])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_official_eer_rejects_non_finite_scores(bad):
    with pytest.raises(ValueError, match="not finite"):
        official_eer([1, 0, 1, 0], [0.1, bad, 0.3, 0.4])


def test_official_eer_rejects_length_mismatch():
    with pytest.raises(ValueError):
        official_eer([1, 0, 1], [0.1, 0.2])


@pytest.mark.parametrize("seed", range(5))
def test_official_eer_matches_reference(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + labels * 0.7
    scores[:50] = np.round(scores[:50], 1)  # some ties
    assert abs(official_eer(labels, scores) - reference_eer(labels, scores)) <= 1e-12


def test_kind_eers_keys_all_kinds():
    gt = make_gt()
    sub = make_submission(gt)
    out = kind_eers(gt, sub[C.SIMILARITY].to_numpy())
    assert set(out) == {"eer", "eer_real", "eer_fake", "eer_fake_other", "eer_fake_on_anchor"}
    for name, kind in (
        ("eer_real", C.DIFFERENT),
        ("eer_fake", C.FAKE_SAME),
        ("eer_fake_other", C.FAKE_OTHER),
        ("eer_fake_on_anchor", C.FAKE_ON_ANCHOR),
    ):
        keep = gt[C.KIND].isin([C.SAME, kind]).to_numpy()
        assert out[name] == reference_eer(gt[C.PAIR_LABEL][keep], sub[C.SIMILARITY][keep])


def test_kind_eers_keys_only_present_kinds():
    gt = make_gt()
    keep = gt[C.KIND].isin([C.SAME, C.FAKE_SAME]).to_numpy()
    gt = gt[keep].reset_index(drop=True)
    out = kind_eers(gt, np.linspace(0, 1, len(gt)))
    assert set(out) == {"eer", "eer_fake"}


# --- read_submission -----------------------------------------------------------------------------


def test_read_submission_keeps_padding_and_types(tmp_path):
    path = write_csv(tmp_path / "s.csv", "pair_id,similarity\n00000007,0.5\n00000010,-1e-3\n")
    sub = read_submission(path)
    assert sub[C.PAIR_ID].tolist() == ["00000007", "00000010"]
    assert sub[C.SIMILARITY].dtype == np.float64
    assert sub[C.SIMILARITY].tolist() == [0.5, -1e-3]


def test_read_submission_missing_file(tmp_path):
    with pytest.raises(ScoringError, match="nope.csv.*does not exist"):
        read_submission(tmp_path / "nope.csv")


def test_read_submission_empty_file(tmp_path):
    with pytest.raises(ScoringError, match="empty"):
        read_submission(write_csv(tmp_path / "s.csv", ""))


@pytest.mark.parametrize(
    "header,missing", [("pair_id,score", "similarity"), ("id,similarity", "pair_id")]
)
def test_read_submission_missing_column(tmp_path, header, missing):
    path = write_csv(tmp_path / "s.csv", f"{header}\n00000001,0.5\n")
    with pytest.raises(ScoringError, match=f"s.csv.*no column '{missing}'"):
        read_submission(path)


@pytest.mark.parametrize(
    "value,what",
    [
        ("nan", "non-finite"),
        ("NaN", "non-finite"),
        ("inf", "non-finite"),
        ("-inf", "non-finite"),
        ("abc", "non-numeric"),
        ("", "non-numeric"),
    ],
)
def test_read_submission_bad_similarity_names_id(tmp_path, value, what):
    path = write_csv(
        tmp_path / "s.csv", f"pair_id,similarity\n00000001,0.5\n00000002,{value}\n00000003,0.1\n"
    )
    with pytest.raises(ScoringError) as info:
        read_submission(path)
    message = str(info.value)
    assert "s.csv" in message and what in message and "'00000002'" in message
    assert "'00000001'" not in message and "'00000003'" not in message


def test_read_submission_bad_similarity_lists_at_most_ten(tmp_path):
    rows = "".join(f"{i:08d},oops\n" for i in range(13))
    path = write_csv(tmp_path / "s.csv", "pair_id,similarity\n" + rows)
    with pytest.raises(ScoringError) as info:
        read_submission(path)
    message = str(info.value)
    assert "13 pair_ids" in message and "'00000009'" in message and "and 3 more" in message
    assert "'00000010'" not in message


def test_read_submission_duplicates_named(tmp_path):
    path = write_csv(
        tmp_path / "s.csv",
        "pair_id,similarity\n00000001,0.5\n00000002,0.1\n00000001,0.7\n00000003,0.2\n",
    )
    with pytest.raises(ScoringError, match=r"s.csv: 1 pair_id appear more than once: '00000001'$"):
        read_submission(path)


def test_read_submission_empty_pair_id(tmp_path):
    path = write_csv(tmp_path / "s.csv", "pair_id,similarity\n00000001,0.5\n,0.1\n")
    with pytest.raises(ScoringError, match="empty pair_id"):
        read_submission(path)


def test_name_ids_limit():
    assert name_ids(["a", "b"]) == "'a', 'b'"
    assert name_ids([str(i) for i in range(12)]).endswith("'9' and 2 more")


# --- score -------------------------------------------------------------------------------------


def test_score_joins_by_pair_id_not_order():
    gt = make_gt()
    sub = make_submission(gt)
    shuffled = sub.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert not shuffled[C.PAIR_ID].equals(sub[C.PAIR_ID])
    expected = score(gt, sub)
    assert score(gt, shuffled) == expected
    # Row order would give a different (wrong) score: the join is what matters.
    by_order = official_eer(gt[C.PAIR_LABEL], shuffled[C.SIMILARITY])
    assert expected["eer"] == reference_eer(gt[C.PAIR_LABEL], sub[C.SIMILARITY])
    assert by_order != expected["eer"]


@pytest.mark.parametrize("seed", range(5))
def test_score_matches_reference(seed):
    gt = make_gt(n=200, seed=seed)
    sub = make_submission(gt, seed=seed + 100).sample(frac=1.0, random_state=seed)
    result = score(gt, sub)
    truth = sub.set_index(C.PAIR_ID)[C.SIMILARITY].loc[gt[C.PAIR_ID]].to_numpy()
    assert abs(result["eer"] - reference_eer(gt[C.PAIR_LABEL], truth)) <= 1e-12
    for name, kind in (
        ("eer_real", C.DIFFERENT),
        ("eer_fake", C.FAKE_SAME),
        ("eer_fake_other", C.FAKE_OTHER),
    ):
        keep = gt[C.KIND].isin([C.SAME, kind]).to_numpy()
        assert abs(result[name] - reference_eer(gt[C.PAIR_LABEL][keep], truth[keep])) <= 1e-12


def test_score_hand_computed():
    # Same example as test_official_eer_by_hand_crossing, with the rows of the submission reversed.
    gt = pd.DataFrame(
        {C.PAIR_ID: ["00000001", "00000002", "00000003", "00000004"], C.PAIR_LABEL: [1, 1, 0, 0]}
    )
    sub = pd.DataFrame(
        {
            C.PAIR_ID: ["00000004", "00000003", "00000002", "00000001"],
            C.SIMILARITY: [0.1, 0.6, 0.4, 0.9],
        }
    )
    assert score(gt, sub) == {"eer": 0.5, "n_pairs": 4}


def test_score_kind_keys_and_counts():
    gt = make_gt(n=50)
    result = score(gt, make_submission(gt))
    assert set(result) == {
        "eer",
        "n_pairs",
        "eer_real",
        "eer_fake",
        "eer_fake_other",
        "eer_fake_on_anchor",
        "n_same",
        "n_different",
        "n_fake_same",
        "n_fake_other",
        "n_fake_on_anchor",
    }
    assert result["n_pairs"] == 50
    assert [result[f"n_{k}"] for k in KINDS] == [10, 10, 10, 10, 10]
    assert all(isinstance(result[f"n_{k}"], int) for k in KINDS)
    # a kind absent from the ground truth is counted 0 and has no EER
    four = gt[gt[C.KIND] != C.FAKE_ON_ANCHOR]
    result = score(four, make_submission(four))
    assert result["n_fake_on_anchor"] == 0 and "eer_fake_on_anchor" not in result


def test_score_without_kind_has_no_kind_keys():
    gt = make_gt(with_kind=False)
    assert set(score(gt, make_submission(gt))) == {"eer", "n_pairs"}


def test_score_zero_padding_mismatch_names_ids():
    gt = make_gt(n=12)
    sub = make_submission(gt)
    sub.loc[sub[C.PAIR_ID] == "00000007", C.PAIR_ID] = "7"
    with pytest.raises(ScoringError) as info:
        score(gt, sub)
    message = str(info.value)
    assert "missing: '00000007'" in message
    assert "not in the ground truth: '7'" in message
    assert "zero padding" in message


def test_score_missing_ids_named():
    gt = make_gt(n=30)
    sub = make_submission(gt)
    sub = sub[~sub[C.PAIR_ID].isin(["00000003", "00000017"])]
    with pytest.raises(
        ScoringError,
        match=r"2 pair_ids of the ground truth missing: "
        r"'00000003', '00000017'$",
    ):
        score(gt, sub)


def test_score_extra_ids_named():
    gt = make_gt(n=30)
    sub = make_submission(gt)
    extra = pd.DataFrame({C.PAIR_ID: ["00000099"], C.SIMILARITY: [0.3]})
    with pytest.raises(ScoringError, match=r"1 pair_id not in the ground truth: '00000099'$"):
        score(gt, pd.concat([sub, extra], ignore_index=True))


def test_score_duplicate_ids_named():
    gt = make_gt(n=30)
    sub = make_submission(gt)
    with pytest.raises(ScoringError, match="appear more than once: '00000005'"):
        score(gt, pd.concat([sub, sub.iloc[[5]]], ignore_index=True))


@pytest.mark.parametrize(
    "bad,what", [(np.nan, "non-finite"), (np.inf, "non-finite"), ("high", "non-numeric")]
)
def test_score_bad_similarity_in_frame(bad, what):
    gt = make_gt(n=20)
    sub = make_submission(gt)
    sub[C.SIMILARITY] = sub[C.SIMILARITY].astype(object)
    sub.loc[4, C.SIMILARITY] = bad
    with pytest.raises(ScoringError, match=f"{what}.*'00000004'"):
        score(gt, sub)


def test_score_rejects_numeric_pair_ids():
    gt = make_gt(n=8, with_kind=False)
    sub = make_submission(gt)
    sub[C.PAIR_ID] = sub[C.PAIR_ID].astype(int)
    with pytest.raises(ScoringError, match="zero padding"):
        score(gt, sub)


def test_score_single_class_gt_is_scoring_error():
    gt = make_gt(n=8, with_kind=False)
    gt[C.PAIR_LABEL] = 0
    with pytest.raises(ScoringError, match="both positive"):
        score(gt, make_submission(gt))


def test_check_gt_rejects_bad_labels_and_kinds():
    gt = make_gt(n=8)
    bad_label = gt.copy()
    bad_label.loc[2, C.PAIR_LABEL] = 3
    with pytest.raises(ScoringError, match="other than 0 or 1: '00000002'"):
        check_gt(bad_label)
    empty_kind = gt.copy()
    empty_kind.loc[3, C.KIND] = ""
    with pytest.raises(ScoringError, match="empty kind: '00000003'"):
        check_gt(empty_kind)
    disagree = gt.copy()
    disagree.loc[disagree[C.KIND] == C.FAKE_SAME, C.PAIR_LABEL] = 1
    with pytest.raises(ScoringError, match="disagrees with its kind"):
        check_gt(disagree)
    mixed = gt.copy()  # a kind of the user's naming must hold one label
    mixed[C.KIND] = mixed[C.KIND].replace(C.DIFFERENT, "other")
    mixed.loc[mixed.index[mixed[C.KIND] == "other"][0], C.PAIR_LABEL] = 1
    with pytest.raises(ScoringError, match="disagrees with its kind 'other'"):
        check_gt(mixed)
    dup = pd.concat([gt, gt.iloc[[1]]], ignore_index=True)
    with pytest.raises(ScoringError, match="more than once: '00000001'"):
        check_gt(dup)


# --- command line --------------------------------------------------------------------------------


def write_pair_files(tmp_path: Path) -> tuple[Path, Path, dict]:
    gt = make_gt(n=40)
    sub = make_submission(gt).sample(frac=1.0, random_state=0)
    gt_path, sub_path = tmp_path / "gt.csv", tmp_path / "submission.csv"
    gt.to_csv(gt_path, index=False)
    sub.to_csv(sub_path, index=False)
    return gt_path, sub_path, score(gt, sub)


def test_cli_prints_json_and_writes_out(tmp_path):
    gt_path, sub_path, expected = write_pair_files(tmp_path)
    out = tmp_path / "res" / "scores.json"
    proc = run_cli(
        "--gt", str(gt_path), "--submission", str(sub_path), "--out", str(out), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed == pytest.approx(expected, abs=1e-15)
    assert json.loads(out.read_text()) == printed
    assert proc.stdout.startswith('{\n  "eer"')  # indent 2


def assert_clean_error(rc: int, stdout: str, stderr: str, expected: str) -> None:
    """Exit code 2, nothing on stdout, one ``error: ...`` line on stderr naming ``expected``."""
    assert rc == 2
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], stderr


def test_cli_bad_file_exit_2_clean_message(tmp_path):
    gt_path, sub_path, _ = write_pair_files(tmp_path)
    lines = sub_path.read_text().splitlines()
    lines = [("00000011,oops" if line.startswith("00000011,") else line) for line in lines]
    sub_path.write_text("\n".join(lines) + "\n")
    proc = run_cli("--gt", str(gt_path), "--submission", str(sub_path), cwd=tmp_path)
    assert_clean_error(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        "submission.csv: 1 pair_id with a non-numeric similarity: '00000011'",
    )


def test_cli_missing_gt(tmp_path):
    _, sub_path, _ = write_pair_files(tmp_path)
    proc = run_cli("--gt", str(tmp_path / "nogt.csv"), "--submission", str(sub_path), cwd=tmp_path)
    assert_clean_error(proc.returncode, proc.stdout, proc.stderr, "nogt.csv does not exist")


@pytest.mark.parametrize("case", ["missing_file", "padding", "no_column", "gt_single_class"])
def test_main_bad_input_exit_2_clean_message(tmp_path, capsys, case):
    # The same entry point as the subprocess tests above, in-process (importing sklearn in a fresh
    # interpreter costs seconds per run).
    gt_path, sub_path, _ = write_pair_files(tmp_path)
    if case == "missing_file":
        sub_path = tmp_path / "absent.csv"
        expected = "absent.csv does not exist"
    elif case == "padding":
        sub_path.write_text(sub_path.read_text().replace("00000007,", "7,"))
        expected = "missing: '00000007'; 1 pair_id not in the ground truth: '7'"
    elif case == "no_column":
        sub_path.write_text("pair_id,score\n00000001,0.5\n")
        expected = "submission.csv: no column 'similarity'"
    else:
        gt_path.write_text("pair_id,label\n" + "".join(f"{i:08d},0\n" for i in range(40)))
        expected = "gt.csv cannot be scored"
    rc = main(["--gt", str(gt_path), "--submission", str(sub_path)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, expected)


def test_score_accepts_any_kind_names_one_eer_per_negative_kind():
    """A ground truth of the challenge's shape with its own grouping names scores: positives are
    label 1, and each negative kind gets its EER against all positives."""
    gt = make_gt(n=50)
    gt[C.KIND] = gt[C.KIND].replace(C.DIFFERENT, "other")
    assert set(gt[C.KIND]) == {"same", "other", "fake_same", "fake_other", "fake_on_anchor"}
    sub = make_submission(gt)
    result = score(gt, sub)
    negatives = {"eer_other", "eer_fake", "eer_fake_other"}
    assert negatives <= set(result) and "eer_real" not in result
    assert result["n_other"] == (gt[C.KIND] == "other").sum() and result["n_different"] == 0
    # each one is the official EER of that kind's pairs against the positives
    truth = gt.set_index(C.PAIR_ID)
    scores = sub.set_index(C.PAIR_ID)[C.SIMILARITY].reindex(truth.index).to_numpy()
    for kind, name in (("other", "eer_other"), ("fake_same", "eer_fake")):
        keep = (truth[C.KIND].isin(["same", kind])).to_numpy()
        assert result[name] == pytest.approx(
            official_eer(truth[C.PAIR_LABEL].to_numpy()[keep], scores[keep])
        )

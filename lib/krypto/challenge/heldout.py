"""The official EERs of a finished run on held-out test pairs, computed exactly as a challenge
submission is: :func:`krypto.challenge.submit.make_submission` writes ``pair_id,similarity``
for every test pair folder, and :func:`krypto.challenge.score.score_files` scores it against the
ground truth with the challenge's formula.

The test pairs are never used for any choice (the best epoch is chosen on the validation
pairs): those of the data set itself (``<data_dir>/test_public`` with ``<data_dir>/gt.csv``, as
the embedded synthetic set has), else the identity-disjoint test split that
:func:`krypto.data.index.prepare` writes with ``test_ratio`` > 0.
"""

from __future__ import annotations

from pathlib import Path

from krypto import constants as C
from krypto import run_folder as RF
from krypto.challenge.score import score_files
from krypto.challenge.submit import make_submission
from krypto.paths import display_path


def heldout_pairs(data_root: Path, prepared_folder: Path) -> Path | None:
    """The folder holding ``test_public/`` and ``gt.csv`` of the held-out test, or None."""
    for root in (Path(data_root), Path(prepared_folder) / C.HELDOUT_DIR):
        if (root / C.GT_FILE).is_file() and (root / C.TEST_DIR).is_dir():
            return root
    return None


def evaluate_heldout(
    run_dir: str | Path,
    data_root: Path,
    prepared_folder: Path,
    device: str = "auto",
    progress: bool = False,
) -> dict | None:
    """Score the best checkpoint of ``run_dir`` on the held-out test pairs; writes
    ``test_submission.csv`` and ``test_metrics.json`` (``eer``, ``eer_real``, ``eer_fake``,
    ``eer_fake_other``, ``n_pairs``, ``source``) in the run folder and returns the metrics, or
    None when the data set has no held-out test."""
    run_dir = Path(run_dir)
    pairs = heldout_pairs(data_root, prepared_folder)
    if pairs is None:
        return None
    submission = run_dir / C.TEST_SUBMISSION_FILE
    make_submission(
        run_dir, pairs / C.TEST_DIR, submission, device=device, progress=progress, overwrite=True
    )
    metrics = {**score_files(pairs / C.GT_FILE, submission), "source": display_path(pairs)}
    RF.write_test_metrics(run_dir, metrics)
    return metrics

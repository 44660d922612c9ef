"""The official EERs of a finished run on held-out test pairs, computed exactly as a challenge
submission is (:func:`krypto.challenge.submit.make_submission`, then
:func:`krypto.challenge.score.score_files` against the ground truth). The test pairs never make
any choice (the best epoch is chosen on the validation pairs): those of the data set itself
(``<data_dir>/test_public`` with ``<data_dir>/gt.csv``, as the embedded synthetic set has),
else the identity-disjoint test split of :func:`krypto.data.index.prepare` (``test_ratio`` > 0).

With ``robustness``, they are also scored with every photo degraded as on the way to a verifier
(:data:`VARIANTS`): image-level forgery cues are fragile there, so a detector that only reads
them shows it. Each variant is written once beside the prepared data, keyed by the pairs' ground
truth."""

import hashlib
import io
import shutil
from pathlib import Path

from PIL import Image

from krypto import constants as C
from krypto import run_folder as RF
from krypto.challenge.score import score_files
from krypto.challenge.submit import make_submission
from krypto.files import file_lock
from krypto.paths import display_path

HALF_QUALITY = 95  # the half-size photos are saved as JPEG of this quality (little loss)
# name -> what is done to every photo of the held-out pairs
VARIANTS = {
    "jpeg75": "every photo re-saved as JPEG at quality 75",
    "half": f"every photo at half its width and height (bilinear), JPEG quality {HALF_QUALITY}",
}


def degrade(data: bytes, variant: str) -> bytes:
    """A photo's bytes as the ``variant`` of :data:`VARIANTS` has it (RGB JPEG)."""
    with Image.open(io.BytesIO(data)) as img:
        img, out = img.convert("RGB"), io.BytesIO()
        if variant not in ("jpeg75", "half"):
            raise ValueError(f"unknown test variant {variant!r}; choose one of {list(VARIANTS)}")
        if variant == "half":
            img = img.resize((max(1, img.width // 2), max(1, img.height // 2)), Image.BILINEAR)
        img.save(out, format="JPEG", quality=HALF_QUALITY if variant == "half" else 75)
    return out.getvalue()


def variant_pairs(pairs_root: Path, variant: str, folder: Path) -> Path:
    """The held-out pairs of ``pairs_root`` (``test_public/`` and ``gt.csv``) with every photo
    degraded as ``variant`` says, written once under ``folder`` (a half-written copy is written
    again); returns the copy's root."""
    gt = (pairs_root / C.GT_FILE).read_bytes()
    key = hashlib.sha1(gt + str(pairs_root.resolve()).encode()).hexdigest()[:12]
    out = folder / f"heldout-{variant}-{key}"
    with file_lock(out.with_name(out.name + ".lock")):
        if (out / C.GT_FILE).is_file():
            return out
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        done: dict[bytes, bytes] = {}  # a photo in several pairs is degraded once
        for pair in sorted(p for p in (pairs_root / C.TEST_DIR).iterdir() if p.is_dir()):
            (tmp / C.TEST_DIR / pair.name).mkdir(parents=True)
            for name in C.PAIR_IMAGES:
                data = (pair / name).read_bytes()
                if data not in done:
                    done[data] = degrade(data, variant)
                (tmp / C.TEST_DIR / pair.name / name).write_bytes(done[data])
        (tmp / C.GT_FILE).write_bytes(gt)  # last: a copy with gt.csv is complete
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return out


def heldout_pairs(data_root: Path, prepared_folder: Path) -> Path | None:
    """The folder holding ``test_public/`` and ``gt.csv`` of the held-out test, or None."""
    for root in (Path(data_root), Path(prepared_folder) / C.HELDOUT_DIR):
        if (root / C.GT_FILE).is_file() and (root / C.TEST_DIR).is_dir():
            return root
    return None


def _score(run_dir: Path, pairs: Path, out: Path, device: str, progress: bool) -> dict:
    make_submission(
        run_dir, pairs / C.TEST_DIR, out, device=device, progress=progress, overwrite=True
    )
    return score_files(pairs / C.GT_FILE, out)


def evaluate_heldout(
    run_dir: str | Path,
    data_root: Path,
    prepared_folder: Path,
    device: str = "auto",
    progress: bool = False,
    robustness: bool = False,
) -> dict | None:
    """Score the best checkpoint of ``run_dir`` on the held-out test pairs; writes
    ``test_submission.csv`` and ``test_metrics.json`` (``eer``, ``eer_<kind>`` of each negative
    kind, ``n_pairs``, ``source``; with ``robustness``, the same for each of :data:`VARIANTS`
    under ``<variant>_<key>``, from ``test_submission-<variant>.csv``) in the run folder and
    returns the metrics, or None when the data set has no held-out test."""
    run_dir = Path(run_dir)
    pairs = heldout_pairs(data_root, prepared_folder)
    if pairs is None:
        return None
    submission = run_dir / C.TEST_SUBMISSION_FILE
    metrics = _score(run_dir, pairs, submission, device, progress)
    metrics["source"] = display_path(pairs)
    for variant in VARIANTS if robustness else ():
        copy = variant_pairs(pairs, variant, Path(prepared_folder))
        out = submission.with_name(f"{submission.stem}-{variant}{submission.suffix}")
        scored = _score(run_dir, copy, out, device, progress)
        metrics.update({f"{variant}_{key}": value for key, value in scored.items()})
    RF.write_test_metrics(run_dir, metrics)
    return metrics

"""Tests of krypto.challenge.submit (with the batch embedding it runs on): a submission from a
tiny trained run, scored, with TTA, bad inputs and the command line; decoding on threads ahead of
the forward changes nothing in it."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_curve

from krypto import constants as C
from krypto import run_folder as RF
from krypto.challenge import batch_embedding, submit
from krypto.challenge.batch_embedding import PhotoFiles, decoded_batches, embed_paths
from krypto.challenge.score import main as score_main
from krypto.challenge.score import read_submission, score_files
from krypto.challenge.submit import make_submission, skipped_path
from krypto.data.alignment import read_aligned
from krypto.data.images import CorruptImageError, read_uint8
from krypto.data.layout import DataLayoutError, read_gt
from krypto.learning.checkpoint import load_model

IMAGE_SIZE = 32


@pytest.fixture(scope="module")
def run_dir(tiny_data, tiny_prepared, tmp_path_factory) -> Path:
    """A tiny 02_train run, trained once for this module (one epoch, 32 px).

    Same as ``train(data_dir=tiny_data, ..., val_ratio=0.25)``, but on the session's prepared
    index, so that nothing is cached into the repository's data/cache."""
    from krypto.learning.train import TrainConfig, Trainer

    run = tmp_path_factory.mktemp("submit") / "run"
    config = TrainConfig(
        data_dir=str(tiny_data),
        run_dir=str(run),
        epochs=1,
        P=4,
        K=4,
        image_size=IMAGE_SIZE,
        progress=False,
        val_ratio=0.25,
        device="cpu",
        forgery=0.0,  # a plain embedding model: tests/test_detectors.py covers the branch
    )
    Trainer(config, prepared=tiny_prepared).fit()
    assert (run / C.BEST_CHECKPOINT).is_file()
    return run


@pytest.fixture(scope="module")
def plain(run_dir, tiny_data, tmp_path_factory) -> Path:
    """The submission of the run without TTA, written once."""
    out = tmp_path_factory.mktemp("plain") / "submission.csv"
    make_submission(run_dir, tiny_data / C.TEST_DIR, out, progress=False, device="cpu")
    return out


@pytest.fixture
def pairs_copy(tiny_data, tmp_path) -> Path:
    """A copy of test_public that a test may damage."""
    return Path(shutil.copytree(tiny_data / C.TEST_DIR, tmp_path / C.TEST_DIR))


def pair_folders(pairs_dir: Path) -> list[str]:
    return sorted(p.name for p in pairs_dir.iterdir() if p.is_dir())


def direct_similarities(run_dir: Path, pairs_dir: Path, tta: bool = False) -> np.ndarray:
    """The cosine of each pair's two embeddings (in pair folder order), computed here: the model
    on its two files as training decoded them (PIL, bilinear, [0, 1])."""
    model, config = load_model(run_dir, device="cpu")
    unit = torch.nn.functional.normalize

    @torch.no_grad()
    def embed(name: str) -> torch.Tensor:
        files = [pairs_dir / folder / name for folder in pair_folders(pairs_dir)]
        x = torch.tensor(np.stack([read_uint8(f, config.image_size) for f in files])) / 255
        e = unit(model(x), dim=1)
        return unit(e + unit(model(x.flip(-1)), dim=1), dim=1) if tta else e

    return (embed("0.jpg") * embed("1.jpg")).sum(1).double().numpy()


def reference_eer(labels, scores) -> float:
    """Independent re-implementation of the challenge's EER formula."""
    fpr, tpr, thr = roc_curve(labels, scores)
    thr[0] = max(thr[1:]) + 1e-3
    fnr = 1 - tpr
    return float(fnr[np.argmin(np.abs(fnr - fpr))])


# --- the submission -------------------------------------------------------------------------------


def test_one_row_per_pair_folder_with_ids_as_written(plain, tiny_data):
    raw = pd.read_csv(plain, dtype=str, keep_default_na=False)
    assert list(raw.columns) == [C.PAIR_ID, C.SIMILARITY]
    folders = pair_folders(tiny_data / C.TEST_DIR)
    assert raw[C.PAIR_ID].tolist() == folders  # sorted, zero padding kept
    assert "00000003" in folders and all(len(p) == 8 for p in folders)
    assert not skipped_path(plain).exists()


def test_each_similarity_is_the_cosine_of_the_pairs_two_embeddings(plain, run_dir, tiny_data):
    """Each row scores its own pair folder's 0.jpg against its 1.jpg, with the model on the
    training's pixels; a pair of two identical images scores 1."""
    similarity = read_submission(plain)[C.SIMILARITY].to_numpy()
    expected = direct_similarities(run_dir, tiny_data / C.TEST_DIR)
    np.testing.assert_allclose(similarity, expected, atol=1e-5, rtol=0)
    assert np.ptp(similarity) > 1e-3  # the pairs differ: a row order error would show


def test_a_photo_in_several_pairs_is_embedded_once_to_the_same_submission(
    plain, run_dir, tiny_data, monkeypatch
):
    """The layout copies a photo into every pair it is in: each distinct file is embedded once,
    and the submission is exactly that of embedding every file (a wrong mapping would show)."""
    pairs_dir = tiny_data / C.TEST_DIR
    files = sorted(pairs_dir.glob("*/*.jpg"))
    distinct, inverse = submit.distinct_files(files)
    assert len(distinct) < len(files)  # there are copies to save
    assert [f.read_bytes() for f in files] == [distinct[k].read_bytes() for k in inverse]
    once = read_submission(plain)

    def every_file(paths):
        return list(paths), torch.arange(len(paths))

    def shifted(paths):  # planted wrong: each image gets the next distinct file's embedding
        kept, index = real(paths)
        return kept, (index + 1) % len(kept)

    real = submit.distinct_files
    for mapping, same in ((every_file, True), (shifted, False)):
        monkeypatch.setattr(submit, "distinct_files", mapping)
        frame = make_submission(run_dir, pairs_dir, progress=False, device="cpu")
        assert frame[C.PAIR_ID].tolist() == once[C.PAIR_ID].tolist()
        equal = np.array_equal(frame[C.SIMILARITY], once[C.SIMILARITY])
        assert equal == same, mapping.__name__


def test_a_pair_of_identical_images_scores_one(run_dir, pairs_copy):
    folders = pair_folders(pairs_copy)
    twin = folders[3]
    shutil.copyfile(pairs_copy / twin / "0.jpg", pairs_copy / twin / "1.jpg")
    frame = make_submission(run_dir, pairs_copy, progress=False, device="cpu")
    assert frame[C.PAIR_ID].tolist() == folders
    similarity = frame.set_index(C.PAIR_ID)[C.SIMILARITY]
    assert similarity[twin] == pytest.approx(1.0, abs=1e-5)
    assert (similarity.drop(twin) < 1 - 1e-4).all()


def test_score_equals_reference_eer(plain, tiny_data, capsys):
    gt_file = tiny_data / C.GT_FILE
    result = score_files(gt_file, plain)
    merged = read_gt(gt_file).merge(
        pd.read_csv(plain, dtype={C.PAIR_ID: str}), on=C.PAIR_ID, validate="one_to_one"
    )
    assert len(merged) == result["n_pairs"] == len(pair_folders(tiny_data / C.TEST_DIR))
    expected = reference_eer(merged[C.PAIR_LABEL], merged[C.SIMILARITY])
    assert abs(result["eer"] - expected) <= 1e-9
    assert score_main(["--gt", str(gt_file), "--submission", str(plain)]) == 0  # the CLI agrees
    assert '"eer"' in capsys.readouterr().out


def test_shuffled_rows_score_the_same(plain, tiny_data, tmp_path):
    frame = pd.read_csv(plain, dtype={C.PAIR_ID: str})
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert shuffled[C.PAIR_ID].tolist() != frame[C.PAIR_ID].tolist()
    other = tmp_path / "shuffled.csv"
    shuffled.to_csv(other, index=False)
    gt_file = tiny_data / C.GT_FILE
    assert score_files(gt_file, other) == score_files(gt_file, plain)


def test_returned_frame_matches_the_file(plain, run_dir, tiny_data):
    frame = make_submission(run_dir, tiny_data / C.TEST_DIR, progress=False, device="cpu")
    written = read_submission(plain)
    assert frame[C.PAIR_ID].tolist() == written[C.PAIR_ID].tolist()
    assert all(isinstance(p, str) for p in frame[C.PAIR_ID])
    np.testing.assert_allclose(frame[C.SIMILARITY], written[C.SIMILARITY], atol=1e-12)
    assert frame.attrs["skipped"] == []


# --- test-time augmentation -----------------------------------------------------------------------


def test_tta_scores_the_sums_of_the_unit_embeddings_of_image_and_mirror(
    plain, run_dir, tiny_data, tmp_path
):
    out = tmp_path / "tta.csv"
    tta = make_submission(
        run_dir, tiny_data / C.TEST_DIR, out, tta=True, progress=False, device="cpu"
    )
    base = read_submission(plain)
    assert tta[C.PAIR_ID].tolist() == base[C.PAIR_ID].tolist()
    expected = direct_similarities(run_dir, tiny_data / C.TEST_DIR, tta=True)
    np.testing.assert_allclose(tta[C.SIMILARITY], expected, atol=1e-5, rtol=0)
    assert np.abs(tta[C.SIMILARITY].to_numpy() - base[C.SIMILARITY].to_numpy()).max() > 1e-6
    assert read_submission(out)[C.SIMILARITY].tolist() == pytest.approx(tta[C.SIMILARITY].tolist())


def test_tta_of_a_mirror_symmetric_image_keeps_the_direction(run_dir, tmp_path):
    model, config = load_model(run_dir, device="cpu")
    assert config.image_size == IMAGE_SIZE
    rng = np.random.default_rng(0)
    left = rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE // 2, 3), dtype=np.uint8)
    image = np.concatenate([left, left[:, ::-1]], axis=1)
    assert (image == image[:, ::-1]).all()
    asym = rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    paths = []
    for name, pixels in (("symmetric.png", image), ("random.png", asym)):
        Image.fromarray(pixels).save(tmp_path / name)  # lossless: stays symmetric
        paths.append(tmp_path / name)

    plain = embed_paths(model, paths, IMAGE_SIZE, progress=False)
    tta = embed_paths(model, paths, IMAGE_SIZE, tta=True, progress=False)
    unit = torch.nn.functional.normalize
    np.testing.assert_allclose(unit(tta[:1], dim=1), unit(plain[:1], dim=1), atol=1e-6, rtol=0)
    assert float((unit(tta[1:], dim=1) * unit(plain[1:], dim=1)).sum()) < 1 - 1e-6  # not a no-op


# --- decoding ahead of the forward ----------------------------------------------------------------


def test_submission_is_identical_with_and_without_the_overlap(run_dir, tiny_data):
    """Decoding in the calling thread or on threads, batches ahead of the forward: the same
    submission, to the last bit (the same pixels reach the model in the same batches)."""
    pairs = tiny_data / C.TEST_DIR
    options = dict(progress=False, device="cpu", batch_size=8)
    serial = make_submission(run_dir, pairs, workers=0, **options)
    for workers in (1, 3):
        overlapped = make_submission(run_dir, pairs, workers=workers, **options)
        pd.testing.assert_frame_equal(overlapped, serial, check_exact=True)
    assert len(serial) > 8  # several batches


def test_decoding_threads_take_the_cores_torch_leaves_free(monkeypatch):
    """Beside a CPU forward, decoding runs on the free cores only (on its cores it would slow
    the forward); where none is free, on every core between forwards; beside a GPU, on all."""
    monkeypatch.setattr(batch_embedding, "available_cores", lambda: 8)
    with torch_threads(3):
        assert batch_embedding.default_workers("cpu") == 5
        assert batch_embedding.default_workers("cuda") == 8
        assert not batch_embedding.busy_cpu("cpu")
    with torch_threads(8):
        assert batch_embedding.default_workers("cpu") == 8
        assert batch_embedding.busy_cpu("cpu") and not batch_embedding.busy_cpu("cuda")


class _CountedPhotos(torch.utils.data.Dataset):
    """Items ``(i, "")``, each decoded slowly, counting how many were."""

    def __init__(self, n: int):
        self.n, self.decoded = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        time.sleep(0.001 * (i % 3))  # batches finish out of order
        self.decoded += 1
        return torch.tensor(i), ""


@pytest.mark.parametrize(("workers", "ahead"), [(0, 0), (1, 0), (1, 1), (3, 1), (3, 2)])
def test_batches_come_in_order_and_at_most_ahead_batches_ahead(workers, ahead):
    photos = _CountedPhotos(40)
    batches = decoded_batches(photos, 4, workers, ahead)
    first, errors = next(batches)
    assert first.tolist() == [0, 1, 2, 3] and list(errors) == [""] * 4
    time.sleep(0.1)  # time enough to decode every batch, were they all submitted
    assert photos.decoded <= 4 * (1 + (ahead if workers else 0))  # handed out, and ahead
    rest = [b.tolist() for b, _ in batches]
    assert sum(rest, first.tolist()) == list(range(40))


@contextlib.contextmanager
def torch_threads(n: int):
    """Torch's CPU threads set to ``n`` for the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _jpeg(path: Path, pixels, **options) -> Path:
    (pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)).save(path, **options)
    return path


def test_photo_files_give_the_training_pixels(tiny_data, tmp_path):
    rng = np.random.default_rng(0)
    face = np.asarray(Image.open(next((tiny_data / C.TEST_DIR).glob("*/0.jpg"))).convert("RGB"))
    big = np.asarray(Image.fromarray(face).resize((70, 50), Image.BILINEAR))
    files = [
        next((tiny_data / C.TEST_DIR).glob("*/1.jpg")),  # as the data set writes them
        _jpeg(tmp_path / "big.jpg", big, quality=90),  # resized to the model's size
        _jpeg(tmp_path / "444.jpg", big, subsampling=0),  # no chroma subsampling
        _jpeg(tmp_path / "gray.jpg", big[..., 0]),  # grayscale
        _jpeg(tmp_path / "progressive.jpg", big, progressive=True),
        _jpeg(tmp_path / "cmyk.jpg", Image.fromarray(big).convert("CMYK")),
        _jpeg(tmp_path / "noise.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)),
    ]
    photos = PhotoFiles(files, IMAGE_SIZE)
    for i, file in enumerate(files):
        got, error = photos[i]
        assert got.dtype == torch.uint8 and got.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
        assert got.is_contiguous() and error == ""
        np.testing.assert_array_equal(got, read_uint8(file, IMAGE_SIZE), err_msg=file.name)
    # torchvision decoded the JPEGs (its pixels were PIL's), not the CMYK one nor the PNG
    decoded = [batch_embedding.jpeg_by_torchvision(str(f), IMAGE_SIZE) for f in files]
    assert [d is not None for d in decoded] == [True] * 5 + [False] * 2
    assert batch_embedding.AGREES == {"jpeg": True}
    points = np.array([[0.3, 0.4, 0.7, 0.4, 0.5, 0.6, 0.35, 0.8, 0.65, 0.8], [np.nan] * 10])
    aligned = PhotoFiles(files[1:3], IMAGE_SIZE, landmarks=points)
    for i, file in enumerate(files[1:3]):  # aligned, or centre-cropped where NaN
        expected = read_aligned(file, points[i], IMAGE_SIZE)
        np.testing.assert_array_equal(aligned[i][0], expected, err_msg=file.name)
        assert not np.array_equal(expected, read_uint8(file, IMAGE_SIZE))  # not a plain resize
    bad = []
    for name, content in (
        ("empty.jpg", b""),
        ("text.jpg", b"this is not a JPEG"),
        ("cut.jpg", files[1].read_bytes()[:200]),
    ):
        bad.append(tmp_path / name)
        bad[-1].write_bytes(content)
    broken = PhotoFiles(bad, IMAGE_SIZE)
    for i, file in enumerate(bad):  # zeros, and the message naming the file
        pixels, error = broken[i]
        assert not pixels.any() and error.startswith(f"cannot decode image {file}")


def test_pil_decodes_where_torchvision_gives_other_pixels(tiny_data, monkeypatch):
    """Compared once, on the first JPEG: where torchvision's pixels are not PIL's, PIL decodes
    every photo from then on (with a warning), so the model still gets the training's pixels."""
    file = str(next((tiny_data / C.TEST_DIR).glob("*/0.jpg")))
    expected = read_uint8(file, IMAGE_SIZE)
    monkeypatch.setattr(batch_embedding, "AGREES", {})
    monkeypatch.setattr(batch_embedding, "read_uint8", lambda path, size: 255 - expected)
    with pytest.warns(UserWarning, match="differently"):
        assert batch_embedding.jpeg_by_torchvision(file, IMAGE_SIZE) is None
    assert batch_embedding.AGREES == {"jpeg": False}
    assert batch_embedding.jpeg_by_torchvision(file, IMAGE_SIZE) is None  # not tried again
    np.testing.assert_array_equal(PhotoFiles([file], IMAGE_SIZE)[0][0], 255 - expected)  # PIL's


def test_embed_paths_in_small_batches(run_dir, tiny_data, tmp_path):
    """The rows, the NaN of a failed image and the error (with every failure of its batch) are
    the same whatever the workers."""
    model, _ = load_model(run_dir, device="cpu")
    paths = sorted((tiny_data / C.TEST_DIR).glob("*/*.jpg"))[:9]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    with_bad = paths[:4] + [bad] + paths[4:] + [bad]
    reference = embed_paths(model, paths, IMAGE_SIZE, batch_size=64, workers=0)
    for workers in (0, 1, 3):
        options = dict(batch_size=2, workers=workers)
        failures: list = []
        emb = embed_paths(model, with_bad, IMAGE_SIZE, failures=failures, **options)
        assert [i for i, _ in failures] == [4, 10]
        assert torch.isnan(emb[[4, 10]]).all()
        torch.testing.assert_close(
            emb[[i for i in range(11) if i not in (4, 10)]], reference, atol=1e-5, rtol=0
        )
        labels = [f"row {i}" for i in range(11)]
        with pytest.raises(CorruptImageError, match="^1 image") as info:
            embed_paths(model, with_bad, IMAGE_SIZE, labels=labels, **options)
        assert "row 4" in str(info.value) and "row 10" not in str(info.value)
    with pytest.raises(CorruptImageError, match="^2 image"):  # one batch: both failures named
        embed_paths(model, with_bad, IMAGE_SIZE, batch_size=16, workers=2)


# --- bad inputs -----------------------------------------------------------------------------------


def test_incomplete_pair_folder_is_an_error_naming_it(run_dir, pairs_copy, tmp_path):
    victim = pair_folders(pairs_copy)[5]
    (pairs_copy / victim / "1.jpg").unlink()
    out = tmp_path / "sub.csv"
    with pytest.raises(DataLayoutError, match=victim) as info:
        make_submission(run_dir, pairs_copy, out, progress=False, device="cpu")
    assert "1.jpg" in str(info.value)
    assert not out.exists()


def test_corrupt_image_is_an_error_naming_file_and_pair(run_dir, pairs_copy, tmp_path):
    victim = pair_folders(pairs_copy)[2]
    bad = pairs_copy / victim / "0.jpg"
    bad.write_bytes(b"this is not a JPEG")
    out = tmp_path / "sub.csv"
    with pytest.raises(CorruptImageError) as info:
        make_submission(run_dir, pairs_copy, out, progress=False, device="cpu")
    assert str(bad) in str(info.value) and repr(victim) in str(info.value)
    assert "skip" in str(info.value)
    assert not out.exists()


def test_skip_bad_lists_every_skipped_pair(run_dir, pairs_copy, tmp_path):
    """Each skipped pair is listed with its own file named, also where another pair holds a
    file of the same bytes (decoded once)."""
    folders = pair_folders(pairs_copy)
    missing, corrupt, twin = folders[5], folders[2], folders[7]
    (pairs_copy / missing / "1.jpg").unlink()
    for folder in (corrupt, twin):
        (pairs_copy / folder / "1.jpg").write_bytes(b"\xff\xd8\xff truncated")
    out = tmp_path / "sub.csv"
    with pytest.warns(UserWarning, match="3 pair"):
        frame = make_submission(
            run_dir, pairs_copy, out, skip_bad=True, progress=False, device="cpu"
        )
    written = read_submission(out)
    expected = [f for f in folders if f not in (missing, corrupt, twin)]
    assert written[C.PAIR_ID].tolist() == frame[C.PAIR_ID].tolist() == expected
    assert np.isfinite(written[C.SIMILARITY]).all()
    lines = skipped_path(out).read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == sorted([missing, corrupt, twin])
    reasons = dict(line.split("\t", 1) for line in lines)
    assert "1.jpg" in reasons[missing]
    for folder in (corrupt, twin):
        assert reasons[folder].startswith(f"cannot decode image {pairs_copy / folder / '1.jpg'}")
    assert sorted(pid for pid, _ in frame.attrs["skipped"]) == sorted([missing, corrupt, twin])


def test_embed_paths_reports_or_raises_on_unreadable_files(run_dir, tiny_data, tmp_path):
    model, _ = load_model(run_dir, device="cpu")
    good = tiny_data / C.TEST_DIR / pair_folders(tiny_data / C.TEST_DIR)[0] / "0.jpg"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    with pytest.raises(CorruptImageError, match="bad.jpg"):
        embed_paths(model, [good, bad], IMAGE_SIZE)
    failures: list = []
    emb = embed_paths(model, [good, bad], IMAGE_SIZE, failures=failures)
    assert [i for i, _ in failures] == [1]
    assert torch.isfinite(emb[0]).all() and torch.isnan(emb[1]).all()
    # decoding in batches of 2 gives the same rows and the same failure indices
    batched_failures: list = []
    batched = embed_paths(
        model, [good, good, good, bad, good], IMAGE_SIZE, batch_size=2, failures=batched_failures
    )
    assert [i for i, _ in batched_failures] == [3]
    assert torch.isnan(batched[3]).all()
    torch.testing.assert_close(batched[[0, 1, 2, 4]], emb[[0, 0, 0, 0]], atol=1e-5, rtol=0)


def test_refuses_to_overwrite(plain, run_dir, tiny_data, tmp_path):
    out = tmp_path / "sub.csv"
    out.write_text("precious\n")
    with pytest.raises(FileExistsError, match="overwrite"):
        make_submission(run_dir, tiny_data / C.TEST_DIR, out, progress=False, device="cpu")
    assert out.read_text() == "precious\n"
    make_submission(
        run_dir, tiny_data / C.TEST_DIR, out, progress=False, device="cpu", overwrite=True
    )
    assert read_submission(out)[C.PAIR_ID].tolist() == read_submission(plain)[C.PAIR_ID].tolist()


def test_missing_checkpoint_is_named_before_any_work(tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="best.pt"):
        make_submission(
            tmp_path / "no-run", tiny_data / C.TEST_DIR, tmp_path / "s.csv", progress=False
        )


# --- command line ---------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "krypto.challenge.submit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_end_to_end_and_bad_pairs_folder(plain, run_dir, pairs_copy, tmp_path):
    out = tmp_path / "cli.csv"
    done = run_cli(
        "--run",
        str(run_dir),
        "--pairs",
        str(pairs_copy),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--no-progress",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    written, expected = read_submission(out), read_submission(plain)
    assert written[C.PAIR_ID].tolist() == expected[C.PAIR_ID].tolist()
    np.testing.assert_allclose(written[C.SIMILARITY], expected[C.SIMILARITY], atol=1e-6)

    victim = pair_folders(pairs_copy)[0]
    (pairs_copy / victim / "1.jpg").unlink()
    bad_out = tmp_path / "bad.csv"
    done = run_cli(
        "--run",
        str(run_dir),
        "--pairs",
        str(pairs_copy),
        "--out",
        str(bad_out),
        "--device",
        "cpu",
        "--no-progress",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and victim in lines[0], done.stderr
    assert "--skip-bad" in lines[0]
    assert "Traceback" not in done.stderr
    assert not bad_out.exists()


def test_a_folder_of_seeds_gives_the_seed_best_on_validation_never_the_test(tmp_path):
    def seed(k: int, eer_mean: float | None, test_eer: float) -> Path:
        folder = tmp_path / "run" / f"seed{k}"
        folder.mkdir(parents=True)
        (folder / C.CONFIG_FILE).write_text(json.dumps({"select_by": "eer_mean"}))
        (folder / C.TEST_METRICS_FILE).write_text(json.dumps({"eer": test_eer}))
        if eer_mean is not None:
            (folder / C.METRICS_FILE).write_text(json.dumps({"eer_mean": eer_mean}))
        return folder

    seed(0, 0.20, 0.01)  # best on the test: not a reason to pick it
    chosen = seed(1, 0.10, 0.90)
    seed(2, None, 0.0)  # unfinished
    seed(3, 0.10, 0.50)  # a tie: the lower seed number wins
    (tmp_path / "run" / "seedling").mkdir()
    assert RF.best_seed(tmp_path / "run") == chosen
    (chosen / "best.pt").write_bytes(b"")
    assert RF.best_seed(chosen) == chosen  # a run folder is itself
    assert RF.best_seed(tmp_path / "empty") == tmp_path / "empty"  # not there: left to the caller

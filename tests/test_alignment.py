"""Five-point alignment: real photographs land on the template (their landmarks detected again on
the aligned crops), a photo without a face falls back to its centre crop and is named, and
``align=True`` runs through preparation, training and the submission, while ``align=False``
leaves the image cache's key and pixels as they were."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pandas as pd
import pytest
import skimage.data
import torch
from PIL import Image

from krypto import constants as C
from krypto.challenge.submit import make_submission
from krypto.data import index as index_module
from krypto.data.alignment import (
    align_photos,
    aligned_landmarks,
    alignment_matrix,
    detect_faces,
    index_landmarks,
    read_aligned,
    similarity_transform,
    template,
    warn_unaligned,
    write_aligned,
)
from krypto.data.images import decode_many
from krypto.data.index import prepare
from krypto.data.layout import read_pairs
from krypto.evaluation.plots import contact_sheet
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.learning.embed import _cache_key, cached_images
from krypto.learning.train import Trainer
from tests.external_faces import write as write_external

SIZE = 112
PHOTOS = {
    "grace_hopper": lambda: np.asarray(
        Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg"))
    ),
    "astronaut": skimage.data.astronaut,
}
EYES = [0, 1]  # left and right eye among the five points


def _pixels(points, width: int, height: int) -> np.ndarray:
    """Normalised landmarks (0, 1: the edges) as coordinates with pixel centres at integers."""
    return np.asarray(points, np.float64).reshape(5, 2) * [width, height] - 0.5


@pytest.fixture(scope="module")
def realigned(tmp_path_factory) -> dict:
    """For each photograph: ``(found, placed)``, the five points ``[5, 2]`` (pixels of the
    112 px crop) that MTCNN finds on its aligned crop, and where the photo's own landmarks were
    sent by its transform."""
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for name, load in PHOTOS.items():
        paths.append(folder / f"{name}.png")
        Image.fromarray(load()).save(paths[-1])
    points = detect_faces(paths, progress=False)
    assert np.isfinite(points).all(), "MTCNN finds both faces"
    crops = [folder / f"{p.stem}-aligned.png" for p in paths]
    for path, crop, p in zip(paths, crops, points):
        Image.fromarray(read_aligned(path, p, SIZE).transpose(1, 2, 0)).save(crop)
    again = detect_faces(crops, progress=False)
    out = {}
    for path, p, q in zip(paths, points, again):
        width, height = Image.open(path).size
        matrix = alignment_matrix(p, width, height, SIZE)
        placed = _pixels(p, width, height) @ matrix[:, :2].T + matrix[:, 2]
        out[path.stem] = (_pixels(q, SIZE, SIZE), placed)
    return out


def test_similarity_transform_recovers_a_known_similarity():
    angle, scale, shift = 0.4, 0.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = np.random.default_rng(0).uniform(0, 100, (5, 2))
    matrix = similarity_transform(src, src @ (scale * rotation).T + shift)
    np.testing.assert_allclose(matrix, np.hstack([scale * rotation, shift[:, None]]), atol=1e-9)


def test_aligned_photographs_put_their_landmarks_on_the_template(realigned):
    """The landmarks MTCNN finds on the aligned crop lie within 3 px of the template: all five
    on Grace Hopper's photo; the eyes on the astronaut's, whose broad smile leaves her nose and
    mouth corners 5-7 px from the neutral template under the best similarity (the fit's
    residual, where the next test shows the crop put them)."""
    errors = {
        name: np.linalg.norm(found - template(SIZE), axis=1)
        for name, (found, _) in realigned.items()
    }
    print({name: e.round(2).tolist() for name, e in errors.items()})
    assert (errors["grace_hopper"] <= 3).all(), errors
    assert (errors["astronaut"][EYES] <= 3).all(), errors


def test_the_warp_puts_each_face_where_its_transform_sends_it(realigned):
    for name, (found, placed) in realigned.items():
        error = np.linalg.norm(found - placed, axis=1)
        print(name, "found vs placed", error.round(2).tolist())
        assert (error <= 3).all(), (name, error)


def test_a_photo_without_a_face_is_centre_cropped_and_named(tmp_path):
    ramp = np.add.outer(np.arange(60), np.arange(90) * 2).astype(np.uint8)  # 0 .. 237
    path = tmp_path / "ramp.png"
    Image.fromarray(np.stack([ramp] * 3, -1)).save(path)
    points = detect_faces([path], progress=False)
    assert np.isnan(points).all()
    crop = read_aligned(path, points[0], SIZE).transpose(1, 2, 0).astype(int)
    centre = Image.open(path).crop((15, 0, 75, 60)).resize((SIZE, SIZE), Image.BILINEAR)
    assert np.abs(crop - np.asarray(centre, int)).max() <= 2  # the central square, resized
    with pytest.warns(UserWarning, match=r"no face found in 1 test photo.*ramp\.png"):
        assert warn_unaligned([str(path)], points, "test photo(s)") == [str(path)]


def _spy_on_detection(monkeypatch) -> list:
    seen = []

    def spy(paths, **kwargs):
        seen.extend(str(p) for p in paths)
        return detect_faces(paths, **kwargs)

    monkeypatch.setattr(index_module, "detect_faces", spy)
    return seen


@pytest.mark.parametrize("source", ["synthetic:tiny", "external"])
def test_preprocess_with_align(source, tmp_path, monkeypatch):
    """01_preprocess's calls with align: every photo, fake or real, gets landmarks (the
    generator's, else MTCNN's), and the aligned contact sheet is drawn; on a set this
    repository did not write, MTCNN runs on every photo and those without a face are named."""
    detected = _spy_on_detection(monkeypatch)
    if source == "external":
        source = write_external(tmp_path / "ext", 6, 2, real=3, fake=2, pairs_per_kind=2)
    out = tmp_path / "prep"
    data = prepare(
        source, out_dir=out, val_ratio=0.34, align=True, pairs_per_kind=10, progress=False
    )
    assert json.loads((out / "prepared.json").read_text())["align"] is True
    points = index_landmarks(data.index)
    missing = data.index.loc[np.isnan(points).any(1), C.PATH].tolist()
    assert missing == data.report.no_landmarks
    if source == "synthetic:tiny":
        assert not missing and not detected  # the ground truth covers the fakes too
    else:
        assert sorted(detected) == sorted(data.index[C.PATH]) and data.index[C.IS_FAKE].any()
    shown = data.index[data.index[C.LABEL] < 8]
    aligned = write_aligned(shown, tmp_path / "aligned")
    assert all(Image.open(p).size == (SIZE, SIZE) for p in aligned[C.PATH])
    assert np.array_equal(np.isnan(index_landmarks(aligned)), np.isnan(index_landmarks(shown)))
    contact_sheet(aligned, n_identities=8, path=tmp_path / "aligned_contact_sheet.png")
    assert (tmp_path / "aligned_contact_sheet.png").stat().st_size > 0


def test_align_fills_the_ground_truth_gaps_of_fakes(tiny_data, tmp_path, monkeypatch):
    """A generator's landmarks.csv without its fakes: aligning, the fakes get MTCNN's."""
    data = shutil.copytree(tiny_data, tmp_path / "data")
    table = pd.read_csv(data / C.LANDMARKS_FILE)
    meta = json.loads((data / C.TRAIN_DIR / C.META_FILE).read_text())
    fakes = {f"{C.TRAIN_DIR}/{key}" for key, fake in meta.items() if fake}
    table[~table[C.PATH].isin(fakes)].to_csv(data / C.LANDMARKS_FILE, index=False)
    detected = _spy_on_detection(monkeypatch)
    plain = prepare(data, out_dir=tmp_path / "plain", progress=False)
    assert np.isnan(index_landmarks(plain.index)[plain.index[C.IS_FAKE]]).all() and not detected
    aligned = prepare(data, out_dir=tmp_path / "aligned", progress=False, align=True)
    fake_paths = aligned.index.loc[aligned.index[C.IS_FAKE], C.PATH]
    assert sorted(detected) == sorted(fake_paths)
    reals = ~aligned.index[C.IS_FAKE].to_numpy()
    assert np.array_equal(
        index_landmarks(aligned.index)[reals], index_landmarks(plain.index)[reals]
    )


def test_without_align_the_cache_key_and_images_are_as_before(tiny_prepared, tmp_path):
    rows = tiny_prepared.index.iloc[:6]
    paths = [str(p) for p in rows[C.PATH]]
    digest = hashlib.sha1(b"32")
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"\n{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    key = digest.hexdigest()[:12]
    assert _cache_key(paths, 32) == key
    plain = cached_images(paths, 32, tmp_path, progress=False)
    assert [f.name for f in tmp_path.glob("*.npy")] == [f"images-32px-{key}.npy"]
    np.testing.assert_array_equal(plain[:], decode_many(paths, 32, progress=False)[0])
    assert "align" not in json.loads((tiny_prepared.folder / "prepared.json").read_text())

    points = index_landmarks(rows)
    aligned = cached_images(paths, 32, tmp_path, False, points)
    assert _cache_key(paths, 32, points) not in (key, _cache_key(paths, 32, points + 0.01))
    assert len(list(tmp_path.glob("images-32px-aligned-*.npy"))) == 1
    np.testing.assert_array_equal(aligned[:], align_photos(paths, points, 32, progress=False)[0])
    assert not np.array_equal(aligned[:], plain[:])


def test_training_and_submission_with_align(tiny_data, tiny_prepared, tmp_path):
    """One epoch on aligned crops at the model's size, then a submission that aligns the test
    photos with MTCNN's landmarks: each pair's similarity is the model's on those crops, and the
    photos without a face found are counted and named, never fatal."""
    size = 40
    config = TrainConfig(
        data_dir=str(tiny_data),
        run_dir=str(tmp_path / "run"),
        epochs=1,
        P=4,
        K=4,
        image_size=size,
        progress=False,
        val_ratio=0.25,
        device="cpu",
        align=True,
        cutout_part="eyes",
        forgery=0.0,  # crops at the model's own size
    )
    trainer = Trainer(config, prepared=tiny_prepared)
    index = tiny_prepared.index
    expected = align_photos(index[C.PATH], index_landmarks(index), size, progress=False)[0]
    np.testing.assert_array_equal(trainer.images[:], expected)
    aligned = aligned_landmarks(index_landmarks(index))  # what cutout finds the face parts by
    np.testing.assert_array_equal(trainer.landmarks.numpy(), aligned)
    trainer.fit()

    pairs_dir = tiny_data / C.TEST_DIR
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = make_submission(config.run_dir, pairs_dir, device="cpu", progress=False)
    unaligned = frame.attrs["unaligned"]
    assert 0 < len(unaligned) < len(list(pairs_dir.glob("*/*.jpg")))  # some faces found, some not
    assert any(f"no face found in {len(unaligned)} test photo(s)" in str(w.message) for w in caught)

    model, _ = load_model(config.run_dir)
    pairs = read_pairs(pairs_dir).sort_values(C.PAIR_ID)
    assert frame[C.PAIR_ID].tolist() == pairs[C.PAIR_ID].tolist()
    unit = torch.nn.functional.normalize

    @torch.no_grad()
    def embed(paths) -> torch.Tensor:
        points = detect_faces(paths, progress=False)
        crops = [read_aligned(p, q, size) for p, q in zip(paths, points)]
        return unit(model(torch.tensor(np.stack(crops)) / 255), dim=1)

    direct = (embed(pairs[C.PATH_A]) * embed(pairs[C.PATH_B])).sum(1).double().numpy()
    np.testing.assert_allclose(frame[C.SIMILARITY].to_numpy(), direct, atol=1e-5, rtol=0)

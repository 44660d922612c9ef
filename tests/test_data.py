"""The data layer: official layout, padding, bad input, index, split, pairs, landmarks."""

import json
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from krypto import constants as C
from krypto.data.index import (
    build_index,
    prepare,
    split_by_identity,
    write_pairs_layout,
)
from krypto.data.landmarks import detect_mtcnn
from krypto.data.layout import DataLayoutError, DataReport, read_pairs, read_train


@pytest.fixture
def data_copy(tiny_data, tmp_path):
    """A private copy of the tiny set that a test may damage."""
    return shutil.copytree(tiny_data, tmp_path / "data")


def _meta(root):
    return json.loads((root / "train/meta.json").read_text())


def test_read_train_lists_every_image(tiny_data):
    frame = read_train(tiny_data)
    assert len(frame) == len(_meta(tiny_data))
    assert frame[C.IS_FAKE].sum() == sum(_meta(tiny_data).values())
    assert frame[C.IDENTITY].str.len().eq(8).all()


@pytest.mark.parametrize("folder_width,meta_width", [(8, 8), (8, 3), (2, 8), (None, 6), (5, None)])
def test_ids_match_by_value_whatever_the_padding(data_copy, folder_width, meta_width):
    """Folder names and meta keys padded to different widths still match, and meta.json is not
    rewritten."""
    train = data_copy / "train"
    for folder in [p for p in train.iterdir() if p.is_dir()]:
        name = str(int(folder.name)).zfill(folder_width) if folder_width else str(int(folder.name))
        folder.rename(train / name)
    meta = {
        f"{str(int(k.split('/')[0])).zfill(meta_width or 0)}/{k.split('/')[1]}": v
        for k, v in _meta(data_copy).items()
    }
    (train / "meta.json").write_text(json.dumps(meta))
    before = (train / "meta.json").read_bytes()
    report = DataReport()
    frame = read_train(data_copy, report)
    assert len(frame) == len(meta) and not report.missing_in_meta and not report.missing_images
    assert (train / "meta.json").read_bytes() == before


def test_missing_meta_is_a_clear_error(data_copy):
    (data_copy / "train/meta.json").unlink()
    with pytest.raises(DataLayoutError, match="meta.json"):
        read_train(data_copy)


def test_bad_meta_value_names_the_key(data_copy):
    meta = _meta(data_copy)
    meta[next(iter(meta))] = 7
    (data_copy / "train/meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataLayoutError, match="is not"):
        read_train(data_copy)


def test_unlisted_images_and_keys_without_images_are_reported(data_copy):
    meta = _meta(data_copy)
    dropped = next(iter(meta))
    del meta[dropped]
    meta["00000000/99.jpg"] = 0
    (data_copy / "train/meta.json").write_text(json.dumps(meta))
    report = DataReport()
    frame = read_train(data_copy, report)
    assert any(p.endswith(dropped) for p in report.missing_in_meta)
    assert any(p.endswith("99.jpg") for p in report.missing_images)
    assert not frame[C.PATH].str.endswith(dropped).any()
    with pytest.warns(UserWarning, match="not listed in meta.json"):
        report.warn()


def test_corrupt_image_is_reported_and_left_out(data_copy):
    bad = data_copy / "train/00000002/1.jpg"
    bad.write_bytes(b"\xff\xd8\xff this is not a jpeg")
    report = DataReport()
    index = build_index(data_copy, val_ratio=0.25, report=report, progress=False)
    assert any(str(bad) in message for message in report.corrupt)
    assert str(bad) not in set(index[C.PATH])
    assert len(index) == len(_meta(data_copy)) - 1


def test_grayscale_rgba_and_png_are_converted(data_copy):
    from krypto.data.images import read_uint8

    folder = data_copy / "train/00000003"
    Image.open(folder / "0.jpg").convert("L").save(folder / "0.jpg")
    Image.open(folder / "1.jpg").convert("RGBA").save(folder / "1.png")
    meta = _meta(data_copy)
    meta["00000003/1.png"] = meta.pop("00000003/1.jpg")
    (folder / "1.jpg").unlink()
    (data_copy / "train/meta.json").write_text(json.dumps(meta))
    index = build_index(data_copy, val_ratio=0.25, progress=False)
    rows = index[index[C.IDENTITY] == "00000003"]
    assert len(rows) == 6
    for path in rows[C.PATH]:
        assert read_uint8(path, 20).shape == (3, 20, 20)


def test_identity_with_one_real_photo_is_kept_and_reported(data_copy):
    meta = _meta(data_copy)
    for n in range(1, 4):  # identity 5 keeps one real photo
        del meta[f"00000005/{n}.jpg"]
        (data_copy / f"train/00000005/{n}.jpg").unlink()
    (data_copy / "train/meta.json").write_text(json.dumps(meta))
    report = DataReport()
    index = build_index(data_copy, val_ratio=0.25, report=report, progress=False)
    assert "00000005" in report.few_reals
    assert (index[C.IDENTITY] == "00000005").sum() == 3  # one real, two fakes


def test_index_columns_and_split_by_identity(tiny_prepared):
    index = tiny_prepared.index
    for column in (
        C.LABEL,
        C.PATH,
        C.SPLIT,
        C.IS_QUERY,
        C.IS_GALLERY,
        C.IS_FAKE,
        *C.LANDMARK_COLUMNS,
    ):
        assert column in index.columns
    splits = index.groupby(C.LABEL)[C.SPLIT].nunique()
    assert (splits == 1).all()  # no identity on both sides
    val = index[C.SPLIT] == C.VALID
    assert (index[C.IS_QUERY] == val).all() and (index[C.IS_GALLERY] == val).all()
    assert index.loc[val, C.LABEL].nunique() == 6  # 25% of 24
    assert np.isfinite(index[list(C.LANDMARK_COLUMNS)].to_numpy()).all()  # ground truth used


def test_split_is_seeded():
    labels = np.repeat(np.arange(50), 3)
    a, b = split_by_identity(labels, 0.2, 0), split_by_identity(labels, 0.2, 0)
    c = split_by_identity(labels, 0.2, 1)
    assert (a == b).all() and not (a == c).all()
    with pytest.raises(ValueError, match="val_ratio"):
        split_by_identity(labels, 1.5, 0)


def test_test_split_holds_out_identities_and_writes_the_challenge_layout(tiny_data, tmp_path):
    """test_ratio > 0: identities never trained on nor validated, their pairs written as
    test_public/ with a gt.csv of the four kinds; without it, the split is as before."""
    plain = prepare(
        tiny_data, out_dir=tmp_path / "a", val_ratio=0.25, progress=False, pairs_per_kind=20
    )
    held = prepare(
        tiny_data,
        out_dir=tmp_path / "b",
        val_ratio=0.25,
        test_ratio=0.25,
        progress=False,
        pairs_per_kind=20,
    )
    ids = {
        s: set(held.index.loc[held.index[C.SPLIT] == s, C.LABEL])
        for s in (C.TRAIN, C.VALID, C.TEST)
    }
    assert len(ids[C.TEST]) == 6 and len(ids[C.VALID]) == 6 and len(ids[C.TRAIN]) == 12
    assert not (ids[C.TEST] & ids[C.VALID]) and not (ids[C.TEST] & ids[C.TRAIN])
    gt = pd.read_csv(tmp_path / "b" / C.HELDOUT_DIR / C.GT_FILE, dtype={C.PAIR_ID: str})
    assert set(gt[C.KIND]) == set(C.PAIR_KINDS)
    pairs = read_pairs(tmp_path / "b" / C.HELDOUT_DIR / C.TEST_DIR)
    assert len(pairs) == len(gt)
    test_paths = set(
        held.index.loc[held.index[C.SPLIT] == C.TEST, C.PATH].map(lambda p: Path(p).name)
    )
    assert test_paths  # the held-out photos are the test split's
    assert not (tmp_path / "a" / C.HELDOUT_DIR).exists()
    assert set(plain.index[C.SPLIT]) == {C.TRAIN, C.VALID}
    with pytest.raises(ValueError, match="sum below 1"):
        split_by_identity(np.repeat(np.arange(50), 3), 0.5, 0, test_ratio=0.5)


def test_validation_pairs_obey_their_kinds(tiny_prepared):
    index, pairs = tiny_prepared.index, tiny_prepared.pairs
    assert set(pairs[C.KIND]) == set(C.PAIR_KINDS)
    a, b = index.loc[pairs["row_a"]], index.loc[pairs["row_b"]]
    same_id = a[C.LABEL].to_numpy() == b[C.LABEL].to_numpy()
    fake_b = b[C.IS_FAKE].to_numpy()
    assert not a[C.IS_FAKE].any()  # every pair is anchored on a real photo
    assert (a[C.SPLIT] == C.VALID).all() and (b[C.SPLIT] == C.VALID).all()
    kind = pairs[C.KIND].to_numpy()
    assert (same_id & ~fake_b)[kind == C.SAME].all()
    assert (~same_id & ~fake_b)[kind == C.DIFFERENT].all()
    assert (same_id & fake_b)[kind == C.FAKE_SAME].all()
    assert (~same_id & fake_b)[kind == C.FAKE_OTHER].all()
    assert (pairs[C.PAIR_LABEL] == (kind == C.SAME)).all()
    assert (pairs["row_a"] != pairs["row_b"]).all()


def test_pairs_layout_with_gt(tiny_prepared, tmp_path):
    out = write_pairs_layout(tiny_prepared.pairs, tmp_path / "val")
    read = read_pairs(out / "test_public")
    gt = pd.read_csv(out / "gt.csv", dtype={C.PAIR_ID: str})
    assert list(read[C.PAIR_ID]) == sorted(gt[C.PAIR_ID])
    assert set(gt.columns) == {C.PAIR_ID, C.PAIR_LABEL, C.KIND}


def test_read_pairs_keeps_padding_and_names_incomplete_folders(tiny_data, tmp_path):
    pairs_dir = shutil.copytree(tiny_data / "test_public", tmp_path / "tp")
    first = sorted(pairs_dir.iterdir())[0]
    assert read_pairs(pairs_dir)[C.PAIR_ID].iloc[0] == first.name  # e.g. "00000000"
    (first / "1.jpg").unlink()
    with pytest.raises(DataLayoutError, match=first.name):
        read_pairs(pairs_dir)
    skipped = []
    assert first.name not in set(
        read_pairs(pairs_dir, skip_incomplete=True, skipped=skipped)[C.PAIR_ID]
    )
    assert first.name in skipped[0]


def test_prepare_caches_and_refuses_other_arguments(tiny_data, tmp_path):
    out = tmp_path / "prep"
    first = prepare(tiny_data, out_dir=out, val_ratio=0.25, progress=False)
    stamp = (out / C.INDEX_FILE).stat().st_mtime_ns
    again = prepare(tiny_data, out_dir=out, val_ratio=0.25, progress=False)
    assert (out / C.INDEX_FILE).stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(first.index, again.index)
    with pytest.raises(FileExistsError, match="other arguments"):
        prepare(tiny_data, out_dir=out, val_ratio=0.5, progress=False)
    prepare(tiny_data, out_dir=out, val_ratio=0.5, progress=False, overwrite=True)


def test_mtcnn_on_a_real_photograph():
    """MTCNN's weights ship in the facenet-pytorch wheel: one face, five points inside it."""
    photo = f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg"
    points = detect_mtcnn([photo, "/no/such/file.jpg"], progress=False)
    xy = points[0].reshape(5, 2)
    assert np.isfinite(xy).all() and ((xy > 0.15) & (xy < 0.85)).all()
    left_eye, right_eye, nose, mouth_left, mouth_right = xy
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert np.isnan(points[1]).all()  # a missing file is recorded as missing, not fatal


def test_mtcnn_photo_without_a_face_does_not_stop_the_batch(tmp_path):
    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (120, 120), (128, 128, 128)).save(blank)
    photo = f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg"
    small = tmp_path / "hopper.jpg"
    Image.open(photo).resize((120, 150)).save(small)
    Image.new("RGB", (120, 150), (90, 90, 90)).save(tmp_path / "blank2.jpg")
    points = detect_mtcnn([blank, small, tmp_path / "blank2.jpg"], progress=False)
    assert np.isnan(points[0]).all() and np.isnan(points[2]).all()
    assert np.isfinite(points[1]).all()


def test_image_cache_follows_a_data_set_rewritten_in_place(tiny_data, tmp_path):
    """The decoded-image cache is keyed by the files' sizes and times too: an image replaced in
    place is decoded again, never served from the old cache."""
    import os

    from krypto.learning.embed import cached_images

    data = shutil.copytree(tiny_data, tmp_path / "data")
    paths = sorted((data / "train").rglob("*.jpg"))[:3]
    before = np.asarray(cached_images(paths, 32, tmp_path / "cache", progress=False)[0])
    Image.new("RGB", (32, 32), (255, 0, 0)).save(paths[0])
    os.utime(paths[0], ns=(1, 1))  # a different time even on a coarse clock
    after = np.asarray(cached_images(paths, 32, tmp_path / "cache", progress=False)[0])
    assert not np.array_equal(before, after) and after[0].mean() > 200  # red channel
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2

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
from krypto.data.dataset_writer import lookalike_hosts, write_layout
from krypto.data.index import (
    build_index,
    prepare,
    split_by_identity,
    validation_pairs,
    write_pairs_layout,
)
from krypto.data.landmarks import detect_mtcnn
from krypto.data.layout import DataLayoutError, DataReport, read_pairs, read_train
from tests.external_faces import write as write_external


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
        C.HOST,
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
    on_anchor = b[C.HOST].to_numpy() == a[C.LABEL].to_numpy()
    assert (~same_id & fake_b & ~on_anchor)[kind == C.FAKE_OTHER].all()
    assert (~same_id & fake_b & on_anchor)[kind == C.FAKE_ON_ANCHOR].all()
    assert (pairs[C.PAIR_LABEL] == (kind == C.SAME)).all()
    assert (pairs["row_a"] != pairs["row_b"]).all()
    counts = pairs[C.KIND].value_counts()
    assert 0 < counts[C.FAKE_ON_ANCHOR] <= counts[C.SAME] == counts[C.DIFFERENT]
    assert not pairs[kind == C.FAKE_ON_ANCHOR].duplicated(["row_a", "row_b"]).any()


def test_fake_on_anchor_pairs_are_all_the_data_allows(tiny_prepared, tiny_data):
    """Every validation fake made on a photo of a validation identity makes a pair with each
    real photo of its host (as many as there are, below the others' count), and the hosts are
    those of hosts.csv."""
    index, pairs = tiny_prepared.index, tiny_prepared.pairs
    hosts = pd.read_csv(tiny_data / C.HOSTS_FILE, dtype=str)
    label_of = dict(zip(index[C.IDENTITY], index[C.LABEL]))
    row_of = {Path(p).relative_to(tiny_data).as_posix(): i for i, p in index[C.PATH].items()}
    for path, host in zip(hosts[C.PATH], hosts[C.HOST]):
        assert index.at[row_of[path], C.HOST] == label_of[host]
    val = index[index[C.SPLIT] == C.VALID]
    real = val[~val[C.IS_FAKE]]
    hosted = val[val[C.IS_FAKE] & val[C.HOST].isin(real[C.LABEL])]
    expected = {(a, f) for f, h in hosted[C.HOST].items() for a in real.index[real[C.LABEL] == h]}
    made = pairs[pairs[C.KIND] == C.FAKE_ON_ANCHOR]
    assert set(zip(made["row_a"], made["row_b"])) == expected


def test_fake_other_is_never_made_on_the_anchor_photo():
    """Four validation identities, five real photos and one fake each, the fakes of 1 and 2
    made on photos of 0: a fake_other pair anchored on 0 takes the fake of 3, those are the
    fake_on_anchor pairs of 0."""
    rows = [(lab, f"{lab}-{n}", False, -1) for lab in range(4) for n in range(5)]
    rows += [(1, "1-fake", True, 0), (2, "2-fake", True, 0), (3, "3-fake", True, 1)]
    rows += [(0, "0-fake", True, 2)]
    index = pd.DataFrame(rows, columns=[C.LABEL, C.PATH, C.IS_FAKE, C.HOST]).assign(split=C.VALID)
    pairs = validation_pairs(index, pairs_per_kind=100, seed=0)
    second = index.loc[pairs["row_b"], C.PATH].to_numpy()
    anchor = index.loc[pairs["row_a"], C.LABEL].to_numpy()
    kind = pairs[C.KIND].to_numpy()
    assert set(second[(kind == C.FAKE_OTHER) & (anchor == 0)]) == {"3-fake"}
    assert (kind == C.FAKE_OTHER).sum() > 0
    on_anchor = {(a, b) for a, b, k in zip(anchor, second, kind) if k == C.FAKE_ON_ANCHOR}
    expected = {(0, "1-fake"), (0, "2-fake"), (1, "3-fake"), (2, "0-fake")}
    assert on_anchor == expected and (kind == C.FAKE_ON_ANCHOR).sum() == 4 * 5  # each real


def test_a_set_without_hosts_has_no_fake_on_anchor_pairs(data_copy, tmp_path):
    """The challenge's data has no hosts.csv: its fakes' hosts are unknown (-1), no pair of the
    new kind is made, and fake_other pairs are drawn as before."""
    (data_copy / C.HOSTS_FILE).unlink()
    prepared = prepare(data_copy, out_dir=tmp_path / "p", val_ratio=0.25, progress=False)
    assert (prepared.index[C.HOST] == -1).all()
    assert set(prepared.pairs[C.KIND]) == set(C.PAIR_KINDS) - {C.FAKE_ON_ANCHOR}


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda t: t.iloc[1:], "names no host of 1 fakes"),
        (lambda t: t.assign(host=t[C.HOST].where(t.index > 0, "99999")), "no other identity"),
        (lambda t: t.assign(host=t[C.HOST].where(t.index > 0, t[C.PATH].str[6:14])), "no other"),
        (lambda t: t.assign(path=t[C.PATH].where(t.index > 0, "train/00000000/0.jpg")), "line 2"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "named once"),
        (lambda t: t.rename(columns={C.HOST: "owner"}), "has columns"),
    ],
)
def test_a_bad_hosts_entry_is_an_error_naming_it(data_copy, edit, message):
    path = data_copy / C.HOSTS_FILE
    edit(pd.read_csv(path, dtype=str)).to_csv(path, index=False)
    with pytest.raises(DataLayoutError, match=message) as error:
        build_index(data_copy, val_ratio=0.25, progress=False)
    assert C.HOSTS_FILE in str(error.value)


def _named_photos(people: int, real: int, hosts: list[list[int]]) -> list[list[tuple]]:
    """Photos whose bytes name them ("<person> <host or None> <n>"), for the writer."""
    lms = np.full((5, 2), 0.5)
    return [
        [(f"{p} None {n}".encode(), lms, None) for n in range(real)]
        + [(f"{p} {h} {n}".encode(), lms, h) for n, h in enumerate(hosts[p], real)]
        for p in range(people)
    ]


def test_test_pairs_of_the_five_kinds(tmp_path):
    """The writer's test pairs: as many of each kind, no pair twice, each kind what it says
    (a fake_on_anchor pair: a real photo of a and a fake of another person made on a's photo;
    a fake_other pair's fake is not made on the anchor's photo); hosts.csv: train's fakes."""
    train, test = 4, 5
    hosts = [[(p + 1) % train, (p + 2) % train] for p in range(train)]
    hosts += [[train + (p + 1) % test, train + (p + 3) % test] for p in range(test)]
    photos = _named_photos(train + test, 3, hosts)
    rng = np.random.default_rng(0)
    out = write_layout(tmp_path, photos, train, (2, 0), (rng, 6), ("config.json", {}))
    table = pd.read_csv(out / C.HOSTS_FILE, dtype=str)
    assert list(table[C.HOST]) == [f"{h:02d}" for p in range(train) for h in hosts[p]]
    gt = pd.read_csv(out / C.GT_FILE, dtype={C.PAIR_ID: str})
    assert gt[C.KIND].value_counts().to_dict() == {kind: 6 for kind in C.PAIR_KINDS}
    seen = set()
    for pair_id, kind in zip(gt[C.PAIR_ID], gt[C.KIND]):
        names = [(out / C.TEST_DIR / pair_id / f).read_text().split() for f in C.PAIR_IMAGES]
        assert frozenset(map(tuple, names)) not in seen
        seen.add(frozenset(map(tuple, names)))
        (a, a_host, _), (b, b_host, _) = sorted(names, key=lambda name: name[1] != "None")
        assert a_host == "None" and int(a) >= train and int(b) >= train
        kinds = {
            C.SAME: b == a and b_host == "None",
            C.DIFFERENT: b != a and b_host == "None",
            C.FAKE_SAME: b == a and b_host != "None",
            C.FAKE_OTHER: b != a and b_host not in ("None", a),
            C.FAKE_ON_ANCHOR: b != a and b_host == a,
        }
        assert [k for k, holds in kinds.items() if holds] == [kind]


def test_too_few_people_or_a_host_of_another_pool_is_an_error(tmp_path):
    hosts = [[1], [0]] + [[3], [4], [2]]
    photos = _named_photos(5, 2, hosts)
    # three held-out people with two real photos each make three distinct "same" pairs
    with pytest.raises(ValueError, match="too few held-out people .3. for 4 distinct pairs"):
        write_layout(tmp_path / "a", photos, 2, (2, 0), (np.random.default_rng(0), 4), ("c", {}))
    write_layout(tmp_path / "a3", photos, 2, (2, 0), (np.random.default_rng(0), 3), ("c", {}))
    photos = _named_photos(5, 2, [[1], [0]] + [[3], [0], [2]])
    with pytest.raises(ValueError, match="host 0 of a fake of 3 is not another held-out"):
        write_layout(tmp_path / "b", photos, 2, (2, 0), (np.random.default_rng(0), 1), ("c", {}))
    photos = _named_photos(5, 2, [[1], [3]] + [[3], [4], [2]])
    with pytest.raises(ValueError, match="host 3 of train/01/2.jpg is not another training"):
        write_layout(tmp_path / "c", photos, 2, (2, 0), (np.random.default_rng(0), 1), ("c", {}))


def test_lookalike_hosts_are_the_nearest_of_the_pool():
    features = np.arange(10.0)[:, None] ** 2  # person i's nearest: i - 1 or i + 1
    pools = [range(0, 6), range(6, 10)]
    hosts = lookalike_hosts(np.random.default_rng(0), features, pools, 3, nearest=1)
    assert hosts.shape == (10, 3)
    for pool in pools:
        for person in pool:
            others = [q for q in pool if q != person]
            best = min(others, key=lambda q: abs(features[q, 0] - features[person, 0]))
            assert (hosts[person] == best).all()
    wide = lookalike_hosts(np.random.default_rng(0), features, pools, 50, nearest=2)
    assert {int(h) for h in wide[0]} == {1, 2} and {int(h) for h in wide[9]} == {8, 7}


def test_external_faces_have_hosts_and_five_kinds(tmp_path):
    out = write_external(tmp_path / "ext", 12, 4, real=3, fake=2, pairs_per_kind=3)
    gt = pd.read_csv(out / C.GT_FILE)
    assert gt[C.KIND].value_counts().to_dict() == {kind: 3 for kind in C.PAIR_KINDS}
    prepared = prepare(out, tmp_path / "p", val_ratio=0.5, landmarks="none", progress=False)
    index = prepared.index
    fakes = index[index[C.IS_FAKE]]
    assert (fakes[C.HOST] >= 0).all() and (fakes[C.HOST] != fakes[C.LABEL]).all()
    assert C.FAKE_ON_ANCHOR in set(prepared.pairs[C.KIND])


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

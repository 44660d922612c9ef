"""The face renderers of krypto.data.renderers: official layout, determinism, identity in the
pixels, fake traces that follow fake_strength, disjoint test identities, the registry."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from krypto import constants as C
from krypto.data import renderers
from krypto.data.dataset_writer import GENERATOR_VERSION
from krypto.data.layout import read_gt, read_pairs, read_train
from krypto.data.renderers import RenderConfig, eigenfaces, portrait

MODULES = {"portrait": portrait, "eigenfaces": eigenfaces}
# folder-name width, meta.json key width (0: no padding)
PADDING = {"portrait": (6, 0), "eigenfaces": (8, 8)}
TINY = dict(
    identities=6, image_size=32, n_real=3, n_fake=2, test_pairs_per_kind=2, test_identities=4
)


def _write(name, folder, **overrides):
    return renderers.write_dataset(folder, name, RenderConfig(**{**TINY, **overrides}))


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), np.float32)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_official_layout(name, tmp_path):
    out = _write(name, tmp_path / name)
    train = read_train(out)
    per = TINY["n_real"] + TINY["n_fake"]
    assert len(train) == TINY["identities"] * per
    assert train[C.IS_FAKE].sum() == TINY["identities"] * TINY["n_fake"]
    assert (train.groupby(C.IDENTITY)[C.IS_FAKE].sum() == TINY["n_fake"]).all()

    folder_width, meta_width = PADDING[name]
    folders = sorted(p.name for p in (out / "train").iterdir() if p.is_dir())
    assert folders == [f"{i:0{folder_width}d}" for i in range(TINY["identities"])]
    meta = json.loads((out / "train" / "meta.json").read_text())
    assert sorted(meta) == sorted(
        f"{i:0{meta_width}d}/{n}.jpg" for i in range(TINY["identities"]) for n in range(per)
    )
    for key, fake in meta.items():
        assert fake == (int(key.split("/")[1][:-4]) >= TINY["n_real"])  # reals first, then fakes
    with Image.open(train[C.PATH].iloc[0]) as img:
        assert img.size == (32, 32) and img.mode == "RGB"

    gt = read_gt(out / "gt.csv")
    assert list(gt.columns) == [C.PAIR_ID, C.PAIR_LABEL, C.KIND]
    per_kind = TINY["test_pairs_per_kind"]
    assert gt[C.KIND].value_counts().to_dict() == {k: per_kind for k in C.PAIR_KINDS}
    assert (gt[C.PAIR_LABEL] == (gt[C.KIND] == C.SAME)).all()
    pairs = read_pairs(out / "test_public")
    assert sorted(pairs[C.PAIR_ID]) == sorted(gt[C.PAIR_ID])
    photos = [
        frozenset(Path(p).read_bytes() for p in row) for row in pairs[[C.PATH_A, C.PATH_B]].values
    ]
    assert len(set(photos)) == len(photos)  # no pair twice (TINY's draws repeat one)

    landmarks = pd.read_csv(out / "landmarks.csv")
    assert len(landmarks) == len(meta) + 2 * len(gt)
    values = landmarks[list(C.LANDMARK_COLUMNS)].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all() and (values < 1).all()
    assert json.loads((out / "renderer.json").read_text())["renderer"] == name

    # every fake of train/ and its host, another training identity
    hosts = pd.read_csv(out / C.HOSTS_FILE, dtype=str)
    fakes = sorted(
        f"train/{key.split('/')[0]:0>{folder_width}}/{key.split('/')[1]}"
        for key, fake in meta.items()
        if fake
    )
    assert sorted(hosts[C.PATH]) == fakes
    own = hosts[C.PATH].str.split("/").str[1]
    assert (hosts[C.HOST] != own).all()
    assert set(hosts[C.HOST]) <= set(folders)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_test_identities_are_held_out(name, tmp_path):
    """Every test photo is a photo of a held-out identity, none of a training identity."""
    out = _write(name, tmp_path / name)
    photos = MODULES[name].render_all(RenderConfig(**TINY))
    held_out = {data for person in photos[TINY["identities"] :] for data, _, _ in person}
    in_train = {data for person in photos[: TINY["identities"]] for data, _, _ in person}
    assert {p.read_bytes() for p in (out / "train").rglob("*.jpg")} == in_train
    test = [p.read_bytes() for p in (out / "test_public").rglob("*.jpg")]
    assert test and all(data in held_out for data in test)
    assert not held_out & in_train


@pytest.mark.parametrize("name", sorted(MODULES))
def test_fakes_are_made_on_hosts_of_their_own_pool(name):
    """Every fake has a host: another person of its pool (training or held-out)."""
    photos = MODULES[name].render_all(RenderConfig(**TINY))
    n_train, n_all = TINY["identities"], TINY["identities"] + TINY["test_identities"]
    for person, own in enumerate(photos):
        hosts = [host for _, _, host in own]
        assert hosts[: TINY["n_real"]] == [None] * TINY["n_real"]
        fakes = hosts[TINY["n_real"] :]
        assert len(fakes) == TINY["n_fake"] and person not in fakes
        pool = range(n_train) if person < n_train else range(n_train, n_all)
        assert all(host in pool for host in fakes)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_deterministic_for_a_seed(name, tmp_path):
    a, b = _write(name, tmp_path / "a"), _write(name, tmp_path / "b")
    c = _write(name, tmp_path / "c", seed=1)
    assert _digest(a) == _digest(b)
    first = "train/" + sorted(p.name for p in (a / "train").iterdir() if p.is_dir())[0] + "/0.jpg"
    assert (a / first).read_bytes() != (c / first).read_bytes()
    assert _digest(a) != _digest(c)


# sha256 of every file of a TINY data set, as this code writes it (with requirements.txt's
# pillow, numpy and opencv; five kinds of test pairs, distinct; hosts.csv): any change to the
# drawing, the random draws or the writer shows here
DIGESTS = {
    "portrait": "11b578e50945f4658a55159aab72518176bab0c8b72e1ed14fbb43cdec4bfe6e",
    "eigenfaces": "398bd3b178a1577222ddd77cee59d1e97290dd310e39e09802984de3c70a6ded",
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_data_set_is_byte_for_byte_the_same(name, tmp_path):
    assert _digest(_write(name, tmp_path / name)) == DIGESTS[name]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_identity_shows_in_the_pixels(name):
    """Two real photos of one person are closer (mean absolute pixel difference) than photos of
    two people, on the whole photo and more clearly on its centre, the face."""
    cfg = RenderConfig(
        identities=10, image_size=32, n_real=4, n_fake=1, test_pairs_per_kind=1, test_identities=3
    )
    reals = [
        np.stack([_pixels(d) for d, _, host in person if host is None])
        for person in MODULES[name].render_all(cfg)
    ]
    for crop in (slice(None), slice(8, 24)):
        same = [
            np.abs(r[i, crop, crop] - r[j, crop, crop]).mean()
            for r in reals
            for i in range(4)
            for j in range(i + 1, 4)
        ]
        other = [
            np.abs(reals[a][i, crop, crop] - reals[b][i, crop, crop]).mean()
            for a in range(len(reals))
            for b in range(a + 1, len(reals))
            for i in range(4)
        ]
        assert np.mean(same) < np.mean(other) - 2


@pytest.mark.parametrize("name", sorted(MODULES))
def test_fake_strength_changes_only_the_fakes(name):
    """With the same seed, fake_strength leaves the real photos byte for byte and changes every
    fake, the more the stronger."""

    def render(strength):
        cfg = RenderConfig(**{**TINY, "fake_strength": strength})
        return [p for person in MODULES[name].render_all(cfg) for p in person]

    weak, mid, strong = render(0.0), render(0.5), render(1.0)
    for (dw, _, host), (dm, _, _), (ds, _, _) in zip(weak, mid, strong):
        if host is None:
            assert dw == dm == ds
        else:
            to_mid = np.abs(_pixels(dw) - _pixels(dm)).mean()
            to_strong = np.abs(_pixels(dw) - _pixels(ds)).mean()
            assert 0 < to_mid < to_strong and to_strong > 2


def test_spec_and_slug():
    name, cfg = renderers.parse_spec("portrait:identities=200,size=64,fake_strength=0.5,seed=0")
    assert name == "portrait"
    assert cfg == RenderConfig(identities=200, image_size=64, fake_strength=0.5)
    assert renderers.parse_spec("portrait") == ("portrait", RenderConfig())
    _, short = renderers.parse_spec("eigenfaces: real=4, fake=2, strength=1, pairs=40")
    assert (short.n_real, short.n_fake, short.fake_strength) == (4, 2, 1.0)
    assert short.test_pairs_per_kind == 40  # pairs of each of the five kinds
    same = renderers.parse_spec("portrait:size=64")
    assert renderers.slug("portrait", cfg) == renderers.slug(*same)
    assert renderers.slug("portrait", cfg) != renderers.slug("portrait", RenderConfig(seed=1))
    for bad in (
        "nope:size=64",
        "portrait:colour=red",
        "portrait:size",
        "portrait:size=big",
        "portrait:size=8",
        "portrait:test_identities=2",
    ):
        with pytest.raises(ValueError):
            renderers.parse_spec(bad)
    assert set(renderers.RENDERERS) == {"portrait", "eigenfaces"}
    assert "-pairs1500x5-" in renderers.slug(*renderers.parse_spec("portrait:pairs=1500"))


def test_dataset_path_writes_once_for_parallel_callers(tmp_path, monkeypatch):
    calls = []
    real = renderers.write_dataset

    def counting(out, name, cfg):
        calls.append(out)
        return real(out, name, cfg)

    monkeypatch.setattr(renderers, "write_dataset", counting)
    spec = "eigenfaces:identities=4,size=24,real=2,fake=1,pairs=1,test_identities=3"
    paths = []

    def ask():
        paths.append(renderers.dataset_path(spec, root=tmp_path))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(paths)) == 1
    out = paths[0]
    assert out.parent == tmp_path and out.name.startswith("eigenfaces-id4-px24")
    assert len(read_train(out)) == 4 * 3 and not list(tmp_path.glob("*.partial"))
    assert renderers.dataset_path(spec, root=tmp_path) == out and len(calls) == 1

    # a half-written folder (no gt.csv) is written again
    (out / "gt.csv").unlink()
    assert renderers.dataset_path(spec, root=tmp_path) == out and len(calls) == 2


def test_data_dir_names_a_rendered_data_set(tmp_path, monkeypatch):
    from krypto.data.index import resolve_data_dir

    monkeypatch.setattr(renderers, "RENDERERS_DIR", tmp_path)
    spec = "portrait:identities=4,size=24,real=2,fake=1,pairs=1,test_identities=3"
    folder = resolve_data_dir(spec)
    assert folder.parent == tmp_path and folder.name.startswith("portrait-id4-px24")
    assert len(read_train(folder)) == 4 * 3 and (folder / C.GT_FILE).is_file()
    assert resolve_data_dir(spec) == folder  # written once, then found
    with pytest.raises(ValueError, match="bad item"):
        resolve_data_dir("portrait:identities")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_command_line(name, tmp_path):
    renderers.main(
        name,
        [
            str(tmp_path),
            "--identities",
            "3",
            "--size",
            "24",
            "--n-real",
            "2",
            "--n-fake",
            "1",
            "--pairs",
            "1",
            "--test-identities",
            "3",
            "--fake-strength",
            "0.2",
            "--seed",
            "3",
        ],
    )
    config = json.loads((tmp_path / "renderer.json").read_text())
    assert config == {
        "renderer": name,
        "identities": 3,
        "image_size": 24,
        "n_real": 2,
        "n_fake": 1,
        "fake_strength": 0.2,
        "seed": 3,
        "test_pairs_per_kind": 1,
        "test_identities": 3,
        "generator_version": GENERATOR_VERSION,
    }
    assert len(read_train(tmp_path)) == 3 * 3

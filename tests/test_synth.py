"""The synthetic data set: official layout, determinism, and that it is a face task, not noise."""

import hashlib
import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from krypto import constants as C
from krypto.data.dataset_writer import GENERATOR_VERSION
from krypto.data.synth import (
    CONFIG_FILE,
    NEAREST_HOSTS,
    SynthConfig,
    ensure_default_dataset,
    main,
    write_dataset,
)
from krypto.data.synth.render import render_fake, render_real
from krypto.data.synth.traits import HEAD_TRAITS, sample_identities, sample_nuisance, take
from tests.conftest import TINY


def test_official_layout(tiny_data):
    meta = json.loads((tiny_data / "train" / "meta.json").read_text())
    folders = sorted(p.name for p in (tiny_data / "train").iterdir() if p.is_dir())
    assert len(folders) == TINY.identities and all(len(f) == 8 for f in folders)
    per_id = TINY.real_per_identity + TINY.fake_per_identity
    assert len(meta) == TINY.identities * per_id
    assert sum(meta.values()) == TINY.identities * TINY.fake_per_identity
    for key in meta:
        ident, name = key.split("/")
        assert (tiny_data / "train" / ident / name).is_file()
    gt = pd.read_csv(tiny_data / "gt.csv", dtype={"pair_id": str})
    assert list(gt.columns) == ["pair_id", "label", "kind"]
    per_kind = {kind: TINY.test_pairs_per_kind for kind in C.PAIR_KINDS}
    assert gt["kind"].value_counts().to_dict() == per_kind
    assert (gt["label"] == (gt["kind"] == "same")).all()
    for pid in gt["pair_id"]:
        assert (tiny_data / "test_public" / pid / "0.jpg").is_file()
        assert (tiny_data / "test_public" / pid / "1.jpg").is_file()
    with Image.open(tiny_data / "train" / folders[0] / "0.jpg") as img:
        assert img.size == (TINY.image_size, TINY.image_size) and img.mode == "RGB"
    landmarks = pd.read_csv(tiny_data / "landmarks.csv")
    assert len(landmarks) == len(meta) + 2 * len(gt)
    values = landmarks[list(C.LANDMARK_COLUMNS)].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all() and (values < 1).all()


def test_deterministic_for_a_seed(tmp_path):
    cfg = SynthConfig(identities=4, test_identities=3, test_pairs_per_kind=2, image_size=24)
    a, b = write_dataset(tmp_path / "a", cfg, False), write_dataset(tmp_path / "b", cfg, False)
    c = write_dataset(tmp_path / "c", SynthConfig(**{**cfg.__dict__, "seed": 5}), False)
    file = "train/00000001/3.jpg"
    assert (a / file).read_bytes() == (b / file).read_bytes()
    assert (a / file).read_bytes() != (c / file).read_bytes()


def test_data_set_is_byte_for_byte_the_same(tmp_path):
    """sha256 of every file of a small set, as this code writes it (with requirements.txt's
    pillow, numpy and opencv): any change to the drawing, the random draws or the writer shows
    here."""
    cfg = SynthConfig(
        identities=6,
        test_identities=4,
        real_per_identity=3,
        fake_per_identity=2,
        image_size=32,
        test_pairs_per_kind=2,
    )
    out = write_dataset(tmp_path, cfg, False)
    h = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(out)).encode())
        h.update(path.read_bytes())
    assert h.hexdigest() == "9443817b367f32e7bdf2206e263ef1979516a127cc6335cb66d672b4e610dddf"


def test_meta_keys_with_another_padding(tmp_path):
    cfg = SynthConfig(
        identities=3,
        test_identities=3,
        test_pairs_per_kind=1,
        image_size=16,
        id_width=8,
        meta_id_width=3,
    )
    meta = json.loads((write_dataset(tmp_path, cfg, False) / "train/meta.json").read_text())
    assert "001/0.jpg" in meta and "00000001/0.jpg" not in meta


def test_identity_traits_show_in_photos():
    """Over 20 pairs against one background: two people under the same conditions differ more
    than one person under two conditions (moderate difficulty). Identity is in the pixels and
    survives the nuisance factors."""
    rng = np.random.default_rng(0)
    traits = sample_identities(rng, 40)
    same_person, two_people = [], []
    for i in range(20):
        nz = sample_nuisance(rng, 2, 0.3)
        for key in ("bg", "bg_grad", "bg_freq"):
            nz[key][1] = nz[key][0]
        one, _ = render_real(take(traits, [2 * i, 2 * i]), nz, 48, rng)
        two, _ = render_real(take(traits, [2 * i, 2 * i + 1]), take(nz, [0, 0]), 48, rng)
        same_person.append(np.abs(one[0].astype(int) - one[1]).mean())
        two_people.append(np.abs(two[0].astype(int) - two[1]).mean())
    assert np.mean(two_people) > 1.3 * np.mean(same_person)


def test_fake_keeps_inner_face_and_leaves_traces():
    """A fake of X with strength 0 on X's own head is close to the real photo; raising the
    strength adds traces (the difference grows)."""
    x = take(sample_identities(np.random.default_rng(0), 1), [0])
    nz = sample_nuisance(np.random.default_rng(3), 1, 0.0)
    nz["noise"][:] = 0
    real, lms_real = render_real(x, nz, 64, np.random.default_rng(1))
    diffs = []
    for strength in (0.0, 0.5, 1.0):
        fake, lms_fake = render_fake(x, x, nz, 64, strength, np.random.default_rng(1))
        diffs.append(np.abs(fake.astype(int) - real).mean())
        np.testing.assert_allclose(lms_fake, lms_real, atol=1e-6)  # same inner face placement
    assert diffs[0] < diffs[1] < diffs[2]


def _hosts(root) -> dict[str, int]:
    """hosts.csv: the path of each fake of train/ -> its host's number."""
    table = pd.read_csv(root / C.HOSTS_FILE, dtype=str)
    return {path: int(host) for path, host in zip(table[C.PATH], table[C.HOST])}


def test_hosts_of_every_fake(tiny_data):
    """hosts.csv names every fake of train/ once, with another training identity as its host."""
    meta = json.loads((tiny_data / "train" / "meta.json").read_text())
    hosts = _hosts(tiny_data)
    assert sorted(hosts) == sorted(f"train/{key}" for key, fake in meta.items() if fake)
    for path, host in hosts.items():
        assert 0 <= host < TINY.identities and host != int(path.split("/")[1])


def test_a_fake_is_made_on_its_host_head(tmp_path):
    """Without nuisance (difficulty 0: one pose, light and scale), the forehead and hair of a
    fake are those of its recorded host's real photos, and of no other identity's."""
    cfg = SynthConfig(
        identities=12,
        test_identities=3,
        real_per_identity=2,
        fake_per_identity=2,
        image_size=48,
        difficulty=0.0,
        test_pairs_per_kind=1,
    )
    out = write_dataset(tmp_path, cfg, False)

    def forehead(path):  # face units v in [-0.55, -0.42], u in [-0.25, 0.25]: above the swap
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), np.float32)[10:14, 18:30]

    reals = [forehead(out / f"train/{i:08d}/0.jpg") for i in range(cfg.identities)]
    hosts = _hosts(out)
    assert len(hosts) == cfg.identities * cfg.fake_per_identity
    for path, host in hosts.items():
        diffs = [np.abs(forehead(out / path) - real).mean() for real in reals]
        assert int(np.argmin(diffs)) == host and diffs[host] < 8, (path, host, diffs)


def test_hosts_are_lookalikes(tmp_path):
    """A fake's host is one of the NEAREST_HOSTS people of its pool whose head traits
    (standardised over all people) are nearest its own: a fake still resembles the person it
    shows."""
    cfg = SynthConfig(
        identities=30,
        test_identities=3,
        real_per_identity=2,
        fake_per_identity=3,
        image_size=16,
        test_pairs_per_kind=1,
    )
    out = write_dataset(tmp_path, cfg, False)
    n_all = cfg.identities + cfg.test_identities
    traits = sample_identities(np.random.default_rng(cfg.seed), n_all)  # write_dataset's first draw
    head = np.concatenate([traits[k].reshape(n_all, -1) for k in HEAD_TRAITS], 1)
    head /= head.std(0)
    for path, host in _hosts(out).items():
        person = int(path.split("/")[1])
        dist = ((head[: cfg.identities] - head[person]) ** 2).sum(1)
        dist[person] = np.inf
        assert host in np.argsort(dist)[:NEAREST_HOSTS], (path, host)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match=r"fake_strength must be in \[0, 1\], got 2"):
        SynthConfig(fake_strength=2)
    with pytest.raises(ValueError, match="real_per_identity must be at least 2"):
        SynthConfig(real_per_identity=1)
    with pytest.raises(ValueError, match="test_identities must be at least 3, got 2"):
        SynthConfig(test_identities=2)


def test_ensure_default_dataset_reuses_and_refuses_other_config(tmp_path):
    cfg = SynthConfig(identities=3, test_identities=3, test_pairs_per_kind=1, image_size=16)
    out = ensure_default_dataset(tmp_path / "syn", cfg)
    stamp = (out / "gt.csv").stat().st_mtime_ns
    assert ensure_default_dataset(tmp_path / "syn", cfg) == out
    assert (out / "gt.csv").stat().st_mtime_ns == stamp  # reused, not rewritten
    with pytest.raises(FileExistsError, match="another configuration"):
        ensure_default_dataset(
            tmp_path / "syn",
            SynthConfig(identities=4, test_identities=3, test_pairs_per_kind=1, image_size=16),
        )


def test_a_set_of_an_earlier_generator_version_is_refused(tmp_path):
    """The same parameters drawn by an earlier version of the generators: refused, not reused."""
    cfg = SynthConfig(identities=3, test_identities=3, test_pairs_per_kind=1, image_size=16)
    out = ensure_default_dataset(tmp_path / "syn", cfg)
    stored = json.loads((out / CONFIG_FILE).read_text())
    assert stored == {**asdict(cfg), "generator_version": GENERATOR_VERSION}
    (out / CONFIG_FILE).write_text(json.dumps({**stored, "generator_version": 1}))
    with pytest.raises(FileExistsError, match="another configuration"):
        ensure_default_dataset(tmp_path / "syn", cfg)


def test_ensure_default_dataset_refuses_a_folder_without_a_finished_set(tmp_path):
    """A folder holding anything but a finished set (the user's own files) is never replaced."""
    cfg = SynthConfig(identities=3, test_identities=3, test_pairs_per_kind=1, image_size=16)
    mine = tmp_path / "syn" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("keep")
    with pytest.raises(FileExistsError, match="no finished data set"):
        ensure_default_dataset(tmp_path / "syn", cfg)
    assert mine.read_text() == "keep" and not (tmp_path / "syn" / C.GT_FILE).exists()


def test_command_line(tmp_path):
    main(
        [
            str(tmp_path / "cli"),
            "--identities",
            "3",
            "--test-identities",
            "3",
            "--test-pairs-per-kind",
            "1",
            "--image-size",
            "16",
            "--meta-id-width",
            "2",
        ]
    )
    meta = json.loads((tmp_path / "cli/train/meta.json").read_text())
    assert "02/0.jpg" in meta


def test_runs_as_a_module(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "krypto.data.synth",
            str(tmp_path / "m"),
            "--identities",
            "2",
            "--test-identities",
            "3",
            "--test-pairs-per-kind",
            "1",
            "--image-size",
            "16",
        ],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "m" / C.GT_FILE).is_file()

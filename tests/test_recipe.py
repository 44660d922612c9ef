"""The recipe for the challenge data (params/challenge.yaml): its --quick variant from the
preprocessing to submission.csv through the batch runner, the challenge's archives unpacked on
first use, AdamW with a warm-up, and the input size the published face models require."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from krypto import constants as C
from krypto.data.layout import DataLayoutError, read_train
from krypto.learning.config import TrainConfig
from krypto.learning.optim import build_optimizer, build_scheduler

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_challenge_recipe_quick_runs_to_a_scored_submission(tmp_path):
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "krypto.pipeline.batch", "params/challenge.yaml", "--quick"]
    done = subprocess.run(
        [*command, "--runs-dir", str(runs)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    config = json.loads((runs / "challenge" / "train" / C.CONFIG_FILE).read_text())
    recipe = {"align": True, "optimizer": "adamw", "warmup_epochs": 1, "schedule": "cosine"}
    assert {k: config[k] for k in recipe} == recipe
    assert (config["forgery"], config["fake_head"], config["loss"]) == (1.0, 0.0, "quadruplet")
    submission = pd.read_csv(runs / "challenge" / "submit" / "submission.csv")
    results = json.loads((runs / "challenge" / "submit" / C.RESULTS_FILE).read_text())
    assert len(submission) == results["n_pairs"] == results["official_eers"]["n_pairs"] > 0
    assert set(submission.columns) == {C.PAIR_ID, C.SIMILARITY}


def _zip_folder(folder: Path, archive: Path, top: str | None) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder)
            zf.write(path, str(Path(top) / name) if top else str(name))


@pytest.mark.parametrize("top", ["with_folder", "flat"])
def test_the_challenge_archives_unpack_on_first_use(tiny_data, tmp_path, top):
    """train.zip and test_public.zip, with or without their top folder, give the same photos
    as the folders they were made of; a second read does not unpack again."""
    root = tmp_path / "kryptonite"
    root.mkdir()
    for name in (C.TRAIN_DIR, C.TEST_DIR):
        _zip_folder(tiny_data / name, root / f"{name}.zip", name if top == "with_folder" else None)
    frame = read_train(root)
    expected = read_train(tiny_data)
    relative = lambda f, base: [str(Path(p).relative_to(base)) for p in f[C.PATH]]  # noqa: E731
    assert relative(frame, root) == relative(expected, tiny_data)
    assert frame[C.IS_FAKE].tolist() == expected[C.IS_FAKE].tolist()
    pairs = sorted(p.name for p in (root / C.TEST_DIR).iterdir())
    assert pairs == sorted(p.name for p in (tiny_data / C.TEST_DIR).iterdir())
    (root / "train.zip").write_bytes(b"not read again")
    assert len(read_train(root)) == len(expected)
    assert not list(root.glob(".*.unpacking"))


def test_a_broken_or_wrong_archive_is_named(tiny_data, tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "train.zip").write_bytes(b"this is no zip")
    with pytest.raises(DataLayoutError, match=r"train\.zip is not a readable zip"):
        read_train(root)
    shutil.rmtree(root)
    root.mkdir()
    _zip_folder(tiny_data / C.TEST_DIR, root / "train.zip", "train")  # no meta.json in it
    with pytest.raises(DataLayoutError, match=r"train\.zip holds no train/meta\.json"):
        read_train(root)
    assert not (root / C.TRAIN_DIR).exists()


def _rates(config: TrainConfig, steps: int) -> list[float]:
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(list(model.parameters()), config)
    scheduler = build_scheduler(optimizer, config, steps)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_adamw_and_the_warm_up():
    """AdamW decays weights apart from the gradient; the warm-up ramps the rate linearly over
    its epochs, then the cosine schedule takes over; without it the rates are as before."""
    config = TrainConfig(optimizer="adamw", lr=1.0, weight_decay=0.5, epochs=4)
    assert isinstance(
        build_optimizer([torch.nn.Parameter(torch.ones(1))], config), torch.optim.AdamW
    )
    warm = _rates(TrainConfig(lr=1.0, epochs=4, warmup_epochs=1, schedule="cosine"), 8)
    cosine = [0.5 * (1 + math.cos(math.pi * step / 8)) for step in range(8)]
    assert warm[:2] == pytest.approx([0.5 * cosine[0], cosine[1]])  # 2 steps of warm-up
    assert warm[2:] == pytest.approx(cosine[2:])
    assert all(a > b for a, b in zip(warm[1:], warm[2:]))  # the cosine decay after the ramp
    assert _rates(TrainConfig(lr=1.0, epochs=4, schedule="none"), 8) == [1.0] * 8
    with pytest.raises(ValueError, match="warmup_epochs"):
        TrainConfig(epochs=2, warmup_epochs=3).validate()


def test_published_face_models_take_their_input_size():
    with pytest.raises(ValueError, match=r"ir101 takes 112 x 112 faces.*image_size=48"):
        TrainConfig(backbone="ir101", image_size=48).validate()
    TrainConfig(backbone="ir101", image_size=112, forgery_size=112).validate()

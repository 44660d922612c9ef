"""One source of truth for the training parameters: 02's parameter cell, TrainConfig and the
command-line launcher take the same names with the same defaults, and the default run folder
depends on every parameter that differs from them."""

from __future__ import annotations

import ast
import json
from dataclasses import fields

import pytest

from krypto import constants as C
from krypto.learning.config import TrainConfig


def _parameter_cell(notebook: str) -> dict:
    nb = json.loads((C.NOTEBOOKS_DIR / notebook).read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        values[target.id] = ast.literal_eval(node.value)
    return values


def test_02_parameter_cell_holds_every_train_config_field_with_its_default():
    cell = _parameter_cell("02_train.ipynb")
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    assert list(cell) == list(defaults), "names or order differ"
    assert cell == defaults


def test_config_from_a_namespace_needs_every_field():
    namespace = {f.name: f.default for f in fields(TrainConfig)}
    assert TrainConfig.from_namespace({**namespace, "lam": 0.1, "unrelated": 1}).lam == 0.1
    del namespace["flip_p"]
    with pytest.raises(ValueError, match="flip_p"):
        TrainConfig.from_namespace(namespace)


def test_launcher_accepts_the_same_parameters():
    from krypto.pipeline.launch import parse_params

    every = [x for f in fields(TrainConfig) for x in (f"--{f.name}", str(f.default))]
    assert TrainConfig.from_dict(parse_params(every)) == TrainConfig()
    changed = parse_params(
        [
            "--lam",
            "0.1",
            "--flip_p",
            "0",
            "--select_by",
            "eer",
            "--embedding_dim",
            "64",
            "--margin",
            "None",
            "--amp",
            "False",
        ]
    )
    assert TrainConfig.from_dict(changed) == TrainConfig(
        lam=0.1, flip_p=0.0, select_by="eer", embedding_dim=64, margin=None, amp=False
    )


def test_default_run_dir_depends_on_the_changed_parameters():
    default = TrainConfig()
    assert default.resolved_run_dir().name == "small_cnn-quadruplet"
    a = TrainConfig(lam=0.1, epochs=1, data_dir="synthetic:tiny")
    b = TrainConfig(lam=0.01, epochs=1, data_dir="synthetic:tiny")
    assert a.resolved_run_dir() != b.resolved_run_dir()
    assert (
        a.resolved_run_dir().name == "small_cnn-quadruplet-data_dir=synthetic_tiny-epochs=1-lam=0.1"
    )
    # what does not change the training does not change the folder
    assert (
        TrainConfig(
            lam=0.1,
            epochs=1,
            data_dir="synthetic:tiny",
            device="cpu",
            progress=False,
            num_threads=1,
        ).resolved_run_dir()
        == a.resolved_run_dir()
    )
    assert TrainConfig(run_dir="/tmp/x").resolved_run_dir().as_posix() == "/tmp/x"

"""Tests of krypto.challenge.export: ONNX export of a tiny trained run, its sidecar, and parity with
PyTorch on onnxruntime (CPU) for two batch sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from krypto import constants as C
from krypto.challenge.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    export_onnx,
    main,
    onnx_embed,
    sidecar_path,
)
from krypto.data.images import decode_many
from krypto.learning.checkpoint import load_model
from krypto.learning.embed import embed

IMAGE_SIZE = 32
PARITY_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def run_dir(tiny_data, tiny_prepared, tmp_path_factory) -> Path:
    """A tiny 02_train run, trained once for this module (see tests/test_submit.py)."""
    from krypto.learning.train import TrainConfig, Trainer

    run = tmp_path_factory.mktemp("export") / "run"
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
    return run


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    return export_onnx(run_dir, tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_onnx_model_is_valid_with_named_dynamic_batch(exported):
    import onnx

    assert exported.is_file()
    model = onnx.load(str(exported))
    onnx.checker.check_model(model)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == INPUT_NAME and out.name == OUTPUT_NAME
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert isinstance(in_dims[0], str) and in_dims[1:] == [3, IMAGE_SIZE, IMAGE_SIZE]
    assert isinstance(out_dims[0], str) and out_dims[1] == 128
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_sidecar_describes_the_model(exported, run_dir):
    info = json.loads(sidecar_path(exported).read_text())
    assert sidecar_path(exported).name == "model.onnx.json"
    assert info["image_size"] == IMAGE_SIZE
    assert info["embedding_dim"] == 128
    assert info["backbone"] == "small_cnn"
    assert info["input_range"] == [0.0, 1.0]
    assert Path(info["run_dir"]) == run_dir.resolve()
    assert info["checkpoint"] == C.BEST_CHECKPOINT
    assert info["input"]["name"] == INPUT_NAME and info["output"]["name"] == OUTPUT_NAME
    assert info["parity_max_abs_diff"] <= PARITY_TOLERANCE


@pytest.mark.parametrize("batch", [5, 1])
def test_onnxruntime_matches_pytorch(exported, run_dir, tiny_data, batch):
    model, _ = load_model(run_dir, device="cpu")
    paths = sorted((tiny_data / C.TEST_DIR).glob("*/0.jpg"))[:batch]
    images, failures = decode_many(paths, IMAGE_SIZE, progress=False)
    assert not failures and images.shape == (batch, 3, IMAGE_SIZE, IMAGE_SIZE)
    expected = embed(model, torch.from_numpy(images)).numpy()
    got = onnx_embed(exported, images)
    assert got.shape == expected.shape == (batch, 128)
    diff = float(np.abs(got - expected).max())
    print(f"onnx parity, batch {batch}: max |diff| = {diff:.3e}")
    assert diff <= PARITY_TOLERANCE


def test_refuses_to_overwrite_then_cli_replaces(exported, run_dir, tmp_path, capsys):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_onnx(run_dir, target)
    assert target.read_bytes() == b"precious"
    assert main(["--run", str(run_dir), "--out", str(target)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["--run", str(run_dir), "--out", str(target), "--overwrite"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (
        json.loads(sidecar_path(target).read_text())["sha256"]
        == json.loads(sidecar_path(exported).read_text())["sha256"]
    )  # same run: same file

"""Export the embedding model of a 02_train run to ONNX, and run the exported model
(``python -m krypto.challenge.export --run RUN --out model.onnx [--overwrite]``).

Input ``images``: float32 ``[batch, 3, S, S]``, RGB in [0, 1] at the run's ``input_size``
(normalised inside the model); outputs ``embeddings`` float32 ``[batch, D]`` (not normalised)
and, with a fake detector, ``fake_logits`` ``[batch]``. ``<out>.json`` describes them, the run,
the parity of onnxruntime with PyTorch, and the fusion the pair score needs
(:mod:`krypto.learning.fusion`)."""

import argparse
import hashlib
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from krypto import constants as C
from krypto import run_folder as RF
from krypto.files import atomic_path, write_text
from krypto.learning.checkpoint import load_model, read_checkpoint
from krypto.learning.fusion import get_fusion

INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"
FAKE_OUTPUT_NAME = "fake_logits"
OPSET = 17
FUSED_SCORE = (
    "p = sigmoid(fake_logits) per photo; pair score = (1 + cos) * (1 - fusion_weight * P) - 1, "
    "P = max(p_a, p_b) (rule max) or their mean (rule mean)"
)


class _Outputs(torch.nn.Module):
    """The model's outputs as ``embeddings`` ``[B, D]`` and, with a detector, ``fake_logits``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model, self.dim = model, model.embedding_dim

    def forward(self, images: torch.Tensor):
        out = self.model(images)
        if self.model.detector is None:
            return out
        return out[:, : self.dim], out[:, self.dim]


def sidecar_path(onnx_path: str | Path) -> Path:
    """The description of an exported model: ``<onnx_path>.json``."""
    return Path(str(onnx_path) + ".json")


def _export_checked(model: torch.nn.Module, size: int, out: Path) -> float:
    """Export ``model`` to ``out`` (atomically, once ``onnx.checker`` and onnxruntime accept it);
    returns the largest difference between onnxruntime's and PyTorch's outputs."""
    import onnx

    names = [OUTPUT_NAME] + ([FAKE_OUTPUT_NAME] if model.detector is not None else [])
    generator = torch.Generator().manual_seed(0)
    example, check = (torch.rand(n, 3, size, size, generator=generator) for n in (2, 3))
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based export"
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            _Outputs(model).eval(),
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *names]},
            opset_version=OPSET,
            dynamo=False,
        )
        onnx.checker.check_model(str(tmp))
        with torch.no_grad():
            expected = model(check).numpy()
        got = onnx_outputs(tmp, check.numpy())
        if got.shape != expected.shape:
            raise RuntimeError(f"exported model gives {got.shape}, PyTorch {expected.shape}")
    return float(np.abs(got - expected).max())


def export_onnx(run_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """Export the model of ``run_dir``'s best checkpoint (a folder of seeds: its
    :func:`~krypto.run_folder.best_seed`) to ``out`` (replaced only with ``overwrite``) and
    describe it in ``<out>.json``; returns ``out``."""
    import onnx

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    run = RF.best_seed(run_dir)
    model, config = load_model(run)
    size, dim = int(config.input_size), int(model.embedding_dim)
    parity = _export_checked(model, size, out)
    metrics = RF.read_metrics(run) if RF.is_finished(run) else {}
    info = {
        "onnx": out.name,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", 3, size, size],
            "preprocessing": f"decode to RGB, resize to {size}x{size} (PIL bilinear), channels "
            f"first, float32 divided by 255; the normalisation is inside the model",
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["batch", dim],
            "compare_with": "cosine similarity (float32 embeddings, not normalised)",
        },
        "image_size": size,
        "embedding_dim": dim,
        "backbone": config.backbone,
        "input_range": [0.0, 1.0],
        "run_dir": str(run),
        "checkpoint": C.BEST_CHECKPOINT,
        "epoch": read_checkpoint(run / C.BEST_CHECKPOINT).get("epoch"),
        **{key: metrics.get(key) for key in ("eer", "eer_real", "eer_fake")},
        "opset": OPSET,
        "torch": torch.__version__,
        "onnx_version": onnx.__version__,
        "parity_max_abs_diff": parity,
    }
    if model.detector is not None:  # the pair score fuses the fake logits as validated
        fusion = get_fusion(model.detector)
        info["output"]["compare_with"] = "fused score (cosine fused with the fake probability)"
        info["fake_logits"] = {
            "name": FAKE_OUTPUT_NAME,
            "detector": type(model.detector).__name__,
            "fusion_rule": fusion.rule,
            "fusion_weight": fusion.weight,
            "score": FUSED_SCORE,
        }
    write_text(sidecar_path(out), json.dumps(info, indent=2) + "\n")
    return out


def onnx_session(onnx_path: str | Path):
    """An onnxruntime CPU session of ``onnx_path`` (on KRYPTO_NUM_THREADS threads, when set)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if (threads := int(os.environ.get("KRYPTO_NUM_THREADS", 0))) > 0:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def onnx_outputs(onnx_path, images, batch_size: int = 256) -> np.ndarray:
    """The exported model's outputs float32 ``[N, D (+ 1)]``, as PyTorch's model gives them, of
    ``images`` ``[N, 3, S, S]`` (N > 0; uint8, or floats in [0, 1]; numpy or torch) on
    onnxruntime's CPU provider; ``onnx_path`` may also be a session."""
    session = onnx_path if hasattr(onnx_path, "run") else onnx_session(onnx_path)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"images must be [N > 0, 3, S, S], got shape {images.shape}")
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        x = x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)
        results = session.run(None, {INPUT_NAME: np.ascontiguousarray(x)})
        out.append(np.concatenate([r.reshape(len(x), -1) for r in results], 1))
    return np.concatenate(out)


def onnx_embed(onnx_path, images, batch_size: int = 256) -> np.ndarray:
    """The embeddings float32 ``[N, D]`` alone (see :func:`onnx_outputs`)."""
    session = onnx_path if hasattr(onnx_path, "run") else onnx_session(onnx_path)
    dim = session.get_outputs()[0].shape[1]
    return onnx_outputs(session, images, batch_size)[:, :dim]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.challenge.export",
        description="Export a 02_train run's embedding model to ONNX.",
    )
    parser.add_argument("--run", required=True, help="02_train run folder, or a folder of seeds")
    parser.add_argument("--out", required=True, help="ONNX file to write (and <out>.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    try:
        out = export_onnx(args.run, args.out, args.overwrite)
    except (OSError, ValueError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)
        return C.EXIT_INPUT_ERROR
    diff = json.loads(sidecar_path(out).read_text())["parity_max_abs_diff"]
    print(f"wrote {out} and {sidecar_path(out)} (onnxruntime vs PyTorch max |diff| {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

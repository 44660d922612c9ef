"""Published face models' weight files load whole or not at all, and each model sees its
inputs as it was trained to: AdaFace's Lightning ``.ckpt`` (ir50, ir101: BGR), insightface
arcface_torch's ``backbone.pth`` (iresnet50, iresnet100: RGB) and facenet-pytorch's state dict,
each file written here, in its published layout, from a randomly initialised network."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
from facenet_pytorch import InceptionResnetV1

from krypto.learning.face_backbones import IResNet, IRNet
from krypto.learning.models import (
    INPUT_SIZE,
    EmbeddingModel,
    PretrainedWeightsError,
    build_model,
    small_cnn,
)

# (tensors, numbers) in the state dicts of the published networks, by backbone
PUBLISHED = {
    "ir50": (467, 43_623_694),
    "ir101": (917, 65_220_569),
    "iresnet50": (475, 43_629_071),
    "iresnet100": (925, 65_225_946),
}


def _size(state: dict) -> tuple[int, int]:
    return len(state), sum(v.numel() for v in state.values())


class ModelCheckpoint:
    """A class named in the file, as PyTorch Lightning 1.4 (AdaFace's) keys its callbacks'
    states by their class: torch's weights-only reader refuses it."""


def _random(state: dict) -> dict:
    """``state`` with every tensor drawn at random (BatchNorm statistics and counts too), so
    that a tensor left at its initial value cannot pass for one read from the file."""
    return {
        k: torch.rand_like(v) if v.is_floating_point() else torch.randint_like(v, 1, 1000)
        for k, v in state.items()
    }


def _adaface_ckpt(network: dict) -> dict:
    """AdaFace's ``.ckpt``: a Lightning checkpoint, the network under ``model.`` and the
    AdaFace margin head (``kernel [512, classes]`` and its norm statistics) under ``head.``."""
    head = {"kernel": torch.randn(512, 10), "t": torch.zeros(1)}
    head |= {"batch_mean": torch.ones(1) * 20, "batch_std": torch.ones(1) * 100}
    return {
        "epoch": 25,
        "global_step": 1000,
        "pytorch-lightning_version": "1.4.4",
        "state_dict": {f"model.{k}": v for k, v in network.items()}
        | {f"head.{k}": v for k, v in head.items()},
        "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.9), "monitor": "acc"}},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}],
        "lr_schedulers": [{"milestones": collections.Counter({12: 1, 20: 1}), "gamma": 0.1}],
        "hparams_name": "kwargs",
        "hyper_parameters": {"arch": "ir_50", "head": "adaface", "m": 0.4},
    }


def _seeded(state: dict) -> tuple[dict, torch.Tensor]:
    """Weights for ``state``'s keys drawn, by sorted key, from a generator seeded with 0
    (convolution and linear weights scaled by 0.5 / sqrt(fan in), BatchNorm scales, variances
    and PReLU slopes in [0.5, 1], shifts and means about 0.1), and then a face ``[1, 3, 112,
    112]`` in [-1, 1]."""
    gen = torch.Generator().manual_seed(0)
    seeded = {}
    for key in sorted(state):
        value = state[key]
        if not value.is_floating_point():
            seeded[key] = value
        elif value.dim() > 1:
            seeded[key] = torch.randn(value.shape, generator=gen) * 0.5 / value[0].numel() ** 0.5
        elif key.endswith(("weight", "running_var")):
            seeded[key] = 0.5 + 0.5 * torch.rand(value.shape, generator=gen)
        else:
            seeded[key] = 0.1 * torch.randn(value.shape, generator=gen)
    return seeded, torch.rand(1, 3, 112, 112, generator=gen) * 2 - 1


# the first features and the norm of the published networks' output (AdaFace's before its
# division by the norm) with the weights and face of _seeded: from insightface's iresnet.py and
# AdaFace's net.py
PUBLISHED_OUTPUT = {
    "ir50": ([0.61234, 0.17709, 0.09712, 0.01799], 7.4008),
    "iresnet50": ([0.17018, 0.10175, -0.06221, 0.05544], 5.2478),
}


@pytest.mark.parametrize("name, network", [("ir50", IRNet), ("iresnet50", IResNet)])
def test_the_networks_compute_what_the_published_code_computes(name, network):
    """With the same weights, on the same face, each network gives what the published code
    gives: strides, shortcuts and the order of the layers are theirs."""
    net = network(50).eval()
    weights, face = _seeded(net.state_dict())
    net.load_state_dict(weights)
    with torch.no_grad():
        out = net(face)[0]
    first, norm = PUBLISHED_OUTPUT[name]
    assert out[:4].tolist() == pytest.approx(first, abs=2e-5)
    assert out.norm().item() == pytest.approx(norm, abs=2e-4)


@pytest.fixture(scope="module")
def networks() -> dict:
    """The backbone state (random tensors) and the file written from it, by backbone."""
    ir50 = _random(IRNet(50).state_dict())
    iresnet50 = _random(IResNet(50).state_dict())
    facenet = _random(InceptionResnetV1(classify=True, num_classes=8631).state_dict())
    return {
        "ir50": (ir50, _adaface_ckpt(ir50), "adaface_ir50_ms1mv2.ckpt"),
        "iresnet50": (iresnet50, iresnet50, "backbone.pth"),
        "facenet": (
            {k: v for k, v in facenet.items() if not k.startswith("logits.")},
            facenet,
            "20180402-114759-vggface2.pt",
        ),
    }


@pytest.fixture
def save(tmp_path):
    """Write an object with ``torch.save`` into ``tmp_path``; the files go afterwards."""
    files = []

    def write(obj, name: str):
        files.append(tmp_path / name)
        torch.save(obj, files[-1])
        return files[-1]

    yield write
    for file in files:
        file.unlink(missing_ok=True)


@pytest.mark.parametrize("name", ["ir50", "iresnet50", "facenet"])
def test_a_published_file_gives_every_tensor_of_the_backbone(networks, save, name):
    """Every tensor of the loaded backbone is the file's, and every tensor of the file's network
    is in the backbone (AdaFace's margin head and facenet's ``logits`` classifier left out); the
    network has the published one's tensors."""
    expected, content, file_name = networks[name]
    assert name == "facenet" or _size(expected) == PUBLISHED[name]
    model = build_model(name, pretrained=str(save(content, file_name)), embedding_dim=8)
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


DEFECTS = [  # (backbone, defect, key as written in the file)
    ("ir50", "missing", "model.body.3.shortcut_layer.0.weight"),
    ("ir50", "extra", "head.weight"),  # under head., not AdaFace's margin head: not left out
    ("ir50", "shape", "model.output_layer.3.weight"),
    ("iresnet50", "missing", "layer2.0.downsample.0.weight"),
    ("iresnet50", "extra", "layer4.3.bn0.weight"),
    ("iresnet50", "shape", "fc.weight"),  # arcface_torch's fc is the backbone's, no classifier
]


@pytest.mark.parametrize("name, defect, key", DEFECTS)
def test_a_published_file_that_does_not_fit_is_refused(networks, save, name, defect, key):
    """A file with one tensor missing, one unexpected or one of another shape stops, naming
    the file and the key."""
    _, content, file_name = networks[name]
    state = dict(content["state_dict"] if name == "ir50" else content)
    if defect == "missing":
        del state[key]
    else:
        state[key] = torch.zeros(512, 10)
    file = save({**content, "state_dict": state} if name == "ir50" else state, file_name)
    count = {"missing": "1 missing", "extra": "1 unexpected", "shape": "1 of another shape"}
    with pytest.raises(PretrainedWeightsError, match=count[defect]) as error:
        build_model(name, pretrained=str(file))
    assert file_name in str(error.value) and key.removeprefix("model.") in str(error.value)


@pytest.mark.parametrize(
    "name, file", [("ir101", "adaface_ir101_webface12m.ckpt"), ("iresnet100", "backbone.pth")]
)
def test_the_deeper_networks_build_in_the_published_layout(name, file):
    """ir101 / iresnet100: 3, 13, 30 and 3 units of widths 64, 128, 256 and 512, the tensors
    of the published networks; ir101 embeds a 112 px face; no library download: the error
    names the file to fetch."""
    model = build_model(name, embedding_dim=0).eval()
    backbone = model.backbone
    if name == "ir101":
        with torch.no_grad():
            assert model(torch.rand(1, 3, 112, 112)).shape == (1, 512)
        widths = [unit.res_layer[1].out_channels for unit in backbone.body]
    else:
        layers = [getattr(backbone, f"layer{k}") for k in range(1, 5)]
        widths = [unit.conv1.out_channels for layer in layers for unit in layer]
    assert [widths.count(w) for w in (64, 128, 256, 512)] == [3, 13, 30, 3]
    assert _size(backbone.state_dict()) == PUBLISHED[name]
    assert INPUT_SIZE[name] == 112
    with pytest.raises(PretrainedWeightsError, match=f"{file}.*pretrained='/path/to/file'"):
        build_model(name, pretrained=True)


@pytest.mark.parametrize("name, bgr", [("ir50", True), ("iresnet50", False)])
def test_the_model_feeds_its_backbone_as_it_was_trained(name, bgr):
    """On [0, 1] RGB images, the model gives its backbone (x - 0.5) / 0.5, channels reversed
    to BGR for AdaFace's and kept in RGB for arcface_torch's (at 32 px, to be quick)."""
    model = build_model(name, embedding_dim=0).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        got = model(images)
        as_trained = model.backbone(((images.flip(1) if bgr else images) - 0.5) / 0.5)
        other_order = model.backbone(((images if bgr else images.flip(1)) - 0.5) / 0.5)
    assert torch.allclose(got, as_trained, rtol=0, atol=1e-6)
    assert not torch.allclose(got, other_order, rtol=0, atol=1e-3)


def test_the_colour_order_is_exported_to_onnx(tmp_path):
    """An exported model reverses the channels as the PyTorch one does."""
    import onnxruntime

    backbone, features = small_cnn(8)
    model = EmbeddingModel(backbone, features, 4, bgr=True).eval()
    images = torch.rand(2, 3, 32, 32)
    torch.onnx.export(model, (images,), str(tmp_path / "m.onnx"), dynamo=False, input_names=["x"])
    got = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": images.numpy()})
    with torch.no_grad():
        assert np.abs(got[0] - model(images).numpy()).max() < 1e-5
        model.bgr = False
        assert np.abs(got[0] - model(images).numpy()).max() > 1e-4

"""Embedding models by name: :func:`build_model` returns an :class:`EmbeddingModel`, images
``[B, 3, H, W]`` in [0, 1] -> embeddings ``[B, D]`` (not normalised; losses and metrics normalise),
then a fake detector's logit when it has one. The input normalisation and colour order
(:data:`INPUTS`) live inside the model, so an exported model takes plain [0, 1] RGB images;
:data:`INPUT_SIZE`: the sizes some require. ``pretrained`` is ``False`` (random weights), ``True``
(the library's weights: downloaded once into the torch cache, or read from it offline) or a local
weights file (a state dict of the backbone, or a checkpoint with a ``state_dict`` / ``model``
entry, AdaFace's Lightning ``.ckpt`` among them); the published face models
(:data:`FACE_DOWNLOADS`) come only as files.
"""

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from krypto.learning.detectors import FakeDetector, FakeHead, ForgeryBranch, conv_bn
from krypto.learning.face_backbones import FEATURES, IResNet, IRNet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACENET_MEAN = (0.5, 0.5, 0.5)  # facenet-pytorch's fixed_image_standardization: (x - 127.5) / 128
FACENET_STD = (0.502, 0.502, 0.502)
HALF = (0.5, 0.5, 0.5)  # arcface_torch's and AdaFace's (x - 0.5) / 0.5
# (mean, std, BGR) of each backbone's input; the others: ImageNet's, in RGB
INPUTS = {
    "facenet": (FACENET_MEAN, FACENET_STD, False),
    "iresnet50": (HALF, HALF, False),
    "iresnet100": (HALF, HALF, False),
    "ir50": (HALF, HALF, True),
    "ir101": (HALF, HALF, True),
}
# the input size (pixels, square) a backbone requires; the others take any
INPUT_SIZE = {"iresnet50": 112, "iresnet100": 112, "ir50": 112, "ir101": 112}


class PretrainedWeightsError(RuntimeError):
    """Weights asked for cannot be had; the message says which file to put where."""


def resize_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """``[size_out, size_in]``: ``R @ x @ R.T`` resizes ``[..., size_in, size_in]`` images as
    ``F.interpolate(mode="bilinear", antialias=True)`` does (separable, so exact), in two matrix
    products that export to ONNX (the antialiased resize itself does not)."""
    eye = torch.eye(size_in).view(size_in, 1, 1, size_in)
    rows = F.interpolate(eye, size=(1, size_out), mode="bilinear", antialias=True)
    return rows.view(size_in, size_out).T.contiguous()


class EmbeddingModel(nn.Module):
    """Resize to the backbone's ``image_size`` when the input is larger (a forgery branch sees the
    photo at its own size), to BGR when ``bgr``, normalise, backbone features ``[B, F]`` projected
    to ``[B, D]``; with a ``detector``, its logit appended: ``[B, D + 1]``."""

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        embedding_dim: int,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        bgr: bool = False,
    ):
        super().__init__()
        self.bgr = bgr
        self.backbone = backbone
        self.head = nn.Linear(feature_dim, embedding_dim) if embedding_dim else nn.Identity()
        self.embedding_dim = embedding_dim or feature_dim
        self.detector: FakeDetector | None = None
        self.register_buffer("resize", None)  # [image_size, input size], when they differ
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images if self.resize is None else self.resize @ images @ self.resize.T
        if self.bgr:
            x = x.flip(1)
        embeddings = self.head(self.backbone((x - self.mean) / self.std))
        if self.detector is None:
            return embeddings
        logits = self.detector(images, embeddings)
        return torch.cat([embeddings, logits[:, None].to(embeddings.dtype)], 1)


def small_cnn(width: int = 32) -> tuple[nn.Module, int]:
    """A 7-layer CNN that trains in seconds per epoch on a 2-core CPU at 64x64 (about 35 M
    multiply-adds per image). Stride 2 in every stage keeps the cost down; the first stage keeps
    full resolution for one layer so that pixel-level traces (seams, resampling) are seen."""
    w = width
    layers = nn.Sequential(
        conv_bn(3, w, 2),
        conv_bn(w, 2 * w, 2),
        conv_bn(2 * w, 2 * w),
        conv_bn(2 * w, 4 * w, 2),
        conv_bn(4 * w, 4 * w),
        conv_bn(4 * w, 8 * w, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return layers, 8 * w


class _Inert:
    """Stands in, as a weights file is read, for an object of a class beyond tensors and plain
    containers (a Lightning checkpoint's callbacks, say): made of nothing, keeps nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def _torch_load(path: Path):
    """``torch.load`` without running code (objects of classes it refuses: :class:`_Inert`)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        with torch.serialization.safe_globals([(_Inert, name) for name in names]):
            return torch.load(path, map_location="cpu", weights_only=True)


def _read_weights(path: str | os.PathLike) -> dict:
    """The state dict in a weights file, a checkpoint (``state_dict`` / ``model`` entry) or a
    finished training run folder of this package (its ``best.pt``); read without running code."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise PretrainedWeightsError(f"pretrained weights file {path} does not exist")
    try:
        state = _torch_load(path)
    except Exception as err:  # noqa: BLE001 -- any failure to read names the file
        raise PretrainedWeightsError(f"cannot read the weights file {path}: {err}") from err
    if isinstance(state, dict):
        state = state.get("state_dict", state.get("model", state))
    return state


CLASSIFIER_PREFIXES = ("logits.", "fc.", "classifier.")  # published heads a backbone drops
# an embedding model's projection, fake detector, resize and input normalisation (run-specific)
OPTIONAL_PARTS = ("head.", "detector.", "resize", "mean", "std")
# a Lightning module's state laid out as AdaFace's .ckpt: the network under "model.", AdaFace's
# margin classifier (class centres, running norm statistics) under "head."
LIGHTNING_NETWORK = "model."
LIGHTNING_HEAD = ("head.kernel", "head.t", "head.batch_mean", "head.batch_std")


def _network_of(state: dict, own: dict) -> dict:
    """The backbone's part of ``state`` when it is laid out as AdaFace's (its keys under
    ``model.``, where the backbone's own ``own`` are not): the network's, AdaFace's margin
    classifier left out; any other state as it is."""
    net = LIGHTNING_NETWORK
    if any(k.startswith(net) for k in own) or not any(k.startswith(net) for k in state):
        return state
    return {k.removeprefix(net): v for k, v in state.items() if k not in LIGHTNING_HEAD}


def _check_fit(path, own: dict, state: dict, optional: tuple[str, ...]) -> None:
    """Stop unless ``state`` holds every tensor of ``own`` (keys outside ``optional``), with
    its shape, and nothing else (beyond a published classifier head)."""
    required = {k: v for k, v in own.items() if not k.startswith(optional)}
    missing = [k for k in required if k not in state]
    shapes = [k for k in required if k in state and state[k].shape != required[k].shape]
    dropped = (*CLASSIFIER_PREFIXES, *optional)
    extra = [k for k in state if k not in own and not k.startswith(dropped)]
    if missing or shapes or extra:
        raise PretrainedWeightsError(
            f"{path} does not fit this backbone: of its {len(required)} tensors, "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(shapes)} of another shape "
            f"(e.g. {shapes[:3]}); {len(extra)} unexpected in the file (e.g. {extra[:3]})"
        )


def _load_local(model: EmbeddingModel, path: str | os.PathLike) -> None:
    """Load local weights into ``model``, every tensor of its backbone from the file: a whole
    embedding model of this package (a training run's checkpoint: the backbone, and the
    projection and real/fake head when the file has them at this size) or a backbone's state
    dict (a published classifier head in it is left out), AdaFace's Lightning state among them.
    Anything partial, extra or of another shape stops with :class:`PretrainedWeightsError`."""
    state = _read_weights(path)
    if any(k.startswith("backbone.") for k in state):  # an EmbeddingModel of this package
        own = model.state_dict()
        _check_fit(path, own, state, OPTIONAL_PARTS)
        fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fitting, strict=False)
        return
    own = model.backbone.state_dict()
    state = _network_of(state, own)
    _check_fit(path, own, state, ())
    model.backbone.load_state_dict({k: v for k, v in state.items() if k in own})


def _torchvision(arch: str, weights_enum: str) -> Callable:
    def build(pretrained: bool) -> tuple[nn.Module, int]:
        import torchvision

        weights = getattr(torchvision.models, weights_enum).DEFAULT if pretrained is True else None
        model = _fetch(
            lambda: getattr(torchvision.models, arch)(weights=weights),
            arch,
            f"{torch.hub.get_dir()}/checkpoints/"
            f"{weights.url.rsplit('/', 1)[-1] if weights else ''}",
        )
        # torchvision's MobileNet and EfficientNet keep BatchNorm statistics with momentum 0.01,
        # made for hundreds of thousands of steps: after a few hundred, their running
        # statistics are still the initial ones, and the model in eval mode embeds every photo
        # alike. PyTorch's default, 0.1, follows the data within a short run.
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = 0.1
        if hasattr(model, "fc"):
            dim = model.fc.in_features
            model.fc = nn.Identity()
        else:  # MobileNet, EfficientNet: the classifier's first linear layer takes the features
            dim = next(m for m in model.classifier if isinstance(m, nn.Linear)).in_features
            model.classifier = nn.Identity()
        return model, dim

    return build


def _fetch(make: Callable, name: str, where: str):
    """Build a model whose weights may need downloading; offline, say which file goes where."""
    try:
        return make()
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise PretrainedWeightsError(
            f"cannot load pretrained weights of {name}: {error}. Offline, put the weights file at "
            f"{where} (or pass pretrained='/path/to/weights.pt')"
        ) from error


def facenet(pretrained: bool) -> tuple[nn.Module, int]:
    """facenet-pytorch's InceptionResnetV1; pretrained: VGGFace2 weights (512-d features)."""
    from facenet_pytorch import InceptionResnetV1

    file = Path(torch.hub.get_dir()).parent / "checkpoints" / "20180402-114759-vggface2.pt"
    model = _fetch(
        lambda: InceptionResnetV1(pretrained="vggface2" if pretrained is True else None),
        "facenet (InceptionResnetV1, VGGFace2)",
        str(file),
    )
    return model, 512


def vits16_dino(pretrained: bool) -> tuple[nn.Module, int]:
    """open-metric-learning's ViT-S/16 extractor; pretrained: DINO weights (384-d features)."""
    from oml.models import ViTExtractor

    weights = "vits16_dino" if pretrained is True else None
    model = _fetch(
        lambda: ViTExtractor(weights, arch="vits16", normalise_features=False),
        "vits16_dino",
        "the open-metric-learning cache (see oml.const.CKPT_SAVE_ROOT)",
    )
    return model, model.feat_dim


# the published face models: no library download; (the file to fetch, where it is published)
INSIGHTFACE_ZOO = (
    "insightface's arcface_torch model zoo "
    "(https://github.com/deepinsight/insightface/tree/master/recognition/arcface_torch#model-zoo)"
)
ADAFACE_README = "AdaFace's README (https://github.com/mk-minchul/AdaFace#pretrained-models)"
FACE_DOWNLOADS = {
    "iresnet50": ("ms1mv3_arcface_r50_fp16/backbone.pth (or another r50)", INSIGHTFACE_ZOO),
    "iresnet100": ("ms1mv3_arcface_r100_fp16/backbone.pth (or another r100)", INSIGHTFACE_ZOO),
    "ir50": ("adaface_ir50_ms1mv2.ckpt (or another R50)", ADAFACE_README),
    "ir101": ("adaface_ir101_webface12m.ckpt (or another R100)", ADAFACE_README),
}
BACKBONES: dict[str, Callable] = {
    "small_cnn": lambda pretrained: small_cnn(),
    "facenet": facenet,
    "iresnet50": lambda pretrained: (IResNet(50), FEATURES),
    "iresnet100": lambda pretrained: (IResNet(100), FEATURES),
    "ir50": lambda pretrained: (IRNet(50), FEATURES),
    "ir101": lambda pretrained: (IRNet(100), FEATURES),
    "resnet18": _torchvision("resnet18", "ResNet18_Weights"),
    "resnet50": _torchvision("resnet50", "ResNet50_Weights"),
    "resnet101": _torchvision("resnet101", "ResNet101_Weights"),
    "resnet152": _torchvision("resnet152", "ResNet152_Weights"),
    "efficientnet_b0": _torchvision("efficientnet_b0", "EfficientNet_B0_Weights"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large", "MobileNet_V3_Large_Weights"),
    "vits16_dino": vits16_dino,
}
DEFAULT_BACKBONE = "small_cnn"
# backbones that train faster in channels_last on a CPU too (small_cnn: ~20% per epoch at 64 px;
# resnet18 is slower in it there); on CUDA every backbone runs in it
CHANNELS_LAST_ON_CPU = frozenset({"small_cnn"})


def memory_format(backbone: str, device: torch.device | str) -> torch.memory_format:
    """The memory format of the model ``backbone`` and of its inputs on ``device``, for training
    and embedding alike (:func:`krypto.learning.embed.embed_batch` follows the model's)."""
    fast = torch.device(device).type == "cuda" or backbone in CHANNELS_LAST_ON_CPU
    return torch.channels_last if fast else torch.contiguous_format


def build_model(
    name: str = DEFAULT_BACKBONE,
    pretrained=False,
    embedding_dim: int = 128,
    fake_head: bool = False,
    forgery_size: int = 0,
    image_size: int | None = None,
) -> EmbeddingModel:
    """The embedding model ``name`` (one of :data:`BACKBONES`), with a fake detector when asked
    (:mod:`krypto.learning.detectors`): a real/fake head on its embedding (``fake_head``), or a
    forgery branch that sees ``forgery_size`` px photos (``forgery_size`` > 0; the model then
    takes photos of that size and resizes them to ``image_size`` for the backbone)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    if pretrained is True and name == "small_cnn":
        raise ValueError("small_cnn has no published weights: use pretrained=False or a file path")
    if pretrained is True and name in FACE_DOWNLOADS:
        file, where = FACE_DOWNLOADS[name]
        raise PretrainedWeightsError(
            f"{name} has no library download: download {file} from {where} "
            "and pass pretrained='/path/to/file'"
        )
    if fake_head and forgery_size:
        raise ValueError("a model has one fake detector: a real/fake head or a forgery branch")
    if isinstance(pretrained, str) and pretrained.lower() in ("", "false", "none"):
        pretrained = False
    local_file = pretrained if pretrained not in (True, False, None) else None
    backbone, feature_dim = BACKBONES[name](pretrained is True)
    mean, std, bgr = INPUTS.get(name, (IMAGENET_MEAN, IMAGENET_STD, False))
    model = EmbeddingModel(backbone, feature_dim, embedding_dim, mean, std, bgr)
    if fake_head:
        model.detector = FakeHead(model.embedding_dim)
    if forgery_size:
        model.detector = ForgeryBranch(forgery_size)
        if image_size is not None and image_size != forgery_size:
            model.resize = resize_matrix(forgery_size, image_size)
    if local_file is not None:
        _load_local(model, local_file)
    return model

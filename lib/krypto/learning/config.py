"""The parameters of a training run, checked and turned into a run folder name. :class:`TrainConfig`
is the one source of truth: notebooks/02_train.ipynb's parameter cell holds exactly its fields (a
test fails when they differ) and builds it with :meth:`TrainConfig.from_namespace`;
``krypto.pipeline.launch`` builds it from the same YAML.
"""

import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from krypto import constants as C
from krypto.learning.augment import CUTOUT_PARTS
from krypto.learning.losses import HEADS, LossConfig
from krypto.learning.models import BACKBONES, INPUT_SIZE
from krypto.paths import resolve_path

SELECT_BY = ("eer_mean", "eer", "eer_real", "eer_fake")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "cosine")
DEFAULT_RUNS_SUBDIR = "train"  # default run folders: <runs>/train/<name>
RUNS_DIR_VARIABLE = "KRYPTO_RUNS_DIR"  # <runs>: this variable when set, else runs/
# Fields that do not change what is trained: a finished run is reused whatever their values,
# and they stay out of the default run folder name.
NOT_TRAINING = ("run_dir", "overwrite", "progress", "num_threads", "device", "robustness")


@dataclass
class TrainConfig:
    """Every parameter of a training run."""

    data_dir: str = ""  # official layout root; "" = the embedded synthetic set; "synthetic:tiny"
    run_dir: str = ""  # outputs; "" = runs/train/<backbone>-<loss>[-<changed parameters>]
    backbone: str = "small_cnn"
    pretrained: object = False  # False | True | path to a weights file
    embedding_dim: int = 128
    loss: str = "quadruplet"  # triplet (fakes count as their identity) | quadruplet | pairwise
    lam: float = 1.0  # weight of triplet(a, p, fake_of_a)
    margin: float | None = 0.2  # None: soft margin
    mining: str = "random"  # random | hard
    head: str = "none"  # none | cosine | arcface
    fakes_as_class: bool = False
    fake_head: float = 0.0  # weight of a real/fake head's cross-entropy, fused into the pair score
    forgery: float = 1.0  # weight of a forgery branch's cross-entropy (0: none); see the README
    forgery_size: int = 64  # pixels of the photos the forgery branch sees (the photos' own size)
    epochs: int = 30  # chosen on sets of three renderers: see "Choosing the defaults" in the README
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw | sgd
    schedule: str = "none"  # none | cosine
    warmup_epochs: int = 0  # linear warm-up of the rate over the first epochs
    weight_decay: float = 0.0
    P: int = 8  # identities per batch
    K: int = 4  # photos per identity
    n_fake: int = 1  # fakes among the K
    image_size: int = 48
    cutout_part: str = "none"  # none | mouth | nose | eyes
    cutout_p: float = 0.5
    flip_p: float = 0.5
    seed: int = 0  # training: initial weights, batches, augmentation, mining
    split_seed: int = 0  # the identity split and the validation pairs (fixed across seeds)
    val_ratio: float = 0.2
    test_ratio: float = 0.0  # held-out test identities, for data without a labelled test
    landmarks: str = "auto"  # auto | mtcnn | none
    align: bool = False  # photos aligned to the five-point template (krypto.data.alignment)
    patience: int = 0  # epochs without improvement before stopping; 0 = never
    select_by: str = "eer_mean"  # the best checkpoint: eer_mean = (eer_real + eer_fake) / 2
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # mixed precision: float16 on CUDA, bfloat16 on a CPU that has it natively
    num_threads: int = 0  # torch CPU threads; 0 = KRYPTO_NUM_THREADS or torch's default
    robustness: bool = False  # also score the held-out test re-saved as JPEG 75 and at half size
    overwrite: bool = False  # replace a finished run in run_dir
    progress: bool = True

    def __post_init__(self):
        if isinstance(self.pretrained, str) and self.pretrained.lower() in ("true", "false", ""):
            self.pretrained = self.pretrained.lower() == "true"

    def loss_config(self) -> LossConfig:
        detector = self.fake_head or self.forgery
        return LossConfig(
            self.loss, self.lam, self.margin, self.mining, self.head, self.fakes_as_class, detector
        )

    @property
    def input_size(self) -> int:
        """The size of the photos the model takes: ``forgery_size`` with a forgery branch (the
        backbone gets them resized to ``image_size``), else ``image_size``."""
        return self.forgery_size if self.forgery > 0 else self.image_size

    def model_args(self) -> dict:
        """The arguments of :func:`~krypto.learning.models.build_model` but the weights."""
        return {
            "name": self.backbone,
            "embedding_dim": self.embedding_dim,
            "fake_head": self.fake_head > 0,
            "forgery_size": self.forgery_size if self.forgery > 0 else 0,
            "image_size": self.image_size,
        }

    def validate(self) -> None:
        """Stop at once, saying what is allowed, on a bad parameter."""

        def choose(name, allowed):
            if (value := getattr(self, name)) not in allowed:
                raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")

        choose("backbone", BACKBONES)
        choose("head", HEADS)
        choose("cutout_part", CUTOUT_PARTS)
        choose("optimizer", OPTIMIZERS)
        choose("schedule", SCHEDULES)
        choose("select_by", SELECT_BY)
        for name in ("fake_head", "forgery"):
            if (value := getattr(self, name)) < 0:
                raise ValueError(f"{name} is a loss weight >= 0 (0: none), got {value}")
        if self.fake_head > 0 and self.forgery > 0:
            raise ValueError("fake_head and forgery are two fake detectors: choose one")
        if self.forgery > 0 and self.forgery_size < self.image_size:
            raise ValueError(
                f"forgery_size={self.forgery_size} is below image_size={self.image_size}: the "
                f"forgery branch sees the photo at least as large as the identity network does"
            )
        self.loss_config().validate()
        for name in ("epochs", "P", "K", "image_size", "embedding_dim", "forgery_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(
                f"warmup_epochs must be in [0, epochs={self.epochs}], got {self.warmup_epochs}"
            )
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.cutout_p <= 1 or not 0 <= self.flip_p <= 1:
            raise ValueError("cutout_p and flip_p are probabilities in [0, 1]")
        if (size := INPUT_SIZE.get(self.backbone)) is not None and self.image_size != size:
            raise ValueError(
                f"{self.backbone} takes {size} x {size} faces (its published weights were trained "
                f"on them), got image_size={self.image_size}"
            )
        if self.backbone == "facenet" and self.image_size < 80:
            raise ValueError(
                f"facenet needs image_size >= 80 (got {self.image_size}); it was trained on 160"
            )

    def prepare_args(self) -> dict:
        """The arguments of :func:`krypto.data.index.prepare` for this run's data."""
        names = ("data_dir", "val_ratio", "landmarks", "test_ratio", "align")
        return {"seed": self.split_seed, **{name: getattr(self, name) for name in names}}

    def changed(self) -> dict:
        """The training parameters whose values differ from the defaults."""
        default = TrainConfig().training_parameters()
        return {k: v for k, v in self.training_parameters().items() if v != default[k]}

    def default_run_name(self) -> str:
        """``<backbone>-<loss>`` followed by every changed parameter as ``name=value``, so runs
        with other parameters never share a folder: ``small_cnn-quadruplet-epochs=1-lam=0.1``."""
        changed = {k: v for k, v in self.changed().items() if k not in ("backbone", "loss")}
        parts = [self.backbone, self.loss] + [f"{k}={_slug(v)}" for k, v in sorted(changed.items())]
        return "-".join(parts)

    def resolved_run_dir(self) -> Path:
        if self.run_dir:
            return resolve_path(self.run_dir)
        runs = os.environ.get(RUNS_DIR_VARIABLE)
        root = resolve_path(runs) if runs else C.RUNS_DIR
        return root / DEFAULT_RUNS_SUBDIR / self.default_run_name()

    def pretrained_weights(self):
        """``pretrained`` as :func:`~krypto.learning.models.build_model` takes it: a path (to a
        weights file or a finished run folder) relative to the repository root, or else a run
        ``<batch>/<run>`` of the runs folder that holds this run's folder, as batch files name
        runs (``pretrained: pretrain/faces``)."""
        if not isinstance(self.pretrained, str):
            return self.pretrained
        path = resolve_path(self.pretrained)
        if path.exists():
            return str(path)
        for folder in self.resolved_run_dir().parents:
            if (folder / self.pretrained).exists():
                return str(folder / self.pretrained)
        raise FileNotFoundError(
            f"pretrained={self.pretrained!r} is neither a file or folder (from the repository "
            f"root) nor a run of that name in a folder above {self.resolved_run_dir()}"
        )

    def training_parameters(self) -> dict:
        """Everything that decides what is trained (compared when a run folder is reused)."""
        return {k: v for k, v in asdict(self).items() if k not in NOT_TRAINING}

    def differences(self, stored: dict, ignore: tuple[str, ...] = ()) -> dict:
        """``{name: (stored value, this value)}`` of the training parameters in which this config
        differs from ``stored`` (a run's config.json), leaving out ``ignore``."""
        theirs = TrainConfig.from_dict(stored).training_parameters()
        return {
            k: (theirs.get(k), v)
            for k, v in self.training_parameters().items()
            if k not in ignore and theirs.get(k) != v
        }

    @classmethod
    def from_dict(cls, params: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        if unknown := set(params) - known:
            raise ValueError(
                f"unknown training parameters {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**params)

    @classmethod
    def from_namespace(cls, namespace: dict) -> "TrainConfig":
        """The config from the variables of a notebook's parameter cell (``globals()``): every
        field must be there, so a parameter added to the config and not to the cell fails."""
        if missing := [f.name for f in fields(cls) if f.name not in namespace]:
            raise ValueError(f"the parameter cell lacks {missing}")
        return cls(**{f.name: namespace[f.name] for f in fields(cls)})


def _slug(value) -> str:
    text = str(value).strip("/") if value != "" else "none"
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text)[-40:]

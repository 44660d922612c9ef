"""Training an embedding model with real/fake-aware metric learning.

``train(TrainConfig(...))`` runs the whole loop and writes into ``run_dir``::

    config.json      the parameters
    history.csv      one row per iteration: losses, batch distances, learning rate
    epochs.csv       one row per epoch (epoch 0: before training): EERs on the validation pairs
    metrics.json     best-epoch eer_real, eer_fake, eer (all kinds), history, parameters
    best.pt          weights of the best epoch (by ``select_by``) with the config
    last.pt          everything needed to resume after an interruption
    tb/              TensorBoard logs

The images are decoded once into a uint8 tensor (cached beside the index), batches are indexed
out of it and augmented on the device, so an epoch costs little more than the model itself.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from krypto import constants as C
from krypto.augment import CUTOUT_PARTS, cutout, random_flip
from krypto.distributed import Distributed
from krypto.embed import cached_images, embed, to_model_input
from krypto.index import PreparedData, pair_rows, prepare
from krypto.losses import HEADS, LossConfig, VerificationLoss
from krypto.metrics import cosine_pair_scores, kind_eers
from krypto.models import BACKBONES, build_model
from krypto.paths import resolve_path
from krypto.sampling import IdentityBatchSampler

SELECT_BY = ("eer_mean", "eer", "eer_real", "eer_fake")
COLLAPSED_STD = 1e-3  # validation similarities spread less than this: every photo embeds alike
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine")


@dataclass
class TrainConfig:
    """Every parameter of a training run (the parameters of notebooks/02_train.ipynb)."""

    data_dir: str = ""  # official layout root; "" = the embedded synthetic set; "synthetic:tiny"
    run_dir: str = ""  # outputs; "" = runs/train/<backbone>-<loss>
    backbone: str = "small_cnn"
    pretrained: object = False  # False | True | path to a weights file
    embedding_dim: int = 128
    loss: str = "quadruplet"  # triplet (fakes count as their identity) | quadruplet
    lam: float = 1.0  # weight of triplet(a, p, fake_of_a)
    margin: float | None = 0.2  # None: soft margin
    mining: str = "random"  # random | hard
    head: str = "none"  # none | cosine | arcface
    cos_head: bool = False  # shorthand for head="cosine" (the seed's "cos head")
    fakes_as_class: bool = False
    epochs: int = 4
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "none"  # none | cosine
    weight_decay: float = 0.0
    P: int = 8  # identities per batch
    K: int = 4  # photos per identity
    n_fake: int = 1  # fakes among the K
    image_size: int = 48
    cutout_part: str = "none"  # none | mouth | nose | eyes
    cutout_p: float = 0.5
    flip_p: float = 0.5
    seed: int = 0
    val_ratio: float = 0.2
    landmarks: str = "auto"  # auto | mtcnn | none
    patience: int = 0  # epochs without improvement before stopping; 0 = never
    select_by: str = "eer_mean"  # the best checkpoint: eer_mean = (eer_real + eer_fake) / 2
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # mixed precision on CUDA
    num_threads: int = 0  # torch CPU threads; 0 = KRYPTO_NUM_THREADS or torch's default
    overwrite: bool = False  # replace a finished run in run_dir
    progress: bool = True

    def __post_init__(self):
        if self.cos_head:
            if self.head not in ("none", "cosine"):
                raise ValueError(f"cos_head=True contradicts head={self.head!r}")
            self.head = "cosine"
        if isinstance(self.pretrained, str) and self.pretrained.lower() in ("true", "false", ""):
            self.pretrained = self.pretrained.lower() == "true"

    def loss_config(self) -> LossConfig:
        return LossConfig(self.loss, self.lam, self.margin, self.mining, self.head,
                          fakes_as_class=self.fakes_as_class)

    def validate(self) -> None:
        """Stop at once, saying what is allowed, on a bad parameter."""
        def choose(name, allowed):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; choose one of "
                                 f"{list(allowed)}")

        choose("backbone", BACKBONES)
        choose("head", HEADS)
        choose("cutout_part", CUTOUT_PARTS)
        choose("optimizer", OPTIMIZERS)
        choose("schedule", SCHEDULES)
        choose("select_by", SELECT_BY)
        self.loss_config().validate()
        for name in ("epochs", "P", "K", "image_size", "embedding_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.cutout_p <= 1 or not 0 <= self.flip_p <= 1:
            raise ValueError("cutout_p and flip_p are probabilities in [0, 1]")
        if self.backbone == "facenet" and self.image_size < 80:
            raise ValueError(f"facenet needs image_size >= 80 (got {self.image_size}); "
                             f"it was trained on 160")

    def resolved_run_dir(self) -> Path:
        return resolve_path(self.run_dir or f"runs/train/{self.backbone}-{self.loss}")

    @classmethod
    def from_dict(cls, params: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"unknown training parameters {sorted(unknown)}; known: {sorted(known)}")
        return cls(**params)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but CUDA is not available; use 'auto' or 'cpu'")
    return device


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(num_threads: int = 0) -> None:
    n = num_threads or int(os.environ.get("KRYPTO_NUM_THREADS", 0))
    if n > 0:
        torch.set_num_threads(n)


def initial_model(config: TrainConfig):
    """The model as training starts (same seed, same weights): 'before training'."""
    seed_everything(config.seed)
    return build_model(config.backbone, config.pretrained, config.embedding_dim)


def load_model(run_dir: str | Path, checkpoint: str = C.BEST_CHECKPOINT, device="cpu"):
    """(model, config) of a finished or running run, with the weights of ``checkpoint``."""
    run = resolve_path(run_dir)
    file = run / checkpoint
    if not file.is_file():
        raise FileNotFoundError(f"no checkpoint {file}: is {run} a 02_train run folder?")
    state = torch.load(file, map_location=device, weights_only=False)
    config = TrainConfig(**{**state["config"], "pretrained": False})
    model = build_model(config.backbone, False, config.embedding_dim)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config


class Trainer:
    """One training run; see the module docstring for what it writes."""

    def __init__(self, config: TrainConfig, prepared: PreparedData | None = None,
                 dist: Distributed | None = None):
        config.validate()
        self.config = config
        self.dist = dist or Distributed.from_environment(config.device)
        set_threads(config.num_threads)
        self.device = self.dist.device if self.dist.enabled else pick_device(config.device)
        self.run_dir = config.resolved_run_dir()
        self._check_run_dir()
        seed_everything(config.seed)

        progress = config.progress and self.dist.is_main

        def load():  # rank 0 writes the caches first, the other processes then read them
            data = prepared or prepare(
                config.data_dir, val_ratio=config.val_ratio,
                seed=config.seed, landmarks=config.landmarks, progress=progress)
            return data, cached_images(data.index[C.PATH], config.image_size, data.folder,
                                       progress=progress)

        self.data, self.images = self.dist.main_first(load)
        index = self.data.index
        lm = index[list(C.LANDMARK_COLUMNS)].to_numpy(np.float32)
        self.landmarks = torch.from_numpy(lm)
        self.labels = torch.tensor(index[C.LABEL].to_numpy(), dtype=torch.long)
        self.is_fake = torch.tensor(index[C.IS_FAKE].to_numpy(), dtype=torch.bool)
        self.train_rows = np.flatnonzero(index[C.SPLIT].to_numpy() == C.TRAIN)
        self.val_rows = np.flatnonzero(index[C.SPLIT].to_numpy() == C.VALID)
        train_labels = index[C.LABEL].to_numpy()[self.train_rows]
        n_ids = len(np.unique(train_labels))
        if config.P * self.dist.world_size > n_ids:
            raise ValueError(f"P={config.P} identities per batch (x {self.dist.world_size} "
                             f"processes), but the training split has {n_ids} identities: lower P")
        self.sampler = IdentityBatchSampler(
            train_labels, index[C.IS_FAKE].to_numpy()[self.train_rows], config.P, config.K,
            config.n_fake, config.seed, self.dist.rank, self.dist.world_size)

        self.model = build_model(config.backbone, config.pretrained, config.embedding_dim)
        self.model.to(self.device)
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.criterion = VerificationLoss(config.loss_config(), self.model.embedding_dim,
                                          int(index[C.LABEL].max()) + 1, self.generator).to(self.device)
        self.net = self.dist.wrap(self.model)
        params = list(self.model.parameters()) + list(self.criterion.parameters())
        if config.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(params, lr=config.lr, momentum=0.9,
                                             weight_decay=config.weight_decay)
        total = config.epochs * max(1, len(self.sampler))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, (lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
            if config.schedule == "cosine" else (lambda step: 1.0))
        self.use_amp = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.epoch = 0  # epochs finished
        self.epochs: list[dict] = []
        self.best: dict | None = None
        self.iterations_done = 0
        self.writer = None

    # -- run folder --------------------------------------------------------------------------
    def _check_run_dir(self) -> None:
        finished = self.run_dir / C.METRICS_FILE
        if finished.exists() and not self.config.overwrite:
            raise FileExistsError(f"{self.run_dir} holds a finished run ({finished.name}); pass "
                                  f"overwrite=True to replace it, or choose another run_dir")
        if not self.dist.is_main:
            return
        if finished.exists():  # overwrite: start from scratch
            for name in (C.METRICS_FILE, C.LAST_CHECKPOINT, C.BEST_CHECKPOINT, C.HISTORY_FILE,
                         C.EPOCHS_FILE):
                (self.run_dir / name).unlink(missing_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def _comparable(self) -> dict:
        skip = {"overwrite", "progress", "num_threads", "epochs", "patience"}
        return {k: v for k, v in asdict(self.config).items() if k not in skip}

    # -- checkpoints -------------------------------------------------------------------------
    def _save(self, name: str, full: bool) -> None:
        state = {"model": self.model.state_dict(), "config": asdict(self.config),
                 "epoch": self.epoch}
        if full:
            state.update(optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                         criterion=self.criterion.state_dict(), scaler=self.scaler.state_dict(),
                         epochs=self.epochs, best=self.best, iterations=self.iterations_done,
                         generator=self.generator.get_state(), torch_rng=torch.get_rng_state(),
                         world_size=self.dist.world_size)
        tmp = self.run_dir / (name + ".tmp")
        torch.save(state, tmp)
        tmp.replace(self.run_dir / name)

    def resume(self) -> bool:
        """Continue from ``last.pt`` if an earlier run of the same parameters (and the same
        number of processes) left one. Rank 0 reads it and hands it to the other processes, so
        they all resume, or none does."""
        file = self.run_dir / C.LAST_CHECKPOINT
        state = None
        if self.dist.is_main and file.is_file():  # on CPU: torch.set_rng_state needs a CPU tensor
            state = torch.load(file, map_location="cpu", weights_only=False)
        state = self.dist.broadcast(state)
        if state is None:
            return False
        stored = TrainConfig(**state["config"])
        mine, theirs = self._comparable(), {k: v for k, v in asdict(stored).items()
                                            if k in self._comparable()}
        if mine != theirs:
            diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
            raise ValueError(f"{file} was written with other parameters {diff}; pass overwrite=True "
                             f"or choose another run_dir")
        written_by = state.get("world_size", 1)
        if written_by != self.dist.world_size:
            raise ValueError(f"{file} was written by {written_by} process(es), this run has "
                             f"{self.dist.world_size}: resume with as many (torchrun "
                             f"--nproc_per_node), or pass overwrite=True")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.criterion.load_state_dict(state["criterion"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.epochs, self.best = state["epoch"], state["epochs"], state["best"]
        self.iterations_done = state["iterations"]
        if self.dist.is_main:  # drop iterations logged after the checkpoint
            history = self.run_dir / C.HISTORY_FILE
            if history.exists():
                rows = pd.read_csv(history)
                rows[rows["iteration"] < self.iterations_done].to_csv(history, index=False)
        return True

    # -- the loop ----------------------------------------------------------------------------
    def pair_scores(self, model: torch.nn.Module | None = None) -> np.ndarray:
        """Cosine similarity ``[n_pairs]`` of each validation pair under ``model`` (default: the
        one being trained); each validation photo is embedded exactly once."""
        rows, a, b = pair_rows(self.data.pairs)
        emb = self.dist.embed_rows(model or self.model, self.images, rows, self.device, self.use_amp)
        self.n_val_images = len(emb)
        return cosine_pair_scores(emb, a, b)

    def evaluate(self) -> dict:
        """EERs on the validation pairs."""
        if self.data.pairs.empty:
            return {}
        scores = self.pair_scores()
        result = kind_eers(self.data.pairs, scores)
        result["eer_mean"] = (result["eer_real"] + result["eer_fake"]) / 2
        result["n_val_images"] = int(self.n_val_images)
        result["similarity_std"] = float(np.std(scores))
        if result["similarity_std"] < COLLAPSED_STD and self.dist.is_main:
            warnings.warn(f"epoch {self.epoch}: the validation similarities have collapsed (std "
                          f"{result['similarity_std']:.2e}); the EER of such tied scores means "
                          f"nothing", stacklevel=2)
        return result

    def _train_step(self, batch_rows: np.ndarray) -> dict:
        cfg = self.config
        rows = torch.as_tensor(self.train_rows[batch_rows])
        images = self.images[rows].to(self.device, non_blocking=True)
        images = cutout(images, self.landmarks[rows].to(self.device), cfg.cutout_part,
                        cfg.cutout_p, self.generator)
        images = random_flip(images, self.generator, cfg.flip_p)
        x = to_model_input(images, self.device, channels_last=self.device.type == "cuda")
        labels, is_fake = self.labels[rows].to(self.device), self.is_fake[rows].to(self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            embeddings = self.net(x)
        loss, logs = self.criterion(embeddings.float(), labels, is_fake)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        logs["lr"] = self.scheduler.get_last_lr()[0]
        return logs

    def _log_iterations(self, rows: list[dict]) -> None:
        if not self.dist.is_main or not rows:
            return
        history = self.run_dir / C.HISTORY_FILE
        pd.DataFrame(rows).to_csv(history, mode="a", header=not history.exists(), index=False)
        for row in rows:
            for key in ("loss", "loss_real", "loss_fake", "loss_head", "dist_pos", "dist_neg",
                        "dist_fake"):
                if key in row and not math.isnan(row[key]):
                    self.writer.add_scalar(f"train/{key}", row[key], row["iteration"])

    def _end_epoch(self, result: dict, seconds: float, n_images: int) -> bool:
        """Record an epoch; returns True when training should stop early."""
        cfg = self.config
        row = {"epoch": self.epoch, **result, "seconds": round(seconds, 3),
               "images_per_second": round(n_images / seconds, 1) if seconds else None}
        self.epochs.append(row)
        improved = self.best is None or row[cfg.select_by] < self.best[cfg.select_by]
        if improved:
            self.best = row
        if self.dist.is_main:
            pd.DataFrame(self.epochs).to_csv(self.run_dir / C.EPOCHS_FILE, index=False)
            for key in ("eer", "eer_real", "eer_fake", "eer_fake_other"):
                if key in row:
                    self.writer.add_scalar(f"val/{key}", row[key], self.epoch)
            if improved:
                self._save(C.BEST_CHECKPOINT, full=False)
            self._save(C.LAST_CHECKPOINT, full=True)
        stale = self.epoch - self.best["epoch"]
        return bool(cfg.patience) and stale >= cfg.patience

    def fit(self) -> dict:
        """Train (resuming if possible), then write ``metrics.json``; returns its content."""
        from torch.utils.tensorboard import SummaryWriter
        from tqdm.auto import tqdm

        cfg = self.config
        started = time.time()
        if self.dist.is_main:
            (self.run_dir / C.CONFIG_FILE).write_text(json.dumps(asdict(cfg), indent=2, default=str))
            self.writer = SummaryWriter(str(self.run_dir / "tb"))
        resumed = self.resume()
        if not resumed:
            if self.dist.is_main:
                (self.run_dir / C.HISTORY_FILE).unlink(missing_ok=True)
            self._end_epoch(self.evaluate(), 0.0, 0)  # epoch 0: before training
        stop = False
        while self.epoch < cfg.epochs and not stop:
            self.epoch += 1
            self.sampler.set_epoch(self.epoch)
            self.model.train()
            t0, logged = time.time(), []
            bar = tqdm(self.sampler, desc=f"epoch {self.epoch}/{cfg.epochs}", leave=False,
                       disable=not (cfg.progress and self.dist.is_main), mininterval=1.0)
            for batch in bar:
                logs = self._train_step(np.asarray(batch))
                logs.update(epoch=self.epoch, iteration=self.iterations_done)
                self.iterations_done += 1
                logged.append(logs)
                bar.set_postfix(loss=f"{logs['loss']:.3f}")
            train_seconds = time.time() - t0
            self._log_iterations(logged)
            result = self.evaluate()
            loss = float(np.mean([r["loss"] for r in logged])) if logged else float("nan")
            result["train_loss"] = self.dist.mean(loss)  # over the processes
            stop = self._end_epoch(result, train_seconds,
                                   len(logged) * cfg.P * cfg.K * self.dist.world_size)
        metrics = self._metrics(time.time() - started, resumed)
        if self.dist.is_main:
            self.writer.close()
            (self.run_dir / C.METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str))
        self.dist.barrier()
        return metrics

    def _metrics(self, seconds: float, resumed: bool) -> dict:
        best = self.best or {}
        keys = ("eer", "eer_real", "eer_fake", "eer_fake_other", "eer_mean")
        trained = [e for e in self.epochs if e["epoch"] > 0]
        return {
            **{k: best.get(k) for k in keys},
            "best_epoch": best.get("epoch"),
            "epochs_run": self.epoch,
            "seconds": round(seconds, 2),
            "train_images_per_second": round(np.mean([e["images_per_second"] for e in trained]), 1)
            if trained else None,
            "resumed": resumed,
            "device": str(self.device),
            "world_size": self.dist.world_size,
            "n_train_images": int(len(self.train_rows)),
            "n_val_images": best.get("n_val_images"),
            "n_val_pairs": int(len(self.data.pairs)),
            "history": self.epochs,
            "params": asdict(self.config),
        }


def train(config: TrainConfig | None = None, **params) -> dict:
    """Train with ``config`` (or keyword parameters of :class:`TrainConfig`); returns the
    content of ``metrics.json``."""
    config = config or TrainConfig.from_dict(params)
    return Trainer(config).fit()

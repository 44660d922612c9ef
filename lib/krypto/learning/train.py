"""Training an embedding model with real/fake-aware metric learning.

``train(TrainConfig(...))`` runs the whole loop and writes into ``run_dir``::

    config.json      the parameters
    history.csv      one row per iteration: losses, batch distances, learning rate
    epochs.csv       one row per epoch (epoch 0: before training): EERs on the validation pairs
    metrics.json     best-epoch eer_real, eer_fake, eer (all kinds), history, parameters
    best.pt          weights of the best epoch (by ``select_by``) with the config
    last.pt          everything needed to resume after an interruption
    tb/              TensorBoard logs

The images are decoded once into a uint8 cache (beside the index), batches are indexed out of
it and augmented on the device, so an epoch costs little more than the model itself. The pieces
live beside this module: the parameters (:mod:`~krypto.learning.config`), checkpoints
(:mod:`~krypto.learning.checkpoint`) and logs (:mod:`~krypto.learning.run_log`).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from krypto import constants as C
from krypto.challenge.heldout import evaluate_heldout
from krypto.data.index import PreparedData, pair_rows, prepare
from krypto.evaluation.metrics import cosine_pair_scores, kind_eers
from krypto.files import write_json
from krypto.learning.augment import cutout, random_flip
from krypto.learning.checkpoint import load_model, read_checkpoint, save_checkpoint
from krypto.learning.config import TrainConfig
from krypto.learning.device import pick_device, seed_everything, set_threads
from krypto.learning.distributed import Distributed
from krypto.learning.embed import cached_images, to_model_input
from krypto.learning.fake_head import choose_fusion, pair_similarity
from krypto.learning.losses import VerificationLoss
from krypto.learning.models import build_model
from krypto.learning.run_log import RunLog
from krypto.learning.sampler import IdentityBatchSampler
from krypto.run_lock import run_lock

__all__ = [
    "CollapsedEmbeddingsError",
    "TrainConfig",
    "Trainer",
    "train",
    "load_model",
    "initial_model",
    "pick_device",
    "set_threads",
]

COLLAPSED_STD = 1e-3  # validation similarities spread less than this: every photo embeds alike
CALIBRATION_IMAGES = 512  # training photos that set a random model's normalisation statistics
CALIBRATION_BATCH = 64  # in batches of this size, whatever P, K and the number of processes


class CollapsedEmbeddingsError(RuntimeError):
    """Training left every photo with almost the same embedding: the run stops, since the EER
    of tied scores is chance, whatever its value."""


def initial_model(config: TrainConfig):
    """The model as training starts (same seed, same weights): 'before training'."""
    seed_everything(config.seed)
    return build_model(
        config.backbone, config.pretrained_weights(), config.embedding_dim, config.fake_head > 0
    )


class Trainer:
    """One training run; see the module docstring for what it writes.

    Public interface: :meth:`fit` (train, resuming or reusing a finished run), :meth:`train_step`
    (one optimisation step on a batch of training rows), :meth:`evaluate` (EERs of the model on
    the validation pairs) and :meth:`pair_scores`."""

    def __init__(
        self,
        config: TrainConfig,
        prepared: PreparedData | None = None,
        dist: Distributed | None = None,
    ):
        config.validate()
        self.config = config
        self.dist = dist or Distributed.from_environment(config.device)
        set_threads(config.num_threads)
        self.device = self.dist.device if self.dist.enabled else pick_device(config.device)
        self.run_dir = config.resolved_run_dir()
        self.finished = self._finished_metrics()
        seed_everything(config.seed)

        progress = config.progress and self.dist.is_main

        def load():  # rank 0 writes the caches first, the other processes then read them
            data = prepared or prepare(**config.prepare_args(), progress=progress)
            return data, cached_images(
                data.index[C.PATH], config.image_size, data.folder, progress=progress
            )

        self.data, self.images = self.dist.main_first(load)
        index = self.data.index
        self.landmarks = torch.from_numpy(index[list(C.LANDMARK_COLUMNS)].to_numpy(np.float32))
        self.labels = torch.tensor(index[C.LABEL].to_numpy(), dtype=torch.long)
        self.is_fake = torch.tensor(index[C.IS_FAKE].to_numpy(), dtype=torch.bool)
        self.train_rows = np.flatnonzero(index[C.SPLIT].to_numpy() == C.TRAIN)
        self.val_rows, self.val_a, self.val_b = pair_rows(self.data.pairs)
        train_labels = index[C.LABEL].to_numpy()[self.train_rows]
        n_ids = len(np.unique(train_labels))
        if config.P * self.dist.world_size > n_ids:
            raise ValueError(
                f"P={config.P} identities per batch (x {self.dist.world_size} "
                f"processes), but the training split has {n_ids} identities: lower P"
            )
        self.sampler = IdentityBatchSampler(
            train_labels,
            index[C.IS_FAKE].to_numpy()[self.train_rows],
            config.P,
            config.K,
            config.n_fake,
            config.seed,
            self.dist.rank,
            self.dist.world_size,
        )

        self.model = build_model(
            config.backbone, config.pretrained_weights(), config.embedding_dim, config.fake_head > 0
        )
        self.model.to(self.device)
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.criterion = VerificationLoss(
            config.loss_config(),
            self.model.embedding_dim,
            int(index[C.LABEL].max()) + 1,
            self.generator,
        ).to(self.device)
        self.net = self.dist.wrap(self.model)
        self.optimizer = self._optimizer()
        total = config.epochs * max(1, len(self.sampler))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            (lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
            if config.schedule == "cosine"
            else (lambda step: 1.0),
        )
        self.use_amp = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.epoch = 0  # epochs finished
        self.epochs: list[dict] = []
        self.best: dict | None = None
        self.iterations_done = 0
        self.log = RunLog(self.run_dir, enabled=self.dist.is_main)

    def _optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        params = list(self.model.parameters()) + list(self.criterion.parameters())
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)

    # -- run folder --------------------------------------------------------------------------
    def _finished_metrics(self) -> dict | None:
        """The metrics of a finished run in ``run_dir`` with the same training parameters (it
        is reused), or None; a finished run with other parameters is refused."""
        file = self.run_dir / C.METRICS_FILE
        if self.config.overwrite or not file.is_file():
            return None
        metrics = json.loads(file.read_text())
        theirs = TrainConfig(**metrics["params"]).training_parameters()
        mine = self.config.training_parameters()
        longer = ("epochs", "patience")  # resumed from last.pt to train longer (or stop sooner)
        if {k: v for k, v in theirs.items() if k not in longer} == {
            k: v for k, v in mine.items() if k not in longer
        } and theirs != mine:
            return None
        if theirs != mine:
            diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
            raise FileExistsError(
                f"{self.run_dir} holds a finished run with other parameters {diff} "
                f"(finished, now); pass overwrite=True to replace it, or choose another run_dir"
            )
        return metrics

    def _start_fresh(self) -> None:
        """Remove what an earlier run left in ``run_dir`` (overwrite=True)."""
        for name in (
            C.METRICS_FILE,
            C.LAST_CHECKPOINT,
            C.BEST_CHECKPOINT,
            C.HISTORY_FILE,
            C.EPOCHS_FILE,
        ):
            (self.run_dir / name).unlink(missing_ok=True)

    # -- checkpoints -------------------------------------------------------------------------
    def _save(self, name: str, full: bool) -> None:
        state = {
            "model": self.model.state_dict(),
            "config": asdict(self.config),
            "epoch": self.epoch,
        }
        if full:
            state.update(
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                criterion=self.criterion.state_dict(),
                scaler=self.scaler.state_dict(),
                epochs=self.epochs,
                best=self.best,
                iterations=self.iterations_done,
                generator=self.generator.get_state(),
                torch_rng=torch.get_rng_state(),
                world_size=self.dist.world_size,
            )
        save_checkpoint(self.run_dir / name, state)

    def _resume(self) -> bool:
        """Continue from ``last.pt`` if an earlier run of the same parameters (and the same
        number of processes) left one. Rank 0 reads it and hands it to the other processes, so
        they all resume, or none does."""
        file = self.run_dir / C.LAST_CHECKPOINT
        state = None
        if self.dist.is_main and file.is_file():  # on CPU: torch.set_rng_state needs a CPU tensor
            state = read_checkpoint(file)
        state = self.dist.broadcast(state)
        if state is None:
            return False
        stored = TrainConfig(**state["config"])
        skip = ("epochs", "patience")  # a run may be resumed to train longer
        mine = {k: v for k, v in self.config.training_parameters().items() if k not in skip}
        theirs = {k: v for k, v in stored.training_parameters().items() if k not in skip}
        if mine != theirs:
            diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
            raise ValueError(
                f"{file} was written with other parameters {diff}; pass overwrite=True "
                f"or choose another run_dir"
            )
        written_by = state.get("world_size", 1)
        if written_by != self.dist.world_size:
            raise ValueError(
                f"{file} was written by {written_by} process(es), this run has "
                f"{self.dist.world_size}: resume with as many (torchrun "
                f"--nproc_per_node), or pass overwrite=True"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.criterion.load_state_dict(state["criterion"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.epochs, self.best = state["epoch"], state["epochs"], state["best"]
        self.iterations_done = state["iterations"]
        return True

    # -- evaluation --------------------------------------------------------------------------
    def _val_embeddings(self, model: torch.nn.Module) -> torch.Tensor:
        return self.dist.embed_rows(model, self.images, self.val_rows, self.device, self.use_amp)

    def pair_scores(self, model: torch.nn.Module | None = None) -> np.ndarray:
        """The score ``[n_pairs]`` of each validation pair under ``model`` (default: the one
        being trained): the cosine similarity, fused with the model's real/fake head when it
        has one; each validation photo is embedded exactly once."""
        model = model or self.model
        return pair_similarity(model, self._val_embeddings(model), self.val_a, self.val_b)

    def _choose_fusion(self, emb: torch.Tensor, cos: np.ndarray) -> dict:
        """With a real/fake head: choose its fusion on the validation pairs (kept in the head,
        so the epoch's checkpoint scores as validated); the head's own quality as logs."""
        head = self.model.fake_head
        p = head.probability(emb).numpy()
        fusion = choose_fusion(self.data.pairs, cos, p[self.val_a], p[self.val_b])
        head.set_fusion(fusion)
        fake = self.is_fake[torch.as_tensor(self.val_rows)].numpy()
        auc = roc_auc_score(fake, p) if 0 < fake.sum() < len(fake) else float("nan")
        return {
            "eer_cosine": kind_eers(self.data.pairs, cos)["eer"],
            "fake_auc": float(auc),
            "fusion_rule": fusion.rule,
            "fusion_weight": fusion.weight,
        }

    def evaluate(self) -> dict:
        """EERs of the model on the validation pairs, with the spread of their similarities
        (and, with a real/fake head, the fusion chosen on them)."""
        if self.data.pairs.empty:
            return {}
        emb = self._val_embeddings(self.model)
        cos = cosine_pair_scores(emb, self.val_a, self.val_b)
        fused = self._choose_fusion(emb, cos) if self.model.fake_head is not None else {}
        scores = pair_similarity(self.model, emb, self.val_a, self.val_b)
        result = kind_eers(self.data.pairs, scores)
        result["eer_mean"] = (result["eer_real"] + result["eer_fake"]) / 2
        result.update(fused)
        result["n_val_images"] = len(self.val_rows)
        result["similarity_std"] = float(np.std(cos))
        if result["similarity_std"] < COLLAPSED_STD and self.dist.is_main and self.epoch == 0:
            warnings.warn(
                f"epoch 0: the validation similarities have collapsed before training (std "
                f"{result['similarity_std']:.2e}); the EER of such tied scores means "
                f"nothing",
                stacklevel=2,
            )
        return result

    def _check_not_collapsed(self, row: dict) -> None:
        """Stop the run when a trained epoch left the embeddings collapsed (see
        :class:`CollapsedEmbeddingsError`); its epochs.csv and checkpoints stay for a look."""
        std = row.get("similarity_std")
        if self.epoch == 0 or std is None or std >= COLLAPSED_STD:
            return
        cfg = self.config
        margin = "soft margin" if cfg.margin is None else f"margin {cfg.margin}"
        other_mining = "random" if cfg.mining == "hard" else "hard"
        raise CollapsedEmbeddingsError(
            f"{self.run_dir}: after epoch {self.epoch} the validation similarities spread by "
            f"{std:.1e} only (below {COLLAPSED_STD:g}): every photo embeds alike, and the "
            f"training loss is {row.get('train_loss', float('nan')):.3f} ({margin}). Try a "
            f"lower learning rate (lr={cfg.lr:g} now, e.g. lr={cfg.lr / 3:.1g}), "
            f"schedule='cosine', mining={other_mining!r}, or a pretrained backbone "
            f"(pretrained=<a finished run folder>), with overwrite=True to start afresh; see "
            f"epochs.csv in the run folder"
        )

    @torch.no_grad()
    def calibrate_normalisation(self) -> None:
        """Set the normalisation statistics of a randomly initialised model from training photos
        (no weight changes): with the default statistics (mean 0, variance 1) a random network in
        eval mode embeds every photo alike, so epoch 0 ("before training") would show a collapse
        that training never sees (its batch statistics are the data's). Pretrained models keep
        theirs. The batches come from their own seeded generator, and training normalises by
        batch statistics: the weights train exactly as without it; the running statistics that
        evaluation uses start from the data instead of (0, 1)."""
        norms = [
            m for m in self.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        ]
        if self.config.pretrained is not False or not norms or not len(self.train_rows):
            return
        rng = np.random.default_rng(self.config.seed)
        rows = rng.permutation(self.train_rows)[:CALIBRATION_IMAGES]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the calibration batches
        self.model.train()
        for start in range(0, len(rows), CALIBRATION_BATCH):
            part = torch.as_tensor(rows[start : start + CALIBRATION_BATCH])
            if len(part) > 1:
                self.model(to_model_input(self.images[part], self.device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.model.eval()

    # -- the loop ----------------------------------------------------------------------------
    def train_step(self, batch_rows: np.ndarray) -> dict:
        """One optimisation step on the training rows at positions ``batch_rows`` ``[B]`` of
        the training split; returns the step's logs (losses, batch distances, lr)."""
        cfg = self.config
        rows = torch.as_tensor(self.train_rows[batch_rows])
        images = torch.as_tensor(self.images[rows]).to(self.device, non_blocking=True)
        images = cutout(
            images,
            self.landmarks[rows].to(self.device),
            cfg.cutout_part,
            cfg.cutout_p,
            self.generator,
        )
        images = random_flip(images, self.generator, cfg.flip_p)
        x = to_model_input(images, self.device, channels_last=self.device.type == "cuda")
        labels, is_fake = self.labels[rows].to(self.device), self.is_fake[rows].to(self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            embeddings = self.net(x)
        head = self.model.fake_head
        fake_logits = head(embeddings.float()) if head is not None else None
        loss, logs = self.criterion(embeddings.float(), labels, is_fake, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        logs["lr"] = self.scheduler.get_last_lr()[0]
        return logs

    def _train_epoch(self) -> list[dict]:
        from tqdm.auto import tqdm

        cfg = self.config
        self.sampler.set_epoch(self.epoch)
        self.model.train()
        logged = []
        bar = tqdm(
            self.sampler,
            desc=f"epoch {self.epoch}/{cfg.epochs}",
            leave=False,
            disable=not (cfg.progress and self.dist.is_main),
            mininterval=1.0,
        )
        for batch in bar:
            logs = self.train_step(np.asarray(batch))
            logs.update(epoch=self.epoch, iteration=self.iterations_done)
            self.iterations_done += 1
            logged.append(logs)
            bar.set_postfix(loss=f"{logs['loss']:.3f}")
        return logged

    def _end_epoch(self, result: dict, seconds: float, n_images: int) -> bool:
        """Record an epoch (logs, then checkpoints); returns True when training should stop
        early."""
        cfg = self.config
        row = {
            "epoch": self.epoch,
            **result,
            "seconds": round(seconds, 3),
            "images_per_second": round(n_images / seconds, 1) if seconds else None,
        }
        self.epochs.append(row)
        improved = self.best is None or row[cfg.select_by] < self.best[cfg.select_by]
        if improved:
            self.best = row
        if self.dist.is_main:
            self.log.write_epochs(self.epochs)
            if improved:
                self._save(C.BEST_CHECKPOINT, full=False)
            self._save(C.LAST_CHECKPOINT, full=True)
        self._check_not_collapsed(row)
        stale = self.epoch - self.best["epoch"]
        return bool(cfg.patience) and stale >= cfg.patience

    def fit(self) -> dict:
        """Train (resuming if possible), then write ``metrics.json``; returns its content. A
        finished run of the same parameters in ``run_dir`` is returned as it is, untrained."""
        if self.finished is not None:
            return self.finished
        if not self.dist.is_main:
            return self._fit()
        with run_lock(self.run_dir):
            return self._fit()

    def _fit(self) -> dict:
        cfg = self.config
        started = time.time()
        if self.dist.is_main:
            if cfg.overwrite:
                self._start_fresh()
            write_json(self.run_dir / C.CONFIG_FILE, asdict(cfg), default=str)
        resumed = self._resume()
        self.log.open(self.iterations_done if resumed else None)
        if not resumed:
            self.calibrate_normalisation()
            self._end_epoch(self.evaluate(), 0.0, 0)  # epoch 0: before training
        stop = False
        while self.epoch < cfg.epochs and not stop:
            self.epoch += 1
            t0 = time.time()
            logged = self._train_epoch()
            train_seconds = time.time() - t0
            self.log.add_iterations(logged)
            result = self.evaluate()
            loss = float(np.mean([r["loss"] for r in logged])) if logged else float("nan")
            result["train_loss"] = self.dist.mean(loss)  # over the processes
            stop = self._end_epoch(
                result, train_seconds, len(logged) * cfg.P * cfg.K * self.dist.world_size
            )
        metrics = self._metrics(time.time() - started, resumed)
        if self.dist.is_main:
            self.log.close()
            # the held-out test, scored as a submission is; metrics.json last: it marks the end
            metrics["test"] = evaluate_heldout(
                self.run_dir, self.data.root, self.data.folder, device=str(self.device)
            )
            write_json(self.run_dir / C.METRICS_FILE, metrics, default=str)
        self.dist.barrier()
        return metrics

    def _metrics(self, seconds: float, resumed: bool) -> dict:
        best = self.best or {}
        keys = ("eer", "eer_real", "eer_fake", "eer_fake_other", "eer_mean")
        head = ("eer_cosine", "fake_auc", "fusion_rule", "fusion_weight")  # with a fake head
        trained = [e for e in self.epochs if e["epoch"] > 0]
        return {
            **{k: best.get(k) for k in keys},
            **{k: best[k] for k in head if k in best},
            "best_epoch": best.get("epoch"),
            "epochs_run": self.epoch,
            "seconds": round(seconds, 2),
            "train_images_per_second": round(np.mean([e["images_per_second"] for e in trained]), 1)
            if trained
            else None,
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

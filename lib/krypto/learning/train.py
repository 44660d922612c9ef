"""Training an embedding model with real/fake-aware metric learning: ``train(TrainConfig(...))``
runs the whole loop and writes the run folder (config.json, history.csv, epochs.csv with the
validation EERs of every epoch, epoch 0 before training, metrics.json, best.pt, last.pt to resume
from, tb/; :mod:`krypto.run_folder` owns them). The images are decoded once into a uint8 cache
(beside the index), batches are indexed out of it and augmented on the device, so an epoch costs
little more than the model itself. What follows training (the held-out test, the figures, the
results file) is :func:`krypto.pipeline.after_training.finish_training`.
"""

import time
import warnings
from dataclasses import asdict

import numpy as np
import torch
from tqdm.auto import tqdm

from krypto import constants as C
from krypto import run_folder as RF
from krypto.data.alignment import crop_landmarks, index_landmarks
from krypto.data.index import PreparedData, pair_rows, prepare
from krypto.learning.augment import cutout, random_flip
from krypto.learning.checkpoint import read_checkpoint, save_checkpoint
from krypto.learning.config import TrainConfig
from krypto.learning.device import mixed_precision, pick_device, seed_everything, set_threads
from krypto.learning.distributed import Distributed
from krypto.learning.embed import cached_images, to_model_input
from krypto.learning.fusion import pair_similarity
from krypto.learning.losses import VerificationLoss
from krypto.learning.model_health import COLLAPSED_STD, calibrate_normalisation, check_not_collapsed
from krypto.learning.models import build_model, memory_format
from krypto.learning.optim import build_optimizer, build_scheduler
from krypto.learning.run_log import RunLog, run_summary
from krypto.learning.sampler import IdentityBatchSampler
from krypto.learning.validation import validation_eers
from krypto.run_lock import run_lock

LONGER = ("epochs", "patience")  # a finished run resumes from last.pt to train longer (or less)
RESUMED_PARTS = ("optimizer", "scheduler", "criterion", "scaler")  # state dicts of last.pt
RUN_FILES = (  # what an earlier run leaves in the run folder (removed by overwrite=True)
    C.METRICS_FILE,
    C.TEST_METRICS_FILE,
    C.LAST_CHECKPOINT,
    C.BEST_CHECKPOINT,
    C.HISTORY_FILE,
    C.EPOCHS_FILE,
)


class Trainer:
    """One training run (its files: see the module docstring); :meth:`fit` trains or resumes."""

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
        self._load_data(prepared)
        self._build_training()
        self.epoch = 0  # epochs finished
        self.epochs: list[dict] = []
        self.best: dict | None = None
        self.iterations_done = 0
        self.log = RunLog(self.run_dir, enabled=self.dist.is_main)

    def _load_data(self, prepared: PreparedData | None) -> None:
        """The data, its decoded images and the training tensors; rank 0 writes the caches first."""
        config, dist = self.config, self.dist
        progress = config.progress and dist.is_main

        def load():
            data = prepared or prepare(**config.prepare_args(), progress=progress)
            points = index_landmarks(data.index) if config.align else None
            return data, cached_images(
                data.index[C.PATH], config.input_size, data.folder, progress, points
            )

        self.data, self.images = dist.main_first(load)
        index = self.data.index
        self.landmarks = torch.from_numpy(crop_landmarks(index, config.align))
        self.labels = torch.tensor(index[C.LABEL].to_numpy(), dtype=torch.long)
        self.is_fake = torch.tensor(index[C.IS_FAKE].to_numpy(), dtype=torch.bool)
        self.train_rows = np.flatnonzero(index[C.SPLIT].to_numpy() == C.TRAIN)
        self.val_rows, self.val_a, self.val_b = pair_rows(self.data.pairs)
        labels, fake = (index[c].to_numpy()[self.train_rows] for c in (C.LABEL, C.IS_FAKE))
        self.sampler = IdentityBatchSampler(
            labels, fake, config.P, config.K, config.n_fake, config.seed, dist.rank, dist.world_size
        )

    def _build_training(self) -> None:
        """The model, the loss, the optimiser and its schedule, as the seed draws them."""
        config, index = self.config, self.data.index
        self.model = build_model(pretrained=config.pretrained_weights(), **config.model_args())
        self.memory_format = memory_format(config.backbone, self.device)
        self.model.to(self.device, memory_format=self.memory_format)
        self.generator = torch.Generator().manual_seed(config.seed)
        n_classes = int(index[C.LABEL].max()) + 1
        self.criterion = VerificationLoss(
            config.loss_config(), self.model.embedding_dim, n_classes, self.generator
        ).to(self.device)
        self.net = self.dist.wrap(self.model)
        self.optimizer = build_optimizer(self._parameter_groups(), config)
        total = config.epochs * max(1, len(self.sampler))
        self.scheduler = build_scheduler(self.optimizer, config, total)
        self.use_amp, scaled = mixed_precision(config.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=scaled)

    def _parameter_groups(self) -> list[dict]:
        """The model's and loss's parameters; a fake detector's apart, at ``lr_scale`` x the lr."""
        detector = self.model.detector
        own = {id(p) for p in detector.parameters()} if detector is not None else set()
        rest = [p for p in self.model.parameters() if id(p) not in own]
        groups = [{"params": rest + list(self.criterion.parameters())}]
        if detector is not None:
            rate = self.config.lr * detector.lr_scale
            groups.append({"params": list(detector.parameters()), "lr": rate})
        return groups

    def _finished_metrics(self) -> dict | None:
        """A same-parameter finished run's metrics (reused), or None; other parameters: refused."""
        if self.config.overwrite or not RF.is_finished(self.run_dir):
            return None
        diff = self.config.differences(RF.read_config(self.run_dir))
        if diff and set(diff) <= set(LONGER):
            return None
        if diff:
            raise FileExistsError(
                f"{self.run_dir} holds a finished run with other parameters {diff} "
                f"(finished, now); pass overwrite=True to replace it, or choose another run_dir"
            )
        return RF.read_metrics(self.run_dir)

    def _start_fresh(self) -> None:
        """Remove what an earlier run left in ``run_dir``: all of it with overwrite=True, else
        the records of a finished run that now trains longer (it is no longer finished)."""
        names = RUN_FILES if self.config.overwrite else ()  # an unfinished run keeps its files
        if not names and RF.is_finished(self.run_dir):  # a finished run that trains longer
            names = (C.METRICS_FILE, C.TEST_METRICS_FILE)
        for name in names:
            (self.run_dir / name).unlink(missing_ok=True)

    def _save(self, name: str, full: bool) -> None:
        state = {"model": self.model.state_dict(), "config": asdict(self.config)}
        state["epoch"] = self.epoch
        if full:
            state.update(
                {part: getattr(self, part).state_dict() for part in RESUMED_PARTS},
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
        # read on the CPU: torch.set_rng_state needs a CPU tensor
        state = read_checkpoint(file) if self.dist.is_main and file.is_file() else None
        state = self.dist.broadcast(state)
        if state is None:
            return False
        diff = self.config.differences(state["config"], ignore=LONGER)
        if diff:
            raise ValueError(
                f"{file} was written with other parameters {diff}; pass overwrite=True "
                f"or choose another run_dir"
            )
        if (written_by := state.get("world_size", 1)) != self.dist.world_size:
            raise ValueError(
                f"{file} was written by {written_by} process(es), this run has "
                f"{self.dist.world_size}: resume with as many (torchrun "
                f"--nproc_per_node), or pass overwrite=True"
            )
        for part in ("model", *RESUMED_PARTS):
            getattr(self, part).load_state_dict(state[part])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.epochs, self.best = state["epoch"], state["epochs"], state["best"]
        self.iterations_done = state["iterations"]
        return True

    def _val_embeddings(self, model: torch.nn.Module) -> torch.Tensor:
        return self.dist.embed_rows(model, self.images, self.val_rows, self.device, self.use_amp)

    def pair_scores(self, model: torch.nn.Module | None = None) -> np.ndarray:
        """The score ``[n_pairs]`` of each validation pair under ``model`` (default: the one
        being trained): the cosine similarity, fused with the model's real/fake head when it
        has one; each validation photo is embedded exactly once."""
        model = model or self.model
        return pair_similarity(model, self._val_embeddings(model), self.val_a, self.val_b)

    def evaluate(self) -> dict:
        """Validation EERs, similarity spread (and with a detector, the fusion chosen on them)."""
        if self.data.pairs.empty:
            return {}
        emb = self._val_embeddings(self.model)
        fake = self.is_fake[torch.as_tensor(self.val_rows)].numpy()
        result = validation_eers(self.model, emb, self.data.pairs, self.val_a, self.val_b, fake)
        if result["similarity_std"] < COLLAPSED_STD and self.dist.is_main and self.epoch == 0:
            warnings.warn(
                f"epoch 0: the validation similarities have collapsed before training (std "
                f"{result['similarity_std']:.2e}); the EER of such tied scores means nothing",
                stacklevel=2,
            )
        return result

    def calibrate_normalisation(self) -> None:
        """Set a random model's normalisation statistics from training photos (a pretrained one
        keeps its own): :func:`~krypto.learning.model_health.calibrate_normalisation`."""
        if self.config.pretrained is False:
            calibrate_normalisation(
                self.model, self.images, self.train_rows, self.config.seed, self.device
            )

    def train_step(self, batch_rows: np.ndarray) -> dict:
        """One optimisation step on training rows at positions ``batch_rows`` ``[B]``; its logs."""
        cfg = self.config
        rows = torch.as_tensor(self.train_rows[batch_rows])
        images = torch.as_tensor(self.images[rows]).to(self.device, non_blocking=True)
        landmarks = self.landmarks[rows].to(self.device)
        images = cutout(images, landmarks, cfg.cutout_part, cfg.cutout_p, self.generator)
        images = random_flip(images, self.generator, cfg.flip_p)
        x = to_model_input(images, self.device, self.memory_format)
        labels, is_fake = self.labels[rows].to(self.device), self.is_fake[rows].to(self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            outputs = self.net(x).float()
        dim = self.model.embedding_dim
        fake_logits = outputs[:, dim] if self.model.detector is not None else None
        loss, logs = self.criterion(outputs[:, :dim], labels, is_fake, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        logs["lr"] = self.scheduler.get_last_lr()[0]
        return logs

    def _train_epoch(self) -> list[dict]:
        cfg = self.config
        self.sampler.set_epoch(self.epoch)
        self.model.train()
        logged = []
        desc, show = f"epoch {self.epoch}/{cfg.epochs}", cfg.progress and self.dist.is_main
        bar = tqdm(self.sampler, desc=desc, leave=False, disable=not show, mininterval=1.0)
        for batch in bar:
            logs = self.train_step(np.asarray(batch))
            logs.update(epoch=self.epoch, iteration=self.iterations_done)
            self.iterations_done += 1
            logged.append(logs)
            bar.set_postfix(loss=f"{logs['loss']:.3f}")
        return logged

    def _end_epoch(self, result: dict, seconds: float, n_images: int) -> bool:
        """Record an epoch (logs, then checkpoints); True when training should stop early."""
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
        check_not_collapsed(row, cfg, self.run_dir)
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
            self._start_fresh()
            RF.write_config(self.run_dir, asdict(cfg))
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
            n_images = len(logged) * cfg.P * cfg.K * self.dist.world_size
            stop = self._end_epoch(result, train_seconds, n_images)
        metrics = run_summary(
            self.epochs,
            self.best,
            time.time() - started,
            resumed=resumed,
            device=str(self.device),
            world_size=self.dist.world_size,
            n_train_images=int(len(self.train_rows)),
            n_val_pairs=int(len(self.data.pairs)),
        )
        if self.dist.is_main:
            self.log.close()
            RF.write_metrics(self.run_dir, metrics)  # last: it marks the run finished
        self.dist.barrier()
        return metrics


def train(config: TrainConfig | None = None, **params) -> dict:
    """Train with ``config`` (or :class:`TrainConfig`'s parameters); metrics.json's content."""
    config = config or TrainConfig.from_dict(params)
    return Trainer(config).fit()

"""The references the training loop is measured against: the seed's pipeline re-implemented (a
PIL Dataset decoding every photo on every access, a ``DataLoader``, the miner looping over the
batch in Python of :mod:`.miner`) and the compute bound (the model alone on an in-memory batch).

Both are built from a :class:`~krypto.learning.config.TrainConfig` and the prepared data set,
the trainer's own inputs, so they share its model class, optimizer, batch shape and batches
without reaching into a trainer."""

from __future__ import annotations

import random

import numpy as np
import torch
from oml.losses import TripletLoss
from PIL import Image
from torchvision import transforms

from krypto import constants as C
from krypto.bench.common import clock, seconds
from krypto.bench.miner import python_loop_quadruplets
from krypto.learning.device import pick_device
from krypto.learning.models import IMAGENET_MEAN, IMAGENET_STD, build_model
from krypto.learning.optim import build_optimizer
from krypto.learning.sampler import IdentityBatchSampler


def training_rows(prepared) -> np.ndarray:
    """Rows of the prepared index in the training split (what the trainer samples from)."""
    return np.flatnonzero(prepared.index[C.SPLIT].to_numpy() == C.TRAIN)


def training_batches(config, prepared, seed: int) -> tuple:
    """The training rows' labels and fake flags, and the trainer's sampler of P x K batches."""
    rows = training_rows(prepared)
    labels, is_fake = (prepared.index[c].to_numpy()[rows] for c in (C.LABEL, C.IS_FAKE))
    sampler = IdentityBatchSampler(labels, is_fake, config.P, config.K, config.n_fake, seed)
    return labels, is_fake, sampler


class SeedDataset(torch.utils.data.Dataset):
    """The seed's dataset: every access opens the JPEG with PIL, converts, resizes, flips and
    normalises it (torchvision transforms); ``(image, label, is_fake)``."""

    def __init__(self, paths, labels, is_fake, image_size: int):
        self.paths, self.labels, self.is_fake = list(paths), list(labels), list(is_fake)
        self.transform = transforms.Compose(
            [
                transforms.Resize((image_size, image_size)),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as img:
            x = self.transform(img.convert("RGB"))
        return x, int(self.labels[i]), bool(self.is_fake[i])


class SeedQuadrupletLoss(torch.nn.Module):
    """The quadruplet loss of :class:`krypto.learning.losses.VerificationLoss` (same triplet
    terms, same margin and lambda) over tuples of the Python-loop miner."""

    def __init__(self, margin=0.2, lam: float = 1.0, strategy: str = "random", seed: int = 0):
        super().__init__()
        self.triplet = TripletLoss(margin=margin, reduction="mean")
        self.lam, self.strategy, self.rng = lam, strategy, random.Random(seed)

    def forward(self, embeddings, labels, is_fake):
        e = torch.nn.functional.normalize(embeddings.float(), dim=1)
        with torch.no_grad():
            dist = torch.cdist(e, e)
        a, p, n, f = python_loop_quadruplets(labels, is_fake, dist, self.strategy, self.rng)
        if len(a) == 0:
            return e.sum() * 0.0
        return self.triplet(e[a], e[p], e[n]) + self.lam * self.triplet(e[a], e[p], e[f])


class _Training:
    """A run's model class (trained from scratch), optimizer and AMP on its device; one step."""

    def __init__(self, config, seed: int = 0):
        self.device = pick_device(config.device)
        self.use_amp = config.amp and self.device.type == "cuda"
        torch.manual_seed(seed)
        self.model = build_model(config.backbone, False, config.embedding_dim).to(self.device)
        self.model.train()
        self.optimizer = build_optimizer(self.model.parameters(), config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def step(self, forward, loss) -> torch.Tensor:
        """One optimizer step of ``loss`` on the embeddings ``forward()`` gives."""
        with torch.autocast(self.device.type, enabled=self.use_amp):
            e = forward()
        value = loss(e)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(value).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value


class ComputeBound(_Training):
    """Forward + backward + optimizer step of a run's model class and optimizer on an
    in-memory float batch of its shape: what the training loop cannot beat."""

    def __init__(self, config, seed: int = 0):
        super().__init__(config, seed)
        size = (config.P * config.K, 3, config.image_size, config.image_size)
        self.x = torch.rand(size, device=self.device)
        if self.device.type == "cuda":  # channels_last, as the trainer on CUDA
            self.model = self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)

    def run(self, n_steps: int) -> float:
        def step():
            self.step(lambda: self.model(self.x), lambda e: e.float().pow(2).mean())

        return seconds(step, self.device, n_steps)


class SeedPipeline(_Training):
    """The seed's training loop on the training rows of ``prepared`` with the same P x K
    batches, backbone, optimizer and loss as a run of ``config``; :meth:`run` trains on
    ``n_batches`` batches."""

    def __init__(self, config, prepared, seed: int = 0):
        super().__init__(config, seed)
        labels, is_fake, self.sampler = training_batches(config, prepared, seed)
        paths = prepared.index[C.PATH].to_numpy()[training_rows(prepared)]
        dataset = SeedDataset(paths, labels, is_fake, config.image_size)
        self.loader = torch.utils.data.DataLoader(dataset, batch_sampler=self.sampler)
        self.loss = SeedQuadrupletLoss(config.margin, config.lam, config.mining, seed)
        self.epoch = 0

    def run(self, n_batches: int) -> float:
        """Train on ``n_batches`` batches (more epochs of the sampler if needed); seconds."""
        done, t0 = 0, clock(self.device)
        while done < n_batches:
            self.epoch += 1
            self.sampler.set_epoch(self.epoch)
            for x, labels, is_fake in self.loader:
                x, labels, is_fake = (t.to(self.device) for t in (x, labels, is_fake))
                # the seed normalised in the transform: the model's own normalisation is skipped
                forward = lambda: self.model.head(self.model.backbone(x))  # noqa: B023
                self.step(forward, lambda e: self.loss(e, labels, is_fake)).item()  # noqa: B023
                done += 1
                if done >= n_batches:
                    break
        return clock(self.device) - t0

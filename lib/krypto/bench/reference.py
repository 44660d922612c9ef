"""The references the training loop is measured against: the seed's pipeline re-implemented (a
PIL Dataset decoding every photo on every access, a ``DataLoader``, a miner looping over the
batch in Python) and the compute bound (the model alone on an in-memory batch).

Both are built from a :class:`krypto.learning.train.TrainConfig` and the prepared data set, the
trainer's own inputs, so they share its model class, optimizer settings, batch shape and
batches without reaching into a trainer."""

from __future__ import annotations

import random

import numpy as np
import torch

from krypto import constants as C
from krypto.bench.common import clock


def python_loop_quadruplets(
    labels,
    is_fake,
    dist,
    strategy: str = "random",
    rng: random.Random | None = None,
    lists: bool = False,
):
    """Reference miner, as the seed wrote it: for each real anchor, Python loops over the batch
    build the lists of its real positives, real negatives and fakes of its identity; one of each
    is picked (``random``: uniformly with ``rng``; ``hard``: farthest positive, nearest negative,
    nearest fake). O(B^2) interpreted steps.

    With ``lists=False`` it reads the batch's tensors element by element (what the seed did);
    ``lists=True`` converts them to Python lists first (the fastest a Python loop gets). Same
    rules and return value as :func:`krypto.learning.miner.mine_quadruplets`: ``(a, p, n, f)`` long
    tensors on the device of ``labels``."""
    device = labels.device if isinstance(labels, torch.Tensor) else torch.device("cpu")
    if lists:
        labels, is_fake, dist = (
            x.tolist() if isinstance(x, torch.Tensor) else x for x in (labels, is_fake, dist)
        )
    rng = rng or random.Random(0)
    out = ([], [], [], [])
    size = len(labels)
    for i in range(size):
        if is_fake[i]:
            continue
        pos, neg, fake = [], [], []
        for j in range(size):
            if labels[j] == labels[i]:
                if is_fake[j]:
                    fake.append(j)
                elif j != i:
                    pos.append(j)
            elif not is_fake[j]:
                neg.append(j)
        if not (pos and neg and fake):
            continue
        row = dist[i]
        if strategy == "hard":
            p = max(pos, key=lambda j: row[j])
            n = min(neg, key=lambda j: row[j])
            f = min(fake, key=lambda j: row[j])
        elif strategy == "random":
            p, n, f = rng.choice(pos), rng.choice(neg), rng.choice(fake)
        else:
            raise ValueError(f"unknown mining strategy {strategy!r}")
        for column, value in zip(out, (i, p, n, f)):
            column.append(value)
    return tuple(torch.tensor(column, dtype=torch.long, device=device) for column in out)


def device_of(config) -> torch.device:
    """The device a run of ``config`` trains on (one process)."""
    from krypto.learning.train import pick_device

    return pick_device(config.device)


def optimizer_for(config, params) -> torch.optim.Optimizer:
    """The optimizer a run of ``config`` uses, with its settings."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)


def training_rows(prepared) -> np.ndarray:
    """Rows of the prepared index in the training split (what the trainer samples from)."""
    return np.flatnonzero(prepared.index[C.SPLIT].to_numpy() == C.TRAIN)


class SeedDataset(torch.utils.data.Dataset):
    """The seed's dataset: every access opens the JPEG with PIL, converts, resizes, flips and
    normalises it (torchvision transforms); ``(image, label, is_fake)``."""

    def __init__(self, paths, labels, is_fake, image_size: int):
        from torchvision import transforms

        from krypto.learning.models import IMAGENET_MEAN, IMAGENET_STD

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
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            x = self.transform(img.convert("RGB"))
        return x, int(self.labels[i]), bool(self.is_fake[i])


class SeedQuadrupletLoss(torch.nn.Module):
    """The quadruplet loss of :class:`krypto.learning.losses.VerificationLoss` (same triplet
    terms, same margin and lambda) over tuples of the Python-loop miner."""

    def __init__(self, margin=0.2, lam: float = 1.0, strategy: str = "random", seed: int = 0):
        super().__init__()
        from oml.losses import TripletLoss

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


class SeedPipeline:
    """The seed's training loop on the training rows of ``prepared`` with the same P x K
    batches, backbone, optimizer and loss as a run of ``config``; :meth:`run` trains on
    ``n_batches`` batches."""

    def __init__(self, config, prepared, seed: int = 0):
        from krypto.learning.models import build_model
        from krypto.learning.sampler import IdentityBatchSampler

        index, rows = prepared.index, training_rows(prepared)
        self.device = device_of(config)
        self.use_amp = config.amp and self.device.type == "cuda"
        labels = index[C.LABEL].to_numpy()[rows]
        is_fake = index[C.IS_FAKE].to_numpy()[rows]
        dataset = SeedDataset(index[C.PATH].to_numpy()[rows], labels, is_fake, config.image_size)
        self.sampler = IdentityBatchSampler(
            labels, is_fake, config.P, config.K, config.n_fake, seed
        )
        self.loader = torch.utils.data.DataLoader(dataset, batch_sampler=self.sampler)
        torch.manual_seed(seed)
        self.model = build_model(config.backbone, False, config.embedding_dim).to(self.device)
        self.loss = SeedQuadrupletLoss(config.margin, config.lam, config.mining, seed)
        self.optimizer = optimizer_for(config, self.model.parameters())
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.epoch = 0

    def _forward(self, x):
        # the seed normalised in the transform: the model's own normalisation is skipped
        return self.model.head(self.model.backbone(x))

    def run(self, n_batches: int) -> float:
        """Train on ``n_batches`` batches (more epochs of the sampler if needed); seconds."""
        self.model.train()
        done, t0 = 0, clock(self.device)
        while done < n_batches:
            self.epoch += 1
            self.sampler.set_epoch(self.epoch)
            for x, labels, is_fake in self.loader:
                x = x.to(self.device)
                labels, is_fake = labels.to(self.device), is_fake.to(self.device)
                with torch.autocast(self.device.type, enabled=self.use_amp):
                    e = self._forward(x)
                loss = self.loss(e, labels, is_fake)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                loss.item()  # logged every step
                done += 1
                if done >= n_batches:
                    break
        return clock(self.device) - t0


class ComputeBound:
    """Forward + backward + optimizer step of a run's model class and optimizer on an
    in-memory float batch of its shape: what the training loop cannot beat."""

    def __init__(self, config, seed: int = 0):
        from krypto.learning.models import build_model

        self.device = device_of(config)
        self.use_amp = config.amp and self.device.type == "cuda"
        torch.manual_seed(seed)
        self.model = build_model(config.backbone, False, config.embedding_dim).to(self.device)
        channels_last = self.device.type == "cuda"
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer = optimizer_for(config, self.model.parameters())
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        x = torch.rand(
            config.P * config.K, 3, config.image_size, config.image_size, device=self.device
        )
        self.x = x.contiguous(memory_format=torch.channels_last) if channels_last else x

    def step(self) -> None:
        with torch.autocast(self.device.type, enabled=self.use_amp):
            e = self.model(self.x)
        loss = e.float().pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def run(self, n_steps: int) -> float:
        t0 = clock(self.device)
        for _ in range(n_steps):
            self.step()
        return clock(self.device) - t0

"""Running one training over several processes with PyTorch's own engine (torchrun + DDP):
under ``torchrun`` (``WORLD_SIZE`` > 1) :meth:`Distributed.from_environment` joins the process
group (NCCL on GPUs, gloo on CPU); each process trains on its own identities
(:class:`~krypto.learning.sampler.IdentityBatchSampler`), validation embeds each photo on one
process only, and only rank 0 writes files (``torchrun --nproc_per_node 2 -m
krypto.pipeline.launch -f runs/x/params.yaml``). With one process every method is a no-op, so
the same code runs in a notebook.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as tdist

from krypto.learning.device import pick_device
from krypto.learning.embed import embed

T = TypeVar("T")
BACKENDS = {"cuda": "nccl", "cpu": "gloo"}


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: str = "auto") -> "Distributed":
        """Single process, or the process group torchrun describes in the environment; ``device``
        ``auto``, ``cpu`` or ``cuda``: each process takes GPU ``LOCAL_RANK`` (no ``cuda:N``)."""
        world_size = int(os.environ.get("WORLD_SIZE", 1))
        if world_size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
        kind = pick_device(device)
        if kind.type not in BACKENDS:
            raise ValueError(f"device={device!r}: distributed training runs on cuda or cpu")
        if kind.type == "cuda":
            if kind.index is not None:
                raise ValueError(
                    f"device={device!r}: under torchrun each process uses GPU "
                    f"LOCAL_RANK; pass device='cuda' or 'auto'"
                )
            torch.cuda.set_device(local_rank)
            kind = torch.device("cuda", local_rank)
        if not tdist.is_initialized():
            options = {"device_id": kind} if kind.type == "cuda" else {}
            tdist.init_process_group(backend=BACKENDS[kind.type], **options)
        return cls(rank, world_size, local_rank, kind)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model to call in training: DistributedDataParallel when there are processes
        (it broadcasts rank 0's BatchNorm running statistics before each forward pass)."""
        if not self.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.enabled:
            tdist.barrier()

    def main_first(self, work: Callable[[], T]) -> T:
        """``work()`` on every process, rank 0 first, then the first process of each other
        machine, then the rest; so caches (prepared data, decoded images) are written by one
        process and read by the others, also where machines do not share a file system."""
        if not self.enabled:
            return work()
        turn = 0 if self.rank == 0 else 1 if self.local_rank == 0 else 2
        result = None
        for step in range(3):
            if step == turn:
                result = work()
            tdist.barrier()
        return result

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object) on every process."""
        if not self.enabled:
            return value
        box = [value if self.is_main else None]
        tdist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the processes."""
        if not self.enabled:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        tdist.all_reduce(t)
        return float(t.item()) / self.world_size

    def embed_rows(self, model, images: torch.Tensor, rows: np.ndarray, device, amp: bool):
        """Embeddings ``[len(rows), D]`` (on CPU) of ``images[rows]``, every ``world_size``-th
        row on each process with rank 0's parameters and buffers (copied into ``model``: the
        BatchNorm statistics drift apart in training), gathered in the order of ``rows`` on
        every process. A collective: every process calls it with the same ``rows``."""
        rows = np.asarray(rows)
        if self.enabled:
            with torch.no_grad():
                for tensor in [*model.parameters(), *model.buffers()]:
                    tdist.broadcast(tensor.data, src=0)
        mine = torch.as_tensor(rows[self.rank :: self.world_size], dtype=torch.long)
        part = embed(model, images[mine], device=device, amp=amp)
        if not self.enabled:
            return part
        parts = [None] * self.world_size
        tdist.all_gather_object(parts, part.cpu())
        positions = np.arange(len(rows))
        order = np.concatenate([positions[r :: self.world_size] for r in range(self.world_size)])
        return torch.cat(parts)[torch.as_tensor(np.argsort(order))]

    def close(self) -> None:
        if self.enabled and tdist.is_initialized():
            tdist.destroy_process_group()

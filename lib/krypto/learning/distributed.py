"""Running one training over several processes with PyTorch's own engine (torchrun + DDP).

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :meth:`Distributed.from_environment`
joins the process group: NCCL on GPUs, gloo on CPU. Each process trains on its own identities
(:class:`krypto.learning.sampler.IdentityBatchSampler` with ``rank`` and ``world_size``), and
validation
embeds each validation photo exactly once across the processes, then gathers the embeddings in
their original order: no padding duplicates, no drops. Only rank 0 writes files.

::

    # see krypto.pipeline.launch
    torchrun --nproc_per_node 2 -m krypto.pipeline.launch -f runs/x/params.yaml

Without torchrun (``WORLD_SIZE`` unset or 1) every method here is the single-process no-op, so
the same code runs in a notebook. Nothing in an installed package is patched for this.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as tdist

from krypto.learning.embed import embed

T = TypeVar("T")


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
    def from_environment(cls, device: str = "auto") -> Distributed:
        """Single process, or the process group torchrun describes in the environment.

        ``device``: ``auto`` (a GPU per process where CUDA is available: NCCL; else CPU: gloo),
        ``cpu`` (gloo, even on a GPU machine) or ``cuda`` (NCCL; fails without CUDA). A
        ``cuda:N`` is not allowed with several processes: each takes GPU ``LOCAL_RANK``."""
        world_size = int(os.environ.get("WORLD_SIZE", 1))
        if world_size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
        kind = torch.device(
            "cuda"
            if device == "auto" and torch.cuda.is_available()
            else "cpu"
            if device == "auto"
            else device
        )
        if kind.type == "cuda":
            if kind.index is not None:
                raise ValueError(
                    f"device={device!r}: under torchrun each process uses GPU "
                    f"LOCAL_RANK; pass device='cuda' or 'auto'"
                )
            if not torch.cuda.is_available():
                raise ValueError(f"device={device!r} but CUDA is not available")
            torch.cuda.set_device(local_rank)
            kind, backend = torch.device("cuda", local_rank), "nccl"
        elif kind.type == "cpu":
            backend = "gloo"
        else:
            raise ValueError(f"device={device!r}: distributed training runs on cuda or cpu")
        if not tdist.is_initialized():
            options = {"device_id": kind} if backend == "nccl" else {}
            tdist.init_process_group(backend=backend, **options)
        return cls(rank, world_size, local_rank, kind)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model to call in training: DistributedDataParallel when there are processes.

        DDP broadcasts rank 0's buffers (BatchNorm running statistics) before each forward pass;
        each process normalises its training batch with its own batch statistics."""
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
        tdist.broadcast_object_list(box, src=0, device=self._collective_device())
        return box[0]

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the processes."""
        if not self.enabled:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=self._collective_device())
        tdist.all_reduce(t)
        return float(t.item()) / self.world_size

    def sync_module(self, model: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``model`` on every process (in place).

        Under DDP the parameters already agree, but BatchNorm running statistics drift apart
        by the last training step of each process; after this every process holds the model
        rank 0 saves in its checkpoints."""
        if not self.enabled:
            return
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                if tensor.device.type == self.device.type or self.device.type == "cpu":
                    tdist.broadcast(tensor.data, src=0)
                else:  # e.g. a CPU model in a NCCL group
                    moved = tensor.data.to(self.device)
                    tdist.broadcast(moved, src=0)
                    tensor.data.copy_(moved)

    def embed_rows(self, model, images: torch.Tensor, rows: np.ndarray, device, amp: bool):
        """Embeddings ``[len(rows), D]`` (on CPU) of ``images[rows]``, each row computed by
        exactly one process with rank 0's model (see :meth:`sync_module`), then gathered
        into the order of ``rows`` on every process. A collective: every process calls it
        with the same ``rows``."""
        rows = np.asarray(rows)
        self.sync_module(model)
        mine = np.arange(len(rows))[self.rank :: self.world_size]
        part = embed(
            model, images[torch.as_tensor(rows[mine], dtype=torch.long)], device=device, amp=amp
        )
        if not self.enabled:
            return part
        gathered = [None] * self.world_size
        tdist.all_gather_object(gathered, (mine, part.cpu()))
        dims = {emb.shape[1] for idx, emb in gathered if len(idx)}
        if len(dims) > 1:
            raise RuntimeError(f"processes returned embeddings of sizes {sorted(dims)}")
        out = torch.full((len(rows), dims.pop() if dims else 0), float("nan"))
        filled = np.zeros(len(rows), dtype=int)
        for idx, emb in gathered:
            if len(idx):
                out[torch.as_tensor(idx)] = emb
                filled[idx] += 1
        if not (filled == 1).all():  # cannot happen with the strided split; never silently
            raise RuntimeError(f"validation rows embedded {sorted(set(filled.tolist()))} times")
        return out

    def _collective_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def close(self) -> None:
        if self.enabled and tdist.is_initialized():
            tdist.destroy_process_group()

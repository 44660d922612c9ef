"""Running one training over several processes with PyTorch's own engine (torchrun + DDP).

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :meth:`Distributed.from_environment`
joins the process group: NCCL on GPUs, gloo on CPU. Each process trains on its own identities
(:class:`krypto.sampling.IdentityBatchSampler` with ``rank`` and ``world_size``), and validation
embeds each validation photo exactly once across the processes, then gathers the embeddings in
their original order: no padding duplicates, no drops. Only rank 0 writes files.

Nothing in an installed package is patched for this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as tdist


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
    def from_environment(cls) -> "Distributed":
        """Single process, or the process group torchrun describes in the environment."""
        world_size = int(os.environ.get("WORLD_SIZE", 1))
        if world_size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            device, backend = torch.device("cuda", local_rank), "nccl"
        else:
            device, backend = torch.device("cpu"), "gloo"
        if not tdist.is_initialized():
            tdist.init_process_group(backend=backend)
        return cls(rank, world_size, local_rank, device)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model to call in training: DistributedDataParallel when there are processes."""
        if not self.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.enabled:
            tdist.barrier()

    def embed_rows(self, model, images: torch.Tensor, rows: np.ndarray, device, amp: bool):
        """Embeddings ``[len(rows), D]`` of ``images[rows]``, each computed by one process."""
        from krypto.embed import embed

        mine = np.arange(len(rows))[self.rank::self.world_size]
        part = embed(model, images[torch.as_tensor(rows[mine])], device=device, amp=amp)
        if not self.enabled:
            return part
        gathered = [None] * self.world_size
        tdist.all_gather_object(gathered, (mine, part.cpu()))
        out = torch.empty(len(rows), part.shape[1])
        for idx, emb in gathered:
            out[torch.as_tensor(idx)] = emb
        return out

    def close(self) -> None:
        if self.enabled and tdist.is_initialized():
            tdist.destroy_process_group()

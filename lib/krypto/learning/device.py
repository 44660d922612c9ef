"""Where and how a run computes: the device, the CPU threads and the global seeds."""

import os
import random

import numpy as np
import torch


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else the CPU; ``cpu``, ``cuda`` or ``cuda:N`` as named."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but CUDA is not available; use 'auto' or 'cpu'")
    return device


def mixed_precision(amp: bool, device: torch.device) -> tuple[bool, bool]:
    """(autocast, gradient scaler) of a training step asked for ``amp``: float16 with a scaler on
    CUDA, bfloat16 without one on a CPU that computes it natively (AVX512-BF16 or AMX)."""
    bf16_cpu = device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    autocast = amp and (device.type == "cuda" or bool(bf16_cpu))
    return autocast, autocast and device.type == "cuda"


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(num_threads: int = 0) -> None:
    """Torch's CPU threads: ``num_threads``, else ``KRYPTO_NUM_THREADS``, else torch's default."""
    n = num_threads or int(os.environ.get("KRYPTO_NUM_THREADS", 0))
    if n > 0:
        torch.set_num_threads(n)

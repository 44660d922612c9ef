"""Section 4: the memory of N training processes (torchrun, gloo) against one. Each process runs
``torchrun ... -m krypto.bench.memory JOB.json OUT_DIR`` and writes ``rank<r>.json``."""

import json
import os
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path

import psutil
from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (imported before the baseline)

from krypto import constants as C
from krypto.bench.common import measure, prepared_data, torchrun, train_config, what
from krypto.data.index import prepare
from krypto.files import write_json
from krypto.learning.config import TrainConfig
from krypto.learning.distributed import Distributed
from krypto.learning.embed import cached_images
from krypto.learning.train import Trainer

MIB = 2**20
SAMPLE_SECONDS = 0.5
RATIOS = {"ratio": "mib", "peak_ratio": "peak_mib", "image_cache_ratio": "image_cache_pss_mib"}


def _pss() -> int:
    return psutil.Process().memory_full_info().pss


def _sample_peak(done: threading.Event, peak: list[int]) -> None:
    while not done.wait(SAMPLE_SECONDS):
        peak[0] = max(peak[0], _pss())


def child(job_file: str, out_dir: str) -> None:
    """One training process: its PSS once every process has done its imports and once every
    one has trained (each measured while the others wait at a barrier), its largest PSS sampled
    every :data:`SAMPLE_SECONDS` s while it trains, and its PSS of the image cache's mapping."""
    job, dist = json.loads(Path(job_file).read_text()), Distributed.from_environment("cpu")
    dist.barrier()
    imports, peak, done = _pss(), [0], threading.Event()
    dist.barrier()
    sampler = threading.Thread(target=_sample_peak, args=(done, peak))
    sampler.start()
    trainer = Trainer(TrainConfig(**job["config"]), prepare(**job["prepare"]), dist)
    trainer.fit()
    done.set()
    sampler.join()
    dist.barrier()
    held = _pss()
    cache = sum(m.pss for m in psutil.Process().memory_maps() if m.path.endswith(".npy"))
    dist.barrier()
    figures = dict(imports=imports, held=held, peak=max(peak[0], held), cache=cache)
    figures["cache_bytes"] = trainer.images.nbytes
    write_json(Path(out_dir) / f"rank{dist.rank}.json", figures)
    dist.close()


def _run(n: int, job_file: Path, out: Path, threads: int) -> dict[str, float]:
    """The figures of the ``n`` processes summed, in MiB, less their imports."""
    each = str(max(1, threads // n))
    env = dict(os.environ, KRYPTO_NUM_THREADS=each, OMP_NUM_THREADS=each)
    torchrun(n, "krypto.bench.memory", str(job_file), str(out), env=env)
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(n)]
    total = {key: sum(r[key] for r in ranks) / MIB for key in ("imports", "held", "peak", "cache")}
    return {
        "mib": total["held"] - total["imports"],
        "peak_mib": total["peak"] - total["imports"],
        "image_cache_pss_mib": total["cache"],
        "working_mib": total["held"] - total["imports"] - total["cache"],
        "image_cache_mib": ranks[0]["cache_bytes"] / MIB,
    }


def measure_memory(ctx) -> dict:
    """1 epoch of Trainer.fit() with validation on the CPU, 1 process vs N (torchrun, gloo; the
    decoded-image cache written beforehand and memory-mapped by every process): proportional
    set size (PSS) summed over the processes once trained, less the same once they had done
    their imports (tensorboard included), each process measured while the others wait; peak =
    the sum of each process's largest PSS sampled every 0.5 s while it trains, less the
    imports; image_cache_pss = the PSS of the cache's mapping, summed (shared pages split
    between the processes); working = the rest (activations, allocator, model, optimizer)."""
    cfg, folder, threads = ctx.cfg, ctx.folder / "memory", ctx.cfg.resolved_threads()
    data, prepared = prepared_data(folder, cfg, cfg.memory_identities)
    size = train_config(cfg, folder, "cpu").input_size
    cached_images(prepared.index[C.PATH], size, prepared.folder, progress=False)
    runs, n = {}, cfg.memory_processes
    for processes in (1, n):
        config = train_config(cfg, folder / f"run-{processes}", "cpu")
        config = replace(config, num_threads=max(1, threads // processes))
        folders = dict(data_dir=str(data), out_dir=str(prepared.folder))
        options = dict(pairs_per_kind=cfg.pairs_per_kind, progress=False)
        job = {"prepare": {**folders, **options}, "config": asdict(config)}
        job_file = write_json(folder / f"job-{processes}.json", job)
        runs[processes] = _run(processes, job_file, folder / f"out-{processes}", threads)
    one, many = runs[1], runs[n]
    out = {"processes": n, "n_images": len(prepared.index), "what": what(measure_memory)}
    for key in ("mib", "peak_mib", "image_cache_pss_mib", "working_mib"):
        out[f"one_process_{key}"] = measure(one[key], "MiB", digits=1)
        out[f"processes_{key}"] = measure(many[key], "MiB", digits=1)
    for name, key in RATIOS.items():
        out[name] = measure(many[key] / one[key], "ratio")
    out["image_cache_mib"] = measure(one["image_cache_mib"], "MiB", digits=1)
    ctx.log(f"  summed PSS less imports: 1 process {one['mib']:.0f} MiB, {n}: {many['mib']:.0f}")
    return {"memory": out}


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

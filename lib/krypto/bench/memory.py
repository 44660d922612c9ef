"""Section 5: summed PSS of the training processes of a 2-process torchrun (gloo) run against a
1-process one, less their imports, once trained and at the peak (sampled every 0.5 s); the
memory-mapped image cache is shared, so 2 should hold little more than 1. Each process runs
``torchrun ... -m krypto.bench.memory JOB.json OUT_DIR``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np  # noqa: F401  (what a training process imports is subtracted)
import psutil
import torch  # noqa: F401
from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (the run's log imports it)

from krypto import constants as C
from krypto.bench.common import WHAT, BenchConfig, measure, train_config, write_data
from krypto.data.index import prepare
from krypto.files import write_json, write_text
from krypto.learning.config import TrainConfig
from krypto.learning.embed import cached_images
from krypto.learning.train import Trainer
from krypto.pipeline.children import start, torchrun_command

MIB = 2**20
SAMPLE_SECONDS = 0.5  # the peak between two samples is missed; reading /proc costs CPU
GO = "go"  # the file that lets the processes start once their imports are measured
EXIT = "exit"  # the file that lets them exit once the memory they hold is measured


def _pss(process=None) -> int:
    return (process or psutil.Process()).memory_full_info().pss


def _mapped_pss(suffix: str) -> int:
    """PSS of this process's mappings of files whose name ends with ``suffix``."""
    return sum(m.pss for m in psutil.Process().memory_maps(grouped=True) if m.path.endswith(suffix))


def _wait_for(path: Path, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.02)


def child(job_file: str, out_dir: str) -> None:
    """One process: import, wait to be measured, train 1 epoch, write ``rank<r>.json``."""
    out, rank = Path(out_dir), int(os.environ.get("RANK", 0))
    write_text(out / f"imported-{rank}", "")
    _wait_for(out / GO)
    job = json.loads(Path(job_file).read_text())
    prepared = prepare(
        job["data"], out_dir=job["prepared"], progress=False, pairs_per_kind=job["pairs_per_kind"]
    )  # reads what the parent prepared
    trainer = Trainer(TrainConfig(**job["config"]), prepared)
    t0 = time.perf_counter()
    trainer.fit()
    write_json(
        out / f"rank{rank}.json",
        {
            "rank": rank,
            "image_cache_pss": _mapped_pss(".npy"),
            "image_cache_bytes": trainer.images.nbytes,
            "seconds": time.perf_counter() - t0,
            "n_images": int(len(prepared.index)),
        },
    )
    _wait_for(out / EXIT)  # held as it is until measured


def run_processes(n: int, job_file: Path, out_dir: Path, threads: int) -> dict:
    """Summed PSS of ``n`` training processes after their imports, once trained and at the peak."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in [
        *out_dir.glob("imported-*"),
        *out_dir.glob("rank*.json"),
        out_dir / GO,
        out_dir / EXIT,
    ]:
        path.unlink(missing_ok=True)
    each = str(max(1, threads // n))
    env = dict(os.environ, PYTHONUNBUFFERED="1", KRYPTO_NUM_THREADS=each, OMP_NUM_THREADS=each)
    command = torchrun_command(n, "krypto.bench.memory", str(job_file), str(out_dir))
    log = out_dir / "torchrun.log"
    with open(log, "w") as handle:
        launcher = start(command, handle, env)
        agent, imports, held, peak = psutil.Process(launcher.pid), None, None, 0
        while launcher.poll() is None:
            try:
                total = sum(_pss(p) for p in agent.children(recursive=True))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                total = None  # a process came or went while it was read
            if total is not None:
                if imports is None:
                    if len(list(out_dir.glob("imported-*"))) == n:
                        imports = total  # every process waits for the go file: a still moment
                        write_text(out_dir / GO, "")
                elif held is None:
                    peak = max(peak, total)
                    if len(list(out_dir.glob("rank*.json"))) == n:
                        held = total  # every process waits for the exit file
                        write_text(out_dir / EXIT, "")
            time.sleep(SAMPLE_SECONDS)
    if launcher.returncode != 0 or held is None:
        raise RuntimeError(f"the {n}-process run failed:\n{log.read_text()[-3000:]}")
    ranks = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(n)]
    return {"imports": imports, "held": held, "peak": peak, "ranks": ranks}


def _figures(run: dict) -> dict[str, float]:
    """What a run's processes held together, in MiB (less the imports), and its seconds."""
    ranks = run["ranks"]
    held, cache = (run["held"] - run["imports"]) / MIB, sum(r["image_cache_pss"] for r in ranks)
    return {
        "mib": held,
        "peak_mib": (run["peak"] - run["imports"]) / MIB,
        "imports_mib": run["imports"] / MIB,
        "image_cache_pss_mib": cache / MIB,
        # what is not the image cache: each process's own (activations, allocator, model, ...)
        "working_mib": held - cache / MIB,
        "seconds": max(r["seconds"] for r in ranks),
    }


def bench_memory(folder: Path, cfg: BenchConfig, log) -> dict:
    data, prepared, synth = write_data(folder, cfg, cfg.memory_identities)
    cached_images(prepared.index[C.PATH], cfg.image_size, prepared.folder, progress=False)
    n, threads = cfg.memory_processes, cfg.resolved_threads()
    runs = {}
    for processes in (1, n):
        config = train_config(cfg, folder / f"run-{processes}", "cpu")
        job = {
            "data": str(data),
            "prepared": str(prepared.folder),
            "pairs_per_kind": cfg.pairs_per_kind(),
            "config": asdict(replace(config, num_threads=max(1, threads // processes))),
        }
        job_file = write_json(folder / f"job-{processes}.json", job)
        runs[processes] = run_processes(processes, job_file, folder / f"out-{processes}", threads)
    one, many = _figures(runs[1]), _figures(runs[n])
    cache_mib = runs[1]["ranks"][0]["image_cache_bytes"] / MIB
    log(
        f"  summed PSS less imports: {one['mib']:.0f} MiB with 1 process, {many['mib']:.0f} MiB "
        f"with {n} ({many['mib'] / one['mib']:.2f}x); image cache {cache_mib:.0f} MiB"
    )
    out = {"processes": n}
    for key in one:
        unit, digits = ("s", 2) if key == "seconds" else ("MiB", 1)
        out[f"one_process_{key}"] = measure(one[key], unit, digits=digits)
        out[f"processes_{key}"] = measure(many[key], unit, digits=digits)
    for ratio, key in (("ratio", "mib"), ("peak_ratio", "peak_mib")):
        out[ratio] = measure(many[key] / one[key], "ratio")
    out["image_cache_mib"] = measure(cache_mib, "MiB", digits=1)
    cache_ratio = many["image_cache_pss_mib"] / one["image_cache_pss_mib"]
    out["image_cache_ratio"] = measure(cache_ratio, "ratio")
    out["n_images"] = runs[1]["ranks"][0]["n_images"]
    keys = ("identities", "real_per_identity", "fake_per_identity")
    out["dataset"] = {**{k: getattr(synth, k) for k in keys}, "jpeg_size": synth.image_size}
    out["challenge_sized"] = not cfg.quick
    out["what"] = WHAT["memory"].format(n=n, seconds=SAMPLE_SECONDS)
    return out


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

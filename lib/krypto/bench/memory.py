"""Section 5: the memory of one machine training with 2 processes (torchrun, gloo) against 1.

The measure is the proportional set size (PSS: a page shared by k processes counts 1/k in each,
so the sum over the processes is what they hold together) summed over the training processes
once a 1-epoch run with validation has finished, less the same sum once every process has done
its imports (the processes wait at both points until the sum is taken, from outside, at one
still instant). The peak over the run is sampled too (every 0.5 s), but it mostly tells whether
a sample fell on the transient activations of an embedding batch. The decoded-image cache is
memory-mapped read-only, so the processes share one copy of it: 2 processes should hold little
more than 1 (goal <= 1.3x). The data set is sized like the challenge's training set (about
100,000 photos, at the training image size), where the images are what two processes could
copy; on the embedded set (3,600 photos, 24 MiB decoded) each process's own working memory
(activations, the allocator's blocks, its model) would be most of it. The cache is written
beforehand (as rank 0 does before the others read it), so both runs only map it.

The processes run this module under torchrun: ``python -m torch.distributed.run --standalone
--nproc_per_node N -m krypto.bench.memory JOB.json OUT_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from krypto.bench.common import (
    BenchConfig,
    measure,
    pairs_per_kind,
    synth_config,
    train_config,
    write_data,
)

MIB = 2**20
SAMPLE_SECONDS = 0.5  # the peak between two samples is missed; reading /proc costs CPU
GO = "go"  # the file that lets the processes start once their imports are measured
EXIT = "exit"  # the file that lets them exit once the memory they hold is measured


def _pss(process=None) -> int:
    import psutil

    return (process or psutil.Process()).memory_full_info().pss


def _mapped_pss(suffix: str) -> int:
    """PSS of this process's mappings of files whose name ends with ``suffix``."""
    import psutil

    return sum(m.pss for m in psutil.Process().memory_maps(grouped=True) if m.path.endswith(suffix))


def _wait_for(path: Path, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.02)


def child(job_file: str, out_dir: str) -> None:
    """One process of a measured run: import, wait to be measured, train 1 epoch, write
    ``rank<r>.json``."""
    import numpy as np  # noqa: F401  (what a training process imports is subtracted)
    import torch  # noqa: F401
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (the run's log imports it)

    from krypto.data.index import prepare
    from krypto.files import write_json, write_text
    from krypto.learning.train import TrainConfig, Trainer

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
    """The run of ``n`` processes (torchrun, gloo on the CPU): the summed PSS of its training
    processes after their imports, once trained and at its peak, and each process's own
    figures."""
    import psutil

    from krypto.files import write_text
    from krypto.pipeline.children import torchrun_command

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [
        *out_dir.glob("imported-*"),
        *out_dir.glob("rank*.json"),
        out_dir / GO,
        out_dir / EXIT,
    ]:
        stale.unlink(missing_ok=True)
    per_process = str(max(1, threads // n))
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        KRYPTO_NUM_THREADS=per_process,
        OMP_NUM_THREADS=per_process,
    )
    command = torchrun_command(n, "krypto.bench.memory", str(job_file), str(out_dir))
    log = out_dir / "torchrun.log"
    with open(log, "w") as handle:
        launcher = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
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


def bench_memory(folder: Path, cfg: BenchConfig, log) -> dict:
    """Summed PSS (less the imports) of a 2-process gloo training run against a 1-process run
    on a synthetic set of ``cfg.memory_identities`` identities (default: about the challenge's
    100,000 photos)."""
    from krypto import constants as C
    from krypto.files import write_json
    from krypto.learning.embed import cached_images

    synth = synth_config(cfg, cfg.memory_identities)
    data, prepared, _ = write_data(folder, cfg, synth)
    cached_images(prepared.index[C.PATH], cfg.image_size, prepared.folder, progress=False)
    n = cfg.memory_processes
    threads = cfg.resolved_threads()
    runs = {}
    for processes in (1, n):
        config = replace(
            train_config(cfg, folder / f"run-{processes}", "cpu"),
            num_threads=max(1, threads // processes),
        )
        job_file = write_json(
            folder / f"job-{processes}.json",
            {
                "data": str(data),
                "prepared": str(prepared.folder),
                "pairs_per_kind": pairs_per_kind(cfg),
                "config": asdict(config),
            },
        )
        runs[processes] = run_processes(processes, job_file, folder / f"out-{processes}", threads)

    def total(run, key):
        return sum(r[key] for r in run["ranks"]) / MIB

    def used(run, key="held"):
        return (run[key] - run["imports"]) / MIB

    one, many = runs[1], runs[n]
    ratio = used(many) / used(one)
    cache_mib = one["ranks"][0]["image_cache_bytes"] / MIB
    # what is not the image cache: each process's own (activations, allocator, model, optimizer)
    working_one = used(one) - total(one, "image_cache_pss")
    working_many = used(many) - total(many, "image_cache_pss")
    log(
        f"  summed PSS less imports: {used(one):.0f} MiB with 1 process, {used(many):.0f} MiB "
        f"with {n} ({ratio:.2f}x); image cache {cache_mib:.0f} MiB"
    )
    out = {
        "processes": n,
        "one_process_mib": measure(used(one), "MiB", digits=1),
        "processes_mib": measure(used(many), "MiB", digits=1),
        "ratio": measure(ratio, "ratio"),
        "one_process_peak_mib": measure(used(one, "peak"), "MiB", digits=1),
        "processes_peak_mib": measure(used(many, "peak"), "MiB", digits=1),
        "peak_ratio": measure(used(many, "peak") / used(one, "peak"), "ratio"),
        "one_process_imports_mib": measure(one["imports"] / MIB, "MiB", digits=1),
        "processes_imports_mib": measure(many["imports"] / MIB, "MiB", digits=1),
        "one_process_image_cache_pss_mib": measure(total(one, "image_cache_pss"), "MiB", digits=1),
        "processes_image_cache_pss_mib": measure(total(many, "image_cache_pss"), "MiB", digits=1),
        "image_cache_mib": measure(cache_mib, "MiB", digits=1),
        "image_cache_ratio": measure(
            total(many, "image_cache_pss") / total(one, "image_cache_pss"), "ratio"
        ),
        "one_process_working_mib": measure(working_one, "MiB", digits=1),
        "processes_working_mib": measure(working_many, "MiB", digits=1),
        "one_process_seconds": measure(max(r["seconds"] for r in one["ranks"]), "s", digits=2),
        "processes_seconds": measure(max(r["seconds"] for r in many["ranks"]), "s", digits=2),
        "n_images": one["ranks"][0]["n_images"],
        "dataset": {
            "identities": synth.identities,
            "real_per_identity": synth.real_per_identity,
            "fake_per_identity": synth.fake_per_identity,
            "jpeg_size": synth.image_size,
        },
        "challenge_sized": not cfg.quick,
        "what": f"1 epoch of Trainer.fit() with validation on the CPU, 1 process vs {n} "
        f"(torchrun, gloo; the decoded-image cache written beforehand and memory-mapped "
        f"by every process): proportional set size (psutil memory_full_info().pss) "
        f"summed over the training processes once trained, less the same once every "
        f"process had done its imports (tensorboard included), both taken from outside "
        f"while the processes wait; peak = the largest sum sampled every "
        f"{SAMPLE_SECONDS} s during the run, less the imports; image_cache_pss = the "
        f"PSS of the cache's mapping at the end of each process, summed (shared pages "
        f"split between the processes); "
        f"working = the rest (activations, allocator, model, optimizer: each process's "
        f"own)",
    }
    return out


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

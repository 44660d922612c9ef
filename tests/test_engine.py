"""The batch on a Dask cluster of separate processes on loopback: ``dask scheduler`` and two
``dask worker`` processes; one worker is killed (SIGKILL) in the middle of a training, and the
batch still finishes every run, the killed one on the other worker."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from krypto import constants as C
from krypto.pipeline.run_record import read_record
from krypto.run_lock import lock_holder

DASK = str(Path(sys.executable).parent / "dask")
BATCH = C.REPO_ROOT / "params" / "loss_selection.yaml"
TRAININGS = ("loss_selection/triplet/seed0", "loss_selection/quadruplet/seed0")
RUNS = ("pretrain/faces", *TRAININGS)  # the batch's trainings and the run they start from
ONLY = [arg for run in RUNS for arg in ("--only", run.removesuffix("/seed0"))]
TIMEOUT_S = 420
METRIC_KEYS = ("eer", "eer_real", "eer_fake", "eer_fake_other", "best_epoch", "epochs_run")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _batch(runs: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "krypto.pipeline.batch", str(BATCH), "--quick"]
    command += ["--runs-dir", str(runs), "--threads", "1", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _ended(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the batch took over {TIMEOUT_S} s:\n{proc.communicate()[0]}")
    return proc.returncode, out


@contextlib.contextmanager
def _cluster(tmp_path: Path):
    """A scheduler and two workers (one task slot each, no nanny: a killed worker stays dead),
    each logging to ``tmp_path/<name>.log``."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    host, port = address.removeprefix("tcp://").split(":")
    commands = {"scheduler": ["scheduler", "--host", host, "--port", port, "--no-dashboard"]}
    for name in ("w1", "w2"):
        commands[name] = ["worker", address, "--nthreads", "1", "--no-nanny", "--name", name]
        commands[name] += ["--no-dashboard", "--local-directory", str(tmp_path / name)]
    with contextlib.ExitStack() as stack:
        procs = []
        for name, command in commands.items():
            log = stack.enter_context(open(tmp_path / f"{name}.log", "w"))
            procs.append(subprocess.Popen([DASK, *command], stdout=log, stderr=log))
            stack.callback(_stop, procs[-1])
        import distributed

        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs[1:]


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


def _training_on(workers: list[subprocess.Popen], runs: Path, deadline: float) -> tuple:
    """A training of the batch under way on one of ``workers`` (its notebook kernel started):
    the worker's process and the run's name."""
    pids = {worker.pid: worker for worker in workers}
    while time.monotonic() < deadline:
        for name in TRAININGS:
            holder = lock_holder(runs / name)
            if read_record(runs / name).get("status") != "running" or not holder:
                continue
            worker = pids.get(holder.get("pid"))
            kernels = [
                child
                for child in psutil.Process(worker.pid).children(recursive=True)
                if "ipykernel" in " ".join(child.cmdline())
            ] if worker else []  # fmt: skip
            if kernels and (runs / name / "papermill.log").stat().st_size > 2000:
                return worker, name
        time.sleep(0.2)
    pytest.fail("no training started on a worker")


def _comparable(run: Path) -> tuple[dict, pd.DataFrame]:
    metrics = json.loads((run / "metrics.json").read_text())
    epochs = pd.read_csv(run / "epochs.csv").drop(
        columns=["seconds", "images_per_second"], errors="ignore"
    )
    return {key: metrics[key] for key in METRIC_KEYS}, epochs


@pytest.mark.slow
def test_a_worker_killed_during_a_training_the_batch_still_finishes_each_run_once(tmp_path):
    runs = tmp_path / "runs"
    with _cluster(tmp_path) as (address, workers):
        proc = _batch(runs, "--scheduler", address, *ONLY)
        killed, name = _training_on(workers, runs, time.monotonic() + TIMEOUT_S)
        killed.send_signal(signal.SIGKILL)
        code, out = _ended(proc)
    assert code == 0, out
    assert killed.returncode == -signal.SIGKILL
    for run in RUNS:
        assert read_record(runs / run)["status"] == "done", (run, out)
        assert out.count(f"{run} ... done in") == 1, (run, out)  # one end for each run
    logs = {w: (tmp_path / f"{w}.log").read_text() for w in ("w1", "w2")}
    started = [line for log in logs.values() for line in log.splitlines() if "... started" in line]
    assert len(started) == len(RUNS) + 1, started  # each run once, the killed one twice:
    assert all(f"{name} ... started" in log for log in logs.values()), logs  # on each worker
    for training in TRAININGS:
        history = pd.read_csv(runs / training / "history.csv")
        assert history["iteration"].is_unique, training
    # the killed run against the same run trained here, uninterrupted (the rest reused)
    shutil.move(runs / name, tmp_path / "killed")
    code, out = _ended(_batch(runs, "--only", name))
    assert code == 0, out
    assert f"{name} ... done in" in out and "pretrain/faces" not in out, out  # reused
    cluster_metrics, cluster_epochs = _comparable(tmp_path / "killed")
    local_metrics, local_epochs = _comparable(runs / name)
    assert cluster_metrics == local_metrics
    pd.testing.assert_frame_equal(cluster_epochs, local_epochs)


def test_a_scheduler_that_does_not_answer_is_named(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, out = _ended(_batch(tmp_path / "runs", "--scheduler", address))
    assert code == 2
    assert f"no Dask scheduler answers at {address}" in out

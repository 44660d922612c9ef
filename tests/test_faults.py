"""Faults: kills at seeded moments, two batches on one runs folder, run folders that cannot be
written, and the run folder lock itself (krypto.run_lock).

The batch is tiny: a 2-epoch training through notebooks/02_train.ipynb on ``synthetic:tiny``
and a small notebook that reads its metrics. ``python -m krypto.pipeline.batch`` runs as a
subprocess, and it, its papermill child or the child's kernel is killed (SIGKILL, SIGINT) at
moments drawn from a seeded generator after events of the run (a run started, an epoch written,
the training finished); the batch is then rerun without ``--force`` until it completes. The
reference is an uninterrupted run of the same batch: two batches started together on one folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
import yaml

from krypto import run_lock as lock_module
from krypto.files import WriteError
from krypto.pipeline.run_record import read_record
from krypto.run_lock import RunLockedError, hold_run_folder, lock_holder, run_lock

SEED = 7
TRAIN = {
    "data_dir": "synthetic:tiny",
    "epochs": 2,
    "P": 4,
    "K": 4,
    "image_size": 32,
    "val_ratio": 0.5,
    "progress": False,
}  # 6 iterations an epoch
AFTER = """\
from krypto.run_folder import open_run_folder, read_metrics, record_results, resolve_run
out = open_run_folder(run_dir, "runs/after")
metrics = read_metrics(resolve_run(train_run, run_dir))
record_results(out, eer=metrics["eer"], best_epoch=metrics["best_epoch"])
"""
STEP_TIMEOUT = 240  # seconds a batch may take before the test gives up on it
METRIC_KEYS = (
    "eer",
    "eer_real",
    "eer_fake",
    "eer_fake_other",
    "eer_mean",
    "best_epoch",
    "epochs_run",
)
TIMING_COLUMNS = ("seconds", "images_per_second")
PYTHON_LOCK = "from krypto.run_lock import {what}\n"  # for the lock's helper processes


# --- the tiny batch ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory) -> Path:
    """A batch: ``f/train`` (02_train) and ``f/after`` (reads its metrics; needs it)."""
    root = tmp_path_factory.mktemp("faults")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    parameters = nbformat.v4.new_code_cell('train_run = ""\nrun_dir = ""\n')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(AFTER)]
    nbformat.write(notebook, root / "after.ipynb")
    file = root / "faults.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "batch": "f",
                "runs": {
                    "train": {"notebook": "notebooks/02_train.ipynb", "parameters": TRAIN},
                    "after": {
                        "notebook": str(root / "after.ipynb"),
                        "parameters": {"train_run": "f/train"},
                        "needs": ["train"],
                    },
                },
            },
            sort_keys=False,
        )
    )
    return file


def _as_from_a_terminal() -> None:
    """In the child: SIGINT at its default, as a shell's foreground command has it. A test
    process started in the background (``nohup``, ``cmd &``) passes SIGINT on ignored, and the
    batch then keeps ignoring it, as it should (see krypto.pipeline.children)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_batch(file: Path, runs: Path, log: Path) -> subprocess.Popen:
    """``python -m krypto.pipeline.batch file --runs-dir runs`` in the background."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "krypto.pipeline.batch", str(file), "--runs-dir", str(runs)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_as_from_a_terminal,
        )


def finish(proc: subprocess.Popen, log: Path) -> tuple[int, str]:
    """Wait for a batch; its exit code and output."""
    try:
        code = proc.wait(timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        pytest.fail(f"the batch took over {STEP_TIMEOUT} s:\n{log.read_text()}")
    return code, log.read_text()


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture(scope="module")
def together(batch_file, tmp_path_factory) -> dict:
    """Two batches started together on one runs folder: exit codes, outputs, the folder."""
    root = tmp_path_factory.mktemp("together")
    runs = root / "runs"
    procs = [start_batch(batch_file, runs, root / f"batch{i}.log") for i in (1, 2)]
    ends = [finish(proc, root / f"batch{i}.log") for i, proc in zip((1, 2), procs)]
    return {"codes": [code for code, _ in ends], "outputs": [out for _, out in ends], "runs": runs}


# --- checks ------------------------------------------------------------------------------------


def assert_whole(runs: Path, killed: bool = False) -> None:
    """Every JSON, CSV, YAML and executed notebook parses, no log repeats an iteration, and lock
    files are empty or name a holder. The temporary file of an atomic write (``.NAME.*.tmp``,
    never read) is left over only by a kill during the write, and the batch's next run of the
    folder removes it."""
    for path in sorted(runs.rglob("*")):
        if not path.is_file():
            continue
        name = path.name
        if name.startswith(".") and name.endswith(".tmp"):
            assert killed, f"left over: {path}"
            continue
        if name.endswith(".partial.ipynb"):
            continue  # papermill's own, written as it goes; never read
        if name == ".lock":
            text = path.read_text()
            assert text == "" or "pid" in json.loads(text), path
        elif path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            frame = pd.read_csv(path)
            if "iteration" in frame:
                repeated = frame["iteration"][frame["iteration"].duplicated()].tolist()
                assert not repeated, f"{path} logs iterations {repeated} twice"
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text())


def assert_gone(processes: list[psutil.Process], within: float = 10.0) -> None:
    """The processes a batch had started are gone (none left writing after it)."""
    _, alive = psutil.wait_procs(processes, timeout=within)
    assert not alive, f"still running after the batch: {[p.cmdline() for p in alive]}"


def trained_iterations(run: Path) -> int:
    """Iterations the run logged; each once."""
    history = pd.read_csv(run / "history.csv")
    assert history["iteration"].is_unique
    return len(history)


def comparable(run: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """What an interruption must not change: best-epoch metrics, epochs and history."""
    metrics = json.loads((run / "metrics.json").read_text())
    epochs = pd.read_csv(run / "epochs.csv").drop(columns=list(TIMING_COLUMNS), errors="ignore")
    return {k: metrics[k] for k in METRIC_KEYS}, epochs, pd.read_csv(run / "history.csv")


# --- two batches on one folder ---------------------------------------------------------------


@pytest.mark.slow
def test_two_batches_together_both_end_cleanly_each_run_once(together):
    assert together["codes"] == [0, 0], together["outputs"]
    both = "\n".join(together["outputs"])
    for run in ("f/train", "f/after"):
        assert both.count(f"{run} ... started") == 1, both  # executed by one batch only
        assert both.count(f"{run} ... skip (done)") == 1, both
    runs = together["runs"]
    assert_whole(runs)
    train = runs / "f" / "train"
    assert trained_iterations(train) > 0
    metrics = json.loads((train / "metrics.json").read_text())
    assert metrics["resumed"] is False and metrics["epochs_run"] == TRAIN["epochs"]
    for run in ("train", "after"):
        assert read_record(runs / "f" / run)["status"] == "done"
        assert (runs / "f" / run / ".lock").read_text() == ""  # let go
        assert lock_holder(runs / "f" / run) is None


# --- kills at seeded moments --------------------------------------------------------------------


def _epochs_written(run: Path, count: int) -> bool:
    try:
        return len(pd.read_csv(run / "epochs.csv")) >= count
    except (OSError, ValueError):
        return False


def _kernel(batch: psutil.Process) -> psutil.Process | None:
    kernels = [p for p in batch.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    return kernels[0] if kernels else None


# (what is killed, signal, the event after which the seeded delay starts, longest delay): the
# batch and a child (papermill) or grandchild (its kernel), from papermill's start to the
# dependent run; the third is the kill that used to block reruns (training written, notebook not)
KILLS = [
    ("batch", signal.SIGINT, "train started", 2.0),
    ("kernel", signal.SIGKILL, "epoch 1 written", 1.0),
    ("batch", signal.SIGKILL, "training finished", 1.0),
    ("papermill", signal.SIGINT, "after started", 1.0),
]


def _event(name: str, runs: Path, batch: psutil.Process) -> bool:
    train, after = runs / "f" / "train", runs / "f" / "after"
    with contextlib.suppress(psutil.Error):
        if name == "train started":
            return read_record(train).get("status") == "running" and bool(batch.children())
        if name == "epoch 1 written":
            return _epochs_written(train, 2)
        if name == "training finished":
            return (train / "metrics.json").is_file() and _kernel(batch) is not None
        if name == "after started":
            return read_record(after).get("status") == "running" and bool(batch.children())
    return False


def _target(who: str, batch: psutil.Process) -> psutil.Process:
    if who == "batch":
        return batch
    if who == "kernel":
        return _kernel(batch)
    return batch.children()[0]  # papermill


@pytest.mark.slow
def test_kills_at_seeded_moments_then_rerun_matches_uninterrupted(batch_file, together, tmp_path):
    runs, log = tmp_path / "runs", tmp_path / "batch.log"
    train, after = runs / "f" / "train", runs / "f" / "after"
    rng = random.Random(SEED)
    for step, (who, signum, event, most) in enumerate(KILLS, 1):
        proc = start_batch(batch_file, runs, log)
        batch = psutil.Process(proc.pid)
        deadline = time.monotonic() + STEP_TIMEOUT
        while not _event(event, runs, batch):
            assert proc.poll() is None, (
                f"step {step}: the batch ended before {event}:\n{log.read_text()}"
            )
            assert time.monotonic() < deadline, f"step {step}: no {event}:\n{log.read_text()}"
            time.sleep(0.05)
        delay = rng.uniform(0, most)
        time.sleep(delay)
        print(f"step {step}: {signum.name} to the {who}, {delay:.2f} s after {event}", flush=True)
        started = batch.children(recursive=True)
        _target(who, batch).send_signal(signum)
        code, out = finish(proc, log)
        assert_gone(started)
        assert_whole(runs, killed=True)
        what = f"step {step} ({who} {signum.name} after {event}):\n{out}"
        if who == "batch" and signum == signal.SIGKILL:
            assert code == -signal.SIGKILL, what
        elif who == "batch":
            assert code == 128 + signum, what
            assert "interrupted by SIGINT" in out, what
        else:
            assert code == 1, what  # the run failed, the batch ended normally
        for run in (train, after):  # the folder says the run is not done, whoever died
            assert lock_holder(run) is None, what  # so a "running" record is an interrupted run
    assert read_record(after)["status"] in ("failed", "interrupted")

    code, out = finish(start_batch(batch_file, runs, log), log)
    assert code == 0, out
    assert "f/train ... skip (done)" in out and "f/after ... done" in out, out
    assert_whole(runs)
    reference = together["runs"] / "f"
    mine, theirs = comparable(train), comparable(reference / "train")
    assert mine[0] == theirs[0]
    pd.testing.assert_frame_equal(mine[1], theirs[1])
    pd.testing.assert_frame_equal(mine[2], theirs[2])
    assert json.loads((after / "results.json").read_text()) == json.loads(
        (reference / "after" / "results.json").read_text()
    )


# --- run folders that cannot be written ---------------------------------------------------------


def _interrupted_copy(together, to: Path) -> Path:
    """The reference runs folder, with ``f/after`` as a kill of its batch leaves it."""
    shutil.copytree(together["runs"], to)
    for run, status in (("train", "done"), ("after", "running")):
        record = read_record(to / "f" / run)
        record["parameters"]["run_dir"] = str(to / "f" / run)  # as a batch there writes it
        (to / "f" / run / "run.json").write_text(json.dumps({**record, "status": status}))
    return to


def _contents(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".lock")
    }


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made unwritable: chmod for a user, the immutable attribute for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root, and chattr +i does not work here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.slow
def test_read_only_run_folder_stops_naming_the_path_and_loses_nothing(
    together, tmp_path, batch_file, capsys
):
    from krypto.pipeline.batch import main

    runs = _interrupted_copy(together, tmp_path / "runs")
    folder = runs / "f" / "after"
    before = _contents(runs)
    with read_only(folder):
        assert main([str(batch_file), "--runs-dir", str(runs)]) == 1
    out = capsys.readouterr().out
    assert f"cannot write {folder / 'params.yaml'}" in out, out
    assert _contents(runs) == before
    assert_whole(runs)


def _fail_with_enospc(monkeypatch, folder: Path, names: tuple[str, ...] = ()) -> list[str]:
    """Make every atomic write into ``folder`` (only of ``names`` if given) fail as a full
    disk does; returns the files refused."""
    refused: list[str] = []
    real = os.fsync

    def fsync(fd):
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        target = path.name[1:].rsplit(".", 2)[0] if path.name.endswith(".tmp") else ""
        if path.parent == folder and target and (not names or target in names):
            refused.append(target)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return refused


@pytest.mark.slow
def test_full_disk_stops_the_run_naming_the_path_and_loses_nothing(
    together, tmp_path, batch_file, capsys, monkeypatch
):
    from krypto.pipeline.batch import main

    runs = _interrupted_copy(together, tmp_path / "runs")
    folder = runs / "f" / "after"
    before = _contents(runs)
    refused = _fail_with_enospc(monkeypatch, folder)
    assert main([str(batch_file), "--runs-dir", str(runs)]) == 1
    out = capsys.readouterr().out
    assert refused == ["params.yaml"]
    assert f"cannot write {folder / 'params.yaml'} (no space left on the device)" in out, out
    assert _contents(runs) == before
    assert_whole(runs)


@pytest.mark.slow
def test_full_disk_at_the_end_of_training_names_the_path_and_loses_nothing(
    together, tmp_path, monkeypatch
):
    from krypto.learning.checkpoint import read_checkpoint
    from krypto.learning.train import TrainConfig, Trainer

    run = tmp_path / "train"
    shutil.copytree(together["runs"] / "f" / "train", run)
    (run / "metrics.json").unlink()  # cut short after its last checkpoint: it resumes, then
    before = _contents(run)  # writes metrics.json, which the full disk refuses
    refused = _fail_with_enospc(monkeypatch, run.resolve(), ("metrics.json",))
    trainer = Trainer(TrainConfig(**{**TRAIN, "run_dir": str(run)}))
    with pytest.raises(WriteError, match="no space left") as error:
        trainer.fit()
    assert str(run / "metrics.json") in str(error.value) and refused == ["metrics.json"]
    monkeypatch.undo()
    after = _contents(run)
    for name, content in before.items():  # all but the config (rewritten) and TensorBoard's log
        if name != "config.json" and not name.startswith("tb"):
            assert after.get(name) == content, f"{name} changed"
    assert "metrics.json" not in after
    assert read_checkpoint(run / "last.pt")["epoch"] == TRAIN["epochs"]
    assert_whole(run)
    assert lock_holder(run) is None


# --- the lock ----------------------------------------------------------------------------------


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _holder(folder: Path, then: str = "time.sleep(60)") -> subprocess.Popen:
    """Another process holding ``folder`` (it prints ``held`` once it does)."""
    proc = _python(
        PYTHON_LOCK.format(what="hold_run_folder") + "import sys, time\n"
        f"hold_run_folder(sys.argv[1])\nprint('held', flush=True)\n{then}\n",
        str(folder),
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_refuses_another_process_naming_holder_and_folder(tmp_path):
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        with pytest.raises(RunLockedError) as error, run_lock(folder):
            pytest.fail("entered a folder held by another process")
        record = error.value.holder
        assert record["pid"] == holder.pid and record["host"] and record["started"]
        message = str(error.value)
        assert str(folder.resolve()) in message and f"pid {holder.pid} on " in message
        assert record["started"] in message and "hold_run_folder" in message
        assert lock_holder(folder)["pid"] == holder.pid  # nothing written beside it
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_taken_over_from_a_killed_holder_and_waits_for_a_live_one(tmp_path):
    folder = tmp_path / "run"
    holder = _holder(folder)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with run_lock(folder):  # at once: the kernel let go with the process
        assert lock_holder(folder)["pid"] == os.getpid()
    assert (folder / ".lock").read_text() == ""

    holder = _holder(folder, then="time.sleep(1.0)")
    start = time.monotonic()
    with run_lock(folder, wait=True):
        waited = time.monotonic() - start
    # the lock goes when the holder's files close, a moment before its exit can be reaped
    assert waited > 0.5
    assert holder.wait(timeout=30) == 0


def test_lock_lets_in_this_process_and_its_descendants_only(tmp_path):
    folder = tmp_path / "run"
    enter = (
        PYTHON_LOCK.format(what="run_lock") + "import sys\nwith run_lock(sys.argv[1]):\n"
        "    print('in', flush=True)\n"
    )
    with run_lock(folder):
        with run_lock(folder):  # reentrant
            hold_run_folder(folder)
            hold_run_folder(folder)  # idempotent
        child = _python(enter, str(folder))
        assert child.communicate()[0].strip() == "in"
        grandchild = subprocess.run(
            ["bash", "-c", f'"{sys.executable}" -c "$0" "$1"', enter, str(folder)],
            capture_output=True,
            text=True,
        )
        assert grandchild.stdout.strip() == "in", grandchild.stderr
    assert lock_holder(folder)["pid"] == os.getpid()  # held for good by hold_run_folder
    while lock_module._holds(folder.resolve()):  # let go, for the other tests of this process
        lock_module._release(folder.resolve())
    assert lock_holder(folder) is None


GUEST = """\
import sys, time
from krypto.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("in", flush=True)
    time.sleep(60)
"""


def test_a_new_holder_waits_for_the_descendants_of_a_killed_one(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    guest = tmp_path / "guest.py"
    guest.write_text(GUEST)
    # a holder whose child enters as its descendant, and outlives it
    holder = _holder(
        folder,
        then=f"import subprocess\nsubprocess.Popen([sys.executable, "
        f"{str(guest)!r}, sys.argv[1]])\ntime.sleep(60)",
    )
    orphan = None
    try:
        assert holder.stdout.readline().strip() == "in"
        orphan = psutil.Process(holder.pid).children()[0]
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        monkeypatch.setattr(lock_module, "GUEST_GRACE_S", 0.5)
        with (
            pytest.raises(RunLockedError, match="processes it started still write"),
            run_lock(folder),
        ):
            pytest.fail("entered beside a process of the killed holder")
        orphan.kill()
        orphan.wait()
        with run_lock(folder):
            assert lock_holder(folder)["pid"] == os.getpid()
    finally:
        holder.kill()
        if orphan is not None:
            with contextlib.suppress(psutil.Error):
                orphan.kill()


def test_lock_in_a_folder_that_cannot_be_written_names_it(tmp_path):
    parent = tmp_path / "parent"
    parent.mkdir()
    with (
        read_only(parent),
        pytest.raises(WriteError, match=re.escape(str(parent / "run" / ".lock"))),
        run_lock(parent / "run"),
    ):
        pass

"""The task of one run of a batch, on a Dask worker (:func:`execute_run`): a finished run reused
or a conflict, one writer per run folder (:mod:`krypto.run_lock`), the run a child process that
dies with the worker (:mod:`.children`), every file written atomically, ``run.json`` last: a task
run again after its worker was killed resumes the training from its ``last.pt``."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import distributed
import papermill
import yaml

from krypto import constants as C
from krypto.files import atomic_path, write_text
from krypto.paths import display_path
from krypto.pipeline import children
from krypto.pipeline import run_record as R
from krypto.pipeline.run_record import Run, changes, read_record, record_of, write_record
from krypto.run_lock import describe_holder, lock_holder, run_lock

NOT_STARTED = "not started"  # a run the batch was stopped before
ERROR_LINES = 30  # lines of the log kept in run.json on failure


@dataclass
class Outcome:
    """How a run ended; ``message`` ends its progress line and names it in the summary."""

    status: str
    message: str


_active: dict[str, set[subprocess.Popen]] = defaultdict(set)  # batch -> children running here
_stopped: dict[str, str] = {}  # batch -> why it was stopped
_guard = threading.Lock()


def stop_batch(batch_id: str, why: str) -> None:
    """On a worker: start no more runs of the batch; stop its children (runs ``interrupted``)."""
    with _guard:
        _stopped[batch_id] = why
        procs = list(_active[batch_id])
    threading.Thread(target=children.stop, args=(procs,), daemon=True).start()


def execute_run(
    run: Run,
    needed: dict[str, Outcome],
    force: bool,
    runs_dir: Path,
    threads: int,
    batch_id: str,
    number: str,
) -> Outcome:
    """The task of one run (``number``: its place in the batch, ``[k/n]``), on a worker:
    ``needed`` holds the outcomes of its needs in the batch (by full name)."""

    def say(text: str) -> None:
        print(f"{number} {run.full_name} ... {text}", flush=True)

    if batch_id in _stopped:
        return Outcome(NOT_STARTED, NOT_STARTED)
    unseen = next((p for p in (runs_dir, run.notebook) if not p.exists()), None)
    if unseen is not None:
        where = "every worker must see the repository and the runs folder at the same paths"
        return Outcome(R.FAILED, f"failed: {socket.gethostname()} cannot see {unseen} ({where})")
    blocker = _blocker(run, needed, runs_dir, say)
    if blocker:
        return Outcome(R.BLOCKED, blocker)
    if not force and (settled := _done_before(run)):
        return settled
    try:
        _wait_while_held(run.run_dir, say, "waiting:")
        with run_lock(run.run_dir, wait=True):
            if not force and (settled := _done_before(run)):  # another batch may have run it
                return settled
            say("started")
            return _execute(run, force, threads, batch_id)
    except OSError as error:
        return Outcome(R.FAILED, f"failed: {error}")


def _blocker(run: Run, needed: dict[str, Outcome], runs_dir: Path, say) -> str:
    """Why ``run`` cannot start, or an empty string; needs outside the batch are read on disk,
    after waiting for another process that runs one."""
    for need in run.needs:
        if need in needed:
            if needed[need].status not in R.FINISHED:
                return f"blocked by {need} ({needed[need].status})"
            continue
        folder = runs_dir / need
        if read_record(folder).get("status") != R.DONE:
            _wait_while_held(folder, say, f"waiting for {need},")
        if read_record(folder).get("status") != R.DONE:
            return f"blocked by {need}: not in this selection and not done ({display_path(folder)})"
    return ""


def _wait_while_held(folder: Path, say, what: str) -> None:
    """While another process holds ``folder``, say so (``what`` first) and wait for it to let go,
    off the worker's task slot (Dask's ``secede``): other runs go on meanwhile."""
    holder = lock_holder(folder)
    if holder is not None:
        say(f"{what} in use by {describe_holder(holder)}")
        distributed.secede()
        try:
            with run_lock(folder, wait=True):
                pass
        finally:
            distributed.rejoin()


def _done_before(run: Run) -> Outcome | None:
    """``skipped`` or ``conflict`` when ``run.json`` says done, else None."""
    previous = read_record(run.run_dir)
    if previous.get("status") != R.DONE:
        return None
    difference = changes(previous, record_of(run))
    if not difference:
        return Outcome(R.SKIPPED, "skip (done)")
    return Outcome(
        R.CONFLICT,
        f"conflict: done before with other {difference} (see "
        f"{display_path(run.run_dir / R.RECORD)}); use --force to redo it (with --only "
        f"{run.full_name}: it alone), or give the run another name",
    )


def _execute(run: Run, force: bool, threads: int, batch_id: str) -> Outcome:
    """Prepare the folder, run the child, record how it ended."""
    # drop what writers killed in the folder (held, so made) left: papermill's notebook and
    # temporary files (an earlier executed notebook stays until this one's replaces it)
    run.partial.unlink(missing_ok=True)
    for leftover in run.run_dir.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    parameters = dict(run.parameters)
    if force and "overwrite" in papermill.inspect_notebook(str(run.notebook)):
        parameters["overwrite"] = True
    write_text(run.run_dir / R.PARAMS, yaml.safe_dump(parameters, sort_keys=False))
    start = time.monotonic()
    write_record(run, status=R.RUNNING)
    env = children.child_env(distributed.get_worker().state.nthreads, threads, run.nproc)
    with open(run.log_file, "w") as log:
        with _guard:
            if batch_id in _stopped:
                return Outcome(NOT_STARTED, NOT_STARTED)
            proc = children.start(command(run), log, env, cwd=C.REPO_ROOT)
            _active[batch_id].add(proc)
        try:
            code = proc.wait()
        finally:
            with _guard:
                _active[batch_id].discard(proc)
    seconds = round(time.monotonic() - start, 1)
    if batch_id in _stopped:
        outcome = Outcome(R.INTERRUPTED, _stopped[batch_id])
        error = outcome.message
    elif code == 0:
        outcome, error = Outcome(R.DONE, f"done in {seconds:.1f} s"), None
    else:
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
        log = display_path(run.log_file)
        outcome = Outcome(R.FAILED, f"failed after {seconds:.1f} s ({how}), log: {log}")
        error = "\n".join(run.log_file.read_text(errors="replace").splitlines()[-ERROR_LINES:])
    partial = run.partial  # the executed notebook, put in place unless stopped
    if outcome.status != R.INTERRUPTED and partial.is_file() and partial.stat().st_size:
        with atomic_path(run.run_dir / run.notebook.name) as tmp:
            os.replace(partial, tmp)
    write_record(run, status=outcome.status, seconds=seconds, error=error)
    return outcome


def command(run: Run) -> list[str]:
    """The command line of a run (run from the repository root)."""
    params = str((run.run_dir / R.PARAMS).absolute())
    if run.launcher == R.TORCHRUN:
        return children.torchrun_command(run.nproc, "krypto.pipeline.launch", "-f", params)
    return [
        sys.executable, "-m", "papermill", str(run.notebook), str(run.partial.absolute()),
        "-f", params, "--cwd", str(C.REPO_ROOT),
        "--kernel", "python3", "--log-output", "--no-progress-bar",
    ]  # fmt: skip

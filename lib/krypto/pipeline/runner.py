"""Executing a batch: runs in order of their needs, up to ``jobs`` at a time, each as a child
process holding its run folder's lock (:mod:`krypto.run_lock`).

A run's folder is locked from before ``params.yaml`` is written until its ``run.json`` says how
it ended, so two batches on one runs folder never run the same run at once: the second one
carries on with other runs and comes back to a held one until it is free, then skips it if it
is done. The papermill child's kernel enters the folder as a descendant of the batch.

What the runner writes is written atomically (:mod:`krypto.files`): ``params.yaml``,
``run.json``, and the executed notebook, which papermill writes as it goes into
``.<notebook>.partial.ipynb`` and which is renamed to ``<notebook>.ipynb`` when papermill ends
(whether the run failed or not). ``run.json`` is written last, so ``done`` means that
everything else is in place. The log (``papermill.log``, ``torchrun.log``) is a stream.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import papermill
import yaml

from krypto import constants as C
from krypto.files import atomic_path, write_text
from krypto.paths import display_path
from krypto.pipeline import children
from krypto.pipeline.batch_file import Run, order_runs
from krypto.pipeline.run_record import (
    BLOCKED,
    CONFLICT,
    DONE,
    FAILED,
    FINISHED,
    INTERRUPTED,
    PAPERMILL,
    PARAMS,
    RECORD,
    RUNNING,
    SKIPPED,
    TORCHRUN,
    changes,
    now,
    read_record,
    record_of,
    tail,
    write_record,
)  # fmt: skip
from krypto.run_lock import RunLockedError, describe_holder, lock_holder, run_lock

NOT_STARTED = "not started"  # in the summary of an interrupted batch
POLL_S = 0.1  # how often running children are looked at
RETRY_S = 1.0  # how often a run held by another process is tried again


@dataclass
class Outcome:
    """How a run ended; ``message`` ends its progress line and names it in the summary."""

    status: str
    message: str
    seconds: float | None = None


@dataclass
class _Active:
    """A run whose child process is running."""

    run: Run
    proc: subprocess.Popen
    lock: contextlib.ExitStack
    log: IO
    started: str
    start: float


def run_batch(
    runs: list[Run],
    jobs: int = 1,
    force: bool = False,
    runs_dir: Path = C.RUNS_DIR,
    threads: int = 0,
) -> dict[str, str]:
    """Execute ``runs``, up to ``jobs`` at a time, each with ``threads`` torch CPU threads
    (0: the cores shared among the jobs); returns full name -> final status.

    A run's numbers depend on its thread count (floating-point sums are split differently), not
    on ``jobs``: the same ``threads`` give the same results whatever ``jobs`` is.

    Statuses: ``done``, ``skipped`` (done before), ``failed``, ``conflict`` (done before with
    other parameters) and ``blocked`` (a needed run is not done). ``runs_dir`` is where needed
    runs that are not in ``runs`` are looked for. On SIGINT, SIGTERM or SIGHUP the running
    children are stopped, their runs recorded as ``interrupted``, and
    :class:`krypto.pipeline.children.Interrupted` is raised.
    """
    batch = _Batch(order_runs(runs), jobs, force, Path(runs_dir), threads)
    try:
        batch.execute()
    finally:
        _summary(batch.runs, batch.outcomes)
    return {name: outcome.status for name, outcome in batch.outcomes.items()}


class _Batch:
    def __init__(self, runs: list[Run], jobs: int, force: bool, runs_dir: Path, threads: int = 0):
        self.runs, self.jobs, self.force, self.runs_dir = runs, jobs, force, runs_dir
        self.selected = {run.full_name for run in runs}
        self.env = children.child_env(jobs, threads)
        self.outcomes: dict[str, Outcome] = {}
        self.active: dict[str, _Active] = {}
        self.pending = list(runs)
        self._numbers: dict[str, int] = {}
        self._counter = itertools.count(1)
        self._retry_at: dict[str, float] = {}
        self._told: set[str] = set()  # runs whose wait was printed

    def execute(self) -> None:
        with children.catch_signals() as caught:
            try:
                while self.pending or self.active:
                    if caught:
                        raise children.Interrupted(caught[0])
                    moved = self._start_ready()
                    moved = self._reap() or moved
                    if not moved:
                        time.sleep(POLL_S)
            except BaseException as error:
                self._stop_all(error)
                raise

    # -- starting ---------------------------------------------------------------------------

    def _start_ready(self) -> bool:
        moved = False
        for run in list(self.pending):
            if any(need in self.selected and need not in self.outcomes for need in run.needs):
                continue
            if self._need_in_use(run):
                continue
            outcome = _settled(run, self.outcomes, self.runs_dir, self.force)
            if outcome is None:
                if len(self.active) >= self.jobs or time.monotonic() < self._retry_at.get(
                    run.full_name, 0
                ):
                    continue
                outcome = self._start(run)
                if outcome is None:
                    self.pending.remove(run)
                    moved = True
                    continue
                if outcome.status == RUNNING:  # held by another process
                    self._retry_at[run.full_name] = time.monotonic() + RETRY_S
                    self._tell_once(run, outcome.message)
                    continue
            self.pending.remove(run)
            self.outcomes[run.full_name] = outcome
            self._progress(run, outcome.message)
            moved = True
        return moved

    def _need_in_use(self, run: Run) -> bool:
        """Whether a need outside this selection is being run by another process (wait)."""
        for need in run.needs:
            folder = self.runs_dir / need
            if need in self.selected or read_record(folder).get("status") == DONE:
                continue
            holder = lock_holder(folder)
            if holder is not None:
                self._tell_once(run, f"waiting for {need}, in use by {describe_holder(holder)}")
                return True
        return False

    def _start(self, run: Run) -> Outcome | None:
        """Lock the folder and start the child (None), or say why not (``running``: held by
        another process, try again later)."""
        lock = contextlib.ExitStack()
        try:
            lock.enter_context(run_lock(run.run_dir))
        except RunLockedError as error:
            return Outcome(RUNNING, f"waiting: in use by {describe_holder(error.holder)}")
        except OSError as error:
            return Outcome(FAILED, f"failed: {error}")
        try:
            if not self.force:  # looked at again under the lock: another batch may have run it
                settled = _done_before(run)
                if settled is not None:
                    lock.close()
                    return settled
            self._progress(run, "started")
            self.active[run.full_name] = self._launch(run, lock)
        except OSError as error:
            lock.close()
            return Outcome(FAILED, f"failed: {error}")
        except BaseException:
            lock.close()
            raise
        return None

    def _launch(self, run: Run, lock: contextlib.ExitStack) -> _Active:
        _prepare(run, self.force)
        started, start = now(), time.monotonic()
        write_record(run.run_dir, {**record_of(run), "status": RUNNING, "started": started})
        env, cwd = self.env, None
        if run.launcher == TORCHRUN:  # from the repository root, like the notebooks
            env, cwd = children.shared_threads(self.env, run.nproc), C.REPO_ROOT
        log = open(run.log_file, "w")  # noqa: SIM115  (closed when the child ends)
        try:
            proc = children.start(_command(run), log, env, cwd)
        except BaseException:
            log.close()
            raise
        return _Active(run, proc, lock, log, started, start)

    # -- ending -------------------------------------------------------------------------------

    def _reap(self) -> bool:
        moved = False
        for name, active in list(self.active.items()):
            code = active.proc.poll()
            if code is None:
                continue
            del self.active[name]
            self.outcomes[name] = _finish(active, code)
            self._progress(active.run, self.outcomes[name].message)
            moved = True
        return moved

    def _stop_all(self, error: BaseException) -> None:
        """Stop every child, record its run as interrupted and let its folder go."""
        why = str(error) if isinstance(error, children.Interrupted) else f"stopped by {error!r}"
        try:
            children.stop([active.proc for active in self.active.values()])
        finally:
            for name, active in list(self.active.items()):
                seconds = round(time.monotonic() - active.start, 1)
                with contextlib.suppress(OSError):
                    active.log.close()
                    write_record(active.run.run_dir, {
                        **record_of(active.run), "status": INTERRUPTED, "started": active.started,
                        "finished": now(), "seconds": seconds, "error": why,
                    })  # fmt: skip
                active.lock.close()
                self.outcomes[name] = Outcome(INTERRUPTED, why, seconds)
                self._progress(active.run, self.outcomes[name].message)
            self.active.clear()
            for run in self.pending:
                self.outcomes.setdefault(run.full_name, Outcome(NOT_STARTED, NOT_STARTED))

    # -- printing -----------------------------------------------------------------------------

    def _progress(self, run: Run, text: str) -> None:
        """One line per start and end of a run."""
        if run.full_name not in self._numbers:
            self._numbers[run.full_name] = next(self._counter)
        print(
            f"[{self._numbers[run.full_name]}/{len(self.runs)}] {run.full_name} ... {text}",
            flush=True,
        )

    def _tell_once(self, run: Run, text: str) -> None:
        if run.full_name not in self._told:
            self._told.add(run.full_name)
            self._progress(run, text)


def _settled(run: Run, outcomes: dict[str, Outcome], runs_dir: Path, force: bool) -> Outcome | None:
    """The outcome of a run that must not execute (blocked, skipped, conflict), else None."""
    blocker = _blocker(run, outcomes, runs_dir)
    if blocker:
        return Outcome(BLOCKED, blocker)
    return None if force else _done_before(run)


def _done_before(run: Run) -> Outcome | None:
    """``skipped`` or ``conflict`` when ``run.json`` says done, else None."""
    previous = read_record(run.run_dir)
    if previous.get("status") != DONE:
        return None
    difference = changes(previous, record_of(run))
    if not difference:
        return Outcome(SKIPPED, "skip (done)")
    return Outcome(
        CONFLICT,
        f"conflict: done before with other {difference} "
        f"(see {display_path(run.run_dir / RECORD)}); "
        "use --force to redo it, or give the run another name",
    )


def _blocker(run: Run, outcomes: dict[str, Outcome], runs_dir: Path) -> str:
    """Why ``run`` cannot start, or an empty string; needs outside ``outcomes`` are read on disk."""
    for need in run.needs:
        if need in outcomes:
            if outcomes[need].status not in FINISHED:
                return f"blocked by {need} ({outcomes[need].status})"
        elif read_record(runs_dir / need).get("status") != DONE:
            where = display_path(runs_dir / need)
            return f"blocked by {need}: not in this selection and not done ({where})"
    return ""


def _prepare(run: Run, force: bool) -> None:
    """Make the folder, drop what writers killed there left (the notebook papermill was writing,
    temporary files of atomic writes: nobody else writes there while the folder is held), write
    ``params.yaml``. (The executed notebook of an earlier run stays until this one's replaces
    it: a run that cannot start loses nothing.)"""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    run.partial.unlink(missing_ok=True)
    for leftover in run.run_dir.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    parameters = dict(run.parameters)
    if force and "overwrite" in papermill.inspect_notebook(str(run.notebook)):
        parameters["overwrite"] = True
    write_text(run.run_dir / PARAMS, yaml.safe_dump(parameters, sort_keys=False))


def _finish(active: _Active, code: int) -> Outcome:
    """Put the executed notebook in place, then write ``run.json``; let the folder go."""
    run = active.run
    active.log.close()
    seconds = round(time.monotonic() - active.start, 1)
    try:
        if code == 0:
            outcome = Outcome(DONE, f"done in {seconds:.1f} s", seconds)
        else:
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
            log = display_path(run.log_file)
            outcome = Outcome(FAILED, f"failed after {seconds:.1f} s ({how}), log: {log}", seconds)
        _publish(run)
        error = None if code == 0 else tail(run.log_file)
        end = {"status": outcome.status, "finished": now(), "seconds": seconds, "error": error}
        write_record(run.run_dir, {**record_of(run), "started": active.started, **end})
        return outcome
    except OSError as error:
        return Outcome(FAILED, f"failed: {error}", seconds)
    finally:
        active.lock.close()


def _publish(run: Run) -> None:
    """Rename the notebook papermill wrote as it went to its final name, synced."""
    partial = run.partial
    if run.launcher == PAPERMILL and partial.is_file() and partial.stat().st_size:
        with atomic_path(run.executed) as tmp:
            os.replace(partial, tmp)


def _command(run: Run) -> list[str]:
    """The command line of a run."""
    params = str(run.run_dir / PARAMS)
    if run.launcher == TORCHRUN:
        return children.torchrun_command(
            run.nproc, "krypto.pipeline.launch", "-f", str(Path(params).absolute())
        )
    return [
        sys.executable, "-m", "papermill", str(run.notebook), str(run.partial),
        "-f", params, "--cwd", str(C.REPO_ROOT),
        "--kernel", "python3", "--log-output", "--no-progress-bar",
    ]  # fmt: skip


def _summary(runs: list[Run], outcomes: dict[str, Outcome]) -> None:
    """A table of every run, then the runs that did not finish and why."""
    width = max([len("run")] + [len(run.full_name) for run in runs])
    print(f"\n{'run':<{width}}  {'status':<11}  seconds")
    for run in runs:
        outcome = outcomes.get(run.full_name) or Outcome(NOT_STARTED, NOT_STARTED)
        seconds = "-" if outcome.seconds is None else f"{outcome.seconds:.1f}"
        print(f"{run.full_name:<{width}}  {outcome.status:<11}  {seconds:>7}")
    failures = [
        run
        for run in runs
        if run.full_name in outcomes and outcomes[run.full_name].status not in FINISHED
    ]
    if failures:
        print(f"\n{len(failures)} of {len(runs)} runs did not finish:")
        for run in failures:
            print(f"  {run.full_name}: {outcomes[run.full_name].message}")

"""The batch runner's child processes (papermill, torchrun) end with it, however it ends.

* Each child starts in a session of its own (so a Ctrl-C in the terminal reaches the batch
  only, which then stops its children in order) and, on Linux, with a parent-death signal
  (``prctl(PR_SET_PDEATHSIG, SIGTERM)``): when the batch process dies, even by SIGKILL, the
  kernel sends its children SIGTERM. A notebook kernel, the child's child, stops within a
  second once its papermill is gone (ipykernel polls its parent); torchrun stops its workers
  on SIGTERM.
* On SIGINT, SIGTERM or SIGHUP the batch stops starting runs, sends SIGTERM to every process
  of every child's tree (the kernels included), SIGKILL to what is left after a grace period,
  and records the runs it stopped as ``interrupted``; see :func:`catch_signals` and
  :func:`stop`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 5.0  # between SIGTERM and SIGKILL when stopping children

_LIBC = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: nothing is loaded after fork


class Interrupted(Exception):
    """The batch was asked to stop by a signal."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def torchrun_command(nproc: int, module: str, *args: str) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node NPROC -m MODULE ARGS``
    with this interpreter: ``nproc`` processes of ``module`` on this machine."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(nproc), "-m", module, *args,
    ]  # fmt: skip


def start(command: list[str], log, env: dict[str, str], cwd=None) -> subprocess.Popen:
    """Start ``command`` writing to the open file ``log``, to die with this process."""
    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        cwd=cwd, start_new_session=True, preexec_fn=_die_with(os.getpid()),
    )  # fmt: skip


def _die_with(parent: int):
    """A ``preexec_fn``: the parent-death signal, and an exit if the parent is already gone."""

    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def stop(processes: list[subprocess.Popen], grace: float = GRACE_S) -> None:
    """SIGTERM to each process and all its descendants, then SIGKILL to those still there after
    ``grace`` seconds; returns when they are gone."""
    import psutil

    targets: list[psutil.Process] = []
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(proc.pid)
            targets += [parent, *parent.children(recursive=True)]  # before the parent dies
    for target in targets:
        with contextlib.suppress(psutil.Error):
            target.terminate()
    _, alive = psutil.wait_procs(targets, timeout=grace)
    for target in alive:
        with contextlib.suppress(psutil.Error):
            target.kill()
    psutil.wait_procs(alive, timeout=grace)
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)


@contextlib.contextmanager
def catch_signals() -> Iterator[list[int]]:
    """Yield a list that SIGINT, SIGTERM and SIGHUP append their number to (the caller stops at
    its next look); a second signal raises :class:`Interrupted` at once. Handlers are set only
    in the main thread, and restored after."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum, frame):
        caught.append(signum)
        if len(caught) > 1:
            raise Interrupted(signum)

    previous = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield caught
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def shared_threads(env: dict[str, str], nproc: int) -> dict[str, str]:
    """``env`` with each run's threads shared among its ``nproc`` processes."""
    threads = str(max(1, int(env.get("KRYPTO_NUM_THREADS", 1)) // nproc))
    counts = dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KRYPTO_NUM_THREADS"), threads)
    return {**env, **counts}


def child_env(jobs: int, threads: int = 0) -> dict[str, str]:
    """The environment of papermill: the venv's bin first, ``threads`` torch threads per run
    (0: the cores shared among ``jobs``)."""
    threads = str(threads if threads > 0 else max(1, (os.cpu_count() or 1) // jobs))
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    counts = dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KRYPTO_NUM_THREADS"), threads)
    return {**os.environ, "PATH": path, **counts}

"""The batch runner's child processes (papermill, torchrun) end with it, however it ends: each
starts in a session of its own (a Ctrl-C reaches the batch only, which then stops its children:
:func:`stop`) and, on Linux, with a parent-death signal (``PR_SET_PDEATHSIG``): when the batch
dies, even by SIGKILL, the kernel sends its children SIGTERM. A notebook kernel, the child's
child, stops within a second once its papermill is gone; torchrun stops its workers on SIGTERM."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 5.0  # between SIGTERM and SIGKILL when stopping children
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KRYPTO_NUM_THREADS")

_PRCTL = getattr(ctypes.CDLL(None), "prctl", None)  # Linux; loaded here, not after fork


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


def start(command: list[str], log, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start ``command`` in ``cwd`` writing to the open file ``log``, to die with this process."""
    parent = os.getpid()

    def die_with_parent() -> None:  # the parent-death signal, and an exit if it is gone already
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        cwd=cwd, start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each process and all its descendants, then SIGKILL to those still there after
    :data:`GRACE_S` seconds; returns when they are gone."""
    targets: list[psutil.Process] = []
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(proc.pid)
            targets += [parent, *parent.children(recursive=True)]  # before the parent dies
    for how in ("terminate", "kill"):
        for target in targets:
            with contextlib.suppress(psutil.Error):
                getattr(target, how)()
        targets = psutil.wait_procs(targets, timeout=GRACE_S)[1]
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=GRACE_S)


@contextlib.contextmanager
def raise_on_signals() -> Iterator[None]:
    """Within the block (in the main thread only), SIGINT, SIGTERM and SIGHUP raise
    :class:`Interrupted`; a signal this process ignores (a background job's SIGINT) stays so."""

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {
        signum: signal.signal(signum, handler)
        for signum in STOP_SIGNALS
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def child_env(jobs: int, threads: int, nproc: int) -> dict[str, str]:
    """The environment of a run: the venv's bin first, ``threads`` torch threads per run (0: the
    cores shared among ``jobs``), shared among its ``nproc`` processes."""
    threads = threads if threads > 0 else max(1, (os.cpu_count() or 1) // jobs)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    counts = dict.fromkeys(THREAD_VARIABLES, str(max(1, threads // nproc)))
    return {**os.environ, "PATH": path, **counts}

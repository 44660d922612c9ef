"""One writer per run folder: an exclusive advisory lock (``fcntl.flock``) on ``run_dir/.lock``.

::

    with run_lock(run_dir):          # stops at once with RunLockedError when another process
        ...                          # holds the folder; run_lock(run_dir, wait=True) waits
    hold_run_folder(run_dir)         # the same, for the rest of the process (notebook kernels)

Who may enter a locked folder: the process that holds it (the lock is reentrant within a
process) and its descendants (``psutil`` parents): the batch runner holds the folder while its
papermill child's kernel trains into it, and the kernel enters too. Anyone else waits or gets
:class:`RunLockedError`, whose message names the folder and the holder (pid, host, start time,
command line) that the holder writes into the lock file.

The operating system releases a flock when its holder's process ends, however it ends, so the
lock of a killed process is free at once (a stale lock is simply taken). Processes that entered
as descendants do not hold the flock; they hold a shared flock on ``run_dir/.lock.guests``
instead, and whoever takes the folder next first waits until no such process is left (one
orphaned by a killed holder stops within a second or two, see
:mod:`krypto.pipeline.batch`), so a new writer never writes beside an old one.

The lock file is written in place, never replaced by a rename (the lock lives on its inode); it
is emptied when its holder lets go, and readers treat an empty or half-written one as unknown.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from krypto.files import WriteError

LOCK_FILE = ".lock"
GUESTS_FILE = ".lock.guests"
GUEST_GRACE_S = 30.0  # how long a new holder waits for processes left by a killed one
POLL_S = 0.1


class RunLockedError(RuntimeError):
    """Another process holds the run folder; ``holder`` is its record (pid, host, started,
    command), empty when unknown."""

    def __init__(self, run_dir: str | Path, holder: dict | None, reason: str = ""):
        self.run_dir = Path(run_dir)
        self.holder = dict(holder or {})
        super().__init__(
            f"{self.run_dir} is in use by {describe_holder(self.holder)}"
            f"{reason}; wait for it to end (or stop it), or choose another run_dir"
        )


def describe_holder(holder: dict | None) -> str:
    """``pid 123 on host since 2025-01-01T10:00:00 (python -m ...)``, or a placeholder."""
    if not holder or "pid" not in holder:
        return "another process (unknown: its lock file is empty)"
    text = f"pid {holder['pid']} on {holder.get('host', '?')} since {holder.get('started', '?')}"
    return f"{text} ({holder['command']})" if holder.get("command") else text


@dataclass
class _Held:
    """A folder this process is in: as the flock holder, or as a descendant (guest)."""

    pid: int
    fd: int  # the lock file (holder) or the guests file (guest)
    guest: bool
    count: int = 1
    forever: bool = False


_held: dict[Path, _Held] = {}
_mutexes: dict[Path, threading.Lock] = {}
_registry = threading.Lock()  # guards _mutexes


@contextlib.contextmanager
def run_lock(run_dir: str | Path, wait: bool = False) -> Iterator[Path]:
    """Be the only writer of ``run_dir`` (created if missing) for the ``with`` block.

    Enters at once when this process or one of its ancestors holds the folder. Otherwise takes
    the lock, or, when another process holds it, raises :class:`RunLockedError` (``wait=False``)
    or waits for it to end (``wait=True``). Raises :class:`krypto.files.WriteError` naming the
    lock file when the folder cannot be written. Yields the folder.
    """
    folder = _acquire(run_dir, wait)
    try:
        yield folder
    finally:
        _release(folder)


def hold_run_folder(run_dir: str | Path, wait: bool = False) -> Path:
    """Take ``run_dir`` as :func:`run_lock` does, for the rest of this process's life (what a
    notebook kernel does for its run folder); calling it again for the same folder does nothing.
    Returns the folder."""
    return _acquire(run_dir, wait, forever=True)


def lock_holder(run_dir: str | Path) -> dict | None:
    """The record of the process holding ``run_dir`` when one is written and it is alive, else
    None (for messages; whether the lock is free is only known by taking it)."""
    holder = _read_record(_key(run_dir) / LOCK_FILE)
    return holder if holder and _alive(holder) else None


def holds(run_dir: str | Path) -> bool:
    """Whether this process is in ``run_dir`` (as holder or as a descendant of the holder)."""
    held = _held.get(_key(run_dir))
    return held is not None and held.pid == os.getpid()


# --- taking and letting go ------------------------------------------------------------------


def _key(run_dir: str | Path) -> Path:
    from krypto.paths import resolve_path

    return resolve_path(run_dir).resolve()


def _acquire(run_dir: str | Path, wait: bool, forever: bool = False) -> Path:
    key = _key(run_dir)
    with _folder_mutex(key):  # one thread of this process at a time per folder
        held = _held.get(key)
        if held is not None and held.pid != os.getpid():
            del _held[key]  # inherited through fork: the parent's, not ours
            held = None
        if held is not None:
            if not (forever and held.forever):  # hold_run_folder again: nothing to do
                held.count += 1
            held.forever = held.forever or forever
            return key
        fd = _open(key / LOCK_FILE)
        try:
            guest = _take(fd, key, wait)
        except BaseException:
            os.close(fd)
            raise
        if guest is not None:
            os.close(fd)
            _held[key] = _Held(os.getpid(), guest, guest=True, forever=forever)
        else:
            _held[key] = _Held(os.getpid(), fd, guest=False, forever=forever)
        return key


def _folder_mutex(key: Path) -> threading.Lock:
    with _registry:
        return _mutexes.setdefault(key, threading.Lock())


def _take(fd: int, key: Path, wait: bool) -> int | None:
    """Take the flock on ``fd`` (returns None), or enter as a descendant of the holder (returns
    the guests file's descriptor, shared-locked)."""
    told = False
    while True:
        if _try_flock(fd, fcntl.LOCK_EX):
            break
        holder = _read_record(key / LOCK_FILE, settle=True)
        if holder and _is_ancestor(holder):
            guest = _enter_as_guest(fd, key, holder)
            if guest is not None:
                return guest
            continue  # the holder changed meanwhile: look again
        if not wait:
            raise RunLockedError(key, holder)
        if not told:
            print(
                f"waiting for {key}, in use by {describe_holder(holder)}",
                file=sys.stderr,
                flush=True,
            )
            told = True
        fcntl.flock(fd, fcntl.LOCK_EX)
        break
    previous = _read_record(key / LOCK_FILE)  # what a holder killed before letting go left
    try:
        _write_record(fd, key / LOCK_FILE)
        _wait_for_guests(key, wait, previous)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        raise
    return None


def _enter_as_guest(fd: int, key: Path, holder: dict) -> int | None:
    """Hold the guests file shared while ``holder`` (an ancestor) holds the folder; None if it
    no longer does."""
    guests = _open(key / GUESTS_FILE)
    fcntl.flock(guests, fcntl.LOCK_SH)
    if not _try_flock(fd, fcntl.LOCK_EX) and _read_record(key / LOCK_FILE, settle=True) == holder:
        return guests
    fcntl.flock(guests, fcntl.LOCK_UN)  # (if the probe took the flock, _take keeps it)
    os.close(guests)
    return None


def _wait_for_guests(key: Path, wait: bool, previous: dict | None) -> None:
    """Wait until no descendant of an earlier holder (one killed before them) is left."""
    guests = _open(key / GUESTS_FILE)
    try:
        deadline = time.monotonic() + GUEST_GRACE_S
        while not _try_flock(guests, fcntl.LOCK_EX):
            if not wait and time.monotonic() > deadline:
                raise RunLockedError(
                    key,
                    previous,
                    reason=" (processes it started still write there, though it has ended)",
                )
            time.sleep(POLL_S)
        fcntl.flock(guests, fcntl.LOCK_UN)
    finally:
        os.close(guests)


def _release(key: Path) -> None:
    with _folder_mutex(key):
        held = _held.get(key)
        if held is None or held.pid != os.getpid():
            return
        held.count -= 1
        if held.count > 0 or held.forever:
            return
        del _held[key]
        try:
            if not held.guest:
                with contextlib.suppress(OSError):
                    os.ftruncate(held.fd, 0)
            fcntl.flock(held.fd, fcntl.LOCK_UN)
        finally:
            os.close(held.fd)


# --- the lock file ------------------------------------------------------------------------------


def _open(path: Path) -> int:
    """A descriptor of ``path`` (created, with its folder, if missing); WriteError if it cannot
    be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        hint = " (no space left on the device)" if err.errno == errno.ENOSPC else ""
        raise WriteError(err.errno, f"cannot write {path}{hint}: {err.strerror or err}") from err


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _record() -> dict:
    """Who holds the folder: this process."""
    import psutil

    me = psutil.Process()
    try:
        command = shlex.join(me.cmdline())
    except psutil.Error:
        command = shlex.join(sys.argv)
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "created": me.create_time(),  # tells this process from a later one with its pid
        "command": command[:500],
    }


def _write_record(fd: int, path: Path) -> None:
    data = (json.dumps(_record()) + "\n").encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    except OSError as err:
        hint = " (no space left on the device)" if err.errno == errno.ENOSPC else ""
        raise WriteError(err.errno, f"cannot write {path}{hint}: {err.strerror or err}") from err


def _read_record(path: Path, settle: bool = False) -> dict | None:
    """The holder written in a lock file; None when missing, empty or half-written. With
    ``settle``, an empty one is read again for a moment (its holder may be writing it)."""
    for attempt in range(10 if settle else 1):
        try:
            record = json.loads(path.read_text())
            if isinstance(record, dict) and "pid" in record:
                return record
        except (OSError, ValueError):
            pass
        if attempt < 9 and settle:
            time.sleep(0.02)
    return None


def _alive(holder: dict) -> bool:
    import psutil

    if holder.get("host") != socket.gethostname():
        return True  # cannot tell: assume it is
    try:
        process = psutil.Process(int(holder["pid"]))
        return abs(process.create_time() - float(holder.get("created", 0))) < 1.0
    except (psutil.Error, ValueError, TypeError):
        return False


def _is_ancestor(holder: dict) -> bool:
    """Whether ``holder`` is this process or one of its ancestors, on this host."""
    import psutil

    if holder.get("host") != socket.gethostname():
        return False
    try:
        me = psutil.Process()
        family = [me, *me.parents()]
    except psutil.Error:
        return False
    for process in family:
        if process.pid == holder.get("pid"):
            try:
                created = process.create_time()
            except psutil.Error:
                return False
            return "created" not in holder or abs(created - float(holder["created"])) < 1.0
    return False

"""One writer per run folder: an exclusive ``fcntl.flock`` on ``run_dir/.lock``, taken by ``with
run_lock(run_dir):`` or, for the rest of the process, ``hold_run_folder(run_dir)``, and written
with the holder's pid, host, start time and command for :class:`RunLockedError`'s message.

The holder may enter again (the lock is reentrant within a process), and so may its descendants
(the batch runner holds the folder while its papermill child's kernel trains into it): they hold
a shared flock on ``run_dir/.lock.guests``, and whoever takes the folder next waits until none
is left, so a new writer never writes beside an old one. The operating system releases a flock
when its process ends, however it ends: a killed holder's lock is free at once."""

import contextlib
import datetime
import fcntl
import json
import os
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from krypto.files import open_lock_file, read_json, write_error
from krypto.paths import resolve_path

LOCK_FILE, GUESTS_FILE = ".lock", ".lock.guests"
GUEST_GRACE_S = 30.0  # how long a new holder waits for processes left by a killed one
POLL_S = 0.1


class RunLockedError(RuntimeError):
    """Another process holds the run folder; ``holder`` is its record (empty when unknown)."""

    def __init__(self, run_dir: Path, holder: dict | None, reason: str = ""):
        self.holder = dict(holder or {})
        super().__init__(
            f"{run_dir} is in use by {describe_holder(self.holder)}"
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

    pid: int  # tells a registry inherited through fork from this process's own
    fd: int  # the lock file (holder) or the guests file (guest): emptied and closed to let go
    count: int = 1


_held: dict[Path, _Held] = {}
_mutexes: dict[Path, threading.Lock] = {}  # one thread of this process at a time per folder


@contextlib.contextmanager
def run_lock(run_dir: str | Path, wait: bool = False) -> Iterator[Path]:
    """Be the only writer of ``run_dir`` (created if missing) for the ``with`` block; enters at
    once when this process or one of its ancestors holds it, else takes the lock, or raises
    :class:`RunLockedError` (or waits, with ``wait``). Raises :class:`krypto.files.WriteError`
    naming the lock file when the folder cannot be written. Yields the folder."""
    folder = _acquire(run_dir, wait)
    try:
        yield folder
    finally:
        _release(folder)


def hold_run_folder(run_dir: str | Path) -> Path:
    """Take ``run_dir`` as :func:`run_lock` does, for the rest of this process's life (what a
    notebook kernel does for its run folder; again for the same folder: nothing more)."""
    return _acquire(run_dir, wait=False)  # never released


def lock_holder(run_dir: str | Path) -> dict | None:
    """The record of the process holding ``run_dir`` when one is written and it is alive, else
    None (for messages; whether the lock is free is only known by taking it)."""
    holder = _read_holder(resolve_path(run_dir).resolve())
    return holder if holder and _alive(holder) else None


def _holds(key: Path) -> bool:
    """Whether this process is in the folder (as holder or as a descendant of the holder)."""
    return key in _held and _held[key].pid == os.getpid()


def _acquire(run_dir: str | Path, wait: bool) -> Path:
    key = resolve_path(run_dir).resolve()
    with _mutexes.setdefault(key, threading.Lock()):
        if _holds(key):
            _held[key].count += 1
            return key
        fd = open_lock_file(key / LOCK_FILE)
        try:
            _held[key] = _Held(os.getpid(), _take(fd, key, wait))
        except BaseException:
            os.close(fd)
            raise
        if _held[key].fd != fd:
            os.close(fd)
        return key


def _take(fd: int, key: Path, wait: bool) -> int:
    """Take the flock on ``fd`` (returns ``fd``), or enter as a descendant of the holder (returns
    the guests file's descriptor, shared-locked while the holder holds the folder)."""
    while not _try_flock(fd, fcntl.LOCK_EX):
        holder = _read_holder(key)
        if holder and _is_one_of(holder, lambda: [psutil.Process(), *psutil.Process().parents()]):
            guests = open_lock_file(key / GUESTS_FILE)
            fcntl.flock(guests, fcntl.LOCK_SH)
            if not _try_flock(fd, fcntl.LOCK_EX) and _read_holder(key) == holder:
                return guests
            os.close(guests)  # the holder let go meanwhile: take the flock (or look again)
        elif not wait:
            raise RunLockedError(key, holder)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
    previous = _read_holder(key)  # what a holder killed before letting go left
    try:
        _write_holder(fd, key / LOCK_FILE)
        guests = open_lock_file(key / GUESTS_FILE)
        try:  # wait until no descendant of an earlier holder (one killed before them) is left
            deadline = time.monotonic() + GUEST_GRACE_S
            while not _try_flock(guests, fcntl.LOCK_EX):
                if not wait and time.monotonic() > deadline:
                    why = " (processes it started still write there, though it has ended)"
                    raise RunLockedError(key, previous, why)
                time.sleep(POLL_S)
        finally:
            os.close(guests)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        raise
    return fd


def _release(key: Path) -> None:
    with _mutexes[key]:
        if not _holds(key):
            return
        held = _held[key]
        held.count -= 1
        if held.count == 0:
            del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(held.fd, 0)  # (the guests file is empty anyway)
            os.close(held.fd)


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _write_holder(fd: int, path: Path) -> None:
    """Write who holds the folder, this process, into the lock file ``fd`` at ``path``: in place,
    since the lock lives on the file's inode (emptied when the holder lets go)."""
    me = psutil.Process()
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "created": me.create_time(),  # tells this process from a later one with its pid
        "command": shlex.join(me.cmdline())[:500],
    }
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
    except OSError as err:
        raise write_error(path, err) from err


def _read_holder(key: Path) -> dict | None:
    """The holder written in the lock file of ``key``; None when missing, empty or half-written
    (the holder writes it before it starts anything, so its descendants always find it)."""
    record = read_json(key / LOCK_FILE)
    return record if "pid" in record else None


def _is_one_of(holder: dict, processes: Callable[[], list[psutil.Process]]) -> bool:
    """Whether ``holder`` is on this host and one of ``processes()``: the same pid, created
    then (not a later process given its pid)."""
    try:
        created = float(holder.get("created", 0))
        return holder.get("host") == socket.gethostname() and any(
            p.pid == holder.get("pid") and abs(p.create_time() - created) < 1.0 for p in processes()
        )
    except (psutil.Error, ValueError, TypeError):
        return False


def _alive(holder: dict) -> bool:
    """Whether ``holder`` is alive; on another host, assumed to be (nothing can tell)."""
    elsewhere = holder.get("host") != socket.gethostname()
    return elsewhere or _is_one_of(holder, lambda: [psutil.Process(int(holder["pid"]))])

"""Writing files so that a kill at any moment leaves the old file or the new one, never half of
one: every file this package writes goes through :func:`atomic_path` (a temporary file beside
it, flushed and renamed over it); a failed write raises :class:`WriteError` naming the path, and
the old file stays. Also: reading JSON records, and locks between processes (``fcntl.flock``)."""

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class WriteError(OSError):
    """A file could not be written; the message names it and the previous content is intact."""


def write_error(path: str | Path, err: OSError) -> WriteError:
    """``err`` as a :class:`WriteError` naming ``path`` (and a full disk as such)."""
    hint = " (no space left on the device)" if err.errno == errno.ENOSPC else ""
    return WriteError(err.errno, f"cannot write {path}{hint}: {err.strerror or err}")


def open_lock_file(path: str | Path) -> int:
    """A descriptor of ``path`` for ``fcntl.flock`` (created, with its folder, if missing)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise write_error(path, err) from err


@contextlib.contextmanager
def file_lock(path: str | Path):
    """Hold an exclusive lock on ``path`` (created if missing) for the block, waiting for it."""
    fd = open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # lets go of the lock


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error, the
    temporary file (written by the block) is synced and renamed over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise write_error(path, err) from err
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        tmp.replace(path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise write_error(path, err) from err
        raise


def read_json(path: str | Path) -> dict:
    """The JSON object in ``path``; {} when it is missing, unreadable, half-written or no object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_text(path: str | Path, text: str) -> Path:
    """``path.write_text(text)``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, value, **kwargs) -> Path:
    """``value`` as indented JSON, atomically."""
    return write_text(path, json.dumps(value, indent=2, **kwargs))


def write_csv(path: str | Path, frame, **kwargs) -> Path:
    """A pandas DataFrame as CSV (``index=False`` unless given), atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **{"index": False, **kwargs})
    return Path(path)


def save_figure(figure, path: str | Path, **kwargs) -> Path:
    """A matplotlib figure as PNG (or the format of ``path``'s suffix), atomically."""
    path = Path(path)
    kwargs = {"dpi": 120, "bbox_inches": "tight", "format": path.suffix[1:] or "png", **kwargs}
    with atomic_path(path) as tmp:
        figure.savefig(tmp, **kwargs)
    return path


def plain(value):
    """``value`` with numpy scalars and arrays, paths and tuples turned into plain Python
    (numbers, strings, lists, dicts): what JSON and ``torch.load(weights_only=True)`` accept."""
    import numpy as np

    if isinstance(value, dict):
        return {(k.item() if isinstance(k, np.generic) else k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value

"""Which code made a result: :func:`code_hash`, a fingerprint of the package, the notebooks,
the parameter files and the pins. The batch records it in each run's ``run.json`` (a finished
run made by other code is not reused without ``--force``), and the report in results.json."""

import functools
import hashlib
import subprocess
from pathlib import Path

from krypto import constants as C

CODE_FOLDERS = ("lib", "notebooks", "params")
CODE_FILES = ("requirements.txt", "environment.yml")
_SKIPPED = frozenset({"__pycache__", ".ipynb_checkpoints"})  # folders never part of the code


def code_files(root: str | Path = C.REPO_ROOT) -> list[str]:
    """The files :func:`code_hash` covers, sorted, relative to ``root`` (posix): the git-tracked
    files (every file outside a git work tree) under lib/, notebooks/ and params/, and the pins,
    as they are in the working tree; ``__pycache__`` and ``.ipynb_checkpoints`` left out."""
    root = Path(root)
    command = ["git", "-C", str(root), "ls-files", "-z", "--", *CODE_FOLDERS, *CODE_FILES]
    try:
        git = subprocess.run(command, capture_output=True, check=True, text=True)
        listed = git.stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):  # not in a git work tree
        walked = [path for folder in CODE_FOLDERS for path in (root / folder).rglob("*")]
        listed = [*CODE_FILES, *(path.relative_to(root).as_posix() for path in walked)]
    return sorted(
        name
        for name in set(listed)
        if name and not _SKIPPED.intersection(Path(name).parts) and (root / name).is_file()
    )


def code_hash(root: str | Path = C.REPO_ROOT) -> str:
    """SHA-256 (hex) over the files of :func:`code_files`, in that order: for each, its path,
    a NUL byte, its size in bytes (decimal), a NUL byte and its bytes."""
    root = Path(root)
    digest = hashlib.sha256()
    for name in code_files(root):
        data = (root / name).read_bytes()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0")
        digest.update(data)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def current_code_hash() -> str:
    """:func:`code_hash` of the repository, once per process (a batch records it in every run)."""
    return code_hash(C.REPO_ROOT)

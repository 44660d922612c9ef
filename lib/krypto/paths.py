"""Paths as the notebooks and commands take them (no heavy imports here)."""

import os
from pathlib import Path

from krypto import constants as C


def resolve_path(path: str | os.PathLike) -> Path:
    """A relative path means relative to the repository root (so a notebook behaves the same
    from the root, from notebooks/ in JupyterLab and under papermill)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else C.REPO_ROOT / p


def display_path(path: str | os.PathLike) -> str:
    """``path`` as messages show it: relative to the repository root if inside it, else absolute."""
    p = Path(path).absolute()
    return str(p.relative_to(C.REPO_ROOT)) if p.is_relative_to(C.REPO_ROOT) else str(p)

"""Small helpers the notebooks share: run folders and the results file a notebook's last cell
writes (what tests, the batch runner and the report read back)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from krypto import constants as C
from krypto.files import write_json
from krypto.paths import resolve_path
from krypto.run_lock import hold_run_folder

RESULTS_FILE = "results.json"


def run_folder(run_dir: str, default: str) -> Path:
    """``run_dir`` (or ``default`` when empty) resolved against the repository root, created,
    and held by this process until it ends (:func:`krypto.run_lock.hold_run_folder`): a second
    kernel writing into the same folder stops at once with ``RunLockedError`` naming this one.
    Under the batch runner, which holds the folder while the notebook runs, the kernel enters
    as its descendant."""
    path = resolve_path(run_dir or default)
    hold_run_folder(path)
    return path


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def record_results(run_dir: str | Path, **values) -> dict:
    """Write ``values`` to ``run_dir/results.json`` (atomically) and return them."""
    values = _plain(values)
    write_json(Path(run_dir, RESULTS_FILE), values)
    return values


def read_results(run_dir: str | Path) -> dict:
    file = resolve_path(run_dir) / RESULTS_FILE
    if not file.is_file():
        raise FileNotFoundError(f"no {RESULTS_FILE} in {file.parent}: has the notebook finished?")
    return json.loads(file.read_text())


def resolve_run(ref: str | Path, run_dir: str | Path = "") -> Path:
    """A run folder named in a notebook parameter: a path (absolute, or relative to the
    repository root) when it exists, else ``batch/run`` under the runs folder that holds
    ``run_dir`` (``runs/<batch>/<run>``; ``runs/`` when empty), so a batch run with
    ``--runs-dir`` finds its own runs."""
    path = resolve_path(ref)
    if path.exists():
        return path
    return (resolve_path(run_dir).parents[1] if run_dir else C.RUNS_DIR) / ref


def resolve_runs(refs: dict[str, str], run_dir: str | Path = "") -> dict[str, Path]:
    return {name: resolve_run(ref, run_dir) for name, ref in refs.items()}


def read_metrics(train_run: str | Path) -> dict:
    """``metrics.json`` of a 02_train run folder."""
    file = resolve_path(train_run) / C.METRICS_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"no {C.METRICS_FILE} in {file.parent}: is it a finished 02_train run?"
        )
    return json.loads(file.read_text())

"""Where the results come from: the command that made the runs, per section the run folder and
the training runs it read, and :func:`code_hash`, a fingerprint of the code that made them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from krypto import constants as C
from krypto.paths import display_path
from krypto.pipeline.batch_file import load_batch
from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.sections import BATCH_COMMAND, BATCH_FILE, Section, train_refs
from krypto.pipeline.report.values import round_values
from krypto.pipeline.results import read_metrics, resolve_run
from krypto.pipeline.run_record import RECORD

# What code_hash covers: every file of these folders and these files (git-tracked ones when git
# can list them), relative to the repository root.
CODE_FOLDERS = ("lib", "notebooks", "params")
CODE_FILES = ("requirements.txt", "environment.yml")
_SKIPPED = frozenset({"__pycache__", ".ipynb_checkpoints"})  # folders never part of the code


def read_json(file: Path) -> dict:
    """A JSON file's content, ``{}`` when it is missing or unreadable."""
    try:
        return json.loads(Path(file).read_text())
    except (OSError, ValueError):
        return {}


# --- the code ------------------------------------------------------------------------------------


def _git_files(root: Path) -> list[str] | None:
    """The git-tracked files of the code under ``root``, or None when git cannot tell (no git,
    or ``root`` is not the top of a work tree)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=True, text=True
        ).stdout

    try:
        top = git("rev-parse", "--show-toplevel").strip()
        if Path(top).resolve() != root.resolve():
            return None
        listed = git("ls-files", "-z", "--", *CODE_FOLDERS, *CODE_FILES)
    except (OSError, subprocess.CalledProcessError):
        return None
    return [name for name in listed.split("\0") if name]


def _walked_files(root: Path) -> list[str]:
    """The files of the code under ``root``, found by walking its folders (without git)."""
    files = [name for name in CODE_FILES if (root / name).is_file()]
    for folder in CODE_FOLDERS:
        for dirpath, dirnames, filenames in os.walk(root / folder):
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED]
            files += [Path(dirpath, f).relative_to(root).as_posix() for f in filenames]
    return files


def code_files(root: str | Path = C.REPO_ROOT) -> list[str]:
    """The files :func:`code_hash` covers, sorted, relative to ``root`` (posix): the git-tracked
    files under lib/, notebooks/ and params/ plus requirements.txt and environment.yml, as they
    are in the working tree (a tracked file deleted there is left out); without git, every file
    there. ``__pycache__`` and ``.ipynb_checkpoints`` folders are left out either way."""
    root = Path(root)
    listed = _git_files(root)
    if listed is None:
        listed = _walked_files(root)
    return sorted(
        name
        for name in set(listed)
        if not _SKIPPED.intersection(Path(name).parts) and (root / name).is_file()
    )


def code_hash(root: str | Path = C.REPO_ROOT) -> str:
    """SHA-256 (hex) over the files of :func:`code_files`, in that order: for each, its path,
    a NUL byte, its size in bytes (decimal), a NUL byte and its bytes. Results made from other
    code carry another hash."""
    root = Path(root)
    digest = hashlib.sha256()
    for name in code_files(root):
        data = (root / name).read_bytes()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0")
        digest.update(data)
    return digest.hexdigest()


# --- the runs ------------------------------------------------------------------------------------


class BatchCommand:
    """The batch command that made the runs: ``params/readme.yaml``, with ``--quick`` when some
    run's parameters are the quick ones (and not the full ones), and ``--runs-dir`` when not
    ``runs/``. Call it for the command line."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir).absolute()
        self._plans: dict[bool, dict[str, dict]] = {}
        self._quick: bool | None = None

    def _plan(self, quick: bool) -> dict[str, dict]:
        if quick not in self._plans:
            try:
                runs = load_batch(C.REPO_ROOT / BATCH_FILE, quick=quick, runs_dir=self.runs_dir)
                self._plans[quick] = {run.full_name: run.parameters for run in runs}
            except Exception:  # an unreadable batch file only costs the exact command
                self._plans[quick] = {}
        return self._plans[quick]

    @property
    def quick(self) -> bool:
        if self._quick is None:
            full, quick = self._plan(False), self._plan(True)
            self._quick = any(
                parameters != full.get(name)
                and read_json(self.runs_dir / name / RECORD).get("parameters") == parameters
                for name, parameters in quick.items()
            )
        return self._quick

    def __call__(self) -> str:
        command = BATCH_COMMAND
        if self.quick:
            command += " --quick"
        if self.runs_dir != C.RUNS_DIR.absolute():
            command += f" --runs-dir {display_path(self.runs_dir)}"
        return command


def run_provenance(section: Section, folder: Path, command: BatchCommand) -> dict:
    """What results.json says of a section's run: its folder, notebook, command, status, times,
    and of each training configuration it read, its folder and per seed the run folder,
    ``seconds`` and ``epochs_run``."""
    from krypto.evaluation.compare import seed_runs

    record = read_json(folder / RECORD)
    parameters = record.get("parameters") or {}
    train_runs = {}
    for name, ref in train_refs(parameters).items():
        configuration = resolve_run(ref, folder)
        try:
            seeds = [(run, read_metrics(run)) for run in seed_runs(configuration)]
        except FileNotFoundError as error:
            raise ReportError(
                f"{section.full_name} read {ref} ({name}), which has no "
                f"{C.METRICS_FILE} any more: {error}"
            ) from error
        train_runs[name] = {
            "run_dir": display_path(configuration),
            "seeds": [
                {
                    "run_dir": display_path(run),
                    "seconds": metrics.get("seconds"),
                    "epochs_run": metrics.get("epochs_run"),
                }
                for run, metrics in seeds
            ],
        }
    return round_values(
        {
            "run_dir": display_path(folder),
            "notebook": record.get("notebook"),
            "command": command(),
            "status": record.get("status", "no run.json"),
            "finished": record.get("finished"),
            "seconds": record.get("seconds"),
            **({"train_runs": train_runs} if train_runs else {}),
        }
    )

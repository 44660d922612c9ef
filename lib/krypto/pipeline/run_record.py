"""A run of a batch (:class:`Run`) and ``run.json``, the record the batch runner keeps in each
run folder, so that a run's status survives any kill: ``done`` (written last), ``failed``,
``interrupted`` (by a signal) or ``running`` (while it runs, or after its batch was killed: then
no live process holds the folder). The next batch runs again anything but ``done``."""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from krypto.code_version import current_code_hash
from krypto.files import read_json, write_json
from krypto.paths import display_path

DONE, SKIPPED, FAILED, CONFLICT, BLOCKED = "done", "skipped", "failed", "conflict", "blocked"
RUNNING, INTERRUPTED = "running", "interrupted"  # in run.json only
FINISHED = (DONE, SKIPPED)  # final statuses that satisfy `needs` and give exit code 0
RECORD, PARAMS, LOG, TORCHRUN_LOG = "run.json", "params.yaml", "papermill.log", "torchrun.log"
PAPERMILL, TORCHRUN = "papermill", "torchrun"
STATE_FIELDS = ("status", "seconds", "error", "finished")  # after record_of's


@dataclass
class Run:
    """One notebook execution: ``parameters`` are merged, ``needs`` are full names."""

    name: str
    batch: str
    notebook: Path
    parameters: dict[str, Any]
    needs: list[str]
    run_dir: Path
    launcher: str = PAPERMILL
    nproc: int = 1

    @property
    def full_name(self) -> str:  # batch/run
        return f"{self.batch}/{self.name}"

    @property
    def log_file(self) -> Path:
        return self.run_dir / (TORCHRUN_LOG if self.launcher == TORCHRUN else LOG)

    @property
    def partial(self) -> Path:
        """Where papermill writes the executed notebook as it goes."""
        return self.run_dir / f".{self.notebook.stem}.partial.ipynb"


def record_of(run: Run) -> dict[str, Any]:
    """The part of ``run.json`` that decides whether a done run is the same run: the notebook,
    its parameters, the runs it reads and when each ended done (``needs``, name -> its
    ``finished``: a comparison made from 3 seeds is not the one of 5, nor the one made before a
    seed was trained again), how it is launched and the code that runs it (its ``code_hash``)."""
    parameters = json.loads(json.dumps(run.parameters, default=str))  # as run.json reads back
    runs_dir = run.run_dir.parents[run.full_name.count("/")]  # run_dir: runs_dir/batch/name
    record = {
        "notebook": display_path(run.notebook),
        "parameters": parameters,
        "needs": {need: read_record(runs_dir / need).get("finished") for need in sorted(run.needs)},
        "code_hash": current_code_hash(),
    }
    if run.launcher != PAPERMILL:
        record.update(launcher=run.launcher, nproc=run.nproc)
    return record


def read_record(run_dir: Path) -> dict:
    """``run.json`` of a run folder, or an empty dict."""
    return read_json(Path(run_dir) / RECORD)


def write_record(run: Run, **state) -> None:
    """``run.json``, atomically: :func:`record_of` and the ``state`` fields (None if not given);
    ``finished``, the time in UTC, when the status is ``done``."""
    if state.get("status") == DONE:
        state["finished"] = datetime.now(timezone.utc).isoformat()
    write_json(run.run_dir / RECORD, {**record_of(run), **dict.fromkeys(STATE_FIELDS), **state})


def changes(previous: dict, current: dict) -> str:
    """What differs between two records, e.g. ``parameters lam: 1.0 -> 2.0``."""
    if previous.get("notebook") != current["notebook"]:
        return f"notebook {previous.get('notebook')} -> {current['notebook']}"
    if previous.get("code_hash") != current.get("code_hash"):
        before = (previous.get("code_hash") or "not recorded")[:12]
        return f"code (code_hash {before} -> {(current.get('code_hash') or '?')[:12]})"
    before, after = _launched(previous), _launched(current)
    if before != after:
        return f"launcher {before} -> {after}"
    old_needs, new_needs = _needs(previous), _needs(current)
    if old_needs.keys() != new_needs.keys():
        added = [f"+{need}" for need in sorted(new_needs.keys() - old_needs.keys())]
        removed = [f"-{need}" for need in sorted(old_needs.keys() - new_needs.keys())]
        return f"needs {' '.join(added + removed)}"
    redone = [need for need in sorted(new_needs) if old_needs[need] != new_needs[need]]
    if redone:
        return f"results of {', '.join(redone)} (done again since)"
    old, new = previous.get("parameters") or {}, current["parameters"]
    unset = "<unset>"
    changed = [
        f"{key}: {old.get(key, unset)} -> {new.get(key, unset)}"
        for key in {**old, **new}
        if old.get(key, unset) != new.get(key, unset)
    ]
    return f"parameters {', '.join(changed)}" if changed else ""


def _needs(record: dict) -> dict:
    """A record's needs, name -> when it ended done (None where not known: a list of names)."""
    needs = record.get("needs") or {}
    return needs if isinstance(needs, dict) else dict.fromkeys(needs)


def _launched(record: dict) -> str:
    """How a record's run was launched: ``papermill`` or ``torchrun xN``."""
    launcher = record.get("launcher") or PAPERMILL
    return launcher if launcher == PAPERMILL else f"{launcher} x{record.get('nproc') or 1}"

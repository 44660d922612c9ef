"""Where the results come from: the command that made the runs, per section the run folder and
the training runs it read, and :func:`code_hash`, a fingerprint of the code that made them."""

from __future__ import annotations

import json
from pathlib import Path

from krypto import constants as C
from krypto.code_version import code_files, code_hash  # noqa: F401  (re-exported)
from krypto.paths import display_path
from krypto.pipeline.batch_file import load_batch
from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.sections import BATCH_COMMAND, BATCH_FILE, Section, train_refs
from krypto.pipeline.report.values import round_values
from krypto.pipeline.results import read_metrics, resolve_run
from krypto.pipeline.run_record import RECORD


def read_json(file: Path) -> dict:
    """A JSON file's content, ``{}`` when it is missing or unreadable."""
    try:
        return json.loads(Path(file).read_text())
    except (OSError, ValueError):
        return {}


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

"""Run notebooks with papermill as described by a batch YAML file.

::

    python -m krypto.batch params/readme.yaml [--force] [--jobs N] [--only NAME ...] [--quick]

A batch file::

    batch: loss_selection              # folder name under runs/
    include: [lambda.yaml]             # optional; paths relative to this file
    base:                              # optional; parameters shared by every run of this file,
      notebooks/02_train.ipynb: {epochs: 2}     # per notebook
    runs:                              # required unless the file has `include`
      triplet:
        notebook: notebooks/02_train.ipynb      # relative to the repository root
        parameters: {loss: triplet}
      distances:
        notebook: notebooks/03_distances.ipynb
        parameters: {train_runs: [loss_selection/triplet]}
        needs: [triplet]               # runs of this batch, or "batch/run" of another one
      triplet_2gpu:
        notebook: notebooks/02_train.ipynb
        parameters: {loss: triplet}
        launcher: torchrun             # optional; default papermill
        nproc: 2                       # processes (one per GPU), with launcher torchrun
    quick:                             # optional; laid over every run of this file and of its
      notebooks/02_train.ipynb: {epochs: 1}     # includes with --quick

Included files keep their own ``batch`` folder; a file included twice is loaded once. Parameters are
merged key by key (not deeply), lowest to highest: ``base`` of the file that defines the run, the
run's ``parameters``, the ``quick`` sections (with ``--quick``; an including file's over an
included file's), and last ``run_dir``, the run's folder ``runs/<batch>/<run>`` (relative to the
repository root, where notebooks run). Values are passed as they are.

Each run's folder gets ``params.yaml`` (redo the run by hand with
``papermill NOTEBOOK OUT -f runs/<batch>/<run>/params.yaml``), the executed notebook,
``papermill.log`` and ``run.json`` (notebook, parameters, status, times, error). A run already done
with the same notebook and parameters is skipped; done with other parameters, it is a conflict
unless ``--force`` is given. ``--force`` also passes ``overwrite: true`` to notebooks that have an
``overwrite`` parameter.

``launcher: torchrun`` (with ``nproc: N``, default 1; only for notebooks/02_train.ipynb) trains
in N processes with DistributedDataParallel instead of executing the notebook:
``python -m torch.distributed.run --standalone --nproc_per_node N -m krypto.launch -f
runs/<batch>/<run>/params.yaml``, logged to ``torchrun.log``; :mod:`krypto.launch` writes what the
notebook writes (run folder, figures, ``results.json``). ``run.json`` then also holds
``launcher`` and ``nproc``, and a change of either is a conflict like a change of parameters.
Threads are shared among the runs and their processes.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import papermill
import yaml

from krypto import constants as C

DONE, SKIPPED, FAILED, CONFLICT, BLOCKED = "done", "skipped", "failed", "conflict", "blocked"
FINISHED = (DONE, SKIPPED)  # final statuses that satisfy `needs` and give exit code 0
RECORD, PARAMS, LOG = "run.json", "params.yaml", "papermill.log"
TORCHRUN_LOG = "torchrun.log"
RECORD_FIELDS = ("notebook", "parameters", "status", "started", "finished", "seconds", "error")
LAUNCH_FIELDS = ("launcher", "nproc")  # in run.json of torchrun runs only
FILE_KEYS = {"batch", "include", "base", "runs", "quick"}
RUN_KEYS = {"notebook", "parameters", "needs", "launcher", "nproc"}
PAPERMILL, TORCHRUN = "papermill", "torchrun"
LAUNCHERS = (PAPERMILL, TORCHRUN)
TORCHRUN_NOTEBOOKS = ("notebooks/02_train.ipynb",)  # notebooks krypto.launch stands in for
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
ERROR_LINES = 30  # lines of the log kept in run.json on failure


class BatchError(ValueError):
    """The batch file or the command line is wrong; the message names the file and key."""


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
    def full_name(self) -> str:
        """``batch/run``."""
        return f"{self.batch}/{self.name}"


@dataclass
class _Outcome:
    """How a run ended; ``message`` ends its progress line and names it in the summary."""

    status: str
    message: str
    seconds: float | None = None


# --- loading -----------------------------------------------------------------------------------


def load_batch(path: str | Path, quick: bool = False, runs_dir: Path = C.RUNS_DIR) -> list[Run]:
    """Read a batch file and its includes; runs come in an order that satisfies ``needs``.

    A ``batch/run`` in ``needs`` must be defined by the files or already have a folder with a
    ``run.json`` under ``runs_dir``. Raises ``BatchError`` on any mistake, before anything runs.
    """
    loader = _Loader(quick=quick, runs_dir=Path(runs_dir))
    runs = loader.load(Path(path))
    for run in runs:
        run.parameters["run_dir"] = _display(run.run_dir)
        _check_needs(run, loader.defined, Path(runs_dir))
        _check_launch(run, loader.defined)
    try:
        return order_runs(runs)
    except BatchError as error:
        raise BatchError(f"{path}: {error}") from None


@dataclass
class _Loader:
    """Loads files recursively, remembering which file defined each run."""

    quick: bool
    runs_dir: Path
    files: set[Path] = field(default_factory=set)
    defined: dict[str, Path] = field(default_factory=dict)  # full name -> file

    def load(self, path: Path) -> list[Run]:
        """Runs of ``path`` and of its includes, with base and quick parameters applied."""
        if path.resolve() in self.files:
            return []
        self.files.add(path.resolve())
        data = _read_yaml(path)
        batch = _name(path, "batch", data.get("batch"))
        if "runs" not in data and "include" not in data:
            raise BatchError(f"{path}: missing key 'runs'")
        runs = [run for include in _includes(path, data) for run in self.load(include)]
        base = _per_notebook(path, data, "base")
        for name, spec in _mapping(path, "runs", data.get("runs")).items():
            runs.append(self._run(path, batch, name, spec, base))
        if self.quick:
            overrides = _per_notebook(path, data, "quick")
            for run in runs:
                run.parameters.update(overrides.get(run.notebook, {}))
        return runs

    def _run(self, path: Path, batch: str, name: Any, spec: Any, base: dict) -> Run:
        """One entry of ``runs``."""
        key = f"runs.{name}"
        name = _name(path, key, name)
        spec = _mapping(path, key, spec)
        _known_keys(path, key, spec, RUN_KEYS)
        if "notebook" not in spec:
            raise BatchError(f"{path}: {key} has no 'notebook'")
        notebook = _notebook(path, f"{key}.notebook", spec["notebook"])
        parameters = _mapping(path, f"{key}.parameters", spec.get("parameters"))
        run = Run(
            name=name,
            batch=batch,
            notebook=notebook,
            parameters={**base.get(notebook, {}), **parameters},
            needs=_needs(path, f"{key}.needs", batch, spec.get("needs")),
            run_dir=self.runs_dir / batch / name,
            **_launch(path, key, spec, notebook),
        )
        if run.full_name in self.defined:
            other = self.defined[run.full_name]
            raise BatchError(f"{path}: {key}: run {run.full_name} is also defined in {other}")
        self.defined[run.full_name] = path
        return run


def _read_yaml(path: Path) -> dict:
    """The top-level mapping of a batch file."""
    if not path.is_file():
        raise BatchError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise BatchError(f"{path}: not valid YAML: {error}") from None
    data = _mapping(path, "top level", data)
    _known_keys(path, "top level", data, FILE_KEYS)
    return data


def _includes(path: Path, data: dict) -> list[Path]:
    """Included files, relative to ``path``; each must exist."""
    includes = data.get("include") or []
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise BatchError(f"{path}: include must be a list of file names")
    paths = [path.parent / include for include in includes]
    for include, target in zip(includes, paths):
        if not target.is_file():
            raise BatchError(f"{path}: include: {include} not found ({target})")
    return paths


def _per_notebook(path: Path, data: dict, key: str) -> dict[Path, dict]:
    """A ``base`` or ``quick`` section: notebook path -> parameters."""
    section = _mapping(path, key, data.get(key))
    return {
        _notebook(path, f"{key}.{nb}", nb): _mapping(path, f"{key}.{nb}", params)
        for nb, params in section.items()
    }


def _notebook(path: Path, key: str, value: Any) -> Path:
    """An existing notebook, relative to the repository root unless absolute."""
    if not isinstance(value, str):
        raise BatchError(f"{path}: {key} must be a notebook path, not {value!r}")
    notebook = C.REPO_ROOT / value
    if not notebook.is_file():
        raise BatchError(f"{path}: {key}: notebook {value} does not exist ({notebook})")
    return notebook.resolve()


def _launch(path: Path, key: str, spec: dict, notebook: Path) -> dict[str, Any]:
    """``launcher`` and ``nproc`` of a run: torchrun only for the training notebook."""
    launcher = spec.get("launcher", PAPERMILL)
    if launcher not in LAUNCHERS:
        raise BatchError(f"{path}: {key}.launcher: {launcher!r} is not one of {list(LAUNCHERS)}")
    nproc = spec.get("nproc", 1)
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise BatchError(f"{path}: {key}.nproc must be a positive integer, not {nproc!r}")
    if launcher == PAPERMILL and "nproc" in spec:
        raise BatchError(f"{path}: {key}: nproc needs launcher: {TORCHRUN}")
    allowed = [(C.REPO_ROOT / nb).resolve() for nb in TORCHRUN_NOTEBOOKS]
    if launcher == TORCHRUN and notebook not in allowed:
        raise BatchError(
            f"{path}: {key}: launcher {TORCHRUN} runs only {', '.join(TORCHRUN_NOTEBOOKS)} "
            f"(through krypto.launch), not {_display(notebook)}"
        )
    return {"launcher": launcher, "nproc": nproc}


def _check_launch(run: Run, defined: dict[str, Path]) -> None:
    """A torchrun run's merged parameters are all training parameters (krypto.launch takes
    nothing else, where papermill would only warn)."""
    if run.launcher != TORCHRUN:
        return
    from dataclasses import fields

    from krypto.train import TrainConfig  # imports torch: only for torchrun runs

    unknown = sorted(set(map(str, run.parameters)) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise BatchError(f"{defined[run.full_name]}: runs.{run.name}: parameters {unknown} are "
                         f"not training parameters (krypto.train.TrainConfig); launcher "
                         f"{TORCHRUN} passes only those")


def _needs(path: Path, key: str, batch: str, value: Any) -> list[str]:
    """Full names of the runs in ``needs``: ``run`` means ``batch/run`` of this batch."""
    needs = value or []
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise BatchError(f"{path}: {key} must be a list of run names")
    return [need if "/" in need else f"{batch}/{need}" for need in needs]


def _check_needs(run: Run, defined: dict[str, Path], runs_dir: Path) -> None:
    """Every need is a run of the files or one already under ``runs_dir``."""
    for need in run.needs:
        if need not in defined and not (runs_dir / need / RECORD).is_file():
            raise BatchError(
                f"{defined[run.full_name]}: runs.{run.name}.needs: unknown run {need} "
                f"(not defined in the batch files, and no {runs_dir / need / RECORD})"
            )


def _name(path: Path, key: str, value: Any) -> str:
    """A folder name: letters, digits, ``_``, ``.``, ``-``."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        what = "missing key" if value is None else f"bad name {value!r} for"
        raise BatchError(f"{path}: {what} '{key}' (a folder name: letters, digits, _ . -)")
    return value


def _mapping(path: Path, key: str, value: Any) -> dict:
    """``value`` if it is a mapping; an empty one if it is missing."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BatchError(f"{path}: {key} must be a mapping, not {value!r}")
    return value


def _known_keys(path: Path, key: str, data: dict, known: set[str]) -> None:
    """Reject typos such as ``parameter:``."""
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise BatchError(f"{path}: {key}: unknown keys {unknown}; known: {sorted(known)}")


def order_runs(runs: list[Run]) -> list[Run]:
    """``runs`` ordered so that each comes after the runs it needs; raises on cycles."""
    by_name = {run.full_name: run for run in runs}
    ordered: list[Run] = []
    placed: set[str] = set()
    path: list[str] = []

    def visit(run: Run) -> None:
        if run.full_name in placed:
            return
        if run.full_name in path:
            cycle = path[path.index(run.full_name) :] + [run.full_name]
            raise BatchError(f"cycle in needs: {' -> '.join(cycle)}")
        path.append(run.full_name)
        for need in run.needs:
            if need in by_name:
                visit(by_name[need])
        path.pop()
        placed.add(run.full_name)
        ordered.append(run)

    for run in runs:
        visit(run)
    return ordered


def select_runs(runs: list[Run], only: Iterable[str]) -> list[Run]:
    """Runs whose ``batch/run`` or ``run`` is in ``only``; each name must match something."""
    only = set(only)
    unmatched = only - {run.full_name for run in runs} - {run.name for run in runs}
    if unmatched:
        raise BatchError(f"--only: no run named {', '.join(sorted(unmatched))}")
    return [run for run in runs if run.full_name in only or run.name in only]


# --- running -----------------------------------------------------------------------------------


def run_batch(
    runs: list[Run], jobs: int = 1, force: bool = False, runs_dir: Path = C.RUNS_DIR
) -> dict[str, str]:
    """Execute ``runs``, up to ``jobs`` at a time; returns full name -> final status.

    Statuses: ``done``, ``skipped`` (done before), ``failed``, ``conflict`` (done before with
    other parameters) and ``blocked`` (a needed run is not done). ``runs_dir`` is where needed
    runs that are not in ``runs`` are looked for.
    """
    runs = order_runs(runs)
    selected = {run.full_name for run in runs}
    env = _child_env(jobs)
    outcomes: dict[str, _Outcome] = {}
    numbers = itertools.count(1)
    active: dict[Future, tuple[Run, int]] = {}
    pending = list(runs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or active:
            for run in list(pending):
                if any(need in selected and need not in outcomes for need in run.needs):
                    continue
                outcome = _settled(run, outcomes, runs_dir, force)
                if outcome is None and len(active) >= jobs:
                    continue
                pending.remove(run)
                number = next(numbers)
                if outcome is None:
                    _progress(number, len(runs), run, "started")
                    _prepare(run, force)
                    active[pool.submit(_execute, run, env)] = (run, number)
                else:
                    outcomes[run.full_name] = outcome
                    _progress(number, len(runs), run, outcome.message)
            if active:
                finished, _ = wait(active, return_when=FIRST_COMPLETED)
                for future in finished:
                    run, number = active.pop(future)
                    outcomes[run.full_name] = future.result()
                    _progress(number, len(runs), run, outcomes[run.full_name].message)
    _summary(runs, outcomes)
    return {name: outcome.status for name, outcome in outcomes.items()}


def _settled(
    run: Run, outcomes: dict[str, _Outcome], runs_dir: Path, force: bool
) -> _Outcome | None:
    """The outcome of a run that must not execute (blocked, skipped, conflict), else None."""
    blocker = _blocker(run, outcomes, runs_dir)
    if blocker:
        return _Outcome(BLOCKED, blocker)
    previous = _read_record(run.run_dir)
    if force or previous.get("status") != DONE:
        return None
    changes = _changes(previous, _record(run))
    if not changes:
        return _Outcome(SKIPPED, "skip (done)")
    return _Outcome(
        CONFLICT,
        f"conflict: done before with other {changes} (see {_display(run.run_dir / RECORD)}); "
        "use --force to redo it, or give the run another name",
    )


def _blocker(run: Run, outcomes: dict[str, _Outcome], runs_dir: Path) -> str:
    """Why ``run`` cannot start, or an empty string; needs outside ``outcomes`` are read on disk."""
    for need in run.needs:
        if need in outcomes:
            if outcomes[need].status not in FINISHED:
                return f"blocked by {need} ({outcomes[need].status})"
        elif _read_record(runs_dir / need).get("status") != DONE:
            where = _display(runs_dir / need)
            return f"blocked by {need}: not in this selection and not done ({where})"
    return ""


def _changes(previous: dict, current: dict) -> str:
    """What differs between two records, e.g. ``parameters lam: 1.0 -> 2.0``."""
    if previous.get("notebook") != current["notebook"]:
        return f"notebook {previous.get('notebook')} -> {current['notebook']}"
    before, after = _launched(previous), _launched(current)
    if before != after:
        return f"launcher {before} -> {after}"
    old, new = previous.get("parameters") or {}, current["parameters"]
    unset = "<unset>"
    changed = [
        f"{key}: {old.get(key, unset)} -> {new.get(key, unset)}"
        for key in {**old, **new}
        if old.get(key, unset) != new.get(key, unset)
    ]
    return f"parameters {', '.join(changed)}" if changed else ""


def _launched(record: dict) -> str:
    """How a record's run was launched: ``papermill`` or ``torchrun xN``."""
    launcher = record.get("launcher") or PAPERMILL
    return launcher if launcher == PAPERMILL else f"{launcher} x{record.get('nproc') or 1}"


def _prepare(run: Run, force: bool) -> None:
    """Make the folder, drop the old executed notebook, write ``params.yaml``."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    _executed(run).unlink(missing_ok=True)
    parameters = dict(run.parameters)
    if force and "overwrite" in papermill.inspect_notebook(str(run.notebook)):
        parameters["overwrite"] = True
    (run.run_dir / PARAMS).write_text(yaml.safe_dump(parameters, sort_keys=False))


def _execute(run: Run, env: dict[str, str]) -> _Outcome:
    """Run papermill (or torchrun) in a subprocess, logging to ``papermill.log`` (or
    ``torchrun.log``); keeps ``run.json`` current."""
    record = _record(run)
    started, start = _now(), time.monotonic()
    _write_record(run.run_dir, {**record, "status": "running", "started": started})
    log_file, options = _log_file(run), {"env": env}
    if run.launcher == TORCHRUN:  # from the repository root, like the notebooks
        options = {"env": _threads(env, run.nproc), "cwd": C.REPO_ROOT}
    with open(log_file, "w") as log:
        code = subprocess.run(
            _command(run), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            **options,
        ).returncode
    seconds = round(time.monotonic() - start, 1)
    if code == 0:
        outcome = _Outcome(DONE, f"done in {seconds:.1f} s", seconds)
    else:
        log = _display(log_file)
        outcome = _Outcome(FAILED, f"failed after {seconds:.1f} s (exit {code}), log: {log}", seconds)
    error = None if code == 0 else _tail(log_file)
    end = {"status": outcome.status, "finished": _now(), "seconds": seconds, "error": error}
    _write_record(run.run_dir, {**record, "started": started, **end})
    return outcome


def _command(run: Run) -> list[str]:
    """The command line of a run."""
    params = str(run.run_dir / PARAMS)
    if run.launcher == TORCHRUN:
        return [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(run.nproc), "-m", "krypto.launch",
            "-f", str(Path(params).absolute()),
        ]  # fmt: skip
    return [
        sys.executable, "-m", "papermill", str(run.notebook), str(_executed(run)),
        "-f", params, "--cwd", str(C.REPO_ROOT),
        "--kernel", "python3", "--log-output", "--no-progress-bar",
    ]  # fmt: skip


def _log_file(run: Run) -> Path:
    """Where a run's output goes."""
    return run.run_dir / (TORCHRUN_LOG if run.launcher == TORCHRUN else LOG)


def _threads(env: dict[str, str], nproc: int) -> dict[str, str]:
    """``env`` with each run's threads shared among its ``nproc`` processes."""
    threads = str(max(1, int(env.get("KRYPTO_NUM_THREADS", 1)) // nproc))
    counts = dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KRYPTO_NUM_THREADS"), threads)
    return {**env, **counts}


def _child_env(jobs: int) -> dict[str, str]:
    """The environment of papermill: the venv's bin first, threads shared among ``jobs``."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    counts = dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KRYPTO_NUM_THREADS"), threads)
    return {**os.environ, "PATH": path, **counts}


def _record(run: Run) -> dict[str, Any]:
    """The part of ``run.json`` that decides whether a done run is the same run."""
    parameters = json.loads(json.dumps(run.parameters, default=str))  # as run.json reads back
    record = {"notebook": _display(run.notebook), "parameters": parameters}
    if run.launcher != PAPERMILL:
        record.update(launcher=run.launcher, nproc=run.nproc)
    return record


def _read_record(run_dir: Path) -> dict:
    """``run.json`` of a run folder, or an empty dict."""
    try:
        return json.loads((run_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def _write_record(run_dir: Path, record: dict) -> None:
    """Write ``run.json`` with every field present."""
    fields = {key: record.get(key) for key in RECORD_FIELDS}
    fields.update({key: record[key] for key in LAUNCH_FIELDS if key in record})
    (run_dir / RECORD).write_text(json.dumps(fields, indent=2, default=str) + "\n")


def _executed(run: Run) -> Path:
    """Where papermill writes the executed notebook."""
    return run.run_dir / run.notebook.name


def _tail(path: Path, lines: int = ERROR_LINES) -> str:
    """The last lines of a text file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _now() -> str:
    """Local time, to the second."""
    return datetime.datetime.now().isoformat(timespec="seconds")


def _display(path: Path) -> str:
    """``path`` relative to the repository root when inside it, else absolute."""
    path = Path(path).absolute()
    return str(path.relative_to(C.REPO_ROOT)) if path.is_relative_to(C.REPO_ROOT) else str(path)


# --- printing ----------------------------------------------------------------------------------


def _progress(number: int, total: int, run: Run, text: str) -> None:
    """One line per start and end of a run."""
    print(f"[{number}/{total}] {run.full_name} ... {text}", flush=True)


def _summary(runs: list[Run], outcomes: dict[str, _Outcome]) -> None:
    """A table of every run, then the runs that did not finish and why."""
    width = max([len("run")] + [len(run.full_name) for run in runs])
    print(f"\n{'run':<{width}}  {'status':<8}  seconds")
    for run in runs:
        outcome = outcomes[run.full_name]
        seconds = "-" if outcome.seconds is None else f"{outcome.seconds:.1f}"
        print(f"{run.full_name:<{width}}  {outcome.status:<8}  {seconds:>7}")
    failures = [run for run in runs if outcomes[run.full_name].status not in FINISHED]
    if failures:
        print(f"\n{len(failures)} of {len(runs)} runs did not finish:")
        for run in failures:
            print(f"  {run.full_name}: {outcomes[run.full_name].message}")


def _print_plan(runs: list[Run]) -> None:
    """The runs in order with their merged parameters, for ``--dry-run``."""
    for number, run in enumerate(runs, 1):
        launch = "" if run.launcher == PAPERMILL else f" ({run.launcher}, {run.nproc} processes)"
        print(f"[{number}/{len(runs)}] {run.full_name}: {_display(run.notebook)}{launch}")
        flow = yaml.safe_dump(run.parameters, default_flow_style=True, sort_keys=False, width=10**6)
        print(f"    parameters: {flow.strip()}")
        if run.needs:
            print(f"    needs: {', '.join(run.needs)}")


# --- command line ------------------------------------------------------------------------------


def _positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m krypto.batch", description="Run notebooks with papermill from a batch file."
    )
    parser.add_argument("file", type=Path, help="batch YAML file, e.g. params/readme.yaml")
    parser.add_argument("--force", action="store_true", help="redo runs that are already done")
    parser.add_argument("--jobs", type=_positive, default=1, help="runs at the same time (default 1)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="run only NAME (batch/run or run); repeatable",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="apply the `quick` parameters")
    parser.add_argument("--dry-run", action="store_true", help="print the plan without executing")
    parser.add_argument(
        "--runs-dir", type=Path, default=C.RUNS_DIR, help="folder of run folders (default runs/)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns 0 when every run is done, 1 if any is not, 2 on errors."""
    args = _parser().parse_args(argv)
    runs_dir = args.runs_dir.absolute()
    try:
        runs = load_batch(args.file, quick=args.quick, runs_dir=runs_dir)
        if args.only:
            runs = select_runs(runs, args.only)
        if args.dry_run:
            _print_plan(runs)
            return 0
        statuses = run_batch(runs, jobs=args.jobs, force=args.force, runs_dir=runs_dir)
    except BatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0 if all(status in FINISHED for status in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

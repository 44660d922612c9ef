"""Reading batch files (the format: the README's "Running experiments"): parameters layered per
run, ``needs`` checked and ordered, a mistake refused naming the file and the key."""

import graphlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from krypto import constants as C
from krypto.paths import display_path
from krypto.pipeline.run_record import PAPERMILL, RECORD, TORCHRUN, Run

FILE_KEYS = {"batch", "include", "base", "runs", "quick", "seeds"}
RUN_KEYS = {"notebook", "parameters", "needs", "launcher", "nproc"}
TRAIN_NOTEBOOK = "notebooks/02_train.ipynb"  # what ``seeds`` repeats and torchrun stands in for
TRAIN_PATH = (C.REPO_ROOT / TRAIN_NOTEBOOK).resolve()
SEED_FOLDER = "seed{}"  # <run>/seed<k>: one training seed of a configuration
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class BatchError(ValueError):
    """The batch file or the command line is wrong; the message names the file and key."""


def load_batch(
    path: str | Path, quick: bool = False, runs_dir: Path = C.RUNS_DIR, seeds: list | None = None
) -> list[Run]:
    """Read a batch file and its includes; runs come in an order that satisfies ``needs`` (each
    defined by the files or with a ``run.json`` under ``runs_dir``; a training ``pretrained``
    from a run of the files needs it); ``seeds`` replaces the ``seeds`` of every file that has
    them (a replication). Raises ``BatchError`` on any mistake."""
    runs_dir = Path(runs_dir).absolute()
    loader = _Loader(quick=quick, runs_dir=runs_dir, seeds=_seeds(Path(path), seeds))
    runs = loader.load(Path(path))
    for run in runs:
        run.parameters["run_dir"] = display_path(run.run_dir)
        # a training that starts from another run of the files (pretrained=<batch>/<run>) needs it
        start = run.parameters.get("pretrained") if run.notebook == TRAIN_PATH else None
        if isinstance(start, str) and start in loader.defined and start not in run.needs:
            run.needs.append(start)
        # a need on a configuration trained with several seeds is a need on all of them
        run.needs = [member for need in run.needs for member in loader.members(need)]
        file, key = loader.defined[run.full_name], f"runs.{run.name}"
        for need in run.needs:
            known = need in loader.defined or (runs_dir / need / RECORD).is_file()
            why = f"not defined in the batch files, and no {runs_dir / need / RECORD}"
            _require(known, file, f"{key}.needs: unknown run {need} ({why})")
        if run.launcher == TORCHRUN:  # launch takes training parameters only (papermill warns)
            from krypto.learning.config import TrainConfig  # imports torch: for torchrun runs

            unknown = sorted(set(map(str, run.parameters)) - {f.name for f in fields(TrainConfig)})
            why = f"(krypto.learning.config.TrainConfig); launcher {TORCHRUN} passes only those"
            _require(not unknown, file, f"{key}: parameters {unknown} are not training {why}")
    try:
        return order_runs(runs)
    except BatchError as error:
        raise BatchError(f"{path}: {error}") from None


@dataclass
class _Loader:
    """Loads files recursively, remembering which file defined each run."""

    quick: bool
    runs_dir: Path
    seeds: list[int] | None = None  # replaces every file's seeds
    files: set[Path] = field(default_factory=set)
    defined: dict[str, Path] = field(default_factory=dict)  # full name -> file
    groups: dict[str, list[str]] = field(default_factory=dict)  # batch/run -> its seeds' runs

    def members(self, need: str) -> list[str]:
        """The runs a need names: itself, or every seed of a configuration (of these files, or
        found finished under ``runs_dir``)."""
        if need in self.groups:
            return self.groups[need]
        if need in self.defined:
            return [need]
        seeded = sorted((self.runs_dir / need).glob(f"{SEED_FOLDER.format('*')}/{RECORD}"))
        return [f"{need}/{record.parent.name}" for record in seeded] or [need]

    def load(self, path: Path) -> list[Run]:
        """Runs of ``path`` and of its includes, with base and quick parameters applied."""
        if path.resolve() in self.files:
            return []
        self.files.add(path.resolve())
        _require(path.is_file(), path, "file not found")
        try:
            data = _mapping(path, "top level", yaml.safe_load(path.read_text()), FILE_KEYS)
        except yaml.YAMLError as error:
            raise BatchError(f"{path}: not valid YAML: {error}") from None
        batch = _name(path, "batch", data.get("batch"))
        _require("runs" in data or "include" in data, path, "missing key 'runs'")
        includes = data.get("include") or []
        _require(_strings(includes), path, "include must be a list of file names")
        runs = []
        for include in includes:
            found = (path.parent / include).is_file()
            _require(found, path, f"include: {include} not found ({path.parent / include})")
            runs += self.load(path.parent / include)
        seeds = _seeds(path, data.get("seeds"))
        if seeds:  # a replication's seeds instead; one seed for a smoke test
            seeds = (self.seeds or seeds)[: 1 if self.quick else None]
        base = _per_notebook(path, data, "base")
        for name, spec in _mapping(path, "runs", data.get("runs")).items():
            runs += self._entry(path, batch, name, spec, base, seeds)
        if self.quick:
            overrides = _per_notebook(path, data, "quick")
            for run in runs:
                run.parameters.update(overrides.get(run.notebook, {}))
        return runs

    def _entry(
        self, path: Path, batch: str, name: Any, spec: Any, base: dict, seeds: list[int] | None
    ) -> list[Run]:
        """The run of an entry of ``runs``, or with ``seeds``, one training run per seed:
        ``<run>/seed<k>`` with the parameter ``seed`` = k (the identity split stays fixed:
        ``split_seed``)."""
        key = f"runs.{name}"
        name, spec = _name(path, key, name), _mapping(path, key, spec, RUN_KEYS)
        _require("notebook" in spec, path, f"{key} has no 'notebook'")
        notebook = _notebook(path, f"{key}.notebook", spec["notebook"])
        parameters = _mapping(path, f"{key}.parameters", spec.get("parameters"))
        variants = {name: {**base.get(notebook, {}), **parameters}}
        if seeds and notebook == TRAIN_PATH:
            unset = "seed" not in parameters
            _require(unset, path, f"{key}.parameters.seed: the file's 'seeds' sets it")
            seeded = {f"{name}/{SEED_FOLDER.format(s)}": s for s in seeds}
            variants = {member: {**variants[name], "seed": s} for member, s in seeded.items()}
            self.groups[f"{batch}/{name}"] = [f"{batch}/{member}" for member in variants]
        needs = spec.get("needs") or []
        _require(_strings(needs), path, f"{key}.needs must be a list of run names")
        needs = [need if "/" in need else f"{batch}/{need}" for need in needs]
        launch = _launch(path, key, spec, notebook)
        runs = []
        for member, merged in variants.items():
            run_dir = self.runs_dir / batch / member
            run = Run(member, batch, notebook, merged, list(needs), run_dir, *launch)
            other = self.defined.setdefault(run.full_name, path)
            _require(other == path, path, f"{key}: run {run.full_name} is also defined in {other}")
            runs.append(run)
        return runs


def _require(condition: bool, path: Path, message: str) -> None:
    """Raise ``BatchError("<path>: <message>")`` unless ``condition``."""
    if not condition:
        raise BatchError(f"{path}: {message}")


def _per_notebook(path: Path, data: dict, key: str) -> dict[Path, dict]:
    """A ``base`` or ``quick`` section: notebook path -> parameters."""
    return {
        _notebook(path, f"{key}.{nb}", nb): _mapping(path, f"{key}.{nb}", params)
        for nb, params in _mapping(path, key, data.get(key)).items()
    }


def _notebook(path: Path, key: str, value: Any) -> Path:
    """An existing notebook, relative to the repository root unless absolute."""
    _require(isinstance(value, str), path, f"{key} must be a notebook path, not {value!r}")
    notebook = C.REPO_ROOT / value
    _require(notebook.is_file(), path, f"{key}: notebook {value} does not exist ({notebook})")
    return notebook.resolve()


def _launch(path: Path, key: str, spec: dict, notebook: Path) -> tuple[str, int]:
    """``launcher`` and ``nproc`` of a run: torchrun only for the training notebook."""
    launcher, nproc = spec.get("launcher", PAPERMILL), spec.get("nproc", 1)
    launchers = [PAPERMILL, TORCHRUN]
    _require(launcher in launchers, path, f"{key}.launcher: {launcher!r} is not one of {launchers}")
    positive = isinstance(nproc, int) and not isinstance(nproc, bool) and nproc >= 1
    _require(positive, path, f"{key}.nproc must be a positive integer, not {nproc!r}")
    alone = launcher == PAPERMILL and "nproc" in spec
    _require(not alone, path, f"{key}: nproc needs launcher: {TORCHRUN}")
    trains = notebook == TRAIN_PATH
    how = f"{TRAIN_NOTEBOOK} (through krypto.pipeline.launch), not {display_path(notebook)}"
    _require(launcher == PAPERMILL or trains, path, f"{key}: launcher {TORCHRUN} runs only {how}")
    return launcher, nproc


def _seeds(path: Path, value: Any) -> list[int] | None:
    """``seeds``: a list of distinct training seeds, or None when the file has none."""
    whole = isinstance(value, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value
    )
    fine = value is None or (whole and 0 < len(set(value)) == len(value))
    _require(fine, path, f"seeds must be a list of distinct non-negative integers, not {value!r}")
    return value


def _strings(value: Any) -> bool:
    """Whether ``value`` is a list of strings."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _name(path: Path, key: str, value: Any) -> str:
    """A folder name: letters, digits, ``_``, ``.``, ``-``."""
    what = "missing key" if value is None else f"bad name {value!r} for"
    fine = isinstance(value, str) and NAME.fullmatch(value) is not None
    _require(fine, path, f"{what} '{key}' (a folder name: letters, digits, _ . -)")
    return value


def _mapping(path: Path, key: str, value: Any, known: set[str] | None = None) -> dict:
    """``value`` if it is a mapping (an empty one if it is missing) whose keys are ``known``
    (any, if None): typos such as ``parameter:`` are refused."""
    value = {} if value is None else value
    _require(isinstance(value, dict), path, f"{key} must be a mapping, not {value!r}")
    unknown = sorted(set(map(str, value)) - known) if known else []
    _require(not unknown, path, f"{key}: unknown keys {unknown}; known: {sorted(known or ())}")
    return value


def order_runs(runs: list[Run]) -> list[Run]:
    """``runs`` with each after the runs it needs (``graphlib``); raises on cycles."""
    by_name = {run.full_name: run for run in runs}
    needs = {name: [n for n in run.needs if n in by_name] for name, run in by_name.items()}
    try:
        return [by_name[name] for name in graphlib.TopologicalSorter(needs).static_order()]
    except graphlib.CycleError as error:  # error.args[1]: each node needed by the next
        raise BatchError(f"cycle in needs: {' -> '.join(reversed(error.args[1]))}") from None


def select_runs(runs: list[Run], only: Iterable[str]) -> list[Run]:
    """Runs whose ``batch/run`` or ``run`` is in ``only``; each name must match something."""
    only = set(only)

    def names(run: Run) -> set[str]:  # a configuration's name selects all its seeds
        group = run.name.split("/")[0]
        return {run.full_name, run.name, group, f"{run.batch}/{group}"}

    unmatched = only - set().union(*(names(run) for run in runs))
    if unmatched:
        raise BatchError(f"--only: no run named {', '.join(sorted(unmatched))}")
    return [run for run in runs if names(run) & only]

"""Reading batch files: parameters layered per run, ``needs`` checked and ordered.

See :mod:`krypto.pipeline.batch` for the format. Everything here is checked before anything
runs; a mistake raises :class:`BatchError` naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from krypto import constants as C
from krypto.paths import display_path
from krypto.pipeline.run_record import PAPERMILL, RECORD, TORCHRUN, Run

FILE_KEYS = {"batch", "include", "base", "runs", "quick", "seeds"}
TRAIN_NOTEBOOK = "notebooks/02_train.ipynb"  # the notebook whose runs ``seeds`` repeats
SEED_FOLDER = "seed{}"  # <run>/seed<k>: one training seed of a configuration
RUN_KEYS = {"notebook", "parameters", "needs", "launcher", "nproc"}
LAUNCHERS = (PAPERMILL, TORCHRUN)
TORCHRUN_NOTEBOOKS = ("notebooks/02_train.ipynb",)  # notebooks krypto.pipeline.launch stands in for
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class BatchError(ValueError):
    """The batch file or the command line is wrong; the message names the file and key."""


def load_batch(
    path: str | Path,
    quick: bool = False,
    runs_dir: Path = C.RUNS_DIR,
    seeds: list[int] | None = None,
) -> list[Run]:
    """Read a batch file and its includes; runs come in an order that satisfies ``needs``;
    ``seeds`` replaces the ``seeds`` of every file that has them (a replication).

    A ``batch/run`` in ``needs`` must be defined by the files or already have a folder with a
    ``run.json`` under ``runs_dir``; a 02_train run whose ``pretrained`` names a run of the files
    needs it. Raises ``BatchError`` on any mistake, before anything runs.
    """
    loader = _Loader(quick=quick, runs_dir=Path(runs_dir), seeds=_seeds(Path(path), seeds))
    runs = loader.load(Path(path))
    for run in runs:
        run.parameters["run_dir"] = display_path(run.run_dir)
        # a training that starts from another run of the files (pretrained=<batch>/<run>) needs it
        trains = run.notebook.name == Path(TRAIN_NOTEBOOK).name
        start = run.parameters.get("pretrained") if trains else None
        if isinstance(start, str) and start in loader.defined and start not in run.needs:
            run.needs.append(start)
        # a need on a configuration trained with several seeds is a need on all of them
        run.needs = [member for need in run.needs for member in loader.members(need)]
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
        data = _read_yaml(path)
        batch = _name(path, "batch", data.get("batch"))
        if "runs" not in data and "include" not in data:
            raise BatchError(f"{path}: missing key 'runs'")
        runs = [run for include in _includes(path, data) for run in self.load(include)]
        base = _per_notebook(path, data, "base")
        seeds = _seeds(path, data.get("seeds"))
        if seeds and self.seeds:
            seeds = self.seeds
        if self.quick and seeds:
            seeds = seeds[:1]  # a smoke test: one seed
        for name, spec in _mapping(path, "runs", data.get("runs")).items():
            runs += self._repeated(path, batch, name, spec, base, seeds)
        if self.quick:
            overrides = _per_notebook(path, data, "quick")
            for run in runs:
                run.parameters.update(overrides.get(run.notebook, {}))
        return runs

    def _repeated(
        self, path: Path, batch: str, name: Any, spec: Any, base: dict, seeds: list[int] | None
    ) -> list[Run]:
        """The run of an entry, or with ``seeds``, one training run per seed: ``<run>/seed<k>``
        with the parameter ``seed`` = k (the identity split stays fixed: ``split_seed``)."""
        notebook = _mapping(path, f"runs.{name}", spec).get("notebook")
        if not seeds or notebook != TRAIN_NOTEBOOK:
            return [self._run(path, batch, name, spec, base)]
        if "seed" in (spec.get("parameters") or {}):
            raise BatchError(f"{path}: runs.{name}.parameters.seed: the file's 'seeds' sets it")
        group = f"{batch}/{_name(path, f'runs.{name}', name)}"
        runs = []
        for seed in seeds:
            seeded = {**spec, "parameters": {**(spec.get("parameters") or {}), "seed": seed}}
            run = self._run(path, batch, f"{name}/{SEED_FOLDER.format(seed)}", seeded, base)
            runs.append(run)
        self.groups[group] = [run.full_name for run in runs]
        return runs

    def _run(self, path: Path, batch: str, name: Any, spec: Any, base: dict) -> Run:
        """One entry of ``runs`` (``name`` may be ``<run>/seed<k>``)."""
        key = f"runs.{name}"
        name = (
            "/".join(_name(path, key, part) for part in str(name).split("/"))
            if isinstance(name, str)
            else _name(path, key, name)
        )
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
            f"(through krypto.pipeline.launch), not {display_path(notebook)}"
        )
    return {"launcher": launcher, "nproc": nproc}


def _check_launch(run: Run, defined: dict[str, Path]) -> None:
    """A torchrun run's merged parameters are all training parameters (krypto.pipeline.launch takes
    nothing else, where papermill would only warn)."""
    if run.launcher != TORCHRUN:
        return
    from dataclasses import fields

    from krypto.learning.train import TrainConfig  # imports torch: only for torchrun runs

    unknown = sorted(set(map(str, run.parameters)) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise BatchError(
            f"{defined[run.full_name]}: runs.{run.name}: parameters {unknown} are "
            f"not training parameters (krypto.learning.train.TrainConfig); launcher "
            f"{TORCHRUN} passes only those"
        )


def _seeds(path: Path, value: Any) -> list[int] | None:
    """``seeds``: a list of distinct training seeds, or None when the file has none."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or len(set(value)) != len(value)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        raise BatchError(
            f"{path}: seeds must be a list of distinct non-negative integers, not {value!r}"
        )
    return value


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

    def names(run: Run) -> set[str]:  # a configuration's name selects all its seeds
        group = run.name.split("/")[0]
        return {run.full_name, run.name, group, f"{run.batch}/{group}"}

    unmatched = only - set().union(*(names(run) for run in runs))
    if unmatched:
        raise BatchError(f"--only: no run named {', '.join(sorted(unmatched))}")
    return [run for run in runs if names(run) & only]

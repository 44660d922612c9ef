"""The run folder: the one module that knows its files, its seed folders and its records. A
02_train run writes into its folder::

    config.json        the parameters (the only copy)
    metrics.json       the best epoch's validation EERs and the run's record (written last)
    test_metrics.json  the official EERs on the held-out test pairs (the only copy)
    epochs.csv, history.csv, best.pt, last.pt, tb/
    results.json       what the notebook's last cell recorded (every notebook writes one)

A configuration trained with several seeds is a folder of such runs, ``seed0/``, ``seed1/``, ..."""

import json
from pathlib import Path

from krypto import constants as C
from krypto.files import plain, write_json
from krypto.paths import display_path, resolve_path
from krypto.run_lock import hold_run_folder

SEED_FOLDER = C.SEED_FOLDER  # seed<k>


def seed_number(folder: str | Path) -> int | None:
    """``k`` of a ``seed<k>`` folder, else None."""
    match = SEED_FOLDER.fullmatch(Path(folder).name)
    return int(match.group(1)) if match else None


def is_finished(run: str | Path) -> bool:
    """Whether ``run`` is a finished 02_train run (its metrics.json is written last)."""
    return (resolve_path(run) / C.METRICS_FILE).is_file()


def _seed_folders(folder: Path) -> list[Path]:
    found = [p for p in folder.iterdir() if p.is_dir() and seed_number(p) is not None]
    return sorted(found, key=seed_number)


def seed_runs(folder: str | Path) -> list[Path]:
    """The 02_train runs of a configuration: ``folder`` itself when a finished run, else its
    ``seed<k>/`` folders by k; a ``FileNotFoundError`` naming it without any, or unfinished."""
    folder = resolve_path(folder)
    if is_finished(folder):
        return [folder]
    seeds = _seed_folders(folder) if folder.is_dir() else []
    if not seeds:
        raise FileNotFoundError(
            f"no {C.METRICS_FILE} in {display_path(folder)} nor seed folders "
            f"(seed0/, seed1/, ...): is it a finished 02_train run?"
        )
    unfinished = [p.name for p in seeds if not is_finished(p)]
    if unfinished:
        raise FileNotFoundError(
            f"{display_path(folder)}: {', '.join(unfinished)} has no "
            f"{C.METRICS_FILE}: is that seed's 02_train run finished?"
        )
    return seeds


def first_seed(folder: str | Path) -> Path:
    """The first seed's run of a configuration (the folder itself for a single run)."""
    return seed_runs(folder)[0]


def best_seed(folder: str | Path) -> Path:
    """``folder`` itself when it holds a checkpoint (or is not a folder); for a folder of seeds,
    the finished seed whose best epoch scored lowest on the validation pairs (its config's
    ``select_by`` metric; never the test), ties to the lowest seed number."""
    run = resolve_path(folder)
    if (run / C.BEST_CHECKPOINT).is_file() or not run.is_dir():
        return run
    scored = []
    for seed in filter(is_finished, _seed_folders(run)):
        key = read_config(seed).get("select_by", "eer_mean")
        value = read_metrics(seed).get(key)
        if value is not None:
            scored.append((float(value), seed_number(seed), seed))
    return min(scored)[2] if scored else run


def _read_json(run: str | Path, name: str, what: str) -> dict:
    file = resolve_path(run) / name
    if not file.is_file():
        raise FileNotFoundError(f"no {name} in {display_path(file.parent)}: {what}")
    return json.loads(file.read_text())


def read_config(run: str | Path) -> dict:
    """``config.json``: the parameters a 02_train run was trained with."""
    return _read_json(run, C.CONFIG_FILE, "is it a 02_train run folder?")


def read_metrics(run: str | Path) -> dict:
    """``metrics.json`` of a finished 02_train run: the best epoch's validation EERs, the
    per-epoch ``history`` and the run's record (epochs run, seconds, device, sizes)."""
    return _read_json(run, C.METRICS_FILE, "is it a finished 02_train run?")


def read_test_metrics(run: str | Path) -> dict:
    """``test_metrics.json``: the official EERs of a finished run on the held-out test pairs."""
    what = "02_train writes the EERs on the held-out test pairs there as it ends; rerun that run"
    return _read_json(run, C.TEST_METRICS_FILE, what)


def write_metrics(run: str | Path, metrics: dict) -> None:
    write_json(Path(run) / C.METRICS_FILE, metrics, default=str)


def write_config(run: str | Path, config: dict) -> None:
    write_json(Path(run) / C.CONFIG_FILE, config, default=str)


def write_test_metrics(run: str | Path, metrics: dict) -> None:
    write_json(Path(run) / C.TEST_METRICS_FILE, metrics)


def record_results(run_dir: str | Path, **values) -> dict:
    """Write ``values`` to ``run_dir/results.json`` (atomically) and return them."""
    values = plain(values)
    write_json(Path(run_dir, C.RESULTS_FILE), values)
    return values


def read_results(run_dir: str | Path) -> dict:
    """``results.json`` of a finished notebook run."""
    return _read_json(run_dir, C.RESULTS_FILE, "has the notebook finished?")


def open_run_folder(run_dir: str, default: str) -> Path:
    """``run_dir`` (``default`` when empty) resolved against the repository root, created and held
    by this process until it ends (:func:`krypto.run_lock.hold_run_folder`): a second kernel
    writing there stops at once with ``RunLockedError`` naming this one. Under the batch runner
    (which holds the folder while the notebook runs) the kernel enters as its descendant."""
    path = resolve_path(run_dir or default)
    hold_run_folder(path)
    return path


def resolve_run(ref: str | Path, run_dir: str | Path = "") -> Path:
    """A run folder named in a notebook parameter: a path (absolute, or relative to the repository
    root) when it exists, else ``batch/run`` under the runs folder holding ``run_dir`` (``runs/``
    when empty), so a batch run with ``--runs-dir`` finds its own runs."""
    path = resolve_path(ref)
    if path.exists():
        return path
    return (resolve_path(run_dir).parents[1] if run_dir else C.RUNS_DIR) / ref


def resolve_runs(refs: dict[str, str], run_dir: str | Path = "") -> dict[str, Path]:
    return {name: resolve_run(ref, run_dir) for name, ref in refs.items()}

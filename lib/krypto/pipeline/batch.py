"""``python -m krypto.pipeline.batch FILE``: run notebooks with papermill as a batch YAML
file describes them (``--help`` for the options; the README's "Running experiments" shows the
format): runs of notebooks with their parameters (``base`` < the run's ``parameters`` <
``quick``), the runs each needs, includes of other batch files, training seeds.

Each run's folder gets ``params.yaml`` (redo the run by hand with ``papermill NOTEBOOK OUT -f
runs/<batch>/<run>/params.yaml``), the executed notebook, its log and ``run.json``. A run done
with the same notebook, parameters and code is skipped; done with others, it is a conflict unless
``--force`` is given (which also passes ``overwrite: true`` to notebooks that have it).

The runs are tasks on Dask distributed (:mod:`krypto.pipeline.engine`, :mod:`.run_task`). On
SIGINT, SIGTERM or SIGHUP the batch stops its children on every worker, records their runs as
``interrupted`` and exits with 128 + the signal number; killed outright, its children die with it
(:mod:`krypto.pipeline.children`). Either way the next batch, without ``--force``, runs again
whatever is not ``done``. The README's "Running experiments" and "Batches on a cluster" say more.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from krypto import constants as C
from krypto.paths import display_path
from krypto.pipeline.batch_file import BatchError, Run, load_batch, select_runs
from krypto.pipeline.children import Interrupted
from krypto.pipeline.engine import run_batch
from krypto.pipeline.run_record import FINISHED, PAPERMILL


def _print_plan(runs: list[Run]) -> None:
    """The runs in order with their merged parameters, for ``--dry-run``."""
    for number, run in enumerate(runs, 1):
        launch = "" if run.launcher == PAPERMILL else f" ({run.launcher}, {run.nproc} processes)"
        print(f"[{number}/{len(runs)}] {run.full_name}: {display_path(run.notebook)}{launch}")
        flow = yaml.safe_dump(run.parameters, default_flow_style=True, sort_keys=False, width=10**6)
        print(f"    parameters: {flow.strip()}")
        if run.needs:
            print(f"    needs: {', '.join(run.needs)}")


def _seed_list(text: str) -> list[int]:
    """An argparse type: comma-separated seeds."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        message = f"not a comma-separated list of integers: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


OPTIONS = {  # the command line after the batch file
    "--force": dict(action="store_true", help="redo runs that are already done"),
    "--jobs": dict(type=int, default=1, help="runs at the same time (default 1)"),
    "--threads": dict(
        type=int, default=0,
        help="torch CPU threads of each run (default 0: the cores shared among the jobs); the "
        "results depend on it, not on --jobs",
    ),
    "--only": dict(
        action="append", default=[], metavar="NAME",
        help="run only NAME (batch/run or run); repeatable",
    ),
    "--quick": dict(action="store_true", help="apply the `quick` parameters"),
    "--seeds": dict(
        type=_seed_list, default=None, metavar="K,K,...",
        help="train with these seeds instead of each file's `seeds` (a replication: e.g. 3,4,5)",
    ),
    "--dry-run": dict(action="store_true", help="print the plan without executing"),
    "--scheduler": dict(
        default=None, metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://HOST:8786 (default: a cluster in this process)",
    ),
    "--runs-dir": dict(type=Path, default=C.RUNS_DIR, help="folder of run folders (default runs/)"),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns 0 when every run is done, 1 if any is not, 2 on errors,
    128 + N when stopped by signal N."""
    parser = argparse.ArgumentParser(
        prog="python -m krypto.pipeline.batch",
        description="Run notebooks with papermill from a batch file.",
    )
    parser.add_argument("file", type=Path, help="batch YAML file, e.g. params/readme.yaml")
    for flag, settings in OPTIONS.items():
        parser.add_argument(flag, **settings)
    args = parser.parse_args(argv)
    runs_dir = args.runs_dir.absolute()
    try:
        runs = load_batch(args.file, quick=args.quick, runs_dir=runs_dir, seeds=args.seeds)
        if args.only:
            runs = select_runs(runs, args.only)
        if args.dry_run:
            _print_plan(runs)
            return 0
        if args.jobs < 1:
            raise BatchError(f"--jobs must be at least 1, not {args.jobs}")
        if args.threads < 0:
            raise BatchError(f"--threads must be 0 (automatic) or more, not {args.threads}")
        statuses = run_batch(
            runs, jobs=args.jobs, force=args.force, runs_dir=runs_dir, threads=args.threads,
            scheduler=args.scheduler,
        )  # fmt: skip
    except BatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as error:
        print(
            f"\n{error}: the runs above that are not done run again with the same command",
            file=sys.stderr,
        )
        return 128 + error.signum
    return 0 if all(status in FINISHED for status in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

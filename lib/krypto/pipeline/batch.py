"""``python -m krypto.pipeline.batch FILE``: run the notebooks of a batch file (the README's
"Running experiments" and "Batches on a cluster"), each run a Dask task (:mod:`.run_task`) that
depends on its ``needs``, on a cluster in this process or a running one (``--scheduler``). On
SIGINT, SIGTERM or SIGHUP it stops its children on every worker, their runs ``interrupted``."""

import argparse
import contextlib
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import distributed
import yaml

from krypto import constants as C
from krypto.paths import display_path
from krypto.pipeline import children
from krypto.pipeline.batch_file import BatchError, Run, load_batch, order_runs, select_runs
from krypto.pipeline.run_record import FAILED, FINISHED, PAPERMILL
from krypto.pipeline.run_task import NOT_STARTED, Outcome, execute_run, stop_batch

STOP_WAIT_S = 30.0  # after a signal, how long the batch waits for its stopped runs' records
CONNECT_TIMEOUT = "10s"  # how long the batch tries to reach a scheduler
GPU = "GPU"  # the Dask resource a run on CUDA asks for, one per process


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
        help="train with these seeds instead of each file's `seeds` (a replication: 5,6,7,8,9)",
    ),
    "--dry-run": dict(action="store_true", help="print the plan without executing"),
    "--scheduler": dict(
        default=None, metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://HOST:8786 (default: a cluster in this process)",
    ),
    "--runs-dir": dict(type=Path, default=C.RUNS_DIR, help="folder of run folders (default runs/)"),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 when every run is done, 1 if any is not, 2 on errors, 128 + N on signal N."""
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
    except children.Interrupted as error:
        again = "the runs above that are not done run again with the same command"
        print(f"\n{error}: {again}", file=sys.stderr)
        return 128 + error.signum
    return 0 if all(status in FINISHED for status in statuses.values()) else 1


def run_batch(
    runs: list[Run],
    jobs: int = 1,
    force: bool = False,
    runs_dir: Path = C.RUNS_DIR,
    threads: int = 0,
    scheduler: str | None = None,
) -> dict[str, str]:
    """Execute ``runs`` as Dask tasks on the scheduler at ``scheduler`` (None: a cluster here
    with ``jobs`` task slots), each with ``threads`` torch threads (0: the worker's cores shared
    among its slots); needs outside ``runs`` are read under ``runs_dir``. Returns full name ->
    status; on a stop signal, raises ``children.Interrupted`` once the children are stopped."""
    runs = order_runs(runs)
    outcomes: dict[str, Outcome] = {}
    Path(runs_dir).mkdir(parents=True, exist_ok=True)  # for the workers to see
    with _client(scheduler, jobs, any(map(_gpus, runs))) as client:
        _check_gpus(client, runs, scheduler)
        batch_id = uuid.uuid4().hex
        futures: dict[str, distributed.Future] = {}
        for number, run in enumerate(runs, 1):
            needed = {need: futures[need] for need in run.needs if need in futures}
            futures[run.full_name] = client.submit(
                execute_run, run, needed, force, Path(runs_dir), threads, batch_id,
                f"[{number}/{len(runs)}]", key=f"{run.full_name}-{batch_id[:8]}", pure=False,
                resources={GPU: _gpus(run)} if _gpus(run) else None,
            )  # fmt: skip
        try:
            _follow(client, futures, outcomes, batch_id)
        finally:
            _summary(runs, outcomes)
    return {name: outcome.status for name, outcome in outcomes.items()}


def _gpus(run: Run) -> int:
    """GPUs a run asks for: one per process when its ``device`` is CUDA, else none."""
    return run.nproc if str(run.parameters.get("device", "")).startswith("cuda") else 0


@contextlib.contextmanager
def _client(scheduler: str | None, jobs: int, gpus: bool) -> Iterator[distributed.Client]:
    """A Dask client of the cluster at ``scheduler``, or of one started here (GPUs if ``gpus``)."""
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as error:
            raise BatchError(f"no Dask scheduler answers at {scheduler}: {error}") from None
        with client:
            yield client
        return
    resources = None
    if gpus:
        import torch  # only when a run asks for a GPU

        resources = {GPU: torch.cuda.device_count()}
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=jobs, processes=False, dashboard_address=None,
            resources=resources, silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        yield client


def _check_gpus(client: distributed.Client, runs: list[Run], scheduler: str | None) -> None:
    """Refuse runs asking for more GPUs than any worker has (Dask would wait for one forever)."""
    workers = client.scheduler_info().get("workers", {}).values()
    most = max((worker.get("resources", {}).get(GPU, 0) for worker in workers), default=0)
    for run in runs:
        if _gpus(run) > most:
            where = f"no worker of {scheduler} has" if scheduler else "this machine has"
            hint = f" (start workers with `dask worker {scheduler} --resources GPU=N`)"
            raise BatchError(
                f"{run.full_name} asks for {_gpus(run)} GPU(s) (device: "
                f"{run.parameters['device']}, {run.nproc} process(es)); {where} "
                f"{most:g}{hint if scheduler else ''}"
            )


def _follow(client: distributed.Client, futures: dict, outcomes: dict, batch_id: str) -> None:
    """Print each run's end as it comes; on a signal, stop the batch (see :func:`run_batch`)."""
    names = {future.key: name for name, future in futures.items()}
    numbers = {name: f"[{number}/{len(futures)}]" for number, name in enumerate(futures, 1)}

    def end(future: distributed.Future) -> None:
        name = names[future.key]
        if future.status == "finished":
            outcome = outcomes[name] = future.result()
        else:  # lost its worker too often, or an error outside execute_run's own handling
            outcome = outcomes[name] = Outcome(FAILED, f"failed: {future.exception()!r}")
        if outcome.status != NOT_STARTED:
            print(f"{numbers[name]} {name} ... {outcome.message}", flush=True)

    with children.raise_on_signals():
        try:
            for future in distributed.as_completed(futures.values()):
                end(future)
        except BaseException as error:
            why = str(error) if isinstance(error, children.Interrupted) else repr(error)
            pending = [future for name, future in futures.items() if name not in outcomes]
            with contextlib.suppress(Exception):
                client.run(stop_batch, batch_id, why)
            with contextlib.suppress(Exception):
                distributed.wait(pending, STOP_WAIT_S)
            for future in filter(distributed.Future.done, pending):
                end(future)  # the others are not started
            client.cancel(pending)
            raise


def _summary(runs: list[Run], outcomes: dict[str, Outcome]) -> None:
    """The runs that did not finish and why (each run's end is printed as it comes)."""
    unfinished = Outcome(NOT_STARTED, NOT_STARTED)
    ends = [(run.full_name, outcomes.get(run.full_name, unfinished)) for run in runs]
    failures = [f"  {name}: {end.message}" for name, end in ends if end.status not in FINISHED]
    if failures:
        print(f"\n{len(failures)} of {len(runs)} runs did not finish:", *failures, sep="\n")


if __name__ == "__main__":
    sys.exit(main())

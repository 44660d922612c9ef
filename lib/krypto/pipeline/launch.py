"""Train from the command line, in one process or under torchrun (DistributedDataParallel):
``python -m krypto.pipeline.launch --data_dir synthetic:tiny --epochs 1``, or
``torchrun --standalone --nproc_per_node 2 -m krypto.pipeline.launch -f runs/x/params.yaml``.

``-f FILE`` reads :class:`krypto.learning.config.TrainConfig` fields from a YAML mapping (the
``params.yaml`` the batch runner writes for 02_train); ``--key value`` (``--key=value``; a bare
``--key`` means true) sets one over the files. Values are read as YAML (``null``, ``[1, 2]``);
``1e-3`` is a number too.

What it writes is what 02_train writes, by rank 0 only: the run folder of
:mod:`krypto.learning.train`, then what :func:`krypto.pipeline.after_training.finish_training`
writes. Under torchrun, rank 0 prepares the data set and the decoded-image cache first, the
other processes then read them. Rank 0 holds the run folder
(:func:`krypto.run_lock.hold_run_folder`) to its end: another process writing there stops it
at once with ``RunLockedError`` (under the batch runner, rank 0 enters as its descendant).

``KRYPTO_CACHE_DIR``: where prepared data sets are cached (default ``data/cache``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import fields
from pathlib import Path

import yaml
from torch.distributed.elastic.multiprocessing.errors import record

from krypto import constants as C
from krypto.learning.config import TrainConfig
from krypto.learning.distributed import Distributed
from krypto.learning.train import Trainer
from krypto.pipeline.after_training import finish_training
from krypto.run_lock import hold_run_folder


def parse_params(argv: list[str]) -> dict:
    """Parameters from ``-f FILE`` (several allowed, later ones win) and ``--key value``."""
    parser = argparse.ArgumentParser(
        prog="python -m krypto.pipeline.launch",
        allow_abbrev=False,
        description="Train (krypto.learning.train) with parameters from YAML files and --key "
        "value pairs.",
        epilog="Under torchrun: torchrun --nproc_per_node N -m krypto.pipeline.launch "
        "-f params.yaml",
    )
    example = "runs/<batch>/<run>/params.yaml"
    parser.add_argument("-f", "--file", action="append", default=[], type=Path,
                        help=f"YAML file of parameters (e.g. {example})")  # fmt: skip
    for name in (f.name for f in fields(TrainConfig)):  # --key value, --key=value, --key (true)
        flags = dict.fromkeys([f"--{name}", f"--{name.replace('_', '-')}"])
        parser.add_argument(*flags, dest=name, nargs="?", const=True, type=_value,
                            default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # fmt: skip
    given = vars(parser.parse_args(argv))
    params: dict = {}
    for file in given.pop("file"):
        if not file.is_file():
            parser.error(f"-f {file}: no such file")
        data = yaml.safe_load(file.read_text()) or {}
        if not isinstance(data, dict):
            parser.error(f"-f {file}: not a YAML mapping of parameters")
        params.update(data)
    return _numbers({**params, **given})


def _value(text: str):
    """A value as YAML reads it, and None, True and False as papermill's -p (Python) does."""
    if text in ("None", "True", "False", ""):
        return {"None": None, "True": True, "False": False}.get(text, text)
    return yaml.safe_load(text)


def _numbers(params: dict) -> dict:
    """``"1e-3"`` (PyYAML reads it as text) becomes a number where the field is a number."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    numbers = {}
    for key, value in params.items():
        kind = type(defaults.get(key))
        if isinstance(value, str) and kind in (int, float):
            with contextlib.suppress(ValueError):  # TrainConfig.validate names the bad value
                numbers[key] = kind(value)
    return {**params, **numbers}


@record
def main(argv: list[str] | None = None) -> int:
    """Train with the parameters of the command line; returns the exit code."""
    if os.environ.get("KRYPTO_CACHE_DIR"):
        C.CACHE_DIR = Path(os.environ["KRYPTO_CACHE_DIR"]).expanduser().resolve()

    config = TrainConfig.from_dict(parse_params(sys.argv[1:] if argv is None else argv))
    config.validate()
    dist = Distributed.from_environment(config.device)
    if dist.is_main:  # the only writer: stops here if another process holds the folder
        hold_run_folder(config.resolved_run_dir())
    trainer = Trainer(config, dist=dist)  # rank 0 prepares the data and its caches first
    metrics = trainer.fit()
    if dist.is_main:
        finish_training(trainer, metrics)
        print(
            f"{trainer.run_dir}: eer_real={metrics['eer_real']} eer_fake={metrics['eer_fake']} "
            f"eer={metrics['eer']} (best epoch {metrics['best_epoch']}, "
            f"{dist.world_size} process(es))",
            flush=True,
        )
    dist.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

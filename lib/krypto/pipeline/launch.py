"""Train from the command line, in one process or under torchrun (DistributedDataParallel).

::

    python -m krypto.pipeline.launch --data_dir synthetic:tiny --epochs 1 --run_dir runs/try
    torchrun --standalone --nproc_per_node 2 -m krypto.pipeline.launch -f runs/x/params.yaml
    torchrun --standalone --nproc_per_node 2 -m krypto.pipeline.launch -f params.yaml \
        --epochs 8 --margin null

``-f FILE`` reads parameters from a YAML mapping (the ``params.yaml`` the batch runner writes for
notebooks/02_train.ipynb: its parameters are :class:`krypto.learning.train.TrainConfig` fields);
``--key value`` (or ``--key=value``; a bare ``--key`` means true) sets one field, over the
file. Values are read as YAML (``null``, ``true``, ``[1, 2]``); numbers written ``1e-3`` are
numbers too.

What it writes is what 02_train writes, by rank 0 only: the run folder of
:mod:`krypto.learning.train`, then what :func:`krypto.pipeline.after_training.finish_training`
writes (``test_metrics.json``, ``training_curves.png``, ``fn_fp_curve.png``, ``results.json``).
Under torchrun, rank 0 prepares the data set and the decoded-image
cache first, the other processes then read them.
Rank 0 holds the run folder (:func:`krypto.run_lock.hold_run_folder`) from the start to its
end: another process writing there stops it at once with ``RunLockedError`` (under the batch
runner, which holds the folder itself, rank 0 enters as its descendant).

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
    parser.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        type=Path,
        help="YAML file of parameters (e.g. runs/<batch>/<run>/params.yaml)",
    )
    args, rest = parser.parse_known_args(argv)
    params: dict = {}
    for file in args.file:
        if not file.is_file():
            parser.error(f"-f {file}: no such file")
        data = yaml.safe_load(file.read_text()) or {}
        if not isinstance(data, dict):
            parser.error(f"-f {file}: not a YAML mapping of parameters")
        params.update(data)
    i = 0
    while i < len(rest):
        item = rest[i]
        if not item.startswith("--") or len(item) == 2:
            parser.error(f"expected --key value, got {item!r}")
        key, eq, text = item[2:].partition("=")
        if not eq:
            if i + 1 < len(rest) and not rest[i + 1].startswith("--"):
                text, i = rest[i + 1], i + 1
            else:
                text = "true"
        # papermill's -p reads None, True and False as Python does: so does this
        value = {"None": None, "True": True, "False": False}.get(text, text)
        params[key.replace("-", "_")] = (
            yaml.safe_load(value) if isinstance(value, str) and value != "" else value
        )
        i += 1
    return _numbers(params, TrainConfig)


def _numbers(params: dict, cls) -> dict:
    """``"1e-3"`` (PyYAML reads it as text) becomes a number where the field is a number."""
    defaults = {f.name: f.default for f in fields(cls)}
    out = dict(params)
    for key, value in params.items():
        default = defaults.get(key)
        if (
            isinstance(value, str)
            and isinstance(default, (int, float))
            and not isinstance(default, bool)
        ):
            with contextlib.suppress(ValueError):  # TrainConfig.validate names the bad value
                out[key] = float(value) if isinstance(default, float) else int(value)
    return out


@record
def main(argv: list[str] | None = None) -> int:
    """Train with the parameters of the command line; returns the exit code."""
    if os.environ.get("KRYPTO_CACHE_DIR"):
        C.CACHE_DIR = Path(os.environ["KRYPTO_CACHE_DIR"]).expanduser().resolve()

    params = parse_params(sys.argv[1:] if argv is None else argv)
    config = TrainConfig.from_dict(params)
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

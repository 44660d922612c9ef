"""Train from the command line, in one process or under torchrun (DistributedDataParallel), with
the parameters of :class:`krypto.learning.config.TrainConfig` from YAML files (``-f``, layered)
and ``--key value`` (the README's "Training on several GPUs and machines"). Rank 0 alone holds
the run folder (:func:`krypto.run_lock.hold_run_folder`) and writes what 02_train writes."""

import argparse
import contextlib
import sys
from dataclasses import fields
from pathlib import Path

import yaml
from torch.distributed.elastic.multiprocessing.errors import record

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
    params.update(given)
    kinds = {f.name: type(f.default) for f in fields(TrainConfig)}
    for key, value in params.items():  # "1e-3" (text to PyYAML) as a number where the field is one
        if isinstance(value, str) and kinds.get(key) in (int, float):
            with contextlib.suppress(ValueError):  # TrainConfig.validate names the bad value
                params[key] = kinds[key](value)
    return params


def _value(text: str):
    """A value as YAML reads it, and None (YAML: the text) and "" as papermill's -p does."""
    return None if text == "None" else text if text == "" else yaml.safe_load(text)


@record
def main(argv: list[str] | None = None) -> int:
    """Train with the parameters of the command line; returns the exit code."""
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

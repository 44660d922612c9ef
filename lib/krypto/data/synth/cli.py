"""The command line: ``python -m krypto.data.synth OUT [--identities N ...]``, one option per
field of :class:`SynthConfig`."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import fields
from pathlib import Path

from krypto.data.synth.config import SynthConfig
from krypto.data.synth.dataset import write_dataset


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    summary = importlib.import_module(__package__).__doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(
        prog=prog, description=summary, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder to write (official layout)")
    defaults = SynthConfig()
    for f in fields(SynthConfig):
        value = getattr(defaults, f.name)
        kind = int if f.name in ("meta_id_width",) else type(value)
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=value)
    args = parser.parse_args(argv)
    cfg = SynthConfig(**{f.name: getattr(args, f.name) for f in fields(SynthConfig)})
    out = write_dataset(args.out, cfg)
    print(f"wrote {out}")

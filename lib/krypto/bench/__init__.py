"""Speed and memory, measured side by side in one run on one machine: ``make bench``
(``python -m krypto.bench --help``). It writes ``bench.json`` (the machine, the command, every
measurement with its unit, each goal with its measured value and pass/fail), ``bench.md`` (the
README's table) and ``bench.txt`` (the printed table). What it is for are the *ratios*, each
measured side by side (interleaved repeat by repeat) in one process, each calling only the
trainer's public interface: :mod:`.training` (sections 1, 2 and 6: the training loop against its
compute bound and the seed's pipeline, the cost per image as the data grows), :mod:`.miner` (3),
:mod:`.inference` (4) and :mod:`.memory` (5). ``sections.yaml`` describes each section, its
goals and the rows of the table. On CUDA the same runs with mixed precision; :mod:`.gpu_check`
(``make gpu-check``) is the one-shot check of everything that runs differently on a GPU.
"""

from krypto.bench.cli import main, run
from krypto.bench.common import SECTIONS, BenchConfig, default_config, quick_config
from krypto.bench.report import GOALS

__all__ = ["GOALS", "SECTIONS", "BenchConfig", "default_config", "main", "quick_config", "run"]

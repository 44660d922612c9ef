"""Speed and memory, each ratio measured side by side in one process: ``make bench``
(``python -m krypto.bench --help``) writes ``bench.json`` and ``bench.md``; :mod:`.gpu_check`
is ``make gpu-check``."""

from krypto.bench.cli import main, run
from krypto.bench.common import QUICK, SECTIONS, BenchConfig
from krypto.bench.report import ROWS

__all__ = ["QUICK", "ROWS", "SECTIONS", "BenchConfig", "main", "run"]

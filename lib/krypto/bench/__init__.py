"""Speed and memory ratios, each measured side by side in one process: ``make bench``
(``python -m krypto.bench --help``) writes ``bench.json``, ``bench.md`` and ``bench.txt``;
``sections.yaml`` describes the sections, goals and table; :mod:`.gpu_check` is ``make gpu-check``.
"""

from krypto.bench.cli import main, run
from krypto.bench.common import SECTIONS, BenchConfig, default_config, quick_config
from krypto.bench.report import GOALS

__all__ = ["GOALS", "SECTIONS", "BenchConfig", "default_config", "main", "quick_config", "run"]

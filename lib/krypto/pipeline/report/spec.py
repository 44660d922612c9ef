"""What the report reads: report.yaml (its sections, the columns of its tables, the seed's
findings, its sentences), the commands and files it names, and the seed's published numbers."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from krypto import constants as C

DATA = yaml.safe_load(Path(__file__).with_name("report.yaml").read_text(encoding="utf-8"))
BATCH_FILE = "params/readme.yaml"
BATCH_COMMAND = f"python -m krypto.pipeline.batch {BATCH_FILE}"
REPORT_COMMAND = "python -m krypto.pipeline.report"
FIGURES_DIR = "figures"  # <out>/figures/: the copies of the figures the README shows
SEED_FILE = "params/seed_results.yaml"  # the seed's numbers, keyed by our row names
METRICS = tuple(DATA["metrics"])  # the test EERs a training table shows, in column order
SEED_COLUMNS = tuple(m["key"] for m in METRICS if m.get("seed"))  # the seed's README gave these


class ReportError(Exception):
    """A run's output is missing or a README cannot take the report."""


@dataclass(frozen=True)
class Section:
    """One entry of report.yaml's ``sections`` (its fields are described there)."""

    key: str
    title: str
    run: str  # <batch>/<run>, under the runs folder
    kind: str
    keep: tuple = ("title", "table", "test_pairs")
    figure_prefix: str = ""
    figures: dict = field(default_factory=dict)  # role -> (file in the run folder, alt text)
    page: str | None = None
    reference: str | None = None
    index: str = "run"
    seeded: bool = False
    intro: str | None = None
    before_training: str | None = None
    states: tuple = ()

    @property
    def trained(self) -> bool:
        """A table of trained configurations, with verdicts."""
        return self.kind in ("training", "methods")


SECTIONS = tuple(Section(**section) for section in DATA["sections"])
SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}
TRAINING_SECTIONS = tuple(section.key for section in SECTIONS if section.trained)


def train_refs(parameters: dict) -> dict[str, str]:
    """Row name -> run reference (``batch/run``) of a notebook's ``train_runs`` or ``train_run``."""
    if parameters.get("train_run"):
        return {"train_run": str(parameters["train_run"])}
    return {str(k): str(v) for k, v in (parameters.get("train_runs") or {}).items()}


def seed_results() -> dict[str, Any]:
    """The seed's numbers (:data:`SEED_FILE`): ``source``, per section ``epochs`` (None if its
    write-up does not say) and ``rows`` (``{eer_real, eer_fake, eer}``, ``as``: its row name)."""
    try:
        return yaml.safe_load((C.REPO_ROOT / SEED_FILE).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ReportError(f"cannot read the seed's numbers from {SEED_FILE}: {error}") from error

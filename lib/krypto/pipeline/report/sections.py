"""What the report reads (report.yaml: which run feeds which section, its figures, every
sentence), the row names the prose and the findings refer to, and the seed's published numbers."""

from __future__ import annotations

import copy
import functools
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
SEED_COLUMNS = ("eer_real", "eer_fake", "eer")  # the seed's README gave eer_real and eer_fake

# Row names of the batch files (the keys of `train_runs` of their compare runs, params/*.yaml).
TRIPLET, TRIPLET_FAKE = "triplet", "triplet + fake"  # loss_selection.yaml
LAMBDAS = ("0.01", "0.1", "1")  # lambda.yaml, lam growing
COS_HEAD = "1 + cos head"  # lambda.yaml
NO_CUTOUT = "no cutout"  # cutout.yaml
SEED_RECIPE = "seed: triplet + fake (lam 1)"  # beyond.yaml, portrait.yaml, eigenfaces.yaml

METHOD_SECTIONS = DATA["method_sections"]  # section key -> its data set in words
TRAINING_SECTIONS = ("loss_selection", "model_selection", "lambda", "cutout", *METHOD_SECTIONS)
REFERENCES = {  # the row each other row of a training table is tested against
    "loss_selection": TRIPLET,
    "lambda": LAMBDAS[-1],
    "cutout": NO_CUTOUT,
    **dict.fromkeys(METHOD_SECTIONS, SEED_RECIPE),
}


class _Fields(dict):
    def __missing__(self, key: str) -> None:
        return None


def say(name: str, /, **fields: Any) -> str:
    """The sentence ``name`` of report.yaml's ``text`` filled in (a missing field reads None)."""
    return DATA["text"][name].format_map(_Fields(**fields))


@dataclass(frozen=True)
class Section:
    key: str  # key in results.json "sections"
    title: str
    batch: str  # runs/<batch>/<run>
    run: str
    figure_prefix: str = ""  # its figures are copied to <out>/figures/<figure_prefix><file>
    figures: dict = field(default_factory=dict)  # role -> (file in the run folder, alt text)

    @property
    def full_name(self) -> str:
        return f"{self.batch}/{self.run}"


SECTIONS = tuple(Section(**section) for section in DATA["sections"])
SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}


def train_refs(parameters: dict) -> dict[str, str]:
    """The training runs a notebook's parameters name (``train_runs`` or ``train_run``): row
    name -> run reference (``batch/run``)."""
    refs = parameters.get("train_runs")
    if isinstance(refs, dict):
        return {str(k): str(v) for k, v in refs.items()}
    if isinstance(refs, (list, tuple)):
        return {str(v): str(v) for v in refs}
    if parameters.get("train_run"):
        return {"train_run": str(parameters["train_run"])}
    return {}


class ReportError(Exception):
    """A run's output is missing or a README cannot take the report."""


@functools.cache
def _load_seed(file: str) -> dict[str, Any]:
    try:
        seed = yaml.safe_load((C.REPO_ROOT / file).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ReportError(f"cannot read the seed's numbers from {file}: {error}") from error
    if not isinstance(seed, dict):
        raise ReportError(f"{file} holds no mapping of the seed's numbers")
    for key, value in seed.items():
        if key == "source":
            continue
        rows = value.get("rows") if isinstance(value, dict) else None
        if not isinstance(rows, dict) or "epochs" not in value:
            raise ReportError(f"{file}: {key!r} needs `epochs` and `rows`")
        for name, row in rows.items():
            missing = [c for c in SEED_COLUMNS if c not in (row or {})]
            if missing:
                raise ReportError(f"{file}: {key}/{name} lacks {', '.join(missing)}")
    return seed


def seed_results(file: str = SEED_FILE) -> dict[str, Any]:
    """The seed's numbers: ``source``, then per section ``epochs`` (None when its write-up does
    not say) and ``rows`` (``{eer_real, eer_fake, eer}``, ``as``: the seed's name of the row)."""
    return copy.deepcopy(_load_seed(file))


def seed_metric(key: str, run: str, metric: str) -> float | None:
    """One of the seed's numbers: ``metric`` of row ``run`` of section ``key``."""
    return _load_seed(SEED_FILE)[key]["rows"][run][metric]

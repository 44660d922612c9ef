"""The parameter values the pages' intros quote (report.yaml's ``quote``: lam, the cutout
probability, where the backbones start), read from the batch files over the defaults of
:class:`~krypto.learning.config.TrainConfig`."""

from __future__ import annotations

import functools
from dataclasses import asdict

from krypto import constants as C
from krypto.learning.config import TrainConfig
from krypto.pipeline.batch_file import TRAIN_NOTEBOOK, BatchError, load_batch
from krypto.pipeline.report.spec import (
    BATCH_FILE,
    SECTIONS,
    SECTIONS_BY_KEY,
    ReportError,
    train_refs,
)


@functools.cache
def train_parameters(key: str, batch_file: str = BATCH_FILE) -> dict[str, dict]:
    """The training runs of section ``key`` (its run's ``train_runs``): row name -> every
    parameter of that training; a row naming a folder of seeds gets its first seed's."""
    try:
        runs = {run.full_name: run for run in load_batch(C.REPO_ROOT / batch_file)}
    except BatchError as error:
        raise ReportError(f"cannot read the parameters of the runs: {error}") from error
    section = SECTIONS_BY_KEY[key]
    if section.run not in runs:
        raise ReportError(f"{batch_file} has no run {section.run} ({section.title})")
    out = {}
    for row, ref in train_refs(runs[section.run].parameters).items():
        run = runs.get(ref)
        if run is None:  # a configuration whose seeds are runs of their own, in its folder
            run = next((r for r in runs.values() if r.run_dir.parent == C.RUNS_DIR / ref), None)
        if run is None or run.notebook != C.REPO_ROOT / TRAIN_NOTEBOOK:
            raise ReportError(
                f"{section.run} reads {ref} ({row}), which {batch_file} "
                f"does not train with {TRAIN_NOTEBOOK}"
            )
        out[row] = asdict(TrainConfig.from_dict(run.parameters))
    return out


def _quoted(rows: dict[str, dict], name: str) -> str:
    """The values of parameter ``name`` in ``rows`` as the prose quotes them (``1.0`` as ``1``),
    joined by "or" when they differ."""
    values = [row[name] for row in rows.values()]
    return " or ".join(dict.fromkeys(f"{v:g}" if isinstance(v, float) else str(v) for v in values))


class _Quoting(dict):
    """A phrase's fields: each a parameter quoted over the same rows."""

    def __init__(self, rows: dict[str, dict]):
        super().__init__()
        self.rows = rows

    def __missing__(self, name: str) -> str:
        return _quoted(self.rows, name)


def quote(spec: dict, runs: dict[str, dict]) -> str:
    """One field of report.yaml's ``quote`` (see there) over the training runs ``runs`` of its
    section (:func:`train_parameters`)."""
    missing = [row for row in spec.get("rows", []) if row not in runs]
    if missing:
        raise ReportError(f"report.yaml quotes rows its batch does not train: {missing}")
    rows = {
        name: row
        for name, row in runs.items()
        if name in spec.get("rows", runs) and name not in spec.get("except", [])
    }
    name, say = spec["parameter"], spec.get("say")
    text = _quoted(rows, name)
    if say is None:
        return text
    if text not in say:
        values = [row[name] for row in rows.values()]
        hits = [v == spec["equals"] if "equals" in spec else bool(v) for v in values]
        text = "all" if all(hits) else "some" if any(hits) else "none"
    return say[text].format_map(_Quoting(rows))


@functools.cache
def prose_parameters(batch_file: str = BATCH_FILE) -> dict[str, dict[str, str]]:
    """Per section, the fields its intro quotes, as text."""
    return {
        section.key: {
            field: quote(spec, train_parameters(spec.get("of", section.key), batch_file))
            for field, spec in section.quote.items()
        }
        for section in SECTIONS
        if section.quote
    }

"""The parameter values the report's prose quotes (lam, the cutout probability, whether the
backbones start from pretrained weights), read from the batch files (``params/*.yaml``) over
the training defaults (:class:`krypto.learning.config.TrainConfig`), so the text says what the
runs were trained with."""

from __future__ import annotations

import functools
from dataclasses import asdict

from krypto import constants as C
from krypto.pipeline.batch_file import BatchError, load_batch
from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.sections import (
    BATCH_FILE,
    COS_HEAD,
    NO_CUTOUT,
    SECTIONS_BY_KEY,
    TRIPLET_FAKE,
    train_refs,
)
from krypto.pipeline.report.values import format_parameter

TRAIN_NOTEBOOK = "notebooks/02_train.ipynb"


@functools.cache
def train_parameters(key: str, batch_file: str = BATCH_FILE) -> dict[str, dict]:
    """The training runs of section ``key``, as its run names them (``train_runs``): row name ->
    every parameter of that training (the batch files' values over the defaults). A row names
    a 02_train run, or a folder whose runs (one per seed, ``<row's run>/seed<N>``) are; then its
    first seed's parameters stand for it."""
    from krypto.learning.config import TrainConfig  # imports torch: only when the prose asks

    try:
        runs = {run.full_name: run for run in load_batch(C.REPO_ROOT / batch_file)}
    except BatchError as error:
        raise ReportError(f"cannot read the parameters of the runs: {error}") from error
    section = SECTIONS_BY_KEY[key]
    if section.full_name not in runs:
        raise ReportError(f"{batch_file} has no run {section.full_name} ({section.title})")
    out = {}
    for row, ref in train_refs(runs[section.full_name].parameters).items():
        run = runs.get(ref)
        if run is None:  # a configuration whose seeds are runs of their own, in its folder
            seeds = [r for r in runs.values() if r.run_dir.parent == C.RUNS_DIR / ref]
            run = seeds[0] if seeds else None
        if run is None or run.notebook != C.REPO_ROOT / TRAIN_NOTEBOOK:
            raise ReportError(
                f"{section.full_name} reads {ref} ({row}), which {batch_file} "
                f"does not train with {TRAIN_NOTEBOOK}"
            )
        out[row] = asdict(TrainConfig.from_dict(run.parameters))
    return out


def _quoted(rows: dict[str, dict], name: str) -> str:
    """The value of parameter ``name`` that ``rows`` share, as the prose quotes it (the values,
    joined by "or", when they differ)."""
    values = list(dict.fromkeys(format_parameter(row[name]) for row in rows.values()))
    return " or ".join(values)


def _fake_term(rows: dict[str, dict]) -> str:
    """ "with the fake term (lam = 1)" for runs trained with the fake term (quadruplet loss)."""
    if all(row["loss"] == "quadruplet" for row in rows.values()):
        return f"with the fake term (lam = {_quoted(rows, 'lam')})"
    if all(row["loss"] != "quadruplet" for row in rows.values()):
        return "without the fake term"
    return "with and without the fake term"


def _start(rows: dict[str, dict]) -> str:
    pretrained = {bool(row["pretrained"]) for row in rows.values()}
    return {frozenset({False}): "from scratch", frozenset({True}): "from pretrained weights"}.get(
        frozenset(pretrained), "from scratch or from pretrained weights"
    )


def _start_of(row: dict) -> str:
    """Where one configuration's training started, for "before training"."""
    pretrained = row.get("pretrained", False)
    if isinstance(pretrained, str) and pretrained:
        return f"the face model `{pretrained}` it fine-tunes"
    return "pretrained weights" if pretrained is True else "its random initial weights"


@functools.cache
def prose_parameters(batch_file: str = BATCH_FILE) -> dict[str, dict[str, str]]:
    """Per section, the phrases and values its prose quotes, as text."""
    loss = train_parameters("loss_selection", batch_file)
    models = train_parameters("model_selection", batch_file)
    lam = train_parameters("lambda", batch_file)
    cutout = {
        row: values
        for row, values in train_parameters("cutout", batch_file).items()
        if row != NO_CUTOUT
    }
    return {
        "loss_selection": {"lam": _quoted({TRIPLET_FAKE: loss[TRIPLET_FAKE]}, "lam")},
        "embeddings": {"start": _start_of(loss[TRIPLET_FAKE])},
        "model_selection": {"start": _start(models), "fake_term": _fake_term(models)},
        "lambda": {"cos_head_lam": _quoted({COS_HEAD: lam[COS_HEAD]}, "lam")},
        "cutout": {"cutout_p": _quoted(cutout, "cutout_p"), "fake_term": _fake_term(cutout)},
    }

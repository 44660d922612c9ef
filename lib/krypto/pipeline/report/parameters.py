"""The parameter values the report's prose quotes (lam, the cutout probability, where the
backbones start), read from the batch files over the defaults of
:class:`~krypto.learning.config.TrainConfig`."""

from __future__ import annotations

import functools
from dataclasses import asdict

import krypto.pipeline.report.sections as S
from krypto import constants as C
from krypto.learning.config import TrainConfig
from krypto.pipeline.batch_file import TRAIN_NOTEBOOK, BatchError, load_batch


@functools.cache
def train_parameters(key: str, batch_file: str = S.BATCH_FILE) -> dict[str, dict]:
    """The training runs of section ``key`` (its run's ``train_runs``): row name -> every
    parameter of that training; a row naming a folder of seeds gets its first seed's."""
    try:
        runs = {run.full_name: run for run in load_batch(C.REPO_ROOT / batch_file)}
    except BatchError as error:
        raise S.ReportError(f"cannot read the parameters of the runs: {error}") from error
    section = S.SECTIONS_BY_KEY[key]
    if section.full_name not in runs:
        raise S.ReportError(f"{batch_file} has no run {section.full_name} ({section.title})")
    out = {}
    for row, ref in S.train_refs(runs[section.full_name].parameters).items():
        run = runs.get(ref)
        if run is None:  # a configuration whose seeds are runs of their own, in its folder
            run = next((r for r in runs.values() if r.run_dir.parent == C.RUNS_DIR / ref), None)
        if run is None or run.notebook != C.REPO_ROOT / TRAIN_NOTEBOOK:
            raise S.ReportError(
                f"{section.full_name} reads {ref} ({row}), which {batch_file} "
                f"does not train with {TRAIN_NOTEBOOK}"
            )
        out[row] = asdict(TrainConfig.from_dict(run.parameters))
    return out


def _quoted(rows: dict[str, dict], name: str) -> str:
    """The values of parameter ``name`` in ``rows`` as the prose quotes them (``1.0`` as ``1``),
    joined by "or" when they differ."""
    values = [row[name] for row in rows.values()]
    return " or ".join(dict.fromkeys(f"{v:g}" if isinstance(v, float) else str(v) for v in values))


def _fake_term(rows: dict[str, dict]) -> str:
    uses = [row["loss"] == "quadruplet" for row in rows.values()]
    name = "fake_term" if all(uses) else "fake_term_some" if any(uses) else "fake_term_none"
    return S.say(name, lam=_quoted(rows, "lam"))


def _start(rows: dict[str, dict]) -> str:
    starts = {bool(row["pretrained"]) for row in rows.values()}
    words = {frozenset({False}): "from_scratch", frozenset({True}): "from_pretrained"}
    return S.say(words.get(frozenset(starts), "from_either"))


def _start_of(row: dict) -> str:
    """Where one configuration's training started, for "before training"."""
    pretrained = row.get("pretrained", False)
    if isinstance(pretrained, str) and pretrained:
        return S.say("start_face_model", model=pretrained)
    return S.say("start_pretrained" if pretrained is True else "start_random")


@functools.cache
def prose_parameters(batch_file: str = S.BATCH_FILE) -> dict[str, dict[str, str]]:
    """Per section, the phrases and values its prose quotes, as text."""
    loss = train_parameters("loss_selection", batch_file)
    models = train_parameters("model_selection", batch_file)
    lam = train_parameters("lambda", batch_file)
    cutout = train_parameters("cutout", batch_file)
    cutout = {row: values for row, values in cutout.items() if row != S.NO_CUTOUT}
    return {
        "loss_selection": {"lam": _quoted({S.TRIPLET_FAKE: loss[S.TRIPLET_FAKE]}, "lam")},
        "embeddings": {"start": _start_of(loss[S.TRIPLET_FAKE])},
        "model_selection": {"start": _start(models), "fake_term": _fake_term(models)},
        "lambda": {"cos_head_lam": _quoted({S.COS_HEAD: lam[S.COS_HEAD]}, "lam")},
        "cutout": {"cutout_p": _quoted(cutout, "cutout_p"), "fake_term": _fake_term(cutout)},
    }

"""Reading the finished runs into one dict, written as ``<out>/results.json``, and copying the
figures the README shows into ``<out>/figures/``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from krypto import constants as C
from krypto.evaluation.verdicts import RULE
from krypto.files import atomic_path, write_text
from krypto.paths import display_path, resolve_path
from krypto.pipeline.report.errors import ReportError
from krypto.pipeline.report.findings import beyond_summary, compute_findings, section_verdicts
from krypto.pipeline.report.provenance import BatchCommand, code_hash, read_json, run_provenance
from krypto.pipeline.report.sections import (
    FIGURES_DIR,
    METHOD_SECTIONS,
    REPORT_COMMAND,
    SECTIONS,
    TRAINING_SECTIONS,
    Section,
)
from krypto.pipeline.report.seed import seed_results
from krypto.pipeline.report.values import round_values
from krypto.pipeline.results import RESULTS_FILE
from krypto.pipeline.run_record import LOG, RECORD, TORCHRUN, TORCHRUN_LOG

EER_NOTE = (
    "EER: lower is better; eer is the official combined EER over all four pair kinds "
    "(same, different, fake_same, fake_other)"
)
TEST_NOTE = (
    "the tables give the EERs on the held-out test pairs (never used for any choice) as "
    "mean and std (ddof=1) over the seeds of each configuration; per-epoch figures show "
    "the validation pairs"
)


def _read_section(section: Section, runs_dir: Path, command: BatchCommand) -> tuple[dict, Path]:
    folder = Path(runs_dir) / section.batch / section.run
    record = read_json(folder / RECORD)
    file = folder / RESULTS_FILE
    if not file.is_file():
        message = (
            f"no {RESULTS_FILE} in {display_path(folder)} ({section.title} section): make "
            f"it with `{command()}` (or `{command()} --only {section.full_name}` once the "
            f"runs it needs are done)"
        )
        if record.get("status") and record.get("status") != "done":
            log = TORCHRUN_LOG if record.get("launcher") == TORCHRUN else LOG
            message += f"; its last run is {record['status']!r}, see {display_path(folder / log)}"
        raise ReportError(message)
    try:
        return json.loads(file.read_text()), folder
    except ValueError as error:
        raise ReportError(
            f"{display_path(file)} is not valid JSON ({error}): rerun it with "
            f"`{command()} --only {section.full_name} --force`"
        ) from error


def _section_values(section: Section, results: dict) -> dict:
    """What results.json keeps of a run's results (figures apart); a training section gets its
    verdicts (:func:`~.findings.section_verdicts`), computed from the rounded table."""
    keep = {
        "data": ("n_photos", "n_identities", "summary", "pairs", "problems"),
        "distances": ("table", "seed_runs"),
        "embeddings": ("train_run", "seed_run", "table"),
    }.get(section.key, ("title", "table", "test_pairs"))
    values = round_values({k: results[k] for k in keep if k in results})
    if "table" not in values and section.key != "data":
        raise ReportError(f"{section.full_name}/{RESULTS_FILE} has no table")
    if section.key in TRAINING_SECTIONS:
        values.update(section_verdicts(section.key, values["table"]))
    return values


def _about_seeds(sections: dict) -> dict:
    """Over every training table: the numbers of seeds, the test pairs folders and pair
    counts."""
    seeds, folders, pairs = set(), [], set()
    for key in TRAINING_SECTIONS:
        values = sections.get(key) or {}
        for row in (values.get("table") or {}).values():
            if isinstance(row.get("n_seeds"), int):
                seeds.add(row["n_seeds"])
            pairs.update(n for n in row.get("n_pairs") or [] if isinstance(n, int))
        folders += values.get("test_pairs") or []
    return {
        "n_seeds": sorted(seeds),
        "test_pairs": list(dict.fromkeys(folders)),
        "n_test_pairs": sorted(pairs),
    }


def made_by_other_code(provenance: dict) -> list[str]:
    """The run folders (the sections' and the training seeds', as ``provenance`` names them)
    whose ``run.json`` records another code_hash than the code's now, or none: their numbers
    may not be what this code gives."""
    current = code_hash()
    folders = set()
    for entry in provenance.values():
        folders.add(entry.get("run_dir"))
        for configuration in (entry.get("train_runs") or {}).values():
            folders.update(seed.get("run_dir") for seed in configuration.get("seeds") or [])
    return sorted(
        folder
        for folder in folders - {None}
        if read_json(resolve_path(folder) / RECORD).get("code_hash") != current
    )


def collect(runs_dir: str | Path = C.RUNS_DIR, out: str | Path | None = None) -> dict:
    """Read every section's results, copy its figures to ``<out>/figures/`` and write
    ``<out>/results.json`` (``out`` defaults to ``<runs_dir>/report``); returns that dict:
    ``about`` (the notes, the rule, the numbers of seeds and the test pairs), ``sections`` (every
    table, rounded, and the verdicts of the training tables), ``seed`` (the seed's numbers),
    ``findings``, ``provenance`` (per section) and ``code_hash``
    (:func:`~.provenance.code_hash` of the code that made the report)."""
    runs_dir = Path(runs_dir).absolute()
    out = Path(out).absolute() if out is not None else runs_dir / "report"
    command = BatchCommand(runs_dir)
    read = {section.key: _read_section(section, runs_dir, command) for section in SECTIONS}

    sections, provenance, copies = {}, {}, []
    for section in SECTIONS:  # everything is read and checked before anything is written
        results, folder = read[section.key]
        values = _section_values(section, results)
        values["figures"] = {}
        for role, (name, target) in section.figures.items():
            source = folder / name
            if not source.is_file():
                raise ReportError(
                    f"no {name} in {display_path(folder)} ({section.title}): "
                    f"rerun `{command()} --only {section.full_name} --force`"
                )
            copies.append((source, target))
            values["figures"][role] = target
        sections[section.key] = values
        provenance[section.key] = run_provenance(section, folder, command)

    for source, target in copies:
        with atomic_path(out / FIGURES_DIR / target) as tmp:
            shutil.copyfile(source, tmp)

    for key in METHOD_SECTIONS:
        sections[key]["summary"] = beyond_summary(sections[key].get("table") or {})
    report = {
        "about": {
            "runs_dir": display_path(runs_dir),
            "out": display_path(out),
            "command": REPORT_COMMAND,
            "eer": EER_NOTE,
            "test": TEST_NOTE,
            "rule": RULE,
            **_about_seeds(sections),
        },
        "sections": sections,
        "seed": seed_results(),
        "findings": compute_findings(sections),
        "provenance": provenance,
        "code_hash": code_hash(),
        "made_by_other_code": made_by_other_code(provenance),
    }
    write_text(out / RESULTS_FILE, json.dumps(report, indent=2) + "\n")
    return report

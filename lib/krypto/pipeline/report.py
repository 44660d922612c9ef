"""The results report: every table and figure of the README, from the finished runs.

::

    python -m krypto.pipeline.report [--runs-dir runs] [--out runs/report] [--readme README.md | --no-readme]

Three steps:

1. :func:`collect` reads the ``results.json`` of the runs ``python -m krypto.pipeline.batch
   params/readme.yaml`` makes (see :data:`SECTIONS`), copies the figures the README shows into
   ``<out>/figures/`` under stable names and writes ``<out>/results.json``: every table (rounded to
   4 decimals), the figure names, the seed's numbers (:data:`SEED`), the seed's findings checked
   against ours (:func:`compute_findings`) and provenance (per section the run folder and the
   command that made it, and ``seconds``/``epochs_run`` of every training run it read).
2. :func:`render_markdown` turns that dict, and nothing else, into markdown.
3. :func:`main` writes ``<out>/REPORT.md`` and replaces the block between the lines
   ``<!-- results:begin -->`` and ``<!-- results:end -->`` of the README with the same render
   (figure paths relative to the README). :func:`check_readme` says where a README's block and a
   ``results.json`` disagree, for a test that fails when the README drifts.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krypto import constants as C

# krypto.pipeline.results (read_metrics, resolve_run) and krypto.pipeline.batch import torch and papermill: they
# are imported where collect needs them, so that rendering and checking a README stay light.
RESULTS_FILE = "results.json"  # krypto.pipeline.results.RESULTS_FILE

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
REPORT_FILE = "REPORT.md"
FIGURES_DIR = "figures"
BATCH_FILE = "params/readme.yaml"
BATCH_COMMAND = f"python -m krypto.pipeline.batch {BATCH_FILE}"
RUN_RECORD = "run.json"
DECIMALS = 4
# REPORT.md: "# Results", then ## sections; the README block (between the README's own ##
# sections): "## Results", then ### sections.
REPORT_HEADING_LEVEL = 2
README_HEADING_LEVEL = 3
RESULTS_TITLE = "Results"

# Columns of the training-run tables (krypto.evaluation.compare.TABLE_COLUMNS); every EER: lower is better.
EER_COLUMNS = ("eer_real", "eer_fake", "eer_fake_other", "eer")
SEED_COLUMNS = ("eer_real", "eer_fake", "eer")  # the seed's README gave eer_real and eer_fake

# Row names of the batch files that the findings compare (params/*.yaml).
TRIPLET, TRIPLET_FAKE = "triplet", "triplet + fake"
LAMBDAS = ("0.01", "0.1", "1")
NO_CUTOUT = "no cutout"
SEED_RECIPE = "seed: triplet + fake (lam 1)"

HOLDS, DIFFERS, UNKNOWN = "holds", "differs", "n/a"


class ReportError(Exception):
    """A run's output is missing or a README cannot take the report."""


# --- what the report reads -----------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str  # key in results.json "sections"
    title: str
    batch: str  # runs/<batch>/<run>
    run: str
    figures: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (file, copy name)

    @property
    def full_name(self) -> str:
        return f"{self.batch}/{self.run}"


SECTIONS = (
    Section("data", "Data set", "readme", "preprocess",
            {"contact_sheet": ("contact_sheet.png", "data_contact_sheet.png")}),
    Section("loss_selection", "Loss selection", "loss_selection", "compare"),
    Section("distances", "Distances", "loss_selection", "distances", {
        "distance_curves": ("distance_curves.png", "loss_selection_distance_curves.png"),
        "similarity_histograms": ("similarity_histograms.png",
                                  "loss_selection_similarity_histograms.png")}),
    Section("embeddings", "Embeddings", "loss_selection", "pca",
            {"pca": ("pca_real_fake.png", "loss_selection_pca_real_fake.png")}),
    Section("model_selection", "Model selection", "model_selection", "compare", {
        "eer_real_per_epoch": ("eer_real_per_epoch.png", "model_selection_eer_real_per_epoch.png"),
        "eer_fake_per_epoch": ("eer_fake_per_epoch.png",
                               "model_selection_eer_fake_per_epoch.png")}),
    Section("lambda", "Lambda", "lambda", "compare"),
    Section("cutout", "Cutout", "cutout", "ablation", {
        "examples": ("cutout_examples.png", "cutout_examples.png"),
        "eer": ("cutout_eer.png", "cutout_eer.png"),
        "eer_fake_per_epoch": ("cutout_eer_fake_per_epoch.png", "cutout_eer_fake_per_epoch.png")}),
    Section("beyond", "Beyond the seed", "beyond", "compare"),
)

# The seed's README, keyed by our run names (its own name in "as"); it had no combined EER.
SEED: dict[str, Any] = {
    "source": "the seed repository's README",
    "loss_selection": {
        "epochs": 2,
        "rows": {TRIPLET: {"eer_real": 0.1041, "eer_fake": 0.425, "eer": None},
                 TRIPLET_FAKE: {"eer_real": 0.1374, "eer_fake": 0.025, "eer": None,
                                "as": "triplet real + fake"}},
    },
    "lambda": {
        "epochs": None,
        "rows": {"0.01": {"eer_real": 0.149, "eer_fake": 0.067, "eer": None},
                 "0.1": {"eer_real": 0.145, "eer_fake": 0.016, "eer": None},
                 "1": {"eer_real": 0.148, "eer_fake": 0.007, "eer": None},
                 "1 + cos head": {"eer_real": 0.157, "eer_fake": 0.005, "eer": None}},
    },
    "cutout": {
        "epochs": 6,
        "rows": {"mouth": {"eer_real": 0.178, "eer_fake": 0.0169, "eer": None},
                 "nose": {"eer_real": 0.1759, "eer_fake": 0.0156, "eer": None},
                 "eyes": {"eer_real": 0.242, "eer_fake": 0.132, "eer": None},
                 NO_CUTOUT: {"eer_real": 0.129, "eer_fake": 0.008, "eer": None}},
    },
}


# --- small helpers -------------------------------------------------------------------------------


def round_values(value: Any, decimals: int = DECIMALS) -> Any:
    """Floats rounded (NaN and infinities become None), recursively through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): round_values(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_values(v, decimals) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float) or hasattr(value, "__float__"):
        number = float(value)
        return round(number, decimals) if math.isfinite(number) else None
    return value


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _display(path: Path) -> str:
    """``path`` relative to the repository root when inside it, else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(C.REPO_ROOT))
    except ValueError:
        return str(path)


def _read_json(file: Path) -> dict:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return {}


# --- findings ------------------------------------------------------------------------------------


def _row(sections: dict, key: str, run: str) -> dict | None:
    return ((sections.get(key) or {}).get("table") or {}).get(run)


def _metric(sections: dict, key: str, run: str, metric: str) -> float | None:
    return _number((_row(sections, key, run) or {}).get(metric))


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _seed_metric(key: str, run: str, metric: str) -> float | None:
    return SEED[key]["rows"][run][metric]


def _fmt(value: Any, decimals: int = DECIMALS) -> str:
    number = _number(value)
    return "-" if number is None else f"{number:.{decimals}f}"


def _missing(claim: str, key: str, seed: str, needed: str) -> dict:
    return {"id": key, "claim": claim, "seed": seed, "verdict": UNKNOWN, "numbers": {},
            "detail": f"not checked: the tables lack {needed}"}


def compute_findings(sections: dict) -> list[dict]:
    """The seed's four findings checked against our tables (``sections`` as in results.json).

    Each: ``id``, ``claim``, ``seed`` (its numbers, as text), ``verdict`` (``holds``,
    ``differs``, or ``n/a`` when a needed row is missing), ``numbers`` and ``detail`` (ours)."""
    return [_finding_a(sections), _finding_b(sections), _finding_c(sections),
            _finding_d(sections)]


def _finding_a(sections: dict) -> dict:
    claim = "The fake term cuts eer_fake at least fivefold"
    t = _seed_metric("loss_selection", TRIPLET, "eer_fake")
    f = _seed_metric("loss_selection", TRIPLET_FAKE, "eer_fake")
    seed = f"eer_fake {t:.4f} -> {f:.4f}, {t / f:.1f}x"
    ours_t = _metric(sections, "loss_selection", TRIPLET, "eer_fake")
    ours_f = _metric(sections, "loss_selection", TRIPLET_FAKE, "eer_fake")
    if ours_t is None or ours_f is None:
        return _missing(claim, "a", seed, f"eer_fake of {TRIPLET!r} and {TRIPLET_FAKE!r}")
    ratio = _ratio(ours_t, ours_f)
    holds = ours_t > 0 if ratio is None else ratio >= 5
    times = f"{ratio:.1f}x" if ratio is not None else ("to zero" if ours_t > 0 else "no change")
    return {"id": "a", "claim": claim, "seed": seed, "verdict": HOLDS if holds else DIFFERS,
            "numbers": round_values({"triplet eer_fake": ours_t, "triplet + fake eer_fake": ours_f,
                                     "ratio": ratio, "seed ratio": t / f}),
            "detail": f"eer_fake {ours_t:.4f} -> {ours_f:.4f}, {times}"}


def _finding_b(sections: dict) -> dict:
    claim = "eer_fake falls as lam grows (0.01 -> 0.1 -> 1)"
    seed_values = [_seed_metric("lambda", lam, "eer_fake") for lam in LAMBDAS]
    seed = "eer_fake " + " -> ".join(f"{v:.4f}" for v in seed_values)
    values = [_metric(sections, "lambda", lam, "eer_fake") for lam in LAMBDAS]
    if any(v is None for v in values):
        return _missing(claim, "b", seed, f"eer_fake of lam {', '.join(LAMBDAS)}")
    monotone = all(a > b for a, b in zip(values, values[1:]))
    detail = "eer_fake " + " -> ".join(f"{v:.4f}" for v in values)
    if not monotone:
        rises = [f"{LAMBDAS[i]} -> {LAMBDAS[i + 1]}" for i in range(len(values) - 1)
                 if values[i + 1] >= values[i]]
        detail += f"; not monotone (no fall at {', '.join(rises)})"
    else:
        detail += "; monotone"
    return {"id": "b", "claim": claim, "seed": seed, "verdict": HOLDS if monotone else DIFFERS,
            "numbers": round_values({"eer_fake": dict(zip(LAMBDAS, values)), "monotone": monotone,
                                     "seed eer_fake": dict(zip(LAMBDAS, seed_values))}),
            "detail": detail}


def _finding_c(sections: dict) -> dict:
    claim = "Cutout does not help"
    seed_rows = SEED["cutout"]["rows"]
    base = seed_rows[NO_CUTOUT]
    seed = (f"no cutout has the lowest eer_real ({base['eer_real']:.4f}) and eer_fake "
            f"({base['eer_fake']:.4f}); no combined EER")
    table = (sections.get("cutout") or {}).get("table") or {}
    base_eer = _metric(sections, "cutout", NO_CUTOUT, "eer")
    base_fake = _metric(sections, "cutout", NO_CUTOUT, "eer_fake")
    parts = {name: {"eer": _number(row.get("eer")), "eer_fake": _number(row.get("eer_fake"))}
             for name, row in table.items() if name != NO_CUTOUT}
    if base_eer is None or base_fake is None or not parts:
        return _missing(claim, "c", seed, f"eer and eer_fake of {NO_CUTOUT!r} and cutout parts")
    lower_eer = [p for p, v in parts.items() if v["eer"] is not None and v["eer"] < base_eer]
    lower_fake = [p for p, v in parts.items()
                  if v["eer_fake"] is not None and v["eer_fake"] < base_fake]
    holds = not lower_eer and not lower_fake

    def beaten(names: list[str], metric: str) -> str:
        if not names:
            return f"no part has a lower {metric}"
        return "lower " + metric + ": " + ", ".join(f"{p} {parts[p][metric]:.4f}" for p in names)

    detail = (f"no cutout: eer {base_eer:.4f}, eer_fake {base_fake:.4f}; "
              f"{beaten(lower_eer, 'eer')}; {beaten(lower_fake, 'eer_fake')}")
    return {"id": "c", "claim": claim, "seed": seed, "verdict": HOLDS if holds else DIFFERS,
            "numbers": round_values({"no cutout": {"eer": base_eer, "eer_fake": base_fake},
                                     "parts": parts, "lower eer": lower_eer,
                                     "lower eer_fake": lower_fake}),
            "detail": detail}


def _finding_d(sections: dict) -> dict:
    claim = "The fake term costs some eer_real"
    t = _seed_metric("loss_selection", TRIPLET, "eer_real")
    f = _seed_metric("loss_selection", TRIPLET_FAKE, "eer_real")
    seed = f"eer_real {t:.4f} -> {f:.4f}, {f / t:.2f}x"
    ours_t = _metric(sections, "loss_selection", TRIPLET, "eer_real")
    ours_f = _metric(sections, "loss_selection", TRIPLET_FAKE, "eer_real")
    if ours_t is None or ours_f is None:
        return _missing(claim, "d", seed, f"eer_real of {TRIPLET!r} and {TRIPLET_FAKE!r}")
    ratio = _ratio(ours_f, ours_t)
    holds = ours_f > ours_t
    times = f"{ratio:.2f}x" if ratio is not None else "from zero"
    return {"id": "d", "claim": claim, "seed": seed, "verdict": HOLDS if holds else DIFFERS,
            "numbers": round_values({"triplet eer_real": ours_t, "triplet + fake eer_real": ours_f,
                                     "ratio": ratio, "seed ratio": f / t}),
            "detail": f"eer_real {ours_t:.4f} -> {ours_f:.4f}, {times}"}


def beyond_summary(table: dict, seed_recipe: str = SEED_RECIPE) -> dict | None:
    """The run with the lowest combined ``eer`` and its margin over ``seed_recipe``: ``best``,
    ``eer``, ``seed_recipe``, ``seed_eer``, ``absolute`` (seed - best), ``relative`` (of the
    seed's); the margins are None when the recipe's row is missing. None for no usable row."""
    eers = {name: _number(row.get("eer")) for name, row in (table or {}).items()}
    eers = {name: v for name, v in eers.items() if v is not None}
    if not eers:
        return None
    best = min(eers, key=eers.get)
    seed_eer = eers.get(seed_recipe)
    absolute = None if seed_eer is None else seed_eer - eers[best]
    relative = _ratio(absolute, seed_eer)
    runner_up = min((n for n in eers if n != best), key=eers.get, default=None)
    return round_values({"best": best, "eer": eers[best], "seed_recipe": seed_recipe,
                         "seed_eer": seed_eer, "absolute": absolute, "relative": relative,
                         "runner_up": runner_up,
                         "runner_up_eer": eers.get(runner_up) if runner_up else None})


# --- collect -------------------------------------------------------------------------------------


def _train_refs(parameters: dict) -> dict[str, str]:
    refs = parameters.get("train_runs")
    if isinstance(refs, dict):
        return {str(k): str(v) for k, v in refs.items()}
    if isinstance(refs, (list, tuple)):
        return {str(v): str(v) for v in refs}
    if parameters.get("train_run"):
        return {"train_run": str(parameters["train_run"])}
    return {}


class _Commands:
    """The batch command that made the runs: ``params/readme.yaml``, with ``--quick`` when some
    run's parameters are the quick ones (and not the full ones), and ``--runs-dir`` when not
    ``runs/``."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir).absolute()
        self._plans: dict[bool, dict[str, dict]] = {}
        self._quick: bool | None = None

    def _plan(self, quick: bool) -> dict[str, dict]:
        if quick not in self._plans:
            try:
                from krypto.pipeline.batch import load_batch

                runs = load_batch(C.REPO_ROOT / BATCH_FILE, quick=quick, runs_dir=self.runs_dir)
                self._plans[quick] = {run.full_name: run.parameters for run in runs}
            except Exception:  # an unreadable batch file only costs the exact command
                self._plans[quick] = {}
        return self._plans[quick]

    @property
    def quick(self) -> bool:
        if self._quick is None:
            full, quick = self._plan(False), self._plan(True)
            self._quick = any(
                parameters != full.get(name)
                and _read_json(self.runs_dir / name / RUN_RECORD).get("parameters") == parameters
                for name, parameters in quick.items())
        return self._quick

    def __call__(self) -> str:
        command = BATCH_COMMAND
        if self.quick:
            command += " --quick"
        if self.runs_dir != C.RUNS_DIR.absolute():
            command += f" --runs-dir {_display(self.runs_dir)}"
        return command


def _read_section(section: Section, runs_dir: Path, commands: _Commands) -> tuple[dict, Path]:
    folder = Path(runs_dir) / section.batch / section.run
    record = _read_json(folder / RUN_RECORD)
    file = folder / RESULTS_FILE
    if not file.is_file():
        message = (f"no {RESULTS_FILE} in {_display(folder)} ({section.title} section): make it "
                   f"with `{commands()}` (or `{commands()} --only {section.full_name}` once the "
                   f"runs it needs are done)")
        if record.get("status") and record.get("status") != "done":
            log = "torchrun.log" if record.get("launcher") == "torchrun" else "papermill.log"
            message += (f"; its last run is {record['status']!r}, see "
                        f"{_display(folder / log)}")
        raise ReportError(message)
    try:
        return json.loads(file.read_text()), folder
    except ValueError as error:
        raise ReportError(f"{_display(file)} is not valid JSON ({error}): rerun it with "
                          f"`{commands()} --only {section.full_name} --force`") from error


def _provenance(section: Section, folder: Path, commands: _Commands) -> dict:
    from krypto.pipeline.results import read_metrics, resolve_run

    record = _read_json(folder / RUN_RECORD)
    parameters = record.get("parameters") or {}
    train_runs = {}
    for name, ref in _train_refs(parameters).items():
        run = resolve_run(ref, folder)
        try:
            metrics = read_metrics(run)
        except FileNotFoundError as error:
            raise ReportError(f"{section.full_name} read {ref} ({name}), which has no "
                              f"{C.METRICS_FILE} any more: {error}") from error
        train_runs[name] = {"run_dir": _display(run), "seconds": metrics.get("seconds"),
                            "epochs_run": metrics.get("epochs_run")}
    return round_values({
        "run_dir": _display(folder),
        "notebook": record.get("notebook"),
        "command": commands(),
        "status": record.get("status", "no run.json"),
        "finished": record.get("finished"),
        "seconds": record.get("seconds"),
        **({"train_runs": train_runs} if train_runs else {}),
    })


def _section_values(section: Section, results: dict) -> dict:
    """What results.json keeps of a run's results (figures apart)."""
    keep = {
        "data": ("n_photos", "n_identities", "summary", "pairs", "problems"),
        "embeddings": ("train_run", "table"),
    }.get(section.key, ("title", "table", "best"))
    values = {k: results[k] for k in keep if k in results}
    if "table" not in values and section.key != "data":
        raise ReportError(f"{section.full_name}/{RESULTS_FILE} has no table")
    return round_values(values)


def collect(runs_dir: str | Path = C.RUNS_DIR, out: str | Path | None = None) -> dict:
    """Read every section's results, copy its figures to ``<out>/figures/`` and write
    ``<out>/results.json`` (``out`` defaults to ``<runs_dir>/report``); returns that dict."""
    runs_dir = Path(runs_dir).absolute()
    out = Path(out).absolute() if out is not None else runs_dir / "report"
    commands = _Commands(runs_dir)
    read = {section.key: _read_section(section, runs_dir, commands) for section in SECTIONS}

    sections, provenance, copies = {}, {}, []
    for section in SECTIONS:  # everything is read and checked before anything is written
        results, folder = read[section.key]
        values = _section_values(section, results)
        values["figures"] = {}
        for role, (name, target) in section.figures.items():
            source = folder / name
            if not source.is_file():
                raise ReportError(f"no {name} in {_display(folder)} ({section.title}): rerun "
                                  f"`{commands()} --only {section.full_name} --force`")
            copies.append((source, target))
            values["figures"][role] = target
        sections[section.key] = values
        provenance[section.key] = _provenance(section, folder, commands)

    figures_dir = out / FIGURES_DIR
    figures_dir.mkdir(parents=True, exist_ok=True)
    for source, target in copies:
        shutil.copyfile(source, figures_dir / target)

    beyond = sections["beyond"]
    beyond["summary"] = beyond_summary(beyond.get("table") or {})
    report = {
        "about": {
            "runs_dir": _display(runs_dir),
            "out": _display(out),
            "command": "python -m krypto.pipeline.report",
            "eer": "EER: lower is better; eer is the official combined EER over all four pair "
                   "kinds (same, different, fake_same, fake_other)",
        },
        "sections": sections,
        "seed": SEED,
        "findings": compute_findings(sections),
        "provenance": provenance,
    }
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


# --- render --------------------------------------------------------------------------------------

PAIR_KIND_TEXT = {
    C.SAME: "two real photos of one person (label 1)",
    C.DIFFERENT: "real photos of two people (label 0)",
    C.FAKE_SAME: "a person and a deepfake of that person (label 0)",
    C.FAKE_OTHER: "a person and a deepfake of another person (label 0)",
}


def _cell(value: Any, kind: str = "eer") -> str:
    if kind == "int":
        number = _number(value)
        return "-" if number is None else str(int(number))
    if kind == "seconds":
        return _fmt(value, 1)
    if kind == "text":
        return "-" if value is None else str(value).replace("|", "\\|")
    return _fmt(value)


def _table(rows: dict[str, dict], columns: list[tuple[str, str, str]], index: str) -> list[str]:
    """A markdown table: one line per row; ``columns`` are (key, header, kind)."""
    lines = ["| " + " | ".join([index] + [header for _, header, _ in columns]) + " |",
             "|" + "|".join([":---"] + [":---" if kind == "text" else "---:"
                                        for _, _, kind in columns]) + "|"]
    for name, row in rows.items():
        cells = [_cell(name, "text")] + [_cell((row or {}).get(key), kind)
                                         for key, _, kind in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _eer_header(column: str) -> str:
    return f"{column} ↓"


def _run_columns(with_seed: bool) -> list[tuple[str, str, str]]:
    columns = []
    for column in EER_COLUMNS:
        columns.append((column, _eer_header(column), "eer"))
        if with_seed and column in SEED_COLUMNS:
            columns.append((f"seed {column}", _eer_header(f"seed {column}"), "eer"))
    return columns + [("best_epoch", "best epoch", "int"), ("epochs_run", "epochs", "int"),
                      ("seconds", "seconds", "seconds")]


def _with_seed(table: dict, seed_rows: dict) -> dict:
    rows = {}
    for name, row in table.items():
        seed = seed_rows.get(name) or {}
        rows[name] = {**row, **{f"seed {k}": seed.get(k) for k in SEED_COLUMNS}}
    for name, seed in seed_rows.items():  # a seed row we have no run for: the seed's numbers alone
        if name not in rows:
            rows[name] = {f"seed {k}": seed.get(k) for k in SEED_COLUMNS}
    return rows


def _figure(prefix: str, figures: dict, role: str, alt: str) -> list[str]:
    name = (figures or {}).get(role)
    return [f"![{alt}]({prefix}{name})", ""] if name else []


def _source(provenance: dict, *keys: str) -> list[str]:
    found = [provenance[key] for key in keys if provenance.get(key)]
    if not found:
        return []
    folders = " and ".join(f"`{p.get('run_dir')}`" for p in found)
    commands = " and ".join(dict.fromkeys(f"`{p.get('command')}`" for p in found))
    return [f"_Source: {folders}, made by {commands}._", ""]


def _best_line(values: dict) -> list[str]:
    best = values.get("best")
    table = values.get("table") or {}
    if best is None or best not in table:
        return []
    return [f"Lowest combined `eer`: **{best}** ({_fmt(table[best].get('eer'))}).", ""]


def _epochs_note(table: dict, key: str, seed: dict) -> str:
    ours = sorted({int(e) for e in (_number(r.get("epochs_run")) for r in table.values())
                   if e is not None})
    seed_epochs = (seed.get(key) or {}).get("epochs")
    ours_text = ", ".join(map(str, ours)) or "-"
    seed_text = f"the seed trained {seed_epochs} epochs" if seed_epochs else "the seed's write-up does not say how many epochs"
    return f"Ours: {ours_text} epoch(s) per run; {seed_text}."


def _seed_table(values: dict, key: str, seed: dict) -> list[str]:
    table = values.get("table") or {}
    seed_rows = (seed.get(key) or {}).get("rows") or {}
    renamed = [f"{name!r} is the seed's {row['as']!r}" for name, row in seed_rows.items()
               if row.get("as")]
    lines = _table(_with_seed(table, seed_rows), _run_columns(with_seed=True), "run")
    note = _epochs_note(table, key, seed) + " The seed gave no combined EER (\"-\")."
    if renamed:
        note += " " + "; ".join(renamed) + "."
    return lines + ["", note, ""]


def render_markdown(results: dict, figure_prefix: str,
                    heading_level: int = REPORT_HEADING_LEVEL) -> str:
    """The markdown of every section from a results.json dict alone; figures are linked as
    ``figure_prefix + name`` (e.g. ``figures/`` next to REPORT.md)."""
    h = "#" * heading_level
    sections = results.get("sections") or {}
    provenance = results.get("provenance") or {}
    seed = results.get("seed") or SEED
    out = [
        f"_Made by `python -m krypto.pipeline.report` from `{(results.get('about') or {}).get('runs_dir')}`"
        f"; do not edit by hand. Every EER (↓): lower is better; `eer` is the official combined "
        f"EER over all four pair kinds (same, different, fake_same, fake_other)._",
        "",
    ]

    # Data set
    data = sections.get("data") or {}
    out += [f"{h} Data set", "",
            f"{data.get('n_photos', '-')} photos of {data.get('n_identities', '-')} identities.",
            ""]
    summary = data.get("summary") or {}
    if summary:
        columns = list(dict.fromkeys(k for row in summary.values() for k in row))
        out += _table(summary, [(c, c, "int") for c in columns], "split") + [""]
    pairs = data.get("pairs") or {}
    if pairs:
        out += ["Validation pairs:", ""]
        rows = {kind: {"pairs": n, "what": PAIR_KIND_TEXT.get(kind, "")}
                for kind, n in pairs.items()}
        out += _table(rows, [("pairs", "pairs", "int"), ("what", "what", "text")], "kind") + [""]
    problems = data.get("problems") or {}
    out += [("Data problems: " + ", ".join(f"{k} ({v})" for k, v in problems.items()) + ".")
            if problems else "Data problems: none found.", ""]
    out += _figure(figure_prefix, data.get("figures"), "contact_sheet", "contact sheet")
    out += _source(provenance, "data")

    # Loss selection
    loss = sections.get("loss_selection") or {}
    out += [f"{h} Loss selection", "",
            f"`{TRIPLET}`: the seed's baseline, a fake counted as a photo of its identity; "
            f"`{TRIPLET_FAKE}`: triplet(a, p, n_real) + lam * triplet(a, p, fake), lam = 1.", ""]
    out += _seed_table(loss, "loss_selection", seed)
    out += _best_line(loss)
    distances = sections.get("distances") or {}
    out += _figure(figure_prefix, distances.get("figures"), "distance_curves", "distance curves")
    out += _figure(figure_prefix, distances.get("figures"), "similarity_histograms",
                   "similarity histograms")
    dist_table = distances.get("table") or {}
    if dist_table:
        columns = list(dict.fromkeys(k for row in dist_table.values() for k in row))
        loss_table = loss.get("table") or {}
        rows = {name: {**row, "eer": (loss_table.get(name) or {}).get("eer")}
                for name, row in dist_table.items()}
        out += ["Mean cosine similarity of the validation pairs by kind, and mean batch distances "
                "of the last training epoch:", ""]
        out += _table(rows, [(c, c, "eer") for c in columns] + [("eer", _eer_header("eer"), "eer")],
                      "run") + [""]
    out += _source(provenance, "loss_selection", "distances")

    # Embeddings
    emb = sections.get("embeddings") or {}
    out += [f"{h} Embeddings", ""]
    out += _figure(figure_prefix, emb.get("figures"), "pca", "PCA of real photos and fakes")
    emb_table = emb.get("table") or {}
    if emb_table:
        columns = list(dict.fromkeys(k for row in emb_table.values() for k in row))
        out += _table(emb_table, [(c, c, "eer") for c in columns], "embeddings") + [""]
        before = (emb_table.get("before training") or {}).get("silhouette (real vs fake)")
        after = (emb_table.get("after training") or {}).get("silhouette (real vs fake)")
        out += [f"Silhouette of the real/fake split (cosine, on the full embeddings; higher means "
                f"fakes lie apart from real photos): {_fmt(before)} before training, "
                f"{_fmt(after)} after training of `{emb.get('train_run', '-')}`.", ""]
    out += _source(provenance, "embeddings")

    # Model selection
    models = sections.get("model_selection") or {}
    out += [f"{h} Model selection", "",
            "Backbones trained from scratch with the fake term (lam = 1).", ""]
    out += _table(models.get("table") or {}, _run_columns(with_seed=False), "backbone") + [""]
    out += _best_line(models)
    out += _figure(figure_prefix, models.get("figures"), "eer_real_per_epoch", "eer_real per epoch")
    out += _figure(figure_prefix, models.get("figures"), "eer_fake_per_epoch", "eer_fake per epoch")
    out += _source(provenance, "model_selection")

    # Lambda
    lam = sections.get("lambda") or {}
    out += [f"{h} Lambda", "", "The weight lam of the fake term; `1 + cos head`: lam = 1 with the "
            "cosine head (Baseline++).", ""]
    out += _seed_table(lam, "lambda", seed)
    out += _best_line(lam)
    out += _source(provenance, "lambda")

    # Cutout
    cut = sections.get("cutout") or {}
    out += [f"{h} Cutout", "", "One face part cut out (from the landmarks) with probability 0.5 "
            "during training, with the fake term (lam = 1).", ""]
    out += _seed_table(cut, "cutout", seed)
    out += _best_line(cut)
    out += _figure(figure_prefix, cut.get("figures"), "examples", "cutout examples")
    out += _figure(figure_prefix, cut.get("figures"), "eer", "cutout EER")
    out += _figure(figure_prefix, cut.get("figures"), "eer_fake_per_epoch",
                   "cutout eer_fake per epoch")
    out += _source(provenance, "cutout")

    # Beyond the seed
    beyond = sections.get("beyond") or {}
    table = beyond.get("table") or {}
    out += [f"{h} Beyond the seed", ""]
    out += _table(table, _run_columns(with_seed=False), "method") + [""]
    out += [_beyond_sentence(beyond_summary(table)), ""]
    out += _source(provenance, "beyond")

    # Findings
    out += [f"{h} Findings", "", "The seed's findings, checked on our runs:", ""]
    for finding in results.get("findings") or []:
        out.append(f"- ({finding.get('id')}) {finding.get('claim')}: **{finding.get('verdict')}**. "
                   f"Ours: {finding.get('detail')}. Seed: {finding.get('seed')}.")
    return "\n".join(out).rstrip() + "\n"


def _beyond_sentence(summary: dict | None) -> str:
    if not summary:
        return "No method has a combined `eer`."
    best, recipe = summary["best"], summary["seed_recipe"]
    if summary.get("seed_eer") is None:
        return (f"Lowest combined `eer`: **{best}** ({_fmt(summary['eer'])}); the seed's recipe "
                f"`{recipe}` is not in the table.")
    if best == recipe:
        runner = summary.get("runner_up")
        tail = (f"; the next best, {runner}, is worse by "
                f"{_fmt(summary['runner_up_eer'] - summary['eer'])}" if runner else "")
        return (f"The seed's recipe `{recipe}` keeps the lowest combined `eer` "
                f"({_fmt(summary['eer'])}){tail}.")
    if not summary["absolute"]:
        return (f"**{best}** ties the seed's recipe `{recipe}` on combined `eer` "
                f"({_fmt(summary['eer'])}).")
    relative = summary.get("relative")
    rel = "" if relative is None else f", {100 * relative:.1f}% lower"
    return (f"Lowest combined `eer`: **{best}** ({_fmt(summary['eer'])}), against "
            f"{_fmt(summary['seed_eer'])} for the seed's recipe `{recipe}`: "
            f"{_fmt(summary['absolute'])} lower in absolute terms{rel}.")


# --- README --------------------------------------------------------------------------------------


def _marker_lines(text: str) -> tuple[list[str], int, int]:
    lines = text.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        found = f"found {len(begins)} and {len(ends)}"
        if len(begins) == len(ends) == 1:
            found += ", in the wrong order"
        raise ReportError(f"the README needs exactly one line {BEGIN} and, below it, one line "
                          f"{END} ({found}): put them where the results go")
    return lines, begins[0], ends[0]


def readme_block(readme_text: str) -> str:
    """The text between the marker lines (without them)."""
    lines, begin, end = _marker_lines(readme_text)
    return "\n".join(lines[begin + 1:end])


def replace_readme_block(readme_text: str, block: str) -> str:
    """``readme_text`` with the text between the marker lines replaced by ``block``; the markers
    and everything outside them are kept as they are."""
    lines, begin, end = _marker_lines(readme_text)
    return "\n".join(lines[:begin + 1] + block.rstrip("\n").split("\n") + lines[end:])


def figure_links(markdown: str) -> list[str]:
    """Targets of the markdown images ``![alt](target)``."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown)


def readme_prefix(readme: Path, out: Path) -> str:
    """Figure prefix for a README: ``<out>/figures/`` relative to the README's folder."""
    rel = os.path.relpath(Path(out).absolute() / FIGURES_DIR, Path(readme).absolute().parent)
    return Path(rel).as_posix() + "/"


def titled_markdown(results: dict, figure_prefix: str,
                    heading_level: int = README_HEADING_LEVEL) -> str:
    """:func:`render_markdown` under a "Results" heading one level up: the README block
    (``heading_level`` 3, the default) and REPORT.md (2)."""
    return (f"{'#' * (heading_level - 1)} {RESULTS_TITLE}\n\n"
            + render_markdown(results, figure_prefix, heading_level=heading_level))


def check_readme(readme_path: str | Path, results_path: str | Path, figure_prefix: str,
                 heading_level: int = README_HEADING_LEVEL) -> list[str]:
    """Differences between the README's results block and the render of ``results_path``
    (``-`` lines: README, ``+``: expected), then figures the README links that do not exist.
    Empty when they agree."""
    readme_path = Path(readme_path)
    try:
        block = readme_block(readme_path.read_text())
    except ReportError as error:
        return [f"{readme_path}: {error}"]
    expected = titled_markdown(json.loads(Path(results_path).read_text()), figure_prefix,
                               heading_level=heading_level)
    differences = [
        f"{'README' if line[0] == '-' else 'expected'}: {line[2:]}"
        for line in difflib.ndiff(block.strip("\n").split("\n"), expected.strip("\n").split("\n"))
        if line[:2] in ("- ", "+ ")
    ]
    for link in figure_links(block):
        if not (readme_path.parent / link).is_file():
            differences.append(f"missing figure: {link}")
    return differences


# --- command line --------------------------------------------------------------------------------


def write_report(results: dict, out: Path, readme: Path | None = None) -> None:
    """``<out>/REPORT.md`` and, with ``readme``, the README's results block."""
    (out / REPORT_FILE).write_text(
        titled_markdown(results, FIGURES_DIR + "/", heading_level=REPORT_HEADING_LEVEL))
    if readme is not None:
        text = readme.read_text()
        block = titled_markdown(results, readme_prefix(readme, out),
                                heading_level=README_HEADING_LEVEL)
        readme.write_text(replace_readme_block(text, block))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m krypto.pipeline.report",
        description="Collect the runs' results into <out>/results.json, REPORT.md and the README.")
    parser.add_argument("--runs-dir", type=Path, default=C.RUNS_DIR,
                        help="folder of run folders (default runs/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default <runs-dir>/report)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--readme", type=Path, default=C.REPO_ROOT / "README.md",
                       help="README whose results block to replace (default README.md)")
    group.add_argument("--no-readme", action="store_true", help="leave the README alone")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; 0 on success, 2 on a missing run or README marker."""
    args = _parser().parse_args(argv)
    runs_dir = args.runs_dir.absolute()
    out = (args.out or runs_dir / "report").absolute()
    readme = None if args.no_readme else args.readme.absolute()
    try:
        if readme is not None:  # fail before writing anything
            if not readme.is_file():
                raise ReportError(f"no README at {readme}; pass --readme PATH or --no-readme")
            _marker_lines(readme.read_text())
        results = collect(runs_dir, out)
        write_report(results, out, readme)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"report: {_display(out / REPORT_FILE)}, {_display(out / 'results.json')}"
          + (f"; README block updated: {_display(readme)}" if readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

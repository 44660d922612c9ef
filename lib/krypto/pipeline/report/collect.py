"""The finished runs read into ``<out>/results.json``, with where they come from, and the figures
the README shows copied into ``<out>/figures/``."""

import json
import shutil
from pathlib import Path

import krypto.pipeline.report.spec as S
from krypto import constants as C
from krypto.code_version import code_hash
from krypto.evaluation.verdicts import ALPHA, RULE
from krypto.files import atomic_path, write_text
from krypto.paths import display_path, resolve_path
from krypto.pipeline.report.findings import all_verdicts
from krypto.pipeline.report.tables import round_values
from krypto.pipeline.run_record import LOG, read_record
from krypto.run_folder import read_results, resolve_run, seed_runs


def run_provenance(section: S.Section, folder: Path, command: str) -> dict:
    """A section's run: its folder, its command, each training it read (folder, seeds' folders)."""
    train_runs = {}
    for name, ref in S.train_refs(read_record(folder).get("parameters") or {}).items():
        configuration = resolve_run(ref, folder)
        try:
            seeds = [display_path(seed) for seed in seed_runs(configuration)]
        except FileNotFoundError as error:
            raise S.ReportError(f"{section.run} read {ref} ({name}): {error}") from error
        train_runs[name] = {"run_dir": display_path(configuration), "seeds": seeds}
    provenance = {"run_dir": display_path(folder), "command": command}
    return {**provenance, **({"train_runs": train_runs} if train_runs else {})}


def made_by_other_code(provenance: dict) -> list[str]:
    """The run folders of ``provenance`` (sections and training seeds) whose ``run.json`` records
    another code_hash than the code's now."""
    folders = set()
    for entry in provenance.values():
        seeds = [seed for c in (entry.get("train_runs") or {}).values() for seed in c["seeds"]]
        folders.update([entry["run_dir"], *seeds])
    current = code_hash()
    return sorted(f for f in folders if read_record(resolve_path(f)).get("code_hash") != current)


def _read_section(section: S.Section, runs_dir: Path, command: str) -> tuple[dict, Path]:
    """What results.json keeps of a section's run (report.yaml's ``keep``), and its folder (its
    results.json, written atomically by its notebook, is whole when it is there)."""
    folder = runs_dir / section.run
    try:
        results = read_results(folder)
    except FileNotFoundError:
        message = (
            f"no {C.RESULTS_FILE} in {display_path(folder)} ({section.title} section): make it "
            f"with `{command}` (or `{command} --only {section.run}` once the runs it needs "
            f"are done)"
        )
        record = read_record(folder)
        if record.get("status") and record.get("status") != "done":  # a notebook's run
            message += f"; its last run is {record['status']!r}, see {display_path(folder / LOG)}"
        raise S.ReportError(message) from None
    return round_values({k: results[k] for k in section.keep if k in results}), folder


def _about_seeds(sections: dict) -> dict:
    """Over every training table: the numbers of seeds, the test pairs folders and counts."""
    seeds, folders, pairs = set(), [], set()
    for key in S.TRAINING_SECTIONS:
        values = sections.get(key) or {}
        for row in (values.get("table") or {}).values():
            seeds.add(row["n_seeds"])
            pairs.update(n for n in row.get("n_pairs") or [] if isinstance(n, int))
        folders += values.get("test_pairs") or []
    return {
        "n_seeds": sorted(seeds),
        "test_pairs": list(dict.fromkeys(folders)),
        "n_test_pairs": sorted(pairs),
        "resolution": [round(4 / n, 5) for n in sorted(pairs)],  # one pair of a kind
    }


def collect(runs_dir: str | Path = C.RUNS_DIR, out: str | Path | None = None) -> dict:
    """Read every section's results, copy its figures and write ``<out>/results.json`` (default
    ``<runs_dir>/report``); returns it: ``about``, ``sections`` (tables and verdicts), ``seed``,
    ``findings``, ``provenance``, ``code_hash`` and ``made_by_other_code``."""
    runs_dir = Path(runs_dir).absolute()
    out = Path(out).absolute() if out is not None else runs_dir / "report"
    command = S.BATCH_COMMAND  # that made the runs
    if runs_dir != C.RUNS_DIR.absolute():
        command += f" --runs-dir {display_path(runs_dir)}"
    sections, provenance, copies = {}, {}, []
    for section in S.SECTIONS:  # everything is read and checked before anything is written
        values, folder = _read_section(section, runs_dir, command)
        values["figures"] = {}
        for role, (name, _) in section.figures.items():
            if not (folder / name).is_file():
                raise S.ReportError(
                    f"no {name} in {display_path(folder)} ({section.title}): "
                    f"rerun `{command} --only {section.run} --force`"
                )
            copies.append((folder / name, section.figure_prefix + name))
            values["figures"][role] = section.figure_prefix + name
        sections[section.key] = values
        provenance[section.key] = run_provenance(section, folder, command)
    for source, target in copies:
        with atomic_path(out / S.FIGURES_DIR / target) as tmp:
            shutil.copyfile(source, tmp)
    verdicts, findings, family = all_verdicts(sections)
    for key, values in verdicts.items():
        sections[key].update(values)
    decided = sum(family.adjusted(p) < ALPHA for p in family.p_values.values())
    report = {
        "about": {
            "runs_dir": display_path(runs_dir),
            "rule": RULE,
            **_about_seeds(sections),
            "comparisons": {"stated": len(family.p_values), "decided": int(decided)},
        },
        "sections": sections,
        "seed": S.seed_results(),
        "findings": findings,
        "provenance": provenance,
        "code_hash": code_hash(),
        "made_by_other_code": made_by_other_code(provenance),
    }
    write_text(out / C.RESULTS_FILE, json.dumps(report, indent=2) + "\n")
    return report

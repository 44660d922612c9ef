"""krypto.pipeline.batch: batch files, parameter layering, resuming, failures, needs and jobs,
runs held by other processes, killed batches and signals (more kills in test_faults.py).

The notebooks are tiny throwaway ones; each execution (tests marked ``slow``) starts papermill and
a real kernel in a subprocess, a few seconds each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from krypto.code_version import current_code_hash
from krypto.pipeline.batch import BatchError, load_batch, main, run_batch

PARAMETERS = 'x = 1\ny = 1\nz = 1\nrun_dir = ""\nfail = False\n'
BODY = """\
import json, os
from pathlib import Path
Path(run_dir, "out.json").write_text(json.dumps({
    "x": x, "y": y, "z": z,
    "overwrite": globals().get("overwrite"),
    "threads": os.environ.get("KRYPTO_NUM_THREADS"),
}))
if fail:
    raise RuntimeError("asked to fail")
"""


def make_notebook(path: Path, extra_parameters: str = "") -> Path:
    """A notebook with a ``parameters`` cell that writes its parameters to ``run_dir/out.json``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    parameters = nbformat.v4.new_code_cell(PARAMETERS + extra_parameters)
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(BODY)]
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def nb(tmp_path: Path) -> str:
    """Path of a test notebook."""
    return str(make_notebook(tmp_path / "nb.ipynb"))


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A runs folder outside the repository."""
    return tmp_path / "runs"


def write_yaml(path: Path, data: dict) -> Path:
    """Write a batch file."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def batch(path: Path, runs_dir: Path, *options: str) -> int:
    """``python -m krypto.pipeline.batch path --runs-dir runs_dir options``, in this process."""
    return main([str(path), "--runs-dir", str(runs_dir), *options])


def output(runs_dir: Path, name: str) -> dict:
    """What the notebook of run ``batch/run`` wrote."""
    return json.loads((runs_dir / name / "out.json").read_text())


def record(runs_dir: Path, name: str) -> dict:
    """``run.json`` of run ``batch/run``."""
    return json.loads((runs_dir / name / "run.json").read_text())


# --- loading -----------------------------------------------------------------------------------


def test_layering_base_run_quick_then_run_dir(tmp_path, nb, runs_dir):
    file = write_yaml(
        tmp_path / "b.yaml",
        {
            "batch": "b",
            "base": {nb: {"x": 10, "y": 10, "z": 10, "run_dir": "ignored"}},
            "runs": {"r": {"notebook": nb, "parameters": {"y": 20, "z": 20}}},
            "quick": {nb: {"z": 30}},
        },
    )
    (plain,) = load_batch(file, runs_dir=runs_dir)
    assert plain.parameters == {"x": 10, "y": 20, "z": 20, "run_dir": str(runs_dir / "b" / "r")}
    (quick,) = load_batch(file, quick=True, runs_dir=runs_dir)
    assert quick.parameters == {"x": 10, "y": 20, "z": 30, "run_dir": str(runs_dir / "b" / "r")}
    assert (quick.name, quick.batch, quick.run_dir) == ("r", "b", runs_dir / "b" / "r")
    assert quick.notebook == Path(nb).resolve()


@pytest.mark.slow
def test_include_layering_only_and_outputs(tmp_path, nb, runs_dir, capsys):
    (tmp_path / "sub").mkdir()
    write_yaml(
        tmp_path / "sub" / "inner.yaml",
        {
            "batch": "inner",
            "base": {nb: {"x": 2, "y": 2, "z": 2}},
            "runs": {"a": {"notebook": nb, "parameters": {"y": 3, "z": 3}}},
        },
    )
    file = write_yaml(
        tmp_path / "outer.yaml",
        {
            "batch": "outer",
            "include": ["sub/inner.yaml", "sub/inner.yaml"],  # loaded once
            "runs": {"b": {"notebook": nb, "needs": ["inner/a"]}},
            "quick": {nb: {"z": 4}},
        },
    )
    runs = load_batch(file, quick=True, runs_dir=runs_dir)
    assert [r.full_name for r in runs] == ["inner/a", "outer/b"]
    inner = runs_dir / "inner" / "a"
    assert runs[0].run_dir == inner
    assert runs[0].parameters == {"x": 2, "y": 3, "z": 4, "run_dir": str(inner)}
    assert runs[1].parameters == {"z": 4, "run_dir": str(runs_dir / "outer" / "b")}
    assert runs[1].needs == ["inner/a"]

    # --only runs nothing else: a needed run that is not done blocks
    assert batch(file, runs_dir, "--only", "b") == 1
    assert "blocked by inner/a: not in this selection and not done" in capsys.readouterr().out
    assert not (runs_dir / "outer" / "b").exists()

    # --force passes no `overwrite` to a notebook without such a parameter
    assert batch(file, runs_dir, "--quick", "--force", "--only", "inner/a") == 0
    assert yaml.safe_load((inner / "params.yaml").read_text()) == runs[0].parameters
    assert output(runs_dir, "inner/a") == {
        "x": 2, "y": 3, "z": 4, "overwrite": None, "threads": str(os.cpu_count()),
    }  # fmt: skip
    assert (inner / "nb.ipynb").is_file() and (inner / "papermill.log").is_file()
    done = record(runs_dir, "inner/a")
    assert done["status"] == "done" and done["parameters"] == runs[0].parameters
    assert done["error"] is None and done["seconds"] >= 0
    assert not (runs_dir / "outer").exists()

    # a needed run outside the selection that is done on disk is enough
    assert batch(file, runs_dir, "--only", "outer/b") == 0
    assert output(runs_dir, "outer/b")["x"] == 1


def test_needs_order_follows_dependencies(tmp_path, nb, runs_dir):
    file = write_yaml(
        tmp_path / "b.yaml",
        {
            "batch": "b",
            "runs": {
                "last": {"notebook": nb, "needs": ["middle"]},
                "middle": {"notebook": nb, "needs": ["first"]},
                "first": {"notebook": nb},
            },
        },
    )
    assert [r.name for r in load_batch(file, runs_dir=runs_dir)] == ["first", "middle", "last"]


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, nb, runs_dir, capsys):
    file = write_yaml(
        tmp_path / "b.yaml",
        {"batch": "b", "runs": {"r": {"notebook": nb, "parameters": {"x": 5}}}},
    )
    assert batch(file, runs_dir, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "[1/1] b/r" in out and "x: 5" in out and "run_dir:" in out
    assert not runs_dir.exists()


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"runs": {"r": {"notebook": "NB"}}}, "'batch'"),
        ({"batch": "b"}, "'runs'"),
        ({"batch": "b", "runs": {"r": {"parameters": {}}}}, "runs.r has no 'notebook'"),
        ({"batch": "b", "runs": {"r": {"notebook": "nope.ipynb"}}}, "runs.r.notebook"),
        ({"batch": "b", "base": {"nope.ipynb": {}}, "runs": {}}, "base.nope.ipynb"),
        ({"batch": "b", "include": ["missing.yaml"]}, "include: missing.yaml"),
        ({"batch": "b", "runs": {"r": {"notebook": "NB", "needs": ["x"]}}}, "unknown run b/x"),
        ({"batch": "b", "runs": {"r": {"notebook": "NB", "parameter": {}}}}, "'parameter'"),
        ({"batch": "b/c", "runs": {}}, "'batch'"),
        (
            {
                "batch": "b",
                "runs": {
                    "r": {"notebook": "NB", "needs": ["s"]},
                    "s": {"notebook": "NB", "needs": ["r"]},
                },
            },
            "cycle in needs: b/r -> b/s -> b/r",
        ),
    ],
)
def test_bad_batch_files_name_file_and_key(tmp_path, nb, runs_dir, capsys, content, expected):
    text = yaml.safe_dump(content).replace("NB", nb)
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(BatchError) as error:
        load_batch(file, runs_dir=runs_dir)
    assert str(error.value).startswith(f"{file}: ") and expected in str(error.value)
    assert batch(file, runs_dir) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err
    assert not runs_dir.exists()


def test_invalid_yaml_and_missing_file(tmp_path, runs_dir):
    (tmp_path / "broken.yaml").write_text("batch: [b\n")
    with pytest.raises(BatchError, match="broken.yaml: not valid YAML"):
        load_batch(tmp_path / "broken.yaml", runs_dir=runs_dir)
    with pytest.raises(BatchError, match="absent.yaml: file not found"):
        load_batch(tmp_path / "absent.yaml", runs_dir=runs_dir)


def test_only_with_an_unknown_name_is_an_error(tmp_path, nb, runs_dir, capsys):
    file = write_yaml(tmp_path / "b.yaml", {"batch": "b", "runs": {"r": {"notebook": nb}}})
    assert batch(file, runs_dir, "--only", "nobody") == 2
    assert "--only: no run named nobody" in capsys.readouterr().err


def test_no_jobs_is_an_error(tmp_path, nb, runs_dir, capsys):
    file = write_yaml(tmp_path / "b.yaml", {"batch": "b", "runs": {"r": {"notebook": nb}}})
    assert batch(file, runs_dir, "--jobs", "0") == 2
    assert "--jobs must be at least 1, not 0" in capsys.readouterr().err
    assert not runs_dir.exists()


# --- running -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_that_reads_other_runs_is_not_reused_when_they_change(tmp_path, runs_dir, nb, capsys):
    """A comparison made from some runs is not the comparison of others (seeds added to a file),
    nor the one made before a run it reads was done again: the batch does not skip it as done,
    it names the runs added or done again and stops for --force."""

    def write(needs: list[str]) -> Path:
        runs = {name: {"notebook": nb, "parameters": {"x": k}} for k, name in enumerate("ab")}
        runs["table"] = {"notebook": nb, "needs": needs}
        return write_yaml(tmp_path / "b.yaml", {"batch": "b", "runs": runs})

    assert batch(write(["a"]), runs_dir) == 0
    made = record(runs_dir, "b/a")
    assert made["finished"] and record(runs_dir, "b/table")["needs"] == {"b/a": made["finished"]}
    first = record(runs_dir, "b/table")
    capsys.readouterr()
    assert batch(write(["a", "b"]), runs_dir) == 1
    out = capsys.readouterr().out
    assert "b/table ... conflict: done before with other needs +b/b (see" in out
    assert "--only b/table" in out and record(runs_dir, "b/table") == first
    assert batch(write(["a", "b"]), runs_dir, "--force", "--only", "table") == 0
    assert list(record(runs_dir, "b/table")["needs"]) == ["b/a", "b/b"]
    assert record(runs_dir, "b/a") == made  # not redone: --only
    capsys.readouterr()
    assert batch(write(["b"]), runs_dir) == 1
    assert "other needs -b/a" in capsys.readouterr().out
    # a run it reads done again under the same name: the table made before is not reused
    assert batch(write(["a", "b"]), runs_dir, "--force", "--only", "a") == 0
    assert record(runs_dir, "b/a")["finished"] != made["finished"]
    capsys.readouterr()
    assert batch(write(["a", "b"]), runs_dir) == 1
    assert "b/table ... conflict: done before with other results of b/a (done again" in (
        capsys.readouterr().out
    )
    assert batch(write(["a", "b"]), runs_dir, "--force", "--only", "table") == 0
    assert batch(write(["a", "b"]), runs_dir) == 0  # made from the runs as they are: reused


@pytest.mark.slow
def test_skip_when_done_conflict_when_changed_redo_with_force(tmp_path, runs_dir, capsys):
    nb = str(make_notebook(tmp_path / "over.ipynb", "overwrite = False\n"))

    def write(x: int) -> Path:
        return write_yaml(
            tmp_path / "b.yaml",
            {"batch": "b", "runs": {"r": {"notebook": nb, "parameters": {"x": x}}}},
        )

    assert batch(write(1), runs_dir) == 0
    first = record(runs_dir, "b/r")
    capsys.readouterr()

    assert batch(write(1), runs_dir) == 0
    assert "skip (done)" in capsys.readouterr().out
    assert record(runs_dir, "b/r") == first

    assert batch(write(2), runs_dir) == 1
    out = capsys.readouterr().out
    assert "b/r" in out and "conflict" in out and "--force" in out and "x: 1 -> 2" in out
    assert output(runs_dir, "b/r")["x"] == 1 and record(runs_dir, "b/r") == first

    assert batch(write(2), runs_dir, "--force") == 0
    assert output(runs_dir, "b/r") == {
        "x": 2, "y": 1, "z": 1, "overwrite": True, "threads": str(os.cpu_count()),
    }  # fmt: skip
    assert yaml.safe_load((runs_dir / "b/r/params.yaml").read_text())["overwrite"] is True
    assert "overwrite" not in record(runs_dir, "b/r")["parameters"]
    capsys.readouterr()
    assert batch(write(2), runs_dir) == 0  # forced with overwrite, still the same run
    assert "skip (done)" in capsys.readouterr().out

    # a run made by other code is not reused: its numbers may not be what this code gives
    assert record(runs_dir, "b/r")["code_hash"] == current_code_hash()
    made = record(runs_dir, "b/r")
    (runs_dir / "b/r/run.json").write_text(json.dumps({**made, "code_hash": "0" * 64}))
    assert batch(write(2), runs_dir) == 1
    out = capsys.readouterr().out
    assert f"other code (code_hash 000000000000 -> {current_code_hash()[:12]})" in out
    assert "--force" in out
    assert batch(write(2), runs_dir, "--force") == 0
    assert record(runs_dir, "b/r")["code_hash"] == current_code_hash()


@pytest.mark.slow
def test_failure_carries_on_blocks_dependents_and_reruns_later(tmp_path, nb, runs_dir, capsys):
    def write(fail: bool) -> Path:
        return write_yaml(
            tmp_path / "b.yaml",
            {
                "batch": "b",
                "runs": {
                    "bad": {"notebook": nb, "parameters": {"fail": fail}},
                    "after": {"notebook": nb, "needs": ["bad"]},
                    "other": {"notebook": nb},
                },
            },
        )

    runs = load_batch(write(True), runs_dir=runs_dir)
    statuses = run_batch(runs, jobs=2, runs_dir=runs_dir)  # b/after waits while b/other runs
    assert statuses == {"b/bad": "failed", "b/after": "blocked", "b/other": "done"}
    out = capsys.readouterr().out
    assert "blocked by b/bad (failed)" in out
    assert str(runs_dir / "b" / "bad" / "papermill.log") in out
    failed = record(runs_dir, "b/bad")
    assert failed["status"] == "failed" and "asked to fail" in failed["error"]
    executed = nbformat.read(runs_dir / "b" / "bad" / "nb.ipynb", as_version=4)  # kept, whole
    assert "asked to fail" in json.dumps(executed.cells[-1].outputs)
    assert not (runs_dir / "b" / "bad" / ".nb.partial.ipynb").exists()
    assert not (runs_dir / "b" / "after").exists()

    # a failed run is executed again (no conflict), in its folder as it was
    (runs_dir / "b" / "bad" / "checkpoint").write_text("kept")
    assert batch(write(False), runs_dir, "--only", "bad", "--only", "b/other") == 0
    assert (runs_dir / "b" / "bad" / "checkpoint").read_text() == "kept"
    assert record(runs_dir, "b/bad")["status"] == "done"
    assert "skip (done)" in capsys.readouterr().out  # b/other
    assert not (runs_dir / "b" / "after").exists()


@pytest.mark.slow
def test_jobs_run_independent_runs_together(tmp_path, nb, runs_dir, capsys):
    file = write_yaml(
        tmp_path / "b.yaml",
        {"batch": "b", "runs": {"one": {"notebook": nb}, "two": {"notebook": nb}}},
    )
    assert batch(file, runs_dir, "--jobs", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    # both start before either ends (their order is the threads')
    assert sorted(lines[:2]) == ["[1/2] b/one ... started", "[2/2] b/two ... started"]
    threads = str(max(1, os.cpu_count() // 2))
    for name in ("one", "two"):
        assert record(runs_dir, f"b/{name}")["status"] == "done"
        assert output(runs_dir, f"b/{name}")["threads"] == threads


@pytest.mark.slow
def test_threads_fix_each_runs_threads_whatever_the_jobs(tmp_path, nb, runs_dir, capsys):
    """`--threads` sets every run's torch threads, so `--jobs` cannot change a run's numbers."""
    file = write_yaml(
        tmp_path / "b.yaml",
        {"batch": "b", "runs": {"one": {"notebook": nb}, "two": {"notebook": nb}}},
    )
    assert batch(file, runs_dir, "--jobs", "2", "--threads", "3") == 0
    assert [output(runs_dir, f"b/{n}")["threads"] for n in ("one", "two")] == ["3", "3"]
    assert batch(file, runs_dir, "--jobs", "1", "--threads", "3", "--force") == 0
    assert [output(runs_dir, f"b/{n}")["threads"] for n in ("one", "two")] == ["3", "3"]
    capsys.readouterr()
    assert batch(file, runs_dir, "--threads", "-1") == 2
    assert "--threads must be 0 (automatic) or more, not -1" in capsys.readouterr().err


# --- other batches, kills, signals ---------------------------------------------------------------

HOLD = """\
import sys, time
from krypto.run_lock import hold_run_folder
hold_run_folder(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.slow
def test_a_run_held_by_another_process_waits_and_runs_once_it_is_free(
    tmp_path, nb, runs_dir, capsys
):
    file = write_yaml(
        tmp_path / "b.yaml",
        {"batch": "b", "runs": {"held": {"notebook": nb}, "free": {"notebook": nb}}},
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(runs_dir / "b" / "held"), "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    try:
        assert batch(file, runs_dir) == 0
    finally:
        holder.kill()
        holder.wait()
    lines = capsys.readouterr().out.splitlines()
    waiting = f"[1/2] b/held ... waiting: in use by pid {holder.pid} on "
    assert lines[0].startswith(waiting), lines
    assert lines.index("[2/2] b/free ... started") < lines.index("[1/2] b/held ... started")
    assert record(runs_dir, "b/held")["status"] == "done"
    assert (runs_dir / "b" / "held" / ".lock").read_text() == ""  # let go


@pytest.mark.slow
def test_a_run_whose_batch_was_killed_runs_again_and_leaves_no_partial_file(
    tmp_path, nb, runs_dir, capsys
):
    from krypto.run_lock import lock_holder

    file = write_yaml(tmp_path / "b.yaml", {"batch": "b", "runs": {"r": {"notebook": nb}}})
    assert batch(file, runs_dir) == 0
    run = runs_dir / "b" / "r"
    # as a SIGKILL of the batch during the run leaves the folder
    (run / "run.json").write_text(json.dumps({**record(runs_dir, "b/r"), "status": "running"}))
    (run / ".nb.partial.ipynb").write_text('{"cells": [')
    (run / ".out.json.x1y2z3.tmp").write_text('{"x"')
    assert lock_holder(run) is None  # running, but nobody holds the folder: interrupted
    capsys.readouterr()
    assert batch(file, runs_dir) == 0
    assert "[1/1] b/r ... started" in capsys.readouterr().out
    assert record(runs_dir, "b/r")["status"] == "done"
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == [
        ".lock",
        ".lock.guests",
    ]
    assert nbformat.read(run / "nb.ipynb", as_version=4).cells  # whole


PAUSE = """\
import time
from pathlib import Path
Path(run_dir, "started").write_text("yes")
time.sleep(60)
"""


@pytest.mark.slow
def test_sigterm_stops_children_and_records_the_run_interrupted(tmp_path, runs_dir):
    import psutil

    notebook = nbformat.read(make_notebook(tmp_path / "pause.ipynb"), as_version=4)
    notebook.cells[1] = nbformat.v4.new_code_cell(PAUSE)
    nbformat.write(notebook, tmp_path / "pause.ipynb")
    file = write_yaml(
        tmp_path / "b.yaml",
        {"batch": "b", "runs": {"r": {"notebook": str(tmp_path / "pause.ipynb")}}},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "krypto.pipeline.batch", str(file), "--runs-dir", str(runs_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = runs_dir / "b" / "r" / "started"
    deadline = time.monotonic() + 120
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert started.exists() and any("ipykernel" in " ".join(p.cmdline()) for p in children)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "interrupted by SIGTERM" in out
    assert not psutil.wait_procs(children, timeout=10)[1]  # none left behind
    done = record(runs_dir, "b/r")
    assert done["status"] == "interrupted" and done["error"] == "interrupted by SIGTERM"
    assert (runs_dir / "b" / "r" / ".lock").read_text() == ""


def test_seeds_repeat_each_training_run_and_needs_wait_for_all(tmp_path, runs_dir):
    """``seeds``: one training run per seed in <run>/seed<k> with that seed, a need on the
    configuration stands for all its seeds, --only on it selects them, --quick keeps one."""
    from krypto.pipeline.batch_file import BatchError, load_batch, select_runs

    batch = tmp_path / "seeded.yaml"
    batch.write_text(
        "batch: seeded\n"
        "seeds: [0, 1, 2]\n"
        "base:\n  notebooks/02_train.ipynb: {epochs: 1}\n"
        "runs:\n"
        "  quad:\n    notebook: notebooks/02_train.ipynb\n    parameters: {lam: 0.5}\n"
        "  table:\n    notebook: notebooks/06_compare_runs.ipynb\n"
        "    parameters: {train_runs: {q: seeded/quad}}\n    needs: [quad]\n"
    )
    runs = load_batch(batch, runs_dir=runs_dir)
    train = [r for r in runs if r.notebook.name == "02_train.ipynb"]
    assert [r.name for r in train] == ["quad/seed0", "quad/seed1", "quad/seed2"]
    assert [r.parameters["seed"] for r in train] == [0, 1, 2]
    assert all(r.parameters["lam"] == 0.5 and r.parameters["epochs"] == 1 for r in train)
    assert [r.run_dir for r in train] == [
        runs_dir / "seeded" / "quad" / f"seed{k}" for k in range(3)
    ]
    table = next(r for r in runs if r.name == "table")
    assert table.needs == [r.full_name for r in train]
    assert runs.index(table) > max(runs.index(r) for r in train)
    assert len(select_runs(runs, ["quad"])) == 3
    assert [
        r.name
        for r in load_batch(batch, quick=True, runs_dir=runs_dir)
        if r.notebook.name == "02_train.ipynb"
    ] == ["quad/seed0"]
    batch.write_text(batch.read_text().replace("{lam: 0.5}", "{lam: 0.5, seed: 3}"))
    with pytest.raises(BatchError, match="seeds"):
        load_batch(batch, runs_dir=runs_dir)
    batch.write_text(batch.read_text().replace("seeds: [0, 1, 2]", "seeds: [1, 1]"))
    with pytest.raises(BatchError, match="distinct"):
        load_batch(batch, runs_dir=runs_dir)


def test_a_replication_replaces_every_files_seeds(tmp_path, runs_dir, capsys):
    """``--seeds 3,4``: each file's ``seeds`` replaced (a replication), a run without seeds
    left as it is; a bad list is refused naming it."""
    from krypto.pipeline.batch import main
    from krypto.pipeline.batch_file import BatchError, load_batch

    batch = tmp_path / "seeded.yaml"
    batch.write_text(
        "batch: seeded\n"
        "seeds: [0, 1, 2]\n"
        "runs:\n"
        "  quad:\n    notebook: notebooks/02_train.ipynb\n    parameters: {lam: 0.5}\n"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        "batch: plain\ninclude: [seeded.yaml]\n"
        "runs:\n  once:\n    notebook: notebooks/02_train.ipynb\n    parameters: {}\n"
    )
    runs = load_batch(plain, runs_dir=runs_dir, seeds=[3, 4])
    assert [r.full_name for r in runs] == ["seeded/quad/seed3", "seeded/quad/seed4", "plain/once"]
    assert [r.parameters.get("seed") for r in runs] == [3, 4, None]
    with pytest.raises(BatchError, match="distinct"):
        load_batch(plain, runs_dir=runs_dir, seeds=[3, 3])
    assert main([str(plain), "--seeds", "5,6", "--dry-run", "--runs-dir", str(runs_dir)]) == 0
    assert "seeded/quad/seed5" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(plain), "--seeds", "five"])
    assert "not a comma-separated list of integers: 'five'" in capsys.readouterr().err


def test_a_training_needs_the_run_it_is_pretrained_from(tmp_path):
    (tmp_path / "start.yaml").write_text(
        "batch: pretrain\nruns:\n  faces:\n    notebook: notebooks/02_train.ipynb\n"
        "    parameters: {epochs: 1}\n"
    )
    (tmp_path / "tune.yaml").write_text(
        "batch: tune\ninclude: [start.yaml]\nseeds: [0, 1]\n"
        "base:\n  notebooks/02_train.ipynb: {pretrained: pretrain/faces}\n"
        "runs:\n  a:\n    notebook: notebooks/02_train.ipynb\n    parameters: {}\n"
    )
    runs = {run.full_name: run for run in load_batch(tmp_path / "tune.yaml", runs_dir=tmp_path)}
    assert runs["tune/a/seed0"].needs == ["pretrain/faces"]
    assert runs["tune/a/seed1"].needs == ["pretrain/faces"]
    assert runs["pretrain/faces"].needs == []
    order = list(runs)
    assert order.index("pretrain/faces") < order.index("tune/a/seed0")

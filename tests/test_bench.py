"""krypto.bench: the quick benchmark writes every section, its reference miner is a correct miner
(the same rules as ours), not a strawman; the GPU check's CPU dry run passes; the image cache the
memory section measures is memory-mapped, read-only and copied out batch by batch. No assertion
on speed: timed asserts flake."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from krypto import constants as C
from krypto.bench import GOALS, SECTIONS, gpu_check, main
from krypto.bench.common import SPEC
from krypto.bench.miner import MINER_BATCHES, miner_batch, python_loop_quadruplets
from krypto.bench.report import ROWS, markdown, text_table
from krypto.learning.miner import mine_quadruplets

BENCH_DIR = Path(__file__).resolve().parents[1] / "lib" / "krypto" / "bench"


def _measurements(node, path=""):
    """Every ``{"value", "unit"}`` leaf of the report, with its path."""
    if isinstance(node, dict):
        if "value" in node and "unit" in node:
            yield path, node
            return
        for key, child in node.items():
            yield from _measurements(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _measurements(child, f"{path}[{i}]")


@pytest.mark.slow
def test_quick_benchmark_writes_every_section(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["--quick", "--device", "cpu", "--threads", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())

    machine = report["machine"]
    for key in ("cpu_model", "cpu_cores", "torch", "torch_threads"):
        assert machine[key], key
    assert machine["torch_threads"] == report["config"]["threads"] == 1
    assert report["command"].startswith("python -m krypto.bench --quick")
    assert report["cuda"] is None and "not measured" in report["cuda_note"]

    cpu = report["cpu"]
    assert set(SECTIONS) <= set(cpu)
    leaves = dict(_measurements(cpu))
    assert len(leaves) > 30
    for path, m in leaves.items():
        assert isinstance(m["unit"], str) and m["unit"], path
        assert math.isfinite(m["value"]) and m["value"] > 0, (path, m)
        assert all(s > 0 for s in m.get("samples", [1])), path

    training = cpu["training"]
    for key in ("loop_images_per_second", "bound_images_per_second", "ratio_to_bound"):
        assert key in training
    assert training["loop_images_per_second"]["unit"] == "images/s"
    assert {"seed_images_per_second", "speedup"} <= set(cpu["seed_pipeline"])
    for size in MINER_BATCHES:
        keys = {"ours_ms", "reference_ms", "reference_lists_ms", "speedup"}
        assert keys <= set(cpu["miner"][str(size)])
    inference = cpu["inference"]
    assert {
        "submission_images_per_second",
        "forward_images_per_second",
        "ratio_to_forward",
        "decode_images_per_second",
        "decode_pil_images_per_second",
        "ratio_limit",
    } <= set(inference)
    assert inference["bounded_by"] and inference["workers"] >= 1
    memory = cpu["memory"]
    assert memory["processes"] == 2 and memory["ratio"]["unit"] == "ratio"
    assert memory["processes_mib"]["unit"] == memory["one_process_mib"]["unit"] == "MiB"
    assert memory["image_cache_mib"]["value"] > 0
    sizes = cpu["growth"]["sizes"]
    assert [s["scale"] for s in sizes] == [1, 4, 16]
    assert sizes[0]["n_train_images"] < sizes[1]["n_train_images"] < sizes[2]["n_train_images"]
    assert {"cost_ratio_16x_1x", "relative_cost_ratio_16x_1x"} <= set(cpu["growth"])
    assert all("relative_cost" in s for s in sizes)

    goals = {g["id"]: g for g in report["goals"]}
    assert set(goals) == {g["id"] for g in GOALS}
    for section in SECTIONS:
        assert cpu[section]["what"] == SPEC["what"][section].format(
            workers=cpu["inference"]["workers"],
            prefetch=cpu["inference"]["prefetch"],
            n=2,
            seconds=0.5,
        )
    for goal in goals.values():
        assert goal["device"] == "cpu" and isinstance(goal["passed"], bool)
        assert goal["measured"] > 0 and goal["goal"].startswith((">=", "<="))

    md = out.with_suffix(".md").read_text()
    assert "| device | measurement |" in md and machine["cpu_model"] in md
    assert "Inference on cpu is bounded by" in md
    assert "1. training loop vs compute bound" in out.with_suffix(".txt").read_text()


def test_the_committed_tables_are_the_committed_report_rendered():
    """bench.md and bench.txt of runs/report are what the table's rows make of its bench.json
    (every section's rows, the verdicts)."""
    report = json.loads((C.REPORT_DIR / "bench.json").read_text())
    assert markdown(report) == (C.REPORT_DIR / "bench.md").read_text()
    assert text_table(report) + "\n" == (C.REPORT_DIR / "bench.txt").read_text()


# --- the reference miner --------------------------------------------------------------------------


def _check_rules(labels, is_fake, a, p, n, f):
    assert len(a) == len(p) == len(n) == len(f)
    assert (~is_fake[a]).all() and (~is_fake[p]).all() and (~is_fake[n]).all()
    assert is_fake[f].all()
    assert (labels[a] == labels[p]).all() and (a != p).all()
    assert (labels[a] != labels[n]).all()
    assert (labels[a] == labels[f]).all()


@pytest.mark.parametrize("strategy", ["random", "hard"])
@pytest.mark.parametrize("seed", range(6))
def test_reference_miner_obeys_the_same_rules_as_ours(strategy, seed):
    g = torch.Generator().manual_seed(seed)
    n_ids, k = 3 + seed, 2 + seed % 4
    labels = torch.randint(0, n_ids, (n_ids * k,), generator=g)
    is_fake = torch.rand(len(labels), generator=g) < 0.3
    e = torch.nn.functional.normalize(torch.randn(len(labels), 8, generator=g), dim=1)
    dist = torch.cdist(e, e)
    ours = mine_quadruplets(labels, is_fake, dist, strategy, g)
    for lists in (False, True):
        ref = python_loop_quadruplets(
            labels, is_fake, dist, strategy, random.Random(seed), lists=lists
        )
        _check_rules(labels, is_fake, *ref)
        _check_rules(labels, is_fake, *ours)
        # the same anchors: every real photo with a real positive, a real negative and a fake
        assert ref[0].tolist() == ours[0].tolist()
        if strategy == "hard":  # the same extremes (ties aside: compare distances)
            for r, o in zip(ref[1:], ours[1:]):
                assert torch.equal(dist[ref[0], r], dist[ours[0], o])


def test_reference_miner_on_the_benchmark_batches():
    for size in MINER_BATCHES[:2]:
        labels, is_fake, dist = miner_batch(size)
        assert is_fake.sum() == size // 4  # one fake among each identity's 4 photos
        ref = python_loop_quadruplets(labels, is_fake, dist, "random", random.Random(0))
        _check_rules(labels, is_fake, *ref)
        assert len(ref[0]) == size * 3 // 4  # every real photo is an anchor


# --- the package: its data, its modules, the trainer's public interface only ----------------------


def test_every_section_goal_and_row_of_the_data_is_one_the_bench_knows():
    """sections.yaml: each section has its ``what``, each goal is on a section and shows in
    exactly one row, each row is of a section."""
    assert set(SPEC["what"]) == set(SECTIONS)
    ids = [goal["id"] for goal in GOALS]
    assert len(ids) == len(set(ids)) and {goal["section"] for goal in GOALS} <= set(SECTIONS)
    for goal in GOALS:
        assert goal["op"] in (">=", "<=") and goal["threshold"] > 0, goal
    row_goals = [row[-1].format(size=MINER_BATCHES[0]) for row in ROWS]
    assert sorted(g for g in row_goals if g) == sorted(ids)
    assert all(len(row) == 6 and row[0].removesuffix("[]") in SECTIONS for row in ROWS)


def test_one_module_per_measurement_each_short_and_public_only():
    sources = {p.name: p.read_text() for p in BENCH_DIR.glob("*.py")}
    assert {
        "training.py",
        "miner.py",
        "inference.py",
        "memory.py",
        "report.py",
        "gpu_check.py",
        "gpu_paths.py",
        "__main__.py",
    } <= set(sources)
    for name, text in sources.items():
        assert len(text.splitlines()) < 400, name
        # no private name of the trainer, no trainer whose config is changed after the fact
        assert not re.search(r"from krypto\.learning\.train import[^\n]*\b_\w", text), name
        assert not re.search(r"trainer\._\w", text), name
        assert not re.search(r"\.config\.\w+\s*=[^=]", text), name


# --- the GPU check, dry run on the CPU ------------------------------------------------------------


def test_combinations_cover_the_params_files():
    combos = gpu_check.combinations()
    assert len(combos) == len({tuple(c.values()) for c in combos})  # distinct
    seen = {k: {c[k] for c in combos} for k in gpu_check.COMBINATION_KEYS}
    assert {"triplet", "quadruplet"} <= seen["loss"]
    assert {"none", "cosine", "arcface"} <= seen["head"]
    assert seen["fakes_as_class"] == {False, True}
    assert {"random", "hard"} <= seen["mining"]


def test_a_failing_check_is_recorded_and_the_next_one_runs():
    checks = gpu_check.Checks(log=lambda text: None)
    assert checks.run("broken", lambda: 1 / 0) is None
    assert checks.run("fine", lambda: {"x": 1}) == {"x": 1}
    broken, fine = checks.results
    assert not broken["passed"] and "ZeroDivisionError" in broken["error"]
    assert "1 / 0" in broken["traceback"] and fine["passed"]


@pytest.mark.slow
def test_gpu_check_dry_run_on_the_cpu(tiny_data, tmp_path):
    out = tmp_path / "gpu_check.json"
    code = gpu_check.main(
        [
            "--device",
            "cpu",
            "--data",
            str(tiny_data),
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ]
    )
    report = json.loads(out.read_text())
    assert code == 0, [(c["name"], c.get("error")) for c in report["checks"] if not c["passed"]]
    names = [c["name"] for c in report["checks"]]
    trained = [n for n in names if n.startswith("train[")]
    assert len(trained) == len(gpu_check.combinations())
    assert {
        "environment",
        "resume",
        "submission",
        "export",
        "torchrun[2 process(es)]",
        "bench",
    } <= set(names)
    assert report["failed"] == [] and report["passed"] == len(names)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["resume"]["details"]["second"]["resumed"] is True
    assert checks["torchrun[2 process(es)]"]["details"]["backend"] == "gloo"
    assert checks["submission"]["details"]["max_diff_prefetch_vs_serial"] == 0
    assert checks["export"]["details"]["provider"] == "CPUExecutionProvider"
    assert report["figures"]["bench"]["miner"]["36"]["speedup"]["value"] > 0


# --- the image cache ------------------------------------------------------------------------------


def test_image_cache_is_memory_mapped_read_only_and_copied_out(tiny_data, tmp_path, monkeypatch):
    from krypto.learning import embed as embed_module
    from krypto.learning.embed import ImageCache, cached_images, embed
    from krypto.learning.models import build_model

    paths = sorted((tiny_data / C.TEST_DIR).glob("*/*.jpg"))[:6]
    cache = cached_images(paths, 32, tmp_path, progress=False)
    assert isinstance(cache, ImageCache) and cache.memory_mapped
    assert cache.shape == (6, 3, 32, 32) and len(cache) == 6 and cache.nbytes == 6 * 3 * 32 * 32
    with pytest.raises(ValueError):
        cache.array[0, 0, 0, 0] = 1  # the mapping is read-only
    monkeypatch.setattr(embed_module, "decode_many", lambda *a, **k: pytest.fail("decoded again"))
    again = cached_images(paths, 32, tmp_path, progress=False)  # mapped, not decoded
    np.testing.assert_array_equal(again[:], cache[:])

    batch = cache[torch.tensor([4])]  # one torch index: a batch of one, as torch indexing gives
    assert batch.shape == (1, 3, 32, 32) and batch.flags.writeable
    batch[:] = 0  # a copy: the cache is untouched
    assert cache[4].any() and cache[torch.tensor(4)].shape == (3, 32, 32)
    np.testing.assert_array_equal(cache[np.array([1, 3])], cache[1:4:2])
    assert torch.as_tensor(cache[torch.tensor([0, 2])]).dtype == torch.uint8

    model = build_model("small_cnn", False, 16)
    full = torch.from_numpy(cache[:])
    torch.testing.assert_close(embed(model, cache, batch_size=4), embed(model, full, batch_size=4))
    torch.testing.assert_close(embed(model, cache[:3], batch_size=2), embed(model, full[:3]))

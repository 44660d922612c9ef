"""krypto.bench: the quick benchmark writes every section, its table's rows and verdicts come from
the measurements, its reference miner is a correct miner (the same rules as ours), not a
strawman; the GPU check's CPU dry run passes; the image cache the memory section measures is
memory-mapped, read-only and copied out batch by batch. No assertion on speed: timed asserts
flake."""

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
from krypto.bench import ROWS, SECTIONS, gpu_check, main
from krypto.bench.miner import MINER_BATCHES, miner_batch, python_loop_quadruplets
from krypto.bench.report import markdown, table_rows, verdicts
from krypto.bench.scale import _stage
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
    for section in SECTIONS:  # what each measures, from its function's docstring
        assert len(cpu[section]["what"]) > 100 and "\n" not in cpu[section]["what"], section

    inference = cpu["inference"]
    assert inference["bounded_by"] and inference["workers"] >= 0
    assert 0 < inference["n_images"] <= 2 * inference["n_pairs"]  # each distinct photo once
    memory = cpu["memory"]
    assert memory["processes"] == 2 and memory["image_cache_mib"]["value"] > 0
    assert memory["processes_image_cache_pss_mib"]["value"] > 0
    scale = cpu["scale"]["sizes"]
    assert [s["identities"] for s in scale] == [16, 64] and scale[0]["n_photos"] == 16 * 10

    rows = table_rows(report)  # every row of the table, each goal with its verdict
    assert len(rows) == sum(2 if "[]" in r[0] else 1 for r in ROWS)  # scale: 2 sizes
    goals = {g["measurement"]: g for g in report["goals"]}
    assert len(goals) == sum(1 for r in ROWS if r[-1]) and goals == {
        g["measurement"]: g for g in verdicts(report)
    }
    for goal in goals.values():
        assert goal["device"] == "cpu" and isinstance(goal["passed"], bool)
        assert goal["measured"] > 0 and goal["goal"].startswith((">=", "<="))

    md = out.with_suffix(".md").read_text()
    assert md == markdown(report) and not out.with_suffix(".txt").exists()
    assert "| device | measurement |" in md and machine["cpu_model"] in md
    assert "Inference on cpu is bounded by" in md and "1. training loop vs compute bound" in md


def test_the_committed_table_is_the_committed_report_rendered():
    """bench.md of runs/report is what the table's rows make of its bench.json (every section's
    rows), and its goals are the verdicts on its measurements."""
    report = json.loads((C.REPORT_DIR / "bench.json").read_text())
    assert markdown(report) == (C.REPORT_DIR / "bench.md").read_text()
    assert report["goals"] == verdicts(report)
    assert set(report["cpu"]) & set(SECTIONS) == set(SECTIONS)  # every section, no other
    assert not set(report["cpu"]) - {
        *SECTIONS,
        "device",
        "amp",
        "section_seconds",
        "dataset",
        "seconds",
    }


# --- the reference miner --------------------------------------------------------------------------


def _check_rules(labels, is_fake, a, p, n, f):
    assert len(a) == len(p) == len(n) == len(f)
    assert (~is_fake[a]).all() and (~is_fake[p]).all() and (~is_fake[n]).all()
    assert is_fake[f].all()
    assert (labels[a] == labels[p]).all() and (a != p).all()
    assert (labels[a] != labels[n]).all()
    assert (labels[a] == labels[f]).all()


@pytest.mark.parametrize("seed", range(6))
def test_reference_miner_obeys_the_same_rules_as_ours(seed):
    g = torch.Generator().manual_seed(seed)
    n_ids, k = 3 + seed, 2 + seed % 4
    labels = torch.randint(0, n_ids, (n_ids * k,), generator=g)
    is_fake = torch.rand(len(labels), generator=g) < 0.3
    e = torch.nn.functional.normalize(torch.randn(len(labels), 8, generator=g), dim=1)
    dist = torch.cdist(e, e)
    ours = mine_quadruplets(labels, is_fake, dist, "random", g)
    for lists in (False, True):
        ref = python_loop_quadruplets(labels, is_fake, dist, random.Random(seed), lists=lists)
        _check_rules(labels, is_fake, *ref)
        _check_rules(labels, is_fake, *ours)
        # the same anchors: every real photo with a real positive, a real negative and a fake
        assert ref[0].tolist() == ours[0].tolist()


def test_reference_miner_on_the_benchmark_batches():
    for size in MINER_BATCHES[:2]:
        labels, is_fake, dist = miner_batch(size)
        assert is_fake.sum() == size // 4  # one fake among each identity's 4 photos
        ref = python_loop_quadruplets(labels, is_fake, dist, random.Random(0))
        _check_rules(labels, is_fake, *ref)
        assert len(ref[0]) == size * 3 // 4  # every real photo is an anchor


# --- the package: its data, its modules, the trainer's public interface only ----------------------


def test_every_row_is_of_a_section_and_every_section_has_rows():
    assert {row[0].split(".")[0] for row in ROWS} == set(SECTIONS)
    for _, name, *cells, goal in ROWS:
        assert len(cells) == 3 and name[0].isdigit(), name
        if goal:  # on the ratio cell's measurement
            op, threshold = goal.split()
            assert op in (">=", "<=") and float(threshold) > 0 and cells[2], name


def _report(ratio: float, speedup: float) -> dict:
    """A report with two measurements of section 1 and the miner at batch 36 only."""
    m = lambda value, unit="images/s": {"value": value, "unit": unit}
    training = dict(
        loop_images_per_second=m(90.0),
        bound_images_per_second=m(100.0),
        ratio_to_bound=m(ratio, "ratio"),
    )
    ms = dict(ours_ms=m(0.1, "ms/call"), reference_ms=m(10.0, "ms/call"))
    miner = {"36": {**ms, "reference_lists_ms": m(0.2, "ms/call"), "speedup": m(speedup, "x")}}
    miner["36"]["speedup_vs_lists"] = m(2.0, "x")
    return {"cpu": {"training": training, "miner": miner}, "cuda": None}


@pytest.mark.parametrize(("ratio", "speedup", "passed"), [(0.95, 60.0, True), (0.85, 40.0, False)])
def test_verdicts_are_the_goals_on_the_measurements(ratio, speedup, passed):
    rows = table_rows(_report(ratio, speedup))
    assert [r["measurement"] for r in rows] == [  # the rows whose measurements are there
        "1. training loop vs compute bound",
        "2. miner, batch 36 (seed loop / lists loop)",
    ]
    assert rows[0]["ours"] == "90 images/s" and rows[0]["ratio"] == f"{ratio:.3f}"
    assert rows[1]["reference"] == "10 ms/call / 0.2 ms/call"
    assert rows[1]["ratio"] == f"{speedup:.3g}x / 2x"
    assert [(r["goal"], r["result"]) for r in rows] == [
        (">= 0.9", "PASS" if passed else "FAIL"),
        (">= 50", "PASS" if passed else "FAIL"),
    ]
    assert [g["measured"] for g in verdicts(_report(ratio, speedup))] == [ratio, speedup]


def test_a_stage_records_its_seconds_and_the_peak_memory_within_it():
    out: dict = {}
    with _stage(out, "small"):
        pass
    with _stage(out, "big"):
        block = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MiB, touched
        del block
    (_, small), (seconds, big) = out["small"], out["big"]
    assert seconds > 0 and big - small > 250  # the peak of the block, not of the process


def test_one_module_per_measurement_each_short_and_public_only():
    sources = {p.name: p.read_text() for p in BENCH_DIR.glob("*.py")}
    assert {
        "training.py",
        "miner.py",
        "inference.py",
        "memory.py",
        "scale.py",
        "report.py",
        "gpu_check.py",
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
    seen = {k: {c[k] for c in combos} for k in gpu_check.COMBINATION}
    assert {"triplet", "quadruplet"} <= seen["loss"]
    assert {"none", "cosine"} <= seen["head"]
    assert {"random", "hard"} <= seen["mining"]
    assert seen["detector"] == set(gpu_check.DETECTORS)  # each fake detector trained, and none


def test_the_bound_computes_in_the_training_loops_precision():
    """Section 1 compares the loop with a bound in the loop's own precision: bfloat16 on a CPU
    that computes it natively, float16 with a scaler on CUDA, float32 when AMP is off."""
    from krypto.bench.training import ComputeBound
    from krypto.learning.config import TrainConfig
    from krypto.learning.device import mixed_precision

    cpu, native = torch.device("cpu"), bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert mixed_precision(True, torch.device("cuda")) == (True, True)
    assert mixed_precision(True, cpu) == (native, False)
    assert mixed_precision(False, cpu) == (False, False)
    for amp in (True, False):
        config = TrainConfig(device="cpu", amp=amp, P=2, K=2, image_size=32, forgery=0.0)
        bound = ComputeBound(config)
        with torch.autocast("cpu", enabled=bound.amp):
            features = bound.model.backbone(bound.x)
        bound.step()  # the step runs in that precision, without a scaler on a CPU
        assert bound.amp == (amp and native) and not bound.scaler.is_enabled()
        assert features.dtype == (torch.bfloat16 if amp and native else torch.float32)


def test_a_failing_check_is_recorded_and_the_next_one_runs():
    results: list = []
    assert gpu_check.check(results, "broken", lambda: 1 / 0, log=lambda text: None) is None
    assert gpu_check.check(results, "fine", dict, [("x", 1)], log=lambda text: None) == {"x": 1}
    broken, fine = results
    assert not broken["passed"] and "ZeroDivisionError" in broken["error"]
    assert "1 / 0" in broken["traceback"] and fine["passed"]


def test_gpu_check_without_cuda_stops_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="CUDA is not available"):
        gpu_check.main(["--device", "cuda", "--out", str(tmp_path / "gpu_check.json")])
    assert not (tmp_path / "gpu_check.json").exists()


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
    forgery = sum(c["detector"] == "forgery" for c in gpu_check.combinations())
    assert forgery >= 1 and sum("detector=forgery" in n for n in trained) == forgery
    assert {
        "data",
        "alignment[MTCNN on the device]",
        "recipe[small_cnn]",
        "recipe[small_cnn] submission",
        "resume",
        "submission",
        "export",
        "torchrun[2 process(es)]",
    } <= set(names)
    assert report["failed"] == [] and report["passed"] == len(names)
    checks = {c["name"]: c["details"] for c in report["checks"]}
    assert checks["resume"]["second"]["resumed"] is True
    assert checks["torchrun[2 process(es)]"]["processes"] == 2
    assert checks["torchrun[2 process(es)]"]["device"] == "cpu"
    assert checks["submission"]["max_diff_fp32_vs_serial"] == 0
    assert checks["recipe[small_cnn] submission"]["max_diff_amp_vs_cpu"] <= 5e-2
    assert 0 <= checks["export"]["max_relative_diff"] <= 1e-4


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

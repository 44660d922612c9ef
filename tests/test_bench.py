"""krypto.bench: the quick benchmark writes every section, and its reference miner is a correct
miner (the same rules as ours), not a strawman. No assertion on speed: timed asserts flake."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from krypto.bench import (GOALS, MINER_BATCHES, SECTIONS, main, miner_batch,
                          python_loop_quadruplets)
from krypto.learning.miner import mine_quadruplets


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
        assert {"ours_ms", "reference_ms", "reference_lists_ms", "speedup"} <= set(cpu["miner"][str(size)])
    assert {"submission_images_per_second", "forward_images_per_second",
            "ratio_to_forward"} <= set(cpu["inference"])
    assert cpu["memory"]["peak_rss_mib"]["unit"] == "MiB"
    assert cpu["memory"]["peak_rss_mib"]["value"] >= cpu["memory"]["rss_after_imports_mib"]["value"]
    sizes = cpu["growth"]["sizes"]
    assert [s["scale"] for s in sizes] == [1, 4, 16]
    assert sizes[0]["n_train_images"] < sizes[1]["n_train_images"] < sizes[2]["n_train_images"]
    assert {"cost_ratio_16x_1x", "relative_cost_ratio_16x_1x"} <= set(cpu["growth"])
    assert all("relative_cost" in s for s in sizes)

    goals = {g["id"]: g for g in report["goals"]}
    assert set(goals) == {g[0] for g in GOALS}
    for goal in goals.values():
        assert goal["device"] == "cpu" and isinstance(goal["passed"], bool)
        assert goal["measured"] > 0 and goal["goal"].startswith((">=", "<="))

    md = out.with_suffix(".md").read_text()
    assert "| device | measurement |" in md and machine["cpu_model"] in md
    assert "1. training loop vs compute bound" in out.with_suffix(".txt").read_text()


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
        ref = python_loop_quadruplets(labels, is_fake, dist, strategy, random.Random(seed), lists=lists)
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

"""Section 6: seconds per epoch and images/s as the data set grows 1x, 4x, 16x; the cost per
image should stay flat."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from krypto.bench.common import (
    BenchConfig,
    fit_once,
    measure,
    synth_config,
    train_config,
    trained_epoch,
    write_data,
)
from krypto.bench.reference import ComputeBound


def bench_growth(folder: Path, cfg: BenchConfig, device: str, log) -> dict:
    """1 epoch of fit() on data sets of growing size; the cost per image should stay flat.

    Each epoch is also divided by the compute bound measured just before and just after it
    (``relative_cost``), so that a load that drifts between the sizes (the 16x epoch runs
    minutes after the 1x one) does not pass for growth."""
    from krypto.learning.train import Trainer

    rows, bound = [], None
    for k, ids in enumerate(cfg.growth_identities):
        t0 = time.perf_counter()
        _, prepared, _ = write_data(folder / f"x{k}", cfg, synth_config(cfg, ids))
        t1 = time.perf_counter()
        config = train_config(cfg, folder / f"x{k}" / "run", device)
        # setup: a Trainer decodes the uint8 cache (the run itself builds its own Trainer)
        Trainer(train_config(cfg, folder / f"x{k}" / "setup", device), prepared)
        t2 = time.perf_counter()
        if bound is None:
            warm = Trainer(train_config(cfg, folder / "warm-up", device), prepared)
            warm.train_step(np.arange(cfg.P * cfg.K))  # warm-up of the model and optimizer
            bound, n_bound = ComputeBound(config), 10
            bound.run(2)
        before = bound.run(n_bound)
        metrics = fit_once(config, prepared)
        after = bound.run(n_bound)
        row = trained_epoch(metrics)
        bound_ms = 1e3 * (before + after) / (2 * n_bound * cfg.P * cfg.K)
        ms = 1e3 / row["images_per_second"]
        scale = ids / cfg.growth_identities[0]
        n_train = int(metrics["n_train_images"])
        rows.append(
            {
                "scale": scale,
                "identities": ids,
                "n_images": int(len(prepared.index)),
                "n_train_images": n_train,
                "steps": max(1, n_train // (cfg.P * cfg.K)),
                "epoch_seconds": measure(row["seconds"], "s", digits=3),
                "images_per_second": measure(row["images_per_second"], "images/s", digits=2),
                "ms_per_image": measure(ms, "ms/image"),
                "bound_ms_per_image": measure(bound_ms, "ms/image"),
                "relative_cost": measure(ms / bound_ms, "ratio"),
                "setup_seconds": measure(t2 - t1, "s", digits=3),
                "synthesis_and_prepare_seconds": measure(t1 - t0, "s", digits=3),
            }
        )
        log(
            f"  {scale:g}x ({ids} identities, {n_train} training images): "
            f"{row['seconds']:.2f} s/epoch, {row['images_per_second']:.1f} images/s"
        )
    cost = [r["ms_per_image"]["value"] for r in rows]
    relative = [r["relative_cost"]["value"] for r in rows]
    return {
        "sizes": rows,
        "cost_ratio_16x_1x": measure(cost[-1] / cost[0], "ratio"),
        "cost_ratio_4x_1x": measure(cost[1] / cost[0], "ratio"),
        "relative_cost_ratio_16x_1x": measure(relative[-1] / relative[0], "ratio"),
        "what": "1 epoch of a fresh Trainer.fit() run per data-set size (per-epoch "
        "images_per_second it records, validation excluded; one untimed warm-up step "
        "first); setup = Trainer() incl. decoding the uint8 cache; relative_cost = "
        "ms/image divided by the compute bound's, measured just before and after the "
        "epoch; the goal is on relative_cost_ratio_16x_1x (the raw cost_ratio_16x_1x "
        "also moves with the machine's load)",
    }

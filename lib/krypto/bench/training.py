"""Sections 1, 2 and 6: the training loop against its compute bound and against the seed's
pipeline, and its cost per image as the data set grows 1x, 4x, 16x.

Each measured epoch is a fresh run of :meth:`krypto.learning.train.Trainer.fit` (1 epoch) on
prepared data; its speed is the per-epoch ``images_per_second`` fit() records (the training
epoch alone, validation excluded). A first run warms the process up, untimed."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from krypto.bench.common import (
    WHAT,
    BenchConfig,
    fit_once,
    measure,
    train_config,
    trained_epoch,
    write_data,
)
from krypto.bench.reference import ComputeBound, SeedPipeline, training_batches, training_rows
from krypto.learning.train import Trainer


def bench_training(
    prepared, folder: Path, cfg: BenchConfig, device: str, with_seed: bool, log
) -> tuple[dict, dict | None, Path]:
    """Sections 1 and 2, interleaved repeat by repeat: compute bound, our loop, the seed's; one
    more bound at the end, so that each epoch of ours is compared with the mean of the bounds
    measured just before and just after it (a machine whose load drifts biases neither way).

    Returns the two sections and the run folder of the last repeat (a trained run)."""
    config = train_config(cfg, folder / "warm-up", device)
    steps = len(training_batches(config, prepared, config.seed)[2])
    batch = cfg.P * cfg.K
    bound = ComputeBound(config)
    seed = SeedPipeline(config, prepared) if with_seed else None
    log(f"  warm-up: 1 epoch of fit() ({steps} steps), the bound and the seed pipeline")
    fit_once(config, prepared)
    bound.run(3)
    if seed is not None:
        seed.run(2)
    ours, seeds, fit_calls = [], [], []
    bound_seconds = [bound.run(steps)]
    run_dir = folder / "warm-up"
    for r in range(cfg.repeats):
        run_dir = folder / f"repeat-{r + 1}"
        metrics = fit_once(replace(config, run_dir=str(run_dir)), prepared)
        o = trained_epoch(metrics)["images_per_second"]
        ours.append(o)
        fit_calls.append(metrics["fit_call_seconds"])
        text = (
            f"  repeat {r + 1}/{cfg.repeats}: bound "
            f"{steps * batch / bound_seconds[-1]:.1f}, fit() {o:.1f}"
        )
        if seed is not None:
            s = steps * batch / seed.run(steps)
            seeds.append(s)
            text += f", seed pipeline {s:.1f}"
        bound_seconds.append(bound.run(steps))
        log(text + " images/s")
    # the bound of repeat r: the mean time of the bounds measured before and after it
    bounds = [2 * steps * batch / (t0 + t1) for t0, t1 in zip(bound_seconds, bound_seconds[1:])]
    ratios = [o / b for o, b in zip(ours, bounds)]
    median = statistics.median
    training = {
        "loop_images_per_second": measure(median(ours), "images/s", ours, 2),
        "bound_images_per_second": measure(median(bounds), "images/s", bounds, 2),
        "ratio_to_bound": measure(median(ratios), "ratio", ratios),
        "loop_seconds_per_step": measure(batch / median(ours), "s/step", digits=5),
        "bound_seconds_per_step": measure(batch / median(bounds), "s/step", digits=5),
        "fit_call_seconds": measure(median(fit_calls), "s", fit_calls, 3),
        "steps_per_epoch": steps,
        "n_train_images": int(len(training_rows(prepared))),
        "what": WHAT["training"],
    }
    if seed is None:
        return training, None, run_dir
    speedups = [o / s for o, s in zip(ours, seeds)]
    seed_section = {
        "seed_images_per_second": measure(median(seeds), "images/s", seeds, 2),
        "loop_images_per_second": measure(median(ours), "images/s", ours, 2),
        "speedup": measure(median(speedups), "x", speedups),
        "max_possible_speedup": measure(median([b / s for b, s in zip(bounds, seeds)]), "x"),
        "what": WHAT["seed_pipeline"],
    }
    return training, seed_section, run_dir


def bench_growth(folder: Path, cfg: BenchConfig, device: str, log) -> dict:
    """1 epoch of fit() on data sets of growing size; the cost per image should stay flat.

    Each epoch is also divided by the compute bound measured just before and just after it
    (``relative_cost``), so that a load that drifts between the sizes (the 16x epoch runs
    minutes after the 1x one) does not pass for growth."""
    rows, bound = [], None
    for k, ids in enumerate(cfg.growth_identities):
        t0 = time.perf_counter()
        _, prepared, _ = write_data(folder / f"x{k}", cfg, ids)
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
        "what": WHAT["growth"],
    }

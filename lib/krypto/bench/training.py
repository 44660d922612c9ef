"""Sections 1 and 2: the training loop against its compute bound, and against the seed's pipeline.

Each repeat is a fresh run of :meth:`krypto.learning.train.Trainer.fit` (1 epoch) on the same
prepared data; its speed is the per-epoch ``images_per_second`` fit() records (the training
epoch alone, validation excluded). A first run warms the process up, untimed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from krypto.bench.common import BenchConfig, fit_once, measure, median, train_config, trained_epoch
from krypto.bench.reference import ComputeBound, SeedPipeline, training_rows


def steps_per_epoch(config, prepared) -> int:
    """Batches in an epoch of a one-process run of ``config`` (the trainer's sampler)."""
    from krypto import constants as C
    from krypto.learning.sampler import IdentityBatchSampler

    rows = training_rows(prepared)
    index = prepared.index
    return len(
        IdentityBatchSampler(
            index[C.LABEL].to_numpy()[rows],
            index[C.IS_FAKE].to_numpy()[rows],
            config.P,
            config.K,
            config.n_fake,
            config.seed,
        )
    )


def bench_training(
    prepared, folder: Path, cfg: BenchConfig, device: str, with_seed: bool, log
) -> tuple[dict, dict | None, Path]:
    """Sections 1 and 2, interleaved repeat by repeat: compute bound, our loop, the seed's; one
    more bound at the end, so that each epoch of ours is compared with the mean of the bounds
    measured just before and just after it (a machine whose load drifts biases neither way).

    Returns the two sections and the run folder of the last repeat (a trained run)."""
    config = train_config(cfg, folder / "warm-up", device)
    steps = steps_per_epoch(config, prepared)
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
    training = {
        "loop_images_per_second": measure(median(ours), "images/s", ours, 2),
        "bound_images_per_second": measure(median(bounds), "images/s", bounds, 2),
        "ratio_to_bound": measure(median(ratios), "ratio", ratios),
        "loop_seconds_per_step": measure(batch / median(ours), "s/step", digits=5),
        "bound_seconds_per_step": measure(batch / median(bounds), "s/step", digits=5),
        "fit_call_seconds": measure(median(fit_calls), "s", fit_calls, 3),
        "steps_per_epoch": steps,
        "n_train_images": int(len(training_rows(prepared))),
        "what": "Trainer.fit() per-epoch images_per_second of a fresh 1-epoch run (validation "
        "excluded; sampler, memory-mapped uint8 cache, cutout(mouth)+flip, miner, loss, "
        "optimizer step, logging) vs forward + backward + step of the same model class "
        "and optimizer on an in-memory float batch of the same shape, measured before "
        "and after each epoch; ratio = median of per-repeat ratios",
    }
    if seed is None:
        return training, None, run_dir
    speedups = [o / s for o, s in zip(ours, seeds)]
    seed_section = {
        "seed_images_per_second": measure(median(seeds), "images/s", seeds, 2),
        "loop_images_per_second": measure(median(ours), "images/s", ours, 2),
        "speedup": measure(median(speedups), "x", speedups),
        "max_possible_speedup": measure(median([b / s for b, s in zip(bounds, seeds)]), "x"),
        "what": "the seed's pipeline (PIL decode + torchvision Resize/Flip/ToTensor/Normalize per "
        "access, DataLoader num_workers=0 over the same P x K batches, Python-loop miner "
        "on the batch tensors, same backbone, optimizer and quadruplet loss, loss.item() "
        "per step) vs our fit() loop; max_possible_speedup = bound / seed",
    }
    return training, seed_section, run_dir

"""What a training run records as it goes: one row per iteration (``history.csv``), one row
per epoch (``epochs.csv``), TensorBoard scalars (``tb/``), and its summary (``metrics.json``).
Both CSV files are rewritten whole and atomically at the end of every epoch; on resume the
history is cut back to the iterations of the checkpoint, so no iteration is logged twice.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.files import write_csv

TRAIN_SCALARS = ("loss", "loss_real", "loss_fake", "loss_head", "dist_pos", "dist_neg", "dist_fake")
VAL_SCALARS = ("eer", "eer_real", "eer_fake", "eer_fake_other", "eer_fake_on_anchor")
BEST_KEYS = (*VAL_SCALARS, "eer_mean")
HEAD_KEYS = ("eer_cosine", "fake_auc", "fusion_rule", "fusion_weight")  # with a real/fake head


def run_summary(
    epochs: list[dict], best: dict | None, seconds: float, n_val_pairs: int, **record
) -> dict:
    """What ``metrics.json`` holds: the best epoch's validation EERs (and, with a real/fake
    head, its fusion), the epochs run, the time, the training speed, the per-epoch ``history``
    and the ``record`` of the run (resumed, device, world size, sizes)."""
    best = best or {}
    trained = [e["images_per_second"] for e in epochs if e["epoch"] > 0]
    return {
        **{k: best.get(k) for k in BEST_KEYS},
        **{k: best[k] for k in HEAD_KEYS if k in best},
        "best_epoch": best.get("epoch"),
        "epochs_run": epochs[-1]["epoch"] if epochs else 0,
        "seconds": round(seconds, 2),
        "train_images_per_second": round(np.mean(trained), 1) if trained else None,
        **record,
        "n_val_images": best.get("n_val_images"),
        "n_val_pairs": n_val_pairs,
        "history": epochs,
    }


class RunLog:
    """The logs of the run in ``run_dir``; ``enabled=False`` (other processes) writes nothing."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.run_dir = run_dir
        self.enabled = enabled
        self.iterations: list[dict] = []
        self.writer = None

    def open(self, resume_from_iteration: int | None) -> None:
        """Start logging afresh (``None``) or after ``resume_from_iteration`` iterations on disk."""
        if not self.enabled:
            return
        from torch.utils.tensorboard import SummaryWriter

        history = self.run_dir / C.HISTORY_FILE
        self.iterations = []
        if resume_from_iteration is not None and history.exists():
            rows = pd.read_csv(history)
            self.iterations = rows[rows["iteration"] < resume_from_iteration].to_dict("records")
        tb = str(self.run_dir / "tb")
        self.writer = SummaryWriter(tb, purge_step=resume_from_iteration or None)

    def add_iterations(self, rows: list[dict]) -> None:
        self.iterations.extend(rows)
        if not self.enabled:
            return
        for row in rows:
            for key in TRAIN_SCALARS:
                if key in row and not math.isnan(row[key]):
                    self.writer.add_scalar(f"train/{key}", row[key], row["iteration"])

    def write_epochs(self, epochs: list[dict]) -> None:
        """Write ``epochs.csv`` and ``history.csv`` as they stand after the latest epoch."""
        if not self.enabled:
            return
        write_csv(self.run_dir / C.EPOCHS_FILE, pd.DataFrame(epochs))
        if self.iterations:
            write_csv(self.run_dir / C.HISTORY_FILE, pd.DataFrame(self.iterations))
        row = epochs[-1]
        for key in VAL_SCALARS:
            if key in row:
                self.writer.add_scalar(f"val/{key}", row[key], row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

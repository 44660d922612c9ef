"""What follows a training run, the same in notebooks/02_train.ipynb and under
``krypto.pipeline.launch`` (rank 0 only, no collectives): the held-out test scored once as a
submission is, the figures, and the run's ``results.json``."""

import pandas as pd

from krypto import constants as C
from krypto import run_folder as RF
from krypto.challenge.heldout import VARIANTS, evaluate_heldout
from krypto.evaluation.metrics import KIND_EER_NAMES, eer_curve
from krypto.evaluation.plots import fn_fp_curve, training_curves
from krypto.learning.checkpoint import load_model
from krypto.learning.config import TrainConfig
from krypto.learning.embed import embed
from krypto.learning.fusion import pair_similarity
from krypto.learning.train import Trainer

SUMMARY_KEYS = (*KIND_EER_NAMES.values(), "eer", "best_epoch", "seconds")  # of metrics.json


def heldout_metrics(trainer: Trainer) -> dict | None:
    """The official EERs of the run's best checkpoint on the held-out test pairs
    (``test_metrics.json``): scored now, or read back for a finished run that was reused."""
    run, robustness = trainer.run_dir, trainer.config.robustness
    if trainer.finished is not None and (run / C.TEST_METRICS_FILE).is_file():
        stored = RF.read_test_metrics(run)
        if not robustness or all(f"{v}_eer" in stored for v in VARIANTS):
            return stored
    data, device = trainer.data, str(trainer.device)
    return evaluate_heldout(run, data.root, data.folder, device, robustness=robustness)


def draw_training(trainer: Trainer) -> None:
    """``training_curves.png`` (loss, batch distances, validation EERs per epoch) and
    ``fn_fp_curve.png`` (the best checkpoint's error rates on the validation pairs)."""
    cfg, out = trainer.config, trainer.run_dir
    if (out / C.HISTORY_FILE).is_file():
        training_curves(
            pd.read_csv(out / C.HISTORY_FILE),
            pd.read_csv(out / C.EPOCHS_FILE),
            title=f"{cfg.backbone}, {cfg.loss}, lam={cfg.lam}",
            path=out / "training_curves.png",
        )
    if trainer.data.pairs.empty or not (out / C.BEST_CHECKPOINT).is_file():
        return
    model, _ = load_model(out, device=trainer.device)
    emb = embed(model, trainer.images[trainer.val_rows], device=trainer.device, amp=trainer.use_amp)
    scores = pair_similarity(model, emb, trainer.val_a, trainer.val_b)
    fn_fp_curve(
        eer_curve(trainer.data.pairs[C.PAIR_LABEL], scores),
        title="validation, all kinds:",
        path=out / "fn_fp_curve.png",
    )


def finish_training(trainer: Trainer, metrics: dict) -> dict:
    """After :meth:`Trainer.fit` returned ``metrics``: score the held-out test, draw the
    figures and write ``results.json`` (the best epoch's validation EERs and the test's as
    ``test_<metric>``, each variant's as ``test_<variant>_<metric>``); returns what it wrote."""
    test = heldout_metrics(trainer) or {}
    draw_training(trainer)
    summary = {k: metrics.get(k) for k in SUMMARY_KEYS}
    tested = {f"test_{k}": v for k, v in test.items() if "eer" in k}
    return RF.record_results(trainer.run_dir, **summary, **tested)


def train_and_finish(config: TrainConfig | None = None, **params) -> dict:
    """What 02_train does, without the notebook: train with ``config`` (or keyword parameters of
    :class:`~krypto.learning.config.TrainConfig`), then :func:`finish_training`'s results.json."""
    trainer = Trainer(config or TrainConfig.from_dict(params))
    return finish_training(trainer, trainer.fit())

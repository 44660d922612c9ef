"""The quality tier: on a small synthetic set (64 identities, 32 px, 8 epochs, 10-20 s a run),
every training configuration of the batch files learns (its validation EER falls clearly below
its epoch-0 value), and the fake term lowers eer_fake against plain triplet. A method whose
loss mines nothing or whose model collapses fails here, where ``0 <= eer <= 1`` could not.
Backbones are left at the default (the model registry's tests build every one)."""

from __future__ import annotations

import pytest

from krypto.data.index import prepare
from krypto.data.synth import SynthConfig, write_dataset
from krypto.learning.train import TrainConfig, Trainer
from tests.test_terms_act import (
    _batch_run_parameters,
    configuration_key,
    distinct_configurations,
)

pytestmark = pytest.mark.slow

DATA = SynthConfig(
    identities=64,
    test_identities=4,
    real_per_identity=4,
    fake_per_identity=2,
    image_size=32,
    test_pairs_per_kind=8,
    seed=5,
)
RUN = dict(epochs=8, P=8, K=4, image_size=32, forgery_size=32, progress=False)  # the photos' size
LEARNS_BY = 0.05  # the lowest trained validation eer sits at least this far below epoch 0's
FAKE_TERM_GAIN = 0.05  # mean eer_fake with the fake term at least this far below plain triplet's
FAKE_TERM_SEEDS = (0, 1, 2)


# the data is this file's; each starts from random weights (fine-tuning: test_training); the
# forgery branch sees the photos at their own 32 px; robustness only scores the test again
SKIPPED = ("backbone", "epochs", "seed", "pretrained", "data_dir", "forgery_size", "robustness")


# the distinct training configurations of the batch files, by their first run's name
CONFIGURATIONS = distinct_configurations(_batch_run_parameters(), SKIPPED)


def _configuration_of(run: str) -> str:
    """The name under which the configuration of the batch files' run ``run`` is trained here."""
    params = {k: v for k, v in _batch_run_parameters()[run].items() if k not in SKIPPED}
    key = configuration_key(params)
    return next(name for name, known in CONFIGURATIONS.items() if configuration_key(known) == key)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    data = write_dataset(root / "data", DATA, progress=False)
    prepared = prepare(
        data, out_dir=root / "prepared", val_ratio=0.25, progress=False, pairs_per_kind=300
    )
    cache: dict[tuple, dict] = {}

    def run(name: str, seed: int = 0) -> dict:
        if (name, seed) not in cache:
            config = TrainConfig(
                run_dir=str(root / f"{name.replace('/', '-')}-{seed}"),
                **{**CONFIGURATIONS[name], **RUN, "seed": seed},
            )
            cache[name, seed] = Trainer(config, prepared=prepared).fit()
        return cache[name, seed]

    return run


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_every_configuration_learns(trained, name):
    history = trained(name)["history"]
    before, lowest = history[0]["eer"], min(epoch["eer"] for epoch in history[1:])
    assert lowest <= before - LEARNS_BY, (
        f"{name}: eer {before:.3f} at epoch 0, at best {lowest:.3f}"
    )


def test_the_fake_term_lowers_eer_fake_against_plain_triplet(trained):
    """Mean over three training seeds: one run's eer_fake moves by 0.1 between seeds here."""
    gains = []
    for seed in FAKE_TERM_SEEDS:
        plain = trained(_configuration_of("loss_selection/triplet"), seed)
        with_fake = trained(_configuration_of("loss_selection/quadruplet"), seed)
        gains.append(plain["eer_fake"] - with_fake["eer_fake"])
    assert sum(gains) / len(gains) >= FAKE_TERM_GAIN, gains

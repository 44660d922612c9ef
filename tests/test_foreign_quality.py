"""The quality tier on faces that :mod:`krypto.data.synth` did not draw: the two other renderers
(:mod:`krypto.data.renderers`: PIL portraits with pasted-face fakes, and a shaded eigenface
model with generator-made fakes), 64 identities at 32 px, 8 epochs, about 5 s a run. The
default recipe (02_train's defaults) and plain triplet both learn on each (the validation EER
falls clearly below its epoch-0 value), and on the eigenface faces the fake term lowers eer_fake
against plain triplet. With hard mining plain triplet collapses on both, the default recipe
learns.

Measured over training seeds 0, 1 and 2 (eer_fake, triplet -> quadruplet): eigenfaces 0.410 ->
0.349, 0.390 -> 0.344, 0.374 -> 0.308; portrait 0.297 -> 0.246, 0.292 -> 0.323, 0.323 -> 0.246.
On the portraits the fake term does not lower eer_fake for every seed at this size, so no
assertion is made there; every run's EER fell from about 0.4 at epoch 0 to 0.17-0.25."""

from __future__ import annotations

import pytest

from krypto.data.index import prepare
from krypto.data.renderers import parse_spec, write_dataset
from krypto.learning.model_health import CollapsedEmbeddingsError
from krypto.learning.train import TrainConfig, Trainer

pytestmark = pytest.mark.slow

RENDERED = {
    "portrait": "portrait:identities=64,size=32,seed=3",
    "eigenfaces": "eigenfaces:identities=64,size=32,seed=3",
}
RUN = dict(epochs=8, P=8, K=4, image_size=32, progress=False, num_threads=1)
LEARNS_BY = 0.10  # the lowest trained validation eer sits at least this far below epoch 0's
FAKE_TERM_GAIN = 0.02  # eigenfaces: eer_fake with the fake term at least this far below triplet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("foreign")
    prepared, results = {}, {}

    def run(data: str, loss: str, **changes) -> dict:
        if data not in prepared:
            name, config = parse_spec(RENDERED[data])
            folder = write_dataset(root / data, name, config)
            prepared[data] = prepare(
                folder, out_dir=root / f"{data}-prepared", progress=False, pairs_per_kind=200
            )
        extra = sorted(changes.items())
        key = (data, loss, *extra)
        if key not in results:
            folder = "-".join([data, loss, *(f"{k}={v}" for k, v in extra)])
            config = TrainConfig(run_dir=str(root / folder), loss=loss, **{**RUN, **changes})
            results[key] = Trainer(config, prepared=prepared[data]).fit()
        return results[key]

    return run


def _first_and_lowest_eer(history: list[dict]) -> tuple[float, float]:
    """The validation EER at epoch 0 and the lowest of the trained epochs."""
    return history[0]["eer"], min(epoch["eer"] for epoch in history[1:])


@pytest.mark.parametrize("loss", ["triplet", TrainConfig().loss])
@pytest.mark.parametrize("data", sorted(RENDERED))
def test_the_recipe_learns_on_faces_of_other_renderers(trained, data, loss):
    history = trained(data, loss)["history"]
    before, lowest = _first_and_lowest_eer(history)
    assert lowest <= before - LEARNS_BY, f"{data}, {loss}: eer {before:.3f} -> {lowest:.3f}"


def test_the_fake_term_lowers_eer_fake_on_eigenfaces(trained):
    plain, with_fake = trained("eigenfaces", "triplet"), trained("eigenfaces", "quadruplet")
    assert with_fake["eer_fake"] <= plain["eer_fake"] - FAKE_TERM_GAIN, (
        plain["eer_fake"],
        with_fake["eer_fake"],
    )


@pytest.mark.parametrize("data", sorted(RENDERED))
def test_hard_mining_collapses_plain_triplet_but_not_the_seeds_loss(trained, data):
    """Why 02_train's default stays random mining (README, "Choosing the defaults"): from random
    weights, hard mining embeds every photo alike under plain triplet; the seed's loss with the
    forgery branch (02_train's other defaults) learns with it."""
    with pytest.raises(CollapsedEmbeddingsError, match="every photo embeds alike"):
        trained(data, "triplet", mining="hard")
    history = trained(data, TrainConfig().loss, mining="hard")["history"]
    before, lowest = _first_and_lowest_eer(history)
    assert lowest <= before - LEARNS_BY, f"{data}, hard mining: eer {before:.3f} -> {lowest:.3f}"

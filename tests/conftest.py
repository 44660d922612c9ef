"""Shared fixtures: tiny synthetic data sets written once per session into a temporary folder."""

from __future__ import annotations

import os

import pytest

# two test processes (pytest -n 2) on two cores: one thread each
_THREADS = "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2"
os.environ.setdefault("KRYPTO_NUM_THREADS", _THREADS)
os.environ.setdefault("OMP_NUM_THREADS", _THREADS)

import torch  # noqa: E402

torch.set_num_threads(int(os.environ["KRYPTO_NUM_THREADS"]))

from krypto.data.synth import SynthConfig, write_dataset  # noqa: E402

TINY = SynthConfig(
    identities=24,
    test_identities=6,
    real_per_identity=4,
    fake_per_identity=2,
    image_size=32,
    test_pairs_per_kind=8,
    seed=1,
)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A tiny synthetic set in the official layout (24 + 6 identities, 32 px)."""
    return write_dataset(tmp_path_factory.mktemp("tiny") / "data", TINY, progress=False)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_data, tmp_path_factory):
    from krypto.data.index import prepare

    return prepare(
        tiny_data,
        out_dir=tmp_path_factory.mktemp("prepared"),
        val_ratio=0.25,
        progress=False,
        pairs_per_kind=50,
    )

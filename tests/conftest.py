"""Shared fixtures: tiny synthetic data sets written once per session into a temporary folder."""

from __future__ import annotations

import os

import pytest
import torch

from krypto.data.synth import SynthConfig, write_dataset


def pytest_configure(config):
    """Torch's threads in this test process and the processes it starts: one in each of xdist's
    workers (``pytest -n 2`` on two cores), else two. Decided here, not when this file is
    imported: xdist names a worker (``workerinput``, ``PYTEST_XDIST_WORKER``) only after that, and
    two workers of two threads each on two cores ran the suite's trainings several times slower."""
    if hasattr(config, "workerinput"):
        threads = "1"
    elif getattr(config.option, "numprocesses", None):
        return  # xdist's controller: it runs no test, and its workers would inherit its choice
    else:
        threads = "2"
    os.environ.setdefault("KRYPTO_NUM_THREADS", threads)
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    torch.set_num_threads(int(os.environ["KRYPTO_NUM_THREADS"]))


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

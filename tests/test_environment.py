"""The two ways to install agree, and the installed packages are the pinned ones."""

from importlib.metadata import version

import yaml

from krypto import constants as C


def _requirements():
    lines = (C.REPO_ROOT / "requirements.txt").read_text().splitlines()
    return sorted(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def test_environment_yml_pins_match_requirements():
    env = yaml.safe_load((C.REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert sorted(p for p in pip if not p.startswith("-e")) == _requirements()
    assert "-e ." in pip, "conda env create must install the package itself"
    assert "python=3.11" in env["dependencies"]


def test_installed_versions_are_the_pins():
    for line in _requirements():
        name, pinned = line.split("==")
        assert version(name) == pinned, f"{name}: installed {version(name)}, pinned {pinned}"


def test_open_metric_learning_imports():
    """oml.const imports omegaconf without declaring it: the pin keeps that import working."""
    from oml.losses import TripletLoss  # noqa: F401
    from oml.samplers import BalanceSampler  # noqa: F401

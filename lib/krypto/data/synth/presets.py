"""The named synthetic data sets (``data_dir="synthetic:<name>"``), generated once and reused."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from krypto import constants as C
from krypto.data.synth.config import SynthConfig
from krypto.data.synth.dataset import CONFIG_FILE, write_dataset
from krypto.files import file_lock

# named data sets that `data_dir="synthetic:<name>"` asks for; "synthetic" alone is "default"
PRESETS = {
    "default": SynthConfig(),
    "tiny": SynthConfig(
        identities=32,
        test_identities=8,
        real_per_identity=4,
        fake_per_identity=2,
        image_size=32,
        test_pairs_per_kind=10,
    ),
    # to pretrain a face-recognition model on: five times the default's identities, other people
    # (another seed), its real photos for training (02_train with n_fake=0)
    "faces": SynthConfig(
        identities=2000, test_identities=40, fake_per_identity=1, test_pairs_per_kind=20, seed=1
    ),
}


def preset_dataset(name: str = "default") -> Path:
    """The synthetic data set ``name`` of :data:`PRESETS`, generated once under ``data/``."""
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic data set {name!r}; choose one of {sorted(PRESETS)}")
    folder = C.SYNTHETIC_DIR if name == "default" else C.DATA_DIR / f"synthetic-{name}"
    return ensure_default_dataset(folder, PRESETS[name])


def ensure_default_dataset(
    out_dir: str | Path = C.SYNTHETIC_DIR, config: SynthConfig | None = None
) -> Path:
    """The embedded default data set: generated once into ``out_dir`` and reused.

    A folder written with another configuration is an error, never silently replaced. Processes
    asking at the same time wait for the one that generates it."""
    out = Path(out_dir)
    with file_lock(out.with_name(out.name + ".lock")):
        return _ensure_dataset(out, config or SynthConfig())


def _ensure_dataset(out: Path, cfg: SynthConfig) -> Path:
    config_file = out / CONFIG_FILE
    if config_file.exists() and (out / C.GT_FILE).exists():
        stored = json.loads(config_file.read_text())
        if stored != json.loads(json.dumps(asdict(cfg))):
            raise FileExistsError(
                f"{out} holds a synthetic data set made with another configuration "
                f"({config_file}); delete the folder or pass another out_dir"
            )
        return out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(
            f"{out} exists, is not empty and holds no finished synthetic set "
            f"(no {config_file.name} and {C.GT_FILE}); delete it to regenerate"
        )
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    write_dataset(tmp, cfg)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out

"""A synthetic stand-in for the challenge data (real faces cannot ship with the repository):
cartoon faces in the official layout. An identity is a set of stable traits (head shape, skin,
hair, eyes, brows, nose, mouth); its photos vary in pose, scale, lighting, expression,
background, sensor noise and JPEG quality. A fake of X is X's inner face on the exact head of
its host, one of the :data:`NEAREST_HOSTS` identities of its pool whose head is nearest X's,
with the traces swaps leave (resampling blur, a blend seam, a faint checkerboard, less sensor
noise) scaled by ``fake_strength``: a model of identity alone sees X in it.

:mod:`.traits` samples identities and photo conditions, :mod:`.render` draws them; here are
:class:`SynthConfig`, the data set on disk and the named sets (``data_dir="synthetic:<name>"``).
"""

from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from krypto import constants as C
from krypto.data.dataset_writer import (
    check_config,
    lookalike_hosts,
    run_command_line,
    write_layout,
    write_once,
)
from krypto.data.renderers.pixels import jpegs
from krypto.data.synth.render import render_fake, render_real
from krypto.data.synth.traits import HEAD_TRAITS, sample_identities, sample_nuisance, take

CONFIG_FILE = "synth_config.json"
NEAREST_HOSTS = 3  # a fake's host: one of the identities whose head traits are nearest its own
BATCH = 256  # photos drawn at once


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator. ``difficulty`` scales nuisance factors, ``fake_strength`` the
    traces a face swap leaves (0: a seamless swap, 1: obvious)."""

    identities: int = 400  # training identities (train/)
    test_identities: int = 240  # identities of test_public (disjoint from train)
    real_per_identity: int = 6
    fake_per_identity: int = 3
    image_size: int = 48
    difficulty: float = 0.6
    fake_strength: float = 0.7
    test_pairs_per_kind: int = 1500
    id_width: int = 8  # zero padding of folder names
    meta_id_width: int | None = None  # zero padding of ids in meta.json keys (None: as folders)
    seed: int = 0

    def __post_init__(self):
        check_config(self, identities=2, test_identities=3, real_per_identity=2)
        check_config(self, fake_per_identity=1, image_size=16, difficulty=(0, 1))
        check_config(self, fake_strength=(0, 1))


def write_dataset(out_dir: str | Path, config: SynthConfig | None = None, progress=True) -> Path:
    """Write a synthetic data set in the official layout into ``out_dir`` (the first
    ``identities`` people in ``train/``, the others in the test pairs); returns it."""
    cfg = config or SynthConfig()
    rng = np.random.default_rng(cfg.seed)
    n_all, per = cfg.identities + cfg.test_identities, cfg.real_per_identity + cfg.fake_per_identity
    size = cfg.image_size
    traits = sample_identities(rng, n_all)
    head = np.concatenate([traits[k].reshape(n_all, -1) for k in HEAD_TRAITS], 1)
    pools = [range(cfg.identities), range(cfg.identities, n_all)]
    fakes = lookalike_hosts(rng, head / head.std(0), pools, cfg.fake_per_identity, NEAREST_HOSTS)
    # every photo: its identity and its host (-1: a real photo), reals first
    sources = np.repeat(np.arange(n_all), per)
    hosts = np.concatenate([np.full((n_all, cfg.real_per_identity), -1), fakes], 1).reshape(-1)
    photos: list = [None] * len(sources)
    with tqdm(total=len(sources), desc="synthesising", unit="img", disable=not progress) as bar:
        for fake in (False, True):  # the real photos, then the face swaps
            rows = np.flatnonzero((hosts >= 0) == fake)
            for part in np.array_split(rows, range(BATCH, len(rows), BATCH)):
                nz = sample_nuisance(rng, len(part), cfg.difficulty)
                src = take(traits, sources[part])
                if fake:
                    heads = take(traits, hosts[part])
                    pixels, lms = render_fake(src, heads, nz, size, cfg.fake_strength, rng)
                else:
                    pixels, lms = render_real(src, nz, size, rng)
                for row, data, lm in zip(part, jpegs(pixels, nz["jpeg"]), lms):
                    photos[row] = (data, lm, int(hosts[row]) if fake else None)
                bar.update(len(part))
    people = [photos[i * per : (i + 1) * per] for i in range(n_all)]
    widths = (cfg.id_width, cfg.meta_id_width or cfg.id_width)
    pairs = (np.random.default_rng([cfg.seed, 7]), cfg.test_pairs_per_kind)
    return write_layout(out_dir, people, cfg.identities, widths, pairs, (CONFIG_FILE, asdict(cfg)))


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
    # to pretrain a face-recognition model on its real photos: other people, five times as many
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


def ensure_default_dataset(out_dir: Path = C.SYNTHETIC_DIR, config=SynthConfig()) -> Path:
    """The data set ``config`` generated once into ``out_dir``, never over a folder that holds
    anything else (see :func:`krypto.data.dataset_writer.write_once`)."""
    write = partial(write_dataset, config=config)
    return write_once(Path(out_dir), CONFIG_FILE, asdict(config), write, rewrite=False)


def main(argv: list[str] | None = None) -> None:
    """``python -m krypto.data.synth OUT [--identities N ...]``, an option per SynthConfig field."""
    run_command_line(SynthConfig, write_dataset, "python -m krypto.data.synth", __doc__, argv)

"""A synthetic stand-in for the challenge data, written in the official layout.

Real face data cannot ship with the repository, so this generator draws cartoon faces whose
statistics mimic the task: an identity is a set of stable traits (head shape, skin, hair, eyes,
brows, nose, mouth, moles); its real photos vary in pose, scale, shift, lighting, expression,
background, sensor noise and JPEG quality; a fake of identity X is a face swap: X's inner face
on the exact head of another identity of its pool (the host, one of the :data:`NEAREST_HOSTS`
whose head traits are nearest X's), with the traces swaps leave (resampling blur, a blend seam,
a faint upsampling checkerboard, less sensor noise), scaled by ``fake_strength``. A model that
learns identity alone sees X in it; one that trusts the head sees the host.

:mod:`.traits` samples identities and photo conditions, :mod:`.render` draws real photos and
face swaps; this module holds :class:`SynthConfig`, the data set on disk (written by
:mod:`krypto.data.dataset_writer`, with ``OUT/synth_config.json``) and the named sets
(``data_dir="synthetic:<name>"``), generated once and reused. Command line:
``python -m krypto.data.synth OUT --identities 200``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from krypto import constants as C
from krypto.data.dataset_writer import (
    encode_jpeg,
    lookalike_hosts,
    run_command_line,
    write_layout,
    write_once,
)
from krypto.data.synth.render import render_fake, render_real
from krypto.data.synth.traits import HEAD_TRAITS, sample_identities, sample_nuisance, take

CONFIG_FILE = "synth_config.json"
NEAREST_HOSTS = 3  # a fake's host: one of the identities whose head traits are nearest its own


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
        if self.identities < 2 or self.test_identities < 3:
            raise ValueError(
                "identities must be at least 2 and test_identities 3 (a fake of another person "
                "not made on the anchor's photo needs a third)"
            )
        if self.real_per_identity < 2:
            raise ValueError("real_per_identity must be at least 2 (a positive pair needs two)")
        if self.fake_per_identity < 1:
            raise ValueError("fake_per_identity must be at least 1")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        for name in ("difficulty", "fake_strength"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


def render_photos(cfg: SynthConfig, traits: dict, sources, hosts, rng, batch=256, on_batch=None):
    """JPEG bytes and landmarks ``[5, 2]`` of photos of identities ``sources``; a photo whose
    ``hosts`` entry is >= 0 is a face swap onto that identity's head, a real photo otherwise.
    ``on_batch(n)`` is called after each batch of ``n`` photos."""
    sources, hosts = np.asarray(sources), np.asarray(hosts)
    out: list = [None] * len(sources)
    for start in range(0, len(sources), batch):
        rows = np.arange(start, min(start + batch, len(sources)))
        nz = sample_nuisance(rng, len(rows), cfg.difficulty)
        fake = hosts[rows] >= 0
        for is_fake in (False, True):
            keep = fake == is_fake
            if not keep.any():
                continue
            part, part_nz = rows[keep], take(nz, keep)
            src = take(traits, sources[part])
            if is_fake:
                heads = take(traits, hosts[part])
                pixels, lms = render_fake(
                    src, heads, part_nz, cfg.image_size, cfg.fake_strength, rng
                )
            else:
                pixels, lms = render_real(src, part_nz, cfg.image_size, rng)
            for j, row in enumerate(part):
                out[row] = (encode_jpeg(pixels[j], part_nz["jpeg"][j]), lms[j])
        if on_batch is not None:
            on_batch(len(rows))
    return out


def write_dataset(
    out_dir: str | Path, config: SynthConfig | None = None, progress: bool = True
) -> Path:
    """Write a synthetic data set in the official layout into ``out_dir``; returns it.

    Identities ``0 .. identities-1`` go to ``train/``, the next ``test_identities`` make the pairs
    of ``test_public/``. Deterministic for ``config.seed``."""
    from tqdm.auto import tqdm

    cfg = config or SynthConfig()
    rng = np.random.default_rng(cfg.seed)
    n_all = cfg.identities + cfg.test_identities
    traits = sample_identities(rng, n_all)

    # every photo: (identity, number, host or -1); a fake is made on the head of its host
    per_identity = cfg.real_per_identity + cfg.fake_per_identity
    sources = np.repeat(np.arange(n_all), per_identity)
    hosts = np.full((n_all, per_identity), -1)
    pools = [range(cfg.identities), range(cfg.identities, n_all)]
    features = np.concatenate([traits[k].reshape(n_all, -1) for k in HEAD_TRAITS], 1)
    features = features / features.std(0)
    nearest = lookalike_hosts(rng, features, pools, cfg.fake_per_identity, NEAREST_HOSTS)
    hosts[:, cfg.real_per_identity :] = nearest
    hosts = hosts.reshape(-1)

    with tqdm(total=len(sources), desc="synthesising", unit="img", disable=not progress) as bar:
        photos = render_photos(cfg, traits, sources, hosts, rng, on_batch=bar.update)
    people: list[list] = [[] for _ in range(n_all)]
    for ident, host, (data, lms) in zip(sources, hosts.tolist(), photos):
        people[ident].append((data, lms, host if host >= 0 else None))
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

    A folder written with another configuration, or holding anything but a finished set, is an
    error, never silently replaced. Processes asking at the same time wait for the one that
    generates it."""
    cfg = config or SynthConfig()
    return write_once(
        Path(out_dir), CONFIG_FILE, asdict(cfg), lambda tmp: write_dataset(tmp, cfg), False
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m krypto.data.synth OUT [--identities N ...]``, one option per field of
    :class:`SynthConfig`."""
    run_command_line(SynthConfig, write_dataset, "python -m krypto.data.synth", __doc__, argv)

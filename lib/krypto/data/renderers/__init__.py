"""Face renderers other than :mod:`krypto.data.synth`, to check that a recipe does not learn one
generator's quirks: each writes a data set in the official layout
(:mod:`krypto.data.dataset_writer`), with its own drawing, its own look and its own kind of fake.

* :mod:`~krypto.data.renderers.portrait`: faces drawn with PIL shapes (hair styles, glasses,
  beards, textured skin) in cluttered rooms; a fake pastes a person's face region onto another
  person's photo (colour mismatch, resampling blur, blending seam).
* :mod:`~krypto.data.renderers.eigenfaces`: a shaded procedural face model in numpy (a template
  plus a fixed random basis of smooth fields, one coefficient vector per person); a fake swaps a
  person's inner-face coefficients onto another's head and is rendered by a generator
  (checkerboard, missing sensor noise, double JPEG).

A renderer turns a :class:`RenderConfig` into photos, one list per identity (its reals first,
then its fakes), each photo a JPEG (bytes) with its five landmarks and whether it is fake.
``dataset_path("portrait:identities=200,size=64,fake_strength=0.5,seed=0")`` writes a data set
once under ``data/renderers/<slug>`` and returns its folder; ``python -m
krypto.data.renderers.<name> OUT --identities 200 --size 64`` writes one anywhere.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from krypto import constants as C
from krypto.data.dataset_writer import Layout, Photo, write_layout, write_once

CONFIG_FILE = "renderer.json"

# name -> package with write_dataset(out_dir, **RenderConfig); imported when used (a renderer's
# drawing code loads only for the renderer asked for)
RENDERERS = {
    "portrait": "krypto.data.renderers.portrait",
    "eigenfaces": "krypto.data.renderers.eigenfaces",
}
RENDERERS_DIR = C.DATA_DIR / "renderers"


@dataclass(frozen=True)
class RenderConfig:
    """Parameters of a rendered data set. ``fake_strength`` scales the traces a fake carries
    (0: almost invisible, 1: strong). ``n_test_pairs`` is split evenly over the four pair kinds;
    the test pairs come from ``test_identities`` held-out people (default: a fifth of
    ``identities``, at least 8)."""

    identities: int = 200
    image_size: int = 64
    n_real: int = 6
    n_fake: int = 3
    fake_strength: float = 0.5
    seed: int = 0
    n_test_pairs: int = 400
    test_identities: int | None = None

    def __post_init__(self):
        smallest = {"identities": 2, "n_real": 2, "n_fake": 1, "n_test_pairs": 4}
        why = {"n_real": " (a positive pair needs two)", "n_test_pairs": " (one of each kind)"}
        if self.test_identities is not None:
            smallest["test_identities"] = 2
        for name, low in smallest.items():
            if getattr(self, name) < low:
                raise ValueError(
                    f"{name} must be at least {low}{why.get(name, '')}, got {getattr(self, name)}"
                )
        if not 24 <= self.image_size <= 256:
            raise ValueError(
                f"image_size must be in [24, 256] (made for 48 to 112), got {self.image_size}"
            )
        if not 0.0 <= self.fake_strength <= 1.0:
            raise ValueError(f"fake_strength must be in [0, 1], got {self.fake_strength}")

    @property
    def n_test_identities(self) -> int:
        return self.test_identities or max(8, self.identities // 5)

    @property
    def n_all(self) -> int:
        return self.identities + self.n_test_identities


def renderer(name: str):
    """The ``write_dataset`` function of the renderer ``name``."""
    entry = RENDERERS[name]
    return entry if callable(entry) else importlib.import_module(entry).write_dataset


# spec keys -> RenderConfig fields (short forms first)
_ALIASES = {
    "size": "image_size",
    "real": "n_real",
    "fake": "n_fake",
    "strength": "fake_strength",
    "pairs": "n_test_pairs",
    "test_pairs": "n_test_pairs",
}
_FIELDS = {f.name: f for f in fields(RenderConfig)}


def parse_spec(spec: str) -> tuple[str, RenderConfig]:
    """``"name:key=value,..."`` -> the renderer's name and its full configuration.

    Keys are :class:`RenderConfig` fields or the short forms ``size``, ``real``, ``fake``,
    ``strength``, ``pairs``; the others keep their defaults."""
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if name not in RENDERERS:
        raise ValueError(
            f"unknown renderer {name!r} in {spec!r}; choose one of {sorted(RENDERERS)}"
        )
    values: dict = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key = _ALIASES.get(key.strip(), key.strip())
        if not eq or key not in _FIELDS:
            allowed = sorted(set(_FIELDS) | set(_ALIASES))
            raise ValueError(
                f"bad item {item!r} in {spec!r}: expected key=value with key one of {allowed}"
            )
        kind = float if key == "fake_strength" else int
        try:
            values[key] = kind(value.strip())
        except ValueError:
            raise ValueError(f"{key}={value.strip()!r} in {spec!r} is not a number") from None
    return name, RenderConfig(**values)


def slug(name: str, cfg: RenderConfig) -> str:
    """A folder name that spells every parameter, so that equal data sets share a folder."""
    test_ids = "auto" if cfg.test_identities is None else cfg.test_identities
    return (
        f"{name}-id{cfg.identities}-px{cfg.image_size}-real{cfg.n_real}-fake{cfg.n_fake}"
        f"-strength{cfg.fake_strength:g}-pairs{cfg.n_test_pairs}-test{test_ids}-seed{cfg.seed}"
    )


def dataset_path(spec: str, root: str | Path | None = None) -> Path:
    """The folder of the data set ``spec`` (``"name:key=value,..."``, see :func:`parse_spec`),
    written on first use under ``root`` (default ``data/renderers``).

    Processes asking at the same time wait for the one that writes it; a half-written folder
    (a killed writer) is written again."""
    name, cfg = parse_spec(spec)
    out = Path(root if root is not None else RENDERERS_DIR) / slug(name, cfg)
    config = {"renderer": name, **asdict(cfg)}
    return write_once(
        out, CONFIG_FILE, config, lambda tmp: renderer(name)(tmp, **asdict(cfg)), True
    )


def lookalike_targets(
    rng: np.random.Generator, cfg: RenderConfig, features: np.ndarray, nearest: int = 1
) -> np.ndarray:
    """For every fake (``[n_all, n_fake]``), another identity of the same split (train or test)
    among the ``nearest`` whose ``features`` (``[n_all, F]``) are closest: a face swap is made
    onto a head that resembles the source."""
    out = np.empty((cfg.n_all, cfg.n_fake), dtype=np.int64)
    for ident in range(cfg.n_all):
        lo, hi = (0, cfg.identities) if ident < cfg.identities else (cfg.identities, cfg.n_all)
        pool = np.delete(np.arange(lo, hi), ident - lo)[None].repeat(cfg.n_fake, 0)
        dist = ((features[pool] - features[ident]) ** 2).sum(-1)
        k = min(nearest, pool.shape[1])
        best = np.argsort(dist, axis=1, kind="stable")[:, :k]
        pick = best[np.arange(cfg.n_fake), rng.integers(0, k, cfg.n_fake)]
        out[ident] = pool[np.arange(cfg.n_fake), pick]
    return out


def write_rendered(
    out_dir: str | Path, name: str, cfg: RenderConfig, photos: list[list[Photo]], widths
) -> Path:
    """Write a renderer's ``photos[identity]`` in the official layout; ``widths``: the zero
    padding of folder names and of meta.json keys (0: none)."""
    rng = np.random.default_rng([cfg.seed, 1009])
    pairs = (rng, cfg.n_test_pairs // 4)
    config = (CONFIG_FILE, {"renderer": name, **asdict(cfg)})
    return write_layout(out_dir, photos, cfg.identities, Layout(*widths), pairs, config)


# command-line options: field -> (flags, help)
_OPTIONS = {
    "identities": (("--identities",), "training identities"),
    "image_size": (("--size", "--image-size"), "image side in pixels"),
    "n_real": (("--n-real",), "real photos per identity"),
    "n_fake": (("--n-fake",), "fakes per identity"),
    "fake_strength": (("--fake-strength",), "0: traces almost invisible, 1: strong"),
    "seed": (("--seed",), None),
    "n_test_pairs": (
        ("--test-pairs", "--n-test-pairs"),
        "test pairs, split evenly over the 4 kinds",
    ),
    "test_identities": (
        ("--test-identities",),
        "held-out identities of the test pairs (default: identities / 5)",
    ),
}


def run_cli(name: str, write, doc: str, argv: list[str] | None = None) -> None:
    """The command line of a renderer: ``python -m krypto.data.renderers.<name> OUT [...]``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m krypto.data.renderers.{name}",
        description=doc.strip().split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="folder to write (official layout)")
    for f in fields(RenderConfig):
        flags, text = _OPTIONS[f.name]
        kind = float if f.name == "fake_strength" else int
        parser.add_argument(*flags, dest=f.name, type=kind, default=f.default, help=text)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    print(f"wrote {write(out, **args)}")


__all__ = ["RENDERERS", "RenderConfig", "dataset_path", "parse_spec", "renderer", "slug"]

"""Face renderers other than :mod:`krypto.data.synth`, to check that a recipe does not learn one
generator's quirks: :mod:`.portrait` (PIL faces in cluttered rooms, fakes pasted from another
photo) and :mod:`.eigenfaces` (a shaded procedural face model, fakes swapped in the model).

A renderer's ``render_all(cfg)`` turns a :class:`RenderConfig` into photos, one list per identity
(reals first, then fakes), each a JPEG with its five landmarks and, for a fake, its host (the
person of its pool, training or held-out, on whose photo or head it was made).
``dataset_path("portrait:identities=200,size=64")`` writes a data set once under
``data/renderers/<slug>``; ``python -m krypto.data.renderers.<name> OUT --size 64`` anywhere.
"""

import importlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from krypto import constants as C
from krypto.data.dataset_writer import check_config, run_command_line, write_layout, write_once

CONFIG_FILE = "renderer.json"
RENDERERS_DIR = C.DATA_DIR / "renderers"
# name -> its package (with render_all and FOLDER_WIDTHS), imported when asked for
RENDERERS = {name: f"krypto.data.renderers.{name}" for name in ("portrait", "eigenfaces")}


@dataclass(frozen=True)
class RenderConfig:
    """Parameters of a rendered data set. ``fake_strength`` scales the traces a fake carries
    (0: almost invisible, 1: strong); ``test_pairs_per_kind``: pairs of each of the five kinds."""

    identities: int = 200
    image_size: int = 64
    n_real: int = 6
    n_fake: int = 3
    fake_strength: float = 0.5
    seed: int = 0
    test_pairs_per_kind: int = 100
    test_identities: int | None = None

    def __post_init__(self):
        check_config(self, identities=2, n_real=2, n_fake=1, test_pairs_per_kind=1)
        check_config(self, test_identities=3, image_size=(24, 256), fake_strength=(0, 1))

    @property
    def n_all(self) -> int:
        """The training and the held-out people (by default a fifth as many, at least 8)."""
        return self.identities + (self.test_identities or max(8, self.identities // 5))

    @property
    def pools(self) -> list[range]:
        """The training people and the held-out ones: a fake's host is of the fake's pool."""
        return [range(self.identities), range(self.identities, self.n_all)]


# short forms of RenderConfig fields, in specs and on the command line
ALIASES = {"size": "image_size", "real": "n_real", "fake": "n_fake", "strength": "fake_strength"}
ALIASES |= {"pairs": "test_pairs_per_kind", "test_pairs": "test_pairs_per_kind"}
_FIELDS = {f.name for f in fields(RenderConfig)}


def parse_spec(spec: str) -> tuple[str, RenderConfig]:
    """``"name:key=value,..."`` -> the renderer's name and its full configuration; keys are
    :class:`RenderConfig` fields or their short forms (:data:`ALIASES`), the others default."""
    name, _, rest = (part.strip() for part in spec.partition(":"))
    if name not in RENDERERS:
        raise ValueError(f"unknown renderer {name!r} in {spec!r}: one of {sorted(RENDERERS)}")
    values: dict = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = (part.strip() for part in item.partition("="))
        key = ALIASES.get(key, key)
        if not eq or key not in _FIELDS:
            allowed = sorted(_FIELDS | set(ALIASES))
            raise ValueError(
                f"bad item {item!r} in {spec!r}: expected key=value, key one of {allowed}"
            )
        try:
            values[key] = (float if key == "fake_strength" else int)(value)
        except ValueError:
            raise ValueError(f"{key}={value!r} in {spec!r} is not a number") from None
    return name, RenderConfig(**values)


def slug(name: str, cfg: RenderConfig) -> str:
    """A folder name that spells every parameter, so that equal data sets share a folder
    (``pairs<n>x<kinds>``: n pairs of each kind)."""
    test_ids = "auto" if cfg.test_identities is None else cfg.test_identities
    pairs = f"{cfg.test_pairs_per_kind}x{len(C.PAIR_KINDS)}"
    return (
        f"{name}-id{cfg.identities}-px{cfg.image_size}-real{cfg.n_real}-fake{cfg.n_fake}"
        f"-strength{cfg.fake_strength:g}-pairs{pairs}-test{test_ids}-seed{cfg.seed}"
    )


def write_dataset(out_dir: str | Path, name: str, cfg: RenderConfig) -> Path:
    """Render the data set ``cfg`` with the renderer ``name`` and write it in the official layout
    into ``out_dir`` (with ``renderer.json``); deterministic for ``cfg.seed``."""
    module = importlib.import_module(RENDERERS[name])
    pairs = (np.random.default_rng([cfg.seed, 1009]), cfg.test_pairs_per_kind)
    config = (CONFIG_FILE, {"renderer": name, **asdict(cfg)})
    photos = module.render_all(cfg)
    return write_layout(out_dir, photos, cfg.identities, module.FOLDER_WIDTHS, pairs, config)


def dataset_path(spec: str, root: str | Path | None = None) -> Path:
    """The folder of the data set ``spec`` (``"name:key=value,..."``, see :func:`parse_spec`),
    written on first use under ``root`` (default ``data/renderers``; a half-written one again)."""
    name, cfg = parse_spec(spec)
    out = Path(root if root is not None else RENDERERS_DIR) / slug(name, cfg)
    config = {"renderer": name, **asdict(cfg)}
    return write_once(out, CONFIG_FILE, config, lambda tmp: write_dataset(tmp, name, cfg), True)


def main(name: str, argv: list[str] | None = None) -> None:
    """The command line of the renderer ``name`` (``python -m krypto.data.renderers.<name>``)."""
    doc = importlib.import_module(RENDERERS[name]).__doc__
    write = lambda out, cfg: write_dataset(out, name, cfg)
    run_command_line(RenderConfig, write, f"python -m {RENDERERS[name]}", doc, argv, ALIASES)

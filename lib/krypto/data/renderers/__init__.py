"""Face renderers other than :mod:`krypto.data.synth`, to check that a recipe does not learn one
generator's quirks: each writes a data set in the official layout, with its own drawing, its own
look and its own kind of fake.

* :mod:`~krypto.data.renderers.portrait`: faces drawn with PIL shapes (hair styles, glasses,
  beards, textured skin) in cluttered rooms; a fake pastes a person's face region onto another
  person's photo (colour mismatch, resampling blur, blending seam).
* :mod:`~krypto.data.renderers.eigenfaces`: a shaded procedural face model in numpy (a template
  plus a fixed random basis of smooth fields, one coefficient vector per person); a fake swaps a
  person's inner-face coefficients onto another's head and is rendered by a generator
  (checkerboard, missing sensor noise, double JPEG).

``dataset_path("portrait:identities=200,size=64,fake_strength=0.5,seed=0")`` writes a data set
once under ``data/renderers/<slug>`` and returns its folder; ``python -m
krypto.data.renderers.<name> OUT --identities 200 --size 64`` writes one anywhere.
"""

from __future__ import annotations

import importlib
import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path

from krypto import constants as C
from krypto.data.renderers._layout import CONFIG_FILE, RenderConfig, read_config
from krypto.files import file_lock

# name -> package with write_dataset(out_dir, **RenderConfig); imported when used (a renderer's
# drawing code loads only for the renderer asked for)
RENDERERS = {
    "portrait": "krypto.data.renderers.portrait",
    "eigenfaces": "krypto.data.renderers.eigenfaces",
}


def renderer(name: str):
    """The ``write_dataset`` function of the renderer ``name``."""
    entry = RENDERERS[name]
    return entry if callable(entry) else importlib.import_module(entry).write_dataset


RENDERERS_DIR = C.DATA_DIR / "renderers"

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

    Keys are :class:`~krypto.data.renderers._layout.RenderConfig` fields or the short forms
    ``size``, ``real``, ``fake``, ``strength``, ``pairs``; the others keep their defaults."""
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
    expected = json.loads(json.dumps({"renderer": name, **asdict(cfg)}))
    with file_lock(out.with_name(out.name + ".lock")):
        if read_config(out) == expected and (out / C.GT_FILE).is_file():
            return out
        if out.exists():
            if read_config(out) not in (None, expected):
                raise FileExistsError(
                    f"{out} holds another data set ({out / CONFIG_FILE}); "
                    f"delete it to write {spec!r}"
                )
            shutil.rmtree(out)
        tmp = out.with_name(out.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        renderer(name)(tmp, **asdict(cfg))
        tmp.rename(out)
    return out


__all__ = ["RENDERERS", "RenderConfig", "dataset_path", "parse_spec", "renderer", "slug"]

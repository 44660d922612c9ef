"""The seed write-up's published numbers, which the report sets beside ours: read from
``params/seed_results.yaml`` (keyed by our run names; the seed gave no combined EER)."""

from __future__ import annotations

import copy
import functools
from typing import Any

import yaml

from krypto import constants as C
from krypto.pipeline.report.errors import ReportError

SEED_FILE = "params/seed_results.yaml"
SEED_COLUMNS = ("eer_real", "eer_fake", "eer")  # the seed's README gave eer_real and eer_fake


@functools.cache
def _load(file: str) -> dict[str, Any]:
    path = C.REPO_ROOT / file
    try:
        seed = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ReportError(f"cannot read the seed's numbers from {file}: {error}") from error
    if not isinstance(seed, dict):
        raise ReportError(f"{file} holds no mapping of the seed's numbers")
    for key, value in seed.items():
        if key == "source":
            continue
        rows = (value or {}).get("rows") if isinstance(value, dict) else None
        if not isinstance(rows, dict) or "epochs" not in value:
            raise ReportError(f"{file}: {key!r} needs `epochs` and `rows`")
        for name, row in rows.items():
            missing = [c for c in SEED_COLUMNS if c not in (row or {})]
            if missing:
                raise ReportError(f"{file}: {key}/{name} lacks {', '.join(missing)}")
    return seed


def seed_results(file: str = SEED_FILE) -> dict[str, Any]:
    """The seed's numbers: ``source``, then per section (``loss_selection``, ``lambda``,
    ``cutout``) ``epochs`` (None when its write-up does not say) and ``rows``, each
    ``{eer_real, eer_fake, eer}`` and ``as``, the seed's own name of the row, when it differs."""
    return copy.deepcopy(_load(file))


def seed_metric(key: str, run: str, metric: str) -> float | None:
    """One of the seed's numbers: ``metric`` of row ``run`` of section ``key``."""
    return _load(SEED_FILE)[key]["rows"][run][metric]

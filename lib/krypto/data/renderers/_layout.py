"""What the renderers share: their parameters, the official layout they write, the command line.

A renderer turns a :class:`RenderConfig` into photos, one list per identity (its reals first,
then its fakes), each photo a JPEG (bytes) with its five landmarks; :func:`write_layout` writes
them as::

    OUT/train/<id>/<n>.jpg        identities 0 .. identities-1
    OUT/train/meta.json           {"<id>/<n>.jpg": 0 real | 1 fake}
    OUT/test_public/<pair>/0.jpg, 1.jpg   pairs of the held-out identities
    OUT/gt.csv                    pair_id,label,kind (the four kinds, as many pairs of each)
    OUT/landmarks.csv             path,<5 points x, y> normalised to [0, 1]
    OUT/renderer.json             the renderer's name and parameters
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from krypto import constants as C
from krypto.files import write_csv, write_json

CONFIG_FILE = "renderer.json"


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
        if self.identities < 2:
            raise ValueError(f"identities must be at least 2, got {self.identities}")
        if self.test_identities is not None and self.test_identities < 2:
            raise ValueError(f"test_identities must be at least 2, got {self.test_identities}")
        if not 24 <= self.image_size <= 256:
            raise ValueError(
                f"image_size must be in [24, 256] (made for 48 to 112), got {self.image_size}"
            )
        if self.n_real < 2:
            raise ValueError(
                f"n_real must be at least 2 (a positive pair needs two), got {self.n_real}"
            )
        if self.n_fake < 1:
            raise ValueError(f"n_fake must be at least 1, got {self.n_fake}")
        if not 0.0 <= self.fake_strength <= 1.0:
            raise ValueError(f"fake_strength must be in [0, 1], got {self.fake_strength}")
        if self.n_test_pairs < 4:
            raise ValueError(
                f"n_test_pairs must be at least 4 (one of each kind), got {self.n_test_pairs}"
            )

    @property
    def n_test_identities(self) -> int:
        return self.test_identities or max(8, self.identities // 5)

    @property
    def n_all(self) -> int:
        return self.identities + self.n_test_identities


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """``[H, W, 3]`` uint8 -> JPEG bytes (4:2:0, baseline, deterministic)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def lookalike_targets(
    rng: np.random.Generator,
    cfg: RenderConfig,
    features: np.ndarray,
    candidates: int | None = None,
    nearest: int = 1,
) -> np.ndarray:
    """For every fake (``[n_all, n_fake]``), another identity of the same split (train or test)
    among the ``nearest`` whose ``features`` (``[n_all, F]``) are closest, searched among
    ``candidates`` drawn at random (None: the whole split): a face swap is made onto a head that
    resembles the source."""
    out = np.empty((cfg.n_all, cfg.n_fake), dtype=np.int64)
    for ident in range(cfg.n_all):
        lo, hi = (0, cfg.identities) if ident < cfg.identities else (cfg.identities, cfg.n_all)
        if candidates is None:
            pool = np.delete(np.arange(lo, hi), ident - lo)[None].repeat(cfg.n_fake, 0)
        else:
            pool = rng.integers(lo, hi - 1, (cfg.n_fake, candidates))
            pool += pool >= ident  # never the identity itself
        dist = ((features[pool] - features[ident]) ** 2).sum(-1)
        k = min(nearest, pool.shape[1])
        best = np.argsort(dist, axis=1, kind="stable")[:, :k]
        pick = best[np.arange(cfg.n_fake), rng.integers(0, k, cfg.n_fake)]
        out[ident] = pool[np.arange(cfg.n_fake), pick]
    return out


Photo = tuple  # (jpeg bytes, landmarks [5, 2] in [0, 1], is_fake)


def write_layout(
    out_dir: str | Path,
    cfg: RenderConfig,
    photos: list[list[Photo]],
    *,
    renderer: str,
    folder_width: int,
    meta_width: int,
) -> Path:
    """Write ``photos[identity]`` in the official layout (see the module's docstring).

    Folder names are zero-padded to ``folder_width`` digits, meta.json keys to ``meta_width``
    (0: no padding)."""
    out = Path(out_dir)
    train_dir, test_dir = out / C.TRAIN_DIR, out / C.TEST_DIR
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, int] = {}
    landmark_rows: list[tuple[str, np.ndarray]] = []
    for ident in range(cfg.identities):
        folder = train_dir / f"{ident:0{folder_width}d}"
        folder.mkdir(exist_ok=True)
        for number, (data, lms, is_fake) in enumerate(photos[ident]):
            (folder / f"{number}.jpg").write_bytes(data)
            meta[f"{ident:0{meta_width}d}/{number}.jpg"] = C.FAKE if is_fake else C.REAL
            landmark_rows.append((f"{C.TRAIN_DIR}/{folder.name}/{number}.jpg", lms))
    write_json(train_dir / C.META_FILE, meta)

    gt = _write_pairs(test_dir, cfg, photos[cfg.identities :], landmark_rows, folder_width)
    write_csv(out / C.GT_FILE, gt)
    table = pd.DataFrame(
        np.stack([lms.reshape(-1) for _, lms in landmark_rows]).round(5),
        columns=list(C.LANDMARK_COLUMNS),
    )
    table.insert(0, C.PATH, [path for path, _ in landmark_rows])
    write_csv(out / C.LANDMARKS_FILE, table)
    write_json(out / CONFIG_FILE, {"renderer": renderer, **asdict(cfg)})
    return out


def _write_pairs(
    test_dir: Path, cfg: RenderConfig, people: list[list[Photo]], landmark_rows: list, width: int
) -> pd.DataFrame:
    """As many pairs of each kind (``n_test_pairs // 4``), each anchored on a real photo of a
    held-out person, in shuffled order and with the two photos in random order."""
    rng = np.random.default_rng([cfg.seed, 1009])
    reals = [[p for p in person if not p[2]] for person in people]
    fakes = [[p for p in person if p[2]] for person in people]
    pairs = []
    for _ in range(cfg.n_test_pairs // 4):
        a, b = rng.choice(len(people), 2, replace=False)
        i, j = rng.choice(len(reals[a]), 2, replace=False)
        pairs.append((reals[a][i], reals[a][j], 1, C.SAME))
        pairs.append((reals[a][j], reals[b][rng.integers(len(reals[b]))], 0, C.DIFFERENT))
        pairs.append((reals[a][i], fakes[a][rng.integers(len(fakes[a]))], 0, C.FAKE_SAME))
        pairs.append((reals[a][j], fakes[b][rng.integers(len(fakes[b]))], 0, C.FAKE_OTHER))
    rows = []
    for number, k in enumerate(rng.permutation(len(pairs))):
        first, second, label, kind = pairs[k]
        if rng.random() < 0.5:
            first, second = second, first
        pair_id = f"{number:0{width}d}"
        folder = test_dir / pair_id
        folder.mkdir(exist_ok=True)
        for name, (data, lms, _) in zip(C.PAIR_IMAGES, (first, second)):
            (folder / name).write_bytes(data)
            landmark_rows.append((f"{C.TEST_DIR}/{pair_id}/{name}", lms))
        rows.append((pair_id, label, kind))
    return pd.DataFrame(rows, columns=[C.PAIR_ID, C.PAIR_LABEL, C.KIND])


def run_cli(name: str, write_dataset, doc: str, argv: list[str] | None = None) -> None:
    """The command line of a renderer: ``python -m krypto.data.renderers.<name> OUT [...]``."""
    d = RenderConfig()
    parser = argparse.ArgumentParser(
        prog=f"python -m krypto.data.renderers.{name}",
        description=doc.strip().split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="folder to write (official layout)")
    parser.add_argument("--identities", type=int, default=d.identities, help="training identities")
    parser.add_argument(
        "--size",
        "--image-size",
        dest="image_size",
        type=int,
        default=d.image_size,
        help="image side in pixels",
    )
    parser.add_argument("--n-real", type=int, default=d.n_real, help="real photos per identity")
    parser.add_argument("--n-fake", type=int, default=d.n_fake, help="fakes per identity")
    parser.add_argument(
        "--fake-strength",
        type=float,
        default=d.fake_strength,
        help="0: traces almost invisible, 1: strong",
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--test-pairs",
        "--n-test-pairs",
        dest="n_test_pairs",
        type=int,
        default=d.n_test_pairs,
        help="test pairs, split evenly over the 4 kinds",
    )
    parser.add_argument(
        "--test-identities",
        type=int,
        default=None,
        help="held-out identities of the test pairs (default: identities / 5)",
    )
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    print(f"wrote {write_dataset(out, **args)}")


def read_config(folder: Path) -> dict | None:
    path = Path(folder) / CONFIG_FILE
    return json.loads(path.read_text()) if path.is_file() else None

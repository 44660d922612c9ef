"""Writing a generated face data set in the official layout, the one writer of the synthetic set
(:mod:`krypto.data.synth`) and of the renderers (:mod:`krypto.data.renderers`)::

    OUT/train/<id>/<n>.jpg        identities 0 .. identities-1, reals first, then fakes
    OUT/train/meta.json           {"<id>/<n>.jpg": 0 real | 1 fake}
    OUT/test_public/<pair>/0.jpg, 1.jpg   pairs of the held-out identities
    OUT/gt.csv                    pair_id,label,kind (the four kinds, as many pairs of each)
    OUT/landmarks.csv             path,<5 points x, y> normalised to [0, 1]
    OUT/<config file>             the parameters it was made with

The index files are written through :mod:`krypto.files`; the photos, thousands of small files,
directly (:func:`write_once` writes a whole set into a temporary folder and renames it when
complete). :func:`run_command_line` is the generators' command line.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from krypto import constants as C
from krypto.files import file_lock, write_csv, write_json, write_text

Photo = tuple  # (jpeg bytes, landmarks [5, 2] in [0, 1], is_fake)


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """``[H, W, 3]`` uint8 -> JPEG bytes (4:2:0, baseline, deterministic)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def lookalike_hosts(
    rng: np.random.Generator, features: np.ndarray, pools: list[range], n_fake: int, nearest: int
) -> np.ndarray:
    """The host of every fake ``[n_people, n_fake]``: the person on whose head a face swap is
    made, another person of the same pool (``pools``: ranges of people, train and test) among
    the ``nearest`` whose ``features`` (``[n_people, F]``) are closest, so a fake resembles the
    person it shows."""
    out = np.empty((len(features), n_fake), dtype=np.int64)
    for pool in pools:
        for person in pool:
            others = np.delete(np.arange(pool.start, pool.stop), person - pool.start)
            others = others[None].repeat(n_fake, 0)
            dist = ((features[others] - features[person]) ** 2).sum(-1)
            k = min(nearest, others.shape[1])
            best = np.argsort(dist, axis=1, kind="stable")[:, :k]
            pick = best[np.arange(n_fake), rng.integers(0, k, n_fake)]
            out[person] = others[np.arange(n_fake), pick]
    return out


@dataclass(frozen=True)
class Layout:
    """How a generator spells the layout: zero padding of folder names and pair ids
    (``folder_width``) and of the ids in meta.json keys (``meta_width``, 0: none), the indent of
    meta.json, the format of landmark values (None: rounded to 5 digits) and the partner of a
    "different" pair (``random_partner``: any real photo of the other person, drawn, with the
    second photo of the "same" pair anchoring "different" and "fake_other"; else the other
    person's photo of that second photo's number, with the first anchoring them)."""

    folder_width: int
    meta_width: int
    meta_indent: int = 2
    landmark_format: str | None = None
    random_partner: bool = True


def write_layout(
    out_dir: str | Path,
    photos: list[list[Photo]],
    identities: int,
    layout: Layout,
    pairs: tuple[np.random.Generator, int],
    config: tuple[str, dict],
) -> Path:
    """Write ``photos[identity]`` in the official layout (see the module's docstring): the first
    ``identities`` people in train/, the others in the test pairs, drawn with ``pairs`` (a
    generator and the pairs of each kind). ``config`` is the config file's name and content."""
    out = Path(out_dir)
    train_dir, test_dir = out / C.TRAIN_DIR, out / C.TEST_DIR
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, int] = {}
    landmark_rows: list[tuple[str, np.ndarray]] = []
    for ident in range(identities):
        folder = train_dir / f"{ident:0{layout.folder_width}d}"
        folder.mkdir(exist_ok=True)
        for number, (data, lms, is_fake) in enumerate(photos[ident]):
            (folder / f"{number}.jpg").write_bytes(data)
            meta[f"{ident:0{layout.meta_width}d}/{number}.jpg"] = C.FAKE if is_fake else C.REAL
            landmark_rows.append((f"{C.TRAIN_DIR}/{folder.name}/{number}.jpg", lms))
    write_text(train_dir / C.META_FILE, json.dumps(meta, indent=layout.meta_indent))

    rng, per_kind = pairs
    chosen = _draw_pairs(rng, photos[identities:], per_kind, layout.random_partner)
    gt = _write_pairs(test_dir, rng, chosen, landmark_rows, layout.folder_width)
    write_csv(out / C.GT_FILE, pd.DataFrame(gt, columns=[C.PAIR_ID, C.PAIR_LABEL, C.KIND]))
    values = np.stack([lms.reshape(-1) for _, lms in landmark_rows])
    table = pd.DataFrame(
        values if layout.landmark_format else values.round(5), columns=list(C.LANDMARK_COLUMNS)
    )
    table.insert(0, C.PATH, [path for path, _ in landmark_rows])
    write_csv(out / C.LANDMARKS_FILE, table, float_format=layout.landmark_format)
    write_json(out / config[0], config[1])
    return out


def _draw_pairs(rng, people: list[list[Photo]], per_kind: int, random_partner: bool) -> list:
    """As many pairs of each kind, each anchored on a real photo of a held-out person, no two
    alike: a draw of four that repeats a pair (the same two photos) is drawn again."""
    reals = [[p for p in person if not p[2]] for person in people]
    fakes = [[p for p in person if p[2]] for person in people]
    pairs: list = []
    seen: set = set()  # the two photos of each pair (they tell its kind)
    tries = 20 * per_kind + 100  # plenty unless the people are too few for distinct pairs
    while len(pairs) < 4 * per_kind:
        if (tries := tries - 1) < 0:
            raise ValueError(f"too few held-out people for {per_kind} distinct pairs of each kind")
        a, b = rng.choice(len(people), 2, replace=False)
        i, j = rng.choice(len(reals[a]), 2, replace=False)
        partner = reals[b][rng.integers(len(reals[b])) if random_partner else j]
        p, q = (j, i) if random_partner else (i, j)  # a's photos in the other three kinds
        fake_a = fakes[a][rng.integers(len(fakes[a]))]
        fake_b = fakes[b][rng.integers(len(fakes[b]))]
        draw = [
            (reals[a][i], reals[a][j], 1, C.SAME),
            (reals[a][p], partner, 0, C.DIFFERENT),
            (reals[a][q], fake_a, 0, C.FAKE_SAME),
            (reals[a][p], fake_b, 0, C.FAKE_OTHER),
        ]
        keys = [frozenset((id(first), id(second))) for first, second, *_ in draw]
        if seen.isdisjoint(keys):
            seen.update(keys)
            pairs += draw
    return pairs


def _write_pairs(test_dir: Path, rng, pairs: list, landmark_rows: list, width: int) -> list:
    """The pairs in shuffled order, each with its two photos in random order."""
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
    return rows


def write_once(
    out: Path, config_file: str, config: dict, write: Callable[[Path], object], rewrite: bool
) -> Path:
    """The data set of ``config`` in ``out``, written by ``write(folder)`` if not there yet.

    A folder made with another configuration is an error, never silently replaced; an
    unfinished one (no gt.csv or no config file) is written again if ``rewrite``, else an error.
    Processes asking at the same time wait for the one that writes it."""
    expected = json.loads(json.dumps(config))
    with file_lock(out.with_name(out.name + ".lock")):
        path = out / config_file
        stored = json.loads(path.read_text()) if path.is_file() else None
        if stored == expected and (out / C.GT_FILE).is_file():
            return out
        if stored not in (None, expected):
            raise FileExistsError(
                f"{out} holds a data set made with another configuration "
                f"({path}); delete the folder or ask for another one"
            )
        if out.exists() and any(out.iterdir()):
            if not rewrite:
                raise FileExistsError(
                    f"{out} exists, is not empty and holds no finished data set "
                    f"(no {config_file} and {C.GT_FILE}); delete it to regenerate"
                )
            shutil.rmtree(out)
        tmp = out.with_name(out.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        write(tmp)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    return out


def run_command_line(
    config_class, write: Callable, prog: str, doc: str, argv=None, aliases: dict | None = None
) -> None:
    """``prog OUT [--field-name VALUE ...]``: one option per field of the dataclass
    ``config_class`` (also ``--<alias>`` for each of ``aliases``, alias -> field), then
    ``write(OUT, config)``."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.strip().split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (official layout)")
    for f in fields(config_class):
        names = [f.name] + [alias for alias, name in (aliases or {}).items() if name == f.name]
        kind = float if isinstance(f.default, float) else int
        flags = ["--" + name.replace("_", "-") for name in names]
        parser.add_argument(*flags, dest=f.name, type=kind, default=f.default, help="%(default)s")
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    print(f"wrote {write(out, config_class(**args))}")

"""Writing a generated face data set in the official layout, for :mod:`krypto.data.synth` and
:mod:`krypto.data.renderers`, and their command line::

    OUT/train/<id>/<n>.jpg        identities 0 .. identities-1, reals first, then fakes
    OUT/train/meta.json           {"<id>/<n>.jpg": 0 real | 1 fake}
    OUT/hosts.csv                 path,host: every fake of train/, the identity it was made on
    OUT/test_public/<pair>/0.jpg, 1.jpg   pairs of the held-out identities
    OUT/gt.csv                    pair_id,label,kind (the five kinds, as many pairs of each)
    OUT/landmarks.csv             path,<5 points x, y> normalised to [0, 1]
    OUT/<config file>             the parameters it was made with

Paths are relative to OUT; :func:`write_once` writes a whole set into a temporary folder and
renames it when complete.
"""

import argparse
import json
import shutil
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.files import file_lock, write_csv, write_json, write_text

Photo = tuple  # (jpeg bytes, landmarks [5, 2] in [0, 1], host: a fake's host's number, or None)
# in every config file, raised when the generators draw other pixels: an older set is refused
GENERATOR_VERSION = 2


def lookalike_hosts(
    rng: np.random.Generator, features: np.ndarray, pools: list[range], n_fake: int, nearest: int
) -> np.ndarray:
    """The host of every fake ``[n_people, n_fake]``: the person on whose head a face swap is
    made, another of its pool (``pools``: ranges of people, train and test) among the
    ``nearest`` whose ``features`` (``[n_people, F]``) are closest: a fake resembles its person."""
    out = np.empty((len(features), n_fake), dtype=np.int64)
    for pool in pools:
        own = features[pool.start : pool.stop]
        squares = (own**2).sum(1)
        dist = squares[:, None] + squares[None] - 2 * own @ own.T
        np.fill_diagonal(dist, np.inf)  # never oneself
        k = min(nearest, len(own) - 1)
        best = np.argsort(dist, axis=1, kind="stable")[:, :k]
        pick = np.take_along_axis(best, rng.integers(0, k, (len(own), n_fake)), 1)
        out[pool.start : pool.stop] = pool.start + pick
    return out


def write_layout(
    out_dir: str | Path, photos: list[list[Photo]], identities: int, widths, pairs, config
) -> Path:
    """Write ``photos[person]`` in the official layout: the first ``identities`` people in
    train/, the others in the test pairs, drawn with ``pairs`` (a generator, pairs of each kind).
    ``widths``: the zero padding of folder names and pair ids, and of ids in meta.json keys (0:
    none); ``config``: the config file's name and content."""
    out, (folder_width, meta_width) = Path(out_dir), widths
    train_dir, test_dir = out / C.TRAIN_DIR, out / C.TEST_DIR
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    meta, landmark_rows, hosts = {}, [], []  # hosts: (path, host id) of every fake
    for person in range(identities):
        folder = train_dir / f"{person:0{folder_width}d}"
        folder.mkdir(exist_ok=True)
        for number, (data, lms, host) in enumerate(photos[person]):
            (folder / f"{number}.jpg").write_bytes(data)
            meta[f"{person:0{meta_width}d}/{number}.jpg"] = C.REAL if host is None else C.FAKE
            path = f"{C.TRAIN_DIR}/{folder.name}/{number}.jpg"
            landmark_rows.append((path, lms))
            if host is not None:
                if not 0 <= host < identities or host == person:
                    raise ValueError(f"the host {host} of {path} is not another training identity")
                hosts.append((path, f"{host:0{folder_width}d}"))
    write_text(train_dir / C.META_FILE, json.dumps(meta, indent=0))
    write_csv(out / C.HOSTS_FILE, pd.DataFrame(hosts, columns=[C.PATH, C.HOST]))
    rng, per_kind = pairs
    chosen = _draw_pairs(rng, photos[identities:], identities, per_kind)
    gt = []  # the pairs in shuffled order, each with its two photos in random order
    for number, k in enumerate(rng.permutation(len(chosen))):
        first, second, label, kind = chosen[k]
        if rng.random() < 0.5:
            first, second = second, first
        pair_id = f"{number:0{folder_width}d}"
        folder = test_dir / pair_id
        folder.mkdir(exist_ok=True)
        for name, (data, lms, _) in zip(C.PAIR_IMAGES, (first, second)):
            (folder / name).write_bytes(data)
            landmark_rows.append((f"{C.TEST_DIR}/{pair_id}/{name}", lms))
        gt.append((pair_id, label, kind))
    write_csv(out / C.GT_FILE, pd.DataFrame(gt, columns=[C.PAIR_ID, C.PAIR_LABEL, C.KIND]))
    paths, points = zip(*landmark_rows)
    table = pd.DataFrame(np.reshape(points, (len(paths), -1)), columns=list(C.LANDMARK_COLUMNS))
    table.insert(0, C.PATH, paths)
    write_csv(out / C.LANDMARKS_FILE, table, float_format="%.5f")
    write_json(out / config[0], {**config[1], "generator_version": GENERATOR_VERSION})
    return out


def _draw_pairs(rng, people: list[list[Photo]], first: int, per_kind: int) -> list:
    """``per_kind`` pairs of each kind among the held-out ``people`` (numbered from ``first``),
    each a real photo of a person ``a`` and a photo drawn from the kind's partners (below), no
    pair twice: a draw that repeats a pair is drawn again."""
    reals = [[p for p in person if p[2] is None] for person in people]
    fakes = [[p for p in person if p[2] is not None] for person in people]
    hosted: list[list] = [[] for _ in people]  # the fakes made on a photo of each person
    for person, own in enumerate(fakes):
        for fake in own:
            if not 0 <= fake[2] - first < len(people) or fake[2] - first == person:
                raise ValueError(
                    f"the host {fake[2]} of a fake of {person + first} is not another held-out "
                    f"identity"
                )
            hosted[fake[2] - first].append(fake)
    partners = {  # kind -> the second photo's candidates for people a and b (a != b)
        C.SAME: lambda a, b: reals[a],
        C.DIFFERENT: lambda a, b: reals[b],
        C.FAKE_SAME: lambda a, b: fakes[a],
        C.FAKE_OTHER: lambda a, b: [f for f in fakes[b] if f[2] != a + first],
        C.FAKE_ON_ANCHOR: lambda a, b: hosted[a],
    }
    pairs, seen = [], set()  # seen: the two photos of each pair
    for kind, candidates in partners.items():
        drawn, tries = 0, 20 * per_kind + 100  # plenty unless too few people for distinct pairs
        while drawn < per_kind:
            if (tries := tries - 1) < 0:
                raise ValueError(
                    f"too few held-out people ({len(people)}) for {per_kind} distinct pairs "
                    f"of the kind {kind}"
                )
            a, b = rng.choice(len(people), 2, replace=False)
            anchor = reals[a][rng.integers(len(reals[a]))]
            options = [p for p in candidates(a, b) if p is not anchor]
            if not options:
                continue
            second = options[rng.integers(len(options))]
            key = frozenset((id(anchor), id(second)))
            if key not in seen:
                seen.add(key)
                pairs.append((anchor, second, int(kind == C.SAME), kind))
                drawn += 1
    return pairs


def write_once(out: Path, config_file: str, config: dict, write: Callable, rewrite: bool) -> Path:
    """The data set of ``config`` in ``out``, written by ``write(folder)`` if not there yet (the
    others asking at the same time wait). A folder made with another configuration is an error;
    an unfinished one (no gt.csv or config file) is written again if ``rewrite``, else an error."""
    expected = json.loads(json.dumps({**config, "generator_version": GENERATOR_VERSION}))
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
        if out.exists() and any(out.iterdir()) and not rewrite:
            raise FileExistsError(
                f"{out} exists, is not empty and holds no finished data set "
                f"(no {config_file} and {C.GT_FILE}); delete it to regenerate"
            )
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        write(tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return out


def check_config(config, **bounds) -> None:
    """A ``ValueError`` that names the first field of ``config`` outside its bound: the
    smallest value, or ``(low, high)``; a field that is None is not checked."""
    for name, bound in bounds.items():
        value = getattr(config, name)
        low, high = bound if isinstance(bound, tuple) else (bound, float("inf"))
        if value is not None and not low <= value <= high:
            span = f"at least {low}" if high == float("inf") else f"in [{low}, {high}]"
            raise ValueError(f"{name} must be {span}, got {value}")


def run_command_line(config_class, write: Callable, prog: str, doc: str, argv=None, aliases=None):
    """``prog OUT [--field-name VALUE ...]``, one option per field of the dataclass
    ``config_class`` (and ``--<alias>`` per ``aliases``: alias -> field): ``write(OUT, config)``."""
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

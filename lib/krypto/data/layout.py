"""Reading the challenge's official layout::

    train/<id>/<n>.jpg        photos, real and fake, of identity <id>
    train/meta.json           {"<id>/<n>.jpg": 0 | 1}, 1 = fake
    test_public/<pair_id>/0.jpg, 1.jpg
    hosts.csv                 path,host: only in generated sets (:mod:`krypto.data.dataset_writer`),
                              the identity on whose photo each fake of train/ was made

Identity ids are zero-padded, and not always to the same width in folder names and in meta.json
keys: they are matched by integer value, and the user's files are never rewritten.
"""

import json
import os
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from krypto import constants as C


class DataLayoutError(ValueError):
    """The data does not follow the official layout; the message names the file or folder."""


class IncompletePairError(DataLayoutError):
    """A pair folder lacks one of its two images; ``problem`` names the folder and the files."""

    def __init__(self, problem: str, hint: str = "pass skip_incomplete to list and skip it"):
        self.problem = problem
        super().__init__(f"{problem} ({hint})")


def _problems(text: str):
    """A list field of :class:`DataReport`; ``text`` says what its items are."""
    return field(default_factory=list, metadata={"text": text})


@dataclass
class DataReport:
    """What was wrong with the input, file by file. Nothing here stops a run."""

    missing_in_meta: list[str] = _problems("images not listed in meta.json (left out)")
    missing_images: list[str] = _problems("meta.json keys without an image file (ignored)")
    corrupt: list[str] = _problems("unreadable images (left out)")
    few_reals: list[str] = _problems(
        "identities with fewer than two real photos (kept, never an anchor)"
    )
    no_landmarks: list[str] = _problems("photos where no face was found (landmarks missing)")

    def table(self) -> pd.DataFrame:
        rows = [(problem, item) for problem, items in vars(self).items() for item in items]
        return pd.DataFrame(rows, columns=["problem", "item"])

    def warn(self) -> None:
        """One warning per kind of problem, naming the first files."""
        for problem in fields(self):
            if items := getattr(self, problem.name):
                more = f" and {len(items) - 5} more" if len(items) > 5 else ""
                shown = ", ".join(items[:5]) + more
                warnings.warn(f"{len(items)} {problem.metadata['text']}: {shown}", stacklevel=2)


def _id_key(name: str):
    """Integer value of a zero-padded id; other names are kept as strings."""
    return int(name) if name.isdigit() else name


def read_meta(meta_path: Path) -> dict[tuple, tuple[int, str]]:
    """meta.json as ``{(identity key, file name): (0 | 1, the key as written)}``."""
    if not meta_path.is_file():
        raise DataLayoutError(
            f"no {C.META_FILE} at {meta_path}: the official layout needs "
            f"train/{C.META_FILE} mapping '<id>/<n>.jpg' to 0 (real) or 1 (fake)"
        )
    try:
        raw = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise DataLayoutError(f"{meta_path} is not valid JSON: {error}") from error
    meta = {}
    for key, value in raw.items():
        parts = key.replace("\\", "/").strip("/").split("/")
        if len(parts) != 2 or value not in (0, 1):
            raise DataLayoutError(
                f"{meta_path}: entry {key!r}: {value!r} is not '<id>/<file>': 0 or 1"
            )
        k = (_id_key(parts[0]), parts[1])
        if k in meta:
            raise DataLayoutError(
                f"{meta_path}: {key!r} names the same image as another key "
                f"(ids are compared by integer value)"
            )
        meta[k] = (int(value), key)
    return meta


def unpack_archives(root: Path) -> None:
    """``train.zip`` and ``test_public.zip`` as the challenge publishes them, unpacked into
    ``root`` once (each into a temporary folder, renamed when complete) where ``root/train`` or
    ``root/test_public`` is not there yet. An archive without its folder is an error naming it."""
    for name in (C.TRAIN_DIR, C.TEST_DIR):
        archive, folder = root / f"{name}.zip", root / name
        if folder.exists() or not archive.is_file():
            continue
        tmp = root / f".{name}.unpacking"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except zipfile.BadZipFile as err:
            raise DataLayoutError(f"{archive} is not a readable zip archive: {err}") from err
        inner = tmp / name if (tmp / name).is_dir() else tmp
        if name == C.TRAIN_DIR and not (inner / C.META_FILE).is_file():
            raise DataLayoutError(f"{archive} holds no {name}/{C.META_FILE}")
        inner.rename(folder)
        shutil.rmtree(tmp, ignore_errors=True)


def read_train(data_dir: str | Path, report: DataReport | None = None) -> pd.DataFrame:
    """All listed photos of ``data_dir/train`` (or ``data_dir`` if it holds meta.json), after
    :func:`unpack_archives`: a frame with columns ``identity`` (folder name), ``path`` (absolute)
    and ``is_fake``, sorted by identity then file. Problems are recorded in ``report``."""
    root = Path(data_dir).expanduser().resolve()
    unpack_archives(root)
    train = root / C.TRAIN_DIR if (root / C.TRAIN_DIR).is_dir() else root
    if not train.is_dir():
        raise DataLayoutError(f"{root} is not a folder")
    report = report if report is not None else DataReport()
    meta = read_meta(train / C.META_FILE)
    folders: dict = {}
    for folder in sorted(p for p in train.iterdir() if p.is_dir()):
        key = _id_key(folder.name)
        if key in folders:
            raise DataLayoutError(
                f"folders {folders[key].name} and {folder.name} in {train} are "
                f"the same identity id {key}"
            )
        folders[key] = folder
    if not folders:
        raise DataLayoutError(f"{train} has no identity folders (expected train/<id>/<n>.jpg)")
    rows = []
    for key, folder in folders.items():
        for image in sorted(folder.iterdir(), key=lambda p: (len(p.name), p.name)):
            if image.suffix.lower() not in C.IMAGE_SUFFIXES or not image.is_file():
                continue
            entry = meta.pop((key, image.name), None)  # what is left names no image
            if entry is None:
                report.missing_in_meta.append(str(image))
                continue
            rows.append((folder.name, str(image), bool(entry[0])))
    report.missing_images += [f"{train / C.META_FILE}: {raw}" for _, raw in meta.values()]
    frame = pd.DataFrame(rows, columns=[C.IDENTITY, C.PATH, C.IS_FAKE])
    if frame.empty:
        raise DataLayoutError(
            f"no image of {train} is listed in {C.META_FILE}: check that its "
            f"keys are '<id>/<file>' with the folder names' ids"
        )
    return frame


def read_hosts(data_dir: str | Path, train: pd.DataFrame) -> pd.Series:
    """The host of every photo of ``train`` (:func:`read_train`'s frame of ``data_dir``): the
    folder name of the identity on whose photo a fake was made, "" for a real photo or without
    ``data_dir/hosts.csv`` (the challenge's data; ``path,host``: each fake's path relative to
    ``data_dir`` and its host's id). A fake without an entry, an entry given twice or naming no
    fake of train/, and a host that is no other identity of train/ are errors naming it."""
    path = Path(data_dir).expanduser().resolve() / C.HOSTS_FILE
    hosts = pd.Series("", index=train.index, dtype=object)
    if not path.is_file():
        return hosts
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(table.columns) != [C.PATH, C.HOST]:
        raise DataLayoutError(f"{path} has columns {list(table.columns)}, not {C.PATH},{C.HOST}")
    row_of = dict(zip(train[C.PATH], train.index))
    folders = {_id_key(name): name for name in train[C.IDENTITY].unique()}
    for line, (photo, host) in enumerate(table.itertuples(index=False), start=2):
        where = f"{path}, line {line} ({photo},{host})"
        row = row_of.get(str(path.parent / photo))
        if row is None and (path.parent / photo).is_file():
            continue  # a photo that meta.json does not list: left out, reported by read_train
        if row is None or not train.at[row, C.IS_FAKE] or hosts[row]:
            raise DataLayoutError(f"{where}: not a fake photo of train/ named once")
        name = folders.get(_id_key(host))
        if name is None or name == train.at[row, C.IDENTITY]:
            raise DataLayoutError(f"{where}: the host {host!r} is no other identity of train/")
        hosts[row] = name
    missing = train.loc[train[C.IS_FAKE] & (hosts == ""), C.PATH]
    if len(missing):
        raise DataLayoutError(
            f"{path} names no host of {len(missing)} fakes: {missing.iloc[0]}, ..."
        )
    return hosts


def read_pairs(pairs_dir: str | Path, skip_incomplete=False, skipped=None) -> pd.DataFrame:
    """The pair folders of a ``test_public`` directory: columns ``pair_id`` (the folder name,
    zero padding kept), ``path_a`` and ``path_b`` (its 0.jpg and 1.jpg). A folder without both
    images is an error naming it, or with ``skip_incomplete`` left out and added to ``skipped``."""
    root = Path(pairs_dir).expanduser().resolve()
    if not root.is_dir():
        raise DataLayoutError(f"pairs folder {root} does not exist")
    rows = []
    with os.scandir(root) as entries:  # one listing, no stat per folder
        folders = sorted(entry.path for entry in entries if entry.is_dir())
    for folder in folders:
        a, b = (os.path.join(folder, name) for name in C.PAIR_IMAGES)
        missing = [os.path.basename(p) for p in (a, b) if not os.path.isfile(p)]
        if missing:
            message = f"pair folder {folder} lacks {', '.join(missing)}"
            if not skip_incomplete:
                raise IncompletePairError(message)
            if skipped is not None:
                skipped.append(message)
            continue
        rows.append((os.path.basename(folder), a, b))
    if not rows:
        raise DataLayoutError(f"{root} holds no pair folders <pair_id>/0.jpg, 1.jpg")
    return pd.DataFrame(rows, columns=[C.PAIR_ID, C.PATH_A, C.PATH_B])


def read_gt(gt_path: str | Path) -> pd.DataFrame:
    """A ground-truth file ``pair_id,label[,kind]`` with pair ids kept as strings."""
    path = Path(gt_path)
    if not path.is_file():
        raise DataLayoutError(f"ground truth {path} does not exist")
    gt = pd.read_csv(path, dtype={C.PAIR_ID: str}, keep_default_na=False)
    for column in (C.PAIR_ID, C.PAIR_LABEL):
        if column not in gt.columns:
            raise DataLayoutError(f"{path} has no column {column!r} (columns: {list(gt.columns)})")
    return gt

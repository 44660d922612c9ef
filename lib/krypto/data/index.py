"""The index table of a data set, its identity-wise split and its validation pairs.

The index has open-metric-learning's columns (``label, path, split, is_query, is_gallery``) plus
``is_fake``, ``identity``, ``host`` (a fake's host's label from a generated set's hosts.csv, -1
unknown) and the five landmarks, one row per decodable photo. ``prepare`` builds all of it
once per (data set, seed, val_ratio, landmarks) and caches it.
"""

import hashlib
import json
import shutil
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from krypto import constants as C
from krypto.data.alignment import detect_faces
from krypto.data.images import decode_many
from krypto.data.landmarks import detect_mtcnn, read_ground_truth
from krypto.data.layout import DataReport, read_hosts, read_train
from krypto.files import file_lock, write_csv, write_text
from krypto.paths import resolve_path

LANDMARK_MODES = ("auto", "mtcnn", "none")
PAIR_COLUMNS = (C.PAIR_ID, "row_a", "row_b", C.KIND, C.PAIR_LABEL, C.PATH_A, C.PATH_B)


def split_by_identity(labels: np.ndarray, val_ratio: float, seed: int, test_ratio=0.0):
    """The split of every row ``[N]``: ``C.TRAIN``, ``C.VALID`` or ``C.TEST``, by identity
    (seeded). The test identities are drawn first, then the validation ones among the rest, so
    adding a test split leaves ``val_ratio``'s meaning (a share of all identities) unchanged."""
    if not 0.0 <= val_ratio < 1.0 or not 0.0 <= test_ratio < 1.0 or val_ratio + test_ratio >= 1:
        raise ValueError(
            f"val_ratio and test_ratio must be in [0, 1) with a sum below 1, got "
            f"{val_ratio} and {test_ratio}"
        )
    ids = np.unique(labels)
    n_ids = len(ids)
    rng = np.random.default_rng(seed)
    held = {}
    for name, ratio in ((C.TEST, test_ratio), (C.VALID, val_ratio)):
        n = int(round(n_ids * ratio))
        if ratio > 0 and n < 2:
            raise ValueError(
                f"{name} ratio {ratio} leaves {n} identities out of {n_ids}; "
                f"at least 2 are needed for pairs of two people"
            )
        held[name] = rng.choice(ids, n, replace=False) if ratio > 0 else ids[:0]
        ids = np.setdiff1d(ids, held[name])
    split = np.full(len(labels), C.TRAIN, dtype=object)
    split[np.isin(labels, held[C.VALID])] = C.VALID
    split[np.isin(labels, held[C.TEST])] = C.TEST
    return split


def build_index(
    data_dir: str | Path,
    val_ratio: float = 0.2,
    seed: int = 0,
    landmarks: str = "auto",
    device: str = "cpu",
    report: DataReport | None = None,
    progress: bool = True,
    test_ratio: float = 0.0,
    align: bool = False,
) -> pd.DataFrame:
    """The index table of ``data_dir`` (official layout). Corrupt photos are left out and named
    in ``report``; identities with fewer than two real photos are kept and named there.
    ``align``: every photo that the generator's ground truth lacks gets the landmarks of
    :func:`krypto.data.alignment.detect_faces`; those without a face are named in the report."""
    if landmarks not in LANDMARK_MODES:
        raise ValueError(f"landmarks must be one of {LANDMARK_MODES}, got {landmarks!r}")
    if align and landmarks == "none":
        raise ValueError("align=True needs landmarks: landmarks='auto' or 'mtcnn'")
    report = report if report is not None else DataReport()
    root = Path(data_dir).expanduser().resolve()
    frame = read_train(root, report)
    frame[C.HOST] = read_hosts(root, frame)
    # decode every photo once: a file that does not decode is reported here, never mid-epoch
    _, failures = decode_many(frame[C.PATH], size=16, progress=progress, desc="checking images")
    if failures:
        report.corrupt += [message for _, message in failures]
        frame = frame.drop(index=[i for i, _ in failures]).reset_index(drop=True)
    frame[C.LABEL], identities = pd.factorize(frame[C.IDENTITY])
    frame[C.HOST] = identities.get_indexer(frame[C.HOST])  # -1: real, or the host is unknown
    frame[C.SPLIT] = split_by_identity(frame[C.LABEL].to_numpy(), val_ratio, seed, test_ratio)
    frame[C.IS_QUERY] = frame[C.SPLIT] == C.VALID
    frame[C.IS_GALLERY] = frame[C.IS_QUERY]
    reals = (~frame[C.IS_FAKE]).groupby(frame[C.IDENTITY], sort=False).sum()
    report.few_reals += reals.index[reals < 2].astype(str).tolist()
    paths, gt_file = frame[C.PATH], root / C.LANDMARKS_FILE
    detect = detect_faces if align else detect_mtcnn
    if landmarks == "none":
        points = np.full((len(paths), 10), np.nan, dtype=np.float32)
    elif landmarks == "auto" and gt_file.is_file():
        points = read_ground_truth(gt_file, root, paths)
        gaps = np.isnan(points).any(1)
        if align and gaps.any():
            points[gaps] = detect(list(np.asarray(paths)[gaps]), device=device, progress=progress)
    else:
        points = detect(paths, device=device, progress=progress)
    frame[list(C.LANDMARK_COLUMNS)] = points.astype(np.float64)  # as read back from index.csv
    if landmarks != "none":
        report.no_landmarks += frame.loc[np.isnan(points).any(1), C.PATH].tolist()
    return frame[list(C.INDEX_COLUMNS)]


def validation_pairs(index: pd.DataFrame, pairs_per_kind=1000, seed=0, split=C.VALID):
    """Pairs of the five kinds among the photos of ``split`` (the validation photos): columns
    ``pair_id, path_a, path_b, label, kind`` and the row numbers ``row_a, row_b`` in ``index``.
    ``same``: every pair of real photos of one identity (sampled down to ``pairs_per_kind``);
    then as many pairs of each negative kind, each anchored on a real photo: ``different`` (a
    real photo of another identity), ``fake_same`` (a fake of the anchor's identity),
    ``fake_other`` (a fake of another identity, not made on the anchor's photo);
    ``fake_on_anchor``: a real photo of an identity and a fake of another identity of ``split``
    made on its photo (``host``), as many as there are up to the others' count."""
    rng = np.random.default_rng(seed)
    val = index[index[C.SPLIT] == split]
    real, fake = val[~val[C.IS_FAKE]], val[val[C.IS_FAKE]]
    real_rows = {k: g.index.to_numpy() for k, g in real.groupby(C.LABEL)}
    fake_rows = {k: g.index.to_numpy() for k, g in fake.groupby(C.LABEL)}
    same = [pair for rows in real_rows.values() for pair in combinations(rows, 2)]
    if not same:
        raise ValueError(
            f"the {split} split has no identity with two real photos: "
            f"raise its ratio or check the data"
        )
    if len(same) > pairs_per_kind:
        same = [same[i] for i in rng.choice(len(same), pairs_per_kind, replace=False)]
    n = len(same)
    anchors = rng.choice(real.index.to_numpy(), n)
    anchor_label = index.loc[anchors, C.LABEL].to_numpy()

    def other(pool: pd.DataFrame, kind: str) -> list:
        """A pair of ``kind`` for each anchor: a row of ``pool`` of another identity, not made
        on the anchor's identity's photo (no pair where there is none)."""
        pairs = []
        for anchor, lab in zip(anchors, anchor_label):
            keep = (pool[C.LABEL].to_numpy() != lab) & (pool[C.HOST].to_numpy() != lab)
            if keep.any():
                pairs.append((anchor, rng.choice(pool.index[keep]), kind))
        return pairs

    rows = [(a, b, C.SAME) for a, b in same] + other(real, C.DIFFERENT)
    with_fakes = [a for a in anchors if index.at[a, C.LABEL] in fake_rows]
    rows += [(a, rng.choice(fake_rows[index.at[a, C.LABEL]]), C.FAKE_SAME) for a in with_fakes]
    rows += other(fake, C.FAKE_OTHER)
    hosted = fake[fake[C.HOST].isin(list(real_rows))]  # made on a photo of one of the split
    on_anchor = [(a, f) for f, h in zip(hosted.index, hosted[C.HOST]) for a in real_rows[h]]
    if len(on_anchor) > n:
        on_anchor = [on_anchor[i] for i in rng.choice(len(on_anchor), n, replace=False)]
    rows += [(a, f, C.FAKE_ON_ANCHOR) for a, f in on_anchor]
    pairs = pd.DataFrame(rows, columns=["row_a", "row_b", C.KIND])
    pairs[C.PAIR_LABEL] = (pairs[C.KIND] == C.SAME).astype(int)
    pairs[C.PATH_A] = index.loc[pairs["row_a"], C.PATH].to_numpy()
    pairs[C.PATH_B] = index.loc[pairs["row_b"], C.PATH].to_numpy()
    pairs[C.PAIR_ID] = [f"{i:08d}" for i in range(len(pairs))]
    return pairs[list(PAIR_COLUMNS)]


def pair_rows(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The index rows a pair table needs, each once (``rows`` ``[M]``), and for every pair the
    positions of its two photos in ``rows`` (``[n_pairs]`` each): embed ``rows`` once, then
    score ``embeddings[a]`` against ``embeddings[b]``."""
    rows = np.unique(np.concatenate([pairs["row_a"], pairs["row_b"]]))
    return rows, np.searchsorted(rows, pairs["row_a"]), np.searchsorted(rows, pairs["row_b"])


def write_pairs_layout(pairs: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write pairs in the test_public layout, ``out_dir/test_public/<pair_id>/0.jpg, 1.jpg``
    (hard links where possible), with ``out_dir/gt.csv`` (``pair_id,label,kind``)."""
    out = Path(out_dir)
    test = out / C.TEST_DIR
    test.mkdir(parents=True, exist_ok=True)
    for pid, a, b in pairs[[C.PAIR_ID, C.PATH_A, C.PATH_B]].itertuples(index=False):
        folder = test / pid
        folder.mkdir(exist_ok=True)
        for src, name in ((a, C.PAIR_IMAGES[0]), (b, C.PAIR_IMAGES[1])):
            dst = folder / name
            dst.unlink(missing_ok=True)
            try:
                dst.hardlink_to(src)
            except OSError:
                shutil.copyfile(src, dst)
    write_csv(out / C.GT_FILE, pairs[[C.PAIR_ID, C.PAIR_LABEL, C.KIND]])
    return out


@dataclass
class PreparedData:
    """An indexed data set: the index table, the validation pairs and what was wrong."""

    index: pd.DataFrame
    pairs: pd.DataFrame
    report: DataReport
    folder: Path  # where index.csv and pairs.csv live
    root: Path | None = None  # the data set's folder (official layout)

    def summary(self) -> pd.DataFrame:
        """Identities, real and fake photos per split."""
        g = self.index.groupby(C.SPLIT)
        fakes = g[C.IS_FAKE].sum().astype(int)
        photos = {"real photos": g.size() - fakes, "fake photos": fakes}
        table = pd.DataFrame({"identities": g[C.LABEL].nunique(), **photos})
        table.loc["total"] = table.sum()
        return table

    def results(self) -> dict:
        """What 01_preprocess records: the index file, counts, the summary, the validation
        pairs per kind and the problems found per kind."""
        issues = self.report.table()
        return {
            "index": self.folder / C.INDEX_FILE,
            "n_photos": len(self.index),
            "n_identities": int(self.index[C.LABEL].nunique()),
            "summary": self.summary().to_dict(orient="index"),
            "pairs": self.pairs[C.KIND].value_counts().to_dict(),
            "problems": issues.groupby("problem").size().to_dict() if len(issues) else {},
        }


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """A data set folder: ``""``/``None``/``"synthetic"`` is the embedded synthetic set,
    ``"synthetic:<preset>"`` another preset of :mod:`krypto.data.synth` (``tiny`` for smoke tests),
    ``"<renderer>:key=value,..."`` a data set drawn by another renderer of
    :mod:`krypto.data.renderers` (``"portrait:identities=200,size=64"``; written on first use),
    anything else a path (relative paths from the repository root)."""
    from krypto.data.renderers import RENDERERS, dataset_path
    from krypto.data.synth import preset_dataset

    text = str(data_dir or "")
    if text in ("", "synthetic"):
        return preset_dataset("default")
    if text.startswith("synthetic:"):
        return preset_dataset(text.split(":", 1)[1])
    if text.partition(":")[0] in RENDERERS:
        return dataset_path(text)
    root = resolve_path(text).resolve()
    if not root.exists():
        raise FileNotFoundError(f"data_dir {root} does not exist")
    return root


def prepare(
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    val_ratio: float = 0.2,
    seed: int = 0,
    landmarks: str = "auto",
    pairs_per_kind: int = 1000,
    device: str = "cpu",
    progress: bool = True,
    overwrite: bool = False,
    test_ratio: float = 0.0,
    align: bool = False,
) -> PreparedData:
    """Index ``data_dir`` (see :func:`resolve_data_dir`), split it by identity and draw the
    validation pairs, written to ``out_dir`` (default: a cache folder keyed by the arguments)
    and reused when prepared there with the same arguments; a folder prepared with others is
    replaced only with ``overwrite``. ``align``: see :func:`build_index`.
    ``test_ratio`` > 0 also holds out that share of identities as a test split, never trained
    on nor used for any choice, its pairs written in the challenge's layout to ``<out>/test/``
    (``test_public/`` and ``gt.csv``), for data sets without a labelled test."""
    root = resolve_data_dir(data_dir)
    key = {"data_dir": str(root), "val_ratio": val_ratio, "seed": seed, "landmarks": landmarks}
    key["pairs_per_kind"] = pairs_per_kind
    # test_ratio and align absent at their defaults, so that earlier caches stay valid
    key.update({k: v for k, v in (("test_ratio", test_ratio), ("align", align)) if v})
    if (root / C.HOSTS_FILE).is_file():  # a generated set: its fakes' hosts
        key["hosts"] = hashlib.sha1((root / C.HOSTS_FILE).read_bytes()).hexdigest()[:12]
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    out = Path(out_dir) if out_dir else C.CACHE_DIR / f"{root.name}-{digest}"
    manifest, report_file = out / "prepared.json", out / "data_report.json"
    index_file, pairs_file = out / C.INDEX_FILE, out / C.PAIRS_FILE
    with file_lock(out.with_name(out.name + ".lock")):
        if manifest.is_file():
            stored = json.loads(manifest.read_text())
            if stored == key:
                index = pd.read_csv(index_file, dtype={C.IDENTITY: str})
                pairs = pd.read_csv(pairs_file, dtype={C.PAIR_ID: str})
                report = DataReport(**json.loads(report_file.read_text()))
                return PreparedData(index, pairs, report, out, root)
            if not overwrite:
                raise FileExistsError(
                    f"{out} was prepared with other arguments ({stored}); pass "
                    f"overwrite=True to replace it, or choose another folder"
                )
        report = DataReport()
        index = build_index(
            root, val_ratio, seed, landmarks, device, report, progress, test_ratio, align
        )
        pairs = pd.DataFrame(columns=list(PAIR_COLUMNS))
        if val_ratio > 0:
            pairs = validation_pairs(index, pairs_per_kind, seed)
        out.mkdir(parents=True, exist_ok=True)
        if test_ratio > 0:
            shutil.rmtree(out / C.HELDOUT_DIR, ignore_errors=True)
            test_pairs = validation_pairs(index, pairs_per_kind, seed + 1, split=C.TEST)
            write_pairs_layout(test_pairs, out / C.HELDOUT_DIR)
        write_csv(index_file, index)
        write_csv(pairs_file, pairs)
        write_text(report_file, json.dumps(vars(report), indent=1))
        write_text(manifest, json.dumps(key, indent=1))  # last: it marks the folder complete
    report.warn()
    return PreparedData(index, pairs, report, out, root)

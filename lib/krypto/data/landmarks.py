"""Five facial landmarks per photo: the synthetic set's ground truth, or MTCNN for real photos.

Points, in order: left eye, right eye, nose, left and right mouth corner (as MTCNN gives them),
stored normalised to [0, 1] by the image's width and height so they survive resizing.
"""

from collections import defaultdict
from contextlib import suppress
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from krypto import constants as C
from krypto.data.images import CorruptImageError, read_rgb


def read_ground_truth(landmarks_csv: str | Path, data_root: str | Path, paths) -> np.ndarray:
    """Landmarks ``[n, 10]`` of ``paths`` from a generator's ``landmarks.csv`` (keyed by paths
    relative to ``data_root``); NaN where the file has no row."""
    table = pd.read_csv(landmarks_csv)
    root = Path(data_root).resolve()
    table.index = [str((root / p).resolve()) for p in table[C.PATH]]
    rows = table[~table.index.duplicated()].reindex([str(Path(p).resolve()) for p in paths])
    return rows[list(C.LANDMARK_COLUMNS)].to_numpy(dtype=np.float32)


def detect_mtcnn(paths, device="cpu", batch_size=32, progress=True, margin=0.0) -> np.ndarray:
    """MTCNN (facenet-pytorch; its weights ship in the wheel) landmarks ``[n, 10]`` of the most
    confident face of each photo, NaN where no face is found or the file does not decode.
    Photos are grouped by the size in their headers (MTCNN batches only equal sizes) and decoded
    a batch at a time. ``margin`` > 0: a photo whose face box crosses its border is detected
    again, padded with black by that share of its longer side (facenet-pytorch stretches a box
    cut by the border, which misplaces the landmarks of a face that fills its photo)."""
    from facenet_pytorch import MTCNN
    from tqdm.auto import tqdm

    paths = list(paths)
    detector = MTCNN(keep_all=True, device=device)
    out = np.full((len(paths), 10), np.nan, dtype=np.float32)
    by_size = defaultdict(list)
    for i, path in enumerate(paths):
        with suppress(OSError, UnidentifiedImageError), Image.open(path) as img:  # the header only
            by_size[img.size].append(i)
    total = sum(len(members) for members in by_size.values())
    with tqdm(total=total, desc="landmarks (MTCNN)", unit="img", disable=not progress) as bar:
        for size, members in by_size.items():
            found = _detect_group(detector, paths, members, size, 0, batch_size, bar)
            again = [i for i, (_, crossing) in found.items() if crossing and margin > 0]
            if again:
                pad = round(margin * max(size))
                found.update(_detect_group(detector, paths, again, size, pad, batch_size))
            for i, (xy, _) in found.items():
                out[i] = xy
    return out


def _detect_group(detector, paths, members, size, pad: int, batch_size: int, bar=None) -> dict:
    """``{index: (landmarks [10] normalised, whether the face box crosses the border)}`` of the
    photos ``members`` of ``paths``, all of ``size`` (width, height), padded by ``pad`` pixels;
    photos without a face or that do not decode are left out."""
    width, height = size
    found = {}
    for start in range(0, len(members), batch_size):
        batch, chunk, images = members[start : start + batch_size], [], []
        for i in batch:
            try:
                image = read_rgb(paths[i])
            except CorruptImageError:
                continue
            images.append(ImageOps.expand(image, pad) if pad else image)
            chunk.append(i)
        if bar is not None:
            bar.update(len(batch))
        if not images:
            continue
        boxes, probs, points = detector.detect(images, landmarks=True)
        for i, box, prob, pts in zip(chunk, boxes, probs, points):
            if pts is None or prob is None or len(pts) == 0:
                continue
            best = int(np.nanargmax(np.asarray(prob, dtype=np.float64)))
            xy = (np.asarray(pts[best], dtype=np.float32) - pad) / [width, height]
            x0, y0, x1, y1 = np.asarray(box[best], dtype=np.float64) - pad
            found[i] = (xy.reshape(-1), x0 < 0 or y0 < 0 or x1 > width or y1 > height)
    return found

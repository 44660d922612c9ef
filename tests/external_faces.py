"""An independent stand-in data set for acceptance checks: written with PIL's drawing primitives
and its own traits, not with :mod:`krypto.data.synth`, in the official layout.

A person is a face outline, hair, two eyes, a nose and a mouth of their own colours and sizes;
photos vary in position, size, light and JPEG quality. A fake of person X pastes a blurred,
slightly recoloured crop of a photo of X over a photo of another person with X-like hair and
skin, through a soft elliptic mask.

``python -m tests.external_faces OUT [--identities 160]`` writes ``OUT/train`` (with
``meta.json``), ``OUT/test_public`` and ``OUT/gt.csv``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

SIZE = 64


def _person(rng: random.Random) -> dict:
    def colour(base, spread):
        return tuple(max(0, min(255, c + rng.randint(-spread, spread))) for c in base)

    return {
        "skin": colour((200, 160, 130), 50),
        "hair": colour((80, 60, 40), 70),
        "eyes": colour((60, 90, 120), 60),
        "lips": colour((170, 80, 80), 40),
        "face": (rng.randint(17, 23), rng.randint(22, 27)),
        "eye_gap": rng.randint(6, 10),
        "eye_size": rng.randint(2, 4),
        "nose": rng.randint(4, 9),
        "mouth": rng.randint(5, 10),
        "eye_y": rng.randint(-7, -2),
        "mouth_y": rng.randint(9, 14),
    }


def _photo(p: dict, rng: random.Random) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), tuple(rng.randint(20, 235) for _ in range(3)))
    d = ImageDraw.Draw(img)
    cx, cy = SIZE // 2 + rng.randint(-4, 4), SIZE // 2 + rng.randint(-3, 3)
    fw, fh = p["face"]
    d.ellipse([cx - fw - 3, cy - fh - 4, cx + fw + 3, cy + fh - 4], fill=p["hair"])
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=p["skin"])
    ey = cy + p["eye_y"]
    for side in (-1, 1):
        ex = cx + side * p["eye_gap"]
        s = p["eye_size"]
        d.ellipse([ex - s - 1, ey - s, ex + s + 1, ey + s], fill=(240, 240, 240))
        d.ellipse([ex - s + 1, ey - s + 1, ex + s - 1, ey + s - 1], fill=p["eyes"])
    d.line([cx, ey + 3, cx, ey + 3 + p["nose"]], fill=tuple(c - 40 for c in p["skin"]), width=2)
    my = cy + p["mouth_y"]
    d.ellipse(
        [cx - p["mouth"], my - 2, cx + p["mouth"], my + 2 + rng.randint(0, 2)], fill=p["lips"]
    )
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.75, 1.25))
    return img


def _fake(x: dict, lookalike: dict, rng: random.Random) -> Image.Image:
    source = _photo(x, rng).filter(ImageFilter.GaussianBlur(1.2))
    source = ImageEnhance.Color(source).enhance(rng.uniform(0.6, 1.4))
    target = _photo(lookalike, rng)
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).ellipse(
        [SIZE // 2 - 15, SIZE // 2 - 14, SIZE // 2 + 15, SIZE // 2 + 19], fill=255
    )
    return Image.composite(source, target, mask.filter(ImageFilter.GaussianBlur(2)))


def write(
    out: str | Path,
    identities: int = 160,
    test_identities: int = 40,
    real: int = 6,
    fake: int = 3,
    pairs_per_kind: int = 100,
    seed: int = 0,
) -> Path:
    rng = random.Random(seed)
    out = Path(out)
    people = [_person(rng) for _ in range(identities + test_identities)]

    def lookalike_of(p):
        other = dict(_person(rng))
        other.update(skin=p["skin"], hair=p["hair"], face=p["face"])
        return other

    meta, test = {}, {}
    for i, p in enumerate(people):
        photos = [(_photo(p, rng), 0) for _ in range(real)]
        photos += [(_fake(p, lookalike_of(p), rng), 1) for _ in range(fake)]
        if i < identities:
            folder = out / "train" / f"{i:06d}"  # six digits here, another width in meta.json
            folder.mkdir(parents=True, exist_ok=True)
            for n, (img, is_fake) in enumerate(photos):
                img.save(folder / f"{n}.jpg", quality=rng.randint(60, 95))
                meta[f"{i}/{n}.jpg"] = is_fake
        else:
            test[i] = photos
    (out / "train" / "meta.json").write_text(json.dumps(meta))
    rows, ids = [], sorted(test)
    for k in range(pairs_per_kind):
        a, b = rng.sample(ids, 2)
        reals_a = [img for img, f in test[a] if not f]
        fakes = {i: [img for img, f in test[i] if f] for i in (a, b)}
        real_b = [img for img, f in test[b] if not f]
        rows += [
            (reals_a[0], reals_a[1 + k % (real - 1)], 1, "same"),
            (reals_a[0], real_b[0], 0, "different"),
            (reals_a[k % real], rng.choice(fakes[a]), 0, "fake_same"),
            (reals_a[k % real], rng.choice(fakes[b]), 0, "fake_other"),
        ]
    rng.shuffle(rows)
    gt = ["pair_id,label,kind"]
    for n, (first, second, label, kind) in enumerate(rows):
        folder = out / "test_public" / f"{n:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        first.save(folder / "0.jpg", quality=90)
        second.save(folder / "1.jpg", quality=90)
        gt.append(f"{n:05d},{label},{kind}")
    (out / "gt.csv").write_text("\n".join(gt) + "\n")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--identities", type=int, default=160)
    args = parser.parse_args()
    print(write(args.out, args.identities))

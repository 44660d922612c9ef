"""An independent stand-in data set for acceptance checks: written with PIL's drawing primitives
and its own traits, not with :mod:`krypto.data.synth`, in the official layout.

A person is a face outline, hair, two eyes, a nose and a mouth of their own colours and sizes;
photos vary in position, size, light and JPEG quality. A fake of person X pastes a blurred,
slightly recoloured crop of a photo of X over a photo of its host: another person of the set
(of train/ for a fake in train/, of the held-out people for a test pair), one of the three
whose hair, skin and face size are closest to X's.

``python -m tests.external_faces OUT [--identities 160]`` writes ``OUT/train`` (with
``meta.json``), ``OUT/hosts.csv`` (``path,host`` of every fake of train/), ``OUT/test_public``
and ``OUT/gt.csv`` (the five pair kinds, ``pairs_per_kind`` of each; a ``fake_other`` pair's
fake is not made on the anchor's photo unless two held-out people leave no other).
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


def _fake(x: dict, host: dict, rng: random.Random) -> Image.Image:
    source = _photo(x, rng).filter(ImageFilter.GaussianBlur(1.2))
    source = ImageEnhance.Color(source).enhance(rng.uniform(0.6, 1.4))
    target = _photo(host, rng)
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
    pools = [range(identities), range(identities, len(people))]

    def look(p):
        return [*p["skin"], *p["hair"], *(4 * v for v in p["face"])]

    def host_of(i):  # one of the three people of i's pool who look most like i
        others = [j for j in pools[i >= identities] if j != i]
        others.sort(
            key=lambda j: sum((a - b) ** 2 for a, b in zip(look(people[i]), look(people[j])))
        )
        return rng.choice(others[:3])

    meta, test, hosts = {}, {}, ["path,host"]
    for i, p in enumerate(people):
        photos = [(_photo(p, rng), None) for _ in range(real)]
        for _ in range(fake):
            host = host_of(i)
            photos.append((_fake(p, people[host], rng), host))
        if i < identities:
            folder = out / "train" / f"{i:06d}"  # six digits here, another width in meta.json
            folder.mkdir(parents=True, exist_ok=True)
            for n, (img, host) in enumerate(photos):
                img.save(folder / f"{n}.jpg", quality=rng.randint(60, 95))
                meta[f"{i}/{n}.jpg"] = int(host is not None)
                if host is not None:
                    hosts.append(f"train/{i:06d}/{n}.jpg,{host}")
        else:
            test[i] = photos
    (out / "train" / "meta.json").write_text(json.dumps(meta))
    (out / "hosts.csv").write_text("\n".join(hosts) + "\n")
    reals = {i: [img for img, host in photos if host is None] for i, photos in test.items()}
    fakes = {
        i: [(img, host) for img, host in photos if host is not None] for i, photos in test.items()
    }
    hosted = {i: [img for j in test for img, host in fakes[j] if host == i] for i in test}
    rows, ids = [], sorted(test)
    for k in range(pairs_per_kind):
        a, b = rng.sample(ids, 2)
        fake_b = [img for img, host in fakes[b] if host != a] or [img for img, _ in fakes[b]]
        anchor = rng.choice([i for i in ids if hosted[i]])
        rows += [
            (reals[a][0], reals[a][1 + k % (real - 1)], 1, "same"),
            (reals[a][0], reals[b][0], 0, "different"),
            (reals[a][k % real], rng.choice(fakes[a])[0], 0, "fake_same"),
            (reals[a][k % real], rng.choice(fake_b), 0, "fake_other"),
            (rng.choice(reals[anchor]), rng.choice(hosted[anchor]), 0, "fake_on_anchor"),
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

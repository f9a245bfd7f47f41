"""The photo test set: official MNIST test digits as a user would photograph or screenshot them.

    python -m tools.photo_set [--seed 0] [--n 400] [--out DIR] [--check]

Two families, half the set each, every image drawn from one seeded generator:

* ``paper``: the digit written in grey (or blue-grey) ink on photographed paper: a light,
  tinted sheet under a linear or radial lighting gradient, often a soft shadow over a corner
  or an edge, paper grain and sensor noise, a little defocus, saved as JPEG or PNG; the digit
  at 20-60 % of the short side, anywhere, a third of them close to (never touching) an edge.
* ``plot``: a screenshot of the digit shown as a plotted image (``imshow``): the 28×28
  digit scaled into square axes, with a box or L-shaped frame, outward tick marks every 5
  pixels and their labels, sometimes a grid over the image and a title; mostly dark ink on
  white (``gray_r``), a quarter white on a black panel (``gray``).

Sizes 200-900 px a side. ``--out`` writes the images; ``--check`` compares the regenerated
set with ``docs/photos/MANIFEST.tsv`` (one SHA-256 per image), which is what the repository
keeps of the set: the generator and its seed regenerate it, and the manifest says whether
this machine's Pillow and NumPy regenerated it byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from explorer.data import load_dataset
from tools.common import ROOT

FAMILIES = ("paper", "plot")
SEED = 0
COUNT = 400
MANIFEST = ROOT / "docs" / "photos" / "MANIFEST.tsv"


@dataclass(frozen=True)
class Photo:
    """One image of the set: its name, family, the digit's label and MNIST test index, the
    file a user would upload (``data``, PNG or JPEG bytes) and what was drawn (``tags``)."""

    name: str
    family: str
    label: int
    test_index: int
    data: bytes
    tags: tuple[str, ...] = ()

    @property
    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data))


def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST test split: uint8 (10000, 28, 28) and int64 labels (10000,)."""
    ds = load_dataset("mnist", "test")
    return ds.images.numpy(), ds.labels.numpy()


def photo_set(seed: int = SEED, n: int = COUNT) -> list[Photo]:
    """``n`` images, alternating families, the same for the same seed (and library versions);
    the first ``m`` of them are the set of ``m``."""
    return list(iter_photos(seed, n))


def iter_photos(seed: int = SEED, n: int = COUNT) -> Iterator[Photo]:
    images, labels = test_digits()
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(images))[:n]  # a smaller set is the start of a larger one
    for k, idx in enumerate(picks):
        family = FAMILIES[k % 2]
        # each image has its own stream, so one image's draws never shift another's
        r = np.random.default_rng([seed, k])
        data, tags = (paper_photo if family == "paper" else plot_screenshot)(images[idx], r)
        ext = "jpg" if data[:2] == b"\xff\xd8" else "png"
        yield Photo(f"{k:04d}_{family}_{int(labels[idx])}.{ext}", family, int(labels[idx]), int(idx), data, tags)


# --------------------------------------------------------------------------- paper photos

def paper_photo(digit: np.ndarray, r: np.random.Generator) -> tuple[bytes, tuple[str, ...]]:
    """A 28×28 uint8 digit written on photographed paper -> the photo's PNG or JPEG bytes, and
    tags saying what was drawn."""
    tags = []
    w, h = (int(v) for v in r.integers(200, 901, 2))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)  # float32 throughout: a 900×900 photo in ~20 ms
    side = min(w, h)
    # the sheet: light, warm-tinted, lit unevenly
    tint = np.array([1.0, r.uniform(0.95, 1.0), r.uniform(0.86, 0.98)], np.float32)
    base = np.float32(r.uniform(0.72, 0.95))
    if r.random() < 0.5:  # linear: brighter towards one side
        tags.append("linear light")
        a = r.uniform(0, 2 * np.pi)
        t = (np.cos(a) * xx + np.sin(a) * yy)
        t = (t - t.min()) / (t.max() - t.min())
        light = 1.0 - np.float32(r.uniform(0.12, 0.35)) * t
    else:  # radial: a lamp's hot spot
        tags.append("radial light")
        cx, cy = r.uniform(0, w), r.uniform(0, h)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / (w * w + h * h)
        light = 1.0 - np.float32(r.uniform(0.2, 0.6) * 0.7) * d2 / d2.max()
    if r.random() < 0.7:  # a soft shadow over a corner or along an edge: a darker wedge
        tags.append("shadow")
        corner = np.array([r.choice([0, w]), r.choice([0, h])], dtype=np.float64)
        a = r.uniform(0, 2 * np.pi)
        normal = np.array([np.cos(a), np.sin(a)])
        if normal @ (np.array([w / 2, h / 2]) - corner) > 0:
            normal = -normal  # points from the image's middle towards the corner
        reach = r.uniform(0.15, 0.45) * side  # how far the shadow reaches in from the corner
        dist = (xx - corner[0]) * normal[0] + (yy - corner[1]) * normal[1]  # ≤ 0 inside the image
        soft = r.uniform(0.01, 0.06) * side
        inside = 1.0 / (1.0 + np.exp(np.float32(-1 / soft) * (dist + np.float32(reach))))
        light = light * (1.0 - np.float32(r.uniform(0.2, 0.45)) * inside)
    # the digit: cropped to its ink, scaled so its height is 20-60 % of the short side
    d = digit.astype(np.float64) / 255.0
    rows, cols = np.flatnonzero(d.max(1) > 0.05), np.flatnonzero(d.max(0) > 0.05)
    d = d[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    scale = r.uniform(0.2, 0.6) * side / d.shape[0]
    dw, dh = max(2, round(d.shape[1] * scale)), max(2, round(d.shape[0] * scale))
    dw, dh = min(dw, w - 4), min(dh, h - 4)
    ink = np.asarray(Image.fromarray(d.astype(np.float32)).resize((dw, dh), Image.Resampling.BICUBIC), np.float32)
    ink = np.clip(ink, 0.0, 1.0) * np.clip(1.0 + 0.15 * r.standard_normal((dh, dw), np.float32), 0.6, 1.2)  # pen texture
    gap = max(2, round(r.uniform(0.015, 0.05) * side))
    m = max(gap, round(0.08 * side))
    top = int(r.integers(min(m, h - dh - 2), max(min(m, h - dh - 2) + 1, h - dh - m)))
    left = int(r.integers(min(m, w - dw - 2), max(min(m, w - dw - 2) + 1, w - dw - m)))
    if r.random() < 0.35:  # close to one edge, not touching it
        tags.append("near an edge")
        edge = int(r.integers(4))
        if edge == 0:
            top = gap
        elif edge == 1:
            top = h - dh - gap
        elif edge == 2:
            left = gap
        else:
            left = w - dw - gap
        top, left = max(1, top), max(1, left)
    strength = r.uniform(0.5, 0.82)  # grey ink: never the paper's full depth
    pen = np.array([1.0, 1.0, 1.0] if r.random() < 0.6 else [0.85, 0.85, 0.55], np.float32)  # grey or blue-grey
    rgb = (base * light)[..., None] * tint
    rgb[top: top + dh, left: left + dw] *= 1.0 - np.float32(strength) * ink[..., None] * pen
    grain = np.asarray(Image.fromarray((r.standard_normal((h, w), np.float32) * 40 + 128).clip(0, 255).astype(np.uint8))
                       .filter(ImageFilter.GaussianBlur(1.2)), np.float32) / 255.0 - 0.5
    rgb *= 1.0 + 0.08 * grain[..., None]
    rgb += np.float32(r.uniform(0.004, 0.02)) * r.standard_normal((h, w, 3), np.float32)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    if r.random() < 0.6:
        img = img.filter(ImageFilter.GaussianBlur(r.uniform(0.4, 1.4)))  # a little out of focus
    return _encode(img, r, jpeg_share=0.7), tuple(tags)


# --------------------------------------------------------------------------- plotted frames

def plot_screenshot(digit: np.ndarray, r: np.random.Generator) -> tuple[bytes, tuple[str, ...]]:
    """A 28×28 uint8 digit shown with ``imshow`` in a plot -> a screenshot's PNG or JPEG bytes,
    and tags saying what was drawn."""
    tags = []
    w, h = (int(v) for v in r.integers(200, 901, 2))
    u = min(w, h) / 400  # line widths and fonts grow with the picture
    dark = r.random() < 0.25
    left_m, bottom_m = r.uniform(0.12, 0.2), r.uniform(0.1, 0.18)
    right_m, top_m = r.uniform(0.04, 0.1), r.uniform(0.06, 0.14)
    title = r.random() < 0.3
    avail_w, avail_h = w * (1 - left_m - right_m), h * (1 - bottom_m - top_m)
    side = int(min(avail_w, avail_h))
    x0 = int(w * left_m + (avail_w - side) / 2)
    y0 = int(h * top_m + (avail_h - side) / 2)
    bg = int(r.integers(235, 256))
    img = Image.new("RGB", (w, h), (bg, bg, bg))
    shown = digit if dark else 255 - digit
    resample = Image.Resampling.NEAREST if r.random() < 0.6 else Image.Resampling.BILINEAR
    panel = Image.fromarray(shown).resize((side, side), resample).convert("RGB")
    img.paste(panel, (x0, y0))
    draw = ImageDraw.Draw(img)
    cell = side / 28
    ticks = [(v, (v + 0.5) * cell) for v in range(0, 28, 5)]
    if dark:
        tags.append("dark panel")
    if title:
        tags.append("title")
    if r.random() < 0.35:  # grid rulings over the image
        tags.append("grid")
        g = int(r.integers(150, 215))
        gw = max(1, round(u * r.uniform(0.6, 1.4)))
        for _, p in ticks:
            draw.line((x0 + p, y0, x0 + p, y0 + side), fill=(g, g, g), width=gw)
            draw.line((x0, y0 + p, x0 + side, y0 + p), fill=(g, g, g), width=gw)
    sc = int(r.integers(0, 70))
    lw = max(1, round(u * r.uniform(0.8, 2.0)))
    if r.random() < 0.7:  # matplotlib's box of four spines
        draw.rectangle((x0, y0, x0 + side, y0 + side), outline=(sc, sc, sc), width=lw)
    else:  # only the left and bottom spines
        tags.append("L axes")
        draw.line((x0, y0, x0, y0 + side), fill=(sc, sc, sc), width=lw)
        draw.line((x0, y0 + side, x0 + side, y0 + side), fill=(sc, sc, sc), width=lw)
    font = ImageFont.load_default(size=max(8, round(11 * u * r.uniform(0.8, 1.3))))
    tl = max(3, round(5 * u))
    for v, p in ticks:
        draw.line((x0 + p, y0 + side, x0 + p, y0 + side + tl), fill=(sc, sc, sc), width=lw)   # x ticks
        draw.line((x0 - tl, y0 + p, x0, y0 + p), fill=(sc, sc, sc), width=lw)                 # y ticks
        draw.text((x0 + p, y0 + side + tl + 2), str(v), fill=(sc, sc, sc), font=font, anchor="mt")
        draw.text((x0 - tl - 3, y0 + p), str(v), fill=(sc, sc, sc), font=font, anchor="rm")
    if title:
        draw.text((x0 + side / 2, y0 - 4 * u), f"test image {int(r.integers(0, 10000))}", fill=(sc, sc, sc),
                  font=font, anchor="mb")
    return _encode(img, r, jpeg_share=0.4), tuple(tags)


def _encode(img: Image.Image, r: np.random.Generator, jpeg_share: float) -> bytes:
    buf = io.BytesIO()
    if r.random() < jpeg_share:
        img.save(buf, "JPEG", quality=int(r.integers(55, 93)))
    else:
        img.save(buf, "PNG", compress_level=1)  # quick: the set is made again for every run
    return buf.getvalue()


# --------------------------------------------------------------------------- manifest

def manifest_lines(photos: list[Photo]) -> list[str]:
    head = "name\tfamily\tlabel\ttest_index\ttags\tsha256"
    return [head] + [f"{p.name}\t{p.family}\t{p.label}\t{p.test_index}\t{', '.join(p.tags)}\t"
                     f"{hashlib.sha256(p.data).hexdigest()}" for p in photos]


def check_manifest(photos: list[Photo], path: Path = MANIFEST) -> tuple[int, int]:
    """(images identical to the manifest's, images in the manifest)."""
    want = path.read_text().splitlines()[1:]
    got = set(manifest_lines(photos)[1:])
    return sum(line in got for line in want), len(want)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tools.photo_set", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=SEED, help=f"the set's seed (default: {SEED})")
    p.add_argument("--n", type=int, default=COUNT, help=f"how many images (default: {COUNT})")
    p.add_argument("--out", type=Path, help="write the images into this folder (default: none)")
    p.add_argument("--manifest", action="store_true", help=f"write {MANIFEST.relative_to(ROOT)} (default: no)")
    p.add_argument("--check", action="store_true", help="compare the set with the manifest (default: no)")
    args = p.parse_args()
    photos = photo_set(args.seed, args.n)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for ph in photos:
            (args.out / ph.name).write_bytes(ph.data)
        print(f"{len(photos)} images in {args.out}")
    if args.manifest:
        MANIFEST.parent.mkdir(parents=True, exist_ok=True)
        MANIFEST.write_text("\n".join(manifest_lines(photos)) + "\n")
        print(f"wrote {MANIFEST.relative_to(ROOT)}")
    if args.check:
        same, total = check_manifest(photos)
        print(f"{same} of {total} images byte for byte as in {MANIFEST.relative_to(ROOT)}")
    sizes = [len(ph.data) for ph in photos]
    print(f"{len(photos)} images ({', '.join(f'{sum(ph.family == f for ph in photos)} {f}' for f in FAMILIES)}), "
          f"{sum(sizes) / 2**20:.1f} MB, seed {args.seed}")


if __name__ == "__main__":
    main()

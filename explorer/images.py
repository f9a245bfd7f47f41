"""Images in and out of the explorer: uploads made MNIST-like, and arrays made displayable.

``convert_upload(data)`` turns the bytes of any image a user uploads (or draws) into what
the models were trained on, the way MNIST was made (LeCun et al. 1998, "Gradient-based
learning applied to document recognition", and the MNIST page): greyscale, bright ink on
a dark background (inverted when the background is light), cropped to the content, fitted
into a 20×20 box keeping the aspect ratio, then placed in a 28×28 field so that its centre
of mass is at the centre. The result is float32 (28, 28) in [0, 1]. A photo or a screenshot
is cleaned first (``clean_photo``: lighting evened out, frames, axes and rulings removed, the
ink stretched to full contrast; docs/PHOTOS.md has the measurement).

Uploads are untrusted. Whatever is wrong with one (not an image, empty, truncated, far too
many pixels, a decompression bomb) raises ``ImageRejected`` with a message for the user;
the pixel count is checked from the header, before anything is decoded.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps

MAX_UPLOAD_BYTES = 4 * 1024 * 1024    # also the server's limit (.streamlit/config.toml)
# width × height. Every pixel of a PNG (or any format but JPEG) is decoded before it can be
# shrunk, 4 bytes each for RGBA: 16 million is a 12-megapixel phone photo with room to spare,
# and 64 MB at most. A JPEG is decoded at 1/8 scale (``draft``), so a larger photo is cheap.
MAX_PIXELS = 16_000_000
MAX_JPEG_PIXELS = 50_000_000
WORK_SIDE = 512                       # larger images are shrunk to this before processing
BOX = 20                              # MNIST: the digit fits a 20×20 box ...
SIDE = 28                             # ... centred by mass in a 28×28 field
INK_THRESHOLD = 0.1                   # of the peak ink: what counts as content when cropping
BLANK_PEAK = 0.05                     # less contrast than this: the image is blank
# Photos and screenshots (``clean_photo``). Anything smaller than twice MNIST's side is taken as drawn
# MNIST-style already and converted as it is.
PHOTO_MIN_SIDE = 2 * SIDE
BACKGROUND_BLOCKS = 64                # the lighting is estimated on a grid this many blocks across ...
BACKGROUND_WINDOW = 15                # ... its median over this many (a quarter of the side): over twice a thick stroke
UNEVEN = 0.06                         # paper brightness varying more than this: even the lighting out
LINE_SHARE = 0.3                      # a straight run over this share of the image's side ...
LINE_WIDTH = 0.012                    # ... at most this share of its longer side thick (≥ 3 px): a ruled line
NEAR = 0.25                           # pieces this close to the digit (share of its size) belong to it
PIECE = 0.02                          # ... when at least this share of its largest piece
FULL_INK = 90                         # this percentile of the digit's ink is stretched to 1

# Pillow's own guard, process-wide: it warns above this many pixels and refuses (at open,
# from the header) above twice as many. ``open_image`` refuses anything above it anyway.
Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS

# One conversion at a time in the server process: a large upload keeps a core busy for a
# fraction of a second, and four at once must not take both cores from everyone else's clicks.
_CONVERSIONS = threading.BoundedSemaphore(1)

# Ten distinguishable class colours (d3 "category10"), shared by charts and image overlays.
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


class ImageRejected(ValueError):
    """An upload that cannot be used; the message says why, in words for the user."""


@dataclass(frozen=True)
class Converted:
    """An upload converted MNIST-style: ``array`` float32 (28, 28) in [0, 1], plus what was
    done to it on the way (``notes``, for the user) and its original size."""

    array: np.ndarray
    notes: tuple[str, ...]
    original_size: tuple[int, int]

    @property
    def blank(self) -> bool:
        return not bool(self.array.any())


# --------------------------------------------------------------------------- decoding

def open_image(data: bytes) -> tuple[Image.Image, list[str], tuple[int, int]]:
    """Decode untrusted bytes into a loaded Pillow image (first frame, EXIF rotation applied),
    with notes for the user and the size the file declares.

    Raises ``ImageRejected`` for empty or oversized files, non-images, truncated or damaged
    files and images with more than ``MAX_PIXELS`` pixels (``MAX_JPEG_PIXELS`` for a JPEG),
    checked from the header. An image larger than twice ``WORK_SIDE`` is shrunk right after
    decoding, before any array is made of it.
    """
    if not data:
        raise ImageRejected("The file is empty (0 bytes). Choose an image file (PNG or JPEG).")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(f"The file is {len(data) / 2**20:.1f} MB; the limit is "
                            f"{MAX_UPLOAD_BYTES // 2**20} MB. Upload a smaller image.")
    notes: list[str] = []
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
    except Image.UnidentifiedImageError:
        raise ImageRejected("This file is not an image that can be read (PNG, JPEG, GIF, BMP, TIFF "
                            "or WebP expected). Was it renamed from another type?") from None
    except Image.DecompressionBombError as e:  # Pillow refused it from the header
        m = re.search(r"\((\d+) pixels\)", str(e))
        raise ImageRejected(_too_big_message(pixels=int(m.group(1)) if m else None)) from None
    except Exception as e:  # noqa: BLE001 - untrusted bytes reach a large parser
        raise ImageRejected(f"The image cannot be read: it is damaged or not an image ({_short(e)}).") from None
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageRejected(f"The image has no pixels ({w}×{h}).")
    if w * h > (MAX_JPEG_PIXELS if img.format == "JPEG" else MAX_PIXELS):
        raise ImageRejected(_too_big_message((w, h), jpeg=img.format == "JPEG"))
    frames = getattr(img, "n_frames", 1) or 1
    if frames > 1:
        notes.append(f"animated image: the first of its {frames} frames is used")
    try:
        img.seek(0)
        if img.format == "JPEG" and max(w, h) > 2 * WORK_SIDE:
            img.draft(img.mode, (WORK_SIDE, WORK_SIDE))  # decode a JPEG at 1/2, 1/4 or 1/8 scale
        img.load()
        img = _shrunk(img)
    except (Image.DecompressionBombError, MemoryError):
        raise ImageRejected(_too_big_message((w, h))) from None
    except Exception as e:  # noqa: BLE001
        what = "truncated" if "truncat" in str(e).lower() else "damaged"
        raise ImageRejected(f"The image file is {what} and cannot be decoded ({_short(e)}). "
                            "Save it again and upload the new file.") from None
    try:
        rotated = ImageOps.exif_transpose(img)
        if rotated is not None and rotated is not img:
            orientation = img.getexif().get(0x0112, 1)
            if orientation not in (None, 1):
                notes.append("rotated upright as its EXIF orientation says")
            img = rotated
    except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, the pixels are fine
        pass
    return img, notes, (w, h)


def _shrunk(img: Image.Image) -> Image.Image:
    """A decoded image larger than twice ``WORK_SIDE`` reduced by a whole factor (a box average,
    in Pillow, before any float array exists: a 16-megapixel RGBA image would be 128 MB per
    float64 plane). Modes Pillow cannot reduce are converted first (palette to RGB or RGBA,
    to grey, 1-bit to L, 16-bit to 32-bit integers)."""
    factor = max(img.size) // WORK_SIDE
    if factor < 2:
        return img
    if img.mode in ("P", "PA"):
        return _palette_reduced(img, factor)
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode.startswith("I;16"):
        img = img.convert("I")
    try:
        return img.reduce(factor)
    except ValueError:  # a mode reduce does not take (CMYK, LAB, HSV …): through RGB
        return img.convert("RGB").reduce(factor)


def _palette_reduced(img: Image.Image, factor: int) -> Image.Image:
    """A palette image's grey (and alpha, where it has transparency), each one byte a pixel and
    reduced at once: Pillow's own conversion of a transparent palette image goes through RGBA."""
    grey = img.convert("L").reduce(factor)
    trns = img.info.get("transparency")
    if img.mode == "PA":
        alpha = img.getchannel("A")
    elif trns is None:
        return grey
    else:
        table = [255] * 256
        if isinstance(trns, int):
            table[trns] = 0
        else:
            table[:len(trns)] = list(trns)[:256]
        alpha = Image.fromarray(np.asarray(img, dtype=np.uint8)).point(table)
    return Image.merge("LA", (grey, alpha.reduce(factor)))


def _too_big_message(size: tuple[int, int] | None = None, pixels: int | None = None, jpeg: bool = False) -> str:
    limit = f"{(MAX_JPEG_PIXELS if jpeg else MAX_PIXELS) / 1e6:.0f} million pixels" + ("" if jpeg else " (larger as JPEG)")
    if size is not None:
        w, h = size
        what = f"{w}×{h} pixels ({w * h / 1e6:,.0f} million)"
    elif pixels is not None:
        what = f"{pixels / 1e6:,.0f} million pixels"
    else:
        what = "far too many pixels"
    return f"The image is {what}; the limit is {limit}. Scale it down and upload again."


def _short(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= 120 else text[:117] + "…"


def greyscale_planes(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """A loaded image -> (grey, alpha): float64 (h, w) in [0, 1]; alpha is None when opaque.

    Handles every Pillow mode: 1, L, P, RGB, CMYK, YCbCr, LAB, HSV, with or without alpha or a
    transparency key, and the high-depth modes I;16*, I and F (scaled by their range).
    """
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0 and hi <= 1 and mode == "F":
            grey = arr
        elif lo >= 0 and hi <= 255:
            grey = arr / 255.0
        elif lo >= 0 and hi <= 65535:
            grey = arr / 65535.0
        else:
            grey = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return np.clip(grey, 0.0, 1.0), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        grey = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float64) / 255.0
        return grey, (alpha if alpha.min() < 1.0 else None)
    if mode != "L":
        img = img.convert("RGB").convert("L")  # CMYK, P, 1, YCbCr …: through RGB to luma
    return np.asarray(img, dtype=np.float64) / 255.0, None


def _resize(a: np.ndarray, size: tuple[int, int], resample=Image.Resampling.BOX) -> np.ndarray:
    """Resize a float array (h, w) to ``size`` = (w, h) through Pillow's float mode."""
    out = Image.fromarray(a.astype(np.float32)).resize(size, resample)
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------- MNIST-style

def mnist_style(grey: np.ndarray, alpha: np.ndarray | None = None, notes: list[str] | None = None) -> np.ndarray:
    """Greyscale (h, w) in [0, 1] (and optional alpha) -> float32 (28, 28) in [0, 1], MNIST-style.

    Transparent pixels count as background: the image is laid on the background colour that
    contrasts with its opaque part. The background is the median of the border; when it is
    light the image is inverted. Ink is measured above the background and stretched so its
    peak is 1. A blank image (no contrast) gives all zeros.

    A photo or a screenshot (both sides at least ``PHOTO_MIN_SIDE``) is cleaned first
    (``clean_photo``): uneven lighting evened out, ink told from paper by Otsu's threshold,
    frames, axes, rulings and what touches the border dropped, the digit's ink stretched to
    full contrast; a plot's dark image panel is cut out and converted on its own. An image
    with nothing to clean (even lighting, nothing but the digit) converts exactly as before.
    """
    return _mnist_style(grey, alpha, notes, panel=False)


def _mnist_style(grey: np.ndarray, alpha: np.ndarray | None, notes: list[str] | None, panel: bool) -> np.ndarray:
    """``mnist_style``; ``panel``: ``grey`` is a plot's dark image panel, its background dark."""
    notes = notes if notes is not None else []
    grey = np.nan_to_num(np.asarray(grey, dtype=np.float64), nan=0.0)
    if grey.ndim != 2 or grey.size == 0:
        raise ImageRejected("The image has no pixels.")
    h, w = grey.shape
    full, s = grey, 1.0
    if max(h, w) > WORK_SIDE:  # shrink first: everything below is then cheap
        s = WORK_SIDE / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        grey = _resize(grey, size)
        alpha = _resize(alpha, size) if alpha is not None else None
    if alpha is not None:
        a = np.clip(np.nan_to_num(alpha, nan=1.0), 0.0, 1.0)
        opaque = a > 0.5
        content = float(grey[opaque].mean()) if opaque.any() else 0.0
        backdrop = 1.0 if content < 0.5 else 0.0  # dark drawing -> white backdrop, and vice versa
        grey = a * grey + (1.0 - a) * backdrop
        full, s = grey, 1.0
        notes.append("transparent parts taken as background")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    photo = min(grey.shape) >= PHOTO_MIN_SIDE
    light = background > 0.5
    if panel:  # most of it is the dark background (its edges may run along a grid ruling)
        light, background = False, float(np.median(grey))
    elif photo:
        # A photo's paper can be darker than mid-grey, and half its border in shadow: the paper is
        # the border's lit part, and it is light when the ink lies further below it than anything
        # lies above it. (A clean image, its border one colour, is decided as before.)
        level = float(np.percentile(border, 75))
        lo, hi = np.percentile(grey, [1, 99])
        if ((level - lo) > (hi - level)) != light:
            light, background = not light, level
    if light:
        ink, floor = 1.0 - grey, 1.0 - background
        notes.append("inverted: light background, dark ink")
    else:
        ink, floor = grey, background
    ink = np.clip((ink - floor) / (1.0 - floor), 0.0, 1.0)
    peak = float(ink.max())
    if peak < BLANK_PEAK:
        notes.append("the image is blank (one colour, no drawing): the converted input is empty")
        return np.zeros((SIDE, SIDE), np.float32)
    if photo:
        cleaned = clean_photo(grey, ink, light=light, notes=notes, panel=panel)
        if isinstance(cleaned, Panel):  # cut from the unshrunk image; once: the panel's own border is dark
            notes.append("cut out the plot's dark image panel")
            t, b, lft, rgt = (round(v / s) for v in (cleaned.top, cleaned.bottom, cleaned.left, cleaned.right))
            return _mnist_style(full[t:b, lft:rgt], None, notes, panel=True)
        if cleaned is not None:
            ink = cleaned
            peak = float(ink.max())
            if peak < BLANK_PEAK:
                notes.append("no drawing left once the background was cleaned: the converted input is empty")
                return np.zeros((SIDE, SIDE), np.float32)
    ink /= peak
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    ink = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    ch, cw = ink.shape
    scale = BOX / max(ch, cw)
    size = (max(1, min(BOX, round(cw * scale))), max(1, min(BOX, round(ch * scale))))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    patch = np.clip(_resize(ink, size, resample), 0.0, 1.0)
    return _place_by_mass(patch)


def _place_by_mass(patch: np.ndarray) -> np.ndarray:
    """Put a patch (≤ 20×20) into 28×28 with its centre of mass at the field's centre,
    shifted back inside where that would cut the content off."""
    ph, pw = patch.shape
    total = patch.sum()
    if total > 0:
        cy = float((patch.sum(axis=1) * np.arange(ph)).sum() / total)
        cx = float((patch.sum(axis=0) * np.arange(pw)).sum() / total)
    else:
        cy, cx = (ph - 1) / 2, (pw - 1) / 2
    centre = (SIDE - 1) / 2
    top = int(np.clip(round(centre - cy), 0, SIDE - ph))
    left = int(np.clip(round(centre - cx), 0, SIDE - pw))
    out = np.zeros((SIDE, SIDE), np.float32)
    out[top: top + ph, left: left + pw] = patch
    return out


# --------------------------------------------------------------------------- photos

@dataclass(frozen=True)
class Panel:
    """A dark rectangle, in pixels of the working image, holding a light drawing: a plot's image."""

    top: int
    bottom: int
    left: int
    right: int


def clean_photo(grey: np.ndarray, ink: np.ndarray, light: bool, notes: list[str],
                panel: bool = False) -> np.ndarray | Panel | None:
    """The digit's ink in a photo or screenshot, float64 (h, w) in [0, 1] with its stroke cores
    at 1, or a ``Panel`` to convert on its own, or None when there is nothing to clean.

    ``grey`` (h, w) in [0, 1] is the working image, ``ink`` the plain conversion's ink and
    ``light`` whether the background is light; ``panel``: ``grey`` is a plot's image panel
    (a screen's even light, nothing to even out; no panel inside it). A careful person's
    steps, each noted:

    1. Uneven lighting is evened out: the paper's brightness is estimated at large scale
       (a high quantile per block, closed over several blocks so that strokes vanish from
       it) and divided out; on a dark background it is subtracted.
    2. Ink is told from paper by Otsu's threshold (Otsu 1979) on the evened ink, kept above
       the paper's noise.
    3. Thin horizontal and vertical runs longer than ``LINE_SHARE`` of the image's side
       (frames, axes, grid rulings) are taken out, pixel by pixel: where a ruling crosses a
       stroke the stroke is thicker than a line and stays.
    4. Connected pieces that touch the border (an edge, a shadow, a frame), are long and
       thin, or faint (under half the strongest piece's peak ink) are dropped; of the rest the
       largest is the digit, and pieces near it are kept with it (a broken stroke), the rest
       dropped (tick labels, titles, specks).
    5. The digit's ink is stretched so its stroke cores (``FULL_INK`` percentile) are 1.

    A light image whose largest piece is a dark rectangle with a light drawing inside (a plot
    of a white-on-black digit) gives that rectangle as a ``Panel``.
    """
    h, w = grey.shape
    width = max(3, round(LINE_WIDTH * max(h, w)))
    plain = ink > _threshold(ink)
    if light and not panel:  # before any evening out: a panel is dark where its figure is light
        found = _panel(plain, width)
        if found is not None:
            return found
    if panel:
        paper, uneven = np.zeros_like(grey), False
    else:
        labels, _, top, bottom, left, right = _components(plain)
        inner = (top > 0) & (left > 0) & (bottom < h - 1) & (right < w - 1)
        drawn = _dilated(inner[labels] & (labels >= 0), width) if inner.any() else None
        # The lighting is uneven when the paper itself varies: what is plainly ink, clear of the
        # border, is left out (a shadow reaches the border and counts as paper).
        uneven = not _flat(grey, plain, width) and _varies(grey, light, drawn)
        paper = _background(grey, light)
        if uneven and drawn is not None:  # again without the plain ink; the estimate further from
            # the ink wins (a bold digit in a small picture fills a window; a soft stroke's faint
            # edge fills the blocks beside it)
            other = _background(grey, light, drawn)
            paper = np.maximum(paper, other) if light else np.minimum(paper, other)
    if uneven:
        if light:  # a shadow dims paper and ink alike: divide
            ink = np.clip(1.0 - grey / np.maximum(paper, 1e-3), 0.0, 1.0)
        else:
            ink = np.clip((grey - paper) / np.maximum(1.0 - paper, 1e-3), 0.0, 1.0)
    mask = ink > _threshold(ink)
    hrun, vrun = _run_lengths(mask, axis=1), _run_lengths(mask, axis=0)
    lines = mask & (((hrun >= LINE_SHARE * w) & (vrun <= width)) | ((vrun >= LINE_SHARE * h) & (hrun <= width)))
    labels, area, top, bottom, left, right = _components(mask & ~lines)
    if area.size == 0:
        return None
    longest = np.maximum(bottom - top, right - left) + 1
    touches = (top == 0) | (left == 0) | (bottom == h - 1) | (right == w - 1)
    thin = (longest >= LINE_SHARE * min(h, w)) & (area <= width * longest)
    for candidates in (~touches & ~thin, ~touches, np.ones_like(touches)):  # the digit may touch an edge
        if candidates.any():
            break
    peak = np.zeros(area.size)
    np.maximum.at(peak, labels[labels >= 0], ink[labels >= 0])
    # the digit is written in ink: a faint piece (what is left of a shadow's edge) is not it
    candidates = candidates & (peak >= 0.5 * peak[candidates].max())
    main = int(np.argmax(np.where(candidates, area, -1)))
    kept = np.zeros(area.size, bool)
    kept[main] = True
    box = [top[main], bottom[main], left[main], right[main]]
    near = NEAR * max(box[1] - box[0], box[3] - box[2])
    grown = True
    while grown:  # pieces near the digit, growing its box as they join
        gap = np.maximum.reduce([top - box[1], box[0] - bottom, left - box[3], box[2] - right])
        join = candidates & ~kept & (area >= PIECE * area[main]) & (gap <= near)
        grown = bool(join.any())
        kept |= join
        box = [min(box[0], top[join].min(initial=box[0])), max(box[1], bottom[join].max(initial=box[1])),
               min(box[2], left[join].min(initial=box[2])), max(box[3], right[join].max(initial=box[3]))]
    if kept.all() and not uneven and not lines.any():
        return None  # nothing to clean: the plain conversion stands
    digit = kept[labels] & (labels >= 0)
    full = float(np.percentile(ink[digit], FULL_INK))
    out = ink * _dilated(digit, max(1, width // 3))
    out = np.clip(out / max(full, BLANK_PEAK), 0.0, 1.0)
    size = int(area[kept].sum())
    if uneven:
        notes.append("evened out uneven lighting (a shadow or a lamp's gradient)")
    if lines.sum() > 0.02 * size:
        notes.append("removed straight lines (a frame, axes or grid rulings)")
    if area[touches & ~kept].sum() > 0.02 * size:
        notes.append("removed what touches the border (an edge, a frame or a shadow)")
    if area[~touches & ~kept].sum() > 0.02 * size:
        notes.append("removed marks away from the digit (labels, text or specks)")
    if full < 0.9:
        notes.append(f"stretched the ink to full contrast (it was {full:.0%} of full)")
    return out


def _background(grey: np.ndarray, light: bool, skip: np.ndarray | None = None) -> np.ndarray:
    """The large-scale brightness of the background, float64 (h, w): per block a high quantile
    (a low one for a dark background: a block is ink only when nearly all of it is), then the
    median over ``BACKGROUND_WINDOW`` blocks around each, which removes the strokes (less than
    half of any window) and keeps a shadow's edge where it is, whatever its direction; then
    bilinear interpolation back to full size. Pixels in ``skip`` (the digit, as far as it is
    known) take no part: a bold digit in a small picture would otherwise fill most of a window;
    blocks left with nothing are filled from their neighbours."""
    h, w = grey.shape
    b = max(2, round(max(h, w) / BACKGROUND_BLOCKS))
    gh, gw = -(-h // b), -(-w // b)
    values = np.where(skip, np.nan, grey) if skip is not None else grey
    padded = np.pad(values, ((0, gh * b - h), (0, gw * b - w)), mode="edge")
    blocks = padded.reshape(gh, b, gw, b).transpose(0, 2, 1, 3).reshape(gh, gw, b * b)
    est = _nan_quantile(blocks, 0.9 if light else 0.1, least=b * b // 4)
    k = BACKGROUND_WINDOW
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(est, k // 2, mode="edge"), (k, k))
    est = _nan_quantile(windows.reshape(gh, gw, k * k), 0.5, least=1)
    if np.isnan(est).all():
        est = np.full_like(est, float(np.median(grey)))
    while np.isnan(est).any():  # blocks all digit: the mean of their known neighbours, outwards
        p = np.pad(est, 1, mode="edge")
        near = np.stack([p[i: i + gh, j: j + gw] for i in range(3) for j in range(3)])
        known = ~np.isnan(near)
        fill = np.where(known, near, 0.0).sum(0) / np.maximum(known.sum(0), 1)
        est = np.where(np.isnan(est) & known.any(0), fill, est)
    full = Image.fromarray(est.astype(np.float32)).resize((gw * b, gh * b), Image.Resampling.BILINEAR)
    return np.asarray(full, dtype=np.float64)[:h, :w]


def _flat(grey: np.ndarray, ink: np.ndarray, width: int) -> bool:
    """Whether the background is one flat colour, as in a drawing or a screenshot: nine in ten
    pixels away from the ``ink`` within 0.03 of their median. (Even a digit touching the border
    leaves such a picture alone.)"""
    rest = grey[~_dilated(ink, width)]
    return rest.size == 0 or float((np.abs(rest - np.median(rest)) < 0.03).mean()) >= 0.9


def _varies(grey: np.ndarray, light: bool, skip: np.ndarray | None, cells: int = 8) -> bool:
    """Whether the background's brightness varies by more than ``UNEVEN`` across the image: the
    upper quartile (lower, on a dark background: ink short of three quarters of a cell does not
    count) of each of ``cells`` × ``cells`` cells, ``skip`` pixels left out (and cells with too
    few others)."""
    h, w = grey.shape
    values = np.where(skip, np.nan, grey) if skip is not None else grey
    rows, cols = np.linspace(0, h, cells + 1).astype(int), np.linspace(0, w, cells + 1).astype(int)
    levels = []
    for i in range(cells):
        for j in range(cells):
            cell = values[rows[i]: rows[i + 1], cols[j]: cols[j + 1]].ravel()
            known = cell[~np.isnan(cell)]
            if known.size >= max(1, cell.size // 4):
                levels.append(float(np.quantile(known, 0.75 if light else 0.25)))
    return bool(levels) and max(levels) - min(levels) > UNEVEN


def _nan_quantile(a: np.ndarray, q: float, least: int) -> np.ndarray:
    """The ``q`` quantile (nearest rank) along the last axis, NaN left out; NaN where fewer than
    ``least`` values are known. (np.nanquantile loops in Python over many short rows.)"""
    s = np.sort(a, axis=-1)  # NaN last
    n = (~np.isnan(a)).sum(axis=-1)
    idx = np.clip(np.round(q * (n - 1)).astype(np.int64), 0, a.shape[-1] - 1)
    out = np.take_along_axis(s, idx[..., None], axis=-1)[..., 0]
    return np.where(n >= max(least, 1), out, np.nan)


def _threshold(ink: np.ndarray) -> float:
    """Ink from paper: Otsu's threshold, but never within the paper's noise (the median of what
    Otsu calls paper plus six robust standard deviations): on a big sheet with a small digit
    Otsu splits the noise."""
    otsu = _otsu(ink)
    paper = ink[ink <= otsu]
    if paper.size == 0:
        return otsu
    med = float(np.median(paper))
    return max(otsu, med + 6 * 1.4826 * float(np.median(np.abs(paper - med))))


def _otsu(x: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1]: the one that best separates two classes."""
    hist = np.bincount(np.clip((x * 255).astype(np.int64), 0, 255).ravel(), minlength=256).astype(np.float64)
    levels = (np.arange(256) + 0.5) / 256
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * levels)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float((np.argmax(between[:-1]) + 1) / 256)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal runs of a boolean (h, w): row, first column, column after the last; in
    row-major order."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def _paint(shape: tuple[int, int], rows: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           values: np.ndarray) -> np.ndarray:
    """An int64 (h, w) holding ``values`` along each run, 0 elsewhere (runs are disjoint)."""
    h, w = shape
    out = np.zeros((h, w + 1), np.int64)
    out[rows, starts] += values
    out[rows, ends] -= values
    return np.cumsum(out, axis=1)[:, :w]


def _run_lengths(mask: np.ndarray, axis: int) -> np.ndarray:
    """For every pixel of a boolean (h, w), the length of the run of True it lies in, along
    ``axis`` (1: rows, 0: columns); 0 where False."""
    m = mask if axis == 1 else mask.T
    rows, starts, ends = _runs(m)
    out = _paint(m.shape, rows, starts, ends, ends - starts)
    return out if axis == 1 else out.T


def _components(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """8-connected pieces of a boolean (h, w): labels int64 (h, w) (-1 outside), and per piece
    its area and inclusive bounding box (top, bottom, left, right), each int64 (n,).

    Runs of each row are joined to the runs they touch in the next row; the groups are found
    by min-label hooking with pointer jumping, all in NumPy."""
    h, w = mask.shape
    rows, starts, ends = _runs(mask)
    n = rows.size
    if n == 0:
        empty = np.zeros(0, np.int64)
        return np.full((h, w), -1, np.int64), empty, empty, empty, empty, empty
    stride = w + 2
    start_key, end_key = rows * stride + starts, rows * stride + ends
    lo = np.searchsorted(end_key, (rows + 1) * stride + starts, "left")     # next-row runs ending at or after our start
    hi = np.searchsorted(start_key, (rows + 1) * stride + ends, "right")    # ... starting at or before our end
    counts = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n), counts)
    b = np.repeat(lo, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    label = np.arange(n)
    while a.size:
        la, lb = label[a], label[b]
        low = np.minimum(la, lb)
        if (la == lb).all():
            break
        np.minimum.at(label, la, low)  # hook each root onto the smaller label
        np.minimum.at(label, lb, low)
        while True:  # pointer jumping: every run points at its root
            nxt = label[label]
            if (nxt == label).all():
                break
            label = nxt
    _, piece = np.unique(label, return_inverse=True)
    m = int(piece.max()) + 1
    area = np.bincount(piece, weights=ends - starts, minlength=m).astype(np.int64)
    top, left = np.full(m, h, np.int64), np.full(m, w, np.int64)
    bottom, right = np.full(m, -1, np.int64), np.full(m, -1, np.int64)
    np.minimum.at(top, piece, rows)
    np.maximum.at(bottom, piece, rows)
    np.minimum.at(left, piece, starts)
    np.maximum.at(right, piece, ends - 1)
    labels = _paint((h, w), rows, starts, ends, piece + 1) - 1
    return labels, area, top, bottom, left, right


def _dilated(mask: np.ndarray, r: int) -> np.ndarray:
    """A boolean (h, w) grown by ``r`` pixels (a square)."""
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        for d in range(1, r + 1):
            if axis == 0:
                grown[d:] |= out[:-d]
                grown[:-d] |= out[d:]
            else:
                grown[:, d:] |= out[:, :-d]
                grown[:, :-d] |= out[:, d:]
        out = grown
    return out


def _panel(mask: np.ndarray, width: int) -> Panel | None:
    """The dark image panel of a plot, if the ink's largest piece is one: a rectangle (rows and
    columns at least half inked from edge to edge) covering ≥ 4 % of the image, inked all
    along its edges (an image's dark margin), with a light drawing inside (0.5-50 % of it not
    ink). Grid rulings over it are bridged first."""
    h, w = mask.shape
    r = max(1, width // 2)
    mask = _dilated(mask, r)
    labels, area, top, bottom, left, right = _components(mask)
    if area.size == 0:
        return None
    k = int(np.argmax(area))
    t, b, lft, rgt = int(top[k]), int(bottom[k]), int(left[k]), int(right[k])
    piece = labels[t: b + 1, lft: rgt + 1] == k
    rows = np.flatnonzero(piece.mean(axis=1) >= 0.5)
    cols = np.flatnonzero(piece.mean(axis=0) >= 0.5)
    if rows.size < 2 or cols.size < 2:
        return None
    t, b, lft, rgt = t + rows[0] + r, t + rows[-1] + 1 - r, lft + cols[0] + r, lft + cols[-1] + 1 - r
    ph, pw = b - t, rgt - lft
    if ph * pw < 0.04 * h * w or not 0.5 <= ph / pw <= 2:
        return None
    inside = mask[t:b, lft:rgt]
    if not 0.005 <= 1.0 - inside.mean() <= 0.5:
        return None
    band = max(2, round(0.05 * min(ph, pw)))  # an image's margin is dark all round; a digit's blob is not
    edges = (inside[:band], inside[-band:], inside[:, :band], inside[:, -band:])
    if min(float(e.mean()) for e in edges) < 0.9:
        return None
    m = max(width, round(0.02 * max(ph, pw)))  # off the panel's edge and its frame
    return Panel(int(t + m), int(b - m), int(lft + m), int(rgt - m))


def convert_image(img: Image.Image, notes: list[str] | None = None) -> np.ndarray:
    """A decoded Pillow image -> float32 (28, 28) in [0, 1], MNIST-style."""
    grey, alpha = greyscale_planes(img)
    return mnist_style(grey, alpha, notes)


def convert_upload(data: bytes) -> Converted:
    """The bytes of an uploaded image -> ``Converted`` (28×28 MNIST-style) or ``ImageRejected``.
    One at a time per process (``_CONVERSIONS``)."""
    with _CONVERSIONS:
        return _convert_upload(data)


def _convert_upload(data: bytes) -> Converted:
    img, notes, size = open_image(data)
    try:
        array = convert_image(img, notes)
    except ImageRejected:
        raise
    except MemoryError:
        raise ImageRejected(_too_big_message(size)) from None
    except Exception as e:  # noqa: BLE001 - an odd mode or broken pixel data: a message, not a traceback
        raise ImageRejected(f"The image cannot be converted ({_short(e)}).") from None
    return Converted(np.ascontiguousarray(array, dtype=np.float32), tuple(notes), size)


def convert_drawing(rgba: np.ndarray | None) -> np.ndarray | None:
    """A canvas drawing, RGBA uint8 (h, w, 4) -> float32 (28, 28), or None when nothing is drawn."""
    if rgba is None:
        return None
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4) or rgba.size == 0:
        return None
    img = Image.fromarray(np.ascontiguousarray(rgba.astype(np.uint8)))
    out = convert_image(img)
    return out if out.any() else None


# --------------------------------------------------------------------------- display

def to_uint8(x: np.ndarray) -> np.ndarray:
    """Intensities in [0, 1] (any shape) -> uint8 0..255."""
    return (np.clip(np.nan_to_num(np.asarray(x, dtype=np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def enlarge(x: np.ndarray, scale: int = 6) -> Image.Image:
    """A (h, w) image in [0, 1] -> a greyscale Pillow image ``scale`` times larger, pixels kept sharp."""
    img = Image.fromarray(to_uint8(x))
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


# "hot": black, red, yellow, white, evenly spaced; every step brighter, so it reads in grey too
_HOT = np.array([[0, 0, 0], [200, 20, 0], [255, 210, 0], [255, 255, 255]], dtype=np.float32)


def heat_map(values: np.ndarray, vmax: float, scale: int = 6) -> Image.Image:
    """(h, w) non-negative values -> an RGB Pillow image ``scale`` times larger, coloured from
    black (0) through red and yellow to white (``vmax`` and above): a reconstruction's error."""
    t = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)) / max(float(vmax), 1e-12), 0.0, 1.0)
    pos = t * (len(_HOT) - 1)
    lo = np.minimum(pos.astype(int), len(_HOT) - 2)
    frac = (pos - lo)[..., None]
    rgb = (_HOT[lo] * (1 - frac) + _HOT[lo + 1] * frac + 0.5).astype(np.uint8)
    img = Image.fromarray(rgb, mode="RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


def mosaic(images: np.ndarray, ncols: int, pad: int = 0, pad_value: float = 0.25) -> np.ndarray:
    """Images (n, h, w) in [0, 1] -> one (rows·(h+2p), ncols·(w+2p)) image, row-major.

    Every tile gets ``pad`` pixels on each side, so all cells are the same size and a click
    maps to a tile by plain division (``latent.tile_at``). Missing cells stay ``pad_value``.
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    ncols = max(1, min(ncols, n)) if n else 1
    nrows = max(1, -(-n // ncols))
    ch, cw = h + 2 * pad, w + 2 * pad
    out = np.full((nrows * ch, ncols * cw), pad_value, np.float32)
    for k in range(n):
        r, c = divmod(k, ncols)
        out[r * ch + pad: r * ch + pad + h, c * cw + pad: c * cw + pad + w] = images[k]
    return out


def cells_of(tiles: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """``mosaic``'s inverse for an unpadded one: a uint8 (or [0, 1]) mosaic of ``n_rows`` ×
    ``n_cols`` equal cells -> the cells (n_rows·n_cols, h, w) in [0, 1], float32, row-major."""
    a = np.asarray(tiles)
    h, w = a.shape[0] // n_rows, a.shape[1] // n_cols
    cells = a[: n_rows * h, : n_cols * w].reshape(n_rows, h, n_cols, w).swapaxes(1, 2).reshape(-1, h, w)
    return cells.astype(np.float32) / 255.0 if a.dtype == np.uint8 else cells.astype(np.float32)


def tint_by_class(tiles: np.ndarray, n_rows: int, n_cols: int, classes: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """A grey mosaic (uint8 (H, W), ``n_rows`` × ``n_cols`` cells of equal size, row-major like
    ``mosaic``) coloured cell by cell with the class a classifier reads in it (``CLASS_COLORS``):
    RGB uint8 (H, W, 3). The reading's confidence shades it: full colour from 90 %, a dim grey
    at 20 % or less (class 7's colour is a grey too, a bright one). The strokes are drawn in the
    colour and the background in a dark shade of it, so that a VAE's class regions and an AE's
    unsure holes show even where the tiles are dim."""
    h, w = tiles.shape
    ch, cw = h // n_rows, w // n_cols
    palette = np.array([hex_to_rgb(c) for c in CLASS_COLORS], np.float32) / 255.0         # (10, 3)
    strength = np.clip((np.asarray(confidence, np.float32) - 0.2) / 0.7, 0.0, 1.0)[:, None]  # (n, 1)
    colors = (strength * palette[np.asarray(classes) % len(palette)] + (1.0 - strength) * 0.5) * (0.4 + 0.6 * strength)
    cells = np.full((n_rows * n_cols, 3), 0.2, np.float32)  # cells without a reading: as an unsure one
    cells[: len(colors)] = colors                            # (n, 3)
    per_pixel = np.repeat(np.repeat(cells.reshape(n_rows, n_cols, 3), ch, axis=0), cw, axis=1)  # (H', W', 3)
    out = np.zeros((h, w, 3), np.float32)
    out[: n_rows * ch, : n_cols * cw] = per_pixel
    v = tiles.astype(np.float32)[..., None] / 255.0
    return to_uint8(out * (0.22 + 0.78 * v))


def error_columns(images: np.ndarray, recon: np.ndarray, err: np.ndarray, heat_max: float, pad: int = 2) -> np.ndarray:
    """One RGB picture (uint8) with a column per image: the image (n, 28, 28) in [0, 1] or
    uint8, what a model rebuilds (``recon``) under it, and ``heat_map`` of where they differ
    (``err``, white at ``heat_max``) under that. One picture, not 3·n: a page of many images
    redraws slowly."""
    x = np.asarray(images, dtype=np.float32)
    if np.asarray(images).dtype == np.uint8:
        x = x / 255.0
    grey = np.concatenate([x, np.asarray(recon, dtype=np.float32)])
    tiles = np.concatenate([np.repeat(grey[..., None], 3, axis=3),
                            np.stack([np.asarray(heat_map(e, heat_max, 1)) / 255.0 for e in err])])
    return to_uint8(np.stack([mosaic(tiles[..., ch], len(x), pad=pad, pad_value=1.0) for ch in range(3)], axis=2))


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return tuple(int(color[i: i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def draw_points(img: Image.Image, xy: np.ndarray, labels: np.ndarray | None = None, radius: float = 2.5,
                outline: bool = True) -> Image.Image:
    """Dots at pixel positions ``xy`` (n, 2) on an RGB copy of ``img``, coloured by class label."""
    out = img.convert("RGB")
    draw = ImageDraw.Draw(out)
    for k, (x, y) in enumerate(np.asarray(xy, dtype=np.float64)):
        if not (np.isfinite(x) and np.isfinite(y)) or x < 0 or y < 0 or x >= out.width or y >= out.height:
            continue
        color = hex_to_rgb(CLASS_COLORS[int(labels[k]) % 10]) if labels is not None else (255, 64, 64)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color,
                     outline=(0, 0, 0) if outline else None)
    return out


def draw_marker(img: Image.Image, x: float, y: float, size: int = 9, color=(255, 212, 0)) -> Image.Image:
    """A crosshair at pixel (x, y) on an RGB copy of ``img``: where the user clicked.
    Drawn twice, dark and wide under bright and thin, so it shows on black and on white."""
    out = img.convert("RGB")
    draw = ImageDraw.Draw(out)
    for fill, width in (((0, 0, 0), 4), (color, 2)):
        draw.line((x - size, y, x - size / 3, y), fill=fill, width=width)
        draw.line((x + size / 3, y, x + size, y), fill=fill, width=width)
        draw.line((x, y - size, x, y - size / 3), fill=fill, width=width)
        draw.line((x, y + size / 3, x, y + size), fill=fill, width=width)
        draw.ellipse((x - size / 2, y - size / 2, x + size / 2, y + size / 2), outline=fill, width=width)
    return out

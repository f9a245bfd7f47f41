"""Images in and out of the explorer: uploads made MNIST-like, and arrays made displayable.

``convert_upload(data)`` turns the bytes of any image a user uploads (or draws) into what
the models were trained on, the way MNIST was made (LeCun et al. 1998, "Gradient-based
learning applied to document recognition", and the MNIST page): greyscale, bright ink on
a dark background (inverted when the background is light), cropped to the content, fitted
into a 20×20 box keeping the aspect ratio, then placed in a 28×28 field so that its centre
of mass is at the centre. The result is float32 (28, 28) in [0, 1].

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
    """
    notes = notes if notes is not None else []
    grey = np.nan_to_num(np.asarray(grey, dtype=np.float64), nan=0.0)
    if grey.ndim != 2 or grey.size == 0:
        raise ImageRejected("The image has no pixels.")
    h, w = grey.shape
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
        notes.append("transparent parts taken as background")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        ink, floor = 1.0 - grey, 1.0 - background
        notes.append("inverted: light background, dark ink")
    else:
        ink, floor = grey, background
    ink = np.clip((ink - floor) / (1.0 - floor), 0.0, 1.0)
    peak = float(ink.max())
    if peak < BLANK_PEAK:
        notes.append("the image is blank (one colour, no drawing): the converted input is empty")
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

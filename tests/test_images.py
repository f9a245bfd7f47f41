"""Uploads made MNIST-like, and every kind of bad upload refused with a message."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from explorer.images import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    ImageRejected,
    convert_drawing,
    convert_upload,
    enlarge,
    mosaic,
    to_uint8,
)


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def digit(h: int = 120, w: int = 90, ink: int = 0, paper: int = 255) -> np.ndarray:
    """A '7'-like figure, dark ink on light paper by default, uint8 (h, w)."""
    a = np.full((h, w), paper, np.uint8)
    a[h // 6: h // 6 + h // 10, w // 5: w - w // 5] = ink                # the bar
    for r in range(h // 6, h - h // 8):                                  # the stem, slanting
        c = int(w - w // 5 - (r - h // 6) * 0.4)
        a[r, max(c - w // 12, 0): c] = ink
    return a


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    total = x.sum()
    return (float((x.sum(1) * np.arange(28)).sum() / total), float((x.sum(0) * np.arange(28)).sum() / total))


def check_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert x.max() > 0.9  # the strongest stroke is full ink
    rows, cols = np.flatnonzero(x.max(1) > 0.05), np.flatnonzero(x.max(0) > 0.05)
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 21  # fits the 20×20 box (+ blur)
    cy, cx = centre_of_mass(x)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w×h pixels (1-bit grey) but holds no image data."""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IEND", b""))


class TestConversion:
    def test_dark_on_light_is_inverted_cropped_fitted_and_centred(self):
        c = convert_upload(encode(Image.fromarray(digit())))
        check_mnist_like(c.array)
        assert any("inverted" in n for n in c.notes)
        assert c.original_size == (90, 120)
        # taller than wide: the height fills the 20-pixel box
        rows = np.flatnonzero(c.array.max(1) > 0.05)
        assert rows[-1] - rows[0] + 1 >= 19

    def test_light_on_dark_gives_the_same_as_dark_on_light(self):
        a = convert_upload(encode(Image.fromarray(digit()))).array
        b = convert_upload(encode(Image.fromarray(digit(ink=255, paper=0)))).array
        np.testing.assert_allclose(a, b, atol=1e-6)

    def test_grey_paper_is_not_ink(self):
        x = convert_upload(encode(Image.fromarray(digit(ink=30, paper=200)))).array
        check_mnist_like(x)
        assert (x < 0.02).mean() > 0.6  # the paper became black background

    def test_large_photo_is_shrunk_first(self):
        big = np.asarray(Image.fromarray(digit()).resize((1800, 2400)))
        x = convert_upload(encode(Image.fromarray(big), "JPEG", quality=90)).array
        check_mnist_like(x)

    def test_drawing_on_transparent_canvas(self):
        rgba = np.zeros((280, 280, 4), np.uint8)
        rgba[60:220, 120:160] = (255, 255, 255, 255)  # a white stroke, background fully transparent
        check_mnist_like(convert_drawing(rgba))

    def test_drawing_on_opaque_black_canvas_and_empty_canvas(self):
        rgba = np.zeros((280, 280, 4), np.uint8)
        rgba[..., 3] = 255
        assert convert_drawing(rgba) is None  # nothing drawn yet
        rgba[60:220, 120:160, :3] = 255
        check_mnist_like(convert_drawing(rgba))
        assert convert_drawing(None) is None


class TestBadFiles:
    def test_text_file_renamed_png(self):
        with pytest.raises(ImageRejected, match="not an image"):
            convert_upload(b"This is a shopping list, not a picture.\nmilk\neggs\n")

    def test_empty_file(self):
        with pytest.raises(ImageRejected, match="empty"):
            convert_upload(b"")

    def test_truncated_png(self):
        noise = np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)
        data = encode(Image.fromarray(noise))
        with pytest.raises(ImageRejected, match="truncated|damaged"):
            convert_upload(data[: len(data) // 2])

    def test_truncated_jpeg(self):
        noise = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
        data = encode(Image.fromarray(noise), "JPEG")
        with pytest.raises(ImageRejected, match="truncated|damaged"):
            convert_upload(data[: len(data) // 3])

    def test_huge_image_refused_from_its_header(self):
        with pytest.raises(ImageRejected, match="400 million pixels; the limit is 16 million"):
            convert_upload(png_header_only(20_000, 20_000))

    def test_decompression_bomb_refused_before_decoding(self):
        # 20,000 × 20,000 one-bit pixels, all zero: ~50 MB of rows compress to a tiny file.
        w = h = 20_000
        raw = zlib.compress(b"\x00" * ((w // 8 + 1) * h), 9)
        bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
        assert len(bomb) < 200_000
        with pytest.raises(ImageRejected, match="limit"):
            convert_upload(bomb)

    @pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
    def test_just_over_the_pixel_limit(self):
        side = int(MAX_PIXELS ** 0.5) + 1
        with pytest.raises(ImageRejected, match="limit"):
            convert_upload(png_header_only(side, side))

    def test_file_over_the_upload_limit(self):
        with pytest.raises(ImageRejected, match="MB"):
            convert_upload(b"\x89PNG" + b"\x00" * MAX_UPLOAD_BYTES)


class TestOddImages:
    def test_animated_gif_uses_the_first_frame(self):
        first = Image.fromarray(digit())
        others = [Image.fromarray(np.full((120, 90), v, np.uint8)).convert("P") for v in (255, 90)]
        data = encode(first.convert("P"), "GIF", save_all=True, append_images=others, duration=100)
        c = convert_upload(data)
        check_mnist_like(c.array)
        assert any("first of its 3 frames" in n for n in c.notes)

    def test_16_bit_greyscale_png(self):
        a16 = digit().astype(np.uint16) * 257
        img = Image.fromarray(a16)
        assert img.mode.startswith("I;16")
        c = convert_upload(encode(img))
        check_mnist_like(c.array)
        np.testing.assert_allclose(c.array, convert_upload(encode(Image.fromarray(digit()))).array, atol=0.02)

    @pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255), (200, 30, 30)])
    def test_rgba_with_transparent_background(self, ink):
        rgba = np.zeros((120, 90, 4), np.uint8)
        mask = digit() == 0
        rgba[mask] = (*ink, 255)
        c = convert_upload(encode(Image.fromarray(rgba)))
        check_mnist_like(c.array)
        assert any("transparent" in n for n in c.notes)

    def test_palette_png_with_and_without_transparency(self):
        rgb = Image.fromarray(digit()).convert("RGB")
        check_mnist_like(convert_upload(encode(rgb.convert("P"))).array)
        p = Image.fromarray(digit()).convert("P")
        p.info["transparency"] = 255  # the paper colour's index is transparent
        check_mnist_like(convert_upload(encode(p, transparency=255)).array)

    def test_cmyk_jpeg(self):
        img = Image.fromarray(digit()).convert("RGB").convert("CMYK")
        c = convert_upload(encode(img, "JPEG", quality=95))
        check_mnist_like(c.array)

    def test_exif_rotation_is_applied(self):
        bar = np.full((60, 200), 255, np.uint8)
        bar[25:35, 20:180] = 0  # a horizontal bar as stored
        img = Image.fromarray(bar).convert("RGB")
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        c = convert_upload(encode(img, "JPEG", exif=exif.tobytes(), quality=95))
        rows, cols = np.flatnonzero(c.array.max(1) > 0.2), np.flatnonzero(c.array.max(0) > 0.2)
        assert rows[-1] - rows[0] > 3 * (cols[-1] - cols[0])  # shown upright it is vertical
        assert any("EXIF" in n for n in c.notes)

    @pytest.mark.parametrize("value", [0, 255, 128])
    def test_one_colour_images_are_blank(self, value):
        for size in [(1, 1), (50, 80)]:
            c = convert_upload(encode(Image.new("L", size, value)))
            assert c.blank and c.array.shape == (28, 28) and not c.array.any()
            assert any("blank" in n for n in c.notes)

    def test_one_by_one_rgb(self):
        c = convert_upload(encode(Image.new("RGB", (1, 1), (10, 200, 30))))
        assert c.array.shape == (28, 28) and np.isfinite(c.array).all()

    def test_float_tiff_with_nan(self):
        a = digit().astype(np.float32) / 255.0
        a[0, 0] = np.nan
        check_mnist_like(convert_upload(encode(Image.fromarray(a), "TIFF")).array)


# --------------------------------------------------------------------------- property

SAVE_MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"],
    "GIF": ["L", "P"],
    "BMP": ["1", "L", "P", "RGB"],
    "TIFF": ["1", "L", "RGB", "RGBA", "CMYK", "I;16", "I", "F"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
}
COMBOS = [(fmt, mode) for fmt, modes in SAVE_MODES.items() for mode in modes]


def random_image(mode: str, w: int, h: int, seed: int, pattern: str) -> Image.Image:
    rng = np.random.default_rng(seed)
    if pattern == "flat":
        base = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)[:1, :1].repeat(h, 0).repeat(w, 1)
    elif pattern == "blob":
        base = np.zeros((h, w, 4), np.uint8)
        base[h // 4: max(h // 4 + 1, 3 * h // 4), w // 3: max(w // 3 + 1, 2 * w // 3)] = 255
        base[..., 3] = rng.integers(0, 256)
    else:
        base = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    rgba = Image.fromarray(base)
    if mode in ("I;16", "I", "F"):
        grey = np.asarray(rgba.convert("L"), dtype=np.float64)
        scale = {"I;16": 257.0, "I": float(rng.integers(1, 70000)), "F": float(rng.normal())}[mode]
        arr = (grey * scale).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode])
        return Image.fromarray(arr, mode if mode != "I;16" else None) if mode != "I" else Image.fromarray(arr)
    return rgba.convert(mode)


@given(combo=st.sampled_from(COMBOS), w=st.integers(1, 70), h=st.integers(1, 70), seed=st.integers(0, 2**16),
       pattern=st.sampled_from(["noise", "flat", "blob"]))
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_image_pillow_opens_converts_to_28x28_in_unit_range(combo, w, h, seed, pattern):
    fmt, mode = combo
    try:
        img = random_image(mode, w, h, seed, pattern)
        data = encode(img, fmt)
        Image.open(io.BytesIO(data)).load()
    except (OSError, ValueError, TypeError, KeyError):
        assume(False)  # Pillow cannot write or read this combination: not "an image Pillow can open"
    c = convert_upload(data)
    assert c.array.shape == (28, 28) and c.array.dtype == np.float32
    assert np.isfinite(c.array).all()
    assert c.array.min() >= 0.0 and c.array.max() <= 1.0


# --------------------------------------------------------------------------- display

def test_mosaic_cells_are_uniform_and_padding_fills_the_rest():
    imgs = np.ones((5, 28, 28), np.float32)
    m = mosaic(imgs, 3, pad=1, pad_value=0.5)
    assert m.shape == (2 * 30, 3 * 30)
    assert m[0, 0] == 0.5 and m[1, 1] == 1.0
    assert (m[30:, 60:] == 0.5).all()  # the missing sixth cell


def test_enlarge_and_to_uint8():
    x = np.array([[0.0, 1.0], [0.5, 2.0]])
    assert to_uint8(x).tolist() == [[0, 255], [128, 255]]
    img = enlarge(x, 3)
    assert img.size == (6, 6) and img.mode == "L"

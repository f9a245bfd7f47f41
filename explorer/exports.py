"""Files a user takes away from the app: decoded pictures as PNG, the interpolation as an
animated GIF, a latent map's codes as CSV. Bytes in, bytes out; the pages offer them with
``st.download_button`` (``explorer.ui.common.download``).

A picture is exported at the model's own pixels enlarged by a whole factor with nearest-neighbour
sampling, so every model pixel is a sharp square block: ``export_scale`` picks the factor that
makes the longer side at least ``MIN_SIDE`` pixels (a single 28 × 28 image comes out 532 px wide,
a 30 × 30 grid of tiles 840 px), large enough for a slide and never blurred.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .images import to_uint8

MIN_SIDE = 512
GIF_FRAME_MS = 120  # the interpolation's animation: about 8 steps a second, and back


def export_scale(height: int, width: int) -> int:
    """The whole factor that brings the longer side of a ``height`` × ``width`` picture to
    ``MIN_SIDE`` pixels or more (1 for a picture already that large)."""
    return max(1, math.ceil(MIN_SIDE / max(1, height, width)))


def _enlarged(pixels: np.ndarray) -> Image.Image:
    x = np.asarray(pixels)
    x = x if x.dtype == np.uint8 else to_uint8(x)
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] != 3):
        raise ValueError(f"a picture is (H, W) grey or (H, W, 3) RGB, not {x.shape}")
    k = export_scale(x.shape[0], x.shape[1])
    img = Image.fromarray(x)
    return img.resize((x.shape[1] * k, x.shape[0] * k), Image.Resampling.NEAREST)


def png(pixels: np.ndarray) -> bytes:
    """A grey (H, W) or RGB (H, W, 3) picture, uint8 or floats in [0, 1], as PNG bytes at
    ``export_scale`` times its size."""
    buf = io.BytesIO()
    _enlarged(pixels).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def gif(frames: Sequence[np.ndarray] | np.ndarray, frame_ms: int = GIF_FRAME_MS, there_and_back: bool = True) -> bytes:
    """Frames (n, H, W) grey, uint8 or in [0, 1], as an animated GIF that loops forever, each
    frame enlarged as ``png`` does; ``there_and_back`` plays them forward then backward (A to B
    to A) so the loop has no jump."""
    pictures = [_enlarged(f) for f in frames]
    if not pictures:
        raise ValueError("an animation needs at least one frame")
    if there_and_back and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0,
                     disposal=1, optimize=False)
    return buf.getvalue()


def codes_csv(indices: np.ndarray, labels: np.ndarray, class_names: Sequence[str], codes: np.ndarray,
              xy: np.ndarray | None, map_name: str | None) -> bytes:
    """One row per test image: its index in the test split, its label and class name, its 2-D
    map coordinates (columns ``<map>_x``, ``<map>_y``; left out when ``xy`` is None) and its
    code (``z0`` … ``z{d-1}``), as UTF-8 CSV with a header row."""
    codes = np.asarray(codes, dtype=np.float64)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = ["test_index", "label", "class"]
    if xy is not None:
        header += [f"{map_name}_x", f"{map_name}_y"]
    w.writerow(header + [f"z{i}" for i in range(codes.shape[1])])
    for r in range(len(codes)):
        label = int(labels[r])
        row: list = [int(indices[r]), label, class_names[label] if 0 <= label < len(class_names) else ""]
        if xy is not None:
            row += [f"{float(xy[r, 0]):.6g}", f"{float(xy[r, 1]):.6g}"]
        w.writerow(row + [f"{v:.6g}" for v in codes[r]])
    return out.getvalue().encode("utf-8")

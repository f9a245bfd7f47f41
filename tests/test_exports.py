"""explorer.exports: the PNG, GIF and CSV files the app hands out."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image

from explorer import exports


def test_a_png_is_the_picture_enlarged_by_a_whole_factor_with_sharp_pixels():
    x = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    img = Image.open(io.BytesIO(exports.png(x)))
    k = exports.export_scale(28, 28)
    assert img.format == "PNG" and img.size == (28 * k, 28 * k) and 28 * k >= exports.MIN_SIDE
    back = np.asarray(img)
    assert np.array_equal(back[::k, ::k], (x * 255 + 0.5).astype(np.uint8)), "every model pixel kept"
    assert np.array_equal(back[k - 1::k, k - 1::k], back[::k, ::k]), "each a k × k block, not blurred"


def test_a_large_rgb_grid_keeps_its_size():
    grid = np.zeros((840, 840, 3), np.uint8)
    grid[:, :, 0] = 200
    img = Image.open(io.BytesIO(exports.png(grid)))
    assert img.size == (840, 840) and img.mode == "RGB" and img.getpixel((5, 5)) == (200, 0, 0)


def test_export_scale():
    assert exports.export_scale(28, 28) == 19 and exports.export_scale(28, 28 * 9 + 10) == 2
    assert exports.export_scale(2000, 10) == 1


def test_a_gif_plays_there_and_back_and_loops():
    frames = np.stack([np.full((28, 28), v, np.float32) for v in np.linspace(0, 1, 5)])
    img = Image.open(io.BytesIO(exports.gif(frames)))
    assert img.format == "GIF" and img.n_frames == 5 + 3 and img.info.get("loop") == 0
    k = exports.export_scale(28, 28)
    assert img.size == (28 * k, 28 * k)
    greys = []
    for i in range(img.n_frames):
        img.seek(i)
        greys.append(np.asarray(img.convert("L"))[0, 0])
    assert greys == sorted(greys[:5]) + sorted(greys[1:4], reverse=True)


def test_a_gif_needs_a_frame():
    with pytest.raises(ValueError):
        exports.gif([])


def test_the_csv_has_a_row_per_code_with_its_label_map_point_and_code():
    codes = np.array([[0.5, -1.25, 3.0], [1e-7, 2.0, -0.0]], np.float32)
    data = exports.codes_csv(np.array([17, 4]), np.array([3, 9]), [str(i) for i in range(10)], codes,
                             np.array([[1.5, 2.5], [-3.0, 0.25]]), "tsne")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == ["test_index", "label", "class", "tsne_x", "tsne_y", "z0", "z1", "z2"]
    assert rows[1][:5] == ["17", "3", "3", "1.5", "2.5"] and [float(v) for v in rows[1][5:]] == [0.5, -1.25, 3.0]
    assert len(rows) == 3 and float(rows[2][5]) == pytest.approx(1e-7)
    no_map = exports.codes_csv(np.array([0]), np.array([1]), ["a", "b"], codes[:1], None, None)
    assert no_map.decode().splitlines()[0] == "test_index,label,class,z0,z1,z2"
    assert no_map.decode().splitlines()[1].startswith("0,1,b,")


def test_a_picture_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="picture"):
        exports.png(np.zeros((4, 4, 4)))

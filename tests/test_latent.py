"""Latent geometry: click -> coordinate, grids, planes, paths, neighbours, prior samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.latent import (
    axis_values,
    coord_to_fraction,
    dims_plane,
    fraction_to_coord,
    grid_coords,
    interpolate,
    lerp,
    make_plane,
    nearest_neighbours,
    pca_plane,
    pixel_to_plane,
    plane_to_pixel,
    prior_samples,
    slerp,
    spread_extent,
    tile_at,
)


class TestAxis:
    def test_even_spacing_is_symmetric_and_linear(self):
        vals = axis_values(5, 3.0, "even")
        np.testing.assert_allclose(vals, [-2.4, -1.2, 0.0, 1.2, 2.4])
        np.testing.assert_allclose(np.diff(vals), 1.2)

    def test_quantile_spacing_follows_the_normal_inverse_cdf(self):
        # Kingma & Welling fig. 4: equal steps of probability; extent 3 -> sigma 1.
        vals = axis_values(4, 3.0, "quantile")
        np.testing.assert_allclose(vals, [-1.1503494, -0.3186394, 0.3186394, 1.1503494], atol=1e-6)
        assert np.all(np.diff(vals) > 0)
        # tiles crowd near the centre
        assert np.diff(vals)[1] < np.diff(vals)[0]

    @pytest.mark.parametrize("spacing", ["even", "quantile"])
    def test_fraction_round_trip(self, spacing):
        f = np.linspace(0.01, 0.99, 37)
        np.testing.assert_allclose(coord_to_fraction(fraction_to_coord(f, 2.5, spacing), 2.5, spacing), f, atol=1e-9)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="spacing"):
            fraction_to_coord(0.5, 3.0, "log")
        with pytest.raises(ValueError, match="extent"):
            fraction_to_coord(0.5, 0.0)
        with pytest.raises(ValueError):
            axis_values(0, 3.0)


class TestClicks:
    def test_centre_of_a_tile_gives_exactly_that_tile(self):
        n, tile, extent = 15, 28, 3.0
        size = n * tile
        coords = grid_coords(n, extent, "even")
        for r, c in [(0, 0), (7, 7), (14, 3), (2, 11)]:
            # pixel (x, y) covers [x, x+1): a tile's centre lies between its two middle pixels
            x = c * tile + tile / 2 - 0.5
            y = r * tile + tile / 2 - 0.5
            u, v = pixel_to_plane(x, y, size, size, extent, "even")
            np.testing.assert_allclose((u, v), coords[r, c], atol=1e-9)

    def test_y_grows_upwards_and_x_rightwards(self):
        u0, v0 = pixel_to_plane(0, 0, 100, 100, 3.0)
        u1, v1 = pixel_to_plane(99, 99, 100, 100, 3.0)
        assert u0 < 0 < u1 and v0 > 0 > v1

    def test_the_displayed_size_is_what_counts(self):
        # the same relative spot on a 420-px and a 600-px rendering is the same coordinate
        a = pixel_to_plane(105 - 0.5, 315 - 0.5, 420, 420, 3.0)
        b = pixel_to_plane(150 - 0.5, 450 - 0.5, 600, 600, 3.0)
        np.testing.assert_allclose(a, b, atol=1e-9)
        np.testing.assert_allclose(a, (-1.5, -1.5), atol=1e-9)

    @pytest.mark.parametrize("spacing", ["even", "quantile"])
    def test_clicks_stay_finite_at_the_edges(self, spacing):
        for x, y in [(0, 0), (-5, 1e6), (419, 419)]:
            assert np.isfinite(pixel_to_plane(x, y, 420, 420, 3.0, spacing)).all()

    @given(x=st.floats(0, 599), y=st.floats(0, 599), spacing=st.sampled_from(["even", "quantile"]))
    @settings(max_examples=60, deadline=None, database=None)
    def test_plane_to_pixel_inverts_a_click(self, x, y, spacing):
        u, v = pixel_to_plane(x, y, 600, 600, 2.0, spacing)
        (px, py), = plane_to_pixel(np.array([[u, v]]), 600, 600, 2.0, spacing)
        assert abs(px - x) < 1e-6 * 600 and abs(py - y) < 1e-6 * 600

    def test_zero_size_is_refused(self):
        with pytest.raises(ValueError):
            pixel_to_plane(1, 1, 0, 100, 3.0)

    def test_tile_at(self):
        assert tile_at(0, 0, 240, 240, 8, 8) == (0, 0)
        assert tile_at(239, 239, 240, 240, 8, 8) == (7, 7)
        assert tile_at(31, 29, 240, 240, 8, 8) == (0, 1)
        assert tile_at(500, -3, 240, 240, 8, 8) == (0, 7)  # clamped


class TestGrid:
    def test_grid_rows_run_top_down_and_columns_left_right(self):
        g = grid_coords(3, 3.0)
        assert g.shape == (3, 3, 2)
        assert g[0, 0, 1] > g[2, 0, 1]  # top row has the largest v
        assert g[0, 0, 0] < g[0, 2, 0]  # left column has the smallest u


class TestPlanes:
    def test_dims_plane_keeps_true_coordinates_and_the_anchor_elsewhere(self):
        anchor = np.arange(6, dtype=float)
        p = dims_plane(6, 1, 4, anchor)
        z = p.points(np.array([0.5, -2.0]))
        np.testing.assert_allclose(z, [0, 0.5, 2, 3, -2.0, 5])
        np.testing.assert_allclose(p.coords(z[None]), [[0.5, -2.0]], atol=1e-6)
        assert p.labels == ("z1", "z4")

    def test_dims_plane_needs_two_different_dims(self):
        with pytest.raises(ValueError):
            dims_plane(4, 2, 2)
        with pytest.raises(ValueError):
            dims_plane(4, 0, 4)

    def test_pca_plane_is_orthonormal_and_follows_the_spread(self):
        rng = np.random.default_rng(0)
        codes = rng.normal(size=(500, 8)) * np.array([5, 0.1, 0.1, 3, 0.1, 0.1, 0.1, 0.1])
        p = pca_plane(codes)
        np.testing.assert_allclose(p.axes @ p.axes.T, np.eye(2), atol=1e-9)
        assert abs(p.axes[0, 0]) > 0.99 and abs(p.axes[1, 3]) > 0.99
        assert p.labels == ("PC1", "PC2")
        anchor = codes[7]
        q = pca_plane(codes, anchor)
        np.testing.assert_allclose(q.points(np.zeros(2)), anchor, atol=1e-5)

    def test_make_plane_for_latent_size_2_is_the_whole_space(self):
        codes = np.random.default_rng(1).normal(size=(50, 2))
        p = make_plane("dims", codes)
        np.testing.assert_allclose(p.points(np.array([[1.0, -2.0]])), [[1.0, -2.0]])
        with pytest.raises(ValueError):
            make_plane("dims", codes[:, :1])
        with pytest.raises(ValueError):
            make_plane("tilted", codes)

    def test_spread_extent_covers_the_codes(self):
        coords = np.random.default_rng(0).normal(scale=4.0, size=(2000, 2))
        ext = spread_extent(coords)
        assert 8 <= ext <= 13 and ext % 0.5 == 0
        assert spread_extent(np.zeros((0, 2))) == 3.0
        assert spread_extent(np.zeros((5, 2))) == 0.5


class TestPaths:
    def test_lerp_ends_and_middle(self):
        a, b = np.array([0.0, 2.0]), np.array([4.0, -2.0])
        np.testing.assert_allclose(lerp(a, b, 0.0), a)
        np.testing.assert_allclose(lerp(a, b, 1.0), b)
        np.testing.assert_allclose(lerp(a, b, 0.5), [2.0, 0.0])
        assert lerp(a, b, np.linspace(0, 1, 7)).shape == (7, 2)

    def test_slerp_follows_the_arc(self):
        a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
        mid = slerp(a, b, 0.5)
        np.testing.assert_allclose(mid, [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(slerp(a, 3 * b, np.linspace(0, 1, 5)), axis=1),
                                   [1, 1.5, 2, 2.5, 3], atol=1e-5)
        np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
        np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-6)

    def test_slerp_falls_back_to_lerp_when_degenerate(self):
        a = np.array([1.0, 1.0])
        np.testing.assert_allclose(slerp(a, 2 * a, 0.5), lerp(a, 2 * a, 0.5), atol=1e-6)
        np.testing.assert_allclose(slerp(np.zeros(2), a, 0.5), lerp(np.zeros(2), a, 0.5))

    def test_interpolate_names_its_methods(self):
        with pytest.raises(ValueError, match="linear"):
            interpolate(np.zeros(2), np.ones(2), 0.5, "cubic")


class TestNeighboursAndSamples:
    def test_nearest_first_and_self_excluded(self):
        codes = np.array([[0.0, 0], [1, 0], [0.1, 0], [5, 5], [0.5, 0]])
        assert list(nearest_neighbours(codes, codes[0], 3, exclude=0)) == [2, 4, 1]
        assert list(nearest_neighbours(codes, codes[0], 10, exclude=0)) == [2, 4, 1, 3]
        assert len(nearest_neighbours(codes[:1], codes[0], 3, exclude=0)) == 0

    def test_prior_samples_are_seeded_and_scaled(self):
        a = prior_samples(64, 8, 1.0, seed=3)
        np.testing.assert_array_equal(a, prior_samples(64, 8, 1.0, seed=3))
        assert not np.array_equal(a, prior_samples(64, 8, 1.0, seed=4))
        np.testing.assert_allclose(prior_samples(64, 8, 0.5, seed=3), 0.5 * a, rtol=1e-6)
        assert a.dtype == np.float32 and a.shape == (64, 8)
        assert not prior_samples(4, 2, 0.0).any()
        with pytest.raises(ValueError):
            prior_samples(4, 2, -1.0)

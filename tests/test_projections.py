"""2-D maps of codes: PCA (shapes, orthonormal sign-fixed directions, variance order, the
latent size 1 padding), t-SNE (seeded, float32, keeps clusters apart), and which maps a
checkpoint gets."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import projections
from explorer.projections import maps_for, pca_2d, pca_fit, tsne_2d

SCALES = np.array([5.0, 3.0, 1.0, 0.5, 0.1])


@pytest.fixture(scope="module")
def codes():
    """Anisotropic codes in 5-D, off the origin, along directions that are not the axes."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    return rng.normal(size=(400, 5)) * SCALES @ q.T + np.array([1.0, -2.0, 0.5, 3.0, 0.0])


@pytest.fixture(scope="module")
def clusters():
    """60 codes in three tight, well separated clusters in 8-D, and their labels."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 8)) * 20
    labels = np.repeat(np.arange(3), 20)
    return (centres[labels] + rng.normal(size=(60, 8))).astype(np.float32), labels


def top_directions(codes, k):
    """The top-k eigenvectors of the covariance, computed independently of pca_fit."""
    values, vectors = np.linalg.eigh(np.cov(codes, rowvar=False))
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order].T


class TestPcaFit:
    @pytest.mark.parametrize("k", [1, 2, 3])
    def test_shapes_and_mean(self, codes, k):
        mean, comps = pca_fit(codes, k)
        assert mean.shape == (5,) and comps.shape == (k, 5)
        np.testing.assert_allclose(mean, codes.mean(0))

    def test_components_are_orthonormal(self, codes):
        _, comps = pca_fit(codes, 4)
        np.testing.assert_allclose(comps @ comps.T, np.eye(4), atol=1e-10)

    def test_components_are_the_top_directions(self, codes):
        _, comps = pca_fit(codes, 3)
        _, ref = top_directions(codes, 3)
        np.testing.assert_allclose(np.abs(np.sum(comps * ref, axis=1)), 1.0, atol=1e-8)

    def test_largest_loading_is_positive(self, codes):
        _, comps = pca_fit(codes, 5)
        largest = comps[np.arange(5), np.abs(comps).argmax(1)]
        assert (largest > 0).all()

    def test_sign_does_not_follow_the_sign_of_the_data(self, codes):
        _, comps = pca_fit(codes, 3)
        _, flipped = pca_fit(-codes, 3)
        np.testing.assert_allclose(flipped, comps, atol=1e-10)
        np.testing.assert_allclose(pca_2d(-codes), -pca_2d(codes), rtol=1e-5, atol=1e-5)

    def test_reflecting_the_data_along_its_principal_direction_keeps_the_directions(self, codes):
        mean, comps = pca_fit(codes, 2)
        v = comps[0]
        reflected = codes - 2 * np.outer((codes - mean) @ v, v)
        _, comps_r = pca_fit(reflected, 2)
        np.testing.assert_allclose(comps_r, comps, atol=1e-8)
        maps, maps_r = pca_2d(codes), pca_2d(reflected)
        np.testing.assert_allclose(maps_r[:, 0], -maps[:, 0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(maps_r[:, 1], maps[:, 1], rtol=1e-5, atol=1e-5)

    def test_latent_size_one_is_padded_with_a_zero_direction(self):
        x = np.random.default_rng(2).normal(size=(50, 1)) * 3 + 1
        mean, comps = pca_fit(x, 2)
        assert comps.shape == (2, 1)
        np.testing.assert_allclose(comps, [[1.0], [0.0]])
        m = pca_2d(x)
        assert m.shape == (50, 2)
        np.testing.assert_allclose(m[:, 0], (x[:, 0] - mean[0]), rtol=1e-6, atol=1e-6)
        assert (m[:, 1] == 0).all()


class TestPca2d:
    def test_is_the_projection_on_the_top_two_directions(self, codes):
        m = pca_2d(codes)
        assert m.dtype == np.float32 and m.shape == (len(codes), 2)
        _, ref = top_directions(codes, 2)
        expected = (codes - codes.mean(0)) @ ref.T
        for j in range(2):  # each direction is defined up to its sign
            sign = np.sign(np.dot(m[:, j], expected[:, j]))
            np.testing.assert_allclose(m[:, j], sign * expected[:, j], rtol=1e-4, atol=1e-4)

    def test_first_coordinate_has_the_largest_variance(self, codes):
        m = pca_2d(codes).astype(np.float64)
        values, _ = top_directions(codes, 2)
        var = np.var(m, axis=0, ddof=1)
        assert var[0] > var[1]
        np.testing.assert_allclose(var, values, rtol=1e-4)
        np.testing.assert_allclose(m.mean(0), 0, atol=1e-4)
        assert abs(np.asarray(np.corrcoef(m.T))[0, 1]) < 1e-4

    def test_two_dimensional_codes_keep_their_distances(self, codes):
        x = codes[:, :2]
        m = pca_2d(x).astype(np.float64)
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        dm = np.linalg.norm(m[:, None] - m[None], axis=-1)
        np.testing.assert_allclose(dm, d, atol=1e-4)

    def test_float32_codes_give_the_same_map(self, codes):
        np.testing.assert_allclose(pca_2d(codes.astype(np.float32)), pca_2d(codes), rtol=1e-3, atol=1e-3)


class TestTsne:
    def test_deterministic_float32_and_finite(self, clusters):
        x, _ = clusters
        a, b = tsne_2d(x, seed=3, n_jobs=1), tsne_2d(x, seed=3, n_jobs=1)
        assert a.dtype == np.float32 and a.shape == (60, 2)
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)

    def test_keeps_clusters_apart(self, clusters):
        x, labels = clusters
        m = tsne_2d(x, seed=0, n_jobs=1)
        d = np.linalg.norm(m[:, None] - m[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        assert (labels[d.argmin(1)] == labels).all()

    def test_few_codes_still_work(self, clusters):
        x, _ = clusters
        m = tsne_2d(x[:8], seed=0, n_jobs=1)  # perplexity is held at 2 or more
        assert m.shape == (8, 2) and np.isfinite(m).all()


class TestMapsFor:
    @pytest.fixture(autouse=True)
    def quick_tsne(self, monkeypatch):
        """maps_for's choice of maps, without paying for a t-SNE per test."""
        calls = []

        def fake(codes, seed=0, *, n_jobs=2):
            calls.append((codes.shape, seed, n_jobs))
            return np.zeros((len(codes), 2), np.float32)

        monkeypatch.setattr(projections, "tsne_2d", fake)
        return calls

    def test_raw_only_for_two_dimensional_codes(self, codes, quick_tsne):
        two = maps_for(codes[:, :2].astype(np.float32), seed=4, n_jobs=1)
        assert set(two) == {"raw", "pca", "tsne"}
        np.testing.assert_array_equal(two["raw"], codes[:, :2].astype(np.float32))
        assert two["raw"].dtype == np.float32
        for dims in (1, 3, 5):
            assert set(maps_for(codes[:, :dims])) == {"pca", "tsne"}
        assert quick_tsne[0] == ((len(codes), 2), 4, 1)  # seed and threads are passed on

    def test_every_map_is_float32_n_by_2(self, codes):
        for dims in (2, 5):
            for name, m in maps_for(codes[:, :dims]).items():
                assert m.shape == (len(codes), 2) and m.dtype == np.float32, name
        np.testing.assert_array_equal(maps_for(codes)["pca"], pca_2d(codes))


def test_pixel_pca_keeps_all_the_variance_with_every_component_and_less_with_fewer():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(5, 784))
    images = (0.5 + 0.02 * rng.normal(size=(400, 5)) @ basis).reshape(-1, 28, 28)  # rank 5 around grey, inside [0, 1]
    pca = projections.fit_pixel_pca(images, 8)
    assert pca.components.shape == (8, 784) and np.all(np.diff(pca.variances) <= 1e-12), "strongest first"
    assert pca.explained(5) == pytest.approx(1.0, abs=1e-6) and pca.explained(2) < 0.9
    assert pca.mse(images, 5) < 1e-8 < pca.mse(images, 2) < pca.mse(images, 1)
    from sklearn.decomposition import PCA

    reference = PCA(3).fit(images.reshape(len(images), -1))
    assert pca.explained(3) == pytest.approx(reference.explained_variance_ratio_.sum(), rel=1e-6)


def test_pixel_pca_reads_uint8_as_pixels_in_0_1():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    a, b = projections.fit_pixel_pca(x, 4), projections.fit_pixel_pca(x / 255.0, 4)
    assert np.allclose(a.variances, b.variances)
    rec = a.reconstruct(x[:3], 4)
    assert rec.shape == (3, 28, 28) and rec.dtype == np.float32 and 0 <= rec.min() and rec.max() <= 1


def test_the_pca_curve_in_one_pass_is_each_points_mse_clipping_included():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)  # noise: reconstructions leave [0, 1], clipped
    pca = projections.fit_pixel_pca(x, 16)
    ks = (16, 1, 2, 4, 4, 9)  # any order, repeats
    assert pca.mse_curve(x, ks) == pytest.approx([pca.mse(x, k) for k in ks], rel=1e-6)
    assert np.any(pca.reconstruct(x, 16) == 0.0), "the case covers clipping"

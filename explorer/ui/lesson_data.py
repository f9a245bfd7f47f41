"""What the Lessons page measures on the shipped checkpoints, computed once per server and shared
by every session (a class opening the page together): the linear AE's angles to PCA, the images'
entropy floor, denoising scores, decoded planes. Torch is imported here on first use only."""

from __future__ import annotations

import numpy as np

from explorer.checkpoints import CatalogEntry
from explorer.images import mosaic, to_uint8
from explorer.latent import grid_coords

from . import loaders
from .loaders import shared

NOISE_SIGMA = 0.5    # the denoising lesson's Gaussian noise, the report's headline level
NOISE_SEED = 0
DENOISE_IMAGES = 500  # test images its PSNRs are averaged over


@shared(max_entries=16)
def _angles(path: str, weights_sha256: str, _entry: CatalogEntry) -> tuple[float, float, float] | None:
    from scipy.linalg import subspace_angles

    from explorer.projections import angles_to_pca

    pca = loaders.pixel_pca(_entry)
    a = angles_to_pca(loaders.model(_entry), pca)
    if a is None:
        return None
    k = _entry.meta.latent_dim
    chance = np.degrees(subspace_angles(np.random.default_rng(0).standard_normal((784, k)), pca.components[:k].T))
    return float(np.median(a)), float(a.max()), float(np.median(chance))


def angles_to_pca(entry: CatalogEntry) -> tuple[float, float, float] | None:
    """(median, largest) principal angle in degrees between a linear AE's decoder subspace and the
    span of as many PCA directions (fitted on the test images, as the app's PCA is), and the median
    a random subspace of that size would have; None for a network that is not linear."""
    return _angles(*loaders.key(entry), _entry=entry)


@shared(max_entries=4)
def _entropy_per_pixel(name: str, expected: int, _entry: CatalogEntry) -> float:
    import torch

    from explorer.losses import pixel_entropy

    images, _ = loaders.test_split(_entry)
    return float(pixel_entropy(torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]).mean()) / 784


def entropy_per_pixel(entry: CatalogEntry) -> float:
    """The test images' own Bernoulli entropy, nats per pixel: the floor of any decoder's BCE."""
    d = entry.meta.dataset
    return _entropy_per_pixel(d.name, d.test_count, _entry=entry)


def noisy(entry: CatalogEntry, indices) -> np.ndarray:
    """Test images corrupted by the lesson's Gaussian noise (the same noise every time)."""
    import torch

    from explorer.noise import gaussian

    clean = torch.from_numpy(loaders.test_images(entry, indices))[:, None]
    return gaussian(clean, NOISE_SIGMA, torch.Generator().manual_seed(NOISE_SEED))[:, 0].numpy()


@shared(max_entries=16)
def _denoise_psnr(path: str, weights_sha256: str, _entry: CatalogEntry) -> tuple[float, float]:
    import torch

    from explorer.losses import psnr

    idx = np.arange(min(DENOISE_IMAGES, _entry.meta.dataset.test_count))
    clean = torch.from_numpy(loaders.test_images(_entry, idx))[:, None]
    dirty = torch.from_numpy(noisy(_entry, idx))[:, None]
    with torch.inference_mode():
        out = loaders.model(_entry).reconstruct(dirty)
    return float(psnr(dirty, clean).mean()), float(psnr(out, clean).mean())


def denoise_psnr(entry: CatalogEntry) -> tuple[float, float]:
    """(noisy input, model's output) PSNR in dB against the clean image, averaged over the first
    ``DENOISE_IMAGES`` test images at the lesson's noise."""
    return _denoise_psnr(*loaders.key(entry), _entry=entry)


def denoised(entry: CatalogEntry, indices) -> np.ndarray:
    """The model's output for the lesson's noisy test images (n, 28, 28) in [0, 1]."""
    import torch

    with torch.inference_mode():
        return loaders.model(entry).reconstruct(torch.from_numpy(noisy(entry, indices))[:, None])[:, 0].numpy()


@shared(max_entries=16)
def _plane_picture(path: str, weights_sha256: str, n: int, extent: float, _entry: CatalogEntry) -> np.ndarray:
    from explorer import inference

    uv = grid_coords(n, extent, "even").reshape(-1, 2)
    return to_uint8(mosaic(inference.decode(loaders.model(_entry), uv), n))


def plane_picture(entry: CatalogEntry, n: int) -> tuple[np.ndarray, float]:
    """A 2-D model's latent plane decoded on an n × n grid over the range its grid page opens on
    (a VAE's ±3; an AE's codes' spread): uint8 (28n, 28n) and that half-width."""
    extent = loaders.grid_extent(entry, "dims", 0, 1, None)
    return _plane_picture(*loaders.key(entry), int(n), float(extent), _entry=entry), extent


def empty_points(codes: np.ndarray, n: int, extent: float) -> np.ndarray:
    """Which of the n × n grid's points (row-major, as ``grid_coords``) have no code of ``codes``
    (m, 2) within one grid spacing: (n², ) bool."""
    from scipy.spatial import KDTree

    uv = grid_coords(n, extent, "even").reshape(-1, 2)
    distance, _ = KDTree(codes).query(uv)
    return distance > 2 * extent / (n - 1)


@shared(max_entries=16)
def _empty_share(path: str, weights_sha256: str, n: int, extent: float, _entry: CatalogEntry) -> float:
    return float(empty_points(loaders.codes(_entry)["codes"], n, extent).mean())


def empty_share(entry: CatalogEntry, n: int) -> float:
    """The share of ``plane_picture``'s n × n points with no stored test code (5,000 test images)
    within one grid spacing: the plane's holes, measured. A 2-D model only."""
    extent = loaders.grid_extent(entry, "dims", 0, 1, None)
    return _empty_share(*loaders.key(entry), int(n), float(extent), _entry=entry)

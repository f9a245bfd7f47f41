"""2-D maps of latent codes: PCA and t-SNE.

Functions take codes (N, latent_dim) and return float32 (N, 2). t-SNE uses openTSNE
(Poličar et al. 2019) with a fixed seed; it is faster than scikit-learn's here
(``python -m tools.bench`` times both), so the sweep uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pca_fit(codes: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and the top ``n_components`` principal directions (k, d), sign-fixed."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(0)
    _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
    comps = vt[:n_components]
    # Fix each direction's sign (largest |loading| positive) so the same codes give the same map.
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    comps = comps * np.where(signs == 0, 1, signs)[:, None]
    if comps.shape[0] < n_components:  # latent_dim 1: pad with a zero direction
        comps = np.vstack([comps, np.zeros((n_components - comps.shape[0], codes.shape[1]))])
    return mean, comps


def pca_2d(codes: np.ndarray) -> np.ndarray:
    mean, comps = pca_fit(codes, 2)
    return ((np.asarray(codes, np.float64) - mean) @ comps.T).astype(np.float32)


def tsne_2d(codes: np.ndarray, seed: int = 0, *, n_jobs: int = 2) -> np.ndarray:
    """openTSNE embedding of ``codes`` (N, d) -> (N, 2), deterministic for a seed."""
    from openTSNE import TSNE

    codes = np.asarray(codes, dtype=np.float64)
    perplexity = float(min(30.0, max(2.0, (len(codes) - 1) / 3.0)))
    # Barnes-Hut with theta 0.8 (openTSNE's default is 0.5): markedly faster on 5,000 codes for a
    # final KL divergence barely higher, which saves time the 20-minute sweep needs. FFT is slower here.
    emb = TSNE(perplexity=perplexity, n_jobs=n_jobs, random_state=seed, initialization="pca",  # pyright: ignore[reportArgumentType] - openTSNE takes a float perplexity
               negative_gradient_method="bh", theta=0.8,
               neighbors="exact" if len(codes) < 1000 else "annoy", verbose=False).fit(codes)
    return np.asarray(emb, dtype=np.float32)


def maps_for(codes: np.ndarray, seed: int = 0, *, n_jobs: int = 2) -> dict[str, np.ndarray]:
    """Every precomputed map of a checkpoint: raw (latent size 2 only), pca, tsne (on ``n_jobs``
    threads; the map does not depend on how many)."""
    out = {"pca": pca_2d(codes), "tsne": tsne_2d(codes, seed, n_jobs=n_jobs)}
    if codes.shape[1] == 2:
        out["raw"] = np.asarray(codes, dtype=np.float32)
    return out


@dataclass(frozen=True)
class PixelPCA:
    """PCA of images' pixels, the linear baseline an autoencoder of latent size k is measured
    against (seed 001): the mean image, the top principal directions and their variances."""

    mean: np.ndarray        # (784,) float64, pixels in [0, 1]
    components: np.ndarray  # (K, 784), strongest first
    variances: np.ndarray   # (K,) the variance along each direction
    total_variance: float   # summed over all 784 directions

    def reconstruct(self, images: np.ndarray, k: int) -> np.ndarray:
        """The best rank-``k`` linear reconstruction of ``images`` (n, 28, 28), uint8 or in [0, 1]
        -> float32 (n, 28, 28) in [0, 1] (clipped, as an image is)."""
        x = _flat(images)
        c = self.components[:k]
        rec = (x - self.mean) @ c.T @ c + self.mean
        return np.clip(rec, 0.0, 1.0).reshape(-1, 28, 28).astype(np.float32)

    def mse(self, images: np.ndarray, k: int) -> float:
        """Mean squared error per pixel of ``reconstruct(images, k)``."""
        return float(((self.reconstruct(images, k) - _flat(images).reshape(-1, 28, 28)) ** 2).mean())

    def mse_curve(self, images: np.ndarray, ks) -> list[float]:
        """``mse(images, k)`` for each of ``ks``, in one pass: the codes on the top ``max(ks)``
        directions are computed once, and each reconstruction adds the next directions to the one
        before (1.6 s for the twelve points of Compare's PCA row on 10,000 images, one at a time;
        0.2-0.3 s this way, a one-off timing)."""
        x = _flat(images).astype(np.float32)  # as ``reconstruct`` returns its images
        c = self.components[:max(ks)].astype(np.float32)
        mean = self.mean.astype(np.float32)
        codes = (x - mean) @ c.T
        rec = np.broadcast_to(mean, x.shape).copy()
        err = np.empty_like(x)
        out, done = {}, 0
        for k in sorted(set(ks)):
            rec += codes[:, done:k] @ c[done:k]
            done = k
            np.clip(rec, 0.0, 1.0, out=err)
            err -= x
            np.square(err, out=err)
            out[k] = float(err.sum(dtype=np.float64) / err.size)
        return [out[k] for k in ks]

    def explained(self, k: int) -> float:
        """The share of the fitted images' variance the top ``k`` directions keep."""
        return float(self.variances[:k].sum() / self.total_variance)


def _flat(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images).reshape(len(images), -1)
    return x / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def fit_pixel_pca(images: np.ndarray, n_components: int = 64) -> PixelPCA:
    """``PixelPCA`` of ``images`` (n, 28, 28), uint8 or in [0, 1], from the eigenvectors of the
    pixels' covariance (784 × 784: cheaper than an SVD of 60,000 rows)."""
    x = _flat(images)
    mean = x.mean(axis=0)
    centred = x - mean
    cov = centred.T @ centred / len(x)
    values, vectors = np.linalg.eigh(cov)       # ascending
    order = np.argsort(values)[::-1][:n_components]
    return PixelPCA(mean=mean, components=vectors[:, order].T.copy(), variances=values[order].copy(),
                    total_variance=float(values.clip(min=0).sum()))


def decoder_subspace(model) -> np.ndarray | None:
    """The directions a linear decoder (an MLP without hidden layers) draws its images along: its
    weight's columns, (784, latent_dim). None for any other network, whose decoder bends its code
    through activations and has no one subspace."""
    if model.cfg.arch != "mlp" or model.cfg.hidden:
        return None
    first = model.decoder[0]
    return first.weight.detach().double().numpy()


def angles_to_pca(model, pca: PixelPCA) -> np.ndarray | None:
    """Seed 001's "a linear autoencoder behaves like PCA", measured: the principal angles (degrees,
    largest first; Björck & Golub 1973) between a linear decoder's subspace and the span of PCA's
    top ``latent_dim`` directions. All 0° would be PCA's subspace exactly. None if not linear."""
    from scipy.linalg import subspace_angles

    w = decoder_subspace(model)
    if w is None:
        return None
    k = w.shape[1]
    if k > len(pca.components):
        raise ValueError(f"PCA was fitted with {len(pca.components)} components; the decoder has {k}")
    return np.degrees(subspace_angles(w, pca.components[:k].T))

"""Inference for the explorer: numpy in, numpy out, no gradients, models never changed.

The app shares one model object between all sessions, so everything here runs under
``torch.inference_mode()`` and only reads the model. Images are float32 (n, 28, 28) in
[0, 1]; codes are float32 (n, latent_dim).
"""

from __future__ import annotations

import numpy as np
import torch

from .losses import psnr as _psnr
from .noise import gaussian, occlude, salt_and_pepper

NOISES = ("gaussian", "salt_and_pepper", "block")


def _as_float32(a) -> np.ndarray:
    """A contiguous float32 array torch can take: the app's cached arrays are read-only, and
    torch warns on those (a copy costs a few kB here)."""
    x = np.ascontiguousarray(a, dtype=np.float32)
    return x if x.flags.writeable else x.copy()


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(_as_float32(images))
    return x.reshape(-1, 1, 28, 28)  # (n, 1, 28, 28)


# Batches bound the activations a call holds at once: a conv decoder's 1,024 images at a time
# held 390 MB for a moment (a whole test split through a conv encoder more), and a server's
# resident memory keeps its peaks (``python -m tools.browser_bench --only memory``).
BATCH = 256


def _batched(fn, x: torch.Tensor, batch_size: int = BATCH) -> torch.Tensor:
    return torch.cat([fn(x[i: i + batch_size]) for i in range(0, x.shape[0], batch_size)]) if x.shape[0] > batch_size \
        else fn(x)


@torch.inference_mode()
def decode(model, codes: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
    """Codes (n, d) or (d,) -> decoded intensities (n, 28, 28) in [0, 1]."""
    z = torch.as_tensor(_as_float32(codes)).reshape(-1, model.cfg.latent_dim)
    if z.shape[0] == 0:
        return np.zeros((0, 28, 28), np.float32)
    return torch.sigmoid(_batched(model.decode, z, batch_size)).reshape(-1, 28, 28).numpy()


@torch.inference_mode()
def embed(model, images: np.ndarray) -> np.ndarray:
    """Images (n, 28, 28) in [0, 1] -> deterministic codes (n, d) (``model.embed``: the VAE's
    posterior mean, carried through its flow if it has one)."""
    return _batched(model.embed, _to_tensor(images)).numpy()


@torch.inference_mode()
def posterior(model, images: np.ndarray, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """A VAE's images (n, 28, 28) in [0, 1] -> the Gaussian its posterior starts from: means and
    log-variances, each (n, d) (``VAE.encode``: before any flow)."""
    x = _to_tensor(images)
    parts = [model.encode(x[i: i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return (torch.cat([p[0] for p in parts]).numpy(), torch.cat([p[1] for p in parts]).numpy())


@torch.inference_mode()
def reconstruct(model, images: np.ndarray) -> np.ndarray:
    """Images (n, 28, 28) in [0, 1] -> reconstructions (n, 28, 28) through the deterministic code."""
    return _batched(model.reconstruct, _to_tensor(images)).reshape(-1, 28, 28).numpy()


def psnr(recon: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB (peak 1) of each image, (n, 28, 28) -> (n,)."""
    return _psnr(_to_tensor(recon), _to_tensor(clean)).numpy()


def block_position(image: np.ndarray, size: int, seed: int) -> tuple[int, int]:
    """Top-left corner of a ``size``×``size`` occluding block centred on a pixel drawn from the
    image's ink (so the block hides part of the drawing, not empty background); seeded."""
    rng = np.random.default_rng(seed)
    ink = np.clip(np.asarray(image, dtype=np.float64), 0, None).ravel()
    if ink.sum() > 0:
        k = int(rng.choice(ink.size, p=ink / ink.sum()))
        cy, cx = divmod(k, 28)
    else:
        cy, cx = int(rng.integers(0, 28)), int(rng.integers(0, 28))
    top = int(np.clip(cy - size // 2, 0, 28 - size))
    left = int(np.clip(cx - size // 2, 0, 28 - size))
    return top, left


def corrupt_batch(images: np.ndarray, noise: str, level: float, seed: int = 0) -> np.ndarray:
    """Images (n, 28, 28) in [0, 1] -> corrupted copies, float32 (n, 28, 28), the same for the
    same seed (one generator for the batch, so image i's noise depends on its place in it).

    gaussian: ``level`` is σ; salt_and_pepper: ``level`` is the share of pixels hit;
    block: ``level`` is the side of the black square in pixels (1..28), one per image, placed
    on its ink with seed ``seed + i``.
    """
    x = _to_tensor(images)
    gen = torch.Generator().manual_seed(int(seed))
    if noise == "gaussian":
        out = gaussian(x, float(level), gen)
    elif noise == "salt_and_pepper":
        out = salt_and_pepper(x, float(level), gen)
    elif noise == "block":
        size = int(np.clip(round(level), 1, 28))
        out = x.clone()
        for i in range(len(out)):
            top, left = block_position(out[i, 0].numpy(), size, int(seed) + i)
            out[i: i + 1] = occlude(out[i: i + 1], size, top, left)
    else:
        raise ValueError(f"unknown noise {noise!r}; choose one of {', '.join(NOISES)}")
    return out.reshape(-1, 28, 28).numpy()


def corrupt(image: np.ndarray, noise: str, level: float, seed: int = 0) -> np.ndarray:
    """One image (28, 28) in [0, 1] -> a corrupted copy, the same for the same seed
    (``corrupt_batch`` of one image)."""
    return corrupt_batch(np.asarray(image)[None], noise, level, seed)[0]

"""Loss terms, in nats per image.

Reconstruction: Bernoulli cross-entropy of the pixel intensities in [0, 1] against the
decoder's logits, summed over the 784 pixels (binary_cross_entropy_with_logits is the
numerically stable form of -[x log p + (1-x) log(1-p)]).

KL: the analytic KL divergence of N(mu, diag(exp(logvar))) from N(0, I),
Kingma & Welling 2013, "Auto-Encoding Variational Bayes", appendix B:
    -KL = 1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bernoulli_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) logits and targets in [0, 1] -> (N,) nats per image."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(N, z) mean and log-variance -> (N,) KL(q || N(0, I)) in nats."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


def pixel_entropy(target: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) -> (N,): the Bernoulli entropy of the intensities themselves.

    The cross-entropy of any decoder is at least this: it is the floor no model can pass.
    """
    p = target.clamp(1e-7, 1 - 1e-7)
    return -(p * p.log() + (1 - p) * (1 - p).log()).flatten(1).sum(1)


def mse_per_pixel(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, ...) images in [0, 1] -> (N,) mean squared error per pixel."""
    return (recon - target).pow(2).flatten(1).mean(1)


def psnr(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, ...) images in [0, 1] -> (N,) peak signal-to-noise ratio in dB (peak = 1)."""
    return -10.0 * torch.log10(mse_per_pixel(recon, target).clamp_min(1e-10))


def mean_psnr_of_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error (used for dataset-level figures)."""
    return -10.0 * math.log10(max(mse, 1e-10))

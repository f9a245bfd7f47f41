"""Per-dimension traversals: one latent dimension moved at a time through a code, one row per
dimension, the rows ordered by how much the model uses each (issue 16, part 3).

How much a dimension is used:
  VAE    its KL from the prior, averaged over test images: for a diagonal Gaussian posterior
         q(z|x) = N(mu, sigma²) against N(0, 1), KL_d = ½ (mu_d² + sigma_d² − 1 − log sigma_d²),
         the terms of the VAE's KL, which add up over dimensions. A dimension whose average KL is
         under ``UNUSED_KL`` (0.01 nats) carries next to nothing about the image: the decoder is
         fed prior noise there ("posterior collapse" of that unit; Burda et al. 2016 count units
         the same way, by the variance of their means).
  VAE with a flow   the flow mixes the dimensions, so the KL has no per-dimension terms: the
         variance of the codes over the test images instead, as for an AE.
  AE, DAE  the variance of the codes over the test images (no prior to be measured against).
The values a row walks: −3 … +3 for a VAE's prior N(0, 1) (its 0.1st to 99.9th percentiles); the
codes' own 1st to 99th percentile for an AE, whose codes have no fixed scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNUSED_KL = 0.01  # nats: "dimensions whose KL is below 0.01 nats are marked as unused"
PRIOR_SPAN = 3.0  # a VAE's rows walk −3 … +3
PERCENTILES = (1.0, 99.0)  # an AE's rows walk its codes' 1st … 99th percentile


@dataclass(frozen=True)
class Usage:
    """How much each latent dimension is used, and the measure's name and unit."""

    values: np.ndarray   # (latent_dim,) float64
    measure: str         # "KL" or "variance"
    unit: str            # "nats" or "" (the codes' units squared)

    @property
    def order(self) -> np.ndarray:
        """The dimensions, most used first (ties: the lower dimension first)."""
        return np.lexsort((np.arange(len(self.values)), -self.values))

    @property
    def unused(self) -> np.ndarray:
        """(latent_dim,) bool: a VAE's dimensions under ``UNUSED_KL``; none for a variance."""
        if self.measure != "KL":
            return np.zeros(len(self.values), bool)
        return self.values < UNUSED_KL


def kl_per_dimension(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """(latent_dim,) the average over images of each dimension's KL(N(mu, e^logvar) || N(0, 1))."""
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return (0.5 * (mu ** 2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)


def usage(kind: str, codes: np.ndarray, logvar: np.ndarray | None = None) -> Usage:
    """``Usage`` of a model from its test codes (n, latent_dim): for a VAE without a flow, its
    posterior means ``codes`` and log-variances ``logvar`` (the per-dimension KL); else (an AE,
    a DAE, or a VAE whose flow mixes the dimensions: ``logvar`` None) the codes' variance."""
    codes = np.asarray(codes, np.float64)
    if kind == "vae" and logvar is not None:
        return Usage(kl_per_dimension(codes, logvar), "KL", "nats")
    return Usage(codes.var(axis=0), "variance", "")


def model_usage(model, kind: str, codes: np.ndarray, images: np.ndarray) -> Usage:
    """``usage`` of a loaded model over test ``images`` (n, 28, 28) in [0, 1] and their stored
    ``codes``: a VAE without a flow is run on the images for its posteriors (torch); anything else
    reads the codes. What the Interpolate page and ``python -m tools.dimensions`` show."""
    if kind == "vae" and not model.cfg.flow_steps:
        from explorer import inference  # torch: only where a posterior is computed

        mu, logvar = inference.posterior(model, images)
        return usage("vae", mu, logvar)
    return usage(kind, codes)


def walk_values(kind: str, codes: np.ndarray, steps: int = 9) -> np.ndarray:
    """(latent_dim, steps): the values each dimension's row takes, left to right."""
    codes = np.asarray(codes, np.float64)
    if kind == "vae":
        return np.tile(np.linspace(-PRIOR_SPAN, PRIOR_SPAN, steps), (codes.shape[1], 1))
    lo, hi = np.percentile(codes, PERCENTILES, axis=0)
    return np.linspace(lo, hi, steps, axis=1)


def walk_codes(base: np.ndarray, order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(rows, steps, latent_dim): row r is ``base`` with dimension ``order[r]`` set to each of its
    ``values``; every other number stays the base's."""
    base = np.asarray(base, np.float32)
    order = np.asarray(order, np.int64)
    steps = values.shape[1]
    out = np.broadcast_to(base, (len(order), steps, len(base))).copy()
    for r, d in enumerate(order):
        out[r, :, d] = values[d]
    return out

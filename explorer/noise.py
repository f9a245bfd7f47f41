"""Corruptions: Gaussian noise, salt-and-pepper, random erasing, and an occluding block.

Used to train the denoising autoencoder (on corrupted inputs, with clean targets) and by
the denoising playground. Every function takes images (N, 1, 28, 28) in [0, 1] and a
``torch.Generator`` so a seed fixes the result, and returns a new tensor in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


def gaussian(x: torch.Tensor, sigma: float | torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Add N(0, sigma²) to every pixel; ``sigma`` may be one per image, shaped (N, 1, 1, 1)."""
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
    return (x + sigma * noise).clamp_(0.0, 1.0)


def salt_and_pepper(x: torch.Tensor, p: float | torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel becomes 0 or 1 (equally likely) with probability ``p``, which may be one per
    image, shaped (N, 1, 1, 1)."""
    u = torch.rand(x.shape, generator=gen, dtype=x.dtype, device=x.device)
    out = x.clone()
    out[u < p / 2] = 0.0
    out[(u >= p / 2) & (u < p)] = 1.0
    return out


def occlude(x: torch.Tensor, size: int, top: int, left: int) -> torch.Tensor:
    """Black out a ``size``×``size`` block whose top-left corner is (top, left)."""
    out = x.clone()
    out[..., top: top + size, left: left + size] = 0.0
    return out


def random_erase(x: torch.Tensor, prob: float, max_size: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``prob`` per image, black out a random square of side 4..max_size."""
    n = x.shape[0]
    out = x.clone()
    hit = torch.rand(n, generator=gen) < prob
    sizes = torch.randint(4, max_size + 1, (n,), generator=gen)
    tops = (torch.rand(n, generator=gen) * (29 - sizes)).long()
    lefts = (torch.rand(n, generator=gen) * (29 - sizes)).long()
    # Build the masks with broadcasting rather than a Python loop over images.
    rows = torch.arange(28).view(1, 28, 1)
    cols = torch.arange(28).view(1, 1, 28)
    t, left, s = tops.view(-1, 1, 1), lefts.view(-1, 1, 1), sizes.view(-1, 1, 1)
    mask = (rows >= t) & (rows < t + s) & (cols >= left) & (cols < left + s) & hit.view(-1, 1, 1)
    out[mask.unsqueeze(1).to(x.device)] = 0.0
    return out


@dataclass(frozen=True)
class NoiseConfig:
    """How the DAE corrupts its training inputs: each image gets one corruption at random.

    Gaussian with sigma drawn uniformly in [0, sigma_max], salt-and-pepper with p drawn in
    [0, sp_max], or random erasing; ``mix`` gives their relative frequencies.
    """

    sigma_max: float = 0.6
    sp_max: float = 0.3
    erase_max_size: int = 14
    mix: tuple[float, float, float] = (0.6, 0.25, 0.15)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mix"] = list(self.mix)  # JSON form, so a saved config compares equal to a fresh one
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NoiseConfig:
        d = dict(d)
        if "mix" in d:
            d["mix"] = tuple(d["mix"])
        return cls(**d)


def corrupt(x: torch.Tensor, cfg: NoiseConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt a batch as the DAE sees it in training: one corruption per image, random level."""
    n = x.shape[0]
    probs = torch.tensor(cfg.mix, dtype=torch.float32)
    which = torch.multinomial(probs / probs.sum(), n, replacement=True, generator=gen)  # (N,)
    level = torch.rand(n, 1, 1, 1, generator=gen, dtype=x.dtype)
    out = x.clone()
    g = which == 0
    if g.any():
        out[g] = gaussian(x[g], level[g] * cfg.sigma_max, gen)
    s = which == 1
    if s.any():
        out[s] = salt_and_pepper(x[s], level[s] * cfg.sp_max, gen)
    e = which == 2
    if e.any():
        out[e] = random_erase(x[e], 1.0, cfg.erase_max_size, gen)
    return out

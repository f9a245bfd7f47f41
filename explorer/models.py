"""Autoencoder models: AE, DAE and VAE over MLP or convolutional encoder/decoder pairs.

Every model is a pure ``nn.Module`` built from a ``ModelConfig`` and shares one interface:
  encode(x)      AE/DAE: z (N, latent_dim); VAE: (mu, logvar), each (N, latent_dim)
  embed(x)       the deterministic code (the VAE's mu), (N, latent_dim)
  decode(z)      logits (N, 1, 28, 28)
  reconstruct(x) intensities in [0, 1], (N, 1, 28, 28), through the deterministic code
  loss_parts(x, target) -> {"recon": (N,), "kl": (N,)} in nats per image
with ``x`` float (N, 1, 28, 28) in [0, 1]. The DAE is the AE architecture; what makes it
denoising is the training (corrupted inputs, clean targets), recorded in ``kind``.
VAE: Kingma & Welling 2013; vocabulary as in pytorch/examples ``vae/main.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ACTIVATIONS, ARCHS, IMAGE_SHAPE, KINDS, N_PIXELS, ModelConfig  # noqa: F401 - re-exported
from .losses import bernoulli_nll, gaussian_kl

# --------------------------------------------------------------------------- bodies

ACTIVATION_LAYERS = {"relu": nn.ReLU, "silu": nn.SiLU, "elu": nn.ELU}


def act(cfg: ModelConfig) -> nn.Module:
    return ACTIVATION_LAYERS[cfg.activation]()


def mlp_encoder(cfg: ModelConfig) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = N_PIXELS
    for h in cfg.hidden:
        layers += [nn.Linear(width, h), act(cfg)]
        width = h
    layers.append(nn.Linear(width, cfg.code_outputs))
    return nn.Sequential(*layers)


def mlp_decoder(cfg: ModelConfig) -> nn.Module:
    layers: list[nn.Module] = []
    width = cfg.latent_dim
    for h in reversed(cfg.hidden):
        layers += [nn.Linear(width, h), act(cfg)]
        width = h
    layers += [nn.Linear(width, N_PIXELS), nn.Unflatten(1, IMAGE_SHAPE)]
    return nn.Sequential(*layers)


def conv_encoder(cfg: ModelConfig) -> nn.Module:
    c1, c2 = cfg.channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, stride=2, padding=1), act(cfg),   # (N, c1, 14, 14)
        nn.Conv2d(c1, c2, 3, stride=2, padding=1), act(cfg),  # (N, c2, 7, 7)
        nn.Flatten(),
        nn.Linear(c2 * 49, cfg.conv_dense), act(cfg),
        nn.Linear(cfg.conv_dense, cfg.code_outputs),
    )


def conv_decoder(cfg: ModelConfig) -> nn.Module:
    c1, c2 = cfg.channels
    return nn.Sequential(
        nn.Linear(cfg.latent_dim, cfg.conv_dense), act(cfg),
        nn.Linear(cfg.conv_dense, c2 * 49), act(cfg),
        nn.Unflatten(1, (c2, 7, 7)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), act(cfg),  # (N, c1, 14, 14)
        nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),              # (N, 1, 28, 28)
    )


BODIES = {"mlp": (mlp_encoder, mlp_decoder), "conv": (conv_encoder, conv_decoder)}


# --------------------------------------------------------------------------- models

class Autoencoder(nn.Module):
    """Deterministic autoencoder (kinds "ae" and "dae")."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        make_encoder, make_decoder = BODIES[cfg.arch]
        self.encoder = make_encoder(cfg)
        self.decoder = make_decoder(cfg)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (N, latent_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # logits (N, 1, 28, 28)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode(self.embed(x)))

    def loss_parts(self, x: torch.Tensor, target: torch.Tensor, gen: torch.Generator | None = None) -> dict:
        logits = self.decode(self.encode(x)).float()  # losses in float32 under autocast
        recon = bernoulli_nll(logits, target)
        return {"recon": recon, "kl": torch.zeros_like(recon)}


class VAE(Autoencoder):
    """Variational autoencoder with a diagonal Gaussian posterior and N(0, I) prior."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)                 # (N, 2 * latent_dim)
        mu, logvar = h.chunk(2, dim=1)      # each (N, latent_dim)
        return mu, logvar

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype, device=mu.device)
        return mu + eps * torch.exp(0.5 * logvar)

    def loss_parts(self, x: torch.Tensor, target: torch.Tensor, gen: torch.Generator | None = None) -> dict:
        mu, logvar = (t.float() for t in self.encode(x))  # losses in float32 under autocast
        z = self.reparameterize(mu, logvar, gen)
        return {"recon": bernoulli_nll(self.decode(z).float(), target), "kl": gaussian_kl(mu, logvar)}


MODELS: dict[str, type[Autoencoder]] = {"ae": Autoencoder, "dae": Autoencoder, "vae": VAE}


def build_model(cfg: ModelConfig) -> Autoencoder:
    model = MODELS[cfg.kind](cfg)
    if cfg.arch == "conv":
        # channels-last makes conv-transpose layers markedly faster on the CPU.
        model = model.to(memory_format=torch.channels_last)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

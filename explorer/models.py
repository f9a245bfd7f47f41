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
import torch.nn.functional as F
from torch import nn

from .config import IMAGE_SHAPE, N_PIXELS, ModelConfig
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


def conv4_encoder(cfg: ModelConfig) -> nn.Module:
    """Seed 000's convolutional VAE, the Keras example's network: four 3 × 3 convolutions (the
    second of stride 2), a dense layer, then the code. With channels (32, 64) and conv_dense 32
    its layers have the seed's parameter counts (320, 18,496, 36,928, 36,928, 401,440)."""
    c1, c2 = cfg.channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), act(cfg),             # (N, c1, 28, 28)
        nn.Conv2d(c1, c2, 3, stride=2, padding=1), act(cfg),  # (N, c2, 14, 14)
        nn.Conv2d(c2, c2, 3, padding=1), act(cfg),
        nn.Conv2d(c2, c2, 3, padding=1), act(cfg),
        nn.Flatten(),
        nn.Linear(c2 * 196, cfg.conv_dense), act(cfg),
        nn.Linear(cfg.conv_dense, cfg.code_outputs),
    )


def conv4_decoder(cfg: ModelConfig) -> nn.Module:
    """The seed's decoder: dense to 14 × 14 × c2, one stride-2 transposed convolution, one 3 × 3
    convolution to the image (parameters 37,632, 18,464 and 289 at latent size 2)."""
    c1, c2 = cfg.channels
    return nn.Sequential(
        nn.Linear(cfg.latent_dim, c2 * 196), act(cfg),
        nn.Unflatten(1, (c2, 14, 14)),
        nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), act(cfg),  # (N, c1, 28, 28)
        nn.Conv2d(c1, 1, 3, padding=1),
    )


BODIES = {"mlp": (mlp_encoder, mlp_decoder), "conv": (conv_encoder, conv_decoder),
          "conv4": (conv4_encoder, conv4_decoder)}


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
        # logits: the deterministic reconstruction itself, which ``evaluate`` reuses
        return {"recon": recon, "kl": torch.zeros_like(recon), "logits": logits}


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 mask (out_features, in_features)."""

    mask: torch.Tensor

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class IAFStep(nn.Module):
    """One step of an inverse autoregressive flow (Kingma et al. 2016, "Improved Variational
    Inference with Inverse Autoregressive Flow", eqs. 11-14): a MADE network (Germain et al.
    2015) gives, for each latent dimension, a shift m and a gate from the dimensions before it
    (in this step's order) and the encoder's context; z <- gate * z + (1 - gate) * m. Each
    output depends only on earlier dimensions, so the Jacobian is triangular and its log
    determinant is the sum of log gate."""

    GATE_BIAS = 2.0  # sigmoid(2) = 0.88: each step starts close to the identity (the paper's advice)

    def __init__(self, latent_dim: int, context: int, hidden: int, reverse: bool, activation: nn.Module):
        super().__init__()
        d = latent_dim
        order = torch.arange(d, 0, -1) if reverse else torch.arange(1, d + 1)  # each input's degree
        degree = torch.arange(hidden) % d  # hidden units of degree 0 see only the context
        self.inp = MaskedLinear(d, hidden, degree[:, None] >= order[None, :])
        self.ctx = nn.Linear(context, hidden)
        self.act = activation
        self.out = MaskedLinear(hidden, 2 * d, (order[:, None] > degree[None, :]).repeat(2, 1))
        with torch.no_grad():
            self.out.bias[d:] = self.GATE_BIAS

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, d) codes and (N, context) -> transformed codes (N, d), log |det dz'/dz| (N,)."""
        m, s = self.out(self.act(self.inp(z) + self.ctx(context))).chunk(2, dim=1)
        gate = torch.sigmoid(s)
        return gate * z + (1 - gate) * m, F.logsigmoid(s).sum(1)


class VAE(Autoencoder):
    """Variational autoencoder with an N(0, I) prior and a diagonal Gaussian posterior, optionally
    made richer by ``cfg.flow_steps`` IAF steps (the decoder and the prior do not change: the
    flow only reshapes the posterior inside the same latent space)."""

    LOGVAR_MAX = 4.0  # the largest log-variance of the posterior; see _posterior

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        d = cfg.latent_dim
        self.flow = nn.ModuleList(IAFStep(d, cfg.flow_context, max(64, 4 * d), reverse=i % 2 == 1, activation=act(cfg))
                                  for i in range(cfg.flow_steps))

    def _posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (N, 2 * latent_dim [+ flow context])
        d = self.cfg.latent_dim
        mu, logvar, context = h[:, :d], h[:, d: 2 * d], h[:, 2 * d:]
        # sigma <= e^2 = 7.4, wider than the N(0, I) prior, so no posterior worth having is cut
        # off. With the flow: a wider q0 whose width the gates squash back describes the same
        # posterior, and unbounded, training drifts along that ridge until it overflows. Without
        # it: one bad step of bfloat16 training sent a log-variance to 108 and the KL to inf
        # (the Fashion-MNIST VAEs at latent 4 and 16, 2026-12-01), which the bound prevents.
        return mu, logvar.clamp(max=self.LOGVAR_MAX), context

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the Gaussian the posterior starts from (before any flow)."""
        mu, logvar, _ = self._posterior(x)
        return mu, logvar

    def _through_flow(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = torch.zeros(z.shape[0], device=z.device)
        with torch.autocast(z.device.type, enabled=False):  # log-determinants want float32
            for step in self.flow:
                z, ld = step(z.float(), context.float())
                logdet = logdet + ld
        return z, logdet

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code: the posterior mean, carried through the flow if there is one."""
        mu, _, context = self._posterior(x)
        return self._through_flow(mu, context)[0] if self.flow else mu

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype, device=gen.device if gen is not None else mu.device)
        return mu + eps.to(mu.device) * torch.exp(0.5 * logvar)

    def loss_parts(self, x: torch.Tensor, target: torch.Tensor, gen: torch.Generator | None = None) -> dict:
        mu, logvar, context = (t.float() for t in self._posterior(x))  # losses in float32 under autocast
        z = self.reparameterize(mu, logvar, gen)
        if self.flow:
            # KL(q || p) = E_q[log q(z_K) - log p(z_K)] with log q(z_K) = log q0(z_0) - log det: the
            # Gaussian q0's entropy is analytic, the rest comes from the sample. (Also taking
            # KL(q0 || p) analytically and sampling only log p(z_0) - log p(z_K) has less variance
            # but diverged in training: an ever wider q0 that the gates squash back.)
            z, logdet = self._through_flow(z, context)
            kl = -0.5 * (1 + logvar).sum(1) + 0.5 * z.pow(2).sum(1) - logdet
        else:
            kl = gaussian_kl(mu, logvar)
        return {"recon": bernoulli_nll(self.decode(z).float(), target), "kl": kl}


MODELS: dict[str, type[Autoencoder]] = {"ae": Autoencoder, "dae": Autoencoder, "vae": VAE}


def build_model(cfg: ModelConfig) -> Autoencoder:
    model = MODELS[cfg.kind](cfg)
    if cfg.arch in ("conv", "conv4"):
        # channels-last makes conv-transpose layers markedly faster on the CPU.
        model = model.to(memory_format=torch.channels_last)  # pyright: ignore[reportCallIssue] - a documented keyword torch's stub lacks
    return model

"""Models: every kind × architecture builds from its config, has the one interface, trains."""

from __future__ import annotations

import pytest
import torch

from explorer.models import ARCHS, KINDS, ModelConfig, VAE, build_model

SMALL = {"hidden": (32, 16), "channels": (4, 8), "conv_dense": 16}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("z", [1, 3])
def test_shapes_forward_backward(kind, arch, z):
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, arch=arch, latent_dim=z, **SMALL))
    x = torch.rand(5, 1, 28, 28)
    code = model.encode(x)
    if kind == "vae":
        mu, logvar = code
        assert mu.shape == logvar.shape == (5, z)
    else:
        assert code.shape == (5, z)
    assert model.embed(x).shape == (5, z)
    logits = model.decode(torch.randn(7, z))
    assert logits.shape == (7, 1, 28, 28)
    recon = model.reconstruct(x)
    assert recon.shape == (5, 1, 28, 28) and recon.min() >= 0 and recon.max() <= 1
    parts = model.loss_parts(x, x, torch.Generator().manual_seed(0))
    assert parts["recon"].shape == parts["kl"].shape == (5,)
    assert torch.isfinite(parts["recon"]).all() and (parts["recon"] > 0).all()
    loss = (parts["recon"] + parts["kl"]).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_vae_embed_is_mu_and_deterministic():
    model = build_model(ModelConfig(kind="vae", latent_dim=4, **SMALL)).eval()
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(model.embed(x), model.encode(x)[0])
    assert torch.equal(model.reconstruct(x), model.reconstruct(x))
    assert isinstance(model, VAE)


def test_one_optimiser_step_changes_weights():
    model = build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL))
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x = torch.rand(4, 1, 28, 28)
    model.loss_parts(x, x)["recon"].mean().backward()
    opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("bad", [
    {"kind": "gan"}, {"arch": "transformer"}, {"latent_dim": 0}, {"latent_dim": -2},
    {"hidden": ()}, {"hidden": (0,)}, {"channels": (3,)}, {"activation": "tanh"},
])
def test_bad_config_refused(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_config_round_trip():
    cfg = ModelConfig(kind="dae", arch="conv", latent_dim=7, **SMALL)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown config fields"):
        ModelConfig.from_dict({**cfg.to_dict(), "dropout": 0.1})


@pytest.mark.parametrize("arch", ARCHS)
def test_activation_is_used_everywhere(arch):
    model = build_model(ModelConfig(kind="vae", arch=arch, latent_dim=3, activation="silu", **SMALL))
    layers = [type(m).__name__ for m in model.modules()]
    assert "SiLU" in layers and "ReLU" not in layers


def test_configs_written_before_activation_existed_load_as_relu():
    old = ModelConfig(kind="vae", latent_dim=2).to_dict()
    del old["activation"]
    assert ModelConfig.from_dict(old).activation == "relu"

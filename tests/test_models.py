"""Models: every kind × architecture builds from its config, has the one interface, trains."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.losses import gaussian_kl
from explorer.models import VAE, IAFStep, ModelConfig, build_model
from explorer.vocab import ARCHS, KINDS

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
    {"hidden": (0,)}, {"hidden": (-1, 8)}, {"channels": (3,)}, {"activation": "tanh"},
    {"name": "Deep AE"}, {"name": "mlp/../x"}, {"name": 3},
    {"flow_steps": -1}, {"kind": "ae", "flow_steps": 2},
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


@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("reverse", [False, True])
def test_iaf_step_is_autoregressive_and_its_log_det_is_exact(d, reverse):
    torch.manual_seed(0)
    step = IAFStep(d, context=3, hidden=16, reverse=reverse, activation=torch.nn.SiLU())
    with torch.no_grad():  # move away from the near-identity start so the test sees real structure
        for p in step.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    z, ctx = torch.randn(d), torch.randn(1, 3)
    jac = torch.autograd.functional.jacobian(lambda v: step(v[None], ctx)[0][0], z)
    order = list(range(d - 1, -1, -1)) if reverse else list(range(d))
    jac_in_order = jac[order][:, order]  # dimension i may depend only on itself and those before it
    assert torch.equal(jac_in_order, torch.tril(jac_in_order)) or torch.allclose(jac_in_order, torch.tril(jac_in_order))
    assert torch.count_nonzero(torch.triu(jac_in_order, 1)) == 0
    if d > 1:
        assert torch.count_nonzero(torch.tril(jac_in_order, -1)) > 0  # and it does depend on them
    log_det = step(z[None], ctx)[1][0]
    assert torch.allclose(log_det, torch.linalg.slogdet(jac)[1], atol=1e-5)


def test_flow_vae_kl_is_an_unbiased_estimate_of_log_q_minus_log_p():
    """loss_parts' KL (the entropy of the Gaussian it starts from analytic, the rest sampled) must
    average to E_q[log q(z_K) - log p(z_K)] computed the plain way, from the densities."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", latent_dim=3, flow_steps=2, **SMALL)).eval()
    with torch.no_grad():
        for p in model.flow.parameters():  # a flow far from the identity
            p.add_(torch.randn_like(p) * 0.5)
        x = torch.rand(1, 1, 28, 28).repeat(40000, 1, 1, 1)
        kl = model.loss_parts(x, x, torch.Generator().manual_seed(1))["kl"]
        mu, logvar, context = model._posterior(x)
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(2))
        z_k, logdet = model._through_flow(mu + eps * (0.5 * logvar).exp(), context)
        log_q = (-0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar)).sum(1) - logdet
        log_p = (-0.5 * (z_k.pow(2) + math.log(2 * math.pi))).sum(1)
        plain = log_q - log_p
    assert (kl.mean() - gaussian_kl(mu[:1], logvar[:1])[0]).abs() > 0.05  # the flow's part matters here
    stderr = (kl.var() / len(kl) + plain.var() / len(plain)).sqrt()
    assert (kl.mean() - plain.mean()).abs() < 4 * stderr


def test_flow_vae_embed_goes_through_the_flow_and_is_deterministic():
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", latent_dim=4, flow_steps=2, **SMALL)).eval()
    x = torch.rand(3, 1, 28, 28)
    code = model.embed(x)
    assert code.shape == (3, 4) and torch.equal(code, model.embed(x))
    assert not torch.allclose(code, model.encode(x)[0])
    assert ModelConfig.from_dict(model.cfg.to_dict()) == model.cfg


def test_a_runaway_log_variance_keeps_the_vaes_loss_finite():
    """A log-variance of 108 (seen in bfloat16 training) made exp() overflow and the KL infinite."""
    model = build_model(ModelConfig(kind="vae", latent_dim=4, hidden=(16,)))
    last = model.encoder[-1] if isinstance(model.encoder, torch.nn.Sequential) else None
    assert last is not None and isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.bias[4:8] = 108.0  # the log-variance half of the encoder's output
    x = torch.rand(3, 1, 28, 28)
    parts = model.loss_parts(x, x, torch.Generator().manual_seed(0))
    assert torch.isfinite(parts["kl"]).all() and torch.isfinite(parts["recon"]).all()


def _counts(seq) -> list[int]:
    return [sum(p.numel() for p in m.parameters()) for m in seq if any(True for _ in m.parameters())]


def test_seed_networks_have_the_seeds_layers():
    # Parameter counts of every layer as the seeds' Keras summaries print them (seed 000).
    vae = build_model(ModelConfig(kind="vae", arch="conv4", latent_dim=2, channels=(32, 64), conv_dense=32))
    assert _counts(vae.encoder) == [320, 18_496, 36_928, 36_928, 401_440, 66 + 66]  # mu and log-variance as one layer
    assert _counts(vae.decoder) == [37_632, 18_464, 289]
    assert vae.decode(torch.zeros(3, 2)).shape == (3, 1, 28, 28)
    simple = build_model(ModelConfig(kind="ae", latent_dim=32, hidden=()))
    assert _counts(simple.encoder) == [25_120] and _counts(simple.decoder) == [25_872]
    deep = build_model(ModelConfig(kind="ae", latent_dim=32, hidden=(128, 64)))
    assert _counts(deep.encoder) == [100_480, 8_256, 2_080] and _counts(deep.decoder) == [2_112, 8_320, 101_136]


def test_a_network_is_named_by_its_name_or_its_body():
    assert ModelConfig().architecture == "mlp"
    assert ModelConfig(hidden=(64, 32)).architecture == "mlp"  # other widths: still the sweep's "mlp"
    assert ModelConfig(arch="conv4").architecture == "conv4"
    named = ModelConfig(kind="ae", hidden=(), name="linear")
    assert named.architecture == "linear" and ModelConfig.from_dict(named.to_dict()) == named
    assert ModelConfig.from_dict({k: v for k, v in ModelConfig().to_dict().items() if k != "name"}).name == ""

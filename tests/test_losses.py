"""Loss terms against hand computations."""

from __future__ import annotations

import math

import torch

from explorer.losses import bernoulli_nll, gaussian_kl, pixel_entropy, psnr
from explorer.noise import NoiseConfig, corrupt, gaussian, occlude, salt_and_pepper


def test_kl_matches_hand_computation():
    mu = torch.tensor([[0.5, -1.0]])
    logvar = torch.tensor([[math.log(0.25), 0.0]])
    # KL(N(mu, s^2) || N(0,1)) = 1/2 (s^2 + mu^2 - 1 - log s^2), per dimension
    hand = 0.5 * (0.25 + 0.25 - 1 - math.log(0.25)) + 0.5 * (1 + 1 - 1 - 0)
    assert torch.allclose(gaussian_kl(mu, logvar), torch.tensor([hand]))
    assert torch.allclose(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))


def test_bernoulli_nll_matches_hand_computation_and_entropy_floor():
    target = torch.full((1, 1, 28, 28), 0.25)
    logits = torch.zeros(1, 1, 28, 28)  # p = 0.5 everywhere: log 2 per pixel
    assert torch.allclose(bernoulli_nll(logits, target), torch.tensor([784 * math.log(2)]))
    # the cross-entropy is smallest, and equals the entropy, when p equals the target
    best = torch.logit(target)
    assert torch.allclose(bernoulli_nll(best, target), pixel_entropy(target), rtol=1e-4)
    assert (bernoulli_nll(logits, target) > pixel_entropy(target)).all()


def test_psnr():
    a = torch.zeros(2, 1, 28, 28)
    b = a + 0.1
    assert torch.allclose(psnr(b, a), torch.tensor([20.0, 20.0]), atol=1e-4)


def test_noise_is_seeded_and_in_range():
    x = torch.rand(16, 1, 28, 28)
    for f in (lambda g: gaussian(x, 0.5, g), lambda g: salt_and_pepper(x, 0.2, g),
              lambda g: corrupt(x, NoiseConfig(), g)):
        a, b = f(torch.Generator().manual_seed(3)), f(torch.Generator().manual_seed(3))
        assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and not torch.equal(a, x)
    sp = salt_and_pepper(torch.full((1, 1, 28, 28), 0.5), 0.2, torch.Generator().manual_seed(0))
    changed = (sp != 0.5).float().mean().item()
    assert 0.12 < changed < 0.28
    occ = occlude(torch.ones(1, 1, 28, 28), 5, 2, 3)
    assert occ.sum().item() == 784 - 25 and occ[0, 0, 2, 3] == 0

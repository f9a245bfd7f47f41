"""Corruptions: shape, range, no change to the input, seeding, per-image levels, the exact
blocks that occlude and random_erase black out, and what each ``corrupt`` mix produces."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.noise import NoiseConfig, corrupt, gaussian, occlude, random_erase, salt_and_pepper

N = 16

SEEDED = {
    "gaussian": lambda x, g: gaussian(x, 0.3, g),
    "salt_and_pepper": lambda x, g: salt_and_pepper(x, 0.2, g),
    "random_erase": lambda x, g: random_erase(x, 1.0, 14, g),
    "corrupt": lambda x, g: corrupt(x, NoiseConfig(), g),
}
ALL = {**SEEDED, "occlude": lambda x, g: occlude(x, 6, 3, 9)}


def images(n=N, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def zero_box(img):
    """Rows and columns spanned by the zero pixels of a (28, 28) image, and their count."""
    rows, cols = torch.nonzero(img == 0, as_tuple=True)
    return (rows.min().item(), rows.max().item() + 1), (cols.min().item(), cols.max().item() + 1), len(rows)


class TestEveryCorruption:
    @pytest.mark.parametrize("name", sorted(ALL))
    def test_shape_range_and_the_input_is_left_alone(self, name):
        x = images()
        before = x.clone()
        out = ALL[name](x, gen())
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0 and out.max() <= 1
        assert torch.equal(x, before)
        assert out.data_ptr() != x.data_ptr()
        assert not torch.equal(out, x)

    @pytest.mark.parametrize("name", sorted(SEEDED))
    def test_a_seed_fixes_the_result(self, name):
        x = images()
        assert torch.equal(SEEDED[name](x, gen(5)), SEEDED[name](x, gen(5)))
        assert not torch.equal(SEEDED[name](x, gen(5)), SEEDED[name](x, gen(6)))


class TestGaussian:
    def test_sigma_zero_changes_nothing_and_noise_has_the_sigma_asked(self):
        x = torch.full((N, 1, 28, 28), 0.5)
        assert torch.equal(gaussian(x, 0.0, gen()), x)
        diff = gaussian(x, 0.05, gen()) - x  # 10 sigma from either bound: nothing is clamped
        assert abs(diff.mean().item()) < 0.005
        assert diff.std().item() == pytest.approx(0.05, rel=0.05)

    def test_result_is_clamped(self):
        out = gaussian(torch.full((N, 1, 28, 28), 0.5), 5.0, gen())
        assert out.min() == 0 and out.max() == 1
        assert ((out == 0) | (out == 1)).float().mean() > 0.8

    def test_one_sigma_per_image(self):
        x = torch.full((3, 1, 28, 28), 0.5)
        out = gaussian(x, torch.tensor([0.0, 0.5, 0.05]).view(3, 1, 1, 1), gen())
        assert torch.equal(out[0], x[0])
        assert (out[1] != x[1]).all() and (out[2] != x[2]).all()
        assert (out[1] - x[1]).std() > 3 * (out[2] - x[2]).std()


class TestSaltAndPepper:
    def test_p_zero_changes_nothing(self):
        x = images()
        assert torch.equal(salt_and_pepper(x, 0.0, gen()), x)

    def test_p_one_makes_every_pixel_black_or_white_about_half_each(self):
        out = salt_and_pepper(torch.full((N, 1, 28, 28), 0.5), 1.0, gen())
        assert ((out == 0) | (out == 1)).all()
        assert 0.45 < (out == 0).float().mean().item() < 0.55

    def test_changed_pixels_are_black_or_white_at_about_rate_p(self):
        x = torch.full((N, 1, 28, 28), 0.5)
        out = salt_and_pepper(x, 0.3, gen())
        changed = out != x
        assert ((out[changed] == 0) | (out[changed] == 1)).all()
        assert 0.25 < changed.float().mean().item() < 0.35

    def test_one_p_per_image(self):
        x = torch.full((3, 1, 28, 28), 0.5)
        out = salt_and_pepper(x, torch.tensor([0.0, 1.0, 0.1]).view(3, 1, 1, 1), gen())
        assert torch.equal(out[0], x[0])
        assert ((out[1] == 0) | (out[1] == 1)).all()
        assert 0.03 < (out[2] != x[2]).float().mean().item() < 0.2


class TestOcclude:
    @pytest.mark.parametrize(("size", "top", "left"), [(5, 2, 3), (1, 0, 0), (8, 20, 20), (28, 0, 0)])
    def test_blacks_out_exactly_the_block(self, size, top, left):
        x = torch.ones(2, 1, 28, 28)
        out = occlude(x, size, top, left)
        block = torch.zeros(28, 28, dtype=torch.bool)
        block[top: top + size, left: left + size] = True
        for img in out[:, 0]:
            assert (img[block] == 0).all() and (img[~block] == 1).all()
        assert (out == 0).sum().item() == 2 * size * size

    def test_is_the_same_for_every_image_and_keeps_the_rest(self):
        x = images(4)
        out = occlude(x, 7, 10, 4)
        assert (out[..., 10:17, 4:11] == 0).all()
        outside = torch.ones_like(x, dtype=torch.bool)
        outside[..., 10:17, 4:11] = False
        assert torch.equal(out[outside], x[outside])


class TestRandomErase:
    def test_prob_zero_changes_nothing(self):
        x = images()
        assert torch.equal(random_erase(x, 0.0, 14, gen()), x)

    @pytest.mark.parametrize("max_size", [4, 9, 14])
    def test_prob_one_erases_one_square_per_image_inside_the_image(self, max_size):
        out = random_erase(torch.ones(64, 1, 28, 28), 1.0, max_size, gen())
        sides = set()
        for img in out[:, 0]:
            (r0, r1), (c0, c1), count = zero_box(img)
            side = r1 - r0
            assert c1 - c0 == side and count == side * side  # one full square
            assert 4 <= side <= max_size
            sides.add(side)
        assert len(sides) > 1 or max_size == 4  # sizes are drawn, not fixed

    def test_erased_squares_move(self):
        out = random_erase(torch.ones(32, 1, 28, 28), 1.0, 8, gen())
        corners = {(zero_box(img)[0][0], zero_box(img)[1][0]) for img in out[:, 0]}
        assert len(corners) > 8
        assert min(r for r, _ in corners) < 10 and max(r for r, _ in corners) > 14

    def test_prob_is_per_image(self):
        out = random_erase(torch.ones(400, 1, 28, 28), 0.5, 8, gen())
        hit = (out == 0).flatten(1).any(1).float().mean().item()
        assert 0.4 < hit < 0.6


class TestCorrupt:
    def test_gaussian_only(self):
        x = torch.full((N, 1, 28, 28), 0.5)
        out = corrupt(x, NoiseConfig(sigma_max=0.05, mix=(1.0, 0.0, 0.0)), gen())
        # sigma <= 0.05 is 10 sigma from 0 and 1: no pixel is clamped, none set to 0 or 1
        assert ((out > 0) & (out < 1)).all()
        assert all(not torch.equal(o, xi) for o, xi in zip(out, x))
        stds = (out - x).flatten(1).std(1)
        assert stds.max() > 2 * stds.min()  # a random level per image
        assert stds.max() < 0.06

    def test_salt_and_pepper_only(self):
        x = torch.full((N, 1, 28, 28), 0.5)
        out = corrupt(x, NoiseConfig(sp_max=0.3, mix=(0.0, 1.0, 0.0)), gen())
        changed = out != x
        assert ((out[changed] == 0) | (out[changed] == 1)).all()
        assert changed.any()
        rates = changed.flatten(1).float().mean(1)
        assert rates.max() < 0.4 and rates.max() > 2 * rates.min()

    def test_erase_only(self):
        x = torch.full((N, 1, 28, 28), 0.5)
        out = corrupt(x, NoiseConfig(erase_max_size=10, mix=(0.0, 0.0, 1.0)), gen())
        assert ((out == 0) | (out == 0.5)).all()
        for img in out[:, 0]:  # every image erased: the erase branch always erases
            (r0, r1), (c0, c1), count = zero_box(img)
            assert r1 - r0 == c1 - c0 and count == (r1 - r0) ** 2 and 4 <= r1 - r0 <= 10

    def test_the_mix_picks_each_corruption_at_its_rate(self):
        x = torch.full((600, 1, 28, 28), 0.5)
        out = corrupt(x, NoiseConfig(sigma_max=0.05, mix=(0.5, 0.25, 0.25)), gen()).flatten(1)
        gaussian_like = ((out > 0) & (out < 1) & (out != 0.5)).any(1)  # only Gaussian noise makes such values
        assert 0.4 < gaussian_like.float().mean().item() < 0.6
        noisy = out[gaussian_like]
        assert ((noisy > 0) & (noisy < 1)).all()  # one corruption per image: none of them also salted or erased
        salted = (out == 1).any(1).float().mean().item()  # only salt-and-pepper makes white pixels
        assert 0.15 < salted < 0.33


class TestNoiseConfig:
    @pytest.mark.parametrize("cfg", [NoiseConfig(), NoiseConfig(sigma_max=0.2, sp_max=0.1, erase_max_size=6, mix=(1, 0, 0))])
    def test_dict_round_trip_through_json(self, cfg):
        d = cfg.to_dict()
        assert isinstance(d["mix"], list)
        assert NoiseConfig.from_dict(d) == cfg
        assert NoiseConfig.from_dict(json.loads(json.dumps(d))) == cfg
        assert json.loads(json.dumps(d)) == d

    def test_from_dict_does_not_change_its_argument_and_keeps_defaults(self):
        d = {"sigma_max": 0.1, "mix": [0.2, 0.3, 0.5]}
        cfg = NoiseConfig.from_dict(d)
        assert d["mix"] == [0.2, 0.3, 0.5]
        assert cfg.mix == (0.2, 0.3, 0.5) and cfg.sp_max == NoiseConfig().sp_max

    def test_unknown_field_is_refused(self):
        with pytest.raises(TypeError):
            NoiseConfig.from_dict({"sigma": 0.1})

"""The sweep's plan and recipes: run ids, overrides, the shipped settings, the map sample,
worker arithmetic, run ordering, and the codes a checkpoint stores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from explorer import sweep
from explorer.checkpoints import checkpoint_id
from explorer.models import ModelConfig, build_model
from explorer.noise import NoiseConfig
from explorer.sweep import (
    FLOW_STEPS_AT_Z2,
    MAP_SAMPLE,
    RunSpec,
    default_jobs,
    default_model,
    default_recipe,
    encode_all,
    estimated_cost,
    map_indices,
    plan,
    threads_per_job,
)
from explorer.training import TrainConfig, to_floats
from explorer.vocab import ARCHS, DATASETS, KINDS

TINY = (16,)


class TestPlan:
    def test_expands_every_combination_once_with_matching_ids(self):
        datasets, dims, archs = DATASETS, (2, 4), ARCHS
        specs = plan(datasets, KINDS, dims, archs)
        assert len(specs) == len(datasets) * len(KINDS) * len(dims) * len(archs)
        expected = {checkpoint_id(d, k, a, z) for d in datasets for k in KINDS for z in dims for a in archs}
        assert {s.id for s in specs} == expected and len({s.id for s in specs}) == len(specs)
        for s in specs:
            assert s.id == f"{s.dataset}-{s.model.kind}-{s.model.arch}-z{s.model.latent_dim}"
            assert s.model == default_model(s.model.kind, s.model.arch, s.model.latent_dim)
            assert s.train == default_recipe(s.dataset, s.model.kind)

    def test_overrides_replace_only_the_fields_named(self):
        specs = plan(DATASETS, KINDS, [2, 8], overrides={"epochs": 1, "lr": 0.5})
        for s in specs:
            recipe = default_recipe(s.dataset, s.model.kind)
            assert s.train.epochs == 1 and s.train.lr == 0.5
            assert s.train == dataclasses.replace(recipe, epochs=1, lr=0.5)

    def test_hidden_and_activation_apply_to_every_model(self):
        specs = plan(["mnist"], KINDS, [2, 4], hidden=TINY, activation="elu")
        assert all(s.model.hidden == TINY and s.model.activation == "elu" for s in specs)
        default = plan(["mnist"], KINDS, [2])
        assert all(s.model.hidden == ModelConfig().hidden for s in default)

    @pytest.mark.parametrize("steps", [0, 3])
    def test_flow_steps_apply_to_the_vae_only(self, steps):
        specs = plan(["mnist"], KINDS, [2, 4], flow_steps=steps)
        for s in specs:
            assert s.model.flow_steps == (steps if s.model.kind == "vae" else 0)

    def test_without_flow_steps_the_shipped_flow_is_kept(self):
        specs = plan(["mnist"], ["vae"], [2, 4])
        assert {s.model.latent_dim: s.model.flow_steps for s in specs} == {2: FLOW_STEPS_AT_Z2, 4: 0}


class TestRecipe:
    @pytest.mark.parametrize("kind", KINDS)
    def test_mnist_chooses_on_held_out_training_digits_and_fashion_keeps_its_last_epoch(self, kind):
        mnist, fashion = default_recipe("mnist", kind), default_recipe("fashion", kind)
        assert mnist.val_fraction == pytest.approx(0.1) and fashion.val_fraction == 0
        assert mnist.shift_pixels == fashion.shift_pixels == 0
        assert mnist.test_every == fashion.test_every > 1, "the test set only measures: every few epochs"

    @pytest.mark.parametrize("dataset", DATASETS)
    def test_per_kind_settings(self, dataset):
        recipes = {k: default_recipe(dataset, k) for k in KINDS}
        assert recipes["dae"].noise == NoiseConfig()
        assert recipes["ae"].noise is None and recipes["vae"].noise is None
        assert recipes["vae"].kl_warmup_epochs == 10
        assert recipes["ae"].kl_warmup_epochs == 0 and recipes["dae"].kl_warmup_epochs == 0
        assert recipes["vae"].epochs == max(r.epochs for r in recipes.values())  # the ELBO target needs the most
        assert all(r.precision == "float32" for r in recipes.values())

    @pytest.mark.parametrize("kind", KINDS)
    def test_default_model(self, kind):
        for z in (1, 2, 4, 16):
            m = default_model(kind, "mlp", z)
            assert (m.kind, m.arch, m.latent_dim) == (kind, "mlp", z)
            assert m.activation == ("silu" if kind == "vae" else "relu")
            assert m.flow_steps == (FLOW_STEPS_AT_Z2 if kind == "vae" and z == 2 else 0)
            assert m.hidden == ModelConfig().hidden
        assert default_model(kind, "conv", 2, TINY).hidden == TINY
        assert default_model(kind, "conv", 2).arch == "conv"


class TestMapIndices:
    def test_sorted_unique_in_range_and_capped(self):
        idx = map_indices(1000, 300, seed=0)
        assert idx.shape == (300,) and np.issubdtype(idx.dtype, np.integer)
        assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < 1000
        np.testing.assert_array_equal(map_indices(50, 300), np.arange(50))  # fewer test images than the sample
        assert len(map_indices(MAP_SAMPLE + 10)) == MAP_SAMPLE

    def test_deterministic_for_a_seed(self):
        np.testing.assert_array_equal(map_indices(1000, 100, seed=3), map_indices(1000, 100, seed=3))
        assert not np.array_equal(map_indices(1000, 100, seed=3), map_indices(1000, 100, seed=4))

    def test_is_a_spread_sample_not_the_first_images(self):
        idx = map_indices(1000, 100)
        assert not np.array_equal(idx, np.arange(100))
        assert idx[-1] > 500


class TestWorkers:
    def test_default_jobs(self):
        assert default_jobs("cpu", cores=1) == 1
        assert default_jobs("cpu", cores=2) == 2
        assert default_jobs("cpu", cores=16) == 2
        assert default_jobs("cuda", cores=16) == 1
        assert default_jobs("mps", cores=8) == 1

    def test_threads_per_job_share_the_cores(self):
        assert threads_per_job(1, cores=4) == 4
        assert threads_per_job(2, cores=16) == 8
        assert threads_per_job(3, cores=8) == 2
        assert threads_per_job(4, cores=2) == 1  # never zero threads

    def test_cpu_cores_is_positive(self):
        assert sweep.cpu_cores() >= 1
        assert threads_per_job(1) == sweep.cpu_cores()


class TestCost:
    @staticmethod
    def spec(epochs, dataset="mnist"):
        return RunSpec(dataset, ModelConfig(kind="ae", latent_dim=2, hidden=TINY), TrainConfig(epochs=epochs))

    def test_longer_runs_cost_more(self):
        assert estimated_cost(self.spec(10), 4000, 1000) > estimated_cost(self.spec(5), 4000, 1000)
        assert estimated_cost(self.spec(5), 60000, 1000) > estimated_cost(self.spec(5), 4000, 1000)
        specs = [self.spec(e) for e in (3, 40, 1, 12)]
        ordered = sorted(specs, key=lambda s: -estimated_cost(s, 4000, 1000))
        assert [s.train.epochs for s in ordered] == [40, 12, 3, 1]

    def test_the_map_term_stops_at_the_map_sample(self):
        s = self.spec(5)
        assert estimated_cost(s, 4000, MAP_SAMPLE) == estimated_cost(s, 4000, 10 * MAP_SAMPLE)
        assert estimated_cost(s, 4000, 100) < estimated_cost(s, 4000, 200)


class TestEncodeAll:
    @pytest.fixture(scope="class")
    def images(self):
        gen = torch.Generator().manual_seed(0)
        return torch.randint(0, 256, (37, 28, 28), generator=gen, dtype=torch.uint8)

    @pytest.mark.parametrize("kind", KINDS)
    def test_float32_codes_one_per_image(self, kind, images):
        torch.manual_seed(0)
        model = build_model(ModelConfig(kind=kind, latent_dim=3, hidden=TINY))
        codes = encode_all(model, images)
        assert codes.dtype == np.float32 and codes.shape == (37, 3)
        assert np.isfinite(codes).all()
        assert not model.training

    @pytest.mark.parametrize("kind", KINDS)
    def test_deterministic_and_independent_of_the_batch_size(self, kind, images):
        torch.manual_seed(0)
        model = build_model(ModelConfig(kind=kind, latent_dim=2, hidden=TINY, flow_steps=1 if kind == "vae" else 0))
        model.train()  # encode_all must switch to eval itself
        a, b = encode_all(model, images), encode_all(model, images)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(encode_all(model, images, batch_size=8), a, rtol=1e-5, atol=1e-6)
        with torch.no_grad():
            np.testing.assert_allclose(model.embed(to_floats(images)).numpy(), a, rtol=1e-5, atol=1e-6)

    def test_distinct_images_get_distinct_codes(self, images):
        torch.manual_seed(0)
        model = build_model(ModelConfig(kind="ae", latent_dim=2, hidden=TINY))
        codes = encode_all(model, images)
        assert len(np.unique(codes, axis=0)) == len(images)


def test_seed_plan_is_the_seeds_networks_under_their_own_names():
    from explorer.seeds import BCE_PER_PIXEL, MSE, NEG_ELBO, SEED_RUNS, run_for

    specs = sweep.seed_plan()
    ids = [s.id for s in specs]
    assert ids == [r.id for r in SEED_RUNS] and len(set(ids)) == len(ids)
    sweep_ids = {s.id for s in plan(DATASETS, KINDS, (2, 4, 8, 16, 32))}
    assert not set(ids) & sweep_ids  # a seed network never overwrites a sweep checkpoint
    for r, s in zip(SEED_RUNS, specs):
        assert (s.train.epochs, s.train.batch_size, s.train.lr) == (r.epochs, r.batch_size, r.lr)
        assert s.train.val_fraction == 0 and s.train.kl_warmup_epochs == 0  # as the seeds: all 60,000, last epoch
        assert run_for(s.id) is r and r.reported_as in (None, BCE_PER_PIXEL, NEG_ELBO, MSE)
        assert (r.reported is None) == (r.reported_as is None)
    assert [s.id for s in sweep.seed_plan(["fashion"], ["vae"])] == ["fashion-vae-conv4-z2"]
    assert sweep.seed_plan(overrides={"epochs": 1})[0].train.epochs == 1


def test_the_costliest_runs_are_estimated_costliest():
    conv_vae, *_ = sweep.seed_plan(["mnist"], ["vae"])
    mlp = plan(["mnist"], ["vae"], [2])[0]
    # per epoch, the seeds' convolutional VAE does ~40x the arithmetic of the sweep's MLP
    per_epoch = [estimated_cost(s, 60_000, 0) / s.train.epochs for s in (conv_vae, mlp)]
    assert per_epoch[0] > 5 * per_epoch[1]
    assert sweep.multiply_adds(ModelConfig(kind="ae", latent_dim=32, hidden=())) == 2 * 784 * 32

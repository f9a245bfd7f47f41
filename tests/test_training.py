"""The training loop: the loss falls, seeds repeat, NaN stops, resume continues exactly."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.data import load_dataset
from explorer.models import ModelConfig, build_model
from explorer.noise import NoiseConfig
from explorer.training import TrainConfig, TrainingDiverged, fit, random_shift
from explorer.vocab import KINDS
from tests.helpers import make_idx_folder

SMALL = {"hidden": (64,)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = make_idx_folder(tmp_path_factory.mktemp("d"), n_train=256, n_test=64)
    return load_dataset("fashion", "train", data_dir=folder), load_dataset("fashion", "test", data_dir=folder)


def quiet(_):
    pass


@pytest.mark.parametrize("kind", KINDS)
def test_loss_falls(tiny, kind):
    tr, te = tiny
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, latent_dim=2, **SMALL))
    cfg = TrainConfig(epochs=4, batch_size=32, lr=3e-3, noise=NoiseConfig() if kind == "dae" else None)
    result = fit(model, tr.images, te.images, cfg, log=quiet)
    losses = [r["test_loss"] for r in result.history]
    assert losses[-1] < losses[0] and all(math.isfinite(v) for v in losses)
    assert {"train_recon", "train_kl", "test_recon", "test_kl", "test_psnr"} <= set(result.history[0])


def test_same_seed_same_result(tiny):
    tr, te = tiny
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model(ModelConfig(kind="vae", latent_dim=2, **SMALL))
        fit(model, tr.images, te.images, TrainConfig(epochs=2, batch_size=32, shift_pixels=1, seed=5), log=quiet)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_validation_keeps_best_epoch(tiny):
    tr, te = tiny
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL))
    result = fit(model, tr.images, te.images, TrainConfig(epochs=3, batch_size=32, val_fraction=0.25), log=quiet)
    vals = [r["val_loss"] for r in result.history]
    assert result.best_epoch == 1 + vals.index(min(vals))


def test_nan_stops_with_epoch_named(tiny):
    tr, te = tiny
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", latent_dim=2, **SMALL))
    with torch.no_grad():
        model.encoder[1].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        fit(model, tr.images, te.images, TrainConfig(epochs=2, batch_size=32), log=quiet)


def test_resume_equals_uninterrupted(tiny, tmp_path):
    tr, te = tiny
    cfg = TrainConfig(epochs=4, batch_size=32, seed=3, noise=NoiseConfig())
    torch.manual_seed(0)
    full = build_model(ModelConfig(kind="dae", latent_dim=2, **SMALL))
    ref = fit(full, tr.images, te.images, cfg, log=quiet)

    # stop after 2 epochs (what Ctrl-C leaves: the state file of the last completed epoch)
    state = tmp_path / "state.safetensors"
    torch.manual_seed(0)
    part = build_model(ModelConfig(kind="dae", latent_dim=2, **SMALL))
    calls = {"n": 0}

    def stop_after_two(msg):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(part, tr.images, te.images, cfg, state_path=state, log=stop_after_two)
    assert state.is_file()
    torch.manual_seed(123)  # a fresh process: different global RNG, fresh weights
    resumed = build_model(ModelConfig(kind="dae", latent_dim=2, **SMALL))
    out = fit(resumed, tr.images, te.images, cfg, state_path=state, resume=True, log=quiet)
    assert len(out.history) == 4
    # log raised before the epoch-2 state was written: the resumed run redid epoch 2 onward
    for a, b in zip(ref.history, out.history):
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-6)
    for k, v in full.state_dict().items():
        assert torch.allclose(v, resumed.state_dict()[k], atol=1e-6)


def test_resume_refuses_other_settings(tiny, tmp_path):
    tr, te = tiny
    state = tmp_path / "s.safetensors"
    model = build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL))
    fit(model, tr.images, te.images, TrainConfig(epochs=1, batch_size=32), state_path=state, log=quiet)
    with pytest.raises(ValueError, match="different training settings"):
        fit(model, tr.images, te.images, TrainConfig(epochs=2, batch_size=64), state_path=state, resume=True, log=quiet)


def test_random_shift_moves_content():
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1
    y = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.equal(y.sum((1, 2, 3)), x.sum((1, 2, 3)))
    assert (y != x).any(dim=(1, 2, 3)).float().mean() > 0.5


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_bfloat16_trains_like_float32(tiny, kind):
    """Mixed precision (bfloat16 products, float32 weights and losses) learns as float32 does,
    repeats itself under one seed, and keeps the model's weights float32."""
    tr, te = tiny
    finals, states = {}, []
    for precision in ("float32", "bfloat16", "bfloat16"):
        torch.manual_seed(0)
        model = build_model(ModelConfig(kind=kind, latent_dim=2, **SMALL))
        result = fit(model, tr.images, te.images,
                     TrainConfig(epochs=4, batch_size=32, lr=3e-3, precision=precision), log=quiet)
        losses = [r["test_loss"] for r in result.history]
        assert losses[-1] < losses[0]
        finals[precision] = losses[-1]
        if precision == "bfloat16":
            states.append(model.state_dict())
    assert all(v.dtype == torch.float32 for v in states[0].values())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert finals["bfloat16"] == pytest.approx(finals["float32"], rel=0.02)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision 'float8'"):
        TrainConfig(precision="float8")


def test_auto_precision_follows_the_cpu(monkeypatch):
    from explorer import training

    monkeypatch.setattr(training, "cpu_flags", lambda: {"avx2", "amx_bf16", "amx_tile"})
    assert training.fast_precision("cpu") == "bfloat16"
    monkeypatch.setattr(training, "cpu_flags", lambda: {"avx2", "fma"})
    assert training.fast_precision("cpu") == "float32"


def test_resume_state_is_saved_first_then_on_a_clock_then_last(tiny, tmp_path, monkeypatch):
    from explorer import training

    tr, te = tiny
    saved = []
    real_save = training.save_state
    monkeypatch.setattr(training, "save_state",
                        lambda path, model, best, opt, gen, info: (saved.append(len(info["history"])),
                                                                   real_save(path, model, best, opt, gen, info)))
    model = build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL))
    cfg = TrainConfig(epochs=5, batch_size=64)
    fit(model, tr.images, te.images, cfg, state_path=tmp_path / "a", log=quiet, save_every_s=3600)
    assert saved == [1, 5]
    saved.clear()
    fit(model, tr.images, te.images, cfg, state_path=tmp_path / "b", log=quiet, save_every_s=0)
    assert saved == [1, 2, 3, 4, 5]


def test_resume_refuses_another_network_and_accepts_older_states(tiny, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from explorer.training import load_state

    tr, te = tiny
    state = tmp_path / "s.safetensors"
    fit(build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL)), tr.images, te.images,
        TrainConfig(epochs=1, batch_size=32), state_path=state, log=quiet)
    # The same weights fit a SiLU network: only the saved config can tell them apart.
    other = build_model(ModelConfig(kind="ae", latent_dim=2, activation="silu", **SMALL))
    with pytest.raises(ValueError, match="different training settings"):
        fit(other, tr.images, te.images, TrainConfig(epochs=1, batch_size=32), state_path=state, resume=True, log=quiet)

    # A state written before `precision` and `model_config` existed resumes as float32 / ReLU.
    tensors, info = load_state(state)
    del info["train_config"]["precision"], info["model_config"]
    with safe_open(str(state), framework="pt") as f:
        assert "model_config" in json.loads(f.metadata()["info"])
    save_file(tensors, str(state), metadata={"info": json.dumps(info)})
    out = fit(build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL)), tr.images, te.images,
              TrainConfig(epochs=1, batch_size=32), state_path=state, resume=True, log=quiet)
    assert len(out.history) == 1


def test_denormals_are_flushed_while_training_and_restored_after(tiny, monkeypatch):
    from explorer import training

    tr, te = tiny
    seen = []
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: (seen.append(training.denormals_flushed()),
                                                               {"loss": 1.0, "recon": 1.0, "kl": 0.0, "mse": 0.1,
                                                                "psnr": 10.0})[1])
    assert not training.denormals_flushed()
    fit(build_model(ModelConfig(kind="ae", latent_dim=2, **SMALL)), tr.images, te.images,
        TrainConfig(epochs=1, batch_size=64), log=quiet)
    assert seen == [True]  # inside the loop
    assert not training.denormals_flushed()  # hypothesis and others need IEEE subnormals back


@pytest.mark.parametrize("arch", ["conv", "conv4"])
def test_a_convolutional_run_saves_its_resume_state_and_resumes(tiny, tmp_path, arch):
    # Its weights are channels-last, and so are Adam's moments: safetensors refused them until they
    # were made contiguous (the seed set's first run stopped there).
    tr, te = tiny
    state = tmp_path / "s.safetensors"
    cfg = ModelConfig(kind="vae", arch=arch, latent_dim=2, channels=(4, 8), conv_dense=16)
    train = TrainConfig(epochs=2, batch_size=64)
    first = fit(build_model(cfg), tr.images, te.images, train, state_path=state, log=quiet, save_every_s=0)
    again = fit(build_model(cfg), tr.images, te.images, train, state_path=state, resume=True, log=quiet)
    assert [r["epoch"] for r in again.history] == [1, 2]
    assert again.history[-1]["test_loss"] == pytest.approx(first.history[-1]["test_loss"])

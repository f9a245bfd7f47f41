"""The report script runs on small checkpoints and its figures come from them."""

from __future__ import annotations

import pytest

from explorer.data import load_dataset
from explorer.models import ModelConfig
from explorer.noise import NoiseConfig
from explorer.sweep import RunSpec, run
from explorer.training import TrainConfig
from explorer.vocab import KINDS
from tests.helpers import make_idx_folder
from tools import report


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("rep")
    make_idx_folder(root / "data" / "fashion", n_train=200, n_test=60)
    return root


def test_report_runs_and_matches_metadata(small, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(small / "data"))
    tr, te = load_dataset("fashion", "train"), load_dataset("fashion", "test")
    out = small / "cks"
    for kind in KINDS:
        for z in (2, 4):
            flow = 2 if (kind, z) == ("vae", 2) else 0  # as shipped: a flow at latent size 2
            spec = RunSpec("fashion", ModelConfig(kind=kind, latent_dim=z, hidden=(32,), flow_steps=flow),
                           TrainConfig(epochs=1, batch_size=50, noise=NoiseConfig() if kind == "dae" else None))
            run(spec, tr, te, out, log=lambda m: None)
    assert report.main(["--checkpoints", str(out), "--out", str(small / "docs")]) == 0
    text = (small / "docs" / "RESULTS.md").read_text()
    assert "VAE: test negative ELBO" in text and "AE below PCA" in text and "DAE beats AE" in text
    assert "| VAE | mlp 32, relu; IAF 2 steps at z = 2 |" in text
    for png in ("loss_vs_latent.png", "training_curves.png", "latent_grid_fashion.png", "reconstructions_fashion.png"):
        assert (small / "docs" / png).stat().st_size > 1000
    rows, extra, problems = report.evaluate_all(out, log=lambda m: None)
    assert not problems and len(rows) == 6
    for r in rows:
        assert r.metrics["loss"] == pytest.approx(r.metrics["meta_loss"], rel=1e-5)
        assert 0 <= r.metrics["feature_acc"] <= 1
    assert extra["pca"]["fashion"][4] < extra["pca"]["fashion"][2]


def test_report_without_checkpoints(tmp_path, capsys):
    assert report.main(["--checkpoints", str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    assert "train some with `python train.py`" in capsys.readouterr().err

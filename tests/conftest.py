"""Shared fixtures: tiny IDX datasets written by the tests, so nothing needs the network."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from explorer.vocab import KINDS
from tests.helpers import make_idx_folder

APP = str(Path(__file__).resolve().parents[1] / "app.py")

torch.set_num_threads(2)
# The app's config shows a public user only an error's type (.streamlit/config.toml); a failing
# test shows the whole error.
st_config.set_option("client.showErrorDetails", "full")


@pytest.fixture
def idx_folder(tmp_path):
    return make_idx_folder(tmp_path / "idx")


@pytest.fixture(autouse=True)
def _isolated_data_env(monkeypatch, tmp_path):
    """No test reads the user's cache or environment by accident."""
    monkeypatch.delenv("LATENT_EXPLORER_DATA", raising=False)
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------- app checkpoints

APP_LATENT_DIMS = (2, 4)


@pytest.fixture(scope="session")
def app_checkpoints(tmp_path_factory):
    """Small real checkpoints for the app's tests, made once per session (a few seconds).

    Full MNIST (shipped in data/mnist/), AE/DAE/VAE at latent sizes 2 and 4, one epoch on
    1,200 of its training digits, a narrow MLP, written by ``explorer.sweep.run`` exactly as
    ``train.py`` writes them (codes of the same 5,000 official test digits), except that the
    t-SNE map is stood in for by PCA to save time. Beside them, MNIST's reading classifier, as
    narrow and as briefly trained (``explorer.classifier``; about 80 % right).
    """
    from explorer import classifier, sweep
    from explorer.data import load_dataset
    from explorer.projections import pca_2d

    def quick_maps(codes, seed=0, n_jobs=1):
        out = {"pca": pca_2d(codes), "tsne": pca_2d(codes)[:, ::-1].copy()}
        if codes.shape[1] == 2:
            out["raw"] = np.asarray(codes, dtype=np.float32)
        return out

    out = tmp_path_factory.mktemp("app-checkpoints")
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    train = dataclasses.replace(train, images=train.images[:1200], labels=train.labels[:1200])
    specs = sweep.plan(["mnist"], KINDS, APP_LATENT_DIMS, overrides={"epochs": 1}, hidden=(64, 32))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sweep, "maps_for", quick_maps)
        for spec in specs:
            sweep.run(spec, train, test, out, log=lambda message: None)
    net, meta = classifier.train(train, test, classifier.Recipe(epochs=1, width=4), log=lambda message: None)
    classifier.save(classifier.folder_of(out, "mnist"), net, meta)
    return out


@pytest.fixture
def open_app(monkeypatch, app_checkpoints):
    """open_app(page, query=..., state=..., folder=...) -> an AppTest that has run once."""

    def _open(page: str | None = None, *, query: dict | None = None, state: dict | None = None,
              folder: Path | None = None) -> AppTest:
        monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(folder or app_checkpoints))
        at = AppTest.from_file(APP, default_timeout=60)
        for k, v in (query or {}).items():
            at.query_params[k] = v
        if page:
            at.switch_page(f"explorer/ui/pages/{page}.py")
        for k, v in (state or {}).items():
            at.session_state[k] = v
        return at.run()

    return _open

"""Shared fixtures: tiny IDX datasets written by the tests, so nothing needs the network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.data import SPLIT_FILES, write_idx_gz

torch.set_num_threads(2)


def make_idx_folder(folder, n_train=64, n_test=32, seed=0):
    """Write a small, valid set of the four IDX files: blobs whose position encodes the label."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):
            r, col = 4 + 2 * int(c), 4 + int(rng.integers(0, 12))
            images[i, r: r + 6, col: col + 6] = 255
        img_name, lbl_name = SPLIT_FILES[split]
        write_idx_gz(folder / img_name, images)
        write_idx_gz(folder / lbl_name, labels)
    return folder


@pytest.fixture
def idx_folder(tmp_path):
    return make_idx_folder(tmp_path / "idx")


@pytest.fixture(autouse=True)
def _isolated_data_env(monkeypatch, tmp_path):
    """No test reads the user's cache or environment by accident."""
    monkeypatch.delenv("LATENT_EXPLORER_DATA", raising=False)
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))

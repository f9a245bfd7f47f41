"""Helpers the tests share: small IDX datasets and small checkpoints, written on the spot."""

from __future__ import annotations

import numpy as np
import torch

from explorer.checkpoints import save_checkpoint
from explorer.data import SPLIT_FILES, write_idx_gz
from explorer.models import ModelConfig, build_model


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


SMALL = {"hidden": (32, 16)}


def make_checkpoint(folder, kind="vae", z=2, dtype="int8", seed=0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(kind=kind, latent_dim=z, **SMALL))
    codes = {"codes": np.random.default_rng(0).normal(size=(10, z)).astype(np.float32),
             "labels": np.arange(10, dtype=np.uint8), "indices": np.arange(10, dtype=np.int32)}
    meta = {"id": folder.name, "dataset": {"name": "mnist"}, "train_config": {}, "history": [],
            "test_metrics": {"loss": 1.0}}
    save_checkpoint(folder, model, meta, codes, dtype=dtype)
    return model


def live_charts(at) -> list[dict]:
    """The figures of the page's ``explorer.ui.live_chart`` charts, in their order, as plotly
    JSON (AppTest shows a component as an element it does not know; its arguments are in its proto)."""
    import json

    return [json.loads(json.loads(e.proto.json_args)["figure"]) for e in at.get("component_instance")
            if e.proto.component_name.endswith(".plotly_live")]

"""Checkpoint metadata as a typed object (explorer/metadata.py): read, validated, written in one place."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from explorer.checkpoints import CheckpointError, read_meta, save_checkpoint, usable_checkpoints
from explorer.metadata import CheckpointMeta, DatasetInfo, MetadataError, Metrics
from explorer.models import ModelConfig, build_model
from tests.helpers import make_checkpoint

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"


def test_every_shipped_checkpoint_reads_into_the_dataclass():
    """The shipped checkpoints were written before the dataclass existed: they still read, and the
    object gives back exactly the JSON it was read from (nothing lost, nothing invented)."""
    from explorer.seeds import SEED_RUNS

    entries = usable_checkpoints(SHIPPED)
    assert len(entries) == 30 + len(SEED_RUNS)  # the sweep's, and the seeds' networks
    for e in entries:
        raw = json.loads((e.path / "meta.json").read_text())
        assert isinstance(e.meta, CheckpointMeta) and isinstance(e.meta.dataset, DatasetInfo)
        assert e.meta.id == raw["id"] == e.path.name
        assert e.meta.to_json() == raw


def test_round_trip_through_save(tmp_path):
    folder = tmp_path / "mnist-vae-mlp-z2"
    make_checkpoint(folder)
    meta = read_meta(folder)
    assert CheckpointMeta.from_json(meta.to_json(), strict=True) == meta
    assert meta.test_metrics.loss == 1.0 and math.isnan(meta.test_metrics.kl)  # not recorded: nan, not 0
    assert meta.model_config == ModelConfig(kind="vae", latent_dim=2, hidden=(32, 16))


def test_a_misspelt_field_is_an_error_where_it_is_misspelt(tmp_path):
    folder = tmp_path / "mnist-vae-mlp-z2"
    make_checkpoint(folder)
    meta = read_meta(folder)
    with pytest.raises(AttributeError):
        meta.latent_size  # noqa: B018 - the attribute is latent_dim
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.latent_dim = 3  # type: ignore[misc]


def test_writing_refuses_an_unknown_or_mistyped_field_and_leaves_nothing(tmp_path):
    model = build_model(ModelConfig(kind="ae", latent_dim=2, hidden=(16,)))
    base = {"id": "x", "dataset": {"name": "mnist"}, "train_config": {}, "history": [], "test_metrics": {"loss": 1.0}}
    codes = {"codes": np.zeros((2, 2), np.float32)}
    for bad, message in (({"epoch": 3}, "unknown field"), ({"dataset": {"name": "mnist", "trian_count": 1}}, "dataset.trian_count"),
                         ({"test_metrics": {"loss": "low"}}, "'test_metrics.loss' should be float"),
                         ({"train_seconds": "fast"}, "'train_seconds' should be float")):
        with pytest.raises(MetadataError, match=message):
            save_checkpoint(tmp_path / "x", model, {**base, **bad}, codes)
        assert not (tmp_path / "x").exists()
        assert [p.name for p in tmp_path.iterdir()] == []


def test_reading_ignores_fields_it_does_not_know_and_defaults_the_optional_ones(tmp_path):
    folder = tmp_path / "mnist-vae-mlp-z2"
    make_checkpoint(folder)
    raw = json.loads((folder / "meta.json").read_text())
    for k in ("seed", "maps", "versions", "parameter_count", "created"):
        raw.pop(k, None)
    raw["written_by_a_newer_version"] = True
    meta = CheckpointMeta.from_json(raw)
    assert meta.maps == () and meta.versions == {} and meta.parameter_count is None and meta.seed is None


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["dataset"].pop("name"), "lacks the field.*dataset.name"),
    (lambda m: m["dataset"].update(class_names=[1, 2]), "list of strings"),
    (lambda m: m["test_metrics"].update(loss=True), "'test_metrics.loss' should be float"),
    (lambda m: m.update(history=[1]), "one per epoch"),
    (lambda m: m.update(best_epoch="3"), "'best_epoch' should be int"),
])
def test_bad_nested_metadata_is_refused_with_the_field_named(tmp_path, edit, message):
    folder = tmp_path / "mnist-vae-mlp-z2"
    make_checkpoint(folder)
    raw = json.loads((folder / "meta.json").read_text())
    edit(raw)
    (folder / "meta.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=message):
        read_meta(folder)


def test_metrics_and_title():
    m = Metrics.from_json({"loss": 3, "recon": 2.5}, "test_metrics")
    assert m.loss == 3.0 and isinstance(m.loss, float) and m.to_json() == {"loss": 3.0, "recon": 2.5}
    folder_meta = read_meta(SHIPPED / "fashion-vae-mlp-z2")
    assert folder_meta.title == "Fashion-MNIST VAE, latent size 2"

"""explorer.features: the codes-as-features figures the report keeps for the Compare page."""

from __future__ import annotations

import json

import pytest

from explorer import features


def test_what_is_written_is_read_back(tmp_path):
    features.write(tmp_path, {"mnist-ae-mlp-z2": ("a" * 64, 0.6812345678), "mnist-vae-mlp-z2": ("b" * 64, 0.7)})
    assert features.read(tmp_path) == {"mnist-ae-mlp-z2": ("a" * 64, 0.681235), "mnist-vae-mlp-z2": ("b" * 64, 0.7)}
    assert [p.name for p in tmp_path.iterdir()] == [features.FILE], "no temporary file left behind"


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", '{"format": 2, "models": {}}', '{"format": 1, "models": 5}'])
def test_an_unreadable_file_reads_as_nothing_measured(tmp_path, text):
    (tmp_path / features.FILE).write_text(text)
    assert features.read(tmp_path) == {}


def test_malformed_entries_are_skipped_and_the_rest_kept(tmp_path):
    good = {"weights_sha256": "c" * 64, "accuracy": 0.5}
    models = {"ok": good, "no-sha": {"accuracy": 0.5}, "text": {"weights_sha256": "d", "accuracy": "0.9"},
              "too-high": {"weights_sha256": "d", "accuracy": 1.5}, "bool": {"weights_sha256": "d", "accuracy": True},
              "list": [1]}
    (tmp_path / features.FILE).write_text(json.dumps({"format": 1, "models": models}))
    assert features.read(tmp_path) == {"ok": ("c" * 64, 0.5)}


def test_no_file_reads_as_nothing_measured(tmp_path):
    assert features.read(tmp_path / "missing") == {}

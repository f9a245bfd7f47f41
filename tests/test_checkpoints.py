"""Checkpoints: round trip, exact file set, and every kind of damage refused with a clear message."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch

from explorer import list_checkpoints, load_checkpoint
from explorer.checkpoints import (
    CODES,
    FILES,
    META,
    WEIGHTS,
    CheckpointError,
    decode_weights,
    encode_weights,
    load_codes,
)
from tests.helpers import make_checkpoint


@pytest.fixture
def ckpt(tmp_path):
    folder = tmp_path / "cks" / "mnist-vae-mlp-z2"
    model = make_checkpoint(folder)
    return folder, model


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_round_trip(tmp_path, dtype):
    folder = tmp_path / "mnist-ae-mlp-z3"
    model = make_checkpoint(folder, kind="ae", z=3, dtype=dtype)
    loaded = load_checkpoint(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert not loaded.model.training and loaded.meta.weights_dtype == dtype
    stored = decode_weights(encode_weights(model.state_dict(), dtype))
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, stored[k])
        tol = {"float32": 0, "float16": 1e-3, "int8": 0.01}[dtype]
        assert (v - model.state_dict()[k]).abs().max() <= tol * max(1.0, model.state_dict()[k].abs().max())
    assert loaded.codes()["codes"].shape == (10, 3)
    assert loaded.meta.parameter_count == sum(p.numel() for p in model.parameters())
    assert loaded.meta.latent_dim == 3 and loaded.meta.kind == "ae"


def test_overwrite_is_a_swap_leaving_nothing_behind(ckpt):
    folder, _ = ckpt
    make_checkpoint(folder, seed=1)
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    load_checkpoint(folder)


def test_tampered_weights_refused(ckpt):
    folder, _ = ckpt
    raw = bytearray((folder / WEIGHTS).read_bytes())
    raw[-3] ^= 0x01
    (folder / WEIGHTS).write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"weights.safetensors is damaged or was changed: its SHA-256"):
        load_checkpoint(folder)
    [entry] = list_checkpoints(folder.parent)
    assert not entry.ok and "SHA-256" in entry.problem


def test_tampered_codes_refused(ckpt):
    folder, _ = ckpt
    raw = bytearray((folder / CODES).read_bytes())
    raw[-1] ^= 0x01
    (folder / CODES).write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="codes.safetensors is damaged"):
        load_codes(folder)


def edit_meta(folder, fn):
    meta = json.loads((folder / META).read_text())
    fn(meta)
    (folder / META).write_text(json.dumps(meta))


def test_config_not_matching_tensors(ckpt):
    folder, _ = ckpt
    edit_meta(folder, lambda m: m["model_config"].update(hidden=[64, 16]))
    with pytest.raises(CheckpointError, match=r"config does not match the tensors.*encoder.1.weight: config gives \(64, 784\)"):
        load_checkpoint(folder)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("weights_sha256"), "lacks the field"),
    (lambda m: m.update(latent_dim="2"), "'latent_dim' should be int"),
    (lambda m: m.update(history={}), "'history' should be list"),
    (lambda m: m.update(format_version=99), "format version 99 is newer"),
    (lambda m: (m.update(kind="gan"), m["model_config"].update(kind="gan")), "unknown kind 'gan'"),
    (lambda m: (m.update(arch="rnn"), m["model_config"].update(arch="rnn")), "unknown architecture 'rnn'"),
    (lambda m: m.update(kind="ae"), "disagree with model_config"),
])
def test_bad_metadata(ckpt, edit, message):
    folder, _ = ckpt
    edit_meta(folder, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_meta_not_json_and_not_object(ckpt):
    folder, _ = ckpt
    (folder / META).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(folder)
    (folder / META).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="must hold a JSON object"):
        load_checkpoint(folder)


def test_missing_files(ckpt, tmp_path):
    folder, _ = ckpt
    other = tmp_path / "cks" / "other"
    shutil.copytree(folder, other)
    (folder / META).unlink()
    (other / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match="meta.json is missing"):
        load_checkpoint(folder)
    with pytest.raises(CheckpointError, match="weights.safetensors is missing"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nope")


def test_list_serves_good_and_reports_broken(tmp_path):
    root = tmp_path / "cks"
    make_checkpoint(root / "mnist-vae-mlp-z2")
    make_checkpoint(root / "mnist-ae-mlp-z2", kind="ae")
    (root / "mnist-ae-mlp-z2" / META).write_text("oops")
    (root / "empty").mkdir()
    evil = root / "model.pt"
    evil.write_bytes(pickle.dumps({"x": 1}))
    (root / ".mnist-vae-mlp-z4.abc.new").mkdir()  # a write in progress is not listed
    entries = {e.id: e for e in list_checkpoints(root)}
    assert set(entries) == {"mnist-vae-mlp-z2", "mnist-ae-mlp-z2", "empty", "model"}
    assert entries["mnist-vae-mlp-z2"].ok
    assert "not valid JSON" in entries["mnist-ae-mlp-z2"].problem
    assert "meta.json is missing" in entries["empty"].problem
    assert "never loaded" in entries["model"].problem and "unpickling" in entries["model"].problem


def test_list_missing_and_empty_folder(tmp_path):
    [entry] = list_checkpoints(tmp_path / "absent")
    assert not entry.ok and "no such folder" in entry.problem and "train.py" in entry.problem
    (tmp_path / "e").mkdir()
    assert list_checkpoints(tmp_path / "e") == []


def test_pickle_never_loaded(tmp_path, monkeypatch):
    """A pickled file in place of the weights is refused without being unpickled."""
    folder = tmp_path / "mnist-vae-mlp-z2"
    make_checkpoint(folder)
    torch.save({"w": torch.zeros(1)}, folder / WEIGHTS)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load called"))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(folder)


def test_cli_reports_each_problem_and_exits_non_zero(tmp_path, capsys):
    from explorer.checkpoints import main

    root = tmp_path / "cks"
    make_checkpoint(root / "mnist-vae-mlp-z2")
    assert main([str(root)]) == 0
    assert "ok      mnist-vae-mlp-z2" in capsys.readouterr().out
    make_checkpoint(root / "mnist-ae-mlp-z2", kind="ae")
    edit_meta(root / "mnist-ae-mlp-z2", lambda m: m["model_config"].update(hidden=[64, 16]))
    (root / "x.pt").write_bytes(b"\x80\x04")
    assert main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN  mnist-ae-mlp-z2: the config does not match the tensors" in out
    assert "BROKEN  x.pt: a pickled PyTorch file" in out
    assert main([str(tmp_path / "absent")]) == 2
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 1

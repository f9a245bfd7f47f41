"""The recipe-experiment script: variants differ in exactly what they name, and it tables them."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import make_idx_folder
from tools import experiments


def changed_fields(a, b) -> set[str]:
    return {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}


def test_a_variant_changes_only_what_it_names():
    base_t, base_m = experiments.variant_spec("baseline", "fashion", "vae", 16)
    t, m = experiments.variant_spec("kl-warmup-5+relu", "fashion", "vae", 16)
    assert changed_fields(base_t, t) == {"kl_warmup_epochs"} and t.kl_warmup_epochs == 5
    assert changed_fields(base_m, m) == {"activation"} and m.activation == "relu"
    t, _ = experiments.variant_spec("baseline", "fashion", "vae", 16, epochs=3)
    assert changed_fields(base_t, t) == {"epochs"}


def test_main_trains_each_variant_and_writes_the_table(tmp_path, monkeypatch, capsys):
    make_idx_folder(tmp_path / "data" / "fashion", n_train=120, n_test=40)
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path / "data"))
    out = tmp_path / "exp"
    assert experiments.main(["--latent-dim", "2", "--epochs", "1", "--variants", "baseline", "relu",
                             "--out", str(out)]) == 0
    table = (out / "fashion-vae-z2.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| baseline") or line.startswith("| relu")]
    assert len(rows) == 2 and "| +0.00 |" in rows[0]
    assert "relu" in capsys.readouterr().out


def test_unknown_variant_is_refused_with_the_known_names(capsys):
    with pytest.raises(SystemExit) as e:
        experiments.main(["--variants", "baseline+dropout", "relu+"])
    assert e.value.code == 2
    assert "unknown variant(s) dropout, (empty)" in capsys.readouterr().err


def test_a_diverged_variant_is_a_row_not_a_traceback(tmp_path, monkeypatch, capsys):
    make_idx_folder(tmp_path / "data", n_train=60, n_test=20)

    def diverge(*args, **kwargs):
        raise experiments.TrainingDiverged("the loss became nan in epoch 1")

    monkeypatch.setattr(experiments, "fit", diverge)
    assert experiments.main(["--data-dir", str(tmp_path / "data"), "--epochs", "1", "--variants", "lr-3e-3"]) == 0
    out = capsys.readouterr().out
    assert "lr-3e-3: diverged (the loss became nan in epoch 1)" in out and "| lr-3e-3 | 1 | diverged |" in out


def test_an_unwritable_out_is_refused_before_any_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "fit", lambda *a, **k: pytest.fail("trained before checking --out"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert experiments.main(["--out", str(blocker / "sub"), "--variants", "baseline"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to {blocker / 'sub'}" in err and "Traceback" not in err

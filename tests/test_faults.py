"""Training faults: Ctrl-C and SIGKILL keep the last good checkpoint; a full disk leaves nothing half-written."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from explorer import checkpoints as ck_mod
from explorer import load_checkpoint
from explorer.checkpoints import recover_interrupted, save_checkpoint
from tests.helpers import make_checkpoint, make_idx_folder

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 12  # enough left after the signal that it lands mid-run even when this machine is busy
ARGS = ["--dataset", "fashion", "--kind", "vae", "--latent-dims", "2", "--epochs", str(EPOCHS), "--batch-size", "20",
        "--hidden", "64", "--quiet"]
# The child writes to a pipe; no PYTHONUNBUFFERED, so its lines arrive live only if train.py flushes them.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def run_train(data, out, *extra):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *ARGS, "--data-dir", str(data), "--out", str(out),
                           *extra], capture_output=True, text=True, cwd=ROOT, timeout=300, env=CHILD_ENV)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_idx_folder(tmp_path_factory.mktemp("faults"), n_train=1500, n_test=100)


# train.py as a terminal would start it: with Ctrl-C live. A shell starts background jobs with
# SIGINT ignored and Python keeps an inherited "ignore", so when the tests themselves run in the
# background (`bash .ci/run &`) a plain child would not notice the signal at all.
AS_FROM_A_TERMINAL = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      f"sys.argv[0] = {str(ROOT / 'train.py')!r}; runpy.run_path(sys.argv[0], run_name='__main__')")


def interrupt_after(data, out, sig, after_line=f"epoch 2/{EPOCHS}"):
    proc = subprocess.Popen([sys.executable, "-c", AS_FROM_A_TERMINAL, *ARGS, "--data-dir", str(data), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=CHILD_ENV)
    for line in proc.stdout:
        if after_line in line:
            time.sleep(0.05)  # into the next epoch
            assert proc.poll() is None, f"the run ended before it could be interrupted after {after_line!r}"
            proc.send_signal(sig)
            break
    out, err = proc.communicate(timeout=120)
    return proc.returncode, err + "\n[stdout after the signal]\n" + out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_interrupt_then_resume_equals_uninterrupted(data, tmp_path, sig):
    ref = run_train(data, tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    code, err = interrupt_after(data, tmp_path / "run", sig)
    if sig == signal.SIGINT:
        assert code == 130 and "interrupted" in err and "--resume" in err and "Traceback" not in err, (code, err[-2000:])
    else:
        assert code == -signal.SIGKILL
    state = tmp_path / "run" / ".resume" / "fashion-vae-mlp-z2.safetensors"
    assert state.is_file()  # the last completed epoch's state survived
    assert not (tmp_path / "run" / "fashion-vae-mlp-z2").exists()
    resumed = run_train(data, tmp_path / "run", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after epoch" in resumed.stdout
    a = json.loads((tmp_path / "ref" / "fashion-vae-mlp-z2" / "meta.json").read_text())
    b = json.loads((tmp_path / "run" / "fashion-vae-mlp-z2" / "meta.json").read_text())
    for k in ("loss", "recon", "kl", "mse"):
        assert a["test_metrics"][k] == pytest.approx(b["test_metrics"][k], rel=1e-5)
    measured = [[(r["epoch"], r["test_loss"]) for r in m["history"] if "test_loss" in r] for m in (a, b)]
    assert [e for e, _ in measured[0]] == [e for e, _ in measured[1]] and measured[0]  # the same epochs measured
    assert [v for _, v in measured[0]] == pytest.approx([v for _, v in measured[1]], rel=1e-5)


def test_previous_checkpoint_survives_an_interrupted_retrain(data, tmp_path):
    first = run_train(data, tmp_path)
    assert first.returncode == 0
    before = (tmp_path / "fashion-vae-mlp-z2" / "weights.safetensors").read_bytes()
    code, _ = interrupt_after(data, tmp_path, signal.SIGKILL, after_line=f"epoch 1/{EPOCHS}")
    assert code == -signal.SIGKILL
    assert (tmp_path / "fashion-vae-mlp-z2" / "weights.safetensors").read_bytes() == before
    load_checkpoint(tmp_path / "fashion-vae-mlp-z2")


def test_kill_between_renames_is_recovered(tmp_path):
    folder = tmp_path / "mnist-vae-mlp-z2"
    make_checkpoint(folder)
    real = os.replace

    def crash_on_second(a, b):
        if str(a).endswith(".new"):
            raise KeyboardInterrupt  # the process dies after moving the old folder away
        return real(a, b)

    model = load_checkpoint(folder).model
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ck_mod.os, "replace", crash_on_second)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(folder, model, {"id": folder.name, "dataset": {"name": "mnist"}, "train_config": {},
                                            "history": [], "test_metrics": {"loss": 1.0}},
                            {"codes": torch.zeros(2, 2).numpy()})
    assert not folder.exists()
    assert recover_interrupted(tmp_path) == ["restored mnist-vae-mlp-z2 from an interrupted write"]
    load_checkpoint(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_full_disk_leaves_old_checkpoint_and_no_partial_files(tmp_path, monkeypatch):
    folder = tmp_path / "mnist-ae-mlp-z2"
    model = make_checkpoint(folder, kind="ae")
    before = (folder / "weights.safetensors").read_bytes()

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck_mod, "save_numpy", no_space)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(folder, model, {"id": folder.name, "dataset": {}, "train_config": {}, "history": [],
                                        "test_metrics": {}}, {"codes": torch.zeros(2, 2).numpy()})
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
    assert (folder / "weights.safetensors").read_bytes() == before


def test_full_disk_from_the_cli_is_a_clear_message(data, tmp_path):
    """A write that fails with ENOSPC mid-run (simulated in the child) gives one clear line."""
    code = (
        "import errno, sys, explorer.checkpoints as c\n"
        "def boom(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "c.save_numpy = boom\n"
        "sys.argv = ['train.py'] + sys.argv[1:]\n"
        "import runpy; runpy.run_path('train.py', run_name='__main__')\n"
    )
    args = ["--dataset", "fashion", "--kind", "ae", "--latent-dims", "2", "--epochs", "1", "--hidden", "16", "--quiet"]
    proc = subprocess.run([sys.executable, "-c", code, *args, "--data-dir", str(data),
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1
    assert "No space left on device" in proc.stderr and "Nothing half-written was left" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".resume")] == []

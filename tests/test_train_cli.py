"""train.py end to end: a run writes a loadable checkpoint whose metadata matches its weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from explorer import list_checkpoints, load_checkpoint, load_dataset
from explorer.checkpoints import FILES
from explorer.data import find_idx_dir
from explorer.projections import maps_for
from explorer.sweep import cpu_cores, encode_all, map_indices
from explorer.training import evaluate
from explorer.vocab import KINDS
from tests.helpers import make_idx_folder

ROOT = Path(__file__).resolve().parent.parent


def train(*args, env=None, check=True):
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quiet", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout + proc.stderr)
    return proc


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = make_idx_folder(root / "data", n_train=200, n_test=60)
    out = root / "out"
    train("--dataset", "fashion", "--kind", "all", "--latent-dims", 2, 3, "--epochs", 2, "--batch-size", 50,
          "--hidden", 32, "--out", out, "--data-dir", data)
    return data, out


def test_writes_every_checkpoint_and_sweep_record(tiny_run):
    data, out = tiny_run
    entries = list_checkpoints(out)
    assert sorted(e.id for e in entries) == sorted(f"fashion-{k}-mlp-z{z}" for k in KINDS for z in (2, 3))
    assert all(e.ok for e in entries)
    for e in entries:
        assert sorted(p.name for p in e.path.iterdir()) == sorted(FILES)
    assert not (out / ".resume").exists()
    sweep = json.loads((out / "sweep.json").read_text())
    assert len(sweep["models"]) == 6 and sweep["wall_seconds"] > 0


def test_metadata_matches_recomputed_metrics_and_maps(tiny_run):
    data, out = tiny_run
    te = load_dataset("fashion", "test", data_dir=data)
    for z in (2, 3):
        ck = load_checkpoint(out / f"fashion-vae-mlp-z{z}")
        m = evaluate(ck.model, te.images)
        for k in ("loss", "recon", "kl", "mse"):
            assert m[k] == pytest.approx(getattr(ck.meta.test_metrics, k), rel=1e-5)
        meta = ck.meta
        assert meta.dataset.source == f"idx:{data}" and meta.dataset.train_count == 200
        assert meta.epochs == 2 and len(meta.history) == 2 and meta.seed == 0
        assert all("train_loss" in row for row in meta.history)
        # the test set is measured every few epochs and always at the last
        assert {"test_recon", "test_kl"} <= set(meta.history[-1])
        codes = ck.codes()
        idx = map_indices(len(te))
        np.testing.assert_array_equal(codes["indices"], idx)
        exact = encode_all(ck.model, te.images[idx])
        np.testing.assert_allclose(codes["codes"], exact, rtol=1e-3, atol=1e-3)  # stored as float16
        again = maps_for(codes["codes"], seed=0)  # the same seed gives the same map of the stored codes
        np.testing.assert_allclose(codes["map_tsne"], again["tsne"], atol=1e-4)
        np.testing.assert_allclose(codes["map_pca"], again["pca"], atol=1e-5)
        assert ("map_raw" in codes) == (z == 2)


def test_same_seed_same_checkpoint(tiny_run, tmp_path):
    data, out = tiny_run
    train("--dataset", "fashion", "--kind", "dae", "--latent-dims", 2, "--epochs", 2, "--batch-size", 50,
          "--hidden", 32, "--out", tmp_path, "--data-dir", data)
    a = json.loads((out / "fashion-dae-mlp-z2" / "meta.json").read_text())
    b = json.loads((tmp_path / "fashion-dae-mlp-z2" / "meta.json").read_text())
    assert a["weights_sha256"] == b["weights_sha256"]


def test_one_job_or_two_the_same_checkpoints(tiny_run, tmp_path):
    """The tiny run trained two models at a time (one thread each) where there are two cores;
    one at a time, with every thread, gives the same bytes."""
    data, out = tiny_run
    assert json.loads((out / "sweep.json").read_text())["jobs"] == min(2, cpu_cores())
    proc = train("--dataset", "fashion", "--kind", "vae", "--latent-dims", 2, 3, "--epochs", 2, "--batch-size", 50,
                 "--hidden", 32, "--out", tmp_path, "--data-dir", data, "--jobs", 1)
    assert "at a time" not in proc.stdout
    assert json.loads((tmp_path / "sweep.json").read_text())["jobs"] == 1
    for z in (2, 3):
        a = json.loads((out / f"fashion-vae-mlp-z{z}" / "meta.json").read_text())
        b = json.loads((tmp_path / f"fashion-vae-mlp-z{z}" / "meta.json").read_text())
        assert (a["weights_sha256"], a["codes_sha256"]) == (b["weights_sha256"], b["codes_sha256"])


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_stops_every_worker_and_resume_finishes(tmp_path, stop):
    data = make_idx_folder(tmp_path / "data", n_train=200, n_test=60)
    out = tmp_path / "out"
    args = ["--dataset", "fashion", "--kind", "all", "--latent-dims", 2, 3, "--epochs", 300, "--batch-size", 50,
            "--hidden", 32, "--out", out, "--data-dir", data]
    # A shell starts background jobs with SIGINT ignored, and Python then leaves it ignored: give
    # train.py the default disposition, as in a terminal, whatever this test runs under.
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--quiet", "--jobs", "2", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:  # wait until both workers are training
            if "epoch 3/300" in line:
                break
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.send_signal(stop)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted. Finished checkpoints are intact" in err and "Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "a worker outlived train.py"
    finished = [e for e in list_checkpoints(out)]
    assert len(finished) < 6 and all(e.ok for e in finished)
    done = train(*args, "--resume")
    assert sorted(e.id for e in list_checkpoints(out) if e.ok) == \
        sorted(f"fashion-{k}-mlp-z{z}" for k in KINDS for z in (2, 3))
    assert done.stdout.count("already trained, skipped") == len(finished)


def test_resume_skips_finished(tiny_run):
    data, out = tiny_run
    proc = train("--dataset", "fashion", "--kind", "vae", "--latent-dims", 2, "--epochs", 2, "--batch-size", 50,
                 "--hidden", 32, "--out", out, "--data-dir", data, "--resume")
    assert "already trained, skipped" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--latent-dims", "0"], "must be at least 1"),
    (["--epochs", "-3"], "must be at least 1"),
    (["--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["--lr", "nan"], "must be a positive number"),
    (["--device", "tpu"], "choose auto, cpu"),
    (["--jobs", "0"], "must be at least 1"),
    (["--set", "seeds", "--latent-dims", "2"], "--latent-dims do not apply"),
    (["--set", "seeds", "--arch", "conv", "--hidden", "8"], "--hidden, --arch do not apply"),
    (["--set", "all"], "invalid choice: 'all'"),
])
def test_bad_flags_refused(args, message, tmp_path):
    proc = train(*args, "--out", tmp_path, "--dry-run", check=False)
    assert proc.returncode != 0 and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_states_defaults():
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--help"], capture_output=True, text=True, cwd=ROOT)
    for flag in ("--dataset", "--kind", "--latent-dims", "--arch", "--epochs", "--batch-size", "--lr", "--seed",
                 "--device", "--out", "--data-dir", "--resume", "--flow-steps", "--jobs"):
        assert flag in proc.stdout
    assert proc.stdout.count("default") >= 12


def test_no_data_is_one_clear_message(tmp_path):
    """With no source anywhere (system folders hidden in the child), one message says how to get the data."""
    code = ("import sys, pathlib, explorer.data as d\n"
            f"d.PROJECT_DATA = pathlib.Path({str(tmp_path / 'none')!r}); d.DEBIAN_DIRS = {{}}\n"
            "import train; sys.exit(train.main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", code, "--dataset", "fashion", "--out", str(tmp_path), "--dry-run"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "LATENT_EXPLORER_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "No Fashion-MNIST data found" in proc.stderr and "apt-get install -y dataset-fashion-mnist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_output(tiny_run, tmp_path):
    data, _ = tiny_run
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = train("--dataset", "fashion", "--kind", "ae", "--latent-dims", 2, "--epochs", 1, "--data-dir", data,
                 "--out", blocker / "sub", check=False)
    assert proc.returncode == 2 and "cannot write to" in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_dataset_named(tmp_path):
    data = make_idx_folder(tmp_path / "d", n_train=20, n_test=10)
    f = data / "train-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-6])
    proc = train("--dataset", "fashion", "--data-dir", data, "--out", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "train-labels-idx1-ubyte.gz" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_real_fashion_one_epoch(tmp_path):
    """The engine issue's acceptance run, on the real Fashion-MNIST."""
    if find_idx_dir("fashion") is None:
        pytest.skip("Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)")
    train("--dataset", "fashion", "--kind", "vae", "--latent-dims", 2, "--epochs", 1, "--out", tmp_path)
    ck = load_checkpoint(tmp_path / "fashion-vae-mlp-z2")
    m = evaluate(ck.model, load_dataset("fashion", "test").images)
    assert m["loss"] == pytest.approx(ck.meta.test_metrics.loss, rel=1e-5)
    assert ck.meta.dataset.train_count == 60_000 and m["loss"] < 300


def test_dry_run_lists_each_run_with_its_recipe(tmp_path):
    data = make_idx_folder(tmp_path / "data", n_train=20, n_test=10)
    out = tmp_path / "out"
    proc = train("--dataset", "fashion", "--kind", "all", "--latent-dims", 2, 4, "--out", out,
                 "--data-dir", data, "--dry-run")
    lines = {line.split(":")[0]: line for line in proc.stdout.splitlines() if line.startswith("fashion-")}
    assert "KL warm-up 10 epochs" in lines["fashion-vae-mlp-z2"] and "40 epochs" in lines["fashion-vae-mlp-z2"]
    assert "warm-up" not in lines["fashion-ae-mlp-z2"] and "warm-up" not in lines["fashion-dae-mlp-z2"]
    assert "IAF 2 steps" in lines["fashion-vae-mlp-z2"]  # the flow: the VAE at latent size 2 only
    assert not any("IAF" in lines[f"fashion-{k}-mlp-z{z}"] for k, z in [("vae", 4), ("ae", 2), ("dae", 2)])
    assert not out.exists() or not any(out.iterdir())  # a dry run writes nothing
    proc = train("--dataset", "fashion", "--kind", "all", "--latent-dims", 2, 4, "--flow-steps", 0, "--out", out,
                 "--data-dir", data, "--dry-run")
    assert "IAF" not in proc.stdout
    proc = train("--dataset", "fashion", "--kind", "all", "--latent-dims", 4, "--flow-steps", 3, "--out", out,
                 "--data-dir", data, "--dry-run")
    assert [line.split(":")[0] for line in proc.stdout.splitlines() if "IAF 3 steps" in line] == ["fashion-vae-mlp-z4"]


def test_seed_set_dry_run_lists_the_seeds_networks(tmp_path):
    from explorer.seeds import SEED_RUNS

    data = make_idx_folder(tmp_path / "data", n_train=20, n_test=10)
    proc = train("--set", "seeds", "--out", tmp_path / "out", "--data-dir", data, "--dry-run")
    listed = [line.split(":")[0] for line in proc.stdout.splitlines() if line.startswith(("mnist-", "fashion-"))]
    assert sorted(listed) == sorted(r.id for r in SEED_RUNS)
    assert len(set(listed)) == len(listed) and "mnist-vae-conv4-z2" in listed and "fashion-ae-linear-z32" in listed
    assert "16 epochs, batch 1000, lr 0.001" in next(line for line in proc.stdout.splitlines()
                                                     if line.startswith("mnist-ae-conv-z64"))
    proc = train("--set", "seeds", "--dataset", "fashion", "--kind", "vae", "--out", tmp_path / "out",
                 "--data-dir", data, "--dry-run")
    assert [line.split(":")[0] for line in proc.stdout.splitlines() if line.startswith("fashion-")] == ["fashion-vae-conv4-z2"]

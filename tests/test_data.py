"""Datasets: IDX parsing, the order of sources, the verified download, the shipped MNIST."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from explorer import data
from explorer.data import DataError, Remote, load_dataset, parse_idx, read_idx_gz, write_idx_gz
from explorer.io import sha256_file
from tests.helpers import make_idx_folder


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


class TestParse:
    def test_round_trip(self, tmp_path):
        a = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
        write_idx_gz(tmp_path / "x.gz", a)
        np.testing.assert_array_equal(read_idx_gz(tmp_path / "x.gz", expect_dims=3), a)

    def test_bad_magic(self):
        raw = bytearray(idx_bytes(np.zeros((2, 28, 28))))
        raw[2] = 0x0D  # float type code
        with pytest.raises(DataError, match="magic"):
            parse_idx(bytes(raw), name="f", expect_dims=3)

    def test_truncated(self):
        raw = idx_bytes(np.zeros((2, 28, 28)))[:-10]
        with pytest.raises(DataError, match="truncated"):
            parse_idx(raw, name="f", expect_dims=3)

    def test_trailing_bytes(self):
        with pytest.raises(DataError, match="trailing"):
            parse_idx(idx_bytes(np.zeros((2, 28, 28))) + b"xx", name="f", expect_dims=3)

    def test_wrong_image_size(self):
        with pytest.raises(DataError, match="expected 28x28"):
            parse_idx(idx_bytes(np.zeros((2, 27, 28))), name="f", expect_dims=3)

    def test_wrong_dims_and_count(self):
        with pytest.raises(DataError, match="dimensions"):
            parse_idx(idx_bytes(np.zeros(5)), name="f", expect_dims=3)
        with pytest.raises(DataError, match="holds 5 items, expected 6"):
            parse_idx(idx_bytes(np.zeros(5)), name="f", expect_dims=1, expect_count=6)

    def test_too_short_and_not_gzip(self, tmp_path):
        with pytest.raises(DataError, match="too short"):
            parse_idx(b"\x00", name="f", expect_dims=1)
        (tmp_path / "bad.gz").write_bytes(b"this is not gzip")
        with pytest.raises(DataError, match="bad.gz.*not a readable gzip"):
            read_idx_gz(tmp_path / "bad.gz", expect_dims=1)

    def test_truncated_gzip_names_the_file(self, tmp_path):
        good = tmp_path / "t10k-images-idx3-ubyte.gz"
        write_idx_gz(good, np.zeros((4, 28, 28)))
        good.write_bytes(good.read_bytes()[:40])
        with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
            read_idx_gz(good, expect_dims=3)

    def test_labels_and_images_disagree(self, idx_folder):
        write_idx_gz(idx_folder / "t10k-labels-idx1-ubyte.gz", np.zeros(5))
        with pytest.raises(DataError, match="32 images but .* 5 labels"):
            load_dataset("fashion", "test", data_dir=idx_folder)


class TestSources:
    def test_explicit_dir_wins_and_is_recorded(self, idx_folder):
        ds = load_dataset("fashion", "train", data_dir=idx_folder)
        assert len(ds) == 64 and ds.images.dtype.is_floating_point is False
        assert ds.images.shape == (64, 28, 28)
        assert ds.source == f"idx:{idx_folder}"
        assert ds.class_names[0] == "T-shirt/top" and len(ds.class_names) == 10

    def test_env_var_then_subfolder(self, tmp_path, monkeypatch):
        make_idx_folder(tmp_path / "root" / "mnist", n_train=10, n_test=5)
        monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path / "root"))
        ds = load_dataset("mnist", "test")
        assert len(ds) == 5 and ds.source.endswith("mnist")

    def test_order(self, tmp_path, monkeypatch):
        labels = [label for label, _ in data.candidate_dirs("fashion", tmp_path)]
        assert labels[0] == "--data-dir"
        assert labels.index("project data folder") < labels.index("Debian package") < labels.index("download cache")

    def test_cache_is_last_resort(self, tmp_path, monkeypatch):
        monkeypatch.setattr(data, "PROJECT_DATA", tmp_path / "nothing")
        monkeypatch.setattr(data, "DEBIAN_DIRS", {})
        make_idx_folder(tmp_path / "cache" / "fashion", n_train=7, n_test=3)
        assert len(load_dataset("fashion", "train")) == 7

    def test_no_source_says_how_to_get_data(self, tmp_path, monkeypatch):
        monkeypatch.setattr(data, "PROJECT_DATA", tmp_path / "nothing")
        monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion": tmp_path / "nothing"})
        with pytest.raises(DataError) as e:
            load_dataset("fashion", "train")
        msg = str(e.value)
        assert "No Fashion-MNIST data found" in msg and "apt-get install -y dataset-fashion-mnist" in msg
        assert "--download" in msg

    def test_unknown_name_and_split(self):
        with pytest.raises(DataError, match="unknown dataset"):
            load_dataset("cifar")
        with pytest.raises(DataError, match="unknown split"):
            load_dataset("mnist", "valid")


class TestShippedMnist:
    """Full MNIST ships in data/mnist/: the four canonical files, byte for byte."""

    def test_the_shipped_files_match_the_published_checksums(self):
        folder = data.PROJECT_DATA / "mnist"
        for name, remote in data.SPECS["mnist"].remotes.items():
            assert sha256_file(folder / name) == remote.sha256_gz, name

    def test_train_py_finds_them_with_nothing_else_set(self):
        tr, te = load_dataset("mnist", "train"), load_dataset("mnist", "test")
        assert (len(tr), len(te)) == (60_000, 10_000)
        assert tr.source == "idx:data/mnist", "recorded relative to the project: the same on every machine"
        assert np.bincount(te.labels.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --------------------------------------------------------------------------- download

@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _remotes(served: Path, base: str, *, raw: bool, corrupt: str | None = None) -> dict:
    out = {}
    for f in sorted(p.name for p in served.iterdir()):
        body = (served / f).read_bytes()
        digest = hashlib.sha256(gzip.decompress(body) if raw else body).hexdigest()
        if f == corrupt:
            digest = "0" * 64
        out[f] = Remote(base + f, **({"sha256_raw": digest} if raw else {"sha256_gz": digest}))
    return out


@pytest.mark.parametrize("raw", [False, True], ids=["sha256-of-gz", "sha256-of-payload"])
def test_download_verified(http_server, tmp_path, monkeypatch, raw):
    served, base = http_server
    make_idx_folder(served, n_train=12, n_test=6)
    spec = data.DatasetSpec("fashion", "Fashion-MNIST", data.FASHION_CLASSES, _remotes(served, base, raw=raw))
    monkeypatch.setitem(data.SPECS, "fashion", spec)
    monkeypatch.setattr(data, "PROJECT_DATA", tmp_path / "nothing")
    monkeypatch.setattr(data, "DEBIAN_DIRS", {})
    ds = load_dataset("fashion", "train", download_missing=True)
    assert len(ds) == 12 and "cache" in ds.source
    assert sorted(p.name for p in data.cache_dir("fashion").iterdir()) == sorted(p.name for p in served.iterdir())


def test_download_checksum_mismatch_leaves_nothing(http_server, tmp_path, monkeypatch):
    served, base = http_server
    make_idx_folder(served, n_train=12, n_test=6)
    remotes = _remotes(served, base, raw=False, corrupt="train-images-idx3-ubyte.gz")
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: SHA-256 mismatch.*refused"):
        data.download_file(remotes["train-images-idx3-ubyte.gz"], dest / "train-images-idx3-ubyte.gz", progress=False)
    assert list(dest.iterdir()) == []  # no partial or temporary file


def test_download_unreachable_is_a_clear_error(tmp_path):
    remote = Remote("http://127.0.0.1:9/none.gz", sha256_gz="0" * 64)
    with pytest.raises(DataError, match="could not download http://127.0.0.1:9/none.gz"):
        data.download_file(remote, tmp_path / "none.gz", progress=False, timeout=2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_real_fashion_when_installed():
    if data.find_idx_dir("fashion") is None:
        pytest.skip("Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)")
    tr, te = load_dataset("fashion", "train"), load_dataset("fashion", "test")
    assert (len(tr), len(te)) == (60_000, 10_000)
    assert np.bincount(te.labels.numpy()).tolist() == [1000] * 10
    remote = data.SPECS["fashion"].remotes["t10k-images-idx3-ubyte.gz"]
    data.verify_file(Path(tr.source.removeprefix("idx:")) / "t10k-images-idx3-ubyte.gz", remote)

"""Datasets: MNIST and Fashion-MNIST from the standard IDX files, held in memory as uint8.

Where the files come from, in order (first complete set wins):
  1. an explicit directory (``data_dir=`` / ``--data-dir``, or ``$LATENT_EXPLORER_DATA``),
  2. the project's own ``data/<name>/`` folder (full MNIST ships there: data/README.md),
  3. the folder Debian's package installs (``/usr/share/datasets/fashion-mnist``),
  4. the download cache (``$LATENT_EXPLORER_CACHE`` or ``~/.cache/latent-explorer/<name>``),
     filled from the canonical mirrors when ``download=True``.

IDX format (LeCun et al.): big-endian magic ``0x0000 08 NN`` (08 = uint8, NN = number of
dimensions), then NN big-endian uint32 sizes, then the data.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .io import sha256_file
from .vocab import DATASET_TITLES

if TYPE_CHECKING:  # imported when a split is loaded: the app starts without torch
    import torch

PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"
DEBIAN_DIRS = {"fashion": Path("/usr/share/datasets/fashion-mnist")}
ENV_DATA_DIR = "LATENT_EXPLORER_DATA"
ENV_CACHE_DIR = "LATENT_EXPLORER_CACHE"

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLIT_SIZES = {"train": 60_000, "test": 10_000}

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Remote:
    """Where one canonical file lives and how to recognise it.

    ``sha256_gz`` is the checksum of the published ``.gz`` (MNIST publishes these).
    ``sha256_raw`` is the checksum of the decompressed IDX payload: used where only the
    payload is known (Fashion-MNIST's mirrors and Debian's package compress differently,
    the bytes inside are identical).
    """

    url: str
    sha256_gz: str | None = None
    sha256_raw: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    class_names: tuple[str, ...]
    remotes: dict[str, Remote] = field(default_factory=dict)


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist", DATASET_TITLES["mnist"], MNIST_CLASSES,
        {
            "train-images-idx3-ubyte.gz": Remote(_MNIST_URL + "train-images-idx3-ubyte.gz",
                sha256_gz="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train-labels-idx1-ubyte.gz": Remote(_MNIST_URL + "train-labels-idx1-ubyte.gz",
                sha256_gz="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "t10k-images-idx3-ubyte.gz": Remote(_MNIST_URL + "t10k-images-idx3-ubyte.gz",
                sha256_gz="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "t10k-labels-idx1-ubyte.gz": Remote(_MNIST_URL + "t10k-labels-idx1-ubyte.gz",
                sha256_gz="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        },
    ),
    "fashion": DatasetSpec(
        "fashion", DATASET_TITLES["fashion"], FASHION_CLASSES,
        {
            "train-images-idx3-ubyte.gz": Remote(_FASHION_URL + "train-images-idx3-ubyte.gz",
                sha256_raw="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            "train-labels-idx1-ubyte.gz": Remote(_FASHION_URL + "train-labels-idx1-ubyte.gz",
                sha256_raw="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            "t10k-images-idx3-ubyte.gz": Remote(_FASHION_URL + "t10k-images-idx3-ubyte.gz",
                sha256_raw="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            "t10k-labels-idx1-ubyte.gz": Remote(_FASHION_URL + "t10k-labels-idx1-ubyte.gz",
                sha256_raw="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        },
    ),
}

class DataError(RuntimeError):
    """A dataset file is missing, corrupt or does not match; the message says what to do."""


@dataclass
class Dataset:
    """One split of a dataset, whole, in memory.

    images: uint8 tensor (N, 28, 28), 0..255.  labels: int64 tensor (N,).
    source: where it came from (``idx:<dir>``, relative to the project for its own data/ folder),
    recorded in checkpoints.
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


# --------------------------------------------------------------------------- IDX parsing

def parse_idx(data: bytes, *, name: str, expect_dims: int, expect_count: int | None = None) -> np.ndarray:
    """Parse decompressed IDX bytes into a uint8 array, refusing anything malformed."""
    if len(data) < 4:
        raise DataError(f"{name}: file is too short to be IDX ({len(data)} bytes)")
    zero, dtype_code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{name}: bad IDX magic number 0x{data[:4].hex()} (expected 0x000008{expect_dims:02x}, unsigned bytes)")
    if ndim != expect_dims:
        raise DataError(f"{name}: has {ndim} dimensions, expected {expect_dims}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: header truncated")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataError(f"{name}: images are {dims[1]}x{dims[2]}, expected 28x28")
    if expect_count is not None and dims[0] != expect_count:
        raise DataError(f"{name}: holds {dims[0]} items, expected {expect_count}")
    size = int(np.prod(dims))
    body = len(data) - header
    if body != size:
        what = "truncated" if body < size else "has trailing bytes"
        raise DataError(f"{name}: {what}: header promises {size} bytes of data, file has {body}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_gz(path: Path, *, expect_dims: int, expect_count: int | None = None) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: not a readable gzip file ({e}); delete it and fetch it again") from None
    return parse_idx(data, name=str(path), expect_dims=expect_dims, expect_count=expect_count)


def read_split(folder: Path, split: str, *, expect_count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    img_name, lbl_name = SPLIT_FILES[split]
    images = read_idx_gz(folder / img_name, expect_dims=3, expect_count=expect_count)
    labels = read_idx_gz(folder / lbl_name, expect_dims=1, expect_count=expect_count)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{folder}: {img_name} holds {images.shape[0]} images but {lbl_name} holds {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{folder / lbl_name}: label {int(labels.max())} is outside 0..9")
    return images, labels


# --------------------------------------------------------------------------- sources

def cache_dir(name: str) -> Path:
    root = os.environ.get(ENV_CACHE_DIR)
    base = Path(root) if root else Path.home() / ".cache" / "latent-explorer"
    return base / name


def candidate_dirs(name: str, data_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The folders searched for ``name``'s IDX files, in priority order, with a label each."""
    out: list[tuple[str, Path]] = []
    if data_dir is not None:
        out.append(("--data-dir", Path(data_dir)))
    elif os.environ.get(ENV_DATA_DIR):
        out.append((f"${ENV_DATA_DIR}", Path(os.environ[ENV_DATA_DIR])))
    for base in [p for _, p in list(out)]:
        out.append(("--data-dir", base / name))  # DIR/fashion/... is accepted as well as DIR/...
    out.append(("project data folder", PROJECT_DATA / name))
    if name in DEBIAN_DIRS:
        out.append(("Debian package", DEBIAN_DIRS[name]))
    out.append(("download cache", cache_dir(name)))
    return out


def _has_all(folder: Path) -> bool:
    return all((folder / f).is_file() for pair in SPLIT_FILES.values() for f in pair)


def find_idx_dir(name: str, data_dir: str | Path | None = None) -> Path | None:
    for _, folder in candidate_dirs(name, data_dir):
        if _has_all(folder):
            return folder
    return None


def verify_file(path: Path, remote: Remote, name: str | None = None) -> None:
    """Raise DataError when ``path`` does not match the published checksum."""
    name = name or path.name
    if remote.sha256_gz is not None:
        got, want, what = sha256_file(path), remote.sha256_gz, "SHA-256"
    elif remote.sha256_raw is not None:
        try:
            got = sha256_file(path, decompress=True)
        except (OSError, EOFError) as e:
            raise DataError(f"{name}: downloaded file is not valid gzip ({e}); the download was refused") from None
        want, what = remote.sha256_raw, "SHA-256 of the decompressed data"
    else:
        return
    if got != want:
        raise DataError(f"{name}: {what} mismatch (got {got[:16]}…, expected {want[:16]}…); the download was refused")


def download_file(remote: Remote, dest: Path, *, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``remote`` to ``dest`` atomically, verifying its checksum.

    The bytes go to a temporary file beside ``dest``; only a verified file is renamed into
    place, so a failed or refused download leaves nothing behind.
    """
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(remote.url, timeout=timeout) as resp:
                    total = int(resp.headers.get("Content-Length") or 0) or None
                    with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                        for block in iter(lambda: resp.read(1 << 16), b""):
                            out.write(block)
                            bar.update(len(block))
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                raise DataError(f"could not download {remote.url}: {e}") from None
        verify_file(tmp, remote, dest.name)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def download(name: str, *, dest: Path | None = None, progress: bool = True) -> Path:
    """Fetch all four IDX files of ``name`` into ``dest`` (default: the download cache)."""
    spec = SPECS[name]
    dest = dest or cache_dir(name)
    for fname, remote in spec.remotes.items():
        target = dest / fname
        if target.is_file():
            try:
                verify_file(target, remote)
                continue
            except DataError:
                pass  # a stale or damaged cached copy: fetch it again
        download_file(remote, target, progress=progress)
    return dest


def source_label(folder: Path) -> str:
    """A data folder as checkpoints record it: relative to the project for its own data/ (the
    same on every machine), else as found."""
    folder = Path(folder).resolve()
    root = PROJECT_DATA.parent.resolve()
    return folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)


def no_source_message(name: str, data_dir: str | Path | None) -> str:
    tried = "\n".join(f"  - {label}: {path}" for label, path in candidate_dirs(name, data_dir))
    files = ", ".join(f for pair in SPLIT_FILES.values() for f in pair)
    hint = "  apt-get install -y dataset-fashion-mnist   (Debian, offline)\n" if name == "fashion" else ""
    return (
        f"No {SPECS[name].title} data found. Looked for {files} in:\n{tried}\n"
        f"Get it with one of:\n{hint}"
        f"  python train.py --download --dataset {name}   (needs internet; fills the download cache)\n"
        f"  or copy the four IDX .gz files into data/{name}/ and point --data-dir at it."
    )


def load_dataset(name: str, split: str = "train", *, data_dir: str | Path | None = None,
                 download_missing: bool = False) -> Dataset:
    """Load one split of ``name`` ("mnist" or "fashion") into memory.

    Returns a ``Dataset`` with uint8 images (N, 28, 28) and int64 labels (N,).
    Raises ``DataError`` with a message saying how to get the data when none is found.
    """
    if name not in SPECS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(SPECS)}")
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; choose 'train' or 'test'")
    import torch

    spec = SPECS[name]
    folder = find_idx_dir(name, data_dir)
    if folder is None and download_missing:
        folder = download(name)
    if folder is not None:
        images, labels = read_split(folder, split)
        return Dataset(name, split, torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)),
                       spec.class_names, source=f"idx:{source_label(folder)}")
    raise DataError(no_source_message(name, data_dir))


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX ``.gz`` (used by tests and to export data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


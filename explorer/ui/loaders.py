"""Cached loading, shared by every session of the server process.

``shared`` holds what is large and read-only: the catalog of checkpoints, the models (eval
mode, never mutated; inference runs under ``torch.inference_mode``), their codes and maps,
the test split's images, the latent planes and the latent map's figure. It is not
``st.cache_resource`` because any websocket client can send Streamlit's "clear cache"
message, which empties every ``st.cache_*`` of the process, for everyone: a class would
reload its models after each one. ``st.cache_data`` holds arrays computed from small keys
(a checkpoint's id and hash, grid settings), which are cheap to compute again. Every cache
is bounded by ``max_entries`` so that browsing every checkpoint in every session cannot
grow memory without limit.

Cache keys are the checkpoint folder and the SHA-256 its metadata records, so a retrained
checkpoint is loaded afresh and never confused with the old one.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.checkpoints import BrokenEntry, CatalogEntry, Checkpoint, list_checkpoints, load_checkpoint, load_codes
from explorer.data import DataError, load_dataset
from explorer.images import mosaic, to_uint8
from explorer.latent import MEAN_ANCHOR, Plane, grid_coords, make_plane, prior_block
from explorer.vocab import DATASETS, KINDS

from . import checkpoint_folder

# --------------------------------------------------------------------------- the shared cache

def shared(max_entries: int):
    """A process-wide cache of read-only values, like ``st.cache_resource`` (keyed by the
    arguments whose names do not start with ``_``, least recently used evicted beyond
    ``max_entries``) but out of reach of Streamlit's "clear cache" message. Each value is
    computed once even when many sessions ask for it at the same moment (a class opening the
    same model); an exception is raised to every caller and not kept."""

    def wrap(fn):
        signature = inspect.signature(fn)
        values: OrderedDict = OrderedDict()
        loading: dict = {}
        lock = threading.Lock()

        @functools.wraps(fn)
        def call(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            key = tuple((k, v) for k, v in bound.arguments.items() if not k.startswith("_"))
            with lock:
                if key in values:
                    values.move_to_end(key)
                    return values[key]
                key_lock = loading.setdefault(key, threading.Lock())
            with key_lock:
                with lock:
                    if key in values:
                        return values[key]
                try:
                    value = fn(*args, **kwargs)
                finally:
                    with lock:
                        loading.pop(key, None)
                with lock:
                    values[key] = value
                    while len(values) > max_entries:
                        values.popitem(last=False)
            return value

        def clear() -> None:
            with lock:
                values.clear()

        call.clear = clear  # pyright: ignore[reportAttributeAccessIssue]
        call.max_entries = max_entries  # pyright: ignore[reportAttributeAccessIssue]
        return call

    return wrap


# --------------------------------------------------------------------------- catalog

@dataclass(frozen=True)
class Catalog:
    """The checkpoints of one folder, good and broken."""

    folder: Path
    entries: tuple[CatalogEntry | BrokenEntry, ...]

    @property
    def good(self) -> list[CatalogEntry]:
        return [e for e in self.entries if isinstance(e, CatalogEntry)]

    @property
    def broken(self) -> list[BrokenEntry]:
        return [e for e in self.entries if isinstance(e, BrokenEntry)]

    def datasets(self) -> list[str]:
        names = {e.meta.dataset.name for e in self.good}
        return sorted(names, key=lambda n: (DATASETS.index(n) if n in DATASETS else 99, n))

    def kinds(self, dataset: str) -> list[str]:
        kinds = {e.meta.kind for e in self.good if e.meta.dataset.name == dataset}
        return [k for k in KINDS if k in kinds]

    def archs(self, dataset: str, kind: str) -> list[str]:
        return sorted({e.meta.arch for e in self.good
                       if e.meta.dataset.name == dataset and e.meta.kind == kind})

    def sizes(self, dataset: str, kind: str, arch: str) -> list[int]:
        return list(self.by_size(dataset, kind, arch))

    def find(self, dataset: str, kind: str, latent_dim: int, arch: str = "mlp") -> CatalogEntry | None:
        for e in self.good:
            m = e.meta
            if (m.dataset.name, m.kind, m.latent_dim, m.arch) == (dataset, kind, latent_dim, arch):
                return e
        return None

    def by_size(self, dataset: str, kind: str, arch: str) -> dict[int, CatalogEntry]:
        """The checkpoints of one dataset, kind and architecture, keyed by latent size (ascending)."""
        found = {e.meta.latent_dim: e for e in self.good
                 if (e.meta.dataset.name, e.meta.kind, e.meta.arch) == (dataset, kind, arch)}
        return dict(sorted(found.items()))

    def by_id(self, checkpoint_id: str) -> CatalogEntry | None:
        return next((e for e in self.good if e.id == checkpoint_id), None)


def _signature(folder: Path) -> tuple:
    """What changes when a checkpoint is added, removed or rewritten: names and mtimes."""
    try:
        items = []
        for child in sorted(folder.iterdir()):
            meta = child / "meta.json"
            stamp = meta.stat().st_mtime_ns if meta.is_file() else child.stat().st_mtime_ns
            items.append((child.name, stamp))
        return tuple(items)
    except OSError:
        return ()


@shared(max_entries=4)
def _catalog(folder: str, signature: tuple) -> Catalog:
    return Catalog(Path(folder), tuple(list_checkpoints(folder)))


def catalog() -> Catalog:
    """The catalog, re-read only when the folder's contents change (checked by mtimes)."""
    folder = checkpoint_folder()
    return _catalog(str(folder), _signature(folder))


# --------------------------------------------------------------------------- models, codes

@shared(max_entries=64)
def _checkpoint(path: str, weights_sha256: str) -> Checkpoint:
    return load_checkpoint(path)  # eval mode, requires_grad off: safe to share


def checkpoint(entry: CatalogEntry) -> Checkpoint:
    """The loaded checkpoint (raises ``CheckpointError`` if it was damaged since listing)."""
    return _checkpoint(str(entry.path), entry.meta.weights_sha256)


def model(entry: CatalogEntry):
    return checkpoint(entry).model


@shared(max_entries=64)
def _codes(path: str, codes_sha256: str) -> dict[str, np.ndarray]:
    arrays = load_codes(path)
    for a in arrays.values():
        a.setflags(write=False)  # shared by all sessions
    return arrays


def codes(entry: CatalogEntry) -> dict[str, np.ndarray]:
    """codes (n, z), labels (n,), indices (n,) into the test split, map_pca / map_tsne (n, 2),
    map_raw (n, 2) for latent size 2. Read-only."""
    return _codes(str(entry.path), entry.meta.codes_sha256)


# --------------------------------------------------------------------------- test split

@shared(max_entries=4)
def _test_split(name: str, expected: int) -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset(name, "test")
    images, labels = ds.images.numpy(), ds.labels.numpy()
    if expected and len(labels) != expected:
        raise DataError(f"the {name} test split found here has {len(labels):,} images, but the checkpoint was "
                        f"made with {expected:,}; its image indices would not match. Retrain with "
                        f"`python train.py --dataset {name}` on this machine's data.")
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def test_split(entry: CatalogEntry) -> tuple[np.ndarray, np.ndarray]:
    """The test images (N, 28, 28) uint8 and labels (N,) the checkpoint's codes index into.

    Raises ``DataError`` (its message says how to get the data) when they are not here.
    """
    d = entry.meta.dataset
    return _test_split(d.name, d.test_count)


def test_images(entry: CatalogEntry, indices) -> np.ndarray:
    """Test images by index as float32 (n, 28, 28) in [0, 1]."""
    images, _ = test_split(entry)
    return images[np.asarray(indices, dtype=np.int64)].astype(np.float32) / 255.0


# --------------------------------------------------------------------------- computed arrays

@st.cache_data(max_entries=128, show_spinner=False)
def reconstructions(path: str, weights_sha256: str, indices: tuple[int, ...], _entry: CatalogEntry) -> np.ndarray:
    """Reconstructions (n, 28, 28) of test images by index."""
    from explorer import inference  # torch: imported on first use, not at start

    return inference.reconstruct(model(_entry), test_images(_entry, list(indices)))


@shared(max_entries=64)
def _map_figure(path: str, weights_sha256: str, view: str, selected: int | None, axis_titles: tuple[str, str],
                class_names: tuple[str, ...], _entry: CatalogEntry):
    from explorer import figures

    c = codes(_entry)
    return figures.latent_scatter(c[f"map_{view}"], c["labels"], class_names, indices=c["indices"], selected=selected,
                                  axis_titles=axis_titles)


def map_figure(entry: CatalogEntry, view: str, selected: int | None, axis_titles: tuple[str, str],
               class_names):
    """The latent map's plotly scatter (``explorer.figures.latent_scatter``) of the stored ``map_<view>``,
    built once and shared: a click reruns the map's panel, and rebuilding thousands of markers
    each time would cost every click. Read-only (``st.plotly_chart`` copies it)."""
    return _map_figure(*key(entry), view, None if selected is None else int(selected), (axis_titles[0], axis_titles[1]),
                       tuple(class_names), _entry=entry)


def key(entry: CatalogEntry) -> tuple[str, str]:
    """The small, hashable cache key of a checkpoint: its folder and weights hash."""
    return str(entry.path), entry.meta.weights_sha256


def code_row(entry: CatalogEntry, test_index: int | None) -> int | None:
    """The row of a test image among the entry's stored codes, or None."""
    if test_index is None:
        return None
    indices = codes(entry)["indices"]
    pos = int(np.searchsorted(indices, test_index))
    return pos if pos < len(indices) and int(indices[pos]) == int(test_index) else None


@shared(max_entries=128)
def _plane(path: str, weights_sha256: str, plane_key: tuple, _entry: CatalogEntry) -> Plane:
    mode, i, j, anchor_index = plane_key
    stored = codes(_entry)["codes"]
    if anchor_index == MEAN_ANCHOR:
        return make_plane(mode, stored, i, j, stored.mean(axis=0))
    row = code_row(_entry, anchor_index)
    return make_plane(mode, stored, i, j, None if row is None else stored[row])


def plane(entry: CatalogEntry, mode: str, i: int = 0, j: int = 1, anchor_index: int | str | None = None) -> Plane:
    """The latent plane a grid shows (see ``explorer.latent.make_plane``); the anchor is given
    as a test image's index and resolved to that image's code in this checkpoint, or as
    ``MEAN_ANCHOR`` for the mean of its stored test codes."""
    return _plane(*key(entry), (mode, int(i), int(j), anchor_index), _entry=entry)


@st.cache_data(max_entries=64, show_spinner=False)
def _grid_tiles(path: str, weights_sha256: str, plane_key: tuple, n: int, extent: float, spacing: str,
                _entry: CatalogEntry) -> np.ndarray:
    p = _plane(path, weights_sha256, plane_key, _entry=_entry)
    uv = grid_coords(n, extent, spacing).reshape(-1, 2)
    from explorer import inference  # torch: imported on first use, not at start

    return to_uint8(mosaic(inference.decode(model(_entry), p.points(uv)), n))


def grid_tiles(entry: CatalogEntry, mode: str, i: int, j: int, anchor_index: int | str | None, n: int,
               extent: float, spacing: str) -> np.ndarray:
    """The plane decoded on an n×n grid of tiles: uint8 (28n, 28n), row 0 at the top."""
    return _grid_tiles(*key(entry), (mode, int(i), int(j), anchor_index), int(n), float(extent), spacing,
                       _entry=entry)


@st.cache_data(max_entries=64, show_spinner=False)
def _prior_tiles(path: str, weights_sha256: str, n: int, side: int, temperature: float, seed: int,
                 _entry: CatalogEntry) -> np.ndarray:
    z = prior_block(n, side, _entry.meta.latent_dim, temperature, seed)
    from explorer import inference  # torch: imported on first use, not at start

    return to_uint8(mosaic(inference.decode(model(_entry), z), n, pad=1))


def prior_tiles(entry: CatalogEntry, n: int, side: int, temperature: float, seed: int) -> np.ndarray:
    """The n×n top-left block of side×side samples from the prior N(0, temperature² I)
    (``explorer.latent.prior_block``), decoded: uint8, each tile padded by 1 px."""
    return _prior_tiles(*key(entry), int(n), int(side), float(temperature), int(seed), _entry=entry)

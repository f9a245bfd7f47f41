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
import io
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer import latent

if TYPE_CHECKING:
    from explorer import anomaly
from explorer.checkpoints import BrokenEntry, CatalogEntry, Checkpoint, CheckpointError, list_checkpoints, load_checkpoint, load_codes
from explorer.data import DataError, load_dataset
from explorer.images import CLASS_COLORS, error_columns, hex_to_rgb, mosaic, to_uint8
from explorer.latent import MEAN_ANCHOR, Plane, grid_coords, make_plane, prior_block
from explorer.vocab import DATASETS, KIND_LABELS, KINDS

from . import checkpoint_folder, freeze_imported_objects, picks, quiet_for, release_free_memory, runs_in_progress

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- the shared cache

_waiters = 0  # callers waiting for a value another thread is computing (see _after_runs_in_progress)
_waiters_lock = threading.Lock()


def _count_waiter(step: int) -> None:
    global _waiters
    with _waiters_lock:
        _waiters += step


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
            if not key_lock.acquire(blocking=False):  # another thread computes it: wait, and say so
                _count_waiter(+1)
                try:
                    key_lock.acquire()
                finally:
                    _count_waiter(-1)
            try:
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
            finally:
                key_lock.release()
            return value

        def clear() -> None:
            with lock:
                values.clear()

        def has(*args, **kwargs) -> bool:
            """Whether the value for these arguments is computed (nothing is computed here). Only
            the key's arguments are needed: those starting with ``_`` may be left out."""
            bound = signature.bind_partial(*args, **kwargs)
            missing = [k for k, p in signature.parameters.items() if not k.startswith("_") and k not in bound.arguments
                       and p.default is inspect.Parameter.empty]
            if missing:
                raise TypeError(f"{fn.__name__}.has: missing {', '.join(missing)}")
            key = tuple((k, v) for k, v in bound.arguments.items() if not k.startswith("_"))
            with lock:
                return key in values

        call.has = has  # pyright: ignore[reportAttributeAccessIssue]

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
        return sorted({e.meta.architecture for e in self.good
                       if e.meta.dataset.name == dataset and e.meta.kind == kind})

    def sizes(self, dataset: str, kind: str, arch: str) -> list[int]:
        return list(self.by_size(dataset, kind, arch))

    def find(self, dataset: str, kind: str, latent_dim: int, arch: str = "mlp") -> CatalogEntry | None:
        for e in self.good:
            m = e.meta
            if (m.dataset.name, m.kind, m.latent_dim, m.architecture) == (dataset, kind, latent_dim, arch):
                return e
        return None

    def by_size(self, dataset: str, kind: str, arch: str) -> dict[int, CatalogEntry]:
        """The checkpoints of one dataset, kind and architecture, keyed by latent size (ascending)."""
        found = {e.meta.latent_dim: e for e in self.good
                 if (e.meta.dataset.name, e.meta.kind, e.meta.architecture) == (dataset, kind, arch)}
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

@shared(max_entries=512)
def reconstructions(path: str, weights_sha256: str, indices: tuple[int, ...], _entry: CatalogEntry) -> np.ndarray:
    """Reconstructions (n, 28, 28) of test images by index; read-only, shared by all sessions
    (a class opening Compare asks for the same ones; each entry is a few kB)."""
    from explorer import inference  # torch: imported on first use, not at start

    recon = inference.reconstruct(model(_entry), test_images(_entry, list(indices)))
    recon.setflags(write=False)
    return recon


PCA_COMPONENTS = 64  # the PCA curve's widest point, twice the largest latent size
PCA_CURVE = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # components at which the curve is measured


# Fitted on the test images the page shows, which the app always has (the training split may
# not be here): it flatters PCA by about 1 % of its error against a fit on the 60,000 training
# images (0.01505 against 0.01521 at 32 components on MNIST), which the report uses.
@shared(max_entries=4)
def _pixel_pca(name: str, expected: int):
    from explorer.projections import fit_pixel_pca

    images, _ = _test_split(name, expected)
    return fit_pixel_pca(images, PCA_COMPONENTS)


def pixel_pca(entry: CatalogEntry):
    """``projections.PixelPCA`` of the entry's dataset (its test images' pixels), shared."""
    return _pixel_pca(entry.meta.dataset.name, entry.meta.dataset.test_count)


@shared(max_entries=256)
def _pca_reconstructions(name: str, expected: int, k: int, indices: tuple[int, ...]) -> np.ndarray:
    images, _ = _test_split(name, expected)
    out = _pixel_pca(name, expected).reconstruct(images[np.asarray(indices, dtype=np.int64)], k)
    out.setflags(write=False)
    return out


def pca_reconstructions(entry: CatalogEntry, k: int, indices) -> np.ndarray:
    """Test images by index rebuilt from their top ``k`` principal components: float32 (n, 28, 28)."""
    d = entry.meta.dataset
    return _pca_reconstructions(d.name, d.test_count, int(k), tuple(int(i) for i in indices))


@shared(max_entries=4)
def _pca_curve(name: str, expected: int) -> tuple[tuple[int, float, float], ...]:
    images, _ = _test_split(name, expected)
    pca = _pixel_pca(name, expected)
    return tuple((k, mse, pca.explained(k)) for k, mse in zip(PCA_CURVE, pca.mse_curve(images, PCA_CURVE)))


def pca_curve(entry: CatalogEntry) -> tuple[tuple[int, float, float], ...]:
    """(components, test MSE per pixel, share of the variance explained) at each of ``PCA_CURVE``."""
    return _pca_curve(entry.meta.dataset.name, entry.meta.dataset.test_count)


def feature_accuracy(entries) -> dict[str, float]:
    """The report's codes-as-features accuracy (``explorer.features``) of each of ``entries`` whose
    weights are those it was measured on, by entry id; re-read each time (a small JSON file)."""
    from explorer import features

    measured = features.read(checkpoint_folder())
    return {e.id: measured[e.id][1] for e in entries
            if e.id in measured and measured[e.id][0] == e.meta.weights_sha256}


@shared(max_entries=1024)
def _reconstruction_of(path: str, weights_sha256: str, image: bytes, _entry: CatalogEntry) -> np.ndarray:
    from explorer import inference  # torch: imported on first use, not at start

    x = np.frombuffer(image, dtype=np.float32).reshape(1, 28, 28).copy()  # torch wants it writable
    out = inference.reconstruct(model(_entry), x)[0]
    out.setflags(write=False)
    return out


def reconstruction_of(entry: CatalogEntry, image: np.ndarray) -> np.ndarray:
    """One input (28, 28) in [0, 1] (a corrupted test image, an upload) through the entry's
    model -> (28, 28), read-only; cached on the input's bytes, so a page that shows every
    model's output for one input computes each once, not on every rerun. Raises
    ``CheckpointError`` like ``model``."""
    x = np.ascontiguousarray(image, dtype=np.float32).reshape(28, 28)
    return _reconstruction_of(*key(entry), x.tobytes(), _entry=entry)


MAP_VIEWS = {"raw": "true coordinates", "tsne": "t-SNE", "pca": "PCA"}  # the latent map's views, in order


def map_views(stored: dict) -> list[str]:
    """The views a checkpoint's stored codes have maps for; the first is the one the page opens on."""
    return [v for v in MAP_VIEWS if f"map_{v}" in stored]


def map_axes(view: str) -> tuple[str, str]:
    return ("z0", "z1") if view == "raw" else (f"{MAP_VIEWS[view]} 1", f"{MAP_VIEWS[view]} 2")


@shared(max_entries=64)
def _map_figure(path: str, weights_sha256: str, view: str, selected: int | None, class_names: tuple[str, ...],
                _entry: CatalogEntry):
    from explorer import figures

    c = codes(_entry)
    return figures.latent_scatter(c[f"map_{view}"], c["labels"], class_names, indices=c["indices"], selected=selected,
                                  axis_titles=map_axes(view))


def map_figure(entry: CatalogEntry, view: str, selected: int | None, class_names):
    """The latent map's plotly scatter (``explorer.figures.latent_scatter``) of the stored ``map_<view>``,
    built once and shared: a click reruns the map's panel, and rebuilding thousands of markers
    each time would cost every click. Read-only (``st.plotly_chart`` copies it)."""
    return _map_figure(*key(entry), view, None if selected is None else int(selected), tuple(class_names),
                       _entry=entry)


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


@shared(max_entries=256)
def _grid_extent(path: str, weights_sha256: str, plane_key: tuple, _entry: CatalogEntry) -> float:
    mode, i, j, anchor_index = plane_key
    return latent.grid_extent(_entry.meta.kind, lambda: plane(_entry, mode, i, j, anchor_index).coords(
        codes(_entry)["codes"]))


def grid_extent(entry: CatalogEntry, mode: str, i: int = 0, j: int = 1, anchor_index: int | str | None = None) -> float:
    """``explorer.latent.grid_extent`` of the plane's test codes, computed once per plane: an
    AE's spread is a quantile of thousands of projected codes, which each rerun of the grid
    paid for again."""
    return _grid_extent(*key(entry), (mode, int(i), int(j), anchor_index), _entry=entry)


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


# --------------------------------------------------------------------------- the reading classifier

@shared(max_entries=4)
def _reader(folder: str, stamp: tuple):
    from explorer import classifier

    return classifier.load(folder)  # raises CheckpointError, which is not kept: a fixed file loads next time


def _reader_stamp(folder: Path) -> tuple:
    try:
        return tuple((folder / f).stat().st_mtime_ns for f in ("meta.json", "weights.safetensors"))
    except OSError:
        return ()


def reader(dataset: str):
    """The dataset's reading classifier (``explorer.classifier.Classifier``, shared, read-only), or
    ``None`` when there is none or it is broken: ``reader_problem`` then says why and what to do."""
    try:
        return reader_or_raise(dataset)
    except CheckpointError:
        return None


def reader_or_raise(dataset: str):
    from explorer import classifier

    folder = classifier.folder_of(checkpoint_folder(), dataset)
    stamp = _reader_stamp(folder)
    if not stamp:
        classifier.read_meta(folder)  # raises, saying what is missing
    return _reader(str(folder), stamp)


def reader_title(dataset: str) -> str:
    """'MNIST classifier': how the pages name a dataset's reading classifier."""
    from explorer.vocab import dataset_title

    return f"{dataset_title(dataset)} classifier"


def reader_problem(dataset: str) -> str | None:
    try:
        reader_or_raise(dataset)
        return None
    except CheckpointError as e:
        return str(e)


@shared(max_entries=32)  # with the coloured picture: 2.4 MB each at 30 × 30
def _grid_reading(path: str, weights_sha256: str, plane_key: tuple, n: int, extent: float, spacing: str,
                  reader_sha256: str, _reader, _tiles: np.ndarray, _pause=None):
    from explorer.classifier import Reading
    from explorer.images import cells_of, tint_by_class

    # The tiles as drawn, not decoded a second time: the classifier reads the picture the user
    # sees, and a toggle's background reading is 25-65 ms shorter (the decode of 900 codes).
    reading = Reading.of(_reader.probabilities(cells_of(_tiles, n, n), pause=_pause))  # batched there
    tinted = tint_by_class(_tiles, n, n, reading.classes, reading.confidence)
    _frozen(tinted)
    return reading, tinted


def _grid_reading_call(entry: CatalogEntry, mode: str, i: int, j: int, anchor_index: int | str | None, n: int,
                       extent: float, spacing: str) -> tuple[tuple, dict] | None:
    """``_grid_reading``'s key arguments for this grid and its reader, or None without a classifier."""
    r = reader(entry.meta.dataset.name)
    if r is None:
        return None
    return ((*key(entry), (mode, int(i), int(j), anchor_index), int(n), float(extent), spacing, r.meta.weights_sha256),
            {"_reader": r})


def grid_reading_and_tinted(entry: CatalogEntry, mode: str, i: int, j: int, anchor_index: int | str | None,
                            n: int, extent: float, spacing: str, *, tiles: np.ndarray | None = None, pause=None):
    """What the dataset's classifier reads in each tile of ``grid_tiles`` (``classifier.Reading``,
    row-major) and the tiles coloured by it (``images.tint_by_class``: RGB uint8, read-only), or
    ``None`` without a classifier; shared, so a toggle back and forth reads and colours once.
    ``tiles``: ``grid_tiles`` of the same arguments, when the caller has it (else fetched here);
    ``pause`` is called between the classifier's batches (``prefetch`` passes its wait)."""
    call = _grid_reading_call(entry, mode, i, j, anchor_index, n, extent, spacing)
    if call is None:
        return None
    if tiles is None:  # a cache hit there costs a copy of the picture, ~1 ms
        tiles = grid_tiles(entry, mode, i, j, anchor_index, n, extent, spacing)
    return _grid_reading(*call[0], **call[1], _tiles=tiles, _pause=pause)


def grid_reading(entry: CatalogEntry, mode: str, i: int, j: int, anchor_index: int | str | None, n: int,
                 extent: float, spacing: str):
    """``grid_reading_and_tinted``'s reading alone, or ``None`` without a classifier."""
    both = grid_reading_and_tinted(entry, mode, i, j, anchor_index, n, extent, spacing)
    return None if both is None else both[0]


def grid_reading_cached(entry: CatalogEntry, mode: str, i: int, j: int, anchor_index: int | str | None, n: int,
                        extent: float, spacing: str) -> bool:
    """Whether ``grid_reading_and_tinted`` of these arguments is computed (nothing is computed here)."""
    call = _grid_reading_call(entry, mode, i, j, anchor_index, n, extent, spacing)
    return call is not None and _grid_reading.has(*call[0], **call[1])  # pyright: ignore[reportFunctionMemberAccess]


def prefetch_grid_reading(entry: CatalogEntry, mode: str, i: int, j: int, anchor_index: int | str | None, n: int,
                          extent: float, spacing: str, tiles: np.ndarray) -> None:
    """Read and colour the grid just drawn grey (``tiles``, ``grid_tiles`` of these arguments) in
    the background (``prefetch``), so that turning the classifier's reading on only shows it:
    reading 900 tiles takes 60 ms on 2 cores alone and 2-3 times that while the browser draws
    beside it, a large part of the toggle's budget (issue 16: 300 ms in the browser)."""
    call = _grid_reading_call(entry, mode, i, j, anchor_index, n, extent, spacing)
    if call is None or _grid_reading.has(*call[0], **call[1]):  # pyright: ignore[reportFunctionMemberAccess]
        return
    prefetch(grid_reading_and_tinted, entry, mode, i, j, anchor_index, n, extent, spacing, tiles=tiles,
             pause=_after_runs_in_progress)


PRIOR_CENSUS = 1000  # prior samples the Generate page and the report read to see which classes a VAE draws


@shared(max_entries=128)
def _prior_reading(path: str, weights_sha256: str, which: tuple, temperature: float, seed: int, reader_sha256: str,
                   _entry: CatalogEntry, _reader):
    from explorer import inference
    from explorer.classifier import Reading
    from explorer.latent import prior_samples

    z_dim = _entry.meta.latent_dim
    z = prior_block(which[1], which[2], z_dim, temperature, seed) if which[0] == "block" else \
        prior_samples(which[1], z_dim, temperature, seed)
    return Reading.of(_reader.probabilities(inference.decode(model(_entry), z)))


def prior_reading(entry: CatalogEntry, temperature: float, seed: int, block: tuple[int, int] | None = None):
    """What the classifier reads in a VAE's prior samples (``classifier.Reading``), or None without
    a classifier: the ``block`` (n, side) that ``prior_tiles`` draws, row-major, or else
    ``PRIOR_CENSUS`` samples (``latent.prior_samples``). Shared, so a toggle back reads nothing again."""
    r = reader(entry.meta.dataset.name)
    if r is None:
        return None
    which = ("block", int(block[0]), int(block[1])) if block else ("census", PRIOR_CENSUS, 0)
    return _prior_reading(*key(entry), which, float(temperature), int(seed), r.meta.weights_sha256,
                          _entry=entry, _reader=r)


def read(dataset: str, images: np.ndarray):
    """What the dataset's classifier reads in images (n, 28, 28) or (28, 28) in [0, 1]
    (``classifier.Reading``), or ``None`` without a classifier."""
    r = reader(dataset)
    if r is None:
        return None
    from explorer.classifier import Reading

    return Reading.of(r.probabilities(images))


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


# --------------------------------------------------------------------------- Compare's maps

def small_maps_picture(maps, class_names, *, max_points: int = 1500, seed: int = 0, panel: int = 300,
                       limits=None) -> bytes:
    """One small scatter per (title, coords (n, 2), labels (n,)), side by side, coloured by
    class, the classes named in a row below: a PNG.

    Each map fills its panel, unless ``limits`` (one per map) gives it (lowest, highest) corners
    of its own: maps given the same limits are drawn on the same scale.

    At most ``max_points`` points each (the same random rows for every map of the same size).
    A picture, not a chart: the maps are static, and a browser draws thousands of SVG markers
    again on every change of model, where a PNG is decoded once (``python -m tools.browser_bench``
    prints Compare's redraw times). The dots are stamped with numpy at twice the size and the
    picture halved, which smooths their edges; each class is blended in at the charts' opacity.
    """
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=15)
    gap, title_h, row_h, margin = 8, 24, 30, 8
    width = max(1, len(maps) * panel + max(0, len(maps) - 1) * gap)
    # the legend's entries (a dot, the class's name) placed in rows as wide as the picture
    entries, x, row = [], 4.0, 0
    for c, name in enumerate(class_names):
        w = 14 + font.getlength(str(name)) + 16
        if x > 4.0 and x + w - 16 > width:
            x, row = 4.0, row + 1
        entries.append((c, str(name), x, row))
        x += w
    legend_h = row_h * (row + 1)
    height = title_h + panel + legend_h
    ss = 2  # supersampling
    canvas = np.ones((height * ss, width * ss, 3), np.float32)
    flat = canvas.reshape(-1, 3)  # a view: pixels by row-major index
    r = np.arange(-2 * ss, 2 * ss + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    disc = (dy ** 2 + dx ** 2) <= (2 * ss) ** 2
    dy, dx = dy[disc], dx[disc]  # the offsets of one dot's pixels
    colors = np.asarray([hex_to_rgb(c) for c in CLASS_COLORS], np.float32) / 255.0
    for k, (_, coords, labels) in enumerate(maps):
        n = len(coords)
        rows = np.sort(np.random.default_rng(seed).permutation(n)[:max_points]) if n > max_points else np.arange(n)
        xy = np.asarray(coords, dtype=np.float64)[rows]
        lab = np.asarray(labels)[rows]
        finite = np.isfinite(xy).all(1)
        xy, lab = xy[finite], lab[finite]
        if not len(xy):
            continue
        lo, hi = xy.min(0), xy.max(0)
        if limits is not None and limits[k] is not None:
            lo, hi = np.asarray(limits[k][0], np.float64), np.asarray(limits[k][1], np.float64)
            inside = ((xy >= lo) & (xy <= hi)).all(1)
            xy, lab = xy[inside], lab[inside]
        scale = (panel - 2 * margin) / np.where(hi > lo, hi - lo, 1.0)
        px = np.rint((k * (panel + gap) + margin + (xy[:, 0] - lo[0]) * scale[0]) * ss).astype(np.int64)
        py = np.rint((title_h + panel - margin - (xy[:, 1] - lo[1]) * scale[1]) * ss).astype(np.int64)  # y up
        for c in range(len(class_names)):  # class by class, as the charts' traces are drawn
            m = lab == c
            if not m.any():
                continue
            hit = np.unique(((py[m, None] + dy) * canvas.shape[1] + (px[m, None] + dx)).ravel())
            flat[hit] = 0.3 * flat[hit] + 0.7 * colors[c % len(colors)]  # opacity 0.7
    img = Image.fromarray(to_uint8(canvas)).resize((width, height), Image.Resampling.BOX)
    draw = ImageDraw.Draw(img)
    for k, (title, _, _) in enumerate(maps):
        left = k * (panel + gap)
        draw.text((left + panel / 2, title_h / 2), str(title), fill="black", font=font, anchor="mm")
        draw.rectangle((left, title_h, left + panel - 1, title_h + panel - 1), outline=(220, 220, 220))
    for c, name, x, row in entries:
        y = title_h + panel + row_h * row + row_h / 2
        draw.ellipse((x, y - 5, x + 10, y + 5), fill=tuple(int(v * 255) for v in colors[c % len(colors)]))
        draw.text((x + 14, y), name, fill="black", font=font, anchor="lm")
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


@shared(max_entries=64)
def _small_maps(keys: tuple, view: str, class_names: tuple[str, ...], _entries: tuple) -> bytes:
    maps = []
    for e in _entries:
        c = codes(e)
        maps.append((f"latent {e.meta.latent_dim}", c[f"map_{view}"], c["labels"]))
    return small_maps_picture(maps, class_names)


def small_maps(entries, view: str, class_names) -> bytes:
    """``small_maps_picture`` of the stored ``map_<view>`` of each entry, titled by latent size;
    built once per set of checkpoints and shared."""
    entries = tuple(entries)
    return _small_maps(tuple(key(e) for e in entries), view, tuple(class_names), _entries=entries)


@shared(max_entries=64)
def _dimension_usage(path: str, weights_sha256: str, _entry: CatalogEntry):
    from explorer import traversal

    c = codes(_entry)
    return traversal.model_usage(model(_entry), _entry.meta.kind, c["codes"], test_images(_entry, c["indices"]))


def dimension_usage(entry: CatalogEntry):
    """``explorer.traversal.usage`` of the model over its stored test images (a VAE's posterior
    computed once, about 50 ms for 5,000 images); shared by every session."""
    return _dimension_usage(*key(entry), _entry=entry)


@shared(max_entries=256)
def _walk_tiles(path: str, weights_sha256: str, base: tuple[float, ...], steps: int, _entry: CatalogEntry) -> np.ndarray:
    from explorer import inference, traversal

    c = codes(_entry)
    walk = traversal.walk_codes(np.asarray(base, np.float32), dimension_usage(_entry).order,
                                traversal.walk_values(_entry.meta.kind, c["codes"], steps))
    rows = walk.shape[0]
    tiles = inference.decode(model(_entry), walk.reshape(rows * steps, -1))
    out = mosaic(tiles, steps, pad=1, pad_value=0.25)
    out.setflags(write=False)
    return out


def walk_tiles(entry: CatalogEntry, base: np.ndarray, steps: int) -> np.ndarray:
    """The traversal picture (``mosaic``, one row per dimension in ``dimension_usage`` order,
    ``steps`` values each) through ``base``; read-only, shared."""
    return _walk_tiles(*key(entry), tuple(round(float(v), 4) for v in base), int(steps), _entry=entry)


def model_label(entry: CatalogEntry) -> str:
    """A model as Compare models names it, in its list and in its address: kind, architecture and
    latent size ("VAE MLP latent 2"); the dataset is the sidebar's."""
    m = entry.meta
    return f"{KIND_LABELS.get(m.kind, m.kind)} {m.architecture.upper()} latent {m.latent_dim}"


def shared_span(maps: list[np.ndarray]) -> tuple[float, float] | None:
    """One square (lowest, highest) that holds every point of the 2-D ``maps`` (the 0.5th to 99.5th
    percentile on each axis, so that a few far codes do not shrink the rest), or None for none."""
    if not maps:
        return None
    every = np.concatenate([np.asarray(m, np.float64) for m in maps])
    every = every[np.isfinite(every).all(1)]
    if not len(every):
        return None
    lo, hi = np.percentile(every, [0.5, 99.5], axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * 1.05
    return float(centre.min() - half), float(centre.max() + half)


@shared(max_entries=64)
def _compare_maps(keys: tuple, view: str, class_names: tuple[str, ...], _entries: tuple):
    maps, two_d = [], []
    for e in _entries:
        c = codes(e)
        raw = e.meta.latent_dim == 2
        maps.append((model_label(e), c["map_raw"] if raw else c[f"map_{view}"], c["labels"]))
        if raw:
            two_d.append(c["map_raw"])
    span = shared_span(two_d)
    limits = [((span[0], span[0]), (span[1], span[1])) if span is not None and e.meta.latent_dim == 2 else None
              for e in _entries]
    return small_maps_picture(maps, class_names, limits=limits), span


def compare_maps(entries, view: str, class_names) -> tuple[bytes, tuple[float, float] | None]:
    """Compare models' maps (``small_maps_picture``): a 2-D model's codes themselves, every 2-D
    model on one square scale (``shared_span``, returned too), a larger one's stored ``map_<view>``
    filling its panel; titled by ``model_label``. Built once per choice and shared."""
    entries = tuple(entries)
    return _compare_maps(tuple(key(e) for e in entries), view, tuple(class_names), _entries=entries)


# --------------------------------------------------------------------------- anomaly scores

@dataclass(frozen=True)
class ScoreSet:
    """One set of images as a model scores them: the score (nats) and the PNG length (bits) of
    each, read-only."""

    raw: np.ndarray
    bits: np.ndarray


@dataclass(frozen=True)
class AnomalyScores:
    """What the Anomalies page compares for one model: the training images it is calibrated on,
    its own test images, and the other dataset's test images (None, with ``other_problem``
    saying why, when that dataset is not on this machine)."""

    reference: anomaly.Reference
    test: ScoreSet
    other: ScoreSet | None
    other_name: str
    other_problem: str | None = None


def _pause():
    """In the warm-up's thread, the wait for the runs in progress between two batches of
    scoring (a model's scores take seconds); elsewhere nothing."""
    return _warm_up_step if threading.current_thread() is _warm_up_thread else None


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


def _kept(name: str, length: int, compute) -> np.ndarray:
    """``compute()``'s array, stored between server starts (``anomaly.load_stored``: a file that
    is missing, stale or damaged is computed again and replaced), read-only."""
    from explorer import anomaly

    values = anomaly.load_stored(name, length)
    if values is None:
        values = np.asarray(compute(), dtype=np.float64)
        anomaly.save_stored(name, values)
    _frozen(values)
    return values


def _bits_of(dataset: str, which: str, images: np.ndarray) -> np.ndarray:
    from explorer import anomaly

    return _kept(f"bits-{dataset}-{which}-{anomaly.images_tag(images)}", len(images),
                 lambda: anomaly.complexity_bits(images, pause=_pause()))


@shared(max_entries=2)
def _reference_images(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The fixed 10,000 training images the rules are calibrated on, and their PNG lengths (only
    these are kept: the whole training split is 47 MB)."""
    from explorer import anomaly

    images = np.ascontiguousarray(anomaly.reference_images(load_dataset(name, "train").images.numpy()))
    _frozen(images)
    return images, _bits_of(name, "reference", images)


@shared(max_entries=4)
def _test_bits(name: str, expected: int) -> np.ndarray:
    return _bits_of(name, "test", _test_split(name, expected)[0])


@shared(max_entries=2)  # 7.8 MB each, and only needed until their scores are stored
def _corrupted_images(name: str, expected: int, noise: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    from explorer import anomaly

    images = anomaly.corrupt_all(_test_split(name, expected)[0], noise, level)
    _frozen(images)
    return images, _bits_of(name, f"{noise}-{level:g}", images)


def _test_count(name: str) -> int:
    """The test split's size the checkpoints of ``name`` were made with (0, unchecked, when none
    is listed): another model's other dataset then shares its models' cached split."""
    return next((e.meta.dataset.test_count for e in catalog().good if e.meta.dataset.name == name), 0)


def _scored(entry: CatalogEntry, which: str, images: np.ndarray, bits: np.ndarray) -> ScoreSet:
    """The entry's scores of a set of images (``which`` names it in the store: the same weights
    and the same set give the same scores)."""
    from explorer import anomaly

    raw = _kept(f"{entry.meta.weights_sha256}-{which}-{anomaly.images_tag(images)}", len(images),
                lambda: anomaly.scores(model(entry), images, pause=_pause()))
    return ScoreSet(raw, bits)


@shared(max_entries=64)
def _anomaly_scores(path: str, weights_sha256: str, _entry: CatalogEntry) -> AnomalyScores:
    from explorer import anomaly

    d = _entry.meta.dataset
    test_images_u8, _ = test_split(_entry)  # first: a split of another size is refused before any work
    ref_images, ref_bits = _reference_images(d.name)
    ref = _scored(_entry, "reference", ref_images, ref_bits)
    test = _scored(_entry, "test", test_images_u8, _test_bits(d.name, d.test_count))
    other_name = anomaly.other_dataset(d.name)
    try:
        other_images, _ = _test_split(other_name, _test_count(other_name))
        other = _scored(_entry, f"{other_name}-test", other_images, _test_bits(other_name, _test_count(other_name)))
        problem = None
    except DataError as e:
        other, problem = None, str(e)
    return AnomalyScores(anomaly.Reference(ref.raw, ref.bits), test, other, other_name, problem)


def anomaly_scores(entry: CatalogEntry) -> AnomalyScores:
    """The model's scores of its 10,000 reference training images, its test images and the
    other dataset's test images: computed once per machine (seconds per model: ``python -m
    tools.anomaly_bench``), then read from the store, and shared; the warm-up computes every
    model's. Raises ``CheckpointError`` like ``model`` and ``DataError`` when the model's own data
    is missing."""
    return _anomaly_scores(*key(entry), _entry=entry)


@shared(max_entries=256)
def _corrupted_scores(path: str, weights_sha256: str, noise: str, level: float, _entry: CatalogEntry) -> ScoreSet:
    d = _entry.meta.dataset
    images, bits = _corrupted_images(d.name, d.test_count, noise, level)
    return _scored(_entry, f"{noise}-{level:g}", images, bits)


def corrupted_scores(entry: CatalogEntry, noise: str, level: float) -> ScoreSet:
    """The model's scores of its own test images corrupted by ``noise`` at ``level`` (the
    Denoising playground's kinds; ``anomaly.corrupt_all``, seeded)."""
    return _corrupted_scores(*key(entry), noise, float(level), _entry=entry)


@dataclass(frozen=True)
class RuleBase:
    """One rule applied to one model's scores, what no corruption changes: the statistic of the
    reference and test images (read-only, float32: what is drawn and counted), the other
    dataset's (None when it is missing) with its AUC and ROC curve against the test images, and
    the test images' order from least to most anomalous."""

    reference: np.ndarray
    test: np.ndarray
    other: np.ndarray | None
    other_auc: float | None
    other_roc: tuple[np.ndarray, np.ndarray] | None
    order: np.ndarray


@dataclass(frozen=True)
class RuleView:
    """``RuleBase`` and one corruption: each anomalous set's statistic, AUC and ROC curve, keyed
    "other" and "corrupted". What a change of the threshold reuses."""

    base: RuleBase
    anomalous: dict[str, np.ndarray]
    auc: dict[str, float]
    roc: dict[str, tuple[np.ndarray, np.ndarray]]

    @property
    def reference(self) -> np.ndarray:
        return self.base.reference

    @property
    def test(self) -> np.ndarray:
        return self.base.test


def _float32(a: np.ndarray) -> np.ndarray:
    # a view per model, rule and noise adds up over a class's browsing: kept in float32 (the AUCs
    # are of the float64 values)
    out = a.astype(np.float32)
    _frozen(out)
    return out


@shared(max_entries=64)
def _rule_base(path: str, weights_sha256: str, rule_name: str, _entry: CatalogEntry) -> RuleBase:
    from explorer import anomaly

    rule = anomaly.RULES[rule_name]
    sc = anomaly_scores(_entry)
    ref = sc.reference
    test = rule.statistic(sc.test.raw, sc.test.bits, ref)
    other = None if sc.other is None else rule.statistic(sc.other.raw, sc.other.bits, ref)
    order = np.argsort(test, kind="stable").astype(np.int32)
    _frozen(order)
    return RuleBase(_float32(rule.statistic(ref.raw, ref.bits, ref)), _float32(test),
                    None if other is None else _float32(other),
                    None if other is None else anomaly.auc(test, other),
                    None if other is None else anomaly.roc(test, other), order)


def rule_base(entry: CatalogEntry, rule_name: str) -> RuleBase:
    """``RuleBase`` of a rule of ``anomaly.RULES`` on the entry's scores, cached."""
    return _rule_base(*key(entry), rule_name, _entry=entry)


@shared(max_entries=96)
def _rule_view(path: str, weights_sha256: str, rule_name: str, noise: str, level: float,
               _entry: CatalogEntry) -> RuleView:
    from explorer import anomaly

    rule = anomaly.RULES[rule_name]
    base = rule_base(_entry, rule_name)
    sc = anomaly_scores(_entry)
    corrupted = corrupted_scores(_entry, noise, level)
    test = rule.statistic(sc.test.raw, sc.test.bits, sc.reference)  # float64, for the AUC
    stat = rule.statistic(corrupted.raw, corrupted.bits, sc.reference)
    anomalous: dict[str, np.ndarray] = {}
    auc: dict[str, float] = {}
    roc: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if base.other is not None and base.other_auc is not None and base.other_roc is not None:
        anomalous["other"], auc["other"], roc["other"] = base.other, base.other_auc, base.other_roc
    anomalous["corrupted"], auc["corrupted"], roc["corrupted"] = \
        _float32(stat), anomaly.auc(test, stat), anomaly.roc(test, stat)
    return RuleView(base, anomalous, auc, roc)


def rule_view(entry: CatalogEntry, rule_name: str, noise: str, level: float) -> RuleView:
    """``RuleView`` of a rule of ``anomaly.RULES`` on the entry's scores and one corruption,
    cached (a change of the threshold then costs no statistic, AUC or ROC curve)."""
    return _rule_view(*key(entry), rule_name, noise, float(level), _entry=entry)


@shared(max_entries=128)
def _anomaly_gallery(path: str, weights_sha256: str, rule_name: str, most: bool, count: int, heat_max: float,
                     scale: int, _entry: CatalogEntry) -> tuple[np.ndarray, bytes]:
    from PIL import Image

    from explorer import anomaly

    order = rule_base(_entry, rule_name).order
    indices = (order[::-1] if most else order)[:count].copy()
    images, _ = test_split(_entry)
    recon, err = anomaly.pixel_errors(model(_entry), images[indices])
    picture = Image.fromarray(error_columns(images[indices], recon, err, heat_max))
    out = io.BytesIO()
    picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST).save(out, format="PNG")
    indices.setflags(write=False)
    return indices, out.getvalue()


def anomaly_gallery(entry: CatalogEntry, rule_name: str, most: bool, count: int, heat_max: float,
                    scale: int) -> tuple[np.ndarray, bytes]:
    """The ``count`` test images a rule finds most (or least) unusual under the entry's model,
    most unusual first (or least), and their gallery as a PNG ``scale`` times enlarged
    (``images.error_columns``): cached, so a change of model or rule back to one seen before
    encodes nothing (a gallery is about 30 ms of model, heat maps and PNG on this machine)."""
    return _anomaly_gallery(*key(entry), rule_name, most, count, float(heat_max), scale, _entry=entry)


@shared(max_entries=32)
def _iwae(path: str, weights_sha256: str, which: str, k: int, n: int, _entry: CatalogEntry, _progress=None) -> np.ndarray:
    from explorer import anomaly

    if which == "test":
        images = test_split(_entry)[0][:n]
    else:
        other = anomaly.other_dataset(_entry.meta.dataset.name)
        images = _test_split(other, _test_count(other))[0][:n]
    out = anomaly.iwae_nll(model(_entry), images, k, progress=_progress)
    _frozen(out)
    return out


def iwae(entry: CatalogEntry, which: str, k: int, n: int, progress=None) -> np.ndarray:
    """The importance-weighted -log p(x) (``anomaly.iwae_nll``) of the first ``n`` test images of
    the model's own dataset (``which`` "test") or of the other one ("other"); cached, since it
    takes seconds. ``progress`` gets the share done (only when it is computed)."""
    return _iwae(*key(entry), which, int(k), int(n), _entry=entry, _progress=progress)


def iwae_cached(entry: CatalogEntry, which: str, k: int, n: int) -> bool:
    return _iwae.has(*key(entry), which, int(k), int(n), _entry=entry)  # pyright: ignore[reportFunctionMemberAccess]


# --------------------------------------------------------------------------- warm-up

_warm_up_lock = threading.Lock()
_warm_up_thread: threading.Thread | None = None


WARM_UP_YIELD_S = 2.0  # the longest a warm-up step waits for the runs in progress to end
# A run's end is not its click's end: the browser then draws what it sent, 0.1-0.3 s of its main
# thread on these 2 cores, and a warm-up step started meanwhile slows it: the grid's reading toggle,
# timed during the warm-up, took 316 ms median without this wait and 212 ms with it (``python -m
# tools.browser_bench --only reading``, whose first view overlaps the warm-up's 30 s).
WARM_UP_AFTER_RUN_S = 0.4
# The first step, torch's import (about a second of both cores' time, much of it holding the
# GIL), waits longer: the browser is still evaluating the chart code and drawing the first page
# then, and the server still sends the code of its widgets. The latent map drawn after a fresh
# server's launch, in three alternated rounds of three starts (``python -m tools.browser_bench
# --only start --starts 3``, this machine's speed drifting between rounds): 4.6, 5.2, 4.6 s with
# the import at once, 5.0, 3.9, 3.8 s with it a second later. Longer waits made a click at once
# pay for the import itself (1.4 s at 3 s) and left Compare's first visit unprepared (2.3-2.8 s).
WARM_UP_START_QUIET_S = 1.0
# Not at a lower priority as well (os.setpriority on its thread, tried): a page that waits for a
# value the warm-up is computing then waited longer, Compare's first visit right after the start
# 3.1-3.8 s instead of 2.0-2.7 s (a one-off probe of fresh servers, ``fresh_server_run``).


def _after_runs_in_progress(after_s: float = 0.0, at_most_s: float | None = None) -> None:
    """Wait (``at_most_s`` at most, ``WARM_UP_YIELD_S`` unless given: a busy server is warmed up
    all the same) until no page or fragment is running, and none has for ``after_s`` seconds: a
    click, even one during the warm-up, gets the interpreter to itself."""
    deadline = time.monotonic() + (WARM_UP_YIELD_S if at_most_s is None else at_most_s)
    # a run waiting for a value (most likely the one the warm-up is computing) is best served by
    # the warm-up going on: yielding to it would only make it wait longer
    while (runs_in_progress() or quiet_for() < after_s) and not _waiters and time.monotonic() < deadline:
        time.sleep(0.005)


def _warm_up_step() -> None:
    """The wait before each step of the warm-up: the runs in progress and the browser's drawing after them."""
    _after_runs_in_progress(WARM_UP_AFTER_RUN_S)


def warm_up(cat: Catalog | None = None, first: CatalogEntry | None = None) -> None:
    """Load now what the pages after the first one need, so that no click pays for it: torch
    and the inference code, every good checkpoint's model (run once, so its weights are paged
    in), its codes, each dataset's test split, the latent map's figure as the page opens, and
    Compare's opening view (the reconstructions of one test image of each class by every latent
    size, and the maps picture of each view), and last the Anomalies page's scores of every
    model (seconds each; ``anomaly_scores``). What the pages would ask for differently is only
    a cache miss there.
    ``first`` (the model the first page shows) goes first. Each step waits for the pages and
    fragments running at the time (``_after_runs_in_progress``). A checkpoint or a data set
    that cannot be loaded is skipped: its page shows the problem when it is opened."""
    import importlib

    _after_runs_in_progress(WARM_UP_START_QUIET_S, WARM_UP_START_QUIET_S + WARM_UP_YIELD_S)
    importlib.import_module("explorer.inference")  # torch: the import that costs most
    cat = cat or catalog()
    entries = cat.good
    if first is not None and first in entries:
        entries = [first] + [e for e in entries if e is not first]
    # Group by group, the first page's group first: Compare's opening view of it (reconstructions,
    # maps, its dataset's PCA) is ready seconds after the start, not after all 38 models have loaded.
    wanted: dict[tuple, list[CatalogEntry]] = {}
    for e in entries:
        wanted.setdefault((e.meta.dataset.name, e.meta.kind, e.meta.architecture), []).append(e)
    groups: dict[tuple, list[CatalogEntry]] = {}
    datasets_done: set[str] = set()
    for name, group in wanted.items():
        for e in group:
            _warm_up_step()
            try:
                images, labels = test_split(e)
                checkpoint(e)
                codes(e)
            except (CheckpointError, DataError, OSError) as err:
                log.info("warm-up: %s skipped (%s)", e.id, err)
                continue
            groups.setdefault(name, []).append(e)
            chosen = picks.one_of_each_class(labels, len(e.meta.dataset.class_names), 0)  # Compare's default
            reconstructions(*key(e), tuple(chosen), _entry=e)
            if e.meta.dataset.name not in datasets_done:  # Compare's PCA rows and curve (about a second)
                datasets_done.add(e.meta.dataset.name)
                _warm_up_step()
                pca_curve(e)
        done = sorted(groups.get(name, []), key=lambda e: e.meta.latent_dim)
        for view in ("tsne", "pca"):
            if done and all(f"map_{view}" in codes(e) for e in done):
                _warm_up_step()
                small_maps(done, view, done[0].meta.dataset.class_names)
    freeze_imported_objects()  # torch's objects out of the collector's sight (see there)
    for group in groups.values():  # last: the slowest part, and each saves a page only a little
        for e in sorted(group, key=lambda e: e.meta.latent_dim):
            views = map_views(codes(e))  # the latent map as it opens: its first view, nothing clicked
            if views:
                _warm_up_step()
                map_figure(e, views[0], None, e.meta.dataset.class_names)
    release_free_memory()
    _warm_up_anomalies([e for group in groups.values() for e in group])
    freeze_imported_objects()
    release_free_memory()  # the scoring's transient arrays (a training split, corrupted copies)


def _warm_up_anomalies(entries: list[CatalogEntry]) -> None:
    """The Anomalies page as it opens, for every model: its scores (seconds each, the first time
    on a machine; then read from the store, ``anomaly.load_stored``) and the default rule on
    each kind of corruption at its starting strength. A dataset that is missing is skipped
    (the page says so)."""
    from explorer import anomaly

    for noise in anomaly.NOISE_LEVELS:  # the page's opening view of every model first, then its other noises
        for e in entries:
            _warm_up_step()
            try:
                rule_view(e, anomaly.DEFAULT_RULE, noise, anomaly.NOISE_LEVELS[noise])
                if noise == next(iter(anomaly.NOISE_LEVELS)):  # and its galleries, as the page opens
                    for most in (True, False):
                        anomaly_gallery(e, anomaly.DEFAULT_RULE, most, anomaly.GALLERY, anomaly.HEAT_MAX,
                                        anomaly.GALLERY_SCALE)
            except (CheckpointError, DataError, OSError, ValueError) as err:
                log.info("warm-up: anomaly scores of %s skipped (%s)", e.id, err)


# --------------------------------------------------------------------------- prefetch

_prefetch_ready = threading.Condition()
_prefetch_next: tuple | None = None  # the one request waiting: a newer one replaces it
_prefetch_thread: threading.Thread | None = None
PREFETCH_ASKED_MAX = 16
prefetch_asked: list[tuple] = []  # under AppTest, the requests (fn, args, kwargs), kept, not run: tests run them


def prefetch(fn, *args, **kwargs) -> None:
    """Compute ``fn(*args, **kwargs)`` (a loader whose value a ``shared`` cache keeps) in the
    background, for the view a user is likely to ask for next. One worker thread per server; the
    latest request replaces one that has not started (a user stepping a slider wants the last
    view, not every one between), and each starts after the runs in progress
    (``_after_runs_in_progress``). A page that asks for the value meanwhile waits for this
    computation instead of repeating it (``shared``). A failure is logged and forgotten: the page
    computes the value, and shows the problem, when it is asked for. Under ``AppTest`` nothing
    runs (a test process runs many apps): the request is kept in ``prefetch_asked``."""
    global _prefetch_next, _prefetch_thread
    from streamlit import config  # AppTest patches config.get_option, not st.get_option

    if config.get_option("global.appTest"):
        prefetch_asked.append((fn, args, kwargs))
        del prefetch_asked[:-PREFETCH_ASKED_MAX]
        return
    with _prefetch_ready:
        _prefetch_next = (fn, args, kwargs)
        if _prefetch_thread is None:
            _prefetch_thread = threading.Thread(target=_prefetch_forever, name="latent-explorer-prefetch", daemon=True)
            _prefetch_thread.start()
        _prefetch_ready.notify()


def _prefetch_forever() -> None:
    global _prefetch_next
    while True:
        with _prefetch_ready:
            while _prefetch_next is None:
                _prefetch_ready.wait()
            fn, args, kwargs = _prefetch_next
            _prefetch_next = None
        _after_runs_in_progress()  # at once: what it computes is what the next click most likely asks for
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a guess that failed costs nothing: the page computes it and says why
            log.info("prefetch of %s failed; the page computes it when asked", getattr(fn, "__name__", fn),
                     exc_info=True)


def _warm_up_quietly(first: CatalogEntry | None) -> None:
    try:
        warm_up(first=first)
    except Exception:  # noqa: BLE001 - a warm-up must never take the server down; pages load on demand
        log.exception("warm-up failed; pages load what they need when they are opened")


def start_warm_up(first: CatalogEntry | None = None) -> threading.Thread | None:
    """Run ``warm_up`` once per server process, in a background thread; returns the thread when
    this call started it. Called by the frame (frame.py) after a page has rendered, so the first
    page never waits for it. Not under ``AppTest`` (a test process runs many apps, and the test of the
    first page checks that it opens without torch): tests call ``warm_up`` themselves."""
    global _warm_up_thread
    from streamlit import config  # AppTest patches config.get_option, not st.get_option

    if config.get_option("global.appTest"):
        return None
    with _warm_up_lock:
        if _warm_up_thread is not None:
            return None
        _warm_up_thread = threading.Thread(target=_warm_up_quietly, args=(first,), name="latent-explorer-warm-up",
                                           daemon=True)
        _warm_up_thread.start()
        return _warm_up_thread

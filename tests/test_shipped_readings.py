"""Issue 16's five parts on every shipped checkpoint: what each page computes (through the same
loaders the pages call), checked on all 38 networks, conv, linear and deep ones included. The
pages themselves are covered under ``AppTest`` on the tests' small checkpoints (test_classifier,
test_arithmetic, test_traversal, test_app) and, below, on each of the 8 shipped networks that are
not the sweep's MLP."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer import arithmetic, exports, features
from explorer.checkpoints import usable_checkpoints
from explorer.data import DataError
from explorer.latent import prior_samples
from explorer.vocab import sidebar_choice

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"
ENTRIES = {e.id: e for e in usable_checkpoints(SHIPPED)}


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def shipped_loaders():
    """``explorer.ui.loaders`` serving the shipped folder (its caches are per folder)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_CHECKPOINTS", str(SHIPPED))
        from explorer.ui import loaders

        yield loaders


def test_every_checkpoint_is_listed():
    assert len(ENTRIES) == 38
    assert {e.meta.architecture for e in ENTRIES.values()} > {"mlp", "conv", "linear"}


@pytest.mark.parametrize("checkpoint_id", sorted(ENTRIES))
def test_the_five_parts_on_the_shipped_checkpoint(shipped_loaders, checkpoint_id):
    loaders = shipped_loaders
    entry = next(e for e in loaders.catalog().good if e.id == checkpoint_id)
    meta, z_dim = entry.meta, entry.meta.latent_dim
    try:
        loaders.test_split(entry)
    except DataError as e:
        pytest.skip(f"{meta.dataset.name} test split not on this machine: {e}")
    n_classes = len(meta.dataset.class_names)
    stored = loaders.codes(entry)
    codes, labels = stored["codes"], stored["labels"]
    model = loaders.model(entry)
    from explorer import inference

    # 1. the reading: the grid as the page opens it, read tile by tile, and 1,000 prior samples
    mode = "dims" if z_dim == 2 else "pca"
    anchor = None if z_dim == 2 else "mean"
    extent = loaders.grid_extent(entry, mode, 0, 1, anchor)
    assert np.isfinite(extent) and extent > 0
    tiles = loaders.grid_tiles(entry, mode, 0, 1, anchor, 10, extent, "even")
    reading, tinted = loaders.grid_reading_and_tinted(entry, mode, 0, 1, anchor, 10, extent, "even", tiles=tiles)
    assert reading.classes.shape == (100,) and ((0 <= reading.classes) & (reading.classes < n_classes)).all()
    assert ((0 < reading.confidence) & (reading.confidence <= 1)).all()
    assert tinted.shape == (*tiles.shape, 3) and not np.array_equal(tinted[..., 0], tinted[..., 1]), "coloured"
    census = loaders.read(meta.dataset.name, inference.decode(model, prior_samples(1000, z_dim, 1.0, 0)))
    assert census.classes.shape == (1000,)

    # 2. latent arithmetic: class means, the first stored code moved along the 4s-to-9s vector (the
    # 5th class's mean to the 10th's), an analogy
    means = arithmetic.class_means(codes, labels, n_classes)
    assert means.shape == (n_classes, z_dim) and np.isfinite(means).all()
    moved = arithmetic.along(codes[0], means[9] - means[4], np.linspace(0, 1, 5))
    analogy = arithmetic.analogy(codes[0], codes[1], codes[2])
    decoded = inference.decode(model, np.concatenate([moved, analogy[None]]).astype(np.float32))
    assert decoded.shape == (6, 28, 28) and np.isfinite(decoded).all()
    assert not np.allclose(decoded[0], decoded[4]), "moving along the attribute vector changes the image"
    assert loaders.read(meta.dataset.name, decoded).classes.shape == (6,)

    # 3. the walk: one row per dimension, ordered by use, the unused marked
    usage = loaders.dimension_usage(entry)
    assert sorted(usage.order.tolist()) == list(range(z_dim))
    assert usage.unused.shape == (z_dim,) and np.isfinite(usage.values).all()
    assert (np.diff(usage.values[usage.order]) <= 1e-9).all(), "rows from the most used dimension down"
    if usage.measure == "KL":
        assert (usage.values >= -1e-6).all(), "a KL is never negative"
    walk = loaders.walk_tiles(entry, codes[0], 9)
    assert walk.shape == (z_dim * 30, 9 * 30) and np.isfinite(walk).all()  # 28 px tiles, 1 px of padding each side

    # 4. PCA beside the model, and the codes as features (kept beside the checkpoints)
    pca = loaders.pca_reconstructions(entry, z_dim, [0, 1, 2])
    assert pca.shape == (3, 28, 28) and np.isfinite(pca).all()
    accuracy = features.read(SHIPPED)[entry.id]
    assert accuracy[0] == meta.weights_sha256 and 1 / n_classes < accuracy[1] <= 1

    # 5. export: the walk as a PNG at a whole multiple of its size
    img = Image.open(io.BytesIO(exports.png(walk)))
    k = exports.export_scale(*walk.shape)
    assert img.format == "PNG" and img.size == (9 * 30 * k, z_dim * 30 * k)


# One of each shipped network other than the sweep's MLP, each page with its part turned on
OTHERS = sorted(e.id for e in ENTRIES.values() if e.meta.architecture != "mlp")


@pytest.mark.parametrize("checkpoint_id", OTHERS)
def test_the_pages_on_each_seed_network(open_app, checkpoint_id):
    m = ENTRIES[checkpoint_id].meta
    query = sidebar_choice(m.dataset.name, m.kind, m.architecture, m.latent_dim)
    at = ok(open_app("latent_grid", query={**query, "grid_read": "true"}, folder=SHIPPED))
    assert any("The classifier reads it as " in x.value for x in at.markdown), "the clicked point read"
    assert any("read with 90 % confidence or more" in h.proto.body for h in at.get("html")), "the tiles' legend"
    at = ok(open_app("interpolate", query=query, folder=SHIPPED))
    assert "Walk each dimension" in [x.value for x in at.subheader]
    assert at.session_state["_walk_px"][1] % (m.latent_dim * 30) == 0, "one row of 30 px tiles per dimension"
    at = ok(open_app("arithmetic", query=query, folder=SHIPPED))
    assert [b.proto.label for b in at.get("download_button")] == ["Strip (PNG)", "Image (PNG)", "Image (PNG)"]
    at = ok(open_app("compare", query={**query, "cmp_pca": "true"}, folder=SHIPPED))
    assert any(x.value.startswith(f"PCA, {m.latent_dim} components") for x in at.markdown)

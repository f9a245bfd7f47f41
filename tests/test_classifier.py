"""The reading classifier: its readings, storage that refuses what was changed, train.py --classifiers,
and what the grid draws with it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from explorer import classifier, list_checkpoints
from explorer.checkpoints import CheckpointError
from explorer.images import CLASS_COLORS, hex_to_rgb, mosaic, tint_by_class, to_uint8
from explorer.latent import grid_coords
from tests.helpers import make_idx_folder
from tests.test_train_cli import train as run_train_py


def test_reading_of_probabilities():
    probs = np.array([[0.93, 0.07] + [0.0] * 8, [0.1] * 10, [0.0] * 9 + [1.0]])
    r = classifier.Reading.of(probs)
    assert list(r.classes) == [0, 0, 9]
    assert r.confidence == pytest.approx([0.93, 0.1, 1.0])
    assert r.entropy == pytest.approx([-(0.93 * np.log2(0.93) + 0.07 * np.log2(0.07)), np.log2(10), 0.0], abs=1e-6)
    assert r.words(0, [str(k) for k in range(10)]) == "reads it as 0 (93 %)"
    assert r.words(2, ["zero"] * 9 + ["Ankle boot"]) == "reads it as Ankle boot (100 %)"


def test_class_histogram_and_distance_from_uniform():
    shares = classifier.class_histogram(np.array([1, 1, 3, 9]), 10)
    assert shares.sum() == pytest.approx(1.0) and shares[1] == 0.5 and shares[3] == 0.25 and shares[0] == 0
    assert classifier.distance_from_uniform(np.full(10, 0.1)) == pytest.approx(0.0)
    assert classifier.distance_from_uniform(np.eye(10)[4]) == pytest.approx(0.9)
    assert classifier.distance_from_uniform(shares) == pytest.approx(0.5 * (0.4 + 0.15 + 0.15 + 7 * 0.1))
    assert classifier.class_histogram(np.array([], np.int64), 10).sum() == 0


def test_tint_colours_a_sure_tile_by_its_class_and_leaves_an_unsure_one_grey():
    tiles = to_uint8(mosaic(np.ones((4, 28, 28), np.float32), 2))        # four white tiles, 2 × 2
    out = tint_by_class(tiles, 2, 2, np.array([3, 3, 2, 2]), np.array([0.95, 0.15, 0.55, 1.0]))
    assert out.shape == (56, 56, 3) and out.dtype == np.uint8
    assert tuple(out[5, 5]) == pytest.approx(hex_to_rgb(CLASS_COLORS[3]), abs=1)   # sure: the class's colour
    assert len(set(out[5, 40])) == 1 and out[5, 40, 0] < 60                        # unsure: a dim grey
    half, full = out[40, 5].astype(int), out[40, 40].astype(int)                   # 55 % and 100 % of class 2
    assert tuple(full) == pytest.approx(hex_to_rgb(CLASS_COLORS[2]), abs=1)
    assert half.max() - half.min() > 20 and half.sum() < full.sum()              # coloured, but less
    black = tint_by_class(np.zeros((28, 28), np.uint8), 1, 1, np.array([2]), np.array([1.0]))
    assert 0 < black.max() < 60  # the background: a dark shade of the class's colour, not black


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A tiny classifier trained on blobs whose row encodes the label, written to a folder."""
    from explorer.data import load_dataset

    data = make_idx_folder(tmp_path_factory.mktemp("blobs") / "idx", n_train=400, n_test=100)
    train_set, test_set = load_dataset("mnist", "train", data_dir=data), load_dataset("mnist", "test", data_dir=data)
    net, meta = classifier.train(train_set, test_set, classifier.Recipe(epochs=3, width=4, batch_size=50),
                                 log=lambda m: None)
    folder = classifier.folder_of(tmp_path_factory.mktemp("ck"), "mnist")
    saved = classifier.save(folder, net, meta)
    return folder, saved, test_set


def test_saved_classifier_loads_and_reads_as_it_was_measured(stored):
    folder, saved, test_set = stored
    loaded = classifier.load(folder)
    assert loaded.meta == saved and loaded.class_names == tuple(str(k) for k in range(10))
    images = test_set.images.numpy().astype(np.float32) / 255.0
    probs = loaded.probabilities(images)
    assert probs.shape == (100, 10) and probs.sum(axis=1) == pytest.approx(np.ones(100), abs=1e-5)
    right = float((probs.argmax(1) == test_set.labels.numpy()).mean())
    assert right == pytest.approx(saved.test_accuracy)  # the metadata's accuracy is the stored weights'
    assert saved.test_accuracy > 0.5 and len(saved.history) == 3 and saved.weights_dtype == "float16"
    assert loaded.probabilities(images[0]).shape == (1, 10)
    assert not any(p.requires_grad for p in loaded.net.parameters()) and not loaded.net.training


def test_the_reading_network_reads_as_the_trained_one(stored):
    """``for_reading`` rearranges the network (BatchNorm folded, pooling before ReLU, no dropout):
    the app's probabilities are the trained network's, on real digits and on decoder-like blends."""
    import torch
    from torch import nn

    folder, _, test_set = stored
    loaded = classifier.load(folder)
    kinds = {type(m) for m in loaded.reading_net.modules()}
    assert nn.BatchNorm2d not in kinds and nn.Dropout not in kinds
    images = test_set.images.numpy().astype(np.float32) / 255.0
    blends = np.random.default_rng(0).random((50, 28, 28), dtype=np.float32) * images[:50]
    for x in (images, blends):
        want = classifier.probabilities(loaded.net, x, batch_size=1000)
        got = loaded.probabilities(x)
        assert np.abs(got - want).max() < 1e-5
        assert (got.argmax(1) == want.argmax(1)).all()
    with torch.inference_mode():  # the rearranged network's logits, not only its probabilities
        t = torch.as_tensor(images).unsqueeze(1)
        assert torch.allclose(loaded.reading_net(t), loaded.net(t), atol=1e-4)


def test_the_reading_pauses_between_batches():
    """A background reading lets a page's run go first between two batches."""
    from torch import nn

    calls = []
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()
    probs = classifier.probabilities(net, np.zeros((300, 28, 28), np.float32), batch_size=128,
                                     pause=lambda: calls.append(1))
    assert probs.shape == (300, 10) and len(calls) == 2  # before the 2nd and the 3rd batch, not before the 1st


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "weights.safetensors").write_bytes(b"\0" * 100), "damaged or was changed"),
    (lambda f: (f / "weights.safetensors").unlink(), "weights.safetensors is missing"),
    (lambda f: (f / "meta.json").unlink(), "meta.json is missing"),
    (lambda f: (f / "meta.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "meta.json").write_text("[]"), "must hold a JSON object"),
    (lambda f: _edit_meta(f, width=8), "do not fit the architecture"),
    (lambda f: _edit_meta(f, test_accuracy="high"), "'test_accuracy' should be float"),
    (lambda f: _edit_meta(f, format_version=99), "newer than this program reads"),
    (lambda f: shutil.rmtree(f), "is missing; train it with `python train.py --classifiers --dataset mnist`"),
])
def test_a_broken_classifier_is_refused_with_what_to_do(stored, tmp_path, damage, message):
    folder = tmp_path / "mnist"
    shutil.copytree(stored[0], folder)
    damage(folder)
    with pytest.raises(CheckpointError, match="mnist classifier") as e:
        classifier.load(folder)
    assert message in str(e.value)


def _edit_meta(folder, **fields):
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, **fields}))


def test_the_catalog_does_not_list_the_classifiers_folder(app_checkpoints):
    entries = list_checkpoints(app_checkpoints)
    assert (app_checkpoints / "classifiers" / "mnist" / "meta.json").is_file()
    assert entries and all(e.ok for e in entries) and not any("classifiers" in e.id for e in entries)


def test_train_py_classifiers_writes_one_per_dataset(tmp_path):
    data = make_idx_folder(tmp_path / "data", n_train=200, n_test=50)
    out = tmp_path / "out"
    dry = run_train_py("--classifiers", "--dataset", "fashion", "--data-dir", data, "--out", out, "--dry-run")
    assert f"classifier fashion: {classifier.RECIPES['fashion'].epochs} epochs, batch 128, lr 0.003, shift ±0 px, width 16" \
        in dry.stdout and not out.exists(), "the dry run prints the shipped recipe"
    proc = run_train_py("--classifiers", "--dataset", "fashion", "--data-dir", data, "--out", out, "--epochs", 1,
                        "--batch-size", 50)
    loaded = classifier.load(out / "classifiers" / "fashion")
    assert loaded.meta.dataset == "fashion" and loaded.meta.recipe["epochs"] == 1 and loaded.meta.train_count == 200
    assert loaded.class_names[0] == "T-shirt/top"
    assert f"test accuracy {loaded.meta.test_accuracy * 100:.2f} %" in proc.stdout
    assert not list(list_checkpoints(out))  # no autoencoder was trained, and the classifiers are not one


def test_cells_of_undoes_mosaic():
    from explorer.images import cells_of

    cells = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)
    grid = to_uint8(mosaic(cells, 3))                        # 2 rows of 3
    back = cells_of(grid, 2, 3)
    assert back.shape == (6, 28, 28) and back.dtype == np.float32
    assert np.abs(back - cells).max() <= 0.5 / 255 + 1e-6    # row-major, only the uint8 rounding lost
    assert np.array_equal(cells_of(mosaic(cells, 3), 2, 3), cells)


def test_grid_reading_is_of_the_tiles_shown(app_checkpoints, monkeypatch):
    """Tile k of the grid's reading is what the classifier reads in tile k of the picture drawn."""
    from explorer import inference
    from explorer.ui import loaders

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    entry = next(e for e in loaders.catalog().good if e.meta.kind == "vae" and e.meta.latent_dim == 2)
    reading = loaders.grid_reading(entry, "dims", 0, 1, None, 6, 3.0, "even")
    tiles = loaders.grid_tiles(entry, "dims", 0, 1, None, 6, 3.0, "even")
    assert reading is not None and reading.classes.shape == (36,)
    r, c = 4, 1                                               # a tile off the diagonal: row-major order matters
    tile = tiles[28 * r: 28 * r + 28, 28 * c: 28 * c + 28].astype(np.float32) / 255.0
    reader = loaders.reader("mnist")
    assert reader is not None
    assert reader.probabilities(tile).argmax() == reading.classes[6 * r + c]
    z = loaders.plane(entry, "dims", 0, 1, None).points(grid_coords(6, 3.0, "even").reshape(-1, 2))[6 * r + c]
    assert np.abs(inference.decode(loaders.model(entry), z)[0] - tile).max() < 1 / 255 + 1e-6
    assert loaders.reader("fashion") is None and "fashion classifier" in (loaders.reader_problem("fashion") or "")


# ---- the pages ---------------------------------------------------------------------------------

def _markdowns(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _without_classifier(app_checkpoints, tmp_path):
    folder = tmp_path / "checkpoints"
    shutil.copytree(app_checkpoints, folder, ignore=shutil.ignore_patterns("classifiers"))
    return folder


def test_the_grid_is_coloured_by_its_reading_and_the_clicked_point_read(open_app):
    from tests.test_app import ok
    from tests.test_teaching import html_bodies

    at = ok(open_app("latent_grid"))
    assert "The classifier reads it as " in _markdowns(at)           # the clicked point, decoded
    assert not [b for b in html_bodies(at) if "Tiles coloured by the class" in b]
    at.toggle(key="grid_read").set_value(True).run()
    legend = [b for b in html_bodies(ok(at)) if "Tiles coloured by the class" in b]
    assert len(legend) == 1 and "read with 90 % confidence or more" in legend[0]


def test_the_grid_drawn_grey_has_its_reading_read_in_the_background(open_app, monkeypatch):
    """With the reading off, the page asks for the grid's reading in the background (under AppTest
    the request is kept, not run); once it has run, turning the reading on reads nothing."""
    from explorer.ui import loaders
    from tests.test_app import ok
    from tests.test_teaching import html_bodies

    loaders._grid_reading.clear()  # pyright: ignore[reportFunctionMemberAccess] - other tests read this grid
    loaders.prefetch_asked.clear()
    at = ok(open_app("latent_grid", query={"grid_n": "12"}))
    asked = [(fn, args, kw) for fn, args, kw in loaders.prefetch_asked if fn is loaders.grid_reading_and_tinted]
    assert len(asked) == 1
    fn, args, kw = asked[0]
    assert args[1:] == ("dims", 0, 1, None, 12, args[6], "even") and kw.get("pause") is not None
    shown = loaders.grid_tiles(*args)
    assert kw["tiles"].shape == shown.shape == (28 * 12, 28 * 12)
    assert np.array_equal(kw["tiles"], shown), "the background reads the picture drawn, not a new decode"
    assert not loaders.grid_reading_cached(*args)
    fn(*args, **kw)                                               # what the background worker does
    assert loaders.grid_reading_cached(*args)

    real = classifier.probabilities

    def no_grid_reading(net, images, *a, **k):  # the clicked point alone is still read on each run
        if np.asarray(images).reshape(-1, 28, 28).shape[0] > 1:
            raise AssertionError("the toggle read the grid again")
        return real(net, images, *a, **k)

    monkeypatch.setattr(classifier, "probabilities", no_grid_reading)
    at.toggle(key="grid_read").set_value(True).run()
    assert [b for b in html_bodies(ok(at)) if "Tiles coloured by the class" in b]
    loaders.prefetch_asked.clear()
    at.toggle(key="grid_read").set_value(False).run()
    assert not [a for a in loaders.prefetch_asked if a[0] is loaders.grid_reading_and_tinted], "already read: not asked again"


def test_prefetch_runs_the_latest_request_in_the_background(monkeypatch):
    """One worker: a request that has not started is replaced by a newer one; one that fails is
    logged and the worker goes on."""
    import threading

    from streamlit import config

    from explorer.ui import loaders

    real_get_option = config.get_option
    monkeypatch.setattr(config, "get_option", lambda name: False if name == "global.appTest" else
                        real_get_option(name))
    started, release, done = threading.Event(), threading.Event(), threading.Event()
    calls = []

    def slow(tag):
        calls.append(tag)
        started.set()
        release.wait(10)

    def fails():
        calls.append("fails")
        raise RuntimeError("a guess that went wrong")

    loaders.prefetch(slow, "first")
    assert started.wait(10)
    loaders.prefetch(lambda: calls.append("replaced"))            # waits behind "first" ...
    loaders.prefetch(fails)                                       # ... and is replaced by this one
    release.set()
    for _ in range(200):
        if "fails" in calls:
            break
        threading.Event().wait(0.02)
    loaders.prefetch(lambda: (calls.append("after"), done.set()))
    assert done.wait(10)
    assert calls == ["first", "fails", "after"]


def test_generate_reads_each_sample_and_counts_the_classes_of_a_thousand(open_app, app_checkpoints):
    from explorer import inference, load_checkpoint
    from explorer.latent import prior_samples
    from tests.test_app import ok

    at = ok(open_app("generate", query={"kind": "VAE", "gen_pick": "3", "gen_t": "1.5", "gen_seed": "4"}))
    assert "The classifier reads it as " in _markdowns(at)
    assert any(s.value == "What 1,000 samples are read as" for s in at.subheader)
    model = load_checkpoint(app_checkpoints / "mnist-vae-mlp-z2").model
    probs = classifier.load(app_checkpoints / "classifiers" / "mnist").probabilities(
        inference.decode(model, prior_samples(1000, 2, 1.5, 4)))
    r = classifier.Reading.of(probs)
    shown = {m.label: m.value for m in at.metric}
    assert shown["read with ≥ 90 % confidence"] == f"{(r.confidence >= 0.9).mean() * 100:.0f} %"
    assert shown["distance from uniform"] == f"{classifier.distance_from_uniform(classifier.class_histogram(r.classes, 10)):.2f}"
    assert len(at.get("plotly_chart")) == 1
    at.toggle(key="gen_read").set_value(True).run()
    assert "Coloured by the class the classifier reads" in "".join(h.proto.body for h in ok(at).get("html"))


def test_interpolate_reads_along_the_strip_and_at_t(open_app):
    from tests.test_app import captions, ok

    at = ok(open_app("interpolate"))
    line = next(c for c in captions(at).splitlines() if c.startswith("The classifier reads, from A to B: "))
    assert line.count(" · ") == 8  # nine steps
    assert "The classifier reads it as " in captions(at)


def test_the_denoising_row_reads_every_image(open_app):
    from tests.test_app import captions, ok

    at = ok(open_app("denoise"))
    assert captions(at).count("The classifier reads it as ") == 5  # clean, noisy, AE, DAE, VAE


def test_the_users_own_image_is_read(open_app):
    """A drawing or an upload, as kept in the link: the Anomalies page says what the classifier reads
    in it (the Denoising playground's row reads it as its clean input)."""
    from tests.test_app import captions, ok
    from tests.test_hostile_urls import PLACED

    at = ok(open_app("anomalies", query={"own_img": PLACED["own_img"], "an_src": "draw"}))
    assert "The MNIST classifier reads it as " in captions(at)
    at = ok(open_app("denoise", query={"own_img": PLACED["own_img"], "noise_src": "draw"}))
    assert at.radio(key="noise_src").value == "draw"
    assert captions(at).count("The classifier reads it as ") == 5, "the drawing, noisy, then each model's output"


def test_without_a_classifier_the_pages_say_how_to_get_one(open_app, app_checkpoints, tmp_path):
    from tests.test_app import captions, ok

    folder = _without_classifier(app_checkpoints, tmp_path)
    grid = ok(open_app("latent_grid", folder=folder, query={"grid_read": "true"}))
    toggle = grid.toggle(key="grid_read")
    assert toggle.disabled and "python train.py --classifiers --dataset mnist" in toggle.help
    assert "The classifier reads" not in _markdowns(grid)
    gen = ok(open_app("generate", folder=folder, query={"kind": "VAE"}))
    assert "No reading classifier for this dataset" in captions(gen) and "--classifiers" in captions(gen)
    for page in ("interpolate", "denoise"):
        assert "The classifier reads" not in captions(ok(open_app(page, folder=folder)))

"""What keeps the app instant from the first click, checked by structure, not by timing (the
timings are ``python -m tools.browser_bench``'s): the server's warm-up loads what pages need
after the first one, a first map click then loads nothing heavy, Compare is served from
caches the warm-up filled, and Compare's controls rerun only their own fragment."""

from __future__ import annotations

import ast
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.ui import loaders
from explorer.vocab import KINDS

ROOT = Path(__file__).resolve().parents[1]
COMPARE = ROOT / "explorer" / "ui" / "pages" / "compare.py"


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _refuse(*args, **kwargs):
    raise AssertionError("loaded from disk or computed again after the warm-up")


@pytest.fixture
def warmed(app_checkpoints, monkeypatch):
    """The app's checkpoints warmed up as the server does after its first page; from then on,
    reading a checkpoint or a data set from disk fails the test."""
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    loaders.warm_up()
    monkeypatch.setattr(loaders, "load_checkpoint", _refuse)
    monkeypatch.setattr(loaders, "load_dataset", _refuse)
    monkeypatch.setattr(loaders, "load_codes", _refuse)
    return app_checkpoints


def test_the_warm_up_imports_torch_and_loads_every_model(warmed):
    assert "torch" in sys.modules and "explorer.inference" in sys.modules
    for e in loaders.catalog().good:  # each of these would read from disk if it were not cached
        assert loaders.model(e) is loaders.model(e)
        loaders.codes(e)
        loaders.test_split(e)


@pytest.mark.parametrize("z", ["2", "4"])  # the true coordinates, a t-SNE map
def test_the_latent_map_opens_on_a_figure_the_warm_up_built(warmed, open_app, monkeypatch, z):
    from explorer import figures

    monkeypatch.setattr(figures, "latent_scatter", _refuse)
    for kind in ("AE", "DAE", "VAE"):
        ok(open_app("latent_map", query={"kind": kind, "z": z}))


def test_a_first_map_click_after_the_warm_up_loads_nothing(warmed, open_app):
    at = ok(open_app("latent_map"))
    entry = loaders.catalog().find("mnist", "vae", 2)
    assert entry is not None
    codes = loaders.codes(entry)
    idx = int(codes["indices"][3])
    at.session_state["map_img"] = idx  # what a click on the map sets
    ok(at.run())
    assert f"code of image {idx}:" in [t.value for t in at.text]


def test_compares_opening_view_comes_from_the_warm_up(warmed, open_app, monkeypatch):
    from explorer import inference, projections

    monkeypatch.setattr(inference, "reconstruct", _refuse)
    monkeypatch.setattr(loaders, "small_maps_picture", _refuse)
    monkeypatch.setattr(projections, "fit_pixel_pca", _refuse)  # its PCA curve: a second on the real test set
    at = ok(open_app("compare"))
    assert at.title[0].value == "Compare latent sizes"
    for kind in ("ae", "dae"):  # every kind was warmed, not only the one the first page showed
        at.sidebar.selectbox(key="kind").set_value(kind)
        ok(at.run())


def test_the_warm_up_finishes_the_first_pages_group_before_the_next(app_checkpoints, monkeypatch):
    """Compare's opening view of the model the first page shows (its group's maps, its dataset's
    PCA) is built before any other group's model is loaded: with 38 models that is seconds earlier."""
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    cat = loaders.catalog()
    first = cat.good[-1]
    steps = []
    real_checkpoint, real_small_maps = loaders.checkpoint, loaders.small_maps
    monkeypatch.setattr(loaders, "checkpoint", lambda e: steps.append(("load", e.id)) or real_checkpoint(e))
    monkeypatch.setattr(loaders, "small_maps", lambda group, view, names: steps.append(
        ("maps", group[0].id)) or real_small_maps(group, view, names))
    loaders.warm_up(first=first)
    group = {e.id for e in cat.good if (e.meta.dataset.name, e.meta.kind, e.meta.architecture) ==
             (first.meta.dataset.name, first.meta.kind, first.meta.architecture)}
    first_maps = next(k for k, (what, _) in enumerate(steps) if what == "maps")
    assert steps[0] == ("load", first.id)
    assert {name for what, name in steps[:first_maps] if what == "load"} == group
    assert len(group) < len(cat.good)


def test_the_anomalies_page_opens_on_scores_the_warm_up_computed(warmed, open_app, monkeypatch):
    from explorer import anomaly

    monkeypatch.setattr(anomaly, "scores", _refuse)
    monkeypatch.setattr(anomaly, "complexity_bits", _refuse)
    at = ok(open_app("anomalies"))
    for kind in KINDS:  # a change of model is only the page's own drawing
        for z in (2, 4):
            at.sidebar.selectbox(key="kind").set_value(kind)
            at.sidebar.select_slider(key="z").set_value(z)
            ok(at.run())
            assert not at.error and threshold_shown(at)


def threshold_shown(at) -> bool:
    return any(c.value.startswith("Threshold **") for c in at.caption)


def test_the_warm_up_starts_once_per_server_and_never_under_apptest(monkeypatch, open_app):
    from streamlit import config

    calls = []
    monkeypatch.setattr(loaders, "warm_up", lambda first=None: calls.append(first))
    monkeypatch.setattr(loaders, "_warm_up_thread", None)
    ok(open_app())  # the frame asks for it after the page, but AppTest runs are no server
    assert loaders._warm_up_thread is None and calls == []
    real_get_option = config.get_option
    monkeypatch.setattr(config, "get_option", lambda name: False if name == "global.appTest" else
                        real_get_option(name))
    thread = loaders.start_warm_up(first=None)
    assert thread is not None
    thread.join(10)
    assert calls == [None]
    assert loaders.start_warm_up() is None, "once per process"
    assert calls == [None]


def test_a_failing_warm_up_is_logged_not_raised(monkeypatch, caplog):
    def broken(first=None):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(loaders, "warm_up", broken)
    loaders._warm_up_quietly(None)
    assert "warm-up failed" in caplog.text


def test_the_server_caps_mallocs_arenas_before_its_first_page_and_trims_after_the_warm_up(monkeypatch):
    """Without the cap, the server's resident memory grew past figure 7's 800 MB over a class's
    browsing (1,350 MB, ``python -m tools.browser_bench --only memory``): each run's thread kept
    an arena of freed memory."""
    import ctypes
    import ctypes.util
    import sys

    from explorer import ui

    tree = ast.parse((ROOT / "explorer" / "ui" / "frame.py").read_text())
    calls = [ast.unparse(node.func) for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)),
                                                       key=lambda n: (n.lineno, n.col_offset))]
    assert calls.index("limit_heap_growth") < calls.index("loaders.catalog") < calls.index("navigation.run")
    if sys.platform.startswith("linux") and ctypes.util.find_library("c"):
        assert ui.limit_heap_growth() is True  # glibc took the setting
    trims = []
    monkeypatch.setattr(loaders, "release_free_memory", lambda: trims.append(1))
    monkeypatch.setattr(loaders, "_warm_up_anomalies", lambda entries: None)
    monkeypatch.setattr(loaders, "catalog", lambda: loaders.Catalog(ROOT, ()))
    loaders.warm_up()
    assert trims, "the warm-up hands its transient memory back"
    ui.release_free_memory()  # and the real call does not fail


def test_the_frame_starts_the_warm_up_after_the_page_ran_and_marks_the_run():
    tree = ast.parse((ROOT / "explorer" / "ui" / "frame.py").read_text())
    calls = [ast.unparse(node.func) for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)),
                                                       key=lambda n: (n.lineno, n.col_offset))]
    assert "loaders.start_warm_up" in calls
    assert calls.index("navigation.run") < calls.index("loaders.start_warm_up")
    marked = [node for node in ast.walk(tree) if isinstance(node, ast.With)
              and ast.unparse(node.items[0].context_expr) == "running()"]
    assert any("navigation.run()" in ast.unparse(node) for node in marked), "the page runs inside running()"


def test_the_warm_up_waits_for_the_runs_in_progress(monkeypatch):
    import threading
    import time

    from explorer import ui

    assert ui.runs_in_progress() == 0
    with pytest.raises(RuntimeError):
        with ui.running():
            assert ui.runs_in_progress() == 1
            raise RuntimeError("a page's error")
    assert ui.runs_in_progress() == 0, "counted down however the run ends"
    t0 = time.monotonic()
    loaders._after_runs_in_progress()
    assert time.monotonic() - t0 < 0.1, "nothing running: no wait"
    done = threading.Event()
    with ui.running():
        waiter = threading.Thread(target=lambda: (loaders._after_runs_in_progress(), done.set()))
        waiter.start()
        time.sleep(0.2)
        assert not done.is_set(), "waits while a run is in progress"
    waiter.join(2)
    assert done.is_set(), "and goes on when it ends"
    monkeypatch.setattr(loaders, "WARM_UP_YIELD_S", 0.05)
    with ui.running():
        t0 = time.monotonic()
        loaders._after_runs_in_progress()
        assert time.monotonic() - t0 < 1, "a bounded wait: a busy server is warmed up all the same"


def test_the_warm_up_also_leaves_the_browser_time_to_draw_what_a_run_sent(monkeypatch):
    import threading
    import time

    from explorer import ui

    with ui.running():
        assert ui.quiet_for() == 0.0, "a run in progress: no quiet"
    assert 0 <= ui.quiet_for() < 0.1
    t0 = time.monotonic()
    loaders._after_runs_in_progress()
    assert time.monotonic() - t0 < 0.1, "the prefetch's wait: only the runs in progress"
    monkeypatch.setattr(loaders, "WARM_UP_AFTER_RUN_S", 0.3)
    t0 = time.monotonic()
    loaders._warm_up_step()
    assert 0.25 <= time.monotonic() - t0 < 1.5, "a warm-up step waits that long after the last run's end"
    t0 = time.monotonic()
    loaders._warm_up_step()
    assert time.monotonic() - t0 < 0.1, "and not again once the server has been quiet that long"

    seen = {}
    monkeypatch.setattr(loaders, "warm_up", lambda first=None: seen.update(pause=loaders._pause()))
    t = threading.Thread(target=loaders._warm_up_quietly, args=(None,))
    monkeypatch.setattr(loaders, "_warm_up_thread", t)
    t.start()
    t.join(5)
    assert seen["pause"] is loaders._warm_up_step, "the warm-up's scoring pauses as its steps do"


def test_the_warm_ups_torch_import_waits_until_the_first_page_has_been_quiet_a_while(monkeypatch):
    """The browser is still evaluating the chart code and drawing the first page when its run
    ends (issue 19's start, docs/BENCHMARKS.md "2026-12-06")."""
    import importlib
    import time

    from explorer import ui

    imported = {}
    real_import = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: imported.setdefault(name, time.monotonic())
                        if name == "explorer.inference" else real_import(name, *a))
    monkeypatch.setattr(loaders, "WARM_UP_START_QUIET_S", 0.4)
    monkeypatch.setattr(loaders, "catalog", lambda: loaders.Catalog(ROOT, ()))
    monkeypatch.setattr(loaders, "_warm_up_anomalies", lambda entries: None)
    with ui.running():
        pass
    ended = time.monotonic()
    loaders.warm_up()
    assert 0.35 <= imported["explorer.inference"] - ended < 2.0
    imported.clear()
    again = time.monotonic()
    loaders.warm_up()
    assert imported["explorer.inference"] - again < 0.1, "no wait once the server has been quiet that long"


def test_a_fragments_run_is_marked_as_running():
    import streamlit as st

    from explorer import ui

    seen, captured = [], {}
    original = st.fragment
    try:
        st.fragment = lambda fn, run_every=None: captured.update(fn=fn, run_every=run_every)  # type: ignore[assignment]
        ui.fragment(lambda: seen.append(ui.runs_in_progress()), run_every=0.15)
    finally:
        st.fragment = original
    captured["fn"]()
    assert seen == [1] and ui.runs_in_progress() == 0
    assert captured["run_every"] == 0.15, "a self-rerunning fragment (Interpolate's Play) keeps its period"


# --------------------------------------------------------------------------- Compare

def _fragments(path: Path) -> dict[str, set[str]]:
    """{function decorated with ``fragment``: the widget keys and loaders it calls}."""
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and any(ast.unparse(d) in ("fragment", "st.fragment")
                                                     for d in node.decorator_list):
            used = set()
            for call in ast.walk(node):
                if isinstance(call, ast.Call):
                    used.add(ast.unparse(call.func))
                    used.update(kw.value.value for kw in call.keywords
                                if kw.arg == "key" and isinstance(kw.value, ast.Constant))
            out[node.name] = used
    return out


def test_compares_controls_each_rerun_only_their_fragment():
    fragments = _fragments(COMPARE)
    maps = next(used for used in fragments.values() if "cmp_view" in used)
    assert "loaders.small_maps" in maps and "loaders.reconstructions" not in maps
    images = next(used for used in fragments.values() if "cmp_pick" in used)
    assert {"cmp_n", "cmp_cls", "cmp_seed", "cmp_idx", "loaders.reconstructions"} <= images
    assert "cmp_view" not in images


def test_compares_map_toggle_shows_the_other_maps(open_app):
    at = ok(open_app("compare"))
    before = [u for img in at.image for u in img.value]
    at.radio(key="cmp_view").set_value("pca")
    after = [u for img in ok(at.run()).image for u in img.value]
    assert after[:-1] == before[:-1] and after[-1] != before[-1], "only the maps picture changed"


def test_small_maps_picture_draws_each_map_in_class_colours():
    rng = np.random.default_rng(0)
    maps = [(f"latent {z}", rng.normal(size=(400, 2)), np.arange(400) % 3) for z in (2, 4)]
    png = loaders.small_maps_picture(maps, ["a", "b", "c"], panel=120)
    assert png == loaders.small_maps_picture(maps, ["a", "b", "c"], panel=120), "the same input, the same bytes"
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape[1] == 2 * 120 + 8
    from explorer.images import CLASS_COLORS, hex_to_rgb

    for c in range(3):  # a dot's centre: 0.7 of its colour over white
        want = 0.3 * 255 + 0.7 * np.asarray(hex_to_rgb(CLASS_COLORS[c]), float)
        assert (np.abs(img.astype(float) - want).max(axis=2) < 12).sum() > 50, c
    empty = loaders.small_maps_picture([("latent 2", np.full((5, 2), np.nan), np.zeros(5, int))], ["a"], panel=60)
    assert Image.open(io.BytesIO(empty)).size[0] == 60, "no finite point: an empty panel, no error"


# --------------------------------------------------------------------------- loaders for other pages

def test_grid_extent_is_the_planes_spread_computed_once(app_checkpoints, monkeypatch):
    from explorer import latent

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    entry = loaders.catalog().find("mnist", "ae", 4)
    assert entry is not None
    want = latent.grid_extent("ae", lambda: loaders.plane(entry, "pca").coords(loaders.codes(entry)["codes"]))
    assert loaders.grid_extent(entry, "pca") == want
    monkeypatch.setattr(latent, "grid_extent", _refuse)
    assert loaders.grid_extent(entry, "pca") == want, "the second call is cached"


def test_reconstruction_of_an_input_is_the_models_and_cached(app_checkpoints, monkeypatch):
    from explorer import inference

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    entry = loaders.catalog().find("mnist", "dae", 2)
    assert entry is not None
    x = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    out = loaders.reconstruction_of(entry, x)
    np.testing.assert_array_equal(out, inference.reconstruct(loaders.model(entry), x[None])[0])
    assert not out.flags.writeable
    monkeypatch.setattr(inference, "reconstruct", _refuse)
    assert loaders.reconstruction_of(entry, x.astype(np.float64)) is out, "the same pixels, the cached output"


def test_inference_takes_the_caches_read_only_arrays_without_a_warning(app_checkpoints, monkeypatch):
    import warnings

    from explorer import inference

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    entry = loaders.catalog().find("mnist", "ae", 2)
    assert entry is not None
    images = loaders.test_images(entry, [0, 1])
    images.setflags(write=False)
    codes = loaders.codes(entry)["codes"][:3]  # read-only: shared by all sessions
    assert inference._as_float32(images).flags.writeable  # torch warns only once a process: check the cause too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert inference.reconstruct(loaders.model(entry), images).shape == (2, 28, 28)
        assert inference.decode(loaders.model(entry), codes).shape == (3, 28, 28)
        assert inference.psnr(images, images).shape == (2,)


def test_inference_goes_through_a_model_in_bounded_batches():
    """A conv encoder given a whole test split at once held hundreds of MB of activations for a
    moment, and a server keeps its peaks: every call goes in batches of at most ``BATCH``, and
    the batches give what one call gives."""
    import numpy as np
    import torch

    from explorer import inference
    from explorer.models import ModelConfig, build_model

    model = build_model(ModelConfig(kind="vae", latent_dim=2)).eval()
    seen = []
    for name in ("decode", "embed", "reconstruct", "encode"):
        fn = getattr(model, name)

        def spy(x, *a, _fn=fn, **k):
            seen.append(x.shape[0])
            return _fn(x, *a, **k)

        setattr(model, name, spy)
    n = 2 * inference.BATCH + 3
    images = np.random.default_rng(0).random((n, 28, 28), dtype=np.float32)
    codes = inference.embed(model, images)
    recon = inference.reconstruct(model, images)
    decoded = inference.decode(model, codes)
    mu, _ = inference.posterior(model, images)
    assert codes.shape == (n, 2) and recon.shape == decoded.shape == (n, 28, 28) and mu.shape == (n, 2)
    assert max(seen) <= inference.BATCH and len(seen) >= 4 * 3
    with torch.inference_mode():
        whole = torch.sigmoid(type(model).decode(model, torch.as_tensor(codes))).numpy()  # one call, unspied
    assert np.abs(decoded - whole.reshape(n, 28, 28)).max() < 1e-5

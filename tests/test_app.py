"""The Streamlit app through ``AppTest``: every page runs without an exception, and changing a
page's main settings (or injecting the click a browser would make) changes what it shows.

Runs on the small checkpoints of the ``app_checkpoints`` fixture (tests/conftest.py).
Plotly charts and custom components cannot be clicked here: the tests put the value a click
leaves (the component's value, or the app-owned state) into the session state instead.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.checkpoints import load_codes
from explorer.data import DataError
from explorer.latent import pixel_to_plane

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ("latent_map", "latent_grid", "interpolate", "arithmetic", "compare", "compare_models", "denoise", "generate", "anomalies",
         "curves")


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def image_urls(at: AppTest) -> list[str]:
    return [u for img in at.image for u in img.value]


def image_captioned(at: AppTest, prefix: str) -> str:
    """The URL of the one image whose caption starts with ``prefix``."""
    found = [u for img in at.image for u, c in zip(img.value, img.captions) if c.startswith(prefix)]
    assert len(found) == 1, (prefix, [c for img in at.image for c in img.captions])
    return found[0]


def stored_indices(folder: Path, checkpoint_id: str = "mnist-vae-mlp-z2") -> np.ndarray:
    return load_codes(folder / checkpoint_id)["indices"]


# --------------------------------------------------------------------------- frame

class TestFrame:
    @pytest.mark.parametrize("page", PAGES)
    @pytest.mark.parametrize("z", ["2", "4"])
    def test_every_page_runs(self, open_app, page, z):
        at = ok(open_app(page, query={"z": z}))
        assert at.title, "every page opens with a title"
        assert at.markdown[0].value.count(". ") >= 1, "and two or three plain sentences"

    def test_sidebar_says_what_the_model_was_trained_on(self, open_app):
        at = ok(open_app())
        facts = captions(at)
        assert "Trained on MNIST: 1,200 training images (120 of them held out to choose the epoch kept), " \
            "tested on 10,000." in facts
        assert "1 epoch;" in facts and "test loss" in facts
        assert at.sidebar.selectbox(key="dataset").value == "mnist"
        assert at.sidebar.selectbox(key="kind").value == "vae"
        assert at.sidebar.select_slider(key="z").value == 2

    def test_changing_the_choice_changes_the_model(self, open_app, app_checkpoints):
        at = ok(open_app())
        before = captions(at)
        at.sidebar.select_slider(key="z").set_value(4).run()
        ok(at)
        assert captions(at) != before
        at.sidebar.selectbox(key="kind").set_value("ae").run()
        ok(at)
        assert at.sidebar.select_slider(key="z").value == 4, "the latent size is kept across kinds"
        assert "KL" not in captions(at)

    def test_the_url_restores_the_view(self, open_app, app_checkpoints):
        idx = int(stored_indices(app_checkpoints)[5])
        at = ok(open_app(query={"kind": "AE", "z": "4", "map_view": "PCA", "map_img": str(idx)}))
        assert at.sidebar.selectbox(key="kind").value == "ae"
        assert at.sidebar.select_slider(key="z").value == 4
        assert at.radio(key="map_view").value == "pca"
        assert f"code of image {idx}:" in texts(at)

    def test_a_bad_url_falls_back_to_defaults(self, open_app):
        at = ok(open_app(query={"z": "999", "kind": "GAN", "map_img": "-3", "grid_at": "nan,1"}))
        assert at.sidebar.select_slider(key="z").value == 2
        assert at.sidebar.selectbox(key="kind").value == "vae"


    def test_the_first_page_opens_without_importing_torch(self, app_checkpoints):
        """``import torch`` costs about a second of the app's start; the first page shows stored
        codes and maps and must not pay for it (a fresh interpreter, so other tests cannot hide it)."""
        script = (f"import sys\nfrom streamlit.testing.v1 import AppTest\n"
                  f"at = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
                  "assert not at.exception, at.exception\n"
                  "assert at.get('plotly_chart'), 'the latent map is drawn'\n"
                  "print('torch imported:', 'torch' in sys.modules)\n")
        env = {**os.environ, "LATENT_EXPLORER_CHECKPOINTS": str(app_checkpoints)}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "torch imported: False" in out.stdout

# --------------------------------------------------------------------------- pages

class TestLatentMap:
    def test_click_shows_image_reconstruction_code_and_neighbours(self, open_app, app_checkpoints):
        at = ok(open_app("latent_map"))
        assert any("Click a dot" in i.value for i in at.info)
        idx = int(stored_indices(app_checkpoints)[3])
        at.session_state["map_img"] = idx
        ok(at.run())
        assert f"code of image {idx}:" in texts(at)
        assert len(at.code[0].value.split(",")) == 2  # latent size 2: two numbers
        assert len(image_urls(at)) == 3  # image, reconstruction, the 8 neighbours in one picture
        strip = [c for img in at.image for c in img.captions if c.startswith("left to right")]
        assert len(strip) == 1 and len(strip[0].split(": ", 1)[1].split(", ")) == 8  # each neighbour's class
        assert at.query_params["map_img"] == str(idx)
        at.toggle(key="map_nn").set_value(False).run()
        assert len(image_urls(ok(at))) == 2

    def test_plotly_selection_event_selects_the_point(self, open_app, app_checkpoints):
        at = ok(open_app("latent_map"))
        # what st.plotly_chart reports after a click on the marker whose customdata is row 4
        at.session_state["map_chart"] = {"selection": {"points": [{"customdata": 4, "point_index": 0}],
                                                       "point_indices": [0], "box": [], "lasso": []}}
        ok(at.run())
        idx = int(stored_indices(app_checkpoints)[4])
        assert f"code of image {idx}:" in texts(at)

    def test_a_click_leaves_the_figure_as_it_was(self, open_app, app_checkpoints):
        """The browser shows a click itself; a changed figure would be a new chart to Streamlit,
        rebuilt from scratch in the browser on every click (and its zoom lost)."""
        def figure(at):
            return json.loads(at.get("plotly_chart")[0].proto.spec)

        at = ok(open_app("latent_map"))
        before = figure(at)
        at.session_state["map_chart"] = {"selection": {"points": [{"customdata": 4, "point_index": 0}],
                                                       "point_indices": [0], "box": [], "lasso": []}}
        ok(at.run())
        assert f"code of image {int(stored_indices(app_checkpoints)[4])}:" in texts(at)
        assert figure(at) == before

    def test_a_linked_point_is_drawn_selected(self, open_app, app_checkpoints):
        indices = stored_indices(app_checkpoints)
        at = ok(open_app("latent_map", query={"map_img": str(int(indices[5]))}))
        traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]

        def array(v):  # plotly sends numpy arrays as base64 "typed array specs"
            return np.frombuffer(base64.b64decode(v["bdata"]), v["dtype"]) if isinstance(v, dict) else np.array(v)

        picked = [(int(array(t["customdata"])[k]), t["name"]) for t in traces for k in t.get("selectedpoints") or []]
        assert [row for row, _ in picked] == [5]
        assert traces[-1]["name"] == picked[0][1] and traces[-1]["selectedpoints"] == [len(array(traces[-1]["x"])) - 1], \
            "drawn last, on top of every other point"

    @pytest.mark.parametrize("z, views", [("2", ["raw", "tsne", "pca"]), ("4", ["tsne", "pca"])])
    def test_map_views(self, open_app, z, views):
        at = ok(open_app("latent_map", query={"z": z}))
        assert at.radio(key="map_view").options == [
            {"raw": "true coordinates", "tsne": "t-SNE", "pca": "PCA"}[v] for v in views]
        for v in views:
            ok(at.radio(key="map_view").set_value(v).run())


class TestLatentGrid:
    def test_a_click_decodes_that_exact_point(self, open_app):
        at = ok(open_app("latent_grid"))
        assert "coordinate: z0 = +0.000, z1 = +0.000" in texts(at)
        before = image_urls(at)
        # what streamlit-image-coordinates reports for a click near the top-left corner
        at.session_state["grid_click_0"] = {"x": 30, "y": 50, "width": 600, "height": 600, "unix_time": 1}
        ok(at.run())
        u, v = pixel_to_plane(30, 50, 600, 600, 3.0, "even")
        assert f"coordinate: z0 = {u:+.3f}, z1 = {v:+.3f}" in texts(at)
        assert u < -2 and v > 2
        assert image_urls(at) != before
        assert at.query_params["grid_at"] == f"{u:.6g},{v:.6g}"

    def test_the_same_click_reported_again_is_not_a_new_click(self, open_app):
        at = ok(open_app("latent_grid"))
        click = {"x": 300, "y": 300, "width": 600, "height": 600, "unix_time": 7}
        at.session_state["grid_click_0"] = click
        ok(at.run())
        at.session_state["grid_at"] = (1.0, 1.0)  # e.g. restored from a link
        ok(at.run())  # the component still reports click 7: it must not overwrite the point
        assert "coordinate: z0 = +1.000, z1 = +1.000" in texts(at)

    def test_settings_change_the_grid(self, open_app):
        at = ok(open_app("latent_grid", state={"grid_at": (2.0, -1.0)}))
        base = image_urls(at)
        at.radio(key="grid_spacing").set_value("quantile").run()
        assert image_urls(ok(at)) == base, "the decoded point does not depend on the spacing"
        at.toggle(key="grid_auto").set_value(False).run()
        at.slider(key="grid_range").set_value(6.0).run()
        assert "Grid range σ = 2" in captions(ok(at))
        at.slider(key="grid_n").set_value(7).run()
        at.toggle(key="grid_overlay").set_value(True).run()
        assert "7×7 tiles" in captions(ok(at))

    def test_larger_latent_planes_and_the_side_by_side_view(self, open_app):
        at = ok(open_app("latent_grid", query={"z": "4", "kind": "AE"}))
        assert any(t.startswith("coordinate: PC1") for t in texts(at)), "opens on the principal plane"
        mean_code = at.code[0].value
        at.radio(key="grid_plane").set_value("dims").run()
        at.radio(key="grid_anchor").set_value("origin").run()
        assert any(t.startswith("coordinate: z0") for t in texts(ok(at)))
        at.number_input(key="grid_j").set_value(3).run()
        assert any(t.startswith("coordinate: z0 = +0.000, z3") for t in texts(ok(at)))
        at.radio(key="grid_plane").set_value("pca").run()
        assert any(t.startswith("coordinate: PC1") for t in texts(ok(at)))
        origin_code = at.code[0].value
        assert origin_code != mean_code and origin_code.startswith("z = [+0.00, +0.00")
        at.radio(key="grid_anchor").set_value("image").run()
        assert at.code[0].value != origin_code, "through a test image's code, not the origin"
        at.toggle(key="grid_pair").set_value(True).run()
        ok(at)
        assert len([t for t in texts(at) if t.startswith("coordinate:")]) == 2
        assert len(at.code) == 2 and len(at.code[0].value.split(",")) == 4


class TestInterpolate:
    def test_the_t_slider_moves_along_the_path(self, open_app):
        at = ok(open_app("interpolate"))
        assert "t = 0.50" in texts(at)
        middle = image_captioned(at, "decoded at t = 0.50")
        at.slider(key="interp_t").set_value(1.0).run()
        ok(at)
        assert "t = 1.00" in texts(at)
        assert image_captioned(at, "decoded at t = 1.00") != middle
        at.radio(key="interp_method").set_value("spherical").run()
        at.slider(key="interp_steps").set_value(5).run()
        assert "5 evenly spaced steps" in at.image[0].captions[0]

    def test_endpoints_from_the_map_and_at_random(self, open_app, app_checkpoints):
        idx = int(stored_indices(app_checkpoints)[2])
        at = ok(open_app("interpolate", state={"map_img": idx}))
        at.radio(key="interp_a_src").set_value("map").run()
        assert any(f"test image {idx}" in c for img in ok(at).image for c in img.captions)
        strip = at.image[0].value
        at.button[0].click().run()  # random pair
        ok(at)
        assert at.image[0].value != strip

    def test_editing_the_code(self, open_app):
        at = ok(open_app("interpolate"))
        assert "0 of 2 numbers changed" in captions(at)
        decoded = image_captioned(at, "decoded from the edited code")
        at.slider(key="edit_z0").set_value(2.5).run()
        ok(at)
        assert "1 of 2 numbers changed" in captions(at)
        assert image_captioned(at, "decoded from the edited code") != decoded
        next(b for b in at.button if b.label.startswith("Reset")).click().run()
        assert "0 of 2 numbers changed" in captions(ok(at))


class TestCompare:
    def test_rows_for_every_latent_size(self, open_app):
        at = ok(open_app("compare"))
        assert len(at.image) == 1 + 2 + 1  # originals, latent 2 and latent 4, then the maps as one picture
        labels = " ".join(m.value for m in at.markdown)
        assert "latent 2" in labels and "latent 4" in labels

    def test_pca_beside_each_size(self, open_app):
        at = ok(open_app("compare"))
        assert not any("PCA, 2 components" in m.value for m in at.markdown)
        at.toggle(key="cmp_pca").set_value(True).run()
        labels = " ".join(m.value for m in ok(at).markdown)
        assert "PCA, 2 components" in labels and "PCA, 4 components" in labels
        assert len(at.image) == 1 + 2 * 2 + 1, "a PCA row under each size"
        assert at.image[2].value != at.image[1].value

    def test_the_variance_kept_and_the_codes_as_features(self, open_app, app_checkpoints):
        from explorer import features
        from explorer.checkpoints import list_checkpoints

        at = ok(open_app("compare"))
        assert "Against PCA: how much of the images a code keeps" in [h.value for h in at.subheader]
        assert any("Not measured for 6 of these models" in c.value for c in at.caption)
        charts = len(at.get("plotly_chart"))
        entries = [e for e in list_checkpoints(app_checkpoints) if e.ok]
        measured = {e.id: (e.meta.weights_sha256, 0.5) for e in entries}
        measured[entries[0].id] = ("0" * 64, 0.5)  # measured on other weights: left out
        features.write(app_checkpoints, measured)
        try:
            at = ok(open_app("compare"))
        finally:
            (app_checkpoints / features.FILE).unlink()
        assert len(at.get("plotly_chart")) == charts + 1
        assert any(f"Not measured for 1 of these models ({entries[0].id})" in c.value for c in at.caption)

    @pytest.mark.parametrize("pick", ["class", "seed", "index"])
    def test_picking_images(self, open_app, pick):
        at = ok(open_app("compare"))
        originals = at.image[0].value
        at.radio(key="cmp_pick").set_value(pick).run()
        if pick == "index":
            at.text_input(key="cmp_idx").set_value("5, 9, x, 99999").run()
            assert any("Ignored: x, 99999" in w.value for w in ok(at).warning)
        assert at.image[0].value != originals


class TestDenoise:
    def test_outputs_of_all_three_kinds_with_psnr(self, open_app):
        at = ok(open_app("denoise"))
        labels = [m.label for m in at.metric]
        assert labels == ["noisy vs clean", "AE vs clean", "DAE vs clean", "VAE vs clean"]
        assert all(m.value.endswith(" dB") for m in at.metric)
        noisy = at.image[1].value
        at.number_input(key="noise_seed").set_value(5).run()
        assert at.image[1].value != noisy, "a new seed, new noise"
        for kind in ("salt_and_pepper", "block"):
            at.radio(key="noise_kind").set_value(kind).run()
            assert len(ok(at).metric) == 4

    @pytest.mark.parametrize("source, prompt", [("upload", "Upload an image"), ("draw", "Draw something")])
    def test_upload_and_draw_wait_for_input(self, open_app, source, prompt):
        at = ok(open_app("denoise"))
        at.radio(key="noise_src").set_value(source).run()
        assert any(prompt in i.value for i in ok(at).info)

    def test_a_missing_kind_is_said_not_crashed(self, open_app, app_checkpoints, tmp_path):
        folder = tmp_path / "only-vae"
        shutil.copytree(app_checkpoints / "mnist-vae-mlp-z2", folder / "mnist-vae-mlp-z2")
        at = ok(open_app("denoise", folder=folder))
        assert sum("was trained" in i.value for i in at.info) == 2


class TestGenerate:
    def test_clicking_a_sample_shows_it_large(self, open_app):
        at = ok(open_app("generate"))
        assert any("Click a sample" in i.value for i in at.info)
        at.session_state["gen_click"] = {"x": 5, "y": 5, "width": 480, "height": 480, "unix_time": 3}
        ok(at.run())
        assert "sample at row 1, column 1" in texts(at)
        at.session_state["gen_click"] = {"x": 475, "y": 5, "width": 480, "height": 480, "unix_time": 4}
        ok(at.run())
        assert "sample at row 1, column 8" in texts(at)
        code = at.code[0].value
        at.slider(key="gen_t").set_value(0.0).run()
        assert ok(at).code[0].value == "z = [+0.00, +0.00]" != code

    def test_new_samples_and_a_non_vae_choice(self, open_app):
        at = ok(open_app("generate", query={"kind": "DAE"}))
        assert any("uses the VAE" in i.value for i in at.info)
        at.button[0].click().run()
        assert ok(at).number_input(key="gen_seed").value == 1


class TestCurves:
    def test_curves_and_metrics(self, open_app):
        at = ok(open_app("curves"))
        assert [m.label for m in at.metric][0] == "Test loss (nats)"
        assert "Training curves: MNIST VAE, latent size 2" in at.title[0].value


# --------------------------------------------------------------------------- problems

class TestProblems:
    def test_no_checkpoints_says_how_to_train(self, open_app, tmp_path):
        empty = tmp_path / "empty"
        empty.mkdir()
        at = ok(open_app(folder=empty))
        assert "holds no checkpoints" in at.error[0].value
        assert any("python train.py" in m.value for m in at.markdown)

    def test_missing_folder(self, open_app, tmp_path):
        at = ok(open_app(folder=tmp_path / "nowhere"))
        assert "does not exist" in at.error[0].value

    def test_broken_checkpoints_are_listed_and_good_ones_served(self, open_app, app_checkpoints, tmp_path):
        folder = tmp_path / "mixed"
        shutil.copytree(app_checkpoints, folder)
        weights = folder / "mnist-ae-mlp-z2" / "weights.safetensors"
        data = bytearray(weights.read_bytes())
        data[-10] ^= 0xFF
        weights.write_bytes(bytes(data))
        (folder / "mnist-dae-mlp-z4" / "meta.json").write_text("{not json")
        (folder / "old-model.pt").write_bytes(b"\x80\x04pickle")
        at = ok(open_app(folder=folder))
        listed = "\n".join(m.value for m in at.sidebar.markdown)
        assert "**mnist-ae-mlp-z2**" in listed and "SHA-256" in listed
        assert "**mnist-dae-mlp-z4**" in listed and "not valid JSON" in listed
        assert "**old-model**" in listed and "pickled" in listed
        at.sidebar.selectbox(key="kind").set_value("ae").run()
        assert any("Latent size: **4** (the only one trained)" in m.value for m in ok(at).sidebar.markdown), \
            "the broken AE with latent size 2 is not offered"
        for page in PAGES:
            ok(at.switch_page(f"explorer/ui/pages/{page}.py").run())

    def test_only_broken_checkpoints(self, open_app, app_checkpoints, tmp_path):
        folder = tmp_path / "all-broken"
        shutil.copytree(app_checkpoints / "mnist-vae-mlp-z2", folder / "mnist-vae-mlp-z2")
        meta = json.loads((folder / "mnist-vae-mlp-z2" / "meta.json").read_text())
        meta["format_version"] = 99
        (folder / "mnist-vae-mlp-z2" / "meta.json").write_text(json.dumps(meta))
        at = ok(open_app(folder=folder))
        assert "None of the 1 checkpoint(s)" in at.error[0].value
        assert any("newer than this program reads" in m.value for m in at.markdown)

    def test_missing_test_images_give_the_fix_not_a_traceback(self, open_app, app_checkpoints, monkeypatch):
        from explorer.ui import loaders

        def unavailable(name, split):
            raise DataError("No MNIST data found; copy the four IDX .gz files into data/mnist/")

        monkeypatch.setattr(loaders, "load_dataset", unavailable)
        loaders._test_split.clear()
        try:
            idx = int(stored_indices(app_checkpoints)[0])
            at = ok(open_app("latent_map", state={"map_img": idx}))
            assert "copy the four IDX .gz files into data/mnist/" in at.error[0].value
            assert f"code of image {idx}:" in texts(at), "what needs no test images is still shown"
            for page in ("interpolate", "compare", "denoise"):
                at = ok(open_app(page))
                assert "not available on this machine" in at.error[0].value
        finally:
            loaders._test_split.clear()


@pytest.mark.parametrize("page, query, labels", [
    ("latent_grid", {}, ["Grid (PNG)", "Image (PNG)"]),
    ("latent_grid", {"grid_pair": "true"}, ["Grid (PNG)", "Image (PNG)", "Grid (PNG)", "Image (PNG)"]),
    ("interpolate", {}, ["Strip (PNG)", "Animation (GIF)", "Image (PNG)", "Image (PNG)", "Walk (PNG, rows in this order)"]),
    ("generate", {"gen_pick": "3"}, ["Samples (PNG)", "Image (PNG)"]),
    ("latent_map", {}, ["Codes and map (CSV)"]),
    ("arithmetic", {}, ["Strip (PNG)", "Image (PNG)", "Image (PNG)"]),
    ("denoise", {}, ["PNG"] * 4),
    ("compare", {}, ["Rows (PNG: original, then each size, smallest first)"]),
    ("compare", {"cmp_pca": "true"}, ["Rows (PNG: original, then each size and its PCA, smallest first)"]),
    ("compare_models", {}, ["Rows (PNG: original, then each model in this order)"]),
])
def test_every_decoded_picture_has_its_download(open_app, page, query, labels):
    at = ok(open_app(page, query=query))
    assert [b.proto.label for b in at.get("download_button")] == labels


def test_the_pictures_a_click_decodes_have_their_download_too(open_app, app_checkpoints):
    """What a click on the map, the grid or the walk puts on a page is a decoded picture as well."""
    idx = str(int(stored_indices(app_checkpoints)[0]))
    at = ok(open_app("latent_map", query={"map_img": idx}))
    assert [b.proto.label for b in at.get("download_button")] == ["Codes and map (CSV)", "Image (PNG)"]
    at = ok(open_app("interpolate", query={"kind": "VAE", "z": "2"},
                     state={"grid_z": ("mnist-vae-mlp-z2", (0.5, -0.5)), "interp_a_src": "grid",
                            "_walk_pick": ("mnist-vae-mlp-z2", "image", 0, 8)}))
    assert [b.proto.label for b in at.get("download_button")] == [
        "Strip (PNG)", "Animation (GIF)", "Image (PNG)", "Image (PNG)",  # the strip, t, A from the grid
        "Image (PNG)", "Walk (PNG, rows in this order)", "Image (PNG)"]  # the edited code, the walk, its tile
    at = ok(open_app("anomalies", query={"an_img": idx}))
    assert [b.proto.label for b in at.get("download_button")] == ["Gallery (PNG)", "Gallery (PNG)", "Image (PNG)"]

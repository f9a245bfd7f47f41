"""Classroom-ready (2), issue 19: defaults that teach, the user's own image on the map and the
grid, and the presentation mode, on the ``app_checkpoints`` fixture (AppTest) and as plain
functions. What needs a real browser (the sidebar folding, Play, the canvas, a link that
places a drawing) is in test_browser.py.
"""

from __future__ import annotations

import base64
import re
import zlib

import numpy as np
import pytest

from explorer import figures, inference
from explorer.checkpoints import load_checkpoint, load_codes
from explorer.latent import nearest_neighbours, place_on_map
from explorer.projections import pca_2d
from explorer.ui import picks, state
from tests.test_app import captions, ok, texts

STROKE = np.zeros((28, 28), np.uint8)
STROKE[6:22, 12:16] = 255          # a drawn "1", as the canvas would give it after conversion
PLACED = {"own_img": state.fmt_image(STROKE), "own_map": "1"}


def html_bodies(at) -> list[str]:
    return [h.proto.body for h in at.get("html")]


# ---- defaults that teach ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["AE", "DAE"])
def test_a_larger_grid_opens_on_the_codes_principal_plane_through_their_mean(open_app, app_checkpoints, kind):
    at = ok(open_app("latent_grid", query={"z": "4", "kind": kind}))
    assert at.radio(key="grid_plane").value == "pca" and at.radio(key="grid_anchor").value == "mean"
    assert any(t.startswith("coordinate: PC1 = +0.000, PC2 = +0.000") for t in texts(at))
    stored = load_codes(app_checkpoints / f"mnist-{kind.lower()}-mlp-z4")["codes"]
    mean = ", ".join(f"{v + 0.0:+.2f}" for v in stored.mean(axis=0))
    assert at.code[0].value == f"z = [{mean}]", "the clicked point starts at the codes' mean"


def test_the_grid_overlay_names_its_colours(open_app):
    at = ok(open_app("latent_grid"))
    assert not [b for b in html_bodies(at) if "class-legend" in b]
    at.toggle(key="grid_overlay").set_value(True).run()
    legend = [b for b in html_bodies(ok(at)) if "class-legend" in b]
    assert len(legend) == 1 and all(f">{d}</span>" in legend[0] for d in "0123456789")


def test_random_pairs_are_of_two_classes():
    labels = np.repeat(np.arange(10), 50)
    for seed in range(200):
        a, b = picks.random_pair(labels, seed)
        assert labels[a] != labels[b]
    assert picks.random_pair(np.zeros(5, int), 3)[0] < 5  # one class only: still a pair


def test_the_random_pair_button_gives_two_classes_and_a_new_pair_each_time(open_app):
    at = ok(open_app("interpolate"))
    seen = []
    for _ in range(3):
        next(b for b in at.button if b.label == "Random pair").click().run()
        ok(at)
        a, b = at.selectbox(key="interp_a_cls").value, at.selectbox(key="interp_b_cls").value
        assert a != b
        seen.append((a, at.number_input(key="interp_a_n").value, b, at.number_input(key="interp_b_n").value))
    assert len(set(seen)) == 3
    other = ok(open_app("interpolate"))
    assert other.session_state["interp_seed"] != at.session_state["interp_seed"] - 3, \
        "each session starts its own run of pairs"


def test_the_denoising_page_shows_every_latent_size_for_its_input(open_app):
    at = ok(open_app("denoise"))
    lesson = next(m.value for m in at.markdown if m.value.startswith("On this input the DAE"))
    gain = float(re.search(r"latent size 2 gains \*\*([+-][\d.]+) dB", lesson).group(1))
    dae = next(m for m in at.metric if m.label == "DAE vs clean")
    assert f"{gain:+.1f} dB" == dae.delta, "the lesson's figure is the metric's, at the sidebar's size"
    assert "latent size 4" in lesson and "blurred prototype" in lesson


def test_the_psnr_figure_has_a_line_per_kind_and_the_noisy_level():
    fig = figures.psnr_by_latent_size([2, 4, 8], {"ae": [10.0, 11.0, None], "dae": [9.0, 14.0, 17.0]}, 10.5, 4)
    names = [t.name for t in fig.data]
    assert names == ["AE", "DAE"] and list(fig.data[1].y) == [9.0, 14.0, 17.0] and list(fig.data[0].x) == [2, 4]
    assert any(s.y0 == 10.5 for s in fig.layout.shapes)


# ---- your own image ----------------------------------------------------------------------------

def test_an_image_travels_in_the_url_and_bad_text_is_refused():
    rng = np.random.default_rng(0)
    for img in (STROKE, rng.integers(0, 256, (28, 28)).astype(np.uint8), np.zeros((28, 28), np.uint8)):
        text = state.fmt_image(img)
        assert len(text) <= 1100 and re.fullmatch(r"[A-Za-z0-9_-]+", text)
        assert np.array_equal(state.parse_image(text), img)
    assert len(state.fmt_image(STROKE)) < 200
    bomb = base64.urlsafe_b64encode(zlib.compress(b"\0" * 10**6)).decode()
    short = base64.urlsafe_b64encode(zlib.compress(b"\0" * 783)).decode()
    for bad in (bomb, short, "banana", "", "!!!!", "A" * 5000, state.fmt_image(STROKE)[:-3]):
        with pytest.raises(ValueError):
            state.parse_image(bad)


def test_a_new_code_lands_on_each_map_where_a_stored_one_would(app_checkpoints):
    c = load_codes(app_checkpoints / "mnist-vae-mlp-z4")
    codes = c["codes"]
    assert np.allclose(place_on_map("pca", codes, c["map_pca"], codes[17]), pca_2d(codes)[17], atol=1e-4)
    rows = nearest_neighbours(codes, codes[17], 8)
    assert np.allclose(place_on_map("tsne", codes, c["map_tsne"], codes[17]), c["map_tsne"][rows].mean(0), atol=1e-5)
    assert np.allclose(place_on_map("raw", codes[:, :2], codes[:, :2], codes[17, :2]), codes[17, :2])


def test_the_own_image_is_placed_on_the_map_with_its_code_and_neighbours(open_app, app_checkpoints):
    at = ok(open_app("latent_map", query=PLACED))
    assert [s.value for s in at.subheader][:1] == ["Your image"]
    model = load_checkpoint(app_checkpoints / "mnist-vae-mlp-z2").model
    code = inference.embed(model, (STROKE.astype(np.float32) / 255)[None])[0]
    assert at.code[0].value == "code: [" + ", ".join(f"{v + 0.0:+.2f}" for v in code) + "]"
    assert "magenta star" in captions(at) and "8 nearest" in captions(at)
    assert at.query_params["own_img"] == PLACED["own_img"] and at.query_params["own_map"] == "1"
    at.button(key="own_remove").click().run()
    assert "Your image" not in [s.value for s in ok(at).subheader] and "own_map" not in at.query_params


def test_an_image_not_placed_stays_off_the_map(open_app):
    at = ok(open_app("latent_map", query={"own_img": PLACED["own_img"]}))
    assert "Your image" not in [s.value for s in at.subheader]


def test_the_own_image_on_a_2d_grid_can_be_decoded(open_app, app_checkpoints):
    at = ok(open_app("latent_grid", query=PLACED))
    assert "magenta ring" in captions(at)
    at.button(key="own_decode").click().run()
    model = load_checkpoint(app_checkpoints / "mnist-vae-mlp-z2").model
    code = inference.embed(model, (STROKE.astype(np.float32) / 255)[None])[0]
    assert at.query_params["grid_at"] == state.fmt_floats(code)
    at = ok(open_app("latent_grid", query=PLACED | {"z": "4"}))
    assert "magenta ring" not in captions(at), "only a 2-D code is a point of a grid's plane"


@pytest.mark.parametrize("source", ["draw", "upload"])
def test_a_drawing_or_upload_survives_a_reload_and_can_be_forgotten(open_app, source):
    at = ok(open_app("denoise", query={"noise_src": source, "own_img": PLACED["own_img"]}))
    assert "Your image from before" in captions(at)
    assert {m.label for m in at.metric} >= {"noisy vs clean", "DAE vs clean"}
    assert at.query_params["own_img"] == PLACED["own_img"], "the link keeps it"
    at.button(key="own_forget").click().run()
    assert "own_img" not in ok(at).query_params and not at.metric


def test_without_an_image_the_denoising_page_asks_for_one(open_app):
    at = ok(open_app("denoise", query={"noise_src": "draw"}))
    assert any("Draw something" in i.value for i in at.info) and not at.metric


# ---- presentation mode -------------------------------------------------------------------------

def test_presentation_mode_shortens_the_intro_and_has_a_way_back(open_app):
    plain = ok(open_app("latent_map"))
    at = ok(open_app("latent_map", query={"present": "true"}))
    intro = plain.markdown[0].value
    first = at.markdown[0].value
    assert first.startswith(intro.split(". ")[0]) and len(first) < len(intro) / 2
    assert "(MNIST VAE, latent size 2.)" in first
    assert at.title[0].proto.help.startswith(intro.split(". ", 1)[1][:40]), "the rest behind the title's (?)"
    assert any("stMainBlockContainer" in b for b in html_bodies(at))
    assert not any("stMainBlockContainer" in b for b in html_bodies(plain))
    at.button(key="present_exit").click().run()
    assert ok(at).toggle(key="present").value is False and "present" not in at.query_params
    assert at.markdown[0].value == intro


def test_presentation_mode_doubles_the_pictures(open_app, monkeypatch):
    from explorer.ui import common

    scales = []
    monkeypatch.setattr(common, "enlarge", lambda x, scale: scales.append(scale) or np.zeros((2, 2), np.uint8))
    ok(open_app("latent_map", query={"map_img": "7"}))
    plain, scales[:] = list(scales), []
    ok(open_app("latent_map", query={"map_img": "7", "present": "true"}))
    assert plain and scales == [2 * s for s in plain]

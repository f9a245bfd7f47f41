"""What a new user's walk and a hostile classroom found (issue 18), one test per finding.

Each test names its item. AppTest runs the real app on the ``app_checkpoints`` fixture; the
browser-only items (the Back button, typed addresses, outside hosts) are in test_browser.py.
"""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.elements.widgets.number_input import NumberInputSerde
from streamlit.proto.NumberInput_pb2 import NumberInput as NumberInputProto

from explorer.checkpoints import load_codes
from explorer.images import CLASS_COLORS, hex_to_rgb
from explorer.ui import loaders
from tests.test_app import captions, ok, texts

ROOT = Path(__file__).resolve().parents[1]


def sources_offered(at) -> list[str]:
    radios = [r for r in at.radio if r.key == "interp_a_src"]
    return list(radios[0].options) if radios else ["test image"]


# 1 ------------------------------------------------------------------------------------------

def test_1_interpolate_does_not_offer_a_map_point_of_another_dataset(open_app, app_checkpoints):
    index = int(load_codes(app_checkpoints / "mnist-vae-mlp-z2")["indices"][3])
    at = ok(open_app("interpolate", state={"map_img": index}))
    assert "latent map click" in sources_offered(at), "a point of this map is offered"
    # the same number, clicked on another dataset's map (the sidebar changed since)
    at = ok(open_app("interpolate", state={"map_img": index, "_map_img.dataset": "fashion"}))
    assert sources_offered(at) == ["test image"]


def test_1_a_made_up_map_point_in_the_url_is_not_offered(open_app):
    at = ok(open_app("interpolate", query={"map_img": "1000000000", "interp_a_src": "latent map click"}))
    assert sources_offered(at) == ["test image"]
    at = ok(open_app("latent_map", query={"map_img": "1000000000"}))
    assert any("Click a dot" in i.value for i in at.info) and "map_img" not in at.query_params


# 3 ------------------------------------------------------------------------------------------

def test_3_infinite_numbers_in_the_url_fall_back_to_the_default_and_leave_the_url(open_app):
    at = ok(open_app("generate", query={"gen_seed": "inf"}))
    assert at.number_input(key="gen_seed").value == 0
    assert "gen_seed" not in at.query_params
    at = ok(open_app("compare", query={"cmp_n": "-inf"}))
    assert at.number_input(key="cmp_n").value == 0


def test_3_streamlit_still_needs_the_workaround():
    """When this fails, Streamlit seeds ``inf`` safely: drop ``explorer.ui.guard_url_numbers``."""
    from explorer.ui import guard_url_numbers

    guard_url_numbers()
    original = NumberInputSerde.deserialize.__wrapped__  # pyright: ignore[reportFunctionMemberAccess]
    serde = NumberInputSerde(value=0, data_type=NumberInputProto.INT, min_value=0, max_value=10)
    try:
        original(serde, float("inf"))
    except OverflowError:
        pass
    else:
        raise AssertionError("int(inf) no longer overflows in Streamlit's deserializer")
    assert NumberInputSerde.deserialize(serde, float("inf")) == 0


# 4 ------------------------------------------------------------------------------------------

def test_4_an_uncaught_error_shows_its_type_and_a_sentence_not_its_source():
    from streamlit import config
    from streamlit.elements.exception import marshall
    from streamlit.proto.Exception_pb2 import Exception as ExceptionProto

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "type"
    config.set_option("client.showErrorDetails", "type")
    try:
        try:
            raise IndexError(f"index 1000 is out of bounds, in {ROOT}/explorer/ui/pages/interpolate.py")
        except IndexError as e:
            proto = ExceptionProto()
            marshall(proto, e, apply_show_error_details=True)
    finally:
        config.set_option("client.showErrorDetails", "full")
    assert proto.type.endswith("IndexError")
    assert not proto.stack_trace and str(ROOT) not in proto.message and "redacted" in proto.message


# 5, 6, 10 ------------------------------------------------------------------------------------

def test_5_a_point_beyond_the_grid_is_moved_onto_it_and_said(open_app):
    # a click far out on a wide AE plane, then the VAE (±3) is chosen
    at = ok(open_app("latent_grid", state={"grid_at": (8.0, -8.0)}))
    assert "coordinate: z0 = +3.000, z1 = -3.000" in texts(at)
    assert "lies outside this grid" in captions(at)
    assert at.query_params["grid_at"] == "3,-3"


def test_5_side_by_side_the_narrower_grid_says_the_point_is_off_it(open_app):
    at = ok(open_app("latent_grid", query={"grid_pair": "true"}, state={"grid_at": (2.9, 2.9)}))
    at.toggle(key="grid_auto").set_value(False).run()
    at.slider(key="grid_range").set_value(2.0).run()
    ok(at)
    assert "lies outside this grid" in captions(at)


def test_6_a_coordinate_beyond_any_plane_in_the_url_is_refused(open_app):
    at = ok(open_app("latent_grid", query={"grid_at": "1e308,1e308"}))
    assert "coordinate: z0 = +0.000, z1 = +0.000" in texts(at)
    assert not any(len(t) > 80 for t in texts(at))


def test_10_the_automatic_range_is_shown_as_the_range_in_use(open_app):
    at = ok(open_app("latent_grid"))
    assert "Range in use: ±3" in captions(at)
    assert not [s for s in at.slider if s.key == "grid_range"], "no disabled slider showing another value"
    at = ok(open_app("latent_grid", query={"kind": "AE"}))
    in_use = [c.value for c in at.caption if c.value.startswith("Range in use")]
    at.toggle(key="grid_auto").set_value(False).run()
    assert f"±{ok(at).slider(key='grid_range').value:g}" in in_use[0], "manual starts at the automatic range"


# 7, 9 ----------------------------------------------------------------------------------------

def test_7_the_small_multiples_legend_holds_all_ten_classes():
    """Compare's maps are one picture (``loaders.small_maps_picture``): its legend is a row under
    the maps, and every class's dot is in it, the longest names included."""
    rng = np.random.default_rng(0)
    maps = [(f"latent {z}", rng.normal(size=(300, 2)), np.arange(300) % 10) for z in (2, 4, 8, 16, 32)]
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    img = np.asarray(Image.open(io.BytesIO(loaders.small_maps_picture(maps, names))).convert("RGB"))
    legend = img[-30:]  # the row under the maps
    for c in range(10):
        assert (legend == hex_to_rgb(CLASS_COLORS[c])).all(axis=2).sum() > 20, f"class {c} is not in the legend"


def test_9_the_maps_hover_names_the_test_image(open_app, app_checkpoints):
    at = ok(open_app("latent_map"))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    trace = spec["data"][0]
    assert trace["hovertemplate"].startswith("Test image %{text}")
    text = trace["text"]
    if isinstance(text, dict):  # plotly's typed array
        import base64
        text = np.frombuffer(base64.b64decode(text["bdata"]), text["dtype"])
    rows = trace["customdata"]
    if isinstance(rows, dict):
        import base64
        rows = np.frombuffer(base64.b64decode(rows["bdata"]), rows["dtype"])
    indices = load_codes(app_checkpoints / "mnist-vae-mlp-z2")["indices"]
    assert [int(t) for t in text] == [int(indices[int(r)]) for r in rows]


# 8 ------------------------------------------------------------------------------------------

def test_8_a_chosen_sample_keeps_its_place_and_code_when_the_grid_grows_or_shrinks(open_app):
    at = ok(open_app("generate"))
    at.session_state["gen_click"] = {"x": 3.5 * 60, "y": 2.5 * 60, "width": 480, "height": 480, "unix_time": 7}
    ok(at.run())
    assert "sample at row 3, column 4" in texts(at)
    code = at.code[0].value
    for n in (10, 5, 3):
        at.slider(key="gen_n").set_value(n).run()
        ok(at)
        assert "sample at row 3, column 4" in texts(at) and at.code[0].value == code, n
    assert "outside the 3×3 samples shown" in captions(at)


# 11 -----------------------------------------------------------------------------------------

def test_11_training_curves_show_no_kl_for_an_ae_or_dae(open_app):
    for kind in ("AE", "DAE"):
        labels = [m.label for m in ok(open_app("curves", query={"kind": kind})).metric]
        assert "KL (nats)" not in labels and "Test PSNR (dB)" in labels
    assert "KL (nats)" in [m.label for m in ok(open_app("curves")).metric]


# 18 -----------------------------------------------------------------------------------------

def test_18_the_sidebar_names_the_folder_relative_to_the_project(open_app, app_checkpoints, monkeypatch):
    from explorer.ui import checkpoint_folder_label

    monkeypatch.delenv("LATENT_EXPLORER_CHECKPOINTS", raising=False)
    assert checkpoint_folder_label() == "checkpoints/"
    at = ok(open_app())  # the fixture's folder, given in $LATENT_EXPLORER_CHECKPOINTS: shown as given
    assert f"Checkpoints: `{app_checkpoints}`" in "\n".join(c.value for c in at.sidebar.caption)

"""Every query parameter is untrusted input: a hand-edited URL never gives a traceback.

For each page, every parameter it reads (widget values bound to the URL and the app-owned
clicked points) is set at once to one bad value, in each context that opens the page's
branches (a plane through a test image, each way of picking Compare's images, each noise);
the page must run without an exception. A test also checks that the list below covers every
parameter the pages bind, so a new widget cannot escape the sweep.
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer.ui.state import fmt_image
from tests.test_app import PAGES, ok

SIDEBAR = ("dataset", "kind", "arch", "z", "present")
OWN = ("own_img", "own_map")
PARAMS = {
    "latent_map": ("map_view", "map_nn", "map_k", "map_img") + OWN,
    "latent_grid": ("grid_n", "grid_spacing", "grid_auto", "grid_range", "grid_overlay", "grid_read", "grid_pair", "grid_plane",
                    "grid_i", "grid_j", "grid_anchor", "grid_anchor_cls", "grid_anchor_n", "grid_at") + OWN,
    "interpolate": ("interp_a_src", "interp_b_src", "interp_a_cls", "interp_a_n", "interp_b_cls", "interp_b_n",
                    "interp_method", "interp_steps", "interp_t", "edit_cls", "edit_n", "map_img", "grid_at", "grid_z",
                    "edit_z", "walk_through"),
    "arithmetic": ("ar_cls", "ar_n", "ar_from", "ar_to", "ar_t", "ara_cls", "ara_n", "arb_cls", "arb_n", "arc_cls", "arc_n"),
    "compare": ("cmp_pick", "cmp_n", "cmp_cls", "cmp_seed", "cmp_idx", "cmp_view", "cmp_pca"),
    "compare_models": ("cm_models", "cm_pick", "cm_n", "cm_seed", "cm_view"),
    "denoise": ("noise_src", "noise_kind", "noise_sigma", "noise_p", "noise_block", "noise_seed", "noise_img_cls",
                "noise_img_n") + OWN,
    "generate": ("gen_t", "gen_n", "gen_seed", "gen_pick", "gen_read"),
    "anomalies": ("an_rule", "an_noise", "an_sigma", "an_p", "an_block", "an_k", "an_all", "an_src", "an_img") + OWN,
    "curves": (),
}
# A drawn stroke in the link's form (``state.fmt_image``): the user's own image, placed.
_STROKE = np.zeros((28, 28), np.uint8)
_STROKE[6:22, 12:16] = 255
PLACED = {"own_img": fmt_image(_STROKE), "own_map": "1"}
# Valid settings that open a page's branches; the bad value goes into every other parameter.
CONTEXTS = {
    "latent_map": [{"z": "2"}, {"z": "4"}, {"z": "2", **PLACED}, {"z": "4", "map_view": "PCA", **PLACED},
                   {"z": "4", "present": "true"}],
    "latent_grid": [{"z": "2"}, {"z": "4", "grid_plane": "dims", "grid_anchor": "image", "grid_auto": "false"},
                    {"z": "4", "grid_plane": "pca", "grid_pair": "true"}, {"z": "2", "grid_pair": "true", **PLACED}],
    "interpolate": [{"z": "2"}, {"z": "4", "interp_a_src": "latent map click", "interp_b_src": "latent grid click"}],
    "arithmetic": [{"z": "2"}, {"z": "4", "kind": "AE"}],
    "compare": [{"cmp_pick": p, "cmp_pca": "true"} for p in ("one of each class", "one class", "random", "by index")],
    "compare_models": [{"cm_pick": "one of each class"},
                       {"cm_pick": "random", "cm_models": ["AE MLP latent 4", "VAE MLP latent 2", "DAE MLP latent 4"]}],
    "denoise": [{"noise_src": "test image", "noise_kind": k} for k in ("Gaussian", "salt and pepper", "block")]
               + [{"noise_src": src, **PLACED} for src in ("upload", "draw")],
    "generate": [{"z": "2"}, {"z": "4", "kind": "AE"}],
    "anomalies": [{"an_noise": k, "an_all": "true"} for k in ("Gaussian", "salt and pepper", "block")]
                 + [{"an_img": "7", "an_src": src, **PLACED} for src in ("upload", "draw")],
    "curves": [{"z": "2"}, {"kind": "AE"}],
}
BAD = {
    "negative": "-5", "huge": "9" * 25, "nan": "nan", "inf": "inf", "-inf": "-inf", "word": "banana", "empty": "",
    "repeated": ["1", "2"], "100kB": "9" * 100_000, "traversal": "../../../etc/passwd", "unicode digits": "①²٣",
    "huge float": "1e308,1e308", "floats": "0.5,-1.5",
}
CASES = [(page, i, bad) for page in PAGES for i in range(len(CONTEXTS[page])) for bad in BAD]


@pytest.mark.parametrize(("page", "context", "bad"), CASES, ids=[f"{p}-{i}-{b}" for p, i, b in CASES])
def test_no_traceback_from_a_hand_edited_url(open_app, page, context, bad):
    ctx = CONTEXTS[page][context]
    query = {k: BAD[bad] for k in SIDEBAR + PARAMS[page] if k not in ctx} | ctx
    ok(open_app(page, query=query))


def test_bad_sidebar_values_fall_back_to_a_model(open_app):
    for bad in BAD.values():
        at = ok(open_app("latent_map", query=dict.fromkeys(SIDEBAR, bad)))
        assert at.title[0].value == "Latent map"


def test_the_sweep_covers_every_app_owned_parameter():
    from explorer.ui.state import OWNED

    swept = {k for keys in PARAMS.values() for k in keys}
    assert set(OWNED) <= swept, sorted(set(OWNED) - swept)


@pytest.mark.parametrize("page", PAGES)
def test_the_sweep_covers_every_bound_parameter(open_app, page):
    bound: set[str] = set()
    for ctx in CONTEXTS[page]:
        at = ok(open_app(page, query=ctx))
        bound |= set(at._session_state._state.query_params._bindings_by_param)
    missing = bound - set(SIDEBAR) - set(PARAMS[page])
    assert not missing, f"add {sorted(missing)} to PARAMS[{page!r}]"

"""Per-dimension traversals (issue 16, part 3): ``explorer.traversal`` and the Interpolate page's
"Walk each dimension"."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import traversal
from explorer.vocab import KINDS
from tests.test_app import ok


def test_kl_per_dimension_is_the_vaes_kl_split_by_dimension():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(0, 1, (500, 4)), rng.normal(-1, 0.3, (500, 4))
    mu[:, 2], logvar[:, 2] = 0.0, 0.0  # the prior itself: no information
    kl = traversal.kl_per_dimension(mu, logvar)
    total = (0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar)).sum(1).mean()
    assert kl.sum() == pytest.approx(total), "the terms of the VAE's KL add up to it"
    assert kl[2] == 0.0 and (np.delete(kl, 2) > 0.1).all()


def test_usage_orders_the_dimensions_and_marks_the_unused():
    mu = np.zeros((100, 3))
    mu[:, 1] = np.linspace(-2, 2, 100)
    mu[:, 2] = np.linspace(-0.1, 0.1, 100)
    u = traversal.usage("vae", mu, np.zeros((100, 3)))
    assert u.measure == "KL" and u.unit == "nats"
    assert u.order.tolist() == [1, 2, 0]
    assert u.unused.tolist() == [True, False, True], "under 0.01 nats: unused"
    ae = traversal.usage("ae", mu)
    assert ae.measure == "variance" and not ae.unused.any(), "no prior, no 'unused'"
    assert ae.order.tolist() == [1, 2, 0]
    assert traversal.usage("vae", mu).measure == "variance", "a flow's VAE: no per-dimension KL"


def test_walk_values_and_codes():
    codes = np.random.default_rng(1).normal(0, [1.0, 10.0], (1000, 2))
    vae = traversal.walk_values("vae", codes, 7)
    assert vae.shape == (2, 7) and vae[0, 0] == -3 and vae[1, -1] == 3
    ae = traversal.walk_values("ae", codes, 5)
    assert ae[1, 0] == pytest.approx(np.percentile(codes[:, 1], 1)) and ae[1, -1] == pytest.approx(np.percentile(codes[:, 1], 99))
    base = np.array([0.5, -0.5], np.float32)
    walk = traversal.walk_codes(base, np.array([1, 0]), vae)
    assert walk.shape == (2, 7, 2)
    assert np.allclose(walk[0, :, 1], vae[1]) and np.allclose(walk[0, :, 0], 0.5), "row 0 moves dimension 1 only"
    assert np.allclose(walk[1, :, 0], vae[0]) and np.allclose(walk[1, :, 1], -0.5)


def walk_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Rows ordered by"))


@pytest.mark.parametrize("kind", ["AE", "VAE"])
@pytest.mark.parametrize("z", ["2", "4"])
def test_the_walk_is_on_the_interpolate_page(open_app, kind, z):
    at = ok(open_app("interpolate", query={"kind": kind, "z": z}))
    assert "Walk each dimension" in [s.value for s in at.subheader]
    caption = walk_caption(at)
    if kind == "VAE" and z == "4":  # the test VAEs at latent size 2 have a flow: no KL per dimension
        assert "KL from the prior" in caption
    else:
        assert "variance" in caption
    assert at.radio(key="walk_through").value == "image"


def test_a_click_on_a_tile_takes_its_code_to_the_editor(open_app, app_checkpoints):
    from explorer.ui import loaders

    at = ok(open_app("interpolate", query={"kind": "VAE", "z": "4"}))
    px_w, px_h = at.session_state["_walk_px"]
    # row 0 (the most used dimension), last column (+3): the click in the picture's own pixels
    at.session_state["walk_click"] = {"x": px_w - 5, "y": 5, "width": px_w, "height": px_h, "unix_time": 1}
    at.run()
    entry = next(e for e in loaders.catalog().good if e.id == "mnist-vae-mlp-z4")
    d = int(loaders.dimension_usage(entry).order[0])
    assert at.session_state[f"edit_z{d}"] == pytest.approx(3.0), "the walked dimension at +3"
    assert "edit_z" in at.query_params, "the link holds the edited code"
    assert any(c.value.startswith("1 of 4 numbers changed") for c in ok(at).caption)
    framed = walk_pixels(at)
    cell_w, cell_h = (px_w - 100) / 9, px_h / 4  # 100 px of labels, then 9 columns; 4 rows
    yellow = (np.abs(framed.astype(int) - [255, 212, 0]).max(axis=2) < 10)
    ys, xs = np.nonzero(yellow)
    assert ys.size > 0 and ys.max() < cell_h and xs.min() >= px_w - cell_w - 1, "the clicked tile alone is framed"


def walk_pixels(at) -> np.ndarray:
    """The walk's picture as the page sends it (the clickable image's data URL), RGB."""
    import base64
    import io
    import json

    from PIL import Image

    src, = [json.loads(e.proto.json_args)["src"] for e in at.get("component_instance")
            if e.proto.id.endswith("-walk_click")]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def test_the_dimensions_tool_prints_every_checkpoint(app_checkpoints, capsys):
    from tools import dimensions

    assert dimensions.main(["--checkpoints", str(app_checkpoints)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("mnist-")}
    assert set(lines) == {f"mnist-{k}-mlp-z{z}" for k in KINDS for z in (2, 4)}
    assert " KL " in lines["mnist-vae-mlp-z4"] and " of 4 " in lines["mnist-vae-mlp-z4"]
    assert " variance " in lines["mnist-ae-mlp-z4"]
    assert len(lines["mnist-ae-mlp-z4"].split()) == 3 + 4, "one figure per dimension"

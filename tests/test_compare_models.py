"""Compare models (issue 17, part 2): any two to four checkpoints of one dataset side by side, on
the same test images; its choice in the URL."""

from __future__ import annotations

import io

import numpy as np
import pytest

from explorer.ui import loaders
from tests.test_anomalies_page import markdown_table
from tests.test_app import ok

PAGE = "compare_models"


def model_rows(at) -> list[str]:
    """The models whose reconstructions the page shows, top to bottom."""
    return [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and "test loss" in m.value]


def test_it_opens_on_the_ae_against_the_vae_of_latent_size_2(open_app):
    at = ok(open_app(PAGE))
    assert at.title[0].value == "Compare models"
    assert at.multiselect(key="cm_models").value == ["AE MLP latent 2", "VAE MLP latent 2"]
    assert model_rows(at) == ["AE MLP latent 2", "VAE MLP latent 2"]
    table = markdown_table(at, "model")
    assert table.index == ["AE MLP latent 2", "VAE MLP latent 2"]
    assert table["KL"][0] == "–" and float(table["KL"][1]) > 0, "a KL term for the VAE only"
    assert all(int(p.replace(",", "")) > 1000 for p in table["parameters"])
    assert any("on one scale" in c.value for c in at.caption), "two 2-D codes: one scale"
    assert not at.get("radio") or "cm_view" not in [r.key for r in at.radio], "no larger code: no map choice"


def test_any_four_models_and_the_maps_of_larger_codes(open_app):
    at = ok(open_app(PAGE))
    chosen = ["DAE MLP latent 4", "AE MLP latent 2", "VAE MLP latent 4", "VAE MLP latent 2"]
    at.multiselect(key="cm_models").set_value(chosen).run()
    assert model_rows(ok(at)) == chosen, "in the order picked"
    assert markdown_table(at, "model").index == chosen
    assert at.radio(key="cm_view").value == "tsne"
    at.radio(key="cm_view").set_value("pca").run()
    assert any("drawn by PCA" in c.value for c in ok(at).caption)


def test_fewer_than_two_models_ask_for_more(open_app):
    at = ok(open_app(PAGE))
    at.multiselect(key="cm_models").set_value(["VAE MLP latent 4"]).run()
    assert any("at least two models" in i.value for i in ok(at).info)
    assert not [m for m in at.markdown if m.value.startswith("| model |")]


def test_the_choice_comes_from_the_address_and_a_bad_name_is_dropped(open_app):
    at = ok(open_app(PAGE, query={"cm_models": ["VAE MLP latent 4", "no such model", "DAE MLP latent 2"]}))
    assert at.multiselect(key="cm_models").value == ["VAE MLP latent 4", "DAE MLP latent 2"]
    assert model_rows(at) == ["VAE MLP latent 4", "DAE MLP latent 2"]


def test_the_images_are_the_same_for_every_model(open_app, app_checkpoints):
    at = ok(open_app(PAGE, query={"cm_pick": "random", "cm_seed": "3"}))
    (caption,) = [c for img in at.image for c in img.captions if c.startswith("test images ")]
    shown = [int(i) for i in caption.removeprefix("test images ").split(", ")]
    assert len(shown) == 10 and len(set(shown)) == 10
    assert len(at.image) == 1 + 2 + 1, "the originals, one row per model, the maps"
    entries = [e for e in loaders.catalog().good if loaders.model_label(e) in ("AE MLP latent 2", "VAE MLP latent 2")]
    assert len(entries) == 2
    for e in entries:  # what each row shows: that model's reconstructions of those images
        recon = loaders.reconstructions(*loaders.key(e), tuple(shown), _entry=e)
        assert recon.shape == (10, 28, 28)


def test_shared_span_is_one_square_that_holds_the_codes():
    rng = np.random.default_rng(0)
    wide, narrow = rng.normal(0, 10, (2000, 2)), rng.normal(0, 1, (2000, 2)) + [5, 0]
    span = loaders.shared_span([wide, narrow])
    assert span is not None
    lo, hi = span  # the same range on both axes: a square
    p_lo, p_hi = np.percentile(np.concatenate([wide, narrow]), [0.5, 99.5], axis=0)
    assert lo < p_lo.min() and hi > p_hi.max(), "every axis's bulk inside"
    assert hi - lo < 1.2 * (p_hi - p_lo).max(), "and not much more"
    assert loaders.shared_span([]) is None


def test_maps_on_the_same_limits_are_drawn_on_one_scale():
    from PIL import Image

    rng = np.random.default_rng(0)
    wide = rng.uniform(-10, 10, (800, 2))
    narrow = wide / 4
    labels = np.zeros(800, np.int64)
    limits = [((-10, -10), (10, 10))] * 2
    picture = np.asarray(Image.open(io.BytesIO(loaders.small_maps_picture(
        [("wide", wide, labels), ("narrow", narrow, labels)], ["zero"], limits=limits))).convert("L"))
    panel, gap, top = 300, 8, 24

    def inked_width(k: int) -> int:
        inside = picture[top + 10: top + panel - 10, k * (panel + gap) + 10: k * (panel + gap) + panel - 10]
        cols = np.flatnonzero((inside < 200).any(axis=0))
        return int(cols[-1] - cols[0])

    assert inked_width(1) == pytest.approx(inked_width(0) / 4, rel=0.15), "a quarter of the spread, a quarter as wide"
    free = np.asarray(Image.open(io.BytesIO(loaders.small_maps_picture(
        [("narrow", narrow, labels)], ["zero"]))).convert("L"))
    cols = np.flatnonzero((free[top + 10: top + panel - 10, 10: panel - 10] < 200).any(axis=0))
    assert cols[-1] - cols[0] > 0.8 * (panel - 20), "without limits a map fills its panel"


def test_the_legend_wraps_to_the_pictures_width():
    from PIL import Image

    coords, labels = np.zeros((10, 2)), np.arange(10)
    names = [f"a rather long class name {c}" for c in range(10)]
    one = Image.open(io.BytesIO(loaders.small_maps_picture([("m", coords, labels)], names)))
    five = Image.open(io.BytesIO(loaders.small_maps_picture([("m", coords, labels)] * 5, names)))
    assert one.height > five.height, "more rows of legend under a narrower picture"

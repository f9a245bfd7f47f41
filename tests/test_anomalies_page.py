"""The Anomalies page (issue 15) in AppTest: it opens for every model, its controls change what
it shows, its scores are the report's, and the user's own image is scored and judged."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import anomaly
from explorer.checkpoints import load_checkpoint
from explorer.data import load_dataset
from tests.helpers import live_charts
from tests.test_app import ok
from tests.test_hostile_urls import PLACED

PAGE = "anomalies"


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def threshold_caption(at) -> str:
    return next(c for c in captions(at) if c.startswith("Threshold **"))


class Table(dict):
    """A Markdown table the page shows: column name -> its cells; ``index``, the first column."""

    @property
    def index(self) -> list[str]:
        return self[next(iter(self))]


def markdown_table(at, first_column: str) -> Table:
    text = next(m.value for m in at.markdown if m.value.startswith(f"| {first_column} |"))
    lines = [line.strip().strip("|").split(" | ") for line in text.splitlines()]
    head, rows = [h.strip() for h in lines[0]], [[c.strip() for c in r] for r in lines[2:]]
    return Table({h: [r[i] for r in rows] for i, h in enumerate(head)})


def verdicts(at) -> Table:
    """The threshold's verdict table, by column."""
    return markdown_table(at, "anomalies")


def metric(at, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


@pytest.mark.parametrize("kind", ["AE", "DAE", "VAE"])
@pytest.mark.parametrize("z", ["2", "4"])
def test_the_page_opens_for_every_model(open_app, kind, z):
    at = ok(open_app(PAGE, query={"kind": kind, "z": z}))
    assert at.title[0].value == "Anomalies"
    assert not at.error, [e.value for e in at.error]
    assert not at.get("plotly_chart")
    (figure,) = live_charts(at)  # the histograms and the ROC curves, side by side in one chart
    assert {t.get("xaxis", "x") for t in figure["data"]} == {"x", "x2"}
    assert "template" not in figure["layout"], "the component gives it Streamlit's look"
    assert threshold_caption(at)
    table = verdicts(at)
    assert list(table.index) == ["Fashion-MNIST test", "MNIST test, Gaussian σ = 0.5"]
    assert all(0 <= float(a) <= 1 for a in table["AUC"])
    for key in ("an_most", "an_least"):  # one pill per image of each gallery, none lit
        labels = at.pills(key=key).options
        assert [o.split(" · ")[0] for o in labels] == [f"#{j + 1}" for j in range(8)], labels
        assert at.pills(key=key).value is None
    assert ("The bound against the likelihood" in [s.value for s in at.subheader]) == (kind == "VAE")


def test_the_threshold_moves_the_verdicts(open_app):
    at = ok(open_app(PAGE))
    before = threshold_caption(at)
    caught_before = list(verdicts(at)["caught"])
    at.slider(key="an_k").set_value(6.0).run()
    after = threshold_caption(ok(at))
    assert before != after
    line = live_charts(at)[0]["layout"]["shapes"][0]["x0"]  # the chart's dashed line: the threshold stated
    assert f"{line:.4g}" == after.split("**")[1]
    assert list(verdicts(at)["caught"]) != caught_before or "0.0%" in after


def test_the_rule_and_the_corruption_change_the_figures(open_app):
    at = ok(open_app(PAGE))
    joint = verdicts(at)["AUC"]
    at.selectbox(key="an_rule").set_value("raw").run()
    raw = verdicts(ok(at))["AUC"]
    assert raw != joint
    at.radio(key="an_noise").set_value("block").run()
    assert verdicts(ok(at)).index[1] == "MNIST test, block 12 px"


def test_a_gallery_image_shows_the_reports_score(open_app, app_checkpoints):
    at = ok(open_app(PAGE, query={"kind": "AE", "z": "4"}))
    at.pills(key="an_most").set_value(0).run()
    ok(at)
    assert at.pills(key="an_most").value == 0 and at.pills(key="an_least").value is None, "its pill is lit"
    heading = next(s.value for s in at.subheader if s.value.startswith("Test image "))
    index = int(heading.split()[2].rstrip(":"))
    assert at.query_params["an_img"] == str(index)
    shown = metric(at, "reconstruction error")
    from tools import report

    model = load_checkpoint(app_checkpoints / "mnist-ae-mlp-z4").model.eval()
    data = report.AnomalyData({"mnist": (load_dataset("mnist", "train").images.numpy(),
                                         load_dataset("mnist", "test").images.numpy())})
    every = report.anomaly_scores_for(model, "mnist", data, ("test",))["test"][0]  # the report's: the whole split
    assert shown == f"{every[index]:.1f} nats"
    assert every[index] == pytest.approx(every.max(), rel=0.3), "the most anomalous gallery opens near the top"
    # the rule's statistic ranks it first among the test images
    assert "Percentile among the test images: **100.0**" in "\n".join(m.value for m in at.markdown)
    at.button(key="an_close").click().run()
    assert "an_img" not in ok(at).query_params
    assert at.pills(key="an_most").value is None, "closed: no pill lit"
    at.pills(key="an_least").set_value(7).run()
    least = next(s.value for s in ok(at).subheader if s.value.startswith("Test image "))
    assert least != heading and at.pills(key="an_least").value == 7 and at.pills(key="an_most").value is None
    at.pills(key="an_least").set_value(None).run()
    assert "an_img" not in ok(at).query_params, "a click on the lit pill closes the closer look"


def test_a_link_to_a_test_image_and_a_bad_one(open_app):
    at = ok(open_app(PAGE, query={"an_img": "123"}))
    assert any(s.value.startswith("Test image 123:") for s in at.subheader)
    for bad in ("10000", "-1", "x"):
        at = ok(open_app(PAGE, query={"an_img": bad}))
        assert not any(s.value.startswith("Test image ") for s in at.subheader)


def test_your_own_image_is_scored_and_judged(open_app, app_checkpoints):
    at = ok(open_app(PAGE, query={"own_img": PLACED["own_img"], "an_src": "draw"}))
    text = "\n".join(m.value for m in at.markdown)
    assert "Percentile among the MNIST test images" in text
    assert "At this threshold your image is **normal**." in text or "At this threshold your image is **anomalous**." in text
    from explorer.ui.state import parse_image

    image = parse_image(PLACED["own_img"]).astype(np.float32) / 255.0
    model = load_checkpoint(app_checkpoints / "mnist-vae-mlp-z2").model.eval()
    assert metric(at, "−ELBO") == f"{anomaly.scores(model, image[None])[0]:.1f} nats"


def test_the_lesson_names_the_failure_only_where_it_is_measured(open_app):
    at = ok(open_app(PAGE))
    lesson = at.info[0].value
    assert lesson.startswith("**Raw against corrected.**") or lesson.startswith("**The known failure, measured here.**")
    auc = float(lesson.split("AUC is **")[1].split("**")[0])
    assert (auc < 0.5) == lesson.startswith("**The known failure")


def test_the_vae_compares_its_bound_with_the_likelihood(open_app):
    at = ok(open_app(PAGE, query={"kind": "VAE", "z": "2"}))
    at.button(key="an_iwae").click().run()
    gap = [float(g) for g in markdown_table(ok(at), "images")["gap (nats)"]]
    assert len(gap) == 2 and all(g > -1.0 for g in gap), "the IWAE estimate is not above the bound (within noise)"


def test_scores_are_stored_between_server_starts_and_a_damaged_store_is_recomputed(app_checkpoints, monkeypatch,
                                                                                   tmp_path):
    from explorer.checkpoints import list_checkpoints
    from explorer.ui import loaders

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "store"))
    entry = next(e for e in list_checkpoints(app_checkpoints) if e.id == "mnist-dae-mlp-z2")

    def fresh_process():
        for cache in (loaders._anomaly_scores, loaders._reference_images, loaders._test_bits):
            cache.clear()

    fresh_process()
    first = loaders.anomaly_scores(entry)
    stored = sorted(p.name for p in (tmp_path / "store" / "anomaly").iterdir())
    assert any(n.startswith(entry.meta.weights_sha256 + "-test-") for n in stored)
    assert any(n.startswith("bits-mnist-reference-") for n in stored)

    def refuse(*args, **kwargs):
        raise AssertionError("computed again although it was stored")

    fresh_process()
    with monkeypatch.context() as m:
        m.setattr(anomaly, "scores", refuse)
        m.setattr(anomaly, "complexity_bits", refuse)
        again = loaders.anomaly_scores(entry)
    np.testing.assert_array_equal(again.test.raw, first.test.raw)
    np.testing.assert_array_equal(again.reference.bits, first.reference.bits)

    test_file = next((tmp_path / "store" / "anomaly").glob(f"{entry.meta.weights_sha256}-test-*"))
    test_file.write_bytes(b"not a safetensors file")  # damaged (or swapped): computed again, and replaced
    fresh_process()
    third = loaders.anomaly_scores(entry)
    np.testing.assert_allclose(third.test.raw, first.test.raw, rtol=1e-6)
    assert test_file.read_bytes() != b"not a safetensors file"


def test_a_links_noise_level_is_snapped_onto_the_slider(open_app, monkeypatch):
    from explorer.ui import loaders

    asked = []
    real = loaders.rule_view
    monkeypatch.setattr(loaders, "rule_view", lambda e, r, noise, level: asked.append((noise, level)) or real(e, r, noise, level))
    ok(open_app(PAGE, query={"an_sigma": "0.3712345"}))
    assert ("gaussian", 0.35) in asked or ("gaussian", 0.4) in asked
    assert all(round(level / 0.05, 6).is_integer() for noise, level in asked if noise == "gaussian"), asked


def test_the_page_goes_on_without_the_other_dataset(open_app, monkeypatch):
    from explorer.data import DataError
    from explorer.ui import loaders

    real = loaders._test_split.__wrapped__

    def no_fashion(name, expected):
        if name == "fashion":
            raise DataError("no Fashion-MNIST here: run `python train.py --download` (a test's stand-in)")
        return real(name, expected)

    def forget():
        loaders._anomaly_scores.clear()
        loaders._rule_base.clear()
        loaders._rule_view.clear()

    forget()
    monkeypatch.setattr(loaders, "_test_split", no_fashion)
    try:
        at = ok(open_app(PAGE, query={"kind": "DAE"}))
        assert any("Fashion-MNIST test images are not on this machine" in w.value for w in at.warning)
        assert list(verdicts(at).index) == ["MNIST test, Gaussian σ = 0.5"]
        assert len(live_charts(at)) == 1
    finally:
        forget()  # not the stand-in's missing dataset for the next tests


def test_a_gallery_is_the_rules_extremes_made_once(app_checkpoints, monkeypatch):
    import io

    from PIL import Image

    from explorer.checkpoints import list_checkpoints
    from explorer.ui import loaders

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    entry = next(e for e in list_checkpoints(app_checkpoints) if e.id == "mnist-ae-mlp-z4")
    loaders._anomaly_gallery.clear()
    order = loaders.rule_base(entry, "raw").order
    most, png = loaders.anomaly_gallery(entry, "raw", True, 8, anomaly.HEAT_MAX, 3)
    least, _ = loaders.anomaly_gallery(entry, "raw", False, 8, anomaly.HEAT_MAX, 3)
    assert list(most) == list(order[::-1][:8]) and list(least) == list(order[:8])
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.size == (8 * 32 * 3, 3 * 32 * 3), "3 rows of 8 tiles, 3 times larger"

    def refuse(*args, **kwargs):
        raise AssertionError("made again although it was cached")

    monkeypatch.setattr(anomaly, "pixel_errors", refuse)
    assert loaders.anomaly_gallery(entry, "raw", True, 8, anomaly.HEAT_MAX, 3)[1] is png

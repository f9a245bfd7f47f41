"""Latent arithmetic (issue 16, part 2): ``explorer.arithmetic`` and its page."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import arithmetic
from tests.test_app import ok

PAGE = "arithmetic"


def test_class_means_and_the_vector_between_them():
    codes = np.array([[0, 0], [2, 0], [10, 10], [12, 10]], np.float32)
    means = arithmetic.class_means(codes, np.array([0, 0, 1, 1]), 3)
    assert means[:2].tolist() == [[1, 0], [11, 10]]
    assert np.isnan(means[2]).all(), "a class without codes"
    moved = arithmetic.along(codes[0], means[1] - means[0], [0, 0.5, 1])
    assert moved.tolist() == [[0, 0], [5, 5], [10, 10]]


def test_an_analogy_and_its_reading():
    a, b, c = np.array([3.0, 1.0]), np.array([1.0, 1.0]), np.array([0.0, 5.0])
    assert arithmetic.analogy(a, b, c).tolist() == [2.0, 5.0]
    codes = np.array([[0, 0], [0, 0.1], [5, 5], [5, 5.1], [5, 4.9]])
    labels = np.array([0, 0, 1, 1, 1])
    assert arithmetic.nearest_reading(codes, labels, np.array([4.8, 5.0]), k=3) == (1, 1.0)
    cls, share = arithmetic.nearest_reading(codes, labels, np.array([2.4, 2.4]), k=4)
    assert (cls, share) == (0, 0.5), "a tie goes to the nearer code's class"


def image_captions(at) -> list[str]:
    return [c for img in at.image for c in img.captions]


@pytest.mark.parametrize("kind", ["AE", "VAE"])
def test_the_page_moves_an_image_towards_another_class(open_app, kind):
    at = ok(open_app(PAGE, query={"kind": kind, "z": "4"}))
    assert at.title[0].value == "Latent arithmetic"
    strip = next(c for c in image_captions(at) if c.startswith("at 0, 0.25"))
    assert len(strip.split(": ", 1)[1].split(", ")) == 7, "a reading under each step"
    assert any(c.startswith("at 1: reads it as ") and c.endswith(" %)") for c in image_captions(at)), "the classifier's"
    at.slider(key="ar_t").set_value(0.5).run()
    assert any(c.startswith("at 0.5: reads it as ") for c in image_captions(ok(at))), "the slider moves the large image"


def test_the_vector_from_a_class_to_itself_is_zero(open_app):
    at = ok(open_app(PAGE, query={"ar_cls": "4", "ar_to": "4"}))
    assert any("the vector is zero" in c.value for c in at.caption)


def test_the_vector_can_start_at_another_class_than_the_images(open_app, app_checkpoints, monkeypatch):
    """A 4 moved by the 1s-to-7s vector: the large image is the 4's code plus that difference."""
    from explorer import inference
    from explorer.ui import common, loaders

    shown: dict[str, np.ndarray] = {}  # what the page draws, by caption
    monkeypatch.setattr(common, "show", lambda x, caption=None, **kw: shown.__setitem__(caption, np.asarray(x)))
    at = ok(open_app(PAGE, query={"ar_cls": "4", "ar_from": "1", "ar_to": "7", "ar_t": "1"}))
    assert at.selectbox(key="ar_from").value == 1
    assert any("from the mean code of 1 to the mean code of 7" in c.value for c in at.caption)
    entry = next(e for e in loaders.catalog().good if e.id == "mnist-vae-mlp-z2")
    model, stored = loaders.model(entry), loaders.codes(entry)
    means = arithmetic.class_means(stored["codes"], stored["labels"], 10)
    images, labels = loaders.test_split(entry)
    index = int(np.flatnonzero(labels == 4)[0])  # the picker's first 4
    code = inference.embed(model, (images[index].astype(np.float32) / 255.0)[None])[0]
    want = inference.decode(model, code + (means[7] - means[1]))[0]
    own = inference.decode(model, code + (means[7] - means[4]))[0]
    (large,) = [x for caption, x in shown.items() if caption and caption.startswith("at 1: ")]
    assert np.allclose(large, want, atol=1e-5) and not np.allclose(large, own, atol=1e-3)
    at = ok(open_app(PAGE, query={"ar_cls": "4", "ar_to": "7", "ar_t": "1"}))
    assert at.selectbox(key="ar_from").value == -1, "by default, the image's own class"
    assert any("from the mean code of its class to the mean code of 7" in c.value for c in at.caption)


def test_the_analogy_decodes_a_minus_b_plus_c(open_app, app_checkpoints):
    from explorer import inference
    from explorer.ui import loaders

    at = ok(open_app(PAGE, query={"kind": "AE", "z": "4"}))
    shown = [c for c in image_captions(at) if c.startswith(("a: ", "b: ", "c: ", "a − b + c"))]
    assert [c.split(":")[0] for c in shown] == ["a", "b", "c", "a − b + c"]
    entry = next(e for e in loaders.catalog().good if e.id == "mnist-ae-mlp-z4")
    images, _ = loaders.test_split(entry)
    idx = [int(c.split("test image ")[1]) for c in shown[:3]]
    z = inference.embed(loaders.model(entry), images[idx].astype(np.float32) / 255.0)
    result = arithmetic.analogy(*z)
    reader = loaders.reader("mnist")
    assert reader is not None
    probs = reader.probabilities(inference.decode(loaders.model(entry), result))[0]
    assert shown[3].endswith(f"reads it as {entry.meta.dataset.class_names[probs.argmax()]} ({probs.max() * 100:.0f} %)")


def test_without_a_classifier_the_nearest_codes_read_the_result(open_app, app_checkpoints, tmp_path):
    import shutil

    from explorer import inference
    from explorer.ui import loaders

    folder = tmp_path / "checkpoints"
    shutil.copytree(app_checkpoints, folder, ignore=shutil.ignore_patterns("classifiers"))
    at = ok(open_app(PAGE, query={"kind": "AE", "z": "4"}, folder=folder))
    shown = [c for c in image_captions(at) if c.startswith(("a: ", "b: ", "c: ", "a − b + c"))]
    entry = next(e for e in loaders.catalog().good if e.id == "mnist-ae-mlp-z4")
    images, _ = loaders.test_split(entry)
    idx = [int(c.split("test image ")[1]) for c in shown[:3]]
    result = arithmetic.analogy(*inference.embed(loaders.model(entry), images[idx].astype(np.float32) / 255.0))
    stored = loaders.codes(entry)
    cls, _ = arithmetic.nearest_reading(stored["codes"], stored["labels"], result)
    assert f"reads as {entry.meta.dataset.class_names[cls]} (" in shown[3] and "nearest test codes" in shown[3]

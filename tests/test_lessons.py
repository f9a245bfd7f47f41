"""Lessons (issue 17, part 3): one section per course experiment, each with a live figure, the
seed's number beside ours where they measure the same thing, and a link that opens the page that
explores it with its settings; on the shipped checkpoints and, without the seeds' networks, saying
how to train them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from explorer.seeds import SEED_RUNS
from explorer.ui.common import CHOSEN
from tests.test_app import ok

PAGE = "lessons"
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"
TITLES = ("1 · PCA", "2 · How big", "3 · Holes", "4 · Denoising", "5 · Convolution", "6 · Generation")


LINK = re.compile(r"\[([^\]]+)\]\(([a-z_]+)\?([^)]*)\)")


def links(at) -> list[tuple[str, str, dict[str, list[str]]]]:
    """(label, page's url path, query parameters) of every lesson's link (a relative address)."""
    return [(label, page, parse_qs(query)) for m in at.markdown for label, page, query in LINK.findall(m.value)]


@pytest.fixture(scope="module")
def shipped_lessons():
    """The page on the shipped checkpoints, run once for this module's tests (it measures all of them)."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_CHECKPOINTS", str(SHIPPED))
        at = AppTest.from_file(APP, default_timeout=120)
        at.switch_page(f"explorer/ui/pages/{PAGE}.py")
        yield ok(at.run())


def test_it_is_first_in_the_navigation():
    text = (Path(__file__).resolve().parents[1] / "explorer" / "ui" / "frame.py").read_text()
    assert text.index('"lessons.py"') < text.index('"latent_map.py"')


def test_every_lesson_is_there_in_the_courses_order(shipped_lessons):
    at = shipped_lessons
    headers = [h.value for h in at.header]
    assert [next(i for i, h in enumerate(headers) if h.startswith(t)) for t in TITLES] == list(range(6))
    assert not at.info, [i.value for i in at.info]  # every model a lesson needs is shipped
    assert len(at.image) >= 6  # a figure per lesson (strips, planes, samples)
    assert len(at.get("plotly_chart")) == 1  # the latent-size lesson's chart


def test_the_seeds_numbers_stand_beside_ours(shipped_lessons):
    text = "\n".join(m.value for m in shipped_lessons.markdown)
    for r in SEED_RUNS:
        if r.reported is not None:
            assert f"{r.reported:g}" in text, r.id
    # ours, from the checkpoints: seed 000's VAE on MNIST, training and test loss
    from explorer.checkpoints import read_meta

    meta = read_meta(SHIPPED / "mnist-vae-conv4-z2")
    assert f"{meta.test_metrics.loss:.2f}" in text
    metrics = {m.label: m.value for m in shipped_lessons.metric}
    assert metrics["linear AE, test MSE per pixel"] == f"{read_meta(SHIPPED / 'fashion-ae-linear-z32').test_metrics.mse:.4f}"
    assert float(metrics["angle between their subspaces (median)"].rstrip("°")) < 60  # a random subspace's is ~85°


def test_each_lesson_links_to_its_page_with_its_settings(shipped_lessons):
    found = links(shipped_lessons)
    pages = [page for _, page, _ in found]
    for page in ("compare", "compare_models", "latent_grid", "denoise", "generate", "anomalies"):
        assert page in pages, (page, pages)
    grid = next(q for label, p, q in found if p == "latent_grid" and "AE's" in label)
    assert grid["kind"] == ["AE"] and grid["z"] == ["2"] and grid["arch"] == ["MLP 512"] and grid["dataset"] == ["MNIST"]
    four = next(q for _, p, q in found if p == "compare_models" and len(q.get("cm_models", [])) == 4)
    assert "AE CONV latent 64" in four["cm_models"] and "AE LINEAR latent 64" in four["cm_models"]


@pytest.mark.parametrize("which", range(9))
def test_a_lessons_link_opens_its_page_on_the_model_it_names(shipped_lessons, which, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    found = links(shipped_lessons)
    if which >= len(found):
        pytest.skip("fewer links")
    label, page, query = found[which]
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(SHIPPED))
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v if len(v) > 1 else v[0]
    at.switch_page(f"explorer/ui/pages/{page}.py")  # each page's url path is its file's name
    ok(at.run())
    chosen = at.session_state[CHOSEN]
    want = (query["dataset"][0].lower().replace("-mnist", ""), query["kind"][0].lower(), query["z"][0])
    assert chosen.split("-")[0] == ("fashion" if want[0] == "fashion" else "mnist") and f"-{want[1]}-" in chosen, (label, chosen)
    assert chosen.endswith(f"-z{want[2]}"), (label, chosen)
    if "arch" in query:
        from explorer.checkpoints import read_meta
        from explorer.vocab import arch_label

        assert arch_label(read_meta(SHIPPED / chosen).architecture) == query["arch"][0], (label, chosen)
    if "cm_models" in query:
        assert at.multiselect(key="cm_models").value == query["cm_models"], label
    if "cmp_pca" in query:
        assert at.toggle(key="cmp_pca").value is True
    if "noise_sigma" in query:
        assert at.slider(key="noise_sigma").value == float(query["noise_sigma"][0])


def test_without_the_seeds_networks_each_lesson_says_how_to_train_them(open_app):
    at = ok(open_app(PAGE))  # the tests' small folder: MLPs at latent sizes 2 and 4 only
    assert len([h for h in at.header if h.value.startswith(TITLES)]) == 6
    assert at.info and all("python train.py --set seeds" in i.value for i in at.info)


@pytest.mark.parametrize("arch", ["<script>alert(1)</script>", "Conv 32-64", "MLP 512", ""])
def test_an_architecture_in_the_address_that_is_not_offered_falls_back(arch, monkeypatch):
    """The sidebar's Architecture choice on the shipped folder: a hand-edited or foreign value (the
    conv AE's for a VAE) leaves the sweep's MLP chosen, with no error."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(SHIPPED))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(dataset="MNIST", kind="VAE", z="2", arch=arch)
    ok(at.run())
    assert at.session_state[CHOSEN] == "mnist-vae-mlp-z2"
    assert at.selectbox(key="arch").options == ["Conv 32-64-64-64 (seed 000's VAE)", "MLP 512-256"]
    at.selectbox(key="arch").select_index(0).run()
    assert ok(at).session_state[CHOSEN] == "mnist-vae-conv4-z2"


def test_the_holes_are_measured_not_only_drawn(shipped_lessons):
    # one figure per plane: the AE's, seed 000's conv VAE's and the sweep's VAE's, left to right
    empty = [float(m.value.rstrip("%")) for m in shipped_lessons.metric if m.label == "points with no test code near"]
    assert len(empty) == 3 and empty[0] > empty[2], empty
    text = "\n".join(m.value for m in shipped_lessons.markdown)
    assert f"The AE's plane has {empty[0]:.0f}% of its points far from every test code" in text

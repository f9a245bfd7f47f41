"""Classroom-ready (2), issue 19, in a real browser: a drawing placed on the map by its link and
kept through a reload and a shared link, the presentation mode (the sidebar folds, pictures
double, the way back), the interpolation's Play, and the layout fixes (the canvas toolbar
off its caption, "Nearest neighbours" whole at 1280 px, Generate's pick framed, not covered).
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

if not Path("/usr/bin/chromium").exists():
    pytest.skip("Chromium is not installed (/usr/bin/chromium); install it with `apt-get install -y chromium` "
                "to run the browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")

from tools import browser  # noqa: E402

PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'
GRID_IFRAME = 'iframe[title*="streamlit_image_coordinates"]'


@pytest.fixture(scope="module")
def server(app_checkpoints):
    proc, url, _ = browser.start_server(app_checkpoints)
    yield url
    browser.stop_server(proc)


@pytest.fixture(scope="module")
def pw_browser(server):
    with sync_api.sync_playwright() as pw:
        b = browser.launch(pw)
        yield b
        b.close()


@pytest.fixture
def page(pw_browser):
    p = pw_browser.new_page(viewport={"width": 1280, "height": 1000})
    p.set_default_timeout(30000)
    yield p
    p.close()


def open_page(page, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(ready)
    browser.wait_idle(page, settle=0.5)
    assert browser.exceptions(page) == []


def trace_names(page) -> list[str]:
    return page.evaluate(f"""() => document.querySelector('{PLOT}')._fullData.map(t => t.name)""")


def draw_a_stroke(page) -> None:
    box = page.locator("canvas").last.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 10, cy - 90)
    page.mouse.down()
    for k in range(1, 19):
        page.mouse.move(cx - 10 + k, cy - 90 + 10 * k, steps=2)
    page.mouse.up()


def test_a_drawing_goes_on_the_map_and_survives_a_reload_and_a_link(server, page, pw_browser):
    open_page(page, f"{server}/denoise?noise_src=draw", "canvas")
    draw_a_stroke(page)
    page.locator('[data-testid="stMetric"]', has_text="DAE vs clean").first.wait_for()
    page.get_by_role("link", name="Place it on the latent map").click()
    page.wait_for_selector(PLOT)
    browser.wait_idle(page, settle=0.5)
    page.locator("h3", has_text="Your image").wait_for()
    assert "your image" in trace_names(page)
    link = page.url
    assert "own_img=" in link and "own_map=1" in link

    page.reload()
    page.wait_for_selector(PLOT)
    browser.wait_idle(page, settle=0.5)
    assert "your image" in trace_names(page), "the drawing survives a reload"

    other = pw_browser.new_page(viewport={"width": 1280, "height": 1000})  # a classmate opens the link
    try:
        open_page(other, link, PLOT)
        assert "your image" in trace_names(other)
        open_page(other, link.replace("/?", "/latent_grid?"), GRID_IFRAME)
        other.locator('[data-testid="stCaptionContainer"]', has_text="magenta ring").first.wait_for()
        open_page(other, link.replace("/?", "/denoise?noise_src=draw&"), '[data-testid="stMetric"]')
        assert other.locator('[data-testid="stCaptionContainer"]', has_text="Your image from before").count() == 1
    finally:
        other.close()


def natural_width(page, caption: str) -> int:
    img = page.locator('[data-testid="stImage"]', has_text=caption).first.locator("img")
    img.wait_for()
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    return int(img.evaluate("(el) => el.naturalWidth"))


def test_presentation_mode_folds_the_sidebar_doubles_pictures_and_has_a_way_back(server, page):
    open_page(page, f"{server}/?map_img=7", PLOT)
    plain = natural_width(page, "the test image")
    assert page.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "false"

    open_page(page, f"{server}/?map_img=7&present=true", PLOT)
    assert natural_width(page, "the test image") == 2 * plain
    page.wait_for_function("""() => document.querySelector('[data-testid="stSidebar"]')
                                   .getAttribute('data-collapsed') === 'true'""")
    assert page.get_by_role("button", name="Exit presentation").is_visible()

    page.get_by_role("button", name="Exit presentation").click()
    page.wait_for_function("""() => document.querySelector('[data-testid="stSidebar"]')
                                   .getAttribute('data-collapsed') === 'false'""")
    browser.wait_idle(page, settle=0.5)
    assert "present=" not in page.url
    assert natural_width(page, "the test image") == plain


def slider_value(page, label: str) -> float:
    return float(page.locator('[data-testid="stSlider"]', has_text=label).locator('input[type="range"]')
                 .input_value())


def test_play_steps_the_interpolation_by_itself_and_stops_at_b(server, page):
    open_page(page, f"{server}/interpolate?interp_t=0.6", '[data-testid="stImage"]')
    before = page.locator('[data-testid="stImage"]', has_text="decoded at t").first.locator("img").get_attribute("src")
    page.get_by_role("button", name="Play").click()
    page.get_by_role("button", name="Pause").wait_for()
    time.sleep(1.5)
    t = slider_value(page, "t: 0 is A")
    assert 0.6 < t <= 1.0, t
    after = page.locator('[data-testid="stImage"]', has_text="decoded at t").first.locator("img").get_attribute("src")
    assert after != before
    page.get_by_role("button", name="Play").wait_for(timeout=20000)  # it stops at B by itself
    browser.wait_idle(page, settle=0.5)
    assert slider_value(page, "t: 0 is A") == 1.0
    assert "interp_t=1" in page.url
    assert browser.exceptions(page) == []


def boxes_overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_the_canvas_toolbar_leaves_its_caption_readable(server, page):
    open_page(page, f"{server}/denoise?noise_src=draw", "canvas")
    draw_a_stroke(page)  # the toolbar shows once there is something to undo
    page.locator('[data-testid="stMetric"]', has_text="DAE vs clean").first.wait_for()
    caption = page.locator('[data-testid="stCaptionContainer"]', has_text="Draw one digit").first.bounding_box()
    toolbar = [b.bounding_box() for b in page.locator("button.dc-icon-button").all()]
    assert len(toolbar) >= 3, "the canvas toolbar (undo, redo, reset) was not found"
    assert not any(boxes_overlap(b, caption) for b in toolbar if b)


def test_nearest_neighbours_is_not_cut_at_1280_px(server, page):
    open_page(page, server, PLOT)
    label = page.locator('[data-testid="stCheckbox"]', has_text="Nearest").first.locator(".stMarkdownEllipsis")
    assert label.inner_text().strip() == "Nearest neighbours"
    width, shown = label.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert width <= shown, f"the label needs {width} px and has {shown}: Streamlit cuts it with an ellipsis"


def grid_image(page) -> np.ndarray:
    from PIL import Image

    src = page.frame_locator(GRID_IFRAME).locator("#image").get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def test_generate_frames_the_picked_sample_without_covering_it(server, page):
    open_page(page, f"{server}/generate", GRID_IFRAME)
    page.wait_for_timeout(500)
    plain = grid_image(page)
    open_page(page, f"{server}/generate?gen_pick=12", GRID_IFRAME)  # row 2, column 3 of 8 per side
    page.wait_for_timeout(500)
    picked = grid_image(page)
    cell = plain.shape[1] / 8
    r, c = 1, 2
    y0, y1, x0, x1 = int(r * cell), int((r + 1) * cell), int(c * cell), int((c + 1) * cell)
    inner = (slice(y0 + 6, y1 - 6), slice(x0 + 6, x1 - 6))
    assert np.array_equal(picked[inner], plain[inner]), "the sample itself is not covered"
    edge = picked[y0 + 1, x0 + 4: x1 - 4]
    assert (np.abs(edge.astype(int) - [255, 212, 0]).max(axis=1) < 40).mean() > 0.9, "its tile is framed"

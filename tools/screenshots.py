"""Screenshots of every page of the running app, for the README and for looking at.

    python -m tools.screenshots [--checkpoints checkpoints] [--out docs/screenshots]

Starts the app's server on a free local port, opens each page in Debian's Chromium
(a tall viewport, since Streamlit scrolls an inner container), makes the page show
something worth seeing (a clicked point, a drawn sample), and saves ``<page>.png``. A page
longer than that (``WHOLE``) is taken whole: the viewport grows to its height.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tools import browser
from tools.common import ROOT


def drawn_seven() -> str:
    """A "7" drawn with a thick white stroke, as on the drawing canvas, in the link's form
    (``own_img``): the user's own image on the map and the grid."""
    import numpy as np
    from PIL import Image, ImageDraw

    from explorer.images import convert_drawing, to_uint8
    from explorer.ui.state import fmt_image

    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(70, 60), (210, 60), (120, 230)], fill=(255, 255, 255, 255), width=18, joint="curve")
    drawn = convert_drawing(np.asarray(canvas))
    assert drawn is not None
    return fmt_image(to_uint8(drawn))


SEVEN = drawn_seven()


# (file name, url path and query string, what to wait for)
PAGES = (
    ("1-latent-map", "?map_img=7", '[data-testid="stPlotlyChart"] .js-plotly-plot'),
    ("2-latent-grid", "latent_grid?grid_overlay=true&grid_pair=true&grid_at=0.8,-0.6",
     'iframe[title*="streamlit_image_coordinates"]'),
    ("3-interpolate", "interpolate", '[data-testid="stImage"]'),
    ("4-compare", "compare", '[data-testid="stPlotlyChart"] .js-plotly-plot'),
    ("5-denoise", "denoise", '[data-testid="stMetric"]'),
    # the page opens on this dataset's AE and VAE with a code of 2 numbers, their maps on one scale
    ("11-compare-models", "compare_models", '[data-testid="stImage"] img'),
    ("13-latent-arithmetic", "arithmetic?kind=VAE&z=8", '[data-testid="stImage"] img'),
    # the Interpolate page whole, for its walk of each dimension at the bottom: a Fashion-MNIST VAE
    # whose 8 dimensions are all used (z5 walks a sneaker into a dress)
    ("12-walk-each-dimension", "interpolate?dataset=Fashion-MNIST&kind=VAE&z=8", '.st-key-walk_click iframe'),
    ("6-generate", "generate?gen_pick=12", 'iframe[title*="streamlit_image_coordinates"]'),
    ("7-training-curves", "curves", '[data-testid="stPlotlyChart"] .js-plotly-plot'),
    ("8-your-image-on-the-map", "?own_map=1&own_img=" + SEVEN, '[data-testid="stPlotlyChart"] .js-plotly-plot'),
    ("9-your-image-on-the-grid", "latent_grid?own_map=1&own_img=" + SEVEN,
     'iframe[title*="streamlit_image_coordinates"]'),
    # a Fashion-MNIST VAE: the digits' lower -ELBO (Nalisnick's failure) is the page's lesson; the
    # closer look at the test image it finds most anomalous, a T-shirt (without that model the sidebar
    # picks another)
    ("10-anomalies", "anomalies?dataset=Fashion-MNIST&kind=VAE&z=8&an_img=8717", browser.live_plot("an_hist")),
    # the classifier's reading of the MNIST VAE's grid beside the AE's: class regions against holes
    ("14-grid-read-by-the-classifier", "latent_grid?kind=VAE&grid_read=true&grid_pair=true&grid_n=20&grid_at=0.8,-0.6",
     'iframe[title*="streamlit_image_coordinates"]'),
    # Generate whole: the samples coloured by their reading, and the census of 1,000 below them
    ("15-generate-read-by-the-classifier", "generate?gen_read=true&gen_pick=12", '[data-testid="stPlotlyChart"] .js-plotly-plot'),
    # Compare latent sizes whole, PCA under each size: the rows, the variance kept against PCA's
    # curve, the codes as features, the maps
    ("16-compare-against-pca", "compare?cmp_pca=true", '[data-testid="stPlotlyChart"] .js-plotly-plot'),
)
# pages taken whole: the Anomalies page (controls, charts, galleries and the closer look), Compare
# models (its maps, at the bottom), Interpolate (its walk, at the bottom), Generate (its census),
# Compare latent sizes (its charts)
WHOLE = {"10-anomalies", "11-compare-models", "12-walk-each-dimension", "15-generate-read-by-the-classifier",
         "16-compare-against-pca"}


# The Lessons page, whole, at a projector's and a laptop's size (issue 17: it must read well on both).
LESSONS = ("17-lessons", "lessons", '[data-testid="stImage"] img')

# Presentation mode at a projector's and a laptop's size: the viewport is what the room sees.
PRESENT_SIZES = ((1920, 1080), (1280, 800))
PRESENT_PAGES = (
    ("1-latent-map", "?present=true&map_img=7", '[data-testid="stPlotlyChart"] .js-plotly-plot'),
    ("2-latent-grid", "latent_grid?present=true&grid_at=0.8,-0.6", 'iframe[title*="streamlit_image_coordinates"]'),
    ("3-interpolate", "interpolate?present=true", '[data-testid="stImage"]'),
    ("5-denoise", "denoise?present=true", '[data-testid="stMetric"]'),
)


def shoot(page, url: str, path: Path, ready: str, timeout: float = 60000, whole: bool = False) -> list[str]:
    """Open ``url``, wait for ``ready`` and the app to be idle, save a screenshot; returns any
    exception texts shown on the page. ``whole``: the viewport grows to the height of the main
    area's content first (Streamlit scrolls it inside the page), then is set back."""
    page.goto(url)
    page.wait_for_selector(ready, timeout=timeout)
    browser.wait_idle(page, timeout=timeout, settle=0.5)
    time.sleep(1.0)  # let images and iframes paint
    size = page.viewport_size
    if whole and size:
        height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height))})
        browser.wait_idle(page, timeout=timeout, settle=0.5)
        time.sleep(1.0)  # the charts re-laid out
    try:
        page.screenshot(path=str(path))
    finally:
        if whole and size:
            page.set_viewport_size(size)
    return browser.exceptions(page)


def with_query(path: str, extra: str) -> str:
    """``path`` (a page and its query) with ``extra`` added; a key in both takes ``extra``'s value."""
    if not extra:
        return path
    page, _, own = path.partition("?")
    keys = {part.split("=", 1)[0] for part in extra.split("&")}
    kept = [part for part in own.split("&") if part and part.split("=", 1)[0] not in keys]
    return f"{page}?" + "&".join(kept + [extra])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints",
                   help="checkpoint folder the app reads (default: checkpoints/ beside app.py)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots",
                   help="where the PNGs go (default: docs/screenshots)")
    p.add_argument("--query", default="",
                   help="extra query string for every page, e.g. 'dataset=Fashion-MNIST&kind=VAE&z=2' (default: none)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="take only these screenshots (file names without .png, e.g. 2-latent-grid), none in "
                        "presentation mode (default: all)")
    args = p.parse_args(argv)
    pages = [x for x in PAGES if args.only is None or x[0] in args.only]
    lessons = args.only is None or LESSONS[0] in args.only
    if args.only and len(pages) + lessons != len(args.only):
        p.error(f"--only: no such screenshot among {', '.join(n for n, _, _ in (*PAGES, LESSONS))}")

    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    shipped = Path(args.checkpoints).resolve() == (ROOT / "checkpoints").resolve()
    proc, url, _ = browser.start_server(None if shipped else args.checkpoints)  # the sidebar then names checkpoints/
    problems = []
    try:
        with sync_playwright() as pw:
            b = browser.launch(pw)
            page = b.new_page(viewport=browser.VIEWPORT)
            for name, path, ready in pages:
                errors = shoot(page, f"{url}/{with_query(path, args.query)}", args.out / f"{name}.png", ready,
                               whole=name in WHOLE)
                print(f"{name}.png" + (f"  EXCEPTION: {errors}" if errors else ""))
                problems += errors
            for w, h in PRESENT_SIZES if lessons else ():
                page = b.new_page(viewport={"width": w, "height": h})
                name, path, ready = LESSONS
                errors = shoot(page, f"{url}/{with_query(path, args.query)}", args.out / f"{name}-{w}x{h}.png", ready,
                               whole=True)
                print(f"{name}-{w}x{h}.png" + (f"  EXCEPTION: {errors}" if errors else ""))
                problems += errors
            for w, h in PRESENT_SIZES if args.only is None else ():
                page = b.new_page(viewport={"width": w, "height": h})
                (args.out / "present").mkdir(exist_ok=True)
                for name, path, ready in PRESENT_PAGES:
                    errors = shoot(page, f"{url}/{path}" + (f"&{args.query}" if args.query else ""),
                                   args.out / "present" / f"{name}-{w}x{h}.png", ready)
                    print(f"present/{name}-{w}x{h}.png" + (f"  EXCEPTION: {errors}" if errors else ""))
                    problems += errors
            b.close()
    finally:
        log = browser.stop_server(proc)
    if problems:
        print(log[-3000:], file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The app's speed in a real browser: start time, click-to-image latency and server memory.

Called by ``python -m tools.bench`` (figures 4, 5 and 7 of the benchmark); runs alone as

    python -m tools.browser_bench [--checkpoints checkpoints] [--interactions 30] [--starts 3]

Everything goes through Debian's Chromium driven by Playwright, against ``streamlit run
app.py`` started on a free local port (``tools.browser``):

  start        from launching the server to the latent map's plotly chart visible in a fresh
               browser context, all checkpoints present; the median over ``starts`` fresh
               servers.
  clicks       from the input event (mouse click or key press) to the DOM showing the new
               result, polled on every animation frame inside the page: the printed
               coordinate and the decoded image (its ``<img>`` loaded) for a latent-grid click,
               the clicked point's test image for a latent-map click, the decoded image for
               one step of the interpolation slider. Every interaction has a distinct target,
               so each one really changes the output. Measured on the VAE with latent size 2
               that stores the most codes (Fashion-MNIST's: a 5,000-point map, the heaviest).
  memory       peak resident memory of the server process and its children (psutil, sampled
               every 50 ms in a thread) over the clicks and then every page for every
               checkpoint (each checkpoint opened from its link, its pages through the sidebar).

The machine's load average is kept beside the figures: other work on the same cores
(a training run, a test suite) slows everything measured here.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tools import browser
from tools.common import query, summary, tool_parser

PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'
GRID_IFRAME = 'iframe[title*="streamlit_image_coordinates"]'
TIMEOUT_MS = 30_000

# Every page: its URL path, its title, and what shows that it has rendered (as in
# tools/screenshots.py). The latent map is the default page: it lives at the root
# ("/latent_map" answers "Page not found").
PAGES = (
    ("", "Latent map", PLOT),
    ("latent_grid", "Latent grid", GRID_IFRAME),
    ("interpolate", "Interpolate", '[data-testid="stImage"]'),
    ("compare", "Compare latent sizes", PLOT),
    ("denoise", "Denoising playground", '[data-testid="stMetric"]'),
    ("generate", "Generate", GRID_IFRAME),
    ("curves", "Training curves", PLOT),
)
CLICK_NAMES = {"grid": "latent grid click → coordinate and decoded image",
               "map": "latent map click → its test image",
               "slider": "interpolation slider step → decoded image"}


class BenchError(RuntimeError):
    """The benchmark could not measure something; the message says what and where."""


# --------------------------------------------------------------------------- page helpers

def open_page(page, url: str, ready: str, timeout: float = TIMEOUT_MS) -> None:
    """Open ``url`` and wait until ``ready`` is there and the script run has finished."""
    page.goto(url)
    page.wait_for_selector(ready, timeout=timeout)
    browser.wait_idle(page, timeout=timeout)
    errors = browser.exceptions(page)
    if errors:
        raise BenchError(f"{url}: the page shows an exception: {errors[0][:500]}")


# JS: the text of the first st.text starting with ``prefix`` and the src of the first st.image
# whose caption starts with ``caption`` -- once the text differs from ``oldText`` (or equals
# ``wantText``), the src differs from ``oldSrc`` and that image has loaded; else false.
CHANGED = """([prefix, wantText, oldText, caption, oldSrc]) => {
  const t = [...document.querySelectorAll('[data-testid="stText"]')].map(e => e.textContent.trim())
            .find(s => s.startsWith(prefix));
  if (t === undefined || (wantText !== null ? t !== wantText : t === oldText)) return false;
  const fig = [...document.querySelectorAll('[data-testid="stImage"]')]
              .find(e => e.textContent.trim().startsWith(caption));
  const img = fig && fig.querySelector('img');
  if (!img || img.src === oldSrc || !img.complete || !img.naturalWidth) return false;
  return [t, img.src];
}"""
CURRENT = """([prefix, caption]) => {
  const t = [...document.querySelectorAll('[data-testid="stText"]')].map(e => e.textContent.trim())
            .find(s => s.startsWith(prefix));
  const fig = [...document.querySelectorAll('[data-testid="stImage"]')]
              .find(e => e.textContent.trim().startsWith(caption));
  const img = fig && fig.querySelector('img');
  return [t === undefined ? null : t, img ? img.src : null];
}"""


def timed(page, act, prefix: str, caption: str, want_text: str | None, what: str) -> tuple[float, str, str]:
    """Run ``act()`` (the input event) and wait, polling on every animation frame, until the
    text starting with ``prefix`` changed (or reads ``want_text``) and the image captioned
    ``caption`` shows a new, loaded picture. Returns (milliseconds, text, src)."""
    old_text, old_src = page.evaluate(CURRENT, [prefix, caption])
    t0 = time.perf_counter()
    act()
    try:
        handle = page.wait_for_function(CHANGED, arg=[prefix, want_text, old_text, caption, old_src],
                                        polling="raf", timeout=TIMEOUT_MS)
    except Exception as e:  # noqa: BLE001 - playwright's TimeoutError; say what was waited for
        now = page.evaluate(CURRENT, [prefix, caption])
        raise BenchError(f"{what}: the page did not update within {TIMEOUT_MS / 1000:.0f} s "
                         f"(text {now[0]!r}, expected {want_text or 'a change from ' + repr(old_text)}; "
                         f"image {'unchanged' if now[1] == old_src else 'changed'}; "
                         f"exceptions: {browser.exceptions(page)})") from e
    ms = (time.perf_counter() - t0) * 1000
    text, src = handle.json_value()
    return ms, text, src


# --------------------------------------------------------------------------- 4. start

def measure_start(b, checkpoints: Path, timeout: float = 60) -> dict:
    """Launch a fresh server; seconds until a fresh browser context shows the latent map."""
    context = b.new_context(viewport=browser.VIEWPORT)
    page = context.new_page()
    proc = None
    try:
        t0 = time.perf_counter()
        proc, url, healthy = browser.start_server(checkpoints, timeout=timeout)
        page.goto(url, timeout=timeout * 1000)
        page.locator(PLOT).first.wait_for(state="visible", timeout=timeout * 1000)
        rendered = time.perf_counter() - t0
        browser.wait_idle(page, timeout=timeout * 1000, settle=0)
        idle = time.perf_counter() - t0
        errors = browser.exceptions(page)
        if errors:
            raise BenchError(f"the first page shows an exception: {errors[0][:500]}")
        return {"healthy_s": healthy, "rendered_s": rendered, "idle_s": idle}
    finally:
        context.close()
        if proc is not None:
            browser.stop_server(proc)


# --------------------------------------------------------------------------- 5. clicks

def grid_targets(n: int, width: float, height: float) -> list[tuple[int, int]]:
    """``n`` distinct pixels spread over the grid image, consecutive ones far apart, none at
    the centre (the starting point)."""
    cols = int(np.ceil(np.sqrt(n * width / height)))
    rows = int(np.ceil(n / cols))
    cells = [((c + 0.5) / cols, (r + 0.5) / rows) for r in range(rows) for c in range(cols)]
    order = np.random.default_rng(0).permutation(len(cells))[:n]
    out = []
    for k in order:
        fx, fy = cells[k]
        x, y = int(fx * width), int(fy * height)
        if abs(fx - 0.5) < 1e-9 and abs(fy - 0.5) < 1e-9:
            x += int(width / (3 * cols))
        out.append((x, y))
    return out


def grid_clicks(page, url: str, qs: str, n: int, extent: float, caption: str, spacing: str = "even") -> list[float]:
    """Click ``n`` distinct spots of the latent grid; each time wait for the new coordinate
    text and the newly decoded image (captioned ``caption``)."""
    from explorer.latent import pixel_to_plane

    open_page(page, f"{url}/latent_grid?{qs}", GRID_IFRAME)
    image = page.frame_locator(GRID_IFRAME).locator("#image")
    image.wait_for()
    box = image.bounding_box()
    times = []
    for k, (x, y) in enumerate(grid_targets(n, box["width"], box["height"])):
        u, v = pixel_to_plane(x, y, box["width"], box["height"], extent, spacing)
        ms, text, _ = timed(page, lambda: page.mouse.click(box["x"] + x, box["y"] + y), "coordinate:",
                            caption, None, f"grid click {k} at ({x}, {y})")
        got = [float(t) for t in text.replace(",", " ").split() if t[:1] in "+-" and t[1:2].isdigit()]
        if len(got) != 2 or abs(got[0] - u) > 0.05 or abs(got[1] - v) > 0.05:
            raise BenchError(f"grid click {k} at ({x}, {y}): expected about ({u:+.3f}, {v:+.3f}), "
                             f"the page says {text!r}")
        times.append(ms)
        browser.wait_idle(page, settle=0)
    return times


MAP_POINTS = """() => { const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const out = [];
  gd._fullData.forEach((t, i) => { if (t.customdata && t.hoverinfo !== 'skip')
      for (let k = 0; k < t.x.length; k++) out.push([t.x[k], t.y[k], Number(t.customdata[k])]); });
  return out; }"""
HOVERED = """() => { const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  return (gd._hoverdata || []).map(p => Number(p.customdata)); }"""


def map_targets(points: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``n`` isolated points (the outermost in each of ``n`` directions), so that the
    mouse hovers exactly the intended point; (n, 3) = x, y, row."""
    xy = points[:, :2]
    span = np.ptp(xy, axis=0)
    rel = (xy - np.median(xy, axis=0)) / np.where(span > 0, span, 1)
    angle = np.arctan2(rel[:, 1], rel[:, 0])
    radius = np.hypot(rel[:, 0], rel[:, 1])
    sector = np.floor((angle + np.pi) / (2 * np.pi) * n).astype(int) % n
    picked = []
    for s in np.random.default_rng(0).permutation(n):
        members = np.flatnonzero(sector == s)
        if len(members):
            picked.append(members[np.argmax(radius[members])])
    k = 2  # too few sectors populated: fill with points at other quantiles of the radius
    while len(picked) < n and k < 50:
        for s in range(n):
            members = np.flatnonzero(sector == s)
            if len(members) >= k and len(picked) < n:
                cand = members[np.argsort(-radius[members])[k - 1]]
                if cand not in picked:
                    picked.append(cand)
        k += 1
    return points[np.asarray(picked[:n])]


def map_clicks(page, url: str, qs: str, n: int, indices: np.ndarray) -> list[float]:
    """Click ``n`` distinct points of the latent map; each time wait for 'code of image i:'
    (i the hovered point's test image) and that test image shown."""
    open_page(page, f"{url}/?{qs}", PLOT)
    points = np.asarray(page.evaluate(MAP_POINTS), dtype=np.float64)
    if len(points) < n:
        raise BenchError(f"the latent map has only {len(points)} points; {n} are needed")
    times = []
    last_click = 0.0
    for k, (x, y, row) in enumerate(map_targets(points, n)):
        browser.wait_idle(page, settle=0)
        page.mouse.move(1, 1)
        px, py = page.evaluate(browser.DATA_TO_PX, [0, x, y])
        page.mouse.move(px, py)
        t_end = time.time() + 5
        hovered = []
        while time.time() < t_end:  # plotly selects what it hovers: wait until hover settles
            time.sleep(0.05)
            hovered = page.evaluate(HOVERED)
            if hovered:
                break
        if not hovered:
            raise BenchError(f"map click {k}: no plotly hover at point row {int(row)} ({x:.3g}, {y:.3g})")
        want = f"code of image {int(indices[hovered[0]])}:"
        time.sleep(max(0.0, last_click + 0.6 - time.monotonic()))  # two clicks within 500 ms: a double-click
        ms, _, _ = timed(page, lambda: page.mouse.click(px, py), "code of image", "the test image", want,
                         f"map click {k} on row {hovered[0]}")
        last_click = time.monotonic()
        times.append(ms)
    return times


def slider_steps(page, url: str, qs: str, n: int) -> list[float]:
    """Press ArrowRight on the interpolation slider ``n`` times from t = 0.20; each time wait
    for 't = …' to read the new value and the decoded image to change."""
    open_page(page, f"{url}/interpolate?{qs}&interp_t=0.2", '[data-testid="stImage"]')
    thumb = page.locator('[data-testid="stSlider"]', has_text="t: 0 is A").get_by_role("slider")
    times = []
    for k in range(n):
        t = 0.20 + 0.01 * (k + 1)
        if not thumb.evaluate("e => e === document.activeElement"):
            thumb.focus()
        ms, _, _ = timed(page, lambda: page.keyboard.press("ArrowRight"), "t = ", "decoded at t",
                         f"t = {t:.2f}", f"slider step {k} to t = {t:.2f}")
        times.append(ms)
        browser.wait_idle(page, settle=0)
    return times


# --------------------------------------------------------------------------- 7. every page

def visit_everything(page, url: str, entries: list, log) -> int:
    """Open every page for every checkpoint; returns the number of page views.

    Each checkpoint is opened from its link (a fresh session, as a student following the
    teacher's link), then every other page through the sidebar's navigation, as a user moves
    around. Checks that each page has its title and no exception, and that the sidebar chose
    the intended checkpoint (the training curves page names it).
    """
    views = 0
    for e in entries:
        qs = query(e.meta)
        t0 = time.perf_counter()
        for k, (path, title, ready) in enumerate(PAGES):
            if k == 0:
                page.goto(f"{url}/{path}?{qs}")
            else:
                page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
            heading = page.locator("h1", has_text=title).first
            heading.wait_for(timeout=TIMEOUT_MS)
            page.wait_for_selector(ready, timeout=TIMEOUT_MS)
            browser.wait_idle(page, timeout=TIMEOUT_MS)
            errors = browser.exceptions(page)
            if errors:
                raise BenchError(f"{e.id}, page {title!r}: the page shows an exception: {errors[0][:500]}")
            views += 1
        want = e.meta.title
        shown = page.locator("h1").first.inner_text()
        if want not in shown:  # the last page is the training curves, titled by the checkpoint
            raise BenchError(f"{url}/curves?{qs} shows {shown!r}, not the checkpoint {e.id} ({want})")
        log(f"    {e.id}: {len(PAGES)} pages in {time.perf_counter() - t0:.1f} s")
    return views


# --------------------------------------------------------------------------- the whole run

def _click_checkpoint(entries: list):
    """The checkpoint the clicks are measured on: the VAE with latent size 2 that carries the
    most codes (Fashion-MNIST's 5,000-point map when it is there: the heaviest page)."""
    vaes = [e for e in entries if e.meta.kind == "vae" and e.meta.latent_dim == 2]
    if not vaes:
        raise BenchError("the click benchmark needs a VAE with latent size 2; train one with "
                         "`python train.py --kind vae --latent-dims 2`")
    from explorer.checkpoints import load_codes

    best = max(vaes, key=lambda e: (len(load_codes(e.path, e.meta)["indices"]), e.id))
    return best, load_codes(best.path, best.meta)["indices"]


def bench_app(checkpoints: Path, *, starts: int = 3, interactions: int = 30, log=print) -> dict:
    """Figures 4, 5 and 7 of the benchmark, measured in Chromium; see the module docstring.

    Returns {"start_s", "start_runs", "clicks": {name: {n, median_ms, p95_ms, max_ms, all_ms}},
    "click_checkpoint", "peak_rss_mb", "rss_after_start_mb", "rss_after_clicks_mb", "rss_end_mb",
    "page_views", "load_average_before", "load_average_after"}.
    """
    if not Path(browser.CHROMIUM).exists():
        raise BenchError(f"Chromium is not installed ({browser.CHROMIUM}); `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise BenchError("playwright is not installed: `pip install -r requirements-dev.txt`") from e
    from explorer.checkpoints import usable_checkpoints

    checkpoints = Path(checkpoints).resolve()
    entries = usable_checkpoints(checkpoints)
    if not entries:
        raise BenchError(f"no usable checkpoint in {checkpoints}; run `python train.py` first")
    click_entry, indices = _click_checkpoint(entries)
    qs = query(click_entry.meta)
    # The figures are only as quiet as the machine: keep its load (1-minute average) beside them.
    out: dict = {"checkpoints": len(entries), "click_checkpoint": click_entry.id,
                 "load_average_before": os.getloadavg()[0]}

    with sync_playwright() as pw:
        b = browser.launch(pw)
        try:
            runs = []
            for k in range(starts):
                runs.append(measure_start(b, checkpoints))
                log(f"    start {k + 1}/{starts}: healthy {runs[-1]['healthy_s']:.2f} s, first page rendered "
                    f"{runs[-1]['rendered_s']:.2f} s, idle {runs[-1]['idle_s']:.2f} s")
            out["start_s"] = statistics.median(r["rendered_s"] for r in runs)
            out["start_runs"] = runs

            proc, url, _ = browser.start_server(checkpoints)
            try:
                with browser.RssMonitor(proc.pid) as rss:
                    out["rss_after_start_mb"] = rss.sample()
                    page = b.new_page(viewport=browser.VIEWPORT)
                    page.set_default_timeout(TIMEOUT_MS)
                    clicks = {}
                    t0 = time.perf_counter()
                    clicks[CLICK_NAMES["grid"]] = summary(grid_clicks(page, url, qs, interactions, extent=3.0,
                                                                          caption="VAE decodes"))
                    log(f"    grid clicks in {time.perf_counter() - t0:.0f} s")
                    t0 = time.perf_counter()
                    clicks[CLICK_NAMES["map"]] = summary(map_clicks(page, url, qs, interactions, indices))
                    log(f"    map clicks in {time.perf_counter() - t0:.0f} s")
                    t0 = time.perf_counter()
                    clicks[CLICK_NAMES["slider"]] = summary(slider_steps(page, url, qs, interactions))
                    log(f"    slider steps in {time.perf_counter() - t0:.0f} s")
                    out["clicks"] = clicks
                    out["rss_after_clicks_mb"] = rss.sample()
                    t0 = time.perf_counter()
                    out["page_views"] = visit_everything(page, url, entries, log)
                    log(f"    {out['page_views']} page views in {time.perf_counter() - t0:.0f} s")
                    page.close()
                    out["rss_end_mb"] = rss.sample()
                out["peak_rss_mb"] = rss.peak_mb
            except BaseException:
                log_tail = browser.stop_server(proc)[-3000:]
                if log_tail.strip():
                    print(f"server output (last lines):\n{log_tail}", file=sys.stderr)
                raise
            browser.stop_server(proc)
        finally:
            b.close()
    out["load_average_after"] = os.getloadavg()[0]
    return out


def main(argv=None) -> int:
    p = tool_parser("browser_bench", __doc__, "checkpoint folder the app serves")
    p.add_argument("--starts", type=int, default=3, help="fresh server starts; the median is kept (default: 3)")
    p.add_argument("--interactions", type=int, default=30, help="interactions of each kind (default: 30)")
    args = p.parse_args(argv)
    r = bench_app(args.checkpoints, starts=args.starts, interactions=args.interactions)
    print(f"start: {r['start_s']:.2f} s (target ≤ 4 s)")
    for name, v in r["clicks"].items():
        print(f"{name}: median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms over {v['n']} "
              "(target ≤ 300 / ≤ 600 ms)")
    print(f"server memory: peak {r['peak_rss_mb']:.0f} MB (target ≤ 800 MB); after start "
          f"{r['rss_after_start_mb']:.0f} MB, at the end {r['rss_end_mb']:.0f} MB; {r['page_views']} page views")
    print(f"machine load (1-minute average, {os.cpu_count()} cores): {r['load_average_before']:.1f} before the run, "
          f"{r['load_average_after']:.1f} after it (the run's own browser and server included); "
          "work left running by others slows every figure above")
    return 0


if __name__ == "__main__":
    sys.exit(main())

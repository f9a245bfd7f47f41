"""The app's speed in a real browser: start time, first clicks, click-to-image latency, page
redraws after a change of model, and server memory.

Called by ``python -m tools.bench`` (figures 4, 5, 7, 9, 10, 11 and 12 of the benchmark); runs alone as

    python -m tools.browser_bench [--checkpoints checkpoints] [--interactions 30] [--starts 3]
    python -m tools.browser_bench --only anomalies [--interactions 30]    # figure 11 alone, one server
    python -m tools.browser_bench --only start [--starts 3]    # figure 4 alone, taken apart
    python -m tools.browser_bench --only first [--starts 3]    # the start, first map click and first Compare (issue 19)
    python -m tools.browser_bench --only walk [--interactions 30]    # the walk of each dimension (issue 16)
    python -m tools.browser_bench --only reading [--interactions 30]    # the reading overlays, arithmetic (issue 16)
    python -m tools.browser_bench --only memory    # figure 7 alone: every page of every checkpoint, no timed clicks

Everything goes through Debian's Chromium driven by Playwright, against ``streamlit run
app.py`` started on a free local port (``tools.browser``):

  start        from launching the server to the latent map's plotly chart visible in a fresh
               browser context, all checkpoints present; the median over the fresh servers.
  first        on each of 2 × ``starts`` fresh servers: the first click on the latent map,
               10 s after the first page was idle on half of them and at once on the others;
               then the first visit to Compare latent sizes (from the sidebar) and each of its
               controls. Timed to the page redrawn (below).
  clicks       from the input event (mouse click or key press) to the DOM showing the new
               result, polled on every animation frame inside the page: the printed
               coordinate and the decoded image (its ``<img>`` loaded) for a latent-grid click,
               the clicked point's test image for a latent-map click, the decoded image for
               one step of the interpolation slider. Every interaction has a distinct target,
               so each one really changes the output. Measured on the VAE with latent size 2
               that stores the most codes (Fashion-MNIST's: a 5,000-point map, the heaviest).
  changes      on every page, from Fashion-MNIST, VAE, latent size 2: two changes each of the
               sidebar's latent size, kind and dataset, each to another model, timed to the
               page redrawn. Anomalies is one of the pages; its scores are made ready first
               (``anomalies`` below).
  anomalies    the Anomalies page (issue 15), on Fashion-MNIST, VAE, latent size 2, each timed to
               the page redrawn: ``interactions`` steps of the threshold slider (ArrowRight, k +
               0.1 each); ``interactions`` / 2 changes of the corrupted images' kind (the
               an_noise radio, round salt and pepper, block, Gaussian), the first change to salt
               and pepper and to block kept apart (the first time this page shows them; their
               10,000 corrupted images were scored by the warm-up, below); two rounds of the
               six sidebar changes above on this page alone. Before any of it, every model's scores are made ready, as a
               student who opens the page finds them once the server has warmed up: the page is
               opened once for every checkpoint, from its link, until its charts are drawn
               (that computes what the warm-up would: the scores, the default rule on the
               default corruption), then the bench waits until the server's processes use under
               5 % of a core for 3 s in a row, i.e. the warm-up thread (``loaders.warm_up``,
               which scores every model last) has finished and nothing else runs. Those first
               visits are timed too, but are not a figure with a target: how long each takes
               depends on how far the warm-up had got.
  reading      issue 16's interactions, on the same server once the Anomalies figures are taken:
               the classifier's reading toggled on and off on two grids and Generate's samples,
               the latent arithmetic's slider stepped and its "from the class" changed
               (``reading_figures``), and the walk of
               each dimension clicked and its "Through" changed at latent sizes 8 and 32
               (``walk_figures``), each timed to the page redrawn.
  memory       peak resident memory of the server process and its children (psutil, sampled
               every 50 ms in a thread) over the clicks and then every page for every
               checkpoint (each checkpoint opened from its link, its pages through the sidebar).

"Redrawn" (``watched``): from the input event to the last change of the main area's content
(every image's source, every chart's drawn data and lines, component images, headings, metrics,
messages, captions) and of the sidebar's facts about the chosen model, once the script run is
over, every image has loaded and every chart is drawn, and nothing has changed for a while. (A
page may show the same main area for every choice of a setting: Compare shows every latent
size, Denoising every kind; there the sidebar's facts are the change.)

The machine's load average is kept beside the figures: other work on the same cores
(a training run, a test suite) slows everything measured here.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager
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
    ("arithmetic", "Latent arithmetic", '[data-testid="stImage"]'),
    ("compare", "Compare latent sizes", PLOT),
    ("compare_models", "Compare models", '[data-testid="stImage"]'),  # the sidebar's dataset is its choice
    ("denoise", "Denoising playground", '[data-testid="stMetric"]'),
    # or its message where no VAE of the model's latent size exists (seed 004's AEs of latent size 64)
    ("generate", "Generate", f'{GRID_IFRAME}, [data-testid="stAlertContentError"]'),
    ("anomalies", "Anomalies", browser.live_plot("an_hist")),
    ("curves", "Training curves", PLOT),  # last: visit_everything checks the checkpoint's title here
)
ANOMALIES = PAGES[-2]
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


# --------------------------------------------------------------------------- 9. redraws

# JS: watch the page's main content from now on. Each animation frame it takes a fingerprint of
# what the main area shows (every st.image's src, every plotly chart's drawn data, the component
# iframes' images, metrics, headings, messages and captions, the charts' shapes) and records when it last changed and
# when the script run last finished; ``t0`` is the last input event (pointer down, key down) after
# this call.
WATCH = """() => {
  const main = () => document.querySelector('[data-testid="stMain"]') || document.body;
  const state = () => { const a = document.querySelector('[data-testid="stApp"]');
                        return a && a.getAttribute('data-test-script-state'); };
  const fingerprint = () => {
    const m = main(), parts = [];
    let loading = false;
    m.querySelectorAll('h1, [data-testid="stMetricValue"], [data-testid="stAlert"], [data-testid="stCaptionContainer"]')
      .forEach(e => parts.push(e.textContent));
    // The sidebar's facts name the chosen model: a change of model always shows there, even on a
    // page whose main area is the same for every choice of that setting.
    document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]')
      .forEach(e => parts.push(e.textContent));
    // an image the browser loads lazily is not waited for while it is out of sight: it loads only
    // once scrolled to (the Interpolate page's editor, above the walk a click changes it from)
    const unseen = (img) => { const r = img.getBoundingClientRect();
      return img.loading === 'lazy' && (r.bottom < 0 || r.top > innerHeight); };
    m.querySelectorAll('[data-testid="stImage"] img').forEach(img => {
      parts.push(img.src); if ((!img.complete || !img.naturalWidth) && !unseen(img)) loading = true; });
    // a plotly chart's drawn data and its lines drawn as layout shapes (the Anomalies histogram's threshold)
    const plot = (gd) => {
      if (!gd || !gd._fullData) { loading = true; parts.push('plot:none'); return; }
      parts.push('plot:' + gd._fullData.map(t => [t.name, t.x && t.x.length, t.x && t.x[0], t.y && t.y[0],
                                                  t.line && t.line.width].join(',')).join(';'));
      parts.push('shapes:' + ((gd._fullLayout && gd._fullLayout.shapes) || []).map(sh => [sh.x0, sh.x1].join(',')).join(';'));
    };
    m.querySelectorAll('iframe').forEach(f => { let doc = null;
      try { doc = f.contentDocument; } catch (e) {}
      const img = doc && doc.querySelector('img');
      if (doc && doc.querySelector('#plot')) { plot(doc.querySelector('#plot.js-plotly-plot')); return; }  // live_chart
      parts.push(img ? img.src : f.src); if (img && (!img.complete || !img.naturalWidth)) loading = true; });
    m.querySelectorAll('[data-testid="stPlotlyChart"]').forEach(c => plot(c.querySelector('.js-plotly-plot')));
    return [parts.join('|'), loading];
  };
  if (window.__watch) cancelAnimationFrame(window.__watch.raf);
  const w = window.__watch = {t0: null, first: fingerprint()[0], fp: null, changedAt: null, idleAt: null,
                              sawRunning: false, loading: false, raf: 0};
  w.fp = w.first;
  const input = () => { w.t0 = performance.now(); w.changedAt = null; w.idleAt = null; w.sawRunning = false; };
  if (!window.__watchInput) {
    window.__watchInput = true;
    addEventListener('pointerdown', () => window.__watch && window.__watch.onInput(), true);
    addEventListener('keydown', () => window.__watch && window.__watch.onInput(), true);
  }
  w.onInput = input;
  // and inside the page's frames (a click on a streamlit_image_coordinates picture is the frame's)
  main().querySelectorAll('iframe').forEach(f => { try { const win = f.contentWindow;
    if (win && !win.__watchInput) { win.__watchInput = true;
      win.addEventListener('pointerdown', () => window.__watch && window.__watch.onInput(), true); } } catch (e) {} });
  // A short run can start and end between two frames: watch the run state as it changes.
  const seen = () => { const s = state();
    if (s === 'running') w.sawRunning = true;
    else if (s === 'notRunning' && w.sawRunning) w.idleAt = performance.now(); };
  if (window.__watchObserver) window.__watchObserver.disconnect();
  window.__watchObserver = new MutationObserver(seen);
  window.__watchObserver.observe(document.querySelector('[data-testid="stApp"]'),
                                 {attributes: true, attributeFilter: ['data-test-script-state']});
  const tick = () => {
    const [fp, loading] = fingerprint();
    if (fp !== w.fp) { w.fp = fp; w.changedAt = performance.now(); }
    w.loading = loading;
    w.raf = requestAnimationFrame(tick);
  };
  tick();
}"""
# JS: once the page has settled (idle, nothing loading, no change for ``quiet`` ms; a change
# seen if one is expected), the milliseconds from the input to the last change or the end of
# the run, whichever came later; else false.
SETTLED = """([expectChange, quiet]) => {
  const w = window.__watch, now = performance.now();
  const a = document.querySelector('[data-testid="stApp"]');
  if (!w || w.t0 === null || w.loading || !a || a.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const changed = w.fp !== w.first;
  if (expectChange && !changed) return false;
  if (!w.sawRunning && !changed) return false;
  const end = Math.max(w.changedAt || 0, w.idleAt || 0);
  if (!end || now - end < quiet) return false;
  return [end - w.t0, changed];
}"""
QUIET_MS = 700  # a redraw is over once nothing changed for this long


def watched(page, act, what: str, expect_change: bool = True) -> float:
    """Run ``act()`` (its last input event starts the clock) and return the milliseconds until the
    main area was fully redrawn: the script idle, every image loaded and every chart drawn, and
    nothing changing any more (the time of the last change, not of the quiet period after it)."""
    page.evaluate(WATCH)
    act()
    try:
        handle = page.wait_for_function(SETTLED, arg=[expect_change, QUIET_MS], polling="raf",
                                        timeout=TIMEOUT_MS)
    except Exception as e:  # noqa: BLE001 - playwright's TimeoutError; say what was waited for
        raise BenchError(f"{what}: the page did not settle{' on new content' if expect_change else ''} "
                         f"within {TIMEOUT_MS / 1000:.0f} s (exceptions: {browser.exceptions(page)})") from e
    ms, _ = handle.json_value()
    errors = browser.exceptions(page)
    if errors:
        raise BenchError(f"{what}: the page shows an exception: {errors[0][:500]}")
    return ms


def choose_option(page, index: int, option: str) -> None:
    """Pick ``option`` in the ``index``-th selectbox of the sidebar (0 dataset, 1 kind)."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').nth(index).click()
    page.get_by_role("option", name=option, exact=True).first.click()


def step_size(page, key: str) -> None:
    """Move the sidebar's latent-size slider one step (``ArrowRight`` / ``ArrowLeft``)."""
    thumb = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').get_by_role("slider")
    thumb.focus()
    page.keyboard.press(key)


# Each page goes through the same six changes from Fashion-MNIST, VAE, latent 2; every one
# shows another model. (kind of change, what the sidebar does)
CHANGES = (("latent size", lambda p: step_size(p, "ArrowRight")),    # z 2 -> 4
           ("kind", lambda p: choose_option(p, 1, "AE")),
           ("dataset", lambda p: choose_option(p, 0, "MNIST")),
           ("latent size", lambda p: step_size(p, "ArrowRight")),    # z 4 -> 8
           ("kind", lambda p: choose_option(p, 1, "DAE")),
           ("dataset", lambda p: choose_option(p, 0, "Fashion-MNIST")))
START_QUERY = "dataset=Fashion-MNIST&kind=VAE&z=2"


def sidebar_changes(page, url: str, log=print, pages=PAGES) -> dict[str, dict[str, list[float]]]:
    """On every page, the sidebar's changes of dataset, kind and latent size, each timed from the
    input to the page fully redrawn with the new model (``watched``). Returns
    {kind of change: {page title: [ms, ...]}}."""
    out: dict[str, dict[str, list[float]]] = {}
    for path, title, ready in pages:
        open_page(page, f"{url}/{path}?{START_QUERY}", ready)
        time.sleep(0.3)
        shown = []
        for name, act in CHANGES:
            ms = watched(page, lambda: act(page), f"{title}: change of {name}")
            out.setdefault(name, {}).setdefault(title, []).append(ms)
            shown.append(f"{name} {ms:.0f}")
        log(f"    {title} (ms): " + ", ".join(shown))
    return out


# --------------------------------------------------------------------------- 11. the Anomalies page

def wait_server_quiet(pid: int, below: float = 0.05, for_s: float = 3.0, timeout_s: float = 900) -> tuple[float, bool]:
    """Wait until the server's processes (``pid`` and its children) use under ``below`` of one
    core for ``for_s`` seconds in a row, or ``timeout_s`` has passed; returns (seconds waited,
    whether it went quiet). An idle server does nothing: quiet means its warm-up is over."""
    import psutil

    def cpu() -> float:
        total = 0.0
        try:
            procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            return 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass  # a child that just exited
        return total

    t0 = last_t = time.monotonic()
    last_cpu, quiet_since = cpu(), None
    while time.monotonic() - t0 < timeout_s:
        time.sleep(0.5)
        now, used = time.monotonic(), cpu()
        busy = (used - last_cpu) / (now - last_t) >= below
        last_t, last_cpu = now, used
        quiet_since = None if busy else (quiet_since or now - 0.5)
        if quiet_since is not None and now - quiet_since >= for_s:
            return now - t0, True
    return time.monotonic() - t0, False


def every_model_scored(page, url: str, server_pid: int, entries: list, log=print) -> dict:
    """Make every model's anomaly scores ready, as the warm-up leaves them: open the Anomalies
    page from each checkpoint's link until its charts are drawn, then wait for the server to go
    quiet (``wait_server_quiet``). Returns {"visits_s": {checkpoint: s}, "quiet_after_s", "quiet"}."""
    path, title, ready = ANOMALIES
    visits = {}
    t_all = time.perf_counter()
    for e in entries:
        t0 = time.perf_counter()
        open_page(page, f"{url}/{path}?{query(e.meta)}", ready, timeout=120_000)  # a cold model: seconds
        visits[e.id] = time.perf_counter() - t0
    log(f"    Anomalies opened for {len(entries)} checkpoints in {time.perf_counter() - t_all:.0f} s "
        f"(median {statistics.median(visits.values()):.1f} s, longest {max(visits.values()):.1f} s)")
    waited, quiet = wait_server_quiet(server_pid)
    log(f"    server quiet after {waited:.0f} s more" if quiet else
        f"    the server was still busy after {waited:.0f} s; measuring anyway (figures then include its work)")
    return {"visits_s": visits, "quiet_after_s": waited, "quiet": quiet}


THRESHOLD_LABEL = "Threshold: training mean"
NOISE_LABEL = "Corrupted test images"
NOISE_ROUND = ("salt and pepper", "block", "Gaussian")  # the an_noise radio's labels, from Gaussian


def threshold_steps(page, url: str, n: int) -> list[float]:
    """Press ArrowRight on the threshold slider ``n`` times (k 1.0, 1.1, …); each time wait for
    the page redrawn (``watched``: the threshold caption, the histogram's line, the counts)."""
    path, _, ready = ANOMALIES
    open_page(page, f"{url}/{path}?{START_QUERY}", ready)
    thumb = page.locator('[data-testid="stSlider"]', has_text=THRESHOLD_LABEL).get_by_role("slider")
    times = []
    for k in range(n):
        if not thumb.evaluate("e => e === document.activeElement"):
            thumb.focus()
        times.append(watched(page, lambda: page.keyboard.press("ArrowRight"), f"Anomalies: threshold step {k}"))
    from urllib.parse import parse_qs, urlparse

    k = parse_qs(urlparse(page.url).query).get("an_k", ["1.0"])[0]
    if abs(float(k) - (1.0 + 0.1 * n)) > 1e-6:
        raise BenchError(f"after {n} threshold steps from k = 1 the address says an_k={k}: {page.url}")
    return times


def noise_changes(page, url: str, n: int) -> tuple[list[float], list[float]]:
    """Change the corrupted images' kind ``n`` times, round ``NOISE_ROUND``; returns (the first
    change to each kind not shown before on this server, every later change), milliseconds."""
    path, _, ready = ANOMALIES
    open_page(page, f"{url}/{path}?{START_QUERY}", ready)
    radio = page.locator('[data-testid="stRadio"]', has_text=NOISE_LABEL)
    seen, first, again = {"Gaussian"}, [], []  # Gaussian: the page opens on it (scored above)
    for k in range(n):
        option = NOISE_ROUND[k % len(NOISE_ROUND)]
        ms = watched(page, lambda: radio.get_by_text(option, exact=True).click(), f"Anomalies: noise {option}")
        (again if option in seen else first).append(ms)
        seen.add(option)
    return first, again


# name -> (key in bench_anomalies' result, target in words, median ms)
ANOMALY_TARGETS = {
    "Anomalies, threshold slider step → page redrawn": ("threshold_ms", "≤ 300 ms median", 300),
    "Anomalies, corrupted images' kind changed, shown before → page redrawn": ("noise_again_ms", "≤ 300 ms median", 300),
    "Anomalies, corrupted images' kind changed, the first time in the session (scored by the warm-up) → page redrawn":
        ("noise_first_ms", "≤ 300 ms median", 300),
    "Anomalies, sidebar change of model (latent size, kind, dataset) → page redrawn":
        ("model_ms", "≤ 300 ms median", 300),
}


def anomaly_figures(page, url: str, interactions: int, log=print) -> dict:
    """The Anomalies page's figures (module docstring), every model already scored. Returns
    {"threshold_ms", "noise_first_ms", "noise_again_ms", "model_ms": [ms, ...],
    "model_by_change": {kind of change: [ms, ...]}}."""
    out: dict = {}
    t0 = time.perf_counter()
    out["threshold_ms"] = threshold_steps(page, url, interactions)
    out["noise_first_ms"], out["noise_again_ms"] = noise_changes(page, url, max(len(NOISE_ROUND) + 1, interactions // 2))
    by_change: dict[str, list[float]] = {}
    for _ in range(2):
        for name, pages in sidebar_changes(page, url, log, pages=(ANOMALIES,)).items():
            by_change.setdefault(name, []).extend(pages[ANOMALIES[1]])
    out["model_by_change"] = by_change
    out["model_ms"] = [ms for values in by_change.values() for ms in values]
    log("    Anomalies: threshold " + ", ".join(f"{v:.0f}" for v in out["threshold_ms"])
        + "; noise, first " + ", ".join(f"{v:.0f}" for v in out["noise_first_ms"])
        + ", again " + ", ".join(f"{v:.0f}" for v in out["noise_again_ms"])
        + f" ms ({time.perf_counter() - t0:.0f} s)")
    return out


def anomaly_summaries(figures: dict) -> dict[str, dict]:
    """``ANOMALY_TARGETS``' names -> ``summary`` of the figures ``anomaly_figures`` returned."""
    return {name: summary(figures[field]) for name, (field, _, _) in ANOMALY_TARGETS.items()}


def bench_anomalies(checkpoints: Path, *, interactions: int = 30, log=print) -> dict:
    """The Anomalies part alone (``--only anomalies``): one fresh server and browser, every
    model scored first (``every_model_scored``), then ``anomaly_figures``. Returns
    {"checkpoints", "scored": every_model_scored's result, "figures": anomaly_figures' result,
    "anomalies": {name: summary}, "load_average_before", "load_average_after"}."""
    sync_playwright, entries = _browser_and_entries(checkpoints)
    out: dict = {"checkpoints": len(entries), "load_average_before": os.getloadavg()[0]}
    with sync_playwright() as pw, one_server(pw, checkpoints) as (page, url, proc):
        out["scored"] = every_model_scored(page, url, proc.pid, entries, log)
        out["figures"] = anomaly_figures(page, url, interactions, log)
        out["anomalies"] = anomaly_summaries(out["figures"])
    out["load_average_after"] = os.getloadavg()[0]
    return out


# --------------------------------------------------------------------------- the walk of each dimension

WALK_FRAME = ".st-key-walk_click iframe"
WALK_SIZES = (8, 32)  # latent sizes walked: every dimension used, and 32 rows with an editor of 32 sliders
WALK_TARGET_MS = (300, 600)  # issue 16: every new interaction, median and p95
WALK_TARGET = f"≤ {WALK_TARGET_MS[0]} ms median, ≤ {WALK_TARGET_MS[1]} ms p95"


def walk_figures(page, url: str, n: int, log=print) -> dict[str, list[float]]:
    """The Interpolate page's walk of each dimension (issue 16) on the Fashion-MNIST VAEs of
    ``WALK_SIZES``: ``n`` clicks on tiles (each a different row and column: each changes the
    editor's code), then ``n`` // 2 changes of "Through", each timed with ``watched`` to the
    page redrawn. Returns {"tile click, latent 8": [ms, ...], ...}."""
    out: dict[str, list[float]] = {}
    for z in WALK_SIZES:
        open_page(page, f"{url}/interpolate?dataset=Fashion-MNIST&kind=VAE&z={z}", WALK_FRAME)
        page.locator(WALK_FRAME).scroll_into_view_if_needed()
        image = page.frame_locator(WALK_FRAME).locator("img")
        image.wait_for()
        clicks = []
        for k in range(n):
            box = image.bounding_box()
            if box is None:
                raise BenchError("the walk's picture is not on the page")
            grid_x = box["x"] + 100 * box["width"] / page.evaluate(
                "(f) => document.querySelector(f).contentDocument.querySelector('img').naturalWidth", WALK_FRAME)
            r, c = k % min(z, 6), (2 * k + 1) % 9
            x = grid_x + (box["x"] + box["width"] - grid_x) * (c + 0.5) / 9
            y = box["y"] + box["height"] * (r + 0.5) / z
            clicks.append(watched(page, lambda: page.mouse.click(x, y), f"walk, latent {z}: tile click {k}"))
        radio = page.locator('[data-testid="stRadio"]', has_text="Through")
        through = []
        for k in range(max(2, n // 2)):
            option = "the origin" if k % 2 == 0 else "the starting image's code"
            through.append(watched(page, lambda: radio.get_by_text(option, exact=True).click(),
                                   f"walk, latent {z}: through {option}"))
        out[f"walk, latent {z}: tile click → its code in the editor, page redrawn"] = clicks
        out[f"walk, latent {z}: 'Through' changed → walk redrawn"] = through
        log(f"    walk, latent {z}: clicks " + ", ".join(f"{v:.0f}" for v in clicks)
            + "; through " + ", ".join(f"{v:.0f}" for v in through) + " ms")
    return out


def bench_walk(checkpoints: Path, *, interactions: int = 30, log=print) -> dict:
    """The walk alone (``--only walk``): one fresh server and browser, ``walk_figures``.
    Returns {"figures": {name: summary}, "load_average_before", "load_average_after"}."""
    sync_playwright, _ = _browser_and_entries(checkpoints)
    out: dict = {"load_average_before": os.getloadavg()[0]}
    with sync_playwright() as pw, one_server(pw, checkpoints) as (page, url, _):
        out["figures"] = {name: summary(ms) for name, ms in walk_figures(page, url, interactions, log).items()}
    out["load_average_after"] = os.getloadavg()[0]
    return out


GRID_FRAME = 'iframe[title*="streamlit_image_coordinates"]'
# (what, page and query, toggle key, the control stepped before each "on", so that it reads anew)
READING_VIEWS = (
    ("latent grid, MNIST VAE z2, 30×30 down to 16×16", "latent_grid?dataset=MNIST&kind=VAE&z=2&grid_n=30",
     "grid_read", "Grid resolution"),
    ("latent grid, Fashion-MNIST AE z8, 30×30 down to 16×16", "latent_grid?dataset=Fashion-MNIST&kind=AE&z=8&grid_n=30",
     "grid_read", "Grid resolution"),
    ("Generate, MNIST VAE z2, a new temperature each time", "generate?dataset=MNIST&kind=VAE&z=2&gen_t=1.5",
     "gen_read", "Temperature"),
)


def reading_figures(page, url: str, n: int, log=print) -> dict[str, list[float]]:
    """Issue 16's interactions, each timed with ``watched`` to the page redrawn: the reading overlay
    turned on (``n`` // 2 times, each on a grid or a set of samples not read before: the control
    named in ``READING_VIEWS`` is stepped first, untimed) and off again, on each view; ``n``
    steps of the latent arithmetic's slider (each decodes and reads a new code); and ``n`` // 2
    changes of its "from the class" (each a new vector: a new strip and image, read)."""
    out: dict[str, list[float]] = {}
    for what, path, key, stepped in READING_VIEWS:
        open_page(page, f"{url}/{path}", GRID_FRAME)
        toggle = page.locator(f".st-key-{key}").get_by_text("Classifier's reading")
        thumb = page.locator('[data-testid="stSlider"]', has_text=stepped).get_by_role("slider")
        on, off = [], []
        for k in range(max(2, n // 2)):
            thumb.focus()
            page.keyboard.press("ArrowLeft")
            browser.wait_idle(page, settle=0.3)
            on.append(watched(page, toggle.click, f"{what}: reading on ({k})"))
            off.append(watched(page, toggle.click, f"{what}: reading off ({k})"))
        out[f"{what}: reading turned on → tiles coloured"] = on
        out[f"{what}: reading turned off → grey again"] = off
        log(f"    {what}: on " + ", ".join(f"{v:.0f}" for v in on) + "; off " + ", ".join(f"{v:.0f}" for v in off) + " ms")
    open_page(page, f"{url}/arithmetic?dataset=MNIST&kind=VAE&z=8&ar_t=1", '[data-testid="stImage"] img')
    thumb = page.locator('[data-testid="stSlider"]', has_text="How far along").get_by_role("slider")
    steps = []
    for k in range(n):
        thumb.focus()
        key = "ArrowLeft" if (k // 10) % 2 == 0 else "ArrowRight"  # 1.0 to 0.5 and back, by 0.05
        steps.append(watched(page, lambda: page.keyboard.press(key), f"arithmetic slider step {k}"))
    out["latent arithmetic, MNIST VAE z8: slider step → decoded, read and redrawn"] = steps
    log("    arithmetic slider: " + ", ".join(f"{v:.0f}" for v in steps) + " ms")
    starts = []
    for k in range(max(2, n // 2)):  # classes 0-8 in turn (towards 9): each start differs from the one before
        option = str(k % 9)

        def choose(option=option):
            page.locator(".st-key-ar_from [data-testid='stSelectbox']").click()
            page.get_by_role("option", name=option, exact=True).first.click()
        starts.append(watched(page, choose, f"arithmetic 'from the class' {option}"))
    out["latent arithmetic, MNIST VAE z8: 'from the class' changed → strip and image redrawn"] = starts
    log("    arithmetic 'from the class': " + ", ".join(f"{v:.0f}" for v in starts) + " ms")
    return out


def bench_reading(checkpoints: Path, *, interactions: int = 30, log=print) -> dict:
    """Issue 16's interactions alone (``--only reading``): one fresh server and browser,
    ``reading_figures``. Returns {"figures": {name: summary}, "load_average_before", "load_average_after"}."""
    sync_playwright, _ = _browser_and_entries(checkpoints)
    out: dict = {"load_average_before": os.getloadavg()[0]}
    with sync_playwright() as pw, one_server(pw, checkpoints) as (page, url, _):
        out["figures"] = {name: summary(ms) for name, ms in reading_figures(page, url, interactions, log).items()}
    out["load_average_after"] = os.getloadavg()[0]
    return out


@contextmanager
def one_server(pw, checkpoints: Path):
    """A fresh server on ``checkpoints`` and a fresh browser page: yields (page, url, the server's
    process). Prints the server's last output if what runs inside fails; closes both."""
    b = browser.launch(pw)
    proc, url, _ = browser.start_server(Path(checkpoints).resolve())
    try:
        page = b.new_page(viewport=browser.VIEWPORT)
        page.set_default_timeout(TIMEOUT_MS)
        yield page, url, proc
    except BaseException:
        log_tail = browser.stop_server(proc)[-3000:]
        if log_tail.strip():
            print(f"server output (last lines):\n{log_tail}", file=sys.stderr)
        raise
    finally:
        b.close()
        browser.stop_server(proc)


# --------------------------------------------------------------------------- 10. a fresh server

def hover_point(page, x: float, y: float, what: str) -> tuple[float, float, int]:
    """Move the mouse onto the map's point at data (x, y) until plotly hovers it; returns its
    pixel position and the hovered point's row (plotly selects what it hovers)."""
    page.mouse.move(1, 1)
    px, py = page.evaluate(browser.DATA_TO_PX, [0, x, y])
    page.mouse.move(px, py)
    t_end = time.time() + 5
    while time.time() < t_end:
        time.sleep(0.05)
        hovered = page.evaluate(HOVERED)
        if hovered:
            return px, py, hovered[0]
    raise BenchError(f"{what}: no plotly hover at ({x:.3g}, {y:.3g})")


def compare_controls(page) -> list[tuple[str, object]]:
    """The Compare page's controls, each a distinct change: (name, action)."""
    def radio(label: str, option: str):
        return lambda: page.locator('[data-testid="stRadio"]', has_text=label).get_by_text(option, exact=True).click()

    def step(label: str):
        return lambda: page.locator('[data-testid="stNumberInput"]', has_text=label).get_by_test_id(
            "stNumberInputStepUp").click()

    return [("map: PCA", radio("Map", "PCA")), ("map: t-SNE", radio("Map", "t-SNE")),
            ("images: next of each class", step("which one of each class")),
            ("images: random", radio("Images", "random")), ("images: next seed", step("seed")),
            ("images: one class", radio("Images", "one class")),
            ("images: one of each class", radio("Images", "one of each class"))]


# JS, before the page's own scripts: keep Chromium's long tasks (buffered from the start)
LONG_TASKS = """(() => { window.__longTasks = [];
  try { new PerformanceObserver(l => { for (const e of l.getEntries())
    window.__longTasks.push([e.startTime, e.duration]); }).observe({type: 'longtask', buffered: true}); } catch (e) {} })()"""
# JS: [name, requested, received, bytes] of the page's scripts of 400 kB or more (Streamlit's
# bundles: its main one, protobuf, the lazily loaded plotly chunk), ms since navigation
BIG_SCRIPTS = """() => performance.getEntriesByType('resource')
  .filter(r => r.name.endsWith('.js') && (r.transferSize || r.encodedBodySize) >= 400000)
  .map(r => [r.name.split('/').pop(), r.startTime, r.responseEnd, r.transferSize || r.encodedBodySize])"""
SIDEBAR_READY = '[data-testid="stSidebar"] [data-testid="stSelectbox"]'


@contextmanager
def fresh_start(b, checkpoints: Path, qs: str, timeout: float = 60, before=None):
    """A fresh server and a fresh browser context, the latent map opened at ``qs`` at once:
    yields (page, the launch's ``time.perf_counter()``, seconds to a healthy server, seconds
    from the launch to the page asked for). ``before(page)``, if given, runs between the
    request and the wait for the map (it waits for what comes first). Closes both afterwards."""
    context = b.new_context(viewport=browser.VIEWPORT)
    context.add_init_script(LONG_TASKS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    proc = None
    try:
        t0 = time.perf_counter()
        proc, url, healthy = browser.start_server(checkpoints, timeout=timeout)
        nav = time.perf_counter() - t0
        page.goto(f"{url}/?{qs}", timeout=timeout * 1000)
        if before is not None:
            before(page)
        page.locator(PLOT).first.wait_for(state="visible", timeout=timeout * 1000)
        yield page, t0, healthy, nav
    finally:
        context.close()
        if proc is not None:
            browser.stop_server(proc)


def fresh_server_run(b, checkpoints: Path, qs: str, indices: np.ndarray, wait_s: float,
                     timeout: float = 60) -> dict:
    """One fresh server, one fresh browser: the start (launch to the latent map drawn), then,
    ``wait_s`` after the first page was idle, the first click on the map, the first visit to
    Compare latent sizes (from the sidebar) and each of its controls, all timed with ``watched``."""
    with fresh_start(b, checkpoints, qs, timeout) as (page, t0, healthy, _):
        rendered = time.perf_counter() - t0
        browser.wait_idle(page, timeout=timeout * 1000, settle=0)
        idle = time.perf_counter() - t0
        errors = browser.exceptions(page)
        if errors:
            raise BenchError(f"the first page shows an exception: {errors[0][:500]}")
        out: dict = {"healthy_s": healthy, "rendered_s": rendered, "idle_s": idle, "wait_s": wait_s}
        points = np.asarray(page.evaluate(MAP_POINTS), dtype=np.float64)
        x, y, _ = map_targets(points, 1)[0]
        px, py, row = hover_point(page, x, y, "first map click")
        time.sleep(max(0.0, t0 + idle + wait_s - time.perf_counter()))
        out["first_click_ms"] = watched(page, lambda: page.mouse.click(px, py), "first map click")
        want = f"code of image {int(indices[row])}:"
        if page.locator('[data-testid="stText"]', has_text=want).count() != 1:
            raise BenchError(f"first map click: the page does not show {want!r}")
        page.mouse.move(1, 1)
        out["compare_first_ms"] = watched(page, lambda: page.locator(
            '[data-testid="stSidebarNav"] a[href$="/compare"]').first.click(), "first visit to Compare")
        if page.locator("h1", has_text="Compare latent sizes").count() != 1:
            raise BenchError("the first visit to Compare did not show it")
        out["compare_controls_ms"] = {name: watched(page, act, f"Compare: {name}")
                                      for name, act in compare_controls(page)}
        return out


def start_phases(b, checkpoints: Path, qs: str, timeout: float = 60) -> dict:
    """Where a start's seconds go (``--only start``): ``fresh_start``. Seconds from the launch:
    ``healthy`` (the server answers), ``html`` (the page's HTML received), ``sidebar`` (its first
    selectbox visible: the script's first elements drawn), ``visible`` (the map's chart visible,
    the start figure); ``scripts``: each big script's (name, requested, received, bytes);
    ``long_tasks``: Chromium's main-thread tasks of 200 ms or more, (began, lasted) in seconds."""
    seen: dict = {}

    def sidebar(page) -> None:
        page.locator(SIDEBAR_READY).first.wait_for(state="visible", timeout=timeout * 1000)
        seen["sidebar"] = time.perf_counter()

    with fresh_start(b, checkpoints, qs, timeout, before=sidebar) as (page, t0, healthy, nav):
        visible = time.perf_counter() - t0
        html = nav + page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd") / 1000
        scripts = [(name, nav + a / 1000, nav + z / 1000, int(n)) for name, a, z, n in page.evaluate(BIG_SCRIPTS)]
        long_tasks = [(nav + a / 1000, d / 1000) for a, d in page.evaluate("window.__longTasks") if d >= 200]
        return {"healthy": healthy, "html": html, "sidebar": seen["sidebar"] - t0, "visible": visible,
                "scripts": scripts, "long_tasks": long_tasks}


def bench_start(checkpoints: Path, *, starts: int = 3, log=print) -> dict:
    """The start alone, taken apart (``--only start``): ``starts`` runs of ``start_phases``.
    Returns {"runs": [...], "start_s": median of "visible", "load_average_before", "load_average_after"}."""
    sync_playwright, entries = _browser_and_entries(checkpoints)
    click_entry, _ = _click_checkpoint(entries)
    out: dict = {"load_average_before": os.getloadavg()[0], "runs": []}
    with sync_playwright() as pw:
        b = browser.launch(pw)
        try:
            for k in range(starts):
                r = start_phases(b, Path(checkpoints).resolve(), query(click_entry.meta))
                out["runs"].append(r)
                log(f"    start {k + 1}/{starts}: " + describe_start(r))
        finally:
            b.close()
    out["start_s"] = statistics.median(r["visible"] for r in out["runs"])
    out["load_average_after"] = os.getloadavg()[0]
    return out


def describe_start(r: dict) -> str:
    scripts = ", ".join(f"{name} ({n / 1e6:.1f} MB) {a:.2f}–{z:.2f} s" for name, a, z, n in r["scripts"])
    tasks = ", ".join(f"{a:.2f} s for {d:.2f} s" for a, d in r["long_tasks"]) or "none"
    return (f"healthy {r['healthy']:.2f} s, HTML {r['html']:.2f} s, sidebar drawn {r['sidebar']:.2f} s, "
            f"map visible {r['visible']:.2f} s; scripts of 400 kB or more: {scripts}; main-thread tasks of "
            f"200 ms or more: {tasks}")


FIRST_CLICK_WAIT_S = 10.0  # "10 s or more after the first page rendered"
# name -> (key in fresh_server_run's result, which runs, target in words, median ms, p95 ms)
FIRST_TARGETS = {
    "first latent map click, 10 s after the first page → page redrawn":
        ("first_click_ms", "later", "≤ 500 ms", 500, 500),
    "first latent map click, at once → page redrawn": ("first_click_ms", "at once", "≤ 1500 ms", 1500, 1500),
    "first visit to Compare latent sizes → page redrawn": ("compare_first_ms", "all", "≤ 2000 ms", 2000, 2000),
    "Compare latent sizes, each of its controls → page redrawn": ("compare_controls_ms", "all", "≤ 500 ms", 500, 500),
}


def first_figures(runs: list[dict]) -> dict[str, dict]:
    """The fresh servers' figures, summarised by ``FIRST_TARGETS``' names."""
    out = {}
    for name, (field, which, _, _, _) in FIRST_TARGETS.items():
        chosen = [r for r in runs if which == "all" or (which == "later") == (r["wait_s"] > 0)]
        values = [v for r in chosen for v in (r[field].values() if isinstance(r[field], dict) else [r[field]])]
        out[name] = summary(values)
    return out


def fresh_servers(b, checkpoints: Path, qs: str, indices: np.ndarray, starts: int, log=print) -> dict:
    """``fresh_server_run`` on 2 × ``starts`` fresh servers, the first click 10 s after the first
    page on half of them and at once on the others. Returns {"start_s", "start_runs", "first"}."""
    runs = []
    for k in range(2 * starts):  # alternate, so drift in the machine's load hits both alike
        wait = FIRST_CLICK_WAIT_S if k % 2 == 0 else 0.0
        runs.append(fresh_server_run(b, checkpoints, qs, indices, wait))
        r = runs[-1]
        log(f"    fresh server {k + 1}/{2 * starts}: healthy {r['healthy_s']:.2f} s, first page rendered "
            f"{r['rendered_s']:.2f} s, idle {r['idle_s']:.2f} s; first map click {wait:.0f} s later "
            f"{r['first_click_ms']:.0f} ms, first Compare {r['compare_first_ms']:.0f} ms, its controls "
            + ", ".join(f"{v:.0f}" for v in r["compare_controls_ms"].values()) + " ms")
    return {"start_s": statistics.median(r["rendered_s"] for r in runs), "start_runs": runs,
            "first": first_figures(runs)}


def bench_first(checkpoints: Path, *, starts: int = 3, log=print) -> dict:
    """Issue 19's cold figures alone (``--only first``): ``fresh_servers``, without the warm clicks,
    the changes and the memory of the whole run. Returns its dict and the load averages."""
    sync_playwright, entries = _browser_and_entries(checkpoints)
    click_entry, indices = _click_checkpoint(entries)
    out: dict = {"load_average_before": os.getloadavg()[0]}
    with sync_playwright() as pw:
        b = browser.launch(pw)
        try:
            out.update(fresh_servers(b, Path(checkpoints).resolve(), query(click_entry.meta), indices, starts, log))
        finally:
            b.close()
    out["load_average_after"] = os.getloadavg()[0]
    return out


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


def _browser_and_entries(checkpoints: Path):
    """Playwright's ``sync_playwright`` and the usable checkpoints, or a BenchError saying what is missing."""
    if not Path(browser.CHROMIUM).exists():
        raise BenchError(f"Chromium is not installed ({browser.CHROMIUM}); `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise BenchError("playwright is not installed: `pip install -r requirements-dev.txt`") from e
    from explorer.checkpoints import usable_checkpoints

    entries = usable_checkpoints(Path(checkpoints).resolve())
    if not entries:
        raise BenchError(f"no usable checkpoint in {checkpoints}; run `python train.py` first")
    return sync_playwright, entries


def bench_app(checkpoints: Path, *, starts: int = 3, interactions: int = 30, log=print) -> dict:
    """Figures 4, 5, 7, 9, 10, 11 and 12 of the benchmark, measured in Chromium; see the module docstring.

    ``starts`` fresh servers with the first click 10 s after the first page, and as many with
    it at once. Returns {"start_s", "start_runs", "first": {name: summary}, "clicks": {name:
    {n, median_ms, p95_ms, max_ms, all_ms}}, "changes": {kind of change: summary}, "changes_by_page",
    "anomalies": {name: summary}, "anomaly_figures", "anomalies_scored", "reading": {name: summary} (issue 16's
    interactions: ``reading_figures`` and ``walk_figures``), "click_checkpoint",
    "peak_rss_mb", "rss_after_start_mb", "rss_after_clicks_mb", "rss_end_mb", "page_views",
    "load_average_before", "load_average_after"}.
    """
    sync_playwright, entries = _browser_and_entries(checkpoints)
    checkpoints = Path(checkpoints).resolve()
    click_entry, indices = _click_checkpoint(entries)
    qs = query(click_entry.meta)
    # The figures are only as quiet as the machine: keep its load (1-minute average) beside them.
    out: dict = {"checkpoints": len(entries), "click_checkpoint": click_entry.id,
                 "load_average_before": os.getloadavg()[0]}

    with sync_playwright() as pw:
        b = browser.launch(pw)
        try:
            out.update(fresh_servers(b, checkpoints, qs, indices, starts, log))

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
                    # Anomalies is one of the pages below: its scores first, as the warm-up leaves them
                    out["anomalies_scored"] = every_model_scored(page, url, proc.pid, entries, log)
                    t0 = time.perf_counter()
                    by_page = sidebar_changes(page, url, log)
                    out["changes_by_page"] = by_page
                    out["changes"] = {name: summary([ms for values in pages.values() for ms in values])
                                      for name, pages in by_page.items()}
                    log(f"    sidebar changes in {time.perf_counter() - t0:.0f} s")
                    out["anomaly_figures"] = anomaly_figures(page, url, interactions, log)
                    out["anomalies"] = anomaly_summaries(out["anomaly_figures"])
                    t0 = time.perf_counter()
                    reading = {**reading_figures(page, url, interactions, log), **walk_figures(page, url, interactions, log)}
                    out["reading"] = {name: summary(ms) for name, ms in reading.items()}
                    log(f"    issue 16's interactions in {time.perf_counter() - t0:.0f} s")
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


def bench_memory(checkpoints: Path, *, log=print) -> dict:
    """Figure 7 alone (``--only memory``): one fresh server, its peak resident memory while every
    checkpoint's Anomalies page is opened (its scores, the slowest of the warm-up's work) and then
    every page for every checkpoint (``visit_everything``), without the timed clicks. Returns
    {"peak_rss_mb", "rss_after_start_mb", "rss_after_scores_mb", "rss_end_mb", "page_views",
    "load_average_before", "load_average_after"}."""
    sync_playwright, entries = _browser_and_entries(checkpoints)
    checkpoints = Path(checkpoints).resolve()
    out: dict = {"load_average_before": os.getloadavg()[0]}
    with sync_playwright() as pw:
        b = browser.launch(pw)
        proc, url, _ = browser.start_server(checkpoints)
        try:
            with browser.RssMonitor(proc.pid) as rss:
                out["rss_after_start_mb"] = rss.sample()
                page = b.new_page(viewport=browser.VIEWPORT)
                page.set_default_timeout(TIMEOUT_MS)
                every_model_scored(page, url, proc.pid, entries, log)
                out["rss_after_scores_mb"] = rss.sample()
                t0 = time.perf_counter()
                out["page_views"] = visit_everything(page, url, entries, log)
                log(f"    {out['page_views']} page views in {time.perf_counter() - t0:.0f} s")
                page.close()
                out["rss_end_mb"] = rss.sample()
            out["peak_rss_mb"] = rss.peak_mb
        finally:
            browser.stop_server(proc)
            b.close()
    out["load_average_after"] = os.getloadavg()[0]
    return out


def print_anomalies(r: dict) -> None:
    for name, v in r["anomalies"].items():
        print(f"{name}: median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms over {v['n']} "
              f"(target {ANOMALY_TARGETS[name][1]})")
    print("    Anomalies, sidebar change of " + "; ".join(
        f"{name} " + ", ".join(f"{ms:.0f}" for ms in values) for name, values in r["model_by_change"].items()) + " ms")
    s = r["scored"]
    print(f"    before them: the page opened for each of {len(s['visits_s'])} checkpoints (median "
          f"{statistics.median(s['visits_s'].values()):.1f} s, longest {max(s['visits_s'].values()):.1f} s), then "
          + (f"the server quiet {s['quiet_after_s']:.0f} s later" if s["quiet"] else
             f"the server still busy {s['quiet_after_s']:.0f} s later (not quiet: figures include its work)"))


def print_first(first: dict) -> None:
    for name, v in first.items():
        print(f"{name}: median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms over {v['n']} "
              f"(target {FIRST_TARGETS[name][2]})")


def print_reading(figures: dict) -> None:
    """Issue 16's figures (``reading_figures``, ``walk_figures``) beside their target."""
    for name, v in figures.items():
        print(f"{name}: median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms over {v['n']} (target {WALK_TARGET})")


def print_load(r: dict) -> None:
    print(f"machine load (1-minute average, {os.cpu_count()} cores): {r['load_average_before']:.1f} before the run, "
          f"{r['load_average_after']:.1f} after it (the run's own browser and server included); "
          "work left running by others slows every figure above")


def main(argv=None) -> int:
    p = tool_parser("browser_bench", __doc__, "checkpoint folder the app serves")
    p.add_argument("--starts", type=int, default=3,
                   help="fresh servers with the first click 10 s after the first page, and as many with it at "
                        "once; the start is their median (default: 3)")
    p.add_argument("--interactions", type=int, default=30, help="interactions of each kind (default: 30)")
    p.add_argument("--only", choices=["anomalies", "start", "first", "walk", "reading", "memory"], default=None,
                   help="measure only this part: the Anomalies page on one fresh server, the start taken "
                        "apart on --starts fresh servers, the first map click and Compare's first visit on "
                        "2 × --starts fresh servers, the server's peak memory over every page of every "
                        "checkpoint (no timed clicks), the Interpolate page's walk of each dimension, or the "
                        "classifier's reading overlays and the latent arithmetic's slider (default: everything)")
    args = p.parse_args(argv)
    if args.only == "start":
        r = bench_start(args.checkpoints, starts=args.starts)
        print(f"start: {r['start_s']:.2f} s (target ≤ 4 s), median of {len(r['runs'])}")
        print_load(r)
        return 0
    if args.only == "first":
        r = bench_first(args.checkpoints, starts=args.starts)
        print(f"start: {r['start_s']:.2f} s (target ≤ 4 s)")
        print_first(r["first"])
        print_load(r)
        return 0
    if args.only == "memory":
        r = bench_memory(args.checkpoints)
        print(f"server memory: peak {r['peak_rss_mb']:.0f} MB (target ≤ 800 MB); after start "
              f"{r['rss_after_start_mb']:.0f} MB, after every model's scores {r['rss_after_scores_mb']:.0f} MB, at the "
              f"end {r['rss_end_mb']:.0f} MB; {r['page_views']} page views")
        print_load(r)
        return 0
    if args.only in ("walk", "reading"):
        r = (bench_walk if args.only == "walk" else bench_reading)(args.checkpoints, interactions=args.interactions)
        print_reading(r["figures"])
        print_load(r)
        return 0
    if args.only == "anomalies":
        r = bench_anomalies(args.checkpoints, interactions=args.interactions)
        print_anomalies({**r["figures"], "anomalies": r["anomalies"], "scored": r["scored"]})
        print_load(r)
        return 0
    r = bench_app(args.checkpoints, starts=args.starts, interactions=args.interactions)
    print(f"start: {r['start_s']:.2f} s (target ≤ 4 s)")
    for name, v in r["clicks"].items():
        print(f"{name}: median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms over {v['n']} "
              "(target ≤ 300 / ≤ 600 ms)")
    print_first(r["first"])
    for name, v in r["changes"].items():
        print(f"sidebar change of {name} → page redrawn, every page: median {v['median_ms']:.0f} ms, "
              f"p95 {v['p95_ms']:.0f} ms over {v['n']} (target ≤ 500 / ≤ 1000 ms)")
    for name, pages in r["changes_by_page"].items():
        print(f"    {name}: " + "; ".join(f"{title} " + ", ".join(f"{ms:.0f}" for ms in values)
                                         for title, values in pages.items()) + " ms")
    print_anomalies({**r["anomaly_figures"], "anomalies": r["anomalies"], "scored": r["anomalies_scored"]})
    print_reading(r["reading"])
    print(f"server memory: peak {r['peak_rss_mb']:.0f} MB (target ≤ 800 MB); after start "
          f"{r['rss_after_start_mb']:.0f} MB, at the end {r['rss_end_mb']:.0f} MB; {r['page_views']} page views")
    print_load(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Session state the app owns, mirrored in the URL, and what the Back button steps through.

Widgets keep their own values in the URL (``bind="query-params"``, keyed by the widget's
key). What is not a widget — the point clicked on a map or a grid, the sample picked from
a grid of samples, an edited code — lives here: a small value (an index, a few floats)
under a key in ``st.session_state`` (one of ``OWNED``), written to ``st.query_params``
under the same name while the page that uses it is shown, so that a reload, or a link
sent to a class, shows the same view. It is read from the URL when the session opens and
when the user goes Back or Forward (a history navigation), and stays in the session while
other pages are visited. Tests set these keys directly (``at.session_state["map_img"] =
12``), as a click would.

History: Streamlit's page pushes a browser history entry for every URL change the server
makes and for every page visit, and none for a widget's change. ``HISTORY_SCRIPT`` (run in
the page by the frame, frame.py) makes the steps the ones a user expects: a page visit, a
change of model (``STEPS``' sidebar keys) and a click (its app-owned keys) each add one entry;
anything else replaces the current one.

Components report their last event on every rerun; ``new_event`` tells a fresh click from
the same one reported again.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_SEEN = "_seen."
_PUBLISHED = "_published"   # session key: the owned keys written to the URL in this full run

OWNED = ("map_img", "grid_at", "gen_pick", "grid_z", "edit_z", "own_img", "own_map", "an_img")
STEPS = ("dataset", "kind", "arch", "z", "map_img", "grid_at", "gen_pick")


def history_navigation() -> bool:
    """True in the run that follows the browser's Back or Forward button: the URL is the truth."""
    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


def init(key: str, parse: Callable[[str], Any], default: Any = None) -> Any:
    """The value under ``key``: taken from the URL (if it parses, else ``default``) on the
    session's first run and after Back or Forward; kept in the session otherwise."""
    if key not in st.session_state or history_navigation():
        value = default
        raw = st.query_params.get(key)
        if raw is not None:
            try:
                value = parse(raw)
            except (ValueError, TypeError, IndexError, OverflowError):
                value = default  # a hand-edited URL: ignore what does not parse
        st.session_state[key] = value
    return st.session_state[key]


def put(key: str, value: Any, fmt: Callable[[Any], str] = str, default: Any = None) -> None:
    """Set an app-owned value and mirror it in the URL (``default`` or None removes it)."""
    st.session_state[key] = value
    publish(key, fmt, default)


def publish(key: str, fmt: Callable[[Any], str] = str, default: Any = None) -> None:
    """Write the current value of ``key`` to the URL, if it is not there already; a value of
    None or ``default`` is left out (a link stays short, and a page's first run does not
    change the URL)."""
    st.session_state.setdefault(_PUBLISHED, set()).add(key)
    value = st.session_state.get(key)
    if value is None or (default is not None and value == default):
        if key in st.query_params:
            del st.query_params[key]
        return
    text = fmt(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def begin_run() -> None:
    """Called by the frame (frame.py) before the page runs: nothing is published yet in this run."""
    st.session_state[_PUBLISHED] = set()


def end_run() -> None:
    """Called by the frame (frame.py) after the page ran: owned keys this page did not publish
    leave the URL (the grid's point is not part of the map page's address); they stay in the
    session."""
    published = st.session_state.get(_PUBLISHED, set())
    for key in OWNED:
        if key not in published and key in st.query_params:
            del st.query_params[key]


HISTORY_SCRIPT = """<script>
(() => {
  // Latent Explorer: which URL changes are Back-button steps (explorer/ui/state.py).
  if (window.__latentExplorerHistory) return;
  window.__latentExplorerHistory = true;
  const STEPS = __STEPS__;
  // From a page visit until that page's first run has finished, the page's own URL changes
  // (its settings, a point it keeps) belong to the visit's entry.
  let settling = true, sawRunning = false, since = Date.now();
  setInterval(() => {
    if (!settling) return;
    const app = document.querySelector('[data-testid="stApp"]');
    const s = app && app.getAttribute("data-test-script-state");
    if (s === "running") sawRunning = true;
    else if ((sawRunning && s === "notRunning") || Date.now() - since > 8000) settling = false;
  }, 40);
  const visit = () => { settling = true; sawRunning = false; since = Date.now(); };
  // A click on a link to another page: until its address is pushed, the server's changes to the
  // old page's address (the params it drops on leaving) are not written into the old entry.
  let leaving = 0;
  document.addEventListener("click", (event) => {
    const a = event.target.closest && event.target.closest("a[href]");
    if (!a) return;
    const to = new URL(a.href, location.href);
    if (to.origin === location.origin && to.pathname !== location.pathname) leaving = Date.now();
  }, true);
  const push = history.pushState.bind(history), replace = history.replaceState.bind(history);
  const steps = (search) => { const q = new URLSearchParams(search);
    return JSON.stringify(STEPS.map((k) => q.getAll(k))); };
  function decide(state, title, url, wanted) {
    if (url === undefined || url === null) return wanted(state, title, url);
    const next = new URL(url, location.href);
    if (next.pathname !== location.pathname) { leaving = 0; visit(); return push(state, title, url); }
    if (leaving && Date.now() - leaving < 3000) return;
    const step = !settling && steps(next.search) !== steps(location.search);
    return (step ? push : replace)(state, title, url);
  }
  history.pushState = (s, t, u) => decide(s, t, u, push);
  history.replaceState = (s, t, u) => decide(s, t, u, replace);
  addEventListener("popstate", visit);
})();
</script>""".replace("__STEPS__", json.dumps(list(STEPS)))


def new_event(name: str, token: Any) -> bool:
    """True the first time ``token`` (a click's timestamp, a selection) is seen for ``name``."""
    if token is None:  # nothing selected now: the next selection, even a repeat, is new
        st.session_state.pop(_SEEN + name, None)
        return False
    seen = st.session_state.get(_SEEN + name)
    if seen == token:
        return False
    st.session_state[_SEEN + name] = token
    return True


def figure_selection(drawn: tuple | None, chart: Any, row: int | None, chart_has_selection: bool) -> tuple:
    """What a chart's figure should draw as selected: ``(chart, row)``, where ``chart`` names
    the figure (checkpoint, view) and ``drawn`` is what was returned last time.

    A browser shows a click on a plotly chart by itself. Drawing the clicked point into the
    figure would change the figure, and Streamlit makes a changed figure a new chart: the
    browser would rebuild every marker on each click and forget the zoom. So the drawn
    selection follows ``row`` only while the chart holds no selection of its own (first
    drawn from a link or another page, after a deselect) or when the figure is another one.
    """
    if chart_has_selection and drawn is not None and drawn[0] == chart:
        return drawn
    return (chart, row)


def parse_floats(text: str) -> tuple[float, ...]:
    """'0.5,-1.25' -> (0.5, -1.25); refuses non-finite numbers."""
    values = tuple(float(t) for t in text.split(","))
    if not all(v == v and abs(v) != float("inf") for v in values):
        raise ValueError(f"not finite: {text!r}")
    return values


MAX_COORDINATE = 1e3  # no latent plane shown reaches this far; a URL that does is refused


def parse_point(text: str) -> tuple[float, float]:
    """'0.5,-1.25' -> (0.5, -1.25): two finite plane coordinates, each within ``MAX_COORDINATE``."""
    values = parse_floats(text)
    if len(values) != 2 or max(abs(v) for v in values) > MAX_COORDINATE:
        raise ValueError(f"not a point of a latent plane: {text[:40]!r}")
    return values[0], values[1]


def parse_code(text: str, length: int) -> tuple[float, ...]:
    """A latent code of ``length`` finite numbers, each within ``MAX_COORDINATE``."""
    values = parse_floats(text)
    if len(values) != length or max(abs(v) for v in values) > MAX_COORDINATE:
        raise ValueError(f"not a code of {length} numbers: {text[:40]!r}")
    return values


def fmt_floats(values) -> str:
    """Six significant digits: a link decodes to the same pixels, and stays readable."""
    return ",".join(f"{float(v) + 0.0:.6g}" for v in values)


def parse_index(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"negative index {value}")
    return value


IMAGE_SIDE = 28


def fmt_image(img: np.ndarray) -> str:
    """A 28×28 image of grey levels (uint8) as URL-safe text: zlib, then base64url. A drawing is
    mostly black and short (the screenshots' drawn "7": 168 characters); random grey levels, the
    worst case, about 1,060."""
    a = np.asarray(img, dtype=np.uint8)
    if a.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"need a {IMAGE_SIDE}×{IMAGE_SIDE} image, got {a.shape}")
    return base64.urlsafe_b64encode(zlib.compress(a.tobytes(), 9)).decode("ascii").rstrip("=")


def parse_image(text: str) -> np.ndarray:
    """The inverse of ``fmt_image``: a (28, 28) uint8 array. Hand-edited text is refused, and a
    compressed bomb is never inflated past the 784 bytes an image has."""
    if len(text) > 4 * IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError("too long to be an image")
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, IMAGE_SIDE * IMAGE_SIDE + 1)
    except (binascii.Error, zlib.error) as e:
        raise ValueError(f"not an image: {e}") from None
    if len(raw) != IMAGE_SIDE * IMAGE_SIDE or not inflater.eof:
        raise ValueError("not a 28×28 image")
    return np.frombuffer(raw, dtype=np.uint8).reshape(IMAGE_SIDE, IMAGE_SIDE).copy()


def parse_flag(text: str) -> bool:
    if text not in ("1", "0"):
        raise ValueError(f"not a flag: {text[:20]!r}")
    return text == "1"


def fmt_flag(value: bool) -> str:
    return "1" if value else "0"

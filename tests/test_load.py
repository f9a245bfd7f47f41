"""Many users at once (issue 6): the real server under 20 concurrent sessions, and caches that
cannot grow without bound.

The load test starts ``streamlit run app.py`` on 127.0.0.1 on the small checkpoints of the
``app_checkpoints`` fixture and drives 20 sessions over the app's websocket for 20 seconds
(``explorer.loadtest``: clicks on the latent grid and map, interpolation slider steps, every
session moving through the checkpoints). The longer run, on the shipped checkpoints:

    python -m explorer.loadtest --sessions 20 --seconds 60

It speaks Streamlit's own protocol rather than driving twenty Chromium tabs, so it needs no
browser: on a two-core machine twenty renderers would measure the browsers, not the server.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser  # starts the real server, like the browser tests

pytest.importorskip("websockets", reason="websockets is not installed (a dependency of streamlit)")

from explorer import loadtest  # noqa: E402

UI = Path(__file__).resolve().parents[1] / "explorer" / "ui"
SHIPPED_CHECKPOINTS = 2 * 3 * 5  # datasets × kinds × latent sizes that train.py makes by default


def test_twenty_sessions_at_once(app_checkpoints):
    report = loadtest.run_load_test(app_checkpoints, sessions=20, seconds=20, per_page=4, log=lambda m: None)
    print("\n" + loadtest.format_report(report))
    assert report["errors"] == 0, report["error_messages"]
    by_kind = report["latency_by_kind"]
    assert all(by_kind[k]["n"] >= 10 for k in ("grid", "map", "slider")), by_kind
    assert report["page_loads"] >= 20  # every session opened at least one page
    # every input was checked against the single-session truth; most were also seen by
    # several sessions, whose images must be byte-identical (counted as errors if not)
    assert report["inputs_compared_across_sessions"] >= 20
    # memory: after every session's first page all checkpoints are loaded; what follows may
    # fill bounded caches and session state, not grow without limit
    assert report["rss_end_mb"] - report["rss_after_first_round_mb"] < 250, report
    assert report["rss_peak_mb"] < 800, report


# --------------------------------------------------------------------------- cache bounds

def _cache_decorators():
    """(file, function, 'cache_data' | 'cache_resource', the decorator node) in explorer/ui."""
    found = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
                    found.append((path.relative_to(UI.parent.parent), node.name, target.attr, dec))
    return found


def test_the_ui_has_caches_to_check():
    kinds = {kind for _, _, kind, _ in _cache_decorators()}
    assert kinds == {"cache_data", "cache_resource"}


def test_every_cache_has_max_entries():
    """Bounded caches: browsing every checkpoint in every session cannot grow memory without limit."""
    unbounded = []
    for path, name, kind, dec in _cache_decorators():
        bound = None
        if isinstance(dec, ast.Call):
            bound = next((kw.value for kw in dec.keywords if kw.arg == "max_entries"), None)
        if not (isinstance(bound, ast.Constant) and isinstance(bound.value, int) and bound.value > 0):
            unbounded.append(f"{path}: {name} (@st.{kind} without a positive max_entries)")
    assert unbounded == []


def test_per_checkpoint_resources_hold_the_whole_catalog():
    """Models, codes and planes are cached per checkpoint and shared by all sessions: their bound
    holds every shipped checkpoint, so one class browsing them all never evicts a model that
    another session is using (and reloads it from disk)."""
    import streamlit  # noqa: F401 - its loggers would warn "no runtime" for caches made outside a server

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    from explorer.ui import loaders

    for fn in (loaders._checkpoint, loaders._codes, loaders._plane):
        assert fn._info.max_entries >= SHIPPED_CHECKPOINTS, fn


# --------------------------------------------------------------------------- the checker itself

def test_the_checker_sees_a_one_level_difference_in_a_test_image():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[1, 2] = 1
    assert loadtest.same_image(a, a, 0) is None
    assert loadtest.same_image(a, b, 0) == "pixels differ by up to 1 grey levels"
    assert loadtest.same_image(a, b, 1) is None
    assert "size" in loadtest.same_image(a, a[:2], 0)

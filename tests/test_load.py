"""Many users at once (issue 6): the real server under 20 concurrent sessions, and caches that
cannot grow without bound.

The load test starts ``streamlit run app.py`` on 127.0.0.1 on the small checkpoints of the
``app_checkpoints`` fixture and drives 20 sessions over the app's websocket for 20 seconds
(``tools.loadtest``: clicks on the latent grid and map, interpolation slider steps, every
session moving through the checkpoints). The longer run, on the shipped checkpoints:

    python -m tools.loadtest --sessions 20 --seconds 60

It speaks Streamlit's own protocol rather than driving twenty Chromium tabs, so it needs no
browser: on a two-core machine twenty renderers would measure the browsers, not the server.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("websockets", reason="websockets is not installed (a dependency of streamlit)")

from tools import loadtest  # noqa: E402


@pytest.mark.browser  # starts the real server, like the browser tests
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


# --------------------------------------------------------------------------- the checker itself

def test_the_checker_sees_a_one_level_difference_in_a_test_image():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[1, 2] = 1
    assert loadtest.same_image(a, a, 0) is None
    assert loadtest.same_image(a, b, 0) == "pixels differ by up to 1 grey levels"
    assert loadtest.same_image(a, b, 1) is None
    assert "size" in loadtest.same_image(a, a[:2], 0)

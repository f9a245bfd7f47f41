"""``explorer.ui.live_chart``: the plotly chart that stays in the page. Its drawing in Chromium is
tested in tests/test_browser.py (``test_the_anomaly_chart_is_redrawn_in_place``)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import numpy as np
import plotly.graph_objects as go

from explorer.ui import live_chart


def test_the_vendored_plotly_is_the_pinned_release():
    data = live_chart.BUNDLE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == live_chart.BUNDLE_SHA256
    assert b"plotly.js (cartesian - minified) v4.1.1" in data[:200], "the release Streamlit 1.67 bundles"
    assert (live_chart.ASSETS / "LICENSE-plotly.js").read_text().startswith("MIT License")


def test_the_frame_loads_nothing_from_elsewhere():
    html = (live_chart.ASSETS / "index.html").read_text()
    assert re.findall(r'<script src="([^"]+)"', html) == [live_chart.BUNDLE.name]
    assert "http" not in html.replace("https://", "http"), "no address outside the app's own server"


def test_the_figure_goes_without_its_template_and_with_its_arrays():
    fig = go.Figure(go.Scatter(x=np.arange(3), y=np.array([0.5, 1.5, 2.5])), layout=dict(height=300))
    spec = json.loads(live_chart.figure_json(fig))
    assert "template" not in spec["layout"], "the component sets Streamlit's look for the page's theme"
    assert spec["layout"]["height"] == 300
    (trace,) = spec["data"]
    assert trace["type"] == "scatter"
    for axis, want in (("x", [0, 1, 2]), ("y", [0.5, 1.5, 2.5])):
        value = trace[axis]  # plotly 7 writes numeric arrays as typed arrays: dtype and base64 bytes
        got = (np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]) if isinstance(value, dict)
               else np.asarray(value))
        assert got.tolist() == want

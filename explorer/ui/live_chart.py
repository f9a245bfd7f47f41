"""A plotly chart that stays in the page while its figure changes.

``st.plotly_chart`` (Streamlit 1.67) hashes the figure into the element's id, so every new
figure unmounts the chart and plots it again from nothing, twice (once more for its theme):
about 180 ms of a 350 ms redraw of the Anomalies page after a change of model
(docs/BENCHMARKS.md, "Where a redraw's time went"). This component keeps one plot, identified
by its key, and draws each new figure into it with ``Plotly.react``, which only redraws what
changed.

It runs plotly.js 4.1.1's cartesian bundle (the release Streamlit 1.67 bundles, without the
WebGL, 3-D and map traces), vendored from npm in ``plotly_live/`` with its licence:
``plotly.js-cartesian-dist-min@4.1.1``, ``plotly-cartesian.min.js``, SHA-256 in ``BUNDLE_SHA256``
(tests/test_live_chart.py checks it). The charts it draws take Streamlit's look from the app's
theme (fonts, text and grid colours, transparent background), as ``st.plotly_chart`` does.
"""

import hashlib
import json
from pathlib import Path

import plotly.graph_objects as go
import plotly.utils
import streamlit.components.v1 as components

ASSETS = Path(__file__).with_name("plotly_live")
BUNDLE = ASSETS / "plotly-cartesian.min.js"
BUNDLE_SHA256 = "79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a"


def figure_json(fig: go.Figure) -> str:
    """The figure as the component reads it: plotly's JSON without the template (the component
    sets Streamlit's look itself, for the theme the page has)."""
    spec = fig.to_plotly_json()
    spec["layout"].pop("template", None)
    return json.dumps(spec, cls=plotly.utils.PlotlyJSONEncoder, separators=(",", ":"))


def live_chart(fig: go.Figure, *, key: str, config: dict | None = None) -> str:
    """Draw ``fig`` in the chart named ``key``: the first time a new plot, then each new figure
    into the same one. Returns the figure's revision (a hash of its JSON), which the drawn plot
    carries as ``data-revision`` once it is drawn."""
    spec = figure_json(fig)
    revision = hashlib.sha1(spec.encode()).hexdigest()[:12]
    # declared on each call, not once at import: Streamlit serves a component's files only if it
    # was declared during a script run (an import from elsewhere, a test or a thread, would leave
    # it unserved for good); declaring it again costs microseconds
    component = components.declare_component("plotly_live", path=str(ASSETS))
    component(figure=spec, config=dict(config or {}), revision=revision, key=key, default=None)
    return revision

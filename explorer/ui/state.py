"""Session state the app owns, mirrored in the URL.

Widgets keep their own values in the URL (``bind="query-params"``, keyed by the widget's
key). What is not a widget — the point clicked on a map or a grid, the sample picked from
a grid of samples — lives here: a small value (an index, two floats) under a namespaced
key in ``st.session_state``, written to ``st.query_params`` under the same name so that a
reload, or a link sent to a class, shows the same view. Tests set these keys directly
(``at.session_state["map_img"] = 12``), as a click would.

Components report their last event on every rerun; ``new_event`` tells a fresh click from
the same one reported again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

_SEEN = "_seen."


def init(key: str, parse: Callable[[str], Any], default: Any = None) -> Any:
    """The value under ``key``: on the session's first run, taken from the URL if it parses."""
    if key not in st.session_state:
        value = default
        raw = st.query_params.get(key)
        if raw is not None:
            try:
                value = parse(raw)
            except (ValueError, TypeError, IndexError):
                value = default  # a hand-edited URL: ignore what does not parse
        st.session_state[key] = value
    return st.session_state[key]


def put(key: str, value: Any, fmt: Callable[[Any], str] = str) -> None:
    """Set an app-owned value and mirror it in the URL (None removes it)."""
    st.session_state[key] = value
    publish(key, fmt)


def publish(key: str, fmt: Callable[[Any], str] = str) -> None:
    """Write the current value of ``key`` to the URL, if it is not there already."""
    value = st.session_state.get(key)
    if value is None:
        if key in st.query_params:
            del st.query_params[key]
        return
    text = fmt(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


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


def fmt_floats(values) -> str:
    return ",".join(f"{float(v):.4g}" for v in values)


def parse_index(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"negative index {value}")
    return value

"""What the app's server adds to Streamlit's (``app.py`` serves it as an ``st.App``): the first
page's chart code asked for with the page itself.

Streamlit 1.67 asks for its plotly chunk (``PlotlyChart.<hash>.js``, 4.7 MB) only once the
script has sent a chart, 1.4-1.6 s after its page arrived, and then spends 0.8-1.3 s evaluating
it on the browser's main thread before the latent map can be drawn. ``PreloadCharts`` writes
two tags into every HTML page the server sends: a ``modulepreload`` (the browser fetches and
compiles the chunk beside Streamlit's own bundles) and a module script that imports it
(evaluated as soon as it is there, while the browser waits for the server, not after the
chart has arrived). Streamlit's own ``import()`` of the same address then finds the module
evaluated. What it gains at the start is in docs/BENCHMARKS.md ("2026-12-06")."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit

log = logging.getLogger(__name__)

# Streamlit's built bundles: index.html's own scripts are addressed as "./static/js/<file>"
STATIC_JS = Path(streamlit.__file__).parent / "static" / "static" / "js"


def plotly_chunk(folder: Path = STATIC_JS) -> str | None:
    """The file name of Streamlit's plotly chunk, or None if this Streamlit has none (or several:
    the tags would guess)."""
    found = sorted(p.name for p in folder.glob("PlotlyChart.*.js"))
    return found[0] if len(found) == 1 else None


def preload_tags(chunk: str) -> bytes:
    """The tags written before ``</head>``. Addresses relative to the page, as index.html's own
    (a server under a base path serves the page and the chunk under it alike)."""
    src = f"./static/js/{chunk}"
    return (f'<link rel="modulepreload" crossorigin href="{src}">'
            f'<script type="module">import("{src}");</script>').encode()


class PreloadCharts:
    """ASGI middleware: ``preload_tags`` written into each HTML response before ``</head>``; every
    other response passes untouched. A page asked for with gzip is asked for uncompressed from
    Streamlit (its 3 kB; the tags must go into the text), so this sits outside Streamlit's gzip."""

    def __init__(self, app, chunk: str) -> None:
        self.app = app
        self.tags = preload_tags(chunk)

    async def __call__(self, scope, receive, send) -> None:
        tags = self.tags
        if scope["type"] != "http" or scope["method"] != "GET" \
                or b"text/html" not in dict(scope["headers"]).get(b"accept", b""):
            await self.app(scope, receive, send)
            return
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"accept-encoding"])
        start: dict | None = None
        body: list[bytes] = []

        async def rewrite(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message  # held until the body is whole
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = b"".join(body)
            at = html.find(b"</head>")
            if at >= 0:
                html = html[:at] + tags + html[at:]
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": html, "more_body": False})

        await self.app(scope, receive, rewrite)


def middleware() -> list:
    """The app's middleware for ``st.App``: ``PreloadCharts`` with this Streamlit's chunk (none,
    logged, if it cannot be found: the page then loads it itself, only later)."""
    from starlette.middleware import Middleware

    chunk = plotly_chunk()
    if chunk is None:
        log.warning("Streamlit's plotly chunk was not found in %s; charts load when first shown", STATIC_JS)
        return []
    return [Middleware(PreloadCharts, chunk=chunk)]


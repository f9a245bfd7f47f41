"""The app's server (app.py, explorer/ui/server.py): Streamlit's, as an ``st.App``, with the
first page's chart code asked for with the page."""

import asyncio
import gzip
import urllib.request
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from explorer.ui import server
from tools import browser

ROOT = Path(__file__).resolve().parents[1]
PAGE = b"<!doctype html><html><head><title>t</title></head><body>app</body></html>"
CHUNK = "PlotlyChart.TEST.js"


def test_streamlit_run_serves_app_py_as_an_st_app():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.app_name == "app"


def test_app_py_is_the_server_when_imported_and_the_frame_when_run(monkeypatch):
    """Imported by the server (no script run), app.py builds the st.App that runs app.py itself."""
    import importlib.util

    import streamlit as st

    built = []
    monkeypatch.setattr(st, "App", lambda script, **kw: built.append((script, kw)) or "the app")
    spec = importlib.util.spec_from_file_location("app_under_test", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.app == "the app"
    assert len(built) == 1 and built[0][0] == str(ROOT / "app.py")
    assert [m.cls for m in built[0][1]["middleware"]] == [server.PreloadCharts]


def test_the_pinned_streamlit_has_the_chunk_its_own_bundle_imports():
    chunk = server.plotly_chunk()
    assert chunk is not None, "Streamlit's plotly chunk moved: update explorer/ui/server.py"
    index = [p for p in server.STATIC_JS.glob("index.*.js")]
    assert any(f"./{chunk}" in p.read_text(errors="replace") for p in index), \
        "Streamlit's own import must use the address the tags use, or the chunk would be loaded twice"


def test_no_chunk_or_two_chunks_give_no_tags(tmp_path):
    assert server.plotly_chunk(tmp_path) is None
    (tmp_path / "PlotlyChart.a.js").write_text("")
    assert server.plotly_chunk(tmp_path) == "PlotlyChart.a.js"
    (tmp_path / "PlotlyChart.b.js").write_text("")
    assert server.plotly_chunk(tmp_path) is None


class Answer:
    """What ``PreloadCharts`` around an app answering ``response(request)`` sends for one request."""

    def __init__(self, response, path: str = "/", headers: dict | None = None, method: str = "GET"):
        self.seen: dict = {}

        async def inner(scope, receive, send):
            request = Request(scope, receive)
            self.seen["headers"] = dict(request.headers)
            await response(request)(scope, receive, send)

        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()], "http_version": "1.1",
                 "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
        sent: list[dict] = []

        asked = []

        async def receive():  # the request once, then the client waits (a streamed answer listens)
            if not asked:
                asked.append(1)
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        asyncio.run(server.PreloadCharts(inner, chunk=CHUNK)(scope, receive, send))
        start = sent[0]
        assert start["type"] == "http.response.start"
        self.status = start["status"]
        self.headers = {k.decode(): v.decode() for k, v in start["headers"]}
        self.content = b"".join(m.get("body", b"") for m in sent[1:])


HTML = {"accept": "text/html,application/xhtml+xml"}


def test_an_html_page_gets_the_tags_before_its_head_ends():
    r = Answer(lambda req: Response(PAGE, media_type="text/html"), headers=HTML)
    tags = server.preload_tags(CHUNK)
    assert r.content == PAGE.replace(b"</head>", tags + b"</head>")
    assert int(r.headers["content-length"]) == len(r.content)
    assert b'<link rel="modulepreload" crossorigin href="./static/js/PlotlyChart.TEST.js">' in tags
    assert b'import("./static/js/PlotlyChart.TEST.js")' in tags


def test_a_page_sent_in_pieces_is_rewritten_whole():
    def pieces(req):
        return StreamingResponse(iter([PAGE[:20], PAGE[20:40], PAGE[40:]]), media_type="text/html")

    r = Answer(pieces, "/latent_grid", headers=HTML)
    assert r.content == PAGE.replace(b"</head>", server.preload_tags(CHUNK) + b"</head>")


def test_the_page_is_asked_for_uncompressed_so_that_the_tags_can_go_in():
    r = Answer(lambda req: Response(PAGE, media_type="text/html"), headers={**HTML, "accept-encoding": "gzip"})
    assert "accept-encoding" not in r.seen["headers"]
    assert server.preload_tags(CHUNK) in r.content
    r = Answer(lambda req: Response(b"x", media_type="text/javascript"), "/static/js/x.js",
               headers={"accept": "*/*", "accept-encoding": "gzip"})
    assert r.seen["headers"]["accept-encoding"] == "gzip", "only a page is asked for uncompressed"


@pytest.mark.parametrize("case", ["script", "not a page request", "post", "compressed", "no head"])
def test_everything_else_passes_untouched(case):
    body, media, headers, method = PAGE, "text/html", HTML, "GET"
    extra = {}
    if case == "script":
        body, media = b"export default 1; </head>", "text/javascript"
    elif case == "not a page request":
        headers = {"accept": "*/*"}
    elif case == "post":
        method = "POST"
    elif case == "compressed":
        body, extra = gzip.compress(PAGE), {"content-encoding": "gzip"}
    elif case == "no head":
        body = b"<p>no head here</p>"
    r = Answer(lambda req: Response(body, media_type=media, headers=extra), headers=headers, method=method)
    assert r.status == 200 and r.content == body


def test_the_real_server_sends_the_tags_and_serves_the_chunk_at_their_address(tmp_path):
    proc, url, _ = browser.start_server(ROOT / "checkpoints", log=tmp_path / "server.log")
    try:
        for path in ("/", "/latent_grid"):
            request = urllib.request.Request(url + path, headers={**HTML, "accept-encoding": "gzip"})
            with urllib.request.urlopen(request, timeout=10) as r:
                assert r.headers.get("content-encoding") is None
                page = r.read()
            assert server.preload_tags(server.plotly_chunk()) in page, path
        with urllib.request.urlopen(f"{url}/static/js/{server.plotly_chunk()}", timeout=10) as r:
            assert r.status == 200 and "javascript" in r.headers["content-type"]
            assert len(r.read()) > 1_000_000
    finally:
        browser.stop_server(proc)

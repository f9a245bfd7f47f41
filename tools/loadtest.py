"""Many users at once: a load test of the app's real server, spoken to in its own protocol.

    python -m tools.loadtest [--checkpoints checkpoints] [--sessions 20] [--seconds 60] [--url URL]

Starts ``streamlit run app.py`` on a free port of 127.0.0.1 (``tools.browser``), or takes
the server at ``--url`` (e.g. nginx in front of replicas, ``tools.deploy``), and
opens ``--sessions`` concurrent sessions over its websocket (``/_stcore/stream``), each
doing what a browser tab sends when a user clicks: the latent grid component's click
value, the latent map's plotly selection and the interpolation slider's value, as widget
states in a ``rerun_script`` message (with the widget's fragment, as the browser does).
No browser is involved, so the server's two cores are not shared with twenty renderers:
the latencies are the server's, as a class on their own machines would see them.

Each session is one browser: it keeps the cookies the server sets (a proxy's routing
cookie) and sends them with every request. It works through rounds. A round loads the
page (``GET /``, as a browser tab does), opens a fresh session on one page for one
checkpoint (session ``i`` in round ``r`` takes checkpoint ``(i + r) mod n``, so all
checkpoints are in use at once and every session moves through them), makes
``--per-page`` interactions, and closes. Every interaction is checked:

  * the run finished, with no exception element (``st.exception`` or an uncaught error);
  * the text it prints (``coordinate: …``, ``code of image i:``, ``t = …``) is the one
    that input means;
  * the image it shows (fetched from the server's media endpoint, as a browser does) has
    exactly the pixels a single, unloaded computation gives for that input: the decoder
    run on the same code through ``explorer.inference`` in this process, or the test image
    itself (the app sends these images as PNG, so nothing is lost on the way);
  * and every session that sends the same input to the same checkpoint gets byte-identical
    images (models are shared read-only).

Reported: interactions done, errors (with the first few messages), median and 95th
percentile latency (from sending the input to having the image's bytes), and the server's
resident memory at start, after the first round of page loads, at the end and at peak
(only for a server it started), and every value each session's cookies took.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from explorer.vocab import kind_label
from tools.common import query, summary, tool_parser

# the pages and the fixed inputs every session uses (so sessions can be compared)
GRID_SIZE = 600                                   # the displayed size the grid click reports
GRID_CLICKS = [(int(GRID_SIZE * fx), int(GRID_SIZE * fy))
               for fx, fy in ((0.12, 0.2), (0.8, 0.35), (0.3, 0.9), (0.66, 0.62), (0.05, 0.55), (0.95, 0.08),
                              (0.42, 0.27), (0.58, 0.81), (0.21, 0.4), (0.88, 0.93), (0.36, 0.66), (0.7, 0.15))]
MAP_ROWS = [3, 101, 457, 212, 640, 29, 388, 775, 150, 517, 902, 66]   # taken modulo the codes stored
SLIDER_TS = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.05, 0.95, 0.35, 0.65]
PAGES = ("latent_grid", "", "interpolate")       # "" is the latent map, the default page
RUN_TIMEOUT_S = 60.0


class LoadTestError(RuntimeError):
    """The load test could not run (not: an interaction failed; those are counted)."""


class InteractionError(Exception):
    """One interaction went wrong; counted as an error, with this message."""


# --------------------------------------------------------------------------- the protocol

@dataclass
class Run:
    """What one script run sent back: its elements in order, and how it ended."""

    elements: list = field(default_factory=list)   # (delta path, fragment id, Element proto)
    status: str = ""
    seconds: float = 0.0

    def exceptions(self) -> list[str]:
        return [e.exception.message or e.exception.type for _, _, e in self.elements
                if e.WhichOneof("type") == "exception"]

    def texts(self) -> list[str]:
        return [e.text.body for _, _, e in self.elements if e.WhichOneof("type") == "text"]

    def text(self, prefix: str) -> str:
        found = [t for t in self.texts() if t.startswith(prefix)]
        if not found:
            raise InteractionError(f"no text starting with {prefix!r} (texts: {self.texts()[:6]})")
        return found[0]

    def image_url(self, caption_prefix: str) -> str:
        for _, _, e in self.elements:
            if e.WhichOneof("type") == "imgs":
                for img in e.imgs.imgs:
                    if img.caption.startswith(caption_prefix):
                        return img.url
        raise InteractionError(f"no image captioned {caption_prefix!r}")

    def widget(self, key: str) -> tuple[str, str]:
        """(element id, fragment id) of the widget or component with this user key."""
        for _, fragment, e in self.elements:
            kind = e.WhichOneof("type")
            wid = getattr(getattr(e, kind), "id", "") if kind else ""
            if isinstance(wid, str) and wid.endswith("-" + key):
                return wid, fragment
        raise InteractionError(f"no widget with key {key!r} on the page")


class CookieJar:
    """One browser's cookies for the one site it talks to: set by responses' ``Set-Cookie``
    headers, sent back on every request (page, websocket handshake, media). A proxy that
    routes by a cookie (deploy/README.md) sees the same browser throughout."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.history: dict[str, list[str]] = {}   # name -> every value it took, in order

    def take(self, headers) -> None:
        """Keep the cookies a response (its ``email.message.Message`` headers) sets."""
        for line in headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            name, value = name.strip(), rest.split(";", 1)[0].strip()
            if name and self.values.get(name) != value:
                self.values[name] = value
                self.history.setdefault(name, []).append(value)

    def headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.values.items())} if self.values else {}


class AppClient:
    """One user's tab, speaking Streamlit's websocket protocol (BackMsg / ForwardMsg)."""

    def __init__(self, base_url: str, cookies: CookieJar | None = None):
        self.base = base_url
        self.cookies = cookies or CookieJar()
        self.ws = None
        self.page_hash = ""
        self.query = ""
        self.session_id = ""   # the server's id of this session (upload URLs carry it)

    async def open(self, page: str, query: str) -> Run:
        """Connect and run ``page`` (its URL path; "" the default) with the URL ``query``."""
        from websockets.asyncio.client import connect
        from websockets.typing import Origin, Subprotocol

        ws_url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=[Subprotocol("streamlit")], origin=Origin(self.base), max_size=None,
                                open_timeout=RUN_TIMEOUT_S, ping_interval=None, additional_headers=self.cookies.headers())
        self.query = query
        return await self._run(page_name=page)

    async def rerun(self, widgets: list, fragment_id: str = "") -> Run:
        """Rerun with these widget states (``WidgetState`` protos), as a browser does after an input."""
        return await self._run(widgets=widgets, fragment_id=fragment_id)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def _run(self, *, page_name: str = "", widgets=(), fragment_id: str = "") -> Run:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        cs.page_name = page_name
        cs.fragment_id = fragment_id
        cs.widget_states.widgets.extend(widgets)
        ws = self.ws
        if ws is None:
            raise LoadTestError("the session is not connected: open() it first")
        run = Run()
        t0 = time.perf_counter()
        await ws.send(msg.SerializeToString())
        names = {v: k for k, v in ForwardMsg.ScriptFinishedStatus.items()}
        while True:
            data = await asyncio.wait_for(ws.recv(decode=False), RUN_TIMEOUT_S)  # Streamlit's frames are binary
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            kind = fwd.WhichOneof("type")
            if kind == "ref_hash":
                raise InteractionError("the server sent a cached-message reference the client never asked for")
            if kind == "new_session":
                self.page_hash = fwd.new_session.page_script_hash or self.page_hash
                self.session_id = fwd.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                self.page_hash = fwd.navigation.page_script_hash or self.page_hash
            elif kind == "page_not_found":
                raise InteractionError(f"page not found: {fwd.page_not_found.page_name!r}")
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                run.elements.append((tuple(fwd.metadata.delta_path), fwd.delta.fragment_id,
                                     fwd.delta.new_element))
            elif kind == "script_finished":
                run.status = names.get(fwd.script_finished, str(fwd.script_finished))
                if run.status == "FINISHED_EARLY_FOR_RERUN":
                    continue  # superseded by a rerun the server queued; wait for that one
                run.seconds = time.perf_counter() - t0
                if run.status == "FINISHED_WITH_COMPILE_ERROR":
                    raise InteractionError("the script did not compile")
                return run


def widget(wid: str, **value) -> object:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    w = WidgetState(id=wid)
    for name, v in value.items():
        if name == "double_array_value":
            w.double_array_value.data.extend(v)
        else:
            setattr(w, name, v)
    return w


def fetch(base_url: str, path: str, cookies: CookieJar | None = None) -> bytes:
    """GET ``path``, sending the browser's cookies and keeping those the response sets."""
    request = urllib.request.Request(base_url + path, headers=cookies.headers() if cookies else {})
    with urllib.request.urlopen(request, timeout=RUN_TIMEOUT_S) as r:
        if cookies is not None:
            cookies.take(r.headers)
        return r.read()


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


# --------------------------------------------------------------------------- the single-session truth

class Reference:
    """What each input should show, computed here with the package's plain functions: the
    same checkpoint files, the same test split, no Streamlit and no other load."""

    def __init__(self, entries: list):
        self.entries = {e.id: e for e in entries}

    @staticmethod
    @cache
    def _split(name: str) -> tuple[np.ndarray, np.ndarray]:
        """The test split the app shows for checkpoints of this dataset (see ui/loaders.py)."""
        from explorer.data import load_dataset

        ds = load_dataset(name, "test")
        return np.asarray(ds.images.numpy(), np.uint8), np.asarray(ds.labels.numpy())

    @cache
    def _loaded(self, cid: str):
        from explorer.checkpoints import load_checkpoint, load_codes

        e = self.entries[cid]
        images, labels = self._split(e.meta.dataset.name)
        return load_checkpoint(e.path).model, load_codes(e.path, e.meta), images, labels

    @cache
    def grid(self, cid: str, x: int, y: int) -> tuple[str, np.ndarray]:
        """The latent grid page with default settings, clicked at (x, y) of a GRID_SIZE² display."""
        from explorer.images import enlarge
        from explorer.inference import decode
        from explorer.latent import grid_extent, make_plane, pixel_to_plane

        model, codes, _, _ = self._loaded(cid)
        meta = self.entries[cid].meta
        stored = codes["codes"]
        # The page opens on latent dimensions 0 and 1 at size 2, and above it on the codes'
        # principal plane through their mean.
        plane = (make_plane("pca", stored, anchor=stored.mean(axis=0)) if meta.latent_dim > 2
                 else make_plane("dims", stored, 0, 1, None))
        extent = grid_extent(meta.kind, lambda: plane.coords(codes["codes"]))
        u, v = pixel_to_plane(x, y, GRID_SIZE, GRID_SIZE, extent, "even")
        image = np.asarray(enlarge(decode(model, plane.points(np.array([u, v])))[0], 8))
        return f"coordinate: {plane.labels[0]} = {u:+.3f}, {plane.labels[1]} = {v:+.3f}", image

    @cache
    def map_point(self, cid: str, row: int) -> tuple[str, np.ndarray]:
        """The latent map clicked on the stored code ``row``: its text and the test image shown."""
        from explorer.images import enlarge

        _, codes, images, _ = self._loaded(cid)
        idx = int(codes["indices"][row])
        return f"code of image {idx}:", np.asarray(enlarge(images[idx].astype(np.float32) / 255.0, 6))

    @cache
    def slider(self, cid: str, t: float) -> tuple[str, np.ndarray]:
        """The interpolation page with its default ends (the first test images of classes 2 and 7)."""
        from explorer.images import enlarge
        from explorer.inference import decode, embed
        from explorer.latent import interpolate

        model, _, images, labels = self._loaded(cid)
        n_cls = len(self.entries[cid].meta.dataset.class_names)
        ends = []
        for cls in (2 % n_cls, 7 % n_cls):
            members = np.flatnonzero(labels == cls)
            idx = int(members[0]) if len(members) else 0
            ends.append(embed(model, (images[idx].astype(np.float32) / 255.0)[None])[0])
        z = interpolate(ends[0], ends[1], float(t), "linear")
        return f"t = {t:.2f}", np.asarray(enlarge(decode(model, z)[0], 8))


    def n_codes(self, cid: str) -> int:
        """How many test images' codes (the latent map's points) the checkpoint stores."""
        return len(self._loaded(cid)[1]["indices"])

    def precompute(self) -> None:
        """Every input's expected text and image, for every checkpoint."""
        for cid in self.entries:
            for x, y in GRID_CLICKS:
                self.grid(cid, x, y)
            for row in MAP_ROWS:
                self.map_point(cid, row % self.n_codes(cid))
            for t in SLIDER_TS:
                self.slider(cid, t)


def same_image(got: np.ndarray, want: np.ndarray, tolerance: int = 0) -> str | None:
    """None if equal within ``tolerance`` grey levels (0: exactly), else what differs."""
    if got.shape != want.shape:
        return f"size {got.shape} instead of {want.shape}"
    diff = int(np.abs(got.astype(np.int16) - want.astype(np.int16)).max()) if got.size else 0
    return None if diff <= tolerance else f"pixels differ by up to {diff} grey levels"


# --------------------------------------------------------------------------- one session

@dataclass
class Tally:
    """What all sessions did, gathered as they go."""

    interactions: int = 0
    page_loads: int = 0
    latencies: dict = field(default_factory=lambda: {"grid": [], "map": [], "slider": []})
    page_seconds: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)   # (checkpoint, kind, input) -> {sha256 of image bytes}
    cookies: dict = field(default_factory=dict)   # session number -> its CookieJar.history


async def interact(client: AppClient, page: str, run: Run, entry, k: int, ref: Reference, tally: Tally) -> Run:
    """The k-th interaction on ``page``; checks it and records its latency. Returns the new run."""
    cid, meta = entry.id, entry.meta
    t0 = time.perf_counter()
    if page == "latent_grid":
        x, y = GRID_CLICKS[k % len(GRID_CLICKS)]
        wid, frag = run.widget("grid_click_0")
        value = {"x": x, "y": y, "width": GRID_SIZE, "height": GRID_SIZE, "unix_time": time.time() * 1000 + k}
        run = await client.rerun([widget(wid, json_value=json.dumps(value))], frag)
        kind, key, (want_text, want_img) = "grid", (x, y), ref.grid(cid, x, y)
        got_text = run.text("coordinate:")
        url = run.image_url(f"{kind_label(meta.kind)} decodes the clicked point")
    elif page == "":
        row = MAP_ROWS[k % len(MAP_ROWS)] % ref.n_codes(cid)
        wid, frag = run.widget("map_chart")
        selection = {"selection": {"points": [{"customdata": row, "point_index": 0, "curve_number": 0}],
                                   "point_indices": [0], "box": [], "lasso": []}}
        run = await client.rerun([widget(wid, string_value=json.dumps(selection))], frag)
        kind, key, (want_text, want_img) = "map", row, ref.map_point(cid, row)
        got_text = run.text("code of image")
        url = run.image_url("the test image")
    else:
        t = SLIDER_TS[k % len(SLIDER_TS)]
        wid, frag = run.widget("interp_t")
        run = await client.rerun([widget(wid, double_array_value=[t])], frag)
        kind, key, (want_text, want_img) = "slider", t, ref.slider(cid, t)
        got_text = run.text("t = ")
        url = run.image_url("decoded at t")
    png = await asyncio.to_thread(fetch, client.base, url, client.cookies)
    ms = (time.perf_counter() - t0) * 1000
    if run.exceptions():
        raise InteractionError(f"{kind} on {cid}: the page shows an exception: {run.exceptions()[0][:300]}")
    if got_text != want_text:
        raise InteractionError(f"{kind} {key} on {cid}: the page says {got_text!r}, expected {want_text!r}")
    problem = same_image(pixels(png), want_img)
    if problem:
        raise InteractionError(f"{kind} {key} on {cid}: the image is not what one session computes: {problem}")
    tally.outputs.setdefault((cid, kind, key), set()).add(hashlib.sha256(png).hexdigest())
    tally.latencies[kind].append(ms)
    tally.interactions += 1
    return run


async def session(i: int, base_url: str, entries: list, ref: Reference, tally: Tally, deadline: float,
                  per_page: int, started: asyncio.Event | None = None) -> None:
    """One user: rounds of (load the page, open it for a checkpoint, interact ``per_page``
    times, close), all with the same cookies, as one browser."""
    r = 0
    cookies = CookieJar()
    tally.cookies[i] = cookies.history
    while time.perf_counter() < deadline:
        entry = entries[(i + r) % len(entries)]
        page = PAGES[(i + r) % len(PAGES)]
        client = AppClient(base_url, cookies)
        where = f"session {i}, {entry.id}, page {page or 'latent_map'}"
        try:
            await asyncio.to_thread(fetch, base_url, "/", cookies)   # the page itself (not timed)
            t0 = time.perf_counter()
            run = await client.open(page, query(entry.meta))
            tally.page_seconds.append(time.perf_counter() - t0)
            tally.page_loads += 1
            if run.exceptions():
                raise InteractionError(f"opening: the page shows an exception: {run.exceptions()[0][:300]}")
            for k in range(per_page):
                if time.perf_counter() >= deadline:
                    break
                run = await interact(client, page, run, entry, i + r * per_page + k, ref, tally)
        except (TimeoutError, InteractionError, OSError) as e:
            tally.errors.append(f"{where}: {type(e).__name__}: {e}")
        except Exception as e:  # noqa: BLE001 - a protocol failure: count it, keep the others going
            tally.errors.append(f"{where}: unexpected {type(e).__name__}: {e}")
        finally:
            await client.close()
        r += 1
        if r == 1 and started is not None:
            started.set()


# --------------------------------------------------------------------------- the whole test

async def _drive(base_url: str, entries: list, ref: Reference, sessions: int, seconds: float, per_page: int,
                 rss) -> tuple[Tally, dict]:
    # a thread per session for its HTTP requests, as each browser fetches on its own (the
    # default pool, a few threads, would queue the sessions' image fetches behind each other)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=sessions + 4))
    tally = Tally()
    marks: dict = {}
    deadline = time.perf_counter() + seconds
    firsts = [asyncio.Event() for _ in range(sessions)]
    tasks = [asyncio.create_task(session(i, base_url, entries, ref, tally, deadline, per_page, firsts[i]))
             for i in range(sessions)]

    async def after_first_round():
        await asyncio.gather(*(e.wait() for e in firsts))
        marks["rss_after_first_round_mb"] = rss.sample() if rss else None

    watcher = asyncio.create_task(after_first_round())
    await asyncio.gather(*tasks)
    watcher.cancel()
    return tally, marks


def run_load_test(checkpoints: Path, *, sessions: int = 20, seconds: float = 60, per_page: int = 4,
                  log=print, url: str | None = None) -> dict:
    """Start the server on ``checkpoints``, drive ``sessions`` concurrent sessions for ``seconds``;
    returns the report (see the module docstring). The server is always stopped.

    With ``url``, the sessions go to the server already there instead (it must serve the same
    ``checkpoints``, which the expected images come from); its memory and log are then the
    caller's to watch, and the report's memory figures are None.
    """
    from explorer.checkpoints import usable_checkpoints
    from tools import browser

    checkpoints = Path(checkpoints).resolve()
    entries = usable_checkpoints(checkpoints)
    if not entries:
        raise LoadTestError(f"no usable checkpoint in {checkpoints}; run `python train.py` first")
    ref = Reference(entries)
    t0 = time.perf_counter()
    ref.precompute()  # the single-session truth, before the clock starts and off the event loop
    log(f"reference images for {len(entries)} checkpoints computed in {time.perf_counter() - t0:.1f} s")
    if url is not None:
        t0 = time.perf_counter()
        tally, marks = asyncio.run(_drive(url.rstrip("/"), entries, ref, sessions, seconds, per_page, None))
        return _report(tally, marks, sessions, time.perf_counter() - t0, entries, "", {})
    proc, url, _ = browser.start_server(checkpoints)
    try:
        with browser.RssMonitor(proc.pid, interval=0.2) as rss:
            rss_start = rss.sample()
            t0 = time.perf_counter()
            tally, marks = asyncio.run(_drive(url, entries, ref, sessions, seconds, per_page, rss))
            wall = time.perf_counter() - t0
            rss_end = rss.sample()
        server_log = browser.stop_server(proc)
    except BaseException:
        tail = browser.stop_server(proc)[-3000:]
        if tail.strip():
            print(f"server output (last lines):\n{tail}", file=sys.stderr)
        raise
    memory = {"rss_start_mb": rss_start, "rss_end_mb": rss_end, "rss_peak_mb": rss.peak_mb}
    return _report(tally, marks, sessions, wall, entries, server_log, memory)


def _report(tally: Tally, marks: dict, sessions: int, wall: float, entries: list, server_log: str, memory: dict) -> dict:
    inconsistent = [f"{cid} {kind} {key}: {len(h)} different images for the same input"
                    for (cid, kind, key), h in tally.outputs.items() if len(h) > 1]
    if "Traceback" in server_log:
        tally.errors.append("the server logged a traceback:\n" + server_log[server_log.index("Traceback"):][:1500])
    all_ms = [v for kind in tally.latencies.values() for v in kind]
    report = {
        "sessions": sessions, "seconds": round(wall, 1), "checkpoints": len(entries),
        "interactions": tally.interactions, "page_loads": tally.page_loads,
        "errors": len(tally.errors) + len(inconsistent), "error_messages": (tally.errors + inconsistent)[:10],
        "inputs_compared_across_sessions": sum(1 for h in tally.outputs.values()),
        "latency": summary(all_ms),
        "latency_by_kind": {k: summary(v) for k, v in tally.latencies.items()},
        "page_load": summary([s * 1000 for s in tally.page_seconds]),
        "rss_start_mb": memory.get("rss_start_mb"), "rss_after_first_round_mb": marks.get("rss_after_first_round_mb"),
        "rss_end_mb": memory.get("rss_end_mb"), "rss_peak_mb": memory.get("rss_peak_mb"),
        "cookies_by_session": [tally.cookies.get(i, {}) for i in range(sessions)],
    }
    return report


def format_report(r: dict) -> str:
    lat = r["latency"]
    lines = [f"{r['sessions']} sessions for {r['seconds']:.0f} s on {r['checkpoints']} checkpoints: "
             f"{r['interactions']} interactions, {r['page_loads']} page loads, {r['errors']} errors (target 0)",
             f"latency: median {lat['median_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"]
    for kind, v in r["latency_by_kind"].items():
        lines.append(f"  {kind:<6} n={v['n']:<5} median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms")
    pl = r["page_load"]
    lines.append(f"page load: median {pl['median_ms']:.0f} ms, p95 {pl['p95_ms']:.0f} ms")
    after = r["rss_after_first_round_mb"]
    if r["rss_start_mb"] is None:
        lines.append("server memory: not measured (a server the load test did not start)")
    else:
        lines.append(f"server memory: {r['rss_start_mb']:.0f} MB at start, "
                     + (f"{after:.0f} MB after every session's first page, " if after else "")
                     + f"{r['rss_end_mb']:.0f} MB at the end, {r['rss_peak_mb']:.0f} MB at peak")
    lines.append(f"identical images across sessions checked for {r['inputs_compared_across_sessions']} inputs")
    lines += [f"ERROR: {m}" for m in r["error_messages"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = tool_parser("loadtest", __doc__, "checkpoint folder the server reads")
    p.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default: 20)")
    p.add_argument("--seconds", type=float, default=60, help="how long to keep them busy (default: 60)")
    p.add_argument("--per-page", type=int, default=4, help="interactions per page before the next (default: 4)")
    p.add_argument("--url", default=None,
                   help="drive the server at this address (serving --checkpoints) instead of starting one (default: start one)")
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    args = p.parse_args(argv)
    r = run_load_test(args.checkpoints, sessions=args.sessions, seconds=args.seconds, per_page=args.per_page,
                      url=args.url)
    print(format_report(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    return 0 if r["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

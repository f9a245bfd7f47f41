"""Drive the real app in a browser: start `streamlit run app.py` on a free local port, watch
its memory, open Debian's Chromium through Playwright, wait for the app to be idle, click
plotly markers.

Used by the browser tests and by ``python -m tools.ui.screenshots``. Needs the dev
requirements (playwright) and /usr/bin/chromium; never downloads a browser.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.ui import ENV_CHECKPOINTS

if TYPE_CHECKING:  # playwright is a test dependency, imported where a browser is launched
    from playwright.sync_api import ViewportSize
from tools.common import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
VIEWPORT: ViewportSize = {"width": 1400, "height": 1500}  # tall: Streamlit scrolls an inner container
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # script done, websocket up


def live_plot(key: str) -> str:
    """The selector of the plot of ``explorer.ui.live_chart`` chart ``key``, inside its frame,
    once it has drawn a figure (its ``data-revision`` is that figure's)."""
    return f".st-key-{key} iframe >> internal:control=enter-frame >> #plot[data-revision]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoints: str | Path | None = None, port: int | None = None, timeout: float = 60, *,
                 address: str = "127.0.0.1", env: dict[str, str] | None = None, log: Path | None = None):
    """Start the app's server in its own process group; returns (process, url, seconds to healthy).

    ``address``: the interface it listens on; ``env``: more environment variables for it (e.g.
    the cookie secret replicas share); ``log``: a file for its output instead of a pipe (a
    server that runs for hours would fill a pipe nobody reads, and stop at its next line).
    """
    port = port or free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONUNBUFFERED="1", **(env or {}))
    if checkpoints is not None:
        env[ENV_CHECKPOINTS] = str(checkpoints)
    cmd = [os.path.join(os.path.dirname(sys.executable), "streamlit"), "run", str(ROOT / "app.py"),
           "--server.headless", "true", "--server.address", address, "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false"]
    t0 = time.perf_counter()
    if log is None:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    else:
        with open(log, "ab") as out:  # the child keeps its own copy of the file
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    host = "127.0.0.1" if address in ("0.0.0.0", "") else address
    url = f"http://{host}:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            output = Path(log).read_text(errors="replace") if log else proc.stdout.read() if proc.stdout else ""
            raise RuntimeError("streamlit exited:\n" + output)
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise TimeoutError("streamlit did not become healthy")


def stop_server(proc, timeout: float = 10) -> str:
    """SIGTERM the server's own process group, SIGKILL if it lingers; returns its output (empty
    when it went to a ``log`` file)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


class RssMonitor:
    """Samples the resident memory (MB) of a process and all its children in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05):
        import psutil

        self._proc = psutil.Process(pid)
        self._psutil = psutil
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> float:
        total = 0
        try:
            procs = [self._proc] + self._proc.children(recursive=True)
        except self._psutil.Error:
            return 0.0
        for p in procs:
            try:
                total += p.memory_info().rss
            except self._psutil.Error:
                pass  # a child that just exited
        mb = total / 2**20
        self.peak_mb = max(self.peak_mb, mb)
        return mb

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssMonitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)


def wait_idle(page, timeout: float = 30000, settle: float = 0.15) -> None:
    """Wait until the script run has finished (after a short settle, so a rerun just triggered
    is observed rather than the idle state before it)."""
    time.sleep(settle)
    page.wait_for_selector(IDLE, timeout=timeout)


def wait_text(page, prefix: str, pred=lambda s: True, timeout: float = 30000) -> str:
    """Poll the st.text element starting with ``prefix`` until ``pred(text)``; returns the text."""
    loc = page.locator('[data-testid="stText"]', has_text=prefix).first
    t_end = time.time() + timeout / 1000
    last = None
    while time.time() < t_end:
        try:
            last = loc.inner_text(timeout=1000)
            if last.startswith(prefix) and pred(last):
                return last
        except Exception:  # noqa: BLE001 - the element is being replaced by a rerun
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{prefix!r} never satisfied; last seen {last!r}")


def exceptions(page) -> list[str]:
    """The text of every exception box on the page."""
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


# ---- clicking plotly markers ----------------------------------------------------------------
DATA_TO_PX = """([i, x, y]) => {
  const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[i];
  const fl = gd._fullLayout, r = gd.getBoundingClientRect();
  return [r.left + fl.xaxis._offset + fl.xaxis.d2p(x), r.top + fl.yaxis._offset + fl.yaxis.d2p(y)]; }"""
HOVER_PX = """(i) => { const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[i];
  const fl = gd._fullLayout, r = gd.getBoundingClientRect();
  return (gd._hoverdata || []).map(p => [r.left + fl.xaxis._offset + fl.xaxis.d2p(p.x),
                                         r.top + fl.yaxis._offset + fl.yaxis.d2p(p.y)]); }"""
_last_click = [0.0]


def click_plotly(page, chart_idx: int, x: float, y: float, tol_px: float = 15, dblclick_guard_s: float = 0.55):
    """Click the marker nearest data point (x, y) of the chart_idx-th plotly chart.

    Plotly selects what it hovers, so: move away, move onto the point, wait until hover
    registers a point near the cursor, keep clear of a double-click (500 ms), then click.
    """
    wait_idle(page)
    page.wait_for_function(
        "(i) => { const g = document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot')[i];"
        " return g && g._fullLayout; }", arg=chart_idx)
    page.locator('[data-testid="stPlotlyChart"]').nth(chart_idx).scroll_into_view_if_needed()
    page.mouse.move(1, 1)
    page.wait_for_function(f"({HOVER_PX})({chart_idx}).length === 0", arg=None, timeout=3000)
    px, py = page.evaluate(DATA_TO_PX, [chart_idx, x, y])
    page.mouse.move(px, py)
    t_end = time.time() + 3
    while time.time() < t_end:
        time.sleep(0.06)
        hov = page.evaluate(HOVER_PX, chart_idx)
        if hov and abs(hov[0][0] - px) <= tol_px and abs(hov[0][1] - py) <= tol_px:
            break
    else:
        raise TimeoutError(f"no plotly hover near ({x}, {y})")
    time.sleep(max(0.0, _last_click[0] + dblclick_guard_s - time.monotonic()))
    page.mouse.click(px, py)
    _last_click[0] = time.monotonic()

"""The Streamlit app's pages and helpers. The only part of the package that imports streamlit.

  state.py    the app-owned session state (clicked points) and its mirror in the URL
  loaders.py  cached loading: the checkpoint catalog, models, codes, the test split
  common.py   what every page shares: the chosen model, intros, image pickers, image display
  sidebar.py  the shared sidebar: dataset, kind, latent size, the model's facts
  pages/      one script per page, run by ``st.navigation`` from ``frame.py``
  frame.py    the app's frame: what each session's run of ``app.py`` draws
  server.py   what the server adds to Streamlit's: the first page's chart code asked for with the page
(What drives the real app in Chromium, for the tests and the screenshots, is in ``tools/``.)
"""

import contextlib
import functools
import gc
import os
import sys
import threading
import time
from pathlib import Path

ENV_CHECKPOINTS = "LATENT_EXPLORER_CHECKPOINTS"
APP_ROOT = Path(__file__).resolve().parents[2]   # the folder holding app.py


def checkpoint_folder() -> Path:
    """The folder the app reads: ``checkpoints/`` beside app.py, or ``$LATENT_EXPLORER_CHECKPOINTS``."""
    override = os.environ.get(ENV_CHECKPOINTS)
    return Path(override).expanduser() if override else APP_ROOT / "checkpoints"


def checkpoint_folder_label() -> str:
    """The folder as the sidebar names it: relative to the project (a public server's page must not
    show its file system), or as given in ``$LATENT_EXPLORER_CHECKPOINTS`` by whoever started it."""
    override = os.environ.get(ENV_CHECKPOINTS)
    if override:
        return override
    return checkpoint_folder().relative_to(APP_ROOT).as_posix() + "/"


@functools.cache
def page_icon():
    """The browser tab's icon, drawn here and served by the app itself: an emoji or a
    ``:material/…:`` icon would be fetched from an outside host. A 2-D latent map in miniature:
    four clusters of dots in the class colours."""
    from PIL import Image, ImageDraw

    from explorer.images import CLASS_COLORS

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, 63, 63), radius=12, fill=(250, 250, 250, 255), outline=(60, 60, 60, 255), width=3)
    for k, (cx, cy) in enumerate(((20, 20), (44, 22), (22, 44), (44, 44))):
        for dx, dy in ((-5, -3), (4, -4), (0, 4), (-3, 6), (6, 3)):
            x, y = cx + dx, cy + dy
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=CLASS_COLORS[k])
    return img


# glibc's malloc gives each thread that allocates an arena of its own, up to 8 per core, and
# keeps what is freed there for reuse; Streamlit runs every script run on a new thread. Capping
# the arenas at two did not lower the server's peak measurably (1,321 against 1,350 MB, ``python
# -m tools.browser_bench --only memory``; docs/BENCHMARKS.md): it stays, as it costs nothing. A
# trim hands what is free back to the system.
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
_heap_limited = False


@functools.cache  # find_library runs ldconfig in a subprocess: once per process
def _libc():
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(name)
        return lib if hasattr(lib, "mallopt") and hasattr(lib, "malloc_trim") else None
    except OSError:
        return None


def limit_heap_growth() -> bool:
    """Cap glibc's malloc at two arenas for this process (once; elsewhere nothing): True if set."""
    global _heap_limited
    if not _heap_limited:
        lib = _libc()
        _heap_limited = lib is not None and bool(lib.mallopt(M_ARENA_MAX, 2))
    return _heap_limited


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing):
    after the warm-up's big transient arrays, which would otherwise stay resident."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)


_modules_when_frozen = 0


def freeze_imported_objects() -> None:
    """Put everything alive now out of the garbage collector's sight (``gc.freeze``), once per
    set of imported modules.

    Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``).
    With torch, plotly and Streamlit loaded that walks hundreds of thousands of objects,
    holding the GIL while the run's last messages wait to be sent, on every click. The objects
    of imported modules live as long as the process, so the collector gains nothing from
    walking them. Called at the end of each full run; it acts only when the run imported new
    modules (the first run, a page opened for the first time), so the little garbage that
    happens to be frozen with them is bounded. Not collected first: that would cost a full
    collection once more, on the first page's run.
    """
    global _modules_when_frozen
    if len(sys.modules) != _modules_when_frozen:
        gc.freeze()
        _modules_when_frozen = len(sys.modules)


def guard_url_numbers() -> None:
    """Make ``inf`` or ``-inf`` in the URL fall back to an integer number box's default.

    Streamlit 1.67 seeds a number box bound to the URL through ``NumberInputSerde.deserialize``,
    which calls ``int()`` on the parsed value; ``int(float("inf"))`` raises ``OverflowError``,
    which its seeding does not catch (it catches ``ValueError``), so ``?gen_seed=inf`` was a
    traceback. It reads the URL as it was when the session opened, so deleting the parameter
    before the widget does not help. Here the deserializer answers an overflow with the
    default, which Streamlit's seeding then takes as "no value" and removes from the URL.
    ``tests/test_hostile_urls.py`` checks that Streamlit still needs this.
    """
    from streamlit.elements.widgets.number_input import NumberInputSerde

    original = NumberInputSerde.deserialize
    if getattr(original, "__wrapped__", None) is not None:
        return

    @functools.wraps(original)
    def deserialize(self, ui_value):
        try:
            return original(self, ui_value)
        except OverflowError:
            return self.value

    NumberInputSerde.deserialize = deserialize


_runs_lock = threading.Lock()
_runs = 0  # script runs (pages and fragments) in progress in this process
_last_run_ended = float("-inf")  # time.monotonic() when the last of them ended


@contextlib.contextmanager
def running():
    """Marks a page's or a fragment's run as in progress, for as long as it lasts: the server's
    background warm-up (``loaders.warm_up``) waits between its steps while one is, so that a
    click does not share the interpreter with it."""
    global _runs, _last_run_ended
    with _runs_lock:
        _runs += 1
    try:
        yield
    finally:
        with _runs_lock:
            _runs -= 1
            _last_run_ended = time.monotonic()


def runs_in_progress() -> int:
    return _runs


def quiet_for() -> float:
    """Seconds since the last page's or fragment's run ended; 0 while one is running."""
    return 0.0 if _runs else time.monotonic() - _last_run_ended


def fragment(fn, run_every: float | None = None):
    """``st.fragment``, freezing what the fragment's run imported (``freeze_imported_objects``),
    its runs marked as ``running``; ``run_every`` as in ``st.fragment`` (seconds).

    A fragment's rerun never reaches the end of the frame (frame.py), where full runs freeze; a
    latent map click that comes before the server's warm-up (``loaders.start_warm_up``) has
    imported torch imports it inside its fragment (the first page itself needs none), and
    unfrozen, torch's objects made every later click pay Streamlit's full collection (``python
    -m tools.browser_bench`` prints the map click's latency).
    """
    import streamlit as st

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            with running():
                return fn(*args, **kwargs)
        finally:
            freeze_imported_objects()

    return st.fragment(run, run_every=run_every)

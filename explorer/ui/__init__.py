"""The Streamlit app's pages and helpers. The only part of the package that imports streamlit.

  state.py    the app-owned session state (clicked points) and its mirror in the URL
  loaders.py  cached loading: the checkpoint catalog, models, codes, the test split
  common.py   what every page shares: the chosen model, intros, image pickers, image display
  sidebar.py  the shared sidebar: dataset, kind, latent size, the model's facts
  pages/      one script per page, run by ``st.navigation`` from ``app.py``
(What drives the real app in Chromium, for the tests and the screenshots, is in ``tools/``.)
"""

import functools
import gc
import os
import sys
from pathlib import Path

ENV_CHECKPOINTS = "LATENT_EXPLORER_CHECKPOINTS"
APP_ROOT = Path(__file__).resolve().parents[2]   # the folder holding app.py


def checkpoint_folder() -> Path:
    """The folder the app reads: ``checkpoints/`` beside app.py, or ``$LATENT_EXPLORER_CHECKPOINTS``."""
    override = os.environ.get(ENV_CHECKPOINTS)
    return Path(override).expanduser() if override else APP_ROOT / "checkpoints"


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


def fragment(fn):
    """``st.fragment``, freezing what the fragment's run imported (``freeze_imported_objects``).

    A fragment's rerun never reaches the end of app.py, where full runs freeze; the latent
    map's first click imports torch inside its fragment (the first page itself needs none),
    and unfrozen, torch's objects made every later click pay Streamlit's full collection
    (``python -m tools.browser_bench`` prints the map click's latency).
    """
    import streamlit as st

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            freeze_imported_objects()

    return st.fragment(run)

"""The Streamlit app's pages and helpers. The only part of the package that imports streamlit.

  state.py    the app-owned session state (clicked points) and its mirror in the URL
  loaders.py  cached loading: the checkpoint catalog, models, codes, the test split
  common.py   what every page shares: the chosen model, intros, image pickers, image display
  sidebar.py  the shared sidebar: dataset, kind, latent size, the model's facts
  pages/      one script per page, run by ``st.navigation`` from ``app.py``
  browser.py, screenshots.py   drive the real app in Chromium (tests, README screenshots)
"""

import os
from pathlib import Path

ENV_CHECKPOINTS = "LATENT_EXPLORER_CHECKPOINTS"
APP_ROOT = Path(__file__).resolve().parents[2]   # the folder holding app.py


def checkpoint_folder() -> Path:
    """The folder the app reads: ``checkpoints/`` beside app.py, or ``$LATENT_EXPLORER_CHECKPOINTS``."""
    override = os.environ.get(ENV_CHECKPOINTS)
    return Path(override).expanduser() if override else APP_ROOT / "checkpoints"

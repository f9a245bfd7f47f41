"""Latent Explorer. Run it with `streamlit run app.py`.

This file has two parts. ``streamlit run`` finds ``app`` below and serves it: Streamlit's own
server, as an ``st.App``, with the middleware of explorer/ui/server.py (the first page's chart
code asked for with the page). Each session's run of this same file, as the app's script, draws
the frame (explorer/ui/frame.py): the sidebar, then the page the URL names.
Checkpoints are read from checkpoints/ beside this file, or $LATENT_EXPLORER_CHECKPOINTS.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

if get_script_run_ctx() is not None:  # a session's run (or a test's AppTest run)
    from explorer.ui import frame

    frame.run()
else:  # imported by the server as it starts
    from explorer.ui import server

    app = st.App(__file__, middleware=server.middleware())

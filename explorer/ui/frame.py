"""Latent Explorer's frame: what each session's run of ``app.py`` draws (``run``).

It only routes: page config, the shared sidebar (dataset, kind, latent size and the chosen
model's facts), and the navigation over the pages in explorer/ui/pages/ (their paths are
relative to app.py, the script Streamlit runs). Checkpoints are read from checkpoints/ beside
app.py, or $LATENT_EXPLORER_CHECKPOINTS.
"""

import streamlit as st

from explorer.ui import freeze_imported_objects, guard_url_numbers, limit_heap_growth, loaders, page_icon, running, sidebar, state

PAGES = "explorer/ui/pages/"


def run() -> None:
    """One run of the app's script: the frame, then the page the URL names."""
    limit_heap_growth()  # before the caches fill: see there
    guard_url_numbers()

    st.set_page_config(page_title="Latent Explorer", page_icon=page_icon(), layout="wide")

    catalog = loaders.catalog()

    if catalog.good:
        curves = st.Page(PAGES + "curves.py", title="Training curves", icon=":material/show_chart:", url_path="curves")
        navigation = st.navigation({
            "Learn": [
                st.Page(PAGES + "lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
            ],
            "Explore": [
                # The default page answers at "/" only (Streamlit ignores its url_path); a hidden twin
                # answers a typed or linked /latent_map.
                st.Page(PAGES + "latent_map.py", title="Latent map", icon=":material/scatter_plot:", url_path="map",
                        default=True),
                st.Page(PAGES + "latent_map.py", title="Latent map", icon=":material/scatter_plot:", url_path="latent_map",
                        visibility="hidden"),
                st.Page(PAGES + "latent_grid.py", title="Latent grid", icon=":material/grid_on:", url_path="latent_grid"),
                st.Page(PAGES + "interpolate.py", title="Interpolate", icon=":material/linear_scale:",
                        url_path="interpolate"),
                st.Page(PAGES + "arithmetic.py", title="Latent arithmetic", icon=":material/calculate:",
                        url_path="arithmetic"),
                st.Page(PAGES + "compare.py", title="Compare latent sizes", icon=":material/view_column:",
                        url_path="compare"),
                st.Page(PAGES + "compare_models.py", title="Compare models", icon=":material/compare:",
                        url_path="compare_models"),
                st.Page(PAGES + "denoise.py", title="Denoising playground", icon=":material/auto_fix_high:",
                        url_path="denoise"),
                st.Page(PAGES + "generate.py", title="Generate", icon=":material/casino:", url_path="generate"),
                st.Page(PAGES + "anomalies.py", title="Anomalies", icon=":material/report:", url_path="anomalies"),
            ],
            "Model": [curves],
        })
    else:
        curves = None
        navigation = st.navigation([st.Page(PAGES + "setup.py", title="Set up", icon=":material/build:",
                                            url_path="setup", default=True)])

    chosen = sidebar.render(catalog, curves)
    with st.sidebar:
        st.html(state.HISTORY_SCRIPT, unsafe_allow_javascript=True)  # which URL changes are Back-button steps
    state.begin_run()
    with running():  # the warm-up below waits while a page runs
        navigation.run()
    state.end_run()  # the clicked points this page does not show leave its address
    loaders.start_warm_up(first=chosen)  # once per server, after its first page: torch and every model, in a thread
    freeze_imported_objects()  # keeps Streamlit's garbage collection after each run cheap

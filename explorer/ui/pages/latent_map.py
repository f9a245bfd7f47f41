"""Page 1, Latent map: the test images' codes as a scatter coloured by class; click a point."""

from typing import NamedTuple

import numpy as np
import streamlit as st

from explorer import exports, figures
from explorer.images import mosaic
from explorer.latent import nearest_neighbours, place_on_map
from explorer.ui import common, fragment, loaders, state

entry = common.chosen()
z_dim = entry.meta.latent_dim
common.intro("Latent map", (
    "Every dot is one test image, placed where the encoder puts its code and coloured by its class. "
    + ("With latent size 2 the map shows the codes themselves; " if z_dim == 2 else
       f"The codes have {z_dim} numbers, so the map is a 2-D picture of them (t-SNE keeps neighbours together, "
       "PCA keeps the two widest directions); ")
    + "look for classes that form their own clusters and for the ones that overlap, which the model confuses. "
    "Click a dot to see the image, what the model rebuilds from its code, and the code itself."))

codes = loaders.codes(entry)
views = loaders.map_views(codes)
c1, c2, c3 = st.columns([2.6, 1.8, 1.5])  # "Nearest neighbours" whole at 1280 px
view = c1.radio("Map", views, format_func=loaders.MAP_VIEWS.get, horizontal=True, key="map_view", bind="query-params",
                help="t-SNE and PCA maps were computed once, when the model was trained.")
show_nn = c2.toggle("Nearest neighbours", value=True, key="map_nn", bind="query-params",
                    help="The test images whose codes are closest to the clicked one (in the full latent space).")
k = c3.slider("How many", 3, 16, 8, key="map_k", bind="query-params", disabled=not show_nn)

indices = codes["indices"]
if common.map_pick(entry) is None and st.session_state.get(common.MAP_PICK) is not None:
    common.put_map_pick(entry, None)  # not a point of this map (another dataset's, or made up)
DRAWN = "_map_drawn"  # session key: ((checkpoint id, view), row) the figure was last drawn with


def take_click():
    """A click on the map arrives as the chart's selection (kept under its key): read it before
    drawing, so the same run already shows the clicked point."""
    event = st.session_state.get("map_chart") or {}
    points = (event.get("selection") or {}).get("points") or []
    token = tuple(str(p.get("customdata")) for p in points) or None
    if state.new_event("map_chart", token):
        data = points[0].get("customdata")
        data = data[0] if isinstance(data, (list, tuple)) and data else data
        picked = int(data) if isinstance(data, (int, float)) else -1  # the user's own star has -1
        if 0 <= picked < len(indices):
            common.put_map_pick(entry, int(indices[picked]))


def drawn_selection(row):
    """The row the figure marks as selected (see ``state.figure_selection``: a click is shown by
    plotly in the browser, so the figure stays the same and the chart is not rebuilt)."""
    event = st.session_state.get("map_chart") or {}
    has_own = bool((event.get("selection") or {}).get("points"))
    st.session_state[DRAWN] = state.figure_selection(st.session_state.get(DRAWN), (entry.id, view), row, has_own)
    return st.session_state[DRAWN][1]


class Own(NamedTuple):
    """The user's own image placed on this map."""
    image: np.ndarray        # (28, 28) in [0, 1]
    code: np.ndarray         # (latent_dim,)
    xy: np.ndarray           # its place on the shown map
    neighbours: np.ndarray   # rows of its nearest test codes


def place_own(image: np.ndarray | None) -> Own | None:
    if image is None:
        return None
    from explorer import inference  # torch: only once there is an image of the user's own

    code = inference.embed(common.model_or_stop(entry), image[None])[0]
    xy = place_on_map(view, codes["codes"], codes[f"map_{view}"], code)
    return Own(image, code, xy, nearest_neighbours(codes["codes"], code, k if show_nn else 5))


def own_panel(own: Own, names: list[str]) -> None:
    """The user's image, what the model rebuilds from its code, and the test images nearest to it."""
    st.subheader("Your image")
    split = common.test_split_or_none(entry)
    a, b = st.columns(2)
    with a:
        common.show(own.image, "your image, as the models see it", scale=5)
    with b:
        from explorer import inference

        common.show_with_download(inference.decode(common.model_or_stop(entry), own.code)[0], "rebuilt from its code",
                                  f"{entry.id}-your-image-rebuilt.png", "dl_own_rebuilt", scale=5)
    where = {"raw": "at its code", "pca": "projected like the test codes",
             "tsne": "at the mean place of its nearest test codes (t-SNE has no formula for a new point)"}[view]
    st.caption(f"The magenta star on the map, {where}; the magenta rings are its {len(own.neighbours)} nearest "
               "test images in latent space.")
    st.code("code: " + common.fmt_code(own.code), language=None, wrap_lines=True)
    if split is not None and len(own.neighbours):
        nb_idx = [int(indices[r]) for r in own.neighbours]
        strip = mosaic(loaders.test_images(entry, nb_idx), ncols=len(nb_idx), pad=1, pad_value=1.0)
        common.show(strip, "nearest: " + ", ".join(names[int(codes["labels"][r])] for r in own.neighbours), scale=2)
    st.button("Take it off the map", icon=":material/close:", key="own_remove", on_click=common.remove_own_from_map)
    st.divider()


@fragment
def map_panel():
    take_click()
    own = place_own(common.own_on_map())
    row = loaders.code_row(entry, common.map_pick(entry))
    names = common.class_names(entry)
    nb = (nearest_neighbours(codes["codes"], codes["codes"][row], k, exclude=row)
          if (row is not None and show_nn) else np.zeros(0, np.int64))
    left, right = st.columns([3, 2])
    with left:
        fig = loaders.map_figure(entry, view, drawn_selection(row), names)
        if own is not None:
            fig = figures.with_own_point(fig, own.xy, codes[f"map_{view}"][own.neighbours])
        st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="map_chart",
                        config={"displaylogo": False, "scrollZoom": True})
        st.caption(f"{len(indices):,} test images. Drag to pan, scroll to zoom, double-click to reset the view.")
        common.download("Codes and map (CSV)", lambda: exports.codes_csv(indices, codes["labels"], names, codes["codes"],
                                                                          codes[f"map_{view}"], view),
                        f"{entry.id}-codes-{view}.csv", key="dl_codes")
    with right:
        state.publish("map_img")
        if own is not None:
            own_panel(own, names)
        if row is None:
            if own is None:
                st.info("Click a dot on the map to see its image, its reconstruction and its code.")
            return
        split = common.test_split_or_none(entry)
        test_index = int(indices[row])
        label = int(codes["labels"][row])
        st.subheader(f"Test image {test_index}: {names[label]}")
        code = codes["codes"][row]
        if split is not None:
            a, b = st.columns(2)
            with a:
                common.show(loaders.test_images(entry, [test_index])[0], "the test image", scale=6)
            with b:
                recon = loaders.reconstructions(*loaders.key(entry), (test_index,), _entry=entry)[0]
                common.show_with_download(recon, "rebuilt from its code", f"{entry.id}-{test_index}-rebuilt.png",
                                          "dl_map_rebuilt", scale=6)
        st.text(f"code of image {test_index}:")
        st.code(common.fmt_code(code), language=None, wrap_lines=True)
        if len(nb) and split is not None:
            st.markdown(f"**Its {len(nb)} nearest neighbours in latent space**")
            nb_idx = [int(indices[r]) for r in nb]
            # One picture for all of them: a click then sends 3 images instead of 2 + k, and each
            # image sent costs the click time.
            strip = mosaic(loaders.test_images(entry, nb_idx), ncols=4, pad=1, pad_value=1.0)
            common.show(strip, "left to right, top to bottom: "
                        + ", ".join(names[int(codes["labels"][r])] for r in nb), scale=3)


map_panel()

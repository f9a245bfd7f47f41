"""The user's own image, uploaded or drawn: one input shared by the Denoising playground and
the Anomalies page, so both convert it the same way, say the same about a bad file, and keep
it under the same key (``common.OWN_IMAGE``, in the page's link) for every other page."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import streamlit as st

from explorer.images import MAX_UPLOAD_BYTES, ImageRejected, convert_drawing, convert_upload
from explorer.ui import common, state

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
UPLOAD_HELP = ("Upload an image to start. It is turned grey, inverted if its background is light, "
               "cropped to its content, fitted into 20×20 pixels and centred by mass in 28×28, like MNIST.")


def kept_image(what: str, source: str, *, stop: bool = True) -> np.ndarray | None:
    """The user's image from before (a reload, a link, another page). Without one: ``what`` as a
    hint, then the end of the run (``stop``) or None."""
    kept = common.own_image()
    if kept is None:
        st.info(what)
        if stop:
            st.stop()
        return None
    state.publish(common.OWN_IMAGE, state.fmt_image)
    st.caption("Your image from before (kept in the page's link), as the models see it. "
               + ("Upload another to replace it." if source == "upload" else "Draw again to replace it."))
    st.button("Forget it", icon=":material/delete:", key="own_forget", on_click=common.forget_own_image)
    return kept


@overload
def own_input(source: str, *, upload_key: str, canvas_key: str, waiting: str,
              stop: Literal[True] = True) -> np.ndarray: ...
@overload
def own_input(source: str, *, upload_key: str, canvas_key: str, waiting: str, stop: bool) -> np.ndarray | None: ...
def own_input(source: str, *, upload_key: str, canvas_key: str, waiting: str, stop: bool = True) -> np.ndarray | None:
    """An upload (``source`` "upload") or a drawing ("draw"), converted the MNIST way and kept as
    the user's own image: float32 (28, 28) in [0, 1]. Until there is one, the image kept from
    before, else ``waiting`` as a hint and the end of the run (``stop``) or None. A file that
    cannot be used gets a message saying why, then the end of the run (``stop``) or None."""
    if source == "upload":
        upload = st.file_uploader("A PNG or JPEG of one digit or garment, any size; it is converted the MNIST way",
                                  type=UPLOAD_TYPES, key=upload_key, max_upload_size=MAX_UPLOAD_BYTES // 2**20)
        if upload is None:
            return kept_image(waiting, source, stop=stop)
        try:
            converted = convert_upload(upload.getvalue())
        except ImageRejected as e:
            st.error(f"**{upload.name}** cannot be used: {e}")
            if stop:
                st.stop()
            return None  # the page goes on without it (the Anomalies page still draws its charts)
        image = common.keep_own_image(converted.array)
        w, h = converted.original_size
        notes = "; ".join(converted.notes)
        st.caption(f"{upload.name}: {w}×{h} pixels, converted to 28×28" + (f" ({notes})" if notes else "") + ".")
        if converted.blank:
            st.warning("The image is blank after conversion (one colour, nothing drawn): the models get an empty input.")
        return image
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as e:  # noqa: BLE001 - the canvas is optional; say why it is missing
        st.error(f"The drawing canvas is not available here ({e}). Use a test image or an upload instead.")
        if stop:
            st.stop()
        return None
    st.caption("Draw one digit or garment, large, in the middle of the square. Strokes are white on black, "
               "like MNIST.")
    st.space("medium")  # the canvas's toolbar floats above its top edge: it covered the caption
    result = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=280,
                       width=280, drawing_mode="freedraw", key=canvas_key, return_image_data=True)
    drawn = convert_drawing(getattr(result, "image_data", None)) if result is not None else None
    if drawn is None:
        return kept_image(waiting, source, stop=stop)
    return common.keep_own_image(drawn)

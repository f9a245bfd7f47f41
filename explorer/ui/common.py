"""What every page shares: the chosen checkpoint, the opening text, errors shown as
messages, a test-image picker and image display."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Literal

import numpy as np
import streamlit as st

from explorer import exports
from explorer.checkpoints import CatalogEntry, CheckpointError
from explorer.data import DataError
from explorer.images import CLASS_COLORS, enlarge, mosaic, to_uint8

from . import loaders, state

CHOSEN = "_chosen"  # session key: the id of the checkpoint the sidebar chose
MAP_PICK = "map_img"             # the test image clicked on the latent map (in the URL)
OWN_IMAGE = "own_img"            # the user's own converted upload or drawing, 28×28 (in the URL)
OWN_ON_MAP = "own_map"           # ... and whether it is placed on the latent map and grid
_MAP_PICK_DATASET = "_map_img.dataset"  # ... and the dataset whose map it was clicked on


def chosen() -> CatalogEntry:
    """The checkpoint chosen in the sidebar (the frame only runs a page when there is one)."""
    entry = loaders.catalog().by_id(st.session_state.get(CHOSEN, ""))
    if entry is None:
        st.error("No checkpoint is chosen. Pick a dataset, kind and latent size in the sidebar.")
        st.stop()
    return entry


def map_pick(entry: CatalogEntry) -> int | None:
    """The test image last clicked on the latent map, if it is a point of this model's map.

    A click on another dataset's map (the sidebar changed since) names another image, and a
    hand-edited number may name none: both are None here, so no page shows or offers them.
    A value from the URL belongs to the dataset the URL chose.
    """
    state.init(MAP_PICK, state.parse_index)
    dataset = entry.meta.dataset.name
    st.session_state.setdefault(_MAP_PICK_DATASET, dataset)
    index = st.session_state.get(MAP_PICK)
    if index is None or st.session_state[_MAP_PICK_DATASET] != dataset:
        return None
    return index if loaders.code_row(entry, index) is not None else None


def put_map_pick(entry: CatalogEntry, index: int | None) -> None:
    st.session_state[_MAP_PICK_DATASET] = entry.meta.dataset.name
    state.put(MAP_PICK, index)


PRESENT = "present"  # the sidebar's presentation-mode toggle (in the URL: ?present=true)

# Presentation mode, for a projector: the sidebar folded away (its arrow still opens it), the
# page's own controls kept, text and pictures larger.
PRESENT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; max-width: 100%; }
[data-testid="stMainBlockContainer"] p, [data-testid="stMainBlockContainer"] label,
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] { font-size: 1.15rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.3rem; padding-bottom: .2rem; }
[data-testid="stMainBlockContainer"] [data-testid="stMetricValue"] p { font-size: 2.6rem; }
</style>"""


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT))


def stop_presenting() -> None:
    st.session_state[PRESENT] = False


def intro(title: str, text: str) -> None:
    """The page's title and its teaching text; in presentation mode the text's first sentence,
    the rest one click away, and a button back to the usual view."""
    if not presenting():
        st.title(title)
        st.markdown(text)
        return
    st.html(PRESENT_CSS)
    first, _, rest = text.partition(". ")
    head, exit_box = st.columns([4, 1], vertical_alignment="bottom")
    head.title(title, help=rest or None)  # the rest of the text behind the title's (?)
    exit_box.button("Exit presentation", icon=":material/close_fullscreen:", key="present_exit",
                    on_click=stop_presenting, width="stretch")
    entry = loaders.catalog().by_id(st.session_state.get(CHOSEN, ""))
    st.markdown(first.rstrip(".") + "." + (f" *({entry.meta.title}.)*" if entry is not None else ""))


def image_scale(scale: int) -> int:
    """How much a 28×28 picture is enlarged: twice as much in presentation mode."""
    return scale * 2 if presenting() else scale


def describe(entry: CatalogEntry) -> str:
    return entry.meta.title


def model_or_stop(entry: CatalogEntry):
    """The entry's model, or a message and the end of this page's run."""
    try:
        return loaders.model(entry)
    except CheckpointError as e:
        st.error(f"This checkpoint cannot be loaded: {e}")
        st.stop()


def test_split_or_none(entry: CatalogEntry):
    """(images, labels) of the test split, or None after showing how to get the data."""
    try:
        return loaders.test_split(entry)
    except DataError as e:
        st.error("The test images of this dataset are not available on this machine, so this part "
                 "cannot be shown.\n\n" + str(e).replace("\n", "  \n"))
        return None


def test_split_or_stop(entry: CatalogEntry):
    split = test_split_or_none(entry)
    if split is None:
        st.stop()
    return split


def class_names(entry: CatalogEntry) -> list[str]:
    return list(entry.meta.dataset.class_names)


def show(x: np.ndarray, caption: str | None = None, scale: int = 6, width: int | Literal["stretch", "content"] = "content") -> None:
    """One 28×28 image in [0, 1], enlarged with sharp pixels; sent as PNG, so the browser gets
    exactly these pixels (st.image's default for a greyscale image is a lossy JPEG) in about
    as many bytes."""
    st.image(enlarge(x, image_scale(scale)), caption=caption, width=width, output_format="PNG")


def show_strip(images: np.ndarray, caption: str | None = None, scale: int = 3) -> None:
    """Images (n, 28, 28) in [0, 1] side by side in one picture, enlarged with sharp pixels (the
    compare pages' rows: one row of test images, then one per model)."""
    st.image(enlarge(mosaic(images, len(images), pad=1), image_scale(scale)), width="content", caption=caption)


def show_with_download(x: np.ndarray, caption: str, file_name: str, key: str, scale: int = 6) -> None:
    """``show`` one decoded image, and under it its download ("Image (PNG)", ``exports.png``)."""
    show(x, caption, scale=scale)
    download("Image (PNG)", lambda: exports.png(x), file_name, key)


def download_rows(label: str, rows: list[np.ndarray], file_name: str, key: str) -> None:
    """The download of rows drawn with ``show_strip`` (each (n, 28, 28), the same n), one picture
    of them in their order, as the compare pages show them."""
    download(label, lambda: exports.png(mosaic(np.concatenate(rows), len(rows[0]), pad=1)), file_name, key)


def download(label: str, make: Callable[[], bytes], file_name: str, key: str) -> None:
    """A download button whose file (PNG, GIF or CSV, by ``file_name``'s extension) is made by
    ``make`` only when it is pressed, and pressing it does not rerun the page."""
    mime = {"png": "image/png", "gif": "image/gif", "csv": "text/csv"}[file_name.rsplit(".", 1)[-1]]
    file_name = file_name.replace("/", "-")  # a class name's slash (Fashion-MNIST's "T-shirt/top")
    st.download_button(label, data=make, file_name=file_name, mime=mime, key=key, on_click="ignore",
                       icon=":material/download:", type="tertiary")


def fmt_code(z: np.ndarray, digits: int = 2) -> str:
    return "[" + ", ".join(f"{v + 0.0:+.{digits}f}" for v in np.asarray(z, dtype=np.float64).ravel()) + "]"  # no "-0"


def _nth_of_class(labels: np.ndarray, cls: int, n: int) -> int:
    members = np.flatnonzero(labels == cls)
    return int(members[min(max(n, 0), len(members) - 1)]) if len(members) else 0


def pick_test_image(prefix: str, entry: CatalogEntry, labels: np.ndarray, *, label: str = "Test image",
                    default_class: int = 0, default_n: int = 0, container=None) -> int:
    """A class and the n-th test image of that class (both kept in the URL) -> a test index."""
    box = container or st
    names = class_names(entry)
    c1, c2 = box.columns([3, 2])
    cls = c1.selectbox(f"{label}: class", range(len(names)), index=default_class % len(names),
                       format_func=lambda c: names[c], key=f"{prefix}_cls", bind="query-params")
    count = int((labels == cls).sum())
    clamp(f"{prefix}_n", 0, max(count - 1, 0))
    n = c2.number_input(f"which one (of {count})", min_value=0, max_value=max(count - 1, 0),
                        value=min(default_n, max(count - 1, 0)), step=1, key=f"{prefix}_n", bind="query-params")
    return _nth_of_class(labels, cls, int(n))


def clamp(key: str, lo, hi) -> None:
    """Keep a widget's kept value inside a range that changed (another class, dataset or model)."""
    if key in st.session_state and st.session_state[key] is not None:
        value = st.session_state[key]
        if value < lo or value > hi:
            st.session_state[key] = min(max(value, lo), hi)


def point_pick_at(prefix: str, labels: np.ndarray, idx: int) -> None:
    """Callback: point a picker (``pick_test_image``) at test image ``idx``."""
    cls = int(labels[idx])
    st.session_state[f"{prefix}_cls"] = cls
    st.session_state[f"{prefix}_n"] = int(np.flatnonzero(np.flatnonzero(labels == cls) == idx)[0])


def reading(dataset: str, image: np.ndarray) -> str | None:
    """'reads it as 7 (93 %)': what the dataset's classifier reads in one image (28, 28), or None
    when it has no classifier (the pages then say nothing of it)."""
    r = loaders.reader(dataset)
    return None if r is None else loaders.read(dataset, image).words(0, r.class_names)  # pyright: ignore[reportOptionalMemberAccess]


def class_legend(names: list[str], title: str = "") -> None:
    """One line naming the class colours of dots drawn into an image (a plotly chart has its own legend)."""
    items = "".join(
        f'<span style="white-space:nowrap;margin-right:0.9em"><span style="display:inline-block;width:0.8em;'
        f'height:0.8em;border-radius:50%;background:{CLASS_COLORS[k % len(CLASS_COLORS)]};margin-right:0.3em">'
        f'</span>{html.escape(name)}</span>' for k, name in enumerate(names))
    st.html(f'<div data-testid="class-legend" style="font-size:0.85rem;line-height:1.6">'
            f'{html.escape(title)} {items}</div>')


def own_image() -> np.ndarray | None:
    """The user's own image (an upload or a drawing, converted), float32 (28, 28) in [0, 1], or None.
    Kept as grey levels, so that a reload or a link gives the models the very same input."""
    img = state.init(OWN_IMAGE, state.parse_image)
    return None if img is None else img.astype(np.float32) / 255.0


def keep_own_image(x: np.ndarray) -> np.ndarray:
    """Keep a converted image as the user's own; returns it as it is kept (in grey levels)."""
    kept = to_uint8(x)
    before = st.session_state.get(OWN_IMAGE)
    if before is None or not np.array_equal(kept, before):
        state.put(OWN_IMAGE, kept, state.fmt_image)
    else:
        state.publish(OWN_IMAGE, state.fmt_image)
    return kept.astype(np.float32) / 255.0


def forget_own_image() -> None:
    """Button callback: the user's image leaves the session, the link, the map and the grid."""
    state.put(OWN_IMAGE, None)
    state.put(OWN_ON_MAP, None)


def own_on_map() -> np.ndarray | None:
    """The user's own image when it was placed on the map (and the grid), else None; publishes both."""
    state.init(OWN_ON_MAP, state.parse_flag)
    if st.query_params.get(OWN_ON_MAP) == "1":  # the Denoising playground's link, which places it
        st.session_state[OWN_ON_MAP] = True
    img = own_image()
    if img is None or not st.session_state.get(OWN_ON_MAP):
        return None
    state.publish(OWN_IMAGE, state.fmt_image)
    state.publish(OWN_ON_MAP, state.fmt_flag)
    return img


def remove_own_from_map() -> None:
    """Button callback: the user's image leaves the map and the grid (and the link's flag with it)."""
    state.put(OWN_ON_MAP, None)


def markdown_table(rows: list[dict]) -> str:
    """Rows of the same keys as a Markdown table (the keys its header). The app's tables are
    Markdown, not st.table or st.dataframe: those import pandas in the page's thread, and a
    module half-imported there is seen by plotly in every other session's thread."""
    if not rows:
        return ""

    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = list(rows[0])
    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(r.get(h, "")) for h in head) + " |" for r in rows]
    return "\n".join(lines)

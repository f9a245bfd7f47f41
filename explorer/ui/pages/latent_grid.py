"""Page 2, Latent grid: a plane of the latent space decoded on a grid; click anywhere on it."""

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from explorer import exports, inference
from explorer.classifier import CONFIDENT
from explorer.figures import OWN_COLOR
from explorer.images import draw_marker, draw_points, hex_to_rgb
from explorer.latent import MEAN_ANCHOR, pixel_to_plane, plane_limit, plane_to_pixel
from explorer.ui import common, fragment, loaders, state
from explorer.vocab import KIND_LABELS, KIND_TITLES

TARGET_PX = 600          # the grid image is enlarged by a whole factor to about this width
OVERLAY_POINTS = 2000    # test codes drawn over the grid at most
ANCHORS = {"mean": "codes' mean", "origin": "origin", "image": "test image"}

entry = common.chosen()
meta = entry.meta
z_dim, kind = meta.latent_dim, meta.kind
common.intro("Latent grid", (
    "The decoder's view of a flat slice of the latent space: each tile is the image decoded from one point "
    "of a regular grid. Click anywhere on the grid to decode that exact point, shown large on the right. "
    "Watch how smoothly one kind of image turns into another; turn on the test codes to see the empty "
    "regions (\"holes\") a plain AE leaves between its classes, where it decodes nonsense, while a VAE "
    "fills its plane."))

cat = loaders.catalog()
codes = loaders.codes(entry)

# ---- settings --------------------------------------------------------------------------------
# The controls and the grid in one fragment: a toggle or a slider redraws only this page's
# content, not the app's frame (the grid's clicks rerun only ``grid_panel``, nested in it).
anchor_index: int | str | None = None


def controls() -> None:
    """The grid's settings, read into the module's names the drawing functions below use."""
    global n, spacing, overlay, read_tiles, partner, mode, i, j, anchor_index, shown, extents
    c1, c2, c3, c4 = st.columns([1.2, 1.4, 1.4, 1.2])
    n = c1.slider("Grid resolution", 5, 30, 15, key="grid_n", bind="query-params", help="Tiles per side.")
    spacing = c2.radio("Spacing", ["even", "quantile"], horizontal=True, key="grid_spacing", bind="query-params",
                       format_func={"even": "even", "quantile": "Gaussian quantiles"}.get,
                       help="Gaussian quantiles: tiles at equal steps of probability under N(0, σ²), σ = range/3 "
                            "(Kingma & Welling 2013, fig. 4); they crowd near the centre, where a VAE's codes are.")
    auto = c3.toggle("Automatic range", value=True, key="grid_auto", bind="query-params",
                     help="VAE: ±3 (its prior N(0, I) lies almost all inside). AE/DAE: the spread of its test codes "
                          "on this plane (99th percentile).")
    range_box = c3.empty()  # filled once the plane is known: the range in use, or the slider that sets it
    overlay = c4.toggle("Show test codes", value=False, key="grid_overlay", bind="query-params",
                        help="Draw the test images' codes (projected onto the plane) as dots coloured by class.")
    reader_problem = loaders.reader_problem(meta.dataset.name)
    read_tiles = c4.toggle("Classifier's reading", value=False, key="grid_read", bind="query-params",
                           disabled=reader_problem is not None,
                           help="Colour each tile by the class a small image classifier reads in it, strong where it is "
                                "sure and grey where it is not: a VAE's class borders show as lines. It reads an "
                                "AE's holes as surely as the rest (it says which class is nearest, not whether "
                                "an image looks real): the test codes show the holes."
                           if reader_problem is None else reader_problem) and reader_problem is None
    partner_kind = "ae" if kind == "vae" else "vae"
    partner = cat.find(meta.dataset.name, partner_kind, z_dim, meta.architecture)
    pair = c4.toggle(f"{KIND_LABELS[partner_kind]} side by side", value=False, key="grid_pair",
                     bind="query-params", disabled=partner is None,
                     help=f"The same plane settings for the {KIND_LABELS[partner_kind]} of this dataset and "
                          "latent size." if partner else "No such model was trained.")

    mode, i, j = "dims", 0, 1
    anchor_index = None
    if z_dim > 2:
        p1, p2, p3 = st.columns([1.6, 1.4, 2.4])
        # Opens on the codes' two widest directions through their mean, where the decoded images
        # live: an AE's dimensions 0 and 1 through the origin decode to nearly black tiles.
        mode = p1.radio("Plane", ["pca", "dims"], key="grid_plane", bind="query-params", horizontal=True,
                        format_func={"dims": "latent dimensions", "pca": "principal directions"}.get)
        if mode == "dims":
            d1, d2 = p2.columns(2)
            common.clamp("grid_i", 0, z_dim - 1)
            common.clamp("grid_j", 0, z_dim - 1)
            i = d1.number_input("x: dimension", 0, z_dim - 1, 0, key="grid_i", bind="query-params")
            j = d2.number_input("y: dimension", 0, z_dim - 1, 1, key="grid_j", bind="query-params")
            if i == j:
                j = (i + 1) % z_dim
                p2.caption(f"x and y need different dimensions: y uses {j}.")
        else:
            p2.caption("The directions along which the test codes vary most.")
        anchor = p3.radio("Through the", ["mean", "origin", "image"], key="grid_anchor", bind="query-params",
                          horizontal=True, format_func=ANCHORS.get,
                          help="The other latent dimensions are held at this point's values: the mean of the "
                               "test codes, zero, or one test image's code.")
        if anchor == "image":
            row = common.pick_test_image("grid_anchor", entry, codes["labels"], label="Anchor", container=p3)
            anchor_index = int(codes["indices"][row])
        elif anchor == "mean":
            anchor_index = MEAN_ANCHOR
        st.caption("For latent sizes above 2 the grid shows one flat slice through the latent space; the test codes "
                   "drawn over it are their projections onto that slice.")

    shown = [entry] + ([partner] if pair and partner is not None else [])
    auto_extents = [loaders.grid_extent(e, mode, i, j, anchor_index) for e in shown]
    if auto:  # the range in use, in words: a disabled slider would show its own value, not this one
        range_box.caption("Range in use: " + ", ".join(
            f"±{x:g}" + (f" ({KIND_LABELS[e.meta.kind]})" if len(shown) > 1 else "") for e, x in zip(shown, auto_extents)))
        extents = auto_extents
    else:  # starts where the automatic range was
        manual = range_box.slider("Range ±", 0.5, 20.0, float(min(20.0, max(0.5, auto_extents[0]))), step=0.5,
                                  key="grid_range", bind="query-params")
        extents = [float(manual)] * len(shown)

default_uv = (0.0, 0.0)
state.init("grid_at", state.parse_point, default_uv)


def take_click(click_key: str, extent: float) -> None:
    """Read a click on a grid image (kept under its key) before drawing, so this run shows it."""
    value = st.session_state.get(click_key)
    if isinstance(value, dict) and state.new_event(click_key, value.get("unix_time")):
        u, v = pixel_to_plane(value["x"], value["y"], value["width"], value["height"], extent, spacing)
        state.put("grid_at", (u, v), state.fmt_floats, default=default_uv)


def grid_image(e, extent: float, click_key: str):
    """Draw one model's clickable grid with the clicked point marked."""
    tiles = loaders.grid_tiles(e, mode, i, j, anchor_index, n, extent, spacing)
    scale = max(1, round(TARGET_PX / tiles.shape[0]))  # the browser scales the rest
    both = loaders.grid_reading_and_tinted(e, mode, i, j, anchor_index, n, extent, spacing, tiles=tiles) if read_tiles else None
    reading = None
    if both is not None:  # coloured with the reading, and kept with it: a toggle back colours nothing
        reading, tiles = both
    img = Image.fromarray(tiles).resize((tiles.shape[1] * scale, tiles.shape[0] * scale), Image.Resampling.NEAREST)
    if overlay:
        p = loaders.plane(e, mode, i, j, anchor_index)
        c = loaders.codes(e)
        rows = np.arange(min(OVERLAY_POINTS, len(c["codes"])))
        xy = plane_to_pixel(p.coords(c["codes"][rows]), img.width, img.height, extent, spacing)
        img = draw_points(img, xy, c["labels"][rows], radius=0.8 + scale, outline=False)
    (x, y), = plane_to_pixel(np.array([st.session_state["grid_at"]]), img.width, img.height, extent, spacing)
    if 0 <= x < img.width and 0 <= y < img.height:
        img = draw_marker(img, x, y, size=5 + 3 * scale)
    if own is not None:
        (x, y), = plane_to_pixel(own_coords(e)[None], img.width, img.height, extent, spacing)
        if 0 <= x < img.width and 0 <= y < img.height:
            img = draw_ring(img, x, y, radius=4 + 3 * scale)
    streamlit_image_coordinates(img, key=click_key, png_compression_level=1, width="stretch", cursor="crosshair")
    if reading is not None:
        sure = float((reading.confidence >= CONFIDENT).mean())
        common.class_legend(common.class_names(e), f"Tiles coloured by the class the classifier reads (grey: unsure; "
                            f"{sure * 100:.0f} % of the tiles read with {CONFIDENT * 100:.0f} % confidence or more)"
                            + (", dots by the test images' class:" if overlay else ":"))
    elif overlay:
        common.class_legend(common.class_names(e), "Test codes, coloured by class:")
    common.download("Grid (PNG)", lambda: exports.png(tiles), f"{e.id}-grid-{n}x{n}.png", key=f"dl_{click_key}")
    if not read_tiles:  # read in the background what the toggle would ask for, so that turning it on only colours
        loaders.prefetch_grid_reading(e, mode, i, j, anchor_index, n, extent, spacing, tiles)


# The user's own image (placed from the Denoising playground), on a 2-D model's grid: its code
# is a point of the whole latent space there, so it has a place on the grid.
own = common.own_on_map() if z_dim == 2 else None


def own_coords(e) -> np.ndarray:
    """The user's image's code under model ``e``, in this plane's coordinates (2,)."""
    from explorer import inference  # torch: only once there is an image of the user's own

    assert own is not None
    code = inference.embed(common.model_or_stop(e), own[None])[0]
    return loaders.plane(e, mode, i, j, anchor_index).coords(code[None])[0]


def draw_ring(img: Image.Image, x: float, y: float, radius: float) -> Image.Image:
    """A ring at pixel (x, y): the user's own image; dark under bright, to show on black and white."""
    out = img.convert("RGB")
    draw = ImageDraw.Draw(out)
    for fill, width in (((0, 0, 0), 6), (hex_to_rgb(OWN_COLOR), 3)):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=fill, width=width)
    return out


def decode_own() -> None:
    """Button callback: decode the point where the user's image sits on this model's grid."""
    state.put("grid_at", tuple(float(t) for t in own_coords(entry)), state.fmt_floats, default=default_uv)


def keep_point_on_the_grid(limit: float) -> str | None:
    """Move a point beyond every grid shown (a click on another model's wider plane) to the nearest
    point inside, so that the decoded image is of a point the user can see; says what was done."""
    u, v = st.session_state["grid_at"]
    if max(abs(u), abs(v)) <= limit:
        return None
    st.session_state["grid_at"] = (float(np.clip(u, -limit, limit)), float(np.clip(v, -limit, limit)))
    return (f"The point ({u:+.3g}, {v:+.3g}) lies outside this grid (up to ±{limit:.3g}); it was moved to the "
            "nearest point on it.")


def decoded(e, extent: float) -> None:
    """The clicked point decoded large, with its coordinate."""
    p = loaders.plane(e, mode, i, j, anchor_index)
    u, v = st.session_state["grid_at"]
    z = p.points(np.array([u, v]))
    image = inference.decode(common.model_or_stop(e), z)[0]
    if e.id == entry.id:  # the Interpolate page can start from this point
        st.session_state["grid_z"] = (e.id, tuple(float(t) for t in z.ravel()))
    on_grid = max(abs(u), abs(v)) <= plane_limit(extent, spacing)
    common.show_with_download(image, f"{KIND_LABELS[e.meta.kind]} decodes the clicked point"
                              + ("" if on_grid else " (outside its grid, so not marked on it)"),
                              f"{e.id}-point-{u:+.3f}-{v:+.3f}.png", f"dl_point_{e.id}", scale=8)
    reading = loaders.read(e.meta.dataset.name, image)
    if reading is not None:
        st.markdown(f"The classifier {reading.words(0, common.class_names(e))}.")
    st.text(f"coordinate: {p.labels[0]} = {u:+.3f}, {p.labels[1]} = {v:+.3f}")
    if z_dim > 2:
        st.code("z = " + common.fmt_code(z), language=None, wrap_lines=True)
    lo_hi = f"±{extent:g}" if spacing == "even" else f"σ = {extent / 3:.2g}"
    st.caption(f"Grid range {lo_hi}; {n}×{n} tiles.")


@fragment
def grid_panel():
    for k, ext in enumerate(extents):
        take_click(f"grid_click_{k}", ext)
    moved = keep_point_on_the_grid(max(plane_limit(x, spacing) for x in extents))
    state.publish("grid_at", state.fmt_floats, default=default_uv)
    if moved:
        st.caption(moved)
    if own is not None:
        a, b = st.columns([3, 1])
        a.caption("The magenta ring on the grid is your own image's code (from the Denoising playground).")
        b.button("Decode it", icon=":material/my_location:", key="own_decode", on_click=decode_own,
                 help="Move the clicked point to your image's code.")
    if len(shown) == 1:
        left, right = st.columns([3, 2])
        with left:
            grid_image(entry, extents[0], "grid_click_0")
        with right:
            decoded(entry, extents[0])
    else:
        cols = st.columns(2)
        for k, (e, ext) in enumerate(zip(shown, extents)):
            with cols[k]:
                st.subheader(KIND_TITLES[e.meta.kind])
                grid_image(e, ext, f"grid_click_{k}")
                decoded(e, ext)



@fragment
def grid_page():
    controls()
    grid_panel()


grid_page()

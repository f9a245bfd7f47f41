"""Page 3, Interpolate: decode the points between two codes; edit a code number by number; walk
each latent dimension in turn."""

import hashlib

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont
from streamlit_image_coordinates import streamlit_image_coordinates

from explorer import exports, inference, traversal
from explorer.classifier import strip_words
from explorer.images import enlarge, mosaic, to_uint8
from explorer.latent import interpolate, tile_at
from explorer.ui import common, fragment, loaders, picks, state

entry = common.chosen()
meta = entry.meta
z_dim = meta.latent_dim
common.intro("Interpolate", (
    "Pick two images; their codes are two points in latent space, and the slider walks the straight line "
    "(or the great circle, for spherical interpolation) between them, decoding each point on the way. "
    "A smooth morph means the space between the two codes is filled with meaningful images; a sudden jump "
    "or a blurry blob in the middle means the path crosses a region the decoder never learned, "
    "which happens more with a plain AE than with a VAE."))

images, labels = common.test_split_or_stop(entry)
model = common.model_or_stop(entry)
names = common.class_names(entry)
SOURCES = {"image": "test image", "map": "latent map click", "grid": "latent grid click"}
map_index = common.map_pick(entry)  # None unless it is a point of this model's map
# the point clicked on the latent grid, as a code of this model (from the grid page, or a link)
state.init("grid_z", lambda text: (entry.id, state.parse_code(text, z_dim)))


def endpoint(prefix: str, title: str, default_class: int, column) -> tuple[np.ndarray, np.ndarray | None, str]:
    """One end of the path: (code, its test image or None, a description)."""
    with column:
        st.markdown(f"**{title}**")
        sources = ["image"]
        if map_index is not None:
            sources.append("map")
        grid_z = st.session_state.get("grid_z")
        if grid_z and grid_z[0] == entry.id:
            sources.append("grid")
        source = "image"
        if len(sources) > 1:  # offer the map's or the grid's point once there is one
            source = st.radio("From", sources, format_func=SOURCES.get, key=f"{prefix}_src", horizontal=True,
                              bind="query-params", label_visibility="collapsed")
        if source == "grid" and grid_z:
            state.publish("grid_z", lambda v: state.fmt_floats(v[1]))  # the link then holds the point
            z = np.asarray(grid_z[1], dtype=np.float32)
            return z, None, "the point clicked on the latent grid"
        if source == "map" and map_index is not None:
            state.publish(common.MAP_PICK)
            idx = map_index
        else:
            idx = common.pick_test_image(prefix, entry, labels, label="Image", default_class=default_class)
        x = images[idx].astype(np.float32) / 255.0
        return inference.embed(model, x[None])[0], x, f"test image {idx} ({names[int(labels[idx])]})"


def random_pair(seed: int) -> None:
    """Callback: two random test images of two different classes (a morph within one class
    teaches little), a new pair on every press."""
    a, b = picks.random_pair(labels, seed)
    for prefix, idx in (("interp_a", a), ("interp_b", b)):
        st.session_state[f"{prefix}_src"] = "image"
        common.point_pick_at(prefix, labels, idx)
    st.session_state["interp_seed"] = seed + 1


ca, cb, cc = st.columns([2, 2, 1.3])
za, xa, da = endpoint("interp_a", "From A", 2 % len(names), ca)
zb, xb, db = endpoint("interp_b", "to B", 7 % len(names), cb)
with cc:
    method = st.radio("Interpolation", ["linear", "spherical"], key="interp_method", bind="query-params",
                      horizontal=True, help="Spherical (slerp) keeps the code's length typical of a Gaussian "
                                            "prior on the way, instead of cutting through the centre.")
    steps = st.slider("Steps in the strip", 3, 15, 9, key="interp_steps", bind="query-params")
    # Each session starts its own run of pairs, so that a class's first presses differ.
    st.session_state.setdefault("interp_seed", int(np.random.default_rng().integers(1, 10**6)))
    st.button("Random pair", icon=":material/casino:", on_click=random_pair, args=(int(st.session_state["interp_seed"]),))

ts = np.linspace(0.0, 1.0, steps)
strip = inference.decode(model, interpolate(za, zb, ts, method))
st.image(enlarge(mosaic(strip, steps, pad=1), 3), width="stretch",
         caption=f"{steps} evenly spaced steps from A (left) to B (right), {method}")
d1, d2, _ = st.columns([1, 1, 4])
with d1:
    common.download("Strip (PNG)", lambda: exports.png(mosaic(strip, steps, pad=1)), f"{entry.id}-interpolation.png",
                    key="dl_strip")
with d2:
    common.download("Animation (GIF)", lambda: exports.gif(strip), f"{entry.id}-interpolation.gif", key="dl_strip_gif")
strip_reading = loaders.read(meta.dataset.name, strip)
if strip_reading is not None:  # where does a 2 become a 7?
    st.caption("The classifier reads, from A to B: " + strip_words(strip_reading, names, ts))


PLAY = "_interp_play"   # session key: the slider is stepping by itself
PLAY_EVERY_S = 0.15      # one step of the playing slider
PLAY_STEP = 0.02         # ... of this much t: A to B in about 7.5 s


def play_step(t: float) -> tuple[float, bool]:
    """The playing slider's next t and whether it keeps playing (it stops at B)."""
    nxt = round(min(1.0, t + PLAY_STEP), 2)
    return nxt, nxt < 1.0


def t_panel():
    if st.session_state.get(PLAY):
        t_next, going = play_step(float(st.session_state.get("interp_t", 0.0)))
        st.session_state["interp_t"] = t_next
        if not going:
            st.session_state[PLAY] = False
            st.rerun()  # the whole page: its fragment stops rerunning by itself
    left, mid, right = st.columns([1, 1.4, 1])
    with mid:
        t = st.slider("t: 0 is A, 1 is B", 0.0, 1.0, 0.5, step=0.01, key="interp_t", bind="query-params")
        playing = bool(st.session_state.get(PLAY))
        if st.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                     key="interp_play", help="Step t from A to B by itself, as the class watches."):
            st.session_state[PLAY] = not playing
            if not playing and t >= 1.0:
                st.session_state["interp_t"] = 0.0  # played to B before: start again from A
            st.rerun()  # the whole page: the fragment is redefined to rerun every step, or not
        z = interpolate(za, zb, float(t), method)
        decoded_t = inference.decode(model, z)[0]
        common.show_with_download(decoded_t, f"decoded at t = {t:.2f}", f"{entry.id}-t{t:.2f}.png", "dl_t", scale=8)
        st.text(f"t = {t:.2f}")
        words = common.reading(meta.dataset.name, decoded_t)
        if words:
            st.caption(f"The classifier {words}.")
    for col, x, z_end, desc, end in ((left, xa, za, da, "a"), (right, xb, zb, db, "b")):
        with col:
            if x is not None:
                common.show(x, desc, scale=5)
            else:  # decoded from a grid's click (a map's click is a test image): it has its download
                common.show_with_download(inference.decode(model, z_end)[0], desc, f"{entry.id}-end-{end}.png",
                                          f"dl_end_{end}", scale=5)


# While playing, the panel reruns itself every step (and only the panel: the strip stays).
fragment(t_panel, run_every=PLAY_EVERY_S if st.session_state.get(PLAY) else None)()

# ---- edit the code ---------------------------------------------------------------------------
st.divider()
st.subheader("Edit the code")
st.markdown(
    "Start from one image's code and move its numbers one at a time. Each slider is one latent dimension; "
    "in a VAE some dimensions change the stroke or the shape a lot, others hardly at all "
    "(the model leaves them unused).")

stored = loaders.codes(entry)["codes"]
limit = float(min(50.0, max(3.0, np.ceil(np.abs(stored).max()))))
WALK_STEPS = 9
WALK_THROUGH = {"image": "the starting image's code", "origin": "the origin"}
WALK_LABEL_W = 100  # px at the picture's left for each row's dimension and its use
usage = loaders.dimension_usage(entry)
walk_values = traversal.walk_values(meta.kind, stored, WALK_STEPS)


# The walk's picture in palette mode: grey levels 0-254 and the pick's frame as entry 255. A click
# reruns it at latent size 32 (352 × 896 px), where an RGB picture took 14 ms to draw and 21 ms to
# encode as PNG on 2 cores; the palette PNG encodes in a third of that, and the labelled tiles
# are drawn once per walk (kept in the session) and only framed on a click.
FRAME_INDEX = 255
WALK_PALETTE = [v for g in range(FRAME_INDEX) for v in (g, g, g)] + [255, 212, 0]


def walk_picture(tiles: np.ndarray, scale: int, pick) -> Image.Image:
    """The walk's tiles enlarged, each row's dimension and its use (or "unused") at its left,
    the picked tile framed (a palette image: ``WALK_PALETTE``)."""
    key = (entry.id, hashlib.blake2b(tiles.tobytes(), digest_size=16).digest(), tiles.shape, scale)
    kept = st.session_state.get("_walk_picture")
    if kept is None or kept[0] != key:
        kept = st.session_state["_walk_picture"] = (key, labelled_walk(tiles, scale))
    out = kept[1].copy()
    if pick is not None:
        r, c = pick
        grid_w, cell = out.width - WALK_LABEL_W, out.height / z_dim
        tile = grid_w / WALK_STEPS
        ImageDraw.Draw(out).rectangle((WALK_LABEL_W + c * tile, r * cell, WALK_LABEL_W + (c + 1) * tile - 1,
                                       (r + 1) * cell - 1), outline=FRAME_INDEX, width=max(2, scale))
    return out


def labelled_walk(tiles: np.ndarray, scale: int) -> Image.Image:
    """``walk_picture`` without the frame: grey tiles and labels, in ``WALK_PALETTE``'s palette."""
    font = ImageFont.load_default(size=max(12, min(15, 6 * scale)))
    grid = Image.fromarray(np.minimum(to_uint8(tiles), FRAME_INDEX - 1))  # 255 is the frame's colour
    grid = grid.resize((grid.width * scale, grid.height * scale), Image.Resampling.NEAREST)
    out = Image.new("L", (WALK_LABEL_W + grid.width, grid.height), FRAME_INDEX - 1)
    out.paste(grid, (WALK_LABEL_W, 0))
    draw = ImageDraw.Draw(out)
    cell = grid.height / z_dim
    for r, d in enumerate(usage.order):
        text = f"z{d}  " + ("unused" if usage.unused[d] else f"{usage.values[d]:.3g}")
        draw.text((WALK_LABEL_W - 6, (r + 0.5) * cell), text, fill=150 if usage.unused[d] else 0,
                  font=font, anchor="rm")
    out.putpalette(WALK_PALETTE)  # an "L" image becomes "P", its grey levels the palette's indices
    return out


@fragment
def code_section() -> None:
    """The code editor and the walk below it, one fragment: a click on the walk changes the
    editor, and reruns the two without the interpolation above (its strip and endpoints)."""
    c1, c2 = st.columns([3, 1])
    with c1:
        base = common.pick_test_image("edit", entry, labels, label="Start from", default_class=3 % len(names))
    base_x = images[base].astype(np.float32) / 255.0
    base_z = np.clip(inference.embed(model, base_x[None])[0], -limit, limit)

    def reset_code() -> None:
        for d in range(z_dim):
            st.session_state[f"edit_z{d}"] = float(round(base_z[d], 2))

    # ---- walk each dimension (drawn at the bottom; a click on it edits the code above) ------------
    walk_through = st.session_state.get("walk_through", "image")
    walk_base = np.zeros(z_dim, np.float32) if walk_through == "origin" else base_z

    def tile_code(r: int, c: int) -> np.ndarray:
        """The code of the walk's tile in row ``r``, column ``c``: the base with one dimension moved."""
        code = walk_base.astype(np.float32).copy()
        code[usage.order[r]] = walk_values[usage.order[r], c]
        return code

    def take_walk_click() -> None:
        """A click on the walk's picture puts that tile's code in the editor, before its sliders are
        drawn (a slider's value cannot change once it is drawn in the run)."""
        value = st.session_state.get("walk_click")
        if not (isinstance(value, dict) and state.new_event("walk_click", value.get("unix_time"))):
            return
        px_w, px_h = st.session_state.get("_walk_px", (WALK_LABEL_W + 1, 1))  # set where the picture is drawn
        x = value["x"] * px_w / max(value["width"], 1)
        y = value["y"] * px_h / max(value["height"], 1)
        if x < WALK_LABEL_W:
            return
        r, c = tile_at(x - WALK_LABEL_W, y, px_w - WALK_LABEL_W, px_h, z_dim, WALK_STEPS)
        st.session_state["edit_z"] = tuple(round(float(v), 2) for v in tile_code(r, c))
        st.session_state["_walk_pick"] = (entry.id, walk_through, r, c)

    take_walk_click()

    # The edited code lives in the session and the link (``edit_z``); the sliders are drawn from it
    # whenever they were not drawn last run (another page was visited), or it came from the URL.
    previous = st.session_state.get("_edit_base")
    code = state.init("edit_z", lambda text: state.parse_code(text, z_dim))
    if previous is not None and previous != (entry.id, base) and not state.history_navigation():
        code = st.session_state["edit_z"] = None  # another starting image: its own code, unedited
    if (previous != (entry.id, base) or code != st.session_state.get("_edit_applied")
            or any(f"edit_z{d}" not in st.session_state for d in range(z_dim))):
        st.session_state["_edit_base"] = (entry.id, base)
        reset_code()
        if code is not None:
            for d in range(z_dim):
                st.session_state[f"edit_z{d}"] = float(np.clip(round(code[d], 2), -limit, limit))
        st.session_state["_edit_applied"] = code
    with c2:
        st.button("Reset to the image's code", on_click=reset_code)

    @fragment
    def edit_panel():
        sliders, view = st.columns([3, 1])
        ncols = 4 if z_dim > 4 else z_dim
        cols = sliders.columns(ncols)
        step = 0.05 if limit <= 10 else 0.1
        for d in range(z_dim):
            common.clamp(f"edit_z{d}", -limit, limit)
            cols[d % ncols].slider(f"z{d}", -limit, limit, step=step, key=f"edit_z{d}")
        z = np.array([st.session_state[f"edit_z{d}"] for d in range(z_dim)], dtype=np.float32)
        edited = tuple(round(float(v), 2) for v in z) if np.abs(z - base_z).max() > step / 2 else None
        st.session_state["_edit_applied"] = edited
        state.put("edit_z", edited, state.fmt_floats)  # the link holds the edited code
        with view:
            common.show_with_download(inference.decode(model, z)[0], "decoded from the edited code",
                                      f"{entry.id}-edited.png", "dl_edit", scale=6)
            common.show(base_x, f"test image {base}", scale=3)
            changed = int((np.abs(z - base_z) > step / 2).sum())
            st.caption(f"{changed} of {z_dim} numbers changed from the image's code.")

    edit_panel()

    st.divider()
    st.subheader("Walk each dimension")
    st.markdown(
        "One row per latent dimension: each row moves that one number from left to right and keeps the others. "
        + ("For a VAE the rows walk −3 to +3, the prior's range, " if meta.kind == "vae" else
           "For an AE, whose codes have no fixed scale, each row walks its dimension's 1st to 99th percentile over "
           "the test codes, ")
        + "and the rows are ordered by how much the model uses each dimension. Click a tile to take its code to the "
        "editor above.")

    def walk_panel() -> None:
        """Not a fragment of its own: a click here changes the editor above (``code_section``)."""
        st.radio("Through", list(WALK_THROUGH), format_func=WALK_THROUGH.get, key="walk_through", horizontal=True,
                 bind="query-params", help="The code every row starts from: the editor's starting image's, or zeros.")
        tiles = loaders.walk_tiles(entry, walk_base, WALK_STEPS)
        # 32 rows fit a screen at 1×; at most 2×, which keeps the labels and the 9 columns (640 px)
        # inside their column at 1280 px (the picture is not scaled down to fit: it would be cut)
        scale = int(np.clip(min(720 // max(tiles.shape[0], 1), (640 - WALK_LABEL_W) // max(tiles.shape[1], 1)), 1, 2))
        picked = st.session_state.get("_walk_pick")
        pick = picked[2:] if picked is not None and picked[:2] == (entry.id, walk_through) else None
        picture = walk_picture(tiles, scale, pick)
        st.session_state["_walk_px"] = picture.size  # for the next click's pixels (labels: WALK_LABEL_W)
        left, right = st.columns([4, 1])
        with left:
            streamlit_image_coordinates(picture, key="walk_click", png_compression_level=1, width="content",
                                        cursor="pointer")
            common.download("Walk (PNG, rows in this order)", lambda: exports.png(tiles), f"{entry.id}-walk.png",
                            key="dl_walk")
        with right:  # the click's result where the click was: the editor above may be out of sight
            if pick is None:
                st.caption("Click a tile: it is shown here, and its code goes to the editor above.")
            else:
                r, c = pick
                d = int(usage.order[r])
                common.show_with_download(inference.decode(model, tile_code(r, c))[0], f"z{d} = {walk_values[d, c]:+.2f}",
                                          f"{entry.id}-walk-z{d}{walk_values[d, c]:+.2f}.png", "dl_walk_tile", scale=4)
                st.caption("This code is now in the editor above, to go on from.")
        lo, hi = walk_values.min(), walk_values.max()
        if usage.measure == "KL":
            unused = int(usage.unused.sum())
            st.caption(f"Rows ordered by each dimension's KL from the prior, averaged over {len(stored):,} test images "
                       f"(nats). **{unused} of {z_dim}** dimensions carry under {traversal.UNUSED_KL} nats: unused, "
                       "their row hardly changes, which is why larger latent sizes stop helping a VAE."
                       if unused else
                       f"Rows ordered by each dimension's KL from the prior, averaged over {len(stored):,} test images "
                       f"(nats); every dimension carries {traversal.UNUSED_KL} nats or more.")
        else:
            why = (" (this VAE's flow mixes its dimensions, so its KL has no share per dimension)" if meta.kind == "vae"
                   else "")
            st.caption(f"Rows ordered by the variance of each dimension over {len(stored):,} test codes{why}; the "
                       f"values run from {lo:.3g} to {hi:.3g}.")

    walk_panel()


code_section()

"""Page 6, Generate: images decoded from random codes drawn from the VAE's prior; click one."""

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from explorer import exports, figures, inference
from explorer.checkpoints import CatalogEntry
from explorer.classifier import CONFIDENT, class_histogram, distance_from_uniform
from explorer.images import tint_by_class
from explorer.latent import prior_block, tile_at
from explorer.ui import common, fragment, loaders, state
from explorer.vocab import KIND_LABELS, dataset_title

TARGET_PX = 540
SIDE_MAX = 10  # the most samples per side; a sample is named by its place in a grid this large

entry = common.chosen()
meta = entry.meta
cat = loaders.catalog()
common.intro("Generate", (
    "A VAE is trained so that its codes look like draws from N(0, I), so any random draw decodes to a new "
    "image that is in no dataset. The temperature scales the draws: below 1 the samples are typical and "
    "clean, above 1 they get stranger. Click a sample to see it large, with its code."))

# An AE or DAE has no prior: the VAE of the same size stands in, of the same network if there is one
# (else the sweep's MLP, else any), so that a seed network's AE still leads somewhere.
vaes = [e for e in cat.good if (e.meta.dataset.name, e.meta.kind, e.meta.latent_dim) == (meta.dataset.name, "vae", meta.latent_dim)]
found = entry if meta.kind == "vae" else min(vaes, default=None, key=lambda e: (
    e.meta.architecture != meta.architecture, e.meta.architecture != "mlp", e.id))
if found is None:
    st.error(f"Generating needs a VAE, and none was trained for {dataset_title(meta.dataset.name)} "
             f"with latent size {meta.latent_dim}. Train one with "
             f"`python train.py --dataset {meta.dataset.name} --kind vae --latent-dims {meta.latent_dim}`, "
             "or choose another latent size in the sidebar.")
    st.stop()
vae: CatalogEntry = found
if vae is not entry:
    st.info(f"Only a VAE has a prior to sample from: this page uses the VAE of this latent size ({vae.meta.title}), "
            f"not the {KIND_LABELS[meta.kind]} chosen in the sidebar.")
model = common.model_or_stop(vae)
z_dim = vae.meta.latent_dim


def new_seed() -> None:
    st.session_state["gen_seed"] = int(st.session_state.get("gen_seed", 0)) + 1
    state.put("gen_pick", None)


c1, c2, c3, c4 = st.columns([2, 1.3, 1.3, 1.3])
temperature = c1.slider("Temperature", 0.0, 2.0, 1.0, step=0.05, key="gen_t", bind="query-params",
                        help="Samples are drawn from N(0, temperature² I).")
n = c2.slider("Samples per side", 3, SIDE_MAX, 8, key="gen_n", bind="query-params",
              help="A larger grid adds rows and columns: every sample keeps its place.")
seed = c3.number_input("Seed", 0, 10**6, 0, key="gen_seed", bind="query-params")
c4.button("New samples", icon=":material/casino:", on_click=new_seed)
reader_problem = loaders.reader_problem(vae.meta.dataset.name)
state.init("gen_pick", state.parse_index)
if (st.session_state.get("gen_pick") or 0) >= SIDE_MAX * SIDE_MAX:
    state.put("gen_pick", None)  # a hand-edited number that names no sample


def frame_tile(img: Image.Image, r: int, c: int, cell: float) -> Image.Image:
    """The picked sample framed, not covered: a crosshair on it hid the very image it marked."""
    out = img.convert("RGB")
    width = max(2, round(cell / 18))
    ImageDraw.Draw(out).rectangle((c * cell, r * cell, (c + 1) * cell - 1, (r + 1) * cell - 1),
                                  outline=(255, 212, 0), width=width)
    return out


@fragment
def sample_panel():
    left, right = st.columns([3, 2])
    # in the fragment: turning the reading on redraws the samples, not the census below (issue 16: ≤ 300 ms)
    read_tiles = left.toggle("Classifier's reading", value=False, key="gen_read", bind="query-params",
                             disabled=reader_problem is not None,
                             help="Colour each sample by the class a small image classifier reads in it, strong "
                                  "where it is sure." if reader_problem is None else reader_problem) \
        and reader_problem is None
    tiles = loaders.prior_tiles(vae, n, SIDE_MAX, temperature, int(seed))
    reading = loaders.prior_reading(vae, temperature, int(seed), block=(n, SIDE_MAX)) if read_tiles else None
    if reading is not None:
        tiles = tint_by_class(tiles, n, n, reading.classes, reading.confidence)
    scale = max(1, round(TARGET_PX / tiles.shape[0]))
    img = Image.fromarray(tiles).resize((tiles.shape[1] * scale, tiles.shape[0] * scale), Image.Resampling.NEAREST)
    value = st.session_state.get("gen_click")
    if isinstance(value, dict) and state.new_event("gen_click", value.get("unix_time")):
        r, c = tile_at(value["x"], value["y"], value["width"], value["height"], n, n)
        state.put("gen_pick", r * SIDE_MAX + c)
    pick = st.session_state.get("gen_pick")
    state.publish("gen_pick")
    with left:
        if pick is not None and max(divmod(pick, SIDE_MAX)) < n:
            r, c = divmod(pick, SIDE_MAX)
            img = frame_tile(img, r, c, img.width / n)
        streamlit_image_coordinates(img, key="gen_click", png_compression_level=1, width="content", cursor="pointer")
        st.caption(f"{n * n} samples, seed {seed}, temperature {temperature:.2f}.")
        common.download("Samples (PNG)", lambda: exports.png(tiles), f"{vae.id}-samples-seed{seed}-t{temperature:.2f}.png",
                        key="dl_samples")
        if reading is not None:
            common.class_legend(names, "Coloured by the class the classifier reads (dim grey: unsure):")
    with right:
        if pick is None:
            st.info("Click a sample to see it large, with its code.")
            return
        r, c = divmod(pick, SIDE_MAX)
        z = prior_block(SIDE_MAX, SIDE_MAX, z_dim, temperature, int(seed))[pick]
        image = inference.decode(model, z)[0]
        common.show_with_download(image, f"the sample in row {r + 1}, column {c + 1}",
                                  f"{vae.id}-sample-seed{seed}-r{r + 1}c{c + 1}.png", "dl_sample", scale=8)
        st.text(f"sample at row {r + 1}, column {c + 1}")
        words = common.reading(vae.meta.dataset.name, image)
        if words:
            st.markdown(f"The classifier {words}.")
        if max(r, c) >= n:
            st.caption(f"It lies outside the {n}×{n} samples shown; show {max(r, c) + 1} per side to see it there.")
        st.code("z = " + common.fmt_code(z), language=None, wrap_lines=True)
        st.caption(f"Its length is {np.linalg.norm(z):.2f}; a draw from N(0, I) in {z_dim} dimensions is "
                   f"typically about √{z_dim} ≈ {np.sqrt(z_dim):.1f} long.")


def census() -> None:
    """Which classes the prior draws: a VAE's prior is not uniform over the classes."""
    reading = loaders.prior_reading(vae, temperature, int(seed))
    if reading is None:
        st.caption(f"No reading classifier for this dataset ({reader_problem}).")
        return
    shares = class_histogram(reading.classes, len(names))
    sure = class_histogram(reading.classes[reading.confidence >= CONFIDENT], len(names)) * \
        float((reading.confidence >= CONFIDENT).mean())
    st.subheader(f"What {loaders.PRIOR_CENSUS:,} samples are read as")
    left, right = st.columns([3, 1])
    with left:
        st.plotly_chart(figures.class_shares(shares, sure, names, CONFIDENT), key="gen_census",
                        config={"displaylogo": False})
    with right:
        st.metric(f"read with ≥ {CONFIDENT * 100:.0f} % confidence", f"{(reading.confidence >= CONFIDENT).mean() * 100:.0f} %",
                  help="The share of the samples whose most probable class has at least this probability: "
                       "a sample-quality figure. Unsure samples are often blends of two classes.")
        st.metric("distance from uniform", f"{distance_from_uniform(shares):.2f}",
                  help="Total variation distance between the classes read and an even share of each: 0 when every "
                       f"class is drawn equally often, {1 - 1 / len(names):.1f} when all samples are one class.")
    st.caption(f"{loaders.PRIOR_CENSUS:,} draws from N(0, {temperature:.2f}² I) with seed {seed}, decoded, and read by "
               f"the {loaders.reader_title(vae.meta.dataset.name)} ({reader_accuracy()}). Solid: the samples read "
               f"with ≥ {CONFIDENT * 100:.0f} % confidence; faded: with less. Dashed: the share each class would have "
               "if the prior drew every class equally often.")


def reader_accuracy() -> str:
    r = loaders.reader(vae.meta.dataset.name)
    return "" if r is None else f"{r.meta.test_accuracy * 100:.1f} % right on the test images"


names = common.class_names(vae)
sample_panel()
census()

"""Page 5, Denoising playground: corrupt an input and see what the AE, DAE and VAE make of it."""

import numpy as np
import streamlit as st

from explorer import exports, figures, inference
from explorer.checkpoints import CheckpointError
from explorer.ui import common, loaders
from explorer.ui.own_input import UPLOAD_HELP, own_input
from explorer.vocab import KIND_LABELS, KINDS, NOISE_LABELS

SOURCES = {"test": "test image", "upload": "upload", "draw": "draw"}
NOISES = NOISE_LABELS

entry = common.chosen()
meta = entry.meta
dataset, z_dim, arch = meta.dataset.name, meta.latent_dim, meta.architecture
cat = loaders.catalog()
common.intro("Denoising playground", (
    f"Corrupt an image and give it to the three kinds of model with latent size {z_dim} (the sidebar's kind "
    "does not matter here). The DAE was trained on exactly this task, corrupted images in and clean images out; "
    "the AE and VAE only ever saw clean images. Compare the PSNR against the clean image (higher is better) "
    "and notice that every model \"cleans\" by snapping the input to something it knows, "
    "which may be a different digit or garment."))

c1, c2, c3 = st.columns([1.6, 2.2, 1.2])
source = c1.radio("Input", list(SOURCES), format_func=SOURCES.get, key="noise_src", bind="query-params",
                  horizontal=True)
noise = c2.radio("Noise", list(NOISES), format_func=NOISES.get, key="noise_kind", bind="query-params",
                 horizontal=True)
with c2:
    if noise == "gaussian":
        level = st.slider("σ (noise strength)", 0.0, 1.0, 0.4, step=0.05, key="noise_sigma", bind="query-params")
    elif noise == "salt_and_pepper":
        level = st.slider("share of pixels set to black or white", 0.0, 0.8, 0.2, step=0.05, key="noise_p",
                          bind="query-params")
    else:
        level = st.slider("block side (pixels)", 2, 24, 12, key="noise_block", bind="query-params")
seed = c3.number_input("seed", 0, 10**6, 0, key="noise_seed", bind="query-params",
                       help="The same seed gives the same noise.")

MAP_PAGE = "explorer/ui/pages/latent_map.py"


def offer_map() -> None:
    """Where the user's image sits among the test images: a link to the latent map (and grid)
    that places it there. A link, not a button: ``st.switch_page`` clears the URL's parameters,
    which Streamlit 1.67 refuses while widgets are bound to them."""
    st.page_link(MAP_PAGE, label="Place it on the latent map", icon=":material/scatter_plot:",
                 query_params={common.OWN_ON_MAP: "1"},
                 help=f"Its code under the {entry.meta.title}, as a large point among the test images' codes, "
                      "with its nearest neighbours" + (" (and on the latent grid)." if z_dim == 2 else "."))


if source == "test":
    split = common.test_split_or_stop(entry)
    images, labels = split
    idx = common.pick_test_image("noise_img", entry, labels, label="Test image", default_class=0)
    clean = images[idx].astype(np.float32) / 255.0
else:
    clean = own_input(source, upload_key="noise_upload", canvas_key="noise_canvas",
                      waiting=UPLOAD_HELP if source == "upload" else
                      "Draw something on the canvas; the models' outputs appear below.")
if source != "test":
    offer_map()

def psnr_of(e, noisy: np.ndarray, clean: np.ndarray) -> float | None:
    """One model's PSNR on this input, or None where no such model was trained (or it is broken)."""
    if e is None:
        return None
    try:
        out = np.array(loaders.reconstruction_of(e, noisy))
    except CheckpointError:
        return None
    return float(inference.psnr(out[None], clean[None])[0])


def denoising_lesson(sizes: list[int], dae: list[float | None], noisy_db: float) -> str:
    """Why the smallest code cannot denoise, in the figures of this very input."""
    known = [(z, v) for z, v in zip(sizes, dae) if v is not None]
    if len(known) < 2:
        return ""
    (z_lo, lo), (z_hi, hi) = known[0], known[-1]  # the smallest code against the largest
    return (f"On this input the DAE with latent size {z_lo} gains **{lo - noisy_db:+.1f} dB** over the noisy "
            f"input ({lo:.1f} against {noisy_db:.1f} dB), and with latent size {z_hi} **{hi - noisy_db:+.1f} dB**. "
            f"A code of {z_lo} numbers holds little more than which kind of image this is, so its decoder returns "
            "a blurred prototype of that kind instead of this image's own strokes: the noise goes, and the detail "
            "with it. Larger codes keep the detail, and the DAE, trained to ignore the noise, keeps only the detail.")


noisy = inference.corrupt(clean, noise, level, int(seed))
noisy_psnr = float(inference.psnr(noisy[None], clean[None])[0])



def say_reading(image: np.ndarray) -> None:
    """What the classifier reads in one of the row's images: a model that "cleans" by snapping to
    another digit shows it here."""
    words = common.reading(dataset, image)
    if words:
        st.caption(f"The classifier {words}.")


cols = st.columns(5)
with cols[0]:
    common.show(clean, "clean input (28×28)", scale=5)
    say_reading(clean)
with cols[1]:
    common.show(noisy, f"{NOISES[noise]} noise", scale=5)
    common.download("PNG", lambda: exports.png(noisy), f"{dataset}-{noise}-noisy.png", key="dl_noisy")
    st.metric("noisy vs clean", f"{noisy_psnr:.1f} dB")
    say_reading(noisy)
for col, kind in zip(cols[2:], KINDS):
    with col:
        e = cat.find(dataset, kind, z_dim, arch)
        if e is None:
            st.info(f"No {KIND_LABELS[kind]} with latent size {z_dim} was trained.")
            continue
        try:
            out = np.array(loaders.reconstruction_of(e, noisy))  # writable: torch warns on a read-only one
        except CheckpointError as err:
            st.error(f"This checkpoint cannot be loaded: {err}")
            continue
        score = float(inference.psnr(out[None], clean[None])[0])
        common.show(out, f"{KIND_LABELS[kind]} output", scale=5)
        common.download("PNG", lambda out=out: exports.png(out), f"{e.id}-denoised.png", key=f"dl_out_{kind}")
        st.metric(f"{KIND_LABELS[kind]} vs clean", f"{score:.1f} dB", delta=f"{score - noisy_psnr:+.1f} dB",
                  help="PSNR of the model's output against the clean input; the change is against the noisy input.")
        say_reading(out)
st.caption("PSNR: peak signal-to-noise ratio, 10·log10(1 / mean squared error), in dB. "
           "Each model sees only the noisy image.")

# ---- every latent size at once: where the DAE's lesson shows ------------------------------------
sizes = sorted({z for kind in KINDS for z in cat.sizes(dataset, kind, arch)})
scores = {kind: [psnr_of(cat.find(dataset, kind, z, arch), noisy, clean) for z in sizes] for kind in KINDS}
st.subheader("The same input at every latent size")
st.plotly_chart(figures.psnr_by_latent_size(sizes, scores, noisy_psnr, z_dim), key="noise_sizes",
                config={"displaylogo": False, "displayModeBar": False})
st.markdown(denoising_lesson(sizes, scores.get("dae", []), noisy_psnr))

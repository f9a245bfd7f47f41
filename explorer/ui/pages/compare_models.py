"""Compare models: two to four checkpoints of the sidebar's dataset, chosen freely across kind,
architecture and latent size, side by side on the same test images (issue 17, part 2)."""

import numpy as np
import streamlit as st

from explorer.ui import common, fragment, loaders, picks
from explorer.vocab import KINDS

COUNT = 10  # test images compared, one of each class by default
PICKS = {"classes": "one of each class", "seed": "random"}

entry = common.chosen()
dataset = entry.meta.dataset.name
cat = loaders.catalog()
# every model of this dataset, in the sidebar's order: kind, then architecture, then latent size
choices = sorted((e for e in cat.good if e.meta.dataset.name == dataset),
                 key=lambda e: (KINDS.index(e.meta.kind) if e.meta.kind in KINDS else len(KINDS), e.meta.architecture,
                                e.meta.latent_dim))
by_label = {loaders.model_label(e): e for e in choices}
common.intro("Compare models", (
    "Any two to four models of this dataset side by side, whatever their kind, architecture or latent size: the "
    "same test images rebuilt by each, their test loss and its parts, their size and training time, and their "
    "latent maps. It opens on the plain autoencoder against the variational one with a code of 2 numbers: the AE "
    "spreads its codes wide and leaves holes between the classes, the VAE packs them round the origin."))


def opening() -> list[str]:
    """The models the page opens on: this dataset's AE and VAE of latent size 2 (the seeds' lesson
    of holes against a filled plane), else its first two. Not the sidebar's model: the choice then
    stays when the sidebar changes within the dataset."""
    wanted = [next((label for label, e in by_label.items()
                    if (e.meta.kind, e.meta.architecture, e.meta.latent_dim) == (kind, "mlp", 2)), None) for kind in ("ae", "vae")]
    found = [label for label in wanted if label is not None]
    return found if len(found) == 2 else list(by_label)[:2]


picked = st.multiselect("Models (two to four)", list(by_label), default=opening(), max_selections=4, key="cm_models",
                        bind="query-params", help="Models of the dataset chosen in the sidebar; the choice is kept in "
                                                  "the page's address, so a link opens the same comparison.")
entries = [by_label[label] for label in picked]
if len(entries) < 2:
    st.info("Pick at least two models to compare (up to four).")
    st.stop()

images, labels = common.test_split_or_stop(entry)
names = common.class_names(entry)


@fragment
def reconstructions_panel() -> None:
    """The image choice and every model's reconstructions: a change here reruns only this panel."""
    c1, c2 = st.columns([2, 3])
    pick = c1.radio("Images", list(PICKS), format_func=PICKS.get, key="cm_pick", bind="query-params", horizontal=True)
    with c2:
        if pick == "classes":
            common.clamp("cm_n", 0, 50)
            k = st.number_input("which one of each class", 0, 50, 0, key="cm_n", bind="query-params")
            chosen = picks.one_of_each_class(labels, len(names), int(k))
        else:
            common.clamp("cm_seed", 0, 10**6)
            seed = st.number_input("seed", 0, 10**6, 0, key="cm_seed", bind="query-params")
            chosen = picks.random_indices(len(labels), COUNT, int(seed))
    label_col, image_col = st.columns([1, 5])
    label_col.markdown("**original**")
    originals = images[chosen].astype(np.float32) / 255.0
    with image_col:
        common.show_strip(originals, "test images " + ", ".join(str(i) for i in chosen))
    rows = [originals]  # the download: every row as drawn, one picture
    for e in entries:
        label_col, image_col = st.columns([1, 5])
        label_col.markdown(f"**{loaders.model_label(e)}**  \ntest loss {e.meta.test_metrics.loss:.1f}")
        with image_col:
            recon = loaders.reconstructions(*loaders.key(e), tuple(chosen), _entry=e)
            common.show_strip(recon)
        rows.append(recon)
    common.download_rows("Rows (PNG: original, then each model in this order)", rows,
                         "compare-models-" + "-".join(e.id for e in entries) + ".png", "dl_cm_rows")


def number(value: float | None, fmt: str) -> str:
    return "–" if value is None or not np.isfinite(value) else format(value, fmt)


def facts_table() -> str:
    rows = []
    for e in entries:
        m, meta = e.meta.test_metrics, e.meta
        rows.append({
            "model": loaders.model_label(e),
            "test loss (nats)": number(m.loss, ".1f"),
            "reconstruction": number(m.recon, ".1f"),
            "KL": number(m.kl, ".2f") if meta.kind == "vae" else "–",
            "PSNR (dB)": number(m.psnr, ".1f"),
            "parameters": "–" if meta.parameter_count is None else f"{meta.parameter_count:,}",
            "epochs": "–" if meta.epochs is None else str(meta.epochs),
            "training time": "–" if meta.train_seconds is None else f"{meta.train_seconds:.0f} s",
        })
    return common.markdown_table(rows)


@fragment
def maps_panel() -> None:
    """Every model's latent map; the 2-D ones on the same scale. The t-SNE / PCA choice (for the
    larger codes) reruns only this panel."""
    larger = [e for e in entries if e.meta.latent_dim != 2]
    view = "tsne"
    if larger:
        view = st.radio("Map of the larger codes", ["tsne", "pca"], format_func=loaders.MAP_VIEWS.get, key="cm_view",
                        bind="query-params", horizontal=True)
    picture, span = loaders.compare_maps(entries, view, names)
    st.image(picture, width="stretch")
    said = []
    if span is not None:
        said.append(f"The maps of the 2-D codes show the codes themselves on one scale, {span[0]:.3g} to "
                    f"{span[1]:.3g} on both axes: a wider spread means codes further apart.")
    if larger:
        said.append(f"The larger codes are drawn by {loaders.MAP_VIEWS[view]}, each filling its own panel.")
    st.caption(" ".join(said))


reconstructions_panel()
st.subheader("Test loss, size and training")
st.markdown(facts_table())
st.caption("Test loss in nats per test image: for an AE or DAE the reconstruction error alone, for a VAE the "
           "reconstruction error plus the KL term (its negative ELBO), so a VAE's loss is higher by design; compare "
           "the reconstruction column across kinds.")
st.subheader("Latent maps")
maps_panel()

"""Page 4, Compare latent sizes: the same test images through every latent size of one kind."""

import numpy as np
import streamlit as st

from explorer import features, figures
from explorer.ui import common, fragment, loaders, picks
from explorer.vocab import KIND_LABELS, KIND_TITLES

PICKS = {"classes": "one of each class", "class": "one class", "seed": "random", "index": "by index"}
COUNT = 10

entry = common.chosen()
meta = entry.meta
dataset, kind, arch = meta.dataset.name, meta.kind, meta.architecture
cat = loaders.catalog()
by_size = cat.by_size(dataset, kind, arch)
common.intro("Compare latent sizes", (
    f"The same test images rebuilt by the {KIND_LABELS[kind]} of every latent size, smallest at the top. "
    "A code of 2 numbers keeps only the rough shape; more numbers keep more detail, until the gain stops. "
    "The chart shows where that happens for each kind, and the maps below show how the classes separate "
    "as the code grows."))

images, labels = common.test_split_or_stop(entry)
names = common.class_names(entry)


@fragment
def reconstructions_panel() -> None:
    """The image choice and the reconstructions: a change here reruns only this panel."""
    c1, c2 = st.columns([2, 3])
    pick = c1.radio("Images", list(PICKS), format_func=PICKS.get, key="cmp_pick", bind="query-params",
                    horizontal=True)
    with c2:
        if pick == "classes":
            common.clamp("cmp_n", 0, 50)
            k = st.number_input("which one of each class", 0, 50, 0, key="cmp_n", bind="query-params")
            chosen = picks.one_of_each_class(labels, len(names), int(k))
        elif pick == "class":
            cls = st.selectbox("class", range(len(names)), format_func=lambda c: names[c], key="cmp_cls",
                               bind="query-params")
            chosen = picks.first_of_class(labels, cls, COUNT)
        elif pick == "seed":
            seed = st.number_input("seed", 0, 10**6, 0, key="cmp_seed", bind="query-params")
            chosen = picks.random_indices(len(labels), COUNT, int(seed))
        else:
            text = st.text_input(f"test image indices (0 to {len(labels) - 1}, comma-separated)", "0, 1, 2, 3, 4, 5",
                                 key="cmp_idx", bind="query-params")
            chosen, bad = picks.parse_indices(text, len(labels), limit=12)
            if bad:
                shown = ", ".join(b if len(b) <= 20 else b[:20] + "…" for b in bad[:5])
                st.warning(f"Ignored: {shown} (not an index from 0 to {len(labels) - 1}).")
            if not chosen:
                chosen = [0]

    with_pca = st.toggle("PCA beside each size", value=False, key="cmp_pca", bind="query-params",
                         help="Under each latent size, the same images rebuilt from as many principal components "
                              "of the pixels: the best any linear code of that size can do (seed 001).")
    st.markdown(f"**{KIND_TITLES[kind]}: reconstructions by latent size**"
                + (", each with PCA of as many components under it" if with_pca else ""))
    originals = images[chosen].astype(np.float32) / 255.0
    label_col, image_col = st.columns([1, 7])
    label_col.markdown("original")
    with image_col:
        common.show_strip(originals, "test images " + ", ".join(str(i) for i in chosen))
    rows = [originals]  # the download: every row as drawn, one picture
    for z, e in by_size.items():
        recon = loaders.reconstructions(*loaders.key(e), tuple(chosen), _entry=e)
        label_col, image_col = st.columns([1, 7])
        # beside PCA, the error on these images, the figure PCA's row can show too
        label_col.markdown(f"**latent {z}**  \ntest loss {e.meta.test_metrics.loss:.1f}"
                           + (f"  \nMSE {float(((recon - originals) ** 2).mean()):.4f} here" if with_pca else ""))
        with image_col:
            common.show_strip(recon)
        rows.append(recon)
        if with_pca:
            rec = loaders.pca_reconstructions(e, z, chosen)
            label_col, image_col = st.columns([1, 7])
            label_col.markdown(f"PCA, {z} components  \nMSE {float(((rec - originals) ** 2).mean()):.4f} here")
            with image_col:
                common.show_strip(rec)
            rows.append(rec)
    order = "original, then " + ("each size and its PCA" if with_pca else "each size") + ", smallest first"
    common.download_rows(f"Rows (PNG: {order})", rows,
                         f"{dataset}-{kind}-{arch}-by-latent-size{'-with-pca' if with_pca else ''}.png", "dl_cmp_rows")


@fragment
def maps_panel() -> None:
    """The latent maps of every size: the t-SNE / PCA choice reruns only this panel."""
    view = st.radio("Map", ["tsne", "pca"], format_func=loaders.MAP_VIEWS.get, key="cmp_view",
                    bind="query-params", horizontal=True)
    st.image(loaders.small_maps(by_size.values(), view, names), width="stretch")


reconstructions_panel()

st.subheader("Test loss against latent size")
same = [e for e in cat.good if e.meta.dataset.name == dataset and e.meta.architecture == arch]  # every kind's
points = [(e.meta.kind, e.meta.latent_dim, e.meta.test_metrics.loss) for e in same]
st.plotly_chart(figures.loss_by_latent_size(points, kind), config={"displaylogo": False})
st.caption("Test loss in nats per image: for the AE and DAE the reconstruction error alone, for the VAE the "
           "reconstruction error plus the KL term (the negative ELBO), so the VAE's line sits higher by design.")

st.subheader("Against PCA: how much of the images a code keeps")
pca = loaders.pixel_pca(entry)
model_mse = [(e.meta.kind, e.meta.latent_dim, e.meta.test_metrics.mse) for e in same]
st.plotly_chart(figures.variance_kept(loaders.pca_curve(entry), model_mse, pca.total_variance, kind),
                config={"displaylogo": False})
st.caption("The share of the test images' pixel variance each code keeps: for PCA its explained variance, for a "
           "model 1 − its test MSE per pixel ÷ the pixels' variance. PCA is the best linear code of each size; a "
           "model above its curve has learned something a linear map cannot. PCA is fitted here on the test "
           "images themselves, which flatters it by about 1 % of its error (`python -m tools.report` fits it on "
           "the training images).")

st.subheader("Codes as features")
accuracy = loaders.feature_accuracy(same)
if accuracy:
    st.plotly_chart(figures.feature_accuracy_by_latent_size(
        [(e.meta.kind, e.meta.latent_dim, accuracy[e.id]) for e in same if e.id in accuracy], kind),
        config={"displaylogo": False})
    st.caption(f"How well a linear classifier (logistic regression, fitted on the codes of {features.TRAIN_IMAGES:,} "
               "training images) tells the classes apart from the codes alone, on the test images: a code can "
               "rebuild images well and still mix the classes, or the other way round (seed 001).")
missing = [e.id for e in same if e.id not in accuracy]
if missing:
    st.caption(f"Not measured for {len(missing)} of these models ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}): "
               "`python -m tools.report` measures every model in the checkpoint folder (a few seconds each) "
               "and keeps the figures beside them.")

st.subheader("Latent maps of every size")
maps_panel()

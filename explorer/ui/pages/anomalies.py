"""Page 7, Anomalies: score every image by how unusual it is to the model, set a threshold,
and see which images it flags (seed 002), including the famous failure of likelihoods."""

import numpy as np
import streamlit as st

from explorer import anomaly, figures
from explorer.data import DataError
from explorer.images import heat_map
from explorer.ui import common, fragment, loaders, state
from explorer.ui.live_chart import live_chart
from explorer.ui.own_input import UPLOAD_HELP, own_input
from explorer.vocab import KIND_LABELS, NOISE_LABELS, dataset_title, noise_label

# each noise's slider: (label, lowest, highest, step); a level from a link is snapped onto it, so
# the levels scored (and stored) are these few, whatever a URL says
LEVELS = {"gaussian": ("σ (noise strength)", 0.05, 1.0, 0.05),
          "salt_and_pepper": ("share of pixels set to black or white", 0.05, 0.8, 0.05),
          "block": ("block side (pixels)", 2, 24, 1)}
SOURCES = {"upload": "upload", "draw": "draw"}
COLORS = {"test": "#1f77b4", "other": "#d62728", "corrupted": "#ff7f0e"}
PICK = "an_img"   # app-owned: the test image looked at closely (in the URL)
IWAE_K = 64
IWAE_N = 1000

entry = common.chosen()
meta = entry.meta
kind, z_dim, own_name = meta.kind, meta.latent_dim, meta.dataset.name
is_vae = kind == "vae"
SCORE = "−ELBO" if is_vae else "reconstruction error"
common.intro("Anomalies", (
    "An autoencoder trained only on normal images rebuilds them well and unusual images badly, so its "
    "reconstruction error is an anomaly score: seed 002 calls an input anomalous when the error is above a "
    "threshold set from the normal examples' errors. Here every test image gets a score under the sidebar's "
    "model; the histograms show the model's own test images against the other dataset's and against corrupted "
    "ones, and the ROC curve shows every threshold at once. Watch the Fashion-MNIST models: most of them find "
    "digits *easier* than their own garments, the failure Nalisnick et al. (2019) found in far stronger models."))
st.caption(
    (f"**Score** under this VAE: the negative ELBO in nats (its training loss), an upper bound on −log p(x), "
     f"averaged over {anomaly.ELBO_SAMPLES} codes drawn per image. " if is_vae else
     f"**Score** under this {KIND_LABELS[kind]}: the reconstruction error in nats, the cross-entropy of the image "
     "against what the model rebuilds from its code (its training loss). ")
    + "**PNG length**: the image's size as a PNG in bits, a measure of how complex it is. Thresholds and "
    "typical ranges come from training images, never from the test images.")

model = common.model_or_stop(entry)  # first: stored scores need no model, the rest of the page does
try:
    with st.spinner(f"Scoring this model's test images, the other dataset's and {anomaly.REFERENCE_COUNT:,} "
                    "training images (once per model)…"):
        sc = loaders.anomaly_scores(entry)
except DataError as e:
    st.error("The images this page scores are not available on this machine.\n\n" + str(e).replace("\n", "  \n"))
    st.stop()
other_label = dataset_title(sc.other_name)
own_label = dataset_title(own_name)

c1, _ = st.columns([2.2, 4.0])
rule_name = c1.selectbox("Rule", list(anomaly.RULES), index=list(anomaly.RULES).index(anomaly.DEFAULT_RULE),
                         format_func=lambda r: anomaly.RULES[r].label, key="an_rule", bind="query-params",
                         help="How a score becomes a verdict. Every rule uses only the training images' scores.")
rule = anomaly.RULES[rule_name]
ref = sc.reference
base = loaders.rule_base(entry, rule_name)
test_stat = base.test
if sc.other is None:
    st.warning(f"The {other_label} test images are not on this machine, so they are left out: {sc.other_problem}")
# the page's sections, in their order; they are made in another (at the end)
panel_box, lesson_box, gallery_box, look_box, own_box = (st.container() for _ in range(5))


def set_names(noise: str, level: float) -> dict[str, str]:
    return {"other": f"{other_label} test", "corrupted": f"{own_label} test, {noise_label(noise, level)}"}


def snapped(noise: str, level: float) -> float:
    """A level on the noise's slider grid, within its range (Streamlit keeps a URL's off-grid value)."""
    _, lo, hi, step = LEVELS[noise]
    level = min(max(level, lo), hi)
    return round(round(level / step) * step, 6) if step < 1 else float(round(level))


def every_rule(noise: str, level: float) -> list[dict]:
    """This model's AUC under every rule, against the other dataset and the corrupted images."""
    names = set_names(noise, level)
    out = []
    for r in anomaly.RULES.values():
        v = loaders.rule_view(entry, r.name, noise, level)
        out.append({"rule": r.label + (" (default)" if r.name == anomaly.DEFAULT_RULE else "")}
                   | {f"AUC vs {names[n]}": a for n, a in v.auc.items()})
    return out


def verdict(value: float, threshold: float) -> str:
    return "**anomalous**" if value > threshold else "**normal**"


def threshold_panel(own_value: float | None, picked: tuple[int, float] | None) -> None:
    """The corrupted images, the threshold and everything they change, as a fragment: moving the
    threshold or changing the noise reruns this panel only (the rest of the page stays)."""
    c2, c3 = st.columns([2.2, 1.8])
    noise = c2.radio("Corrupted test images", list(NOISE_LABELS), format_func=NOISE_LABELS.get, key="an_noise", horizontal=True,
                     bind="query-params")
    label, lo, hi, step = LEVELS[noise]
    with c2:
        level = st.slider(label, lo, hi, anomaly.NOISE_LEVELS[noise], step=step, bind="query-params",
                          key={"gaussian": "an_sigma", "salt_and_pepper": "an_p", "block": "an_block"}[noise])
    level = snapped(noise, float(level))
    k_std = c3.slider("Threshold: training mean + k standard deviations", -2.0, 10.0, 1.0, step=0.1, key="an_k",
                      bind="query-params",
                      help="k = 1 is seed 002's rule as the TensorFlow tutorial it follows has it: the normal "
                           "examples' mean plus one standard deviation.")
    with st.spinner("Corrupting and scoring the test images…"):
        view = loaders.rule_view(entry, rule_name, noise, level)  # the model loaded above: no CheckpointError
    ref_stat = view.reference
    threshold = anomaly.default_threshold(rule, ref, k_std)
    names = set_names(noise, level)
    normal = f"{own_label} test (normal)"
    sets = {normal: test_stat} | {names[n]: v for n, v in view.anomalous.items()}
    colors = {normal: COLORS["test"]} | {names[n]: COLORS[n] for n in view.anomalous}
    st.caption(f"Threshold **{threshold:.4g}** ({rule.unit}): it flags **{(ref_stat > threshold).mean():.1%}** of "
               f"the training images and **{(test_stat > threshold).mean():.1%}** of the {own_label} test images. "
               f"Rule: {rule.how}.")
    rows, curves = [], {}
    for name, v in view.anomalous.items():
        c = anomaly.confusion(test_stat, v, threshold)
        rows.append({"anomalies": names[name], "caught": f"{c.tp:,} of {c.tp + c.fn:,}",
                     "recall": f"{c.recall:.1%}", "false alarms": f"{c.fp:,} of {c.fp + c.tn:,}",
                     "precision": "–" if c.tp + c.fp == 0 else f"{c.precision:.1%}", "AUC": f"{view.auc[name]:.3f}"})
        fpr, tpr = view.roc[name]
        curves[names[name]] = (fpr, tpr, view.auc[name])
    # the ROC curves carry no mark of the threshold: where it cuts them is the table's recall and false alarms
    # kept in the page across runs (live_chart): a new threshold, corruption or model redraws it, not a new chart
    live_chart(figures.threshold_figure(sets, curves, colors, threshold=threshold, unit=rule.unit, own=own_value),
               key="an_hist", config={"displaylogo": False, "displayModeBar": False})
    st.markdown(common.markdown_table(rows))
    st.caption("Recall: the anomalies caught. Precision: the share of anomalies among the flagged images. False "
               f"alarms: {own_label} test images flagged. AUC: the area under the ROC curve, 1 separates perfectly, "
               "0.5 is chance.")
    said = []
    if picked is not None:
        said.append(f"test image {picked[0]} is {verdict(picked[1], threshold)}")
    if own_value is not None:
        said.append(f"your image is {verdict(own_value, threshold)}")
    if said:
        st.markdown("At this threshold " + " and ".join(said) + ".")
    # a toggle, not an expander: an expander's content runs even when it is closed (7 rules' views)
    if st.toggle("Every rule on this model", key="an_all", bind="query-params",
                 help="The AUC of each rule tried, against both kinds of anomaly"):
        table = every_rule(noise, level)
        st.markdown(common.markdown_table([{k: v if k == "rule" else f"{v:.3f}" for k, v in r.items()}
                                           for r in table]))
        st.caption("The report (`python -m tools.report`, docs/RESULTS.md) has these for every shipped model.")


# ---- what the sections share: the test split and the image looked at ----------------------------------
images_u8, labels = common.test_split_or_stop(entry)
names = common.class_names(entry)
pick = state.init(PICK, state.parse_index)
if pick is not None and not 0 <= pick < len(test_stat):
    pick = None  # a hand-edited link's index past the test split
    st.session_state[PICK] = None


def gallery(title: str, most: bool, key: str) -> None:
    """A gallery's picture, and under it one pill per image, in its order: a click looks closer.
    Pills, not a button under each image: one element instead of 16 (8 buttons in 8 columns),
    which the browser redraws on every change of model (``tools.browser_bench --only anomalies``)."""
    st.markdown(f"**{title}**")
    indices, picture = loaders.anomaly_gallery(entry, rule_name, most, anomaly.GALLERY, anomaly.HEAT_MAX,
                                               common.image_scale(anomaly.GALLERY_SCALE))
    st.image(picture, width="stretch", output_format="PNG")  # bytes kept as they are (auto would be JPEG)
    common.download("Gallery (PNG)", lambda: picture, f"{entry.id}-{rule_name}-{'most' if most else 'least'}-anomalous.png",
                    key=f"dl_{key}")
    where = np.flatnonzero(indices == pick)
    st.session_state[key] = int(where[0]) if len(where) else None  # the image looked at, lit in its gallery

    def chosen() -> None:
        j = st.session_state.get(key)
        state.put(PICK, None if j is None else int(indices[j]))  # a click on the lit pill closes the look

    st.pills(title, list(range(len(indices))), format_func=lambda j: f"#{j + 1} · {names[labels[indices[j]]]}",
             key=key, on_change=chosen, label_visibility="collapsed")


def galleries() -> None:
    st.subheader(f"The {own_label} test images it finds most and least unusual")
    st.caption("Each column: the test image, what the model rebuilds, and where they differ (black: not at all, "
               "through red and yellow to white: by half the range or more). Under the pictures, the images by their "
               "place from the left, with their class: click one to look closer.")
    gallery("Most anomalous", True, "an_most")
    gallery("Least anomalous", False, "an_least")


def pictures(x: np.ndarray, caption: str, scale: int, name: str):
    """An image, what the model rebuilds from its code and where the two differ, side by side;
    returns the column beside them, for its figures. ``name``: the reconstruction's file name."""
    recon, err = anomaly.pixel_errors(model, x[None])
    a, b, c, d = st.columns([1, 1, 1, 2])
    with a:
        common.show(x, caption, scale=scale)
    with b:
        common.show_with_download(recon[0], "what the model rebuilds", name, f"dl_rebuilt_{caption}", scale=scale)
    with c:
        st.image(heat_map(err[0], anomaly.HEAT_MAX, common.image_scale(scale)), caption="where they differ",
                 output_format="PNG")
    return d


def closer_look() -> None:
    """The test image looked at: large, rebuilt, its error and its scores."""
    if pick is None:
        return
    state.publish(PICK, str)
    st.subheader(f"Test image {pick}: {names[labels[pick]]}")
    with pictures(images_u8[pick].astype(np.float32) / 255.0, "the test image", 7, f"{entry.id}-{pick}-rebuilt.png"):
        value = float(test_stat[pick])
        st.metric(f"{SCORE} (score)", f"{sc.test.raw[pick]:.1f} nats", help="the score the report computes too")
        st.metric("PNG length", f"{sc.test.bits[pick]:.0f} bits")
        st.metric(f"{rule.label}", f"{value:.4g}",
                  help=f"{rule.unit}; its percentile among the {len(test_stat):,} test images: higher is more unusual")
        st.markdown(f"Percentile among the test images: **{anomaly.percentile(test_stat, value):.1f}** "
                    "(its verdict is under the histograms).")
        st.button("Close", key="an_close", on_click=state.put, args=(PICK, None))


def own_image() -> float | None:
    """The user's own image, uploaded or drawn: its pictures and scores; returns the rule's
    statistic of it (None without one), which the threshold's panel marks."""
    st.subheader("Your own image")
    source = st.radio("Input", list(SOURCES), format_func=SOURCES.get, key="an_src", horizontal=True,
                      bind="query-params")
    mine = own_input(source, upload_key="an_upload", canvas_key="an_canvas", stop=False,
                     waiting=UPLOAD_HELP if source == "upload" else "Draw something on the canvas: its score appears here.")
    own_value = None
    if mine is not None:
        raw = anomaly.scores(model, mine[None])
        bits = anomaly.complexity_bits(mine[None])
        own_value = float(rule.statistic(raw, bits, ref)[0])
        with pictures(mine, "your image (28×28)", 5, f"{entry.id}-your-image-rebuilt.png"):
            st.metric(f"{SCORE} (score)", f"{raw[0]:.1f} nats")
            st.metric(rule.label, f"{own_value:.4g}", help=rule.unit)
            words = common.reading(meta.dataset.name, mine)
            if words:
                st.caption(f"The {loaders.reader_title(meta.dataset.name)} {words}.")
            st.markdown(f"Percentile among the {own_label} test images: "
                        f"**{anomaly.percentile(test_stat, own_value):.1f}**. It is marked in magenta on the histogram, "
                        "with its verdict under it.")
    return own_value


def lesson() -> None:
    """The lesson: raw likelihood against the corrected rules."""
    raw_auc = loaders.rule_base(entry, "raw").other_auc  # None without the other dataset
    corr_auc = loaders.rule_base(entry, "corrected").other_auc
    if sc.other is not None and raw_auc is not None and corr_auc is not None:
        simpler = float(np.median(sc.other.bits)) < float(np.median(sc.test.bits))
        below = float((sc.other.raw < np.median(sc.test.raw)).mean())
        if raw_auc < 0.5:
            st.info(
                f"**The known failure, measured here.** This {KIND_LABELS[kind]} gives {other_label} images a *lower* "
                f"{SCORE} than its own {own_label} test images ({below:.0%} of them score below the median test image): "
                f"with the raw score the AUC is **{raw_auc:.3f}**, worse than chance. Nalisnick et al. (2019) found the "
                f"same for likelihood models trained on Fashion-MNIST: simple images are easy to rebuild whatever "
                f"the model learnt. Subtracting each image's PNG length (Serrà et al. 2020) gives AUC **{corr_auc:.3f}**.",
                icon=":material/school:")
        elif simpler:
            st.info(
                f"**Near the known failure.** The {other_label} images are simpler than this model's own, and with the "
                f"raw score the AUC is only **{raw_auc:.3f}**, close to chance ({below:.0%} of them score below the "
                f"median test image): most {own_label} models here give them a *lower* score than their own test "
                f"images, the failure Nalisnick et al. (2019) found. Subtracting each image's PNG length (Serrà et al. "
                f"2020) gives AUC **{corr_auc:.3f}**.", icon=":material/school:")
        else:
            st.info(
                f"**Raw against corrected.** This {KIND_LABELS[kind]} finds {other_label} images harder to rebuild "
                f"than its own: the raw score's AUC is **{raw_auc:.3f}**. Subtracting the PNG length (Serrà et al. "
                f"2020), which helps a model of the more complex dataset, gives **{corr_auc:.3f}** here"
                + (": the other dataset is more complex, so the correction makes it look normal." if corr_auc < raw_auc
                   else ".") + f" Most {other_label} models show the failure it corrects: switch the sidebar's dataset.",
                icon=":material/school:")
    st.markdown(
        "**Why the default rule works both ways.** Garments are nearly always more complex than digits, so a digit "
        "is unusual to a Fashion-MNIST model in its PNG length even when its score looks normal, and a garment is "
        "unusual to an MNIST model in its score. The joint rule measures how far the pair (score, PNG length) falls "
        "from the training images' pairs, in their own spread and correlation, so either surprise counts, where "
        "subtracting the complexity helps only the first and makes a more complex image look normal.")


# The sections are made in this order, each into its place on the page: the user's image
# first (the panel marks it), then the threshold's panel, whose chart is the slowest element to
# draw, so that the browser draws it while the server makes the rest.
with own_box:
    own_value = own_image()
with panel_box:
    fragment(threshold_panel)(own_value, None if pick is None else (pick, float(test_stat[pick])))
with lesson_box:
    lesson()
with gallery_box:
    galleries()
with look_box:
    closer_look()

# ---- the bound against the likelihood (VAE) -------------------------------------------------------
if is_vae:
    st.subheader("The bound against the likelihood")
    st.markdown(f"The −ELBO is an upper bound on −log p(x). An importance-weighted estimate with K = {IWAE_K} "
                f"codes per image (Burda et al. 2016) comes closer to the likelihood itself; here on the first "
                f"{IWAE_N:,} test images of each dataset.")
    which = ["test"] + (["other"] if sc.other is not None else [])
    done = all(loaders.iwae_cached(entry, w, IWAE_K, IWAE_N) for w in which)
    if done or st.button(f"Estimate −log p(x) with K = {IWAE_K}", key="an_iwae", icon=":material/functions:"):
        bar = None if done else st.progress(0.0, text="Importance sampling…")
        rows = []
        for n_done, w in enumerate(which):
            def step(f: float, n_done=n_done, bar=bar) -> None:
                if bar is not None:
                    bar.progress((n_done + f) / len(which), text="Importance sampling…")

            est = loaders.iwae(entry, w, IWAE_K, IWAE_N, progress=step)
            bound = (sc.test.raw if w == "test" else sc.other.raw)[:IWAE_N]  # pyright: ignore[reportOptionalMemberAccess]
            rows.append({"images": f"{own_label if w == 'test' else other_label} test (first {IWAE_N:,})",
                         "mean −ELBO (nats)": float(bound.mean()), f"mean IWAE, K={IWAE_K} (nats)": float(est.mean()),
                         "gap (nats)": float((bound - est).mean())})
        if bar is not None:
            bar.empty()
        st.markdown(common.markdown_table([{k: v if k == "images" else f"{v:.2f}" for k, v in r.items()}
                                           for r in rows]))
        if len(rows) == 2:
            st.caption("If the gap were large, ranking images by the bound could differ from ranking them by the "
                       "likelihood; a gap of a few nats against scores hundreds of nats apart changes little.")


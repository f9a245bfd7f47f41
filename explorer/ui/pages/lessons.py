"""Lessons: the course documents' experiments in their order, one section each (issue 17, part 3).

Each section asks the seed's question, answers it with one live figure from the shipped models of
the kind the seed used, puts the seed's own number beside ours where both measure the same thing
(a sentence says so where they do not), and links to the page that explores it, its settings in
the link. Every figure here is computed from a checkpoint; the seeds' numbers come from
explorer.seeds, labelled as theirs.
"""

from urllib.parse import quote, urlencode

import numpy as np
import streamlit as st

from explorer import figures
from explorer.checkpoints import CatalogEntry
from explorer.images import enlarge
from explorer.seeds import DAE_NOISY_TRAIN_LOSS_000, run_for
from explorer.ui import common, lesson_data, loaders, picks
from explorer.vocab import DATASETS, KIND_LABELS, dataset_title, sidebar_choice

SEEDS_COMMAND = "python train.py --set seeds"

cat = loaders.catalog()
common.intro("Lessons", (
    "Six experiments from the course, in its order, each answered live by the models shipped with the app. "
    "Every section asks its question, shows one figure computed now from the checkpoints, puts the course "
    "document's own number beside ours where both measure the same thing, and ends with a link that opens "
    "the page to explore it, with the settings filled in. The course documents are called seeds 000 to 004."))


def find(dataset: str, kind: str, arch: str, z: int) -> CatalogEntry | None:
    return cat.find(dataset, kind, z, arch)


def settings(entry: CatalogEntry) -> dict[str, str]:
    """The sidebar's choice of ``entry`` as a link's query parameters."""
    m = entry.meta
    return sidebar_choice(m.dataset.name, m.kind, m.architecture, m.latent_dim)


def link(page: str, label: str, entry: CatalogEntry, **extra: str | list[str]) -> None:
    """A link that opens ``page`` in a new tab with ``entry`` chosen in the sidebar and ``extra``
    set: an address, not ``st.page_link``, because a page link keeps this session's sidebar choice
    over the link's (the Lessons page draws the same sidebar), and the lesson stays open behind it."""
    query = urlencode({**settings(entry), **extra}, doseq=True, quote_via=quote)
    st.markdown(f":material/arrow_forward: [{label}]({page.removesuffix('.py')}?{query})")


def missing(what: str) -> None:
    st.info(f"This lesson needs {what}, which this checkpoint folder lacks: train them with `{SEEDS_COMMAND}` "
            "(about 15 minutes on two CPU cores) or restore them with `git checkout checkpoints/`.")


def rows(named: list[tuple[str, np.ndarray]]) -> None:
    """Strips of images, one per (label, images), their labels in a narrow column beside them."""
    for label, images in named:
        left, right = st.columns([1, 5], vertical_alignment="center")
        left.markdown(label)
        with right:
            common.show_strip(images)


def one_of_each(entry: CatalogEntry) -> list[int]:
    _, labels = loaders.test_split(entry)
    return picks.one_of_each_class(labels, len(entry.meta.dataset.class_names), 0)


def last_train_loss(entry: CatalogEntry) -> float:
    m = entry.meta
    return float(m.history[(m.best_epoch or len(m.history)) - 1]["train_loss"])


def seed_figure(entry: CatalogEntry, spec: str) -> str:
    """The figure the seed reported for the network ``entry`` stands for, or a dash."""
    r = run_for(entry.id)
    return "–" if r is None or r.reported is None else format(r.reported, spec)


def section(title: str, question: str) -> None:
    st.header(title, divider="gray")
    st.markdown(f"**The question.** {question}")


# --------------------------------------------------------------------------- 1. PCA (001, 000)

def pca_lesson() -> None:
    section("1 · PCA and the linear autoencoder (seed 001, with seed 000's simple and deep AEs)",
            "An autoencoder with no activation function can only draw its images inside a flat subspace of the "
            "pixels, as PCA does; the lecture says it then *behaves like PCA*. Does it, and what do more layers add?")
    # Fashion-MNIST's, trained to the end (30 epochs); MNIST's 784-64-784 has seed 004's short recipe
    lin = find("fashion", "ae", "linear", 32)
    if lin is None:
        return missing("seed 000's simple AE 784-32-784 on Fashion-MNIST")
    k = lin.meta.latent_dim
    idx = one_of_each(lin)
    rows([("test images", loaders.test_images(lin, idx)),
          (f"**linear AE**, code of {k}", loaders.reconstructions(*loaders.key(lin), tuple(idx), _entry=lin)),
          (f"**PCA**, {k} components", loaders.pca_reconstructions(lin, k, idx))])
    pca_mse = next(mse for n, mse, _ in loaders.pca_curve(lin) if n == k)
    angles = lesson_data.angles_to_pca(lin)
    c1, c2, c3 = st.columns(3)
    c1.metric("linear AE, test MSE per pixel", f"{lin.meta.test_metrics.mse:.4f}")
    c2.metric(f"PCA with {k} components", f"{pca_mse:.4f}")
    if angles is not None:
        c3.metric("angle between their subspaces (median)", f"{angles[0]:.0f}°",
                  help=f"Principal angles between the span of the decoder's {k} weight vectors and PCA's {k} directions: "
                       f"median {angles[0]:.1f}°, largest {angles[1]:.1f}°. A random {k}-D subspace: median {angles[2]:.0f}°.")
        st.markdown(
            f"Its error is {lin.meta.test_metrics.mse / pca_mse:.2f}× PCA's, and its subspace leans {angles[0]:.0f}° from "
            f"PCA's where a random one would lean {angles[2]:.0f}°: close to PCA, not PCA itself. Ours is trained with the "
            "app's loss (cross-entropy through the output's sigmoid), not PCA's squared error, and that sigmoid is the one "
            "bend it has; the lecture gives no number to set beside these.")
    simple, deep = find("fashion", "ae", "linear", 32), find("fashion", "ae", "mlp-128-64", 32)
    if simple is not None and deep is not None:
        floor = lesson_data.entropy_per_pixel(simple)
        table = [{"model (Fashion-MNIST)": f"{e.meta.title}", "seed 000's final loss": seed_figure(e, ".3f"),
                  "ours, training": f"{last_train_loss(e) / 784:.3f}",
                  "ours, test": f"{e.meta.test_metrics.loss / 784:.3f}"} for e in (simple, deep)]
        st.markdown("**Seed 000's simple and deep AEs**: its Keras loss, the binary cross-entropy averaged over the "
                    "784 pixels, beside ours.")
        st.markdown(common.markdown_table(table))
        st.markdown(f"No decoder can score below the images' own entropy, {floor:.3f} per pixel on these test images: "
                    "the seed's figures are below it, so they cannot be this loss on Fashion-MNIST (its text "
                    "speaks of identifying *numbers*: most likely it ran on MNIST). "
                    + ("What carries over is the order: the deeper network does better at the same code size."
                       if deep.meta.test_metrics.loss < simple.meta.test_metrics.loss else
                       "Here the deeper network does not do better at the same code size."))
    link("compare.py", "Explore: every latent size beside PCA (Compare latent sizes)", find("mnist", "ae", "mlp", 2) or lin,
         cmp_pca="true")
    if simple is not None and deep is not None:
        link("compare_models.py", "Explore: the simple against the deep AE (Compare models)", simple,
             cm_models=[loaders.model_label(simple), loaders.model_label(deep)])


# --------------------------------------------------------------------------- 2. latent size (003)

def size_lesson() -> None:
    section("2 · How big should the code be? (seed 003)",
            "A code smaller than the image (undercomplete) must keep only what matters; how much does each extra "
            "latent number buy? Seed 003 trains five dense VAEs with latent sizes 2, 4, 8, 16 and 32 on MNIST.")
    same = [e for e in cat.good if e.meta.dataset.name == "mnist" and e.meta.architecture == "mlp"]
    vaes = sorted((e for e in same if e.meta.kind == "vae"), key=lambda e: e.meta.latent_dim)
    if len(vaes) < 2:
        return missing("the sweep's MNIST VAEs")
    points = [(e.meta.kind, e.meta.latent_dim, e.meta.test_metrics.loss) for e in same]
    st.plotly_chart(figures.loss_by_latent_size(points, "vae"), config={"displaylogo": False})
    lo, hi = vaes[0], vaes[-1]
    by8 = next((e for e in vaes if e.meta.latent_dim == 8), None)
    share = "" if by8 is None or lo.meta.test_metrics.loss == hi.meta.test_metrics.loss else (
        f", {(lo.meta.test_metrics.loss - by8.meta.test_metrics.loss) / (lo.meta.test_metrics.loss - hi.meta.test_metrics.loss):.0%}"
        " of the fall by size 8")
    st.markdown(
        f"These are seed 003's five networks (784-512-256 dense layers here; the seed's have one of 512): the VAE's "
        f"test loss falls from **{lo.meta.test_metrics.loss:.1f}** nats at latent size {lo.meta.latent_dim} to "
        f"**{hi.meta.test_metrics.loss:.1f}** at {hi.meta.latent_dim}{share}. Seed 003 shows the reconstructions "
        "improving but reports no number to set beside ours.")
    link("compare.py", "Explore: the sizes side by side (Compare latent sizes)", lo)


# --------------------------------------------------------------------------- 3. holes (004, 001, 000)

def holes_lesson() -> None:
    section("3 · Holes in the plain AE, a filled plane in the VAE (seeds 004, 001 and 000)",
            "Decode every point of a 2-D latent plane: does each one give a digit? Seed 004 finds holes in a plain "
            "AE's plane; seed 000 decodes its convolutional VAE's plane on a grid.")
    ae, vae, sweep_vae = find("mnist", "ae", "mlp-512", 2), find("mnist", "vae", "conv4", 2), find("mnist", "vae", "mlp", 2)
    if ae is None or vae is None:
        return missing("seed 004's dense AE 784-512-2-512 and seed 000's convolutional VAE on MNIST")
    n = 12
    shown = [(ae, "seed 004's dense AE 784-512-2-512"), (vae, f"seed 000's conv VAE, {vae.meta.epochs} epochs")]
    if sweep_vae is not None:
        shown.append((sweep_vae, f"the sweep's dense VAE, {sweep_vae.meta.epochs} epochs"))
    empty = {}
    for col, (e, what) in zip(st.columns(len(shown)), shown):
        picture, extent = lesson_data.plane_picture(e, n)
        empty[e.id] = lesson_data.empty_share(e, n)
        with col:
            st.markdown(f"**{KIND_LABELS[e.meta.kind]}**: {what}")
            st.image(enlarge(picture / 255.0, common.image_scale(2 if len(shown) == 2 else 1)), width="content",
                     caption=f"its plane decoded on {n} × {n} points from −{extent:.1f} to +{extent:.1f} on each axis")
            st.metric("points with no test code near", f"{empty[e.id]:.0%}",
                      help="The share of the grid's points with none of the 5,000 stored test images' codes within one "
                           "grid spacing: where the decoder was never shown an example.")
    vae_best = min(empty[e.id] for e, _ in shown[1:])
    st.markdown(
        f"The AE's plane has {empty[ae.id]:.0%} of its points far from every test code: smeared or garbled regions "
        "between and beyond the digits it learned, codes no training image was given. "
        + (f"The VAE's KL term packs the codes round the origin: as few as {vae_best:.0%} of its points are that far. "
           if vae_best < empty[ae.id] else "Here the VAEs' planes are no better filled. ")
        + (f"Seed 000's convolutional VAE, trained {vae.meta.epochs} epochs to fit the budget, fills its plane less "
           f"({empty[vae.id]:.0%}) than the sweep's, trained {sweep_vae.meta.epochs}."
           if sweep_vae is not None and empty[vae.id] > empty[sweep_vae.id] else ""))
    table = []
    for ds in DATASETS:
        e = find(ds, "vae", "conv4", 2)
        r = run_for(e.id) if e is not None else None
        if e is not None and r is not None:
            table.append({"seed 000's convolutional VAE": dataset_title(ds), "seed's training loss": f"{r.reported:g}"
                          f" ({r.reported_note})", "ours, training": f"{last_train_loss(e):.2f} after {e.meta.epochs} epochs",
                          "ours, test": f"{e.meta.test_metrics.loss:.2f}"})
    if table:
        st.markdown("Seed 000's loss is the Keras VAE example's, 784 × cross-entropy + KL, in nats per image: our "
                    "negative ELBO, on the training images.")
        st.markdown(common.markdown_table(table))
    link("latent_grid.py", "Explore: the AE's latent grid", ae)
    link("latent_grid.py", "Explore: the VAE's latent grid", vae)


# --------------------------------------------------------------------------- 4. denoising (000, 002)

def denoise_lesson() -> None:
    section("4 · Denoising (seeds 000 and 002)",
            "Train an autoencoder on corrupted images with the clean ones as targets: does it learn to remove the "
            "noise, and does a plain AE do it too?")
    z = 16
    ae, dae = find("mnist", "ae", "mlp", z), find("mnist", "dae", "mlp", z)
    if ae is None or dae is None:
        return missing(f"the sweep's MNIST AE and DAE of latent size {z}")
    idx = one_of_each(dae)
    rows([("test images", loaders.test_images(dae, idx)),
          (f"with Gaussian noise σ = {lesson_data.NOISE_SIGMA}", np.clip(lesson_data.noisy(dae, idx), 0, 1)),
          ("**AE** output", lesson_data.denoised(ae, idx)), ("**DAE** output", lesson_data.denoised(dae, idx))])
    noisy_db, ae_db = lesson_data.denoise_psnr(ae)
    _, dae_db = lesson_data.denoise_psnr(dae)
    c1, c2, c3 = st.columns(3)
    c1.metric("noisy input, PSNR", f"{noisy_db:.1f} dB")
    c2.metric("AE output", f"{ae_db:.1f} dB", f"{ae_db - noisy_db:+.1f} dB")
    c3.metric("DAE output", f"{dae_db:.1f} dB", f"{dae_db - noisy_db:+.1f} dB")
    st.caption(f"Mean PSNR against the clean image over the first {lesson_data.DENOISE_IMAGES} test images (higher is better).")
    small = find("mnist", "dae", "mlp", 2)
    at2 = ""
    if small is not None:
        small_noisy, small_db = lesson_data.denoise_psnr(small)
        at2 = (f" At latent size 2 the DAE gives {small_db:.1f} dB ({small_db - small_noisy:+.1f} dB over the noisy "
               f"input, against {dae_db - noisy_db:+.1f} dB at {z}): two numbers cannot hold a digit's detail, so it "
               "snaps every input to a blurred typical digit.")
    st.markdown(f"Seed 000 reports its denoising AE's *training loss on noisy inputs* ({DAE_NOISY_TRAIN_LOSS_000:g}), a "
                "different measure from this PSNR against the clean image, so the two are not set side by side." + at2)
    link("denoise.py", f"Explore: the Denoising playground at latent size {z}", dae, noise_kind="Gaussian",
         noise_sigma=str(lesson_data.NOISE_SIGMA))


# --------------------------------------------------------------------------- 5. convolution (004)

def conv_lesson() -> None:
    section("5 · Convolution against dense layers (seed 004)",
            "A convolutional encoder sees neighbouring pixels together; a dense one sees 784 separate numbers. "
            "With the same code size and the same training, which rebuilds digits better?")
    conv, dense = find("mnist", "ae", "conv", 64), find("mnist", "ae", "linear", 64)
    if conv is None or dense is None:
        return missing("seed 004's convolutional and linear AEs on MNIST")
    idx = one_of_each(conv)
    rows([("test images", loaders.test_images(conv, idx)),
          ("**convolutional AE**", loaders.reconstructions(*loaders.key(conv), tuple(idx), _entry=conv)),
          ("**linear AE** 784-64-784", loaders.reconstructions(*loaders.key(dense), tuple(idx), _entry=dense))])
    c1, c2 = st.columns(2)
    c1.metric("convolutional AE, test MSE per pixel", f"{conv.meta.test_metrics.mse:.4f}")
    c2.metric("linear AE 784-64-784, test MSE per pixel", f"{dense.meta.test_metrics.mse:.4f}")
    st.markdown(f"Both trained as seed 004's best run: {conv.meta.epochs} epochs, batch "
                f"{conv.meta.train_config.get('batch_size')}, Adam at {conv.meta.train_config.get('lr'):g}. Seed 004 "
                "reports this comparison as curves only (training and test MSE per epoch), so no number of its own "
                "stands beside these.")
    two_d = [e for e in (find("mnist", "ae", "conv", 2), find("mnist", "ae", "mlp-512", 2)) if e is not None]
    if len(two_d) == 2:
        png, _ = loaders.compare_maps(two_d, "tsne", common.class_names(two_d[0]))
        st.image(png, caption="Their 2-D versions' latent maps, as seed 004 compares them, on one scale.",
                 width="stretch" if common.presenting() else "content")
    link("compare_models.py", "Explore: the four side by side (Compare models)", conv,
         cm_models=[loaders.model_label(e) for e in (conv, dense, *two_d)])


# --------------------------------------------------------------------------- 6. generation (002)

def generation_lesson() -> None:
    section("6 · Generation and anomalies (seed 002)",
            "Decode codes drawn at random from the prior: do they look like the data? And can the reconstruction "
            "error tell an image unlike the training data from a familiar one?")
    vae = find("mnist", "vae", "mlp", 8)
    if vae is None:
        return missing("the sweep's MNIST VAE of latent size 8")
    st.image(loaders.prior_tiles(vae, 8, 8, 1.0, 0), caption=f"64 samples of the {vae.meta.title}: codes from N(0, I), "
             "decoded", width="content")
    st.markdown("Seed 002 decodes vectors drawn from a normal distribution and flags ECG beats whose reconstruction "
                "error passes a threshold; it reports neither as a number, so none stands here beside ours. The "
                "Anomalies page measures how well the error separates Fashion-MNIST from MNIST.")
    link("generate.py", "Explore: sampling from the prior (Generate)", vae)
    link("anomalies.py", "Explore: reconstruction error as an anomaly score (Anomalies)", vae)


for lesson in (pca_lesson, size_lesson, holes_lesson, denoise_lesson, conv_lesson, generation_lesson):
    lesson()

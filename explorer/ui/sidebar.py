"""The shared sidebar: dataset, kind and latent size among the checkpoints that exist, the
chosen model's facts, a link to its training curves, and any checkpoint that is broken."""

from __future__ import annotations

import streamlit as st

from explorer.checkpoints import CatalogEntry
from explorer.metadata import CheckpointMeta
from explorer.vocab import KIND_HELP, arch_label, dataset_title, kind_label

from . import ENV_CHECKPOINTS, checkpoint_folder_label
from .common import CHOSEN, PRESENT
from .loaders import Catalog


def repaired_choice(value, options: list, prefer=None):
    """What a kept choice becomes when it is no longer offered (another dataset was chosen):
    ``prefer`` if offered, else the nearest offered number, else the first option. A value
    still offered, or no options at all, is kept as it is."""
    if value in options or not options:
        return value
    if prefer in options:
        return prefer
    if isinstance(value, (int, float)) and all(isinstance(o, (int, float)) for o in options):
        return min(options, key=lambda o: (abs(o - value), o))
    return options[0]


def _keep_valid(key: str, options: list, prefer=None) -> None:
    """Before a choice is drawn: repair its kept value (``repaired_choice``)."""
    if key in st.session_state:
        value = st.session_state[key]
        repaired = repaired_choice(value, options, prefer)
        if repaired != value:  # an unchanged write would still count as set through the API (a warning)
            st.session_state[key] = repaired


def choose(cat: Catalog) -> CatalogEntry | None:
    """Draw the choice; returns the chosen checkpoint and remembers its id for the pages."""
    datasets = cat.datasets()
    if not datasets:
        return None
    _keep_valid("dataset", datasets)
    dataset = st.selectbox("Dataset", datasets, format_func=dataset_title,
                           key="dataset", bind="query-params")
    kinds = cat.kinds(dataset)
    _keep_valid("kind", kinds, prefer="vae")
    kind = st.selectbox("Model", kinds, index=kinds.index("vae") if "vae" in kinds else 0,
                        format_func=kind_label, key="kind", bind="query-params", help=KIND_HELP)
    archs = cat.archs(dataset, kind)
    if len(archs) > 1:
        _keep_valid("arch", archs, prefer="mlp")
        arch = st.selectbox("Architecture", archs, index=archs.index("mlp") if "mlp" in archs else 0,
                            format_func=arch_label, key="arch", bind="query-params",
                            help="The network between the pixels and the code. MLP 512-256 is the shipped sweep's; "
                                 "the others are the course documents' (seeds 000, 001 and 004).")
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


def facts(meta: CheckpointMeta) -> list[str]:
    """The chosen model's one-line facts: what it was trained on, how long, how well."""
    d = meta.dataset
    title = dataset_title(d.name)
    train_n, test_n = d.train_count, d.test_count
    held = meta.validation_count
    data = (f"Trained on {title}: {train_n:,} training images"
            + (f" ({held:,} of them held out to choose the epoch kept)" if held else "") + f", tested on {test_n:,}.")
    epochs, best = meta.epochs, meta.best_epoch
    run = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f", kept the best (epoch {best})" if best and best != epochs else "")
    t = meta.test_metrics
    loss = f"test loss **{t.loss:.1f}** nats per image"
    if meta.kind == "vae":
        loss += f" (reconstruction {t.recon:.1f} + KL {t.kl:.1f})"
    return [data, f"{run}; {loss}."]


def broken_list(cat: Catalog) -> None:
    if not cat.broken:
        return
    with st.expander(icon=":material/warning:", label=f"{len(cat.broken)} checkpoint(s) could not be used", expanded=not cat.good):
        for e in cat.broken:
            st.markdown(f"**{e.id}**: {e.problem}")
        st.caption("Every other checkpoint is served as usual. Retrain the broken ones with "
                   "`python train.py` (see its `--dataset`, `--kind` and `--latent-dims` options).")


def presentation_toggle() -> None:
    """The projector's view (``common.intro`` draws it): the sidebar folds away, and opens again
    with its arrow; the page's title has the way back."""
    on = st.toggle("Presentation mode", key=PRESENT, bind="query-params",
                   help="For a projector: the sidebar folded, intros to one line, pictures twice as large. "
                        "Also as a link: add ?present=true.")
    # Streamlit applies a changed initial_sidebar_state: folded when the mode starts, open when it ends.
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")


def render(cat: Catalog, curves_page=None) -> CatalogEntry | None:
    with st.sidebar:
        presentation_toggle()
        entry = choose(cat)
        if entry is not None:
            for line in facts(entry.meta):
                st.caption(line)
            if curves_page is not None:
                st.page_link(curves_page, label="Training curves", icon=":material/show_chart:")
        broken_list(cat)
        st.caption(f"Checkpoints: `{checkpoint_folder_label()}` (set `{ENV_CHECKPOINTS}` to use another folder).")
    return entry

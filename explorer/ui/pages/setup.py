"""Shown instead of the explorer when there is no usable checkpoint: what is wrong, how to fix it."""

import streamlit as st

from explorer.ui import ENV_CHECKPOINTS, loaders

catalog = loaders.catalog()
folder = catalog.folder

st.title("Latent Explorer needs trained models")
if not folder.is_dir():
    st.error(f"The checkpoint folder `{folder}` does not exist, so there is no model to explore.")
elif catalog.broken:
    st.error(f"None of the {len(catalog.broken)} checkpoint(s) in `{folder}` can be used. "
             "Each one's problem is listed below.")
else:
    st.error(f"The checkpoint folder `{folder}` holds no checkpoints yet.")

st.markdown(
    "**How to fix it.** Train the models from the project folder:\n\n"
    "```bash\npython train.py\n```\n\n"
    "That trains the whole shipped set (MNIST and Fashion-MNIST × AE, DAE, VAE × latent sizes 2–32) into "
    "`checkpoints/`. For a quick start, train a few small ones first, e.g.\n\n"
    "```bash\npython train.py --dataset mnist --latent-dims 2 8 --epochs 5\n```\n\n"
    f"Or point the app at a folder that holds checkpoints: `{ENV_CHECKPOINTS}=/path/to/checkpoints "
    "streamlit run app.py`. Reload this page when the checkpoints are there.")

if catalog.broken:
    st.subheader("Checkpoints that could not be used")
    for e in catalog.broken:
        st.markdown(f"- **{e.id}**: {e.problem}")

"""Training curves of the chosen model: loss per epoch, from its metadata."""

import streamlit as st

from explorer import figures
from explorer.ui import common

entry = common.chosen()
meta = entry.meta
common.intro(f"Training curves: {common.describe(entry)}", (
    "How the loss fell while this model trained, one point per epoch (nats per image: lower is better). "
    "Training loss far below test loss means the model memorises its training images; where a validation "
    "set was held out, the dotted line marks the epoch that was kept."))

history = list(meta.history)
if not history:
    st.info("This checkpoint records no training history.")
else:
    st.plotly_chart(figures.loss_curves(history, meta.best_epoch), config={"displaylogo": False})

t = meta.test_metrics
metrics = [("Test loss (nats)", f"{t.loss:.1f}"), ("Reconstruction (nats)", f"{t.recon:.1f}")]
if meta.kind == "vae":  # only a VAE's loss has a KL term; an AE's would read "KL 0.0"
    metrics.append(("KL (nats)", f"{t.kl:.1f}"))
metrics.append(("Test PSNR (dB)", f"{t.psnr:.1f}"))
for col, (label, value) in zip(st.columns(4), metrics):
    col.metric(label, value)
tc = meta.train_config
epochs = meta.epochs
mc = meta.model_config
flow = f"{mc.flow_steps} inverse autoregressive flow steps on the posterior, " if mc.flow_steps else ""
st.caption(f"{epochs} epoch{'s' if epochs != 1 else ''}, batch size {tc.get('batch_size')}, learning rate {tc.get('lr')}, "
           f"seed {tc.get('seed')}; {mc.activation} activations, {flow}"
           f"{meta.parameter_count or 0:,} parameters; trained in {meta.train_seconds or 0:.0f} s on "
           f"{meta.device or '?'} with {tc.get('precision', 'float32')} matrix products.")

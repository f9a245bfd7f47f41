"""The names users see, defined once: datasets, model kinds, architectures, activations and
latent sizes, with their labels and titles.

Torch-free and streamlit-free, so that the CLI's argparse choices, the checkpoint catalog,
the pages and the tools all import the same names. Adding a kind or an architecture starts
here, with one line in each tuple and its label.
"""

from __future__ import annotations

DATASETS = ("mnist", "fashion")
DATASET_TITLES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}

KINDS = ("ae", "dae", "vae")
KIND_LABELS = {"ae": "AE", "dae": "DAE", "vae": "VAE"}
KIND_COLORS = {"ae": "#1f77b4", "dae": "#2ca02c", "vae": "#d62728"}   # one colour per kind in every chart
KIND_TITLES = {"ae": "AE: autoencoder", "dae": "DAE: denoising autoencoder", "vae": "VAE: variational autoencoder"}
KIND_HELP = ("AE: plain autoencoder. DAE: denoising autoencoder, trained to rebuild clean images from corrupted "
             "ones. VAE: variational autoencoder, whose codes are pulled towards N(0, I) so that the whole latent "
             "space decodes to plausible images.")

ARCHS = ("mlp", "conv", "conv4")   # the bodies (explorer.models); an MLP's widths make its architecture's name
ARCH_LABELS = {"mlp": "MLP 512-256", "linear": "Linear 784-z-784", "conv": "Conv 32-64",
               "conv4": "Conv 32-64-64-64 (seed 000's VAE)"}

ACTIVATIONS = ("relu", "silu", "elu")

LATENT_DIMS = (2, 4, 8, 16, 32)   # the shipped sweep's latent sizes

NOISE_LABELS = {"gaussian": "Gaussian", "salt_and_pepper": "salt and pepper", "block": "block"}  # the playground's


def noise_label(noise: str, level: float) -> str:
    """('gaussian', 0.5) -> 'Gaussian σ = 0.5'; ('block', 12) -> 'block 12 px'."""
    name = NOISE_LABELS.get(noise, noise)
    return f"{name} σ = {level:g}" if noise == "gaussian" else f"{name} {level:g}" + (" px" if noise == "block" else "")


def dataset_title(name: str) -> str:
    """'fashion' -> 'Fashion-MNIST'; an unknown name is shown as it is."""
    return DATASET_TITLES.get(name, name)


def arch_label(name: str) -> str:
    """An architecture's name (``ModelConfig.architecture``) as the sidebar shows it:
    'mlp-128-64' -> 'MLP 128-64'; an unknown name is shown as it is."""
    if name in ARCH_LABELS:
        return ARCH_LABELS[name]
    if name.startswith("mlp-"):
        return "MLP " + name[len("mlp-"):]
    return name


def kind_label(kind: str) -> str:
    """'vae' -> 'VAE'; an unknown kind is shown as it is."""
    return KIND_LABELS.get(kind, kind)


def sidebar_choice(dataset: str, kind: str, architecture: str, latent_dim: int) -> dict[str, str]:
    """The URL parameters that make the sidebar choose this model: its widgets' keys with the labels
    they display (a link's, a benchmark's, a lesson's). The architecture is named even where the
    sidebar offers no choice of it; there it is ignored."""
    return {"dataset": dataset_title(dataset), "kind": kind_label(kind), "arch": arch_label(architecture),
            "z": str(latent_dim)}

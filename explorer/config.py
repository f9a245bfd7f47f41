"""What a model is, without torch: the app's first page and the checkpoint catalog read this
without paying for ``import torch``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .vocab import ACTIVATIONS, ARCHS, KINDS

# The shipped recipe's (epochs, batch size, learning rate) per dataset and kind; the rest of it,
# and why, in explorer.sweep.default_recipe. Here, torch-free, for train.py's --help.
RECIPES = {
    "fashion": {"vae": (40, 256, 3e-3), "ae": (6, 256, 2e-3), "dae": (8, 256, 2e-3)},
    "mnist": {"vae": (45, 256, 3e-3), "ae": (6, 256, 3e-3), "dae": (8, 256, 3e-3)},
}

def validation_size(n: int, fraction: float) -> int:
    """How many of ``n`` training images are held out for validation at ``fraction``: what
    ``training.split_validation`` holds out, and what the sidebar and the report say it did."""
    return int(round(n * fraction))


IMAGE_SHAPE = (1, 28, 28)
DEFAULT_HIDDEN = (512, 256)
_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
N_PIXELS = 784


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "vae"
    arch: str = "mlp"
    latent_dim: int = 2
    hidden: tuple[int, ...] = DEFAULT_HIDDEN  # mlp: hidden widths, encoder order (decoder mirrors); () = linear
    channels: tuple[int, ...] = (32, 64)  # conv, conv4: channels of the convolutions (see explorer.models)
    conv_dense: int = 256                 # conv, conv4: dense layer between convolutions and code
    activation: str = "relu"              # of every hidden layer: relu, silu or elu
    flow_steps: int = 0                   # vae: inverse autoregressive flow steps on the posterior
    # The network's name where one body comes in several shapes side by side (the seeds' MLPs,
    # explorer.seeds); "" names it by its body. A name, not the widths, so that a sweep run with
    # other widths (the tests', `train.py --hidden`) stays the "mlp" it replaces.
    name: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if any((not isinstance(h, int)) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden sizes must be positive integers, got {self.hidden!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if not isinstance(self.flow_steps, int) or self.flow_steps < 0:
            raise ValueError(f"flow_steps must be a non-negative integer, got {self.flow_steps!r}")
        if self.flow_steps and self.kind != "vae":
            raise ValueError(f"flow_steps applies to the vae only, not to {self.kind!r}")
        if not isinstance(self.name, str) or (self.name and not _NAME.fullmatch(self.name)):
            raise ValueError(f"name must be lower-case letters, digits and dashes, got {self.name!r}")
        if len(self.channels) != 2 or any((not isinstance(c, int)) or c < 1 for c in self.channels):
            raise ValueError(f"channels must be two positive integers, got {self.channels!r}")

    def to_dict(self) -> dict:
        """The JSON form (tuples as lists), so that a saved config compares equal to a fresh one."""
        d = {**asdict(self), "hidden": list(self.hidden), "channels": list(self.channels)}
        if not self.name:  # unnamed: written as before names existed, so older files read back equal
            del d["name"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        for k in ("hidden", "channels"):
            if k in d:
                if not isinstance(d[k], (list, tuple)):
                    raise ValueError(f"{k} must be a list of integers, got {d[k]!r}")
                d[k] = tuple(d[k])
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(sorted(unknown))}")
        return cls(**d)

    @property
    def architecture(self) -> str:
        """The catalog's name of the network (the sidebar's "Architecture", the checkpoint's folder):
        its ``name`` if it has one (the seeds' networks: "linear", "mlp-128-64" …), else its body's."""
        return self.name or self.arch

    @property
    def code_outputs(self) -> int:
        """Encoder output width: the code, or mu and logvar side by side for the VAE (then
        the flow's context, when it has one)."""
        if self.kind != "vae":
            return self.latent_dim
        return 2 * self.latent_dim + (self.flow_context if self.flow_steps else 0)

    @property
    def flow_context(self) -> int:
        """Width of the encoder's context vector that conditions every flow step."""
        return max(16, 2 * self.latent_dim)

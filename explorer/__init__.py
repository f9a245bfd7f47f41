"""Latent Explorer: train autoencoders on MNIST and Fashion-MNIST and explore their latent spaces.

Public API (used by the app, the tests and outside scripts):
  load_checkpoint(path)      -> Checkpoint (model in eval mode, metadata, codes on demand)
  list_checkpoints(folder)   -> [CatalogEntry | BrokenEntry], a broken entry carries its problem
  load_dataset(name, split)  -> Dataset (uint8 images (N, 28, 28), int64 labels)
"""

from importlib import import_module

# Attributes resolve on first use (PEP 562), so that ``import explorer`` does not import torch:
# the app's first page shows stored codes and maps and needs none.
_EXPORTS = {
    "BrokenEntry": "checkpoints", "CatalogEntry": "checkpoints", "Checkpoint": "checkpoints", "CheckpointError": "checkpoints",
    "list_checkpoints": "checkpoints", "load_checkpoint": "checkpoints",
    "DataError": "data", "Dataset": "data", "load_dataset": "data",
    "CheckpointMeta": "metadata", "ModelConfig": "config", "build_model": "models",
}
__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll] - names resolved lazily below


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

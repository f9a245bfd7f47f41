"""Latent Explorer: train autoencoders on MNIST and Fashion-MNIST and explore their latent spaces.

Public API (used by the app, the tests and outside scripts):
  load_checkpoint(path)      -> Checkpoint (model in eval mode, metadata, codes on demand)
  list_checkpoints(folder)   -> [CatalogEntry], broken entries carry their problem
  load_dataset(name, split)  -> Dataset (uint8 images (N, 28, 28), int64 labels)
"""

from .checkpoints import CatalogEntry, Checkpoint, CheckpointError, list_checkpoints, load_checkpoint
from .data import DataError, Dataset, load_dataset
from .models import ModelConfig, build_model

__all__ = [
    "CatalogEntry", "Checkpoint", "CheckpointError", "DataError", "Dataset", "ModelConfig",
    "build_model", "list_checkpoints", "load_checkpoint", "load_dataset",
]

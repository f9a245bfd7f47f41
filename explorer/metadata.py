"""Checkpoint metadata (``meta.json``) as a typed, frozen object, read, validated and written here.

``CheckpointMeta.from_json`` turns the JSON object into ``CheckpointMeta`` (with
``DatasetInfo`` and ``Metrics`` inside) or raises ``MetadataError`` naming the field;
``to_json`` gives the object back for writing. Everything else reads attributes, so a
misspelt field fails at the line that misspells it. Torch-free: the app's catalog reads
metadata without importing torch.

Fields that older checkpoints of format 1 may lack have defaults; unknown fields are ignored
when reading (a newer writer of the same format) and refused when writing (a misspelling).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .config import ModelConfig, validation_size
from .vocab import arch_label, dataset_title, kind_label

FORMAT_VERSION = 1


class MetadataError(ValueError):
    """The metadata lacks a field, or a field has the wrong type; the message names it."""


class NewerFormatError(MetadataError):
    """The metadata is of a format newer than this program reads: updating helps, retraining does not."""


def _check_types(d: dict, types: dict[str, type], prefix: str = "") -> None:
    """Each present key of ``types`` has its type (an int where a float is due is fine; a bool is no int)."""
    for k, t in types.items():
        if k not in d or d[k] is None:
            continue
        v = d[k]
        ok = isinstance(v, (int, float)) if t is float else isinstance(v, t)
        if not ok or (t in (int, float) and isinstance(v, bool)):
            raise MetadataError(f"field {prefix + k!r} should be {t.__name__}, found {type(v).__name__}")


def _require(d: dict, names, prefix: str = "") -> None:
    missing = [prefix + k for k in names if k not in d]
    if missing:
        raise MetadataError(f"lacks the field(s) {', '.join(missing)}")


def _refuse_unknown(d: dict, cls, prefix: str = "") -> None:
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise MetadataError(f"unknown field(s) {', '.join(prefix + k for k in unknown)}")


def check_document(d: dict, cls, newest: int, *, strict: bool) -> None:
    """The checks every metadata document of ours gets before its own: the fields ``cls.REQUIRED``
    present, those of ``cls.REQUIRED`` and ``cls.OPTIONAL`` of their types, (``strict``) no field
    ``cls`` does not have, and a ``format_version`` no newer than ``newest``."""
    _require(d, cls.REQUIRED)
    _check_types(d, cls.REQUIRED)
    _check_types(d, cls.OPTIONAL)
    if strict:
        _refuse_unknown(d, cls)
    if d["format_version"] > newest:
        raise NewerFormatError(f"format version {d['format_version']} is newer than this program reads "
                               f"({newest}); update Latent Explorer")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model was trained and tested on."""

    name: str
    source: str = ""
    full: bool = True                    # False: trained on a subset (older versions); no longer served
    train_count: int = 0
    test_count: int = 0
    class_names: tuple[str, ...] = ()

    TYPES = {"name": str, "source": str, "full": bool, "train_count": int, "test_count": int, "class_names": list}

    @classmethod
    def from_json(cls, d: dict, *, strict: bool = False) -> DatasetInfo:
        _require(d, ("name",), "dataset.")
        _check_types(d, cls.TYPES, "dataset.")
        if strict:
            _refuse_unknown(d, cls, "dataset.")
        names = d.get("class_names", [])
        if not all(isinstance(n, str) for n in names):
            raise MetadataError("field 'dataset.class_names' should be a list of strings")
        return cls(name=d["name"], source=d.get("source", ""), full=d.get("full", True),
                   train_count=d.get("train_count", 0), test_count=d.get("test_count", 0),
                   class_names=tuple(names))

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "class_names": list(self.class_names)}


@dataclass(frozen=True)
class Metrics:
    """Test metrics in nats per image (recon + kl = loss), mean squared error per pixel, PSNR in dB.

    A field an older checkpoint did not record reads as nan.
    """

    loss: float
    recon: float = math.nan
    kl: float = math.nan
    mse: float = math.nan
    psnr: float = math.nan

    @classmethod
    def from_json(cls, d: dict, where: str, *, strict: bool = False) -> Metrics:
        _require(d, ("loss",), where + ".")
        types = {f.name: float for f in dataclasses.fields(cls)}
        _check_types(d, types, where + ".")
        if strict:
            _refuse_unknown(d, cls, where + ".")
        return cls(**{k: float(d[k]) for k in types if d.get(k) is not None})

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if not math.isnan(v)}


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything that rebuilds and describes one checkpoint (one ``meta.json``)."""

    format_version: int
    id: str
    kind: str
    arch: str
    latent_dim: int
    model_config: ModelConfig
    dataset: DatasetInfo
    train_config: dict[str, Any]          # explorer.training.TrainConfig.to_dict() of the run
    history: tuple[dict[str, Any], ...]   # one dict per epoch: train_*, val_*, test_* metrics, lr, seconds
    test_metrics: Metrics                 # of the stored (rounded) weights
    weights_sha256: str
    codes_sha256: str
    weights_dtype: str
    seed: int | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    optimizer: dict[str, Any] = field(default_factory=dict)
    test_metrics_float32: Metrics | None = None   # before the weights were rounded for storage
    train_seconds: float | None = None
    projection_seconds: float | None = None
    device: str | None = None
    maps: tuple[str, ...] = ()
    created: str | None = None
    parameter_count: int | None = None
    versions: dict[str, str] = field(default_factory=dict)

    # field -> JSON type, checked before anything else is read (the required ones first)
    REQUIRED = {
        "format_version": int, "id": str, "kind": str, "arch": str, "latent_dim": int,
        "model_config": dict, "dataset": dict, "train_config": dict, "history": list,
        "test_metrics": dict, "weights_sha256": str, "codes_sha256": str, "weights_dtype": str,
    }
    OPTIONAL = {
        "seed": int, "epochs": int, "best_epoch": int, "optimizer": dict, "test_metrics_float32": dict,
        "train_seconds": float, "projection_seconds": float, "device": str, "maps": list, "created": str,
        "parameter_count": int, "versions": dict,
    }

    @classmethod
    def from_json(cls, d: dict, *, strict: bool = False) -> CheckpointMeta:
        """Validate a JSON object; ``strict`` (when writing) also refuses unknown fields.

        Raises ``MetadataError`` for a missing or mistyped field, a newer format, or a
        ``model_config`` that is invalid or disagrees with kind/arch/latent_dim.
        """
        check_document(d, cls, FORMAT_VERSION, strict=strict)
        try:
            cfg = ModelConfig.from_dict(d["model_config"])
        except (TypeError, ValueError) as e:
            raise MetadataError(f"bad model_config: {e}") from None
        if (cfg.kind, cfg.arch, cfg.latent_dim) != (d["kind"], d["arch"], d["latent_dim"]):
            raise MetadataError("kind/arch/latent_dim disagree with model_config")
        if not all(isinstance(h, dict) for h in d["history"]):
            raise MetadataError("field 'history' should be a list of objects, one per epoch")
        f32 = d.get("test_metrics_float32")
        optional = {k: d[k] for k in cls.OPTIONAL if d.get(k) is not None}
        optional.update(maps=tuple(d.get("maps", ())),
                        test_metrics_float32=Metrics.from_json(f32, "test_metrics_float32", strict=strict)
                        if f32 is not None else None)
        return cls(
            format_version=d["format_version"], id=d["id"], kind=d["kind"], arch=d["arch"],
            latent_dim=d["latent_dim"], model_config=cfg,
            dataset=DatasetInfo.from_json(d["dataset"], strict=strict),
            train_config=dict(d["train_config"]), history=tuple(d["history"]),
            test_metrics=Metrics.from_json(d["test_metrics"], "test_metrics", strict=strict),
            weights_sha256=d["weights_sha256"], codes_sha256=d["codes_sha256"], weights_dtype=d["weights_dtype"],
            **optional)

    def to_json(self) -> dict:
        """The JSON object ``from_json`` reads back to an equal ``CheckpointMeta`` (None fields left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            if isinstance(v, (ModelConfig,)):
                v = v.to_dict()
            elif isinstance(v, (DatasetInfo, Metrics)):
                v = v.to_json()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @property
    def validation_count(self) -> int:
        """Training images held out to choose the epoch kept (0: the last epoch was kept)."""
        return validation_size(self.dataset.train_count, float(self.train_config.get("val_fraction") or 0))

    @property
    def architecture(self) -> str:
        """The network's name in the catalog (``ModelConfig.architecture``): 'mlp', 'linear', 'conv4' …"""
        return self.model_config.architecture

    @property
    def title(self) -> str:
        """'MNIST VAE, latent size 2': how the app names this model; another network than the
        sweep's MLP is named too: 'MNIST AE (Linear 784-z-784), latent size 64'."""
        net = "" if self.architecture == "mlp" else f" ({arch_label(self.architecture)})"
        return f"{dataset_title(self.dataset.name)} {kind_label(self.kind)}{net}, latent size {self.latent_dim}"

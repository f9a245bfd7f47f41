"""Checkpoints: safetensors weights, JSON metadata, and the precomputed latent codes and maps.

One folder per model, named ``<dataset>-<kind>-<architecture>-z<latent_dim>`` (the architecture
as ``ModelConfig.architecture`` names it: mlp, linear, mlp-128-64, conv, conv4 …):
  weights.safetensors  the model's tensors (nothing is ever unpickled)
  meta.json            everything that rebuilds and describes the model (see ``save_checkpoint``)
  codes.safetensors    latent codes (VAE: posterior means, through its flow if it has one) of a
                       fixed sample of test images, their labels and indices, and their 2-D
                       maps (raw / PCA / t-SNE)
Loading verifies the SHA-256 of both tensor files against the metadata and that the config
matches the tensors' shapes; anything wrong raises ``CheckpointError`` with a message that
says what is wrong and what to do.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy

from .io import sha256_file, write_json
from .metadata import FORMAT_VERSION, CheckpointMeta, MetadataError, NewerFormatError

if TYPE_CHECKING:  # torch is imported where weights are touched: listing and codes need none
    import torch

    from .models import Autoencoder

WEIGHTS = "weights.safetensors"
META = "meta.json"
CODES = "codes.safetensors"
FILES = (WEIGHTS, META, CODES)
WEIGHT_DTYPES = ("float32", "float16", "int8")
DEFAULT_DTYPE = "int8"
SCALE_SUFFIX = ".__scale"
CLASSIFIERS = "classifiers"   # explorer.classifier's folder beside the checkpoints, not a checkpoint
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")
RETRAIN_HINT = "retrain it with `python train.py` (see the README) or restore it with `git checkout checkpoints/`"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged or inconsistent. The message says what and how to fix."""


def checkpoint_id(dataset: str, kind: str, architecture: str, latent_dim: int) -> str:
    return f"{dataset}-{kind}-{architecture}-z{latent_dim}"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode, float32) and its metadata."""

    path: Path
    model: Autoencoder
    meta: CheckpointMeta
    _codes: dict | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.meta.id

    def codes(self) -> dict[str, np.ndarray]:
        """The precomputed codes and maps (loaded, and verified, on first use)."""
        if self._codes is None:
            self._codes = load_codes(self.path, self.meta)
        return self._codes


@dataclass(frozen=True)
class CatalogEntry:
    """A checkpoint found in a folder whose metadata and tensor files check out."""

    id: str
    path: Path
    meta: CheckpointMeta
    problem: None = None
    ok: ClassVar[bool] = True


@dataclass(frozen=True)
class BrokenEntry:
    """An item found in a checkpoint folder that cannot be used; ``problem`` says why and what to do."""

    id: str
    path: Path
    problem: str
    meta: None = None
    ok: ClassVar[bool] = False


# --------------------------------------------------------------------------- saving

def save_checkpoint(folder: Path, model: Autoencoder, meta: dict, codes: dict[str, np.ndarray],
                    *, dtype: str = DEFAULT_DTYPE) -> CheckpointMeta:
    """Write a checkpoint folder atomically (built beside it, then swapped in); returns its metadata.

    ``meta`` holds the run's fields of ``CheckpointMeta`` (id, dataset, train_config, history,
    test_metrics, …); the format version, config, parameter count, library versions and the
    SHA-256 of both tensor files are added here. A field ``CheckpointMeta`` does not know, or
    of the wrong type, raises ``MetadataError`` before anything is swapped in.
    """
    from safetensors.torch import save_file as save_torch

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".new", dir=folder.parent))
    os.chmod(staging, 0o755)
    try:
        tensors = encode_weights(model.state_dict(), dtype)
        save_torch(tensors, str(staging / WEIGHTS))
        save_numpy({k: np.ascontiguousarray(v) for k, v in codes.items()}, str(staging / CODES))
        full_meta = CheckpointMeta.from_json({
            **meta,
            "format_version": FORMAT_VERSION,
            "kind": model.cfg.kind, "arch": model.cfg.arch, "latent_dim": model.cfg.latent_dim,
            "model_config": model.cfg.to_dict(),
            "parameter_count": sum(p.numel() for p in model.parameters()),
            "weights_dtype": dtype,
            "weights_sha256": sha256_file(staging / WEIGHTS),
            "codes_sha256": sha256_file(staging / CODES),
            "versions": library_versions(),
        }, strict=True)
        write_json(staging / META, full_meta.to_json())
        _swap_in(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return full_meta


def _swap_in(staging: Path, folder: Path) -> None:
    """Replace ``folder`` by ``staging``; the old folder is removed only once the new one is in.

    A crash between the two renames leaves the complete new folder as ``.<name>.*.new`` and
    the old one as ``.<name>.old-<pid>``; ``recover_interrupted`` puts one of them back.
    """
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, old)
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_interrupted(parent: Path) -> list[str]:
    """Undo what a write killed between its two renames left behind in ``parent``.

    Where ``<name>`` is missing, the newest complete staged copy (all files present and its
    metadata's checksums matching) or else the old copy is moved back; leftovers of finished
    or abandoned writes are removed. Returns what was done, for the log.
    """
    parent = Path(parent)
    done = []
    if not parent.is_dir():
        return done
    leftovers = sorted((p for p in parent.iterdir() if p.is_dir() and p.name.startswith(".")
                        and (p.name.endswith(".new") or ".old-" in p.name)),
                       key=lambda p: p.stat().st_mtime, reverse=True)
    for p in leftovers:
        name = p.name[1:].split(".")[0] if p.name.endswith(".new") else p.name[1:].rsplit(".old-", 1)[0]
        target = parent / name
        if not target.exists() and _complete(p):
            os.replace(p, target)
            done.append(f"restored {name} from an interrupted write")
        else:
            shutil.rmtree(p, ignore_errors=True)
    return done


def _complete(folder: Path) -> bool:
    try:
        meta = read_meta(folder)
        _check_tensor_file(folder, WEIGHTS, meta.weights_sha256)
        _check_tensor_file(folder, CODES, meta.codes_sha256)
        return True
    except CheckpointError:
        return False


def library_versions() -> dict:
    import numpy
    import safetensors
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "safetensors": safetensors.__version__}


def encode_weights(state: dict[str, torch.Tensor], dtype: str = DEFAULT_DTYPE) -> dict[str, torch.Tensor]:
    """A state dict as stored: float32, float16, or int8 with one float32 scale per output row.

    int8 (symmetric, per row: w ≈ q * scale) applies to matrices and kernels; biases stay
    float32. It keeps the shipped checkpoints within the repository's budget (60 MB); the
    metrics in each checkpoint's metadata are computed from the stored weights.
    """
    import torch

    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"unknown weights dtype {dtype!r}; choose one of {', '.join(WEIGHT_DTYPES)}")
    out = {}
    for k, v in state.items():
        v = v.detach().to("cpu").contiguous()
        if not v.is_floating_point():
            out[k] = v
        elif dtype == "int8" and v.ndim >= 2:
            rows = v.reshape(v.shape[0], -1).float()
            scale = rows.abs().amax(1).clamp_min(1e-12) / 127.0          # (out,)
            out[k] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(v.shape)
            out[k + SCALE_SUFFIX] = scale
        elif dtype == "float16":
            out[k] = v.half()
        else:
            out[k] = v.float()
    return out


def decode_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of ``encode_weights``: float32 tensors keyed like the model's state dict."""
    import torch

    out = {}
    for k, v in tensors.items():
        if k.endswith(SCALE_SUFFIX):
            continue
        if v.dtype == torch.int8 and k + SCALE_SUFFIX in tensors:
            scale = tensors[k + SCALE_SUFFIX].float()
            shape = (-1,) + (1,) * (v.ndim - 1)
            out[k] = v.float() * scale.reshape(shape)
        else:
            out[k] = v.float() if v.is_floating_point() else v
    return out


def rounded_like_saved(model: Autoencoder, dtype: str = DEFAULT_DTYPE) -> None:
    """Replace the weights in place by what ``save_checkpoint`` stores, so metrics computed
    afterwards are exactly those of the saved checkpoint."""
    model.load_state_dict(decode_weights(encode_weights(model.state_dict(), dtype)))


# --------------------------------------------------------------------------- loading

def read_meta(path: Path) -> CheckpointMeta:
    """Read and check ``meta.json`` of the checkpoint folder ``path``."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder")
    if not path.is_dir():
        raise CheckpointError(f"{path}: is a file, not a checkpoint folder")
    meta_path = path / META
    if not meta_path.is_file():
        raise CheckpointError(f"{path.name}: {META} is missing (weights without metadata); {RETRAIN_HINT}")
    try:
        raw = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path.name}: {META} is not valid JSON ({e}); {RETRAIN_HINT}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path.name}: {META} must hold a JSON object, found {type(raw).__name__}")
    try:
        return CheckpointMeta.from_json(raw)
    except MetadataError as e:
        hint = "" if isinstance(e, NewerFormatError) else f"; {RETRAIN_HINT}"
        raise CheckpointError(f"{path.name}: {META} {e}{hint}") from None


def _check_tensor_file(path: Path, name: str, expected_sha: str) -> Path:
    f = path / name
    if not f.is_file():
        raise CheckpointError(f"{path.name}: {name} is missing (metadata without weights); {RETRAIN_HINT}")
    got = sha256_file(f)
    if got != expected_sha:
        raise CheckpointError(f"{path.name}: {name} is damaged or was changed: its SHA-256 is {got[:12]}…, "
                              f"the metadata expects {expected_sha[:12]}…; {RETRAIN_HINT}")
    return f


def load_checkpoint(path: str | Path, *, device: str = "cpu") -> Checkpoint:
    """Load a checkpoint folder: a model in eval mode (float32) and its metadata.

    Never unpickles. Raises ``CheckpointError`` when the folder, metadata or weights are
    missing, damaged, from a newer format, or do not match each other.
    """
    from safetensors.torch import load_file as load_torch

    from .models import build_model

    path = Path(path)
    meta = read_meta(path)
    wfile = _check_tensor_file(path, WEIGHTS, meta.weights_sha256)
    try:
        tensors = load_torch(str(wfile))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path.name}: {WEIGHTS} cannot be read ({e}); {RETRAIN_HINT}") from None
    model = build_model(meta.model_config)
    expected = model.state_dict()
    tensors = decode_weights(tensors)
    problems = [f"missing {k}" for k in expected if k not in tensors]
    problems += [f"unexpected {k}" for k in tensors if k not in expected]
    problems += [f"{k}: config gives {tuple(v.shape)}, file has {tuple(tensors[k].shape)}"
                 for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    if problems:
        raise CheckpointError(f"{path.name}: the config does not match the tensors ({'; '.join(problems[:4])}"
                              f"{'; …' if len(problems) > 4 else ''}); {RETRAIN_HINT}")
    model.load_state_dict(tensors)
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Checkpoint(path=path, model=model, meta=meta)


def load_codes(path: str | Path, meta: CheckpointMeta | None = None) -> dict[str, np.ndarray]:
    """The codes file of a checkpoint, verified against the metadata's SHA-256; float arrays as float32."""
    path = Path(path)
    meta = meta or read_meta(path)
    f = _check_tensor_file(path, CODES, meta.codes_sha256)
    try:
        arrays = load_numpy(str(f))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path.name}: {CODES} cannot be read ({e}); {RETRAIN_HINT}") from None
    # float16 on disk, float32 in use (plotting and numpy maths expect it)
    return {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in arrays.items()}


def list_checkpoints(folder: str | Path = "checkpoints") -> list[CatalogEntry | BrokenEntry]:
    """What ``folder`` holds: every checkpoint, good or broken, sorted by id.

    Never raises for a broken entry: its ``problem`` says what is wrong. A missing folder
    gives one entry whose problem says so; stray pickled files (``.pt`` …) are listed as
    refused, never opened.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [BrokenEntry(id=folder.name or str(folder), path=folder,
                            problem=f"{folder}: no such folder; train models with `python train.py`")]
    entries: list[CatalogEntry | BrokenEntry] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.name == CLASSIFIERS:
            continue  # staging folders of a write in progress; the reading classifiers (explorer.classifier)
        if child.is_file():
            if child.suffix.lower() in PICKLE_SUFFIXES:
                entries.append(BrokenEntry(child.stem, child, problem=(
                    f"{child.name}: a pickled PyTorch file; it is never loaded, because unpickling can run "
                    "arbitrary code. Convert it to a checkpoint folder (safetensors + meta.json) or remove it")))
            continue
        try:
            meta = read_meta(child)
            _check_tensor_file(child, WEIGHTS, meta.weights_sha256)
            _check_tensor_file(child, CODES, meta.codes_sha256)
            if not meta.dataset.full:
                raise CheckpointError(
                    f"{child.name} was trained on a subset of {meta.dataset.name} ({meta.dataset.source or 'unknown'}), "
                    "whose test images this version no longer has; retrain it on the full set with "
                    f"`python train.py --dataset {meta.dataset.name} --kind {meta.kind} --latent-dims {meta.latent_dim}`")
            entries.append(CatalogEntry(meta.id, child, meta=meta))
        except CheckpointError as e:
            entries.append(BrokenEntry(child.name, child, problem=str(e)))
    return entries


def usable_checkpoints(folder: str | Path = "checkpoints") -> list[CatalogEntry]:
    """The good entries of ``list_checkpoints``, sorted by id."""
    return [e for e in list_checkpoints(folder) if isinstance(e, CatalogEntry)]


def main(argv: list[str] | None = None) -> int:
    """``python -m explorer.verify [FOLDER ...]``: check every checkpoint, say what is wrong.

    Exits 0 when every entry loads, 1 when any is broken, 2 when a folder does not exist.
    """
    import argparse

    p = argparse.ArgumentParser(prog="python -m explorer.verify", description=main.__doc__)
    p.add_argument("folders", nargs="*", type=Path, default=[Path("checkpoints")],
                   help="checkpoint folders to check (default: checkpoints)")
    args = p.parse_args(argv)
    status = 0
    for folder in args.folders:
        if not folder.is_dir():
            print(f"{folder}: no such folder; train models with `python train.py`")
            status = max(status, 2)
            continue
        entries = list_checkpoints(folder)
        if not entries:
            print(f"{folder}: empty; train models with `python train.py --out {folder}`")
            status = max(status, 1)
        for e in entries:
            if isinstance(e, CatalogEntry):
                try:  # list_checkpoints checked metadata and checksums; loading also checks the shapes
                    load_checkpoint(e.path)
                except CheckpointError as err:
                    e = BrokenEntry(e.id, e.path, problem=str(err))
            if isinstance(e, CatalogEntry):
                print(f"ok      {e.id}: test loss {e.meta.test_metrics.loss:.2f} nats")
            else:
                print(f"BROKEN  {e.problem}")
                status = max(status, 1)
    return status


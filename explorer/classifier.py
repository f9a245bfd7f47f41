"""The reading classifier: a small CNN per dataset that says which class a decoded image looks like.

The app uses it as a second pair of eyes on what a decoder draws (LAPEX, EICS 2026, colours a
decoded lattice the same way): the class it reads in each grid tile, each prior sample, each
step of an interpolation, and its confidence. It is trained on the training pixels only, by
``python train.py --classifiers``, and stored beside the autoencoders in
``<checkpoints>/classifiers/<dataset>/``:
  weights.safetensors  float16 tensors (nothing is ever unpickled)
  meta.json            the architecture's width, the training settings, the test accuracy of the
                       stored weights, and the weights' SHA-256, checked on every load
Loading raises ``CheckpointError`` with a message that says what is wrong and what to do.

Torch is imported where weights are touched, so the catalog and the pages' first run need none.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .checkpoints import CLASSIFIERS, CheckpointError, _swap_in, decode_weights, encode_weights, library_versions
from .io import sha256_file, write_json
from .metadata import MetadataError, check_document

if TYPE_CHECKING:
    from torch import nn

    from .data import Dataset

FOLDER = CLASSIFIERS             # inside the checkpoints folder; the catalog skips it
WEIGHTS = "weights.safetensors"
META = "meta.json"
FORMAT_VERSION = 1
WEIGHTS_DTYPE = "float16"         # 0.8 MB a dataset; the accuracy in meta.json is the stored weights'
CONFIDENT = 0.9                   # "read with confidence": the top class's probability at least this
RETRAIN = "retrain it with `python train.py --classifiers --dataset {name}` or restore it with `git checkout checkpoints/`"


@dataclass(frozen=True)
class Recipe:
    """How the shipped classifier of a dataset is trained (``python train.py --classifiers``)."""

    epochs: int
    shift: int = 0           # random shifts of up to this many pixels: MNIST's digits sit less exactly centred
    width: int = 16          # channels of the first convolution; the second has twice as many
    batch_size: int = 128
    lr: float = 3e-3         # the one-cycle schedule's peak (AdamW)
    weight_decay: float = 1e-4
    seed: int = 0


# Width 16, not 32: a quarter of the second convolution's work, so a 30 × 30 grid reads in 61 ms
# instead of 145 ms on 2 cores (issue 16's toggle budget is 300 ms in the browser), for 99.15 %
# instead of 99.19 % on MNIST and 92.0 % instead of 92.2 % on Fashion-MNIST, with 1 and 2 more epochs.
RECIPES = {"mnist": Recipe(epochs=4, shift=2), "fashion": Recipe(epochs=8)}


@dataclass(frozen=True)
class ClassifierMeta:
    """One classifier's ``meta.json`` as a typed, frozen object."""

    format_version: int
    dataset: str
    class_names: tuple[str, ...]
    width: int
    weights_sha256: str
    weights_dtype: str
    test_accuracy: float          # of the stored weights on the whole official test split
    test_count: int
    train_count: int
    recipe: dict[str, Any]
    source: str = ""
    precision: str = "float32"
    seconds: float | None = None
    history: tuple[dict[str, Any], ...] = ()
    parameter_count: int | None = None
    created: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    REQUIRED = {"format_version": int, "dataset": str, "class_names": list, "width": int, "weights_sha256": str,
                "weights_dtype": str, "test_accuracy": float, "test_count": int, "train_count": int, "recipe": dict}
    OPTIONAL = {"source": str, "precision": str, "seconds": float, "history": list, "parameter_count": int,
                "created": str, "versions": dict}

    @classmethod
    def from_json(cls, d: dict, *, strict: bool = False) -> ClassifierMeta:
        check_document(d, cls, FORMAT_VERSION, strict=strict)
        names = d["class_names"]
        if len(names) < 2 or not all(isinstance(n, str) for n in names):
            raise MetadataError("field 'class_names' should be a list of two or more strings")
        if d["width"] < 1:
            raise MetadataError("field 'width' should be at least 1")
        optional = {k: d[k] for k in cls.OPTIONAL if d.get(k) is not None}
        optional["history"] = tuple(d.get("history") or ())
        return cls(format_version=d["format_version"], dataset=d["dataset"], class_names=tuple(names),
                   width=d["width"], weights_sha256=d["weights_sha256"], weights_dtype=d["weights_dtype"],
                   test_accuracy=float(d["test_accuracy"]), test_count=d["test_count"], train_count=d["train_count"],
                   recipe=dict(d["recipe"]), **optional)

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}
        out["class_names"] = list(self.class_names)
        out["history"] = list(self.history)
        return out


def build_net(width: int = 16, n_classes: int = 10) -> nn.Module:
    """Two conv blocks and a small dense head: (N, 1, 28, 28) in [0, 1] -> logits (N, n_classes)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),              # (N, w, 14, 14)
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),  # (N, 2w, 7, 7)
        nn.Flatten(), nn.Dropout(0.3),
        nn.Linear(2 * width * 49, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, n_classes),
    )


@dataclass
class Classifier:
    """A loaded classifier (eval mode, float32, never changed: the app shares it between sessions)."""

    path: Path
    net: nn.Module  # as trained and measured (``accuracy``)
    meta: ClassifierMeta
    reading_net: nn.Module  # the same function, rearranged to run faster (``for_reading``)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.meta.class_names

    def probabilities(self, images: np.ndarray, batch_size: int = 128,
                      pause: Callable[[], None] | None = None) -> np.ndarray:
        """Images (n, 28, 28) or (28, 28) in [0, 1] -> class probabilities (n, n_classes), float32.
        ``pause`` is called between batches (a background reading lets a page's run go first)."""
        return probabilities(self.reading_net, images, batch_size, pause)


def for_reading(net: nn.Module) -> nn.Module:
    """``build_net``'s network in eval mode, rearranged for inference with the same outputs:
    each BatchNorm folded into the convolution before it, each max-pool moved ahead of its ReLU
    (ReLU is monotonic, so max and ReLU commute: a quarter of the elements to rectify), dropout
    left out. A 30 × 30 grid's 900 tiles read in 61 ms instead of 156 ms on 2 cores at width 16
    (145 against 187 ms at width 32; ``python -m tools.bench --only decode``; docs/BENCHMARKS.md)."""
    import torch
    from torch import nn

    layers = list(net)  # pyright: ignore[reportArgumentType] - build_net's Sequential

    def folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
        assert bn.running_var is not None and bn.running_mean is not None and conv.bias is not None
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,  # pyright: ignore[reportArgumentType]
                        padding=conv.padding)  # pyright: ignore[reportArgumentType]
        with torch.no_grad():
            out.weight.copy_(conv.weight * scale[:, None, None, None])
            out.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)  # pyright: ignore[reportOptionalMemberAccess] - built with a bias
        return out

    conv1, bn1, _, pool1, conv2, bn2, _, pool2, _, _, fc1, _, _, fc2 = layers
    fast = nn.Sequential(folded(conv1, bn1), pool1, nn.ReLU(), folded(conv2, bn2), pool2, nn.ReLU(),  # pyright: ignore[reportArgumentType]
                         nn.Flatten(), fc1, nn.ReLU(), fc2).eval()
    fast.to(memory_format=torch.channels_last)  # pyright: ignore[reportCallIssue] - accepted at run time, not in the stubs
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast


# Batches of 128 in channels-last layout: at width 16 a 30 × 30 grid reads in 61 ms so, 54 ms as one
# batch of 900 (medians, 2 cores), and the gaps between batches let a page's run go before a
# background reading (``pause``). At width 32 the batches were the faster too (140 against 175 ms).
def probabilities(net: nn.Module, images: np.ndarray, batch_size: int = 128,
                  pause: Callable[[], None] | None = None) -> np.ndarray:
    import torch

    x = torch.as_tensor(np.array(images, dtype=np.float32, copy=True)).reshape(-1, 1, 28, 28)
    out = []
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch_size):
            if pause is not None and i:
                pause()
            out.append(torch.softmax(net(x[i: i + batch_size].contiguous(memory_format=torch.channels_last)), dim=1))
    return torch.cat(out).numpy() if out else np.zeros((0, 10), np.float32)


@dataclass(frozen=True)
class Reading:
    """What the classifier reads in each of n images."""

    classes: np.ndarray      # (n,) int, the most probable class
    confidence: np.ndarray   # (n,) its probability
    entropy: np.ndarray      # (n,) of the prediction, in bits (0: certain; log2(10) ≈ 3.3: no idea)

    @classmethod
    def of(cls, probs: np.ndarray) -> Reading:
        p = np.asarray(probs, dtype=np.float64)
        ent = -(p * np.log2(np.clip(p, 1e-12, 1.0))).sum(axis=1)
        return cls(p.argmax(axis=1), p.max(axis=1), ent)

    def words(self, k: int, names) -> str:
        """'reads it as 7 (93 %)' for image k."""
        return f"reads it as {names[int(self.classes[k])]} ({self.confidence[k] * 100:.0f} %)"


def strip_words(reading: Reading, names, ts) -> str:
    """The readings along an interpolation strip, in words: '2 (99 %) · 2 (97 %) · 7 (88 %); it reads
    7 from t = 0.50 on' (``ts``: each step's t, from A at 0 to B at 1)."""
    cls = [int(c) for c in reading.classes]
    line = " · ".join(f"{names[c]} ({p * 100:.0f} %)" for c, p in zip(cls, reading.confidence))
    turns = [k for k in range(1, len(cls)) if cls[k] != cls[k - 1]]
    if not turns:
        return f"{line}; the same class all the way."
    said = [f"{names[cls[k]]} from t = {ts[k]:.2f}" for k in turns]
    return f"{line}; it reads " + ", then ".join(said) + "."


def class_histogram(classes: np.ndarray, n_classes: int) -> np.ndarray:
    """The share of images read as each class, (n_classes,) summing to 1 (all zeros for none)."""
    counts = np.bincount(np.asarray(classes, dtype=np.int64), minlength=n_classes)[:n_classes].astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def distance_from_uniform(shares: np.ndarray) -> float:
    """Total variation distance between a class histogram and the uniform one: 0 when every class is
    read equally often, 1 − 1/k when all are read as one class. (Half the L1 distance.)"""
    s = np.asarray(shares, dtype=np.float64)
    return float(0.5 * np.abs(s - 1.0 / len(s)).sum())


# --------------------------------------------------------------------------- training

def train(train_set: Dataset, test_set: Dataset, recipe: Recipe, *, precision: str = "float32",
          log: Callable[[str], None] = print) -> tuple[nn.Module, dict]:
    """Train a classifier on ``train_set``; returns the net (eval mode, weights as they will be stored)
    and the fields of its metadata. One-cycle AdamW, cross-entropy; ``precision`` bfloat16 runs the
    convolutions under autocast where the CPU has native bfloat16 (``training.fast_precision``)."""
    import torch
    import torch.nn.functional as F

    from .training import flushing_denormals, random_shift, to_floats

    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    net = build_net(recipe.width, len(train_set.class_names))
    net.to(memory_format=torch.channels_last)  # pyright: ignore[reportCallIssue] - nn.Module.to takes it; convolutions run faster
    x_all, y_all = train_set.images, train_set.labels
    steps_per_epoch = math.ceil(len(y_all) / recipe.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch,
                                                pct_start=0.2)
    history = []
    t0 = time.perf_counter()

    @flushing_denormals
    def run_epochs():
        for epoch in range(1, recipe.epochs + 1):
            net.train()
            perm = torch.randperm(len(y_all), generator=gen)
            total, seen = 0.0, 0
            for i in range(0, len(y_all), recipe.batch_size):
                idx = perm[i: i + recipe.batch_size]
                x = to_floats(x_all[idx])
                if recipe.shift:
                    x = random_shift(x, recipe.shift, gen)
                x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                    loss = F.cross_entropy(net(x), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
                seen += len(idx)
            net.eval()
            acc = accuracy(net, test_set)
            history.append({"epoch": epoch, "train_loss": total / seen, "test_accuracy": acc,
                            "seconds": time.perf_counter() - t0})
            log(f"classifier {train_set.name}: epoch {epoch}/{recipe.epochs}, train loss {total / seen:.4f}, "
                f"test accuracy {acc * 100:.2f} % ({time.perf_counter() - t0:.0f} s)")

    run_epochs()
    seconds = time.perf_counter() - t0
    float32_accuracy = history[-1]["test_accuracy"]
    net.load_state_dict(decode_weights(encode_weights(net.state_dict(), WEIGHTS_DTYPE)))  # as stored
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    meta = {
        "dataset": train_set.name, "class_names": list(train_set.class_names), "width": recipe.width,
        "test_accuracy": accuracy(net, test_set), "test_count": len(test_set), "train_count": len(train_set),
        "recipe": {**dataclasses.asdict(recipe), "test_accuracy_float32": float32_accuracy},
        "source": train_set.source, "precision": precision, "seconds": seconds, "history": history,
    }
    return net, meta


def accuracy(net: nn.Module, test_set: Dataset) -> float:
    """The share of ``test_set`` whose most probable class is its label."""
    import torch

    with torch.inference_mode():
        pred = torch.cat([net(test_set.images[i: i + 1000].unsqueeze(1).float().div(255.0)).argmax(1)
                          for i in range(0, len(test_set), 1000)])
    return float((pred == test_set.labels).double().mean())


# --------------------------------------------------------------------------- saving and loading

def folder_of(checkpoints: str | Path, dataset: str) -> Path:
    return Path(checkpoints) / FOLDER / dataset


def save(folder: Path, net: nn.Module, meta: dict) -> ClassifierMeta:
    """Write a classifier folder atomically (built beside it, then swapped in); returns its metadata."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".new", dir=folder.parent))
    os.chmod(staging, 0o755)
    try:
        save_file(encode_weights(net.state_dict(), WEIGHTS_DTYPE), str(staging / WEIGHTS))
        full = ClassifierMeta.from_json({
            **meta, "format_version": FORMAT_VERSION, "weights_dtype": WEIGHTS_DTYPE,
            "weights_sha256": sha256_file(staging / WEIGHTS),
            "parameter_count": sum(p.numel() for p in net.parameters()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "versions": library_versions(),
        }, strict=True)
        write_json(staging / META, full.to_json())
        _swap_in(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return full


def read_meta(folder: Path) -> ClassifierMeta:
    """Read and check a classifier's ``meta.json``; ``CheckpointError`` says what is wrong."""
    folder = Path(folder)
    name = folder.name
    hint = RETRAIN.format(name=name)
    where = f"the {name} classifier ({folder})"
    if not folder.is_dir():
        raise CheckpointError(f"{where} is missing; train it with `python train.py --classifiers --dataset {name}`")
    try:
        raw = json.loads((folder / META).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{where}: {META} is missing; {hint}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{where}: {META} is not valid JSON ({e}); {hint}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: {META} must hold a JSON object, found {type(raw).__name__}; {hint}")
    try:
        return ClassifierMeta.from_json(raw)
    except MetadataError as e:
        raise CheckpointError(f"{where}: {META} {e}; {hint}") from None


def load(folder: str | Path) -> Classifier:
    """Load a classifier folder: the net in eval mode (float32) and its metadata. Never unpickles;
    checks the weights' SHA-256 and that they fit the architecture the metadata names."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = read_meta(folder)
    hint = RETRAIN.format(name=folder.name)
    where = f"the {folder.name} classifier ({folder})"
    wfile = folder / WEIGHTS
    if not wfile.is_file():
        raise CheckpointError(f"{where}: {WEIGHTS} is missing; {hint}")
    got = sha256_file(wfile)
    if got != meta.weights_sha256:
        raise CheckpointError(f"{where}: {WEIGHTS} is damaged or was changed: its SHA-256 is {got[:12]}…, "
                              f"the metadata expects {meta.weights_sha256[:12]}…; {hint}")
    try:
        tensors = decode_weights(load_file(str(wfile)))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{where}: {WEIGHTS} cannot be read ({e}); {hint}") from None
    net = build_net(meta.width, len(meta.class_names))
    expected = net.state_dict()
    wrong = [k for k in expected if k not in tensors or tensors[k].shape != expected[k].shape]
    wrong += [k for k in tensors if k not in expected]
    if wrong:
        raise CheckpointError(f"{where}: the weights do not fit the architecture in {META} "
                              f"({', '.join(wrong[:4])}{', …' if len(wrong) > 4 else ''}); {hint}")
    net.load_state_dict(tensors)
    net.eval()
    net.to(memory_format=torch.channels_last)  # pyright: ignore[reportCallIssue] - accepted at run time, not in the stubs; as ``probabilities`` feeds it
    for p in net.parameters():
        p.requires_grad_(False)
    return Classifier(folder, net, meta, for_reading(net))


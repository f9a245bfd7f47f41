"""Anomaly scores: how unusual an image is to a model trained on normal images only (seed 002).

Scores, in nats per image, higher = more anomalous:
- AE, DAE: the reconstruction error, the Bernoulli cross-entropy of the image against the
  decoder's output for its code (the training loss).
- VAE: the negative ELBO, E_q[-log p(x|z)] + KL(q(z|x) || p(z)), with the expectation over
  ``ELBO_SAMPLES`` codes drawn with a fixed seed, so a score is the same on every call.
  ``iwae_nll`` estimates -log p(x) itself with K importance samples (Burda et al. 2016,
  "Importance Weighted Autoencoders", eq. 8); in expectation the bound is above it (each is
  estimated from samples, so one image's may not be).

Input complexity (Serrà et al. 2020, "Input complexity and out-of-distribution detection
with likelihood-based generative models"): ``complexity_bits`` is the length of the image as
a PNG (zlib at level 9), in bits. Their score S(x) = -log2 p(x) - L(x) subtracts it from the
score in bits, so that an image is no longer "likely" only because it is simple.

Rules (``RULES``) turn a score into a statistic that is high for anomalies; a two-sided
rule (Nalisnick et al. 2019, "Detecting out-of-distribution inputs to deep generative models
using typicality", with one input per test) measures how far a score falls from the
training images' scores in either direction, so an image far *more* likely than the
training images is flagged too. Every rule uses only the training images' scores
(``reference``), never the test images': the test images are what the rules are judged on.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ELBO_SAMPLES = 4      # codes per image in the VAE's -ELBO: its per-image noise is ~1/2 of one sample's
SCORE_SEED = 0        # the codes drawn for the -ELBO, and the IWAE's
REFERENCE_COUNT = 10_000  # training images whose scores set the threshold and the typical range
GALLERY = 8              # images in each of the Anomalies page's galleries (most and least unusual)
HEAT_MAX = 0.5           # the galleries' heat maps are white where off by half the range or more
GALLERY_SCALE = 4        # the galleries' enlargement (twice in presentation mode)
REFERENCE_SEED = 0
NOISE_SEED = 2024     # the corrupted test images (the report's seed for noisy inputs)
LN2 = math.log(2.0)


# --------------------------------------------------------------------------- scores

def _batches(n: int, size: int):
    return ((i, min(n, i + size)) for i in range(0, n, size))


def as_floats(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) or floats in [0, 1] -> float32 (n, 28, 28) in [0, 1]."""
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return np.ascontiguousarray(a, dtype=np.float32).reshape(-1, 28, 28)


def scores(model, images: np.ndarray, *, batch_size: int = 1000, pause: Callable[[], None] | None = None) -> np.ndarray:
    """The model's anomaly score of each image (see the module's docstring), (n,) float64 nats.

    The same image always gets the same score: the VAE's codes come from a generator seeded
    from its own pixels (so a score does not depend on the batch). ``pause`` is called before
    each batch (a background caller lets a page's run go first)."""
    import torch

    from .losses import bernoulli_nll, gaussian_kl

    x_all = as_floats(images)
    out = np.empty(len(x_all), dtype=np.float64)
    with torch.inference_mode():
        for lo, hi in _batches(len(x_all), batch_size):
            if pause is not None:
                pause()
            x = torch.from_numpy(x_all[lo:hi].copy()).reshape(-1, 1, 28, 28)
            if model.cfg.kind == "vae":
                out[lo:hi] = _neg_elbo(model, x, bernoulli_nll, gaussian_kl).numpy()
            else:
                out[lo:hi] = bernoulli_nll(model.decode(model.encode(x)).float(), x).numpy()
    return out


def _neg_elbo(model, x, bernoulli_nll, gaussian_kl):
    import torch

    mu, logvar, context = (t.float() for t in model._posterior(x))
    n, d = mu.shape
    eps = _per_image_noise(x, ELBO_SAMPLES, d)
    std = torch.exp(0.5 * logvar)
    recon = torch.zeros(n)
    kl = torch.zeros(n)
    for s in range(ELBO_SAMPLES):
        z0 = mu + eps[s] * std
        if model.flow:
            z, logdet = model._through_flow(z0, context)
            kl += -0.5 * (1 + logvar).sum(1) + 0.5 * z.pow(2).sum(1) - logdet
        else:
            z = z0
        recon += bernoulli_nll(model.decode(z).float(), x)
    kl = kl / ELBO_SAMPLES if model.flow else gaussian_kl(mu, logvar)
    return recon / ELBO_SAMPLES + kl


def _per_image_noise(x, samples: int, d: int):
    """The draws for a batch of images: seeded by each image's own pixels, so an image gets the
    same codes in any batch, at any position, on any call (the page's one image and the
    report's 10,000 agree exactly)."""
    import torch

    flat = (x.reshape(x.shape[0], -1) * 255).round().to(torch.int64)
    weights = torch.arange(1, flat.shape[1] + 1, dtype=torch.int64)
    keys = ((flat * weights).sum(1) * 2654435761 + SCORE_SEED) % (2**31 - 1)
    eps = torch.empty(samples, x.shape[0], d)
    for i, k in enumerate(keys.tolist()):
        eps[:, i] = torch.randn(samples, d, generator=torch.Generator().manual_seed(int(k)))
    return eps


def iwae_nll(model, images: np.ndarray, k: int = 64, *, batch_size: int = 250,
             progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Importance-weighted estimate of -log p(x) in nats with ``k`` samples per image (VAE only):
    -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). (n,) float64; ``progress`` gets
    the share done after each batch."""
    import torch

    from .losses import bernoulli_nll

    if model.cfg.kind != "vae":
        raise ValueError("the importance-weighted likelihood needs a VAE")
    x_all = as_floats(images)
    out = np.empty(len(x_all), dtype=np.float64)
    log2pi = math.log(2 * math.pi)
    with torch.inference_mode():
        for lo, hi in _batches(len(x_all), batch_size):
            x = torch.from_numpy(x_all[lo:hi].copy()).reshape(-1, 1, 28, 28)
            mu, logvar, context = (t.float() for t in model._posterior(x))
            n, d = mu.shape
            eps = _per_image_noise(x, k, d)                       # (k, n, d)
            std = torch.exp(0.5 * logvar)
            z0 = mu[None] + eps * std[None]
            log_q = (-0.5 * (eps.pow(2) + logvar[None] + log2pi)).sum(2)  # (k, n)
            z = z0.reshape(k * n, d)
            if model.flow:
                ctx = context.repeat(k, 1)
                z, logdet = model._through_flow(z, ctx)
                log_q = log_q - logdet.reshape(k, n)
            log_p_z = (-0.5 * (z.pow(2) + log2pi)).sum(1).reshape(k, n)
            xr = x.repeat(k, 1, 1, 1)
            log_px_z = -bernoulli_nll(model.decode(z).float(), xr).reshape(k, n)
            log_w = log_px_z + log_p_z - log_q
            out[lo:hi] = -(torch.logsumexp(log_w, 0) - math.log(k)).numpy()
            if progress is not None:
                progress(hi / len(x_all))
    return out


def pixel_errors(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reconstructions, |image - reconstruction|), each (n, 28, 28), through the deterministic
    code: the galleries' heat maps of where the model fails to rebuild the image. (The
    cross-entropy per pixel would light up every grey pixel, however well it is rebuilt.)"""
    import torch

    x = torch.from_numpy(as_floats(images).copy()).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        recon = torch.sigmoid(model.decode(model.embed(x)).float())
    recon_np = recon.reshape(-1, 28, 28).numpy()
    return recon_np, np.abs(as_floats(images) - recon_np)


# --------------------------------------------------------------------------- input complexity

def complexity_bits(images: np.ndarray, pause: Callable[[], None] | None = None) -> np.ndarray:
    """Each image's length as a grey-level PNG at zlib's level 9, in bits (n,) float64 (Serrà
    et al.'s L(x)). Images are taken to 8 bits first, as they would be stored. ``pause`` is
    called every 1,000 images."""
    from PIL import Image

    from .images import to_uint8

    u8 = np.asarray(images) if np.asarray(images).dtype == np.uint8 else to_uint8(as_floats(images))
    out = np.empty(len(u8), dtype=np.float64)
    for i, img in enumerate(u8.reshape(-1, 28, 28)):
        if pause is not None and i % 1000 == 0:
            pause()
        buf = io.BytesIO()
        Image.fromarray(img, mode="L").save(buf, format="PNG", compress_level=9)
        out[i] = 8 * buf.tell()
    return out


def corrected(score_nats: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Serrà et al.'s S(x): the score in bits minus the image's PNG length in bits."""
    return np.asarray(score_nats) / LN2 - np.asarray(bits)


# --------------------------------------------------------------------------- rules

class Reference:
    """The training images' scores (nats) and PNG lengths (bits) that a rule is calibrated on,
    with the few numbers the rules take from them (computed once)."""

    def __init__(self, raw: np.ndarray, bits: np.ndarray):
        self.raw = np.asarray(raw, dtype=np.float64)
        self.bits = np.asarray(bits, dtype=np.float64)
        self.corrected = corrected(self.raw, self.bits)
        pair = np.c_[self.raw, self.bits]
        self.pair_mean = pair.mean(0)
        self.pair_inv_cov = np.linalg.inv(np.cov(pair.T) + 1e-9 * np.eye(2))
        # the score a training image of this complexity has, fitted by least squares
        self.slope, self.intercept = np.polyfit(self.bits, self.raw, 1)
        self.residual = self.raw - (self.intercept + self.slope * self.bits)


def _z(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(values - ref.mean()) / max(float(ref.std()), 1e-12)


@dataclass(frozen=True)
class Rule:
    """A statistic of an image's score and PNG length that is high for anomalies."""

    name: str        # short id, used in URLs and the report
    label: str       # in words, for the page and the report
    unit: str
    how: str         # one sentence: what it computes
    stat: Callable[[np.ndarray, np.ndarray, Reference], np.ndarray]

    def statistic(self, raw: np.ndarray, bits: np.ndarray, ref: Reference) -> np.ndarray:
        return np.asarray(self.stat(np.asarray(raw, dtype=np.float64), np.asarray(bits, dtype=np.float64), ref))


def _joint(raw, bits, ref: Reference):
    d = np.c_[raw, bits] - ref.pair_mean
    return np.einsum("ij,jk,ik->i", d, ref.pair_inv_cov, d)


# Every rule tried for the report's table; the page offers them all and opens on DEFAULT_RULE,
# the one that reaches AUC ≥ 0.95 in both directions for every shipped model (docs/RESULTS.md).
RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("raw", "score", "nats", "the score itself: high reconstruction error (AE) or low likelihood (VAE)",
         lambda raw, bits, ref: raw),
    Rule("corrected", "complexity-corrected score", "bits",
         "the score in bits minus the image's PNG length in bits (Serrà et al. 2020)",
         lambda raw, bits, ref: corrected(raw, bits)),
    Rule("typical", "two-sided typicality of the score", "standard deviations",
         "how far the score is from the training images' mean score, in either direction (Nalisnick et al. 2019)",
         lambda raw, bits, ref: _z(raw, ref.raw)),
    Rule("typical-corrected", "two-sided typicality of the corrected score", "standard deviations",
         "how far the corrected score is from the training images' mean, in either direction",
         lambda raw, bits, ref: _z(corrected(raw, bits), ref.corrected)),
    Rule("typical-max", "the larger of the two typicalities", "standard deviations",
         "the larger of the two rules above",
         lambda raw, bits, ref: np.maximum(_z(raw, ref.raw), _z(corrected(raw, bits), ref.corrected))),
    Rule("residual", "score above what its complexity predicts", "nats",
         "the score minus the score a training image of the same PNG length has (a straight line fitted on "
         "the training images)",
         lambda raw, bits, ref: raw - (ref.intercept + ref.slope * bits)),
    Rule("joint", "joint typicality of score and complexity", "squared Mahalanobis distance",
         "how unusual the pair (score, PNG length) is among the training images' pairs: the Mahalanobis "
         "distance in their spread and correlation, in every direction",
         _joint),
)}
DEFAULT_RULE = "joint"


def default_threshold(rule: Rule, ref: Reference, k: float = 1.0) -> float:
    """Where the threshold starts: the training images' mean statistic plus ``k`` standard
    deviations. Seed 002 takes its threshold from the normal examples' mean error; the
    TensorFlow tutorial it follows adds one standard deviation, as here."""
    stat = rule.statistic(ref.raw, ref.bits, ref)
    return float(stat.mean() + k * stat.std())


# AUC and ROC in numpy, not scikit-learn's: importing sklearn.metrics imports pandas, and a
# module being imported in the warm-up's thread is seen half-made by plotly in a page's thread
# (it looks pandas up in sys.modules); two replicas' latent maps failed on it under load.

def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``, ties given the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    sx = x[order]
    starts = np.flatnonzero(np.r_[True, sx[1:] != sx[:-1]])
    counts = np.diff(np.r_[starts, len(sx)])
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(starts + (counts + 1) / 2.0, counts)
    return ranks


def auc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve of a statistic (high = anomalous): the chance that a random
    anomalous image scores above a random normal one, ties counting half (Mann-Whitney U)."""
    normal, anomalous = np.asarray(normal, dtype=np.float64), np.asarray(anomalous, dtype=np.float64)
    n0, n1 = len(normal), len(anomalous)
    if not n0 or not n1:
        raise ValueError("an AUC needs normal and anomalous images")
    ranks = _average_ranks(np.r_[normal, anomalous])
    return float((ranks[n0:].sum() - n1 * (n1 + 1) / 2.0) / (n0 * n1))


def roc(normal: np.ndarray, anomalous: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) of the ROC curve from (0, 0) to (1, 1), one point
    per distinct value of the statistic, thinned to about ``points``."""
    x = np.r_[np.asarray(normal, dtype=np.float64), np.asarray(anomalous, dtype=np.float64)]
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    order = np.argsort(-x, kind="mergesort")
    x, y = x[order], y[order]
    last = np.r_[np.flatnonzero(x[1:] != x[:-1]), len(x) - 1]  # the last image of each distinct value
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    fpr = np.r_[0.0, fp / max(len(normal), 1)]
    tpr = np.r_[0.0, tp / max(len(anomalous), 1)]
    if len(fpr) > points:
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, points).round().astype(int), len(fpr) - 1])
        fpr, tpr = fpr[keep], tpr[keep]
    return fpr, tpr


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")


def confusion(normal: np.ndarray, anomalous: np.ndarray, threshold: float) -> Confusion:
    """Counts when a statistic above ``threshold`` is called anomalous (positives: ``anomalous``)."""
    fp = int((np.asarray(normal) > threshold).sum())
    tp = int((np.asarray(anomalous) > threshold).sum())
    return Confusion(tp=tp, fp=fp, tn=len(normal) - fp, fn=len(anomalous) - tp)


def percentile(values: np.ndarray, x: float) -> float:
    """The share (0-100) of ``values`` below ``x`` (ties count half)."""
    v = np.asarray(values)
    return float(100.0 * ((v < x).sum() + 0.5 * (v == x).sum()) / max(len(v), 1))


def reference_indices(n_train: int, count: int = REFERENCE_COUNT, seed: int = REFERENCE_SEED) -> np.ndarray:
    """A fixed random subset of the training split, sorted (the reference images)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(n_train)[: min(count, n_train)])


def corrupt_all(images: np.ndarray, noise: str, level: float, seed: int = NOISE_SEED) -> np.ndarray:
    """A batch of test images (n, 28, 28) corrupted the denoising page's way
    (``inference.corrupt_batch``), then taken to 8 bits as an image is stored (uint8: a quarter
    of the memory, and the PNG length is of these very pixels); the same for the same seed."""
    from .images import to_uint8
    from .inference import corrupt_batch

    return to_uint8(corrupt_batch(as_floats(images), noise, level, seed))


# --------------------------------------------------------------------------- what is compared

NOISE_LEVELS = {"gaussian": 0.5, "salt_and_pepper": 0.2, "block": 12}  # the page's starting strengths
REPORT_NOISE = ("gaussian", 0.5)  # the report's corrupted inputs (issue 15: Gaussian σ = 0.5)


def other_dataset(name: str) -> str:
    """The dataset whose test images are out of distribution for a model of ``name``."""
    from .vocab import DATASETS

    others = [d for d in DATASETS if d != name]
    if not others:
        raise ValueError(f"no dataset besides {name!r}")
    return others[0]


def reference_images(train_images: np.ndarray) -> np.ndarray:
    """The training images the rules are calibrated on (``REFERENCE_COUNT`` of them, fixed)."""
    return np.asarray(train_images)[reference_indices(len(train_images))]


# --------------------------------------------------------------------------- stored scores

SCORES_VERSION = 1  # bump when a score's definition changes in a way the settings below do not show


def settings_tag() -> str:
    """A short hash of what a stored score depends on besides the weights and the images: this
    module's settings and torch's version (its generator draws the VAE's codes)."""
    import torch

    text = repr((SCORES_VERSION, ELBO_SAMPLES, SCORE_SEED, NOISE_SEED, torch.__version__))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def images_tag(images: np.ndarray) -> str:
    """A short hash of a set of images' pixels: a stored array is only read back for the very
    images it was computed from (another copy of a dataset, another subset, another noise)."""
    a = np.ascontiguousarray(images)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()[:16]


def stored_path(name: str) -> Path:
    """Where a computed array is kept between server starts: the download cache's ``anomaly/``
    folder ($LATENT_EXPLORER_CACHE or ~/.cache/latent-explorer), one safetensors file each,
    named by ``name`` and ``settings_tag``."""
    from .data import cache_dir

    return cache_dir("anomaly") / f"{name}-{settings_tag()}.safetensors"


def load_stored(name: str, length: int) -> np.ndarray | None:
    """The array stored under ``name`` if it is there, of this version, ``length`` long and all
    finite; else None (the caller computes it again: a damaged or stale file costs only time).
    safetensors holds plain numbers, so a swapped file cannot run code."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = stored_path(name)
    try:
        arrays = load_file(str(path))
    except (OSError, SafetensorError, ValueError):
        return None
    values = arrays.get("values")
    if values is None or values.shape != (length,) or values.dtype != np.float64 or not np.isfinite(values).all():
        return None
    return values


def save_stored(name: str, values: np.ndarray) -> bool:
    """Keep ``values`` under ``name`` (written atomically); False, and nothing else, when the
    cache folder cannot be written (a read-only home: the scores are then kept in memory only)."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    from .io import atomic_path

    try:
        with atomic_path(stored_path(name)) as tmp:
            save_file({"values": np.ascontiguousarray(values, dtype=np.float64)}, str(tmp))
    except (OSError, SafetensorError):  # safetensors reports a full disk as its own error
        return False
    return True

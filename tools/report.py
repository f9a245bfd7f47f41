"""Evaluate every checkpoint in a folder and write ``docs/RESULTS.md`` with its plots.

    python -m tools.report [--checkpoints checkpoints] [--out docs]

Every figure in the report is computed here from the checkpoints and the datasets; the
only numbers typed in are the references they are compared with (the targets, the
pytorch/examples peer recipe measured on this machine, and the seed documents' own
figures), each labelled as such.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.linalg import subspace_angles

from explorer import anomaly, classifier, features
from explorer.checkpoints import CatalogEntry, CheckpointError, list_checkpoints, load_checkpoint
from explorer.data import DataError, Dataset, load_dataset
from explorer.latent import prior_samples
from explorer.losses import pixel_entropy, psnr
from explorer.metadata import CheckpointMeta
from explorer.noise import gaussian, salt_and_pepper
from explorer.projections import angles_to_pca, fit_pixel_pca
from explorer.seeds import BCE_PER_PIXEL, SEED_RUNS
from explorer.training import evaluate, to_floats
from explorer.vocab import DATASETS, KINDS, LATENT_DIMS, dataset_title
from tools.common import sweep_record

# References (typed, not computed): see issue "Ship the pretrained checkpoints".
PEER_VAE = {  # pytorch/examples vae/main.py recipe (784-400-z, batch 128, Adam 1e-3, 10 epochs)
    "fashion": {2: 265.2, 4: 248.6, 8: 244.2, 16: 244.3, 32: 244.6},          # Fashion-MNIST test set
    "mnist": {2: 175.3, 4: 151.3, 8: 135.1, 16: 131.8, 32: 134.8},            # official MNIST test set
}
TARGET_VAE = {
    "fashion": {2: 252, 4: 243, 8: 237, 16: 235, 32: 234},
    "mnist": {2: 135, 4: 117, 8: 99, 16: 94, 32: 94},                         # issue 14: official test set
}
SEED_VAE_Z2_TRAIN = {r.dataset: r.reported for r in SEED_RUNS if r.model.arch == "conv4"}  # seed 000's, typed there
PCA_FITTED = max(LATENT_DIMS + tuple(r.model.latent_dim for r in SEED_RUNS))  # components: up to the seeds' 64
NOISES = (("gaussian σ=0.3", "gaussian", 0.3), ("gaussian σ=0.5", "gaussian", 0.5),
          ("salt-and-pepper p=0.2", "sp", 0.2))
NOISE_SEED = 2024
TARGET_READER = {"mnist": 0.990, "fashion": 0.910}  # issue 16: the reading classifiers' test accuracy
SAMPLES = 1000          # prior samples each model's reading figures are of (the Generate page's census)
SAMPLE_SEED = 0         # ... drawn as the Generate page draws them at its seed 0


@dataclass
class Row:
    id: str
    dataset: str
    kind: str
    z: int
    meta: CheckpointMeta
    metrics: dict


def add_noise(x: torch.Tensor, how: str, level: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(NOISE_SEED)
    return gaussian(x, level, gen) if how == "gaussian" else salt_and_pepper(x, level, gen)


@torch.inference_mode()
def denoise_psnr(model, clean: torch.Tensor, noisy: torch.Tensor) -> float:
    out = torch.cat([model.reconstruct(noisy[i: i + 2000]) for i in range(0, len(noisy), 2000)])
    return float(psnr(out, clean).mean())


def sample_codes(kind: str, stored_codes: np.ndarray, n: int = SAMPLES, seed: int = SAMPLE_SEED) -> np.ndarray:
    """Codes to decode as a model's samples: a VAE's prior N(0, I), drawn as the Generate page draws
    them (``latent.prior_samples``); an AE or DAE has no prior, so a Gaussian fitted to its test codes
    (their mean and covariance) stands in for one, the usual way of sampling a plain autoencoder."""
    if kind == "vae":
        return prior_samples(n, stored_codes.shape[1], 1.0, seed)
    c = np.asarray(stored_codes, np.float64)
    chol = np.linalg.cholesky(np.cov(c, rowvar=False) + 1e-6 * np.eye(c.shape[1]))
    eps = np.random.default_rng(seed).standard_normal((n, c.shape[1]))
    return (c.mean(axis=0) + eps @ chol.T).astype(np.float32)


def sample_reading(model, kind: str, stored_codes: np.ndarray, reader: classifier.Classifier) -> dict:
    """What the classifier reads in ``SAMPLES`` of a model's samples: the share read with at least
    ``classifier.CONFIDENT`` probability, and the class histogram's distance from uniform."""
    from explorer import inference

    r = classifier.Reading.of(reader.probabilities(inference.decode(model, sample_codes(kind, stored_codes))))
    shares = classifier.class_histogram(r.classes, len(reader.class_names))
    top = int(shares.argmax())
    return {"confident": float((r.confidence >= classifier.CONFIDENT).mean()),
            "tv": classifier.distance_from_uniform(shares), "top": (reader.class_names[top], float(shares[top]))}


def evaluate_all(folder: Path, log=print) -> tuple[list[Row], dict, list[str]]:
    entries = list_checkpoints(folder)
    problems = [f"{e.id}: {e.problem}" for e in entries if not e.ok]
    data: dict[str, tuple[Dataset, Dataset]] = {}
    extra: dict = {"entropy": {}, "pca": {}, "noisy_input": {}, "readers": {}}
    readers: dict[str, classifier.Classifier | None] = {}
    rows = []
    for e in entries:
        if not isinstance(e, CatalogEntry):
            continue
        ck = load_checkpoint(e.path)
        ds = ck.meta.dataset.name
        if ds not in data:
            tr, te = load_dataset(ds, "train"), load_dataset(ds, "test")
            if (len(tr), len(te)) != (ck.meta.dataset.train_count, ck.meta.dataset.test_count):
                raise DataError(f"{e.id} was trained on {ck.meta.dataset.train_count} / "
                                f"{ck.meta.dataset.test_count} images, this machine's {ds} has "
                                f"{len(tr)} / {len(te)}: retrain or install the same data")
            data[ds] = (tr, te)
            clean = to_floats(te.images)
            extra["entropy"][ds] = float(pixel_entropy(clean).mean())
            extra["noisy_input"][ds] = {name: float(psnr(add_noise(clean, how, lvl), clean).mean())
                                        for name, how, lvl in NOISES}
            readers[ds] = None  # none trained: the section leaves this dataset out; a broken one is listed
            if classifier.folder_of(folder, ds).exists():
                try:
                    readers[ds] = classifier.load(classifier.folder_of(folder, ds))
                except CheckpointError as err:
                    problems.append(str(err))
            rd = readers[ds]
            if rd is not None:
                extra["readers"][ds] = {"accuracy": classifier.accuracy(rd.net, te), "meta": rd.meta}
        tr, te = data[ds]
        t0 = time.perf_counter()
        m = evaluate(ck.model, te.images)
        m["meta_loss"] = ck.meta.test_metrics.loss
        m["feature_acc"] = features.accuracy(ck.model, tr, te)
        reader = readers[ds]
        if reader is not None:
            m["samples"] = sample_reading(ck.model, ck.meta.kind, ck.codes()["codes"], reader)
        if ck.meta.kind != "vae":  # denoising is compared between the AE and the DAE
            clean = to_floats(te.images)
            m["denoise"] = {name: denoise_psnr(ck.model, clean, add_noise(clean, how, lvl)) for name, how, lvl in NOISES}
        rows.append(Row(e.id, ds, ck.meta.kind, ck.meta.latent_dim, ck.meta, m))
        log(f"{e.id}: loss {m['loss']:.2f} (metadata {m['meta_loss']:.2f}), psnr {m['psnr']:.2f} dB, "
            f"features {m['feature_acc']:.3f}  [{time.perf_counter() - t0:.1f}s]")
    extra["pca_angles"] = {}
    for ds, (tr, te) in data.items():  # fitted on the training images, measured on the test images
        pca = fit_pixel_pca(tr.images.numpy(), PCA_FITTED)
        extra["pca"][ds] = {z: pca.mse(te.images.numpy(), z) for z in sorted({*LATENT_DIMS, *(r.z for r in rows)})}
        for r in rows:
            if r.dataset == ds and r.meta.model_config.arch == "mlp" and not r.meta.model_config.hidden:
                angles = angles_to_pca(load_checkpoint(folder / r.id).model, pca)
                # what the angles would be by chance: a random subspace of the same size (fixed seed)
                chance = np.degrees(subspace_angles(np.random.default_rng(0).standard_normal((784, r.z)),
                                                    pca.components[: r.z].T))
                extra["pca_angles"][r.id] = {"angles": angles, "chance": chance}
    if rows:  # for the Compare page's chart (explorer.features)
        features.write(folder, {r.id: (r.meta.weights_sha256, r.metrics["feature_acc"]) for r in rows})
    return rows, extra, problems


# --------------------------------------------------------------------------- anomalies

ANOMALY_SETS = ("reference", "test", "other", "noisy")  # the image sets anomaly_scores_for scores
ANOMALY_AGAINST = ("other", "noisy")  # the anomalous sets, each against the model's own test images
IWAE_IMAGES = 1000  # the first test images on which the -ELBO is compared with the IWAE estimate
IWAE_K = 64
# Issue 15's targets (typed): MNIST models detect Fashion-MNIST with the score itself; Fashion-MNIST
# models detect MNIST with the corrected score; one rule does both at the larger latent sizes.
TARGET_MNIST_RAW = 0.99
TARGET_FASHION_CORRECTED = 0.95
TARGET_BOTH = 0.95
TARGET_MIN_LATENT = 8


class AnomalyData:
    """The image sets the anomaly section scores, with their PNG lengths, made once per report run
    and shared by every model. For a model trained on dataset ``own``, ``images(own, set)`` is:

    - reference: ``anomaly.reference_images`` of ``own``'s training split (the rules are calibrated
      on these and nothing else);
    - test: ``own``'s test images (the normal images every AUC is measured on);
    - other: the test images of ``anomaly.other_dataset(own)``;
    - noisy: ``own``'s test images through ``anomaly.corrupt_all`` at ``anomaly.REPORT_NOISE``,
      seed ``anomaly.NOISE_SEED``.

    ``splits`` gives a dataset's (train, test) uint8 images (n, 28, 28) directly, e.g. a few
    images in a test; any other dataset is read with ``load_dataset`` when first needed (raising
    ``DataError`` when it is not installed).
    """

    def __init__(self, splits: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
        self._arrays = {(name, split): np.asarray(a) for name, pair in (splits or {}).items()
                        for split, a in zip(("train", "test"), pair)}
        self._sets: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def _split(self, name: str, split: str) -> np.ndarray:
        if (name, split) not in self._arrays:
            self._arrays[(name, split)] = load_dataset(name, split).images.numpy()
        return self._arrays[(name, split)]

    def images(self, own: str, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(images (n, 28, 28), their ``anomaly.complexity_bits`` (n,)) of one set, computed once."""
        if which == "other":
            return self.images(anomaly.other_dataset(own), "test")
        if (own, which) not in self._sets:
            if which == "reference":
                x = anomaly.reference_images(self._split(own, "train"))
            elif which == "test":
                x = self._split(own, "test")
            elif which == "noisy":
                how, level = anomaly.REPORT_NOISE
                x = anomaly.corrupt_all(self._split(own, "test"), how, level, seed=anomaly.NOISE_SEED)
            else:
                raise ValueError(f"unknown image set {which!r}; choose one of {', '.join(ANOMALY_SETS)}")
            self._sets[(own, which)] = (x, anomaly.complexity_bits(x))
        return self._sets[(own, which)]


def anomaly_scores_for(model, own_name: str, data: AnomalyData,
                       sets: tuple[str, ...] = ANOMALY_SETS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The report's anomaly figures for one model trained on ``own_name``: for each of ``sets``
    (see ``AnomalyData``), (raw score, bits), each (n,) float64: ``anomaly.scores`` in nats and
    ``anomaly.complexity_bits``. Entry i is image i of ``data.images(own_name, set)[0]``, so
    ``anomaly_scores_for(model, "mnist", data, ("test",))["test"][0][i]`` is the score the report
    gives MNIST test image i. Every AUC of the report is computed from these arrays."""
    out = {}
    for s in sets:
        images, bits = data.images(own_name, s)
        out[s] = (anomaly.scores(model, images), bits)
    return out


@dataclass
class AnomalyRow:
    id: str
    dataset: str
    kind: str
    z: int
    counts: dict[str, int]              # set -> images scored
    auc: dict[tuple[str, str], float]   # (anomalous set, rule name) -> AUC against the own test images
    mean_score: dict[str, float]        # set -> mean raw score, nats
    other_below_median: float           # share (0-1) of the other dataset's images scored below the test median
    iwae: tuple[float, float] | None    # VAE: (mean -ELBO, mean IWAE -log p(x)) on the first IWAE_IMAGES test images


def anomaly_row(model, id: str, dataset: str, data: AnomalyData) -> AnomalyRow:
    """Every anomaly figure of one model: each rule's AUC against the other dataset and the noisy
    test images, the mean scores, and for a VAE the IWAE estimate."""
    s = anomaly_scores_for(model, dataset, data)
    ref = anomaly.Reference(*s["reference"])
    auc = {}
    for rule in anomaly.RULES.values():
        normal = rule.statistic(*s["test"], ref)
        for against in ANOMALY_AGAINST:
            auc[(against, rule.name)] = anomaly.auc(normal, rule.statistic(*s[against], ref))
    test_raw = s["test"][0]
    iwae = None
    if model.cfg.kind == "vae":
        x = data.images(dataset, "test")[0][:IWAE_IMAGES]
        iwae = (float(test_raw[: len(x)].mean()), float(anomaly.iwae_nll(model, x, k=IWAE_K).mean()))
    return AnomalyRow(id, dataset, model.cfg.kind, model.cfg.latent_dim, {k: len(v[0]) for k, v in s.items()}, auc,
                      {k: float(v[0].mean()) for k, v in s.items()},
                      anomaly.percentile(s["other"][0], float(np.median(test_raw))) / 100, iwae)


@dataclass
class AnomalyReport:
    rows: list[AnomalyRow]
    seconds: float
    problem: str | None = None  # why nothing was measured (the other dataset is not installed)


def evaluate_anomalies(rows: list[Row], folder: Path, data: AnomalyData | None = None, log=print) -> AnomalyReport:
    """``anomaly_row`` of every evaluated checkpoint, the image sets shared between them."""
    data = AnomalyData() if data is None else data
    t0 = time.perf_counter()
    out = []
    for r in rows:
        t1 = time.perf_counter()
        try:
            a = anomaly_row(load_checkpoint(folder / r.id).model.eval(), r.id, r.dataset, data)
        except DataError as e:
            log(f"anomaly section skipped: {e}")
            return AnomalyReport([], time.perf_counter() - t0, str(e))
        out.append(a)
        log(f"{r.id}: anomaly AUC vs other {a.auc[('other', 'raw')]:.3f} raw, {a.auc[('other', anomaly.DEFAULT_RULE)]:.3f} "
            f"{anomaly.DEFAULT_RULE}; vs noise {a.auc[('noisy', 'raw')]:.3f} raw  [{time.perf_counter() - t1:.1f}s]")
    seconds = time.perf_counter() - t0
    log(f"anomaly section: {seconds:.1f}s for {len(out)} models")
    return AnomalyReport(out, seconds)


def lowest_auc(arows: list[AnomalyRow], against: str, rule: str, dataset: str | None = None,
               min_z: int = 0) -> tuple[float, str] | None:
    """(lowest AUC, model id) over the rows of ``dataset`` (all if None) at latent size ≥ ``min_z``."""
    cands = [(a.auc[(against, rule)], a.id) for a in arows if (dataset is None or a.dataset == dataset) and a.z >= min_z]
    return min(cands) if cands else None


def noise_words(how: str, level: float) -> str:
    """The report's corrupted inputs in words."""
    return {"gaussian": f"Gaussian noise σ = {level}", "salt_and_pepper": f"salt and pepper p = {level}",
            "block": f"a black block of {level} pixels"}[how]


def _verdict(low: tuple[float, str] | None, target: float) -> str:
    if low is None:
        return "not measured (no such models)"
    return f"lowest **{low[0]:.3f}** ({low[1]}) — **{'met' if low[0] >= target else 'not met'}**"


def anomaly_markdown(rep: AnomalyReport) -> list[str]:
    """The anomaly section of RESULTS.md (markdown lines)."""
    L = ["## Anomaly detection", ""]
    if rep.problem is not None:
        return L + [f"Not measured: {rep.problem}", ""]
    arows = rep.rows
    if not arows:
        return L + ["No models.", ""]
    default = anomaly.RULES[anomaly.DEFAULT_RULE]
    noise = noise_words(*anomaly.REPORT_NOISE)
    refs = sorted({a.counts["reference"] for a in arows})
    L += [f"Each model scores each image with `explorer.anomaly.scores`, in nats (higher = more unusual): the AE's and "
          f"DAE's reconstruction cross-entropy, the VAE's −ELBO over {anomaly.ELBO_SAMPLES} codes seeded by the image "
          "itself. A rule (below) turns the score and the image's PNG length into a statistic; an AUC is the chance "
          "that an anomalous image's statistic is above a normal one's (1 = perfect, 0.5 = chance, below 0.5 = "
          "the anomalies look *more* normal). Normal: the model's own test images. Anomalous: the other dataset's "
          f"test images, or the own test images with {noise} (`anomaly.corrupt_all`, seed {anomaly.NOISE_SEED}: clipped to "
          "[0, 1] and stored as 8 bits).", "",
          f"Every threshold and typical range (the reference mean and spread, the fitted line, the covariance of "
          f"score and PNG length) comes from {' / '.join(f'{n:,}' for n in refs)} of the model's *training* images "
          f"(`anomaly.reference_images`, a fixed subset, seed {anomaly.REFERENCE_SEED}), never from test images: the "
          "test images are only what the rules are judged on.", "",
          f"The anomaly section took {rep.seconds:.0f} s for {len(arows)} models ({rep.seconds / len(arows):.1f} s a model, "
          "the image sets and their PNG lengths made once and shared).", ""]
    mn, fa = DATASETS
    measured_both = all(any(a.dataset == ds and a.z >= TARGET_MIN_LATENT for a in arows) for ds in DATASETS)
    both_ok = [rule.name for rule in anomaly.RULES.values() if measured_both
               and all(lo is not None and lo[0] >= TARGET_BOTH
                       for lo in (lowest_auc(arows, "other", rule.name, ds, TARGET_MIN_LATENT) for ds in (mn, fa)))]
    if not measured_both:
        one_rule = "not measured (models of both datasets needed)"
    else:
        everywhere = min(lo[0] for ds in (mn, fa) if (lo := lowest_auc(arows, "other", default.name, ds)) is not None)
        one_rule = (f"**{'met' if both_ok else 'not met'}**" + (f" by {', '.join(f'`{n}`' for n in both_ok)}" if both_ok else "")
                    + f"; the default rule (`{default.name}`) " + ("is one of them" if default.name in both_ok else "**is not**")
                    + f". At every latent size, the default rule's lowest AUC in either direction is {everywhere:.3f}")
    L += ["### Targets", "",
          f"- {dataset_title(mn)} AE, DAE and VAE at latent size ≥ {TARGET_MIN_LATENT} detect {dataset_title(fa)} with "
          f"AUC ≥ {TARGET_MNIST_RAW} (the score itself): "
          f"{_verdict(lowest_auc(arows, 'other', 'raw', mn, TARGET_MIN_LATENT), TARGET_MNIST_RAW)}.",
          f"- {dataset_title(fa)} models detect {dataset_title(mn)} with AUC ≥ {TARGET_FASHION_CORRECTED} with the "
          f"complexity-corrected score, at every latent size: "
          f"{_verdict(lowest_auc(arows, 'other', 'corrected', fa), TARGET_FASHION_CORRECTED)}.",
          f"- One rule for every model with AUC ≥ {TARGET_BOTH} in both directions at latent size ≥ {TARGET_MIN_LATENT}: "
          f"{one_rule}.", ""]
    for ds in sorted({a.dataset for a in arows}, key=lambda d: (d != mn, d)):
        other = dataset_title(anomaly.other_dataset(ds))
        L += [f"### Anomaly detection: {dataset_title(ds)} models", "",
              f"AUC against the model's own {dataset_title(ds)} test images.", "",
              f"| kind | latent | vs {other}: score | corrected | {default.name} | vs noise: score | corrected | "
              f"{default.name} |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for kind in KINDS:
            for a in sorted((a for a in arows if a.dataset == ds and a.kind == kind), key=lambda a: a.z):
                cells = [f"{a.auc[(against, r)]:.3f}" for against in ANOMALY_AGAINST for r in ("raw", "corrected", default.name)]
                L.append(f"| {kind.upper()} | {a.z} | " + " | ".join(cells) + " |")
        L.append("")
    L += ["### Rules tried", "",
          f"Lowest AUC over the models at latent size ≥ {TARGET_MIN_LATENT} (`explorer.anomaly.RULES`; the page opens on "
          f"`{default.name}`).", "",
          f"| rule | what it computes | {dataset_title(mn)} → {dataset_title(fa)} | {dataset_title(fa)} → {dataset_title(mn)} "
          f"| noise | ≥ {TARGET_BOTH} both directions |", "|---|---|---:|---:|---:|:-:|"]
    for rule in anomaly.RULES.values():
        lows = [lowest_auc(arows, "other", rule.name, ds, TARGET_MIN_LATENT) for ds in (mn, fa)]
        lows.append(lowest_auc(arows, "noisy", rule.name, None, TARGET_MIN_LATENT))
        cells = [fmt(None if lo is None else lo[0], ".3f") for lo in lows]
        ok = "—" if not measured_both else ("yes" if rule.name in both_ok else "no")
        name = f"`{rule.name}`" + (" (default)" if rule.name == default.name else "")
        L.append(f"| {name}: {rule.label} | {rule.how} | " + " | ".join(cells) + f" | {ok} |")
    L.append("")
    vaes = sorted((a for a in arows if a.dataset == fa and a.kind == "vae"), key=lambda a: a.z)
    if vaes:
        L += [f"### The known failure: {dataset_title(fa)} VAEs and {dataset_title(mn)} digits", "",
              "Nalisnick et al. 2019 (\"Do deep generative models know what they don't know?\") found that models "
              f"trained on {dataset_title(fa)} give {dataset_title(mn)} digits a *higher* likelihood than their own test "
              f"images. Ours, on all {vaes[0].counts['test']:,} {dataset_title(fa)} and {vaes[0].counts['other']:,} "
              f"{dataset_title(mn)} test images:", "",
              f"| latent | mean −ELBO, {dataset_title(fa)} test | mean −ELBO, {dataset_title(mn)} test | "
              f"{dataset_title(mn)} scored below the {dataset_title(fa)} median |", "|---:|---:|---:|---:|"]
        for a in vaes:
            L.append(f"| {a.z} | {a.mean_score['test']:.1f} | {a.mean_score['other']:.1f} | {100 * a.other_below_median:.1f} % |")
        yes = [a.z for a in vaes if a.mean_score["other"] < a.mean_score["test"]]
        no = [a.z for a in vaes if a.z not in yes]
        if not no:
            verdict = (f"Our {dataset_title(fa)} VAEs **reproduce** the finding at every latent size: on average an "
                       f"{dataset_title(mn)} digit gets a lower −ELBO (a higher likelihood bound) than a "
                       f"{dataset_title(fa)} test image.")
        elif yes:
            verdict = (f"Our {dataset_title(fa)} VAEs **reproduce** the finding at latent size{'s' * (len(yes) > 1)} "
                       f"{', '.join(map(str, yes))} (on average a lower −ELBO, a higher likelihood bound, for the "
                       f"digits), not at {', '.join(map(str, no))} (where the digits' mean −ELBO is higher).")
        else:
            verdict = (f"Our {dataset_title(fa)} VAEs **do not** reproduce the finding: the digits' mean −ELBO is higher "
                       "at every latent size.")
        L += ["", verdict, ""]
    iw = [a for a in arows if a.iwae is not None]
    if iw:
        n = min(min(a.counts["test"], IWAE_IMAGES) for a in iw)
        L += ["### The −ELBO against the importance-weighted estimate of −log p(x)", "",
              f"`anomaly.iwae_nll` with K = {IWAE_K} samples (Burda et al. 2016) on the first {n:,} test images of each "
              f"VAE's own dataset, against the −ELBO the scores use ({anomaly.ELBO_SAMPLES} samples); the gap is the mean "
              "over the images, in nats (the ELBO is a bound, so the gap should not be negative).", "",
              "| model | mean −ELBO | mean IWAE −log p(x) | gap |", "|---|---:|---:|---:|"]
        for a in sorted(iw, key=lambda a: (a.dataset != mn, a.z)):
            elbo, nll = a.iwae or (float("nan"), float("nan"))
            L.append(f"| {a.id} | {elbo:.2f} | {nll:.2f} | {elbo - nll:.2f} |")
        L.append("")
    return L


# --------------------------------------------------------------------------- plots

def decode_grid_image(model, n: int, extent: float) -> np.ndarray:
    """The 2-D latent plane [-extent, extent]² decoded on an n×n grid -> (28n, 28n) in [0, 1],
    row 0 at the top (largest z[1]); the same tiles the app's latent grid shows."""
    from explorer.images import mosaic
    from explorer.inference import decode
    from explorer.latent import grid_coords

    return mosaic(decode(model, grid_coords(n, extent).reshape(-1, 2)), ncols=n)


def make_plots(rows: list[Row], folder: Path, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    files = []
    datasets = sorted({r.dataset for r in rows})

    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for kind in KINDS:
            pts = sorted((r.z, r.metrics["loss"]) for r in rows if r.dataset == ds and r.kind == kind)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=kind.upper() + (" (−ELBO)" if kind == "vae" else " (recon)"))
        if ds in PEER_VAE:
            ax.plot(list(PEER_VAE[ds]), list(PEER_VAE[ds].values()), "k--", lw=1, label="peer VAE recipe")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("latent size")
        ax.set_ylabel("test loss, nats per image")
        ax.set_title(dataset_title(ds))
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss_vs_latent.png", dpi=110)
    plt.close(fig)
    files.append("loss_vs_latent.png")

    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 7), squeeze=False)
    for col, ds in enumerate(datasets):
        for row, kind in enumerate(("vae", "ae")):
            ax = axes[row][col]
            for r in sorted((r for r in rows if r.dataset == ds and r.kind == kind), key=lambda r: r.z):
                h = r.meta.history
                measured = [e for e in h if "test_loss" in e]  # the test set is measured every few epochs
                ax.plot([e["epoch"] for e in measured], [e["test_loss"] for e in measured], label=f"z={r.z}")
            ax.set_title(f"{dataset_title(ds)} {kind.upper()}: test loss per epoch")
            ax.set_xlabel("epoch")
            ax.set_ylabel("nats per image")
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=110)
    plt.close(fig)
    files.append("training_curves.png")

    for ds in datasets:
        r = next((r for r in rows if r.dataset == ds and r.kind == "vae" and r.z == 2), None)
        if r is None:
            continue
        img = decode_grid_image(load_checkpoint(folder / r.id).model, n=15, extent=3.0)
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.imshow(img, cmap="gray", extent=(-3, 3, -3, 3))  # tile centres at ±3·(1 − 1/15)
        ax.set_title(f"{dataset_title(ds)} VAE, z=2: the latent plane decoded on a 15×15 grid")
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
        fig.tight_layout()
        name = f"latent_grid_{ds}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)

    for ds in datasets:
        te = load_dataset(ds, "test")
        pick = torch.arange(8) * (len(te) // 8)
        x = to_floats(te.images[pick])
        kinds = [k for k in KINDS if any(r.dataset == ds and r.kind == k for r in rows)]
        fig, axes = plt.subplots(1 + len(LATENT_DIMS) * len(kinds), 1, figsize=(8, 1.1 * (1 + len(LATENT_DIMS) * len(kinds))))
        axes[0].imshow(torch.cat(list(x[:, 0]), 1), cmap="gray")
        axes[0].set_ylabel("input", rotation=0, ha="right", va="center")
        i = 1
        for kind in kinds:
            for z in LATENT_DIMS:
                r = next((r for r in rows if r.dataset == ds and r.kind == kind and r.z == z), None)
                if r is not None:
                    with torch.inference_mode():
                        rec = load_checkpoint(folder / r.id).model.reconstruct(x)
                    axes[i].imshow(torch.cat(list(rec[:, 0]), 1), cmap="gray")
                axes[i].set_ylabel(f"{kind.upper()} z={z}", rotation=0, ha="right", va="center")
                i += 1
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"{dataset_title(ds)}: test images reconstructed at every latent size")
        fig.tight_layout()
        name = f"reconstructions_{ds}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append(name)
    return files


# --------------------------------------------------------------------------- markdown

def fmt(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


def recipe_row(kind: str, group: list[Row]) -> str:
    """One line of the training-settings table: the settings the checkpoints of one kind share
    (a setting that differs between latent sizes is listed with all its values)."""
    def values(get):
        return "/".join(dict.fromkeys(str(get(r)) for r in group))

    mc = lambda r: r.meta.model_config  # noqa: E731
    tc = lambda r: r.meta.train_config  # noqa: E731
    net = values(lambda r: f"{mc(r).arch} {'-'.join(str(h) for h in mc(r).hidden)}, {mc(r).activation}")
    flows = {}  # steps -> latent sizes with that many IAF steps on the posterior
    for r in group:
        if mc(r).flow_steps:
            flows.setdefault(mc(r).flow_steps, []).append(str(r.z))
    net += "".join(f"; IAF {k} steps at z = {', '.join(zs)}" for k, zs in sorted(flows.items()))
    val = values(lambda r: tc(r).get("val_fraction", 0))
    epochs = values(lambda r: tc(r)["epochs"]) + (f" (by validation on {val} of train)" if val != "0" and val != "0.0"
                                                  else " (last)")
    return (f"| {kind.upper()} | {net} | {epochs} | {values(lambda r: tc(r)['batch_size'])} | "
            f"{values(lambda r: tc(r)['lr'])} | {values(lambda r: tc(r).get('precision', 'float32'))} | "
            f"{values(lambda r: tc(r).get('shift_pixels', 0))} px | {values(lambda r: tc(r).get('kl_warmup_epochs', 0))} |")


def reader_markdown(everything: list[Row], extra: dict, datasets: list[str]) -> list[str]:
    """The reading classifiers' section of RESULTS.md: their accuracy, and what they read in each
    model's samples (a sample-quality figure): the sweep's models (``sweep_rows``) by latent size,
    then the others (the seeds' networks) one row each."""
    readers = extra.get("readers", {})
    if not readers:
        return []
    rows = sweep_rows(everything)
    others = [r for r in everything if r not in rows and "samples" in r.metrics and r.dataset in readers]
    pct = f"{classifier.CONFIDENT * 100:.0f} %"
    L = ["## The reading classifiers", "",
         "A small CNN per dataset (`explorer/classifier.py`, trained by `python train.py --classifiers` on the "
         "training images only) reads the decoded images in the app. Accuracy on the whole official test set, "
         "recomputed here from the stored (float16) weights:", "",
         "| dataset | test accuracy | target | meets target | metadata | parameters | training |",
         "|---|---:|---:|:-:|---:|---:|---:|"]
    for ds in datasets:
        if ds not in readers:
            continue
        acc, meta = readers[ds]["accuracy"], readers[ds]["meta"]
        L.append(f"| {dataset_title(ds)} | {acc * 100:.2f} % | ≥ {TARGET_READER[ds] * 100:.1f} % | "
                 f"{'yes' if acc >= TARGET_READER[ds] else '**no**'} | {meta.test_accuracy * 100:.2f} % | "
                 f"{meta.parameter_count:,} | {meta.seconds:.0f} s, {meta.recipe['epochs']} epochs |")
    L += ["", f"### What the classifier reads in {SAMPLES:,} samples of each model", "",
          f"Each model's {SAMPLES:,} samples decoded and read: the share read with ≥ {pct} confidence (higher: "
          "more samples look like one clear class), and the total variation distance of the classes read from "
          "an even share of each (0: every class equally often; 0.9: all one class). A VAE's samples are drawn "
          "from its prior N(0, I) with seed 0, as the Generate page draws them at its seed 0 and temperature 1. "
          "An AE or DAE has no prior: its samples are drawn from a Gaussian fitted to its test codes (their mean "
          "and covariance), the usual way of sampling a plain autoencoder, so its holes show as unsure samples.",
          ""]
    by = {(r.dataset, r.kind, r.z): r for r in rows}
    for ds in datasets:
        if ds not in readers:
            continue
        L += [f"{dataset_title(ds)}:", "",
              "| latent | " + " | ".join(f"{k.upper()} ≥ {pct} | {k.upper()} distance" for k in KINDS)
              + " | VAE's most read class |",
              "|---:|" + "---:|---:|" * len(KINDS) + "---|"]
        for z in LATENT_DIMS:
            cells = []
            for k in KINDS:
                r = by.get((ds, k, z))
                smp = r.metrics.get("samples") if r else None
                cells += [f"{smp['confident'] * 100:.1f} %", f"{smp['tv']:.3f}"] if smp else ["—", "—"]
            v = by.get((ds, "vae", z))
            top = v.metrics["samples"]["top"] if v and "samples" in v.metrics else None
            if any(c != "—" for c in cells):
                L.append(f"| {z} | " + " | ".join(cells) + f" | {f'{top[0]} ({top[1] * 100:.1f} %)' if top else '—'} |")
        L.append("")
    if others:  # the seeds' networks, sampled and read the same way
        L += ["The other architectures (the seeds' networks, below), sampled and read the same way:", "",
              f"| model | kind | latent | ≥ {pct} | distance | most read class |", "|---|---|---:|---:|---:|---|"]
        for r in sorted(others, key=lambda r: r.id):
            smp = r.metrics["samples"]
            L.append(f"| {r.id} | {r.kind.upper()} | {r.z} | {smp['confident'] * 100:.1f} % | {smp['tv']:.3f} | "
                     f"{smp['top'][0]} ({smp['top'][1] * 100:.1f} %) |")
        L.append("")
    return L


def sweep_rows(rows: list[Row]) -> list[Row]:
    """The default sweep's models (the 512-256 MLP), one per dataset, kind and latent size: what the
    tables by dataset, the anomaly section and the plots are of. The seeds' networks have their section."""
    return [r for r in rows if r.meta.architecture == "mlp"]


def _last_train_loss(meta: CheckpointMeta) -> float:
    """The training loss of the epoch kept: what the seeds report ("the loss of the training data")."""
    return float(meta.history[(meta.best_epoch or len(meta.history)) - 1]["train_loss"])


def seed_markdown(rows: list[Row], extra: dict, folder: Path | None = None) -> list[str]:
    """The course documents' networks (explorer.seeds, ``python train.py --set seeds``): each seed's
    own figure beside ours on the loss it most likely reports; seed 004's comparison in MSE; seed
    001's linear AE against PCA (error and subspace angles)."""
    found = {r.id: r for r in rows}
    runs = [(run, found[run.id]) for run in SEED_RUNS if run.id in found]
    if not runs:
        return []
    L = ["## The seeds' networks", "",
         "The course documents' own architectures, trained by `python train.py --set seeds` with each seed's settings "
         "(`explorer/seeds.py`; Adam, cosine decay to a tenth, no held-out split, the last epoch kept). "
         "Seed 003's five dense VAEs of latent size 2–32 are the sweep's MLP VAEs above.", ""]
    sw = sweep_record(folder, "sweep-seeds.json") if folder is not None else None
    if sw is not None:
        L += [f"`{sw['command'].strip()}` took **{sw['wall_seconds'] / 60:.1f} minutes** of wall time on "
              f"{sw['cpu_count']} CPU cores ({sw['device']}, {sw['runs_at_once']}), target ≤ 15 minutes: "
              f"{'met' if sw['wall_seconds'] <= 900 else 'NOT met'}.", ""]
    L += [
         "| seed | model | the seed's network | epochs | batch | lr | parameters | train s | test loss (nats) | test MSE | PSNR dB |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run, r in runs:
        m = r.metrics
        L.append(f"| {run.seed} | {r.id} | {run.network} | {r.meta.epochs} | {run.batch_size} | {run.lr:g} | "
                 f"{r.meta.parameter_count:,} | {fmt(r.meta.train_seconds, '.0f')} | {m['loss']:.1f} | {m['mse']:.5f} | "
                 f"{m['psnr']:.2f} |")
    L += ["", "### The seeds' reported figures beside ours", "",
          "Seed 000 trains in Keras: its AEs' `binary_crossentropy` is the mean over an image's 784 pixels, and its VAE's "
          "loss (the Keras example's) is 784 × that mean + the KL, nats per image: our negative ELBO. Both are "
          "*training* losses, so ours are too (the epoch kept), with the test loss beside them.", "",
          "| seed | model | what | seed's figure | ours, training | ours, test |", "|---|---|---|---:|---:|---:|"]
    for run, r in runs:
        if run.reported is None:
            continue
        train, test = _last_train_loss(r.meta), r.metrics["loss"]
        if run.reported_as == BCE_PER_PIXEL:
            what, train, test = "BCE per pixel", train / 784, test / 784
            spec = ".3f"
        else:
            what, spec = "−ELBO, nats per image", ".2f"
        L.append(f"| {run.seed} | {r.id} | {what} ({run.reported_note}) | {run.reported:{spec}} | {train:{spec}} | {test:{spec}} |")
    floors = {ds: h / 784 for ds, h in extra["entropy"].items()}
    if "fashion" in floors and any(run.reported_as == BCE_PER_PIXEL for run, _ in runs):
        mnist = f" MNIST's digits, mostly black or white, have a floor of {floors['mnist']:.3f}, below the seed's figures;" \
            if "mnist" in floors else ""
        L += ["", f"No Bernoulli decoder can score below the images' own entropy, **{floors['fashion']:.3f} nats per pixel** "
              f"on the Fashion-MNIST test images (measured here): seed 000's 0.10 and 0.084 are below it, so they cannot be "
              f"this loss on Fashion-MNIST.{mnist} the report's text also speaks of identifying *numbers*. The seed most "
              "likely ran its AEs on MNIST; ours are on Fashion-MNIST, as the seed says it did."]
    by = {(r.dataset, r.kind, r.meta.architecture, r.z): r for _, r in runs}
    pairs = [(z, by.get(("mnist", "ae", "conv", z)), by.get(("mnist", "ae", d, z))) for z, d in ((64, "linear"), (2, "mlp-512"))]
    pairs = [(z, c, d) for z, c, d in pairs if c is not None and d is not None]
    if pairs:
        L += ["", "### Seed 004: convolutional against dense, MNIST test MSE (the seed's loss)", "",
              "Same settings for both, the seed's best grid point (16 epochs, batch 1000, Adam at 0.001).", "",
              "| code | convolutional | dense | dense network | conv lower |", "|---:|---:|---:|---|:-:|"]
        for z, c, d in pairs:
            L.append(f"| {z} | {c.metrics['mse']:.5f} | {d.metrics['mse']:.5f} | {d.meta.architecture} | "
                     f"{'yes' if c.metrics['mse'] < d.metrics['mse'] else 'no'} |")
    angles = extra.get("pca_angles", {})
    if angles:
        L += ["", "### Seed 001: \"a linear autoencoder behaves like PCA\", measured", "",
              "The linear AEs (no activation between the pixels and the code, nor from the code to the output's "
              "sigmoid) against PCA with as many components fitted on the training images: test MSE per pixel, and the "
              "principal angles between the span of the decoder's weights and PCA's subspace (0° everywhere would be "
              "PCA's subspace exactly; a random subspace of the same size is the chance figure).", "",
              "| model | components | AE MSE | PCA MSE | median angle | largest angle | chance: median |",
              "|---|---:|---:|---:|---:|---:|---:|"]
        for rid, a in angles.items():
            r = found[rid]
            L.append(f"| {rid} | {r.z} | {r.metrics['mse']:.5f} | {extra['pca'][r.dataset][r.z]:.5f} | "
                     f"{np.median(a['angles']):.1f}° | {a['angles'].max():.1f}° | {np.median(a['chance']):.1f}° |")
    return L + [""]


def write_markdown(rows, extra, problems, folder: Path, out: Path, plots: list[str],
                   anomalies: AnomalyReport | None = None) -> str:
    everything, rows = rows, sweep_rows(rows)  # the sections by dataset are the sweep's; the seeds' have one
    by = {(r.dataset, r.kind, r.z): r for r in rows}
    datasets = sorted({r.dataset for r in rows})
    L = ["# Results of the shipped checkpoints", "",
         f"Generated by `python -m tools.report` from `{folder}/` on {time.strftime('%Y-%m-%d')}; "
         "nothing here is typed by hand except the reference figures, which are labelled.", ""]
    sw = sweep_record(folder)
    if sw is not None:
        L += ["## How long the sweep took", "",
              f"`{sw['command'].strip()}` took **{sw['wall_seconds'] / 60:.1f} minutes** of wall time "
              f"on {sw['cpu_count']} CPU cores ({sw['device']}, {sw['runs_at_once']}), target ≤ 20 minutes: "
              f"summed over the models, {sw['train_s'] / 60:.1f} min training, {sw['projection_s'] / 60:.1f} min "
              "codes and projections "
              "(PCA, t-SNE), the rest loading data, evaluating and writing"
              + (" (the models overlapped, so the sums exceed the wall time)." if sw.get("jobs", 1) > 1 else "."), "",
              "| model | wall s | training s | projections s |", "|---|---:|---:|---:|"]
        L += [f"| {m['id']} | {m['wall_seconds']:.1f} | {m['train_seconds']:.1f} | {m['projection_seconds']:.1f} |"
              for m in sw["models"]]
        L.append("")
    for ds in datasets:
        any_row = next(r for r in rows if r.dataset == ds)
        d = any_row.meta.dataset
        L += [f"## {dataset_title(ds)}", "",
              f"Trained on {d.train_count:,} images, tested on {d.test_count:,} (source: `{d.source}`)."]
        held = any_row.meta.validation_count
        if held:
            L += ["", f"{held:,} of the training images were held out: the epoch kept, and the recipe's epochs and "
                  "learning rates (docs/experiments/README.md), were chosen on them. The test images chose nothing."]
        L += ["", "How they were trained (from each checkpoint's metadata; Adam, cosine decay of the learning rate "
              "to a tenth):", "",
              "| kind | network | epochs (best kept) | batch | lr | arithmetic | shifts | KL warm-up |",
              "|---|---|---|---:|---:|---|---:|---:|"]
        for kind in KINDS:
            group = [r for r in rows if r.dataset == ds and r.kind == kind]
            if group:
                L.append(recipe_row(kind, group))
        L += ["", f"Entropy of the test images themselves (the floor no Bernoulli decoder can pass): "
              f"**{extra['entropy'][ds]:.1f} nats** per image.", ""]
        # VAE
        L += ["### VAE: test negative ELBO, nats per image", "",
              "| latent | −ELBO | recon | KL | target | peer recipe | meets target | metadata |",
              "|---:|---:|---:|---:|---:|---:|:-:|---:|"]
        for z in LATENT_DIMS:
            r = by.get((ds, "vae", z))
            if r is None:
                continue
            m = r.metrics
            ok = "yes" if m["loss"] <= TARGET_VAE[ds][z] else "**no**"
            L.append(f"| {z} | {m['loss']:.1f} | {m['recon']:.1f} | {m['kl']:.1f} | ≤ {TARGET_VAE[ds][z]} | "
                     f"{PEER_VAE[ds][z]} | {ok} | {m['meta_loss']:.2f} |")
        r2 = by.get((ds, "vae", 2))
        if r2:
            L += ["", f"Seed 000's convolutional VAE with a 2-D latent reported a *training* loss of "
                  f"{SEED_VAE_Z2_TRAIN[ds]} on {dataset_title(ds)}; our z=2 VAE's last training epoch: "
                  f"{r2.meta.history[(r2.meta.best_epoch or len(r2.meta.history)) - 1]['train_loss']:.1f} "
                  f"(test: {r2.metrics['loss']:.1f})."]
        # AE vs PCA
        L += ["", "### AE: reconstruction error against PCA with as many components", "",
              "| latent | AE MSE/pixel | AE PSNR dB | PCA MSE/pixel | PCA PSNR dB | AE below PCA |",
              "|---:|---:|---:|---:|---:|:-:|"]
        for z in LATENT_DIMS:
            r = by.get((ds, "ae", z))
            if r is None:
                continue
            pm = extra["pca"][ds][z]
            L.append(f"| {z} | {r.metrics['mse']:.5f} | {r.metrics['psnr']:.2f} | {pm:.5f} | "
                     f"{-10 * np.log10(pm):.2f} | {'yes' if r.metrics['mse'] < pm else '**no**'} |")
        # DAE
        L += ["", "### DAE: PSNR (dB) of the output against the clean test image", "",
              "| latent | noise | noisy input | AE output | DAE output | DAE gain over input | DAE beats AE |",
              "|---:|---|---:|---:|---:|---:|:-:|"]
        for z in LATENT_DIMS:
            rd, ra = by.get((ds, "dae", z)), by.get((ds, "ae", z))
            if rd is None or ra is None:
                continue
            for name, _, _ in NOISES:
                ni, a, dd = extra["noisy_input"][ds][name], ra.metrics["denoise"][name], rd.metrics["denoise"][name]
                L.append(f"| {z} | {name} | {ni:.2f} | {a:.2f} | {dd:.2f} | {dd - ni:+.2f} | {'yes' if dd > a else '**no**'} |")
        rd, ra = by.get((ds, "dae", 32)), by.get((ds, "ae", 32))
        if rd is not None:
            name = "gaussian σ=0.5"
            gain = rd.metrics["denoise"][name] - extra["noisy_input"][ds][name]
            beats = all(by[(ds, "dae", z)].metrics["denoise"][n] > by[(ds, "ae", z)].metrics["denoise"][n]
                        for z in LATENT_DIMS if (ds, "dae", z) in by and (ds, "ae", z) in by for n, _, _ in NOISES)
            L += ["", f"Target: the DAE at latent 32 gains at least 8 dB over the noisy input at σ = 0.5 — "
                  f"**{gain:+.2f} dB, {'met' if gain >= 8 else 'not met'}**; and beats the plain AE at every latent "
                  f"size and noise — **{'met' if beats else 'not met'}**."]
        # features
        L += ["", f"### Latent codes as features (seed 001): logistic regression on the codes of "
              f"{features.TRAIN_IMAGES:,} training images, accuracy on the test codes", "",
              "| latent | AE | DAE | VAE |", "|---:|---:|---:|---:|"]
        for z in LATENT_DIMS:
            cells = [fmt(by[(ds, k, z)].metrics["feature_acc"], ".3f") if (ds, k, z) in by else "—" for k in KINDS]
            L.append(f"| {z} | " + " | ".join(cells) + " |")
        L.append("")
    L += reader_markdown(everything, extra, datasets)
    L += seed_markdown(everything, extra, folder)
    if anomalies is not None:
        L += anomaly_markdown(anomalies)
    L += ["## Checkpoint metadata against recomputed metrics", "",
          "Each checkpoint's `test_metrics.loss` against the loss recomputed here from its stored weights:", "",
          "| checkpoint | metadata | recomputed | stored weights |", "|---|---:|---:|---|"]
    for r in everything:
        L.append(f"| {r.id} | {r.metrics['meta_loss']:.3f} | {r.metrics['loss']:.3f} | {r.meta.weights_dtype}, "
                 f"{r.meta.parameter_count:,} parameters |")
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    L += ["", f"Total size of `{folder}/`: {total / 1e6:.1f} MB (budget 60 MB).", ""]
    if problems:
        L += ["## Broken entries skipped", ""] + [f"- {p}" for p in problems] + [""]
    L += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    text = "\n".join(L)
    out.mkdir(parents=True, exist_ok=True)
    (out / "RESULTS.md").write_text(text)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=Path("checkpoints"), help="folder to evaluate (default: checkpoints)")
    p.add_argument("--out", type=Path, default=Path("docs"), help="where RESULTS.md and the plots go (default: docs)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        rows, extra, problems = evaluate_all(args.checkpoints)
    except DataError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"report: no loadable checkpoints in {args.checkpoints}; train some with `python train.py`", file=sys.stderr)
        return 2
    anomalies = evaluate_anomalies(sweep_rows(rows), args.checkpoints)
    plots = make_plots(sweep_rows(rows), args.checkpoints, args.out)
    write_markdown(rows, extra, problems, args.checkpoints, args.out, plots, anomalies)
    print(f"wrote {args.out / 'RESULTS.md'} and {len(plots)} plots in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

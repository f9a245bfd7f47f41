"""Latent codes as features (seed 001): how well a linear classifier reads the class from a
model's codes.

A logistic regression is fitted on the codes of ``TRAIN_IMAGES`` training images and scored on
the codes of the whole official test split. That takes seconds per model (the training codes
are not shipped), so ``python -m tools.report`` measures it and keeps the figures in
``checkpoints/feature_accuracy.json``, each beside the SHA-256 of the weights it was measured
on: the Compare page charts them, and a model retrained since is left out instead of shown
with another model's figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .io import write_json

FILE = "feature_accuracy.json"
TRAIN_IMAGES = 10_000  # training images whose codes fit the logistic regression
FORMAT = 1


def accuracy(model, train, test) -> float:
    """Test accuracy of a logistic regression (standardised codes) fitted on the codes of
    ``TRAIN_IMAGES`` training images drawn with seed 0; ``train``/``test`` are ``Dataset``s."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from explorer.sweep import encode_all

    idx = np.random.default_rng(0).permutation(len(train))[:TRAIN_IMAGES]
    ztr = encode_all(model, train.images[idx])
    zte = encode_all(model, test.images)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(ztr, train.labels.numpy()[idx])
    return float(clf.score(zte, test.labels.numpy()))


def write(folder: str | Path, measured: dict[str, tuple[str, float]]) -> Path:
    """Keep ``measured`` (checkpoint id -> (weights SHA-256, accuracy)) in ``folder``/``FILE``,
    replacing the file whole (written beside it, then renamed: a crash leaves the old one)."""
    path = Path(folder) / FILE
    doc = {"format": FORMAT, "train_images": TRAIN_IMAGES,
           "about": "test accuracy of a logistic regression on each model's latent codes; "
                    "written by python -m tools.report",
           "models": {k: {"weights_sha256": sha, "accuracy": round(float(acc), 6)} for k, (sha, acc) in sorted(measured.items())}}
    write_json(path, doc)
    return path


def read(folder: str | Path) -> dict[str, tuple[str, float]]:
    """What ``write`` kept: id -> (weights SHA-256, accuracy); empty when there is no file or it
    cannot be read, and any entry that is not a well-formed figure is skipped (the chart then
    says those models were not measured)."""
    try:
        doc = json.loads((Path(folder) / FILE).read_text())
    except (OSError, ValueError):
        return {}
    models = doc.get("models") if isinstance(doc, dict) and doc.get("format") == FORMAT else None
    out: dict[str, tuple[str, float]] = {}
    for key, v in (models.items() if isinstance(models, dict) else ()):
        if not isinstance(v, dict):
            continue
        sha, acc = v.get("weights_sha256"), v.get("accuracy")
        if isinstance(sha, str) and isinstance(acc, (int, float)) and not isinstance(acc, bool) and 0.0 <= acc <= 1.0:
            out[str(key)] = (sha, float(acc))
    return out

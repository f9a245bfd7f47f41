"""Latent arithmetic (issue 16, part 2): class means, attribute vectors, analogies.

An attribute vector is the difference between two classes' mean codes (White 2016, "Sampling
generative networks"; Latent Space Cartography): adding it to an image's code moves the image
towards the second class by degrees. An analogy a − b + c takes from c what a has and b has not.
What a result reads as is said by the dataset's classifier (``explorer.classifier``); where there
is none, by its nearest test codes (a vote of the ``k`` nearest, ``nearest_reading``).
"""

from __future__ import annotations

import numpy as np

from explorer.latent import nearest_neighbours


def class_means(codes: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, d) the mean code of each class; a class without codes is NaN."""
    codes = np.asarray(codes, np.float64)
    out = np.full((n_classes, codes.shape[1]), np.nan)
    for c in range(n_classes):
        members = codes[np.asarray(labels) == c]
        if len(members):
            out[c] = members.mean(axis=0)
    return out


def along(code: np.ndarray, direction: np.ndarray, amounts) -> np.ndarray:
    """(len(amounts), d): ``code`` moved by each amount of ``direction``."""
    amounts = np.asarray(amounts, np.float64)[:, None]
    return (np.asarray(code, np.float64)[None] + amounts * np.asarray(direction, np.float64)[None]).astype(np.float32)


def analogy(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a − b + c."""
    return (np.asarray(a, np.float64) - np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(np.float32)


def nearest_reading(codes: np.ndarray, labels: np.ndarray, query: np.ndarray, k: int = 10) -> tuple[int, float]:
    """(the class most of the ``k`` test codes nearest to ``query`` belong to, their share);
    ties go to the class of the nearer codes."""
    rows = nearest_neighbours(codes, query, k)
    votes = np.asarray(labels)[rows]
    counts = np.bincount(votes)
    best = np.flatnonzero(counts == counts.max())
    cls = int(next(v for v in votes if v in best))  # nearest first: the tie's nearer class
    return cls, float(counts[cls] / len(votes))

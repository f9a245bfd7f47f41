"""Which test images a page shows: plain functions of the labels and the user's input, no Streamlit.

The Compare page offers four ways to choose its images (``PICKS``); each is one function here,
so that the rule, and what it does with a hand-edited URL, is tested without the app.
"""

from __future__ import annotations

import numpy as np

MAX_INDEX_DIGITS = 9   # longer numbers are refused as text, before int() is asked to parse them


def one_of_each_class(labels: np.ndarray, n_classes: int, k: int) -> list[int]:
    """The ``k``-th test image of each class that has any (the last one where a class has fewer)."""
    out = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members):
            out.append(int(members[min(max(int(k), 0), len(members) - 1)]))
    return out


def first_of_class(labels: np.ndarray, cls: int, count: int) -> list[int]:
    """The first ``count`` test images of class ``cls``."""
    return [int(i) for i in np.flatnonzero(labels == cls)[:count]]


def random_indices(n: int, count: int, seed: int) -> list[int]:
    """``count`` distinct test indices below ``n`` drawn with ``seed``, in increasing order."""
    return [int(i) for i in np.sort(np.random.default_rng(int(seed)).permutation(n)[:count])]


def random_pair(labels: np.ndarray, seed: int) -> tuple[int, int]:
    """Two test indices of two different classes drawn with ``seed`` (the same class only when
    the labels hold one class)."""
    rng = np.random.default_rng(int(seed))
    a = int(rng.integers(0, len(labels)))
    others = np.flatnonzero(labels != labels[a])
    b = int(others[rng.integers(0, len(others))]) if len(others) else int(rng.integers(0, len(labels)))
    return a, b


def parse_indices(text: str, n: int, limit: int) -> tuple[list[int], list[str]]:
    """'0, 1; 7' -> ([0, 1, 7], []): the valid test indices below ``n`` (at most ``limit``, in the
    order given) and the pieces refused. Only ASCII digits count (``'①'.isdigit()`` is true, and
    ``int('①')`` fails); a number of more than ``MAX_INDEX_DIGITS`` digits is refused unread."""
    chosen, bad = [], []
    for tok in text.replace(";", ",").split(","):
        tok = tok.strip()
        if not tok:
            continue
        if tok.isascii() and tok.isdigit() and len(tok) <= MAX_INDEX_DIGITS and int(tok) < n:
            chosen.append(int(tok))
        else:
            bad.append(tok)
    return chosen[:limit], bad

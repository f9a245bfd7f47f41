"""Plain functions behind the pages: which test images Compare shows, how the sidebar repairs a choice,
and the latent grid's default range. No Streamlit runs here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer.latent import VAE_EXTENT, grid_extent, spread_extent
from explorer.ui import picks
from explorer.ui.sidebar import repaired_choice

LABELS = np.array([3, 1, 3, 0, 1, 3, 2, 0])


def test_one_of_each_class_takes_the_kth_and_clamps():
    assert picks.one_of_each_class(LABELS, 4, 0) == [3, 1, 6, 0]
    assert picks.one_of_each_class(LABELS, 4, 1) == [7, 4, 6, 2]
    assert picks.one_of_each_class(LABELS, 4, 99) == [7, 4, 6, 5]      # the last one of each class
    assert picks.one_of_each_class(LABELS, 6, 0) == [3, 1, 6, 0]       # classes without images are skipped


def test_first_of_class_and_random_indices():
    assert picks.first_of_class(LABELS, 3, 2) == [0, 2]
    assert picks.first_of_class(LABELS, 9, 2) == []
    r = picks.random_indices(1000, 10, seed=4)
    assert r == sorted(set(r)) and len(r) == 10 and all(0 <= i < 1000 for i in r)
    assert r == picks.random_indices(1000, 10, seed=4) != picks.random_indices(1000, 10, seed=5)
    assert picks.random_indices(3, 10, seed=0) == [0, 1, 2]


@pytest.mark.parametrize("text, chosen, bad", [
    ("0, 1, 2", [0, 1, 2], []),
    ("7;3 , ,2", [7, 3, 2], []),
    ("3, 4, ①", [3, 4], ["①"]),              # '①'.isdigit() is true, int('①') raises
    ("²", [], ["²"]),
    ("٣", [], ["٣"]),                        # an Arabic-Indic digit: int() reads it, the page must not
    ("5" * 5000, [], ["5" * 5000]),          # beyond int()'s default digit limit
    ("-1, 1.5, x, 10", [], ["-1", "1.5", "x", "10"]),
])
def test_parse_indices_refuses_what_is_not_an_index(text, chosen, bad):
    assert picks.parse_indices(text, 10, limit=12) == (chosen, bad)


def test_parse_indices_keeps_at_most_limit():
    assert picks.parse_indices(",".join(str(i) for i in range(20)), 100, limit=12)[0] == list(range(12))


@given(st.text(max_size=60))
def test_parse_indices_never_raises(text):
    chosen, _ = picks.parse_indices(text, 1000, limit=12)
    assert all(0 <= i < 1000 for i in chosen) and len(chosen) <= 12


@pytest.mark.parametrize("value, options, prefer, want", [
    ("b", ["a", "b"], None, "b"),                         # still offered: kept
    ("ae", ["vae"], "vae", "vae"),                       # gone: the preferred one
    ("b", ["a", "c"], "z", "a"),                         # gone, the preferred one not offered: the first
    (16, [2, 4, 8], None, 8),                            # a number: the nearest offered
    (3, [2, 4], None, 2),                                # a tie: the smaller
    ("x", [], None, "x"),                                # nothing offered: left alone
])
def test_repaired_choice(value, options, prefer, want):
    assert repaired_choice(value, options, prefer) == want


def test_grid_extent_vae_fixed_others_from_their_codes():
    calls = []

    def coords():
        calls.append(1)
        return np.array([[0.2, -4.1], [1.0, 0.5]] * 50)

    assert grid_extent("vae", coords) == VAE_EXTENT and calls == []   # the codes are not even read
    assert grid_extent("ae", coords) == spread_extent(coords()) == 4.5

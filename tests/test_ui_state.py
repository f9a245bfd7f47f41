"""App-owned session state mirrored in the URL: the parsers and formatter of URL values,
init/put/publish and new_event against a stand-in for ``st``, and figure_selection's rule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.ui import state
from explorer.ui.state import figure_selection, fmt_floats, new_event, parse_floats, parse_index


class RecordingParams(dict):
    """``st.query_params`` stand-in that counts writes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writes = 0

    def __setitem__(self, key, value):
        self.writes += 1
        super().__setitem__(key, value)


class FakeStreamlit:
    def __init__(self, query=None):
        self.session_state: dict = {}
        self.query_params = RecordingParams(query or {})


@pytest.fixture
def fake(monkeypatch):
    fake = FakeStreamlit()
    monkeypatch.setattr(state, "st", fake)
    return fake


class TestParseFloats:
    def test_accepts_comma_separated_numbers(self):
        assert parse_floats("0.5,-1.25") == (0.5, -1.25)
        assert parse_floats("3") == (3.0,)
        assert parse_floats("1e-3,2E2,-0") == (0.001, 200.0, 0.0)

    @pytest.mark.parametrize("text", ["nan", "inf", "-inf", "0.5,nan", "1,Infinity", "abc", "", "0.5,", "1;2", "1e999"])
    def test_refuses_what_is_not_finite_numbers(self, text):
        with pytest.raises(ValueError):
            parse_floats(text)


class TestFmtFloats:
    def test_six_significant_digits_comma_separated(self):
        assert fmt_floats([1.2345678, -0.000123456789, 98765.43, -0.0]) == "1.23457,-0.000123457,98765.4,0"
        assert fmt_floats([]) == ""

    def test_accepts_numpy_values(self):
        np = pytest.importorskip("numpy")
        assert parse_floats(fmt_floats(np.array([0.5, -1.25], np.float32))) == (0.5, -1.25)

    @given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=6))
    @settings(max_examples=150, deadline=None, database=None)
    def test_round_trip_to_four_significant_digits(self, values):
        text = fmt_floats(values)
        back = parse_floats(text)
        assert len(back) == len(values)
        for v, b in zip(values, back):
            assert math.isclose(b, v, rel_tol=5e-4, abs_tol=1e-300)
        assert fmt_floats(back) == text  # formatting what was parsed changes nothing

    def test_exact_for_values_of_four_digits_or_fewer(self):
        values = (0.5, -1.25, 12.5, 0.0, -3.0, 1234.0)
        assert parse_floats(fmt_floats(values)) == values


class TestParseIndex:
    @pytest.mark.parametrize(("text", "value"), [("0", 0), ("12", 12), ("4999", 4999)])
    def test_accepts_non_negative_integers(self, text, value):
        assert parse_index(text) == value

    @pytest.mark.parametrize("text", ["-1", "-0.5", "1.5", "abc", "", "1e3", "nan"])
    def test_refuses_negatives_and_non_integers(self, text):
        with pytest.raises(ValueError):
            parse_index(text)


class TestFigureSelection:
    def test_a_chart_with_its_own_selection_keeps_what_was_drawn(self):
        drawn = ("ckpt/pca", 3)
        assert figure_selection(drawn, "ckpt/pca", 7, True) is drawn
        assert figure_selection(drawn, "ckpt/pca", None, True) is drawn

    def test_without_a_selection_of_its_own_the_figure_follows_the_row(self):
        assert figure_selection(("ckpt/pca", 3), "ckpt/pca", 7, False) == ("ckpt/pca", 7)
        assert figure_selection(("ckpt/pca", 3), "ckpt/pca", None, False) == ("ckpt/pca", None)

    def test_first_drawing_and_another_figure_follow_the_row(self):
        assert figure_selection(None, "ckpt/pca", 7, True) == ("ckpt/pca", 7)
        assert figure_selection(("ckpt/pca", 3), "ckpt/tsne", 7, True) == ("ckpt/tsne", 7)
        assert figure_selection(("ckpt/pca", 3), "other/pca", 7, True) == ("other/pca", 7)


class TestInit:
    def test_reads_a_parseable_url_value_on_the_first_run_only(self, fake):
        fake.query_params["map_img"] = "12"
        assert state.init("map_img", parse_index, default=0) == 12
        assert fake.session_state["map_img"] == 12
        fake.query_params["map_img"] = "30"
        assert state.init("map_img", parse_index, default=0) == 12

    @pytest.mark.parametrize(("raw", "parse"), [("abc", parse_index), ("-3", parse_index), ("nan,1", parse_floats)])
    def test_ignores_a_url_value_that_does_not_parse(self, fake, raw, parse):
        fake.query_params["k"] = raw
        assert state.init("k", parse, default="fallback") == "fallback"
        assert fake.session_state["k"] == "fallback"

    @pytest.mark.parametrize("error", [ValueError, TypeError, IndexError])
    def test_parse_errors_of_each_kind_fall_back(self, fake, error):
        def parse(text):
            raise error(text)

        fake.query_params["k"] = "x"
        assert state.init("k", parse, default=5) == 5

    def test_without_a_url_value_the_default(self, fake):
        assert state.init("k", parse_index) is None
        assert state.init("other", parse_floats, default=(0.0, 0.0)) == (0.0, 0.0)

    def test_a_session_value_wins_over_the_url(self, fake):
        fake.session_state["k"] = 4
        fake.query_params["k"] = "9"
        assert state.init("k", parse_index, default=0) == 4

    def test_does_not_write_the_url(self, fake):
        fake.query_params = RecordingParams(k="abc")
        state.init("k", parse_index)
        assert fake.query_params == {"k": "abc"} and fake.query_params.writes == 0


class TestPutAndPublish:
    def test_put_mirrors_the_value_in_the_url(self, fake):
        state.put("map_img", 12)
        assert fake.session_state["map_img"] == 12 and fake.query_params["map_img"] == "12"
        state.put("point", (0.5, -1.25), fmt_floats)
        assert fake.query_params["point"] == "0.5,-1.25"
        assert state.init("point", parse_floats) == (0.5, -1.25)

    def test_none_removes_the_url_value(self, fake):
        state.put("map_img", 12)
        state.put("map_img", None)
        assert fake.session_state["map_img"] is None and "map_img" not in fake.query_params
        state.put("map_img", None)  # already absent: nothing to remove
        assert "map_img" not in fake.query_params

    def test_publish_writes_only_a_changed_value(self, fake):
        fake.session_state["k"] = 7
        state.publish("k")
        state.publish("k")
        assert fake.query_params["k"] == "7" and fake.query_params.writes == 1
        fake.session_state["k"] = 8
        state.publish("k")
        assert fake.query_params["k"] == "8" and fake.query_params.writes == 2

    def test_publish_of_a_missing_key_removes_it_from_the_url(self, fake):
        fake.query_params["k"] = "3"
        state.publish("k")
        assert "k" not in fake.query_params

    def test_keys_are_independent(self, fake):
        state.put("a", 1)
        state.put("b", 2)
        state.put("a", None)
        assert dict(fake.query_params) == {"b": "2"}


class TestNewEvent:
    def test_true_once_per_token(self, fake):
        assert new_event("map", 100) is True
        assert new_event("map", 100) is False
        assert new_event("map", 101) is True
        assert new_event("map", 101) is False
        assert new_event("map", 100) is True  # another click, even back to an earlier token

    def test_none_resets_so_a_repeat_is_new(self, fake):
        assert new_event("map", ("sel", 3)) is True
        assert new_event("map", None) is False
        assert new_event("map", None) is False
        assert new_event("map", ("sel", 3)) is True

    def test_names_are_independent(self, fake):
        assert new_event("map", 1) is True
        assert new_event("grid", 1) is True
        assert new_event("map", 1) is False
        new_event("grid", None)
        assert new_event("map", 1) is False

    def test_keeps_its_bookkeeping_out_of_the_url(self, fake):
        new_event("map", 1)
        assert fake.query_params == {} and "map" not in fake.session_state

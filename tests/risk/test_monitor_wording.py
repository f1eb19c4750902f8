"""The clause a clinician reads for each watched feature, and how a row's value is read.

Every expected sentence is written out by hand from the rule (direction word by the sign
of the change, the unit's own form, "for N days/nights" only for more than one day), so a
flipped comparison or a wrong unit branch fails here. Small changes (|delta| < 1) are
included on purpose: they tell ``delta > 0`` from ``delta > -1``.
"""

from __future__ import annotations

import math

import pytest

from phenotyping.risk.monitor import Monitored, change_clause, monitored, value_of


def spec(unit: str, *, nights: bool = False, flag: str | None = None) -> Monitored:
    return Monitored("x", "sleep", "both", "the feature", unit, nights=nights, valid_flag=flag)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("unit", "value", "median", "delta", "days", "expected"),
    [
        ("clock", 0, 0, 90.0, 1, "the feature 1 h 30 min later than usual"),
        ("clock", 0, 0, -90.0, 1, "the feature 1 h 30 min earlier than usual"),
        ("clock", 0, 0, -0.5, 1, "the feature 0 min earlier than usual"),
        ("clock", 0, 0, 0.5, 1, "the feature 0 min later than usual"),
        ("min", 0, 0, 45.0, 3, "the feature 45 min longer than usual for 3 days"),
        ("min", 0, 0, -45.0, 1, "the feature 45 min shorter than usual"),
        ("min", 0, 0, -0.5, 1, "the feature 0 min shorter than usual"),
        ("min", 0, 0, 0.5, 1, "the feature 0 min longer than usual"),
        ("bpm", 0, 0, 6.4, 2, "the feature 6 bpm above usual for 2 days"),
        ("bpm", 0, 0, -6.4, 1, "the feature 6 bpm below usual"),
        ("bpm", 0, 0, -0.4, 1, "the feature 0 bpm below usual"),
        ("bpm", 0, 0, 0.4, 1, "the feature 0 bpm above usual"),
        ("index", 0.71, 0.80, -0.09, 1, "the feature down: 0.71 vs usual 0.80"),
        ("index", 0.89, 0.80, 0.09, 1, "the feature up: 0.89 vs usual 0.80"),
        ("index", 0.80, 0.80, 0.0, 1, "the feature down: 0.80 vs usual 0.80"),
        ("counts", 150.0, 200.0, -50.0, 1, "the feature 25% below usual"),
        ("counts", 250.0, 200.0, 50.0, 1, "the feature 25% above usual"),
        ("counts", 199.5, 200.0, -0.5, 1, "the feature 0% below usual"),
        ("counts", 200.5, 200.0, 0.5, 1, "the feature 0% above usual"),
        ("counts", 5.0, 0.0, 5.0, 1, "the feature above usual"),  # no usual value: no %
        ("steps", 0.0, 0.0, -0.5, 1, "the feature below usual"),
    ],
)
def test_each_unit_says_its_change_in_its_own_words(
    unit: str, value: float, median: float, delta: float, days: int, expected: str
) -> None:
    assert change_clause(spec(unit), value, median, delta, days) == expected


@pytest.mark.parametrize(
    ("nights", "days", "tail"),
    [(False, 0, ""), (False, 1, ""), (False, 2, " for 2 days"), (True, 5, " for 5 nights")],
)
def test_the_span_is_said_only_for_more_than_one_day(nights: bool, days: int, tail: str) -> None:
    text = change_clause(spec("min", nights=nights), 0, 0, 30.0, days)
    assert text == "the feature 30 min longer than usual" + tail


def test_a_value_is_read_only_when_present_finite_and_valid() -> None:
    plain, flagged = spec("counts"), spec("counts", flag="valid")
    assert value_of(plain, {"x": 3}) == 3.0
    assert math.isnan(value_of(plain, {}))
    assert math.isnan(value_of(plain, {"x": None}))
    assert math.isnan(value_of(plain, {"x": float("inf")}))
    assert value_of(flagged, {"x": 3, "valid": True}) == 3.0
    assert math.isnan(value_of(flagged, {"x": 3, "valid": False}))
    assert math.isnan(value_of(flagged, {"x": 3}))


def test_a_feature_has_no_scale_floor_unless_it_declares_one() -> None:
    assert spec("counts").min_scale == 0.0


def test_the_rolling_features_follow_the_day_engine_default_window() -> None:
    # the day engine's rolling measures are 7-day ones by default (sri7d, circ7d_*)
    cols = [s.column for s in monitored() if s.window_days > 1]
    assert "sri7d" in cols and "circ7d_IV" in cols
    assert all(s.window_days == 7 for s in monitored() if s.column.startswith(("sri", "circ")))

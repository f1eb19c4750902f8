"""Calendar helpers of the feature engine, against the calendar itself.

Expected values come from :mod:`datetime` (an independent calendar), never from the
functions under test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from phenotyping.features.time import is_weekend, iso_date, night_of, weekday

EPOCH = dt.date(1970, 1, 1)


def ordinal(day: dt.date) -> int:
    return (day - EPOCH).days


def test_weekday_and_weekend_match_the_calendar_for_four_weeks() -> None:
    start = dt.date(2024, 3, 18)  # a Monday
    for i in range(28):
        day = start + dt.timedelta(days=i)
        d = ordinal(day)
        assert weekday(d) == day.weekday()
        assert is_weekend(d) is (day.weekday() >= 5), day
        assert iso_date(d) == day.isoformat()


def test_a_night_runs_from_noon_to_noon_and_is_labelled_by_its_morning() -> None:
    d = ordinal(dt.date(2024, 3, 18))
    day_start = d * 1440
    minutes = np.array(
        [
            day_start - 721,
            day_start - 720,
            day_start - 1,
            day_start,
            day_start + 719,
            day_start + 720,
        ]
    )
    # 11:59 of the day before belongs to the night before; from noon of the day before to
    # 11:59 of day d it is night d; from noon of day d it is night d + 1
    assert night_of(minutes).tolist() == [d - 1, d, d, d, d, d + 1]
    assert np.issubdtype(night_of(minutes).dtype, np.integer)  # labels are day ordinals

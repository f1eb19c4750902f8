"""Day-engine values the other tests left open, found by mutation testing (issue 14).

Each test feeds :class:`SubjectDays` a hand-built recording through its public methods
and checks a value of the daily rows (or the late-data counter) computed by hand from the
recording -- never by the engine. They test behaviour only, so they stay valid whatever the
engine's internals become.
"""

from __future__ import annotations

import numpy as np
import pytest

from phenotyping.features.day import SubjectDays

DAY = 1440
D0 = 19_000  # 2022-01-08, local date ordinal
T0 = D0 * DAY  # its midnight, UTC minutes (offset 0)


def _worn_days(n: int) -> np.ndarray:
    """``n`` whole days that are worn throughout: no run of one value reaches 120 minutes
    (nights alternate 0 and 30 counts, days vary 200..260) and no minute is missing."""
    t = np.arange(n * DAY)
    night = (t % DAY) < 7 * 60
    return np.where(night, 30.0 * (t % 2), 200.0 + 10 * (t % 7))


def _row(rows: list[dict], d: int) -> dict:
    (row,) = [r for r in rows if r["date"] == f"2022-01-{8 + d - D0:02d}"]
    return row


def test_a_day_without_data_inside_a_worn_week_still_gets_its_rolling_features() -> None:
    """Days 0-4 worn, day 5 without any sample, day 6 worn: day 5's rolling window (days
    -1..5) holds 5 valid days (>= the 3 required), so its row carries the 7-day features
    instead of an all-empty row."""
    eng = SubjectDays()
    x = _worn_days(7)
    x[5 * DAY : 6 * DAY] = np.nan
    eng.push_activity(T0 * 60, 60, x, None, 0)
    rows = eng.flush()
    gap = _row(rows, D0 + 5)
    assert gap["observed_min"] == 0 and gap["valid"] is False
    assert gap["circ7d_valid_days"] == 5
    assert np.isfinite(gap["circ7d_IS"]) and np.isfinite(gap["circ7d_M10"])


def test_a_recording_starting_at_23_59_has_a_first_day_of_1440_minutes() -> None:
    """The first local day is padded back to its midnight: one observed minute out of a
    1440-minute day, not a one-minute day."""
    eng = SubjectDays()
    eng.push_activity((T0 - 1) * 60, 60, _worn_days(1)[: DAY + 1], None, 0)
    first = eng.flush()[0]
    assert first["date"] == "2022-01-07"
    assert first["minutes_in_day"] == 1440
    assert first["observed_min"] == 1
    assert first["coverage"] == pytest.approx(1 / 1440)


def test_night_coverage_is_the_worn_fraction_of_noon_to_noon() -> None:
    """Night of day 1 = day 0 12:00 .. day 1 12:00 (1440 minutes). Fully worn: 1.0.
    With day 0 12:00-18:00 missing (360 minutes): 1080 / 1440 = 0.75 < 0.8, so the night
    is not ``sleep_valid`` although it holds a whole night of sleep."""
    full = SubjectDays()
    full.push_activity(T0 * 60, 60, _worn_days(3), None, 0)
    assert _row(full.flush(), D0 + 1)["night_coverage"] == 1.0

    x = _worn_days(3)
    x[12 * 60 : 18 * 60] = np.nan
    gap = SubjectDays()
    gap.push_activity(T0 * 60, 60, x, None, 0)
    night = _row(gap.flush(), D0 + 1)
    assert night["night_coverage"] == pytest.approx(1080 / 1440)
    assert night["sleep_valid"] is False


def test_a_daily_summary_for_the_day_just_closed_is_late_not_applied() -> None:
    """Days close through day 2; a summary for day 2 is late (counted, not applied), one
    for day 3 is not."""
    eng = SubjectDays()
    eng.push_activity(T0 * 60, 60, _worn_days(3), None, 0)
    eng.flush()
    late = eng.late
    values: list[float | None] = [55.0, None, None, None, None, None, None, None]
    eng.push_summary(D0 + 2, 0, values)
    assert eng.late == late + 1
    eng.push_summary(D0 + 3, 0, values)
    assert eng.late == late + 1
    (day3,) = eng.flush()
    assert day3["date"] == "2022-01-11" and day3["dev_resting_hr"] == 55.0


def test_processing_time_closes_days_on_the_subjects_local_clock() -> None:
    """A subject at UTC+10 sends one local day (day 0) and falls silent. ``advance(now)``
    puts "now" on the subject's clock with their last known offset: at UTC
    ``T0 + 3 days + 36 h - 10 h`` it is local ``T0 + 3 days + 36 h``: a day closes once its
    end plus the 36-h grace has passed, i.e. the days ending by local ``T0 + 3 days`` --
    days 0, 1, 2. On the UTC clock (``T0 + 3 days - 10 h`` after the grace) only days 0
    and 1 would."""
    off = 600
    eng = SubjectDays()
    eng.push_activity((T0 - off) * 60, 60, _worn_days(1), None, off)
    assert eng.advance() == []
    now = T0 + 3 * DAY + 36 * 60 - off
    rows = eng.advance(now)
    assert [r["date"] for r in rows] == ["2022-01-08", "2022-01-09", "2022-01-10"]
    assert rows[0]["observed_min"] == 1440 and rows[2]["observed_min"] == 0


def test_processing_time_uses_the_offset_of_the_last_minute_after_a_clock_change() -> None:
    """(Fourth mutation round.) A subject at UTC+1 sends local day 0 but its last minute;
    the clocks then go forward (UTC+2) and one more minute arrives, the subject's last. At
    UTC ``T0 + 3 days + 36 h - 2 h`` it is ``T0 + 3 days + 36 h`` on the subject's clock
    as it now is: days 0, 1, 2 close. Placed with the offset before the change (UTC+1) it
    would be an hour earlier and only days 0 and 1 would."""
    eng = SubjectDays()
    x = _worn_days(1)
    eng.push_activity((T0 - 60) * 60, 60, x[:-1], None, 60)
    eng.push_activity((T0 - 60 + DAY - 1) * 60, 60, x[-1:], None, 120)
    assert eng.advance() == []
    rows = eng.advance(T0 + 3 * DAY + 36 * 60 - 120)
    assert [r["date"] for r in rows] == ["2022-01-08", "2022-01-09", "2022-01-10"]


def test_a_summary_only_day_is_placed_at_its_own_utc_offset() -> None:
    """(Fourth mutation round.) Day 0 worn at UTC+1; nothing on day 1; day 2 has only a
    device daily summary, sent at UTC+2 (the subject travelled east). Day 2 is placed at
    +2: it starts at UTC ``T0 + 2 days - 2 h``, an hour before day 1 would end at +1, so
    day 1 -- on the old clock -- has 23 hours (1380 minutes), like a day whose clocks go
    forward; day 2 has its 1440."""
    from phenotyping.features.day import SUMMARY_COLUMNS

    eng = SubjectDays()
    eng.push_activity((T0 - 60) * 60, 60, _worn_days(1), None, 60)
    values: list[float | None] = [None] * len(SUMMARY_COLUMNS)
    values[0] = 60.0
    eng.push_summary(D0 + 2, 120, values)
    rows = eng.advance() + eng.flush()
    assert [(r["date"], r["minutes_in_day"]) for r in rows] == [
        ("2022-01-08", 1440),
        ("2022-01-09", 1380),
        ("2022-01-10", 1440),
    ]

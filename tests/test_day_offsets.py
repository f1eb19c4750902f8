"""The UTC offset each closed day's row carries (:func:`phenotyping.pipeline.day_offsets`):
its shortcut for a grid of one offset (:meth:`SubjectDays.one_offset`) against the search
it replaced, kept here as the reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from phenotyping.features.day import NO_OFFSET, SubjectDays
from phenotyping.pipeline import day_offsets

DAY = 1440


def searched(days: SubjectDays, dates: list[int]) -> list[int | None]:
    """day_offsets before the shortcut (pipeline.py at bb52410): the offset of the day's
    last minute with one, else of the latest earlier one, else the subject's latest."""
    known = days.offset[days.offset != NO_OFFSET]
    latest = int(known[-1]) if len(known) else None
    idx = np.flatnonzero(days.offset != NO_OFFSET)
    if latest is None or not idx.size:
        return [latest] * len(dates)
    off = days.offset[idx].astype(np.int64)
    local_day = (days.base + idx + off) // DAY
    pos = np.searchsorted(local_day, np.asarray(dates, dtype=np.int64), side="right") - 1
    return [int(off[p]) if p >= 0 else latest for p in pos]


def test_hand_worked_offsets() -> None:
    days = SubjectDays()
    assert day_offsets(days, [0, 1]) == [None, None]
    days.push_activity(0, 60, np.ones(DAY), None, tz_offset_min=0)  # 1 Jan 1970, UTC
    assert day_offsets(days, [-1, 0, 5]) == [0, 0, 0]
    days.push_activity(3 * DAY * 60, 60, np.ones(60), None, tz_offset_min=60)  # 4 Jan, +1 h
    # 31 Dec (nothing earlier): the subject's latest, 60; 1 Jan: 0; 2 and 3 Jan (no data):
    # the latest earlier day's, 0; 4 Jan and after: 60
    assert day_offsets(days, [-1, 0, 1, 2, 3, 9]) == [60, 0, 0, 0, 60, 60]


segments = st.lists(
    st.tuples(st.integers(1, 3 * DAY), st.sampled_from([0, 0, 60, -300, 540, -600, None])),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(segments, st.integers(0, 2 * DAY), st.lists(st.integers(-3, 12), max_size=5))
def test_day_offsets_equal_the_search_on_any_grid(
    parts: list[tuple[int, int | None]], start: int, days_from_start: list[int]
) -> None:
    """Runs of minutes with one offset each, or none (a gap: nothing pushed there)."""
    days = SubjectDays()
    t = 20_000 * DAY + start
    for n, off in parts:
        if off is not None:
            days.push_activity(t * 60, 60, np.ones(n), None, tz_offset_min=off)
        t += n
    first = 20_000 + start // DAY
    dates = sorted(first + k for k in days_from_start)
    assert day_offsets(days, dates) == searched(days, dates)

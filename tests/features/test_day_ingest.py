"""Single-sample ingest: the minute grid keeps spare capacity behind it (amortised
growth), which changes neither a row nor a byte of the saved state."""

from __future__ import annotations

from typing import Any

import numpy as np
from day_helpers import T0, same, synthetic_days

from phenotyping.features.day import SubjectDays


def test_minute_by_minute_equals_one_batch_and_saves_the_same_bytes() -> None:
    x = synthetic_days(5, seed=4)
    x[3000:3200] = np.nan  # a gap
    one = SubjectDays()
    rows: list[dict[str, Any]] = []
    reused = 0
    for i, v in enumerate(x):
        before = one.counts
        one.push_activity((T0 + i) * 60, 60, np.array([v]), None, tz_offset_min=60)
        reused += before.base is not None and before.base is one.counts.base
        rows += one.advance()
        if i == 4321:  # a decoded state (no spare arrays) carries on growing correctly
            one = SubjectDays.from_bytes(one.to_bytes())
    whole = SubjectDays()
    whole.push_activity(T0 * 60, 60, x, None, tz_offset_min=60)
    expected = whole.advance()
    assert len(rows) == len(expected) >= 2 and same(rows, expected)
    assert reused > 0.9 * len(x)  # nearly every message re-sliced the spare arrays
    # the spare minutes are not serialised: the bytes are those of the exact-size grid
    assert one.to_bytes() == whole.to_bytes()
    assert same(one.close_remaining_days(), whole.close_remaining_days())


def test_spare_arrays_are_dropped_when_the_grid_is_replaced() -> None:
    eng = SubjectDays()
    eng.push_activity(T0 * 60, 60, np.ones(5), None, tz_offset_min=0)
    eng.push_activity((T0 + 5) * 60, 60, np.ones(1), None, tz_offset_min=0)
    assert eng.counts.base is not None  # a view of the spare arrays
    # something else replaces the grid (as a decoded state does): never re-slice the old
    # spare arrays, whose minutes are not the grid's any more
    eng.counts = eng.counts.copy()
    eng.counts[:] = 7.0
    eng.push_activity((T0 + 6) * 60, 60, np.full(1, 2.0), None, tz_offset_min=0)
    assert eng.counts.tolist() == [7.0] * 6 + [2.0]
    # writing in front of the grid reallocates it and forgets the spare arrays
    eng.push_activity((T0 - 3) * 60, 60, np.full(1, 3.0), None, tz_offset_min=0)
    nan = np.nan
    want = [3.0, nan, nan, *[7.0] * 6, 2.0]
    assert np.array_equal(eng.counts, np.array(want, np.float32), equal_nan=True)
    assert eng._spare is None

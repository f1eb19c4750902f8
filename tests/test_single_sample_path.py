"""The single-sample shortcuts give what the general paths give, bit for bit.

A live phone or watch may publish one one-minute sample per message; for those
:func:`phenotyping.pipeline.step` skips NumPy (:meth:`SubjectDays.push_minute` instead of
:func:`~phenotyping.pipeline.check_window` + :func:`~phenotyping.pipeline.apply`) and the
schema checks a sample's time in float seconds instead of datetimes. The general paths are
the references here: each test runs the same input through both and compares the states'
bytes, every output value and every error text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phenotyping import pipeline
from phenotyping.errors import InputError
from phenotyping.events import ActivityBatch, decode
from phenotyping.features.day import SubjectDays
from phenotyping.pipeline import OutOfWindow, SubjectState, step

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def _doc(
    start: dt.datetime,
    counts: list[float | None] | None,
    steps: list[int | None] | None = None,
    tz: int = 0,
    epoch_s: int = 60,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "activity",
        "event_id": f"e{start.timestamp():.0f}",
        "subject_id": "s1",
        "source": "t",
        "tz_offset_min": tz,
        "start": start.isoformat(),
        "epoch_s": epoch_s,
    }
    if counts is not None:
        doc["counts"] = counts
    if steps is not None:
        doc["steps"] = steps
    return doc


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, types equal (a float 0.0 is not an int 0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return bool(a == b)


def _run(
    docs: list[dict[str, Any]], shortcut: bool, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Each message's outputs (or its error text), then the final state's bytes."""
    with monkeypatch.context() as m:
        if not shortcut:
            m.setattr(pipeline, "_push_one_minute", lambda days, msg: False)
        state = SubjectState.new()
        for doc in docs:
            try:
                out = step(state, decode(doc))
            except OutOfWindow as exc:
                yield ("refused", str(exc), exc.rule)
            else:
                yield (out.daily, out.alerts, out.notices)
        yield state.to_bytes()


def _assert_paths_agree(docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = list(_run(docs, True, monkeypatch))
    slow = list(_run(docs, False, monkeypatch))
    assert len(fast) == len(slow)
    for i, (f, s) in enumerate(zip(fast, slow, strict=True)):
        assert _same(f, s), f"message {i} differs"


def test_push_minute_keeps_the_larger_value_and_never_lets_a_missing_one_replace_a_value() -> None:
    days = SubjectDays()
    m = 29_000_000
    days.push_minute(m, 10.0, None, 0)
    days.push_minute(m, 4.0, 7, 0)  # smaller count: stays 10; first steps: 7
    days.push_minute(m, None, None, 0)  # nothing replaces anything
    days.push_minute(m, float("nan"), 3, 0)
    assert (float(days.counts[0]), float(days.steps[0])) == (10.0, 7.0)
    days.push_minute(m, 12.5, 9, 0)
    assert (float(days.counts[0]), float(days.steps[0])) == (12.5, 9.0)
    days.push_minute(m + 1, None, 2, 0)  # a minute with steps only: counts stay missing
    assert math.isnan(float(days.counts[1])) and float(days.steps[1]) == 2.0
    assert days.watermark_local == m + 2


def test_push_minute_keeps_the_stored_zero_on_a_tie_of_signed_zeros_as_fmax_does() -> None:
    for first, second in ((0.0, -0.0), (-0.0, 0.0)):
        a, b = SubjectDays(), SubjectDays()
        for v in (first, second):
            a.push_minute(29_000_000, v, None, 0)
            b.push_activity(29_000_000 * 60, 60, np.array([v]), None, 0)
        assert np.signbit(a.counts[0]) == np.signbit(b.counts[0]) == np.signbit(np.float32(first))
        assert a.to_bytes() == b.to_bytes()


def test_a_single_minute_in_a_closed_day_is_counted_late_and_not_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = [_doc(T0 + dt.timedelta(days=d), [5.0] * 1440) for d in range(3)]
    late = _doc(T0 + dt.timedelta(hours=5), [99.0])
    fast = list(_run([*day, late], True, monkeypatch))
    notices = fast[3][2]
    assert [(n["kind"], n["samples_not_applied"]) for n in notices] == [("late_data", 1)]
    _assert_paths_agree([*day, late], monkeypatch)


def test_single_minutes_outside_the_window_are_refused_with_the_general_paths_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _doc(T0, [1.0])
    ahead = _doc(T0 + dt.timedelta(days=pipeline.MAX_AHEAD_DAYS, minutes=1), [1.0])
    edge = _doc(T0 + dt.timedelta(days=pipeline.MAX_AHEAD_DAYS), [1.0])  # just inside
    fast = list(_run([first, ahead, edge], True, monkeypatch))
    assert fast[1][0] == "refused" and fast[1][2] == "ahead"
    assert "more than 62 days after" in fast[1][1]
    assert fast[2][0] != "refused"
    _assert_paths_agree([first, ahead, edge], monkeypatch)


minute_offsets = st.one_of(
    st.integers(-3 * 1440, 4 * 1440),  # around the open days, the closed ones
    st.sampled_from([-40 * 1440, 61 * 1440, 62 * 1440 - 1, 63 * 1440, 200 * 1440]),  # window
)
values = st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.0, 250.5]), st.floats(0, 1e6))
step_values = st.one_of(st.none(), st.integers(0, 1000))


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs = []
    for _ in range(draw(st.integers(1, 40))):
        start = T0 + dt.timedelta(minutes=draw(minute_offsets))
        tz = draw(st.sampled_from([0, 0, 60, -300, 840]))
        kind = draw(st.sampled_from(["counts", "steps", "both", "day", "seconds"]))
        if kind == "day":  # a whole day's batch: closes days through the general path
            docs.append(_doc(start, [draw(values)] * 1440, tz=tz))
        elif kind == "seconds":  # not on a whole minute: one minute epoch, general path too
            docs.append(_doc(start + dt.timedelta(seconds=17), [draw(values)], tz=tz))
        else:
            counts = [draw(values)] if kind != "steps" else None
            steps = [draw(step_values)] if kind != "counts" else None
            docs.append(_doc(start, counts, steps, tz=tz))
    return docs


@settings(max_examples=120, deadline=None, derandomize=True)
@given(docs=streams())
def test_any_stream_of_single_minutes_gives_the_general_paths_outputs_and_state(
    docs: list[dict[str, Any]],
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _assert_paths_agree(docs, monkeypatch)


# -- the schema's time rules: the float-seconds shortcut against the datetime checks ----

EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


def _decode_both(doc: dict[str, Any], now: dt.datetime | None) -> tuple[Any, Any]:
    def attempt() -> Any:
        try:
            return decode(doc, now=now).model_dump()
        except InputError as exc:
            return ("error", str(exc))

    fast = attempt()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ActivityBatch, "_span_s", lambda self: None)
        slow = attempt()
    return fast, slow


@pytest.mark.parametrize(
    "start, now, expected",
    [
        (EARLIEST, None, "ok"),  # the first instant allowed
        (EARLIEST - dt.timedelta(microseconds=1), None, "before 1990-01-01"),
        (EARLIEST + dt.timedelta(milliseconds=500), None, "ok"),
        (LATEST - dt.timedelta(minutes=1), None, "ok"),  # the last minute ends at LATEST
        (LATEST - dt.timedelta(seconds=59), None, "after 2200-01-01"),
        (LATEST - dt.timedelta(seconds=60, microseconds=-1), None, "after 2200-01-01"),
        (NOW + dt.timedelta(hours=24, minutes=-1), NOW, "ok"),  # ends exactly 24 h ahead
        (NOW + dt.timedelta(hours=24, minutes=-1, microseconds=1), NOW, "after the ingest"),
        (NOW + dt.timedelta(hours=23, minutes=59, seconds=30), NOW, "after the ingest"),
        (NOW, NOW.replace(tzinfo=None), "cannot be validated"),  # a naive clock: refused
    ],
)
def test_the_time_rules_hold_to_the_microsecond_at_every_limit(
    start: dt.datetime, now: dt.datetime | None, expected: str
) -> None:
    fast, slow = _decode_both(_doc(start, [1.0]), now)
    assert fast == slow
    if expected == "ok":
        assert fast["start"] == start
    else:
        assert fast[0] == "error" and expected in fast[1]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    start=st.one_of(
        st.datetimes(min_value=dt.datetime(1989, 12, 31, 23), max_value=dt.datetime(1990, 1, 1, 1)),
        st.datetimes(min_value=dt.datetime(2199, 12, 31, 23), max_value=dt.datetime(2200, 1, 1, 1)),
        st.datetimes(
            min_value=dt.datetime(2026, 11, 29, 11), max_value=dt.datetime(2026, 11, 29, 13)
        ),
    ),
    tz=st.sampled_from([0, 60, -300]),
    n=st.sampled_from([1, 2, 1440]),
    with_now=st.booleans(),
)
def test_near_any_limit_the_shortcut_and_the_datetime_checks_agree(
    start: dt.datetime, tz: int, n: int, with_now: bool
) -> None:
    aware = start.replace(tzinfo=dt.timezone(dt.timedelta(minutes=tz)))
    fast, slow = _decode_both(_doc(aware, [1.0] * n, tz=tz), NOW if with_now else None)
    assert fast == slow


def test_a_minute_behind_the_window_parts_under_a_new_utc_offset_rebuilds_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Days 0-2 closed at UTC+0; a sample at 23:30 UTC of day 2 with an offset of +14 h
    lies in open local day 3 but in grid minutes the 7-day window's parts were built on:
    the parts must be rebuilt, or day 3's window would miss it."""
    docs = [_doc(T0 + dt.timedelta(days=d), [float(10 + d)] * 1440) for d in range(3)]
    docs.append(_doc(T0 + dt.timedelta(days=3, minutes=-30), [900.0], tz=840))
    docs += [_doc(T0 + dt.timedelta(days=d), [float(10 + d)] * 1440, tz=840) for d in range(3, 6)]
    fast = list(_run(docs, True, monkeypatch))
    assert fast[3][0] != "refused" and fast[3][2] == []  # applied: not refused, not late
    _assert_paths_agree(docs, monkeypatch)

"""``pipeline.step`` message by message, with the expected closings computed by hand.

Days close when the subject's event-time watermark has passed the day's end plus the grace
period (36 h): after a message covering local day i entirely, the watermark is the end of
day i, so days up to i - 2 are closed (day i - 1 ends 24 h before the watermark, < 36 h).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import numpy as np
import pytest

from phenotyping.errors import StateError
from phenotyping.events import decode
from phenotyping.pipeline import Pipeline, SubjectState, idle, idle_for, step
from phenotyping.risk.engine import ordinal

D0 = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)  # a Monday, UTC midnight
_IDS = itertools.count()


def base(subject: str = "s1", **kw: Any) -> dict[str, Any]:
    return {
        "event_id": f"e-{next(_IDS)}",
        "subject_id": subject,
        "source": "t",
        "tz_offset_min": 0,
        **kw,
    }


def day_msg(i: int, subject: str = "s1", minutes: int = 1440) -> Any:
    rng = np.random.default_rng(i)
    counts = np.where(
        np.arange(minutes) % 1440 < 420, rng.integers(0, 4, minutes), rng.integers(80, 400, minutes)
    ).astype(float)
    return decode(
        base(
            subject,
            type="activity",
            start=(D0 + dt.timedelta(days=i)).isoformat(),
            epoch_s=60,
            counts=counts.tolist(),
        )
    )


def iso(i: int) -> str:
    return (D0 + dt.timedelta(days=i)).date().isoformat()


def test_days_close_after_the_grace_period_then_at_recording_end() -> None:
    state = SubjectState.new()
    closed = [[r["date"] for r in step(state, day_msg(i)).daily] for i in range(5)]
    assert closed == [[], [], [iso(0)], [iso(1)], [iso(2)]]
    end = decode(base(type="recording_end", at=(D0 + dt.timedelta(days=5)).isoformat()))
    rows = step(state, end).daily
    assert [r["date"] for r in rows] == [iso(3), iso(4)]
    assert all(r["subject_id"] == "s1" and "risk_level" in r for r in rows)


def test_late_data_is_counted_and_named_never_applied() -> None:
    state = SubjectState.new()
    for i in range(4):
        step(state, day_msg(i))  # days 0 and 1 closed
    late = decode(
        base(
            type="activity",
            start=(D0 + dt.timedelta(hours=3)).isoformat(),
            epoch_s=60,
            counts=[5.0] * 90,
        )
    )
    out = step(state, late)
    assert out.daily == []
    assert out.notices == [
        {
            "type": "notice",
            "subject_id": "s1",
            "kind": "late_data",
            "event_id": late.event_id,
            "samples_not_applied": 90,
            "closed_through": iso(1),
        }
    ]
    again = step(state, day_msg(4))  # an on-time message gives no late notice
    assert [n["kind"] for n in again.notices if n["kind"] == "late_data"] == []


@pytest.mark.parametrize(
    ("at", "offset", "local_date"),
    [
        ("2024-03-10T23:30:00+00:00", 120, "2024-03-11"),  # already tomorrow in UTC+2
        ("2024-03-11T02:00:00+00:00", -300, "2024-03-10"),  # still yesterday in UTC-5
        ("2024-03-11T00:00:00+00:00", 0, "2024-03-11"),
    ],
)
def test_clinical_event_counts_at_its_local_date(at: str, offset: int, local_date: str) -> None:
    state = SubjectState.new()
    msg = decode(
        base(
            type="clinical",
            at=at,
            tz_offset_min=offset,
            kind="treatment_session",
            modality="ketamine",
        )
    )
    out = step(state, msg)
    assert out.daily == [] and out.notices == []
    assert state.risk.last_session == ordinal(local_date)
    assert state.risk.last_session_modality == "ketamine"


def test_clinical_response_notice_is_tagged_with_the_subject() -> None:
    state = SubjectState.new()
    c = dict(type="clinical", tz_offset_min=0)
    step(
        state,
        decode(
            base(
                **c,
                at="2024-03-01T09:00:00+00:00",
                kind="self_report",
                instrument="PHQ-9",
                score=20,
            )
        ),
    )
    step(
        state,
        decode(base(**c, at="2024-03-02T09:00:00+00:00", kind="treatment_session", modality="tms")),
    )
    out = step(
        state,
        decode(
            base(
                **c, at="2024-03-20T09:00:00+00:00", kind="self_report", instrument="PHQ-9", score=9
            )
        ),
    )
    assert out.notices == [
        {
            "type": "notice",
            "subject_id": "s1",
            "kind": "response_detected",
            "date": "2024-03-20",
            "config_version": state.risk.version,
        }
    ]


def test_device_sleep_episode_minutes_are_floored() -> None:
    state = SubjectState.new()
    for i in range(2):
        step(state, day_msg(i))
    ep = decode(
        base(
            type="sleep",
            start="2024-03-04T22:30:59+00:00",
            end="2024-03-05T06:15:30+00:00",
            is_main_sleep=True,
            tst_min=400,
        )
    )
    step(state, ep)
    rows = {
        r["date"]: r
        for r in step(
            state, decode(base(type="recording_end", at="2024-03-06T00:00:00+00:00"))
        ).daily
    }
    night = rows["2024-03-05"]
    assert night["device_sleep_onset_clock_min"] == 22 * 60 + 30
    assert night["device_sleep_offset_clock_min"] == 6 * 60 + 15
    assert night["device_sleep_tib_min"] == 465.0
    assert night["device_sleep_tst_min"] == 400.0


def test_heartbeat_message_reaches_the_night() -> None:
    state = SubjectState.new()
    for i in range(2):
        step(state, day_msg(i))
    t0 = D0 + dt.timedelta(days=1, hours=1)
    for k in range(60):  # 1-5 am of day 1: 60 bursts of 4 minutes of RR at 1000 +- 20 ms
        rr = (1000 + 20 * np.sin(np.arange(240))).round(3).tolist()
        step(
            state,
            decode(
                base(
                    type="heartbeat",
                    first_beat=(t0 + dt.timedelta(minutes=4 * k)).isoformat(),
                    rr_ms=rr,
                )
            ),
        )
    rows = {
        r["date"]: r
        for r in step(
            state, decode(base(type="recording_end", at="2024-03-06T00:00:00+00:00"))
        ).daily
    }
    night = rows[iso(1)]
    assert night["night_n_beats"] > 1000 and night["hrv_valid"] is True
    assert night["night_mean_nn"] == pytest.approx(1000, abs=2)


def test_idle_closes_overdue_days_without_data() -> None:
    state = SubjectState.new()
    step(state, day_msg(0))
    now = int((D0 + dt.timedelta(days=4)).timestamp()) // 60
    # now = end of day 3: days through 3 - 2 = 1 are overdue; day 1 has no data at all
    rows = idle("s1", state, now).daily
    assert [r["date"] for r in rows] == [iso(0), iso(1)]
    assert rows[1]["observed_min"] == 0 and rows[1]["valid"] is False


def test_state_round_trip_and_refusals() -> None:
    state = SubjectState.new()
    step(state, day_msg(0))
    again = SubjectState.from_bytes(state.to_bytes())
    assert again.to_bytes() == state.to_bytes()
    raw = state.to_bytes()
    with pytest.raises(StateError, match="too short"):
        SubjectState.from_bytes(raw[:7])
    for magic in (b"XXXX", b"AAAA", b"PHSR", b"PHST"):  # after and before b"PHSS"
        with pytest.raises(StateError, match="bad magic"):
            SubjectState.from_bytes(magic + raw[4:])
    with pytest.raises(StateError, match="unknown version 2"):
        SubjectState.from_bytes(raw[:4] + (2).to_bytes(2, "little") + raw[6:])
    with pytest.raises(StateError, match="trailing bytes"):
        SubjectState.from_bytes(raw + b"\x00")


def test_pipeline_keeps_subjects_apart_and_flushes_in_order() -> None:
    p = Pipeline()
    msgs = [day_msg(0, "b"), day_msg(0, "a"), day_msg(1, "a")]
    rows = list(p.run(msgs))
    assert [(r["subject_id"], r["date"]) for r in rows] == [
        ("a", iso(0)),
        ("a", iso(1)),
        ("b", iso(0)),
    ]
    assert sorted(p.store) == ["a", "b"]


def test_state_header_is_the_documented_one() -> None:
    """Magic, version 1 and two parts, little-endian: a stored state stays readable."""
    raw = SubjectState.new().to_bytes()
    assert raw[:8] == b"PHSS\x01\x00\x02\x00"
    for head in (b"PHSS\x00\x00\x02\x00", b"PHSS\x01\x00\x01\x00", b"PHSS\x01\x00\x03\x00"):
        with pytest.raises(StateError, match="unknown version"):
            SubjectState.from_bytes(head + raw[8:])


@pytest.mark.parametrize(
    ("silent_min", "closed"), [(0, []), (2159, []), (2160, [0]), (3600, [0, 1])]
)
def test_idle_for_moves_event_time_on_by_the_silence(silent_min: int, closed: list[int]) -> None:
    """(Fourth mutation round.) Data up to the end of day 0 (UTC+0), then silence. A day
    closes 36 h after its end: day 0 after 1.5 days = 2160 min of silence, day 1 after
    2.5 days = 3600 min. A subject without any data gets nothing, whatever the silence."""
    state = SubjectState.new()
    step(state, day_msg(0))
    rows = idle_for("s1", state, silent_min).daily
    assert [r["date"] for r in rows] == [iso(i) for i in closed]
    assert idle_for("s2", SubjectState.new(), 10_000).daily == []


def test_an_out_of_window_message_names_the_day_of_the_latest_data() -> None:
    """(Fourth mutation round.) Data of day 0 end exactly at midnight: the latest data are
    of day 0, not of day 1 (the reference is the END of the latest minute). A message 70
    days later or earlier is refused naming day 0."""
    from phenotyping.pipeline import OutOfWindow, apply, check_window

    state = SubjectState.new()
    apply(state.days, day_msg(0))
    for far in (70, -70):  # ahead, behind
        start = (D0 + dt.timedelta(days=far)).isoformat()
        msg = decode(base(type="activity", start=start, epoch_s=60, counts=[1.0] * 60))
        with pytest.raises(OutOfWindow, match=rf"subject's latest data \({iso(0)}\); not"):
            check_window(state.days, msg)


def test_a_feedback_until_reaches_the_engine_as_that_local_date() -> None:
    """(Fourth mutation round.) A feedback event's ``until`` is a local date: the
    ``feedback_applied`` notice says the reason applies until exactly that date."""
    state = SubjectState.new()
    for i in range(3):
        step(state, day_msg(i))
    until = (D0 + dt.timedelta(days=9)).date()
    ev = decode(
        base(
            type="clinical",
            at=(D0 + dt.timedelta(days=3)).isoformat(),
            kind="feedback",
            reason="holiday_travel",
            until=until.isoformat(),
        )
    )
    (n,) = [n for n in step(state, ev).notices if n["kind"] == "feedback_applied"]
    assert (n["applies_from"], n["applies_until"]) == (iso(3), iso(9))


def test_a_state_whose_hrv_arrays_differ_in_length_is_refused() -> None:
    """(Fourth mutation round.) Untrusted state bytes: the four parallel HRV arrays must
    have one length -- here the burst keys are missing for one stored bin."""
    state = SubjectState.new()
    d = state.days
    d.hrv_bin = np.zeros(1, d.hrv_bin.dtype)
    d.hrv_off = np.zeros(1, d.hrv_off.dtype)
    d.hrv_sums = np.zeros(1, d.hrv_sums.dtype)
    with pytest.raises(StateError, match=r"corrupt \(HRV arrays differ in length\)"):
        SubjectState.from_bytes(state.to_bytes())

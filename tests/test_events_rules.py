"""Every validation rule of ``events.py``, one test each, at its boundary on both sides.

A rule is checked by a message that breaks ONLY that rule (the error must name the field
and the rule) and by the same message just inside the limit (accepted), so deleting or
loosening any one rule fails exactly its test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from phenotyping.errors import InputError
from phenotyping.events import (
    EARLIEST,
    EPOCHS_S,
    MAX_FUTURE,
    MAX_SAMPLES,
    MAX_SPAN,
    ActivityBatch,
    ClinicalEvent,
    HeartBeatBatch,
    SleepEpisode,
    decode,
)

T = dt.datetime(2024, 5, 6, 22, 0, tzinfo=dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat()


def base(**kw: Any) -> dict[str, Any]:
    return {"event_id": "e-1", "subject_id": "s01", "source": "test", "tz_offset_min": 120, **kw}


def activity(**kw: Any) -> dict[str, Any]:
    return {**base(type="activity", start=iso(T), epoch_s=60, counts=[1.0, 2.0]), **kw}


def sleep(minutes: float, **kw: Any) -> dict[str, Any]:
    return base(
        type="sleep",
        start=iso(T),
        end=iso(T + dt.timedelta(minutes=minutes)),
        is_main_sleep=True,
        **kw,
    )


def rejects(raw: dict[str, Any] | str, field: str, words: str, **kw: Any) -> None:
    with pytest.raises(InputError) as err:
        decode(raw, **kw)
    text = str(err.value)
    assert text.startswith(field) or f"{field}:" in text or f".{field}" in text, text
    assert words in text, text


# ----------------------------------------------------------------------- constants
def test_limits_are_the_documented_ones() -> None:
    """Independent statement of the spec: a change to a limit must be deliberate."""
    assert MAX_SAMPLES == 7 * 24 * 3600
    assert MAX_SPAN == dt.timedelta(days=7)
    assert MAX_FUTURE == dt.timedelta(hours=24)
    assert EARLIEST == dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
    assert EPOCHS_S == (1, 2, 5, 10, 15, 20, 30, 60)


# ----------------------------------------------------------------------- time rules
def test_earliest_instant() -> None:
    rejects(activity(start=iso(EARLIEST - dt.timedelta(minutes=1))), "time", "before 1990-01-01")
    assert decode(activity(start=iso(EARLIEST))).span()[0] == EARLIEST


def test_max_span_of_one_batch() -> None:
    week = 7 * 24 * 60
    assert isinstance(decode(activity(counts=[1.0] * week)), ActivityBatch)  # exactly 7 days
    rejects(activity(counts=[1.0] * (week + 1)), "time", "more than 7 days")


def test_max_span_applies_to_heart_beats() -> None:
    hb = base(type="heartbeat", first_beat=iso(T))
    assert decode({**hb, "rr_ms": [50_000.0] * (7 * 24 * 72)})  # 7 days exactly
    rejects({**hb, "rr_ms": [50_000.0] * (7 * 24 * 72 + 1)}, "time", "more than 7 days")


def test_max_future_relative_to_the_ingest_time() -> None:
    end = T + dt.timedelta(minutes=2)
    now = end - MAX_FUTURE
    assert decode(activity(), now=now)  # last sample exactly 24 h after "now"
    rejects(activity(), "time", "after the ingest time", now=now - dt.timedelta(seconds=1))
    assert decode(activity(), now=None)  # replays pass no clock: rule not applied


def test_recording_end_and_clinical_obey_the_time_rules() -> None:
    rejects(base(type="recording_end", at="1970-01-01T00:00:00+00:00"), "time", "before")
    rejects(
        base(type="clinical", at=iso(T), kind="response"),
        "time",
        "after the ingest",
        now=T - MAX_FUTURE - dt.timedelta(seconds=1),
    )


# ----------------------------------------------------------------------- activity
def test_max_samples_per_array() -> None:
    one_s = dict(start=iso(T), epoch_s=1)
    assert decode(base(type="activity", counts=[0.0] * MAX_SAMPLES, **one_s))
    rejects(
        base(type="activity", counts=[0.0] * (MAX_SAMPLES + 60), **one_s),
        "counts",
        "at most 604800",
    )
    rejects(
        base(type="activity", steps=[0] * (MAX_SAMPLES + 60), **one_s), "steps", "at most 604800"
    )
    hb = base(type="heartbeat", first_beat=iso(T))
    rejects({**hb, "rr_ms": [1.0] * (MAX_SAMPLES + 1)}, "rr_ms", "at most 604800")


@pytest.mark.parametrize("epoch", EPOCHS_S)
def test_every_listed_epoch_is_accepted(epoch: int) -> None:
    assert decode(activity(epoch_s=epoch, counts=[1.0] * (60 // epoch))).epoch_s == epoch


@pytest.mark.parametrize("epoch", [0, 3, 7, 45, 61, 120])
def test_other_epochs_are_rejected(epoch: int) -> None:
    rejects(activity(epoch_s=epoch, counts=[1.0] * 60), "epoch_s", "Input should be")


def test_sub_minute_batch_starts_on_a_whole_minute_and_covers_whole_minutes() -> None:
    rejects(
        activity(epoch_s=15, counts=[1.0] * 4, start=iso(T + dt.timedelta(seconds=15))),
        "start",
        "whole minute",
    )
    rejects(activity(epoch_s=15, counts=[1.0] * 5), "counts/steps", "whole minutes")
    assert decode(activity(epoch_s=15, counts=[1.0] * 8))
    assert decode(activity(epoch_s=60, counts=[1.0], start=iso(T + dt.timedelta(seconds=15))))


def test_counts_or_steps_required_non_empty_and_equal_length() -> None:
    raw = activity()
    del raw["counts"]
    rejects(raw, "counts/steps", "at least one of them")
    rejects(activity(counts=[]), "counts/steps", "at least one epoch")
    rejects(activity(steps=[1]), "steps", "differs from counts length")
    assert decode(activity(steps=[1, None]))
    assert decode({**raw, "steps": [3]})


def test_counts_and_steps_ranges() -> None:
    rejects(activity(counts=[-0.5, 1.0]), "counts.0", "greater than or equal to 0")
    rejects(activity(counts=["NaN", 1.0]), "counts.0", "finite")
    rejects(activity(counts=[1.0, "Infinity"]), "counts.1", "finite")
    rejects(activity(steps=[0, 1001]), "steps.1", "less than or equal to 1000")
    rejects(activity(steps=[-1, 0]), "steps.0", "greater than or equal to 0")
    assert decode(activity(counts=[0.0, None], steps=[1000, None]))


# ----------------------------------------------------------------------- heart beats
def test_rr_interval_bounds_are_exclusive() -> None:
    hb = base(type="heartbeat", first_beat=iso(T))
    rejects({**hb, "rr_ms": [0.0]}, "rr_ms.0", "greater than 0")
    rejects({**hb, "rr_ms": [60_000.0]}, "rr_ms.0", "less than 60000")
    rejects({**hb, "rr_ms": []}, "rr_ms", "at least 1")
    assert isinstance(decode({**hb, "rr_ms": [0.001, 59_999.9]}), HeartBeatBatch)


# ----------------------------------------------------------------------- sleep
def test_sleep_episode_end_after_start() -> None:
    rejects(sleep(0), "end", "after start")
    rejects(sleep(-5), "end", "after start")


def test_sleep_episode_at_most_24_hours() -> None:
    assert isinstance(decode(sleep(1440)), SleepEpisode)
    rejects(sleep(1441), "end", "more than 24 h")


def test_sleep_tst_within_the_episode() -> None:
    assert decode(sleep(480, tst_min=480))
    rejects(sleep(480, tst_min=481), "tst_min", "longer than the episode")


def test_sleep_stages_must_cover_the_episode() -> None:
    """Within one epoch: 480 min = 960 epochs of 30 s; 959 or 961 still cover it."""
    for n in (959, 960, 961):
        assert decode(sleep(480, stages={"epoch_s": 30, "stages": ["light"] * n}))
    for n in (958, 962, 480):
        rejects(
            sleep(480, stages={"epoch_s": 30, "stages": ["light"] * n}),
            "stages",
            "do not cover the episode",
        )


def test_sleep_summary_ranges() -> None:
    rejects(sleep(480, efficiency_pct=100.5), "efficiency_pct", "less than or equal to 100")
    rejects(sleep(480, waso_min=-1), "waso_min", "greater than or equal to 0")
    rejects(
        sleep(480, stages={"epoch_s": 30, "stages": ["dozing"] * 960}),
        "stages.stages.0",
        "Input should be",
    )


# ----------------------------------------------------------------------- clinical
def test_clinical_treatment_session_needs_modality() -> None:
    c = base(type="clinical", at=iso(T), kind="treatment_session")
    rejects(c, "modality", "required for a treatment_session")
    assert isinstance(decode({**c, "modality": "ketamine"}), ClinicalEvent)


@pytest.mark.parametrize(("instrument", "hi"), [("PHQ-9", 27), ("MADRS", 60), ("mood_0_10", 10)])
def test_clinical_self_report_score_ranges(instrument: str, hi: int) -> None:
    c = base(type="clinical", at=iso(T), kind="self_report", instrument=instrument)
    assert decode({**c, "score": hi}) and decode({**c, "score": 0})
    rejects({**c, "score": hi + 0.5}, "score", f"within 0..{hi}")
    rejects({**c, "score": -1}, "score", "greater than or equal to 0")
    rejects(c, "instrument/score", "both required")


@pytest.mark.parametrize("kind", ["course_end", "response", "medication_change"])
def test_clinical_kinds_without_extra_fields(kind: str) -> None:
    assert decode(base(type="clinical", at=iso(T), kind=kind)).kind == kind


# ----------------------------------------------------------------------- envelope
@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"subject_id": "Jane Doe"}, "subject_id", "should match pattern"),
        ({"subject_id": "x" * 65}, "subject_id", "should match pattern"),
        ({"event_id": "a b"}, "event_id", "should match pattern"),
        ({"tz_offset_min": 841}, "tz_offset_min", "less than or equal to 840"),
        ({"tz_offset_min": -721}, "tz_offset_min", "greater than or equal to -720"),
        ({"source": ""}, "source", "at least 1"),
        ({"note": "free text"}, "note", "Extra inputs are not permitted"),
        ({"version": 2}, "version", "unsupported version 2"),
        ({"start": "2024-05-06T22:00:00"}, "start", "timezone"),
    ],
)
def test_envelope_rules(change: dict[str, Any], field: str, words: str) -> None:
    rejects({**activity(), **change}, field, words)


def test_boundaries_of_the_envelope_are_accepted() -> None:
    assert decode(activity(tz_offset_min=840)) and decode(activity(tz_offset_min=-720))
    assert decode(
        base(type="activity", start=iso(T), epoch_s=60, counts=[1.0], subject_id="A" * 64)
    )


def test_not_json_and_not_an_object() -> None:
    rejects("{not json", "message", "not valid JSON")
    rejects("[1, 2]", "message", "must be a JSON object")
    rejects({"type": "weather"}, "message", "'type' does not match any of the expected tags")


def test_messages_are_frozen_and_stripped() -> None:
    msg = decode(activity(subject_id="  s01 ", source=" watch "))
    assert (msg.subject_id, msg.source) == ("s01", "watch")
    with pytest.raises(Exception, match="frozen"):
        msg.subject_id = "s02"  # type: ignore[misc]


def test_steps_longer_than_counts_is_rejected_too() -> None:
    rejects(activity(counts=[1.0], steps=[1, 2]), "steps", "differs from counts length")


def test_episode_limit_counts_seconds() -> None:
    rejects(sleep(1440.5), "end", "more than 24 h")  # 24 h 30 s


# ------------------------------------------------------------- feedback period bounds
def feedback(until: str) -> dict[str, Any]:
    return base(type="clinical", at=iso(T), kind="feedback", reason="illness", until=until)


def test_a_feedback_period_ends_at_most_91_days_after_the_acknowledgement() -> None:
    # T is 2024-05-06: 91 days later is 2024-08-05; a past until (an old alert
    # acknowledged late, e.g. in a replayed study) only explains past days and is accepted
    for ok in ("2024-08-05", "2024-05-06", "2022-01-01"):
        assert decode(feedback(ok)).until == dt.date.fromisoformat(ok)  # type: ignore[union-attr]
    for bad in ("2024-08-06", "2300-01-01"):
        rejects(feedback(bad), "until", "at most 91 days after the acknowledgement")


# ------------------------------------------------------------- fourth mutation round


@pytest.mark.parametrize(
    ("instrument", "lo", "hi"),
    [
        ("pmsys_mood_1_5", 1, 5),
        ("pmsys_stress_1_5", 1, 5),
        ("pmsys_fatigue_1_5", 1, 5),
        ("pmsys_sleep_quality_1_5", 1, 5),
        ("pmsys_readiness_0_10", 0, 10),
    ],
)
def test_pmsys_answers_are_accepted_on_their_whole_scale(instrument: str, lo: int, hi: int) -> None:
    """PMSys (PMData) answers as given: 1-5 scales (0 is no answer) and a 0-10 scale, both
    ends accepted, one step beyond either refused."""
    c = base(type="clinical", at=iso(T), kind="self_report", instrument=instrument)
    assert decode({**c, "score": lo}) and decode({**c, "score": hi})
    rejects({**c, "score": hi + 1}, "score", f"within {lo}..{hi}")
    if lo > 0:
        rejects({**c, "score": lo - 1}, "score", f"within {lo}..{hi}")


def test_nothing_after_2200_is_accepted() -> None:
    """``LATEST``: a batch ending exactly at 2200-01-01 00:00 UTC is accepted, one minute
    later is a device-clock error (``now`` set past it, so the future rule is not what
    refuses it)."""
    now = dt.datetime(2200, 1, 2, tzinfo=dt.UTC)
    end = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
    ok = activity(start=iso(end - dt.timedelta(minutes=2)), counts=[1.0, 2.0])
    assert decode(ok, now=now)
    late = activity(start=iso(end - dt.timedelta(minutes=1)), counts=[1.0, 2.0])
    rejects(late, "time", "is after 2200-01-01 (device clock?)", now=now)


def test_sleep_stages_are_frozen_like_the_message() -> None:
    msg = decode(sleep(480, stages={"epoch_s": 30, "stages": ["light"] * 960}))
    with pytest.raises(Exception, match="frozen"):
        msg.stages.epoch_s = 60  # type: ignore[union-attr, misc]

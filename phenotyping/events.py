"""Wire messages: what wearables and phones publish, validated with pydantic v2.

Every message is **batch-shaped**: one message carries an array of samples (a single
reading is a batch of one), because devices sync in bursts and because per-message
overhead in a stream worker costs ~40x the decoding of one sample.

Every message has

* ``type`` and ``version`` -- the schema name and its version (``"activity"``, ``1``);
* ``event_id`` -- chosen by the producer and stable across re-uploads of the same data,
  so that a re-upload is idempotent;
* ``subject_id`` -- a pseudonymous id (letters, digits, ``._-``; never a name or MRN);
* ``source`` -- the device or app that measured it;
* ``tz_offset_min`` -- the subject's UTC offset in minutes *for the samples of this
  message*, so that days are cut on the subject's local time. A producer whose batch
  crosses a daylight-saving change splits the batch there.

Validation rejects what is malformed or physically impossible and names the field and
the rule (:class:`phenotyping.errors.InputError`). Deliberately *not* rejected: RR
intervals outside 250-2500 ms. They are real recordings of artefacts and ectopic beats;
the HRV artefact filter removes them and reports the fraction edited (the schema only
rejects RR <= 0 or >= 60 s, which no heart produces).

This module imports pydantic, orjson and the standard library only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from phenotyping.errors import InputError

#: Largest number of samples one message may carry (7 days of 1-s epochs is 604,800).
MAX_SAMPLES = 604_800
#: Largest span of time one message may cover.
MAX_SPAN = dt.timedelta(days=7)
#: How far in the future (relative to the ``now`` the caller passes in) a sample may lie.
MAX_FUTURE = dt.timedelta(hours=24)
#: Nothing before this instant is accepted (catches zeroed device clocks).
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
#: Nothing after this instant is accepted (catches garbage dates such as 9999-12-31, which
#: would overflow the date arithmetic and pandas' nanosecond timestamps).
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
#: Largest activity count one epoch may carry: far above any device's counts (Actiwatch and
#: ActiGraph counts per minute stay below ~10^5), far below float32's range, so a count can
#: never become infinite inside the engine.
MAX_COUNT = 1_000_000.0
#: Epoch lengths (seconds) an activity batch may use: they tile a minute, or are one minute.
EPOCHS_S = (1, 2, 5, 10, 15, 20, 30, 60)

# the limits above in POSIX seconds, a second inside them (:meth:`_Message._plausible_time`)
_EARLIEST_S = EARLIEST.timestamp() + 1.0
_LATEST_S = LATEST.timestamp() - 1.0
_MAX_SPAN_S = MAX_SPAN.total_seconds() - 1.0
_MAX_FUTURE_S = MAX_FUTURE.total_seconds() - 1.0

SubjectId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="pseudonymous id")]
EventId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
TzOffset = Annotated[
    int,
    Field(ge=-720, le=840, description="subject's UTC offset in minutes for these samples"),
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    event_id: EventId
    subject_id: SubjectId
    source: Annotated[str, Field(min_length=1, max_length=128)]
    tz_offset_min: TzOffset

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        """First and last instant this message covers."""
        raise NotImplementedError

    def _span_s(self) -> tuple[float, float] | None:
        """:meth:`span` as POSIX seconds, when a type can give it without building
        datetimes (None: it cannot; only :meth:`_plausible_time`'s shortcut uses it)."""
        return None

    @model_validator(mode="after")
    def _plausible_time(self, info: ValidationInfo) -> _Message:
        now = (info.context or {}).get("now") if info is not None else None
        bounds = self._span_s()
        if bounds is not None:
            # the shortcut of a single sample: every rule holds with a second to spare
            # (float seconds are exact to far below that), so the exact checks below
            # could not fail; anything nearer a limit takes them and gets their message
            first_s, last_s = bounds
            if (
                _EARLIEST_S < first_s
                and last_s < _LATEST_S
                and last_s - first_s < _MAX_SPAN_S
                and (
                    now is None
                    or (now.tzinfo is not None and last_s < now.timestamp() + _MAX_FUTURE_S)
                )
            ):
                return self
        try:
            first, last = self.span()
        except OverflowError:
            raise ValueError(f"time: later than {LATEST.date()} (out of range)") from None
        if last > LATEST:
            raise ValueError(f"time: {last.isoformat()} is after {LATEST.date()} (device clock?)")
        if first < EARLIEST:
            raise ValueError(
                f"time: {first.isoformat()} is before {EARLIEST.date()} (device clock?)"
            )
        if last - first > MAX_SPAN:
            raise ValueError(f"time: batch spans {last - first}, more than {MAX_SPAN.days} days")
        if now is not None and last > now + MAX_FUTURE:
            raise ValueError(
                f"time: {last.isoformat()} is more than {MAX_FUTURE} after the ingest time"
            )
        return self


class ActivityBatch(_Message):
    """Activity counts and/or steps per epoch, starting at ``start``.

    Missing epochs are ``null``. Counts are device-specific units (Actiwatch counts,
    ActiGraph Axis1 counts...); ``source`` says which.
    """

    type: Literal["activity"] = "activity"
    version: Literal[1] = 1
    start: AwareDatetime = Field(
        description="instant the first epoch starts (RFC 3339 with offset)"
    )
    epoch_s: Literal[1, 2, 5, 10, 15, 20, 30, 60] = Field(description="epoch length in seconds")
    counts: list[Annotated[float, Field(ge=0, le=MAX_COUNT, allow_inf_nan=False)] | None] | None = (
        Field(
            default=None,
            max_length=MAX_SAMPLES,
            description=f"activity counts per epoch (0..{MAX_COUNT:g})",
        )
    )
    steps: list[Annotated[int, Field(ge=0, le=1000)] | None] | None = Field(
        default=None, max_length=MAX_SAMPLES, description="steps per epoch (0..1000)"
    )

    @model_validator(mode="after")
    def _arrays(self) -> ActivityBatch:
        counts, steps = self.counts, self.steps
        if counts is None and steps is None:
            raise ValueError("counts/steps: at least one of them is required")
        n = self.n_epochs
        if not n:
            raise ValueError("counts/steps: a batch needs at least one epoch")
        if counts is not None and steps is not None:
            if len(counts) != len(steps):
                raise ValueError(
                    f"steps: length {len(steps)} differs from counts length {len(counts)}"
                )
        if self.epoch_s < 60:
            # sub-minute epochs are summed into minutes: a minute split over two messages
            # could not be merged exactly, so a message covers whole minutes (pad with null)
            if self.start.second or self.start.microsecond:
                raise ValueError("start: with epoch_s < 60 a batch must start on a whole minute")
            if (n * self.epoch_s) % 60:
                raise ValueError("counts/steps: with epoch_s < 60 a batch must cover whole minutes")
        return self

    @property
    def n_epochs(self) -> int:
        arr = self.counts if self.counts is not None else self.steps
        return len(arr) if arr is not None else 0

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.start, self.start + dt.timedelta(seconds=self.epoch_s * max(self.n_epochs, 1))

    def _span_s(self) -> tuple[float, float]:
        first = self.start.timestamp()
        return first, first + self.epoch_s * max(self.n_epochs, 1)


class HeartBeatBatch(_Message):
    """Beat-to-beat (RR) intervals of one contiguous recording burst.

    Beat 0 occurs at ``first_beat``; ``rr_ms[i]`` is the interval that *ends* at beat
    ``i + 1``, which therefore occurs at ``first_beat + sum(rr_ms[: i + 1])``.
    """

    type: Literal["heartbeat"] = "heartbeat"
    version: Literal[1] = 1
    first_beat: AwareDatetime = Field(description="instant of the first beat")
    rr_ms: list[Annotated[float, Field(gt=0, lt=60_000, allow_inf_nan=False)]] = Field(
        min_length=1, max_length=MAX_SAMPLES, description="RR intervals in ms (0 < rr < 60000)"
    )

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.first_beat, self.first_beat + dt.timedelta(milliseconds=sum(self.rr_ms))


SleepStage = Literal["wake", "light", "deep", "rem", "asleep", "restless", "unknown"]
#: Per-stage minutes a device may report (Fitbit ``stages``: deep/light/rem/wake; Fitbit
#: ``classic``: asleep/restless/awake).
StageName = Literal["wake", "light", "deep", "rem", "asleep", "restless", "awake"]


class SleepStages(BaseModel):
    """Per-epoch sleep stages from ``start`` of the episode."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    epoch_s: Annotated[int, Field(ge=1, le=3600)]
    stages: list[SleepStage] = Field(min_length=1, max_length=MAX_SAMPLES)


class SleepEpisode(_Message):
    """A sleep episode as a device reports it (its own algorithm, not ours)."""

    type: Literal["sleep"] = "sleep"
    version: Literal[1] = 1
    start: AwareDatetime = Field(description="in-bed / episode start")
    end: AwareDatetime = Field(description="out-of-bed / episode end")
    is_main_sleep: bool = Field(description="the device's main sleep of the night (not a nap)")
    tst_min: Annotated[float, Field(ge=0, le=1440)] | None = None
    waso_min: Annotated[float, Field(ge=0, le=1440)] | None = None
    latency_min: Annotated[float, Field(ge=0, le=1440)] | None = None
    efficiency_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    time_in_bed_min: Annotated[float, Field(ge=0, le=1440)] | None = Field(
        default=None, description="the device's time in bed (Fitbit timeInBed)"
    )
    after_wakeup_min: Annotated[float, Field(ge=0, le=1440)] | None = Field(
        default=None, description="minutes awake in bed after the final awakening"
    )
    stage_min: dict[StageName, Annotated[float, Field(ge=0, le=1440)]] | None = Field(
        default=None, description="the device's own minutes per stage"
    )
    stages: SleepStages | None = None

    @model_validator(mode="after")
    def _order(self) -> SleepEpisode:
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        minutes = (self.end - self.start).total_seconds() / 60
        if minutes > 1440:
            raise ValueError(f"end: episode lasts {minutes:.0f} min, more than 24 h")
        if self.tst_min is not None and self.tst_min > minutes + 1e-9:
            raise ValueError("tst_min: longer than the episode")
        if self.stages is not None:
            covered = self.stages.epoch_s * len(self.stages.stages)
            if abs(covered - minutes * 60) > self.stages.epoch_s:
                raise ValueError(
                    f"stages: {len(self.stages.stages)} epochs of {self.stages.epoch_s} s "
                    f"do not cover the episode ({minutes:.0f} min)"
                )
        return self

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.start, self.end


Modality = Literal["ketamine", "esketamine", "tms", "ect", "psilocybin", "other"]
Instrument = Literal[
    "PHQ-9",
    "MADRS",
    "mood_0_10",
    "pmsys_mood_1_5",
    "pmsys_stress_1_5",
    "pmsys_fatigue_1_5",
    "pmsys_sleep_quality_1_5",
    "pmsys_readiness_0_10",
]
_SCORE_RANGE = {
    "PHQ-9": (0, 27),
    "MADRS": (0, 60),
    "mood_0_10": (0, 10),
    # PMSys daily wellness (PMData): the answers as given, not re-oriented (each scale's
    # wording is PMSys's, see the PMData paper); 0 on a 1-5 scale is not an answer
    "pmsys_mood_1_5": (1, 5),
    "pmsys_stress_1_5": (1, 5),
    "pmsys_fatigue_1_5": (1, 5),
    "pmsys_sleep_quality_1_5": (1, 5),
    "pmsys_readiness_0_10": (0, 10),
}
FeedbackReason = Literal[
    "contacted_deteriorating",
    "contacted_fine",
    "holiday_travel",
    "illness",
    "device_problem",
    "other",
]


class ClinicalEvent(_Message):
    """Something the clinic knows: a treatment session, a response, a medication change, or
    a self-reported score. Free text is deliberately absent (it would carry health data
    into places that should only hold codes).

    ``kind``:
    ``treatment_session`` (needs ``modality``), ``course_end``, ``response`` (the clinician
    judges the patient a responder), ``medication_change``, ``self_report`` (needs
    ``instrument`` and ``score``), ``feedback`` (a clinician's acknowledgement of an alert,
    published by the feed: needs ``reason``, optional ``until``, the last local day the
    reason applies to; the clinician's free-text note is never in it),
    ``remission_period`` (the clinician marks the local days from ``at`` to ``until`` as a
    period of remission: the risk engine uses them as the patient's usual range after a
    treatment response).
    """

    type: Literal["clinical"] = "clinical"
    version: Literal[1] = 1
    at: AwareDatetime = Field(description="when it happened (its local date is what counts)")
    kind: Literal[
        "treatment_session",
        "course_end",
        "response",
        "medication_change",
        "self_report",
        "feedback",
        "remission_period",
    ]
    modality: Modality | None = None
    instrument: Instrument | None = None
    score: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    reason: FeedbackReason | None = Field(
        None, description="feedback only: what the clinician found when acknowledging"
    )
    until: dt.date | None = Field(
        None,
        description="feedback: last local day the reason applies to; remission_period "
        "(required): last local day of the period",
    )

    @model_validator(mode="after")
    def _fields_for_kind(self) -> ClinicalEvent:
        if self.kind == "feedback" and self.reason is None:
            raise ValueError("reason: required for feedback")
        if self.kind != "feedback" and self.reason is not None:
            raise ValueError("reason: only for feedback")
        if self.kind not in ("feedback", "remission_period") and self.until is not None:
            raise ValueError("until: only for feedback and remission_period")
        if self.kind == "feedback" and self.until is not None:
            # a feedback period holds the patient's evidence: bounded, so that a mistyped or
            # hostile ``until`` cannot silence a patient for years (the feed caps it at 90
            # days after the alert; a day of slack for the patient's time zone). A past
            # ``until`` only explains past days (an old alert acknowledged late) and stays.
            if self.until > self.at.date() + dt.timedelta(days=91):
                raise ValueError(
                    "until: a feedback period ends at most 91 days after the acknowledgement"
                )
        if self.kind == "remission_period" and (self.until is None or self.until < self.at.date()):
            raise ValueError("until: required for a remission_period, on or after its start")
        if self.kind == "treatment_session" and self.modality is None:
            raise ValueError("modality: required for a treatment_session")
        if self.kind == "self_report":
            if self.instrument is None or self.score is None:
                raise ValueError("instrument/score: both required for a self_report")
            lo, hi = _SCORE_RANGE[self.instrument]
            if not lo <= self.score <= hi:
                raise ValueError(f"score: {self.instrument} must be within {lo}..{hi}")
        return self

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.at, self.at


class RecordingEnd(_Message):
    """A replayed recording of this subject ends: close every day that has data.

    Live devices never send it; a replayer does, after a subject's last message, so that a
    replay through Kafka closes the last days exactly as an in-process replay does.
    """

    type: Literal["recording_end"] = "recording_end"
    version: Literal[1] = 1
    at: AwareDatetime = Field(description="the end of the recording")

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.at, self.at


Minutes = Annotated[float, Field(ge=0, le=1500)]


class DailySummary(_Message):
    """A device's own summary of one local day (Fitbit, Apple Health, Oura, ...).

    Consumer wearables rarely export beat-to-beat intervals but do report a resting heart
    rate, a nightly HRV (RMSSD or SDNN) and a sleep score per day; the day engine puts them
    in the daily row as ``dev_*`` columns. Every value is optional, at least one is
    required. A later summary of the same date overrides the values it carries.
    """

    type: Literal["daily_summary"] = "daily_summary"
    version: Literal[1] = 1
    date: dt.date = Field(description="the subject's local date summarised")
    resting_hr_bpm: Annotated[float, Field(gt=20, lt=250, allow_inf_nan=False)] | None = Field(
        default=None, description="the device's resting heart rate of the day (bpm)"
    )
    rmssd_ms: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] | None = Field(
        default=None, description="the device's nightly RMSSD (ms)"
    )
    sdnn_ms: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] | None = Field(
        default=None, description="the device's nightly SDNN (ms)"
    )
    sleep_score: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = Field(
        default=None, description="the device's sleep score of the night ending on this date"
    )
    sedentary_min: Minutes | None = Field(default=None, description="device sedentary minutes")
    lightly_active_min: Minutes | None = Field(default=None, description="light activity")
    moderately_active_min: Minutes | None = Field(default=None, description="moderate activity")
    very_active_min: Minutes | None = Field(default=None, description="vigorous activity")

    @model_validator(mode="after")
    def _some_value(self) -> DailySummary:
        if all(getattr(self, k) is None for k in SUMMARY_FIELDS):
            raise ValueError(f"daily_summary: at least one of {', '.join(SUMMARY_FIELDS)}")
        return self

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        tz = dt.timezone(dt.timedelta(minutes=self.tz_offset_min))
        start = dt.datetime.combine(self.date, dt.time(), tz)
        return start, start + dt.timedelta(days=1)


#: The optional values of a :class:`DailySummary`, in the order the day engine keeps them.
SUMMARY_FIELDS = (
    "resting_hr_bpm",
    "rmssd_ms",
    "sdnn_ms",
    "sleep_score",
    "sedentary_min",
    "lightly_active_min",
    "moderately_active_min",
    "very_active_min",
)

AnyMessage = (
    ActivityBatch | HeartBeatBatch | SleepEpisode | ClinicalEvent | RecordingEnd | DailySummary
)
_Tagged = Annotated[AnyMessage, Field(discriminator="type")]  # validated by its "type"
MESSAGE_TYPES: dict[str, type[_Message]] = {
    "activity": ActivityBatch,
    "heartbeat": HeartBeatBatch,
    "sleep": SleepEpisode,
    "clinical": ClinicalEvent,
    "recording_end": RecordingEnd,
    "daily_summary": DailySummary,
}
_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(_Tagged)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contribution(_Out):
    """One feature behind an alert."""

    feature: str = Field(description="daily feature column")
    label: str = Field(description="human name")
    domain: Literal["activity", "sleep", "hrv", "circadian"]
    direction: Literal["up", "down"]
    value: float | None = Field(description="today's value (null: no valid value today)")
    mean_since_onset: float | None = Field(description="mean value since the deviation began")
    baseline_median: float | None
    baseline_scale: float | None = Field(description="1.4826 x MAD, floored")
    z: float | None = Field(description="today's robust z (signed, feature units / scale)")
    signal_strength: float = Field(
        description="CUSUM signals in the alert window (1 each, up to 2) + current CUSUM / h"
    )
    days_in_deviation: int = Field(description="days since the CUSUM run that signalled began")


class Alert(_Out):
    """A relapse-risk alert for clinicians (topic: alerts, key: alert_id)."""

    type: Literal["alert"] = "alert"
    version: Literal[1] = 1
    alert_id: str = Field(description="deterministic: same input -> same id (de-duplicate on it)")
    subject_id: SubjectId
    kind: Literal["opened", "escalated", "resolved"]
    date: dt.date = Field(description="the local day judged")
    level: Literal["watch", "elevated", "high"]
    score: Annotated[float, Field(ge=0, le=1, description="0-1 risk ranking, not a probability")]
    episode_start: dt.date = Field(description="estimated start of the deviation episode")
    domains: list[Literal["activity", "sleep", "hrv", "circadian"]]
    contributing: list[Contribution]
    coverage: dict[str, float | int | None]
    days_since_last_session: int | None
    last_session_modality: Modality | None
    after_response: bool
    days_since_response: int | None
    self_report: dict[str, str | float] | None
    baseline: Literal["personal", "population prior"]
    config_version: str
    explanation: str = Field(description="one line a clinician can read")


class Notice(_Out):
    """Operational notices, separate from alerts (topic: notices, key: subject_id)."""

    type: Literal["notice"] = "notice"
    kind: Literal["data_gap", "late_data", "response_detected", "feedback_applied"]
    subject_id: SubjectId
    date: dt.date | None = None
    config_version: str | None = None
    gap_start: dt.date | None = None
    days_without_data: int | None = None
    event_id: EventId | None = None
    samples_not_applied: int | None = None
    closed_through: dt.date | None = None
    reason: FeedbackReason | None = Field(
        None, description="feedback_applied: the clinician's reason the engine applied"
    )
    applies_from: dt.date | None = Field(
        None, description="feedback_applied: first local day the effect covers"
    )
    applies_until: dt.date | None = Field(
        None, description="feedback_applied: last local day it covers (null: open-ended)"
    )
    effect: str | None = Field(
        None, description="feedback_applied: what the engine changed, in one sentence"
    )


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"]) or "message"
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def decode(data: bytes | str | dict[str, Any], *, now: dt.datetime | None = None) -> AnyMessage:
    """Decode and validate one message (JSON bytes/str or an already parsed dict).

    ``now`` is the ingest time used for the "not in the future" rule; without it that
    rule is not applied (replays of old recordings pass their own clock).

    Raises
    ------
    InputError
        naming every offending field and the rule it broke -- and nothing else, whatever
        ``data`` holds (property-tested in ``tests/test_events_hostile.py``).

    Examples
    --------
    >>> decode(b'{"type": []}')
    Traceback (most recent call last):
    ...
    phenotyping.errors.InputError: type: must be a string
    """
    if isinstance(data, bytes | str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"message: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError("message: must be a JSON object")
    kind = data.get("type")
    if kind is not None and not isinstance(kind, str):
        raise InputError("type: must be a string")
    version = data.get("version")
    if kind in MESSAGE_TYPES and not (version is None or (type(version) is int and version == 1)):
        raise InputError(f"version: unsupported version {version!r:.40} of {kind!r} (supported: 1)")
    try:
        return _ADAPTER.validate_python(data, context={"now": now})
    except ValidationError as exc:
        raise InputError(_describe(exc)) from None
    except (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError) as exc:
        # a validator tripped over a value pydantic let through (a safety net: the rules
        # above are meant to catch everything first)
        raise InputError(f"message: cannot be validated ({type(exc).__name__})") from None


def encode(message: BaseModel) -> bytes:
    """Serialise a message to compact JSON bytes (the wire format)."""
    return orjson.dumps(message.model_dump(mode="json", exclude_none=True))


def samples(msg: AnyMessage) -> int:
    """Samples a message carries: epochs of an activity batch, beats of a heart-beat
    batch, 1 for anything else (an episode, an event). The one sample counter of the
    package (throughput figures, progress).

    Examples
    --------
    >>> samples(decode({"type": "recording_end", "event_id": "e", "subject_id": "s",
    ...                 "source": "x", "tz_offset_min": 0, "at": "2024-01-01T00:00:00Z"}))
    1
    """
    if isinstance(msg, ActivityBatch):
        return msg.n_epochs
    if isinstance(msg, HeartBeatBatch):
        return len(msg.rr_ms)
    return 1


def natural_key(name: str | os.PathLike[str]) -> tuple[Any, ...]:
    """Sort key that orders the numbers in subject ids and file names by value, the one
    order in which subjects and recordings are listed (``s2`` before ``s10``).

    Examples
    --------
    >>> sorted(["user_10", "user_2", "user_1"], key=natural_key)
    ['user_1', 'user_2', 'user_10']
    """
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", os.fspath(name)))


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every wire message, keyed by file name (``activity.v1.schema.json``)."""
    out: dict[str, dict[str, Any]] = {}
    models: dict[str, type[BaseModel]] = {**MESSAGE_TYPES, "alert": Alert, "notice": Notice}
    for name, model in models.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://phenotyping.dev/schemas/{name}.v1.schema.json"
        out[f"{name}.v1.schema.json"] = schema
    return out

"""The one code path: message -> per-subject state -> outputs.

In-process replay and the Kafka workers both call :func:`step`, so their outputs are
identical by construction. The function is synchronous and deterministic: it takes a
subject's state and one validated message and returns what that message caused (daily
feature rows, notices). Storing the state (a dict here, a faust table in the workers,
as ``to_bytes()``) is the caller's job.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from phenotyping import __version__
from phenotyping.errors import InputError, StateError
from phenotyping.events import (
    SUMMARY_FIELDS,
    ActivityBatch,
    AnyMessage,
    ClinicalEvent,
    DailySummary,
    HeartBeatBatch,
    RecordingEnd,
    SleepEpisode,
)
from phenotyping.features.day import NO_OFFSET, EngineParams, SubjectDays
from phenotyping.features.time import iso_date, ordinal
from phenotyping.risk.engine import RiskParams, RiskState, config_version

_EPOCH = dt.date(1970, 1, 1)

#: A sample may lie at most this many days after the subject's time reference (the latest
#: sample seen, or the end of the last closed day if later): one stray timestamp years
#: ahead would otherwise make the minute grid and the closed days span the years between.
MAX_AHEAD_DAYS = 62
#: ... and its first sample at most this many days before it, unless the whole message
#: lies in days already closed (then it is late data, counted and not applied, as before):
#: this bounds the grid of a subject whose days have not closed yet.
MAX_BEHIND_DAYS = 31
_DAY = 1440


class OutOfWindow(InputError):
    """A message outside the subject's event-time window (:data:`MAX_AHEAD_DAYS`,
    :data:`MAX_BEHIND_DAYS`); ``rule`` is ``"ahead"`` or ``"behind"``."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


_MAGIC = b"PHSS"
_VERSION = 1


@dataclass
class SubjectState:
    """Everything the pipeline keeps about one subject: days and risk."""

    days: SubjectDays
    risk: RiskState

    @classmethod
    def new(
        cls, params: EngineParams | None = None, risk: RiskParams | None = None
    ) -> SubjectState:
        engine = params or EngineParams()
        risk = risk or RiskParams()
        if risk.feature_window_days != engine.window_days:  # monitored names follow the engine
            risk = replace(risk, feature_window_days=engine.window_days)
        version = config_version(risk, {"engine": asdict(engine), "package": __version__})
        return cls(days=SubjectDays(engine), risk=RiskState(params=risk, version=version))

    def to_bytes(self) -> bytes:
        """Versioned envelope of the parts' own serialisations (no pickle)."""
        parts = [self.days.to_bytes(), self.risk.to_bytes()]
        head = struct.pack("<4sHH", _MAGIC, _VERSION, len(parts))
        return head + b"".join(struct.pack("<I", len(p)) + p for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> SubjectState:
        """Inverse of :meth:`to_bytes`. Raises :class:`StateError` and nothing else, whatever
        ``data`` holds (a table value is untrusted input: a corrupt changelog, a bug in an
        older version, a crafted record)."""
        if len(data) < 8:
            raise StateError("state: too short")
        magic, version, n = struct.unpack("<4sHH", data[:8])
        if magic != _MAGIC:
            raise StateError("state: not a subject state (bad magic)")
        if version != _VERSION or n != 2:
            raise StateError(f"state: unknown version {version}")
        parts, pos = [], 8
        for _ in range(n):
            if pos + 4 > len(data):
                raise StateError("state: truncated")
            (size,) = struct.unpack("<I", data[pos : pos + 4])
            if pos + 4 + size > len(data):
                raise StateError("state: truncated")
            parts.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        if pos != len(data):
            raise StateError("state: trailing bytes after the last part")
        try:
            state = cls(days=SubjectDays.from_bytes(parts[0]), risk=RiskState.from_bytes(parts[1]))
            _check_shapes(state)
        except StateError:
            raise
        except Exception as exc:  # a well-formed envelope with a wrong header or arrays
            raise StateError(f"state: corrupt ({exc.__class__.__name__})") from None
        return state


def _check_shapes(state: SubjectState) -> None:
    """Refuse a decoded state whose parallel arrays disagree (it would fail later, in the
    middle of a step)."""
    d = state.days
    if not len(d.counts) == len(d.steps) == len(d.offset):
        raise StateError("state: corrupt (minute grid arrays differ in length)")
    if not len(d.hrv_burst) == len(d.hrv_bin) == len(d.hrv_off) == len(d.hrv_sums):
        raise StateError("state: corrupt (HRV arrays differ in length)")
    if d.base < -1 or not isinstance(d.closed_through, int) or not isinstance(d.base, int):
        raise StateError("state: corrupt (grid position)")


@dataclass
class StepOutput:
    """What one message caused; every list may be empty.

    ``daily``: feature rows (with their risk columns), one per subject and closed local day;
    ``alerts``: relapse-risk alerts (:class:`phenotyping.events.Alert`), keyed by alert_id;
    ``notices``: data-gap, late-data and response notices (:class:`~phenotyping.events.Notice`).
    """

    daily: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: StepOutput) -> None:
        self.daily.extend(other.daily)
        self.alerts.extend(other.alerts)
        self.notices.extend(other.notices)


def _seconds(t: Any) -> int:
    return int(t.timestamp())


def apply(engine: SubjectDays, msg: AnyMessage) -> None:
    """Feed one validated message into a subject's day engine (no output)."""
    if isinstance(msg, ActivityBatch):
        counts = None if msg.counts is None else np.array(msg.counts, dtype=np.float64)
        steps = None if msg.steps is None else np.array(msg.steps, dtype=np.float64)
        engine.push_activity(_seconds(msg.start), msg.epoch_s, counts, steps, msg.tz_offset_min)
    elif isinstance(msg, HeartBeatBatch):
        engine.push_beats(
            round(msg.first_beat.timestamp() * 1000),
            np.asarray(msg.rr_ms, dtype=np.float64),
            msg.tz_offset_min,
        )
    elif isinstance(msg, SleepEpisode):
        engine.push_sleep_episode(
            _seconds(msg.start) // 60,
            _seconds(msg.end) // 60,
            msg.tz_offset_min,
            is_main=msg.is_main_sleep,
            tst_min=msg.tst_min,
            waso_min=msg.waso_min,
            latency_min=msg.latency_min,
            efficiency_pct=msg.efficiency_pct,
        )
    elif isinstance(msg, DailySummary):
        engine.push_summary(
            (msg.date - _EPOCH).days,
            msg.tz_offset_min,
            [getattr(msg, k) for k in SUMMARY_FIELDS],
        )


def step(state: SubjectState, msg: AnyMessage) -> StepOutput:
    """Apply one message to its subject's state; return the rows, alerts and notices it
    caused.

    A message (or part of one) for a day that is already closed is not applied; it gives a
    ``late_data`` notice naming the event and how many samples were not used. A clinical
    event is recorded by the risk engine at its local date.

    Raises :class:`OutOfWindow` (an :class:`InputError`), changing nothing, for samples
    outside the subject's event-time window (:func:`check_window`): that bounds the work
    and memory one message can cause, in replays and workers alike.
    """
    subject = msg.subject_id
    if isinstance(msg, RecordingEnd):
        return flush(subject, state)
    if isinstance(msg, ClinicalEvent):
        local = msg.at.timestamp() // 60 + msg.tz_offset_min
        until = getattr(msg, "until", None)  # feedback fields (issue 13's ClinicalEvent)
        notices = state.risk.clinical(
            int(local // 1440),
            msg.kind,
            modality=msg.modality,
            instrument=msg.instrument,
            score=msg.score,
            reason=getattr(msg, "reason", None),
            until=None if until is None else int((until - dt.date(1970, 1, 1)).days),
        )
        return StepOutput(notices=[_notice(subject, n) for n in notices])
    days = state.days
    late_before = days.late
    if not _push_one_minute(days, msg):
        check_window(days, msg)
        apply(days, msg)
    out = _judge(subject, state, days.advance())
    late = days.late - late_before
    if late:
        out.notices.append(
            _notice(
                subject,
                {
                    "kind": "late_data",
                    "event_id": msg.event_id,
                    "samples_not_applied": late,
                    "closed_through": iso_date(state.days.closed_through),
                },
            )
        )
    return out


def _push_one_minute(days: SubjectDays, msg: AnyMessage) -> bool:
    """Apply ``msg`` if it is one one-minute sample inside the window (True), the commonest
    message of a live phone or watch stream: :func:`check_window` and :func:`apply` in
    integer arithmetic, without arrays (:meth:`SubjectDays.push_minute`). Anything else,
    or a sample outside the window (whose error :func:`check_window` words), is left to
    them (False)."""
    if type(msg) is not ActivityBatch or msg.epoch_s != 60:
        return False
    counts, steps = msg.counts, msg.steps
    if (counts is not None and len(counts) != 1) or (steps is not None and len(steps) != 1):
        return False
    start = msg.start
    if start.microsecond:
        return False
    minute = int(start.timestamp()) // 60
    tz = msg.tz_offset_min
    ref = reference_min(days)
    if ref is not None and not _inside(days, ref, minute + tz, minute + 1 + tz):
        return False
    days.push_minute(
        minute, None if counts is None else counts[0], None if steps is None else steps[0], tz
    )
    return True


def reference_min(days: SubjectDays) -> int | None:
    """The subject's time reference in local minutes: the end of the latest sample seen or
    the end of the last closed day, whichever is later (None: nothing seen yet)."""
    ref = max(days.watermark_local, (days.closed_through + 1) * _DAY)
    return None if ref < -(2**61) else int(ref)


def _inside(days: SubjectDays, ref: int, first: int, last: int) -> bool:
    """Whether local minutes ``first .. last`` (a message's span) lie in the window around
    the time reference ``ref``, or wholly in closed days (late data, counted by the engine)."""
    return last <= ref + MAX_AHEAD_DAYS * _DAY and (
        first >= ref - MAX_BEHIND_DAYS * _DAY or last <= (days.closed_through + 1) * _DAY
    )


def check_window(days: SubjectDays, msg: AnyMessage) -> None:
    """Raise :class:`OutOfWindow` unless every sample of ``msg`` lies within
    [reference - MAX_BEHIND_DAYS, reference + MAX_AHEAD_DAYS] (local time) -- or wholly in
    closed days (late data, which the engine counts without growing anything). A subject's
    first message sets the reference (its own span is at most 7 days: the schema).

    >>> from phenotyping.events import decode
    >>> days = SubjectDays()
    >>> def act(start):
    ...     return decode({"type": "activity", "event_id": "e", "subject_id": "s",
    ...                    "source": "t", "tz_offset_min": 0, "start": start,
    ...                    "epoch_s": 60, "counts": [1.0]})
    >>> apply(days, act("2026-01-01T00:00:00+00:00"))
    >>> check_window(days, act("2026-02-01T00:00:00+00:00"))  # 31 days ahead: fine
    >>> check_window(days, act("2026-11-25T00:00:00+00:00"))
    Traceback (most recent call last):
    ...
    phenotyping.pipeline.OutOfWindow: time: 2026-11-25T00:01:00+00:00 is more than 62 days ...
    """
    if isinstance(msg, (ClinicalEvent, RecordingEnd)):
        return
    ref = reference_min(days)
    if ref is None:
        return
    tz = msg.tz_offset_min
    start = getattr(msg, "start", None)
    if isinstance(msg, ActivityBatch) and start is not None and not start.microsecond:
        # whole seconds: the span's ends in integer arithmetic (what span() gives, without
        # building two datetimes -- this runs for every single-sample message)
        first_s = int(start.timestamp())
        last_s = first_s + msg.epoch_s * max(msg.n_epochs, 1)
        if _inside(days, ref, first_s // 60 + tz, last_s // 60 + tz):
            return  # inside the window (else the general path below names the rule)
    first, last = msg.span()
    if _seconds(last) // 60 + tz > ref + MAX_AHEAD_DAYS * _DAY:
        raise OutOfWindow(
            f"time: {last.isoformat()} is more than {MAX_AHEAD_DAYS} days after this "
            f"subject's latest data ({iso_date((ref - 1) // _DAY)}); not applied",
            "ahead",
        )
    open_from = (days.closed_through + 1) * _DAY
    if _seconds(first) // 60 + tz < ref - MAX_BEHIND_DAYS * _DAY and (
        _seconds(last) // 60 + tz > open_from
    ):  # (wholly in closed days it is late data: counted, cheaply, by the engine)
        raise OutOfWindow(
            f"time: {first.isoformat()} is more than {MAX_BEHIND_DAYS} days before this "
            f"subject's latest data ({iso_date((ref - 1) // _DAY)}); not applied",
            "behind",
        )


def idle(subject: str, state: SubjectState, now_utc_min: int) -> StepOutput:
    """Processing time passed without data from this subject: close the days that are
    overdue (end + grace before ``now``). The stream shell calls this on a timer; replays
    never do (their time is the data's)."""
    return _judge(subject, state, state.days.advance(now_utc_min))


def idle_for(subject: str, state: SubjectState, silent_min: float) -> StepOutput:
    """:func:`idle` with time that respects the data's clock: the subject has sent nothing
    for ``silent_min`` minutes of processing time, so its event time is moved on by that
    much from its latest sample (for live data that is "now"; for a replayed recording it
    is the recording's own time plus the silence)."""
    days = state.days
    if days.base < 0 or days.watermark_local < -(2**61):
        return StepOutput()
    off = utc_offset(days) or 0
    now_utc_min = days.watermark_local - off + int(silent_min)
    return idle(subject, state, now_utc_min)


def utc_offset(days: SubjectDays) -> int | None:
    """The subject's latest known UTC offset in minutes (of the newest minute of data still
    held), ``None`` before any minute-level data.

    >>> from phenotyping.features.day import SubjectDays
    >>> days = SubjectDays()
    >>> utc_offset(days) is None
    True
    >>> days.push_activity(0, 60, np.ones(3), None, tz_offset_min=-600)
    >>> utc_offset(days)
    -600
    """
    known = days.offset[days.offset != NO_OFFSET]
    return int(known[-1]) if len(known) else None


def day_offsets(days: SubjectDays, dates: list[int]) -> list[int | None]:
    """The UTC offset of each local day in ``dates`` (day ordinals): that of the day's last
    minute of data still in the grid, else the latest earlier one, else the subject's
    latest (:func:`utc_offset`); ``None`` without any minute-level data.

    >>> days = SubjectDays()
    >>> days.push_activity(0, 60, np.ones(1440), None, tz_offset_min=-600)   # 1 Jan, UTC-10
    >>> days.push_activity(1440 * 60 * 2, 60, np.ones(60), None, tz_offset_min=780)
    >>> day_offsets(days, [0, 1, 2]), day_offsets(SubjectDays(), [0])
    ([-600, -600, 780], [None])
    """
    one, offset = days.one_offset()
    if one:  # one offset over the grid (the usual case), or none known
        return [offset] * len(dates)
    latest = utc_offset(days)
    idx = np.flatnonzero(days.offset != NO_OFFSET)
    if latest is None or not idx.size:
        return [latest] * len(dates)
    off = days.offset[idx].astype(np.int64)
    local_day = (days.base + idx + off) // _DAY
    pos = np.searchsorted(local_day, np.asarray(dates, dtype=np.int64), side="right") - 1
    return [int(off[p]) if p >= 0 else latest for p in pos]


def _judge(subject: str, state: SubjectState, rows: list[dict[str, Any]]) -> StepOutput:
    """Tag closed daily rows with the subject and the day's UTC offset (the clinician feed
    dates a clinician's feedback on the patient's local day with the newest one), and run
    the risk engine over them in order."""
    if not rows:  # most messages close no day
        return StepOutput()
    out = StepOutput()
    offsets = day_offsets(state.days, [ordinal(r["date"]) for r in rows]) if rows else []
    for row, off in zip(_tag(subject, rows), offsets, strict=True):
        row["tz_offset_min"] = off
        cols, alerts, notices = state.risk.assess(subject, row)
        row.update(cols)
        out.daily.append(row)
        out.alerts.extend(alerts)
        out.notices.extend(_notice(subject, n) for n in notices)
    return out


def _notice(subject: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "notice", "subject_id": subject, **body}


def flush(subject: str, state: SubjectState) -> StepOutput:
    """Close every remaining day of a subject (end of a recording or replay)."""
    return _judge(subject, state, state.days.close_remaining_days())


def _tag(subject: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"subject_id": subject, **row} for row in rows]


@dataclass
class Pipeline:
    """Per-subject states behind :func:`step`; ``store`` may be any mutable mapping."""

    params: EngineParams = field(default_factory=EngineParams)
    risk: RiskParams = field(default_factory=RiskParams)
    store: MutableMapping[str, SubjectState] = field(default_factory=dict)

    def state(self, subject: str) -> SubjectState:
        st = self.store.get(subject)
        if st is None:
            st = self.store[subject] = SubjectState.new(self.params, self.risk)
        return st

    def process(self, msg: AnyMessage) -> StepOutput:
        return step(self.state(msg.subject_id), msg)

    def run(self, messages: Iterable[AnyMessage]) -> Iterator[dict[str, Any]]:
        """Process every message, then flush every subject: all daily rows, in order."""
        for msg in messages:
            yield from self.process(msg).daily
        yield from self.flush().daily

    def flush(self) -> StepOutput:
        out = StepOutput()
        for subject in sorted(self.store):
            out.extend(flush(subject, self.store[subject]))
        return out

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
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from phenotyping import __version__
from phenotyping.errors import StateError
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
from phenotyping.features.day import EngineParams, SubjectDays
from phenotyping.features.time import iso_date
from phenotyping.risk.engine import RiskParams, RiskState, config_version

_EPOCH = dt.date(1970, 1, 1)
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
        version = config_version(risk, {"engine": asdict(engine), "package": __version__})
        return cls(days=SubjectDays(engine), risk=RiskState(params=risk, version=version))

    def to_bytes(self) -> bytes:
        """Versioned envelope of the parts' own serialisations (no pickle)."""
        parts = [self.days.to_bytes(), self.risk.to_bytes()]
        head = struct.pack("<4sHH", _MAGIC, _VERSION, len(parts))
        return head + b"".join(struct.pack("<I", len(p)) + p for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> SubjectState:
        if len(data) < 8:
            raise StateError("state: too short")
        magic, version, n = struct.unpack("<4sHH", data[:8])
        if magic != _MAGIC:
            raise StateError("state: not a subject state (bad magic)")
        if version != _VERSION or n != 2:
            raise StateError(f"state: unknown version {version}")
        parts, pos = [], 8
        for _ in range(n):
            (size,) = struct.unpack("<I", data[pos : pos + 4])
            parts.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return cls(days=SubjectDays.from_bytes(parts[0]), risk=RiskState.from_bytes(parts[1]))


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
    """
    subject = msg.subject_id
    if isinstance(msg, RecordingEnd):
        return flush(subject, state)
    if isinstance(msg, ClinicalEvent):
        local = msg.at.timestamp() // 60 + msg.tz_offset_min
        notices = state.risk.clinical(
            int(local // 1440),
            msg.kind,
            modality=msg.modality,
            instrument=msg.instrument,
            score=msg.score,
        )
        return StepOutput(notices=[_notice(subject, n) for n in notices])
    late_before = state.days.late
    apply(state.days, msg)
    out = _judge(subject, state, state.days.advance())
    late = state.days.late - late_before
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


def idle(subject: str, state: SubjectState, now_utc_min: int) -> StepOutput:
    """Processing time passed without data from this subject: close the days that are
    overdue (end + grace before ``now``). The stream shell calls this on a timer; replays
    never do (their time is the data's)."""
    return _judge(subject, state, state.days.advance(now_utc_min))


def _judge(subject: str, state: SubjectState, rows: list[dict[str, Any]]) -> StepOutput:
    """Tag closed daily rows with the subject and run the risk engine over them in order."""
    out = StepOutput()
    for row in _tag(subject, rows):
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
    return _judge(subject, state, state.days.flush())


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

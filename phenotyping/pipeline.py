"""The one code path: message -> per-subject state -> outputs.

In-process replay and the Kafka workers both call :func:`step`, so their outputs are
identical by construction. The function is synchronous and deterministic: it takes a
subject's state and one validated message and returns what that message caused (daily
feature rows, notices). Storing the state (a dict here, a faust table in the workers,
as ``to_bytes()``) is the caller's job.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phenotyping.errors import StateError
from phenotyping.events import ActivityBatch, HeartBeatBatch, RecordingEnd, SleepEpisode
from phenotyping.features.day import EngineParams, SubjectDays

Message = ActivityBatch | HeartBeatBatch | SleepEpisode | RecordingEnd

_MAGIC = b"PHSS"
_VERSION = 1


@dataclass
class SubjectState:
    """Everything the pipeline keeps about one subject."""

    days: SubjectDays

    @classmethod
    def new(cls, params: EngineParams | None = None) -> SubjectState:
        return cls(days=SubjectDays(params or EngineParams()))

    def to_bytes(self) -> bytes:
        """Versioned envelope of the parts' own serialisations (no pickle)."""
        parts = [self.days.to_bytes()]
        head = struct.pack("<4sHH", _MAGIC, _VERSION, len(parts))
        return head + b"".join(struct.pack("<I", len(p)) + p for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> SubjectState:
        if len(data) < 8:
            raise StateError("state: too short")
        magic, version, n = struct.unpack("<4sHH", data[:8])
        if magic != _MAGIC:
            raise StateError("state: not a subject state (bad magic)")
        if version != _VERSION or n != 1:
            raise StateError(f"state: unknown version {version}")
        (size,) = struct.unpack("<I", data[8:12])
        return cls(days=SubjectDays.from_bytes(data[12 : 12 + size]))


@dataclass
class StepOutput:
    """What one message caused; every list may be empty."""

    daily: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: StepOutput) -> None:
        self.daily.extend(other.daily)
        self.notices.extend(other.notices)


def _seconds(t: Any) -> int:
    return int(t.timestamp())


def apply(engine: SubjectDays, msg: Message) -> None:
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


def step(state: SubjectState, msg: Message) -> StepOutput:
    """Apply one message to its subject's state; return the rows and notices it caused.

    A message (or part of one) for a day that is already closed is not applied; it gives a
    ``late_data`` notice naming the event and how many samples were not used.
    """
    if isinstance(msg, RecordingEnd):
        return flush(msg.subject_id, state)
    late_before = state.days.late
    apply(state.days, msg)
    out = StepOutput(daily=_tag(msg.subject_id, state.days.advance()))
    late = state.days.late - late_before
    if late:
        out.notices.append(
            {
                "kind": "late_data",
                "subject_id": msg.subject_id,
                "event_id": msg.event_id,
                "type": msg.type,
                "samples_not_applied": late,
                "closed_through": _iso(state.days.closed_through),
            }
        )
    return out


def flush(subject: str, state: SubjectState) -> StepOutput:
    """Close every remaining day of a subject (end of a recording or replay)."""
    return StepOutput(daily=_tag(subject, state.days.flush()))


def _iso(d: int) -> str:
    return str(np.datetime64(d, "D"))


def _tag(subject: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"subject_id": subject, **row} for row in rows]


@dataclass
class Pipeline:
    """Per-subject states behind :func:`step`; ``store`` may be any mutable mapping."""

    params: EngineParams = field(default_factory=EngineParams)
    store: MutableMapping[str, SubjectState] = field(default_factory=dict)

    def state(self, subject: str) -> SubjectState:
        st = self.store.get(subject)
        if st is None:
            st = self.store[subject] = SubjectState.new(self.params)
        return st

    def process(self, msg: Message) -> StepOutput:
        return step(self.state(msg.subject_id), msg)

    def run(self, messages: Iterable[Message]) -> Iterator[dict[str, Any]]:
        """Process every message, then flush every subject: all daily rows, in order."""
        for msg in messages:
            yield from self.process(msg).daily
        yield from self.flush().daily

    def flush(self) -> StepOutput:
        out = StepOutput()
        for subject in sorted(self.store):
            out.extend(flush(subject, self.store[subject]))
        return out

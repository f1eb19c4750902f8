"""The one code path: message -> per-subject engine -> daily feature rows.

In-process replay and the Kafka workers both call :func:`step` (through
:class:`Pipeline`), so their outputs are identical by construction. The function is
synchronous and deterministic; it takes the subject's engine state in and gives the
rows it closed out. Storing the state (a dict here, a faust table in the workers) is
the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phenotyping.events import ActivityBatch, HeartBeatBatch, SleepEpisode
from phenotyping.features.day import EngineParams, SubjectDays

Message = ActivityBatch | HeartBeatBatch | SleepEpisode


def _seconds(t: Any) -> int:
    return int(t.timestamp())


def apply(engine: SubjectDays, msg: Message) -> None:
    """Feed one validated message into a subject's engine (no output)."""
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
    else:
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


def step(engine: SubjectDays, msg: Message) -> list[dict[str, Any]]:
    """Apply a message and return the daily rows it closed (each tagged with the subject)."""
    apply(engine, msg)
    return _tag(msg.subject_id, engine.advance())


def _tag(subject: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"subject_id": subject, **row} for row in rows]


@dataclass
class Pipeline:
    """Per-subject engines behind :func:`step`; ``store`` may be any mutable mapping."""

    params: EngineParams = field(default_factory=EngineParams)
    store: MutableMapping[str, SubjectDays] = field(default_factory=dict)

    def engine(self, subject: str) -> SubjectDays:
        eng = self.store.get(subject)
        if eng is None:
            eng = self.store[subject] = SubjectDays(self.params)
        return eng

    def process(self, msg: Message) -> list[dict[str, Any]]:
        return step(self.engine(msg.subject_id), msg)

    def run(self, messages: Iterable[Message]) -> Iterator[dict[str, Any]]:
        """Process every message, then flush every subject: all rows, in output order."""
        for msg in messages:
            yield from self.process(msg)
        yield from self.flush()

    def flush(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for subject in sorted(self.store):
            rows.extend(_tag(subject, self.store[subject].flush()))
        return rows

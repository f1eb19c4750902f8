"""What the BatchProcessor tests without Kafka share (``test_process.py``,
``test_process_hostile.py``): topic names, the partitioner, a simulated cohort closed as
the replay publisher closes it, the in-process outputs to compare with, and the records
the worker would receive."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from phenotyping.events import AnyMessage, RecordingEnd, encode
from phenotyping.kafkaio import TopicNames
from phenotyping.pipeline import Pipeline, StepOutput
from phenotyping.simulate import CohortSpec, simulate
from phenotyping.stream.codec import decode_record, encode_record
from phenotyping.stream.process import Record

NAMES = TopicNames("d", "f", "a", "n", "dl", "c")
PARTITIONS = 3

#: (key, value, partition) of one record on the device topic.
Raw = tuple[bytes | None, bytes | None, int]


def partition(key: bytes) -> int:
    """The test partitioner (crc32, not Kafka's murmur2: any fixed function will do)."""
    return zlib.crc32(key) % PARTITIONS


def plain(rec: dict[str, Any]) -> dict[str, Any]:
    """An in-process output as it reads back from JSON (NaN -> None, dates as text)."""
    return decode_record(encode_record(rec))


def closed_cohort(spec: CohortSpec) -> list[AnyMessage]:
    """The simulated cohort, then a RecordingEnd per subject, as the replay publisher
    sends them."""
    msgs: list[AnyMessage] = list(simulate(spec))
    last: dict[str, Any] = {}
    for m in msgs:
        last[m.subject_id] = max(m.span()[1], last.get(m.subject_id, m.span()[1]))
    for subject, at in sorted(last.items()):
        msgs.append(
            RecordingEnd(
                event_id=f"end:{subject}", subject_id=subject, source="t", tz_offset_min=60, at=at
            )
        )
    return msgs


def in_process(msgs: Sequence[AnyMessage]) -> StepOutput:
    """The outputs of the in-process pipeline: what the worker must publish."""
    pipe = Pipeline()
    out = StepOutput()
    for m in msgs:
        out.extend(pipe.process(m))
    return out


def expected_rows(expected: StepOutput) -> dict[str, dict[str, Any]]:
    """The in-process daily rows by the id the worker gives them (``subject:date``)."""
    return {f"{r['subject_id']}:{r['date']}": plain(r) for r in expected.daily}


def keyed(msgs: Sequence[AnyMessage]) -> list[Raw]:
    """Each message keyed by its subject, on its subject's partition."""
    return [(m.subject_id.encode(), encode(m), partition(m.subject_id.encode())) for m in msgs]


def as_records(
    raw: Sequence[Raw], offsets: Counter[int] | None = None, ts: int = 1_700_000_000_000
) -> list[Record]:
    """Records with per-partition offsets, continuing from ``offsets`` (updated) if given."""
    nxt = Counter[int]() if offsets is None else offsets
    out = []
    for key, value, part in raw:
        out.append(Record("d", part, nxt[part], key, value, ts))
        nxt[part] += 1
    return out

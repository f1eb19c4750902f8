"""``phenotyping tail TOPIC``: print a topic for a person at a terminal.

One line per record (``--json``: the record's JSON as it is). This prints what the user
asked to see to *stdout*; nothing is logged. Reads all partitions without joining a
consumer group (so it never disturbs the workers) and only committed records (so an
exactly-once deployment shows no aborted output). Imports aiokafka when tailing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import orjson

from phenotyping.config import KafkaSettings
from phenotyping.errors import TopicError
from phenotyping.kafkaio import TopicNames, client_options, partition_counts


def _num(v: Any, fmt: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def _alert(r: Mapping[str, Any]) -> str:
    domains = ",".join(r.get("domains") or []) or "-"
    return (
        f"{r.get('date')}  {r.get('subject_id')}  {str(r.get('kind', '')).upper():9} "
        f"{r.get('level', ''):8} score {_num(r.get('score'), '.2f')}  [{domains}]  "
        f"{r.get('explanation', '')}  ({r.get('alert_id')})"
    )


def _feature(r: Mapping[str, Any]) -> str:
    return (
        f"{r.get('date')}  {r.get('subject_id')}  valid={'yes' if r.get('valid') else 'no'} "
        f"coverage {_num(r.get('coverage'), '.2f')}  activity {_num(r.get('activity_mean'))}  "
        f"sleep {_num(r.get('sleep_tst_min'), '.0f')} min  "
        f"rmssd {_num(r.get('night_rmssd'))} ms  risk {r.get('risk_level') or '-'}"
    )


def _notice(r: Mapping[str, Any]) -> str:
    skip = {"type", "kind", "subject_id"}
    rest = "  ".join(f"{k}={v}" for k, v in r.items() if k not in skip and v is not None)
    return f"{r.get('kind', '?'):17} {r.get('subject_id')}  {rest}"


def _dead(r: Mapping[str, Any]) -> str:
    s = r.get("source") or {}
    return (
        f"{r.get('reason', '?'):16} {s.get('topic')}:{s.get('partition')}:{s.get('offset')}  "
        f"{r.get('payload_bytes', 0):,} bytes  {r.get('error', '')}"
    )


def _device(r: Mapping[str, Any]) -> str:
    start = r.get("start") or r.get("first_beat") or r.get("at")
    n = len(r.get("counts") or r.get("steps") or r.get("rr_ms") or [])
    return (
        f"{r.get('type', '?'):13} {r.get('subject_id')}  {start}  {n} samples  {r.get('event_id')}"
    )


FORMATS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "alerts": _alert,
    "features": _feature,
    "notices": _notice,
    "dead-letter": _dead,
    "device": _device,
}


def format_record(role: str, value: bytes | None, as_json: bool = False) -> str:
    """One printed line for a record of the ``role`` topic.

    Examples
    --------
    >>> format_record("notices", b'{"type":"notice","kind":"data_gap","subject_id":"s1",'
    ...               b'"days_without_data":3}')
    'data_gap          s1  days_without_data=3'
    >>> format_record("features", b"not json")
    '(not JSON: 8 bytes)'
    """
    if value is None:
        return "(tombstone)"
    if as_json:
        return value.decode("utf-8", errors="replace")
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return f"(not JSON: {len(value)} bytes)"
    if not isinstance(record, dict):
        return value.decode("utf-8", errors="replace")
    return FORMATS[role](record)


async def tail(
    kafka: KafkaSettings,
    role: str,
    out: TextIO,
    *,
    from_beginning: bool = False,
    max_records: int | None = None,
    idle_exit_s: float | None = None,
    as_json: bool = False,
) -> int:
    """Print records of the ``role`` topic until ``max_records``, ``idle_exit_s`` without a
    record, or Ctrl-C. Returns the number printed."""
    from aiokafka import AIOKafkaConsumer

    topic = TopicNames.from_settings(kafka).by_role()[role]
    if topic not in await partition_counts(kafka, [topic]):
        raise TopicError(f"{topic}: no such topic (run `phenotyping topics create`)")
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=kafka.topic_max_message_bytes,
    )
    await consumer.start()
    printed = 0
    loop = asyncio.get_running_loop()
    last = loop.time()
    try:
        while max_records is None or printed < max_records:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    print(format_record(role, rec.value, as_json), file=out, flush=True)
                    printed += 1
                    last = loop.time()
                    if max_records is not None and printed >= max_records:
                        return printed
            if idle_exit_s is not None and loop.time() - last > idle_exit_s:
                break
    finally:
        await consumer.stop()
    return printed

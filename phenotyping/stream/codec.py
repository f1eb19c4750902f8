"""Bytes on the wire of the workers: output records, dead letters and the state table value.

Pure functions (orjson, base64, struct); no faust, no Kafka client, no clock.

Output records are compact JSON objects. A float that is NaN (a feature that could not be
computed) is written as ``null``; every other float is written with the shortest repr that
reads back to the same double, so a row read from Kafka equals the in-process row exactly.

The table value is a small envelope around :meth:`phenotyping.pipeline.SubjectState.to_bytes`
that also records *where the state has got to*: the source partition, the offset of the
last message applied and the latest record timestamp applied. A worker that is restarted
after a crash re-reads messages from the last committed offset; a message at or below the
stored offset is already in the state and is skipped, so a redelivery neither applies data
twice nor reports it as late -- unless its timestamp is later than every record the state
has applied: then it cannot be a redelivery (the device topic was re-created and its
offsets restarted), see :mod:`.process`.
"""

from __future__ import annotations

import base64
import functools
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson

from phenotyping.errors import InputError, StateError

#: Why a message went to the dead-letter topic.
Reason = Literal[
    "undecodable",  # not UTF-8 JSON, not a JSON object, or an empty (tombstone) value
    "unknown_type",  # a "type" this worker does not know
    "unknown_version",  # a known type with a version this worker does not know
    "schema",  # a field breaks a rule of the schema (the error names the field and rule)
    "oversized",  # more bytes than KafkaSettings.max_message_bytes (not parsed at all)
    "key_mismatch",  # the record key is not the message's subject_id
    "wrong_partition",  # the subject's state lives in another partition (mis-partitioned)
    "late_data",  # (part of) the message is for a day already closed: not applied
    "state_error",  # the subject's stored state cannot be read
    "processing_error",  # the engine raised on a valid message (a bug): see the error type
    "misrouted",  # the record's key belongs to another partition than the one it arrived on
    "time_window",  # a sample too far ahead of / behind the subject's data (pipeline window)
]
REASONS: tuple[str, ...] = get_args(Reason)

_OPTS = orjson.OPT_SERIALIZE_NUMPY


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One output record as compact JSON bytes (NaN becomes ``null``).

    Examples
    --------
    >>> encode_record({"subject_id": "s1", "coverage": float("nan"), "valid": False})
    b'{"subject_id":"s1","coverage":null,"valid":false}'
    """
    return orjson.dumps(record, option=_OPTS)


def decode_record(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_record` (``null`` stays ``None``).

    Examples
    --------
    >>> decode_record(b'{"a":0.1,"b":null}')
    {'a': 0.1, 'b': None}
    """
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise InputError("record: not a JSON object")
    return value


def classify(error: InputError) -> Reason:
    """The dead-letter reason of a :func:`phenotyping.events.decode` error.

    Examples
    --------
    >>> classify(InputError("version: unsupported version 2 of 'activity' (supported: 1)"))
    'unknown_version'
    >>> classify(InputError("activity.counts.3: Input should be greater than or equal to 0"))
    'schema'
    """
    text = str(error)
    if text.startswith(("message: not valid JSON", "message: must be a JSON object")):
        return "undecodable"
    if text.startswith("version: unsupported version"):
        return "unknown_version"
    if text.startswith("message: Input tag") and "does not match any of the expected" in text:
        return "unknown_type"
    return "schema"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a consumed record came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None

    def ref(self) -> str:
        """``topic:partition:offset``, the record's unique address."""
        return f"{self.topic}:{self.partition}:{self.offset}"


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def dead_letter(
    reason: Reason,
    error: str,
    source: Source,
    key: bytes | None,
    payload: bytes | None,
    headers: Sequence[tuple[str, bytes]] = (),
    detail: Mapping[str, Any] | None = None,
) -> bytes:
    """The dead-letter record of one unusable message: the original bytes (base64), where
    they came from, and why. ``id`` is deterministic (source address + reason), so a
    redelivered dead letter can be de-duplicated like every other output.

    Examples
    --------
    >>> src = Source("phenotyping.device", 2, 41, 1700000000000)
    >>> rec = decode_record(dead_letter("undecodable", "message: not valid JSON", src,
    ...                                 b"s1", b"\\xff", [("trace", b"x")]))
    >>> rec["id"], rec["reason"], rec["payload_b64"], rec["source"]["offset"]
    ('phenotyping.device:2:41:undecodable', 'undecodable', '/w==', 41)
    >>> base64.b64decode(rec["payload_b64"])
    b'\\xff'
    """
    record: dict[str, Any] = {
        "type": "dead_letter",
        "version": 1,
        "id": f"{source.ref()}:{reason}",
        "reason": reason,
        "error": error,
        "source": {
            "topic": source.topic,
            "partition": source.partition,
            "offset": source.offset,
            "timestamp_ms": source.timestamp_ms,
        },
        "key_b64": _b64(key),
        "payload_b64": _b64(payload),
        "payload_bytes": 0 if payload is None else len(payload),
        "headers": [[name, _b64(value)] for name, value in headers],
    }
    if detail:
        record["detail"] = dict(detail)
    return encode_record(record)


@functools.lru_cache(maxsize=1 << 16)
def default_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client
    and aiokafka compute it): where every record of that subject must arrive. Cached (a
    bounded LRU): aiokafka's murmur2 is pure Python, ~4 us a key, and a worker checks
    every record's key.

    Examples
    --------
    >>> [default_partition(k, 4) for k in (b"sim-001", b"sim-002", b"sim-003", b"sim-004")]
    [1, 0, 1, 2]
    """
    from aiokafka.partitioner import murmur2  # pure Python; no client is started

    return int(murmur2(key) & 0x7FFFFFFF) % partitions


# --------------------------------------------------------------------------- table value
_STATE_MAGIC = b"PHTV"
_STATE_VERSION = 2
_STATE_HEAD_V1 = struct.Struct("<4sHiq")  # magic, version, partition, offset
_STATE_HEAD = struct.Struct("<4sHiqq")  # ... and the latest record timestamp applied (ms)


def pack_state(partition: int, offset: int, state: bytes, max_ts_ms: int = -1) -> bytes:
    """The table value: the source partition, the offset of the last message applied and
    the latest record timestamp applied (-1: unknown), then ``SubjectState.to_bytes()``.

    Examples
    --------
    >>> unpack_state(pack_state(3, 1234, b"PHSS..."))
    (3, 1234, b'PHSS...')
    >>> unpack_state_ts(pack_state(3, 1234, b"PHSS...", 1_700_000_000_000))
    (3, 1234, 1700000000000, b'PHSS...')
    """
    return _STATE_HEAD.pack(_STATE_MAGIC, _STATE_VERSION, partition, offset, max_ts_ms) + state


def unpack_state(value: bytes) -> tuple[int, int, bytes]:
    """Inverse of :func:`pack_state` without the timestamp; raises :class:`StateError` on
    anything else.

    Examples
    --------
    >>> unpack_state(b"nope")
    Traceback (most recent call last):
    ...
    phenotyping.errors.StateError: table value: too short
    """
    partition, offset, _, body = unpack_state_ts(value)
    return partition, offset, body


def unpack_state_ts(value: bytes) -> tuple[int, int, int, bytes]:
    """``(partition, offset, max_ts_ms, state bytes)``; reads version 1 values (written
    before the timestamp was kept) with ``max_ts_ms = -1``."""
    if len(value) < _STATE_HEAD_V1.size:
        raise StateError("table value: too short")
    magic, version, partition, offset = _STATE_HEAD_V1.unpack_from(value)
    if magic != _STATE_MAGIC:
        raise StateError("table value: bad magic")
    if version == 1:
        return partition, offset, -1, value[_STATE_HEAD_V1.size :]
    if version != _STATE_VERSION:
        raise StateError(f"table value: unknown version {version}")
    if len(value) < _STATE_HEAD.size:
        raise StateError("table value: too short")
    max_ts = _STATE_HEAD.unpack_from(value)[4]
    return partition, offset, max_ts, value[_STATE_HEAD.size :]

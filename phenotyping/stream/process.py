"""Batches of consumed device records -> outgoing records and state writes.

This is the whole behaviour of a worker, without faust: the agent hands each batch of
records and a way to read the state table to :meth:`BatchProcessor.process`, sends the
:class:`Outgoing` records it returns and waits until the broker has them; every
``state_flush_s`` it writes the :class:`StateWrite` values of
:meth:`BatchProcessor.take_writes` into the table and only then releases the records'
offsets for commit. That order (outputs acknowledged before the state that produced them
is stored, the state stored before the offsets are committed) is what makes the
at-least-once mode lose nothing: after a crash either the stored state is older (the
records are processed again and their outputs repeat with the same ids) or it already
holds a record (the record is skipped, see :mod:`.codec`).

Per record:

1. more than ``max_message_bytes`` -> dead letter ``oversized`` (not parsed);
2. :func:`phenotyping.events.decode` fails -> dead letter ``undecodable`` /
   ``unknown_type`` / ``unknown_version`` / ``schema`` with the decoder's error text;
3. the record key is not the subject_id -> dead letter ``key_mismatch``; a key that the
   default partitioner puts in another partition than the one the record arrived on ->
   ``misrouted`` (so one misrouted record can never create the subject's state in the
   wrong partition); a subject whose state lives in another partition ->
   ``wrong_partition``; an unreadable stored state -> ``state_error``;
4. an offset at or below the one stored with the subject's state -> skipped (redelivery),
   unless the record's timestamp is later than every record the state has applied, or the
   stored offset is at or beyond the partition's end (``highwater``): then the device topic
   was re-created or truncated, the record is new, and it is applied (counted as
   ``topic_reset``; the worker logs a warning);
5. :func:`phenotyping.pipeline.step`; a sample outside the subject's event-time window ->
   ``time_window`` (nothing applied); any other exception -> ``processing_error`` naming
   the exception type (the record is consumed, the partition goes on). Outputs are
   published generically, one :func:`routes` entry per
   :class:`~phenotyping.pipeline.StepOutput` field; a ``late_data`` notice also sends the
   message to the dead-letter topic (reason ``late_data``: the part for closed days was not
   applied, the rest was).

Nothing here logs: counters go to :class:`BatchResult.counts` (never payloads or ids).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from phenotyping.errors import InputError, StateError
from phenotyping.events import decode, samples
from phenotyping.features.day import EngineParams
from phenotyping.kafkaio import TopicNames
from phenotyping.pipeline import OutOfWindow, StepOutput, SubjectState, idle_for, step
from phenotyping.risk.engine import RiskParams
from phenotyping.stream.codec import (
    Reason,
    Source,
    classify,
    dead_letter,
    encode_record,
    pack_state,
    unpack_state_ts,
)

Headers = tuple[tuple[str, bytes], ...]

#: Header on every output naming the input record that caused it (``topic:partition:offset``).
SOURCE_HEADER = "phenotyping-source"
#: Header with the input record's timestamp (ms since the epoch), for end-to-end latency.
SOURCE_TS_HEADER = "phenotyping-source-ts"


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed record, as the agent hands it over."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: Headers = ()

    @property
    def source(self) -> Source:
        return Source(self.topic, self.partition, self.offset, self.timestamp_ms)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to send: always to the partition its input came from."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: Headers


@dataclass(frozen=True, slots=True)
class StateWrite:
    """A table write: ``value`` under ``subject`` (a state partition of ``partition``)."""

    subject: str
    partition: int
    value: bytes


@dataclass
class BatchResult:
    outgoing: list[Outgoing] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    #: subject -> position in the batch of the last record that changed its state (the agent
    #: writes the state "as" that record, i.e. into its partition, at the next flush)
    touched: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """Where one kind of pipeline output goes: a topic, the key, and optionally an ``id``
    added to the record (deterministic, for de-duplication downstream)."""

    topic: str
    key: Callable[[Mapping[str, Any]], str]
    ident: Callable[[Mapping[str, Any]], str] | None = None


def _subject(rec: Mapping[str, Any]) -> str:
    return str(rec["subject_id"])


def routes(names: TopicNames) -> dict[str, Route]:
    """:class:`StepOutput` field name -> :class:`Route`. A new output kind of the pipeline
    needs exactly one line here (:func:`check_routes` refuses to start without it)."""
    return {
        "daily": Route(names.features, _subject, lambda r: f"{r['subject_id']}:{r['date']}"),
        "alerts": Route(names.alerts, lambda a: str(a["alert_id"])),
        "notices": Route(names.notices, _subject),
    }


def check_routes(table: Mapping[str, Route]) -> None:
    """Raise ``TypeError`` if a list field of :class:`StepOutput` has no route."""
    missing = sorted(f.name for f in fields(StepOutput) if f.name not in table)
    if missing:
        raise TypeError(f"StepOutput field(s) without a topic route: {missing}")


#: The list fields of :class:`StepOutput` (``dataclasses.fields`` costs ~2 us a call).
_OUTPUT_FIELDS = tuple(f.name for f in fields(StepOutput))


def outputs(out: StepOutput, table: Mapping[str, Route]) -> Iterator[tuple[Route, dict[str, Any]]]:
    """Every output record of one step with its route, field by field."""
    for name in _OUTPUT_FIELDS:
        items: list[dict[str, Any]] = getattr(out, name)
        if not items:
            continue
        route = table[name]
        for item in items:
            rec = item if route.ident is None else {"id": route.ident(item), **item}
            yield route, rec


@dataclass
class _Slot:
    state: SubjectState
    partition: int
    offset: int
    written: bytes | None = None  # the table value this state was loaded from / flushed as
    max_ts: int = -1  # latest record timestamp (ms) applied; -1 unknown
    dirty: bool = False


@dataclass
class BatchProcessor:
    """Keeps the decoded states of the subjects it has seen; a changed state is written to
    the table only at :meth:`take_writes` (the agent writes every ``state_flush_s``, and
    only then releases the offsets of the records behind it for commit). A clean state is
    checked against the table value before every use, so a rebalance or a restore can never
    make it stale; at most ``cache_size`` clean states are kept.

    Parameters
    ----------
    names
        Topic names.
    params, risk
        Engine and risk parameters of new subjects.
    max_message_bytes
        Larger records are dead-lettered unparsed.
    cache_size
        Clean decoded states kept between flushes (0: none).
    clock
        Ingest time for the "not in the future" rule of :func:`phenotyping.events.decode`;
        only the shell passes a real clock.
    partitioner
        ``key -> partition`` of the producers (the shell passes Kafka's default
        partitioner); a record that arrived elsewhere is dead-lettered ``misrouted``.
        None: not checked.
    """

    names: TopicNames
    params: EngineParams = field(default_factory=EngineParams)
    risk: RiskParams = field(default_factory=RiskParams)
    max_message_bytes: int = 8 * 1024 * 1024
    cache_size: int = 256
    clock: Callable[[], dt.datetime | None] = lambda: None
    partitioner: Callable[[bytes], int] | None = None
    #: processing-time clock (seconds) for silences; the shell passes time.monotonic
    ticker: Callable[[], float] = lambda: 0.0
    _seen: dict[str, float] = field(init=False, repr=False, default_factory=dict)
    _routes: dict[str, Route] = field(init=False, repr=False)
    _live: OrderedDict[str, _Slot] = field(init=False, repr=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self._routes = routes(self.names)
        check_routes(self._routes)

    def process(
        self,
        records: Sequence[Record],
        load: Callable[[str], bytes | None],
        highwater: Callable[[int], int | None] = lambda partition: None,
    ) -> BatchResult:
        """Process ``records`` in order; ``load(subject)`` returns the table value or None;
        ``highwater(partition)`` the partition's end offset as the consumer saw it (None:
        unknown).

        No exception of one record escapes: whatever goes wrong is that record's dead
        letter, and the next record is processed.
        """
        result = BatchResult()
        now = self.clock()
        for index, rec in enumerate(records):
            mark = len(result.outgoing)
            try:
                self._one(index, rec, now, load, highwater, result)
            except Exception as exc:  # a bug must cost one record, never the partition
                del result.outgoing[mark:]
                self._dead(result, rec, "processing_error", f"worker raised {type(exc).__name__}")
        return result

    def tick(
        self,
        items: Iterable[tuple[str, bytes]],
        idle_after_s: float,
        owned: Callable[[int], bool] = lambda partition: True,
    ) -> BatchResult:
        """Close the overdue days of subjects silent for ``idle_after_s`` of processing time
        (:func:`phenotyping.pipeline.idle_for`): their data-gap notices come live. ``items``
        are the table's ``(subject, value)`` pairs; a subject is judged only in a partition
        this worker ``owned``. A subject first met here starts its silence now (after a
        restart the notice is late by at most the outage). ``touched`` maps each changed
        subject to its partition (not a batch position). Never raises for one subject.
        """
        result = BatchResult()
        now = self.ticker()
        for subject, value in items:
            try:
                self._tick_one(subject, value, now, idle_after_s, owned, result)
            except Exception as exc:  # a corrupt state: its records dead-letter it anyway
                result.counts[f"idle_error.{type(exc).__name__}"] += 1
        return result

    def _tick_one(
        self,
        subject: str,
        value: bytes,
        now: float,
        idle_after_s: float,
        owned: Callable[[int], bool],
        result: BatchResult,
    ) -> None:
        seen = self._seen.setdefault(subject, now)
        silent = now - seen
        if silent < idle_after_s:
            return
        slot = self._live.get(subject)
        if slot is None or not slot.dirty:
            partition, offset, max_ts, body = unpack_state_ts(value)
            if slot is None or slot.written != value:
                slot = _Slot(SubjectState.from_bytes(body), partition, offset, value, max_ts)
                self._live[subject] = slot
        if not owned(slot.partition):
            return
        # the silence counts from the subject's last record; a day closes only once, so
        # judging the same silence again changes nothing
        out = idle_for(subject, slot.state, silent / 60.0)
        if not (out.daily or out.alerts or out.notices):
            return
        slot.dirty = True
        result.touched[subject] = slot.partition
        result.counts["idle_closed_days"] += len(out.daily)
        head: Headers = ((SOURCE_HEADER, b"idle"),)
        for route, item in outputs(out, self._routes):
            result.counts[f"out.{route.topic}"] += 1
            result.outgoing.append(
                Outgoing(
                    route.topic, slot.partition, route.key(item).encode(), encode_record(item), head
                )
            )

    @property
    def dirty(self) -> int:
        """Subjects whose state changed since the last :meth:`take_writes`."""
        return sum(1 for slot in self._live.values() if slot.dirty)

    def take_writes(self) -> list[StateWrite]:
        """The table writes of every changed state; afterwards all states are clean."""
        writes = []
        for subject, slot in self._live.items():
            if slot.dirty:
                value = pack_state(slot.partition, slot.offset, slot.state.to_bytes(), slot.max_ts)
                writes.append(StateWrite(subject, slot.partition, value))
                slot.written, slot.dirty = value, False
        excess = len(self._live) - self.cache_size
        for subject in list(self._live)[: max(excess, 0)]:
            del self._live[subject]
        return writes

    # ------------------------------------------------------------------ one record
    def _dead(
        self,
        result: BatchResult,
        rec: Record,
        reason: Reason,
        error: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        result.counts[f"dead_letter.{reason}"] += 1
        value = dead_letter(reason, error, rec.source, rec.key, rec.value, rec.headers, detail)
        result.outgoing.append(
            Outgoing(self.names.dead_letter, rec.partition, rec.key, value, self._lineage(rec))
        )

    @staticmethod
    def _lineage(rec: Record) -> Headers:
        head: list[tuple[str, bytes]] = [(SOURCE_HEADER, rec.source.ref().encode())]
        if rec.timestamp_ms is not None:
            head.append((SOURCE_TS_HEADER, str(rec.timestamp_ms).encode()))
        return tuple(head)

    def _slot(self, subject: str, rec: Record, load: Callable[[str], bytes | None]) -> _Slot:
        slot = self._live.get(subject)
        if slot is not None and slot.dirty:
            return slot  # changed since the last flush: newer than the table
        value = load(subject)
        if slot is not None and slot.written is not None and slot.written == value:
            self._live.move_to_end(subject)
            return slot
        if value is None:
            slot = _Slot(SubjectState.new(self.params, self.risk), rec.partition, -1)
        else:
            partition, offset, max_ts, body = unpack_state_ts(value)
            slot = _Slot(SubjectState.from_bytes(body), partition, offset, value, max_ts)
        self._live[subject] = slot
        self._live.move_to_end(subject)
        return slot

    def _one(
        self,
        index: int,
        rec: Record,
        now: dt.datetime | None,
        load: Callable[[str], bytes | None],
        highwater: Callable[[int], int | None],
        result: BatchResult,
    ) -> None:
        result.counts["messages"] += 1
        if rec.value is None:
            self._dead(result, rec, "undecodable", "message: no value (tombstone)")
            return
        if len(rec.value) > self.max_message_bytes:
            self._dead(
                result,
                rec,
                "oversized",
                f"message: {len(rec.value)} bytes, more than max_message_bytes="
                f"{self.max_message_bytes}",
            )
            return
        try:
            msg = decode(rec.value, now=now)
        except InputError as exc:
            self._dead(result, rec, classify(exc), str(exc))
            return
        subject = msg.subject_id
        if rec.key is None or rec.key != subject.encode():
            self._dead(result, rec, "key_mismatch", "key: the record key is not the subject_id")
            return
        if self.partitioner is not None:
            home = self.partitioner(rec.key)
            if home != rec.partition:
                self._dead(
                    result,
                    rec,
                    "misrouted",
                    f"partition: the key belongs to partition {home}, the record arrived on "
                    f"{rec.partition} (producers must use the default partitioner)",
                )
                return
        try:
            slot = self._slot(subject, rec, load)
        except StateError as exc:
            self._dead(result, rec, "state_error", str(exc))
            return
        if slot.partition != rec.partition:
            self._dead(
                result,
                rec,
                "wrong_partition",
                f"partition: this subject's state lives in partition {slot.partition}",
            )
            return
        if rec.offset <= slot.offset:
            end = highwater(rec.partition)
            newer = (
                rec.timestamp_ms is not None
                and slot.max_ts >= 0
                and (rec.timestamp_ms > slot.max_ts)
            )
            if not newer and (end is None or slot.offset < end):
                result.counts["redelivered_skipped"] += 1
                return
            # a redelivered record is one the state applied: never later than every record
            # applied, never at an offset the log does not have. This one is new: the
            # device topic was re-created or truncated (its data, if old, is late data)
            result.counts["topic_reset"] += 1
        try:
            out = step(slot.state, msg)
        except OutOfWindow as exc:  # nothing applied; the state is unchanged
            self._dead(result, rec, "time_window", str(exc))
            return
        except Exception as exc:  # a bug in the engine must not stop the worker
            slot.offset, slot.dirty = rec.offset, True
            if rec.timestamp_ms is not None:
                slot.max_ts = max(slot.max_ts, rec.timestamp_ms)
            result.touched[subject] = index
            self._dead(result, rec, "processing_error", f"engine raised {type(exc).__name__}")
            return
        slot.offset, slot.dirty = rec.offset, True
        ts = rec.timestamp_ms
        if ts is not None and ts > slot.max_ts:
            slot.max_ts = ts
        self._seen[subject] = self.ticker()
        result.touched[subject] = index
        counts = result.counts
        counts["applied"] += 1
        counts["samples"] += samples(msg)
        if not (out.daily or out.alerts or out.notices):
            return  # most records cause nothing
        head: Headers | None = None  # built for the first output
        for route, item in outputs(out, self._routes):
            if head is None:
                head = self._lineage(rec)
            result.counts[f"out.{route.topic}"] += 1
            result.outgoing.append(
                Outgoing(
                    route.topic,
                    rec.partition,
                    route.key(item).encode(),
                    encode_record(item),
                    head,
                )
            )
            if item.get("kind") == "late_data" and route.topic == self.names.notices:
                detail = {k: item.get(k) for k in ("samples_not_applied", "closed_through")}
                self._dead(
                    result,
                    rec,
                    "late_data",
                    f"late_data: {item.get('samples_not_applied')} sample(s) for days closed "
                    f"through {item.get('closed_through')} not applied",
                    detail,
                )

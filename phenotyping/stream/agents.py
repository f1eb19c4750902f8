"""The faust agent: batches of device records in, outputs and table writes out.

Imports faust. The behaviour lives in :class:`phenotyping.stream.process.BatchProcessor`;
this module only moves bytes between faust and it, in the order that makes at-least-once
safe: send every output; every ``state_flush_s`` wait for the broker's acknowledgement of
the outputs sent, then write the changed states into the table, and release the offsets
of the records behind them only once the broker has acknowledged those states (faust
commits released offsets after flushing the producer). That wait runs beside the
processing of the next batches, never ahead of the commit. A crash loses at most the
states not yet acknowledged, and their records are delivered again (their outputs repeat
with the same ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import time
import weakref
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP, EventT, StreamT  # faust's task-local "event being processed"

from phenotyping.config import Settings
from phenotyping.kafkaio import TopicNames
from phenotyping.stream.codec import default_partition
from phenotyping.stream.holes import OffsetGuard
from phenotyping.stream.process import BatchProcessor, Record

log = logging.getLogger("phenotyping.stream")

#: Flushes whose offsets may wait for the broker's acknowledgement of their states while the
#: agent goes on processing; beyond that it waits for the oldest.
MAX_PENDING_FLUSHES = 2
#: A batch is processed in slices of about this much wall time, each slice's outputs handed
#: to the producer before the next: the latency of a record is its slice's, not its batch's.
#: (0.02 s cost day-batch runs ~15 % more CPU per record in one paired run: a produce
#: request per few records.)
SEND_EVERY_S = 0.1


@dataclass
class StreamStats:
    """Counters of one worker process (no payloads, no subject ids)."""

    counts: Counter[str] = field(default_factory=Counter)
    #: wall seconds of the agent per stage (``process``, ``send``, ``flush``,
    #: ``changelog_wait``, ``ack``): where a record's time in the worker goes; and the
    #: CPU seconds of this thread handing outputs to the producer (``send_cpu``: faust and
    #: aiokafka; faust's consumer runs in a thread of its own)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    partitions: set[int] = field(default_factory=set)
    batches: int = 0
    first: float | None = None  # monotonic time the first batch started
    last: float | None = None  # monotonic time the last batch ended

    def add(self, counts: Mapping[str, int], partitions: set[int], t0: float) -> None:
        self.counts.update(counts)
        self.partitions |= partitions
        self.batches += 1
        self.first = t0 if self.first is None else self.first
        self.last = time.monotonic()

    def line(self) -> str:
        c = self.counts
        dead = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("dead_letter.")}
        out = sum(v for k, v in c.items() if k.startswith("out."))
        dead_text = ", ".join(f"{k} {v:,}" for k, v in sorted(dead.items())) or "none"
        busy = ", ".join(f"{k} {v:,.1f}" for k, v in sorted(self.seconds.items())) or "none"
        return (
            f"stats: {c['messages']:,} messages in {self.batches:,} batches, "
            f"{c['applied']:,} applied ({c['samples']:,} samples), {out:,} outputs, "
            f"dead-lettered: {dead_text}, redelivered and skipped: "
            f"{c['redelivered_skipped']:,}; partitions {sorted(self.partitions)}; "
            f"seconds: {busy}"
        )


@contextlib.contextmanager
def as_current(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` faust's current event in this task for the block.

    faust tables take the changelog partition (and the RocksDB store its per-partition
    database) from the task-local current event; ``take_events`` consumes in a background
    task, so the agent's task has none. The state of a subject is written "as" the last
    record that changed it, i.e. into that record's partition.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class StateTable(faust.Table[bytes, bytes]):
    """The state table; it keeps the future of every changelog write until
    :meth:`take_sent`, so the agent can wait for the broker to have the states before it
    releases the offsets behind them.

    faust alone does not guarantee that order: its commit flushes the producer first, but
    the buffer holding table writes (``ProducerBuffer.flush_atmost``) returns as soon as
    0.1 s pass without a message leaving it, and a message being handed to the client is no
    longer counted. On a busy machine the offsets were committed while the changelog
    still lacked the states of their records; a member killed then left a changelog older
    than its commits, and its successor restored states that had never seen those records
    (a day closed without its data).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent: list[asyncio.Future[Any]] = []

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        fut = super().send_changelog(*args, **kwargs)
        self._sent.append(fut)
        return fut

    def take_sent(self) -> list[asyncio.Future[Any]]:
        """The changelog writes since the last call (each resolves once acknowledged)."""
        sent, self._sent = self._sent, []
        return sent


class RewindingConsumer(AIOKafkaConsumer):
    """faust's Kafka consumer, whose "seek to the committed offsets" also moves the
    partitions of the agents' source topics that have NO committed offset back to their
    beginning (what ``auto.offset.reset=earliest`` means), instead of leaving them where
    the fetcher happens to be.

    After every rebalance faust recovers the tables and then seeks the stream partitions
    to their committed offsets, relying on that seek to re-deliver whatever was fetched
    and dropped meanwhile (during recovery the fetcher keeps fetching the newly assigned
    source partitions, and the stream drops those records). aiokafka's
    ``seek_to_committed`` seeks only partitions whose committed offset is above 0, so a
    partition nobody had committed yet -- a successor of a worker killed before its first
    commit -- stayed after the records dropped during recovery: the successor was ready,
    alive and consumed nothing while its partitions' records were there (reproduced with
    faust/aiokafka debug logs: fetch positions 98 and 188, the topic's ends, with nothing
    committed; ``tests/stream/successor_stall.py``). Re-reading from the beginning is
    safe: records at or below a subject's stored offset are skipped as redelivered. Only
    partitions already read past their start are moved: every seek also opens faust's
    own race between its fetch loop and the seek.

    That race drops records fetched during the restore while later ones of the partition
    are delivered. The consumer therefore also keeps :attr:`guard`, the next offset the
    agent may process per source partition (set by every seek, forgotten on revocation),
    which the agent uses to stop at a hole and seek back (:meth:`seek_back`); faust's own
    gap bookkeeping, which let the commit pass such holes, is switched off for source
    partitions except for holes the guard accepted (:meth:`accept_hole`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard: OffsetGuard[TP] = OffsetGuard()
        self._accepting = False  # True while an accepted hole is marked as a gap
        self._withheld: weakref.WeakSet[Any] = weakref.WeakSet()

    def withhold(self, message: Any) -> None:
        """The agent left ``message`` unprocessed (beyond a hole): it is never acked."""
        self._withheld.add(message)

    async def wait_empty(self) -> None:
        # a rebalance (and a stop) waits for every message delivered to be acked; those
        # withheld at a hole never will be, and are read again after the seek
        for message in list(self._withheld):
            self._unacked_messages.discard(message)
        await super().wait_empty()

    def _is_source(self, tp: TP) -> bool:
        return tp.topic in self.app.topics.acking_topics

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await super().seek_to_committed()
        sources = [tp for tp in committed if self._is_source(tp)]
        starts: Mapping[TP, int] = {}
        if sources:
            starts = await self._thread.earliest_offsets(*sources)
        fresh = [tp for tp in sources if not committed[tp]]
        # only those read past their start are moved: a seek opens faust's fetch race too
        fresh = [tp for tp in fresh if (await self._thread.position(tp) or 0) > starts[tp]]
        if fresh:
            log.info(
                "%d source partition(s) without a committed offset: reading them from "
                "the beginning",
                len(fresh),
            )
            await self._thread.seek_to_beginning(*fresh)
        for tp in sources:  # stop at the hole: where each partition's next record must be
            start = int(starts.get(tp) or 0)
            self.guard.reset(tp, max(int(committed[tp] or 0), start))
        return committed

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        if self._is_source(partition):
            self.guard.reset(partition, offset)

    async def seek_back(self, tp: TP) -> None:
        """Seek ``tp`` back to the offset the guard expects (a hole), keeping the
        guard's count of re-reads; faust's read offset moves with it."""
        expected = self.guard.expected(tp)
        if expected is None:
            return
        try:
            await super().seek(tp, expected)
        except Exception as exc:  # e.g. revoked meanwhile: the hole stays open (re-sought
            # later, or forgotten with the partition); the agent must not die of it
            log.warning(
                "device partition %d: seek back to %d failed (%s)",
                tp.partition,
                expected,
                type(exc).__name__,
            )

    async def accept_hole(self, tp: TP, first: int, last: int) -> None:
        """Offsets ``first..last`` of ``tp`` hold no record (they did not come back):
        let the commit pass them."""
        self._accepting = True
        try:
            await super()._add_gap(tp, first, last)
        finally:
            self._accepting = False

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # faust marks offsets its fetch loop jumped over as "acked", so the commit passes
        # them. For source partitions that is how the race lost records silently (a jump
        # over records dropped during the restore); there the guard decides instead
        # (accept_hole).
        if self._accepting or not self._is_source(tp):
            await super()._add_gap(tp, offset_from, offset_to)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self.guard.forget(tp)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        for tp in assigned:  # known again from the seek that ends the rebalance
            self.guard.forget(tp)
        await super().on_partitions_assigned(assigned, generation_id)


class PhenotypingApp(faust.App):
    """``faust.App`` whose consumer is a :class:`RewindingConsumer`."""

    def _new_consumer(self) -> Any:
        return RewindingConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.transport.loop,
        )


def _latency_parts(stats: StreamStats, records: list[Record], began: float, sent: float) -> None:
    """Where a record's time in the worker goes, summed over the records (record-seconds;
    divided by ``counts["timed"]`` a mean): ``queued`` from its timestamp (the producer's
    clock) to the start of its batch's processing (fetching, batching, waiting behind the
    batch before), ``in_batch`` from there until the batch's outputs were handed to the
    producer (every record waits for its whole batch)."""
    stamped = [r.timestamp_ms for r in records if r.timestamp_ms is not None]
    if stamped:
        stats.counts["timed"] += len(stamped)
        stats.seconds["queued"] += (len(stamped) * began - sum(stamped)) / 1000
        stats.seconds["in_batch"] += len(stamped) * (sent - began) / 1000


def _record(event: EventT[Any]) -> Record:
    m = event.message
    headers: Any = m.headers or ()
    if isinstance(headers, Mapping):
        headers = headers.items()
    ts = None if m.timestamp is None else int(m.timestamp * 1000)
    return Record(
        m.topic,
        m.partition,
        m.offset,
        m.key,
        m.value,
        ts,
        tuple((str(k), bytes(v or b"")) for k, v in headers),
    )


def register(
    app: faust.App,
    settings: Settings,
    names: TopicNames,
    table: StateTable,
    stats: StreamStats,
) -> None:
    """Declare the device agent and the stats timer on ``app``."""
    kafka = settings.kafka
    device = app.topic(
        names.device, partitions=kafka.partitions, key_serializer="raw", value_serializer="raw"
    )
    outputs = {
        name: app.topic(
            name, partitions=kafka.partitions, key_serializer="raw", value_serializer="raw"
        )
        for name in (names.features, names.alerts, names.notices, names.dead_letter)
    }

    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def load(subject: str) -> bytes | None:
        value: bytes | None = table.get(subject.encode())
        return value

    # exactly-once: every batch's states and offsets go into the same transaction as its
    # outputs, so the state is flushed at the end of every batch
    flush_every = 0.0 if kafka.processing_guarantee == "exactly_once" else kafka.state_flush_s

    def highwater(partition: int) -> int | None:
        try:
            return int(app.consumer.highwater(TP(names.device, partition)))
        except Exception:  # unknown yet (no fetch response): treat as "cannot tell"
            return None

    def crash(exc: BaseException) -> None:
        # faust would log this and keep the process in the consumer group with the
        # partitions assigned and nothing consuming them: a live, stalled member. Crash
        # instead, so the group rebalances and the supervisor restarts the worker (the
        # records since the last commit are processed again; their outputs repeat with
        # the same ids). Only the type is logged: a message could carry health data.
        log.critical(
            "device agent crashed (%s): exiting so that the group rebalances",
            type(exc).__name__,
        )
        logging.shutdown()
        os._exit(70)

    async def process_device(stream: StreamT[Any]) -> None:
        try:
            await _process_device(stream)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            crash(exc)

    async def _process_device(stream: StreamT[Any]) -> None:
        processor = BatchProcessor(
            names,
            params=settings.engine,
            risk=settings.risk,
            max_message_bytes=kafka.max_message_bytes,
            cache_size=kafka.state_cache_size,
            clock=clock,
            partitioner=lambda key: default_partition(key, kafka.partitions),
            ticker=time.monotonic,
        )
        held: list[EventT[Any]] = []  # processed, offsets not yet released for commit
        last_event: dict[str, EventT[Any]] = {}  # subject -> last record that changed it
        by_partition: dict[int, EventT[Any]] = {}  # partition -> a record of it (idle writes)
        unacked: list[Awaitable[Any]] = []  # outputs sent, acknowledgement not awaited
        releases: deque[asyncio.Future[None]] = deque()  # flushes whose offsets are pending
        lock = asyncio.Lock()
        last_flush = time.monotonic()
        seconds = stats.seconds

        async def send(outgoing: list[Any], wait: bool = False) -> None:
            """Hand the outputs to the producer. Their acknowledgements are awaited at the
            next flush, before the states that produced them are written (or now, with
            ``wait``): a batch does not wait for a broker round trip before the next one."""
            t0, c0 = time.monotonic(), time.thread_time()
            for o in outgoing:
                fut = await outputs[o.topic].send(
                    key=o.key, value=o.value, partition=o.partition, headers=list(o.headers)
                )
                unacked.append(fut)
            seconds["send"] += time.monotonic() - t0
            seconds["send_cpu"] += time.thread_time() - c0
            if wait:
                await outputs_acknowledged()

        async def outputs_acknowledged() -> None:
            if unacked:
                t0 = time.monotonic()
                pending, unacked[:] = unacked[:], []
                await asyncio.gather(*pending)
                seconds["output_wait"] += time.monotonic() - t0

        async def idle_closer() -> None:
            """Processing time: close the overdue days of silent subjects (data-gap
            notices come live). Only partitions this worker has consumed a record of since
            it started are judged: a table write needs a record of the partition."""
            while True:
                await asyncio.sleep(kafka.idle_check_s)
                async with lock:
                    owned = set(by_partition)
                    assigned = {tp.partition for tp in app.consumer.assignment()}
                    owned &= assigned
                    items = [(k.decode(), v) for k, v in list(table.items()) if v is not None]
                    result = processor.tick(items, kafka.idle_after_s, owned.__contains__)
                    await send(result.outgoing, wait=True)
                    for subject, partition in result.touched.items():
                        last_event[subject] = by_partition[partition]
                    stats.counts.update(result.counts)

        async def release(
            sent: list[asyncio.Future[Any]],
            done: list[EventT[Any]],
            before: asyncio.Future[None] | None,
        ) -> None:
            """Release ``done`` for commit once the broker acknowledged the states written
            for them (``sent``), and after every earlier flush's release (in order)."""
            try:
                if before is not None:
                    await before
                t0 = time.monotonic()
                if sent:  # the states acknowledged before their records' offsets are released
                    await asyncio.gather(*sent)
                seconds["changelog_wait"] += time.monotonic() - t0
                for event in done:
                    await stream.ack(event)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # a changelog write refused for good
                crash(exc)

        async def flush() -> None:
            """Outputs acknowledged, then the states into the table; the held offsets are
            released once the broker acknowledged those states (faust commits released
            offsets after flushing the producer, changelog included).

            At least once, the release runs in the background, so the next batches are
            processed while the broker acknowledges the states (waiting here stalled the
            agent for a round trip every ``state_flush_s``: measured as 5-10 % of a
            single-sample run's wall time on the loaded 2-core machine, more with day
            records, whose states are larger). At most ``MAX_PENDING_FLUSHES``
            releases are pending: beyond that the agent waits for the oldest, so a slow
            broker slows the agent instead of letting unreleased records pile up. Exactly
            once, a batch's states and offsets go into one transaction: it waits."""
            nonlocal last_flush
            t0 = time.monotonic()
            await outputs_acknowledged()  # outputs acknowledged before their state is stored
            t1 = time.monotonic()
            for w in processor.take_writes():
                with as_current(last_event[w.subject]):
                    table[w.subject.encode()] = w.value
            last_event.clear()
            sent = table.take_sent()
            done, held[:] = held[:], []
            seconds["flush"] += time.monotonic() - t1
            while releases and releases[0].done():
                releases.popleft()
            before = releases[-1] if releases else None
            task = asyncio.ensure_future(release(sent, done, before))
            releases.append(task)
            if flush_every <= 0 or len(releases) > MAX_PENDING_FLUSHES:
                t2 = time.monotonic()
                await (task if flush_every <= 0 else releases[0])
                seconds["release_wait"] += time.monotonic() - t2
            last_flush = time.monotonic()
            seconds["flush_total"] += last_flush - t0

        async def flusher() -> None:
            """Flush an idle stream too, so its offsets are committed and a rebalance
            (which waits for every held record) goes through."""
            while True:
                await asyncio.sleep(max(flush_every / 4, 0.05))
                if held and time.monotonic() - last_flush >= flush_every:
                    async with lock:
                        await flush()

        consumer = app.consumer
        guard = consumer.guard if isinstance(consumer, RewindingConsumer) else None

        async def admit(batch: list[EventT[Any]]) -> list[EventT[Any]]:
            """Stop at the hole: the events the agent may process, in order. An event
            beyond the next expected offset of its partition is neither processed nor
            released, nor is any later one of that partition; the partition is sought
            back. Events not admitted keep the reference count taken here, never released:
            they are never acked, so the commit cannot pass them (they come again after
            the seek)."""
            admitted: list[EventT[Any]] = []
            for event in batch:
                event.message.incref()  # take_events acks after the batch: hold them all
                message = event.message
                if guard is None or message.topic != names.device:
                    admitted.append(event)
                    continue
                tp = message.tp
                expected = guard.expected(tp)
                verdict = guard.check(tp, message.offset)
                if verdict in ("seek", "drop"):
                    cast(RewindingConsumer, consumer).withhold(message)
                if verdict == "seek":
                    stats.counts["hole_seek_back"] += 1
                    log.info(
                        "device partition %d: offset %d arrived while %d was expected: "
                        "seeking back to it",
                        message.partition,
                        message.offset,
                        expected,
                    )
                    await cast(RewindingConsumer, consumer).seek_back(tp)
                    guard.sought(tp, time.monotonic())
                elif verdict == "drop":
                    stats.counts["hole_dropped"] += 1
                elif verdict == "accept":
                    assert expected is not None  # an accepted hole follows a seek back
                    log.warning(
                        "device partition %d: offsets %d..%d did not come back after %d "
                        "re-reads (transaction markers or deleted records): continuing "
                        "at %d",
                        message.partition,
                        expected,
                        message.offset - 1,
                        guard.max_retries,
                        message.offset,
                    )
                    stats.counts["hole_accepted"] += 1
                    await cast(RewindingConsumer, consumer).accept_hole(
                        tp, expected, message.offset - 1
                    )
                    admitted.append(event)
                else:
                    admitted.append(event)
            batch.clear()  # no reference to the events left out may outlive this call
            return admitted

        async def reseeker() -> None:
            """A hole whose re-read has not come: seek again (the fetch loop can drop
            the re-read too, when a batch fetched before the seek was still being
            delivered and moved faust's read offset past it)."""
            assert guard is not None
            while True:
                await asyncio.sleep(1.0)
                async with lock:
                    for tp in guard.stale(time.monotonic(), after=5.0):
                        await cast(RewindingConsumer, consumer).seek_back(tp)
                        guard.sought(tp, time.monotonic())

        async def crash_on_error(loop: Callable[[], Awaitable[None]]) -> None:
            """Run a background loop of the agent; its failure ends the worker as the
            agent's own does. A flush or an idle close that raised while awaiting its
            outputs has already taken their futures: left to die alone, the loop's next
            flush would store the states that produced them and release their records
            (outputs lost)."""
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                crash(exc)

        background = (
            asyncio.ensure_future(crash_on_error(flusher)) if flush_every > 0 else None
        )
        closer = asyncio.ensure_future(crash_on_error(idle_closer))
        reseek = asyncio.ensure_future(reseeker()) if guard is not None else None
        per_record = [0.001]  # running estimate of the wall seconds one record takes
        within = kafka.batch_within_ms / 1000.0
        batches = cast(faust.Stream[Any], stream).take_events(kafka.batch_max, within)
        try:
            async for batch in batches:
                async with lock:
                    t0 = time.monotonic()
                    events = await admit(cast(list[EventT[Any]], batch))
                    if not events:
                        continue
                    held.extend(events)
                    records = [_record(e) for e in events]
                    for r, e in zip(records, events, strict=True):
                        by_partition[r.partition] = e
                    counts: Counter[str] = Counter()
                    i = 0
                    while i < len(records):
                        # a slice of about SEND_EVERY_S of processing, then its outputs go:
                        # a record's output does not wait for the rest of its batch
                        k = max(1, int(SEND_EVERY_S / per_record[0]))
                        part = records[i : i + k]
                        t1 = time.monotonic()
                        began_ms = time.time() * 1000
                        result = processor.process(part, load, highwater)
                        took = time.monotonic() - t1
                        seconds["process"] += took
                        per_record[0] = 0.8 * per_record[0] + 0.2 * max(took / len(part), 1e-6)
                        await send(result.outgoing)
                        _latency_parts(stats, part, began_ms, time.time() * 1000)
                        counts.update(result.counts)
                        last_event.update({s: events[i + j] for s, j in result.touched.items()})
                        i += len(part)
                        if i < len(records):
                            await asyncio.sleep(0)  # let the producer send them meanwhile
                    if counts.get("topic_reset"):
                        log.warning(
                            "device topic re-created or truncated: %d record(s) at offsets "
                            "below the stored state's were applied as new",
                            counts["topic_reset"],
                        )
                    if time.monotonic() - last_flush >= flush_every:
                        await flush()
                    stats.add(counts, {r.partition for r in records}, t0)
        finally:
            closer.cancel()
            for task in releases:
                task.cancel()
            if background is not None:
                background.cancel()
            if reseek is not None:
                reseek.cancel()

    app.agent(device, name="phenotyping.device")(process_device)

    async def log_stats() -> None:
        if stats.batches:
            log.info("%s", stats.line())

    app.timer(kafka.stats_interval_s)(log_stats)

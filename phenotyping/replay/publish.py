"""Replay into Kafka: recorded streams -> device messages on the device topic.

The same readers as the in-process replay (:mod:`phenotyping.replay.formats`) turn each
recording into the messages a device would have sent; each is published keyed by its
subject_id (so one subject's messages stay in order in one partition), with its event times
untouched. After the last message a :class:`~phenotyping.events.RecordingEnd` per subject
closes the subject's remaining days, exactly like the in-process replay's final flush.

Without ``speed`` messages go out as fast as the broker takes them, recording after
recording. With ``speed`` N, all recordings are merged in event-time order and each message
is sent when N x the elapsed wall-clock time reaches the event time of its last sample.
Imports aiokafka when publishing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import heapq
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phenotyping.config import KafkaSettings
from phenotyping.errors import FormatError, PhenotypingError, PublishError, TopicError
from phenotyping.events import AnyMessage, RecordingEnd, encode, samples
from phenotyping.kafkaio import TopicNames, client_options, partition_counts
from phenotyping.replay.formats import ReadOptions, ReadReport, event_id, files_in, read


@dataclass
class PublishReport:
    """What a replay into Kafka published."""

    topic: str
    messages: int = 0
    samples: int = 0
    recording_ends: int = 0
    seconds: float = 0.0
    read: ReadReport = field(default_factory=ReadReport)

    def summary_lines(self) -> list[str]:
        rate = self.messages / max(self.seconds, 1e-9)
        lines = [
            f"read {self.read.files} recording(s), {self.read.rows:,} rows",
            f"published {self.messages:,} messages ({self.samples:,} samples) and "
            f"{self.recording_ends} recording end(s) to {self.topic} in {self.seconds:.2f} s "
            f"({rate:,.0f} messages/s)",
        ]
        if self.read.unusable:
            lines.append("unusable rows (not published):")
            lines += [f"  {n:,}  {why}" for why, n in sorted(self.read.unusable.items())]
        return lines


def _file_messages(
    path: Path, fmt: str, report: ReadReport, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    try:
        yield from read(path, fmt, report, options)
    except FormatError as exc:  # one bad file is counted; the others are still published
        report.reject(f"file not used: {exc}")


def messages(
    paths: Sequence[Path],
    fmt: str,
    report: ReadReport,
    *,
    merge: bool,
    options: ReadOptions | None = None,
) -> Iterator[AnyMessage]:
    """Every message of the recordings under ``paths``: file after file, or (``merge``) all
    files merged by the event time of each message's last sample."""
    for p in paths:
        if not p.exists():
            raise FormatError(f"{p}: no such file or folder")
    files = [f for p in paths for f in files_in(p, options)]
    streams: Iterable[Iterator[AnyMessage]] = (
        _file_messages(f, fmt, report, options) for f in files
    )
    if not merge:
        for s in streams:
            yield from s
        return
    yield from heapq.merge(*streams, key=lambda m: m.span()[1])


@dataclass
class _Ends:
    """The latest event time and UTC offset seen per subject (for the RecordingEnds)."""

    last: dict[str, tuple[dt.datetime, int]] = field(default_factory=dict)

    def see(self, msg: AnyMessage) -> None:
        end = msg.span()[1]
        seen = self.last.get(msg.subject_id)
        if seen is None or end > seen[0]:
            self.last[msg.subject_id] = (end, msg.tz_offset_min)

    def messages(self) -> list[RecordingEnd]:
        out = []
        for subject in sorted(self.last):
            at, tz = self.last[subject]
            out.append(
                RecordingEnd(
                    event_id=event_id(subject, "recording_end", at, "replay"),
                    subject_id=subject,
                    source="replay",
                    tz_offset_min=tz,
                    at=at,
                )
            )
        return out


async def _publish(
    paths: Sequence[Path],
    kafka: KafkaSettings,
    fmt: str,
    speed: float | None,
    progress: bool,
    options: ReadOptions | None = None,
) -> PublishReport:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError
    from tqdm import tqdm

    topic = TopicNames.from_settings(kafka).device
    if topic not in await partition_counts(kafka, [topic]):
        raise TopicError(f"{topic}: no such topic (run `phenotyping topics create`)")
    report = PublishReport(topic)
    ends = _Ends()
    producer = AIOKafkaProducer(
        **client_options(kafka),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=kafka.topic_max_message_bytes,
    )
    await producer.start()
    pending: list[asyncio.Future[Any]] = []
    t0 = time.monotonic()
    first_event: float | None = None
    bar = tqdm(unit=" msg", disable=not progress, leave=False)

    async def send(msg: AnyMessage) -> None:
        fut = await producer.send(topic, encode(msg), key=msg.subject_id.encode())
        pending.append(fut)
        if len(pending) >= 10_000:
            await _settle(pending)

    try:
        for msg in messages(paths, fmt, report.read, merge=speed is not None, options=options):
            if speed is not None:
                event_s = msg.span()[1].timestamp()
                first_event = event_s if first_event is None else first_event
                wait = t0 + (event_s - first_event) / speed - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            await send(msg)
            ends.see(msg)
            report.messages += 1
            report.samples += samples(msg)
            bar.update(1)
        for end in ends.messages():
            await send(end)
            report.recording_ends += 1
        await producer.flush()
        await _settle(pending)
    except KafkaError as exc:
        raise PublishError(f"publishing to {topic} failed: {exc!r}") from None
    finally:
        bar.close()
        await producer.stop()
    report.seconds = time.monotonic() - t0
    return report


async def _settle(pending: list[asyncio.Future[Any]]) -> None:
    try:
        await asyncio.gather(*pending)
    finally:
        pending.clear()


def publish(
    paths: Sequence[Path],
    kafka: KafkaSettings,
    *,
    fmt: str = "auto",
    speed: float | None = None,
    progress: bool = False,
    options: ReadOptions | None = None,
    tz: str | None = None,
) -> PublishReport:
    """Publish the recordings under ``paths`` to the device topic (module docstring);
    ``options`` carries ``--tz``, the column mapping and ``--subject`` to the readers
    (``tz`` overrides ``options.tz``)."""
    if speed is not None and speed <= 0:
        raise PhenotypingError(f"speed: must be > 0, got {speed}")
    if tz is not None:
        options = dataclasses.replace(options or ReadOptions(), tz=tz)
    return asyncio.run(_publish(paths, kafka, fmt, speed, progress, options))

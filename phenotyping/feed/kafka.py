"""The feed's Kafka side (aiokafka): read alerts, features, notices, acks and sign-outs;
publish acks, clinician feedback and sign-outs.

One consumer without a consumer group (every feed replica reads everything, and never
disturbs the workers' group) is assigned every partition of the five topics. At start it
reads the alerts, acks and sessions topics from the beginning (alerts are compacted by
alert_id; acks are an audit trail; a sign-out matters until its session expires) and the
features and notices topics from ``history_days`` ago (by record timestamp), so a
restarted feed rebuilds its memory from the topics. Only committed records are read
(``read_committed``), so an exactly-once deployment shows no aborted output. Acks are
produced with ``acks=all`` and idempotence, and the web request waits for the broker's
confirmation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from phenotyping.config import KafkaSettings
from phenotyping.errors import AckError, TopicError
from phenotyping.events import ClinicalEvent, encode
from phenotyping.feed.models import Ack, SessionEnd
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import Incoming, Kind
from phenotyping.kafkaio import TopicNames, client_options, create_topic, partition_counts

log = logging.getLogger("phenotyping.feed")


def acks_topic(kafka: KafkaSettings, feed: FeedSettings) -> str:
    """Full name of the acknowledgements topic.

    Examples
    --------
    >>> acks_topic(KafkaSettings(topic_prefix="demo"), FeedSettings())
    'demo.acks'
    """
    return f"{kafka.topic_prefix}.{feed.acks_topic}"


def sessions_topic(kafka: KafkaSettings, feed: FeedSettings) -> str:
    """Full name of the sign-outs topic.

    Examples
    --------
    >>> sessions_topic(KafkaSettings(topic_prefix="demo"), FeedSettings())
    'demo.feed-sessions'
    """
    return f"{kafka.topic_prefix}.{feed.sessions_topic}"


#: Configuration of the acks topic: kept forever, never compacted (nothing is overwritten).
ACKS_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1"}


def sessions_config(feed: FeedSettings) -> dict[str, str]:
    """The sessions topic keeps a sign-out at least as long as a session can live (and a
    day more), never less than 7 days.

    Examples
    --------
    >>> sessions_config(FeedSettings())["retention.ms"]
    '604800000'
    """
    keep_ms = max(7 * 86_400_000, (feed.session_ttl_s + 86_400) * 1000)
    return {"cleanup.policy": "delete", "retention.ms": str(keep_ms)}


async def create_acks_topic(kafka: KafkaSettings, feed: FeedSettings) -> str:
    """Create the acks topic and the sessions topic if missing; return ``created`` (either
    was made) or ``exists``."""
    wanted = {
        acks_topic(kafka, feed): ACKS_CONFIG,
        sessions_topic(kafka, feed): sessions_config(feed),
    }
    have = await partition_counts(kafka, list(wanted))
    status = "exists"
    for name, config in wanted.items():
        if name not in have and await create_topic(kafka, name, config) == "created":
            status = "created"
    for _ in range(150):  # a new topic's metadata reaches the brokers' caches shortly after
        if len(await partition_counts(kafka, list(wanted))) == len(wanted):
            break
        await asyncio.sleep(0.2)
    return status


class KafkaBus:
    """:class:`phenotyping.feed.bus.FeedBus` on Kafka (module docstring)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        feed: FeedSettings,
        *,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        names = TopicNames.from_settings(kafka)
        self.kafka, self.feed = kafka, feed
        self.device = names.device
        self.acks = acks_topic(kafka, feed)
        self.sessions = sessions_topic(kafka, feed)
        self.kinds: dict[str, Kind] = {
            names.alerts: "alert",
            names.features: "features",
            names.notices: "notice",
            self.acks: "ack",
            self.sessions: "session",
        }
        self._now_ms = now_ms
        self._consumer: Any = None
        self._producer: Any = None
        self._ends: dict[Any, int] = {}
        self._ready = False
        self._stopping = False

    @property
    def ready(self) -> bool:
        return self._ready

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        if self.feed.create_acks_topic:
            await create_acks_topic(self.kafka, self.feed)
        counts = await partition_counts(self.kafka, list(self.kinds))
        missing = [t for t in self.kinds if t not in counts]
        if missing:
            raise TopicError(
                f"topic(s) missing: {', '.join(missing)} (run `phenotyping topics create` and "
                "`phenotyping feed create-topic`)"
            )
        self._consumer = AIOKafkaConsumer(
            **client_options(self.kafka),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await self._consumer.start()
        parts = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
        self._consumer.assign(parts)
        features = [tp for tp in parts if self.kinds[tp.topic] in ("features", "notice")]
        await self._consumer.seek_to_beginning(*[tp for tp in parts if tp not in features])
        since = self._now_ms() - self.feed.history_days * 86_400_000
        found = await self._consumer.offsets_for_times({tp: since for tp in features})
        for tp in features:
            hit = found.get(tp)
            if hit is None:
                await self._consumer.seek_to_end(tp)
            else:
                self._consumer.seek(tp, hit.offset)
        self._ends = {tp: n for tp, n in (await self._consumer.end_offsets(parts)).items() if n}
        self._producer = AIOKafkaProducer(
            **client_options(self.kafka), acks="all", enable_idempotence=True
        )
        await self._producer.start()
        log.info("reading %d partition(s) of %s", len(parts), ", ".join(sorted(self.kinds)))

    async def _check_ready(self) -> None:
        for tp in list(self._ends):
            if await self._consumer.position(tp) >= self._ends[tp]:
                del self._ends[tp]
        if not self._ends:
            self._ready = True
            log.info("caught up with the topics")

    async def batches(self) -> AsyncIterator[list[Incoming]]:
        if not self._ends:
            self._ready = True
        while not self._stopping:
            data = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            batch = [
                Incoming(self.kinds[tp.topic], rec.value)
                for tp, records in data.items()
                for rec in records
            ]
            if not self._ready:
                await self._check_ready()
            if batch:
                yield batch

    async def publish_ack(self, ack: Ack) -> None:
        from aiokafka.errors import KafkaError

        try:
            future = await self._producer.send(self.acks, ack.encode(), key=ack.alert_id.encode())
            await future
        except KafkaError as exc:
            raise AckError(f"the broker did not take the acknowledgement ({exc!r})") from None

    async def publish_feedback(self, event: ClinicalEvent) -> None:
        from aiokafka.errors import KafkaError

        try:
            future = await self._producer.send(
                self.device, encode(event), key=event.subject_id.encode()
            )
            await future
        except KafkaError as exc:
            raise AckError(f"the broker did not take the feedback ({exc!r})") from None

    async def publish_session_end(self, end: SessionEnd) -> None:
        from aiokafka.errors import KafkaError

        try:
            future = await self._producer.send(
                self.sessions, end.encode(), key=end.session.encode()
            )
            await future
        except KafkaError as exc:
            raise AckError(f"the broker did not take the sign-out ({exc!r})") from None

    async def stop(self) -> None:
        self._stopping = True
        if self._producer is not None:
            await self._producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()

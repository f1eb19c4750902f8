"""The feed's one door to Kafka, as a narrow interface, and an in-memory implementation.

The web logic sees only :class:`FeedBus`: batches of consumed records (alerts, daily
features, acknowledgements) and a way to publish an acknowledgement. The real one is
:class:`phenotyping.feed.kafka.KafkaBus`; :class:`MemoryBus` is the fake the tests and a
demo use. Both loop an acknowledgement back as a consumed ``ack`` record, as the topic does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from phenotyping.errors import AckError
from phenotyping.events import ClinicalEvent
from phenotyping.feed.models import Ack, SessionEnd
from phenotyping.feed.store import Incoming


class FeedBus(Protocol):
    """What the feed needs from a message bus."""

    @property
    def ready(self) -> bool:
        """Whether the records that were in the topics at start have all been read."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def batches(self) -> AsyncIterator[list[Incoming]]:
        """Consumed records, batch by batch, until :meth:`stop`."""
        ...

    async def publish_ack(self, ack: Ack) -> None:
        """Publish ``ack``; return once it is stored, raise :class:`AckError` otherwise."""
        ...

    async def publish_feedback(self, event: ClinicalEvent) -> None:
        """Publish a clinician's feedback to the device topic (key subject_id), where the
        risk engine reads clinical events; raise :class:`AckError` when it is not stored."""
        ...

    async def publish_session_end(self, end: SessionEnd) -> None:
        """Publish a sign-out, which every feed process reads back as a ``session`` record;
        raise :class:`AckError` when it is not stored."""
        ...


class MemoryBus:
    """An in-memory :class:`FeedBus`: records are put in by hand; published acks are kept
    in :attr:`published` and looped back as consumed ``ack`` records.

    Examples
    --------
    >>> async def demo():
    ...     bus = MemoryBus([Incoming("features", b"{}")])
    ...     await bus.start()
    ...     batch = await anext(bus.batches())
    ...     await bus.stop()
    ...     return batch
    >>> asyncio.run(demo())
    [Incoming(kind='features', value=b'{}')]
    """

    def __init__(self, records: Iterable[Incoming] = ()) -> None:
        self._queue: asyncio.Queue[list[Incoming] | None] = asyncio.Queue()
        self.published: list[Ack] = []
        self.feedback: list[ClinicalEvent] = []
        self.session_ends: list[SessionEnd] = []
        self.refuse_acks = False
        first = list(records)
        if first:
            self._queue.put_nowait(first)

    @property
    def ready(self) -> bool:
        return True

    def put(self, *items: Incoming) -> None:
        """Deliver ``items`` as one consumed batch."""
        self._queue.put_nowait(list(items))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._queue.put_nowait(None)

    async def batches(self) -> AsyncIterator[list[Incoming]]:
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            yield batch

    async def publish_ack(self, ack: Ack) -> None:
        if self.refuse_acks:
            raise AckError("the bus refused the acknowledgement (refuse_acks is set)")
        self.published.append(ack)
        self.put(Incoming("ack", ack.encode()))

    async def publish_feedback(self, event: ClinicalEvent) -> None:
        if self.refuse_acks:
            raise AckError("the bus refused the feedback (refuse_acks is set)")
        self.feedback.append(event)

    async def publish_session_end(self, end: SessionEnd) -> None:
        if self.refuse_acks:
            raise AckError("the bus refused the sign-out (refuse_acks is set)")
        self.session_ends.append(end)
        self.put(Incoming("session", end.encode()))

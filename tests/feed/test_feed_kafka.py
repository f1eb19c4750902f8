"""The feed on a real Apache Kafka broker: it rebuilds its memory from the alerts, features
and acks topics, and an acknowledgement is an appended record that outlives the feed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from feed_helpers import roster_doc
from stream_helpers import produce, read_topic

from phenotyping.feed.auth import Roster, new_token
from phenotyping.feed.kafka import KafkaBus, acks_topic
from phenotyping.feed.models import Ack
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import FeedStore
from phenotyping.feed.web import FeedService, build_app
from phenotyping.stream.codec import encode_record

pytestmark = [pytest.mark.kafka]


async def _until(cond: Any, what: str, timeout: float = 60.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


def test_feed_rebuilds_from_the_topics_and_acks_are_an_audit_trail(
    deployment: Any, demo: Any
) -> None:
    d = deployment()
    names = d.names
    produce(
        d.kafka,
        names.features,
        [
            (r["subject_id"].encode(), encode_record({"id": f"{r['subject_id']}:{r['date']}", **r}))
            for r in demo.daily
        ],
    )
    produce(
        d.kafka, names.alerts, [(a["alert_id"].encode(), encode_record(a)) for a in demo.alerts]
    )
    expected = {a["alert_id"] for a in demo.alerts}
    subjects = sorted({a["subject_id"] for a in demo.alerts})
    token = new_token()
    roster = Roster.parse(roster_doc({"dr-k": (token, subjects)}))
    settings = FeedSettings(session_secret="s" * 32)
    headers = {"Authorization": f"Bearer {token}"}

    async def one_run(ack_first: bool) -> tuple[set[str], list[Ack]]:
        bus = KafkaBus(d.kafka, settings)
        service = FeedService(FeedStore(), bus, lambda: roster, settings)
        async with TestClient(TestServer(build_app(service))) as client:
            await _until(lambda: bus.ready, "feed caught up with the topics")
            await _until(
                lambda: (
                    len(service.store.entries_since(0, lambda s: True, 10_000)[0]) == len(expected)
                ),
                "every alert read",
            )
            body = await (await client.get("/api/alerts?limit=500", headers=headers)).json()
            got = {i["alert"]["alert_id"] for i in body["items"]}
            if ack_first:
                first = demo.alerts[0]["alert_id"]
                r = await client.post(f"/api/alerts/{first}/ack", headers=headers)
                assert r.status == 200
            else:  # a new feed: the acknowledgement comes back from the acks topic
                await _until(
                    lambda: bool(service.store.alert(demo.alerts[0]["alert_id"]).acks),  # type: ignore[union-attr]
                    "acknowledgement read back",
                )
            entry = service.store.alert(demo.alerts[0]["alert_id"])
            assert entry is not None
            return got, list(entry.acks)

    got, acks = asyncio.run(one_run(ack_first=True))
    assert got == expected
    assert [a.clinician_id for a in acks] == ["dr-k"]
    got_again, acks_again = asyncio.run(one_run(ack_first=False))
    assert got_again == expected and acks_again == acks

    records = read_topic(d.kafka, acks_topic(d.kafka, settings))
    assert len(records) == 1  # appended once, by the first run only
    (rec,) = records
    assert rec.key == demo.alerts[0]["alert_id"].encode()
    assert Ack.model_validate_json(rec.value) == acks[0]

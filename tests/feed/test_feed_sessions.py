"""Sessions across feed processes: two feed apps behind a load balancer (requests alternate
between them) share sign-ins through the session secret, and signing out on one ends the
session on both -- with in-memory buses linked like the sessions topic, and on a real
Kafka broker."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from feed_helpers import alert_record, make_alert, roster_doc

from phenotyping.feed.auth import Roster, new_token
from phenotyping.feed.bus import MemoryBus
from phenotyping.feed.models import SessionEnd
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.feed.web import COOKIE, FeedService, build_app

TOK = new_token()
NOW = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
ROSTER = Roster.parse(roster_doc({"dr-a": (TOK, ["s-1"])}))
A1 = make_alert("s-1", "opened", "2024-03-04")


class LinkedBus(MemoryBus):
    """A :class:`MemoryBus` whose sign-outs reach every bus of its group, as records of the
    sessions topic reach every feed process."""

    def __init__(self, group: list[LinkedBus], records: list[Incoming]) -> None:
        super().__init__(records)
        self.group = group
        group.append(self)

    async def publish_session_end(self, end: SessionEnd) -> None:
        self.session_ends.append(end)
        for bus in self.group:
            bus.put(Incoming("session", end.encode()))


@contextlib.asynccontextmanager
async def two_feeds(
    secrets: tuple[str, str] = ("s" * 32, "s" * 32),
) -> AsyncIterator[tuple[TestClient, TestClient, FeedService, FeedService]]:
    group: list[LinkedBus] = []
    services = [
        FeedService(
            FeedStore(),
            LinkedBus(group, [alert_record(A1)]),
            lambda: ROSTER,
            FeedSettings(session_secret=secret, login_failures_per_source=3, heartbeat_s=0.2),
            clock=lambda: NOW,
        )
        for secret in secrets
    ]
    async with (
        TestClient(TestServer(build_app(services[0]))) as a,
        TestClient(TestServer(build_app(services[1]))) as b,
    ):
        yield a, b, services[0], services[1]


async def sign_in(client: TestClient) -> tuple[str, str]:
    """``(cookie, csrf)`` of a new session made by ``client``'s feed."""
    r = await client.post("/login", data={"token": TOK}, allow_redirects=False)
    assert r.status == 303
    cookie = r.cookies[COOKIE].value
    client.session.cookie_jar.clear()
    page = await (await client.get("/alerts", headers={"Cookie": f"{COOKIE}={cookie}"})).text()
    match = re.search(r'data-csrf="([^"]+)"', page)
    assert match is not None
    return cookie, match.group(1)


async def status(client: TestClient, cookie: str, path: str = "/api/me") -> int:
    client.session.cookie_jar.clear()
    r = await client.get(path, headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False)
    return r.status


async def until(cond: Any, what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def test_a_session_is_valid_on_every_feed_process_and_sign_out_ends_it_on_all() -> None:
    async with two_feeds() as (a, b, service_a, service_b):
        cookie, csrf = await sign_in(a)
        # a load balancer alternating the requests: never logged out
        for n in range(10):
            assert await status(a if n % 2 else b, cookie) == 200, n
        # changing something on the other process: its CSRF token is valid there too
        b.session.cookie_jar.clear()
        r = await b.post(
            f"/api/alerts/{A1['alert_id']}/ack",
            headers={"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf},
        )
        assert r.status == 200
        other, _ = await sign_in(a)  # the same clinician on another device
        a.session.cookie_jar.clear()
        stream = await a.get("/api/stream", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert stream.status == 200
        # sign out on b: refused on b at once, on a as soon as a has read the record
        b.session.cookie_jar.clear()
        r = await b.post(
            "/logout",
            data={"csrf": csrf},
            headers={"Cookie": f"{COOKIE}={cookie}"},
            allow_redirects=False,
        )
        assert r.status == 303
        assert await status(b, cookie) == 401
        await until(lambda: _refused(a, cookie), "feed a refuses the signed-out session")
        assert await status(a, cookie, "/alerts") == 303  # the page: back to sign-in
        # a live stream of the signed-out session on a ends too
        body = await asyncio.wait_for(stream.content.read(), 10)
        assert b"event: signed_out" in body
        # the clinician's other session is untouched, on both
        assert await status(a, other) == 200 and await status(b, other) == 200
        assert len(service_b.bus.session_ends) == 1  # type: ignore[attr-defined]


async def _refused(client: TestClient, cookie: str) -> bool:
    return await status(client, cookie) == 401


async def test_processes_with_different_secrets_do_not_share_sessions() -> None:
    async with two_feeds(("s" * 32, "t" * 32)) as (a, b, _sa, _sb):
        cookie, _ = await sign_in(a)
        assert await status(a, cookie) == 200
        assert await status(b, cookie) == 401


async def test_sign_in_throttling_still_applies_per_process() -> None:
    async with two_feeds() as (a, _b, _sa, _sb):
        for _ in range(3):
            r = await a.post("/login", data={"token": new_token()}, allow_redirects=False)
            assert r.status == 401
        r = await a.post("/login", data={"token": TOK}, allow_redirects=False)
        assert r.status == 429 and int(r.headers["Retry-After"]) > 0


def test_the_store_bounds_sign_outs_without_reviving_a_session() -> None:
    store = FeedStore(max_session_ends=2)
    at = NOW
    ends = [
        SessionEnd(session=f"{n:016x}", clinician_id="dr-a", exp=100 + n, at=at) for n in range(3)
    ]
    for end in ends:
        assert store.end_session(end)
    assert not store.end_session(ends[0])  # a redelivered record: nothing new
    assert all(store.session_ended(e.session, "dr-a", e.exp) for e in ends)
    assert store.session_ended("f" * 16, "dr-a", 100)  # older than the folded one: ended too
    assert not store.session_ended("f" * 16, "dr-a", 101)  # a newer session lives
    assert not store.session_ended("f" * 16, "dr-b", 50)  # another clinician's lives


# --------------------------------------------------------------------------- real Kafka
@pytest.mark.kafka
def test_two_feed_processes_on_kafka_share_sessions_and_sign_outs(deployment: Any) -> None:
    from phenotyping.feed.kafka import KafkaBus

    d = deployment()
    settings = FeedSettings(session_secret="k" * 32)

    def service() -> FeedService:
        return FeedService(
            FeedStore(), KafkaBus(d.kafka, settings), lambda: ROSTER, settings, clock=lambda: NOW
        )

    async def run() -> None:
        first, second = service(), service()
        async with (
            TestClient(TestServer(build_app(first))) as a,
            TestClient(TestServer(build_app(second))) as b,
        ):
            cookie, csrf = await sign_in(a)
            kept, _ = await sign_in(b)
            for n in range(6):
                assert await status(a if n % 2 else b, cookie) == 200, n
            a.session.cookie_jar.clear()
            r = await a.post(
                "/logout",
                data={"csrf": csrf},
                headers={"Cookie": f"{COOKIE}={cookie}"},
                allow_redirects=False,
            )
            assert r.status == 303 and await status(a, cookie) == 401
            t0 = asyncio.get_running_loop().time()
            await until(lambda: _refused(b, cookie), "feed b reads the sign-out", timeout=60)
            lag = asyncio.get_running_loop().time() - t0
            print(f"the sign-out reached the other feed process within {lag:.2f} s")
            assert await status(b, kept) == 200
        # a feed process started later reads the sign-out from the topic
        async with TestClient(TestServer(build_app(third := service()))) as c:
            await until(lambda: _ready(third), "the new feed caught up", timeout=60)
            assert await status(c, cookie) == 401
            assert await status(c, kept) == 200

    asyncio.run(run())


async def _ready(service: FeedService) -> bool:
    return service.bus.ready

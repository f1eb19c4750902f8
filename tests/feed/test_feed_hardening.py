"""Issue 11 rows 7-11 against the feed: a malformed record on any topic is skipped and
counted (the feed never exits); acknowledging someone else's alert answers exactly like a
missing one; log fields from a request cannot forge lines; signing out ends the session
server-side; sign-in attempts are throttled per source, overall and per account."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import orjson
import pytest
from feed_helpers import alert_record, make_alert
from test_feed_web import NOW, TOK_A, TOK_B, bearer, feed, login

from phenotyping.feed.auth import new_token
from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.feed.web import COOKIE
from phenotyping.risk.monitor import MONITORED

COL, FLAG = MONITORED[0].column, MONITORED[0].valid_flag


def _row(value: object, day: str = "2024-03-01") -> Incoming:
    row = {"subject_id": "s-1", "date": day, COL: value, FLAG: True}
    return Incoming("features", orjson.dumps(row))


@pytest.mark.parametrize(
    "bad",
    [
        _row("abc"),
        _row({"x": 1}),
        _row([1, 2]),
        Incoming(
            "features",
            b'{"subject_id": "s-1", "date": "2024-03-01", "valid": true, '
            b'"activity_mean_worn": 1' + b"0" * 400 + b"}",
        ),
        Incoming("alert", b'{"type": "alert", "alert_id": []}'),
        Incoming("ack", b"\xff\xfe"),
        Incoming("notice", b'{"type": "notice", "kind": "data_gap", "subject_id": 5}'),
    ],
)
def test_a_malformed_record_on_any_topic_is_skipped_and_counted(bad: Incoming) -> None:
    store = FeedStore()
    good = alert_record(make_alert("s-1"))
    assert store.ingest([bad, _row(120.0, "2024-03-02"), good]) == {"s-1"}
    assert store.counts[f"invalid_{bad.kind}"] == 1
    assert store.alert(make_alert("s-1")["alert_id"]) is not None
    (series,) = store.series("s-1", [COL], days=2)
    assert series.value[-1] == 120.0  # the good row after the bad one went in whole


async def test_the_feed_goes_on_after_a_malformed_features_record() -> None:
    first = [_row("abc"), alert_record(make_alert("s-2", date="2024-02-01"))]
    async with feed(first) as (client, service, bus):
        bus.put(alert_record(make_alert("s-1")))
        for _ in range(500):
            if service.store.alert(make_alert("s-1")["alert_id"]) is not None:
                break
            await asyncio.sleep(0.01)
        assert service.failed is None
        assert service.store.counts["invalid_features"] == 1
        body = await (await client.get("/api/alerts", headers=bearer(TOK_A))).json()
        assert [i["alert"]["subject_id"] for i in body["items"]] == ["s-2", "s-1"]
        assert (await client.get("/healthz")).status == 200


async def test_acknowledging_an_alert_one_may_not_see_answers_like_a_missing_one() -> None:
    mine, theirs = make_alert("s-1"), make_alert("s-3", date="2024-03-05")
    async with feed([alert_record(mine), alert_record(theirs)]) as (client, _service, bus):
        hidden = await client.post(f"/api/alerts/{theirs['alert_id']}/ack", headers=bearer(TOK_A))
        missing = await client.post("/api/alerts/s-3-no-such-alert/ack", headers=bearer(TOK_A))
        assert hidden.status == missing.status == 404
        assert await hidden.read() == await missing.read()
        assert hidden.headers["Content-Type"] == missing.headers["Content-Type"]
        assert bus.published == []


async def test_a_newline_in_a_refused_subject_id_cannot_forge_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="phenotyping.feed")
    async with feed([alert_record(make_alert("s-1"))]) as (client, _service, _bus):
        r = await client.get(
            "/api/subjects/x%0A2026-11-02 INFO phenotyping.feed: forged/features",
            headers=bearer(TOK_B),
        )
        assert r.status == 403
    refused = [rec.getMessage() for rec in caplog.records if "refused" in rec.getMessage()]
    assert len(refused) == 1
    assert "\n" not in refused[0] and "\\n" in refused[0]


async def test_signing_out_ends_the_session_on_the_server() -> None:
    async with feed([alert_record(make_alert("s-1"))]) as (client, _service, _bus):
        csrf = await login(client, TOK_A)
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
        assert (await client.get("/api/me")).status == 200
        r = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
        assert r.status == 303
        # the browser forgot it; an attacker who kept a copy presents it again
        client.session.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await client.get("/api/me")).status == 401
        assert (await client.get("/alerts", allow_redirects=False)).status == 303


async def test_wrong_sign_ins_are_throttled_per_source_and_recover() -> None:
    async with feed([], login_failures_per_source=5, login_window_s=300) as (client, _, _bus):
        codes = [
            (await client.post("/login", data={"token": new_token()}, allow_redirects=False)).status
            for _ in range(8)
        ]
        assert codes == [401] * 5 + [429] * 3
        # even the right token waits: the source is blocked, not the guess
        r = await client.post("/login", data={"token": TOK_A}, allow_redirects=False)
        assert r.status == 429 and int(r.headers["Retry-After"]) > 0
        # unknown bearer tokens count too
        assert (await client.get("/api/me", headers=bearer(new_token()))).status == 429
        client.clock["now"] = NOW + dt.timedelta(seconds=301)  # type: ignore[attr-defined]
        await login(client, TOK_A)


async def test_sign_ins_are_throttled_overall_and_per_account() -> None:
    async with feed([], login_failures_overall=3, logins_per_account=2) as (client, service, _):
        for _ in range(2):
            await login(client, TOK_B)
        r = await client.post("/login", data={"token": TOK_B}, allow_redirects=False)
        assert r.status == 429  # a third session of dr-b within the window
        for _ in range(3):
            service.fail_overall.fail("overall", NOW.timestamp())  # failures from many sources
        r = await client.post("/login", data={"token": TOK_A}, allow_redirects=False)
        assert r.status == 429


def test_throttle_memory_is_bounded() -> None:
    from phenotyping.feed.auth import Throttle

    t = Throttle(limit=3, window_s=60, max_keys=100)
    for i in range(10_000):
        t.fail(f"source:10.0.{i // 256}.{i % 256}", now=1.0)
    assert len(t._fails) == 100


# found by the HTTP fuzzer (test_feed_http_fuzz.py)
async def test_a_broken_form_body_is_a_400_not_a_server_error() -> None:
    async with feed([alert_record(make_alert("s-1"))]) as (client, _service, bus):
        broken = {"Content-Type": "multipart/form-data; boundary=x"}
        r = await client.post(
            f"/api/alerts/{make_alert('s-1')['alert_id']}/ack",
            data=b"",
            headers={**broken, **bearer(TOK_A)},
        )
        assert r.status == 400 and "not a valid form" in await r.text()
        r = await client.post("/login", data=b"--x\r\n", headers=broken, allow_redirects=False)
        assert r.status == 400
        assert bus.published == []


@pytest.mark.parametrize("path", ["/api/stream", "/alerts/stream", "/patients/stream"])
async def test_head_of_a_live_stream_has_no_body(path: str) -> None:
    """A body after HEAD's headers would be read as the next response on the connection."""
    async with feed([alert_record(make_alert("s-1"))]) as (client, _service, _bus):
        r = await client.head(path, headers=bearer(TOK_A))
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        # the connection is still in step: the next request on it gets its own answer
        assert (await client.get("/healthz")).status == 200

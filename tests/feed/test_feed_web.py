"""The feed's web shell with an in-memory bus: access control (401, 403, CSRF), the happy
paths (JSON paging, page, acknowledge, live streams). The same app runs on Kafka in
test_feed_kafka.py and test_feed_browser.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from feed_helpers import alert_record, demo_records, make_alert, roster_doc, write_roster

from phenotyping.feed.auth import Roster, new_token
from phenotyping.feed.bus import MemoryBus
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.feed.web import COOKIE, FeedService, RosterFile, build_app

TOK_A, TOK_B = new_token(), new_token()
NOW = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
#: dr-a sees s-1 and s-2; dr-b sees s-3 only
ROSTER = Roster.parse(roster_doc({"dr-a": (TOK_A, ["s-1", "s-2"]), "dr-b": (TOK_B, ["s-3"])}))
A1 = make_alert("s-1", "opened", "2024-03-04", explanation="Daily activity 40% below usual")
A3 = make_alert("s-3", "opened", "2024-03-05", explanation="Sleep 2 h later than usual")


@contextlib.asynccontextmanager
async def feed(
    records: list[Incoming], roster: Any = lambda: ROSTER, **settings: Any
) -> AsyncIterator[tuple[TestClient, FeedService, MemoryBus]]:
    bus = MemoryBus(records)
    clock = {"now": NOW}
    service = FeedService(
        FeedStore(),
        bus,
        roster,
        FeedSettings(session_secret="s" * 32, heartbeat_s=0.2, **settings),
        clock=lambda: clock["now"],
    )
    async with TestClient(TestServer(build_app(service))) as client:
        # the pump has taken the first batch once the store moved (bounded wait)
        if records:
            await asyncio.wait_for(_until(lambda: service.store.seq > 0), 10)
        client.clock = clock  # type: ignore[attr-defined]
        yield client, service, bus


async def _until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0.01)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: TestClient, token: str) -> str:
    """Sign in with the form; return the CSRF token of the new session."""
    r = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/alerts"
    cookie = r.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    page = await (await client.get("/alerts")).text()
    match = re.search(r'data-csrf="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def read_event(resp: ClientResponse, name: str) -> dict[str, Any]:
    """The data of the next SSE event called ``name`` (other events and comments skipped)."""
    event = None
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == name:
            data: dict[str, Any] = orjson.loads(line[6:])
            return data


# --------------------------------------------------------------------------- 401
async def test_every_data_route_needs_a_token_or_a_session() -> None:
    async with feed([alert_record(A1)]) as (client, _, _bus):
        for method, path in [
            ("GET", "/api/alerts"),
            ("GET", "/api/me"),
            ("GET", "/api/stream"),
            ("GET", "/alerts/stream"),
            ("GET", "/api/subjects/s-1/features"),
            ("POST", f"/api/alerts/{A1['alert_id']}/ack"),
            ("POST", f"/alerts/{A1['alert_id']}/ack"),
        ]:
            r = await client.request(method, path, allow_redirects=False)
            assert r.status == 401, (method, path)
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            body = await r.text()
            assert "s-1" not in body and "activity" not in body.lower()
        # the page sends a browser to the sign-in form
        r = await client.get("/alerts", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/login"
        # wrong token, wrong scheme, forged cookie
        assert (await client.get("/api/alerts", headers=bearer(new_token()))).status == 401
        assert (await client.get("/api/alerts", headers={"Authorization": "Basic x"})).status == 401
        client.session.cookie_jar.update_cookies({COOKIE: "v1.e30.AAAA"})
        assert (await client.get("/api/alerts")).status == 401
        # public: health, sign-in form, static assets -- none of them carries data
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/login")).status == 200
        assert (await client.get("/static/feed.js")).status == 200


async def test_wrong_token_at_sign_in_is_refused_without_a_cookie() -> None:
    async with feed([]) as (client, _, _bus):
        r = await client.post("/login", data={"token": new_token()}, allow_redirects=False)
        assert r.status == 401 and COOKIE not in r.cookies
        assert "not recognised" in await r.text()


async def test_sessions_expire() -> None:
    async with feed([alert_record(A1)], session_ttl_s=600) as (client, _, _bus):
        await login(client, TOK_A)
        assert (await client.get("/api/me")).status == 200
        client.clock["now"] = NOW + dt.timedelta(seconds=601)  # type: ignore[attr-defined]
        assert (await client.get("/api/me")).status == 401


# --------------------------------------------------------------------------- 403
async def test_another_clinicians_patient_is_refused_and_logged_without_health_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="phenotyping.feed")
    async with feed([alert_record(A1), alert_record(A3)]) as (client, service, bus):
        # dr-b may see s-3 only
        r = await client.get("/api/subjects/s-1/features", headers=bearer(TOK_B))
        assert r.status == 403
        assert "not on your roster" in (await r.json())["detail"]
        r = await client.post(f"/api/alerts/{A1['alert_id']}/ack", headers=bearer(TOK_B))
        assert r.status == 404  # exactly like an alert that does not exist (no oracle)
        assert bus.published == [] and service.store.alert(A1["alert_id"]).acks == []  # type: ignore[union-attr]
        # lists are filtered, not refused
        body = await (await client.get("/api/alerts", headers=bearer(TOK_B))).json()
        assert [i["alert"]["subject_id"] for i in body["items"]] == ["s-3"]
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2
    for message in refusals:
        assert "dr-b" in message and "s-1" in message  # who, and the pseudonymous id
        assert A1["explanation"] not in message and "activity" not in message
        assert TOK_B not in message
        assert not re.search(r"\d+\.\d", message)  # no feature values
    assert "/api/subjects/{subject_id}/features" in refusals[0]  # the route, not the URL


async def test_cookie_requests_that_change_something_need_the_csrf_token() -> None:
    async with feed([alert_record(A1)]) as (client, _, bus):
        csrf = await login(client, TOK_A)
        url = f"/api/alerts/{A1['alert_id']}/ack"
        assert (await client.post(url)).status == 403
        assert (await client.post(url, headers={"X-CSRF-Token": "x" + csrf})).status == 403
        r = await client.post(f"/alerts/{A1['alert_id']}/ack", data={"csrf": "nope"})
        assert r.status == 403
        assert bus.published == []
        assert (await client.post(url, headers={"X-CSRF-Token": csrf})).status == 200


# --------------------------------------------------------------------------- happy paths
async def test_json_paging_with_since_returns_each_visible_alert_once(demo: Any) -> None:
    subjects = sorted({a["subject_id"] for a in demo.alerts})
    tok = new_token()
    roster = Roster.parse(roster_doc({"dr-demo": (tok, subjects)}))
    async with feed(demo_records(demo.daily, demo.alerts)) as (client, service, _bus):
        service.roster = lambda: roster
        await asyncio.wait_for(_until(lambda: len(service.store.episodes(lambda s: True))), 10)
        seen: list[str] = []
        since = 0
        while True:
            r = await client.get(f"/api/alerts?since={since}&limit=1", headers=bearer(tok))
            assert r.status == 200
            body = await r.json()
            seen += [i["alert"]["alert_id"] for i in body["items"]]
            since = body["next"]
            if not body["more"]:
                break
        assert seen == [a["alert_id"] for a in demo.alerts]  # oldest change first
        # nothing new since the last page
        r = await client.get(f"/api/alerts?since={since}", headers=bearer(tok))
        assert (await r.json())["items"] == []
        assert (await client.get("/api/alerts?limit=0", headers=bearer(tok))).status == 400
        assert (await client.get("/api/alerts?since=x", headers=bearer(tok))).status == 400
        # the chart data of a patient on the roster
        r = await client.get(f"/api/subjects/{subjects[0]}/features?days=7", headers=bearer(tok))
        body = await r.json()
        assert len(body["dates"]) == 7 and "activity_mean_worn" in body["features"]


async def test_acknowledge_records_who_what_when_once_and_shows_it() -> None:
    async with feed([alert_record(A1)]) as (client, service, bus):
        url = f"/api/alerts/{A1['alert_id']}/ack"
        r = await client.post(url, headers=bearer(TOK_A))
        assert r.status == 200
        ack = (await r.json())["ack"]
        assert (ack["clinician_id"], ack["alert_id"], ack["subject_id"]) == (
            "dr-a",
            A1["alert_id"],
            "s-1",
        )
        assert ack["at"] == "2026-11-02T14:00:00Z" and ack["via"] == "api"
        assert [a.ack_id for a in bus.published] == [ack["ack_id"]]
        # again: the same acknowledgement, nothing new published
        again = await (await client.post(url, headers=bearer(TOK_A))).json()
        assert again["ack"]["ack_id"] == ack["ack_id"] and len(bus.published) == 1
        items = (await (await client.get("/api/alerts", headers=bearer(TOK_A))).json())["items"]
        assert items[0]["acks"][0]["ack_id"] == ack["ack_id"]
        # an unknown alert
        assert (await client.post("/api/alerts/nope/ack", headers=bearer(TOK_A))).status == 404


async def test_acknowledgement_the_bus_refuses_is_reported_and_not_shown() -> None:
    async with feed([alert_record(A1)]) as (client, service, bus):
        bus.refuse_acks = True
        r = await client.post(f"/api/alerts/{A1['alert_id']}/ack", headers=bearer(TOK_A))
        assert r.status == 503 and "not recorded" in (await r.json())["detail"]
        assert service.store.alert(A1["alert_id"]).acks == []  # type: ignore[union-attr]


async def test_page_shows_own_patients_newest_first_and_form_acknowledges() -> None:
    older = make_alert("s-2", "opened", "2024-02-01", "2024-01-28", "watch")
    async with feed([alert_record(older), alert_record(A1), alert_record(A3)]) as (
        client,
        _service,
        bus,
    ):
        csrf = await login(client, TOK_A)
        r = await client.get("/alerts")
        page = await r.text()
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert r.headers["Cache-Control"] == "no-store"
        assert page.index("ep-s-1_") < page.index("ep-s-2_")  # 4 Mar before 1 Feb
        assert "s-3" not in page  # dr-b's patient
        assert A1["explanation"] in page and "Dr dr-a" in page
        assert "https://" not in page and "http://" not in page  # nothing fetched elsewhere
        r = await client.post(
            f"/alerts/{A1['alert_id']}/ack", data={"csrf": csrf}, allow_redirects=False
        )
        assert r.status == 303 and r.headers["Location"] == "/alerts"
        assert [(a.clinician_id, a.via) for a in bus.published] == [("dr-a", "web")]
        page = await (await client.get("/alerts")).text()
        assert "Dr dr-a acknowledged the opened alert" in page
        # sign out ends the session
        r = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
        assert r.status == 303
        assert (await client.get("/alerts", allow_redirects=False)).status == 303


async def test_live_streams_deliver_a_new_alert_without_asking_again() -> None:
    async with feed([alert_record(A1)]) as (client, _service, bus):
        api = await client.get("/api/stream", headers=bearer(TOK_A))
        assert api.headers["Content-Type"].startswith("text/event-stream")
        await login(client, TOK_A)
        page = await client.get("/alerts/stream")
        new = make_alert(
            "s-2",
            "opened",
            "2024-03-09",
            "2024-03-02",
            "high",
            explanation="Night-time heart rate 8 bpm higher than usual",
        )
        bus.put(alert_record(make_alert("s-3", "opened", "2024-03-09")))  # not dr-a's
        bus.put(alert_record(new))
        got = await asyncio.wait_for(read_event(api, "alert"), 10)
        assert got["alert"]["alert_id"] == new["alert_id"]  # dr-b's alert never came
        card = await asyncio.wait_for(read_event(page, "card"), 10)
        assert card["id"].startswith("ep-s-2_") and card["section"] == "open"
        assert new["explanation"] in card["html"] and "High" in card["html"]
        api.close()
        page.close()


async def test_stream_tells_a_client_of_another_run_to_reload() -> None:
    async with feed([alert_record(A1)]) as (client, _service, _bus):
        await login(client, TOK_A)
        r = await client.get("/alerts/stream", headers={"Last-Event-ID": "999999"})
        assert await asyncio.wait_for(read_event(r, "reload"), 10) == {}
        r.close()


async def test_roster_changes_take_effect_and_a_broken_roster_is_not_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_roster(tmp_path / "roster.toml", {"dr-a": (TOK_A, ["s-1"])})
    roster = RosterFile(path)

    def rewrite(text: str, n: int) -> None:
        path.write_text(text)
        os.utime(path, ns=(n * 10**9, n * 10**9))  # a new modification time, whatever the fs

    async with feed([alert_record(A1)], roster=roster) as (client, _service, _bus):
        await login(client, TOK_A)
        assert (await client.get("/api/me", headers=bearer(TOK_A))).status == 200
        # a broken roster is refused; the previous one stays in force, logged once
        rewrite("[[clinician]]\nid = 'dr a'\n", 1)
        for _ in range(3):
            assert (await client.get("/api/me", headers=bearer(TOK_A))).status == 200
        assert sum("roster not re-read" in r.getMessage() for r in caplog.records) == 1
        # dr-a's token is withdrawn: bearer and session both end at once
        write_roster(path, {"dr-a": (TOK_B, ["s-1"])})
        os.utime(path, ns=(2 * 10**9, 2 * 10**9))
        assert (await client.get("/api/me", headers=bearer(TOK_A))).status == 401
        assert (await client.get("/api/me")).status == 401
        body = await (await client.get("/api/me", headers=bearer(TOK_B))).json()
        assert body == {"clinician": "dr-a", "name": "Dr dr-a", "subjects": ["s-1"]}

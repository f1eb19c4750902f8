"""The caseload (issue 13 item 2): every patient on the roster, alerted or not, with when
data last came, worn days of the last 7 and 28, the open alert, the newest self-report (not
frozen at the alert date) and the data-gap state; sortable; a patient page with the whole
timeline. Expected values are computed here from the in-process replay's daily rows, not
by the feed's code."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import orjson
from feed_helpers import alert_record, demo_records, make_alert, roster_doc
from test_feed_web import TOK_A, TOK_B, bearer, feed, login

from phenotyping.feed.auth import Roster
from phenotyping.feed.caseload import caseload
from phenotyping.feed.store import FeedStore, Incoming


def _notice(subject: str, gap_start: str, date: str, days: int) -> Incoming:
    return Incoming(
        "notice",
        orjson.dumps(
            {
                "type": "notice",
                "kind": "data_gap",
                "subject_id": subject,
                "date": date,
                "gap_start": gap_start,
                "days_without_data": days,
                "config_version": "test",
            }
        ),
    )


def _expected(daily: list[dict[str, Any]], subject: str) -> dict[str, Any]:
    """What the caseload must say about ``subject``, from the raw daily rows."""
    as_of = max(dt.date.fromisoformat(r["date"]) for r in daily)
    mine = [r for r in daily if r["subject_id"] == subject]
    if not mine:
        return {"last_data": None, "worn_last_7": 0, "worn_last_28": 0}

    def worn(n: int) -> int:
        lo = as_of - dt.timedelta(days=n - 1)
        return sum(1 for r in mine if r["valid"] is True and lo <= dt.date.fromisoformat(r["date"]))

    last = max(mine, key=lambda r: r["date"])
    return {
        "last_data": last["date"],
        "worn_last_7": worn(7),
        "worn_last_28": worn(28),
        "self_report": last.get("ctx_self_report_score"),
        "self_report_date": last.get("ctx_self_report_date"),
    }


async def test_every_patient_on_the_roster_is_listed_with_their_data_status(demo) -> None:  # type: ignore[no-untyped-def]
    subjects = sorted({r["subject_id"] for r in demo.daily})
    roster = Roster.parse(roster_doc({"dr-a": (TOK_A, [*subjects, "new-patient"])}))
    records = demo_records(demo.daily, demo.alerts)
    async with feed(records, roster=lambda: roster) as (client, service, _bus):
        await asyncio.wait_for(_until(lambda: service.store.seq >= len(records) - 5), 20)
        body = await (await client.get("/api/caseload", headers=bearer(TOK_A))).json()
        items = {i["subject_id"]: i for i in body["items"]}
        assert set(items) == {*subjects, "new-patient"}  # alerted or not
        alerted = {a["subject_id"] for a in demo.alerts}
        assert alerted and len(alerted) < len(subjects)
        reported = [s for s in subjects if _expected(demo.daily, s)["self_report"] is not None]
        assert reported, "the demo cohort has self-reports: the check below must run"
        for s in subjects:
            want = _expected(demo.daily, s)
            got = items[s]
            assert got["last_data"] == want["last_data"], s
            assert got["worn_last_7"] == want["worn_last_7"], s
            assert got["worn_last_28"] == want["worn_last_28"], s
            if want["self_report"] is not None:
                assert got["latest_self_report"].endswith(f" {want['self_report']:g}"), s
                assert got["latest_self_report_date"] == want["self_report_date"], s
        assert items["new-patient"]["data_state"] == "none"
        assert items["new-patient"]["last_data"] is None
        # the default order puts open alerts first
        first = body["items"][0]
        assert first["open_alert"] is not None or not any(i["open_alert"] for i in body["items"])
        # sortable: by patient id, and the other way round
        body = await (
            await client.get("/api/caseload?sort=subject&reverse=1", headers=bearer(TOK_A))
        ).json()
        assert [i["subject_id"] for i in body["items"]] == sorted(items, reverse=True)
        assert (await client.get("/api/caseload?sort=x", headers=bearer(TOK_A))).status == 400
        # the page: one row per patient
        await login(client, TOK_A)
        page = await (await client.get("/patients")).text()
        assert sorted(re.findall(r'<tr id="pt-([^"]+)"', page)) == sorted(items)


async def _until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0.01)


def test_the_latest_self_report_is_the_newest_not_the_one_at_the_alert() -> None:
    alert = make_alert("s-1", "opened", "2024-03-04")
    alert["self_report"] = {"instrument": "PHQ-9", "score": 12.0, "date": "2024-03-04"}
    rows = [
        {
            "subject_id": "s-1",
            "date": f"2024-03-{d:02d}",
            "valid": True,
            "coverage": 0.9,
            "ctx_self_report_instrument": "PHQ-9",
            "ctx_self_report_score": score,
            "ctx_self_report_date": when,
        }
        for d, score, when in [
            (4, 12.0, "2024-03-04"),
            (11, 16.0, "2024-03-10"),
            (18, 19.0, "2024-03-17"),
        ]
    ]
    store = FeedStore()
    store.ingest([alert_record(alert), *(Incoming("features", orjson.dumps(r)) for r in rows)])
    (row,) = caseload(store, ["s-1"])
    assert (row.self_report, row.self_report_date) == ("PHQ-9 19", dt.date(2024, 3, 17))


def test_a_data_gap_notice_holds_until_usable_data_come_back() -> None:
    store = FeedStore()
    day = {"subject_id": "s-1", "valid": True, "coverage": 1.0, "activity_mean_worn": 120.0}
    store.ingest([Incoming("features", orjson.dumps({**day, "date": "2024-03-01"}))])
    store.ingest([_notice("s-1", "2024-03-02", "2024-03-06", 5)])
    (row,) = caseload(store, ["s-1"])
    assert (row.data_state, row.gap_since) == ("gap", dt.date(2024, 3, 2))
    assert row.as_of == dt.date(2024, 3, 6)  # the notice moves the feed's clock on
    # a day without usable data does not end the gap; a usable one does
    unusable = {"subject_id": "s-1", "date": "2024-03-07", "valid": False, "coverage": 0.1}
    store.ingest([Incoming("features", orjson.dumps(unusable))])
    assert caseload(store, ["s-1"])[0].data_state == "gap"
    store.ingest([Incoming("features", orjson.dumps({**day, "date": "2024-03-08"}))])
    assert caseload(store, ["s-1"])[0].data_state == "ok"


async def test_patient_page_shows_the_timeline_and_is_refused_off_roster(demo) -> None:  # type: ignore[no-untyped-def]
    subject = demo.alerts[0]["subject_id"]
    roster = Roster.parse(roster_doc({"dr-a": (TOK_A, [subject]), "dr-b": (TOK_B, ["other"])}))
    records = demo_records(demo.daily, demo.alerts)
    async with feed(records, roster=lambda: roster) as (client, service, _bus):
        await asyncio.wait_for(_until(lambda: service.store.seq >= len(records) - 5), 20)
        r = await client.post(
            f"/api/alerts/{demo.alerts[0]['alert_id']}/ack",
            json={"reason": "contacted_deteriorating", "note": "seen today"},
            headers=bearer(TOK_A),
        )
        assert r.status == 200
        await login(client, TOK_A)
        page = await (await client.get(f"/patients/{subject}")).text()
        assert page.count('<svg class="chart"') >= 3  # features, activity/sleep, wear
        assert "Device worn" in page
        mine = [a for a in demo.alerts if a["subject_id"] == subject]
        for a in mine:
            if a["explanation"].startswith("Closed after"):  # closed, not resolved: plain words
                assert "not a recovery" in page and "CUSUM" not in page
            else:
                assert a["explanation"] in page
        assert "Contacted: deteriorating" in page and "seen today" in page
        body = await (await client.get(f"/api/patients/{subject}", headers=bearer(TOK_A))).json()
        assert [x["alert"]["alert_id"] for x in body["alerts"]] == [
            a["alert_id"] for a in sorted(mine, key=lambda a: (a["date"], a["kind"] != "opened"))
        ]
        assert body["alerts"][0]["acks"][0]["reason"] == "contacted_deteriorating"
        r = await client.get(f"/api/patients/{subject}", headers=bearer(TOK_B))
        assert r.status == 403

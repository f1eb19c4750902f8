"""A clinician's feedback is dated on the patient's local day: the feed takes the patient's
UTC offset from their newest daily row (the workers stamp it there), so an acknowledgement
late in the patient's evening counts on that evening's date, on either side of the date
line."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from feed_helpers import alert_record, feature_record, make_alert, roster_doc

from phenotyping.events import ActivityBatch, ClinicalEvent
from phenotyping.feed.auth import Roster, new_token
from phenotyping.feed.bus import MemoryBus
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import FeedStore
from phenotyping.feed.web import FeedService, build_app
from phenotyping.pipeline import Pipeline

TOK = new_token()
ROSTER = Roster.parse(roster_doc({"dr-a": (TOK, ["hnl", "tbu", "new"])}))


def _local_day(ev: ClinicalEvent) -> dt.date:
    """The local date the pipeline counts the event on (``at`` + ``tz_offset_min``)."""
    return (ev.at + dt.timedelta(minutes=ev.tz_offset_min)).date()


async def _ack(subject: str, offset: int | None, clock: dt.datetime) -> ClinicalEvent:
    alert = make_alert(subject, "opened", "2024-03-04", episode_start="2024-02-27")
    records = [alert_record(alert)]
    if offset is not None:
        records.append(
            feature_record({"subject_id": subject, "date": "2024-03-04", "tz_offset_min": offset})
        )
    bus = MemoryBus(records)
    service = FeedService(
        FeedStore(), bus, lambda: ROSTER, FeedSettings(session_secret="s" * 32), clock=lambda: clock
    )
    async with TestClient(TestServer(build_app(service))) as client:
        while service.store.seq < len(records):
            await client.get("/healthz")
        r = await client.post(
            f"/api/alerts/{alert['alert_id']}/ack",
            headers={"Authorization": f"Bearer {TOK}"},
            json={"reason": "illness", "note": "flu"},
        )
        assert r.status == 200
    (event,) = bus.feedback
    assert event.at == clock and event.reason == "illness"
    return event


@pytest.mark.parametrize(
    ("subject", "offset", "clock", "local"),
    [
        # Honolulu (UTC-10): 22:00 on 4 March there is 08:00 on 5 March in UTC
        ("hnl", -600, dt.datetime(2024, 3, 5, 8, 0, tzinfo=dt.UTC), dt.date(2024, 3, 4)),
        # Nuku'alofa (UTC+13): 00:30 on 5 March there is 11:30 on 4 March in UTC
        ("tbu", 780, dt.datetime(2024, 3, 4, 11, 30, tzinfo=dt.UTC), dt.date(2024, 3, 5)),
        # a patient without any data yet: UTC
        ("new", None, dt.datetime(2024, 3, 4, 23, 30, tzinfo=dt.UTC), dt.date(2024, 3, 4)),
    ],
)
async def test_feedback_counts_on_the_patients_local_date(
    subject: str, offset: int | None, clock: dt.datetime, local: dt.date
) -> None:
    event = await _ack(subject, offset, clock)
    assert event.tz_offset_min == (offset or 0)
    assert _local_day(event) == local
    if offset is not None:
        assert clock.date() != local  # the UTC date would have been the wrong one


def test_the_workers_daily_rows_carry_the_patients_utc_offset() -> None:
    pipe = Pipeline()
    rows: list[dict[str, Any]] = []
    for day, offset in ((0, -600), (1, -600), (2, 780)):
        start = dt.datetime(2024, 3, 4 + day, tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
        msg = ActivityBatch(
            event_id=f"a{day}",
            subject_id="hnl",
            source="watch",
            tz_offset_min=offset,
            start=start,
            epoch_s=60,
            counts=list(np.full(1440, 50.0)),
        )
        rows += pipe.process(msg).daily
    rows += pipe.flush().daily
    # a patient flying from Honolulu to Tonga: each day keeps the offset it was lived in
    assert [(r["date"], r["tz_offset_min"]) for r in rows] == [
        ("2024-03-04", -600),
        ("2024-03-05", -600),
        ("2024-03-06", 780),
    ]

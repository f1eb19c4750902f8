"""End to end on a real Apache Kafka broker: a clinician acknowledges an alert in the feed
with a reason, the reason travels to a ``phenotyping worker`` as
``ClinicalEvent(kind="feedback")`` through ``pipeline.step``, and a LATER alert of that
patient, read back by the same feed, shows the effect.

The patient is the demo cohort's relapsing subject (UTC+1), whose messages are published to
the device topic as a device would, in two parts: up to the evening the clinician
acknowledges (the feed's clock is set to that evening, 22:30 at the patient's), and the rest.

What the engine does with the reason is the risk engine's business (its own tests): here the
patient's later alerts and the engine's ``feedback_applied`` notices, as the feed shows
them, must be exactly what the one pipeline makes of the same messages with that feedback
in the same place -- and that must differ from what it makes of them without it, and name
the reason. So this test fails if the acknowledgement never reaches the engine, or reaches
it with another reason, date or time zone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from feed_helpers import roster_doc
from stream_helpers import produce, read_topic, wait_for_group

from phenotyping.config import load_settings
from phenotyping.events import AnyMessage, ClinicalEvent, RecordingEnd, decode, encode
from phenotyping.feed.auth import Roster, new_token
from phenotyping.feed.kafka import KafkaBus
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import EngineFeedback, FeedStore
from phenotyping.feed.web import FeedService, build_app
from phenotyping.pipeline import Pipeline
from phenotyping.simulate import DEMO_RELAPSING, demo_spec, simulate

pytestmark = [pytest.mark.kafka]

PATIENT = DEMO_RELAPSING
ZONE = dt.timezone(dt.timedelta(hours=1))  # the demo cohort's fixed UTC offset
#: the clinician acknowledges late in the patient's evening, once the alert of 1 Mar is
#: out (its day closes 36 h after it ends, and the demo's uploads come late; the alert was
#: on 29 Feb before the risk engine watched the device's sleep log)
ACK_AT = dt.datetime(2024, 3, 4, 22, 30, tzinfo=ZONE)
UNTIL = "2024-03-24"


async def _until(cond: Any, what: str, timeout: float = 150.0, alive: Any = None) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if alive is not None:
            alive()
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.2)


Outcome = tuple[list[tuple[str, str]], list[dict[str, Any]]]


def _later(alerts: list[dict[str, Any]], notes: list[dict[str, Any]]) -> Outcome:
    """The alerts after the acknowledgement (id, explanation) and the engine's feedback
    notices."""
    after = ACK_AT.date().isoformat()
    return [(a["alert_id"], a["explanation"]) for a in alerts if a["date"] > after], notes


def _replay(messages: list[AnyMessage]) -> tuple[Outcome, str]:
    """The outcome of the in-process pipeline, and the last day it closes."""
    settings = load_settings()
    pipe = Pipeline(settings.engine, settings.risk)
    alerts: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    days: list[str] = []
    for out in [pipe.process(msg) for msg in messages] + [pipe.flush()]:
        alerts += out.alerts
        notes += [
            EngineFeedback.parse(n).to_json()
            for n in out.notices
            if n["kind"] == "feedback_applied"
        ]
        days += [r["date"] for r in out.daily]
    return _later(alerts, notes), max(days)


def _says(outcome: Outcome, words: str) -> bool:
    alerts, notes = outcome
    return any(words in text for _, text in alerts) or any(words in n["effect"] for n in notes)


def test_an_acknowledgement_with_a_reason_changes_the_patients_later_alerts(
    deployment: Any,
) -> None:
    messages = [m for m in simulate(demo_spec()) if m.subject_id == PATIENT]
    cut = next(i for i, m in enumerate(messages) if m.span()[1] >= ACK_AT)
    before = messages[:cut]
    end = RecordingEnd(
        event_id="end",
        subject_id=PATIENT,
        source="test",
        tz_offset_min=60,
        at=max(m.span()[1] for m in messages),
    )
    after = [*messages[cut:], end]
    # what the one pipeline makes of these messages without and with the feedback the feed
    # is expected to publish (event id aside): the reason must make a difference
    reason = ClinicalEvent(
        event_id="feedback:expected",
        subject_id=PATIENT,
        source="feed:dr-k",
        tz_offset_min=60,
        at=ACK_AT,
        kind="feedback",
        reason="holiday_travel",
        until=dt.date.fromisoformat(UNTIL),
    )
    plain, last_day = _replay(before + after)
    expected, _ = _replay([*before, reason, *after])
    assert expected != plain
    assert _says(expected, "holiday or travel") and not _says(plain, "holiday")

    d = deployment()
    worker = d.worker()
    wait_for_group(d.kafka, 1)
    produce(d.kafka, d.names.device, [(PATIENT.encode(), encode(m)) for m in before])

    token = new_token()
    roster = Roster.parse(roster_doc({"dr-k": (token, [PATIENT])}))
    settings = FeedSettings(session_secret="s" * 32)
    headers = {"Authorization": f"Bearer {token}"}
    acked_at = ACK_AT.astimezone(dt.UTC)  # 21:30 UTC: the feed's clock

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        store = FeedStore()
        bus = KafkaBus(d.kafka, settings)
        service = FeedService(store, bus, lambda: roster, settings, clock=lambda: acked_at)
        async with TestClient(TestServer(build_app(service))) as client:

            def first_alert() -> dict[str, Any] | None:
                for ep in store.subject_episodes(PATIENT):
                    if ep.current.alert.kind == "opened":
                        return ep.current.alert.model_dump(mode="json")
                return None

            def shown() -> Outcome:
                entries = [e for ep in store.subject_episodes(PATIENT) for e in ep.entries]
                entries.sort(key=lambda e: (e.alert.date, e.seq))
                return _later(
                    [e.alert.model_dump(mode="json") for e in entries],
                    [n.to_json() for n in store.engine_feedback(PATIENT)],
                )

            await _until(
                lambda: first_alert() is not None,
                "the first alert, from the worker",
                alive=worker.check_alive,
            )
            await _until(
                lambda: store.context(PATIENT).get("tz_offset_min") == 60,
                "the patient's daily rows (with their UTC offset)",
            )
            first = first_alert()
            assert first is not None
            r = await client.post(
                f"/api/alerts/{first['alert_id']}/ack",
                headers=headers,
                json={"reason": "holiday_travel", "until": UNTIL, "note": "in Spain"},
            )
            assert r.status == 200, await r.text()
            # the rest of the recording arrives after the acknowledgement
            await asyncio.to_thread(
                produce,
                d.kafka,
                d.names.device,
                [(PATIENT.encode(), encode(m)) for m in after],
            )
            last = dt.date.fromisoformat(last_day)
            await _until(
                lambda: store.latest_day(PATIENT) == last,
                f"the patient's last day ({last_day}), from the worker",
                alive=worker.check_alive,
            )
            # the alerts and notices of the last steps may come a little after the rows
            await _until(lambda: shown() == expected, f"the outcome {expected}", timeout=30)
            await asyncio.sleep(2.0)  # nothing else comes (e.g. the alerts without feedback)
            assert shown() == expected
            patient = await (await client.get(f"/api/patients/{PATIENT}", headers=headers)).json()
            return first, patient

    first, patient = asyncio.run(run())
    assert first["date"] == "2024-03-01"

    # the feedback on the device topic: reason and until, on the patient's local day
    device = [decode(c.value) for c in read_topic(d.kafka, d.names.device) if c.value]
    feedback = [m for m in device if isinstance(m, ClinicalEvent) and m.kind == "feedback"]
    assert len(feedback) == 1
    (fb,) = feedback
    assert (fb.reason, fb.until, fb.tz_offset_min) == ("holiday_travel", reason.until, 60)
    assert fb.at == ACK_AT
    assert "Spain" not in fb.model_dump_json()  # the note stays in the ack record

    # the patient's page: the acknowledgement with its reason, the later alerts and what the
    # engine did with it, as the pipeline makes them
    items = patient["alerts"]
    acked = [i for i in items if i["alert"]["alert_id"] == first["alert_id"]]
    assert [(a["reason"], a["until"]) for a in acked[0]["acks"]] == [("holiday_travel", UNTIL)]
    assert _later([i["alert"] for i in items], patient["engine_feedback"]) == expected

"""The clinician's views in a real browser (headless Chromium): the triage order, the
caseload of a 50-patient list, an acknowledgement with a reason, and a patient whose data
stop appearing as a data gap live. The feed runs as the real aiohttp app on a real port with
the in-memory bus (the Kafka path is covered by test_feed_browser.py); its data are the
demo cohort's real replay outputs plus hand-made alerts. Screenshots go to
PHENOTYPING_ARTIFACTS."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from feed_helpers import alert_record, demo_records, feature_record, free_port, roster_doc
from test_feed_triage import ALERTS, EXPECTED

from phenotyping.feed.auth import Roster, new_token
from phenotyping.feed.bus import MemoryBus
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.feed.web import FeedService, build_app

pytestmark = pytest.mark.browser
TOKEN = new_token()


@dataclass
class LiveFeed:
    base: str
    bus: MemoryBus
    service: FeedService
    loop: asyncio.AbstractEventLoop
    roster: list[str]

    def put(self, *items: Incoming) -> None:
        self.loop.call_soon_threadsafe(self.bus.put, *items)


def _relabel(rows: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    return [{**r, "subject_id": new} for r in rows if r["subject_id"] == old]


@pytest.fixture
def live(demo: Any) -> Iterator[LiveFeed]:
    """The feed on a free port: the demo cohort, its patients copied under more ids (their
    real daily rows), the triage alerts; a 50-patient roster (some never sent data)."""
    demo_subjects = sorted({r["subject_id"] for r in demo.daily})
    daily = list(demo.daily)
    extra = []
    for i in range(24):
        src = demo_subjects[i % len(demo_subjects)]
        new = f"p-{i + 10:02d}"
        extra.append(new)
        daily += _relabel(demo.daily, src, new)
    alerts = list(demo.alerts)
    roster = [*demo_subjects, *extra, *[a["subject_id"] for a in ALERTS]]
    roster += [f"q-{i:02d}" for i in range(50 - len(roster))]
    assert len(roster) == 50
    records = demo_records(daily, alerts) + [alert_record(a) for a in ALERTS]
    bus = MemoryBus(records)
    doc = Roster.parse(roster_doc({"dr-b": (TOKEN, roster)}))
    service = FeedService(
        FeedStore(), bus, lambda: doc, FeedSettings(session_secret="b" * 32, heartbeat_s=1.0)
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(build_app(service))

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30)
    deadline = time.monotonic() + 60
    while service.store.stats()["alerts"] < len(alerts) + len(ALERTS):
        assert time.monotonic() < deadline, "the feed did not take the records in"
        time.sleep(0.1)
    try:
        yield LiveFeed(f"http://127.0.0.1:{port}", bus, service, loop, roster)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def _wait(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.2)


def _sign_in(browser: Any, base: str, path: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base + path)
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "main.login button").click()
    _wait("signed in", lambda: "/login" not in browser.current_url)
    if not browser.current_url.endswith(path):
        browser.get(base + path)
    _wait("the live stream", lambda: browser.find_element(By.ID, "live").text == "Live")


def _shot(browser: Any, path: Path, full: bool = True) -> None:
    if full:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(max(int(height) + 160, 800), 6000))
    browser.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _open_order(browser: Any) -> list[str]:
    ids: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll('#open .cards article'))"
        ".map(function (a) { return a.id; });"
    )
    return [i.removeprefix("ep-").split("_")[0] for i in ids]


def test_triage_order_on_the_page_and_live(live: LiveFeed, browser: Any, artifacts: Path) -> None:
    _sign_in(browser, live.base, "/alerts")
    order = [s for s in _open_order(browser) if s in EXPECTED]
    assert order == EXPECTED
    browser.execute_script("window.__same = 'yes';")
    # a new HIGH alert with the top score (1.0, as some demo alerts have) and the newest date
    # arrives: it goes first, without a reload
    new = {**ALERTS[0], "subject_id": "p-10", "level": "high", "score": 1.0,
           "alert_id": "p-10-live", "date": "2024-03-25"}  # fmt: skip
    live.put(alert_record(new))
    _wait("the new card first", lambda: _open_order(browser)[:1] == ["p-10"])
    assert [s for s in _open_order(browser) if s in EXPECTED] == EXPECTED
    assert browser.execute_script("return window.__same") == "yes"
    # the filter: High only
    browser.get(live.base + "/alerts?level=high")
    _wait("filtered", lambda: _open_order(browser)[:1] == ["p-10"])
    shown = _open_order(browser)
    assert [x for x in shown if x in {*EXPECTED, "p-10"}] == ["p-10", "p-03", "p-05", "p-02"]
    badges = browser.execute_script(
        "return Array.from(document.querySelectorAll('#open .cards article .badge'))"
        ".map(function (b) { return b.innerText.toLowerCase(); });"
    )
    assert badges and set(badges) == {"high"}
    browser.get(live.base + "/alerts")
    _wait("page", lambda: _open_order(browser))
    _shot(browser, artifacts / "feed-triage.png")


def test_caseload_lists_every_patient(live: LiveFeed, browser: Any, artifacts: Path) -> None:
    _sign_in(browser, live.base, "/patients")
    rows: list[dict[str, str]] = browser.execute_script(
        "return Array.from(document.querySelectorAll('#caseload tr')).map(function (r) {"
        " return {id: r.id, state: r.dataset.state, text: r.innerText}; });"
    )
    assert sorted(r["id"].removeprefix("pt-") for r in rows) == sorted(live.roster)
    # what needs attention first: the open HIGH alerts lead
    assert "HIGH" in rows[0]["text"].upper()
    never = [r for r in rows if r["id"].startswith("pt-q-")]
    assert never and all(r["state"] == "none" for r in never)
    _shot(browser, artifacts / "feed-caseload.png")
    # sort by patient id (a column heading)
    browser.find_element("link text", "Patient").click()
    _wait("sorted", lambda: "sort=subject" in browser.current_url)
    ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('#caseload tr')).map(function (r) {"
        " return r.id; });"
    )
    assert ids == sorted(ids)
    # a patient's page
    store = live.service.store
    alerted = next(s for s in live.roster if store.subject_episodes(s) and store.latest_day(s))
    browser.get(live.base + f"/patients/{alerted}")
    assert browser.find_elements("css selector", "svg.chart")
    _shot(browser, artifacts / "feed-patient.png")


def test_acknowledge_with_a_reason(live: LiveFeed, browser: Any, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _sign_in(browser, live.base, "/alerts")
    card = f"ep-p-03_{ALERTS[2]['episode_start']}"
    form = browser.find_element(By.CSS_SELECTOR, f"#{card} form.ack")
    Select(form.find_element(By.NAME, "reason")).select_by_value("contacted_fine")
    form.find_element(By.NAME, "note").send_keys("Spoke on the phone, sleeping better")
    form.find_element(By.CSS_SELECTOR, "button").click()
    text = _wait(
        "the acknowledgement on the card",
        lambda: (
            (
                t := browser.execute_script(
                    "var c = document.getElementById(arguments[0]); return c ? c.innerText : '';",
                    card,
                )
            )
            and "acknowledged" in t
            and t
        ),
    )
    assert "Contacted: doing fine" in text and "sleeping better" in text
    (ack,) = live.bus.published
    assert (ack.reason, ack.clinician_id, ack.via) == ("contacted_fine", "dr-b", "web")
    (event,) = live.bus.feedback
    assert event.reason == "contacted_fine" and "sleeping" not in event.model_dump_json()
    browser.execute_script("document.getElementById(arguments[0]).scrollIntoView();", card)
    _shot(browser, artifacts / "feed-ack-reason.png", full=False)


def test_a_data_gap_patient_appears_live(live: LiveFeed, browser: Any, artifacts: Path) -> None:
    _sign_in(browser, live.base, "/patients")
    subject = "p-11"
    state = browser.execute_script(
        "return document.getElementById(arguments[0]).dataset.state;", f"pt-{subject}"
    )
    assert state != "gap"
    browser.execute_script("window.__same = 'yes';")
    last = live.service.store.latest_day(subject)
    assert last is not None
    notice = {
        "type": "notice", "kind": "data_gap", "subject_id": subject,
        "date": (last + dt.timedelta(days=5)).isoformat(),
        "gap_start": (last + dt.timedelta(days=1)).isoformat(), "days_without_data": 5,
        "config_version": "test",
    }  # fmt: skip
    live.put(Incoming("notice", orjson.dumps(notice)))
    row = _wait(
        "the data-gap row",
        lambda: (
            (
                r := browser.execute_script(
                    "var r = document.getElementById(arguments[0]);"
                    "return r ? {state: r.dataset.state, text: r.innerText,"
                    " fresh: r.classList.contains('fresh')} : null;",
                    f"pt-{subject}",
                )
            )
            and r["state"] == "gap"
            and r
        ),
    )
    assert "DATA GAP" in row["text"].upper() and row["fresh"]
    assert browser.execute_script("return window.__same") == "yes"
    browser.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView({block: 'center'});",
        f"pt-{subject}",
    )
    _shot(browser, artifacts / "feed-data-gap-live.png", full=False)
    # and a feature row after the gap ends it, live too
    live.put(feature_record({"subject_id": subject, "date": notice["date"], "valid": True,
                             "coverage": 1.0, "activity_mean_worn": 150.0}))  # fmt: skip
    _wait(
        "the gap over",
        lambda: (
            browser.execute_script(
                "return document.getElementById(arguments[0]).dataset.state;", f"pt-{subject}"
            )
            == "ok"
        ),
    )


def _case_rows(browser: Any) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = browser.execute_script(
        "return Array.from(document.querySelectorAll('#caseload tr')).map(function (r) {"
        " return {id: r.id.slice(3), state: r.dataset.state, level: r.dataset.level,"
        " text: r.innerText}; });"
    )
    return rows


def test_caseload_rows_move_to_their_place_live(
    live: LiveFeed, browser: Any, artifacts: Path
) -> None:
    _sign_in(browser, live.base, "/patients")
    browser.execute_script("window.__same = 'yes';")
    before = [r["id"] for r in _case_rows(browser)]
    # a patient low on the list (no alert, data fine) gets a HIGH alert with the top score
    quiet = [r["id"] for r in _case_rows(browser) if r["state"] == "ok" and not r["level"]]
    subject = quiet[-1]
    assert before.index(subject) > 10
    new = {**ALERTS[0], "subject_id": subject, "level": "high", "score": 1.0,
           "alert_id": f"{subject}-live", "date": "2024-03-25"}  # fmt: skip
    live.put(alert_record(new))

    def among_the_high() -> bool:
        rows = _case_rows(browser)
        ids = [r["id"] for r in rows]
        at = ids.index(subject)
        return rows[at]["level"] == "high" and all(r["level"] == "high" for r in rows[:at])

    _wait("the newly alerted patient among the HIGH alerts at the top", among_the_high)
    assert _case_rows(browser)[0]["state"]  # the table is still there
    # a patient whose data stop: a data-gap notice moves them above every patient without an
    # alert (or an episode closed unresolved) whose data are fine or merely late
    other = quiet[-2]
    last = live.service.store.latest_day(other)
    assert last is not None
    notice = {
        "type": "notice", "kind": "data_gap", "subject_id": other,
        "date": (last + dt.timedelta(days=5)).isoformat(),
        "gap_start": (last + dt.timedelta(days=1)).isoformat(), "days_without_data": 5,
        "config_version": "test",
    }  # fmt: skip
    live.put(Incoming("notice", orjson.dumps(notice)))

    def gap_above_ok() -> bool:
        rows = _case_rows(browser)
        ids = [r["id"] for r in rows]
        ok = [
            ids.index(r["id"])
            for r in rows
            if r["state"] in ("ok", "stale")
            and not r["level"]
            and "closed, not resolved" not in r["text"]
        ]
        return bool(ok) and ids.index(other) < min(ok) and rows[ids.index(other)]["state"] == "gap"

    _wait("the data-gap patient above those with data", gap_above_ok)
    assert browser.execute_script("return window.__same") == "yes"  # no reload
    live_order = [r["id"] for r in _case_rows(browser)]
    browser.execute_script("document.getElementById('pt-' + arguments[0]).scrollIntoView();", other)
    _shot(browser, artifacts / "feed-caseload-resorted-live.png")
    # the order that arrived live is the order a fresh page shows
    browser.get(live.base + "/patients")
    _wait("the page", lambda: _case_rows(browser))
    assert [r["id"] for r in _case_rows(browser)] == live_order

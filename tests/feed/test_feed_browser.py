"""A clinician in a real browser: headless Chromium loads the feed page from a running
``phenotyping feed`` that reads a real Kafka broker, while a real replay of the demo cohort
goes through ``phenotyping replay --broker`` and a ``phenotyping worker``. The new alert
appears without a reload, the clinician acknowledges it, the acknowledgement is in the acks
topic, and screenshots are saved (their paths are printed)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from feed_helpers import (
    FeedProcess,
    cut_cohort,
    open_episodes,
    start_on_free_port,
    write_roster,
)
from stream_helpers import read_topic

from phenotyping.config import load_settings
from phenotyping.feed.auth import new_token
from phenotyping.feed.kafka import acks_topic
from phenotyping.feed.models import Ack
from phenotyping.feed.settings import FeedSettings
from phenotyping.replay.run import replay

pytestmark = [pytest.mark.kafka, pytest.mark.browser]


def _wait(what: str, check: Any, timeout: float, alive: Any = None) -> Any:
    """Poll ``check()`` until it returns something truthy (bounded); no timing asserted."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.25)


def _full_page(driver: Any, path: Path) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height) + 160, 800), 5000))
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_a_clinician_sees_an_alert_arrive_live_and_acknowledges_it(
    deployment: Any, demo: Any, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    # The recording stops a few days after the demo's first alert opens, so its episode is
    # still open at the end of the replay; what the feed must show comes from the
    # in-process replay of exactly these messages.
    first = min(dt.date.fromisoformat(a["date"]) for a in demo.alerts if a["kind"] == "opened")
    cut = dt.datetime.combine(first + dt.timedelta(days=4), dt.time(), tzinfo=dt.UTC)
    cohort = cut_cohort(demo.cohort, tmp_path / "cohort-cut.jsonl", cut)
    settings = load_settings()
    expected = replay([cohort], fmt="jsonl", params=settings.engine, risk=settings.risk).alerts
    episodes = open_episodes(expected)
    assert episodes, "the cut demo cohort must end with an open alert episode"
    (subject, start), alert = max(episodes.items(), key=lambda kv: kv[1]["date"])

    d = deployment()
    worker = d.worker()
    token = new_token()
    subjects = sorted({a["subject_id"] for a in demo.alerts} | {"sim-001"})
    roster = write_roster(tmp_path / "roster.toml", {"dr-live": (token, subjects)})
    feed, port = start_on_free_port(
        lambda port: FeedProcess.feed(
            {
                **d.env,
                "PHENOTYPING_FEED__ROSTER": str(roster),
                "PHENOTYPING_FEED__PORT": str(port),
                "PHENOTYPING_FEED__SESSION_SECRET": "browser-test-" + "x" * 32,
            },
            d.workdir / f"feed-{port}.log",
        )
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # sign in the way a clinician does
        browser.get(base + "/alerts")
        assert browser.current_url.endswith("/login")
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.CSS_SELECTOR, "main.login button").click()
        _wait("the alerts page", lambda: browser.current_url.endswith("/alerts"), 30)
        _wait("the live stream", lambda: browser.find_element(By.ID, "live").text == "Live", 30)
        assert browser.find_elements(By.CSS_SELECTOR, "#open .cards article") == []
        browser.execute_script("window.__notReloaded = 'still the same page';")

        # a real replay through the broker and the worker
        replay_proc = d.replay([cohort])
        out, _ = replay_proc.communicate(timeout=300)
        assert replay_proc.returncode == 0, out.decode()

        def alive() -> None:
            if worker.proc.poll() is not None:
                raise AssertionError(f"worker exited:\n{worker.tail()}")
            if feed.proc.poll() is not None:
                raise AssertionError(f"feed exited:\n{feed.tail()}")

        card_id = f"ep-{subject}_{start}"

        def card() -> dict[str, Any] | None:
            """The card as the page shows it now (read in one go: the stream re-renders
            it whenever the subject's data change)."""
            state: dict[str, Any] | None = browser.execute_script(
                """
                var c = document.getElementById(arguments[0]);
                if (!c) { return null; }
                var q = function (s) { var e = c.querySelector(s); return e ? e.innerText : null; };
                return {cls: c.className, section: c.parentNode.parentNode.id,
                        explanation: q('.explanation'), badge: q('.badge'), text: c.innerText,
                        charts: c.querySelectorAll('svg.chart').length,
                        ackAction: (c.querySelector('form.ack') || {}).action || null};
                """,
                card_id,
            )
            return state

        _wait(f"card {card_id} on the page", card, 240, alive)
        # the escalation, if any, arrives too: wait for the episode's latest alert
        state = _wait(
            "the latest alert of the episode on the card",
            lambda: (
                (c := card())
                and (c["ackAction"] or "").endswith(f"/alerts/{alert['alert_id']}/ack")
                and c
            ),
            120,
            alive,
        )
        # it came over the live stream into the page that was already open
        assert browser.execute_script("return window.__notReloaded") == "still the same page"
        assert state["section"] == "open" and "fresh" in state["cls"].split()
        assert state["explanation"] == alert["explanation"]
        assert state["badge"].lower() == alert["level"]
        assert state["charts"] >= 1
        _full_page(browser, artifacts / "feed-live-alert.png")

        def click_acknowledge() -> bool:
            from selenium.webdriver.support.ui import Select

            try:
                form = browser.find_element(By.CSS_SELECTOR, f"#{card_id} form.ack")
                Select(form.find_element(By.NAME, "reason")).select_by_value(
                    "contacted_deteriorating"
                )
                form.find_element(By.CSS_SELECTOR, "button").click()
            except StaleElementReferenceException:  # re-rendered meanwhile: find it again
                return False
            return True

        _wait("a click on Acknowledge", click_acknowledge, 30)
        state = _wait(
            "the acknowledgement on the card",
            lambda: (c := card()) and "acknowledged" in c["text"] and c,
            60,
            alive,
        )
        assert "Dr dr-live acknowledged" in state["text"]
        assert state["ackAction"] is None  # no button any more
        assert browser.execute_script("return window.__notReloaded") == "still the same page"
        _full_page(browser, artifacts / "feed-acknowledged.png")

        # the audit trail: one record in the acks topic, who, what, from the web page
        topic = acks_topic(d.kafka, FeedSettings())
        acks = [Ack.model_validate_json(r.value) for r in read_topic(d.kafka, topic)]
        assert [(a.clinician_id, a.alert_id, a.via, a.reason) for a in acks] == [
            ("dr-live", alert["alert_id"], "web", "contacted_deteriorating")
        ]
    finally:
        code = feed.stop()
    assert code == 0, f"the feed did not stop cleanly on SIGTERM:\n{feed.tail()}"
    # the feed's log names ids, never what an alert says
    log = feed.text()
    assert "acknowledgement recorded: clinician dr-live" in log
    assert alert["explanation"] not in log
    for c in alert["contributing"]:
        assert c["label"] not in log

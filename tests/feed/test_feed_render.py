"""HTML cards and SVG charts (phenotyping.feed.render)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import numpy as np
from feed_helpers import alert_record, make_alert

from phenotyping.events import Alert
from phenotyping.feed import render
from phenotyping.feed.models import Ack
from phenotyping.feed.store import FeedStore, Series
from phenotyping.risk.monitor import MONITORED

SPEC = {s.column: s for s in MONITORED}
SVG = "{http://www.w3.org/2000/svg}"


def _series(column: str, value: list[float], base: list[float], scale: list[float]) -> Series:
    d0 = dt.date(2024, 3, 1)
    return Series(
        SPEC[column],
        tuple(d0 + dt.timedelta(days=i) for i in range(len(value))),
        np.array(value, dtype=float),
        np.array(base, dtype=float),
        np.array(scale, dtype=float),
    )


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_chart_draws_each_valid_day_and_marks_those_outside_the_usual_range() -> None:
    # usual range = 20 +- 2 x 5 = [10, 30]; 10 and 30 are on its edge (inside), 100 is out,
    # the missing day is not drawn
    s = _series("activity_mean_worn", [10.0, np.nan, 30.0, 100.0], [20.0] * 4, [5.0] * 4)
    root = _parse(render.chart(s, episode_start=dt.date(2024, 3, 3)))
    circles = root.findall(f"{SVG}circle")
    assert [c.get("class") for c in circles] == ["pt", "pt", "out"]
    # the line breaks at the missing day: only days 3-4 are joined
    assert len(root.findall(f"{SVG}polyline[@class='line']")) == 1
    assert len(root.findall(f"{SVG}polygon[@class='band']")) == 1
    assert len(root.findall(f"{SVG}line[@class='onset']")) == 1
    # y grows downwards: the highest value is drawn highest
    ys = [float(c.get("cy", "nan")) for c in circles]
    assert ys[2] < ys[1] < ys[0]
    # a day's tooltip names the day and the value in its unit
    assert circles[2].findtext(f"{SVG}title") == "4 Mar 2024: 100 counts/min"


def test_clock_features_are_drawn_around_the_baseline_not_across_midnight() -> None:
    # midpoints 23:50, 00:10, 00:20 around a usual 00:00: a 30-minute spread, not 23 hours
    s = _series("sleep_midpoint_clock_min", [1430.0, 10.0, 20.0], [0.0] * 3, [30.0] * 3)
    root = _parse(render.chart(s))
    ys = [float(c.get("cy", "nan")) for c in root.findall(f"{SVG}circle")]
    assert ys[0] > ys[1] > ys[2]  # 23:50 lowest, 00:20 highest: in time order
    assert all(c.get("class") == "pt" for c in root.findall(f"{SVG}circle"))
    labels = [t.text for t in root.findall(f"{SVG}text[@class='yl']")]
    assert "00:00" in labels


def test_nothing_to_draw_gives_no_chart() -> None:
    s = _series("night_rmssd", [np.nan] * 3, [np.nan] * 3, [np.nan] * 3)
    assert render.chart(s) == ""


def test_every_text_from_a_message_is_escaped() -> None:
    evil = '<script>alert("x")</script> & more'
    store = FeedStore()
    store.ingest([alert_record(make_alert("s-1", explanation=evil))])
    (ep,) = store.episodes(lambda _s: True)
    html = render.card(ep, [], names={}, csrf='"><x>', latest_data=None)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'value="&quot;&gt;&lt;x&gt;"' in html
    assert re.search(r"<[a-z]+[^>]* on[a-z]+=", html) is None  # no inline event handlers


def test_open_card_states_what_a_clinician_needs_and_offers_acknowledge() -> None:
    store = FeedStore()
    alert = make_alert("s-9", days_since_last_session=34)
    store.ingest([alert_record(alert)])
    (ep,) = store.episodes(lambda _s: True)
    html = render.card(ep, [], names={}, csrf="c", latest_data=dt.date(2024, 3, 6))
    assert "Elevated" in html and "s-9" in html
    assert alert["explanation"] in html
    assert "ketamine, 34 days before this alert" in html
    assert "daily activity" in html and "40% lower" in html  # 90 vs usual 150
    assert f'action="/alerts/{alert["alert_id"]}/ack"' in html
    assert "Data received up to 6 Mar 2024" in html


def test_acknowledged_card_names_who_and_when_and_drops_the_button() -> None:
    store = FeedStore()
    alert = make_alert("s-9")
    store.ingest([alert_record(alert)])
    at = dt.datetime(2024, 3, 5, 9, 30, tzinfo=dt.UTC)
    store.add_ack(Ack.of(Alert.model_validate(alert), "dr-a", at, "web"))
    (ep,) = store.episodes(lambda _s: True)
    html = render.card(ep, [], names={"dr-a": "Dr A. Example"}, csrf="c", latest_data=None)
    assert "Dr A. Example acknowledged the opened alert of 4 Mar 2024" in html
    assert 'datetime="2024-03-05T09:30:00+00:00"' in html
    assert 'class="ack"' not in html


def test_resolved_episode_is_a_short_card_without_chart_or_button() -> None:
    store = FeedStore()
    store.ingest(
        [
            alert_record(make_alert("s-3", "opened", "2024-01-10", "2024-01-05")),
            alert_record(
                make_alert(
                    "s-3",
                    "resolved",
                    "2024-01-20",
                    "2024-01-05",
                    explanation="Resolved: no longer elevated for 3 days",
                )
            ),
        ]
    )
    (ep,) = store.episodes(lambda _s: True)
    html = render.card(ep, [], names={}, csrf="c", latest_data=None)
    assert 'class="card resolved"' in html and "<svg" not in html and 'class="ack"' not in html
    assert "Episode 5 Jan 2024 to 20 Jan 2024" in html


def test_a_band_of_a_quantity_that_cannot_be_negative_stops_at_zero() -> None:
    spec = next(s for s in MONITORED if s.column == "sleep_tst_min")
    dates = tuple(dt.date(2024, 3, d) for d in range(1, 8))
    svg = render.chart(Series(spec, dates, np.full(7, 420.0), np.full(7, 400.0), np.full(7, 300.0)))
    labels = re.findall(r'class="yl"[^>]*>([^<]+)<', svg)
    assert labels and not any(lb.startswith("-") for lb in labels)


def test_a_device_sleep_log_behind_an_alert_is_in_the_cards_table() -> None:
    """An alert can name the device's own sleep log (``device_sleep_tst_min``); the card
    shows its row like any watched feature (it used to be dropped: only actigraphy's)."""
    store = FeedStore()
    row = {
        "feature": "device_sleep_tst_min",
        "label": "total sleep (device sleep log)",
        "domain": "sleep",
        "direction": "up",
        "value": 540.0,
        "mean_since_onset": 520.0,
        "baseline_median": 420.0,
        "baseline_scale": 45.0,
        "z": 2.6,
        "signal_strength": 1.1,
        "days_in_deviation": 6,
    }
    alert = make_alert(
        "s-3", explanation="Total sleep (device sleep log) 1 h 40 min longer", contributing=[row]
    )
    store.ingest([alert_record(alert)])
    (ep,) = store.episodes(lambda _s: True)
    html = render.card(ep, [], names={}, csrf="c", latest_data=dt.date(2024, 3, 6))
    table = html[html.index('<table class="contrib">') :]
    assert "total sleep (device sleep log)" in table
    assert "7 h" in table and "6 nights" in table  # usual 7 h, over 6 nights

"""The feed's bounded in-memory store (phenotyping.feed.store)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from feed_helpers import alert_record, demo_records, feature_record, make_alert

from phenotyping.events import Alert
from phenotyping.feed.models import Ack
from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.risk.monitor import MONITORED

EVERYONE = lambda _s: True  # noqa: E731
AT = dt.datetime(2024, 3, 5, 9, 30, tzinfo=dt.UTC)


def _ack(alert: dict, who: str = "dr-a") -> Ack:  # type: ignore[type-arg]
    return Ack.of(Alert.model_validate(alert), who, AT, "web")


def test_episode_messages_group_by_subject_and_start_and_newest_come_first() -> None:
    store = FeedStore()
    a_open = make_alert("s-1", "opened", "2024-03-04", "2024-02-28", "elevated")
    a_esc = make_alert("s-1", "escalated", "2024-03-08", "2024-02-28", "high")
    b_open = make_alert("s-2", "opened", "2024-03-06", "2024-03-01", "watch")
    c_open = make_alert("s-3", "opened", "2024-01-10", "2024-01-05", "elevated")
    c_res = make_alert("s-3", "resolved", "2024-01-20", "2024-01-05", "elevated")
    # arrival order differs from date order on purpose
    assert store.ingest([alert_record(a) for a in (a_esc, b_open, c_res, a_open, c_open)]) == {
        "s-1",
        "s-2",
        "s-3",
    }
    eps = store.episodes(EVERYONE)
    assert [(e.subject_id, e.resolved is None) for e in eps] == [
        ("s-1", True),  # latest message 8 Mar
        ("s-2", True),  # 6 Mar
        ("s-3", False),  # resolved 20 Jan
    ]
    s1 = eps[0]
    assert [e.alert.kind for e in s1.entries] == ["opened", "escalated"]
    assert s1.current.alert.alert_id == a_esc["alert_id"]
    assert eps[2].current.alert.kind == "opened"  # the one a clinician would acknowledge
    assert [e.subject_id for e in store.episodes(lambda s: s == "s-2")] == ["s-2"]


def test_a_redelivered_alert_changes_nothing() -> None:
    store = FeedStore()
    rec = alert_record(make_alert())
    store.ingest([rec])
    seq = store.seq
    assert store.ingest([rec, rec]) == set()
    assert store.seq == seq and store.counts["duplicate_alert"] == 2


def test_acks_attach_to_their_alert_even_when_read_first_and_are_never_doubled() -> None:
    store = FeedStore()
    alert = make_alert()
    ack = _ack(alert)
    store.ingest([Incoming("ack", ack.encode())])  # the acks topic was read first
    assert store.alert(alert["alert_id"]) is None
    store.ingest([alert_record(alert), Incoming("ack", ack.encode())])
    entry = store.alert(alert["alert_id"])
    assert entry is not None and entry.acks == [ack]
    assert store.counts["duplicate_ack"] == 1


def test_since_paging_returns_every_change_once_in_order() -> None:
    store = FeedStore()
    alerts = [make_alert(f"s-{i}", date=f"2024-03-{i + 1:02d}") for i in range(7)]
    store.ingest([alert_record(a) for a in alerts])
    seen, since = [], 0
    while True:
        page, more = store.entries_since(since, EVERYONE, limit=3)
        seen += [e.alert.alert_id for e in page]
        if not more:
            break
        since = page[-1].seq
    assert seen == [a["alert_id"] for a in alerts]
    # an acknowledgement is a change: the acknowledged alert comes again, now with its ack
    last = store.seq
    store.add_ack(_ack(alerts[2]))
    page, more = store.entries_since(last, EVERYONE, limit=10)
    assert [e.alert.alert_id for e in page] == [alerts[2]["alert_id"]] and not more
    assert page[0].acks[0].clinician_id == "dr-a"
    # only visible subjects
    page, _ = store.entries_since(0, lambda s: s == "s-5", limit=10)
    assert [e.alert.subject_id for e in page] == ["s-5"]


def test_memory_bounds_drop_the_oldest() -> None:
    store = FeedStore(max_alerts=3, max_subjects=2, history_days=10)
    alerts = [make_alert(f"s-{i}") for i in range(5)]
    store.ingest([alert_record(a) for a in alerts])
    kept = [e.alert.subject_id for e in store.entries_since(0, EVERYONE, 10)[0]]
    assert kept == ["s-2", "s-3", "s-4"]
    assert store.counts["alerts_dropped"] == 2
    assert {e.subject_id for e in store.episodes(EVERYONE)} == {"s-2", "s-3", "s-4"}

    def row(subject: str, day: dt.date, value: float = 1.0) -> dict:  # type: ignore[type-arg]
        return {
            "subject_id": subject,
            "date": day.isoformat(),
            "valid": True,
            "activity_mean_worn": value,
        }

    d0 = dt.date(2024, 1, 1)
    store.ingest([feature_record(row("a", d0 + dt.timedelta(days=i), float(i))) for i in range(15)])
    assert store.latest_day("a") == d0 + dt.timedelta(days=14)
    series = store.series("a", ["activity_mean_worn"], days=15)[0]
    # days 0-4 are more than history_days (10) before the latest row: dropped
    np.testing.assert_array_equal(series.value, [np.nan] * 5 + [float(i) for i in range(5, 15)])
    store.ingest([feature_record(row("a", d0))])  # older than the window: ignored
    assert store.counts["features_too_old"] == 1
    store.ingest([feature_record(row("b", d0)), feature_record(row("c", d0))])
    assert list(store.subjects_with_features()) == ["b", "c"]  # "a" least recently updated


def test_series_follow_the_risk_engines_validity_rule() -> None:
    spec = MONITORED[0]  # activity_mean_worn, valid only when the day is valid
    col = spec.column
    rows = [
        {
            "subject_id": "s",
            "date": "2024-01-01",
            col: 100.0,
            "valid": True,
            f"base_{col}": None,
            f"scale_{col}": None,
        },
        {
            "subject_id": "s",
            "date": "2024-01-02",
            col: 120.0,
            "valid": False,
            f"base_{col}": 110.0,
            f"scale_{col}": 15.0,
        },
        # 2024-01-03 missing
        {
            "subject_id": "s",
            "date": "2024-01-04",
            col: 90.0,
            "valid": True,
            f"base_{col}": 112.0,
            f"scale_{col}": 16.0,
        },
    ]
    store = FeedStore()
    store.ingest([feature_record(r) for r in rows])
    (s,) = store.series("s", [col, "not_a_feature"], days=4)
    assert s.dates == tuple(dt.date(2024, 1, d) for d in range(1, 5))
    np.testing.assert_array_equal(s.value, [100.0, np.nan, np.nan, 90.0])
    np.testing.assert_array_equal(s.base, [np.nan, 110.0, np.nan, 112.0])
    np.testing.assert_array_equal(s.scale, [np.nan, 15.0, np.nan, 16.0])


def test_change_log_names_subjects_and_says_when_it_no_longer_reaches_back() -> None:
    store = FeedStore(max_changes=3)
    store.ingest([alert_record(make_alert(f"s-{i}")) for i in range(2)])
    assert store.changed_since(0, EVERYONE) == {"s-0", "s-1"}
    assert store.changed_since(1, lambda s: s != "s-1") == set()
    assert store.changed_since(store.seq, EVERYONE) == set()
    store.ingest([alert_record(make_alert(f"s-{i}")) for i in range(2, 5)])
    assert store.changed_since(0, EVERYONE) is None  # 5 changes, 3 kept
    assert store.changed_since(store.seq - 3, EVERYONE) == {"s-2", "s-3", "s-4"}
    assert store.changed_since(store.seq + 7, EVERYONE) is None  # a client of an older run


def test_demo_outputs_go_in_whole(demo) -> None:  # type: ignore[no-untyped-def]
    store = FeedStore()
    store.ingest(demo_records(demo.daily, demo.alerts))
    assert store.counts["invalid_alert"] == 0 and store.counts["invalid_features"] == 0
    assert {e.alert.alert_id for e in store.entries_since(0, EVERYONE, 10_000)[0]} == {
        a["alert_id"] for a in demo.alerts
    }
    subject = demo.alerts[0]["subject_id"]
    rows = {r["date"]: r for r in demo.daily if r["subject_id"] == subject}
    last = max(rows)
    (s,) = store.series(subject, ["activity_mean_worn"], days=7)
    assert s.dates[-1].isoformat() == last
    row = rows[last]
    expected = row["activity_mean_worn"] if row["valid"] else math.nan
    assert (math.isnan(s.value[-1]) and math.isnan(expected)) or s.value[-1] == expected
    base = row.get("base_activity_mean_worn")
    assert s.base[-1] == base or (math.isnan(s.base[-1]) and (base is None or math.isnan(base)))


def test_the_engines_feedback_notices_are_kept_per_patient_and_shown() -> None:
    import orjson

    from phenotyping.feed import render

    # the shape of the risk engine's feedback_applied notice
    notice = {
        "type": "notice", "kind": "feedback_applied", "subject_id": "s-1", "date": "2024-03-03",
        "config_version": "x", "reason": "holiday_travel", "applies_from": "2024-02-15",
        "applies_until": "2024-03-24",
        "effect": "holiday or travel reported, 2024-02-15 to 2024-03-24: these days are left "
        "out of the usual range",
    }  # fmt: skip
    store = FeedStore()
    assert store.ingest([Incoming("notice", orjson.dumps(notice))]) == {"s-1"}
    assert store.ingest([Incoming("notice", orjson.dumps(notice))]) == set()  # redelivered
    bad = {**notice, "date": "soon"}
    assert store.ingest([Incoming("notice", orjson.dumps(bad))]) == set()
    assert store.counts["invalid_notice"] == 1
    (note,) = store.engine_feedback("s-1")
    assert note.to_json() == {
        "date": "2024-03-03",
        "reason": "holiday_travel",
        "applies_from": "2024-02-15",
        "applies_until": "2024-03-24",
        "effect": notice["effect"],
    }
    assert store.engine_feedback("s-2") == []
    html = render._engine_feedback(store.engine_feedback("s-1"))
    assert "Holiday or travel" in html and "15 Feb 2024 to 24 Mar 2024" in html
    assert "left out of the usual range" in html

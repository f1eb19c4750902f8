"""An episode the risk engine closes at its time limit while the data are still away from the
usual range is not shown as "resolved": the card, the patient's timeline and the caseload
say "closed, not resolved", and the caseload keeps that patient above those without an
alert until a new alert opens. Checked on the demo cohort's real replay output (one
patient's episode closes that way 28 days after its alert; other patients' episodes
resolve normally), so a change in the engine's wording fails here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from feed_helpers import demo_records

from phenotyping.feed import render
from phenotyping.feed.caseload import caseload
from phenotyping.feed.store import FeedStore


def _store(demo: Any, through: str, extra: list[dict[str, Any]] | None = None) -> FeedStore:
    store = FeedStore()
    daily = [r for r in demo.daily if r["date"] <= through]
    alerts = [a for a in demo.alerts if a["date"] <= through] + (extra or [])
    store.ingest(demo_records(daily, alerts))
    return store


def _closed_unresolved(demo: Any) -> tuple[str, str, str]:
    """(subject, opened date, closing date) of the demo's first episode closed at the
    engine's time limit (found in the replay output, not hard-coded: the engine counts the
    28 days from the opened alert, so which episode that is follows the engine)."""
    for a in demo.alerts:
        if a["kind"] == "resolved" and "not resolved" in a["explanation"]:
            opened = next(
                o for o in demo.alerts
                if o["kind"] == "opened" and o["subject_id"] == a["subject_id"]
                and o["episode_start"] == a["episode_start"]
            )  # fmt: skip
            return a["subject_id"], opened["date"], a["date"]
    raise AssertionError("the demo is meant to have an episode closed at its time limit")


def _day(iso: str, days: int) -> str:
    return (dt.date.fromisoformat(iso) + dt.timedelta(days=days)).isoformat()


def test_the_demo_has_both_kinds_of_closing(demo: Any) -> None:
    subject, opened, closing = _closed_unresolved(demo)
    assert closing == _day(opened, 28)  # 28 days after the alert, as its text says
    store = _store(demo, "2024-12-31")
    closed = [
        ep
        for s in {a["subject_id"] for a in demo.alerts}
        for ep in store.subject_episodes(s)
        if ep.resolved is not None
    ]
    unresolved = {(ep.subject_id, ep.resolved.alert.date.isoformat()) for ep in closed  # type: ignore[union-attr]
                  if ep.closed_unresolved}  # fmt: skip
    assert (subject, closing) in unresolved
    normal = [ep for ep in closed if not ep.closed_unresolved]
    assert normal, "the demo also has episodes that resolve normally"
    for ep in normal:
        assert ep.resolved is not None
        assert ep.resolved.alert.explanation.startswith("Resolved: back within the usual range")


def test_a_closed_unresolved_episode_reads_as_such_everywhere(demo: Any) -> None:
    subject, opened, closing = _closed_unresolved(demo)
    label = dt.date.fromisoformat(closing).strftime("%-d %b")
    # between the closing and any next alert of that patient
    store = _store(demo, _day(closing, 1))
    (ep,) = [e for e in store.subject_episodes(subject) if e.resolved is not None]
    html = render.card(ep, [], names={}, csrf="x", latest_data=None)
    assert f"Closed, not resolved, {label}" in html and "unresolved" in html
    assert "not a recovery" in html and "CUSUM" not in html
    # the days are counted from the opened alert, as the engine counts its 28-day limit
    # (the deviation's back-dated start lies days before it)
    assert "Closed 28 days after the alert opened" in html
    assert ep.start < dt.date.fromisoformat(opened)
    assert f"Resolved {label}" not in html
    subjects = sorted({r["subject_id"] for r in demo.daily})
    rows = caseload(store, subjects)
    row = next(r for r in rows if r.subject_id == subject)
    assert row.level is None and row.closed_unresolved is not None
    assert row.closed_unresolved.isoformat() == closing
    assert row.to_json()["closed_unresolved"] == closing
    assert "closed, not resolved" in render.case_row_html(row)
    # above every patient without an open alert or such a closing
    at = [r.subject_id for r in rows].index(subject)
    assert all(r.level is not None or r.closed_unresolved is not None for r in rows[:at])
    below = rows[at + 1 :]
    assert below and all(r.level is None for r in below)
    # once a next alert opens (the patient's first alert again, a week after the closing:
    # the demo's own next alert may fall after its end), the row shows that alert instead
    first = next(
        a for a in demo.alerts
        if a["subject_id"] == subject and a["kind"] == "opened" and a["date"] == opened
    )  # fmt: skip
    again = dict(first, date=_day(closing, 7), episode_start=_day(closing, 5))
    again["alert_id"] = "0" * 20
    later = _store(demo, _day(closing, 8), extra=[again])
    row = next(r for r in caseload(later, subjects) if r.subject_id == subject)
    assert row.level is not None and row.closed_unresolved is None

"""An episode the risk engine closes at its time limit while the data are still away from the
usual range is not shown as "resolved": the card, the patient's timeline and the caseload
say "closed, not resolved", and the caseload keeps that patient above those without an
alert until a new alert opens. Checked on the demo cohort's real replay output (the
relapsing patient's first episode closes that way on 14 Mar; other patients' episodes
resolve normally), so a change in the engine's wording fails here."""

from __future__ import annotations

from typing import Any

from feed_helpers import demo_records

from phenotyping.feed import render
from phenotyping.feed.caseload import caseload
from phenotyping.feed.store import FeedStore
from phenotyping.simulate import DEMO_RELAPSING


def _store(demo: Any, through: str) -> FeedStore:
    store = FeedStore()
    daily = [r for r in demo.daily if r["date"] <= through]
    alerts = [a for a in demo.alerts if a["date"] <= through]
    store.ingest(demo_records(daily, alerts))
    return store


def test_the_demo_has_both_kinds_of_closing(demo: Any) -> None:
    store = _store(demo, "2024-12-31")
    closed = [
        ep
        for s in {a["subject_id"] for a in demo.alerts}
        for ep in store.subject_episodes(s)
        if ep.resolved is not None
    ]
    unresolved = {(ep.subject_id, ep.resolved.alert.date.isoformat()) for ep in closed  # type: ignore[union-attr]
                  if ep.closed_unresolved}  # fmt: skip
    assert (DEMO_RELAPSING, "2024-03-14") in unresolved
    normal = [ep for ep in closed if not ep.closed_unresolved]
    assert normal, "the demo also has episodes that resolve normally"
    for ep in normal:
        assert ep.resolved is not None
        assert ep.resolved.alert.explanation.startswith("Resolved: back within the usual range")


def test_a_closed_unresolved_episode_reads_as_such_everywhere(demo: Any) -> None:
    # between the closing (14 Mar) and the next alert (22 Mar)
    store = _store(demo, "2024-03-18")
    (ep,) = [e for e in store.subject_episodes(DEMO_RELAPSING) if e.resolved is not None]
    html = render.card(ep, [], names={}, csrf="x", latest_data=None)
    assert "Closed, not resolved, 14 Mar" in html and "unresolved" in html
    assert "not a recovery" in html and "CUSUM" not in html
    assert "Resolved 14 Mar" not in html
    subjects = sorted({r["subject_id"] for r in demo.daily})
    rows = caseload(store, subjects)
    row = next(r for r in rows if r.subject_id == DEMO_RELAPSING)
    assert row.level is None and row.closed_unresolved is not None
    assert row.closed_unresolved.isoformat() == "2024-03-14"
    assert row.to_json()["closed_unresolved"] == "2024-03-14"
    assert "closed, not resolved" in render.case_row_html(row)
    # above every patient without an open alert or such a closing
    at = [r.subject_id for r in rows].index(DEMO_RELAPSING)
    assert all(r.level is not None or r.closed_unresolved is not None for r in rows[:at])
    below = rows[at + 1 :]
    assert below and all(r.level is None for r in below)
    # once the next alert opens, the row shows that alert instead
    later = _store(demo, "2024-03-31")
    row = next(r for r in caseload(later, subjects) if r.subject_id == DEMO_RELAPSING)
    assert row.level is not None and row.closed_unresolved is None

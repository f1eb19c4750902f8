"""After a treatment response the engine judges against the patient's own known remission
days, not a fresh warm-up: the first 16 days after a response are not blind.

Hand-worked like ``test_policy.py`` (prior off, so the scale of a constant usual value is
the feature's floor, 20 min for total sleep; one signal alone needs C >= 3).
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from phenotyping.events import ClinicalEvent
from phenotyping.risk.engine import RiskParams, RiskState
from tests.risk.test_policy import SMALL, day_no, iso, opened_days, row, run, usual_rows

PARAMS = RiskParams(**SMALL)  # type: ignore[arg-type]


def relapse_after_response(first_bad: int = 23, n: int = 45) -> list[dict[str, float]]:
    # usual 420 min on days 0-22, then 360 (z = -3 against 420) for good
    return usual_rows(first_bad) + [row(i, sleep_tst_min=360.0) for i in range(first_bad, n)]


def test_a_marked_remission_period_is_the_baseline_right_after_a_response() -> None:
    # Response on day 21, relapse from day 23. Without known remission days the baseline
    # restarts on day 21 and (no prior) waits for 10 own days: days 21-30, eight of them
    # already the relapse, so "usual" becomes 360 and the relapse is never alerted.
    rows = relapse_after_response()
    response = {"kind": "response"}
    _, alerts = run(rows, PARAMS, {21: response})
    assert opened_days(alerts) == []
    # With days 0-20 marked as remission (on day 21, before the response), those days are
    # the baseline from the first day: day 23 z = -3 (C = 2.5), day 24 C = 5: opened.
    mark = {"kind": "remission_period", "date": day_no(0), "until": day_no(20)}
    events = {21: mark}
    cols, alerts = run(rows, PARAMS, {**events, 22: response})
    assert opened_days(alerts) == [iso(24)]
    assert alerts[0]["after_response"] is True and alerts[0]["baseline"] == "personal"
    assert cols[23]["base_sleep_tst_min"] == 420.0


def test_the_band_pinned_before_the_relapse_that_started_a_course_is_used_after_response() -> None:
    # Days 0-20 usual, days 21-34 a relapse (300 min: opened on day 22, baseline pinned at
    # 420). A treatment course starts on day 25 while the episode is open; the response
    # on day 35 restarts the baseline; usual sleep comes back on days 35-37, then a new
    # relapse (360) from day 38. The pinned pre-relapse band (420) is the baseline after
    # the response: day 38 C = 2.5, day 39 C = 5 -> opened on day 39 (11 days after the
    # cooldown of the closed episode has passed).
    rows = usual_rows(21) + [row(i, sleep_tst_min=300.0) for i in range(21, 35)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(35, 38)]
    rows += [row(i, sleep_tst_min=360.0) for i in range(38, 60)]
    session = {"kind": "treatment_session", "modality": "ketamine"}
    cols, alerts = run(rows, PARAMS, {25: session, 35: {"kind": "response"}})
    assert opened_days(alerts) == [iso(22), iso(39)]
    assert alerts[-1]["after_response"] is True
    assert cols[38]["base_sleep_tst_min"] == 420.0
    # no course started during the episode: nothing is known, the relapse after the
    # response goes unseen in these days (warm-up on days 35-44, seven of them 360)
    cols, alerts = run(rows, PARAMS, {35: {"kind": "response"}})
    assert opened_days(alerts) == [iso(22)]


def test_remission_days_survive_the_state_and_an_old_state_loads() -> None:
    rows = relapse_after_response()
    state = RiskState(params=PARAMS)
    for r in rows[:21]:
        state.assess("p-01", r)
    state.clinical(day_no(21), "remission_period", until=day_no(20))  # nothing in range
    assert state.remission.size == 0
    state.clinical(day_no(0), "remission_period", until=day_no(20))
    assert state.remission.size == 21
    back = RiskState.from_bytes(state.to_bytes())
    assert (back.remission == state.remission).all()


def test_a_remission_period_needs_an_until_on_or_after_its_start() -> None:
    at = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    base = {"event_id": "c1", "subject_id": "p-01", "source": "clinic", "tz_offset_min": 0}
    ok = ClinicalEvent(**base, at=at, kind="remission_period", until=dt.date(2024, 3, 28))
    assert ok.until == dt.date(2024, 3, 28)
    for until in (None, dt.date(2024, 2, 28)):
        with pytest.raises(ValidationError, match="until"):
            ClinicalEvent(**base, at=at, kind="remission_period", until=until)
    with pytest.raises(ValidationError, match="until: only for"):
        ClinicalEvent(**base, at=at, kind="response", until=dt.date(2024, 3, 28))

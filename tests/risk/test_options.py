"""Every risk option and clinical event, with expected values computed by hand.

Rows: ``risk_rows`` (constant usual values, so baseline median = the usual value and the
robust scale = the feature's floor). Kept apart from ``test_engine.py`` so that the risk
engine's rewrite can adapt these tests option by option.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from risk_rows import START, day, rows

from phenotyping.risk.engine import RiskParams, RiskState, ordinal


def run(
    state: RiskState,
    days: list[dict[str, Any]],
    events: dict[int, list[tuple[str, dict[str, Any]]]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    cols, alerts, notices = [], [], []
    for i, row in enumerate(days):
        for kind, kw in (events or {}).get(i, []):
            notices += state.clinical(ordinal(day(i)), kind, **kw)
        c, a, n = state.assess("s1", row)
        cols.append(c)
        alerts += a
        notices += n
    return cols, alerts, notices


def first_level(cols: list[dict[str, Any]], level: str) -> int:
    return next(i for i, c in enumerate(cols) if c["risk_level"] == level)


# ----------------------------------------------------------------------- day_of_week
def _weekend_rows(n: int) -> list[dict[str, Any]]:
    """300 counts on Saturdays and Sundays, 200 on weekdays."""
    over = {i: {"activity_mean_worn": 300.0} for i in range(n) if (START.weekday() + i) % 7 >= 5}
    return rows(n, over)


def test_day_of_week_falls_back_when_a_group_is_too_small() -> None:
    """Weekend values only on 4 days of the baseline (< min_baseline_days // 2 = 5): the
    weekend day is judged against all days."""
    n = 45
    over = {i: {"activity_mean_worn": 300.0} for i in range(n) if (START.weekday() + i) % 7 >= 5}
    for i in list(over)[:-4]:
        if i < 34:
            over[i] = {"valid": False}  # weekend days of the baseline window missing
    keep = [i for i in over if i < 34 and over[i].get("valid", True)]
    assert 0 < len([i for i in keep if 6 <= i <= 33]) < 5
    cols, _, _ = run(RiskState(RiskParams(day_of_week=True)), rows(n, over))
    assert cols[40]["base_activity_mean_worn"] == 200.0


# ----------------------------------------------------------------------- cusum_input
def _drop_from(start: int, n: int = 50) -> list[dict[str, Any]]:
    return rows(n, {i: {"activity_mean_worn": 100.0} for i in range(start, n)})


# ----------------------------------------------------------------------- share_arl_in_domain
def _siegmund_h(arl: float, k: float = 0.5) -> float:
    """Siegmund: ARL = (exp(2kb) - 2kb - 1) / (2k^2), b = h + 1.166; inverted by bisection."""
    lo, hi = 0.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        b = 2 * k * (mid + 1.166)
        lo, hi = (mid, hi) if (math.exp(b) - b - 1) / (2 * k * k) < arl else (lo, mid)
    return lo


# ----------------------------------------------------------------------- clinical events


def test_alert_after_a_response_says_so() -> None:
    r = 5
    ev = {r: [("response", {})]}
    over: dict[int, dict[str, Any]] = {i: {"activity_mean_worn": 100.0} for i in range(40, 50)}
    for i in range(42, 50):
        over[i]["sleep_tst_min"] = 600.0
    _, alerts, _ = run(RiskState(), rows(50, over), ev)
    opened = [a for a in alerts if a["kind"] == "opened"]
    assert opened, alerts
    assert opened[0]["after_response"] is True
    assert opened[0]["days_since_response"] == ordinal(opened[0]["date"]) - ordinal(day(r))
    assert opened[0]["explanation"].startswith("Deterioration after response: ")


def _phq9(score: float) -> tuple[str, dict[str, Any]]:
    return ("self_report", {"instrument": "PHQ-9", "score": score})


@pytest.mark.parametrize(("score", "responds"), [(10.0, True), (10.5, False), (4.0, True)])
def test_phq9_at_half_of_the_pre_course_score_is_a_response(score: float, responds: bool) -> None:
    ev = {
        2: [_phq9(20.0)],
        3: [("treatment_session", {"modality": "esketamine"})],
        10: [("treatment_session", {"modality": "esketamine"})],
        20: [_phq9(score)],
    }
    state = RiskState()
    _, _, notices = run(state, rows(25), ev)
    detected = [n for n in notices if n["kind"] == "response_detected"]
    assert [n["date"] for n in detected] == ([day(20)] if responds else [])
    assert (state.response_date == ordinal(day(20))) is responds


def test_course_end_stops_phq9_response_detection() -> None:
    ev = {
        2: [_phq9(20.0)],
        3: [("treatment_session", {"modality": "tms"})],
        15: [("course_end", {})],
        20: [_phq9(5.0)],
    }
    state = RiskState()
    _, _, notices = run(state, rows(25), ev)
    assert [n for n in notices if n["kind"] == "response_detected"] == []
    assert state.course_active is False and state.response_date == -1


def test_sessions_are_carried_by_alerts() -> None:
    over: dict[int, dict[str, Any]] = {i: {"activity_mean_worn": 100.0} for i in range(40, 50)}
    for i in range(42, 50):
        over[i]["sleep_tst_min"] = 600.0
    ev = {35: [("treatment_session", {"modality": "ect"})]}
    _, alerts, _ = run(RiskState(), rows(50, over), ev)
    a = next(a for a in alerts if a["kind"] == "opened")
    assert a["last_session_modality"] == "ect"
    assert a["days_since_last_session"] == ordinal(a["date"]) - ordinal(day(35))


def test_medication_change_is_recorded_latest_first_and_survives_the_state() -> None:
    """A medication change is kept as the latest change date (an earlier one entered late
    does not move it back); it has no effect on alerts today -- see docs/testing.md."""
    state = RiskState()
    run(state, rows(12), {5: [("medication_change", {})], 8: [("medication_change", {})]})
    assert state.last_medication_change == ordinal(day(8))
    state.clinical(ordinal(day(3)), "medication_change")
    assert state.last_medication_change == ordinal(day(8))
    assert RiskState.from_bytes(state.to_bytes()).last_medication_change == ordinal(day(8))

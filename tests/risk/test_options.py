"""Every risk option and clinical event, with expected values computed by hand.

Rows: ``risk_rows`` (constant usual values, so baseline median = the usual value and the
robust scale = the feature's floor). Kept apart from ``test_engine.py`` so that the risk
engine's rewrite can adapt these tests option by option.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from risk_rows import ACT_SCALE, START, USUAL_ACTIVITY, day, rows

from phenotyping.risk.engine import RiskParams, RiskState, ordinal
from phenotyping.risk.monitor import MONITORED


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


def test_day_of_week_gives_weekends_their_own_baseline() -> None:
    sat, mon = 40, 42  # 2024-02-10 is a Saturday, 2024-02-12 a Monday
    assert day(sat) == "2024-02-10"
    # min_baseline_days=8: a 28-day baseline holds only 8 weekend days, and with the default
    # 10 a weekend day never gets a baseline at all (reported in docs/testing.md)
    params = RiskParams(day_of_week=True, min_baseline_days=8)
    cols, _, _ = run(RiskState(params), _weekend_rows(45))
    assert cols[sat]["base_activity_mean_worn"] == 300.0
    assert cols[sat]["z_activity_mean_worn"] == 0.0
    assert cols[mon]["base_activity_mean_worn"] == 200.0


def test_without_day_of_week_weekends_are_judged_against_all_days() -> None:
    sat = 40
    cols, _, _ = run(RiskState(RiskParams(day_of_week=False)), _weekend_rows(45))
    # days 6..33: 20 weekdays at 200, 8 weekend days at 300 -> median 200, MAD 0 -> floor 15
    assert cols[sat]["base_activity_mean_worn"] == 200.0
    assert cols[sat]["scale_activity_mean_worn"] == ACT_SCALE
    assert cols[sat]["z_activity_mean_worn"] == 3.0  # (300 - 200) / 15 = 6.7, clipped at 3


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


def test_robust_z_input_signals_on_the_third_day() -> None:
    cols, _, _ = run(RiskState(RiskParams(cusum_input="robust_z")), _drop_from(40))
    assert first_level(cols, "watch") == 42  # 2.5, 5.0, 7.5 > h


def test_rank_input_feeds_the_normal_score_of_the_rank() -> None:
    """28 baseline values all at 200, today 100: rank score = Phi^-1(0.5 / 29) = -2.114, so
    the CUSUM grows 1.614 a day: 1.61, 3.23, 4.84, 6.46 -> signals on the FOURTH day."""
    score = statistics.NormalDist().inv_cdf(0.5 / 29)
    inc = -score - 0.5
    h = RiskParams().h
    days_to_signal = math.floor(h / inc) + 1
    assert days_to_signal == 4
    cols, _, _ = run(RiskState(RiskParams(cusum_input="rank")), _drop_from(40))
    assert first_level(cols, "watch") == 40 + days_to_signal - 1
    assert cols[40]["z_activity_mean_worn"] == -3.0  # z is still shown as the robust z


# ----------------------------------------------------------------------- share_arl_in_domain
def _siegmund_h(arl: float, k: float = 0.5) -> float:
    """Siegmund: ARL = (exp(2kb) - 2kb - 1) / (2k^2), b = h + 1.166; inverted by bisection."""
    lo, hi = 0.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        b = 2 * k * (mid + 1.166)
        lo, hi = (mid, hi) if (math.exp(b) - b - 1) / (2 * k * k) < arl else (lo, mid)
    return lo


def test_shared_arl_splits_a_domains_budget_among_its_cusums() -> None:
    n_cusums: dict[str, int] = {}
    for s in MONITORED:
        n_cusums[s.domain] = n_cusums.get(s.domain, 0) + (2 if s.direction == "both" else 1)
    shared = RiskParams(share_arl_in_domain=True).thresholds()
    alone = RiskParams(share_arl_in_domain=False).thresholds()
    for i, s in enumerate(MONITORED):
        assert alone[i] == pytest.approx(_siegmund_h(1460), abs=1e-6)
        assert shared[i] == pytest.approx(_siegmund_h(1460 * n_cusums[s.domain]), abs=1e-6)
    assert n_cusums["activity"] >= 2 and shared.max() > alone.max()


def test_shared_arl_delays_a_signal_in_a_large_domain() -> None:
    """With the budget shared, the sleep domain's h exceeds 7.5: three clipped nights no
    longer signal, a fourth does."""
    params = RiskParams(share_arl_in_domain=True)
    i = next(j for j, s in enumerate(MONITORED) if s.column == "sleep_tst_min")
    h = params.thresholds()[i]
    n = math.floor(h / 2.5) + 1
    over = {d: {"sleep_tst_min": 600.0} for d in range(40, 50)}
    cols, _, _ = run(RiskState(params), rows(50, over))
    assert first_level(cols, "watch") == 40 + n - 1
    cols0, _, _ = run(RiskState(RiskParams()), rows(50, over))
    assert first_level(cols0, "watch") == 42


# ----------------------------------------------------------------------- clinical events
def test_response_restarts_the_baseline_and_the_warm_up() -> None:
    """A clinician's response on day R: only values from R on form the baseline; the first z
    needs 10 of them that are at least 7 days old: day R + 9 + 7."""
    r = 30
    cols, _, _ = run(RiskState(), rows(60), {r: [("response", {})]})
    assert math.isfinite(cols[r - 1]["z_activity_mean_worn"])
    assert all(math.isnan(c["z_activity_mean_worn"]) for c in cols[r : r + 16])
    assert cols[r + 15]["risk_warming_up"] is True
    assert cols[r + 16]["z_activity_mean_worn"] == 0.0


def test_response_baseline_starts_after_the_post_session_washout() -> None:
    """Last session on R - 1: the new baseline starts at max(R, R - 1 + 3 + 1) = R + 3."""
    r = 30
    ev = {r - 1: [("treatment_session", {"modality": "ketamine"})], r: [("response", {})]}
    cols, _, _ = run(RiskState(), rows(60), ev)
    first_z = next(i for i in range(r, 60) if math.isfinite(cols[i]["z_activity_mean_worn"]))
    assert first_z == r + 3 + 9 + 7


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


def test_usual_values_are_the_baseline() -> None:
    cols, _, _ = run(RiskState(), rows(20))
    assert cols[16]["base_activity_mean_worn"] == USUAL_ACTIVITY
    assert math.isnan(cols[15]["base_activity_mean_worn"])  # 9 values old enough: warm-up

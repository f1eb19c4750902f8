"""The two-domain alert window: signals of two domains count together when they fall within
``alert_window_days`` (7) -- i.e. the later signal is at most 6 days after the earlier one.

Hand computation (``risk_rows``): a day at activity 100 has z = (100 - 200) / 15 = -6.7,
clipped to -3, so the down-CUSUM grows by 3 - k = 2.5 a day: 2.5, 5.0, 7.5. With h between
5.0 and 7.5 (checked) it signals on the THIRD deviated day. The same holds for a night of
600 min of sleep (z = +9, clipped to +3) on the up-CUSUM of total sleep.
"""

from __future__ import annotations

from typing import Any

import pytest
from risk_rows import day, rows

from phenotyping.risk.engine import RiskParams, RiskState

A = 40  # the activity CUSUM signals on day A (deviation on, A)


def scenario(gap: int, params: RiskParams | None = None) -> tuple[list[Any], list[Any]]:
    """Activity signals on day A, sleep on day A + gap."""
    over: dict[int, dict[str, Any]] = {i: {"activity_mean_worn": 100.0} for i in (A - 2, A - 1, A)}
    b = A + gap
    for i in (b - 2, b - 1, b):
        over.setdefault(i, {})["sleep_tst_min"] = 600.0
    state = RiskState(params or RiskParams())
    cols, alerts = [], []
    for row in rows(b + 3, over):
        c, a, _ = state.assess("s1", row)
        cols.append(c)
        alerts += a
    return cols, alerts


def test_the_threshold_makes_the_hand_computation_hold() -> None:
    assert 5.0 < RiskParams().h < 7.5
    cols, _ = scenario(20)
    assert [c["risk_level"] for c in cols[A - 3 : A + 1]] == ["none", "none", "none", "watch"]
    assert cols[A]["risk_domains"] == "activity"


@pytest.mark.parametrize("gap", [0, 1, 6])
def test_signals_up_to_6_days_apart_open_an_elevated_episode(gap: int) -> None:
    cols, alerts = scenario(gap)
    b = A + gap
    assert cols[b]["risk_level"] == "elevated"
    assert set(cols[b]["risk_domains"].split(",")) == {"activity", "sleep"}
    assert [(a["kind"], a["date"], a["level"]) for a in alerts] == [("opened", day(b), "elevated")]
    assert set(alerts[0]["domains"]) == {"activity", "sleep"}


@pytest.mark.parametrize("gap", [7, 8, 12])
def test_signals_7_or_more_days_apart_stay_at_watch(gap: int) -> None:
    cols, alerts = scenario(gap)
    b = A + gap
    assert cols[b]["risk_level"] == "watch"
    assert cols[b]["risk_domains"] == "sleep"
    assert alerts == []


def test_the_window_is_the_parameter() -> None:
    """alert_window_days=8 joins signals 7 days apart (and the default does not, above)."""
    cols, alerts = scenario(7, RiskParams(alert_window_days=8))
    assert cols[A + 7]["risk_level"] == "elevated"
    assert [a["kind"] for a in alerts] == ["opened"]


def _run(over: dict[int, dict[str, Any]], n: int) -> tuple[list[Any], list[Any], list[Any]]:
    state = RiskState()
    cols, alerts, notices = [], [], []
    for row in rows(n, over):
        c, a, nt = state.assess("s1", row)
        cols.append(c)
        alerts += a
        notices += nt
    return cols, alerts, notices


def _both(days: range) -> dict[int, dict[str, Any]]:
    return {i: {"activity_mean_worn": 100.0, "sleep_tst_min": 600.0} for i in days}


def test_episode_resolves_after_3_days_below_elevated_then_cools_down_7_days() -> None:
    """Both domains signal on A: opened on A. The signals leave the 7-day window on A + 7,
    so A+7, A+8, A+9 are below elevated: resolved on A+9. A second double signal on A+14
    falls in the cooldown (no new episode before A+9+7+1 = A+17): it opens on A+17, while
    its signals (A+14) are still in the window; its onset is where the runs began (A+12)."""
    over = _both(range(A - 2, A + 1))
    over.update(_both(range(A + 12, A + 15)))
    cols, alerts, _ = _run(over, A + 25)
    got = [(a["kind"], a["date"], a["level"]) for a in alerts]
    # a "resolved" update carries the level of the episode it closes
    assert got[:2] == [("opened", day(A), "elevated"), ("resolved", day(A + 9), "elevated")]
    assert [c["risk_level"] for c in cols[A + 6 : A + 10]] == ["elevated"] + ["none"] * 3
    assert got[2] == ("opened", day(A + 17), "elevated")
    assert alerts[2]["episode_start"] == day(A + 12)
    assert cols[A + 14]["risk_level"] == "elevated"  # elevated, but in the cooldown


def test_a_domain_signalling_twice_makes_two_domains_high() -> None:
    """Activity stays at 100 for six days: its CUSUM signals on A, restarts at 0, signals
    again on A+3 (2.5, 5.0, 7.5). With sleep's signal on A: elevated on A, high on A+3."""
    over = {i: {"activity_mean_worn": 100.0} for i in range(A - 2, A + 4)}
    for i in (A - 2, A - 1, A):
        over[i]["sleep_tst_min"] = 600.0
    cols, alerts, _ = _run(over, A + 5)
    assert [(a["kind"], a["date"], a["level"]) for a in alerts] == [
        ("opened", day(A), "elevated"),
        ("escalated", day(A + 3), "high"),
    ]
    assert [c["risk_level"] for c in cols[A : A + 4]] == ["elevated"] * 3 + ["high"]


def test_gap_notice_after_3_days_then_weekly_and_never_an_alert() -> None:
    gap = {i: {"valid": False, "sleep_valid": False} for i in range(20, 40)}
    cols, alerts, notices = _run(gap, 42)
    assert [(n["date"], n["days_without_data"]) for n in notices] == [
        (day(22), 3),
        (day(29), 10),
        (day(36), 17),
    ]
    assert all(n["gap_start"] == day(20) for n in notices)
    assert alerts == []

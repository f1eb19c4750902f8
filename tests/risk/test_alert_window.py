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

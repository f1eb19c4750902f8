"""Risk-engine values that mutation testing found unchecked (issue 14).

Expected values are worked out by hand from the documented rules (``risk/change``: CUSUM
``C = max(0, C + u - k)``; ``risk/policy``: elevated at evidence 1; an episode starts where
its signals' CUSUM runs began, at most 14 days back), never by running the engine. As in
``test_policy.py`` the population prior is off, so a constant usual value has a MAD of 0
and ``z = (value - usual) / floor`` (total sleep: floor 20 min).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from phenotyping.risk.engine import RiskParams, RiskState

START = dt.date(2024, 1, 1)
USUAL_TST = 420.0
# one signal alone needs C >= 3; several need sum(C - 1) >= 4
SMALL: dict[str, Any] = {
    "floor": 1.0,
    "h": 4.0,
    "h_single": 3.0,
    "warmup_factor": 1.0,
    "prior_scale": (),
}


def iso(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def row(i: int, tst: float | None) -> dict[str, Any]:
    r: dict[str, Any] = {"date": iso(i), "valid": True, "sleep_valid": tst is not None}
    if tst is not None:
        r["sleep_tst_min"] = tst
    return r


def test_an_episode_starts_at_most_14_days_before_it_opens() -> None:
    """Day 21: total sleep 400 (z = -1, u = 1): the short-sleep CUSUM leaves 0 (C = 0.5);
    its run starts on day 21. Days 22-40 have no valid night: C stays 0.5. Day 41: 360
    (z = -3 against the baseline of days 7-34 -- fifteen values, median 420, MAD 0 -> scale
    20): C = 0.5 + 3 - 0.5 = 3.0 = h_single, evidence 1 -> elevated, the episode opens.
    Its run began 20 days earlier, so the episode starts on day 41 - 14 = day 27; the
    contribution is described over the last 14 days (days 28-41)."""
    rows = [row(i, USUAL_TST) for i in range(21)] + [row(21, 400.0)]
    rows += [row(i, None) for i in range(22, 41)] + [row(41, 360.0)]
    state = RiskState(params=RiskParams(**SMALL))
    alerts: list[dict[str, Any]] = []
    for r in rows:
        _, a, _ = state.assess("p-01", r)
        alerts.extend(a)
    (opened,) = [a for a in alerts if a["kind"] == "opened"]
    assert opened["date"] == iso(41)
    assert opened["episode_start"] == iso(27)
    (item,) = opened["contributing"]
    assert item["feature"] == "sleep_tst_min" and item["days_in_deviation"] == 14

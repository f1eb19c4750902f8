"""The device's own sleep log as the sleep-duration measurement (``monitor.DEVICE_SLEEP``).

Hand-built rows (``risk_rows``): a constant usual value has a MAD of 0, so each feature's
robust scale is its floor (20 min for both total-sleep features) and every z is known. From
day 35 a +90-min change gives z = 4.5, clipped to 3: the sleep-long CUSUM gains
3 - k = 2.5 a night and crosses ``h_single`` (11) on the 5th night (12.5), day 39.
"""

from __future__ import annotations

import math
from typing import Any

from risk_rows import USUAL_TST, day, rows

from phenotyping.risk.engine import RiskState, _features
from phenotyping.risk.params import RiskParams

ONSET = 35


def _opened(data: list[dict[str, Any]]) -> list[tuple[str, str]]:
    state = RiskState(params=RiskParams(), version="t")
    out = []
    for r in data:
        row = {k: (math.nan if v is None else v) for k, v in r.items()}
        _, alerts, _ = state.assess("s", row)
        out += [(a["date"], a["explanation"]) for a in alerts if a["kind"] == "opened"]
    return out


def _with(device: float | None, actigraphy: float, n: int = 50) -> list[dict[str, Any]]:
    """Both measurements at the usual value, then from ``ONSET`` the given ones."""
    later = {"sleep_tst_min": actigraphy, "device_sleep_tst_min": device}
    return rows(
        n,
        {i: ({"device_sleep_tst_min": USUAL_TST} if i < ONSET else later) for i in range(n)},
    )


def test_a_lie_in_on_the_device_log_alerts_on_the_fifth_night() -> None:
    (first, *_) = _opened(_with(USUAL_TST + 90, USUAL_TST))
    assert first[0] == day(ONSET + 4)
    assert first[1].startswith("Total sleep (device sleep log) 1 h 30 min longer than usual")


def test_where_the_night_has_a_device_log_actigraphy_does_not_count() -> None:
    """Counts that score a longer night while the device logs the usual one: the device's
    measurement is the one judged (one behaviour, one measurement), so nothing opens."""
    assert _opened(_with(USUAL_TST, USUAL_TST + 90)) == []


def test_without_a_device_log_actigraphy_is_judged_as_before() -> None:
    (first, *_) = _opened(_with(None, USUAL_TST + 90))
    assert first[0] == day(ONSET + 4)
    assert first[1].startswith("Total sleep 1 h 30 min longer than usual")


def test_the_watched_features_only_grow_at_the_end() -> None:
    """A saved state stores feature *indices*: the device sleep log comes after every
    feature of the previous release, so an old state's history keeps its meaning."""
    columns = [f.column for f in _features(7)[0]]
    assert columns == [
        "activity_mean_worn",
        "steps_total",
        "sleep_tst_min",
        "sleep_midpoint_clock_min",
        "sri7d",
        "night_rmssd",
        "night_mean_hr",
        "circ7d_IV",
        "circ7d_IS",
        "circ7d_RA",
        "circ7d_cosinor_peak_minute_of_day",
        "dev_rmssd",
        "dev_resting_hr",
        "device_sleep_tst_min",
    ]

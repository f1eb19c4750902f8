"""Hand-built daily rows for the risk tests: a person whose every monitored value is known.

Only two features carry values: ``activity_mean_worn`` (activity domain, watched "down",
scale floor 15 counts) and ``sleep_tst_min`` (sleep domain, watched both ways, floor 20 min).
A constant usual value gives a baseline median equal to it and a MAD of 0, so the robust
scale is exactly the floor and the robust z of any day can be computed by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

START = dt.date(2024, 1, 1)  # a Monday
USUAL_ACTIVITY = 200.0
USUAL_TST = 420.0
ACT_SCALE = 15.0  # min_scale of activity_mean_worn
TST_SCALE = 20.0  # min_scale of sleep_tst_min


def day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def rows(n: int, overrides: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        row: dict[str, Any] = {
            "date": day(i),
            "valid": True,
            "sleep_valid": True,
            "activity_mean_worn": USUAL_ACTIVITY,
            "sleep_tst_min": USUAL_TST,
        }
        row.update((overrides or {}).get(i, {}))
        out.append(row)
    return out

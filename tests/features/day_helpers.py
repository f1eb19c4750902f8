"""What the day-engine tests share (``test_day.py``, ``test_day_incremental.py``): the
minute grid's constants, a synthetic recording and an exact comparison of daily rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DAY = 1440
T0 = 19_000 * DAY  # a UTC midnight in minutes (2022-01-08)


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Row lists equal exactly, NaN == NaN (every column)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            return False
        for k in x:
            u, v = x[k], y[k]
            if isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v):
                continue
            if u != v:
                return False
    return True


def synthetic_days(n_days: int, seed: int = 0) -> np.ndarray:
    """Minute counts from T0: a daily rhythm peaking at 15:00, near-rest 00:00-06:00."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_days * DAY)
    level = 150 + 140 * np.cos(2 * np.pi * ((t % DAY) - 15 * 60) / DAY)
    x = rng.poisson(np.clip(level, 0, None)).astype(np.float64)
    x[(t % DAY) < 6 * 60] = rng.poisson(2, size=np.count_nonzero((t % DAY) < 6 * 60))
    return x

"""Minute-level scenarios injected into a surrogate from an onset day: relapse patterns the
engine should alert on, and negative controls (ordinary life) it should not.

Every scenario is a pure function ``(series, onset_day, seed) -> series`` of a minute count
series that starts at local midnight (whole days of 1440 minutes); days before the onset
are never changed. Sizes match the issue: the combined step is activity x0.7 and a
90-minute delay; single-domain patterns have the same size in their one domain.

Sleep-based patterns find each night's main sleep as the longest run of minutes whose
31-minute moving mean of counts is below ``SLEEP_LEVEL`` within the noon-to-noon window
(a crude, engine-independent detector, its edges followed along the raw counts for up to
15 minutes: the engine's own Oakley scoring is not used, so the
patterns do not presuppose the code they test).

Examples
--------
>>> x = np.tile(np.r_[np.full(420, 2.0), np.full(1020, 200.0)], 6)   # asleep 00:00-07:00
>>> y = SCENARIOS["activity_only"].apply(x, 3, 0)
>>> float(y[:3 * 1440].sum()) == float(x[:3 * 1440].sum()), float(y[3 * 1440 + 600])
(True, 140.0)
>>> float(y[3 * 1440 + 100])           # the night is not touched
2.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

DAY = 1440
SLEEP_LEVEL = 20.0
F64 = NDArray[np.float64]
Kind = Literal["null", "negative", "positive"]


@dataclass(frozen=True)
class Scenario:
    """A named injection with its expected answer."""

    name: str
    kind: Kind
    label: str
    inject: Callable[[F64, int, int], F64]
    days: int = 0  # length of a negative control (0: lasts to the end)

    def apply(self, series: F64, onset_day: int, seed: int) -> F64:
        """The injected series; minutes before the onset day are never changed (a night
        that began the evening before the onset keeps that evening)."""
        out = self.inject(series, onset_day, seed)
        out[: onset_day * DAY] = series[: onset_day * DAY]
        return out


def warp(series: F64, onset_day: int, scales: F64, shifts: NDArray[np.int64]) -> F64:
    """Day ``onset_day + i`` becomes ``scales[i] * series[t - shifts[i]]`` (minute t);
    days past the end of the arrays keep their last entry.

    Examples
    --------
    >>> x = np.arange(4 * 1440, dtype=float)
    >>> y = warp(x, 2, np.array([0.5, 1.0]), np.array([10, 0]))
    >>> float(y[2 * 1440]), float(y[3 * 1440 + 5]), bool((y[:2 * 1440] == x[:2 * 1440]).all())
    (1435.0, 4325.0, True)
    """
    out = np.array(series, dtype=np.float64, copy=True)
    n_days = len(series) // DAY
    for i in range(n_days - onset_day):
        j = min(i, len(scales) - 1)
        t0 = (onset_day + i) * DAY
        t = np.arange(t0, t0 + DAY)
        out[t] = scales[j] * series[np.clip(t - int(shifts[j]), 0, None)]
    return out


def _per_day(value: float, n: int, ramp_days: int = 0) -> F64:
    if ramp_days <= 0:
        return np.full(n, value)
    return np.minimum(1.0, np.arange(1, n + 1) / ramp_days) * value


def _sleep_windows(series: F64, day: int) -> tuple[int, int] | None:
    """Main sleep (start, end) minutes of the night ending on ``day`` (noon to noon)."""
    lo, hi = max(0, day * DAY - DAY // 2), min(len(series), day * DAY + DAY // 2)
    seg = series[lo:hi]
    if seg.size < 60:
        return None
    smooth = np.convolve(np.nan_to_num(seg), np.ones(31) / 31, mode="same")
    low = np.r_[False, smooth < SLEEP_LEVEL, False]
    edges = np.flatnonzero(np.diff(low.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    if not starts.size:
        return None
    k = int(np.argmax(ends - starts))
    s, e = int(starts[k]), int(ends[k])
    # the moving mean leaves the run up to 15 minutes early: follow the raw counts to the
    # real edge (at most 15 minutes)
    raw = np.nan_to_num(seg)
    for _ in range(15):
        if e < seg.size and raw[e] < 2 * SLEEP_LEVEL:
            e += 1
        if s > 0 and raw[s - 1] < 2 * SLEEP_LEVEL:
            s -= 1
    return lo + s, lo + e


def _awake_mask(series: F64, days: range) -> NDArray[np.bool_]:
    mask = np.zeros(len(series), dtype=bool)
    for d in days:
        mask[d * DAY : (d + 1) * DAY] = True
        w = _sleep_windows(series, d)
        if w:
            mask[w[0] : w[1]] = False
    return mask


def _days(series: F64, onset: int, length: int) -> range:
    n = len(series) // DAY
    return range(onset, n if length <= 0 else min(n, onset + length))


def scale_awake(factor: float, length: int = 0) -> Callable[[F64, int, int], F64]:
    """Activity only: counts outside the main sleep x ``factor``."""

    def f(series: F64, onset: int, seed: int) -> F64:
        out = np.array(series, dtype=np.float64, copy=True)
        m = _awake_mask(series, _days(series, onset, length))
        out[m] *= factor
        return out

    return f


def change_sleep(
    extra_min: int, length: int = 0, awake_factor: float = 1.0
) -> Callable[[F64, int, int], F64]:
    """Hypersomnia (``extra_min`` > 0: the main sleep goes on that much longer in the
    morning, minutes copied from the same night) or insomnia (< 0: sleep starts that much
    later, minutes copied from the evening before); optionally awake counts x factor."""

    def f(series: F64, onset: int, seed: int) -> F64:
        rng = np.random.default_rng([seed, 7])
        out = np.array(series, dtype=np.float64, copy=True)
        days = _days(series, onset, length)
        if awake_factor != 1.0:
            out[_awake_mask(series, days)] *= awake_factor
        for d in days:
            w = _sleep_windows(series, d)
            if not w:
                continue
            s, e = w
            if extra_min > 0:
                night = series[s:e]
                end = min(len(out), e + extra_min)
                out[e:end] = rng.choice(night, end - e)
            else:
                n = min(-extra_min, e - s)
                src = series[max(0, s - 120 - n) : max(0, s - 120)]
                if src.size:
                    out[s : s + n] = rng.choice(src, n)
        return out

    return f


def fragment(length: int = 0) -> Callable[[F64, int, int], F64]:
    """Fragmented rest-activity rhythm: a 10-minute awake bout in every sleeping hour and a
    20-minute rest bout in every 2 awake hours (counts copied from the person's own day and
    night)."""

    def f(series: F64, onset: int, seed: int) -> F64:
        rng = np.random.default_rng([seed, 11])
        out = np.array(series, dtype=np.float64, copy=True)
        for d in _days(series, onset, length):
            w = _sleep_windows(series, d)
            if not w:
                continue
            s, e = w
            day = series[d * DAY : (d + 1) * DAY]
            wake_counts = day[day >= SLEEP_LEVEL * 2]
            night = series[s:e]
            if wake_counts.size:
                for t in range(s + 30, e - 10, 60):
                    out[t : t + 10] = rng.choice(wake_counts, 10)
            start = e + 60
            stop = min(len(series), (d + 1) * DAY)
            for t in range(start, stop - 20, 120):
                out[t : t + 20] = rng.choice(night, 20)
        return out

    return f


def shifted(
    scale: float, shift: int, length: int = 0, ramp: int = 0
) -> Callable[[F64, int, int], F64]:
    """Counts x ``scale`` and clock delayed by ``shift`` minutes (optionally ramped in over
    ``ramp`` days; for ``length`` days, then back to the person's normal)."""

    def f(series: F64, onset: int, seed: int) -> F64:
        n = len(series) // DAY - onset
        span = n if length <= 0 else min(n, length)
        sc = 1.0 - _per_day(1.0 - scale, span, ramp)
        sh = np.round(_per_day(float(shift), span, ramp)).astype(np.int64)
        if length > 0 and span < n:
            sc, sh = np.r_[sc, 1.0], np.r_[sh, 0]
        return warp(series, onset, sc, sh)

    return f


def _null(series: F64, onset: int, seed: int) -> F64:
    return np.array(series, dtype=np.float64, copy=True)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("null", "null", "nothing injected", _null),
        Scenario("step", "positive", "combined step: activity -30% and +90 min", shifted(0.7, 90)),
        Scenario("ramp", "positive", "14-day ramp to -30% and +90 min", shifted(0.7, 90, ramp=14)),
        Scenario("activity_only", "positive", "activity -30% (awake minutes)", scale_awake(0.7)),
        Scenario("hypersomnia", "positive", "sleep +90 min (longer mornings)", change_sleep(90)),
        Scenario("insomnia", "positive", "sleep -90 min (later sleep onset)", change_sleep(-90)),
        Scenario("phase_delay", "positive", "phase delay +90 min", shifted(1.0, 90)),
        Scenario("fragmentation", "positive", "fragmented rhythm", fragment()),
        Scenario(
            "holiday", "negative", "one-week holiday: +60 min, activity +30%",
            shifted(1.3, 60, length=7), days=7,
        ),
        Scenario(
            "illness", "negative", "4-day illness: activity -50%, sleep +90 min",
            change_sleep(90, length=4, awake_factor=0.5), days=4,
        ),
        Scenario(
            "trip", "negative", "one-week trip: local clock 6 h later, then home",
            shifted(1.0, 360, length=7), days=7,
        ),
        Scenario(
            "device_up", "negative", "device change: counts x1.5", shifted(1.5, 0), days=0
        ),
        Scenario(
            "device_down", "negative", "device change: counts x0.7 (= activity relapse)",
            shifted(0.7, 0), days=0,
        ),
    )
}  # fmt: skip

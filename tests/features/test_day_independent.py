"""Every daily and rolling feature of the day engine, against independent reference code.

The recording is hand-built, minute by minute, for a subject in Central Europe across the
2024 spring daylight-saving change (2024-03-31 01:00 UTC: UTC+1 -> UTC+2, a local day of
1380 minutes) with one whole local day of non-wear (2024-03-28: exact zeros, the watch on
a table). Nights hold counts 0..3 (a still wrist: never 120 identical minutes, never 120
minutes of noise floor without a zero), days 60..399; bedtimes move from night to night
so that every day of a rolling window matters.

The expected values are computed HERE, from the definitions, with plain Python/NumPy code
written for this test (never with ``phenotyping``):

* wear: the non-wear rules of ``EngineParams`` (runs >= 120 min of one identical value, or
  of counts in (0, 10]) by a run-length loop;
* Oakley sleep/wake: ``0.04 A[t-2] + 0.2 A[t-1] + A[t] + 0.2 A[t+1] + 0.04 A[t+2] < 40``
  (Oakley 1997; pyActigraphy 1.2.2 defaults), unscored when the window is incomplete;
* daily features: the formulas of ``features/activity.py``'s module notes over the local
  day's minutes;
* rolling features over EXACTLY the 7 local days d-6..d laid on a local-clock grid (a
  skipped hour missing, non-wear missing): IS and IV as in pyActigraphy (hourly sums,
  sample variances; Van Someren 1999 with ddof=1), L5/M10 on the cyclic average daily
  profile, RA, a least-squares cosinor, SRI (Phillips 2017), the circular mean of the
  last 7 nights' sleep midpoints and the social jet lag (Wittmann 2006).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Any

import numpy as np
import pytest

from phenotyping.features.day import EngineParams, SubjectDays

DAY = 1440
W = 7
P = EngineParams()
UTC = dt.UTC
FIRST_LOCAL = dt.date(2024, 3, 24)
N_DAYS = 11  # local 2024-03-24 .. 2024-04-03
NONWEAR_DAY = dt.date(2024, 3, 28)
DST_DAY = dt.date(2024, 3, 31)
DST_UTC = dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


def _umin(t: dt.datetime) -> int:
    return int(t.timestamp()) // 60


def offset_of(u: int) -> int:
    return 60 if u < _umin(DST_UTC) else 120


def build() -> dict[str, Any]:
    """The recording: UTC minutes, offsets, local dates/minute of day, counts, steps."""
    rng = np.random.default_rng(20240331)
    start = _umin(dt.datetime(2024, 3, 23, 23, 0, tzinfo=UTC))  # local midnight 03-24, UTC+1
    end = _umin(dt.datetime(2024, 4, 3, 22, 0, tzinfo=UTC))  # local midnight 04-04, UTC+2
    utc = np.arange(start, end)
    off = np.array([offset_of(int(u)) for u in utc])
    local = utc + off
    date = local // DAY
    mod = local % DAY
    first = (FIRST_LOCAL - dt.date(1970, 1, 1)).days
    # bedtime (local minute after midnight, may be negative = before midnight), wake time
    bed = {first + i: int(rng.integers(-150, 60)) for i in range(-1, N_DAYS + 1)}
    wake = {first + i: int(rng.integers(330, 540)) for i in range(-1, N_DAYS + 1)}
    counts = np.empty(len(utc))
    for i in range(len(utc)):
        d, m = int(date[i]), int(mod[i])
        # the night ending on the morning of d: bed[d] (negative: the evening before) to wake[d]
        asleep = bed[d] <= m < wake[d] or (bed[d + 1] < 0 and m >= DAY + bed[d + 1])
        if asleep:
            counts[i] = rng.choice([0.0, 1.0, 2.0, 3.0], p=[0.4, 0.2, 0.2, 0.2])
        else:
            counts[i] = float(rng.integers(60, 400))
    nonwear = date == (NONWEAR_DAY - dt.date(1970, 1, 1)).days
    counts[nonwear] = 0.0
    steps = np.where(counts >= 60, rng.integers(0, 120, len(utc)).astype(float), 0.0)
    steps[rng.random(len(utc)) < 0.05] = np.nan
    counts[(rng.random(len(utc)) < 0.01) & ~nonwear] = np.nan  # a few dropped minutes
    return {"utc": utc, "off": off, "local": local, "date": date, "counts": counts, "steps": steps}


# --------------------------------------------------------------------------- references
def ref_wear(x: np.ndarray, min_run: int, floor: float) -> np.ndarray:
    """Observed and not in a run >= min_run of one value, nor of counts in (0, floor]."""
    n = len(x)
    off = np.zeros(n, bool)
    i = 0
    while i < n:  # identical-value runs (NaN never in a run)
        j = i
        while j + 1 < n and not math.isnan(x[i]) and x[j + 1] == x[i]:
            j += 1
        if not math.isnan(x[i]) and j - i + 1 >= min_run:
            off[i : j + 1] = True
        i = j + 1
    i = 0
    while i < n:  # noise-floor runs
        if not math.isnan(x[i]) and 0 < x[i] <= floor:
            j = i
            while j + 1 < n and not math.isnan(x[j + 1]) and 0 < x[j + 1] <= floor:
                j += 1
            if j - i + 1 >= min_run:
                off[i : j + 1] = True
            i = j + 1
        else:
            i += 1
    return ~np.isnan(x) & ~off


def ref_oakley(x: np.ndarray, threshold: float = 40.0) -> np.ndarray:
    """1 sleep, 0 wake, NaN unscored (incomplete or missing 5-minute window)."""
    out = np.full(len(x), np.nan)
    for t in range(2, len(x) - 2):
        w = x[t - 2 : t + 3]
        if np.isnan(w).any():
            continue
        a = 0.04 * w[0] + 0.2 * w[1] + w[2] + 0.2 * w[3] + 0.04 * w[4]
        out[t] = 1.0 if a < threshold else 0.0
    return out


def ref_window(x: np.ndarray, ok: np.ndarray, width: int, highest: bool) -> tuple[float, int]:
    """Extreme mean over worn minutes of a sliding window (>= half of it worn)."""
    v = np.where(ok, x, 0.0)
    s = np.convolve(v, np.ones(width), "valid")
    n = np.convolve(ok.astype(float), np.ones(width), "valid")
    best, at = math.nan, -1
    for i in range(len(s)):
        if n[i] >= 0.5 * width:
            m = s[i] / n[i]
            if at < 0 or (m > best if highest else m < best):
                best, at = m, i
    return best, at


def ref_rolling(grid: np.ndarray, sleep_grid: np.ndarray) -> dict[str, float]:
    hourly = []
    for h in range(len(grid) // 60):
        seg = grid[60 * h : 60 * h + 60]
        obs = seg[~np.isnan(seg)]
        hourly.append(obs.sum() * 60 / len(obs) if len(obs) >= 30 else math.nan)
    valid = [v for v in hourly if not math.isnan(v)]
    by_hod: dict[int, list[float]] = {}
    for h, v in enumerate(hourly):
        if not math.isnan(v):
            by_hod.setdefault(h % 24, []).append(v)
    profile24 = [statistics.fmean(v) for v in by_hod.values()]
    var = statistics.variance(valid)
    is_ = statistics.variance(profile24) / var
    pairs = [
        (hourly[i + 1] - hourly[i]) ** 2
        for i in range(len(hourly) - 1)
        if not (math.isnan(hourly[i]) or math.isnan(hourly[i + 1]))
    ]
    iv = statistics.fmean(pairs) / var
    # cyclic average daily profile, L5 / M10 (>= half of the window's minutes observed)
    days = grid.reshape(-1, DAY)
    seen = ~np.isnan(days)
    n_seen = seen.sum(axis=0)
    prof = np.where(n_seen > 0, np.where(seen, days, 0).sum(axis=0) / np.maximum(n_seen, 1), np.nan)

    def extreme(width: int, lowest: bool) -> float:
        best = math.nan
        for s in range(DAY):
            idx = (s + np.arange(width)) % DAY
            vals = prof[idx][~np.isnan(prof[idx])]
            if len(vals) < 0.5 * width:
                continue
            m = vals.mean()
            if math.isnan(best) or (m < best if lowest else m > best):
                best = m
        return best

    l5, m10 = extreme(300, True), extreme(600, False)
    # cosinor by least squares on the observed minutes, t = minutes since the window start
    t = np.flatnonzero(~np.isnan(grid)).astype(float)
    y = grid[~np.isnan(grid)]
    om = 2 * math.pi / DAY
    design = np.column_stack([np.ones_like(t), np.cos(om * t), np.sin(om * t)])
    (mesor, a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    peak = (math.atan2(b, a) / om) % DAY
    # SRI: pairs of minutes exactly 24 h apart, both scored
    u, v = sleep_grid[:-DAY], sleep_grid[DAY:]
    both = ~np.isnan(u) & ~np.isnan(v)
    sri = -100 + 200 * np.count_nonzero(both & (u == v)) / np.count_nonzero(both)
    return {
        "IS": is_,
        "IV": iv,
        "L5": l5,
        "M10": m10,
        "RA": (m10 - l5) / (m10 + l5),
        "cosinor_mesor": mesor,
        "cosinor_amplitude": math.hypot(a, b),
        "cosinor_peak_minute_of_day": peak,
        "sri": sri,
    }


def circ_mean(minutes: list[float]) -> float:
    th = [m * 2 * math.pi / DAY for m in minutes if not math.isnan(m)]
    s = sum(math.sin(x) for x in th) / len(th)
    c = sum(math.cos(x) for x in th) / len(th)
    return (math.atan2(s, c) * DAY / (2 * math.pi)) % DAY


# --------------------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def rec() -> dict[str, Any]:
    r = build()
    eng = SubjectDays()
    cut = int(np.searchsorted(r["utc"], _umin(DST_UTC)))
    for lo, hi in ((0, cut), (cut, len(r["utc"]))):  # a producer splits at the DST change
        eng.push_activity(
            int(r["utc"][lo]) * 60,
            60,
            r["counts"][lo:hi],
            r["steps"][lo:hi],
            tz_offset_min=int(r["off"][lo]),
        )
    rows = eng.flush()
    r["rows"] = {row["date"]: row for row in rows}
    r["worn"] = ref_wear(r["counts"], P.nonwear_run_min, P.nonwear_noise_floor)
    r["oakley"] = ref_oakley(r["counts"])
    return r


def _iso(d: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat()


def test_the_recording_has_a_dst_day_and_a_nonwear_day(rec: dict[str, Any]) -> None:
    rows = rec["rows"]
    assert len(rows) == N_DAYS
    assert rows[DST_DAY.isoformat()]["minutes_in_day"] == 1380
    assert rows[NONWEAR_DAY.isoformat()]["worn_min"] == 0
    assert rows[NONWEAR_DAY.isoformat()]["valid"] is False
    assert all(r["minutes_in_day"] == 1440 for k, r in rows.items() if k != DST_DAY.isoformat())


@pytest.mark.parametrize("k", range(N_DAYS))
def test_daily_features_equal_the_definitions(rec: dict[str, Any], k: int) -> None:
    d = (FIRST_LOCAL - dt.date(1970, 1, 1)).days + k
    row = rec["rows"][_iso(d)]
    sel = np.flatnonzero(rec["date"] == d)
    x, worn, steps = rec["counts"][sel], rec["worn"][sel], rec["steps"][sel]
    obs = x[~np.isnan(x)]
    assert row["minutes_in_day"] == len(sel)
    assert row["observed_min"] == len(obs)
    assert row["worn_min"] == int(worn.sum())
    assert row["coverage"] == pytest.approx(worn.sum() / len(sel), rel=1e-12)
    assert row["valid"] is bool(worn.sum() / len(sel) >= 16 / 24)
    assert row["activity_total"] == pytest.approx(obs.sum(), rel=1e-12)
    assert row["activity_mean"] == pytest.approx(statistics.fmean(obs), rel=1e-12)
    assert row["activity_sd"] == pytest.approx(statistics.stdev(obs), rel=1e-9)
    assert row["activity_prop_zeros"] == pytest.approx(np.mean(obs == 0), rel=1e-12)
    if worn.any():
        assert row["activity_mean_worn"] == pytest.approx(x[worn].mean(), rel=1e-12)
    else:
        assert math.isnan(row["activity_mean_worn"])
    assert row["steps_total"] == pytest.approx(np.nansum(steps), rel=1e-12)
    # sedentary: worn, AWAKE (Oakley over the day, 2 minutes of context before midnight;
    # the last 2 minutes of the day are not yet scored, so awake) and below 100 counts
    asleep = rec["oakley"][sel] == 1.0
    asleep[-2:] = False
    expected_sed = int(np.count_nonzero(worn & ~asleep & (np.nan_to_num(x) < 100)))
    assert row["sedentary_min"] == expected_sed
    mod = rec["local"][sel] % DAY
    m10, i10 = ref_window(x, worn, 600, True)
    l5, i5 = ref_window(x, worn, 300, False)
    if i10 < 0:
        assert row["m10_start_min"] == -1 and row["l5_start_min"] == -1
    else:
        assert row["m10_mean"] == pytest.approx(m10, rel=1e-9)
        assert row["m10_start_min"] == mod[i10]
        assert row["l5_mean"] == pytest.approx(l5, rel=1e-9)
        assert row["l5_start_min"] == mod[i5]


def test_sedentary_excludes_sleep_on_real_nights(rec: dict[str, Any]) -> None:
    """The recording makes the difference large: every night minute is below 100 counts."""
    row = rec["rows"]["2024-03-26"]
    sel = np.flatnonzero(rec["date"] == (dt.date(2024, 3, 26) - dt.date(1970, 1, 1)).days)
    below = rec["worn"][sel] & (np.nan_to_num(rec["counts"][sel]) < 100)
    assert row["sedentary_min"] < int(below.sum()) - 200


def _grid(rec: dict[str, Any], d: int) -> tuple[np.ndarray, np.ndarray]:
    """Local-clock grid of EXACTLY the local days d-6..d (worn minutes; the rest NaN), and
    the Oakley scores of the worn series of that window, on the same grid."""
    first = d - W + 1
    sel = np.flatnonzero((rec["date"] >= first) & (rec["date"] <= d))
    x = np.where(rec["worn"][sel], rec["counts"][sel], np.nan)
    grid = np.full(W * DAY, np.nan)
    sleep = np.full(W * DAY, np.nan)
    scores = ref_oakley(x)
    for j, i in enumerate(sel):
        pos = int(rec["local"][i]) - first * DAY
        grid[pos] = x[j]
        sleep[pos] = scores[j]
    return grid, sleep


@pytest.mark.parametrize("k", range(N_DAYS))
def test_rolling_7_day_features_over_exactly_7_local_days(rec: dict[str, Any], k: int) -> None:
    d = (FIRST_LOCAL - dt.date(1970, 1, 1)).days + k
    row = rec["rows"][_iso(d)]
    grid, sleep = _grid(rec, d)
    days_ok = int(((~np.isnan(grid)).reshape(W, DAY).sum(axis=1) >= 960).sum())
    assert row["circ7d_valid_days"] == days_ok
    if days_ok < P.min_window_days:
        assert math.isnan(row["circ7d_IS"]) and math.isnan(row["sri7d"])
        return
    ref = ref_rolling(grid, sleep)
    for key in ("IS", "IV", "L5", "M10", "RA", "cosinor_mesor", "cosinor_amplitude"):
        assert row[f"circ7d_{key}"] == pytest.approx(ref[key], rel=1e-9), key
    peak = row["circ7d_cosinor_peak_minute_of_day"]
    assert abs((peak - ref["cosinor_peak_minute_of_day"] + 720) % DAY - 720) < 1e-6
    assert row["sri7d"] == pytest.approx(ref["sri"], rel=1e-12)


def test_a_six_day_window_would_give_other_values(rec: dict[str, Any]) -> None:
    """The test above can fail: over 6 days the same references differ clearly."""
    d = (dt.date(2024, 4, 1) - dt.date(1970, 1, 1)).days  # its first two days are valid
    grid, sleep = _grid(rec, d)
    six = ref_rolling(grid[DAY:], sleep[DAY:])
    seven = ref_rolling(grid, sleep)
    assert abs(six["IS"] - seven["IS"]) > 1e-3
    assert abs(six["sri"] - seven["sri"]) > 1e-3


@pytest.mark.parametrize("k", range(W - 1, N_DAYS))
def test_sleep_midpoint_and_social_jet_lag_over_the_last_7_nights(
    rec: dict[str, Any], k: int
) -> None:
    """Aggregation checked over exactly the 7 nights d-6..d (each night's own midpoint is
    checked against pyActigraphy in ``test_sleep.py``); invalid nights do not count."""
    dates = [FIRST_LOCAL + dt.timedelta(days=i) for i in range(k - W + 1, k + 1)]
    rows = [rec["rows"][x.isoformat()] for x in dates]
    mids = [r["sleep_midpoint_clock_min"] if r["sleep_valid"] else math.nan for r in rows]
    row = rows[-1]
    if row["circ7d_valid_days"] < P.min_window_days:
        return
    assert row["sleep_midpoint7d_min"] == pytest.approx(circ_mean(mids), abs=1e-6)
    free = [m for x, m in zip(dates, mids, strict=True) if x.weekday() >= 5]
    work = [m for x, m in zip(dates, mids, strict=True) if x.weekday() < 5]
    if all(math.isnan(m) for m in free) or all(math.isnan(m) for m in work):
        assert math.isnan(row["social_jetlag7d_min"])
    else:
        sjl = (circ_mean(free) - circ_mean(work) + 720) % DAY - 720
        assert row["social_jetlag7d_min"] == pytest.approx(sjl, abs=1e-6)
    # and 8 nights would differ (the check above can fail)
    eighth = rec["rows"].get((dates[0] - dt.timedelta(days=1)).isoformat())
    if eighth is not None and eighth["sleep_valid"]:
        assert abs(circ_mean([*mids, eighth["sleep_midpoint_clock_min"]]) - circ_mean(mids)) > 1e-3

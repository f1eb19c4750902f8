"""Daily activity features over one local day of minute counts.

Conventions
    * A minute with no data is NaN. Mean, SD (ddof=1) and the fraction of zero minutes
      are over *observed* minutes, zeros from non-wear included: that is the convention
      of the Depresjon/Psykose papers (Garcia-Ceja 2018, Jakobsen 2020), whose per-day
      table we reproduce to 1e-9.
    * Non-wear (:func:`wear_mask`): a run of at least ``min_run`` consecutive minutes of
      one identical count, zero or not (:func:`flat_runs`), or of counts that never leave
      a device's noise floor. Worn minutes are observed minutes outside such runs.
    * Coverage = worn minutes / minutes in the local day (1380, 1440 or 1500). A day is
      valid when coverage >= ``min_wear_fraction``; invalid days are marked, their
      numbers still reported so that a reader can see why.
    * Most/least active hours: the 10-hour (M10) and 5-hour (L5) windows of the day with
      the highest/lowest mean count over worn minutes, found with cumulative sums;
      reported as mean counts and as the local clock time (minutes after midnight) the
      window starts.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


def flat_runs(x: F64, min_run: int) -> B:
    """Mark minutes in a run of at least ``min_run`` consecutive *identical* values.

    A worn wrist is never perfectly still and steady for hours: zero-count runs are a
    watch on a table, and so are runs of one constant non-zero value (an Actiwatch lying
    still reports its noise floor, e.g. 3 counts per minute, for days -- 28 of the 55
    Depresjon recordings contain such runs). NaN never belongs to a run.

    Examples
    --------
    >>> flat_runs(np.array([1.0, 0, 0, 0, 2, 3, 3, 3, 3]), 3).astype(int)
    array([0, 1, 1, 1, 0, 1, 1, 1, 1])
    """
    n = len(x)
    if n == 0:
        return np.zeros(0, bool)
    same = np.zeros(n, bool)
    same[1:] = x[1:] == x[:-1]  # NaN != NaN, so NaN breaks every run
    run_id = np.cumsum(~same)
    lengths = np.bincount(run_id)
    return np.asarray(lengths[run_id] >= min_run) & ~np.isnan(x)


def runs_of(mask: B, min_run: int) -> B:
    """Mark the True runs of ``mask`` that are at least ``min_run`` long.

    Examples
    --------
    >>> runs_of(np.array([1, 1, 0, 1, 1, 1], bool), 3).astype(int)
    array([0, 0, 0, 1, 1, 1])
    """
    n = len(mask)
    if n == 0:
        return np.zeros(0, bool)
    change = np.ones(n, bool)
    change[1:] = mask[1:] != mask[:-1]
    run_id = np.cumsum(change)
    return np.asarray(mask & (np.bincount(run_id)[run_id] >= min_run))


def wear_mask(x: F64, min_run: int = 120, noise_floor: float = 0.0) -> B:
    """Worn minutes: observed, not in a long flat run (:func:`flat_runs`) and not in a long
    *noise-floor run*: at least ``min_run`` minutes whose counts are all in
    ``(0, noise_floor]``. An Actiwatch on a table reports its noise floor (3, 5, 7, 9
    counts) for hours and, unlike a sleeping wrist, no zeros; ``noise_floor=0`` disables
    this rule (other devices).

    Examples
    --------
    >>> wear_mask(np.array([5.0, np.nan, 0, 0, 3]), 2).astype(int)
    array([1, 0, 0, 0, 1])
    >>> wear_mask(np.array([9.0, 3, 5, 3, 0, 40]), 4, noise_floor=10).astype(int)
    array([0, 0, 0, 0, 1, 1])
    """
    off = flat_runs(x, min_run)
    if noise_floor > 0:
        off |= runs_of((x > 0) & (x <= noise_floor), min_run)
    return ~np.isnan(x) & ~off


def _window_sums(x: F64, ok: B) -> tuple[F64, NDArray[np.int64]]:
    """Running sums of worn values and worn counts (leading 0), shared by M10 and L5."""
    ok = ok & ~np.isnan(x)  # a steps-only device has worn minutes without counts
    cs = np.zeros(len(x) + 1)
    np.cumsum(np.where(ok, x, 0.0), out=cs[1:])
    cn = np.zeros(len(x) + 1, np.int64)
    np.cumsum(ok, out=cn[1:])
    return cs, cn


def _window_extreme(cs: F64, cn: NDArray[np.int64], width: int, highest: bool) -> tuple[float, int]:
    """Mean over the ``width``-minute window with the extreme mean of worn minutes, from
    :func:`_window_sums`; windows less than half worn are skipped (the first on a tie)."""
    if len(cs) - 1 < width:
        return float("nan"), -1
    s = cs[width:] - cs[:-width]
    n = cn[width:] - cn[:-width]
    enough = n >= 0.5 * width
    if not enough.any():
        return float("nan"), -1
    mean = np.divide(s, n, out=np.full(len(s), np.nan), where=enough)
    # nanargmax/nanargmin: NaN (too little wear) can never be the extreme
    i = int(
        np.argmax(np.where(enough, mean, -np.inf))
        if highest
        else np.argmin(np.where(enough, mean, np.inf))
    )
    return float(mean[i]), i


def daily_activity(
    counts: F64,
    worn: B,
    steps: F64,
    minute_of_day: NDArray[np.int64],
    *,
    min_wear_fraction: float,
    sedentary_threshold: float,
    asleep: B | None = None,
) -> dict[str, float | int | bool]:
    """Activity features of one local day.

    Parameters
    ----------
    counts, steps
        Per-minute values of the local day (NaN = no data); ``len(counts)`` is the
        day's length in minutes.
    worn
        Worn-minute mask (:func:`wear_mask`).
    minute_of_day
        Local clock minute after midnight of each minute (for window onsets).
    asleep
        Minutes scored as sleep (at any time of day), excluded from sedentary time.

    Examples
    --------
    >>> x = np.r_[np.zeros(600), np.full(840, 100.0)]
    >>> f = daily_activity(x, np.ones(1440, bool), np.full(1440, np.nan), np.arange(1440),
    ...                    min_wear_fraction=0.5, sedentary_threshold=50)
    >>> f["activity_mean"], f["activity_prop_zeros"], f["m10_start_min"], f["valid"]
    (58.33..., 0.41..., 600, True)
    """
    n_day = len(counts)
    obs = ~np.isnan(counts)
    x = counts[obs]
    n_obs = x.size
    n_worn = int(np.count_nonzero(worn))
    coverage = n_worn / n_day if n_day else 0.0
    nan = float("nan")
    # x.sum(), x.mean(), x.std(ddof=1) spelt out: the same reductions in the same order
    # (pairwise sum, divided by the count), without ndarray.mean/std's Python wrappers
    total = float(np.add.reduce(x)) if n_obs else nan
    mean = total / n_obs if n_obs else nan
    sd = nan
    if n_obs > 1:
        dev = x - np.array([mean])
        sd = float(np.sqrt(np.add.reduce(dev * dev) / (n_obs - 1)))
    awake = worn if asleep is None else worn & ~asleep
    cs, cn = _window_sums(counts, worn)
    m10, i10 = _window_extreme(cs, cn, 600, highest=True)
    l5, i5 = _window_extreme(cs, cn, 300, highest=False)
    s_obs = ~np.isnan(steps)
    x_worn = counts[worn]
    return {
        "minutes_in_day": n_day,
        "observed_min": n_obs,
        "worn_min": n_worn,
        "coverage": coverage,
        "valid": bool(coverage >= min_wear_fraction),
        "activity_total": total,
        "activity_mean": mean,
        "activity_sd": sd,
        "activity_prop_zeros": int(np.count_nonzero(x == 0)) / n_obs if n_obs else nan,
        "activity_mean_worn": float(np.add.reduce(x_worn)) / n_worn if n_worn else nan,
        "sedentary_min": int(np.count_nonzero(awake & (counts < sedentary_threshold))),
        "m10_mean": m10,
        "m10_start_min": int(minute_of_day[i10]) if i10 >= 0 else -1,
        "l5_mean": l5,
        "l5_start_min": int(minute_of_day[i5]) if i5 >= 0 else -1,
        "steps_total": float(steps[s_obs].sum()) if s_obs.any() else nan,
    }

"""Compiled per-day kernels of the day engine (numba, :mod:`phenotyping.features._jit`).

Closing one subject-day used to be ~1,200 small NumPy calls of 1-10 us each on arrays
of 1,440 to ~13,000 minutes: dispatch, not arithmetic. These kernels do the same work in
a few compiled passes. Each one computes exactly what a NumPy function of the reference
library computes, and is tested against it (``tests/features/test_kernels.py``):

================================  ==================================================
kernel                            reference
================================  ==================================================
:func:`pairwise_sum`              ``np.add.reduce`` of a float64 vector (bit for bit)
:func:`wear_mask`                 :func:`phenotyping.features.activity.wear_mask`
:func:`oakley_codes`              :func:`phenotyping.features.sleep.oakley`
:func:`sleep_period`              :func:`phenotyping.features.sleep.main_sleep_period`
                                  and the counts of :func:`~.sleep.summarise_sleep`
:func:`day_activity`              :func:`phenotyping.features.activity.daily_activity`
:func:`hour_values`               :func:`phenotyping.features.circadian.hourly_totals`
:func:`window_summary`            :func:`phenotyping.features.circadian.day_rows_summary`
                                  and the SRI of consecutive day rows
:func:`local_clock`               the day engine's former offset fill and ``// 1440``
:func:`steady_clock`              whether :func:`local_clock` moves a minute a minute
:func:`has_data_steady`           :func:`has_data` on such a clock
:func:`has_data`                  ``~isnan(counts) | ~isnan(steps) | isin(dates, ...)``
:func:`midpoint_timing`           :func:`~.sleep.circular_mean_minutes`,
                                  :func:`~.sleep.social_jet_lag`
:func:`close_day`,                the day engine's former NumPy composition of the
:func:`window_parts`              above (features/day.py before this module)
:func:`window_close`              :func:`window_parts` then :func:`window_summary`
================================  ==================================================

Numerical contract: every sum is taken in the order NumPy takes it -- ``np.add.reduce``
and ``ndarray.sum`` of a vector are NumPy's pairwise summation (8 accumulators, blocks
of 128), reproduced by :func:`pairwise_sum`; cumulative sums, ``bincount`` weights and
sums over rows are sequential -- and no ``fastmath``, so nothing is reassociated or
fused into a multiply-add. Results are therefore identical to the reference bit for bit,
except the cosinor: its 3 x 3 normal equations are a BLAS matrix product and a LAPACK
solve in NumPy, here plain loops and Gaussian elimination with partial pivoting, equal
to rounding (relative differences ~1e-15; the tests hold them to 1e-12).

Arrays of minutes are the engine's float32 grid (NaN = no data); a value is widened to
float64 before any arithmetic, as ``astype(np.float64)`` does. All kernels are pure:
they allocate their outputs and never write into their inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from phenotyping.features._jit import njit

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I8 = NDArray[np.int8]
I16 = NDArray[np.int16]
I64 = NDArray[np.int64]

MINUTES_PER_DAY = 1440
#: Oakley (pyActigraphy 1.2.2), 60-s epochs: W_{-2} .. W_{+2}
OAKLEY_W = (0.04, 0.20, 1.00, 0.20, 0.04)
NO_OFFSET = -32768

# layout of the vector :func:`close_day` returns
(
    R_N_DAY,
    R_N_OBS,
    R_N_WORN,
    R_TOTAL,
    R_SD,
    R_N_ZERO,
    R_SUM_WORN,
    R_N_SED,
    R_M10,
    R_I10,
    R_L5,
    R_I5,
    R_STEPS,
    R_N_LO,
    R_N_HI,
    R_JUMP_AT,
    R_JUMP_BY,
    R_NIGHT_WORN,
    R_ONSET,
    R_OFFSET,
    R_TST,
    R_WASO,
    R_AWAKENINGS,
    R_VALID_MIN,
    R_SIZE,
) = range(25)


@njit
def _block_sum(a: F64, lo: int, n: int) -> float:
    """NumPy's pairwise summation of at most 128 values (one leaf of :func:`pairwise_sum`)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    total: float = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += a[lo + i]
        i += 1
    return total


@njit
def pairwise_sum(a: F64, lo: int, n: int) -> float:
    """``np.add.reduce(a[lo : lo + n])`` bit for bit: NumPy's pairwise summation.

    Below 8 values a plain loop; up to 128 eight interleaved accumulators combined as
    ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`` plus the remainder in order;
    longer vectors are split in two halves (the first a multiple of 8) whose sums are
    added. The halving runs on an explicit stack (numba's on-disk cache mishandles
    recursive functions called from other cached functions).

    Examples
    --------
    >>> x = np.linspace(0.1, 3.7, 1000) ** 3
    >>> bool(pairwise_sum(x, 0, x.size) == np.add.reduce(x))
    True
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    seg_lo = np.empty(64, np.int64)
    seg_n = np.empty(64, np.int64)
    right = np.zeros(64, np.bool_)  # the segment is its parent's right half
    left_sum = np.empty(64)
    top = 0
    seg_lo[0], seg_n[0] = lo, n
    while True:
        m = seg_n[top]
        if m > 128:  # descend into the left half
            n2 = m // 2
            n2 -= n2 % 8
            top += 1
            seg_lo[top], seg_n[top], right[top] = seg_lo[top - 1], n2, False
            continue
        val = _block_sum(a, seg_lo[top], m)
        while top > 0 and right[top]:  # a right half done: add it to its left half
            top -= 1
            val = left_sum[top] + val
        if top == 0:
            return val
        # a left half done: keep its sum, go to the right half
        parent = top - 1
        left_sum[parent] = val
        m = seg_n[parent]
        n2 = m // 2
        n2 -= n2 % 8
        seg_lo[top], seg_n[top], right[top] = seg_lo[parent] + n2, m - n2, True


@njit
def _run_around(x: F32, n: int, i: int, lo_val: float, hi_val: float) -> tuple[int, int]:
    """The maximal run ``[s, e)`` around minute ``i`` of values ``v`` with
    ``lo_val < v <= hi_val`` -- or, when ``lo_val`` is NaN, equal to ``x[i]``."""
    v = x[i]
    s, e = i, i + 1
    if lo_val != lo_val:
        while s > 0 and x[s - 1] == v:
            s -= 1
        while e < n and x[e] == v:
            e += 1
    else:
        while s > 0 and x[s - 1] > lo_val and x[s - 1] <= hi_val:
            s -= 1
        while e < n and x[e] > lo_val and x[e] <= hi_val:
            e += 1
    return s, e


@njit
def wear_mask(x: F32, n: int, min_run: int, noise_floor: float) -> B:
    """Worn minutes of ``x[:n]``: :func:`phenotyping.features.activity.wear_mask`.

    A minute is worn when it is observed (not NaN), not in a run of at least ``min_run``
    identical values, and not in a run of at least ``min_run`` values in
    ``(0, noise_floor]`` (``noise_floor <= 0`` disables that rule).

    Such a run covers ``min_run`` consecutive minutes, so it holds a minute whose index is
    a multiple of ``min_run``: only those minutes are probed (the run around each is
    measured), so the mask costs one branch-free pass plus ~``n / min_run`` short probes
    instead of a branch per minute.

    Examples
    --------
    >>> x = np.array([9.0, 3, 5, 3, 0, 40, np.nan, 0, 0], np.float32)
    >>> wear_mask(x, 9, 4, 10.0).astype(int)
    array([0, 0, 0, 0, 1, 1, 0, 1, 1])
    """
    out = np.empty(n, np.bool_)
    for i in range(n):
        out[i] = x[i] == x[i]
    step = max(min_run, 1)
    i = 0
    while i < n:
        nxt = i + step
        if x[i] == x[i]:  # NaN is never in a run
            s, e = _run_around(x, n, i, math.nan, math.nan)
            if e - s >= min_run:
                out[s:e] = False
                nxt = max(nxt, e)
        i = nxt
    if noise_floor > 0:
        i = 0
        while i < n:
            nxt = i + step
            if x[i] > 0 and x[i] <= noise_floor:
                s, e = _run_around(x, n, i, 0.0, noise_floor)
                if e - s >= min_run:
                    out[s:e] = False
                    nxt = max(nxt, e)
            i = nxt
    return out


@njit
def oakley_codes(x: F64, threshold: float) -> I8:
    """Oakley scores as codes: 1 sleep, 0 wake, -1 not scored
    (:func:`phenotyping.features.sleep.oakley`, whose NaN is -1 here).

    ``O_t = 0.04 A_{t-2} + 0.2 A_{t-1} + A_t + 0.2 A_{t+1} + 0.04 A_{t+2}``, summed left
    to right as the reference does; sleep when ``O_t < threshold``; not scored at the two
    first and last epochs and wherever the window holds a NaN.

    Examples
    --------
    >>> oakley_codes(np.array([0.0, 0, 0, 39, 0, 0, 200, 0, 0, 0]), 40.0)
    array([-1, -1,  1,  1,  1,  0,  0,  0, -1, -1], dtype=int8)
    """
    n = x.size
    out = np.full(n, -1, np.int8)
    for t in range(2, n - 2):
        acc = 0.04 * x[t - 2]
        acc = acc + 0.2 * x[t - 1]
        acc = acc + 1.0 * x[t]
        acc = acc + 0.2 * x[t + 1]
        acc = acc + 0.04 * x[t + 2]
        out[t] = np.int8(acc < threshold) - np.int8(acc != acc)  # NaN: -1
    return out


@njit
def sleep_period(
    codes: I8, min_bout: int, max_gap: int, min_duration: int
) -> tuple[int, int, int, int, int, int, int]:
    """Main sleep period of a night of Oakley codes and what
    :func:`phenotyping.features.sleep.summarise_sleep` counts in it.

    Returns ``(onset, offset, tst, waso, awakenings, missing, valid)``: the period
    ``[onset, offset)`` of :func:`~phenotyping.features.sleep.main_sleep_period` (runs of
    at least ``min_bout`` sleep codes, merged across gaps of at most ``max_gap``, the
    longest -- first on a tie -- if it lasts ``min_duration``), its sleep, wake and
    unscored minutes and its runs of wake, and the scored minutes of the whole night.
    ``onset = offset = -1`` (and zero counts) when there is no period.

    Examples
    --------
    >>> c = np.r_[np.zeros(10), np.ones(40), np.zeros(20), np.ones(50), np.zeros(9)]
    >>> sleep_period(c.astype(np.int8), 10, 60, 0)
    (10, 120, 90, 20, 1, 0, 129)
    """
    n = codes.size
    valid = 0
    for t in range(n):
        if codes[t] >= 0:
            valid += 1
    best_s, best_e = -1, -1
    blk_s, blk_e = -1, -1
    i = 0
    while i < n:
        if codes[i] != 1:
            i += 1
            continue
        j = i + 1
        while j < n and codes[j] == 1:
            j += 1
        if j - i >= min_bout:
            if blk_s >= 0 and i - blk_e <= max_gap:
                blk_e = j
            else:
                if blk_s >= 0 and (best_s < 0 or blk_e - blk_s > best_e - best_s):
                    best_s, best_e = blk_s, blk_e
                blk_s, blk_e = i, j
        i = j
    if blk_s >= 0 and (best_s < 0 or blk_e - blk_s > best_e - best_s):
        best_s, best_e = blk_s, blk_e
    if best_s < 0 or best_e - best_s < min_duration:
        return -1, -1, 0, 0, 0, 0, valid
    tst = waso = runs = missing = 0
    prev_wake = False
    for t in range(best_s, best_e):
        c = codes[t]
        if c == 1:
            tst += 1
        elif c == 0:
            waso += 1
            if not prev_wake:
                runs += 1
        else:
            missing += 1
        prev_wake = c == 0
    return best_s, best_e, tst, waso, runs, missing, valid


@njit
def _window_extreme(cs: F64, cn: F64, size: int, width: int, highest: bool) -> tuple[float, int]:
    """The extreme mean of ``width``-minute windows from running sums (leading 0; the
    running counts ``cn`` as exact floats: no int-to-float conversion per window), over
    windows starting at ``0 .. size - 1``, skipping windows less than half observed; the
    first one on a tie. ``(nan, -1)`` when none qualifies.

    The means are computed in a branch-free pass (LLVM vectorises the divisions; a window
    that does not qualify divides by 1 and is skipped), then the first extreme is picked.
    """
    means = np.empty(size)
    half = 0.5 * width
    for i in range(size):
        k = cn[i + width] - cn[i]
        means[i] = (cs[i + width] - cs[i]) / max(k, 1.0)
    best = -1
    best_v = 0.0
    for i in range(size):
        k = cn[i + width] - cn[i]
        if k > 0 and k >= half:
            v = means[i]
            if best < 0 or (v > best_v if highest else v < best_v):
                best, best_v = i, v
    if best < 0:
        return math.nan, -1
    return best_v, best


@njit
def day_activity(
    counts: F32, worn: B, steps: F32, asleep: B, sedentary_threshold: float
) -> tuple[int, int, float, float, int, float, int, float, int, float, int, float]:
    """The numbers of :func:`phenotyping.features.activity.daily_activity` for one day.

    Returns ``(n_obs, n_worn, total, sd, n_zero, sum_worn, n_sedentary, m10, i10, l5,
    i5, steps_total)``: observed and worn minutes; the sum and the SD (ddof=1) of the
    observed counts (pairwise sums, NaN below 1 and 2 values); zero minutes; the sum of
    the worn minutes' counts; worn, awake minutes below ``sedentary_threshold``; the
    mean and start index of the most active 600 and least active 300 minutes over worn
    minutes (windows at least half worn; ``-1`` when none); the sum of observed steps
    (NaN when none).

    Examples
    --------
    >>> x = np.r_[np.zeros(600), np.full(840, 100.0)].astype(np.float32)
    >>> r = day_activity(x, np.ones(1440, np.bool_), np.full(1440, np.nan, np.float32),
    ...                  np.zeros(1440, np.bool_), 50.0)
    >>> r[0], r[2], r[4], r[6], r[7], r[8]
    (1440, 84000.0, 600, 600, 100.0, 600)
    """
    n = counts.size
    buf = np.empty(n)
    n_obs = 0
    n_zero = 0
    for t in range(n):
        v = np.float64(counts[t])
        buf[n_obs] = v  # branch-free compaction: kept only if observed
        n_obs += v == v
        n_zero += v == 0.0
    total = pairwise_sum(buf, 0, n_obs) if n_obs else math.nan
    sd = math.nan
    if n_obs > 1:
        mean = total / n_obs
        for k in range(n_obs):
            dev = buf[k] - mean
            buf[k] = dev * dev
        sd = math.sqrt(pairwise_sum(buf, 0, n_obs) / (n_obs - 1))
    n_worn = 0
    n_sed = 0
    cs = np.zeros(n + 1)
    cn = np.zeros(n + 1)  # counts as exact floats (the windows divide by them)
    acc, kc = 0.0, 0.0  # running sums in registers (a store and reload per minute is slow)
    worn8, asleep8 = worn.view(np.uint8), asleep.view(np.uint8)
    for t in range(n):  # branch-free (asleep and the threshold are unpredictable)
        v = np.float64(counts[t])
        w = worn8[t] != 0
        ok = w & (v == v)
        buf[n_worn] = v
        n_worn += w
        n_sed += w & (asleep8[t] == 0) & (v < sedentary_threshold)
        acc += v if ok else 0.0
        kc += 1.0 if ok else 0.0
        cs[t + 1] = acc
        cn[t + 1] = kc
    sum_worn = pairwise_sum(buf, 0, n_worn)
    m10, i10 = math.nan, -1
    l5, i5 = math.nan, -1
    if n >= 600:
        m10, i10 = _window_extreme(cs, cn, n - 600 + 1, 600, True)
    if n >= 300:
        l5, i5 = _window_extreme(cs, cn, n - 300 + 1, 300, False)
    n_steps = 0
    for t in range(n):
        s = np.float64(steps[t])
        buf[n_steps] = s
        n_steps += s == s
    steps_total = pairwise_sum(buf, 0, n_steps) if n_steps else math.nan
    return n_obs, n_worn, total, sd, n_zero, sum_worn, n_sed, m10, i10, l5, i5, steps_total


@njit
def local_clock(offset: I16, base: int) -> tuple[I64, I64, bool]:
    """Local clock minute and local date of every grid minute: ``base + index + offset``,
    unknown offsets (-32768) filled forward, leading unknown ones from the first known
    (all unknown: 0); the date is that minute floor-divided by 1440. The third value,
    ``steady``, says the clock moves by one minute a minute over the whole grid (one
    offset): the day kernels then index local minutes without searching them.

    Examples
    --------
    >>> local_clock(np.array([-32768, 60, -32768, 120], np.int16), 1380)
    (array([1440, 1441, 1442, 1503]), array([1, 1, 1, 1]), False)
    """
    n = offset.size
    out = np.empty(n, np.int64)
    dates = np.empty(n, np.int64)
    unknown = 0
    lowest, highest = 32767, -32768
    for i in range(n):
        known = offset[i] != NO_OFFSET
        unknown += not known
        lowest = min(lowest, offset[i] if known else 32767)
        highest = max(highest, offset[i] if known else -32768)
    if lowest == highest:  # one known offset (the unknown ones are filled with it)
        # whole days of one date: filled day by day (integer division is 1 ns a minute)
        for i in range(n):
            out[i] = base + i + np.int64(lowest)
        day, into = out[0] // MINUTES_PER_DAY, out[0] % MINUTES_PER_DAY
        i = 0
        while i < n:
            k = min(MINUTES_PER_DAY - into, n - i)
            dates[i : i + k] = day
            i += k
            day += 1
            into = 0
        return out, dates, True
    if unknown == 0:  # the usual case, branch-free
        for i in range(n):
            out[i] = base + i + np.int64(offset[i])
    else:
        cur = 0
        for i in range(n):
            if offset[i] != NO_OFFSET:
                cur = int(offset[i])
                break
        for i in range(n):
            if offset[i] != NO_OFFSET:
                cur = int(offset[i])
            out[i] = base + i + cur
    if n and abs(base) < 2**40:  # floor of a float quotient: exact here, vectorised
        for i in range(n):
            dates[i] = np.int64(math.floor(out[i] / MINUTES_PER_DAY))
    else:  # integer floor division (~1 ns a minute slower)
        for i in range(n):
            dates[i] = out[i] // MINUTES_PER_DAY
    return out, dates, unknown == n


@njit
def steady_clock(offset: I16, base: int) -> tuple[bool, int]:
    """Whether :func:`local_clock` of this grid is steady (one offset: the clock moves by
    one minute a minute) and, if so, the local minute of grid minute 0 -- without
    building the two arrays (``(False, 0)`` otherwise).

    Examples
    --------
    >>> steady_clock(np.array([-32768, 60, -32768, 60], np.int16), 1380)
    (True, 1440)
    >>> steady_clock(np.array([60, 120], np.int16), 1380)
    (False, 0)
    """
    n = offset.size
    unknown = np.int16(NO_OFFSET)
    first = unknown
    for i in range(n):
        if offset[i] != unknown:
            first = offset[i]
            break
    if first == unknown:  # no known offset: all filled with 0
        return True, base
    other = 0  # known offsets that differ from the first (a branch-free pass over int16)
    for i in range(n):
        o = offset[i]
        other += (o != first) & (o != unknown)
    if other == 0:
        return True, base + int(first)
    return False, 0


@njit
def has_data_steady(counts: F32, steps: F32, local0: int, marked: I64) -> B:
    """:func:`has_data` on a steady clock (local minute ``local0 + index``): a marked
    date marks its minutes as one slice, no search per minute.

    Examples
    --------
    >>> nan = np.nan
    >>> has_data_steady(np.array([1, nan, nan], np.float32),
    ...                 np.array([nan, 2, nan], np.float32), 5 * 1440 + 1438,
    ...                 np.array([6])).astype(int)
    array([1, 1, 1])
    """
    n = counts.size
    seen = np.empty(n, np.uint8)  # (bytes: LLVM vectorises the stores, not bool ones)
    for i in range(n):
        seen[i] = (counts[i] == counts[i]) | (steps[i] == steps[i])
    out = seen.view(np.bool_)
    for k in range(marked.size):
        lo = min(max(marked[k] * MINUTES_PER_DAY - local0, 0), n)
        hi = min(max((marked[k] + 1) * MINUTES_PER_DAY - local0, 0), n)
        out[lo:hi] = True
    return out


@njit
def hour_values(values: F64, lo: int, hours: int, out: F64, at: int) -> int:
    """:func:`phenotyping.features.circadian.hourly_totals` of ``hours`` whole hours of
    ``values[lo:]`` into ``out[at:]``: the sum of the observed minutes (pairwise, missing
    minutes as 0) times ``60 / observed``, NaN below 30 observed minutes. Returns the
    observed minutes.

    Examples
    --------
    >>> x = np.r_[np.ones(60), np.full(60, np.nan), np.ones(30), np.full(30, np.nan)]
    >>> out = np.empty(3)
    >>> hour_values(x, 0, 3, out, 0), out
    (90, array([60., nan, 60.]))
    """
    buf = np.empty(60)
    seen = 0
    for h in range(hours):
        k = 0
        for m in range(60):
            v = values[lo + h * 60 + m]
            if v == v:
                buf[m] = v
                k += 1
            else:
                buf[m] = 0.0
        total = pairwise_sum(buf, 0, 60)
        out[at + h] = total * (60 / k) if k > 0 and k >= 30.0 else math.nan
        seen += k
    return seen


@njit
def _sample_var(x: F64, n: int) -> float:
    """``np.var(finite values of x[:n], ddof=1)``: NaN below two values."""
    v = np.empty(n)
    k = 0
    for i in range(n):
        if np.isfinite(x[i]):
            v[k] = x[i]
            k += 1
    if k < 2:
        return math.nan
    mean = pairwise_sum(v, 0, k) / k
    for i in range(k):
        d = v[i] - mean
        v[i] = d * d
    return pairwise_sum(v, 0, k) / (k - 1)


@njit
def _ratio(num: float, den: float) -> float:
    if not (np.isfinite(num) and np.isfinite(den)) or den <= 0.0:
        return math.nan
    return num / den


@njit
def _solve3(g: F64, r: F64) -> tuple[float, float, float]:
    """Solve the 3 x 3 system ``g x = r`` by Gaussian elimination with partial pivoting."""
    a = g.copy()
    b = r.copy()
    for k in range(3):
        p = k
        for i in range(k + 1, 3):
            if abs(a[i, k]) > abs(a[p, k]):
                p = i
        if p != k:
            for j in range(3):
                a[k, j], a[p, j] = a[p, j], a[k, j]
            b[k], b[p] = b[p], b[k]
        for i in range(k + 1, 3):
            f = a[i, k] / a[k, k]
            for j in range(k, 3):
                a[i, j] -= f * a[k, j]
            b[i] -= f * b[k]
    x2 = b[2] / a[2, 2]
    x1 = (b[1] - a[1, 2] * x2) / a[1, 1]
    x0 = (b[0] - a[0, 1] * x1 - a[0, 2] * x2) / a[0, 0]
    return x0, x1, x2


@njit
def window_summary(
    hourly: F64,
    profile_total: F64,
    profile_n: I64,
    basis: F64,
    sleep: I8,
    min_coverage: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """The rolling-window measures of whole local days from their per-day parts.

    ``hourly``: the days' hourly values (24 per day, :func:`hour_values`);
    ``profile_total`` / ``profile_n``: per minute of day, the sum of the observed values
    (added day after day) and how many; ``basis``: rows 1, cos, sin of one 1440-minute
    period (``circadian.cosinor_basis(1440)``); ``sleep``: the days' Oakley codes, day
    after day. Returns ``(IS, IV, L5, M10, RA, cosinor mesor, amplitude, peak minute of
    day, SRI)`` as :func:`phenotyping.features.circadian.day_rows_summary` and
    :func:`phenotyping.features.sleep.sri_phillips` of the rows compute them.

    Examples
    --------
    >>> from phenotyping.features.circadian import cosinor_basis
    >>> day = np.r_[np.zeros(480), np.full(960, 5.0)]
    >>> hourly = np.tile(day.reshape(24, 60).sum(axis=1), 3)
    >>> codes = np.tile((day == 0).astype(np.int8), 3)
    >>> r = window_summary(hourly, 3 * day, np.full(1440, 3), cosinor_basis(1440),
    ...                    codes, 0.5)
    >>> r[2], r[3], r[4], r[8]
    (0.0, 5.0, 1.0, 100.0)
    """
    nan = math.nan
    n_hours = hourly.size
    # IS: variance of the 24-hour profile of the valid hours over the hours' variance
    sums = np.zeros(24)
    cnt = np.zeros(24, np.int64)
    for i in range(n_hours):
        if hourly[i] == hourly[i]:
            sums[i % 24] += hourly[i]
            cnt[i % 24] += 1
    prof24 = np.empty(24)
    k = 0
    for h in range(24):
        if cnt[h] > 0:
            prof24[k] = sums[h] / cnt[h]
            k += 1
    var_h = _sample_var(hourly, n_hours)
    is_ = _ratio(_sample_var(prof24, k), var_h)
    # IV: mean squared successive difference of valid hour pairs over the variance
    d2 = np.empty(max(n_hours - 1, 0))
    m = 0
    for i in range(n_hours - 1):
        d = hourly[i + 1] - hourly[i]
        if d == d:
            d2[m] = d * d
            m += 1
    iv = _ratio(pairwise_sum(d2, 0, m) / m, var_h) if m else nan
    # L5 / M10 on the cyclic 1-minute profile (running sums over the profile + 599 min)
    size = MINUTES_PER_DAY
    cs = np.zeros(size + 600)
    cn = np.zeros(size + 600)  # counts as exact floats (the windows divide by them)
    phase = np.empty(size)  # each minute's mean, once (no division in the running loop)
    for j in range(size):
        phase[j] = profile_total[j] / max(profile_n[j], 1) if profile_n[j] > 0 else 0.0
    acc, kc = 0.0, 0.0  # running sums in registers (a store and reload a minute is slow)
    for t in range(size + 599):
        j = t if t < size else t - size
        acc += phase[j]
        kc += 1.0 if profile_n[j] > 0 else 0.0
        cs[t + 1] = acc
        cn[t + 1] = kc
    lo_best, lo_i = nan, -1
    hi_best, hi_i = nan, -1
    # the windows' means in branch-free passes (vectorised divisions), then the first
    # extreme of the qualifying ones
    means5 = np.empty(size)
    means10 = np.empty(size)
    for i in range(size):
        means5[i] = (cs[i + 300] - cs[i]) / max(cn[i + 300] - cn[i], 1.0)
        means10[i] = (cs[i + 600] - cs[i]) / max(cn[i + 600] - cn[i], 1.0)
    for i in range(size):
        c = cn[i + 300] - cn[i]
        if c > 0 and c >= min_coverage * 300 and (lo_i < 0 or means5[i] < lo_best):
            lo_best, lo_i = means5[i], i
        c = cn[i + 600] - cn[i]
        if c > 0 and c >= min_coverage * 600 and (hi_i < 0 or means10[i] > hi_best):
            hi_best, hi_i = means10[i], i
    ra = _ratio(hi_best - lo_best, hi_best + lo_best)
    # cosinor from the per-phase counts and sums (normal equations, 3 x 3)
    mesor = amplitude = peak = nan
    n_total = 0.0
    for j in range(size):
        n_total += profile_n[j]
    if n_total >= 3:
        # (basis * n) @ basis.T and basis @ total in one pass (row 0 of the basis is 1)
        g00 = g01 = g02 = g11 = g12 = g22 = r0 = r1 = r2 = 0.0
        for j in range(size):
            nj = np.float64(profile_n[j])
            cj, sj, yj = basis[1, j], basis[2, j], profile_total[j]
            g00 += nj
            g01 += nj * cj
            g02 += nj * sj
            g11 += (cj * nj) * cj
            g12 += (cj * nj) * sj
            g22 += (sj * nj) * sj
            r0 += yj
            r1 += cj * yj
            r2 += sj * yj
        g = np.array([[g00, g01, g02], [g01, g11, g12], [g02, g12, g22]])
        r = np.array([r0, r1, r2])
        scale = 0.0
        for a in range(3):
            for b in range(3):
                scale = max(scale, abs(g[a, b]))
        if scale > 0:
            s = g / scale
            det = (
                s[0, 0] * (s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1])
                - s[0, 1] * (s[1, 0] * s[2, 2] - s[1, 2] * s[2, 0])
                + s[0, 2] * (s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0])
            )
            if abs(det) >= 1e-12:
                mesor, bc, sc = _solve3(g, r)
                amplitude = math.hypot(bc, sc)
                acro = math.atan2(-sc, bc) % (2.0 * math.pi) if amplitude > 0.0 else 0.0
                if acro >= 2.0 * math.pi:
                    acro = 0.0
                peak = (-acro / (2.0 * math.pi) * size) % size
    # SRI (Phillips) over consecutive day rows
    n_days = sleep.size // size
    pairs = agree = 0
    for t in range((n_days - 1) * size):
        u, v2 = sleep[t], sleep[t + size]
        both = (u >= 0) & (v2 >= 0)
        pairs += both
        agree += both & (u == v2)
    sri = -100.0 + 200.0 * agree / pairs if pairs else nan
    return is_, iv, lo_best, hi_best, ra, mesor, amplitude, peak, sri


@njit
def has_data(counts: F32, steps: F32, dates: I64, marked: I64) -> B:
    """Per grid minute: a count or a step was observed, or its local date is one of the
    sorted ``marked`` dates (device data without minutes).

    Examples
    --------
    >>> nan = np.nan
    >>> has_data(np.array([1, nan, nan], np.float32), np.array([nan, 2, nan], np.float32),
    ...          np.array([5, 5, 6]), np.array([7])).astype(int)
    array([1, 1, 0])
    """
    n = counts.size
    out = np.empty(n, np.bool_)
    for i in range(n):
        out[i] = (counts[i] == counts[i]) | (steps[i] == steps[i])
    if marked.size == 0:
        return out
    for i in range(n):
        seen = out[i]
        if not seen:
            k = np.searchsorted(marked, dates[i])
            seen = k < marked.size and marked[k] == dates[i]
        out[i] = seen
    return out


@njit
def close_day(
    counts: F32,
    steps: F32,
    local: I64,
    lo: int,
    hi: int,
    d: int,
    min_run: int,
    noise_floor: float,
    threshold: float,
    sedentary_threshold: float,
    min_bout: int,
    max_gap: int,
    steady: bool,
) -> tuple[B, F64]:
    """Everything of one local day ``d`` (grid minutes ``[lo, hi)``) that reads minutes,
    in one call: the wear mask of the retained past, the night's main sleep period and
    the day's activity numbers.

    ``counts``, ``steps``, ``local``: the engine's whole grid (float32 values, local
    clock minute of each grid minute); with ``steady`` (the clock moves by one minute a
    minute over the grid: :func:`steady_clock`) only ``local[0]`` is read, the others
    follow (``local[0] + index``). Returns ``(worn, r)``: the worn mask of grid
    minutes ``[0, hi)`` (:func:`wear_mask`, flat runs crossing midnight included) and a
    vector indexed by the ``R_*`` constants: :func:`day_activity` of the day (a day with
    steps but no counts counts a minute with steps as worn), the night window ``[n_lo,
    n_hi)`` (local noon before to noon of ``d``), the first change of the UTC offset in
    it (``R_JUMP_AT`` -1: none), its worn minutes, and :func:`sleep_period` of its
    Oakley codes with non-wear minutes unscored (``R_ONSET`` -1: no period; -2: a night
    under 60 minutes, not scored). Minutes asleep for the sedentary count are scored
    with two minutes of context before midnight and without the wear mask, as the
    engine always did.

    Examples
    --------
    Two days, asleep (counts 0, 1, 2, ...) until 07:00, active after; the night of
    day 1 starts at noon of day 0 (grid minute 720):

    >>> day = np.r_[np.arange(420) % 3, 150 + np.arange(1020) % 9 * 10]
    >>> x = np.tile(day, 2).astype(np.float32)
    >>> worn, r = close_day(x, np.full(2880, np.nan, np.float32), np.arange(2880), 1440,
    ...                     2880, 1, 120, 10.0, 40.0, 100.0, 10, 60, True)
    >>> int(worn.sum()), r[[R_N_LO, R_ONSET, R_OFFSET, R_TST]].tolist()
    (2880, [720.0, 721.0, 1140.0, 419.0])
    """
    worn_past = wear_mask(counts, hi, min_run, noise_floor)
    r = np.full(R_SIZE, math.nan)
    n_day = hi - lo
    worn = worn_past[lo:hi].copy()
    all_nan = True
    any_step = False
    for t in range(lo, hi):
        if counts[t] == counts[t]:
            all_nan = False
        if steps[t] == steps[t]:
            any_step = True
    if all_nan and any_step:  # a steps-only device: a minute with a step count was worn
        for t in range(n_day):
            worn[t] = steps[lo + t] == steps[lo + t]
    # the night ending on the morning of d: local (d-1) 12:00 .. d 12:00
    noon = d * MINUTES_PER_DAY + MINUTES_PER_DAY // 2
    noon_before = noon - MINUTES_PER_DAY
    n = counts.size
    first_local = local[0]
    last_local = first_local + n - 1 if steady else local[n - 1]
    n_lo = 0
    if first_local < noon_before:  # the first minute at or after noon_before (np.argmax)
        if steady:  # the clock moves by one minute a minute: indices follow directly
            n_lo = noon_before - first_local if noon_before <= last_local else 0
        else:
            for i in range(n):
                if local[i] >= noon_before:
                    n_lo = i
                    break
    n_hi = hi
    if last_local >= noon:
        if steady:
            n_hi = max(noon - first_local, 0)
        else:
            n_hi = 0
            for i in range(n):
                if local[i] >= noon:
                    n_hi = i
                    break
    n_hi = min(max(n_hi, lo), hi)
    r[R_N_LO], r[R_N_HI] = n_lo, n_hi
    r[R_JUMP_AT] = -1
    if not steady:  # (a steady clock has no jump)
        for i in range(n_lo, n_hi - 1):
            step = local[i + 1] - local[i] - 1
            if step != 0:
                r[R_JUMP_AT], r[R_JUMP_BY] = i - n_lo + 1, step
                break
    night_worn = 0
    m = max(n_hi - n_lo, 0)
    night = np.empty(m)
    for i in range(m):
        w = worn_past[n_lo + i]
        night[i] = counts[n_lo + i] if w else math.nan
        night_worn += 1 if w else 0
    r[R_NIGHT_WORN] = night_worn
    r[R_ONSET] = -2
    if n_hi - n_lo >= 60:
        p = sleep_period(oakley_codes(night, threshold), min_bout, max_gap, 0)
        r[R_ONSET], r[R_OFFSET], r[R_TST], r[R_WASO] = p[0], p[1], p[2], p[3]
        r[R_AWAKENINGS], r[R_VALID_MIN] = p[4], p[6]
    # minutes asleep (unmasked Oakley, two minutes of context before midnight)
    ctx = max(lo - 2, 0)
    past = np.empty(hi - ctx)
    for i in range(hi - ctx):
        past[i] = counts[ctx + i]
    codes = oakley_codes(past, threshold)
    asleep = np.empty(n_day, np.bool_)
    for t in range(n_day):
        asleep[t] = codes[lo - ctx + t] == 1
    a = day_activity(counts[lo:hi], worn, steps[lo:hi], asleep, sedentary_threshold)
    r[R_N_DAY] = n_day
    r[R_N_OBS], r[R_N_WORN], r[R_TOTAL], r[R_SD] = a[0], a[1], a[2], a[3]
    r[R_N_ZERO], r[R_SUM_WORN], r[R_N_SED] = a[4], a[5], a[6]
    r[R_M10], r[R_I10], r[R_L5], r[R_I5], r[R_STEPS] = a[7], a[8], a[9], a[10], a[11]
    return worn_past, r


@njit
def window_parts(
    counts: F32,
    worn_past: B,
    local: I64,
    a: int,
    lo: int,
    hi: int,
    first: int,
    w: int,
    trust: bool,
    win_sleep: I8,
    win_hourly: F64,
    win_obs: NDArray[np.int32],
    win_worn: B,
    a_prev: int,
    threshold: float,
    steady: bool,
) -> tuple[bool, I8, F64, NDArray[np.int32], F64, I64]:
    """The per-day parts of the rolling window of local days ``first .. first + w - 1``
    (grid minutes ``[a, hi)``, the last day from ``lo``), on the local clock.

    Non-wear minutes are missing; each minute goes to its local clock slot (a repeated
    hour keeps its later copy, a skipped hour stays missing). With ``trust`` (the kept
    parts ``win_*`` belong to the previous day's window) and when the kept worn mask
    still equals today's and no local minute repeats, the kept parts are reused and only
    the last day is scored and summed (plus the two minutes before midnight that its
    Oakley window completes; the window's two first minutes lose their context when the
    window moved on); otherwise every day is recomputed. Both ways give the same parts.
    With ``steady`` (:func:`steady_clock`: one offset over the grid) the local minutes
    are consecutive, so the minutes are copied to their slots without an index array,
    and only ``local[0]`` is read.

    Returns ``(reused, sleep, hourly, observed, profile_total, profile_n)``: Oakley codes
    (``w * 1440``, -1 unscored), hourly values (:func:`hour_values`, 24 per day),
    observed minutes per day, and per minute of day the sum of the observed values over
    the days (added oldest first) and their number.

    Examples
    --------
    >>> x = np.tile(np.r_[np.zeros(480), np.full(960, 50.0)], 3).astype(np.float32)
    >>> none8, none = np.zeros(0, np.int8), np.zeros(0)
    >>> out = window_parts(x, np.ones(4320, np.bool_), np.arange(4320), 0, 2880, 4320, 0,
    ...                    3, False, none8, none, np.zeros(0, np.int32),
    ...                    np.zeros(0, np.bool_), 0, 40.0, True)
    >>> out[0], out[3], float(out[4][600]), int(out[5][600]), int(out[1][:1440].sum())
    (False, array([1440, 1440, 1440], dtype=int32), 150.0, 3, 476)
    """
    size = w * MINUTES_PER_DAY
    n = hi - a
    origin = first * MINUTES_PER_DAY
    grid = np.full(size, math.nan)
    cv, wv = counts[a:hi], worn_past[a:hi]  # views: indices from 0 need no wraparound
    shift = 0
    if steady and n:  # local minute = local[0] + a + i: the values go straight to the grid
        shift = local[0] + a - origin
        idx = np.empty(0, np.int64)
        x = grid[shift : shift + n]
        worn8 = wv.view(np.uint8)  # (LLVM vectorises a byte compare, not a bool load)
        for i in range(n):
            x[i] = np.float64(cv[i]) if worn8[i] != 0 else math.nan
        repeats = 0
    else:
        x = np.empty(n)
        idx = np.empty(n, np.int64)
        lv = local[a:hi]
        # branch-free loops (LLVM vectorises them); only the scatter is scalar
        for i in range(n):
            c = np.float64(cv[i])
            x[i] = c if wv[i] else math.nan
            idx[i] = lv[i] - origin
        repeats = 0  # a local minute not after its predecessor (a repeated hour)
        for i in range(1, n):
            repeats += idx[i] <= idx[i - 1]
        for i in range(n):
            j = idx[i]
            if 0 <= j < size:
                grid[j] = x[i]  # a repeated hour keeps its later copy
            else:
                # a minute of another local date amid the window's: the clock went back
                # across midnight (a flight west) and the date search cannot bound the
                # days exactly. It is not part of the window (never written outside it)
                idx[i] = -1
                x[i] = math.nan
                repeats += 1
    changed = 0
    same_size = trust and win_worn.size == lo - a
    if same_size:
        past8, kept8 = worn_past[a:lo].view(np.uint8), win_worn.view(np.uint8)
        for i in range(lo - a):
            changed += kept8[i] != past8[i]
    reused = same_size and changed == 0 and repeats == 0
    profile_total = np.zeros(MINUTES_PER_DAY)
    profile_n = np.zeros(MINUTES_PER_DAY, np.int64)
    for k in range(w):  # day after day, as np.where(observed, rows, 0).sum(axis=0)
        row = grid[k * MINUTES_PER_DAY : (k + 1) * MINUTES_PER_DAY]
        for j in range(MINUTES_PER_DAY):
            v = row[j]
            ok = v == v
            profile_total[j] += v if ok else 0.0
            profile_n[j] += ok
    sleep = np.full(size, -1, np.int8)
    hourly = np.empty(w * 24)
    obs = np.zeros(w, np.int32)
    if not reused:
        codes = oakley_codes(x, threshold)
        if idx.size:
            for i in range(n):
                if idx[i] >= 0:
                    sleep[idx[i]] = codes[i]
        elif n:
            sleep[shift : shift + n] = codes
        for k in range(w):
            obs[k] = hour_values(grid, k * MINUTES_PER_DAY, 24, hourly, k * 24)
    else:
        last = (w - 1) * MINUTES_PER_DAY
        sleep[:last] = win_sleep
        s = max(a, lo - 4)
        codes = oakley_codes(x[s - a :], threshold)
        m0 = lo - 2 if s < lo else s
        if idx.size:  # (no minute was dropped: that is a repeat, and nothing is reused)
            for i in range(m0 - a, n):
                sleep[idx[i]] = codes[i - (s - a)]
        else:
            for i in range(m0 - a, n):
                sleep[shift + i] = codes[i - (s - a)]
        if a > a_prev:  # the window's new first minutes have no context any more
            for i in range(min(2, n)):
                sleep[idx[i] if idx.size else shift + i] = -1
        hourly[: (w - 1) * 24] = win_hourly
        obs[: w - 1] = win_obs
        obs[w - 1] = hour_values(grid, last, 24, hourly, (w - 1) * 24)
    return reused, sleep, hourly, obs, profile_total, profile_n


@njit
def window_close(
    counts: F32,
    worn_past: B,
    local: I64,
    a: int,
    lo: int,
    hi: int,
    first: int,
    w: int,
    trust: bool,
    win_sleep: I8,
    win_hourly: F64,
    win_obs: NDArray[np.int32],
    win_worn: B,
    a_prev: int,
    threshold: float,
    steady: bool,
    basis: F64,
    enough_min: float,
    min_days: int,
) -> tuple[I8, F64, NDArray[np.int32], int, F64]:
    """The rolling window of one close in one call: :func:`window_parts`, the days with
    at least ``enough_min`` observed minutes, and -- with at least ``min_days`` of them --
    :func:`window_summary` (minimum coverage 0.5). Returns ``(sleep, hourly, observed,
    days_ok, measures)``: the parts to keep, and the nine measures (NaN: too few days).

    Examples
    --------
    >>> x = np.tile(np.r_[np.zeros(480), np.full(960, 50.0)], 3).astype(np.float32)
    >>> none8, none = np.zeros(0, np.int8), np.zeros(0)
    >>> from phenotyping.features.circadian import cosinor_basis
    >>> out = window_close(x, np.ones(4320, np.bool_), np.arange(1), 0, 2880, 4320, 0,
    ...                    3, False, none8, none, np.zeros(0, np.int32),
    ...                    np.zeros(0, np.bool_), 0, 40.0, True, cosinor_basis(1440),
    ...                    960.0, 3)
    >>> out[3], out[4][[2, 3, 4]].tolist()
    (3, [0.0, 50.0, 1.0])
    """
    _, sleep, hourly, obs, total, n = window_parts(
        counts,
        worn_past,
        local,
        a,
        lo,
        hi,
        first,
        w,
        trust,
        win_sleep,
        win_hourly,
        win_obs,
        win_worn,
        a_prev,
        threshold,
        steady,
    )
    days_ok = 0
    for k in range(obs.size):
        days_ok += obs[k] >= enough_min
    measures = np.full(9, math.nan)
    if days_ok >= min_days:
        c = window_summary(hourly, total, n, basis, sleep, 0.5)
        for i in range(9):
            measures[i] = c[i]
    return sleep, hourly, obs, days_ok, measures


@njit
def _circular_mean(minutes: F64, take: B, want: bool) -> float:
    """:func:`phenotyping.features.sleep.circular_mean_minutes` (period 1440) of the
    non-NaN ``minutes[i]`` with ``take[i] == want``."""
    n = minutes.size
    sines = np.empty(n)
    cosines = np.empty(n)
    k = 0
    for i in range(n):
        v = minutes[i]
        if take[i] == want and v == v:
            theta = v * (2.0 * math.pi / MINUTES_PER_DAY)
            sines[k] = math.sin(theta)
            cosines[k] = math.cos(theta)
            k += 1
    if k == 0:
        return math.nan
    s = pairwise_sum(sines, 0, k) / k
    c = pairwise_sum(cosines, 0, k) / k
    if math.hypot(s, c) < 1e-9:
        return math.nan
    m = (math.atan2(s, c) * MINUTES_PER_DAY / (2.0 * math.pi)) % MINUTES_PER_DAY
    return 0.0 if MINUTES_PER_DAY - m < 1e-9 or m < 1e-9 else m


@njit
def midpoint_timing(minutes: F64, dates: I64) -> tuple[float, float]:
    """Sleep timing over the nights of the window: the circular mean midpoint of all
    nights and the social jet lag (free nights -- Saturday, Sunday -- minus work nights),
    as :func:`phenotyping.features.sleep.circular_mean_minutes` and
    :func:`phenotyping.features.sleep.social_jet_lag` compute them (NaN midpoints are
    nights without a valid sleep period).

    Examples
    --------
    >>> mids = np.array([180.0, 180.0, 180.0, 180.0, 180.0, 270.0, 240.0])
    >>> dates = np.arange(7) + 19_723          # Monday 2024-01-01 .. Sunday
    >>> [round(v, 6) for v in midpoint_timing(mids, dates)]
    [201.277652, 75.0]
    """
    free = np.empty(dates.size, np.bool_)
    for i in range(dates.size):
        free[i] = (dates[i] + 3) % 7 >= 5
    everyone = np.ones(dates.size, np.bool_)
    mean = _circular_mean(minutes, everyone, True)
    d = _circular_mean(minutes, free, True) - _circular_mean(minutes, free, False)
    if d != d:
        return mean, math.nan
    return mean, (d + 720) % MINUTES_PER_DAY - 720

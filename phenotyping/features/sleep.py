"""Sleep from 1-minute actigraphy counts: scoring, nightly summary, regularity, timing.

Everything here works on contiguous runs of 1-minute epochs (float64, NaN = missing
minute) and is pure NumPy: no calendar, no I/O, no per-minute Python loop.

Scoring
-------
* :func:`oakley` reproduces pyActigraphy 1.2.2 ``Oakley(threshold=40)`` (read from
  its source, ``sleep/scoring_base.py``) for 60-s epochs: the score of epoch ``t`` is
  ``O_t = 0.04 A_{t-2} + 0.20 A_{t-1} + 1.00 A_t + 0.20 A_{t+1} + 0.04 A_{t+2}``
  (a centred 5-epoch window, pandas ``rolling(5, center=True)``), and the epoch is
  **sleep (1) when** ``O_t < threshold`` (strictly; the pyActigraphy docstring says
  ``<=`` but its code uses ``<``), wake (0) otherwise. The weighted sum is evaluated
  left to right, ``(((0.04 A_{t-2} + 0.2 A_{t-1}) + A_t) + 0.2 A_{t+1}) + 0.04 A_{t+2}``,
  as pyActigraphy's ``np.dot`` over the window does: 1 to 14 epochs per Depresjon
  recording land within 1e-9 of 40, and another summation order (for example a
  SIMD/FMA ``np.dot``) flips some of them.
  pyActigraphy gives no score where the window is incomplete (the first and last two
  epochs, and any window touching a NaN) and then turns that NaN into **wake**
  (``(NaN < 40)`` is False). Here ``missing="nan"`` (default) keeps NaN there and
  ``missing="wake"`` reproduces pyActigraphy bit for bit.
* :func:`cole_kripke` is the 1-minute Cole-Kripke (1992) scorer as ActiGraph's
  ActiLife applies it to ActiGraph axis-1 counts (counts / 100, capped at 300;
  ``D = 0.001 (106 A_{t-4} + 54 A_{t-3} + 58 A_{t-2} + 76 A_{t-1} + 230 A_t + 74 A_{t+1}
  + 67 A_{t+2})``; sleep when ``D < 1``), ActiLife's scorer for adults. Oakley's 40
  was set for Actiwatch counts and ActiGraph counts are on another scale, yet on the
  two MMASH nights (ActiGraph, ActiLife summary with an unknown algorithm) Oakley-40
  came closer to the device's TST than this scorer (-2 and -6 min against +21 and
  +21 min, after extrapolating over missing minutes); neither is validated here.

Night ("sleep day")
-------------------
The night ending on the morning of local date ``D`` is labelled ``D`` and covers local
``D-1 12:00`` to ``D 12:00`` (1440 minutes; 1380 or 1500 on a daylight-saving night).
:func:`summarise_sleep` (and :func:`night_summary`, which scores with Oakley first)
summarises one such window. Without an in-bed window the **main sleep period** is
found with the block-bridging rule of HDCZA (van Hees et al., Sci Rep 8:12975, 2018)
applied to epoch scores: runs of at least ``min_bout`` consecutive sleep minutes are
candidate blocks, blocks separated by gaps of at most ``max_gap`` (60) minutes are
merged (HDCZA bridges gaps of *less than* 60 min), and the longest merged block is the
main sleep period (earliest on a tie). HDCZA's candidate blocks last >= 30 min, but it
thresholds a smoothed arm angle, while epoch scores are interrupted by single wake
epochs: on the 1040 complete noon-to-noon nights of Depresjon scored with Oakley-40,
``min_bout=30`` leaves 41 % of nights with a main period under 3 h, ``min_bout=10``
(the default) 1 % (median period 8.7 h). With ``min_bout=5, max_gap=9`` the rule is
close to Tudor-Locke et al. (Appl Physiol Nutr Metab 2014): bedtime = 5 sleep minutes,
end = 10 wake minutes; add ``min_duration=160`` for their shortest period.

Long runs of zero counts while the device is off the wrist score as sleep with any
count-threshold scorer: with the defaults, 32 % of those Depresjon nights get a main
period over 12 h, mostly nights with 70 % or more zero minutes. Pass non-wear minutes
as NaN. See :func:`summarise_sleep` for every derived quantity
and how missing minutes count.

Regularity and timing over many days
------------------------------------
* :func:`sri_phillips`: the Sleep Regularity Index of Phillips et al. (Sci Rep
  7:3216, 2017), ``-100 + 200 * (concordant pairs / valid pairs)`` over all pairs of
  epochs exactly 24 h apart; pairs with a NaN are left out.
* :func:`sri_pyactigraphy`: what pyActigraphy 1.2.2 ``SleepRegularityIndex``
  computes (``sleep/scoring/sri.py``): for every time of day the probability that two
  *consecutive* samples of that time of day agree, then ``200 * mean - 100`` over the
  1440 times of day. **How the two differ:** pyActigraphy averages 1440 per-minute
  probabilities with equal weight, Phillips pools all pairs, so a time of day seen on
  more days (partial first/last days) weighs more in Phillips. They are equal when the
  recording is a whole number of days without NaN. pyActigraphy also groups by clock
  time of its index (with sample-index time, as here, that is "24 h apart"), and its
  scorer turns edge and missing epochs into wake. On the 55 Depresjon recordings the
  two differ by up to 0.53 SRI points.
* :func:`sleep_midpoint_pyactigraphy`: pyActigraphy 1.2.2 ``SleepMidPoint(to_td=False)``
  (``sleep/scoring/smp.py``): ``1440 / 2pi * atan2(sum s_t sin(2pi t/1440),
  sum s_t cos(2pi t/1440))`` over all epochs, ``t`` = minute of day, so a value in
  (-720, 720] minutes from midnight (negative = before midnight).
* :func:`circular_mean_minutes` and :func:`social_jet_lag` work on per-night midpoints.

Examples
--------
A night of 1440 minutes from noon: active until 23:00, still until 07:00, active after.

>>> import numpy as np
>>> counts = np.full(1440, 100.0)
>>> counts[660:1140] = 0.0                         # 23:00 .. 07:00
>>> s = night_summary(counts)
>>> s["onset_clock_min"], s["offset_clock_min"], s["tst_min"], s["midpoint_clock_min"]
(1380.0, 420.0, 480.0, 180.0)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phenotyping.features.time import MINUTES_PER_DAY

__all__ = [
    "MINUTES_PER_DAY",
    "NIGHT_KEYS",
    "circular_mean_minutes",
    "cole_kripke",
    "main_sleep_period",
    "night_summary",
    "noon_to_noon",
    "oakley",
    "oakley_activity",
    "sleep_midpoint_pyactigraphy",
    "social_jet_lag",
    "sri_phillips",
    "sri_pyactigraphy",
    "summarise_sleep",
]

NOON = 720

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

# pyActigraphy 1.2.2, Oakley, 60-s epochs: W_{-2}, W_{-1}, W_0, W_{+1}, W_{+2}.
_OAKLEY_W = (0.04, 0.20, 1.00, 0.20, 0.04)
# ActiLife Cole-Kripke, 60-s epochs: W_{-4} .. W_{+2}, times 0.001, counts / 100 <= 300.
_CK_W = (106.0, 54.0, 58.0, 76.0, 230.0, 74.0, 67.0)
_CK_BEFORE = 4

#: Keys of the dict returned by :func:`summarise_sleep` / :func:`night_summary`.
NIGHT_KEYS = (
    "onset_min",
    "offset_min",
    "midpoint_min",
    "onset_clock_min",
    "offset_clock_min",
    "midpoint_clock_min",
    "spt_min",
    "tib_min",
    "tst_min",
    "waso_min",
    "se",
    "sol_min",
    "n_awakenings",
    "missing_min",
    "valid_min",
)

Missing = Literal["nan", "wake"]


def _as_series(x: ArrayLike) -> F64:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D series of minutes, got shape {a.shape}")
    return a


def _weighted_window(x: F64, weights: tuple[float, ...], before: int) -> F64:
    """``sum_i w_i x[t - before + i]``, summed left to right; NaN where incomplete."""
    n, k = x.size, len(weights)
    out = np.full(n, np.nan)
    if n < k:
        return out
    m = n - k + 1
    acc = np.zeros(m)
    term = np.empty(m)
    for i, w in enumerate(weights):  # k terms, each vectorised over all epochs
        # acc = acc + w * x[i : i + m], in place (same operations, no temporaries)
        np.multiply(w, x[i : i + m], out=term)
        np.add(acc, term, out=acc)
    out[before : before + m] = acc
    return out


def _to_sleep(sleep_if: B, defined: B, missing: Missing) -> F64:
    if missing not in ("nan", "wake"):
        raise ValueError(f"missing must be 'nan' or 'wake', got {missing!r}")
    out = sleep_if.astype(np.float64)
    if missing == "nan":
        out[~defined] = np.nan
    return out


def oakley_activity(counts: ArrayLike) -> F64:
    """Oakley's weighted activity score ``O_t`` for 60-s epochs (pyActigraphy 1.2.2).

    Parameters
    ----------
    counts : array_like
        1-minute activity counts, NaN = missing minute.

    Returns
    -------
    numpy.ndarray
        ``0.04 A_{t-2} + 0.2 A_{t-1} + A_t + 0.2 A_{t+1} + 0.04 A_{t+2}``, summed left to
        right; NaN for the first and last two epochs and wherever the window holds a NaN.

    Examples
    --------
    >>> oakley_activity([0, 0, 100, 0, 0, 0]).tolist()
    [nan, nan, 100.0, 20.0, nan, nan]
    """
    x = _as_series(counts)
    return _weighted_window(x, _OAKLEY_W, 2)


def oakley(counts: ArrayLike, threshold: float = 40.0, *, missing: Missing = "nan") -> F64:
    """Oakley sleep/wake scoring of 60-s epochs, as pyActigraphy 1.2.2 ``Oakley``.

    Parameters
    ----------
    counts : array_like
        1-minute activity counts (Actiwatch scale for the default threshold), NaN =
        missing minute.
    threshold : float, default 40
        Sleep when the weighted score is strictly below it (pyActigraphy's "medium"
        sensitivity default).
    missing : {"nan", "wake"}, default "nan"
        Score of epochs whose 5-minute window is incomplete (first/last two epochs, or a
        NaN within two minutes). ``"wake"`` is pyActigraphy's behaviour.

    Returns
    -------
    numpy.ndarray
        1.0 = sleep, 0.0 = wake, NaN = not scored.

    Examples
    --------
    >>> x = [0, 0, 0, 39, 0, 0, 200, 0, 0, 0]
    >>> oakley(x)
    array([nan, nan, 1., 1., 1., 0., 0., 0., nan, nan])
    >>> oakley(x, missing="wake")
    array([0., 0., 1., 1., 1., 0., 0., 0., 0., 0.])

    The comparison is strict: a score of exactly 40 is wake.

    >>> oakley([0, 0, 40, 0, 0])[2]
    np.float64(0.0)
    """
    score = oakley_activity(counts)
    defined = ~np.isnan(score)
    with np.errstate(invalid="ignore"):
        below = score < threshold
    return _to_sleep(below & defined, defined, missing)


def cole_kripke(counts: ArrayLike, *, missing: Missing = "nan") -> F64:
    """Cole-Kripke (1992) 1-minute scoring as ActiLife applies it to ActiGraph axis 1.

    ``A = min(counts / 100, 300)``, ``D = 0.001 (106 A_{t-4} + 54 A_{t-3} + 58 A_{t-2}
    + 76 A_{t-1} + 230 A_t + 74 A_{t+1} + 67 A_{t+2})``, sleep when ``D < 1``.

    Parameters
    ----------
    counts : array_like
        1-minute ActiGraph axis-1 counts, NaN = missing minute.
    missing : {"nan", "wake"}, default "nan"
        Score where the 7-minute window is incomplete (first four and last two epochs,
        or a NaN in the window). ActiLife pads the series edges with zero counts
        instead; that only matters at the very ends of a recording.

    Returns
    -------
    numpy.ndarray
        1.0 = sleep, 0.0 = wake, NaN = not scored.

    Examples
    --------
    ``D`` for a lone epoch of 435 counts is ``0.001 * 230 * 4.35 = 1.0005`` (wake);
    its neighbours see ``0.001 * 106 * 4.35`` etc., all below 1 (sleep).

    >>> cole_kripke([0, 0, 0, 0, 435, 0, 0, 0, 0, 0, 0])
    array([nan, nan, nan, nan,  0.,  1.,  1.,  1.,  1., nan, nan])
    """
    x = _as_series(counts)
    a = np.minimum(x / 100.0, 300.0)
    d = 0.001 * _weighted_window(a, _CK_W, _CK_BEFORE)
    defined = ~np.isnan(d)
    with np.errstate(invalid="ignore"):
        below = d < 1.0
    return _to_sleep(below & defined, defined, missing)


def _runs(mask: B) -> tuple[I64, I64]:
    """Start (inclusive) and end (exclusive) indices of the runs of True."""
    # np.diff(mask, prepend=0, append=0) without np.diff's Python layer: a run starts
    # where the mask rises and ends (exclusive) where it falls
    m = mask.view(np.int8) if mask.dtype == np.bool_ else mask.astype(np.int8)
    n = m.size
    d = np.empty(n + 1, np.int8)
    if n:
        d[0] = m[0]
        np.subtract(m[1:], m[:-1], out=d[1:n])
        d[n] = -m[-1]
    else:
        d[0] = 0
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def main_sleep_period(
    sleep: ArrayLike, *, min_bout: int = 10, max_gap: int = 60, min_duration: int = 0
) -> tuple[int, int] | None:
    """Main sleep period of one window: HDCZA-style bridging of sleep bouts.

    Runs of at least ``min_bout`` consecutive sleep epochs are candidate blocks; blocks
    separated by at most ``max_gap`` epochs (of wake or NaN) are merged; the longest
    merged block (first one on a tie) is returned if it lasts at least ``min_duration``
    epochs. A NaN epoch is never sleep, so it cannot start or extend a bout, but it can
    lie inside a bridged gap.

    Parameters
    ----------
    sleep : array_like
        Scores, 1 = sleep, 0 = wake, NaN = not scored.
    min_bout : int, default 10
        Shortest run of sleep epochs that counts as a candidate block (HDCZA: 30 min of
        its arm-angle criterion; see the module notes).
    max_gap : int, default 60
        Longest gap bridged between blocks (HDCZA bridges gaps shorter than 60 min).
    min_duration : int, default 0
        Shortest main period accepted, bridged gaps included (Tudor-Locke: 160).

    Returns
    -------
    tuple of int or None
        ``(start, end)``: index of the first sleep epoch and one past the last, or None
        when no run reaches ``min_bout`` or the longest block is below ``min_duration``.

    Examples
    --------
    Bouts of 40 and 50 minutes 20 minutes apart merge; a later 45-minute bout 90
    minutes away does not, and the merged block (110 min) is the longest.

    >>> s = np.r_[np.zeros(10), np.ones(40), np.zeros(20), np.ones(50), np.zeros(90),
    ...           np.ones(45), np.zeros(5)]
    >>> main_sleep_period(s)
    (10, 120)
    >>> main_sleep_period(s, max_gap=10)
    (70, 120)
    >>> main_sleep_period(s, min_duration=120) is None
    True

    NaN is not sleep: two 29-minute runs split by one NaN are no 30-minute bout, but
    they are bridged when both count as bouts.

    >>> x = np.r_[np.ones(29), np.nan, np.ones(29)]
    >>> main_sleep_period(x, min_bout=30) is None
    True
    >>> main_sleep_period(x)
    (0, 59)
    """
    s = _as_series(sleep)
    if min_bout < 1 or max_gap < 0:
        raise ValueError("min_bout must be >= 1 and max_gap >= 0")
    starts, ends = _runs(s == 1.0)
    keep = (ends - starts) >= min_bout
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return None
    new_block = np.r_[True, (starts[1:] - ends[:-1]) > max_gap]
    first = np.flatnonzero(new_block)
    last = np.r_[first[1:] - 1, starts.size - 1]
    b_start, b_end = starts[first], ends[last]
    k = int(np.argmax(b_end - b_start))
    if b_end[k] - b_start[k] < min_duration:
        return None
    return int(b_start[k]), int(b_end[k])


def _clock(elapsed: float, start_clock_min: float, clock_jump: tuple[int, float] | None) -> float:
    c = start_clock_min + elapsed
    if clock_jump is not None and elapsed >= clock_jump[0]:
        c += clock_jump[1]
    return float(c % MINUTES_PER_DAY)


def summarise_sleep(
    sleep: ArrayLike,
    *,
    in_bed: tuple[int, int] | None = None,
    min_bout: int = 10,
    max_gap: int = 60,
    min_duration: int = 0,
    start_clock_min: float = NOON,
    clock_jump: tuple[int, float] | None = None,
) -> dict[str, float]:
    """Summary of one night window of sleep/wake scores (noon to noon by convention).

    Two modes:

    * **In-bed window given** (e.g. device-reported bed/rise times, as indices
      ``(in, out)`` into the window, ``out`` exclusive): ActiLife's conventions, so that
      ``sol + tst + waso + missing = tib``. Onset = first sleep epoch at or after
      ``in``; offset = one past the last sleep epoch before ``out``; TIB = ``out - in``;
      SOL = ``onset - in``; TST and WASO = sleep and wake epochs from onset to ``out``
      (so WASO includes lying awake after the final awakening).
    * **No in-bed window**: the main sleep period of :func:`main_sleep_period` gives
      onset and offset; TIB is then only a proxy, the sleep period time
      ``offset - onset``; TST and WASO = sleep and wake epochs within the period; SOL is
      undefined (NaN), because nothing tells when the person went to bed.

    Parameters
    ----------
    sleep : array_like
        Scores (1 sleep, 0 wake, NaN not scored) of one window, e.g. 1440 minutes from
        local noon (1380 or 1500 on a daylight-saving night).
    in_bed : tuple of int, optional
        ``(in, out)`` epoch indices of the in-bed window, ``0 <= in < out <= len``.
    min_bout, max_gap, min_duration : int
        Main-sleep-period rule, see :func:`main_sleep_period` (unused with ``in_bed``).
    start_clock_min : float, default 720
        Local clock time (minutes after midnight) of epoch 0: noon.
    clock_jump : tuple, optional
        ``(index, minutes)``: the local clock jumps by ``minutes`` (+60 spring, -60
        autumn) from epoch ``index`` on; used only to convert to clock times.

    Returns
    -------
    dict
        ``NIGHT_KEYS``, all floats, NaN where undefined (no sleep found):
        ``onset_min``, ``offset_min``, ``midpoint_min`` (elapsed minutes since epoch 0;
        midpoint = ``(onset + offset) / 2``), ``*_clock_min`` (the same as local clock
        minutes after midnight, in [0, 1440)), ``spt_min`` (``offset - onset``),
        ``tib_min``, ``tst_min``, ``waso_min``, ``se`` (TST / TIB, a fraction),
        ``sol_min``, ``n_awakenings`` (runs of wake epochs from onset to the end of the
        period), ``missing_min`` (NaN epochs from onset to the end of the period; TST and
        WASO count only scored epochs, so a night with many missing minutes has a low
        SE -- check this before trusting the night) and ``valid_min`` (scored epochs in
        the whole window).

    Examples
    --------
    Scores from noon: wake, then sleep from 23:00 interrupted 01:00-01:20, wake at 07:00.

    >>> s = np.zeros(1440)
    >>> s[660:1140] = 1.0
    >>> s[780:800] = 0.0
    >>> r = summarise_sleep(s)
    >>> r["onset_clock_min"], r["offset_clock_min"], r["tst_min"], r["waso_min"], r["se"]
    (1380.0, 420.0, 460.0, 20.0, 0.958...)
    >>> r["sol_min"]
    nan

    The same night with the person in bed from 22:30 to 07:30:

    >>> r = summarise_sleep(s, in_bed=(630, 1170))
    >>> r["sol_min"], r["tib_min"], r["tst_min"], r["waso_min"], r["n_awakenings"]
    (30.0, 540.0, 460.0, 50.0, 2.0)
    """
    s = _as_series(sleep)
    n = s.size
    out = dict.fromkeys(NIGHT_KEYS, np.nan)
    out["valid_min"] = float(np.count_nonzero(~np.isnan(s)))
    is_sleep = s == 1.0
    if in_bed is not None:
        a, b = int(in_bed[0]), int(in_bed[1])
        if not 0 <= a < b <= n:
            raise ValueError(f"in_bed must satisfy 0 <= in < out <= {n}, got {in_bed}")
        out["tib_min"] = float(b - a)
        idx = np.flatnonzero(is_sleep[a:b])
        if idx.size == 0:
            return out
        onset, offset, end = a + int(idx[0]), a + int(idx[-1]) + 1, b
        out["sol_min"] = float(onset - a)
    else:
        period = main_sleep_period(s, min_bout=min_bout, max_gap=max_gap, min_duration=min_duration)
        if period is None:
            return out
        onset, offset = period
        end = offset
        out["tib_min"] = float(offset - onset)
    seg = s[onset:end]
    wake = seg == 0.0
    tst = float(np.count_nonzero(seg == 1.0))
    mid = 0.5 * (onset + offset)
    out.update(
        onset_min=float(onset),
        offset_min=float(offset),
        midpoint_min=mid,
        onset_clock_min=_clock(onset, start_clock_min, clock_jump),
        offset_clock_min=_clock(offset, start_clock_min, clock_jump),
        midpoint_clock_min=_clock(mid, start_clock_min, clock_jump),
        spt_min=float(offset - onset),
        tst_min=tst,
        waso_min=float(np.count_nonzero(wake)),
        se=tst / out["tib_min"],
        n_awakenings=float(_runs(wake)[0].size),
        missing_min=float(np.count_nonzero(np.isnan(seg))),
    )
    return out


def night_summary(
    counts: ArrayLike,
    *,
    threshold: float = 40.0,
    in_bed: tuple[int, int] | None = None,
    min_bout: int = 10,
    max_gap: int = 60,
    min_duration: int = 0,
    start_clock_min: float = NOON,
    clock_jump: tuple[int, float] | None = None,
) -> dict[str, float]:
    """Oakley-score one night window of counts, then :func:`summarise_sleep` it.

    Parameters
    ----------
    counts : array_like
        1-minute counts of one window (1440 minutes from local noon; 1380/1500 on a
        daylight-saving night), NaN = missing minute. The first and last two minutes
        (noon) are not scored, as Oakley's window is incomplete there.
    threshold : float, default 40
        Oakley threshold (Actiwatch counts).
    in_bed, min_bout, max_gap, min_duration, start_clock_min, clock_jump
        As in :func:`summarise_sleep`.

    Returns
    -------
    dict
        See :func:`summarise_sleep`.

    Examples
    --------
    >>> counts = np.full(1440, 150.0)
    >>> counts[600:1080] = 0.0          # still 22:00 .. 06:00
    >>> counts[700:705] = 300.0         # a 5-minute awakening
    >>> r = night_summary(counts)
    >>> r["onset_clock_min"], r["offset_clock_min"], r["tst_min"], r["waso_min"]
    (1320.0, 360.0, 473.0, 7.0)
    """
    return summarise_sleep(
        oakley(counts, threshold),
        in_bed=in_bed,
        min_bout=min_bout,
        max_gap=max_gap,
        min_duration=min_duration,
        start_clock_min=start_clock_min,
        clock_jump=clock_jump,
    )


def noon_to_noon(x: ArrayLike, start_minute_of_day: int) -> tuple[F64, int]:
    """Cut a contiguous minute series into noon-to-noon rows (sample-index time).

    Parameters
    ----------
    x : array_like
        1-minute series, sample ``k`` at local minute of day
        ``(start_minute_of_day + k) mod 1440`` (no daylight-saving jumps).
    start_minute_of_day : int
        Local minute of day of the first sample.

    Returns
    -------
    days : numpy.ndarray
        Shape ``(n_nights, 1440)``; row ``j`` covers 12:00 to 12:00 and is NaN-padded
        before the first and after the last sample.
    label_offset : int
        Row ``j`` is the night labelled ``date_of_first_sample + label_offset + j``
        (0 when the series starts before noon, else 1).

    Examples
    --------
    >>> days, off = noon_to_noon(np.arange(3.0), start_minute_of_day=1439)   # 23:59
    >>> days.shape, off, days[0, 719], days[0, 722]
    ((1, 1440), 1, np.float64(0.0), np.float64(nan))
    """
    a = _as_series(x)
    lead = (int(start_minute_of_day) - NOON) % MINUTES_PER_DAY
    n_rows = -(-(lead + a.size) // MINUTES_PER_DAY)
    buf = np.full(n_rows * MINUTES_PER_DAY, np.nan)
    buf[lead : lead + a.size] = a
    label_offset = 0 if int(start_minute_of_day) % MINUTES_PER_DAY < NOON else 1
    return buf.reshape(n_rows, MINUTES_PER_DAY), label_offset


def sri_phillips(sleep: ArrayLike, *, epochs_per_day: int = MINUTES_PER_DAY) -> float:
    """Sleep Regularity Index of Phillips et al. (2017), NaN pairs excluded.

    ``SRI = -100 + 200 * C / P`` where ``P`` is the number of pairs of epochs exactly one
    day apart that are both scored and ``C`` how many of them agree (both sleep or both
    wake). With no NaN and ``N`` whole days of ``M`` epochs, ``P = M (N - 1)``: the
    published formula. 100 = identical days, 0 = random.

    Parameters
    ----------
    sleep : array_like
        1-D scores (1 sleep, 0 wake, NaN not scored) in contiguous epochs, or 2-D
        ``(days, epochs_per_day)`` rows of consecutive days (``epochs_per_day`` is then
        the row length).
    epochs_per_day : int, default 1440
        Lag, in epochs, of "the same time the next day" for 1-D input.

    Returns
    -------
    float
        NaN when no valid pair exists.

    Examples
    --------
    >>> day = np.r_[np.ones(480), np.zeros(960)]
    >>> sri_phillips(np.tile(day, 3))
    100.0
    >>> half = np.r_[np.ones(720), np.zeros(720)]
    >>> sri_phillips(np.r_[half, 1 - half])          # second day fully out of phase
    -100.0
    >>> sri_phillips(np.r_[day, np.roll(day, 720)])  # agree only in 480 of 1440 minutes
    -33.33...
    >>> sri_phillips(np.vstack([day, np.full(1440, np.nan)]))
    nan
    """
    a = np.asarray(sleep, dtype=np.float64)
    if a.ndim == 2:
        epochs_per_day = a.shape[1]
        a = a.ravel()
    a = _as_series(a)
    if a.size <= epochs_per_day:
        return float("nan")
    u, v = a[:-epochs_per_day], a[epochs_per_day:]
    ok = ~(np.isnan(u) | np.isnan(v))
    p = int(np.count_nonzero(ok))
    if p == 0:
        return float("nan")
    c = int(np.count_nonzero(ok & (u == v)))
    return -100.0 + 200.0 * c / p


def sri_pyactigraphy(sleep: ArrayLike, *, epochs_per_day: int = MINUTES_PER_DAY) -> float:
    """pyActigraphy 1.2.2 ``SleepRegularityIndex`` on already-scored epochs.

    For each of the ``epochs_per_day`` times of day, the mean agreement of consecutive
    samples of that time of day (``mean(1 - |diff|)``); the SRI is ``200 * mean - 100``
    over the times of day, each weighing the same (see the module notes for how this
    differs from :func:`sri_phillips`). To reproduce ``SleepRegularityIndex(
    algo='Oakley', threshold=40)`` pass ``oakley(counts, 40, missing="wake")``.

    Parameters
    ----------
    sleep : array_like
        1-D scores in contiguous epochs (1 sleep, 0 wake, NaN not scored).
    epochs_per_day : int, default 1440

    Returns
    -------
    float
        NaN when the series is shorter than two days (pyActigraphy then also gives
        NaN: some time of day has a single sample). NaN epochs are not in pyActigraphy's
        scorer output; here a pair with a NaN is left out and a time of day without any
        valid pair is left out of the mean (NaN if none is left).

    Examples
    --------
    Two days agree everywhere, the third disagrees in its first 720 epochs: times of
    day 0..719 score 1/2, the others 1, so the mean is 0.75 and the SRI 50. Phillips
    pools the 2880 pairs: also 0.75 here because every time of day has two pairs.

    >>> d = np.r_[np.ones(480), np.zeros(960)]
    >>> x = np.r_[d, d, 1 - d[:720], d[720:]]
    >>> sri_pyactigraphy(x), sri_phillips(x)
    (50.0, 50.0)

    With a partial third day the weighting differs: pyActigraphy still averages 0.5
    (times 0..719) and 1 (the others, one agreeing pair), Phillips pools 1440 agreeing
    and 720 disagreeing pairs (2/3):

    >>> y = np.r_[d, d, 1 - d[:720]]
    >>> round(sri_pyactigraphy(y), 6), round(sri_phillips(y), 6)
    (50.0, 33.333333)
    """
    a = _as_series(sleep)
    m = int(epochs_per_day)
    if a.size < 2 * m:
        return float("nan")
    n_rows = -(-a.size // m)
    buf = np.full(n_rows * m, np.nan)
    buf[: a.size] = a
    grid = buf.reshape(n_rows, m)
    agree = 1.0 - np.abs(np.diff(grid, axis=0))
    ok = ~np.isnan(agree)
    n_pairs = ok.sum(axis=0)
    total = np.where(ok, agree, 0.0).sum(axis=0)
    has = n_pairs > 0
    if not has.any():
        return float("nan")
    prob = total[has] / n_pairs[has]
    return float(200.0 * np.mean(prob) - 100.0)


def sleep_midpoint_pyactigraphy(sleep: ArrayLike, start_minute_of_day: float) -> float:
    """pyActigraphy 1.2.2 ``SleepMidPoint(to_td=False)`` on already-scored epochs.

    ``1440 / (2 pi) * atan2(sum s_k sin(theta_k), sum s_k cos(theta_k))`` with
    ``theta_k = 2 pi ((start_minute_of_day + k) mod 1440) / 1440``: the circular mean
    time of day of all sleep epochs. To reproduce ``SleepMidPoint(algo='Oakley',
    to_td=False, threshold=40)`` pass ``oakley(counts, 40, missing="wake")``.

    Parameters
    ----------
    sleep : array_like
        1-D scores in contiguous 1-minute epochs; NaN epochs add nothing.
    start_minute_of_day : float
        Local minute of day of the first epoch (sample-index time).

    Returns
    -------
    float
        Minutes from midnight in (-720, 720] (negative = before midnight). NaN when no
        epoch is sleep (pyActigraphy returns ``atan2(0, 0) = 0`` there).

    Examples
    --------
    Sleep epochs 22:00 to 05:59 every day. An epoch is stamped with its start minute,
    so the mean of the stamps 22:00 .. 05:59 is 01:59:30:

    >>> day = np.zeros(1440)
    >>> day[:360] = 1.0
    >>> day[1320:] = 1.0
    >>> round(sleep_midpoint_pyactigraphy(np.tile(day, 3), 0), 9)
    119.5
    >>> late = np.roll(day, -180)                  # 19:00 .. 02:59 -> 22:59:30
    >>> round(sleep_midpoint_pyactigraphy(late, 0), 9)
    -60.5
    """
    a = _as_series(sleep)
    w = np.where(np.isnan(a), 0.0, a)
    if not np.any(w != 0.0):
        return float("nan")
    msm = (float(start_minute_of_day) + np.arange(a.size)) % MINUTES_PER_DAY
    theta = msm * (2.0 * np.pi) / MINUTES_PER_DAY
    angle = np.arctan2(np.sum(w * np.sin(theta)), np.sum(w * np.cos(theta)))
    return float(MINUTES_PER_DAY / (2.0 * np.pi) * angle)


def circular_mean_minutes(minutes: ArrayLike, *, period: float = MINUTES_PER_DAY) -> float:
    """Circular mean of clock times in minutes after midnight, NaN values ignored.

    Parameters
    ----------
    minutes : array_like
        Clock times (any real values; taken modulo ``period``).
    period : float, default 1440

    Returns
    -------
    float
        Mean in [0, period); NaN with no value or when the times cancel out (resultant
        length below 1e-9, e.g. two times 12 h apart).

    Examples
    --------
    23:30 and 00:30 average to midnight, not to noon:

    >>> circular_mean_minutes([1410.0, 30.0])
    0.0
    >>> circular_mean_minutes([1380.0, 60.0, np.nan])        # 23:00 and 01:00
    0.0
    >>> circular_mean_minutes([120.0, 240.0])
    180.0...
    >>> circular_mean_minutes([0.0, 720.0])
    nan
    """
    a = np.asarray(minutes, dtype=np.float64).ravel()
    a = a[~np.isnan(a)]
    if a.size == 0:
        return float("nan")
    theta = a * (2.0 * np.pi / period)
    # np.mean spelt out (the same pairwise sum divided by the count)
    s, c = (
        float(np.add.reduce(np.sin(theta))) / a.size,
        float(np.add.reduce(np.cos(theta))) / a.size,
    )
    if np.hypot(s, c) < 1e-9:
        return float("nan")
    m = (np.arctan2(s, c) * period / (2.0 * np.pi)) % period
    # Snap values within 1e-9 of a full period (rounding of atan2 near 0) to 0.
    return 0.0 if period - m < 1e-9 or m < 1e-9 else float(m)


def social_jet_lag(midpoints: ArrayLike, free: ArrayLike) -> float:
    """Signed social jet lag: mean sleep midpoint on free nights minus on work nights.

    Both means are circular (:func:`circular_mean_minutes`), and the difference is
    wrapped into [-720, 720); positive = later on free days. The classic SJL of Wittmann
    et al. (Chronobiol Int 2006) is its absolute value.

    Day convention: the night labelled ``D`` (ending on the morning of ``D``) is a
    *free night* when ``D`` is a free day. With Python's ``date.weekday()`` (Monday 0 ..
    Sunday 6) and a Monday-Friday work week that is ``free = np.isin(weekday, (5, 6))``:
    Friday->Saturday and Saturday->Sunday nights are free, Sunday->Monday is a work
    night, as in the MCTQ. Holidays are simply marked free by the caller.

    Parameters
    ----------
    midpoints : array_like
        Per-night sleep midpoints, minutes after midnight; NaN = no valid night.
    free : array_like of bool
        Same length: True for a free night.

    Returns
    -------
    float
        Minutes; NaN when either group has no valid midpoint.

    Examples
    --------
    >>> mids = np.array([180.0, 180.0, 180.0, 180.0, 180.0, 270.0, 240.0])   # Mon..Sun
    >>> weekday = np.arange(7)
    >>> social_jet_lag(mids, np.isin(weekday, (5, 6)))
    75.0...
    >>> social_jet_lag([1410.0, 30.0], [False, True])        # 23:30 vs 00:30
    60.0...
    """
    m = np.asarray(midpoints, dtype=np.float64).ravel()
    f = np.asarray(free, dtype=bool).ravel()
    if m.shape != f.shape:
        raise ValueError(f"midpoints and free differ in length: {m.size} vs {f.size}")
    d = circular_mean_minutes(m[f]) - circular_mean_minutes(m[~f])
    if np.isnan(d):
        return float("nan")
    return float((d + NOON) % MINUTES_PER_DAY - NOON)

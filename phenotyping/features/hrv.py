"""Heart-rate variability (HRV), time domain, from RR/NN intervals in milliseconds.

The pipeline is: place beats in time (:func:`beat_times`), edit artefacts
(:func:`artefact_mask`), then either compute metrics directly (:func:`time_domain`) or
reduce beats to additive per-bin sums (:func:`segment_sums`), add sums up
(:func:`combine`) and turn them into metrics later (:func:`metrics_from_sums`). Both
routes give the same numbers (to floating-point rounding), so a stream engine can keep a
night as a few hundred bytes of sums instead of every beat.

Vocabulary
    *Interval* ``rr[i]`` is the time from one R-peak to the next, in ms, float64.
    *Beat* ``i`` is the R-peak that **closes** ``rr[i]``; the interval is stamped with the
    time of that beat. *Burst* is one contiguous recording (one message): consecutive
    intervals in a burst share an R-peak. Different bursts never do, so nothing -- no
    successive difference, no ectopic reference -- ever spans a burst boundary. Pass one
    burst at a time, or several concatenated with ``burst_start`` marking where each
    begins.

Missing data
    A non-finite (NaN) or non-positive interval is never kept, whatever the keep-mask
    says, and breaks the successive differences on both sides of it, exactly like an
    edited beat. :func:`beat_times` refuses it, because the beats after it cannot be
    placed.

Artefact rules
    1. *Range*: keep ``rr_min_ms <= rr <= rr_max_ms`` (default 250..2500 ms, i.e. 24..240
       bpm). The message schema accepts any positive RR; physiology is decided here.
    2. *Ectopic*: an in-range interval is ectopic when it deviates from a *reference*
       interval of the same burst (which one: see ``reference=`` below) by:

       * ``"kamath"`` (Kamath & Fallen 1995): ``rr > 1.325 * ref`` (more than 32.5 %
         longer) or ``rr < 0.755 * ref`` (more than 24.5 % shorter).
       * ``"malik"`` (Malik et al. 1989): ``|rr - ref| > 0.2 * ref``.
       * ``"none"``: range filter only.

       Comparisons are evaluated as ``1000*rr > 1325*ref``, ``1000*rr < 755*ref`` and
       ``5*|rr - ref| > ref``, which are exact for integer-millisecond data, so an
       interval exactly on a boundary is kept ("more than" is strict).

    Reference interval (``reference=``). "The previous *accepted* interval" is a
    recursion (whether beat i is accepted depends on whether beat i-1 was) and cannot be
    vectorised; worse, it locks in after a genuine step change in heart rate (every
    later interval differs from the last accepted one). Two vectorised choices instead:

    * ``"previous"`` (one pass): the reference is the nearest earlier **in-range**
      interval of the burst. Out-of-range intervals are skipped, so the second half of a
      split beat (258 ms + 542 ms) is compared with the normal beat before the split.
      Around a premature beat with compensatory pause (800, 500, 1100, 800) this flags
      500 and 1100 and also the normal 800 after it, compared with the 1100 pause.
    * ``"clean"`` (default, two passes): pass 1 is ``"previous"``; pass 2 compares each
      in-range interval with the nearest earlier interval of the burst that is in range
      **and was not flagged in pass 1**. On (800, 500, 1100, 800) it flags only 500 and
      1100. It approximates "previous accepted" but cannot lock in: after a genuine step
      change it flags at most the first two intervals of the new level.

    An interval with no earlier candidate in its burst (the first one) is compared with
    the nearest *later* candidate instead, so a burst that opens on an artefact (often
    the case after a dropout) is still judged; if there is no candidate at all (a burst
    of one usable interval) it is kept. In pass 2 an interval with no unflagged
    candidate keeps its pass-1 verdict. Known limitation: a run of two or more similar
    artefacts (e.g. 263, 253, 313 ms of noise) can serve as its own reference, and a
    long run of alternating missed beats (800, 1600, 800, 1600 ...) is kept in whichever
    phase the burst starts in; a local-median rule would be needed for those.

    ``keep = in_range & ~ectopic``; ``fraction_edited`` is the fraction of intervals not
    kept (removed), NaN for an empty input.

Successive differences
    ``d[i] = rr[i] - rr[i-1]`` exists only when beats ``i-1`` and ``i`` are **both kept,
    adjacent in the input and in the same burst**. An edited beat between two kept beats
    breaks the pair: the interval after a removed beat is not compared with the one
    before it (their R-peaks are not consecutive). Nothing is interpolated.

Metric conventions (keys of the returned dicts)
    ``n_beats`` intervals considered (kept or not); ``n_nn`` kept intervals; ``n_diff``
    successive differences; ``fraction_edited = 1 - n_nn / n_beats``.
    ``mean_nn`` mean of NN. ``sdnn`` sample SD of NN (ddof=1).
    ``rmssd`` sqrt(mean(d**2)). ``sdsd`` sample SD (ddof=1) of the *signed* differences
    ``d`` (Task Force 1996 definition; about equal to RMSSD). ``sdsd_pyhrv`` sample SD
    (ddof=1) of the *absolute* differences ``|d|``: this is what pyHRV 0.4/0.5 reports as
    SDSD (its ``nni_diff`` returns ``abs(diff)``), 43.391 ms on pyHRV's long sample where
    the signed SDSD is 60.530 ms. ``mean_abs_diff`` mean of ``|d|`` (pyHRV "Mean
    Delta-NNI"). ``nn50``/``nn20`` number of ``|d| > 50`` / ``> 20`` ms (strict);
    ``pnn50``/``pnn20`` = 100 * count / ``n_diff`` in percent, whose denominator is the
    number of differences (N - 1 for an uninterrupted series, as pyHRV). ``mean_hr`` is
    ``mean(60000 / NN)`` in bpm (pyHRV's convention; *not* ``60000 / mean_nn``, which is
    smaller by Jensen's inequality); ``sd_hr`` its sample SD (ddof=1).
    A metric with too few values is NaN (``mean_nn`` needs 1 NN, ``sdnn``/``sd_hr`` 2,
    ``rmssd``/``pnn*``/``mean_abs_diff`` 1 difference, ``sdsd*`` 2); counts are then 0.

Decomposable sums
    :data:`HRV_SUMS_DTYPE` holds additive sufficient statistics. Sums of NN and HR are
    **shifted** by fixed references (:data:`NN_REF_MS` = 1000 ms, :data:`HR_REF_BPM` = 60
    bpm): ``sum_nn`` is ``sum(NN - 1000)``, ``sum_nn2`` is ``sum((NN - 1000)**2)``, and
    likewise for HR. The shift keeps ``sum_nn2 - sum_nn**2 / n`` away from catastrophic
    cancellation (unshifted, the two terms are ~80x the variance on typical data).
    Differences have mean ~0 and are not shifted. A kept beat belongs to the bin that
    contains its time; a difference belongs to the bin of its **second** beat, so summing
    all bins reproduces the whole-series metrics exactly, and a window's metrics include,
    per burst, the one difference whose first beat lies just before the window start.

References
    Kamath MV, Fallen EL. Correction of the heart rate variability signal for ectopics and
    missing beats. In: Malik M, Camm AJ (eds), Heart Rate Variability, 1995, 75-85.
    Malik M, Farrell T, Cripps T, Camm AJ. Heart rate variability in relation to
    prognosis after myocardial infarction: selection of optimal processing techniques.
    Eur Heart J 1989;10:1060-74 (the 20 % rule).
    Task Force of the ESC and NASPE. Heart rate variability: standards of measurement.
    Circulation 1996;93:1043-65.
    Gomes P et al. pyHRV. Proc. IcETRAN 2019.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phenotyping.errors import InputError

__all__ = [
    "HR_REF_BPM",
    "HRV_SUMS_DTYPE",
    "METRIC_KEYS",
    "NN_REF_MS",
    "ArtefactMask",
    "Reference",
    "Rule",
    "artefact_mask",
    "beat_times",
    "combine",
    "empty_sums",
    "metrics_from_sums",
    "metrics_table",
    "segment_sums",
    "successive_diff_mask",
    "time_domain",
]

F64 = NDArray[np.float64]
B1 = NDArray[np.bool_]
IP = NDArray[np.intp]

Rule = Literal["kamath", "malik", "none"]
Reference = Literal["clean", "previous"]

NN_REF_MS = 1000.0
"""Fixed shift (ms) subtracted from every NN before it is summed."""
HR_REF_BPM = 60.0
"""Fixed shift (bpm) subtracted from every instantaneous HR before it is summed."""

HRV_SUMS_DTYPE = np.dtype(
    [
        ("n_beats", np.int64),  # intervals whose beat falls in the bin, kept or not
        ("n_kept", np.int64),  # kept (NN) intervals
        ("sum_nn", np.float64),  # sum(NN - NN_REF_MS)
        ("sum_nn2", np.float64),  # sum((NN - NN_REF_MS)**2)
        ("n_diff", np.int64),  # successive differences (second beat in the bin)
        ("sum_diff", np.float64),  # sum(d)
        ("sum_diff2", np.float64),  # sum(d**2)
        ("sum_abs_diff", np.float64),  # sum(|d|)
        ("nn50", np.int64),  # count |d| > 50 ms
        ("nn20", np.int64),  # count |d| > 20 ms
        ("sum_hr", np.float64),  # sum(60000/NN - HR_REF_BPM)
        ("sum_hr2", np.float64),  # sum((60000/NN - HR_REF_BPM)**2)
    ]
)
"""Additive sufficient statistics of one bin; see the module docstring for the shifts."""

METRIC_KEYS: tuple[str, ...] = (
    "n_beats",
    "n_nn",
    "n_diff",
    "fraction_edited",
    "mean_nn",
    "sdnn",
    "rmssd",
    "sdsd",
    "sdsd_pyhrv",
    "mean_abs_diff",
    "nn50",
    "pnn50",
    "nn20",
    "pnn20",
    "mean_hr",
    "sd_hr",
)
"""Keys of :func:`time_domain` and :func:`metrics_from_sums`, in this order."""


class ArtefactMask(NamedTuple):
    """Result of :func:`artefact_mask`; all arrays have the length of the input."""

    keep: B1
    """True for an accepted (NN) interval: ``in_range & ~ectopic``."""
    in_range: B1
    """True where ``rr_min_ms <= rr <= rr_max_ms`` (False for NaN)."""
    ectopic: B1
    """True for an in-range interval rejected by the ectopic rule."""
    fraction_edited: float
    """Fraction of intervals removed, ``1 - keep.mean()``; NaN if there are none."""


# ----------------------------------------------------------------------------- helpers


def _as_rr(rr_ms: ArrayLike, name: str = "rr_ms") -> F64:
    rr = np.asarray(rr_ms, dtype=np.float64)
    if rr.ndim != 1:
        raise InputError(f"{name}: expected a 1-D array of intervals, got shape {rr.shape}")
    return rr


def _as_mask(mask: ArrayLike | None, n: int, name: str) -> B1 | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.shape != (n,):
        raise InputError(
            f"{name}: expected a boolean array of shape ({n},), got {m.dtype} {m.shape}"
        )
    return m


def _burst_id(burst_start: B1 | None, n: int) -> IP:
    """Burst number of each interval (index 0 always starts burst 0)."""
    if burst_start is None or n == 0:
        return np.zeros(n, dtype=np.intp)
    bs = burst_start.copy()
    bs[0] = True
    return (np.cumsum(bs) - 1).astype(np.intp)


def _reference(valid: B1, bid: IP) -> IP:
    """For each i, the nearest ``valid`` interval of i's burst other than i itself:
    the largest j < i if there is one, else the smallest j > i; -1 if none."""
    n = valid.size
    if n < 2:
        return np.full(n, -1, dtype=np.intp)
    idx = np.arange(n)
    prior = np.full(n, -1, dtype=np.intp)
    prior[1:] = np.maximum.accumulate(np.where(valid, idx, -1))[:-1]
    prior = np.where((prior >= 0) & (bid[np.maximum(prior, 0)] == bid), prior, -1)
    nxt = np.full(n, n, dtype=np.intp)
    nxt[:-1] = np.minimum.accumulate(np.where(valid, idx, n)[::-1])[::-1][1:]
    nxt = np.where((nxt < n) & (bid[np.minimum(nxt, n - 1)] == bid), nxt, -1)
    return np.where(prior >= 0, prior, nxt).astype(np.intp)


def _deviates(rr: F64, ref_idx: IP, rule: Rule) -> B1:
    """Whether ``rr[i]`` breaks the rule against ``rr[ref_idx[i]]`` (False if no ref)."""
    ref = rr[np.maximum(ref_idx, 0)]
    if rule == "kamath":
        dev = (1000.0 * rr > 1325.0 * ref) | (1000.0 * rr < 755.0 * ref)
    else:
        dev = 5.0 * np.abs(rr - ref) > ref
    return (ref_idx >= 0) & dev


def _usable(rr: F64) -> B1:
    """Intervals that can ever be kept: finite and > 0."""
    return np.isfinite(rr) & (rr > 0)


def _div(num: F64, den: F64) -> F64:
    """``num / den`` where ``den > 0``, else NaN (no warning)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _sample_sd(s1: F64, s2: F64, n: F64) -> F64:
    """Sample SD (ddof=1) from ``s1 = sum(x - c)``, ``s2 = sum((x - c)**2)``; NaN if n < 2."""
    ss = np.maximum(s2 - _div(s1 * s1, n), 0.0)  # rounding can make it -0.0000001
    return np.sqrt(_div(ss, n - 1.0))


# ----------------------------------------------------------------------------- public


def beat_times(t0_ms: float, rr_ms: ArrayLike) -> F64:
    """Times (ms) of the beats closing each interval of one burst.

    ``t0_ms`` is the instant of the R-peak that **opens** ``rr[0]`` (the message's first
    beat, which has no interval of its own in the message). Beat ``i`` closes ``rr[i]``
    and occurs at ``t0 + rr[0] + ... + rr[i]``; so the first interval ends at
    ``t0 + rr[0]``, not at ``t0``. If a source stamps the *end* of the first interval
    instead, pass ``t0 - rr[0]``.

    Parameters
    ----------
    t0_ms
        Time of the opening beat, e.g. ms since the Unix epoch (float64 keeps 0.25 us
        resolution at present-day epochs).
    rr_ms
        Intervals in ms; every one must be finite and > 0.

    Returns
    -------
    numpy.ndarray
        float64, same length as ``rr_ms``.

    Raises
    ------
    InputError
        If an interval is non-finite or not positive, or ``t0_ms`` is not finite.

    Examples
    --------
    >>> beat_times(1000.0, [800.0, 810.0, 790.0])
    array([1800., 2610., 3400.])
    """
    rr = _as_rr(rr_ms)
    if not np.isfinite(t0_ms):
        raise InputError(f"t0_ms: must be finite, got {t0_ms}")
    if not np.all(np.isfinite(rr) & (rr > 0)):
        bad = int(np.flatnonzero(~(np.isfinite(rr) & (rr > 0)))[0])
        raise InputError(f"rr_ms[{bad}]: intervals must be finite and > 0, got {rr[bad]}")
    return np.float64(t0_ms) + np.cumsum(rr)


def artefact_mask(
    rr_ms: ArrayLike,
    *,
    rr_min_ms: float = 250.0,
    rr_max_ms: float = 2500.0,
    rule: Rule = "kamath",
    reference: Reference = "clean",
    burst_start: ArrayLike | None = None,
) -> ArtefactMask:
    """Range filter plus ectopic rule; returns the keep-mask and the fraction removed.

    See the module docstring for the exact rules and the reference interval.

    Parameters
    ----------
    rr_ms
        Intervals in ms (NaN allowed: never kept, never a reference).
    rr_min_ms, rr_max_ms
        Inclusive physiological range.
    rule
        ``"kamath"`` (+32.5 % / -24.5 %), ``"malik"`` (+-20 %) or ``"none"``.
    reference
        ``"clean"`` (two-pass, default) or ``"previous"`` (nearest earlier in-range
        interval; the first of a burst uses the nearest later one).
    burst_start
        Optional boolean mask, True where a new burst starts (index 0 always does). No
        reference is taken across a burst start.

    Returns
    -------
    ArtefactMask
        ``keep``, ``in_range``, ``ectopic`` and ``fraction_edited``.

    Examples
    --------
    A premature beat (500) with its compensatory pause (1100):

    >>> m = artefact_mask([800.0, 810.0, 500.0, 1100.0, 800.0, 3000.0, 790.0])
    >>> m.keep
    array([ True,  True, False, False,  True, False,  True])
    >>> round(m.fraction_edited, 4)
    0.4286
    >>> artefact_mask([800.0, 810.0, 500.0, 1100.0, 800.0], reference="previous").keep
    array([ True,  True, False, False, False])
    """
    rr = _as_rr(rr_ms)
    n = rr.size
    bs = _as_mask(burst_start, n, "burst_start")
    if rule not in ("kamath", "malik", "none"):
        raise InputError(f"rule: expected 'kamath', 'malik' or 'none', got {rule!r}")
    if reference not in ("clean", "previous"):
        raise InputError(f"reference: expected 'clean' or 'previous', got {reference!r}")
    if not rr_min_ms < rr_max_ms:
        raise InputError(f"rr_min_ms < rr_max_ms required, got {rr_min_ms}, {rr_max_ms}")
    in_range = (rr >= rr_min_ms) & (rr <= rr_max_ms)  # False for NaN
    if rule == "none" or n == 0:
        ectopic = np.zeros(n, dtype=np.bool_)
    else:
        bid = _burst_id(bs, n)
        ectopic = in_range & _deviates(rr, _reference(in_range, bid), rule)
        if reference == "clean":
            ref2 = _reference(in_range & ~ectopic, bid)
            ectopic = in_range & np.where(ref2 >= 0, _deviates(rr, ref2, rule), ectopic)
    keep = in_range & ~ectopic
    fraction = float(np.count_nonzero(~keep)) / n if n else float("nan")
    return ArtefactMask(keep=keep, in_range=in_range, ectopic=ectopic, fraction_edited=fraction)


def successive_diff_mask(keep: ArrayLike, burst_start: ArrayLike | None = None) -> B1:
    """Where a successive difference ``rr[i] - rr[i-1]`` may be taken.

    True at ``i`` when ``i >= 1``, ``keep[i]`` and ``keep[i-1]`` are both True and ``i``
    does not start a burst. A removed beat between two kept beats therefore breaks the
    pair (no difference across a gap).

    Examples
    --------
    >>> successive_diff_mask(np.array([True, True, False, True, True]))
    array([False,  True, False, False,  True])
    >>> successive_diff_mask(np.array([True, True, True]), np.array([True, False, True]))
    array([False,  True, False])
    """
    k = np.asarray(keep)
    if k.dtype != np.bool_ or k.ndim != 1:
        raise InputError(f"keep: expected a 1-D boolean array, got {k.dtype} {k.shape}")
    bs = _as_mask(burst_start, k.size, "burst_start")
    ok = np.zeros(k.size, dtype=np.bool_)
    ok[1:] = k[1:] & k[:-1]
    if bs is not None:
        ok &= ~bs
    return ok


def time_domain(
    rr_ms: ArrayLike, keep: ArrayLike | None = None, *, burst_start: ArrayLike | None = None
) -> dict[str, float]:
    """Time-domain HRV computed directly from the intervals (reference implementation).

    Parameters
    ----------
    rr_ms
        Intervals in ms.
    keep
        Boolean keep-mask (e.g. ``artefact_mask(rr).keep``); None keeps every finite
        positive interval. Non-finite or non-positive intervals are never kept.
    burst_start
        Optional boolean mask of burst starts (no difference across them).

    Returns
    -------
    dict
        The keys of :data:`METRIC_KEYS`; conventions in the module docstring.

    Examples
    --------
    >>> m = time_domain([800.0, 860.0, 840.0, 800.0])
    >>> m["mean_nn"], m["rmssd"], m["nn50"], m["pnn50"]
    (825.0, 43.2049..., 1.0, 33.33...)
    >>> round(m["mean_hr"], 3), round(60000 / m["mean_nn"], 3)
    (72.8..., 72.727)
    """
    rr = _as_rr(rr_ms)
    k = _as_mask(keep, rr.size, "keep")
    k = _usable(rr) if k is None else k & _usable(rr)
    ok = np.flatnonzero(successive_diff_mask(k, burst_start))
    nn = rr[k]
    d = rr[ok] - rr[ok - 1]
    ad = np.abs(d)
    hr = 60000.0 / nn
    n, nd = nn.size, d.size
    nan = float("nan")
    return {
        "n_beats": float(rr.size),
        "n_nn": float(n),
        "n_diff": float(nd),
        "fraction_edited": 1.0 - n / rr.size if rr.size else nan,
        "mean_nn": float(np.mean(nn)) if n else nan,
        "sdnn": float(np.std(nn, ddof=1)) if n > 1 else nan,
        "rmssd": float(np.sqrt(np.mean(d * d))) if nd else nan,
        "sdsd": float(np.std(d, ddof=1)) if nd > 1 else nan,
        "sdsd_pyhrv": float(np.std(ad, ddof=1)) if nd > 1 else nan,
        "mean_abs_diff": float(np.mean(ad)) if nd else nan,
        "nn50": float(np.count_nonzero(ad > 50.0)),
        "pnn50": 100.0 * float(np.count_nonzero(ad > 50.0)) / nd if nd else nan,
        "nn20": float(np.count_nonzero(ad > 20.0)),
        "pnn20": 100.0 * float(np.count_nonzero(ad > 20.0)) / nd if nd else nan,
        "mean_hr": float(np.mean(hr)) if n else nan,
        "sd_hr": float(np.std(hr, ddof=1)) if n > 1 else nan,
    }


def empty_sums(shape: int | tuple[int, ...] = ()) -> NDArray[np.void]:
    """All-zero sums (the identity of :func:`combine`).

    Examples
    --------
    >>> s = empty_sums(3)
    >>> s.shape, int(s["n_kept"].sum())
    ((3,), 0)
    """
    return np.zeros(shape, dtype=HRV_SUMS_DTYPE)


def segment_sums(
    rr_ms: ArrayLike,
    beat_times_ms: ArrayLike,
    keep: ArrayLike,
    bin_edges_ms: ArrayLike,
    *,
    burst_start: ArrayLike | None = None,
) -> NDArray[np.void]:
    """Additive HRV sums of one burst (or concatenated bursts), one row per time bin.

    Bin ``b`` is ``[edges[b], edges[b+1])``. A beat (interval) belongs to the bin holding
    its time; a successive difference to the bin of its second beat. Beats outside every
    bin, or with a NaN time, are ignored. Calling this per burst with the same edges and
    adding the results (``a + b`` per field, or :func:`combine` on a stacked array) equals
    one call over all the bursts concatenated with ``burst_start``.

    Parameters
    ----------
    rr_ms
        Intervals in ms.
    beat_times_ms
        Time of the beat closing each interval (:func:`beat_times`).
    keep
        Boolean keep-mask; non-finite or non-positive intervals are never kept.
    bin_edges_ms
        Strictly increasing finite edges, at least 2.
    burst_start
        Optional boolean mask of burst starts.

    Returns
    -------
    numpy.ndarray
        Structured, dtype :data:`HRV_SUMS_DTYPE`, shape ``(len(edges) - 1,)``.

    Examples
    --------
    >>> rr = np.array([800.0, 860.0, 840.0, 800.0])
    >>> t = beat_times(0.0, rr)
    >>> s = segment_sums(rr, t, np.ones(4, bool), [0.0, 2000.0, 4000.0])
    >>> s["n_kept"], s["n_diff"], s["nn50"]
    (array([2, 2]), array([1, 2]), array([1, 0]))
    >>> metrics_from_sums(combine(s))["rmssd"] == time_domain(rr)["rmssd"]
    True
    """
    rr = _as_rr(rr_ms)
    t = _as_rr(beat_times_ms, "beat_times_ms")
    if t.size != rr.size:
        raise InputError(f"beat_times_ms: length {t.size} != rr_ms length {rr.size}")
    k = _as_mask(keep, rr.size, "keep")
    if k is None:
        raise InputError("keep: a boolean keep-mask is required (use artefact_mask)")
    k = k & _usable(rr)
    edges = _as_rr(bin_edges_ms, "bin_edges_ms")
    if edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise InputError("bin_edges_ms: need >= 2 finite, strictly increasing edges")
    nb = edges.size - 1
    out = empty_sums(nb)

    b = np.searchsorted(edges, t, side="right") - 1  # NaN sorts last -> b == nb
    inb = (b >= 0) & (b < nb)

    def add(sel: B1, w: F64 | None = None) -> NDArray[np.float64] | NDArray[np.intp]:
        return np.bincount(b[sel], weights=None if w is None else w[sel], minlength=nb)

    out["n_beats"] = add(inb)
    kb = k & inb
    out["n_kept"] = add(kb)
    x = rr - NN_REF_MS
    out["sum_nn"] = add(kb, x)
    out["sum_nn2"] = add(kb, x * x)
    h = np.zeros(rr.size)
    h[kb] = 60000.0 / rr[kb] - HR_REF_BPM
    out["sum_hr"] = add(kb, h)
    out["sum_hr2"] = add(kb, h * h)

    ok = successive_diff_mask(k, burst_start) & inb
    d = np.zeros(rr.size)
    i = np.flatnonzero(ok)
    d[i] = rr[i] - rr[i - 1]
    ad = np.abs(d)
    out["n_diff"] = add(ok)
    out["sum_diff"] = add(ok, d)
    out["sum_diff2"] = add(ok, d * d)
    out["sum_abs_diff"] = add(ok, ad)
    out["nn50"] = add(ok & (ad > 50.0))
    out["nn20"] = add(ok & (ad > 20.0))
    return out


def combine(sums: NDArray[np.void], axis: int | None = None) -> NDArray[np.void]:
    """Add sums over ``axis`` (None: all records -> a 0-d record array).

    The result does not depend on the order of the records, bit for bit: float fields are
    summed in sorted order (integer fields are exact anyway). So a stream engine that
    receives the same bursts in a different order produces identical metrics.

    Examples
    --------
    >>> s = empty_sums(2)
    >>> s["n_kept"] = [3, 4]
    >>> int(combine(s)["n_kept"])
    7
    >>> s = empty_sums(3)
    >>> s["sum_nn"] = [1e16, 1.0, -1e16]  # naive left-to-right sums: 0.0 or 1.0
    >>> float(combine(s)["sum_nn"]) == float(combine(s[[0, 2, 1]])["sum_nn"])
    True
    """
    s = np.asarray(sums)
    if s.dtype != HRV_SUMS_DTYPE:
        raise InputError(f"sums: expected dtype HRV_SUMS_DTYPE, got {s.dtype}")
    first = np.sum(s["n_beats"], axis=axis)
    out = empty_sums(np.shape(first))
    for name in HRV_SUMS_DTYPE.names or ():
        col = s[name]
        if col.dtype.kind == "f":
            out[name] = np.sum(np.sort(col, axis=axis), axis=axis)  # axis=None flattens
        else:
            out[name] = np.sum(col, axis=axis)
    return out


def metrics_table(sums: NDArray[np.void]) -> dict[str, F64]:
    """Vectorised metrics, one value per record of ``sums`` (any shape).

    Same keys and conventions as :func:`time_domain`; see :func:`metrics_from_sums`.

    Examples
    --------
    >>> rr = np.array([800.0, 860.0, 840.0, 800.0, 810.0])
    >>> s = segment_sums(rr, beat_times(0.0, rr), np.ones(5, bool), [0.0, 2000.0, 5000.0])
    >>> metrics_table(s)["mean_nn"].round(3)
    array([830.   , 816.667])
    """
    s = np.asarray(sums)
    if s.dtype != HRV_SUMS_DTYPE:
        raise InputError(f"sums: expected dtype HRV_SUMS_DTYPE, got {s.dtype}")
    n = s["n_kept"].astype(np.float64)
    nd = s["n_diff"].astype(np.float64)
    nbeats = s["n_beats"].astype(np.float64)
    nn50 = s["nn50"].astype(np.float64)
    nn20 = s["nn20"].astype(np.float64)
    return {
        "n_beats": nbeats,
        "n_nn": n,
        "n_diff": nd,
        "fraction_edited": _div(nbeats - n, nbeats),
        "mean_nn": NN_REF_MS + _div(s["sum_nn"], n),
        "sdnn": _sample_sd(s["sum_nn"], s["sum_nn2"], n),
        "rmssd": np.sqrt(_div(s["sum_diff2"], nd)),
        "sdsd": _sample_sd(s["sum_diff"], s["sum_diff2"], nd),
        "sdsd_pyhrv": _sample_sd(s["sum_abs_diff"], s["sum_diff2"], nd),
        "mean_abs_diff": _div(s["sum_abs_diff"], nd),
        "nn50": nn50,
        "pnn50": 100.0 * _div(nn50, nd),
        "nn20": nn20,
        "pnn20": 100.0 * _div(nn20, nd),
        "mean_hr": HR_REF_BPM + _div(s["sum_hr"], n),
        "sd_hr": _sample_sd(s["sum_hr"], s["sum_hr2"], n),
    }


def metrics_from_sums(sums: NDArray[np.void]) -> dict[str, float]:
    """Metrics of one record of sums (e.g. ``combine(segment_sums(...))``).

    Equals :func:`time_domain` over the same beats to floating-point rounding (about
    1e-12 relative on real nights). Variances use the shifted sums:
    ``(S2 - S1**2 / n) / (n - 1)``, clipped at 0 before the square root.

    Raises
    ------
    InputError
        If ``sums`` holds more than one record (combine first).

    Examples
    --------
    >>> metrics_from_sums(empty_sums())["rmssd"]
    nan
    """
    s = np.asarray(sums)
    if s.size != 1:
        raise InputError(f"sums: expected one record, got {s.size}; use combine() first")
    return {key: float(v.reshape(-1)[0]) for key, v in metrics_table(s).items()}

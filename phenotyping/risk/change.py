"""Change statistic: correlated features folded into signals, one CUSUM per signal, and the
evidence combined across signals.

Signals
    Features that measure the same thing feed ONE signal, so one behaviour is not counted
    twice: ``activity`` (activity, steps; down), ``sleep_long`` / ``sleep_short`` (total
    sleep up / down: the device's own sleep log where the night has one, else actigraphy),
    ``sleep_irregular`` (SRI down), ``phase_late`` / ``phase_early`` (the sleep midpoint,
    or on days without a valid night the activity peak time -- one phase signal, not two),
    ``rhythm`` (fragmentation IV up, stability IS and amplitude RA down) and ``hrv``
    (RMSSD down, heart rate up; device daily summaries when there is no beat-level night).
    A signal's daily score is the mean of its members' oriented z (phase: the first
    available member), clipped at +-``z_clip``, divided by ``sqrt(window_days)`` for
    features computed over rolling windows (consecutive values share most of their days).
CUSUM
    ``C = max(0, C + u - k)`` per signal; a missing day leaves it unchanged.
Evidence
    ``E = max(sum over signals of max(0, C - floor) / h, max C / h_single)``: one strong
    signal alerts alone (``h_single``), several moderate ones together (``h``); CUSUMs
    wandering below the floor (what a stable person's do) add nothing to the sum. ``h``,
    ``h_single`` and ``floor`` are calibrated by simulation on the tuning surrogates (see
    :mod:`phenotyping.risk.params`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phenotyping.risk.monitor import Domain, Monitored

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Signal:
    """One monitored behaviour: members are (feature index, orientation sign)."""

    name: str
    domain: Domain
    members: tuple[tuple[int, int], ...]
    first_only: bool = False  # use the first member with a value (phase), else the mean
    fallback: tuple[tuple[int, int], ...] = ()  # used when no member has a value


def build_signals(features: tuple[Monitored, ...], n_main: int) -> tuple[Signal, ...]:
    """Signals over ``features`` (the first ``n_main`` are the main ones, the rest the
    device's own numbers: a fallback for the HRV signal, the preferred measurement of the
    sleep-duration signals).

    Examples
    --------
    >>> from phenotyping.risk.monitor import MONITORED, DEVICE_HRV, DEVICE_SLEEP
    >>> feats = MONITORED + DEVICE_HRV + DEVICE_SLEEP
    >>> sigs = build_signals(feats, len(MONITORED))
    >>> [s.name for s in sigs]  # doctest: +NORMALIZE_WHITESPACE
    ['activity', 'sleep_long', 'sleep_short', 'sleep_irregular', 'phase_late',
     'phase_early', 'rhythm', 'hrv']
    >>> [[feats[i].column for i, _ in g] for g in (sigs[1].members, sigs[1].fallback)]
    [['device_sleep_tst_min'], ['sleep_tst_min']]
    """

    def members(signal: str, sign: int, main: bool = True) -> tuple[tuple[int, int], ...]:
        out = []
        for i, f in enumerate(features):
            if f.signal != signal or (i < n_main) != main:
                continue
            s = {"up": 1, "down": -1}.get(f.direction, 0) or 1
            out.append((i, s * sign))
        return tuple(out)

    return (
        Signal("activity", "activity", members("activity", 1)),
        # the device's own sleep log where the night has one, else actigraphy
        Signal(
            "sleep_long",
            "sleep",
            members("sleep_duration", 1, main=False),
            fallback=members("sleep_duration", 1),
        ),
        Signal(
            "sleep_short",
            "sleep",
            members("sleep_duration", -1, main=False),
            fallback=members("sleep_duration", -1),
        ),
        Signal("sleep_irregular", "sleep", members("sleep_regularity", 1)),
        Signal("phase_late", "circadian", members("phase", 1), first_only=True),
        Signal("phase_early", "circadian", members("phase", -1), first_only=True),
        Signal("rhythm", "circadian", members("rhythm", 1)),
        Signal("hrv", "hrv", members("hrv", 1), fallback=members("hrv", 1, main=False)),
    )


def score(signal: Signal, z: F64, roots: F64) -> tuple[float, tuple[int, ...]]:
    """A signal's oriented daily score and the features that gave it (NaN, () if none).

    ``z`` are the features' clipped z; ``roots`` their ``sqrt(window_days)``.

    Examples
    --------
    >>> sig = Signal("rhythm", "circadian", ((0, 1), (1, -1)))
    >>> score(sig, np.array([2.0, -1.0]), np.array([1.0, 1.0]))
    (1.5, (0, 1))
    >>> score(sig, np.array([np.nan, np.nan]), np.ones(2))
    (nan, ())
    """
    for group in (signal.members, signal.fallback):
        vals, used = [], []
        for i, sign in group:
            if math.isfinite(z[i]):
                vals.append(sign * z[i] / roots[i])
                used.append(i)
                if signal.first_only:
                    break
        if vals:
            return float(np.mean(vals)), tuple(used)
    return math.nan, ()


def counter_evidence(activity_score: float, gate: float) -> bool:
    """Today's activity is clearly ABOVE the person's band: its oriented score (activity
    down is positive) is at or below ``-gate``. Used against the late-phase signal: a
    later day with more activity is the signature of a holiday or a social event, not of
    the psychomotor slowing that comes with a depressive phase delay (a missing activity
    value is no counter-evidence).

    Examples
    --------
    >>> counter_evidence(-1.8, 1.0), counter_evidence(-0.4, 1.0), counter_evidence(math.nan, 1.0)
    (True, False, False)
    """
    return math.isfinite(activity_score) and activity_score <= -gate


def evidence(c: F64, floor: float, h: float, h_single: float) -> float:
    """Combined evidence of the signals' CUSUMs, in units of the sum threshold ``h``: the
    larger of the floored sum over ``h`` and the strongest single CUSUM over ``h_single``
    (so one clear signal alerts on its own, several moderate ones together).

    Examples
    --------
    >>> evidence(np.array([0.5, 3.0, 1.5]), 1.0, 5.0, 100.0)   # (2 + 0.5) / 5
    0.5
    >>> evidence(np.array([0.5, 3.0, 1.5]), 1.0, 5.0, 3.0)     # 3 / 3
    1.0
    """
    x = np.asarray(c, dtype=np.float64)
    total = float(np.maximum(x - floor, 0.0).sum()) / h
    single = float(x.max(initial=0.0)) / h_single
    return max(total, single)

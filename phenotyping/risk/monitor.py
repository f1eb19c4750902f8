"""Which daily features the risk engine watches, in which direction, and how to say it.

Directions are the clinically meaningful ones for a depressive relapse: activity down,
night-time HRV (RMSSD) down and heart rate up, sleep regularity down, total sleep either way
(insomnia or hypersomnia), timing shifts either way, rhythm fragmentation (IV) up, rhythm
stability (IS) and amplitude (RA) down.

``window_days`` is the number of days a feature is computed over (1 for nightly/daily
values, 7 for the rolling circadian ones). Consecutive values of a 7-day rolling feature
share 6 days, so their z-scores are strongly autocorrelated; the CUSUM increment is
``z / sqrt(window_days)``, which gives the sum of increments the long-run variance of
independent N(0, 1) days and so keeps the ARL budget honest.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from phenotyping.features.day import EngineParams
from phenotyping.features.time import format_duration
from phenotyping.risk.params import RiskParams, config_version

Domain = Literal["activity", "sleep", "hrv", "circadian"]
Direction = Literal["down", "up", "both"]
DOMAINS: tuple[Domain, ...] = ("activity", "sleep", "hrv", "circadian")


@dataclass(frozen=True)
class Monitored:
    """One watched feature of the daily row."""

    column: str
    domain: Domain
    direction: Direction
    label: str
    unit: Literal["counts", "steps", "min", "clock", "ms", "bpm", "index"]
    window_days: int = 1
    valid_flag: str | None = None  # the row's flag that must be true for this value
    circular: bool = False
    min_scale: float = 0.0  # floor of the robust scale, in the (transformed) unit
    nights: bool = False  # counted in nights, not days, when explained
    log: bool = False  # judged on log(value + 1): skewed, multiplicative (activity, RMSSD)
    signal: str = ""  # the change signal it feeds (see :mod:`phenotyping.risk.change`)


def monitored(window_days: int = 7) -> tuple[Monitored, ...]:
    """The watched features; rolling ones are named after the day engine's window
    (``EngineParams.window_days``), never hard-coded.

    Examples
    --------
    >>> [s.column for s in monitored(14) if s.window_days > 1][:2]
    ['sri14d', 'circ14d_IV']
    """
    w = window_days
    return (
        Monitored(
            "activity_mean_worn",
            "activity",
            "down",
            "daily activity",
            "counts",
            valid_flag="valid",
            min_scale=0.1,
            log=True,
            signal="activity",
        ),
        Monitored(
            "steps_total",
            "activity",
            "down",
            "daily steps",
            "steps",
            valid_flag="valid",
            min_scale=0.1,
            log=True,
            signal="activity",
        ),
        Monitored(
            "sleep_tst_min",
            "sleep",
            "both",
            "total sleep",
            "min",
            valid_flag="sleep_valid",
            min_scale=20.0,
            nights=True,
            signal="sleep_duration",
        ),
        Monitored(
            "sleep_midpoint_clock_min",
            "sleep",
            "both",
            "sleep midpoint",
            "clock",
            valid_flag="sleep_valid",
            circular=True,
            min_scale=20.0,
            nights=True,
            signal="phase",
        ),
        Monitored(
            f"sri{w}d",
            "sleep",
            "down",
            "sleep regularity (SRI)",
            "index",
            window_days=w,
            min_scale=3.0,
            signal="sleep_regularity",
        ),
        Monitored(
            "night_rmssd",
            "hrv",
            "down",
            "night-time HRV (RMSSD)",
            "ms",
            valid_flag="hrv_valid",
            min_scale=0.08,
            log=True,
            nights=True,
            signal="hrv",
        ),
        Monitored(
            "night_mean_hr",
            "hrv",
            "up",
            "night-time heart rate",
            "bpm",
            valid_flag="hrv_valid",
            min_scale=1.5,
            nights=True,
            signal="hrv",
        ),
        Monitored(
            f"circ{w}d_IV",
            "circadian",
            "up",
            "rhythm fragmentation (IV)",
            "index",
            window_days=w,
            min_scale=0.05,
            signal="rhythm",
        ),
        Monitored(
            f"circ{w}d_IS",
            "circadian",
            "down",
            "day-to-day rhythm stability (IS)",
            "index",
            window_days=w,
            min_scale=0.03,
            signal="rhythm",
        ),
        Monitored(
            f"circ{w}d_RA",
            "circadian",
            "down",
            "rest-activity amplitude (RA)",
            "index",
            window_days=w,
            min_scale=0.02,
            signal="rhythm",
        ),
        Monitored(
            f"circ{w}d_cosinor_peak_minute_of_day",
            "circadian",
            "both",
            "activity peak time",
            "clock",
            window_days=w,
            circular=True,
            min_scale=20.0,
            signal="phase",
        ),
    )


#: Device daily summaries (issue 9 contract): used for the HRV domain only on days without
#: beat-level HRV, and said to be device-derived.
DEVICE_HRV: tuple[Monitored, ...] = (
    Monitored(
        "dev_rmssd",
        "hrv",
        "down",
        "night-time HRV (RMSSD, device-derived)",
        "ms",
        min_scale=0.08,
        nights=True,
        log=True,
        signal="hrv",
    ),
    Monitored(
        "dev_resting_hr",
        "hrv",
        "up",
        "resting heart rate (device-derived)",
        "bpm",
        # Fitbit's daily resting HR behaves like a smoothed series: lag-1 autocorrelation
        # 0.82-0.89 in PMData (p06, p07, p09), long-run variance (1 + r) / (1 - r) ~ 12
        # times a day's, so increments are scaled as for a 12-day window
        window_days=12,
        min_scale=1.5,
        signal="hrv",
    ),
)

#: The device's own sleep log (Fitbit, Oura, Apple Watch: ``SleepEpisode`` messages, the main
#: sleep of each night): where a night has one, it is the sleep-duration signal's measurement
#: and actigraphy's estimate from counts is the fallback (:func:`~phenotyping.risk.change.
#: build_signals`). A device that scores sleep itself measures a lie-in directly; wrist counts
#: showed only ~35 of 90 injected minutes (docs/evaluation.md). Appended after
#: :data:`DEVICE_HRV`, so the feature indices of a saved state keep their meaning. No
#: population prior: judged once 10 of the person's own nights exist.
DEVICE_SLEEP: tuple[Monitored, ...] = (
    Monitored(
        "device_sleep_tst_min",
        "sleep",
        "both",
        "total sleep (device sleep log)",
        "min",
        min_scale=20.0,
        nights=True,
        signal="sleep_duration",
    ),
)

MONITORED: tuple[Monitored, ...] = monitored(EngineParams().window_days)


def evaluated_version(params: RiskParams) -> str:
    """Hash of everything an evaluation's figures depend on in the risk engine: its settings
    and the watched features (directions, transforms, scale floors, signals).

    ``benchmarks/evaluate_risk.py`` prints it; ``docs/evaluation.md`` names the one its
    figures were measured with, and a test holds the shipped settings to it.

    >>> evaluated_version(RiskParams()) == evaluated_version(RiskParams(h_single=12.0))
    False
    """
    watched = [asdict(s) for s in (*MONITORED, *DEVICE_HRV, *DEVICE_SLEEP)]
    return config_version(params, {"monitored": watched})


def value_of(spec: Monitored, row: dict[str, Any]) -> float:
    """The feature's value in a daily row, NaN when missing or not valid."""
    v = row.get(spec.column)
    if v is None or (spec.valid_flag is not None and not row.get(spec.valid_flag)):
        return float("nan")
    f = float(v)
    return f if math.isfinite(f) else float("nan")


def change_clause(spec: Monitored, value: float, median: float, delta: float, days: int) -> str:
    """One clause a clinician can read, e.g. 'sleep midpoint 2 h 10 min later than usual
    for 5 nights'.

    Examples
    --------
    >>> s = MONITORED[3]
    >>> change_clause(s, 250.0, 120.0, 130.0, 5)
    'sleep midpoint 2 h 10 min later than usual for 5 nights'
    >>> change_clause(MONITORED[0], 124.0, 200.0, -76.0, 1)
    'daily activity 38% below usual'
    """
    span = ""
    if days > 1:
        span = f" for {days} {'nights' if spec.nights else 'days'}"
    if spec.unit == "clock":
        word = "later" if delta > 0 else "earlier"
        return f"{spec.label} {format_duration(delta)} {word} than usual{span}"
    if spec.unit == "min":
        word = "longer" if delta > 0 else "shorter"
        return f"{spec.label} {format_duration(delta)} {word} than usual{span}"
    if spec.unit == "bpm":
        word = "above" if delta > 0 else "below"
        return f"{spec.label} {abs(delta):.0f} bpm {word} usual{span}"
    if spec.unit == "index":
        word = "up" if delta > 0 else "down"
        return f"{spec.label} {word}: {value:.2f} vs usual {median:.2f}{span}"
    pct = 100.0 * delta / median if median else float("nan")
    word = "above" if delta > 0 else "below"
    if not math.isfinite(pct):
        return f"{spec.label} {word} usual{span}"
    return f"{spec.label} {abs(pct):.0f}% {word} usual{span}"

"""Every number of the risk engine, in one frozen dataclass (part of the config hash).

Values marked *tuned* were chosen on the TUNING half of the Depresjon controls only
(``benchmarks/evaluate_risk.py --half tuning``, see ``docs/evaluation.md``); values marked
*prior* are population statistics of those same tuning controls.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from phenotyping.errors import InputError

#: Population prior of the robust day-to-day scale of each feature (transformed units: log
#: for activity/steps/RMSSD), the median over the TUNING controls of each person's
#: MAD-scale over the first 6 weeks of their seed-0 surrogate (Actiwatch counts;
#: features the tuning data do not have -- steps, HRV -- get no prior).
PRIOR_SCALE: dict[str, float] = {
    "activity_mean_worn": 0.144,
    "sleep_tst_min": 62.3,
    "sleep_midpoint_clock_min": 54.1,
    "sri7d": 3.63,
    "circ7d_IV": 0.034,
    "circ7d_IS": 0.017,
    "circ7d_RA": 0.010,
    "circ7d_cosinor_peak_minute_of_day": 6.64,
}


@dataclass(frozen=True)
class RiskParams:
    """Every threshold and window of the risk engine.

    baseline_days
        28: four weeks of the person's own days.
    exclude_recent_days
        7: the week being judged never enters its own baseline once four weeks exist.
    min_baseline_days
        5: warm-up. Before the regular window holds this many valid values, the person's
        first valid days (up to ``baseline_days``) are the baseline, with the population
        prior scale blended in: the first possible alert is on day 6.
    prior_days
        7: weight of the population prior scale, in days: ``scale^2 = (n0 s_pop^2 + n
        s_own^2) / (n0 + n)``. It keeps a 5-day baseline from giving a tiny scale.
    day_of_week
        True: weekend and weekday days have their own median when the baseline holds at
        least ``min_per_daytype`` of that type; the scale comes from deviations around
        each type's median.
    k
        0.5: CUSUM reference per signal, in robust SDs.
    floor
        *tuned*: a signal's CUSUM counts as evidence only above this floor (noise of a
        stable person's CUSUM hovers below it).
    h
        *tuned*: the combined evidence (sum over signals of CUSUM minus floor) needed for
        ``elevated``; twice it (or three domains) is ``high``; half of it ``watch``. Chosen
        by simulation on the tuning surrogates (estimated baselines, real weekly structure
        and autocorrelation) for <= 0.5 false episodes per 90 person-days; Siegmund's
        iid formula is not used because it does not hold for estimated baselines.
    h_single
        *tuned* (11): one signal's CUSUM alone reaching it is ``elevated`` too. It must be
        below ``floor + h`` (12) to mean anything: one signal alone reaches the sum rule at
        ``C = floor + h``, so the previous 12 never fired on its own. Tuning half, 4 seeds:
        11 lifted phase delay within 14 d from 56% to 66% at the same false-episode rate
        (0.29 / 90 pd); 10 cost more (illness 64% -> 77%, false 0.34).
    k_sleep_long
        0.5 (the common ``k``): CUSUM reference of the ``sleep_long`` signal alone. A
        lie-in of 90 min shows as only ~35 min more actigraphic total sleep (the Actiwatch
        scores much of it as wake), about 0.6 robust SD; 0.3 caught hypersomnia in 38%
        instead of 30% within 14 d but raised false episodes 0.29 -> 0.46 (upper bound
        0.78) on the tuning half, and 0.2 to 0.65: left at 0.5 (see docs/evaluation.md).
    phase_activity_gate
        *tuned* (1.0): on a day when the activity signal's smoothed oriented score is at
        or below ``-gate`` (activity clearly ABOVE the person's band), the late-phase
        signal gets no evidence (its increment is capped at 0). Later days with more
        activity are what a holiday or social event looks like, not the psychomotor
        slowing of a depressive phase delay; a delay with usual or lower activity (the
        relapse patterns) is untouched. ``inf`` switches it off. Tuning half, 4 seeds:
        holiday alerted 23% -> 8%, phase delay within 14 d 62% -> 56% (66% with
        ``h_single`` 11), false episodes unchanged.
    warmup_factor
        1.5: while any feature is judged against the short warm-up baseline, the evidence
        needed is multiplied by this (a median of 5 days is itself uncertain).
    z_clip
        3: one outlier day adds at most 2.5 to a CUSUM.
    band_z
        1.0: an episode resolves when, for ``close_after_days`` days in a row, each signal
        that opened it is back within this many robust SDs of usual (3-day EWMA of its
        oriented score) -- when values are back in the personal band, not when a CUSUM
        stops rising.
    close_after_days, cooldown_days, washout_days
        3, 7, 14: hysteresis, no new episode for a week after one, values of the two weeks
        after an episode kept out of the baseline.
    max_episode_days
        28: an episode open this long is closed, saying it did not return to usual.
    gap_notice_days
        3: days without usable data before a ``data_gap`` notice (repeated weekly); wear on
        at most ``low_wear_days`` of the last 7 days after a well-worn fortnight gives a
        ``wear_decline`` notice. Missing data is shown, never silently quieter.
    contacted_fine_days, contacted_fine_factor
        14 and 1.5: after clinician feedback "contacted_fine" the same pattern's evidence
        above the floor counts 1 / factor (for one signal: ``h`` x factor) until that many
        days after the acknowledged episode resolves (:mod:`phenotyping.risk.feedback`).
    """

    baseline_days: int = 28
    exclude_recent_days: int = 7
    min_baseline_days: int = 5
    prior_days: float = 7.0
    day_of_week: bool = True
    min_per_daytype: int = 3
    k: float = 0.5
    floor: float = 2.0
    h: float = 10.0
    h_single: float = 11.0
    k_sleep_long: float = 0.5
    phase_activity_gate: float = 1.0
    warmup_factor: float = 1.5
    z_clip: float = 3.0
    ewma_lambda: float = 0.5
    band_z: float = 1.0
    close_after_days: int = 3
    cooldown_days: int = 7
    washout_days: int = 14
    max_episode_days: int = 28
    gap_notice_days: int = 3
    low_wear_days: int = 2
    post_session_washout_days: int = 3
    response_phq9_drop: float = 0.5
    contacted_fine_days: int = 14
    contacted_fine_factor: float = 1.5
    feature_window_days: int = 7
    prior_scale: tuple[tuple[str, float], ...] = field(
        default_factory=lambda: tuple(sorted(PRIOR_SCALE.items()))
    )

    def __post_init__(self) -> None:
        """Refuse a setting outside its meaningful range, naming the field and the rule
        (a mistyped override must not silently make the engine blind or noisy).

        >>> RiskParams(ewma_lambda=1.5)
        Traceback (most recent call last):
        ...
        phenotyping.errors.InputError: RiskParams.ewma_lambda: must be > 0 and <= 1 (got 1.5)
        """
        for name, ok, rule in _RULES:
            value = getattr(self, name)
            if not ok(value, self):
                raise InputError(f"RiskParams.{name}: must be {rule} (got {value!r})")
        for feature, scale in self.prior_scale:
            if not (math.isfinite(scale) and scale > 0):
                raise InputError(
                    f"RiskParams.prior_scale[{feature!r}]: must be finite and > 0 (got {scale!r})"
                )


def _at_least(lo: float) -> tuple[Callable[[Any, Any], bool], str]:
    return (lambda v, _p: v >= lo), f">= {lo:g}"


def _positive() -> tuple[Callable[[Any, Any], bool], str]:
    return (lambda v, _p: v > 0), "> 0"


#: (field, check, rule in words) -- every numeric field of :class:`RiskParams`.
_RULES: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
    ("baseline_days", *_at_least(1)),
    ("exclude_recent_days", lambda v, p: 0 <= v < p.baseline_days, ">= 0 and < baseline_days"),
    ("min_baseline_days", lambda v, p: 1 <= v <= p.baseline_days, ">= 1 and <= baseline_days"),
    ("prior_days", *_at_least(0)),
    ("min_per_daytype", *_at_least(1)),
    ("k", *_at_least(0)),
    ("floor", *_at_least(0)),
    ("h", *_positive()),
    ("h_single", *_positive()),
    ("k_sleep_long", *_at_least(0)),
    ("phase_activity_gate", *_positive()),
    ("warmup_factor", *_at_least(1)),
    ("z_clip", lambda v, p: v > p.k, "> k"),
    ("ewma_lambda", lambda v, _p: 0 < v <= 1, "> 0 and <= 1"),
    ("band_z", *_positive()),
    ("close_after_days", *_at_least(1)),
    ("cooldown_days", *_at_least(0)),
    ("washout_days", *_at_least(0)),
    ("max_episode_days", lambda v, p: v > p.close_after_days, "> close_after_days"),
    ("gap_notice_days", *_at_least(1)),
    ("low_wear_days", lambda v, _p: 0 <= v < 7, ">= 0 and < 7"),
    ("post_session_washout_days", *_at_least(0)),
    ("response_phq9_drop", lambda v, _p: 0 < v < 1, "> 0 and < 1"),
    ("contacted_fine_days", *_at_least(0)),
    ("contacted_fine_factor", *_at_least(1)),
    ("feature_window_days", *_at_least(1)),
)


def config_version(params: RiskParams, extra: dict[str, Any] | None = None) -> str:
    """Short stable hash of everything that shapes an alert (risk and engine settings)."""
    text = json.dumps({"risk": asdict(params), **(extra or {})}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

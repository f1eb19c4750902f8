"""Every number of the risk engine, in one frozen dataclass (part of the config hash).

Values marked *tuned* were chosen on the TUNING half of the Depresjon controls only
(``benchmarks/evaluate_risk.py --half tuning``, see ``docs/evaluation.md``); values marked
*prior* are population statistics of those same tuning controls.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

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
        *tuned*: one signal's CUSUM alone reaching it is ``elevated`` too.
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
    h_single: float = 12.0
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


def config_version(params: RiskParams, extra: dict[str, Any] | None = None) -> str:
    """Short stable hash of everything that shapes an alert (risk and engine settings)."""
    text = json.dumps({"risk": asdict(params), **(extra or {})}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

"""Risk-engine values that mutation testing found unchecked (issue 14).

Expected values are worked out by hand from the documented rules (``risk/change``: CUSUM
``C = max(0, C + u - k)``; ``risk/policy``: elevated at evidence 1; an episode starts where
its signals' CUSUM runs began, at most 14 days back), never by running the engine. As in
``test_policy.py`` the population prior is off, so a constant usual value has a MAD of 0
and ``z = (value - usual) / floor`` (total sleep: floor 20 min).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from phenotyping.risk import stats
from phenotyping.risk.engine import RiskParams, RiskState
from phenotyping.risk.monitor import MONITORED, change_clause
from phenotyping.risk.policy import level_of
from phenotyping.risk.wording import explanation, num

START = dt.date(2024, 1, 1)
USUAL_TST = 420.0
# one signal alone needs C >= 3; several need sum(C - 1) >= 4
SMALL: dict[str, Any] = {
    "floor": 1.0,
    "h": 4.0,
    "h_single": 3.0,
    "warmup_factor": 1.0,
    "prior_scale": (),
}


def iso(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def row(i: int, tst: float | None) -> dict[str, Any]:
    r: dict[str, Any] = {"date": iso(i), "valid": True, "sleep_valid": tst is not None}
    if tst is not None:
        r["sleep_tst_min"] = tst
    return r


def test_an_episode_starts_at_most_14_days_before_it_opens() -> None:
    """Day 21: total sleep 400 (z = -1, u = 1): the short-sleep CUSUM leaves 0 (C = 0.5);
    its run starts on day 21. Days 22-40 have no valid night: C stays 0.5. Day 41: 360
    (z = -3 against the baseline of days 7-34 -- fifteen values, median 420, MAD 0 -> scale
    20): C = 0.5 + 3 - 0.5 = 3.0 = h_single, evidence 1 -> elevated, the episode opens.
    Its run began 20 days earlier, so the episode starts on day 41 - 14 = day 27; the
    contribution is described over the last 14 days (days 28-41)."""
    rows = [row(i, USUAL_TST) for i in range(21)] + [row(21, 400.0)]
    rows += [row(i, None) for i in range(22, 41)] + [row(41, 360.0)]
    state = RiskState(params=RiskParams(**SMALL))
    alerts: list[dict[str, Any]] = []
    for r in rows:
        _, a, _ = state.assess("p-01", r)
        alerts.extend(a)
    (opened,) = [a for a in alerts if a["kind"] == "opened"]
    assert opened["date"] == iso(41)
    assert opened["episode_start"] == iso(27)
    (item,) = opened["contributing"]
    assert item["feature"] == "sleep_tst_min" and item["days_in_deviation"] == 14


# ----------------------------------------------------------------------------- stats


def test_circular_center_of_clock_times() -> None:
    """05:00 and 07:00 centre on 06:00 (360 min); 20:00 and 22:00 on 21:00 (1260);
    23:00 and 01:00 on midnight (0 or 1440 -- the same clock time); noon and midnight
    cancel out (NaN)."""
    assert stats.circular_center(np.array([300.0, 420.0])) == pytest.approx(360.0)
    assert stats.circular_center(np.array([1200.0, 1320.0])) == pytest.approx(1260.0)
    midnight = stats.circular_center(np.array([1380.0, 60.0]))
    assert min(midnight, 1440.0 - midnight) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(stats.circular_center(np.array([0.0, 720.0])))


def test_the_cusum_threshold_is_never_negative() -> None:
    """With k = 0.5, h = 0 already gives an in-control ARL of (e^1.166 - 2.166) / 0.5 =
    2.09 days (Siegmund); a shorter ARL asked for gets the lowest meaningful threshold, 0,
    not a negative one (a CUSUM is >= 0, so h < 0 would signal every day)."""
    assert stats.arl_for_threshold(0.0, 0.5) == pytest.approx(
        (math.exp(1.166) - 2.166) / 0.5, rel=1e-12
    )
    assert stats.threshold_for_arl(1.5, 0.5) == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- monitor


def test_night_features_are_explained_in_nights() -> None:
    """A feature measured over a night (``sleep_*``, ``night_*`` columns) is described
    "for N nights", a daily one "for N days"; e.g. night heart rate 4 bpm above a usual
    58 for 5 nights."""
    night = [s for s in MONITORED if s.column.startswith(("sleep_", "night_"))]
    assert {s.column for s in night} >= {"sleep_tst_min", "night_mean_hr", "night_rmssd"}
    for spec in night:
        assert change_clause(spec, 62.0, 58.0, 4.0, 5).endswith(" for 5 nights"), spec.column
    hr = next(s for s in MONITORED if s.column == "night_mean_hr")
    assert "4 bpm above usual for 5 nights" in change_clause(hr, 62.0, 58.0, 4.0, 5)
    activity = next(s for s in MONITORED if s.column == "activity_mean_worn")
    assert change_clause(activity, 150.0, 200.0, -50.0, 5).endswith("25% below usual for 5 days")


def _z_on_day_21(usual: dict[str, float], today: dict[str, float]) -> dict[str, float]:
    """Per-feature z of day 21 after 21 days of constant usual values (prior off)."""
    state = RiskState(params=RiskParams(**SMALL))
    cols: dict[str, Any] = {}
    for i in range(22):
        r: dict[str, Any] = {"date": iso(i), "valid": True, "sleep_valid": True}
        r.update(usual if i < 21 else today)
        cols, _, _ = state.assess("p-01", r)
    return {k[2:]: v for k, v in cols.items() if k.startswith("z_")}


def test_the_sleep_midpoint_is_compared_on_the_clock_circle() -> None:
    """Usual midpoint 00:10 (10 min) every night; 23:50 (1430) is 20 minutes earlier, not
    1420 minutes later: z = -20 / 20 (the midpoint's floor) = -1."""
    z = _z_on_day_21({"sleep_midpoint_clock_min": 10.0}, {"sleep_midpoint_clock_min": 1430.0})
    assert z["sleep_midpoint_clock_min"] == pytest.approx(-1.0)


def test_halving_a_rhythm_index_is_an_extreme_change_for_a_regular_person() -> None:
    """A perfectly regular person (MAD 0): the scale is each index's floor, which must be
    small against the index's range -- RA 0.9 -> 0.45, IS 0.6 -> 0.3, SRI 80 -> 40 and
    IV 0.5 -> 1.0 are all clipped at z = -+3 (``z_clip``), whatever the exact floors."""
    usual = {"circ7d_RA": 0.9, "circ7d_IS": 0.6, "sri7d": 80.0, "circ7d_IV": 0.5}
    today = {"circ7d_RA": 0.45, "circ7d_IS": 0.3, "sri7d": 40.0, "circ7d_IV": 1.0}
    z = _z_on_day_21(usual, today)
    assert (z["circ7d_RA"], z["circ7d_IS"], z["sri7d"], z["circ7d_IV"]) == (-3.0, -3.0, -3.0, 3.0)


# ---------------------------------------------------------------------------- change


def test_a_falling_sleep_regularity_opens_a_sleep_episode() -> None:
    """SRI 80 every day, then 40 from day 21: z = -3 (clipped), oriented up for the
    "irregular sleep" signal and divided by sqrt(7) for a 7-day feature: u = 1.1339, so C
    grows by 0.6339 a day: 2.54 on day 24 (watch), 3.17 >= h_single 3 on day 25 (opened)."""
    state = RiskState(params=RiskParams(**SMALL))
    levels, alerts = [], []
    for i in range(27):
        r = {"date": iso(i), "valid": True, "sleep_valid": True, "sri7d": 80.0 if i < 21 else 40.0}
        cols, a, _ = state.assess("p-01", r)
        levels.append(cols["risk_level"])
        alerts.extend(a)
    assert levels[24] == "watch"
    (opened,) = [a for a in alerts if a["kind"] == "opened"]
    assert opened["date"] == iso(25) and opened["domains"] == ["sleep"]
    assert [c["feature"] for c in opened["contributing"]] == ["sri7d"]


# ---------------------------------------------------------------------------- policy


def test_three_or_more_domains_make_an_elevated_evidence_high_but_not_a_weak_one() -> None:
    """``high`` at evidence 2, or at 1 with signals from three OR MORE domains (all four
    included); below 1 the number of domains changes nothing (0.6 is ``watch``)."""
    assert [level_of(1.0, n) for n in (1, 2, 3, 4)] == [2, 2, 3, 3]
    assert [level_of(0.6, n) for n in (1, 3, 4)] == [1, 1, 1]
    assert [level_of(0.4, n) for n in (1, 4)] == [0, 0]


# --------------------------------------------------------------------------- wording


def test_a_contribution_without_a_usual_value_is_worded_without_numbers() -> None:
    """No mean since onset (or no usual value): the clause says only "away from usual",
    never a made-up direction such as "below usual"."""
    activity = next(s for s in MONITORED if s.column == "activity_mean_worn")
    for mean, med in ((math.nan, 200.0), (150.0, math.nan)):
        text = explanation(
            [(2.0, activity, mean, med, math.nan, 3)],
            "opened",
            after_response=False,
            close_after_days=3,
        )
        assert text == "Daily activity away from usual"


def test_alert_numbers_carry_four_decimals_and_missing_ones_are_null() -> None:
    assert num(1 / 3) == 0.3333 and num(2.00006) == 2.0001 and num(7) == 7.0
    assert num(None) is None and num(math.nan) is None and num(math.inf) is None


def test_the_sentence_names_the_three_strongest_contributions_only() -> None:
    """Four contributions of strengths 1-4: the sentence has the three strongest, in
    order of strength, and leaves the weakest out."""
    by = {s.column: s for s in MONITORED}
    found = [
        (1.0, by["activity_mean_worn"], 150.0, 200.0, -50.0, 3),
        (4.0, by["sleep_tst_min"], 360.0, 420.0, -60.0, 3),
        (3.0, by["night_mean_hr"], 62.0, 58.0, 4.0, 3),
        (2.0, by["sleep_midpoint_clock_min"], 240.0, 180.0, 60.0, 3),
    ]
    text = explanation(found, "opened", after_response=False, close_after_days=3)
    clauses = text.split("; ")
    assert len(clauses) == 3
    assert clauses[0].startswith("Total sleep") and "night-time heart rate" in clauses[1]
    assert clauses[2].startswith("sleep midpoint") and "activity" not in text

"""The new risk engine's alert policy on hand-built daily rows.

Every expectation here is worked out by hand from the rules in ``phenotyping/risk``
(``change``: signals, CUSUM ``C = max(0, C + u - k)``, evidence ``max(sum(max(0, C -
floor)) / h, max C / h_single)``; ``policy``: elevated at evidence 1; ``baseline``: median
and ``1.4826 x MAD`` floored at the feature's ``min_scale``), never by running the engine.

To keep the arithmetic exact most tests switch the population prior off
(``prior_scale=()``): a constant usual value then has a MAD of 0, so the scale is the
feature's floor (total sleep 20 min, night heart rate 1.5 bpm, sleep midpoint 20 min,
activity peak time 20 min, device resting HR 1.5 bpm) and ``z = (value - usual) / floor``.
Without a prior a feature needs 10 baseline days; 21 usual days come first, so the
regular 28-day window (ending 7 days before the judged day) is in use and the warm-up
factor never applies. 2024-01-01 (day 0) is a Monday.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from phenotyping.risk.engine import RiskParams, RiskState

START = dt.date(2024, 1, 1)  # a Monday
EPOCH = dt.date(1970, 1, 1)
USUAL = {
    "sleep_tst_min": 420.0,
    "night_mean_hr": 58.0,
    "sleep_midpoint_clock_min": 180.0,
    "circ7d_cosinor_peak_minute_of_day": 900.0,
}
# Small thresholds whose crossings are easy to work out: one signal alone needs C >= 3
# (h_single); several need sum(C - 1) >= 4; a signal below C = 1 adds nothing.
SMALL = {"floor": 1.0, "h": 4.0, "h_single": 3.0, "warmup_factor": 1.0, "prior_scale": ()}


def iso(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def day_no(i: int) -> int:
    """The engine's date ordinal (days since 1970-01-01) of test day ``i``."""
    return (START + dt.timedelta(days=i) - EPOCH).days


def row(i: int, **values: float) -> dict[str, Any]:
    r: dict[str, Any] = {"date": iso(i), "valid": True, "sleep_valid": True, "hrv_valid": True}
    r.update(values)
    return r


def usual_rows(n: int, columns: tuple[str, ...] = ("sleep_tst_min",)) -> list[dict[str, Any]]:
    return [row(i, **{c: USUAL[c] for c in columns}) for i in range(n)]


def run(
    rows: list[dict[str, Any]],
    params: RiskParams,
    events: dict[int, dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Feed the rows, ``events[i]`` just before row ``i`` (dated day ``i`` unless it says
    ``date``); returns (per-day risk columns, alerts)."""
    state = RiskState(params=params)
    cols, alerts = [], []
    for i, r in enumerate(rows):
        if events and i in events:
            ev = dict(events[i])
            kind, date = ev.pop("kind"), ev.pop("date", day_no(i))
            state.clinical(date, kind, **ev)
        c, a, _ = state.assess("p-01", r)
        cols.append(c)
        alerts.extend(a)
    return cols, alerts


def opened_days(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["date"] for a in alerts if a["kind"] == "opened"]


# --------------------------------------------------------------------------- evidence


def test_one_strong_signal_alerts_alone() -> None:
    # total sleep 360 = usual - 3 x 20: z = -3, u = 3, C = 2.5 on day 21 (2.5 / 3 < 1:
    # watch) and 5.0 on day 22 (5 / 3 >= 1: elevated, opened)
    rows = usual_rows(21) + [row(i, sleep_tst_min=360.0) for i in (21, 22)]
    cols, alerts = run(rows, RiskParams(**{**SMALL, "h": 100.0}))  # type: ignore[arg-type]
    assert cols[21]["risk_level"] == "watch" and cols[21]["risk_evidence"] == pytest.approx(
        2.5 / 3, abs=1e-4
    )
    assert opened_days(alerts) == [iso(22)]
    assert alerts[0]["domains"] == ["sleep"]


def test_several_weak_signals_alert_together_but_not_alone() -> None:
    # z = 2.9 on three signals of three domains: total sleep 420 - 58 (sleep_short), night
    # HR 58 + 4.35 (hrv), sleep midpoint 03:00 + 58 min (phase_late): each C = 2.4.
    # Alone: max(1.4 / 4, 2.4 / 3) = 0.8 -> watch. Together: 3 x 1.4 / 4 = 1.05 -> elevated.
    cols3 = ("sleep_tst_min", "night_mean_hr", "sleep_midpoint_clock_min")
    weak = {"sleep_tst_min": 362.0, "night_mean_hr": 62.35, "sleep_midpoint_clock_min": 238.0}
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    alone = usual_rows(21, cols3) + [row(21, **{**USUAL, "sleep_tst_min": 362.0})]
    cols, alerts = run(alone, params)
    assert cols[21]["risk_evidence"] == pytest.approx(0.8, abs=1e-4)
    assert cols[21]["risk_level"] == "watch" and not alerts
    together = usual_rows(21, cols3) + [row(21, **{**USUAL, **weak})]
    cols, alerts = run(together, params)
    assert cols[21]["risk_evidence"] == pytest.approx(1.05, abs=1e-4)
    assert opened_days(alerts) == [iso(21)]
    # evidence >= 1 with three domains is "high"
    assert alerts[0]["level"] == "high"
    assert sorted(alerts[0]["domains"]) == ["circadian", "hrv", "sleep"]


def test_signals_below_the_floor_add_nothing() -> None:
    # z = 1.4 on the same three signals: each C = 0.9 < floor 1, so the floored sum is 0
    # and the evidence is the single-signal term 0.9 / 3 = 0.3 -> "none". (Summing without
    # the floor would give 2.7 / 4 = 0.675 -> "watch".)
    cols3 = ("sleep_tst_min", "night_mean_hr", "sleep_midpoint_clock_min")
    below = {"sleep_tst_min": 392.0, "night_mean_hr": 60.1, "sleep_midpoint_clock_min": 208.0}
    rows = usual_rows(21, cols3) + [row(21, **{**USUAL, **below})]
    cols, alerts = run(rows, RiskParams(**SMALL))  # type: ignore[arg-type]
    assert cols[21]["risk_evidence"] == pytest.approx(0.3, abs=1e-4)
    assert cols[21]["risk_level"] == "none" and not alerts


def test_the_phase_signal_counts_the_sleep_midpoint_and_the_activity_peak_once() -> None:
    # Both clocks 58 min later (z = 2.9). One phase signal fed by the first available
    # member (the midpoint): C = 2.4, evidence (2.4 - 1) / 2 = 0.7 with h = 2 -> watch.
    # Counted twice (two signals) it would be 1.4 -> elevated.
    cols2 = ("sleep_midpoint_clock_min", "circ7d_cosinor_peak_minute_of_day")
    late = {"sleep_midpoint_clock_min": 238.0, "circ7d_cosinor_peak_minute_of_day": 958.0}
    params = RiskParams(**{**SMALL, "h": 2.0, "h_single": 100.0})  # type: ignore[arg-type]
    cols, alerts = run(usual_rows(21, cols2) + [row(21, **late)], params)
    assert cols[21]["risk_evidence"] == pytest.approx(0.7, abs=1e-4)
    assert cols[21]["risk_level"] == "watch" and not alerts
    # without a valid night the activity peak alone feeds the phase signal, as a 7-day
    # rolling feature: u = 2.9 / sqrt(7), C = u - 0.5, below the floor -> C / h_single
    no_night = row(21, **late) | {"sleep_valid": False}
    cols, _ = run(usual_rows(21, cols2) + [no_night], params)
    assert cols[21]["risk_evidence"] == pytest.approx((2.9 / math.sqrt(7) - 0.5) / 100, abs=1e-4)


# --------------------------------------------------------------------------- baselines


def test_weekend_and_weekday_days_have_their_own_usual() -> None:
    # 420 min on weekdays, 540 at weekends (days 5, 6, 12, 13, ... are Sat, Sun)
    def tst(i: int) -> float:
        return 540.0 if (START + dt.timedelta(days=i)).weekday() >= 5 else 420.0

    rows = [row(i, sleep_tst_min=tst(i)) for i in range(35)]
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    cols, alerts = run(rows, params)
    assert not alerts  # a person who sleeps in at weekends is not deteriorating
    sat, mon = 26, 28  # 2024-01-27 (Saturday), 2024-01-29 (Monday)
    assert (cols[sat]["base_sleep_tst_min"], cols[sat]["z_sleep_tst_min"]) == (540.0, 0.0)
    assert (cols[mon]["base_sleep_tst_min"], cols[mon]["z_sleep_tst_min"]) == (420.0, 0.0)
    # a weekday-length night on a Saturday is 120 min short of that person's Saturday:
    # z = -120 / 20, clipped at -3
    rows[sat] = row(sat, sleep_tst_min=420.0)
    cols, _ = run(rows, params)
    assert cols[sat]["z_sleep_tst_min"] == -3.0 and cols[sat]["base_sleep_tst_min"] == 540.0
    # with the day-of-week option off, one pooled median (15 weekdays of 20 days): 420,
    # and a usual 540-min Sunday is 6 scales long (clipped: z = 3)
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9, day_of_week=False)
    cols, _ = run(rows, quiet)
    assert cols[sat + 1]["base_sleep_tst_min"] == 420.0
    assert cols[sat + 1]["z_sleep_tst_min"] == 3.0


# --------------------------------------------------------------------------- episodes


def test_an_episode_resolves_only_when_values_are_back_in_the_personal_band() -> None:
    # day 21: z = -3 (C = 2.5; 2.5 / 2.4 >= 1: opened). Days 22-29: 412 min, z = -0.4:
    # C falls by 0.1 a day (level watch from day 23), but the 3-day EWMA of u (0.5 weights)
    # goes 1.5, 0.95, 0.675, 0.54, 0.47, 0.43, 0.42, 0.41, 0.40 -- never below band_z 0.3,
    # so the episode stays open. Day 30 on: 420 again, EWMA 0.20, 0.10, 0.05: in band on
    # days 30, 31, 32 -> resolved on day 32 (close_after_days 3).
    rows = usual_rows(21) + [row(21, sleep_tst_min=360.0)]
    rows += [row(i, sleep_tst_min=412.0) for i in range(22, 30)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(30, 36)]
    params = RiskParams(**{**SMALL, "h_single": 2.4, "band_z": 0.3})  # type: ignore[arg-type]
    cols, alerts = run(rows, params)
    assert [(a["kind"], a["date"]) for a in alerts] == [("opened", iso(21)), ("resolved", iso(32))]
    assert all(cols[i]["risk_level"] in ("none", "watch") for i in range(23, 36))
    assert "not resolved" not in alerts[1]["explanation"]


def test_an_unresolved_episode_closes_28_days_after_its_alert_and_the_engine_watches_again() -> (
    None
):
    # 360 min from day 21 on, for good: C = 2.5 (watch), 5.0 on day 22 (opened; the CUSUM
    # run began on day 21, so the episode starts on day 21), 7.5 on day 23 (high:
    # escalated). 28 days after the opened alert (day 22 + 28 = day 50), not after the
    # back-dated start (day 49): closed, saying it did not return to usual. CUSUMs restart
    # (day 51: 2.5, day 52: 5.0), but the 7-day cooldown holds until day 58.
    rows = usual_rows(21) + [row(i, sleep_tst_min=360.0) for i in range(21, 60)]
    cols, alerts = run(rows, RiskParams(**SMALL))  # type: ignore[arg-type]
    got = [(a["kind"], a["date"]) for a in alerts]
    assert got == [
        ("opened", iso(22)),
        ("escalated", iso(23)),
        ("resolved", iso(50)),
        ("opened", iso(58)),
    ]
    assert alerts[0]["episode_start"] == iso(21)
    assert "not resolved" in alerts[2]["explanation"]
    assert alerts[2]["explanation"].startswith("Closed after 28 days from this alert")
    # day 52: C = 5.0, 5 / 3 >= 1 -- the evidence is there, the cooldown holds it
    assert cols[52]["risk_level"] == "elevated" and cols[52]["risk_evidence"] > 1


def test_the_28_day_close_counts_from_the_alert_even_when_the_run_began_long_before() -> None:
    # A slow drift: 405 min (z = -0.75, u = 0.75, C grows 0.25 a day) from day 21, so the
    # CUSUM run (and the back-dated episode start, at most 14 days back) begins long before
    # the alert. C reaches 3 on day 32 (opened, episode dated back to day 21). Counted from
    # the start the episode would close on day 49, 17 days after the clinician saw it;
    # counted from the alert it closes on day 32 + 28 = 60.
    rows = usual_rows(21) + [row(i, sleep_tst_min=405.0) for i in range(21, 70)]
    _, alerts = run(rows, RiskParams(**{**SMALL, "h": 100.0}))  # type: ignore[arg-type]
    got = [(a["kind"], a["date"]) for a in alerts]
    assert got[0] == ("opened", iso(32)) and alerts[0]["episode_start"] == iso(21)
    # (the EWMA of u = 0.75 is inside the band, but the CUSUM is still rising: not resolved;
    # C reaches 6 on day 44: escalated to high)
    closed = [a for a in alerts if a["kind"] == "resolved"]
    assert closed[0]["date"] == iso(60) and "not resolved" in closed[0]["explanation"]


def test_after_a_high_episode_values_back_in_the_band_resolve_it_without_waiting_weeks() -> None:
    # 300 min on days 21-26: z = -6 clipped at -3, u = 3, C += 2.5 a day: 15.0 on day 26
    # (opened day 22, high from day 23 at C >= 6). From day 27 on: 420 again (u = 0, C
    # falls by 0.5 a day: still >= 3, "elevated", until day 50). The EWMA of u goes 1.5,
    # 0.75, 0.375, 0.19 (band 1.0: in band from day 28); the CUSUM no longer rises, so
    # days 28, 29, 30 count: resolved on day 30. The old rule also demanded a level below
    # elevated and kept the episode open until the 28-day close (day 50).
    rows = usual_rows(21) + [row(i, sleep_tst_min=300.0) for i in range(21, 27)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(27, 60)]
    cols, alerts = run(rows, RiskParams(**SMALL))  # type: ignore[arg-type]
    got = [(a["kind"], a["date"]) for a in alerts]
    assert got == [("opened", iso(22)), ("escalated", iso(23)), ("resolved", iso(30))]
    assert "not resolved" not in alerts[-1]["explanation"]
    assert cols[30]["risk_level"] in ("elevated", "high")  # the CUSUM has not decayed yet


def test_a_feature_without_a_prior_stays_judged_during_an_early_episode() -> None:
    # No prior: 10 own days needed. Days 13-14: 360 (C = 2.5, then 5.0: opened on day 14,
    # when the regular window holds only days 0-7). The pinned baseline must be the one the
    # feature is judged with (its first 14 days), so on day 15 (420 again) z = 0 and C
    # falls by 0.5 a day: 4.5, 4.0, 3.5, 3.0 (still >= 3: elevated), 2.5 on day 19 (watch);
    # the EWMA (3, 3, 1.5, 0.75, ...) is in band from day 16 and the CUSUM no longer rises,
    # so days 16, 17, 18 count: resolved on day 18.
    rows = usual_rows(13) + [row(i, sleep_tst_min=360.0) for i in (13, 14)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(15, 25)]
    cols, alerts = run(rows, RiskParams(**SMALL))  # type: ignore[arg-type]
    assert [(a["kind"], a["date"]) for a in alerts] == [("opened", iso(14)), ("resolved", iso(18))]
    assert [cols[i]["z_sleep_tst_min"] for i in range(15, 19)] == [0.0] * 4


# --------------------------------------------------------------------------- warm-up


def test_with_the_population_prior_the_first_possible_alert_is_on_day_6() -> None:
    # Five own days (days 0-4) are enough with the prior. On day 5 the scale of total sleep
    # is the prior blended with an own MAD of 0: 62.3 * sqrt(7 / (7 + 5)); 300 min less is
    # z = -6.3 -> -3, C = 2.5; with h_single 2 that is elevated on day 5, the 6th day.
    p = {"h_single": 2.0, "warmup_factor": 1.0}
    for first_bad in (4, 5):
        rows = usual_rows(first_bad) + [row(i, sleep_tst_min=120.0) for i in range(first_bad, 8)]
        cols, alerts = run(rows, RiskParams(**p))  # type: ignore[arg-type]
        assert cols[4]["risk_warming_up"] is True  # 4 own days: nothing judged yet
        assert math.isnan(cols[4]["z_sleep_tst_min"])
        assert opened_days(alerts)[0] == iso(5)
    assert cols[5]["scale_sleep_tst_min"] == pytest.approx(62.3 * math.sqrt(7 / 12), rel=1e-9)
    assert alerts[0]["baseline"] == "population prior"
    # without a prior the person's own 10 days are needed: first alert on day 10
    rows = usual_rows(10) + [row(i, sleep_tst_min=120.0) for i in range(10, 13)]
    cols, alerts = run(rows, RiskParams(**p, prior_scale=()))  # type: ignore[arg-type]
    assert math.isnan(cols[9]["z_sleep_tst_min"]) and opened_days(alerts)[0] == iso(10)
    # the warm-up factor 1.5 asks C >= 3: day 5 (2.5) is only a watch, day 6 (5.0) alerts
    rows = usual_rows(5) + [row(i, sleep_tst_min=120.0) for i in range(5, 8)]
    cols, alerts = run(rows, RiskParams(h_single=2.0, warmup_factor=1.5))
    assert cols[5]["risk_level"] == "watch" and opened_days(alerts)[0] == iso(6)


# --------------------------------------------------------------------------- feedback


@pytest.mark.parametrize(
    ("reason", "left_out"),
    [
        ("holiday_travel", True),
        ("illness", True),
        ("device_problem", True),
        ("contacted_deteriorating", False),
        ("other", False),
    ],
)
def test_holiday_illness_and_device_days_stay_out_of_the_baseline(
    reason: str, left_out: bool
) -> None:
    # 7 usual nights (420), then 14 long ones (540) on days 7-20 with feedback from day 7
    # until day 20, then 420 again. On day 28 the window is days 0-21: with the 14 days
    # in it the median is 540; without them it is 420 (days 0-6 and 21).
    rows = usual_rows(7) + [row(i, sleep_tst_min=540.0) for i in range(7, 21)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(21, 29)]
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9)  # no episode muddles the window
    event = {"kind": "feedback", "reason": reason, "until": day_no(20)}
    cols, _ = run(rows, quiet, {7: event})
    assert cols[28]["base_sleep_tst_min"] == (420.0 if left_out else 540.0)
    # told afterwards (on day 21, "from day 7 to day 20"): the days already seen go too
    cols, _ = run(rows, quiet, {21: {**event, "date": day_no(7)}})
    assert cols[28]["base_sleep_tst_min"] == (420.0 if left_out else 540.0)


def test_contacted_fine_raises_the_evidence_needed_for_14_days() -> None:
    # Day 21: 360 (C = 2.5), day 22: 390 (u = 1.5, C = 3.5), then 410 (u = 0.5: C stays
    # 3.5). Evidence 3.5 / 3 = 1.17: elevated on day 22 -- unless "contacted_fine" on
    # day 20 asks 1.5 times more (1.17 / 1.5 = 0.78: watch) for 14 days (days 20-33):
    # the same evidence then opens the episode on day 34.
    rows = usual_rows(21) + [row(21, sleep_tst_min=360.0), row(22, sleep_tst_min=390.0)]
    rows += [row(i, sleep_tst_min=410.0) for i in range(23, 40)]
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    _, alerts = run(rows, params)
    assert opened_days(alerts) == [iso(22)]
    cols, alerts = run(rows, params, {20: {"kind": "feedback", "reason": "contacted_fine"}})
    assert opened_days(alerts) == [iso(34)]
    assert all(cols[i]["risk_level"] == "watch" for i in range(22, 34))


def kinds(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["kind"], a["date"]) for a in alerts]


def long_nights_then(after: float, n: int = 41) -> list[dict[str, Any]]:
    """21 usual nights (420), 7 long ones (540, z = 6 clipped to 3: C + 2.5 a day) on
    days 21-27, then ``after`` from day 28 to day ``n - 1``."""
    rows = usual_rows(21) + [row(i, sleep_tst_min=540.0) for i in range(21, 28)]
    return rows + [row(i, sleep_tst_min=after) for i in range(28, n)]


HOLIDAY_ACK = {23: {"kind": "feedback", "reason": "holiday_travel", "until": day_no(27)}}


def test_a_reason_covers_the_episode_from_its_start_holds_evidence_and_resolves_it() -> None:
    # Day 21: C = 2.5 (watch), day 22: C = 5 (5 / 3: elevated): the episode opens with its
    # start on day 21. Without feedback C keeps rising (day 23: 7.5, evidence 2.5: high).
    # "Holiday until day 27" on day 23 covers days 21-27: the CUSUM restarts and holds, no
    # escalation; on day 28 (home, 420) the episode resolves as explained.
    rows = long_nights_then(420.0)
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    _, plain = run(rows, params)
    assert kinds(plain)[:2] == [("opened", iso(22)), ("escalated", iso(23))]
    state = RiskState(params=params)
    cols, alerts = [], []
    for i, r in enumerate(rows):
        if i == 23:
            (notice,) = state.clinical(day_no(23), "feedback", reason="holiday_travel",
                                       until=day_no(27))  # fmt: skip
        c, a, _ = state.assess("p-01", r)
        cols.append(c)
        alerts += a
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(28))]
    assert (notice["applies_from"], notice["applies_until"]) == (iso(21), iso(27))
    assert "left out of the usual range" in notice["effect"]
    assert "resolves as explained on " + iso(28) in notice["effect"]
    assert all(cols[i]["risk_level"] == "none" for i in range(23, 28))
    text = alerts[1]["explanation"]
    assert text.startswith("Resolved as explained by the clinician: holiday or travel")
    assert f"{iso(21)} to {iso(27)}" in text
    assert not state.hist["eligible"][(state.hist["date"] >= day_no(21))
                                      & (state.hist["date"] <= day_no(27))].any()  # fmt: skip


def test_a_relapse_that_starts_after_the_explained_period_alerts_at_once() -> None:
    # As above, then short nights (300: z = -6, C + 2.5 a day) from day 28, the first day
    # home. Day 28: the explained episode resolves (C = 2.5, kept: it came after the
    # period); day 29: C = 5: a NEW episode opens (no cooldown after an explained
    # episode), judged against the baseline from before the period (420); day 30: C = 7.5,
    # high. Without the
    # reason the old episode stays open and nothing new is said.
    rows = long_nights_then(300.0)
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    _, plain = run(rows, params)
    assert "opened" not in [k for k, _ in kinds(plain)[1:]]
    cols, alerts = run(rows, params, HOLIDAY_ACK)
    assert kinds(alerts) == [
        ("opened", iso(22)),
        ("resolved", iso(28)),
        ("opened", iso(29)),
        ("escalated", iso(30)),  # C = 7.5: evidence 2.5, high
    ]
    assert alerts[2]["episode_start"] == iso(28)
    assert cols[29]["base_sleep_tst_min"] == 420.0
    assert "holiday or travel reported" in alerts[2]["explanation"]  # named on the alert


def test_a_device_problem_without_an_end_date_re_anchors_the_baseline() -> None:
    # A new device reads 480 from day 21 on (z = 3: C + 2.5 a day): the episode opens on
    # day 22 (start day 21). Without feedback it stays open to its 28-day limit, closes
    # "not resolved" and opens again after cooldown and washout. "Device problem" with
    # no end date on day 23: the baseline restarts from day 22, the alert's day (surely the
    # new device's: the change caused the alert; the back-dated start can reach before
    # it), the episode resolves as explained on day 23, and 480 is the usual from then on
    # (without a prior a feature needs 10 own days before it is judged again).
    rows = usual_rows(21) + [row(i, sleep_tst_min=480.0) for i in range(21, 90)]
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    _, plain = run(rows, params)
    assert opened_days(plain)[0] == iso(22) and len(opened_days(plain)) >= 2
    event = {23: {"kind": "feedback", "reason": "device_problem"}}
    cols, alerts = run(rows, params, event)
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(23))]
    assert "rebuilt from the days since " + iso(22) in alerts[1]["explanation"]
    assert cols[40]["base_sleep_tst_min"] == 480.0 and cols[40]["z_sleep_tst_min"] == 0.0


def _fine_rows(column: str, plateau: list[float]) -> list[dict[str, Any]]:
    """Usual sleep (420) and night heart rate (58) for 21 days; long nights (540) on days
    21-22 (an episode opens on day 22); usual again; from day 38 ``plateau`` values of
    ``column``, then its last value to day 59."""
    cols = ("sleep_tst_min", "night_mean_hr")
    rows = usual_rows(21, cols)
    rows += [row(i, sleep_tst_min=540.0, night_mean_hr=58.0) for i in (21, 22)]
    rows += usual_rows(38, cols)[23:]
    for i in range(38, 60):
        r = row(i, sleep_tst_min=420.0, night_mean_hr=58.0)
        r[column] = plateau[min(i - 38, len(plateau) - 1)]
        rows.append(r)
    return rows


# a plateau of C = 3.5 (2.5, then +1.0, then +0): 3.5 / 3 = 1.17, elevated on its 2nd day;
# with the pattern's evidence above the floor counted 1 / 1.5: (1 + 2.5 / 1.5) / 3 = 0.89
SLEEP_PLATEAU = [480.0, 450.0, 430.0]  # z 3, 1.5, 0.5 (scale 20)
HR_PLATEAU = [62.5, 60.25, 58.75]  # z 3, 1.5, 0.5 (scale 1.5)


@pytest.mark.parametrize(
    ("column", "plateau", "same_pattern"),
    [("sleep_tst_min", SLEEP_PLATEAU, True), ("night_mean_hr", HR_PLATEAU, False)],
)
def test_contacted_fine_raises_the_evidence_needed_for_the_same_pattern_only(
    column: str, plateau: list[float], same_pattern: bool
) -> None:
    # The sleep episode (opened day 22) is acknowledged "fine" on day 23, until day 45. Its
    # episode resolves before day 30. From day 38 a plateau: the same pattern (sleep) opens
    # only when the allowance ends (day 46); another one (night heart rate) on day 39 as
    # without feedback.
    rows = _fine_rows(column, plateau)
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    _, plain = run(rows, params)
    assert opened_days(plain) == [iso(22), iso(39)]
    fine = {23: {"kind": "feedback", "reason": "contacted_fine", "until": day_no(45)}}
    _, alerts = run(rows, params, fine)
    assert opened_days(alerts) == [iso(22), iso(46) if same_pattern else iso(39)]


def test_contacted_fine_lasts_its_days_after_the_acknowledged_episode_resolves() -> None:
    # Without "until" the allowance runs 14 days from the acknowledgement (days 23-36) or,
    # when later, 14 days after the acknowledged episode resolves (before day 30, so past
    # day 39): the sleep plateau of day 38 stays "watch" until then.
    rows = _fine_rows("sleep_tst_min", SLEEP_PLATEAU)
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    cols, alerts = run(rows, params, {23: {"kind": "feedback", "reason": "contacted_fine"}})
    resolved = [a["date"] for a in alerts if a["kind"] == "resolved"]
    assert resolved and resolved[0] < iso(30)
    assert opened_days(alerts)[0] == iso(22) and iso(39) not in opened_days(alerts)
    assert cols[39]["risk_level"] == "watch"


@pytest.mark.parametrize(
    ("reason", "until", "says"),
    [
        ("holiday_travel", 27, "left out of the usual range"),
        ("illness", None, "left out of the usual range"),
        ("device_problem", 27, "left out of the usual range"),
        ("device_problem", None, "usual range is rebuilt"),
        ("contacted_fine", None, "needs 1.5 x the evidence"),
        ("contacted_deteriorating", None, "recorded"),
        ("other", None, "recorded, nothing changed"),
    ],
)
def test_every_reason_answers_with_a_notice_of_what_it_changed(
    reason: str, until: int | None, says: str
) -> None:
    from phenotyping.events import Notice

    state = RiskState(params=RiskParams(**SMALL))  # type: ignore[arg-type]
    for r in long_nights_then(420.0)[:23]:
        state.assess("p-01", r)
    notices = state.clinical(
        day_no(23), "feedback", reason=reason, until=None if until is None else day_no(until)
    )
    (n,) = notices
    assert n["kind"] == "feedback_applied" and n["reason"] == reason and says in n["effect"]
    Notice.model_validate({"subject_id": "p-01", **n})  # what the notices topic accepts


def test_a_period_already_over_at_the_acknowledgement_leaves_the_evidence_since() -> None:
    # Long nights on days 21-27, then short ones (a relapse) from day 28; "holiday until
    # day 27" given only on day 30: the period's days leave the baseline, but the
    # evidence gathered since day 28 and the open episode stand (the engine cannot tell
    # how much of the CUSUM came from the period): nothing is resolved as explained.
    rows = long_nights_then(300.0)
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    plain_cols, plain = run(rows, params)
    state = RiskState(params=params)
    cols, alerts = [], []
    for i, r in enumerate(rows):
        if i == 30:
            (notice,) = state.clinical(day_no(30), "feedback", reason="holiday_travel",
                                       until=day_no(27))  # fmt: skip
        c, a, _ = state.assess("p-01", r)
        cols.append(c)
        alerts += a
    assert "the period is over" in notice["effect"]
    assert kinds(alerts) == kinds(plain)
    assert [c["risk_level"] for c in cols[30:]] == [c["risk_level"] for c in plain_cols[30:]]
    assert "holiday or travel reported" in notice["effect"]


def test_a_feature_over_7_days_stays_out_of_the_baseline_while_its_window_covers_the_period() -> (
    None
):
    # Holiday on days 10-12 (told on day 10, no episode). Nightly total sleep is back in
    # the baseline from day 13; the 7-day sleep regularity of days 13-18 still covers a
    # holiday day, so it stays out until day 19.
    rows = [row(i, sleep_tst_min=420.0, sri7d=80.0) for i in range(25)]
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9)
    state = RiskState(params=quiet)
    for i, r in enumerate(rows):
        if i == 10:
            state.clinical(day_no(10), "feedback", reason="holiday_travel", until=day_no(12))
        state.assess("p-01", r)
    names = [f.column for f in state._feats]
    h = state.hist

    def out(column: str) -> list[int]:
        sel = (h["feature"] == names.index(column)) & ~h["eligible"]
        return sorted(int(d) - day_no(0) for d in h["date"][sel])

    assert out("sleep_tst_min") == [10, 11, 12]
    assert out("sri7d") == list(range(10, 19))


@pytest.mark.parametrize("reason", ["holiday_travel", "contacted_fine"])
def test_a_state_saved_before_feedback_covered_periods_keeps_its_feedback(reason: str) -> None:
    # a state written by the previous engine knows only feedback_reason/from/until: after
    # loading, a holiday still holds its days and "fine" still damps (every signal)
    from phenotyping.features.envelope import pack, unpack
    from phenotyping.risk import engine

    state = RiskState(params=RiskParams(**SMALL))  # type: ignore[arg-type]
    state.feedback_reason, state.feedback_from, state.feedback_until = reason, 100, 106
    dtypes = {"hist": engine.HIST_DTYPE, "sig": engine.SIG_DTYPE, "frozen": engine.FROZEN_DTYPE}
    header, arrays = unpack(state.to_bytes(), engine._MAGIC, engine._VERSION, dtypes)
    new = [k for k in header if k.startswith(("excl_", "fine_", "last_episode", "episode_op"))]
    old = {k: v for k, v in header.items() if k not in new and k != "arrays"}
    loaded = RiskState.from_bytes(pack(engine._MAGIC, engine._VERSION, old, arrays))
    if reason == "holiday_travel":
        assert loaded._held(103) and not loaded._held(107)
    else:
        assert (loaded.fine_from, loaded.fine_until) == (100, 106)
        assert loaded.fine_signals == 2 ** len(loaded._signals) - 1


def test_deteriorating_ends_an_explanation_and_the_episode_resolves_as_any_other() -> None:
    # Holiday until day 27 on day 23, then "contacted - deteriorating" on day 25: from day
    # 25 the long nights count again (C 2.5, 5, 7.5 on days 25-27: watch, elevated, high), and
    # the episode is no longer resolved as explained on day 28.
    rows = long_nights_then(420.0)
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    events = {**HOLIDAY_ACK, 25: {"kind": "feedback", "reason": "contacted_deteriorating"}}
    cols, alerts = run(rows, params, events)
    levels = [c["risk_level"] for c in cols[23:28]]
    assert levels == ["none", "none", "watch", "elevated", "high"]
    assert ("escalated", iso(27)) in kinds(alerts)
    assert not any("explained" in a["explanation"] for a in alerts)


# --------------------------------------------------------------------------- device HRV


def test_device_hrv_is_used_only_without_beat_level_hrv() -> None:
    # Device resting HR 60 -> 64.5 on day 21 (z = +3, a 12-day-window feature: u = 3 /
    # sqrt(12) = 0.866, C = 0.366; with h_single 0.3 and floor 0.1 that alone is elevated).
    dev = [dict(r, dev_resting_hr=60.0) for r in usual_rows(21, ("night_mean_hr",))]
    params = RiskParams(**{**SMALL, "h_single": 0.3, "floor": 0.1})  # type: ignore[arg-type]
    # beat-level night HRV present and usual: the device values are not looked at, not
    # even a device RMSSD 3 scales (0.08 in log units) below its usual 40 ms
    low_rmssd = math.expm1(math.log1p(40.0) - 3 * 0.08)
    both = [dict(r, dev_rmssd=40.0) for r in dev]
    today = row(21, night_mean_hr=58.0, dev_resting_hr=64.5, dev_rmssd=low_rmssd)
    cols, alerts = run(both + [today], params)
    assert cols[21]["risk_evidence"] == 0.0 and not alerts
    # no beat-level night (hrv_valid false): the device value feeds the HRV signal
    no_beats = [dict(r, hrv_valid=False) for r in dev]
    last = row(21, night_mean_hr=58.0, dev_resting_hr=64.5) | {"hrv_valid": False}
    cols, alerts = run(no_beats + [last], params)
    c = 3 / math.sqrt(12) - 0.5
    assert cols[21]["risk_evidence"] == pytest.approx(c / 0.3, abs=1e-4)
    (a,) = alerts
    assert a["domains"] == ["hrv"] and "device-derived" in a["explanation"]
    assert [x["feature"] for x in a["contributing"]] == ["dev_resting_hr"]


def test_a_state_saved_before_the_opened_date_was_kept_still_loads() -> None:
    # A state written by the previous engine has no ``episode_opened``: it loads, and its
    # open episode is closed counting from the episode start as before.
    from phenotyping.features.envelope import pack, unpack
    from phenotyping.risk import engine as eng

    rows = usual_rows(21) + [row(i, sleep_tst_min=360.0) for i in range(21, 60)]
    state = RiskState(params=RiskParams(**SMALL))  # type: ignore[arg-type]
    for r in rows[:30]:
        state.assess("p-01", r)
    assert state.episode_opened == day_no(22)
    dtypes = {"hist": eng.HIST_DTYPE, "sig": eng.SIG_DTYPE, "frozen": eng.FROZEN_DTYPE}
    dtypes["remission"] = eng.FROZEN_DTYPE
    header, arrays = unpack(state.to_bytes(), eng._MAGIC, eng._VERSION, dtypes)
    del header["episode_opened"]  # did not exist then
    assert "remission" not in arrays  # written only when remission days are known
    old = RiskState.from_bytes(pack(eng._MAGIC, eng._VERSION, header, arrays))
    assert old.episode_opened == -1 and old.episode_start == day_no(21)
    closed = [a for r in rows[30:] for a in old.assess("p-01", r)[1] if a["kind"] == "resolved"]
    assert closed[0]["date"] == iso(49)


def test_with_the_default_thresholds_one_signal_alerts_before_the_sum_rule_would() -> None:
    # Default floor 2, h 10, h_single 11 (prior off, no warm-up factor). Total sleep 360 on
    # days 21-24 (z = -3, u = 3: C = 2.5, 5, 7.5, 10), 400 on days 25 on (z = -1, u = 1:
    # C = 10.5, 11.0, 11.5, 12.0). Day 26: C = 11 = h_single -> elevated by the single
    # rule, while the sum rule alone gives (11 - 2) / 10 = 0.9. With h_single 12 (= floor
    # + h, the old default) the single rule never fired first: opened on day 28.
    params = RiskParams(prior_scale=(), warmup_factor=1.0)
    assert params.h_single < params.floor + params.h
    rows = usual_rows(21) + [row(i, sleep_tst_min=360.0) for i in range(21, 25)]
    rows += [row(i, sleep_tst_min=400.0) for i in range(25, 32)]
    cols, alerts = run(rows, params)
    assert cols[26]["risk_evidence"] == pytest.approx(1.0, abs=1e-4)
    assert opened_days(alerts) == [iso(26)]


def test_a_later_phase_with_clearly_more_activity_is_no_evidence_of_a_delay() -> None:
    # Prior off: usual activity 250 counts (log scale floored at 0.1), sleep midpoint 03:00
    # (scale 20 min). Midpoint 58 min later (z = 2.9, u = 2.9): the late-phase CUSUM
    # gives C = 2.4, 4.8 -> opened on day 22 (h_single 3). With activity 30% above usual
    # on the same days (z = log(326 / 251) / 0.1 = 2.6, its oriented score -2.6 <= -1,
    # the default gate) the late phase adds nothing: a holiday, not psychomotor slowing.
    base = [row(i, sleep_midpoint_clock_min=180.0, activity_mean_worn=250.0) for i in range(21)]
    late = [row(i, sleep_midpoint_clock_min=238.0, activity_mean_worn=250.0) for i in (21, 22)]
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    _, alerts = run(base + late, params)
    assert opened_days(alerts) == [iso(22)] and alerts[0]["domains"] == ["circadian"]
    active = [r | {"activity_mean_worn": 326.0} for r in late]
    cols, alerts = run(base + active, params)
    assert not alerts and cols[22]["risk_evidence"] == 0.0
    # switched off (gate inf), the same days alert
    off = RiskParams(**{**SMALL, "phase_activity_gate": math.inf})  # type: ignore[arg-type]
    _, alerts = run(base + active, off)
    assert opened_days(alerts) == [iso(22)]


def test_an_activity_alert_describes_the_typical_day_the_engine_judged() -> None:
    # Usual activity 250 counts (prior off: log scale floored at 0.1); the engine judges
    # log(x + 1). Days 21, 22, 24, 25: 1 count (z -> -3, u = 3); day 23: 5000 counts (z -> +3,
    # u = -3). With h = 100 and h_single 6: C = 2.5, 5.0, 1.5 (the run goes on), 4.0, 6.5
    # -> opened on day 25, run since day 21. Those five days average 1000.8 counts
    # arithmetically ("300% above usual" for an activity-DOWN alert); their typical day,
    # the geometric mean exp(mean(log(x + 1))) - 1 = exp((4 log 2 + log 5001) / 5) - 1 =
    # 8.56 counts, is 97% below usual -- what the engine reacted to.
    base = [row(i, activity_mean_worn=250.0) for i in range(21)]
    values = (1.0, 1.0, 5000.0, 1.0, 1.0)
    bad = [row(i, activity_mean_worn=v) for i, v in zip(range(21, 26), values, strict=True)]
    params = RiskParams(**{**SMALL, "h": 100.0, "h_single": 6.0})  # type: ignore[arg-type]
    _, alerts = run(base + bad, params)
    assert opened_days(alerts) == [iso(25)]
    item = alerts[0]["contributing"][0]
    assert item["feature"] == "activity_mean_worn" and item["days_in_deviation"] == 5
    expected = math.exp((4 * math.log(2.0) + math.log(5001.0)) / 5) - 1
    assert item["mean_since_onset"] == pytest.approx(expected, rel=1e-3)
    assert item["direction"] == "down"
    assert alerts[0]["explanation"] == "Daily activity 97% below usual for 5 days"


@pytest.mark.parametrize("reason", ["holiday_travel", "illness"])
def test_a_reason_without_until_applies_for_a_week_from_the_acknowledgement(reason: str) -> None:
    # "without until: a week from today" (docs/clinicians.md): day 23 to day 29, inclusive
    state = RiskState(params=RiskParams(**SMALL))  # type: ignore[arg-type]
    for r in long_nights_then(420.0)[:23]:
        state.assess("p-01", r)
    (n,) = state.clinical(day_no(23), "feedback", reason=reason, until=None)
    assert n["applies_until"] == iso(29)


def test_damp_divides_only_the_evidence_above_the_floor_of_the_masked_signals() -> None:
    import numpy as np

    from phenotyping.risk.feedback import damp

    c = np.array([5.0, 1.0, 2.0, 5.0])
    mask = np.array([True, True, True, False])
    # floor 2, factor 2: 5 -> 2 + 3 / 2 = 3.5; 1 and 2 (not above the floor) unchanged;
    # the unmasked 5 unchanged
    assert damp(c, mask, 2.0, 2.0).tolist() == [3.5, 1.0, 2.0, 5.0]
    assert c.tolist() == [5.0, 1.0, 2.0, 5.0]  # the input is not modified

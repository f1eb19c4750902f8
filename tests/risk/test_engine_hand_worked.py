"""The risk engine's bookkeeping on hand-worked histories: which days enter the baseline,
the washout after an episode, the 7-day valid-days count, what clinician feedback does,
the level a resolved alert reports, and the state's version.

Every expected value is worked out by hand (in the comments) from the documented rules --
``change``: CUSUM ``C = max(0, C + u - k)`` with ``k = 0.5``, evidence ``max(sum(max(0, C -
floor)) / h, max C / h_single)``; ``policy``: elevated at evidence 1, high at 2, an episode
resolves after ``close_after_days`` (3) days with the 3-day EWMA (weight 0.5) of each
opening signal's score below ``band_z`` (1); ``baseline``: median and ``1.4826 x MAD``
floored at the feature's ``min_scale`` (total sleep 20 min, night heart rate 1.5 bpm) over
the eligible days ``d - 34 .. d - 7`` once that window holds ``min_baseline_days``
(doubled to 10 without a population prior), else the person's first eligible days --
never by running the engine. Only the public API is used (``RiskState.assess``,
``RiskState.clinical``, ``to_bytes``/``from_bytes``). Written for the surviving mutants of
the third mutation round (docs/testing.md, section 4); each test states the behaviour a
clinician relies on. 2024-01-01 (day 0) is a Monday.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest

from phenotyping.errors import StateError
from phenotyping.risk.engine import RiskParams, RiskState

# the hand-worked conventions of test_policy (2024-01-01 is day 0; one signal alone needs
# C >= 3 with SMALL, several sum(C - 1) >= 4; no prior, no warm-up factor)
from tests.risk.test_policy import SMALL, day_no, iso, row


def run(
    rows: list[dict[str, Any]],
    params: RiskParams,
    events: dict[int, list[dict[str, Any]]] | None = None,
    *,
    reload: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Feed the rows; ``events[i]`` (a list) just before row ``i``, each dated day ``i``
    unless it says ``date``. ``reload``: the state goes through ``to_bytes``/``from_bytes``
    before every day (what a worker does). Returns (per-day risk columns, alerts, notices)."""
    state = RiskState(params=params)
    cols, alerts, notices = [], [], []
    for i, r in enumerate(rows):
        if reload:
            state = RiskState.from_bytes(state.to_bytes())
        for ev in (events or {}).get(i, []):
            ev = dict(ev)
            kind, date = ev.pop("kind"), ev.pop("date", day_no(i))
            notices += state.clinical(date, kind, **ev)
        c, a, n = state.assess("p-01", r)
        cols.append(c)
        alerts += a
        notices += n
    return cols, alerts, notices


def kinds(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["kind"], a["date"]) for a in alerts]


def opened_days(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["date"] for a in alerts if a["kind"] == "opened"]


# --------------------------------------------------------------------------- alerts


def test_valid_days_last_7_counts_the_alert_day_and_the_six_before_it() -> None:
    # Usual sleep (420) on days 0-20; days 21-23 without a valid night; 360 on days 24-25
    # (z = -60 / 20 = -3, u = 3: C = 2.5, then 5.0; 5 / 3 >= 1 -> opened on day 25). The
    # days with a value among days 19..25 are 19, 20, 24, 25: 4 (not day 18, 8 days back;
    # the alert's own day included).
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=420.0) | {"sleep_valid": False} for i in (21, 22, 23)]
    rows += [row(i, sleep_tst_min=360.0) for i in (24, 25)]
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    (a,) = alerts
    assert (a["kind"], a["date"]) == ("opened", iso(25))
    assert a["coverage"]["valid_days_last_7"] == 4


def test_a_resolved_alert_reports_the_level_the_episode_reached() -> None:
    # 360 on days 21-23 (u = 3): C = 2.5, 5.0 (opened, evidence 1.67: elevated), 7.5
    # (evidence 2.5: high, escalated). 420 from day 24 (u = 0): C = 7.0, 6.5, 6.0, 5.5; the
    # EWMA of u: 1.5, 2.25, 2.625, then 1.31, 0.66, 0.33, 0.16 -- below 1 on days 25, 26,
    # 27 and C no longer rising: resolved on day 27, when today's evidence is 5.5 / 3 =
    # 1.83 (elevated). The resolved alert names the episode it closes: "high".
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0) for i in (21, 22, 23)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(24, 30)]
    cols, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("escalated", iso(23)), ("resolved", iso(27))]
    assert [a["level"] for a in alerts] == ["elevated", "high", "high"]
    assert alerts[2]["explanation"] == "Resolved: back within the usual range for 3 days"
    assert cols[27]["risk_level"] == "elevated"
    assert cols[27]["risk_evidence"] == pytest.approx(5.5 / 3, abs=1e-4)


# --------------------------------------------------------------------------- baseline windows


def washout_rows() -> list[dict[str, Any]]:
    """420 on days 0-22 except 360 on days 21-22 (an episode), 420 on days 23-26, 410 on
    days 27-40, 430 from day 41 to day 59."""
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0) for i in (21, 22)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(23, 27)]
    rows += [row(i, sleep_tst_min=410.0) for i in range(27, 41)]
    return rows + [row(i, sleep_tst_min=430.0) for i in range(41, 60)]


def test_after_an_episode_the_baseline_stays_pinned_for_the_washout_then_slides_again() -> None:
    # Episode: C = 2.5, 5.0 on days 21-22 (opened day 22, started day 21); 420 from day 23:
    # C = 4.5, 4.0, 3.5, 3.0, EWMA 1.125, 0.56, 0.28, 0.14: in band on days 24, 25, 26 ->
    # resolved on day 26. The washout (14 days) keeps days 27-40 out; the pinned baseline
    # (days 0-15: 420) judges them: 410 is z = -0.5, u = 0.5 - k = 0, no evidence; 430
    # likewise. The episode's days 21-26 never enter.
    # Day 56: the regular window (days 22-49) holds the eligible days 41-49 -- 9 < 10, so
    # the person's first 28 eligible days are used: days 0-20 (420) and 41-47 (430):
    # median 420. Day 57: days 41-50, 10 days: the window, median 430. (Were day 40 -- the
    # washout's last -- in the baseline, day 56 would already read 430; were day 41 out,
    # day 57 would still read 420; a baseline pinned for good reads 420 on both.)
    params = RiskParams(**SMALL, day_of_week=False)
    cols, alerts, _ = run(washout_rows(), params)
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26))]
    assert all(cols[i]["base_sleep_tst_min"] == 420.0 for i in range(23, 57))
    assert cols[57]["base_sleep_tst_min"] == 430.0
    assert cols[57]["z_sleep_tst_min"] == 0.0


def test_the_first_days_of_a_new_baseline_include_the_response_day() -> None:
    # Usual sleep 420 on days 0-20, then 480 from day 21 (the person after a response);
    # a clinician-marked response on day 21 starts a new baseline from that day. With the
    # population prior (total sleep 62.3 min) 5 own days are needed: days 21-25, so day 26
    # is the first judged day; its baseline is 480 (the old 420 days are not used) and the
    # scale the prior blended with an own MAD of 0: 62.3 x sqrt(7 / (7 + 5)).
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=480.0) for i in range(21, 30)]
    quiet = RiskParams(h=1e9, h_single=1e9, warmup_factor=1.0)
    cols, _, _ = run(rows, quiet, {21: [{"kind": "response"}]})
    assert all(math.isnan(cols[i]["z_sleep_tst_min"]) for i in range(21, 26))
    assert cols[26]["base_sleep_tst_min"] == 480.0 and cols[26]["z_sleep_tst_min"] == 0.0
    assert cols[26]["scale_sleep_tst_min"] == pytest.approx(62.3 * math.sqrt(7 / 12), rel=1e-9)


def explained_rows() -> list[dict[str, Any]]:
    """Total sleep: 400 and 440 alternating on days 0-9 (median 420), 540 on the holiday
    days 10-12, 480 on day 13, 420 after. Sleep regularity (a 7-day feature): 70 and 90
    alternating on days 0-9 (median 80), 50 on days 10-18, 100 on day 19, 80 after."""
    rows = []
    for i in range(30):
        tst = (400.0, 440.0)[i % 2] if i < 10 else 540.0 if i < 13 else 480.0 if i == 13 else 420.0
        sri = (70.0, 90.0)[i % 2] if i < 10 else 50.0 if i < 19 else 100.0 if i == 19 else 80.0
        rows.append(row(i, sleep_tst_min=tst, sri7d=sri))
    return rows


@pytest.mark.parametrize("told_on", [10, 20])
def test_an_explained_period_leaves_out_exactly_its_days_and_the_windows_reaching_into_it(
    told_on: int,
) -> None:
    # "Holiday, days 10-12" -- told on day 10, or on day 20 (dated day 10, the days
    # already judged): the same days leave the baseline. Nightly total sleep: days 10-12.
    # On day 20 the window is days 0-13; eligible: 0-9 and 13 -> 400 x5, 440 x5, 480:
    # median 440 (with day 13 left out too: 420). The 7-day sleep regularity of days 13-18
    # still covers a holiday day, so days 10-18 leave; on day 26 (window days 0-19) the
    # eligible values are 70 x5, 90 x5 and day 19's 100: median 90 (with day 19 out: 80).
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9, day_of_week=False)
    holiday = {"kind": "feedback", "reason": "holiday_travel", "date": day_no(10)}
    cols, _, notices = run(explained_rows(), quiet, {told_on: [holiday | {"until": day_no(12)}]})
    assert cols[20]["base_sleep_tst_min"] == 440.0
    assert cols[26]["base_sri7d"] == 90.0
    (n,) = notices
    assert (n["applies_from"], n["applies_until"]) == (iso(10), iso(12))


# --------------------------------------------------------------------------- feedback


@pytest.mark.parametrize(
    ("reason", "note"),
    [
        ("other", "clinician feedback recorded"),
        ("contacted_deteriorating", "clinician contact found deterioration"),
    ],
)
def test_a_note_only_reason_is_named_on_the_alerts_of_its_week_and_not_after(
    reason: str, note: str
) -> None:
    # Feedback on day 20 applies days 20-26 (a week). 360 on days 21-22: opened on day 22
    # (C = 5.0), named. 420 from day 23 (C 4.5, 4.0, 3.5, 3.0; EWMA 1.125, 0.56, 0.28,
    # 0.14): resolved on day 26, still named. A second episode, 360 on days 40-41 (after
    # the 7-day cooldown and the 14-day washout, judged against the pinned 420): opened on
    # day 41, after the week -- not named.
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0) for i in (21, 22)]
    rows += [row(i, sleep_tst_min=420.0) for i in range(23, 40)]
    rows += [row(i, sleep_tst_min=360.0) for i in (40, 41)]
    params = RiskParams(**SMALL)
    _, alerts, _ = run(rows, params, {20: [{"kind": "feedback", "reason": reason}]})
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26)), ("opened", iso(41))]
    first, resolved, later = (a["explanation"] for a in alerts)
    assert first.endswith(f" (note: {note})") and resolved.endswith(f" (note: {note})")
    assert "note:" not in later
    # without feedback no alert carries a note
    _, plain, _ = run(rows, params)
    assert kinds(plain) == kinds(alerts)
    assert not any("note:" in a["explanation"] for a in plain)


HR_PLATEAU = (62.5, 60.25, 58.75)  # night heart rate z = 3, 1.5, 0.5 (scale 1.5): C 2.5, 3.5, 3.5


def fine_rows() -> list[dict[str, Any]]:
    """Usual sleep 420 and night heart rate 58 on days 0-20; one short night (360) on day
    21; from day 23 a night heart-rate plateau (62.5, 60.25, then 58.75 to day 39)."""
    rows = [row(i, sleep_tst_min=420.0, night_mean_hr=58.0) for i in range(23)]
    rows[21]["sleep_tst_min"] = 360.0
    for i in range(23, 40):
        rows.append(row(i, sleep_tst_min=420.0, night_mean_hr=HR_PLATEAU[min(i - 23, 2)]))
    return rows


def test_contacted_fine_without_an_alert_covers_every_pattern() -> None:
    # No episode has opened; the short night of day 21 left the sleep CUSUM at C = 2.5
    # (above the floor) when "contacted, fine" is given on day 22. With nothing to
    # acknowledge the clinician judged the person, so EVERY signal needs 1.5 x the
    # evidence for 14 days (days 22-35), not only the one carrying evidence now.
    # Heart-rate plateau: C = 2.5 (day 23), 3.5 (day 24) -> 3.5 / 3 = 1.17, opened on day 24
    # without the feedback; damped 1 + 2.5 / 1.5 = 2.67 -> 0.89 (sleep: 1.5, 1.0, ...
    # adds at most (1.5 - 1) / 4): watch until the allowance ends, opened on day 36.
    params = RiskParams(**SMALL)
    _, plain, _ = run(fine_rows(), params)
    assert opened_days(plain) == [iso(24)] and plain[0]["domains"] == ["hrv"]
    fine = {22: [{"kind": "feedback", "reason": "contacted_fine"}]}
    cols, alerts, notices = run(fine_rows(), params, fine)
    assert opened_days(alerts) == [iso(36)]
    assert all(cols[i]["risk_level"] == "watch" for i in range(24, 36))
    (n,) = notices
    assert "(activity, circadian, hrv, sleep)" in n["effect"]
    assert n["applies_until"] == iso(35)


def test_contacted_fine_ends_with_its_allowance_after_a_response_ended_its_episode() -> None:
    # Long nights (540, z = +3 clipped) on days 21-22 open a sleep episode on day 22 (start
    # day 21); "contacted, fine" on day 23 (allowance to day 36, or 14 days after THAT
    # episode resolves); a response on day 24 ends the episode and starts a new baseline
    # (no prior: 10 own days, days 24-33). A heart-rate rise on days 34-35 (62.5: z = 3, C
    # 2.5, 5.0) opens a second episode on day 35 -- not acknowledged; 58 again from day 36:
    # EWMA 3, 3, 1.5, 0.75, 0.38, 0.19 -> resolved on day 39. From day 47 (after its
    # cooldown) long nights of 480, 450, 430 (z 3, 1.5, 0.5: C 2.5, 3.5, 3.5) open on day
    # 48, exactly as without the acknowledgement: its allowance ended on day 36 and the
    # second episode's resolution does not renew it.
    rows = [row(i, sleep_tst_min=420.0, night_mean_hr=58.0) for i in range(60)]
    for i in (21, 22):
        rows[i]["sleep_tst_min"] = 540.0
    for i in (34, 35):
        rows[i]["night_mean_hr"] = 62.5
    for i, v in zip(range(47, 60), (480.0, 450.0) + (430.0,) * 11, strict=True):
        rows[i]["sleep_tst_min"] = v
    params = RiskParams(**SMALL)
    response = {24: [{"kind": "response"}]}
    _, plain, _ = run(rows, params, response)
    fine = {23: [{"kind": "feedback", "reason": "contacted_fine"}], **response}
    cols, alerts, _ = run(rows, params, fine)
    expected = [("opened", iso(22)), ("opened", iso(35)), ("resolved", iso(39))]
    assert kinds(alerts)[:3] == kinds(plain)[:3] == expected
    assert opened_days(alerts) == opened_days(plain) == [iso(22), iso(35), iso(48)]
    assert alerts[3]["domains"] == ["sleep"]
    assert math.isnan(cols[33]["z_night_mean_hr"]) and cols[34]["z_night_mean_hr"] == 3.0


def test_contacted_deteriorating_does_not_undo_a_new_devices_baseline() -> None:
    # A new device reads 480 from day 21 (z = 3: C 2.5, 5.0: opened on day 22, start day 21).
    # "Device problem, no end date" on day 23 re-anchors the baseline on the device's
    # days (from day 22, the alert's day) and resolves the episode as explained on day 23.
    # A "contacted, deteriorating" entered next, dated day 22, ends an explained PERIOD
    # or a "fine" allowance -- a device change is neither: it is recorded and changes
    # nothing.
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=480.0) for i in range(21, 40)]
    params = RiskParams(**SMALL)
    device = {"kind": "feedback", "reason": "device_problem"}
    worse = {"kind": "feedback", "reason": "contacted_deteriorating", "date": day_no(22)}
    cols, alerts, notices = run(rows, params, {23: [device, worse]})
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(23))]
    assert alerts[1]["explanation"].startswith("Resolved as explained by the clinician")
    assert [n["reason"] for n in notices] == ["device_problem", "contacted_deteriorating"]
    assert notices[1]["effect"].endswith(": recorded")
    # the re-anchored baseline: days 22-31 (480), judged from day 32
    assert cols[32]["base_sleep_tst_min"] == 480.0 and cols[32]["z_sleep_tst_min"] == 0.0


# --------------------------------------------------------------------------- state


def test_the_state_is_written_as_version_2_and_other_versions_are_refused() -> None:
    # The envelope (features/envelope.py): magic b"PHRS", then the version as a
    # little-endian uint16, then the compressed payload.
    data = RiskState(params=RiskParams(**SMALL)).to_bytes()
    assert data[:4] == b"PHRS" and struct.unpack("<H", data[4:6]) == (2,)
    for other in (1, 3):
        with pytest.raises(StateError, match=f"unknown version {other}"):
            RiskState.from_bytes(data[:4] + struct.pack("<H", other) + data[6:])


def test_a_state_saved_every_day_gives_the_alerts_of_one_never_saved() -> None:
    # What a worker does: load, judge one day, save. Through an explained holiday (an
    # episode held and resolved as explained), a relapse after it, a "fine" allowance and a
    # note-only reason, nothing may be lost in the bytes.
    rows = [row(i, sleep_tst_min=420.0, night_mean_hr=58.0) for i in range(60)]
    for i in range(21, 28):
        rows[i]["sleep_tst_min"] = 540.0
    for i in range(28, 34):
        rows[i]["sleep_tst_min"] = 300.0
    for i in range(45, 50):
        rows[i]["night_mean_hr"] = 62.5
    events: dict[int, list[dict[str, Any]]] = {
        23: [{"kind": "feedback", "reason": "holiday_travel", "until": day_no(27)}],
        31: [{"kind": "feedback", "reason": "contacted_fine"}],
        44: [{"kind": "feedback", "reason": "other"}, {"kind": "treatment_session"}],
    }
    params = RiskParams(**SMALL)
    once = run(rows, params, events)
    daily = run(rows, params, events, reload=True)
    assert json.dumps(daily, sort_keys=True) == json.dumps(once, sort_keys=True)  # NaN-safe
    # the history does go through what it is meant to: an episode held and resolved as
    # explained, a relapse after the holiday, a heart-rate episode during the "fine" week
    assert "Resolved as explained" in once[1][1]["explanation"]
    assert [a["domains"] for a in once[1] if a["kind"] == "opened"] == [
        ["sleep"],
        ["sleep"],
        ["hrv"],
    ]


# --------------------------------------------------------------------------- fourth round
# (written for the survivors of a fresh sample of engine.py's mutants, docs/testing.md)


def test_the_risk_score_is_the_evidence_over_twice_the_threshold_capped_at_1() -> None:
    # As in the resolved-level history: evidence 2.5 / 3, 5 / 3, 7.5 / 3 on days 21-23;
    # the score is evidence / 2 (with no warm-up factor), at most 1.
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0) for i in (21, 22, 23)]
    cols, alerts, _ = run(rows, RiskParams(**SMALL))
    assert [cols[i]["risk_score"] for i in (20, 21, 22, 23)] == [
        0.0,
        round(2.5 / 6, 4),
        round(5.0 / 6, 4),
        1.0,
    ]
    assert [a["score"] for a in alerts] == [round(5.0 / 6, 4), 1.0]
    # judged against the warm-up baseline the threshold is 1.5 x higher: on day 5 (five own
    # days, prior on) 120 min is z = -300 / (62.3 x sqrt(7 / 12)) -> -3: C = 2.5, evidence
    # 2.5 / 3, score 2.5 / 3 / (2 x 1.5)
    warm = [row(i, sleep_tst_min=420.0) for i in range(5)] + [row(5, sleep_tst_min=120.0)]
    cols, _, _ = run(warm, RiskParams(h_single=3.0, warmup_factor=1.5))
    assert cols[5]["risk_score"] == round(2.5 / 3 / 3, 4)


@pytest.mark.parametrize(("tst", "evidence"), [(460.0, 1.7 / 3), (380.0, 1.5 / 3)])
def test_k_sleep_long_is_the_reference_of_long_nights_only(tst: float, evidence: float) -> None:
    # k_sleep_long 0.3 (k stays 0.5). 40 min longer than usual (z = +2): the long-sleep
    # CUSUM gains 2 - 0.3 = 1.7; 40 min shorter (z = -2): the short-sleep CUSUM gains
    # 2 - 0.5 = 1.5. One signal: evidence C / h_single (3).
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)] + [row(21, sleep_tst_min=tst)]
    cols, _, _ = run(rows, RiskParams(**SMALL, k_sleep_long=0.3))
    assert cols[21]["risk_evidence"] == pytest.approx(evidence, abs=1e-4)


def test_a_signal_exactly_at_the_floor_is_not_part_of_the_episode() -> None:
    # Night heart rate 59.5 on days 19-20 (z = 1: u = 1, C = 0.5, 1.0), then 58.75 (z =
    # 0.5: C stays 1.0 = the floor). Short nights (360) on days 21-22: C 2.5, 5.0 -> opened
    # on day 22. The heart-rate CUSUM is AT the floor, not above it: it is no evidence,
    # so the episode starts on day 21 (the sleep run), not day 19 (the heart-rate run),
    # and the alert describes total sleep only.
    rows = [row(i, sleep_tst_min=420.0, night_mean_hr=58.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0, night_mean_hr=58.75) for i in (21, 22)]
    for i in (19, 20):
        rows[i]["night_mean_hr"] = 59.5
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    (a,) = alerts
    assert (a["kind"], a["date"], a["episode_start"]) == ("opened", iso(22), iso(21))
    assert [c["feature"] for c in a["contributing"]] == ["sleep_tst_min"]
    assert a["domains"] == ["sleep"]


@pytest.mark.parametrize(("first_short", "named"), [(25, True), (26, False)])
def test_an_explained_period_is_named_on_alerts_up_to_14_days_after_it(
    first_short: int, named: bool
) -> None:
    # Holiday on days 10-12 (told on day 10, nothing open). Short nights (360) on two days
    # open an episode on the second: on day 26 = 12 + 14 its description (at most 14 days
    # back) can reach into the holiday, so the alert names it; on day 27 it cannot.
    rows = [row(i, sleep_tst_min=420.0) for i in range(first_short + 2)]
    for i in (first_short, first_short + 1):
        rows[i]["sleep_tst_min"] = 360.0
    holiday = {10: [{"kind": "feedback", "reason": "holiday_travel", "until": day_no(12)}]}
    _, alerts, _ = run(rows, RiskParams(**SMALL), holiday)
    (a,) = alerts
    assert a["date"] == iso(first_short + 1)
    note = f" (note: holiday or travel reported, {iso(10)} to {iso(12)}: these days are left"
    assert (note in a["explanation"]) is named


def test_an_alert_during_a_fine_allowance_says_so() -> None:
    # Long nights (540) on days 21-22 open a sleep episode on day 22; "contacted, fine
    # until day 45" on day 23. The sleep episode resolves on day 26 (C 4.5, 4.0, 3.0 with
    # 420 again; EWMA in band on days 24-26). A heart-rate rise from day 38 (62.5, then
    # 60.25: C 2.5, 3.5 -> 3.5 / 3, not the acknowledged pattern) opens on day 39 -- both
    # alerts fall in the allowance and say what the clinician's feedback does. (The
    # heart-rate run's mean, (62.5 + 60.25) / 2 = 61.4, is 3.4 bpm above 58: "3 bpm".)
    rows = [row(i, sleep_tst_min=420.0, night_mean_hr=58.0) for i in range(42)]
    for i in (21, 22):
        rows[i]["sleep_tst_min"] = 540.0
    rows[38]["night_mean_hr"] = 62.5
    for i in range(39, 42):
        rows[i]["night_mean_hr"] = 60.25 if i == 39 else 58.75
    fine = {23: [{"kind": "feedback", "reason": "contacted_fine", "until": day_no(45)}]}
    _, alerts, _ = run(rows, RiskParams(**SMALL), fine)
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26)), ("opened", iso(39))]
    note = (
        f" (note: clinician contact found the patient well on {iso(23)}: the same pattern "
        f"(sleep) needs 1.5 x the evidence to alert again, until {iso(45)})"
    )
    assert alerts[1]["explanation"].endswith(note)
    assert alerts[2]["explanation"] == "Night-time heart rate 3 bpm above usual for 2 nights" + note
    assert "note:" not in alerts[0]["explanation"]


def test_an_escalated_alert_describes_a_signal_that_joined_the_episode() -> None:
    # Short nights (360) on days 21-23 (C 2.5, 5.0, 7.5): opened on day 22 by sleep alone.
    # On day 23 the night heart rate is 62.5 too (z = 3, C = 2.5 > floor): evidence
    # max((6.5 + 1.5) / 4, 7.5 / 3) = 2.5 -> high, escalated. The escalated alert describes
    # both, strongest first (7.5 / 3 and 2.5 / 3), though heart rate did not open it.
    rows = [row(i, sleep_tst_min=420.0, night_mean_hr=58.0) for i in range(24)]
    for i in (21, 22, 23):
        rows[i]["sleep_tst_min"] = 360.0
    rows[23]["night_mean_hr"] = 62.5
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("escalated", iso(23))]
    esc = alerts[1]
    assert [c["feature"] for c in esc["contributing"]] == ["sleep_tst_min", "night_mean_hr"]
    assert [c["signal_strength"] for c in esc["contributing"]] == [2.5, round(2.5 / 3, 3)]
    assert esc["domains"] == ["hrv", "sleep"] and esc["level"] == "high"


def test_after_a_new_device_a_7_day_feature_waits_until_its_window_is_all_new_device() -> None:
    # "Device problem, no end date" on day 21 (nothing open): the baseline restarts on day
    # 21. Nightly total sleep is the new device's from day 21: (prior off) 10 own days,
    # judged from day 31. The 7-day sleep regularity of days 21-26 still covers old-device
    # days (here 50, an artefact of the change): neither judged nor in the baseline; from
    # day 27 (window 21-27) it is the new device's (80), so its 10 own days are 27-36 and
    # day 37 is the first judged, against 80.
    rows = [row(i, sleep_tst_min=420.0, sri7d=50.0 if 21 <= i <= 26 else 80.0) for i in range(40)]
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9, day_of_week=False)
    cols, _, _ = run(rows, quiet, {21: [{"kind": "feedback", "reason": "device_problem"}]})
    assert [math.isnan(cols[i]["z_sleep_tst_min"]) for i in (30, 31)] == [True, False]
    assert all(math.isnan(cols[i]["z_sri7d"]) for i in range(21, 37))
    assert (cols[37]["base_sri7d"], cols[37]["z_sri7d"]) == (80.0, 0.0)


def test_a_missing_day_after_an_out_of_band_day_does_not_count_towards_resolution() -> None:
    # One episode: 360 on days 21-22 (opened day 22), 420 after, except day 24 without a
    # valid night. EWMA of u: 1.5, 2.25, 1.125 (day 23, out of the band); day 24 has no
    # value, its smoothed score stays 1.125 (C 4.5, elevated): the count stays 0; then
    # 0.56, 0.28, 0.14 on days 25-27 (C 4.0, 3.5, 3.0, not rising): resolved on day 27.
    # With day 24's night it resolves on day 26. (The other way round -- missing days
    # after an in-band day -- see docs/testing.md, findings.)
    rows = [row(i, sleep_tst_min=420.0) for i in range(30)]
    rows[21]["sleep_tst_min"] = rows[22]["sleep_tst_min"] = 360.0
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26))]
    rows[24]["sleep_valid"] = False
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(27))]


def test_days_without_data_after_an_in_band_day_are_never_back_to_usual() -> None:
    # The fourth mutation round's finding (docs/testing.md, section 6). 360 on days 21-22
    # (u = 3: C 2.5, 5.0, opened day 22), 420 from day 23 (u = 0: C falls by k a day).
    # EWMA of u: 1.5, 2.25, then 1.125 (day 23, out of the band), 0.5625 (day 24, in
    # band: count 1). All nights measured: 0.28, 0.14 on days 25-26, count 3, resolved
    # day 26. Without a night on days 25-26 their smoothed score is yesterday's; they are
    # not "back to usual" -- and with the evidence still elevated (C 4.0 / h_single 3)
    # a day without a value restarts the count: days 27-29 measured in band (0.28, 0.14,
    # 0.07; C 3.5, 3.0, 2.5, falling), resolved day 29, never on a day nobody measured.
    rows = [row(i, sleep_tst_min=420.0) for i in range(32)]
    rows[21]["sleep_tst_min"] = rows[22]["sleep_tst_min"] = 360.0
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26))]
    rows[25]["sleep_valid"] = rows[26]["sleep_valid"] = False
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(29))]


def test_risk_data_says_gap_from_the_third_day_without_data() -> None:
    # gap_notice_days 3: days 10, 11 without a usable value are still "ok", day 12 is
    # "gap" (with the data_gap notice), day 13 with data again "ok".
    rows = [row(i, sleep_tst_min=420.0) for i in range(14)]
    for i in (10, 11, 12):
        rows[i]["sleep_valid"] = False
    cols, _, notices = run(rows, RiskParams(**SMALL))
    assert [c["risk_data"] for c in cols[9:14]] == ["ok", "ok", "ok", "gap", "ok"]
    assert [(n["kind"], n["date"]) for n in notices] == [("data_gap", iso(12))]


def test_contacted_deteriorating_on_the_last_day_of_a_fine_allowance_ends_it() -> None:
    # "Contacted, fine until day 30" on day 20; "contacted, deteriorating" on day 30, the
    # allowance's last day: it ends from that day (its last day included).
    rows = [row(i, sleep_tst_min=420.0) for i in range(31)]
    events: dict[int, list[dict[str, Any]]] = {
        20: [{"kind": "feedback", "reason": "contacted_fine", "until": day_no(30)}],
        30: [{"kind": "feedback", "reason": "contacted_deteriorating"}],
    }
    _, _, notices = run(rows, RiskParams(**SMALL), events)
    assert notices[1]["effect"] == (
        f"clinician contact found deterioration: the raised evidence needed ended from {iso(30)}"
    )


def test_an_old_state_with_deteriorating_feedback_gets_no_allowance() -> None:
    # A state written before feedback covered periods knows only feedback_reason/from/until.
    # Loaded, "contacted_fine" becomes an allowance (test_policy.py); "contacted,
    # deteriorating" and no feedback at all must not: no damping, nothing explained.
    from phenotyping.features.envelope import pack, unpack
    from phenotyping.risk import engine

    dtypes = {"hist": engine.HIST_DTYPE, "sig": engine.SIG_DTYPE, "frozen": engine.FROZEN_DTYPE}
    for reason in ("contacted_deteriorating", "", "other"):
        state = RiskState(params=RiskParams(**SMALL))
        state.feedback_reason, state.feedback_from, state.feedback_until = reason, 100, 106
        header, arrays = unpack(state.to_bytes(), b"PHRS", 2, dtypes)
        old = {k: v for k, v in header.items() if not k.startswith(("excl_", "fine_"))}
        loaded = RiskState.from_bytes(pack(b"PHRS", 2, old, arrays))
        assert (loaded.fine_from, loaded.fine_until, loaded.excl_mode) == (-1, -1, "")


def test_a_day_without_data_after_deteriorating_ended_an_explanation() -> None:
    # Long nights (540, z = +3) on days 21-27 open an episode on day 22; "holiday until day
    # 27" on day 23 restarts the CUSUMs (nothing smoothed left) and holds the evidence;
    # "contacted, deteriorating" on day 25 ends the explanation from day 25 -- and day 25
    # has no valid night. The open episode then has no smoothed score at all that day: it
    # neither counts towards resolution nor fails; C restarts from day 26: 2.5 (watch),
    # 5.0 (elevated) on day 27.
    rows = [row(i, sleep_tst_min=540.0 if 21 <= i <= 27 else 420.0) for i in range(29)]
    rows[25]["sleep_valid"] = False
    events: dict[int, list[dict[str, Any]]] = {
        23: [{"kind": "feedback", "reason": "holiday_travel", "until": day_no(27)}],
        25: [{"kind": "feedback", "reason": "contacted_deteriorating"}],
    }
    cols, alerts, _ = run(rows, RiskParams(**SMALL), events)
    assert [c["risk_level"] for c in cols[23:28]] == ["none", "none", "none", "watch", "elevated"]
    assert kinds(alerts)[0] == ("opened", iso(22))
    assert not any("explained" in a["explanation"] for a in alerts)


# --------------------------------------------------------------------------- alert fields


def test_an_alert_carries_the_clinical_context_worked_out_by_hand() -> None:
    # PHQ-9 12 on day 15 (an earlier one, 20 dated day 10, entered on day 16, does not
    # replace the latest), a TMS session on day 18; short nights (360, z = -3) on days
    # 21-22: opened on day 22, episode from day 21.
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0) for i in (21, 22)]
    phq = {"kind": "self_report", "instrument": "PHQ-9"}
    events: dict[int, list[dict[str, Any]]] = {
        15: [phq | {"score": 12.0}],
        16: [phq | {"score": 20.0, "date": day_no(10)}],
        18: [{"kind": "treatment_session", "modality": "tms"}],
    }
    cols, alerts, _ = run(rows, RiskParams(**SMALL), events)
    (a,) = alerts
    assert {k: a[k] for k in ("type", "version", "subject_id", "kind", "date", "level")} == {
        "type": "alert",
        "version": 1,
        "subject_id": "p-01",
        "kind": "opened",
        "date": iso(22),
        "level": "elevated",
    }
    assert (a["score"], a["episode_start"], a["domains"]) == (round(5 / 6, 4), iso(21), ["sleep"])
    assert a["coverage"]["valid_days_last_7"] == 7
    assert (a["days_since_last_session"], a["last_session_modality"]) == (4, "tms")
    assert (a["after_response"], a["days_since_response"]) == (False, None)
    assert a["self_report"] == {"instrument": "PHQ-9", "score": 12.0, "date": iso(15)}
    assert a["baseline"] == "personal"
    (c,) = a["contributing"]
    assert c == {
        "feature": "sleep_tst_min",
        "label": c["label"],
        "domain": "sleep",
        "direction": "down",
        "value": 360.0,
        "mean_since_onset": 360.0,
        "baseline_median": 420.0,
        "baseline_scale": 20.0,
        "z": -3.0,
        "signal_strength": round(5.0 / 3, 3),
        "days_in_deviation": 2,
    }
    assert a["explanation"] == "Total sleep 1 h shorter than usual for 2 nights"
    # the daily row's context as of its day
    assert [cols[14][k] for k in ("ctx_last_session", "ctx_self_report_score")] == [None, None]
    assert {k: v for k, v in cols[22].items() if k.startswith("ctx_")} == {
        "ctx_last_session": iso(18),
        "ctx_last_session_modality": "tms",
        "ctx_self_report_instrument": "PHQ-9",
        "ctx_self_report_score": 12.0,
        "ctx_self_report_date": iso(15),
    }
    # nothing is judged before the 10th own day (no prior): warming up on days 0-9 only
    assert [cols[i]["risk_warming_up"] for i in (0, 9, 10, 22)] == [True, True, False, False]


def test_the_same_history_gives_the_same_alert_ids_and_another_subject_others() -> None:
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)]
    rows += [row(i, sleep_tst_min=360.0) for i in (21, 22, 23)]
    _, first, _ = run(rows, RiskParams(**SMALL))
    _, again, _ = run(rows, RiskParams(**SMALL))
    assert [a["alert_id"] for a in first] == [a["alert_id"] for a in again]
    assert len({a["alert_id"] for a in first}) == 2  # opened, escalated: two ids
    other = RiskState(params=RiskParams(**SMALL))
    ids = [a["alert_id"] for r in rows for a in other.assess("p-02", r)[1]]
    assert len(ids) == 2 and not set(ids) & {a["alert_id"] for a in first}


def test_a_replayed_day_changes_nothing() -> None:
    # days are judged once, in date order: a row for a day already judged (a replay after
    # a restart) returns nothing and leaves the state as it was
    rows = [row(i, sleep_tst_min=420.0) for i in range(21)] + [row(21, sleep_tst_min=360.0)]
    state = RiskState(params=RiskParams(**SMALL))
    for r in rows:
        state.assess("p-01", r)
    before = state.to_bytes()
    for again in (rows[21], rows[3], row(21, sleep_tst_min=100.0)):
        assert state.assess("p-01", again) == ({}, [], [])
    assert state.to_bytes() == before


def test_the_gap_notice_repeats_weekly_with_the_gap_start() -> None:
    # no usable value on days 10-26: notices on the 3rd, 10th and 17th day without data
    rows = [row(i, sleep_tst_min=420.0, sleep_valid=10 > i or i > 26) for i in range(28)]
    _, _, notices = run(rows, RiskParams(**SMALL))
    got = [(n["date"], n["gap_start"], n["days_without_data"]) for n in notices]
    assert got == [(iso(12), iso(10), 3), (iso(19), iso(10), 10), (iso(26), iso(10), 17)]


@pytest.mark.parametrize(("session", "first_judged"), [(None, 26), (20, 29), (15, 26)])
def test_after_a_response_the_days_just_after_a_session_are_not_the_new_baseline(
    session: int | None, first_judged: int
) -> None:
    # Response on day 21; with the prior 5 own days are needed. No session: days 21-25,
    # judged from day 26. A session on day 20: its 3-day washout (days 21-23) is not the
    # person's usual: the baseline starts on day 24, judged from day 29. A session on day
    # 15: its washout ended on day 18, the response day starts it.
    rows = [row(i, sleep_tst_min=420.0) for i in range(32)]
    events: dict[int, list[dict[str, Any]]] = {21: [{"kind": "response"}]}
    if session is not None:
        events[session] = [{"kind": "treatment_session", "modality": "ect"}]
    quiet = RiskParams(h=1e9, h_single=1e9, warmup_factor=1.0)
    cols, _, _ = run(rows, quiet, events)
    judged = [i for i in range(21, 32) if not math.isnan(cols[i]["z_sleep_tst_min"])]
    assert judged[0] == first_judged


# --------------------------------------------------------------------------- baseline


def test_a_usual_activity_below_one_count_is_kept_as_it_is() -> None:
    # activity is judged on log(x + 1) and a negative value is clamped at 0 (log 0 + 1 = 0);
    # a person whose worn minutes average 0.5 counts has a usual of 0.5, back-transformed
    # exactly: exp(log(1.5)) - 1
    rows = [row(i, activity_mean_worn=0.5) for i in range(12)]
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9)
    cols, _, _ = run(rows, quiet)
    assert cols[11]["base_activity_mean_worn"] == pytest.approx(0.5, abs=1e-12)
    assert cols[11]["z_activity_mean_worn"] == 0.0


def test_weekday_and_weekend_medians_need_enough_days_of_both_types() -> None:
    # Days 0-9 (Mon 1 Jan - Wed 10 Jan): eight weekdays 400, 410, ..., 470 and the
    # weekend (days 5, 6) at 600. Judged on Thursday (day 10, prior off: these 10 days):
    # only 2 weekend days, fewer than min_per_daytype 3, so no separate medians -- one
    # median of all ten: (440 + 450) / 2 = 445 (the weekdays' own would be 435).
    weekday_values = iter(range(400, 480, 10))
    rows = [
        row(i, sleep_tst_min=600.0 if i in (5, 6) else float(next(weekday_values)))
        for i in range(10)
    ]
    rows.append(row(10, sleep_tst_min=445.0))
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9)
    cols, _, _ = run(rows, quiet)
    assert cols[10]["base_sleep_tst_min"] == 445.0


# --------------------------------------------------------------------------- signals

RHYTHM = {"circ7d_IV": (0.5, 0.05), "circ7d_IS": (0.6, 0.03), "circ7d_RA": (0.8, 0.02)}


@pytest.mark.parametrize(
    ("column", "sign", "signals"),
    [
        ("circ7d_IV", 1, True),  # fragmentation up: worse
        ("circ7d_IS", -1, True),  # stability down: worse
        ("circ7d_RA", -1, True),  # amplitude down: worse
        ("circ7d_IV", -1, False),
        ("circ7d_IS", 1, False),
    ],
)
def test_the_rhythm_signal_reads_each_index_in_its_clinical_direction(
    column: str, sign: int, signals: bool
) -> None:
    # One rhythm index alone (prior off: its scale is the floor), 3 floors away from its
    # usual value: z = +-3. A 7-day feature: the rhythm signal's score is the oriented z /
    # sqrt(7) = 1.134 when the change is the worse direction, C = 1.134 - 0.5 = 0.634 and
    # 1.268 on the second day (h_single 1: evidence 0.634, then 1.268 -> opened, circadian);
    # the better direction gives -1.134: C stays 0.
    usual, floor = RHYTHM[column]
    rows = [row(i, **{column: usual}) for i in range(21)]
    rows += [row(i, **{column: usual + sign * 3 * floor}) for i in (21, 22)]
    params = RiskParams(**SMALL | {"h_single": 1.0})
    cols, alerts, _ = run(rows, params)
    u = 3 / math.sqrt(7)
    if signals:
        assert cols[21]["risk_evidence"] == pytest.approx(u - 0.5, abs=1e-4)
        assert opened_days(alerts) == [iso(22)] and alerts[0]["domains"] == ["circadian"]
    else:
        assert cols[22]["risk_evidence"] == 0.0 and not alerts


def test_the_early_phase_signal_counts_the_sleep_midpoint_and_the_activity_peak_once() -> None:
    # As test_policy's late-phase case, 58 min EARLIER (z = -2.9): one phase signal fed
    # by the first available member (the midpoint): C = 2.4, evidence (2.4 - 1) / 2 = 0.7
    # with h = 2. Averaged with the 7-day peak time (2.9 / sqrt(7)) it would be C = 1.5,
    # evidence 0.25.
    usual = {"sleep_midpoint_clock_min": 180.0, "circ7d_cosinor_peak_minute_of_day": 900.0}
    early = {"sleep_midpoint_clock_min": 122.0, "circ7d_cosinor_peak_minute_of_day": 842.0}
    params = RiskParams(**SMALL | {"h": 2.0, "h_single": 100.0})
    cols, alerts, _ = run([row(i, **usual) for i in range(21)] + [row(21, **early)], params)
    assert cols[21]["risk_evidence"] == pytest.approx(0.7, abs=1e-4)
    assert cols[21]["risk_level"] == "watch" and not alerts


def test_a_smoothed_score_exactly_at_band_z_is_not_back_in_the_band() -> None:
    # 360 on days 21-22 (u = 3): EWMA 1.5, 2.25, opened on day 22. Day 23: 425 (z = +0.25,
    # short-sleep score u = -0.25): EWMA 0.5 x -0.25 + 0.5 x 2.25 = 1.0 = band_z, not
    # below it: not counted. 420 from day 24: 0.5, 0.25, 0.125 -> resolved on day 26.
    rows = [row(i, sleep_tst_min=420.0) for i in range(28)]
    rows[21]["sleep_tst_min"] = rows[22]["sleep_tst_min"] = 360.0
    rows[23]["sleep_tst_min"] = 425.0
    _, alerts, _ = run(rows, RiskParams(**SMALL))
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26))]


@pytest.mark.parametrize(("instrument", "responds"), [("PHQ-9", True), ("MADRS", False)])
def test_only_a_phq9_before_the_course_is_the_pre_course_phq9(
    instrument: str, responds: bool
) -> None:
    # The last report before the first session (day 6) is a score of 20 on day 5; PHQ-9 10
    # on day 20 is half of a pre-course PHQ-9 of 20 (a response) -- but a MADRS of 20 is no
    # PHQ-9: no pre-course PHQ-9, no response.
    rows = [row(i, sleep_tst_min=420.0) for i in range(25)]
    events: dict[int, list[dict[str, Any]]] = {
        5: [{"kind": "self_report", "instrument": instrument, "score": 20.0}],
        6: [{"kind": "treatment_session", "modality": "ketamine"}],
        20: [{"kind": "self_report", "instrument": "PHQ-9", "score": 10.0}],
    }
    _, _, notices = run(rows, RiskParams(**SMALL | {"h": 1e9, "h_single": 1e9}), events)
    detected = [n["date"] for n in notices if n["kind"] == "response_detected"]
    assert detected == ([iso(20)] if responds else [])


@pytest.mark.parametrize(("ack", "applies_from"), [(28, 21), (41, 41)])
def test_an_acknowledgement_within_the_washout_covers_the_resolved_episode(
    ack: int, applies_from: int
) -> None:
    # An episode (360 on days 21-22: opened day 22, started day 21) resolves on day 26.
    # "Illness until day 27" acknowledged on day 28 (2 days after, within the 14-day
    # washout) explains the episode: the period runs from its start, day 21. Acknowledged
    # on day 41 (15 days after) there is no episode to acknowledge: it starts on the day
    # of the event (until day 47).
    rows = [row(i, sleep_tst_min=420.0) for i in range(ack + 1)]
    rows[21]["sleep_tst_min"] = rows[22]["sleep_tst_min"] = 360.0
    until = 27 if ack == 28 else 47
    ill = {ack: [{"kind": "feedback", "reason": "illness", "until": day_no(until)}]}
    _, alerts, notices = run(rows, RiskParams(**SMALL), ill)
    assert kinds(alerts) == [("opened", iso(22)), ("resolved", iso(26))]
    (n,) = notices
    assert (n["applies_from"], n["applies_until"]) == (iso(applies_from), iso(until))
    assert "left out of the usual range" in n["effect"]


def test_clock_times_around_midnight_keep_a_small_scale_with_day_type_medians() -> None:
    # Sleep midpoint at 23:55 and 00:05 on alternate days (prior off, day-of-week medians
    # on). On day 35 (a Monday; window days 1-28: 20 weekdays, 8 weekend days, each half
    # and half) both day types are centred on midnight, and every deviation is 5 minutes
    # ON THE CLOCK CIRCLE (23:55 is 5 minutes before midnight, not 1435 after): MAD 5,
    # 1.4826 x 5 = 7.4 below the 20-minute floor -- scale 20, usual midnight.
    rows = [row(i, sleep_midpoint_clock_min=1435.0 if i % 2 else 5.0) for i in range(36)]
    quiet = RiskParams(prior_scale=(), h=1e9, h_single=1e9)
    cols, _, _ = run(rows, quiet)
    assert cols[35]["scale_sleep_midpoint_clock_min"] == 20.0
    base = cols[35]["base_sleep_midpoint_clock_min"]
    assert min(base % 1440, 1440 - base % 1440) == pytest.approx(0.0, abs=1e-9)

"""Injected scenarios, the weekly block bootstrap and a small run of the whole harness, on
synthetic minute series whose expected values follow from their construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phenotyping.evaluate import harness, runner
from phenotyping.evaluate import surrogates as sg
from phenotyping.evaluate.scenarios import SCENARIOS, SLEEP_LEVEL
from phenotyping.risk.engine import RiskParams

ONSET = 4


def person(n_days: int, seed: int = 0) -> np.ndarray:
    """Asleep 23:00-07:00 (counts ~2, never a flat run), awake otherwise (counts ~200)."""
    rng = np.random.default_rng(seed)
    day = np.empty((n_days, 1440))
    day[:, :420] = rng.poisson(2, (n_days, 420)) + 1
    day[:, 420:1380] = rng.poisson(200, (n_days, 960))
    day[:, 1380:] = rng.poisson(2, (n_days, 60)) + 1
    return day.reshape(-1)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_scenario_touches_the_days_before_the_onset(name: str) -> None:
    x = person(10)
    y = SCENARIOS[name].apply(x, ONSET, 3)
    assert y.shape == x.shape
    assert np.array_equal(y[: ONSET * 1440], x[: ONSET * 1440])
    if name != "null":
        assert not np.array_equal(y, x)


def test_step_scales_and_delays_and_the_ramp_reaches_it_after_14_days() -> None:
    x = person(24)
    step = SCENARIOS["step"].apply(x, ONSET, 0)
    t = np.arange((ONSET + 1) * 1440, (ONSET + 2) * 1440)
    assert step[t] == pytest.approx(0.7 * x[t - 90])
    ramp = SCENARIOS["ramp"].apply(x, ONSET, 0)
    first = np.arange(ONSET * 1440, (ONSET + 1) * 1440)
    # day 1 of the ramp: 1/14 of the way: scale 1 - 0.3/14, delay round(90/14) = 6 minutes
    assert ramp[first] == pytest.approx((1 - 0.3 / 14) * x[first - 6])
    day14 = np.arange((ONSET + 13) * 1440, (ONSET + 14) * 1440)
    assert np.array_equal(ramp[day14], step[day14])


def test_negative_controls_end_and_the_person_returns_to_normal() -> None:
    x = person(20)
    for name, length in (("holiday", 7), ("trip", 7), ("illness", 4)):
        y = SCENARIOS[name].apply(x, ONSET, 0)
        # from the day after the control (plus the one night it may reach into) unchanged
        after = (ONSET + length + 1) * 1440
        assert np.array_equal(y[after:], x[after:]), name
    hol = SCENARIOS["holiday"].apply(x, ONSET, 0)
    t = np.arange((ONSET + 2) * 1440, (ONSET + 3) * 1440)
    assert hol[t] == pytest.approx(1.3 * x[t - 60])


def test_sleep_patterns_lengthen_shorten_and_break_the_night() -> None:
    x = person(10)
    d = ONSET + 1
    hyper = SCENARIOS["hypersomnia"].apply(x, ONSET, 0)
    # wake-up was 07:00: now the 90 minutes after it are night-like counts
    assert hyper[d * 1440 + 425 : d * 1440 + 500].max() <= x[d * 1440 : d * 1440 + 420].max()
    assert x[d * 1440 + 420 : d * 1440 + 510].min() > 100
    ins = SCENARIOS["insomnia"].apply(x, ONSET, 0)
    # sleep began 23:00 the evening before day d: the first 90 minutes are awake counts now
    onset_min = (d - 1) * 1440 + 1380
    assert ins[onset_min + 5 : onset_min + 80].min() > 100
    frag = SCENARIOS["fragmentation"].apply(x, ONSET, 0)
    night = frag[(d - 1) * 1440 + 1380 : d * 1440 + 420]
    assert (night > SLEEP_LEVEL * 2).sum() >= 70  # 7-8 awake bouts of 10 minutes
    act = SCENARIOS["activity_only"].apply(x, ONSET, 0)
    assert np.array_equal(act[d * 1440 + 60 : d * 1440 + 400], x[d * 1440 + 60 : d * 1440 + 400])


def test_week_blocks_keep_whole_weeks_and_fill_a_missing_day_with_the_same_weekday() -> None:
    monday = 4  # 1970-01-05
    dates = [monday + i for i in range(14) if i != 2]  # the first Wednesday is missing
    idx = sg.week_blocks(dates, 20, seed=5)
    got = [dates[i] for i in idx]
    assert [sg.weekday(d) for d in got] == [i % 7 for i in range(140)]
    weeks = {tuple(got[7 * w : 7 * w + 7]) for w in range(20)}
    assert tuple(monday + 7 + j for j in range(7)) in weeks  # the complete week, whole
    for w in weeks:
        if w[0] == monday:  # the incomplete week: Wednesday from the other week
            assert w[2] == monday + 9 and w[:2] == (monday, monday + 1)


def test_harness_runs_end_to_end_on_a_synthetic_person(tmp_path: Path) -> None:
    first = 12_000 - sg.weekday(12_000)  # a Monday
    days = person(21, seed=2).reshape(21, 1440)
    src = runner.Source("synthetic_1", 60, tuple(first + i for i in range(21)), days)
    recs = harness.collect(
        {src.subject: src}, [0], harness.Scenarios(RiskParams(), ("null", "step"), tmp_path)
    )
    assert {r.scenario for r in recs} == {"null", "step"}
    assert list(tmp_path.glob("*.json"))  # the rows were cached
    again = harness.collect(
        {src.subject: src}, [0], harness.Scenarios(RiskParams(), ("null", "step"), tmp_path)
    )
    assert again == recs  # from the cache: the same results
    null = next(r.result for r in recs if r.scenario == "null")
    assert len(null.levels) == runner.N_WEEKS * 7
    s = harness.summarise(recs)
    assert 0.0 <= s["step.within_14"].mean <= 1.0 and s["false_per_90"].mean >= 0.0
    assert "false elevated episodes" in harness.report(s, "smoke")

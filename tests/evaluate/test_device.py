"""Relapse patterns injected into device recordings (``phenotyping.evaluate.device``) and the
risk engine judging the device's own sleep log, on synthetic Fitbit-like messages whose
expected values follow from their construction."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from phenotyping.evaluate import device as dv
from phenotyping.evaluate.harness import HORIZONS
from phenotyping.events import ActivityBatch, AnyMessage, SleepEpisode
from phenotyping.features.time import ordinal
from phenotyping.risk.params import RiskParams

TZ = dt.timezone(dt.timedelta(hours=1))
DAY0 = dt.date(2020, 1, 1)
N_DAYS = 60


def recording(n_days: int = N_DAYS, seed: int = 0, steps: bool = True) -> list[AnyMessage]:
    """A person whose device logs a main sleep every night (bed ~23:00, up ~07:00, asleep
    30 min less than in bed; +-20 min noise) and a 30-min nap each afternoon; with
    ``steps``, one steps batch per day from 07:00 to 23:00 (minute m of the batch: m % 50
    steps, so every minute's value is known)."""
    rng = np.random.default_rng(seed)
    out: list[AnyMessage] = []
    for i in range(n_days):
        day = DAY0 + dt.timedelta(days=i)
        bed = dt.datetime.combine(day, dt.time(23), TZ) + dt.timedelta(
            minutes=int(rng.integers(-20, 21))
        )
        up = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(7), TZ) + dt.timedelta(
            minutes=int(rng.integers(-20, 21))
        )
        tib = (up - bed).total_seconds() / 60
        out.append(
            SleepEpisode(
                event_id=f"sleep:{i}",
                subject_id="s1",
                source="fitbit",
                tz_offset_min=60,
                start=bed,
                end=up,
                is_main_sleep=True,
                tst_min=tib - 30,
                time_in_bed_min=tib,
            )
        )
        nap = dt.datetime.combine(day, dt.time(14), TZ)
        out.append(
            SleepEpisode(
                event_id=f"nap:{i}",
                subject_id="s1",
                source="fitbit",
                tz_offset_min=60,
                start=nap,
                end=nap + dt.timedelta(minutes=30),
                is_main_sleep=False,
                tst_min=30,
            )
        )
        if steps:
            out.append(
                ActivityBatch(
                    event_id=f"steps:{i}",
                    subject_id="s1",
                    source="fitbit",
                    tz_offset_min=60,
                    start=dt.datetime.combine(day, dt.time(7), TZ),
                    epoch_s=60,
                    steps=[m % 50 for m in range(16 * 60)],
                )
            )
    out.sort(key=lambda m: (m.span()[1], m.span()[0], m.type))
    return out


def _minute_steps(msgs: list[AnyMessage]) -> dict[int, int | None]:
    out: dict[int, int | None] = {}
    for m in msgs:
        if isinstance(m, ActivityBatch) and m.steps is not None:
            t0 = int(m.start.timestamp()) // 60
            out.update({t0 + k: v for k, v in enumerate(m.steps)})
    return out


def test_hypersomnia_lengthens_only_main_sleep_logs_from_the_onset_night() -> None:
    msgs = recording(20)
    onset = ordinal(DAY0) + 10  # the night ending on the morning of 11 January
    out = dv.inject(msgs, dv.PATTERNS["hypersomnia"], onset)
    assert len(out) == len(msgs)
    before = {m.event_id: m for m in msgs if isinstance(m, SleepEpisode)}
    changed = 0
    for m in out:
        if not isinstance(m, SleepEpisode):
            continue
        old = before[m.event_id]
        if old.is_main_sleep and dv.night(old) >= onset:
            changed += 1
            assert m.end - old.end == dt.timedelta(minutes=90) and m.start == old.start
            assert m.tst_min == old.tst_min + 90 and m.time_in_bed_min == old.time_in_bed_min + 90
        else:
            assert m is old
    assert changed == 11  # the nights ending on 11..21 January
    # the minutes of the lie-in have no steps (in bed); the steps batch starts at 07:00,
    # so the lie-in covers its first minutes where the log ended after 07:00
    steps_before, steps_after = _minute_steps(msgs), _minute_steps(out)
    lie_in = set()
    for m in msgs:
        if isinstance(m, SleepEpisode) and m.is_main_sleep and dv.night(m) >= onset:
            end = int(m.end.timestamp()) // 60
            lie_in |= set(range(end, end + 90))
    for t, v in steps_before.items():
        expected = 0 if t in lie_in else v
        assert steps_after[t] == expected


def test_phase_delay_moves_each_minutes_steps_90_minutes_later_from_the_onset() -> None:
    msgs = recording(12)
    onset = ordinal(DAY0) + 5
    out = dv.inject(msgs, dv.PATTERNS["phase_delay"], onset)
    a, b = _minute_steps(msgs), _minute_steps(out)
    assert a.keys() == b.keys()
    for t, v in b.items():
        local_date = (t + 60) // 1440
        if local_date < onset:
            assert v == a[t]
        else:  # the value recorded 90 min earlier, missing where nothing was recorded
            assert v == a.get(t - 90)
    sleeps = [(m, n) for m, n in zip(msgs, out, strict=True) if isinstance(m, SleepEpisode)]
    assert len(sleeps) == sum(isinstance(m, SleepEpisode) for m in out)


def test_activity_scales_steps_and_leaves_sleep_and_earlier_days_alone() -> None:
    msgs = recording(8)
    onset = ordinal(DAY0) + 4
    out = dv.inject(msgs, dv.PATTERNS["activity"], onset)
    a, b = _minute_steps(msgs), _minute_steps(out)
    for t, v in a.items():
        assert v is not None
        assert b[t] == (v if (t + 60) // 1440 < onset else int(np.floor(v * 0.7 + 0.5)))
    assert [m for m in out if isinstance(m, SleepEpisode)] == [
        m for m in msgs if isinstance(m, SleepEpisode)
    ]


def test_insomnia_starts_the_log_90_minutes_later() -> None:
    msgs = recording(4, steps=False)
    out = dv.inject(msgs, dv.PATTERNS["insomnia"], ordinal(DAY0))
    for old, new in zip(msgs, out, strict=True):
        assert isinstance(old, SleepEpisode) and isinstance(new, SleepEpisode)
        if old.is_main_sleep:
            assert new.start - old.start == dt.timedelta(minutes=90) and new.end == old.end
            assert new.tst_min == old.tst_min - 90
        else:
            assert new is old  # a 30-min nap is not a night


def test_the_activity_patterns_need_a_steps_file() -> None:
    no_steps = recording(3, steps=False)
    assert not dv.expressible(no_steps, dv.PATTERNS["activity"])
    assert not dv.expressible(no_steps, dv.PATTERNS["step"])
    assert dv.expressible(no_steps, dv.PATTERNS["phase_delay"])  # the sleep log moves
    assert dv.expressible(recording(3), dv.PATTERNS["step"])


def test_onsets_leave_a_baseline_before_and_two_weeks_after() -> None:
    got = {dv.draw_onset("p01", s, 100, 200) for s in range(50)}
    assert min(got) >= 135 and max(got) <= 186 and len(got) > 10
    with pytest.raises(ValueError, match="needs at least 50"):
        dv.draw_onset("p01", 0, 100, 140)


def test_a_lie_in_on_the_device_sleep_log_alerts_through_pipeline_step() -> None:
    """A person with nothing but device sleep logs (no counts, no steps): a lasting 90-min
    lie-in from day 41 opens an elevated episode within 14 days that names the device's
    total sleep; the same recording without it stays quiet. (Before the device sleep log
    was watched, the sleep domain of such a person was blind.)"""
    msgs = recording(N_DAYS, seed=3, steps=False)
    onset = ordinal(DAY0) + 40
    runs = {"null": msgs, "hypersomnia": dv.inject(msgs, dv.PATTERNS["hypersomnia"], onset)}
    res = dv.replay(runs, RiskParams())
    _, quiet = res["null"]
    assert [a for a in quiet if a["kind"] == "opened"] == []
    _, alerts = res["hypersomnia"]
    opened = [a for a in alerts if a["kind"] == "opened"]
    assert opened, "the lie-in was not alerted"
    first = opened[0]
    assert onset <= ordinal(first["date"]) < onset + 14
    features = [c["feature"] for c in first["contributing"]]
    assert "device_sleep_tst_min" in features
    # described over the CUSUM's run (which may begin a night or two before the onset)
    assert re.match(r"Total sleep \(device sleep log\) 1 h \d+ min longer", first["explanation"])


def test_summarise_counts_detections_and_false_episodes_per_seed() -> None:
    def run(seed: int, pattern: str, onset: int, opened: tuple[int, ...]) -> dv.DeviceRun:
        # judged from day 10 to day 149; the whole null replay is the same for every seed
        return dv.DeviceRun("p", seed, pattern, onset, onset - 10, 140, opened, 14)

    runs = [
        run(0, "null", 100, (50,)),  # one false episode in the 90 days before the onset
        run(1, "null", 40, (50,)),  # none in the 30 days before this onset
        run(0, "hypersomnia", 100, (50, 105)),  # detected on day 6
        run(1, "hypersomnia", 40, (52,)),  # day 13
    ]
    s = dv.summarise(runs)
    assert s["false_before"].per_seed == (1.0, 0.0)
    assert s["false_before_pooled"][:2] == (1, 120)
    assert s["false_whole"][:2] == (1, 140)
    assert s["hypersomnia.within_7"].per_seed == (1.0, 0.0)
    assert s["hypersomnia.within_14"].per_seed == (1.0, 1.0)
    assert [f"hypersomnia.within_{h}" in s for h in HORIZONS] == [True, True]
    text = dv.report(s, "t")
    assert "| sleep +90 min (sleep log ends later) | 2 (p) | 14 | 50 (" in text


def test_on_a_real_fitbit_export_a_lie_in_is_seen_and_five_quiet_months_stay_quiet(
    data_dir: Path,
) -> None:
    """PMData p06 (a tuning-half participant, no steps file): replayed as recorded, no
    episode in five months; with the lie-in from seed 0's onset, every main sleep log of
    the following two weeks is changed and the engine alerts within 14 days."""
    msgs = dv.read_pmdata(data_dir / "pmdata", ["p06"])["p06"]
    runs = dv.run_subject("p06", msgs, 0, RiskParams(), ("null", "hypersomnia", "activity"))
    by = {r.pattern: r for r in runs}
    assert set(by) == {"null", "hypersomnia"}  # no steps file: steps -30% cannot be expressed
    assert by["null"].opened == () and by["null"].assessable > 120
    assert by["hypersomnia"].changed_nights >= 12
    day = by["hypersomnia"].detection_day()
    assert day is not None and day <= 14

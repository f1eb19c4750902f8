"""Day-engine validity rules and HRV counting, with values set by hand.

``hrv_valid``: a night's HRV counts only with >= ``min_night_beats`` normal beats AND at most
``max_night_edited`` of its beats edited as artefacts. NN50/NN20: the ABSOLUTE successive
difference must exceed 50/20 ms (Task Force 1996), so shortening and lengthening count alike.
"""

from __future__ import annotations

import numpy as np
import pytest

from phenotyping.features import hrv
from phenotyping.features.day import SubjectDays

DAY = 1440
T0 = 19_000 * DAY  # 2022-01-08 00:00 UTC, in minutes


def _activity() -> np.ndarray:
    """Three days: still nights (counts 0..3) 00:00-07:00 UTC, active days."""
    rng = np.random.default_rng(3)
    t = np.arange(3 * DAY)
    night = (t % DAY) < 7 * 60
    x = np.where(night, rng.choice([0.0, 1, 2, 3], size=t.size), rng.integers(80, 400, t.size))
    return x.astype(float)


def _night_rows(edit_every: int | None) -> list[dict]:
    """RR bursts all over night 2 (UTC 00:00-07:00 of day 1); every ``edit_every``-th
    interval replaced by a 300 ms artefact (premature beat), or none."""
    eng = SubjectDays()
    eng.push_activity(T0 * 60, 60, _activity(), None, 0)
    rng = np.random.default_rng(5)
    for k in range(7 * 12):
        t0 = (T0 + DAY) * 60_000 + k * 300_000
        rr = rng.normal(1000, 20, 290)
        if edit_every:
            rr[::edit_every] = 300.0
        eng.push_beats(t0, rr, 0)
    return eng.flush()


def test_hrv_valid_with_enough_clean_beats() -> None:
    night = _night_rows(None)[1]
    assert night["night_n_nn"] >= 1000 and night["night_fraction_edited"] < 0.05
    assert night["hrv_valid"] is True


def test_hrv_invalid_when_too_many_beats_were_edited() -> None:
    """Every 3rd interval an artefact: a third of the beats (and their neighbours judged
    against them) are edited, yet more than 1000 normal beats remain -- only the edited
    fraction can make this night invalid."""
    night = _night_rows(3)[1]
    assert night["night_n_nn"] >= 1000
    assert night["night_fraction_edited"] > 0.2
    assert night["hrv_valid"] is False


def test_nn50_nn20_count_negative_and_positive_differences() -> None:
    rr = np.array([1000.0, 940.0, 1000.0, 975.0, 1000.0, 990.0, 1051.0])
    # d = -60, +60, -25, +25, -10, +61: |d| > 50 for 3 of them, > 20 for 5
    m = hrv.time_domain(rr)
    assert (m["nn50"], m["nn20"], m["n_diff"]) == (3.0, 5.0, 6.0)
    assert m["pnn50"] == pytest.approx(50.0) and m["pnn20"] == pytest.approx(500 / 6)
    only_negative = hrv.time_domain(np.array([1000.0, 930.0, 870.0, 845.0]))  # -70 -60 -25
    assert (only_negative["nn50"], only_negative["nn20"]) == (2.0, 3.0)
    at_the_threshold = hrv.time_domain(np.array([1000.0, 950.0, 1000.0, 980.0, 1000.0]))
    assert (at_the_threshold["nn50"], at_the_threshold["nn20"]) == (0.0, 2.0)  # strict >


def test_streamed_sums_count_negative_differences_too() -> None:
    rr = np.array([1000.0, 940.0, 1000.0, 975.0, 1000.0, 990.0, 1051.0])
    t = hrv.beat_times(0.0, rr)
    s = hrv.combine(hrv.segment_sums(rr, t, np.ones(rr.size, bool), [0.0, 3000.0, 10_000.0]))
    m = hrv.metrics_from_sums(s)
    assert (m["nn50"], m["nn20"], m["n_diff"]) == (3.0, 5.0, 6.0)
    # RMSSD by hand: (3600 + 3600 + 625 + 625 + 100 + 3721) / 6
    assert m["rmssd"] == pytest.approx(np.sqrt(12271 / 6))


def test_device_sleep_episode_columns_by_hand() -> None:
    """Device episodes (UTC+1): the night labelled day 1 is the main episode that ENDS
    before noon of day 1 (local); of two main episodes the longer; naps never count."""
    off = 60
    eng = SubjectDays()
    eng.push_activity(T0 * 60, 60, _activity(), None, 0)
    d1 = T0 + DAY  # UTC midnight of day 1 = 01:00 local
    # main: 22:30 local (day 0) -> 06:45 local (day 1) = 21:30 UTC -> 05:45 UTC
    eng.push_sleep_episode(
        d1 - 150,
        d1 + 345,
        off,
        is_main=True,
        tst_min=430.0,
        waso_min=40.0,
        latency_min=12.0,
        efficiency_pct=86.9,
    )
    # a shorter "main" one the same night, and a long nap: neither is chosen
    eng.push_sleep_episode(d1 + 400, d1 + 500, off, is_main=True, tst_min=90.0)
    eng.push_sleep_episode(d1 + 600, d1 + 1000, off, is_main=False, tst_min=380.0)
    rows = {r["date"]: r for r in eng.flush()}
    night = rows["2022-01-09"]
    assert night["device_sleep_onset_clock_min"] == 22 * 60 + 30
    assert night["device_sleep_offset_clock_min"] == 6 * 60 + 45
    assert night["device_sleep_tib_min"] == 495.0
    assert night["device_sleep_tst_min"] == 430.0
    assert night["device_sleep_waso_min"] == 40.0
    assert night["device_sleep_latency_min"] == 12.0
    assert night["device_sleep_efficiency_pct"] == 86.9
    assert "device_sleep_start_utc_min" not in night
    # the nap ends at 17:40 local on day 1: after noon -> night of day 2, but not main
    assert np.isnan(rows["2022-01-10"]["device_sleep_tst_min"])
    assert np.isnan(rows["2022-01-08"]["device_sleep_tst_min"])

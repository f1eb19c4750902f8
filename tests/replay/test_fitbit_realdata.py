"""PMData's real Fitbit exports through ``phenotyping replay``: the daily rows must carry
Fitbit's own numbers exactly. Expected values are read here straight from the export files
(``json``/``csv``), not through the reader under test."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from phenotyping.cli import main

pytestmark = pytest.mark.realdata

PARTICIPANTS = ["p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p13"]
WITH_STEPS = ["p03", "p10", "p13"]


@pytest.fixture(scope="module")
def pmdata(data_dir: Path) -> Path:
    return data_dir / "pmdata"


@pytest.fixture(scope="module")
def replayed(pmdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One ``phenotyping replay`` of the whole PMData subset (shared by the checks)."""
    out = tmp_path_factory.mktemp("pmdata")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["replay", str(pmdata), "--out", str(out), "-q", "--jobs", "2"])
    assert code == 0, buf.getvalue()
    return out, buf.getvalue()


@pytest.fixture(scope="module")
def daily(replayed: tuple[Path, str]) -> pd.DataFrame:
    rows = pd.read_csv(replayed[0] / "daily_features.csv", dtype={"subject_id": str})
    return rows.set_index(["subject_id", "date"])


def _local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text[:19])


def test_all_eleven_participants_replay_end_to_end(
    replayed: tuple[Path, str], daily: pd.DataFrame
) -> None:
    out, printed = replayed
    assert "read 11 recording(s)" in printed and "11 subject(s)" in printed
    subjects = sorted(set(daily.index.get_level_values(0)))
    assert subjects == PARTICIPANTS
    per = daily.groupby(level=0)
    # every participant: a row per night with a main sleep, sleep scores, self-reports
    assert (per["device_sleep_tst_min"].count() > 40).all()
    assert (per["dev_sleep_score"].count() > 40).all()
    # activity only where there is a steps file, and then mostly valid days
    valid = per["valid"].sum()
    assert (valid[WITH_STEPS] > 50).all() and (valid.drop(WITH_STEPS) == 0).all()
    clinical = [json.loads(x) for x in (out / "clinical_events.jsonl").read_text().splitlines()]
    assert {c["subject_id"] for c in clinical} == set(PARTICIPANTS)
    assert {c["instrument"] for c in clinical} == {
        "pmsys_mood_1_5",
        "pmsys_stress_1_5",
        "pmsys_fatigue_1_5",
        "pmsys_sleep_quality_1_5",
        "pmsys_readiness_0_10",
    }
    report = json.loads((out / "report.json").read_text())
    assert not any(k.startswith("file not used") for k in report["unusable"])


@pytest.mark.parametrize("subject", PARTICIPANTS)
def test_nightly_device_tst_is_fitbits_minutes_asleep(
    subject: str, pmdata: Path, daily: pd.DataFrame
) -> None:
    """Every main sleep log: its night's row (noon to noon, by its local end) carries its
    minutesAsleep; where Fitbit logged several main sleeps in one night, the row carries
    the longest one's (the day engine's documented rule)."""
    logs = json.loads((pmdata / subject / "fitbit" / "sleep.json").read_text())
    nights: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for log in logs:
        if log.get("mainSleep", True):
            night = (_local(log["endTime"]) + dt.timedelta(hours=12)).date().isoformat()
            nights[night].append(log)
    assert nights
    rows = daily.loc[subject]
    checked = 0
    for night, mains in nights.items():
        longest = max(mains, key=lambda g: g["duration"])
        assert rows.loc[night, "device_sleep_tst_min"] == longest["minutesAsleep"], night
        assert rows.loc[night, "device_sleep_efficiency_pct"] == longest["efficiency"], night
        checked += len(mains)
    assert checked == sum(1 for g in logs if g.get("mainSleep", True))


@pytest.mark.parametrize("subject", WITH_STEPS)
def test_daily_steps_are_the_sum_of_the_exports_minute_steps(
    subject: str, pmdata: Path, daily: pd.DataFrame
) -> None:
    records = json.loads((pmdata / subject / "fitbit" / "steps.json").read_text())
    unique = {(r["dateTime"], r["value"]) for r in records}  # a re-synced minute counts once
    per_day: dict[str, int] = defaultdict(int)
    for when, value in unique:
        per_day[when[:10]] += int(value)
    rows = daily.loc[subject]
    got = rows["steps_total"].dropna()
    assert set(got.index) == set(per_day)
    assert {d: int(v) for d, v in got.items()} == dict(per_day)


@pytest.mark.parametrize("subject", [p for p in PARTICIPANTS if p != "p13"])
def test_resting_heart_rate_carried_exactly(
    subject: str, pmdata: Path, daily: pd.DataFrame
) -> None:
    records = json.loads((pmdata / subject / "fitbit" / "resting_heart_rate.json").read_text())
    want = {r["dateTime"][:10]: r["value"]["value"] for r in records if r["value"]["value"] > 0}
    got = daily.loc[subject]["dev_resting_hr"].dropna()
    assert want and dict(got.items()) == want

"""Write a synthetic Apple Health ``export.xml`` of a given size (for the reader benchmark
and tests; never commit its output).

The layout follows Apple's export: an internal DTD, ``ExportDate``, ``Me``, then records
grouped by type (all step counts, then all heart rates, ...) in date order, as the Health
app writes them. Per day: Watch step counts per active minute with an iPhone record counting
the same minute a little lower (the reader must take the larger, not the sum), heart rate
every 5 minutes while awake and every 10 minutes asleep, a resting heart rate, five
HRV SDNN readings with 60 instantaneous beats each, and a night of sleep stages.

Usage::

    python benchmarks/make_apple_export.py OUT_DIR --mb 1024 [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record type CDATA #REQUIRED unit CDATA #IMPLIED value CDATA #IMPLIED
  sourceName CDATA #REQUIRED sourceVersion CDATA #IMPLIED device CDATA #IMPLIED
  creationDate CDATA #IMPLIED startDate CDATA #REQUIRED endDate CDATA #REQUIRED>
]>
<HealthData locale="en_US">
 <ExportDate value="2024-01-01 08:00:00 +0100"/>
 <Me HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexNotSet"/>
"""
FIRST_DAY = dt.date(2021, 1, 4)
TZ = dt.timezone(dt.timedelta(hours=1))


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S %z")


def _rec(kind: str, unit: str, source: str, a: dt.datetime, b: dt.datetime, value: str) -> str:
    return (
        f' <Record type="{kind}" sourceName="{source}" sourceVersion="9.2" unit="{unit}" '
        f'creationDate="{_ts(b)}" startDate="{_ts(a)}" endDate="{_ts(b)}" value="{value}"/>\n'
    )


def _midnight(day: int) -> dt.datetime:
    return dt.datetime.combine(FIRST_DAY + dt.timedelta(days=day), dt.time(), TZ)


def _steps(day: int, rng: random.Random, truth: dict[str, int]) -> Iterator[str]:
    m0 = _midnight(day)
    total = 0
    for minute in range(7 * 60, 23 * 60):
        if rng.random() < 0.35:
            n = rng.randint(5, 120)
            a = m0 + dt.timedelta(minutes=minute)
            b = a + dt.timedelta(minutes=1)
            yield _rec("HKQuantityTypeIdentifierStepCount", "count", "Watch", a, b, str(n))
            yield _rec("HKQuantityTypeIdentifierStepCount", "count", "iPhone", a, b, str(n - 3))
            total += n
    truth[m0.date().isoformat()] = total


def _heart(day: int, rng: random.Random, truth: dict[str, int]) -> Iterator[str]:
    m0 = _midnight(day)
    minute = 0
    while minute < 1440:
        a = m0 + dt.timedelta(minutes=minute)
        yield _rec(
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            "Watch",
            a,
            a,
            str(rng.randint(50, 110)),
        )
        minute += 5 if 7 * 60 <= minute < 23 * 60 else 10


def _resting(day: int, rng: random.Random, truth: dict[str, int]) -> Iterator[str]:
    m0 = _midnight(day)
    yield _rec(
        "HKQuantityTypeIdentifierRestingHeartRate",
        "count/min",
        "Watch",
        m0,
        m0 + dt.timedelta(hours=23, minutes=59),
        str(rng.randint(48, 62)),
    )


def _hrv(day: int, rng: random.Random, truth: dict[str, int]) -> Iterator[str]:
    m0 = _midnight(day)
    for hour in (2, 4, 9, 14, 19):
        a = m0 + dt.timedelta(hours=hour, minutes=rng.randint(0, 50))
        t = a
        beats = []
        for _ in range(60):
            bpm = rng.randint(55, 75)
            t += dt.timedelta(milliseconds=60000 / bpm)
            clock = t.strftime("%I:%M:%S.") + f"{t.microsecond // 10000:02d} " + t.strftime("%p")
            beats.append(
                f'   <InstantaneousBeatsPerMinute bpm="{bpm}" time="{clock.lstrip("0")}"/>\n'
            )
        yield (
            f' <Record type="HKQuantityTypeIdentifierHeartRateVariabilitySDNN" sourceName="Watch" '
            f'unit="ms" creationDate="{_ts(t)}" startDate="{_ts(a)}" endDate="{_ts(t)}" '
            f'value="{rng.uniform(20, 80):.3f}">\n  <HeartRateVariabilityMetadataList>\n'
            + "".join(beats)
            + "  </HeartRateVariabilityMetadataList>\n </Record>\n"
        )


def _sleep(day: int, rng: random.Random, truth: dict[str, int]) -> Iterator[str]:
    t = _midnight(day) + dt.timedelta(hours=23, minutes=rng.randint(0, 40))
    end = t + dt.timedelta(hours=8)
    kind = "HKCategoryTypeIdentifierSleepAnalysis"
    yield _rec(kind, "", "iPhone", t, end, "HKCategoryValueSleepAnalysisInBed").replace(
        ' unit=""', ""
    )
    t += dt.timedelta(minutes=15)
    stages = ("AsleepCore", "AsleepDeep", "AsleepCore", "AsleepREM", "Awake")
    while t < end - dt.timedelta(minutes=30):
        value = stages[rng.randrange(len(stages))]
        b = min(t + dt.timedelta(minutes=rng.randint(5, 40)), end)
        yield _rec(kind, "", "Watch", t, b, f"HKCategoryValueSleepAnalysis{value}").replace(
            ' unit=""', ""
        )
        t = b


TYPES: tuple[Callable[[int, random.Random, dict[str, int]], Iterator[str]], ...] = (
    _steps,
    _heart,
    _resting,
    _hrv,
    _sleep,
)


def _day_bytes(seed: int) -> int:
    return sum(len(s) for f in TYPES for s in f(0, random.Random(seed), {}))


def write_export(folder: Path, target_bytes: int, seed: int = 0) -> dict[str, int]:
    """Write ``folder/export.xml`` of about ``target_bytes``; return the Watch's steps per
    local date (the truth the reader must reproduce)."""
    folder.mkdir(parents=True, exist_ok=True)
    days = max(1, round((target_bytes - len(HEADER)) / _day_bytes(seed)))
    truth: dict[str, int] = {}
    with (folder / "export.xml").open("w", encoding="utf-8") as fh:
        _write(fh, days, seed, truth)
    return truth


def _write(fh: TextIO, days: int, seed: int, truth: dict[str, int]) -> None:
    fh.write(HEADER)
    for i, kind in enumerate(TYPES):
        for day in range(days):
            rng = random.Random(seed * 1_000_003 + day * 10 + i)
            fh.writelines(kind(day, rng, truth))
    fh.write("</HealthData>\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="folder to write export.xml into")
    p.add_argument("--mb", type=float, default=1024.0, help="target size in MB (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    truth = write_export(args.out, int(args.mb * 1e6), args.seed)
    size = (args.out / "export.xml").stat().st_size
    print(f"wrote {args.out / 'export.xml'}: {size / 1e6:,.0f} MB, {len(truth)} days")
    return 0


if __name__ == "__main__":
    sys.exit(main())

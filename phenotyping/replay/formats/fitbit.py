"""Fitbit account data export -> the wire messages a Fitbit would have sent.

One export folder is one subject: either a folder holding the Fitbit JSON files, or a
folder with a ``fitbit/`` sub-folder (the PMData layout, ``pNN/fitbit/*.json`` beside
``pNN/pmsys/wellness.csv``). The subject id is the folder's name (``p01``); a folder
named ``fitbit`` takes its parent's name.

Files (each also as Fitbit's dated parts, ``steps-2020-01-01.json`` ...)

``steps.json``
    minute steps ``[{"dateTime": "2019-11-01 00:48:00", "value": "0"}, ...]`` ->
    :class:`~phenotyping.events.ActivityBatch` (steps only, 60-s epochs), one per local
    day and UTC offset. See *Wear* below for the minutes Fitbit leaves out.
``sleep.json``
    sleep logs, ``stages`` (30-s deep/light/rem/wake, short wakes in ``shortData``) and
    ``classic`` (60-s asleep/restless/awake), main sleeps and naps ->
    :class:`~phenotyping.events.SleepEpisode` carrying Fitbit's own numbers:
    ``tst_min`` = minutesAsleep, ``waso_min`` = minutesAwake, ``latency_min`` =
    minutesToFallAsleep, ``after_wakeup_min`` = minutesAfterWakeup, ``time_in_bed_min``
    = timeInBed, ``efficiency_pct`` = efficiency, ``stage_min`` = the summary's minutes
    per stage, and the per-epoch ``stages``. ``mainSleep`` missing: the longest log of
    its ``dateOfSleep`` is the main one.
``heart_rate.json``
    (5-s bpm) only as evidence of wear; it is scanned in chunks, never loaded whole
    (exports reach gigabytes).

Time
    Fitbit writes the wearer's local wall-clock time without an offset. It is resolved
    with ``--tz`` (IANA), default :data:`DEFAULT_TZ` = ``Europe/Oslo``, the zone of the
    PMData participants. A local time that does not exist (spring forward) or occurs
    twice (fall back) is counted as unusable with that reason.

Wear
    Fitbit's minute steps omit many zero-step minutes and all time the watch was off or
    did not sync, so a missing minute is neither "0 steps" nor "not worn". A minute is
    **worn** when there is evidence: a step record (an explicit 0 included), a sleep log
    covering it (Fitbit only scores sleep on the wrist), or -- where ``heart_rate.json``
    exists -- a heart-rate sample in it. Between two worn minutes, a gap of at most
    :data:`MAX_GAP_MIN` (120) missing minutes is worn with 0 steps (a still wrist: the
    same 2-hour rule the day engine applies to runs of zero counts); a longer gap is not
    worn (``null``). With heart rate, gaps are only bridged up to :data:`HR_GAP_MIN` (5)
    minutes, because heart rate says directly when the watch was on. Only the span the
    steps file covers gets activity messages; without a steps file there are none (no
    daily step totals), and the sleep logs and daily summaries still replay.

Every unusable row or file is counted in the report with its reason; one bad file does
not lose the others.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import orjson
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ValidationError

from phenotyping.errors import FormatError
from phenotyping.events import (
    ActivityBatch,
    AnyMessage,
    ClinicalEvent,
    DailySummary,
    SleepEpisode,
)
from phenotyping.replay.formats.base import ReadOptions, ReadReport, event_id

NAME = "fitbit"
SOURCE = "fitbit"
#: Zone of Fitbit's local times when ``--tz`` is not given (PMData: Norway).
DEFAULT_TZ = "Europe/Oslo"
#: Without heart rate, a gap of at most this many minutes between worn minutes is worn.
MAX_GAP_MIN = 120
#: With heart rate, only gaps this short are bridged (short optical dropouts).
HR_GAP_MIN = 5
#: Years a Fitbit time may have (others: a broken clock or a broken file).
YEARS = (1990, 2099)
#: Largest steps per minute the schema accepts.
MAX_STEPS = 1000
#: File stems of an export that mark a folder as a Fitbit export.
KNOWN = (
    "steps",
    "sleep",
    "heart_rate",
    "resting_heart_rate",
    "sedentary_minutes",
    "lightly_active_minutes",
    "moderately_active_minutes",
    "very_active_minutes",
)

Message = AnyMessage
M = TypeVar("M", bound=BaseModel)
I64 = NDArray[np.int64]


# --------------------------------------------------------------------------- discovery
def _parts(folder: Path, stem: str) -> list[Path]:
    """``stem.json`` and Fitbit's dated parts ``stem-YYYY-MM-DD.json`` in ``folder``."""
    pattern = re.compile(rf"^{re.escape(stem)}(-\d{{4}}-\d{{2}}-\d{{2}})?\.json$", re.IGNORECASE)
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and pattern.match(p.name))
    except OSError:
        return []


def fitbit_dir(path: Path) -> Path | None:
    """The folder holding the Fitbit JSON files of export ``path``, or None."""
    if not path.is_dir():
        return None
    for folder in (path / "fitbit", path):
        if folder.is_dir() and _holds_known(folder):
            return folder
    return None


#: A name :func:`_parts` finds for one of the ``KNOWN`` stems.
_KNOWN_PART = re.compile(
    rf"^({'|'.join(re.escape(stem) for stem in KNOWN)})(-\d{{4}}-\d{{2}}-\d{{2}})?\.json$",
    re.IGNORECASE,
)


def _holds_known(folder: Path) -> bool:
    """``any(_parts(folder, stem) for stem in KNOWN)`` in one listing of ``folder``, a
    file's name looked at before its type (a folder of many recordings is sniffed for
    every subfolder while its files are listed: one look, not one per stem and file)."""
    try:
        return any(_KNOWN_PART.match(p.name) and p.is_file() for p in folder.iterdir())
    except OSError:
        return False


def sniff(path: Path) -> bool:
    """A folder that is one Fitbit export (``pNN`` or its ``fitbit/`` folder)."""
    return fitbit_dir(path) is not None


def units(path: Path) -> list[Path]:
    """Fitbit exports under ``path``: ``path`` itself, or each export folder below it."""
    if sniff(path):
        return [path]
    if not path.is_dir():
        return []
    found: list[Path] = []
    for p in sorted(path.rglob("*")):
        if p.is_dir() and sniff(p) and not any(q in found for q in p.parents):
            if p.name.lower() == "fitbit" and p.parent in found:
                continue
            found.append(p)
    return found


def subject_of(unit: Path) -> str:
    """Pseudonymous subject id from the export folder's name."""
    name = unit.parent.name if unit.name.lower() == "fitbit" else unit.name
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "fitbit"


# --------------------------------------------------------------------------- helpers
def _load_json(path: Path) -> list[Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise FormatError(f"{path}: unreadable ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, list):
        raise FormatError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _json_records(files: list[Path], report: ReadReport) -> Iterator[list[Any]]:
    """The records of each file, counted in ``report.rows``; a file that cannot be read as a
    JSON list is counted as not used and the other files are still read."""
    for path in files:
        try:
            records = _load_json(path)
        except FormatError as exc:
            report.reject(f"file not used: {exc}")
            continue
        report.rows += len(records)
        yield records


def _naive(value: Any) -> dt.datetime | None:
    """One Fitbit local time string -> a naive datetime (None: absent, unparseable, with an
    offset, or outside :data:`YEARS`).

    Fitbit writes ``2019-11-01 00:00:00``, ``2019-11-02T07:19:30.000`` or (older exports)
    ``11/01/19 00:00:00``.

    Examples
    --------
    >>> _naive("2019-11-02T07:19:30.000"), _naive("11/01/19 00:00:00")
    (datetime.datetime(2019, 11, 2, 7, 19, 30), datetime.datetime(2019, 11, 1, 0, 0))
    >>> _naive("2300-01-01 00:00:00"), _naive(5), _naive("2020-01-01T00:00:00+01:00")
    (None, None, None)
    """
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            t = dt.datetime.strptime(value.strip(), "%m/%d/%y %H:%M:%S")
        except ValueError:
            return None
    if t.tzinfo is not None or not YEARS[0] <= t.year <= YEARS[1]:
        return None
    return t


def _parse_local(values: Any) -> pd.Series:
    """Fitbit local time strings -> naive datetimes (NaT where :func:`_naive` gives None).

    Examples
    --------
    >>> _parse_local(["2019-11-01 00:48:00", "2019-11-02T07:19:30.000"]).tolist()
    [Timestamp('2019-11-01 00:48:00'), Timestamp('2019-11-02 07:19:30')]
    """
    vals = list(values)
    if vals and all(type(v) is str and len(v) in (19, 23) and v[4] == "-" for v in vals):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an offset ("Z", "+01:00") warns: not this path
            try:  # the common case, ISO 8601 without an offset: NumPy parses it ~10x faster
                arr = np.array(vals, dtype="datetime64[s]")
            except (ValueError, Warning):
                arr = None
        if arr is not None:
            years = arr.astype("datetime64[Y]").astype(np.int64) + 1970
            arr[(years < YEARS[0]) | (years > YEARS[1])] = np.datetime64("NaT")
            return pd.Series(arr.astype("datetime64[ns]"))
    return pd.Series([_naive(v) for v in vals], dtype="datetime64[ns]")


def _zone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormatError(f"tz: {tz!r} is not an IANA time zone (e.g. Europe/Oslo)") from None
    return tz


def _localize(
    naive: pd.Series, tz: str, report: ReadReport, what: str
) -> tuple[I64, I64, NDArray[np.bool_]]:
    """Naive local datetimes -> (UTC seconds, offset minutes, usable mask)."""
    local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    bad = local.isna().to_numpy() & naive.notna().to_numpy()
    report.reject(f"fitbit {what}: local time ambiguous or nonexistent in {tz}", int(bad.sum()))
    ok = local.notna().to_numpy()
    secs = np.zeros(len(local), np.int64)
    offs = np.zeros(len(local), np.int64)
    if ok.any():
        good = local[ok]
        secs[ok] = ((good - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
        offs[ok] = (
            (good.dt.tz_localize(None) - good.dt.tz_convert("UTC").dt.tz_localize(None))
            .dt.total_seconds()
            .to_numpy()
            // 60
        ).astype(np.int64)
    return secs, offs, ok


def _aware(utc_s: int, off_min: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(utc_s, dt.timezone(dt.timedelta(minutes=off_min)))


def _validated(
    model: type[M], data: dict[str, Any], report: ReadReport, rows: int, what: str = "fitbit"
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        name = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")  # a model rule names its field
        report.reject(f"{what} {model.__name__}: {f'{name}: ' if name else ''}{msg}", rows)
        return None


# --------------------------------------------------------------------------- steps
def _read_steps(
    files: list[Path], tz: str, report: ReadReport
) -> tuple[I64, NDArray[np.float64], I64]:
    """Minute step records -> sorted unique (UTC minute, steps, offset)."""
    mins: list[I64] = []
    vals: list[NDArray[np.float64]] = []
    offs: list[I64] = []
    for records in _json_records(files, report):
        rows = [r if isinstance(r, dict) else {} for r in records]
        ts = _parse_local([r.get("dateTime") for r in rows])
        value = np.array([_num(r.get("value")) for r in rows], dtype=np.float64)
        bad_ts = ts.isna().to_numpy()
        bad_v = ~bad_ts & ~(
            np.isfinite(value) & (value >= 0) & (value <= MAX_STEPS) & (value == np.round(value))
        )
        report.reject(
            f"fitbit steps: dateTime missing, unparseable or outside {YEARS[0]}..{YEARS[1]}",
            int(bad_ts.sum()),
        )
        report.reject(f"fitbit steps: value not a whole number 0..{MAX_STEPS}", int(bad_v.sum()))
        keep = ~(bad_ts | bad_v)
        secs, off, ok = _localize(ts[keep], tz, report, "steps")
        mins.append(secs[ok] // 60)
        vals.append(value[keep][ok])
        offs.append(off[ok])
    if not mins:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
    m, v, o = np.concatenate(mins), np.concatenate(vals), np.concatenate(offs)
    if not len(m):
        return m, v, o
    order = np.lexsort((-v, m))  # by minute, the larger value first
    m, v, o = m[order], v[order], o[order]
    dup = np.r_[False, np.diff(m) == 0]
    same = dup & np.r_[False, np.diff(v) == 0]
    report.reject("fitbit steps: minute repeated with the same value (used once)", int(same.sum()))
    report.reject(
        "fitbit steps: minute repeated with another value (the larger kept)",
        int((dup & ~same).sum()),
    )
    return m[~dup], v[~dup], o[~dup]


# --------------------------------------------------------------------------- heart rate
_HR_RECORD = re.compile(rb'"dateTime"\s*:\s*"([^"]+)"\s*,\s*"value"\s*:\s*\{\s*"bpm"\s*:\s*(\d+)')


def _hr_minutes(files: list[Path], tz: str, report: ReadReport, chunk: int = 1 << 24) -> I64:
    """UTC minutes with at least one heart-rate sample (chunked scan, bounded memory)."""
    found: list[I64] = []
    for path in files:
        try:
            fh = path.open("rb")
        except OSError as exc:
            report.reject(f"file not used: {path}: unreadable ({exc})")
            continue
        with fh:
            tail = b""
            while True:
                block = fh.read(chunk)
                data = tail + block
                last = data.rfind(b"}")
                cut = len(data) if not block else max(last + 1, 0)
                stamps = {m.group(1).rsplit(b":", 1)[0] for m in _HR_RECORD.finditer(data[:cut])}
                tail = data[cut:]
                if stamps:
                    report.rows += len(stamps)
                    naive = _parse_local(
                        [s.decode(errors="replace") + ":00" for s in sorted(stamps)]
                    )
                    report.reject("fitbit heart rate: unparseable minute", int(naive.isna().sum()))
                    secs, _, ok = _localize(naive[naive.notna()], tz, report, "heart rate")
                    found.append(np.unique(secs[ok] // 60))
                if not block:
                    break
    return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)


# --------------------------------------------------------------------------- sleep
_STAGE_MAP = {
    "wake": "wake",
    "awake": "wake",
    "light": "light",
    "deep": "deep",
    "rem": "rem",
    "asleep": "asleep",
    "restless": "restless",
}


def _stages(log: dict[str, Any], start: dt.datetime, epoch_s: int, n: int) -> list[str]:
    """Per-epoch stages from ``levels.data`` with ``levels.shortData`` (short wakes) on
    top; ``start`` is the log's naive local start."""
    out = np.full(n, "unknown", dtype=object)
    levels = _dict(log.get("levels"))
    for key in ("data", "shortData"):
        runs = levels.get(key)
        for run in runs if isinstance(runs, list) else []:
            run = _dict(run)
            stage = _STAGE_MAP.get(str(run.get("level", "")).lower())
            t = _naive(run.get("dateTime"))
            seconds = _num(run.get("seconds"))
            if stage is None or t is None or seconds is None or not 0 < seconds <= 86_400:
                continue
            i = int((t - start).total_seconds() // epoch_s)
            k = int(seconds // epoch_s)
            out[max(i, 0) : max(i + k, 0)] = stage
    return [str(s) for s in out]


def _read_sleep(
    files: list[Path],
    subject: str,
    tz: str,
    report: ReadReport,
    dates: dict[int, dt.date] | None = None,
) -> list[SleepEpisode]:
    """Sleep logs -> episodes; ``dates`` collects each logId's dateOfSleep."""
    logs: list[dict[str, Any]] = []
    for records in _json_records(files, report):
        for r in records:
            if isinstance(r, dict):
                logs.append(r)
            else:
                report.reject("fitbit sleep: a log is not a JSON object")
    if not logs:
        return []
    # mainSleep missing: the longest log of its dateOfSleep is the main one
    longest: dict[str, float] = {}
    for r in logs:
        key = str(r.get("dateOfSleep"))
        longest[key] = max(longest.get(key, 0.0), _num(r.get("timeInBed")) or 0.0)
    starts = _parse_local([r.get("startTime") for r in logs])
    ends = _parse_local([r.get("endTime") for r in logs])
    bad = (starts.isna() | ends.isna()).to_numpy()
    report.reject(
        f"fitbit sleep: startTime/endTime missing, unparseable or outside {YEARS[0]}..{YEARS[1]}",
        int(bad.sum()),
    )
    naive_starts = list(starts[~bad].dt.to_pydatetime())
    s_sec, s_off, s_ok = _localize(starts[~bad], tz, report, "sleep")
    e_sec, e_off, e_ok = _localize(ends[~bad], tz, report, "sleep")
    out: list[SleepEpisode] = []
    for k, r in enumerate(r for r, b in zip(logs, bad, strict=True) if not b):
        if not (s_ok[k] and e_ok[k]):
            continue
        start, end = _aware(int(s_sec[k]), int(s_off[k])), _aware(int(e_sec[k]), int(e_off[k]))
        day = _date_of(r.get("dateOfSleep"))
        log_id = _num(r.get("logId"))
        if dates is not None and day is not None and log_id is not None:
            dates[int(log_id)] = day
        main = r.get("mainSleep")
        if not isinstance(main, bool):
            main = (_num(r.get("timeInBed")) or 0.0) >= longest[str(r.get("dateOfSleep"))]
        epoch_s = 30 if r.get("type") == "stages" else 60
        n = round((end - start).total_seconds() / epoch_s)
        summary = _dict(_dict(r.get("levels")).get("summary"))
        stage_min = {
            name: _num(v.get("minutes"))
            for name, v in summary.items()
            if isinstance(v, dict)
            and name in _STAGE_MAP
            and _num(v.get("minutes")) is not None
            and 0 <= (_num(v.get("minutes")) or 0) <= 1440
        }
        msg = _validated(
            SleepEpisode,
            {
                "event_id": event_id(subject, "sleep", start, SOURCE),
                "subject_id": subject,
                "source": SOURCE,
                "tz_offset_min": int(e_off[k]),
                "start": start,
                "end": end,
                "is_main_sleep": main,
                "tst_min": _num(r.get("minutesAsleep")),
                "waso_min": _num(r.get("minutesAwake")),
                "latency_min": _num(r.get("minutesToFallAsleep")),
                "after_wakeup_min": _num(r.get("minutesAfterWakeup")),
                "time_in_bed_min": _num(r.get("timeInBed")),
                "efficiency_pct": _num(r.get("efficiency")),
                "stage_min": stage_min or None,
                "stages": (
                    {"epoch_s": epoch_s, "stages": _stages(r, naive_starts[k], epoch_s, n)}
                    if n > 0
                    else None
                ),
            },
            report,
            1,
        )
        if msg is not None:
            out.append(msg)
    return out


def _dict(v: Any) -> dict[str, Any]:
    """``v`` if it is a JSON object, else an empty one (a malformed part reads as absent)."""
    return v if isinstance(v, dict) else {}


def _num(v: Any) -> float | None:
    """A JSON number (or numeric string) as float; None when absent or not a number."""
    if isinstance(v, str):
        try:
            x = float(v)
        except ValueError:
            return None
    elif isinstance(v, int | float) and not isinstance(v, bool):
        x = float(v)
    else:
        return None
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------- wear
def worn_minutes(evidence: I64, lo: int, hi: int, max_gap: int) -> NDArray[np.bool_]:
    """Worn mask over UTC minutes [lo, hi): evidence minutes, plus gaps of at most
    ``max_gap`` missing minutes between two evidence minutes.

    Examples
    --------
    >>> worn_minutes(np.array([0, 3, 10]), 0, 12, 2).astype(int).tolist()
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    """
    worn = np.zeros(hi - lo, bool)
    ev = np.unique(evidence[(evidence >= lo) & (evidence < hi)]) - lo
    worn[ev] = True
    if len(ev) > 1:
        gap = np.diff(ev) - 1
        for a, g in zip(
            ev[:-1][(gap > 0) & (gap <= max_gap)], gap[(gap > 0) & (gap <= max_gap)], strict=True
        ):
            worn[a + 1 : a + 1 + g] = True
    return worn


def _offsets(utc_min: I64, tz: str) -> I64:
    """UTC offset (minutes) in zone ``tz`` of each UTC minute.

    Examples
    --------
    >>> _offsets(np.array([26_424_059, 26_424_060]), "Europe/Oslo").tolist()  # 01:00Z 29 Mar 2020
    [60, 120]
    """
    t = pd.DatetimeIndex(pd.to_datetime(utc_min * 60, unit="s", utc=True)).tz_convert(tz)
    local = t.tz_localize(None).to_numpy().astype("datetime64[m]").astype(np.int64)
    return np.asarray(local - utc_min, dtype=np.int64)


def _activity(
    subject: str,
    minutes: I64,
    steps: NDArray[np.float64],
    tz: str,
    sleep: list[SleepEpisode],
    hr: I64 | None,
    report: ReadReport,
) -> list[ActivityBatch]:
    """The steps-file span as batches per local day, UTC offset and worn stretch.

    The worn minutes are the evidence (step records, sleep logs, heart rate) with gaps of
    at most ``gap`` minutes bridged; a longer gap is never bridged, so each stretch of
    evidence is laid out on its own grid: memory follows the data, not the span (a stray
    record years away is one more small stretch, not a grid over the years between).
    """
    if not len(minutes):
        return []
    lo, hi = int(minutes[0]), int(minutes[-1]) + 1
    parts = [minutes]
    for ep in sleep:
        a, b = int(ep.start.timestamp()) // 60, -(-int(ep.end.timestamp()) // 60)
        if b > lo and a < hi:
            parts.append(np.arange(max(a, lo), min(b, hi), dtype=np.int64))
    if hr is not None:
        parts.append(hr[(hr >= lo) & (hr < hi)])
    evidence = np.unique(np.concatenate(parts))
    gap = MAX_GAP_MIN if hr is None else HR_GAP_MIN
    out: list[ActivityBatch] = []
    for stretch in np.split(evidence, np.flatnonzero(np.diff(evidence) > gap + 1) + 1):
        s_lo, s_hi = int(stretch[0]), int(stretch[-1]) + 1
        grid = np.zeros(s_hi - s_lo)  # every minute of a stretch is worn
        i, j = np.searchsorted(minutes, [s_lo, s_hi])
        grid[minutes[i:j] - s_lo] = steps[i:j]
        utc = np.arange(s_lo, s_hi, dtype=np.int64)
        off = _offsets(utc, tz)
        local_day = (utc + off) // 1440
        cut = np.flatnonzero((np.diff(local_day) != 0) | (np.diff(off) != 0)) + 1
        for a, b in zip(np.r_[0, cut], np.r_[cut, s_hi - s_lo], strict=True):
            start = _aware((s_lo + int(a)) * 60, int(off[a]))
            msg = _validated(
                ActivityBatch,
                {
                    "event_id": event_id(subject, "activity", start, SOURCE),
                    "subject_id": subject,
                    "source": SOURCE,
                    "tz_offset_min": int(off[a]),
                    "start": start,
                    "epoch_s": 60,
                    "steps": [int(v) for v in grid[a:b].tolist()],
                },
                report,
                int(b - a),
            )
            if msg is not None:
                out.append(msg)
    return out


# --------------------------------------------------------------------------- daily
#: Daily files -> the DailySummary field they fill.
ACTIVE_MINUTES = {
    "sedentary_minutes": "sedentary_min",
    "lightly_active_minutes": "lightly_active_min",
    "moderately_active_minutes": "moderately_active_min",
    "very_active_minutes": "very_active_min",
}


def _date_of(text: Any) -> dt.date | None:
    """The date of a Fitbit daily record's ``dateTime`` (``2019-11-01 00:00:00``)."""
    t = _naive(text)
    return None if t is None else t.date()


def _daily_values(
    folder: Path, sleep_dates: dict[int, dt.date], tz: str, report: ReadReport
) -> dict[dt.date, dict[str, float]]:
    """Per local date: resting heart rate, sleep score and minutes per activity level."""
    days: dict[dt.date, dict[str, float]] = {}

    def put(day: dt.date | None, name: str, value: float | None, what: str) -> None:
        if day is None:
            report.reject(f"fitbit {what}: dateTime missing or unparseable")
        elif value is None:
            report.reject(f"fitbit {what}: value missing or not a number")
        else:
            days.setdefault(day, {})[name] = value

    for records in _json_records(_parts(folder, "resting_heart_rate"), report):
        for r in records:
            r = r if isinstance(r, dict) else {}
            v = r.get("value")
            bpm = _num(v.get("value")) if isinstance(v, dict) else None
            if bpm == 0:  # Fitbit's "not enough data that day"
                report.reject("fitbit resting heart rate: 0 (Fitbit had too little data that day)")
                continue
            put(_date_of(r.get("dateTime")), "resting_hr_bpm", bpm, "resting heart rate")
    for stem, name in ACTIVE_MINUTES.items():
        for records in _json_records(_parts(folder, stem), report):
            for r in records:
                r = r if isinstance(r, dict) else {}
                put(_date_of(r.get("dateTime")), name, _num(r.get("value")), stem)
    for path in sorted(folder.glob("sleep_score*.csv")):
        try:
            df = pd.read_csv(path, dtype=str)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            report.reject(f"file not used: {path}: unreadable ({exc.__class__.__name__})")
            continue
        missing = {"timestamp", "overall_score"} - set(df.columns)
        if missing:
            report.reject(f"file not used: {path}: missing column(s) {sorted(missing)}")
            continue
        report.rows += len(df)
        raw_ids = df["sleep_log_entry_id"] if "sleep_log_entry_id" in df else [None] * len(df)
        ids = [_num(v) for v in raw_ids]
        ends = pd.to_datetime(df["timestamp"], utc=True, errors="coerce", format="ISO8601")
        for log_id, end, score in zip(ids, ends, df["overall_score"], strict=True):
            day = sleep_dates.get(int(log_id)) if log_id is not None else None
            if day is None and not pd.isna(end):  # no such log: the date it ended, locally
                day = end.tz_convert(tz).date()
            put(day, "sleep_score", _num(score), "sleep score")
    return days


def _summaries(
    subject: str, days: dict[dt.date, dict[str, float]], tz: str, report: ReadReport
) -> list[DailySummary]:
    out: list[DailySummary] = []
    zone = ZoneInfo(tz)
    for day in sorted(days):
        noon = dt.datetime.combine(day, dt.time(12), zone)
        off = noon.utcoffset()
        off_min = int(off.total_seconds() // 60) if off is not None else 0
        start = dt.datetime.combine(day, dt.time(), dt.timezone(dt.timedelta(minutes=off_min)))
        msg = _validated(
            DailySummary,
            {
                "event_id": event_id(subject, "daily_summary", start, SOURCE),
                "subject_id": subject,
                "source": SOURCE,
                "tz_offset_min": off_min,
                "date": day,
                **days[day],
            },
            report,
            len(days[day]),
        )
        if msg is not None:
            out.append(msg)
    return out


# --------------------------------------------------------------------------- self-reports
#: PMSys wellness column -> instrument of the self-report it becomes.
WELLNESS = {
    "mood": "pmsys_mood_1_5",
    "stress": "pmsys_stress_1_5",
    "fatigue": "pmsys_fatigue_1_5",
    "sleep_quality": "pmsys_sleep_quality_1_5",
    "readiness": "pmsys_readiness_0_10",
}


def wellness_file(unit: Path) -> Path | None:
    """PMData's ``pmsys/wellness.csv`` beside the Fitbit files, if there is one."""
    root = unit.parent if unit.name.lower() == "fitbit" else unit
    path = root / "pmsys" / "wellness.csv"
    return path if path.is_file() else None


def _self_reports(path: Path, subject: str, tz: str, report: ReadReport) -> list[ClinicalEvent]:
    """One ``ClinicalEvent(kind="self_report")`` per answered item; ``effective_time_frame``
    is UTC, its local offset comes from ``tz``."""
    try:
        df = pd.read_csv(path, dtype=str)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        report.reject(f"file not used: {path}: unreadable ({exc.__class__.__name__})")
        return []
    if "effective_time_frame" not in df.columns:
        report.reject(f"file not used: {path}: missing column(s) ['effective_time_frame']")
        return []
    report.rows += len(df)
    at = pd.to_datetime(df["effective_time_frame"], utc=True, errors="coerce", format="ISO8601")
    report.reject(
        "pmsys wellness: effective_time_frame missing or unparseable", int(at.isna().sum())
    )
    zone = ZoneInfo(tz)
    out: list[ClinicalEvent] = []
    for i in np.flatnonzero(at.notna().to_numpy()):
        when = at.iloc[i].to_pydatetime()
        off = when.astimezone(zone).utcoffset()
        off_min = int(off.total_seconds() // 60) if off is not None else 0
        local = when.astimezone(dt.timezone(dt.timedelta(minutes=off_min)))
        for column, instrument in WELLNESS.items():
            if column not in df.columns:
                continue
            score = _num(df[column].iloc[i])
            if score is None:
                report.reject(f"pmsys wellness: {column} missing or not a number")
                continue
            msg = _validated(
                ClinicalEvent,
                {
                    "event_id": event_id(subject, "clinical", local, f"pmsys:{instrument}"),
                    "subject_id": subject,
                    "source": "pmsys",
                    "tz_offset_min": off_min,
                    "at": local,
                    "kind": "self_report",
                    "instrument": instrument,
                    "score": score,
                },
                report,
                1,
                "pmsys",
            )
            if msg is not None:
                out.append(msg)
    return out


# --------------------------------------------------------------------------- read
def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[Message]:
    """One Fitbit export folder -> its messages, in the order a device would send them
    (by the end of what each covers)."""
    report = report if report is not None else ReadReport()
    folder = fitbit_dir(unit)
    if folder is None:
        raise FormatError(f"{unit}: not a Fitbit export (no steps.json, sleep.json, ...)")
    tz = _zone(options.tz if options is not None and options.tz else DEFAULT_TZ)
    subject = subject_of(unit)
    sleep_dates: dict[int, dt.date] = {}
    sleep = _read_sleep(_parts(folder, "sleep"), subject, tz, report, sleep_dates)
    minutes, steps, _ = _read_steps(_parts(folder, "steps"), tz, report)
    hr_files = _parts(folder, "heart_rate")
    hr = _hr_minutes(hr_files, tz, report) if hr_files and len(minutes) else None
    out: list[Message] = [*sleep]
    out.extend(_summaries(subject, _daily_values(folder, sleep_dates, tz, report), tz, report))
    wellness = wellness_file(unit)
    if wellness is not None:
        out.extend(_self_reports(wellness, subject, tz, report))
    out.extend(_activity(subject, minutes, steps, tz, sleep, hr, report))
    out.sort(key=lambda m: (m.span()[1], m.span()[0], m.type))
    report.messages += len(out)
    yield from out

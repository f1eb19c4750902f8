"""Open mHealth (OMH) data points: ``.json`` (one data point, a list of them, or
``{"data_points": [...]}``) or ``.jsonl``/``.ndjson`` (one data point per line), each
``{"header": {"schema_id": {"namespace": "omh", "name": ..., "version": ...}, ...},
"body": {...}}``.

Read (schema names as in the ``openmhealth/schemas`` repository, any version):

``step-count``
    ``step_count`` (a number, or ``{"value": n}`` in 3.0) over
    ``effective_time_frame.time_interval`` (start and end, or start/end and a duration):
    steps spread over the minutes of the interval, with the same wear rules and
    per-source maximum as Apple Health (:class:`~phenotyping.replay.formats._util.StepGrid`).
``heart-rate``
    evidence of wear when measured at a ``date_time``; a heart rate over an interval (a
    summary statistic) is counted as not used.
``rr-interval``
    ``rr_interval`` (ms or sec) at the ``date_time`` of the beat that closes it:
    :class:`~phenotyping.events.HeartBeatBatch` bursts.
``sleep-episode``
    :class:`~phenotyping.events.SleepEpisode`; OMH's time frame runs from sleep onset to
    the final awakening, so our in-bed ``start`` is the onset minus
    ``latency_to_sleep_onset`` when given. ``is_main_sleep`` missing: episodes of 3 h or
    more are main.

Other schemas are counted as not used, by name. Each data point's own UTC offset is its
``tz_offset_min``; ``--tz`` only places date-times written without an offset (default UTC).
Subject: ``--subject``; else ``header.user_id`` when it already is a pseudonymous id of our
form (``[A-Za-z0-9._-]{1,64}``: what ``phenotyping export --omh`` writes; an e-mail address
never is); else the file name, and several users in one file become ``<file>_1``,
``<file>_2``... in order of appearance.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage, SleepEpisode
from phenotyping.replay.formats._util import (
    EARLIEST_S,
    LATEST_S,
    StepGrid,
    beat_batches,
    event_id,
    sorted_messages,
    spread_steps,
    subject_from,
    validated,
    zone,
)
from phenotyping.replay.formats.base import ReadOptions, ReadReport

NAME = "omh"
DEFAULT_TZ = "UTC"
SOURCE = "open-mhealth"
#: The file names this reader sniffs.
SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson")
#: Bridged gaps (minutes) between worn minutes, with heart rate / steps only.
HR_GAP_MIN = 15
STEP_GAP_MIN = 120
_PSEUDONYM = re.compile(r"[A-Za-z0-9._-]{1,64}")
_UNIT_S = {"ms": 0.001, "sec": 1.0, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _head(path: Path, n: int = 4096) -> bytes:
    try:
        opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            return bytes(fh.read(n))
    except (OSError, EOFError):
        return b""


def sniff(path: Path) -> bool:
    """A JSON/JSONL file whose first data point has an OMH ``header.schema_id``."""
    if not path.is_file() or not path.name.lower().endswith(SUFFIXES):
        return False
    head = _head(path)
    return b'"schema_id"' in head and b'"header"' in head and b'"body"' in head


def units(path: Path) -> list[Path]:
    """OMH files under ``path``."""
    if path.is_file():
        return [path] if sniff(path) else []
    return [p for p in sorted(path.rglob("*")) if sniff(p)]


def _points(path: Path) -> Iterator[Any]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            if path.name.lower().endswith((".jsonl", ".jsonl.gz", ".ndjson")):
                for line in fh:
                    if line.strip():
                        try:
                            yield orjson.loads(line)
                        except orjson.JSONDecodeError:
                            yield None
                return
            data = orjson.loads(fh.read())
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"{path}: not valid JSON ({exc})") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("data_points"), list):
        data = data["data_points"]
    yield from data if isinstance(data, list) else [data]


def _instant(text: Any, tz: str) -> tuple[int, int]:
    """RFC 3339 date-time -> (UTC seconds, offset minutes); ValueError if it is not one."""
    if not isinstance(text, str):
        raise ValueError("date_time: not a string")
    t = dt.datetime.fromisoformat(text.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=zone(tz))
    off = t.utcoffset()
    assert off is not None
    s = int(t.timestamp())
    if not EARLIEST_S <= s < LATEST_S:
        raise ValueError("date_time: outside 1990..2100 (device clock?)")
    return s, int(off.total_seconds() // 60)


def _seconds(value: Any) -> float:
    """``{"value": 8, "unit": "h"}`` -> seconds."""
    if not isinstance(value, dict) or value.get("unit") not in _UNIT_S:
        raise ValueError(f"duration: needs value and a unit in {sorted(_UNIT_S)}")
    return float(value["value"]) * _UNIT_S[value["unit"]]


def _interval(frame: Any, tz: str) -> tuple[int, int, int]:
    """``effective_time_frame.time_interval`` -> (start s, end s, offset of the start)."""
    ti = frame.get("time_interval") if isinstance(frame, dict) else None
    if not isinstance(ti, dict):
        raise ValueError("effective_time_frame: needs a time_interval")
    if "start_date_time" in ti:
        start, off = _instant(ti["start_date_time"], tz)
        end = (
            _instant(ti["end_date_time"], tz)[0]
            if "end_date_time" in ti
            else start + round(_seconds(ti.get("duration")))
        )
    elif "end_date_time" in ti:
        end, off = _instant(ti["end_date_time"], tz)
        start = end - round(_seconds(ti.get("duration")))
    else:
        raise ValueError("time_interval: needs start_date_time or end_date_time")
    if end < start or end - start > 7 * 86400:
        raise ValueError("time_interval: end before start or longer than 7 days")
    return start, end, off


def _minutes_of(value: Any) -> float | None:
    if value is None:
        return None
    return _seconds(value) / 60.0


class _Subject:
    def __init__(self) -> None:
        self.grid = StepGrid()
        self.beats: list[tuple[float, float, int]] = []
        self.sleep: list[dict[str, Any]] = []


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    """One OMH file -> activity, heart-beat and sleep-episode messages per subject."""
    opts = options or ReadOptions()
    report = report if report is not None else ReadReport()
    tz = opts.tz or DEFAULT_TZ
    by_user: dict[str, _Subject] = {}
    for point in _points(unit):
        report.rows += 1
        try:
            name, body, user, source = _parse_header(point)
        except ValueError as exc:
            report.reject(f"omh: {str(exc)[:80]}")
            continue
        subject = by_user.setdefault(user, _Subject())
        try:
            _apply(name, body, source, subject, tz, report)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            report.reject(f"omh {name}: {str(exc)[:80]}")
    stem = subject_from(opts.subject or unit.name.split(".")[0])
    out: list[Any] = []
    for k, (user, data) in enumerate(by_user.items(), start=1):
        if opts.subject:
            sid = stem
        elif _PSEUDONYM.fullmatch(user):
            sid = user
        else:
            sid = stem if len(by_user) == 1 else subject_from(f"{stem}_{k}")
        out += data.grid.batches(
            sid, SOURCE, report, "omh step-count", heart_gap=HR_GAP_MIN, step_gap=STEP_GAP_MIN
        )
        if data.beats:
            arr = np.array(data.beats)
            out += beat_batches(
                sid,
                SOURCE,
                arr[:, 0],
                arr[:, 1],
                arr[:, 2].astype(np.int64),
                report,
                "omh rr-interval",
            )
        for ep in data.sleep:
            msg = validated(
                SleepEpisode,
                {
                    "event_id": event_id(sid, "sleep", ep["start"], SOURCE),
                    "subject_id": sid,
                    "source": SOURCE,
                    **ep,
                },
                report,
                1,
            )
            if msg is not None:
                out.append(msg)
    report.messages += len(out)
    yield from sorted_messages(out)


def _parse_header(point: Any) -> tuple[str, dict[str, Any], str, str]:
    if not isinstance(point, dict):
        raise ValueError("data point: not a JSON object")
    header, body = point.get("header"), point.get("body")
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise ValueError("data point: needs header and body objects")
    schema = header.get("schema_id")
    if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
        raise ValueError("header.schema_id: needs a name")
    name = schema["name"].replace("_", "-")
    prov = header.get("acquisition_provenance")
    source = str(prov.get("source_name", "")) if isinstance(prov, dict) else ""
    return name, body, str(header.get("user_id", "")), source


def _apply(
    name: str, body: dict[str, Any], source: str, subj: _Subject, tz: str, report: ReadReport
) -> None:
    frame = body.get("effective_time_frame")
    if name == "step-count":
        value = body.get("step_count")
        n = float(value["value"] if isinstance(value, dict) else value)  # type: ignore[arg-type]
        if not np.isfinite(n) or n < 0:
            raise ValueError("step_count: not a number >= 0")
        start, end, off = _interval(frame, tz)
        mins, vals = spread_steps(start, end, round(n))
        if max(vals) > 1000:
            raise ValueError("step_count: more than 1000 steps in a minute")
        subj.grid.add_steps(source, mins, vals)
        subj.grid.mark(mins[0], mins[-1] + 1, off)
    elif name == "heart-rate":
        if not isinstance(frame, dict) or "date_time" not in frame:
            report.reject("omh heart-rate: over an interval (a summary): not used")
            return
        t, off = _instant(frame["date_time"], tz)
        subj.grid.mark(t // 60, t // 60 + 1, off)
        subj.grid.heart = True
    elif name == "rr-interval":
        rr = body.get("rr_interval")
        if not isinstance(rr, dict) or rr.get("unit") not in ("ms", "sec", "s"):
            raise ValueError("rr_interval: needs value and unit ms or sec")
        ms = float(rr["value"]) * (1.0 if rr["unit"] == "ms" else 1000.0)
        if not isinstance(frame, dict) or "date_time" not in frame:
            raise ValueError("effective_time_frame: needs the date_time of the beat")
        text = frame["date_time"]
        t, off = _instant(text, tz)
        frac = dt.datetime.fromisoformat(text.strip()).microsecond / 1e6
        subj.beats.append(((t + frac) * 1000.0, ms, off))
    elif name == "sleep-episode":
        onset, wake, off = _interval(frame, tz)
        latency = _minutes_of(body.get("latency_to_sleep_onset"))
        start = onset - round((latency or 0.0) * 60)
        tzinfo = dt.timezone(dt.timedelta(minutes=off))
        main = body.get("is_main_sleep")
        subj.grid.mark(start // 60, -(-wake // 60), off)  # asleep on the wrist: worn
        subj.sleep.append(
            {
                "tz_offset_min": off,
                "start": dt.datetime.fromtimestamp(start, tzinfo),
                "end": dt.datetime.fromtimestamp(wake, tzinfo),
                "is_main_sleep": bool(main) if main is not None else wake - onset >= 3 * 3600,
                "tst_min": _minutes_of(body.get("total_sleep_time")),
                "waso_min": _minutes_of(body.get("wake_after_sleep_onset")),
                "latency_min": latency,
                "efficiency_pct": _percent(body.get("sleep_maintenance_efficiency_percentage")),
            }
        )
    else:
        report.reject(f"omh: schema {name[:40]!r} not read")


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("sleep_maintenance_efficiency_percentage: needs value and unit %")
    return float(value["value"])

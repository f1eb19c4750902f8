"""``phenotyping export --omh DIR``: a replay's daily features as Open mHealth data points.

One JSON object per line (``DIR/daily_features.omh.jsonl`` unless ``--out``), each a data
point ``{"header": {...}, "body": {...}}`` as the ``openmhealth/schemas`` repository defines
them (see ``schemas/README.md`` for how our messages map to OMH / IEEE 1752.1):

* ``omh:step-count`` 2.0 -- ``steps_total`` over the local day;
* ``omh:sleep-duration`` 2.0 -- the device's total sleep time of the night ending on the day
  (``device_sleep_tst_min``) where a device reported one, else ours from actigraphy
  (``sleep_tst_min``), over the night window noon (d-1) .. noon d;
* ``omh:heart-rate`` 2.0 -- the night's mean heart rate from beats (``night_mean_hr``),
  ``descriptive_statistic: "average"`` over the night window;
* ``phenotyping:daily-feature`` 1.0 -- every other feature of :data:`FEATURES` that OMH has
  no schema for, as ``{"feature", "value", "unit", "valid"}`` over the day.

Only days and values the replay computed are written (no value, no data point). The daily
rows carry local dates, not offsets: ``--tz`` (IANA, default ``UTC``) places each day's
midnight (and a daylight-saving day's 23 or 25 hours). Data-point ids are deterministic
(UUID 5 of subject, date, schema and feature), so exporting twice gives the same ids.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from phenotyping.errors import FormatError
from phenotyping.replay.formats._util import zone

#: Features without an OMH schema, exported as ``phenotyping:daily-feature`` (name -> unit).
FEATURES: dict[str, str] = {
    "worn_min": "min",
    "activity_mean_worn": "device counts/min",
    "sedentary_min": "min",
    "sleep_midpoint_clock_min": "min after local midnight",
    "sleep_se": "%",
    "sleep_waso_min": "min",
    "night_rmssd": "ms",
    "night_sdnn": "ms",
    "dev_resting_hr": "beats/min",
    "dev_rmssd": "ms",
    "dev_sdnn": "ms",
    "dev_sleep_score": "score",
    "circ7d_IS": "1",
    "circ7d_IV": "1",
    "circ7d_RA": "1",
    "sri7d": "1",
    "social_jetlag7d_min": "min",
    "risk_score": "1",
}
_NS = uuid.UUID("6f1c2b1e-3d0a-5b8e-9c41-0d7e2a9f4b10")


def _number(row: dict[str, str], key: str) -> float | None:
    text = row.get(key, "")
    if text in ("", None):
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _local(date: dt.date, tz: str, hours: int = 0) -> dt.datetime:
    naive = dt.datetime.combine(date, dt.time()) + dt.timedelta(hours=hours)
    return naive.replace(tzinfo=zone(tz))


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _point(
    subject: str,
    date: dt.date,
    schema: tuple[str, str, str],
    body: dict[str, Any],
    end: dt.datetime,
    key: str = "",
) -> dict[str, Any]:
    namespace, name, version = schema
    pid = uuid.uuid5(_NS, f"{subject}|{date.isoformat()}|{namespace}:{name}|{key}")
    return {
        "header": {
            "id": str(pid),
            "creation_date_time": _iso(end),
            "schema_id": {"namespace": namespace, "name": name, "version": version},
            "acquisition_provenance": {"source_name": "phenotyping", "modality": "sensed"},
            "user_id": subject,
        },
        "body": body,
    }


def data_points(rows: Iterable[dict[str, str]], tz: str = "UTC") -> Iterator[dict[str, Any]]:
    """Daily feature rows (as ``daily_features.csv`` holds them) -> OMH data points.

    >>> pts = list(data_points([{"subject_id": "s1", "date": "2024-03-31", "steps_total": "812"}],
    ...                        "Europe/Oslo"))
    >>> pts[0]["body"]["step_count"], pts[0]["header"]["schema_id"]["name"]
    (812, 'step-count')
    >>> pts[0]["body"]["effective_time_frame"]["time_interval"]  # a 23-hour day (DST)
    {'start_date_time': '2024-03-31T00:00:00+01:00', 'end_date_time': '2024-04-01T00:00:00+02:00'}
    """
    zone(tz)
    for row in rows:
        subject, text = row.get("subject_id", ""), row.get("date", "")
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            continue
        day = {
            "time_interval": {
                "start_date_time": _iso(_local(date, tz)),
                "end_date_time": _iso(_local(date + dt.timedelta(days=1), tz)),
            }
        }
        day_end = _local(date + dt.timedelta(days=1), tz)
        night = {
            "time_interval": {
                "start_date_time": _iso(_local(date - dt.timedelta(days=1), tz, 12)),
                "end_date_time": _iso(_local(date, tz, 12)),
            }
        }
        steps = _number(row, "steps_total")
        if steps is not None:
            body = {"step_count": int(round(steps)), "effective_time_frame": day}
            yield _point(subject, date, ("omh", "step-count", "2.0"), body, day_end)
        tst = _number(row, "device_sleep_tst_min")
        tst = tst if tst is not None else _number(row, "sleep_tst_min")
        if tst is not None:
            body = {
                "sleep_duration": {"value": tst, "unit": "min"},
                "effective_time_frame": night,
            }
            yield _point(subject, date, ("omh", "sleep-duration", "2.0"), body, day_end)
        hr = _number(row, "night_mean_hr")
        if hr is not None:
            body = {
                "heart_rate": {"value": hr, "unit": "beats/min"},
                "descriptive_statistic": "average",
                "effective_time_frame": night,
            }
            yield _point(subject, date, ("omh", "heart-rate", "2.0"), body, day_end)
        for feature, unit in FEATURES.items():
            value = _number(row, feature)
            if value is None:
                continue
            body = {
                "feature": feature,
                "value": value,
                "unit": unit,
                "valid": row.get("valid") == "True",
                "effective_time_frame": day,
            }
            schema = ("phenotyping", "daily-feature", "1.0")
            yield _point(subject, date, schema, body, day_end, feature)


def export_omh(src: Path, out: Path | None = None, tz: str = "UTC") -> tuple[Path, int]:
    """Write ``src/daily_features.csv`` as OMH data points (JSONL); return (path, count)."""
    daily = src / "daily_features.csv"
    if not daily.is_file():
        raise FormatError(f"{src}: no daily_features.csv (give a replay output folder)")
    target = out or src / "daily_features.omh.jsonl"
    n = 0
    with daily.open(newline="") as fh, target.open("w") as sink:
        for point in data_points(csv.DictReader(fh), tz):
            sink.write(json.dumps(point, sort_keys=True) + "\n")
            n += 1
    return target, n

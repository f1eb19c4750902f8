"""Readers for recorded streams: they turn recordings into the schema messages a device
would have sent, in event-time order per subject.

Formats (``detect`` picks one from the path):

``actiwatch``
    Depresjon / Psykose CSV (``timestamp,date,activity``, one row per minute, local
    wall-clock time). Local time is resolved with an IANA zone (``Europe/Oslo`` for both
    datasets); a repeated hour at the end of daylight saving time is resolved in recording
    order, a skipped hour simply has no rows. One message per local day and contiguous
    run, like a watch that syncs daily.
``mmash``
    MMASH ``user_N`` folders: ``RR.csv`` (Polar H7 beat intervals), ``Actigraph.csv`` (1-s
    ActiGraph epochs) and ``sleep.csv`` (the device software's sleep summary). MMASH gives a
    day index (1, 2) but no calendar date, so day 1 is anchored on a fixed date
    (:data:`MMASH_DAY1`, arbitrary, documented) at a fixed offset.
``jsonl``
    Our own wire messages, one JSON object per line (optionally gzipped).

Unusable rows are counted with their reason in a :class:`ReadReport`; nothing is
silently dropped.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from phenotyping.errors import FormatError, InputError
from phenotyping.events import ActivityBatch, AnyMessage, HeartBeatBatch, SleepEpisode, decode

Message = AnyMessage
M = TypeVar("M", bound=BaseModel)

#: The time zone of the Depresjon and Psykose recordings (Bergen, Norway).
ACTIWATCH_TZ = "Europe/Oslo"
#: MMASH has day indices only: day 1 is anchored here (an arbitrary, documented choice).
MMASH_DAY1 = dt.date(2018, 1, 1)
MMASH_OFFSET_MIN = 60
FORMATS = ("auto", "actiwatch", "mmash", "jsonl")


@dataclass
class ReadReport:
    """What a reader used and what it could not, with reasons."""

    files: int = 0
    rows: int = 0
    messages: int = 0
    unusable: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: str, n: int = 1) -> None:
        if n:
            self.unusable[reason] += n


def event_id(subject: str, kind: str, start: dt.datetime, source: str) -> str:
    """Deterministic id: the same recorded data always gets the same id."""
    digest = hashlib.blake2b(
        f"{subject}|{kind}|{source}|{start.isoformat()}".encode(), digest_size=10
    ).hexdigest()
    return f"{kind}:{digest}"


def _utc(ts: pd.Series) -> list[dt.datetime]:
    return list(ts.dt.tz_convert("UTC").dt.to_pydatetime())


# --------------------------------------------------------------------------- detection
def detect(path: Path) -> str:
    """Name the format of ``path`` (a file or a folder)."""
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    name = path.name.lower()
    if path.is_file():
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            return "jsonl"
        if name.endswith((".csv", ".csv.gz")):
            head = _first_line(path)
            if head.replace(" ", "").lower().startswith("timestamp,date,activity"):
                return "actiwatch"
        raise FormatError(f"{path}: cannot tell the format (use --format)")
    if (path / "RR.csv.gz").exists() or (path / "RR.csv").exists():
        return "mmash"
    kinds = {detect(p) for p in files_in(path)}
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise FormatError(f"{path}: no recordings found")
    raise FormatError(f"{path}: mixed formats {sorted(kinds)}; replay them separately")


def _first_line(path: Path) -> str:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            return str(fh.readline()).strip()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None


def files_in(path: Path) -> list[Path]:
    """Recording files (or MMASH user folders) under a folder, in a stable order."""
    if path.is_file() or (path / "RR.csv.gz").exists() or (path / "RR.csv").exists():
        return [path]
    out: list[Path] = []
    for p in sorted(path.rglob("*")):
        if p.is_dir() and ((p / "RR.csv.gz").exists() or (p / "RR.csv").exists()):
            out.append(p)
        elif p.is_file() and p.name.lower().endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            out.append(p)
        elif p.is_file() and p.name.lower().endswith((".csv", ".csv.gz")):
            try:
                head = _first_line(p)
            except FormatError:  # unreadable: keep it, so that reading it reports why
                out.append(p)
                continue
            if head.replace(" ", "").lower().startswith("timestamp,date,activity"):
                out.append(p)
    return sorted(out, key=_natural)


def _natural(p: Path) -> tuple[Any, ...]:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(p)))


def read(path: Path, fmt: str = "auto", report: ReadReport | None = None) -> Iterator[Message]:
    """Messages from every recording under ``path``."""
    report = report if report is not None else ReadReport()
    fmt = detect(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise FormatError(f"format: {fmt!r} is not one of {FORMATS}")
    for f in files_in(path):
        report.files += 1
        if fmt == "actiwatch":
            yield from read_actiwatch(f, report=report)
        elif fmt == "mmash":
            yield from read_mmash(f, report=report)
        else:
            yield from read_jsonl(f, report=report)


# --------------------------------------------------------------------------- actiwatch
def subject_of(path: Path) -> str:
    """Subject id from a file name (``condition_1.csv.gz`` -> ``condition_1``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", path.name.split(".")[0])[:64] or "_"


def _parse_wall_clock(text: pd.Series) -> pd.Series:
    """``YYYY-MM-DD HH:MM:SS`` strings -> naive datetimes (NaT where unparseable or outside
    the years the schema accepts, 1990..2199: a row in 2300 must not overflow pandas'
    nanosecond timestamps and abort the file)."""
    values = text.to_numpy(dtype=object)
    parsed: pd.Series | None = None
    if len(values) and all(
        isinstance(v, str) and len(v) == 19 for v in values[:: max(1, len(values) // 50)]
    ):
        try:  # NumPy parses ISO 8601 (space or T) about 5x faster than strptime
            seconds = values.astype("datetime64[s]")
            lo, hi = np.datetime64("1990-01-01", "s"), np.datetime64("2200-01-01", "s")
            seconds[(seconds < lo) | (seconds >= hi)] = np.datetime64("NaT")
            parsed = pd.Series(seconds.astype("datetime64[ns]"), index=text.index)
        except ValueError:
            parsed = None
    if parsed is None:
        parsed = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return parsed


def read_actiwatch(
    path: Path, *, tz: str = ACTIWATCH_TZ, report: ReadReport | None = None
) -> Iterator[ActivityBatch]:
    """Depresjon/Psykose minute CSV -> one :class:`ActivityBatch` per local day and run."""
    report = report if report is not None else ReadReport()
    subject = subject_of(path)
    try:
        cols = ["timestamp", "activity"]
        try:  # fast path: a clean numeric column
            df = pd.read_csv(path, usecols=cols, dtype={"timestamp": str, "activity": np.float64})
        except ValueError:  # some row is not a number: read as text, count those rows below
            df = pd.read_csv(path, usecols=cols, dtype={"timestamp": str, "activity": str})
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None
    missing = {"timestamp", "activity"} - set(df.columns)
    if missing:
        raise FormatError(f"{path}: missing column(s) {sorted(missing)}")
    report.rows += len(df)
    ts = _parse_wall_clock(df["timestamp"])
    counts = df["activity"]
    if counts.dtype != np.float64:
        counts = pd.to_numeric(counts, errors="coerce")
    bad_ts = ts.isna().to_numpy()
    bad_count = (~np.isfinite(counts.to_numpy(np.float64)) | (counts < 0).to_numpy()) & ~bad_ts
    report.reject("actiwatch: unparseable timestamp", int(bad_ts.sum()))
    report.reject("actiwatch: activity not a number >= 0", int(bad_count.sum()))
    ok = ~(bad_ts | bad_count)
    ts, counts = ts[ok], counts[ok]
    if not len(ts):
        return
    try:  # a repeated hour is resolved in recording order
        local = ts.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except (ValueError, TypeError):  # a skipped local time, or a repeat that cannot be ordered
        local = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        unresolved = local.isna().to_numpy()
        report.reject(
            f"actiwatch: local time ambiguous or nonexistent in {tz}", int(unresolved.sum())
        )
        local, counts = local[~unresolved], counts[~unresolved]
        if not len(local):
            return
    utc_s = ((local - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
    off_min = (
        (local.dt.tz_localize(None) - local.dt.tz_convert("UTC").dt.tz_localize(None))
        .dt.total_seconds()
        .to_numpy()
        // 60
    ).astype(np.int64)
    values = counts.to_numpy(dtype=np.float64)
    if np.any(np.diff(utc_s) <= 0):
        order = np.argsort(utc_s, kind="stable")
        dup = np.r_[False, np.diff(utc_s[order]) == 0]
        report.reject("actiwatch: duplicate or out-of-order timestamp", int(dup.sum()))
        keep = order[~dup]
        utc_s, off_min, values = utc_s[keep], off_min[keep], values[keep]
    minute = utc_s // 60
    local_day = (minute + off_min) // 1440
    # a new message wherever the local day, the offset or the 1-minute cadence changes
    cut = (
        np.flatnonzero((np.diff(local_day) != 0) | (np.diff(off_min) != 0) | (np.diff(minute) != 1))
        + 1
    )
    bounds = np.r_[0, cut, len(minute)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        off = int(off_min[a])
        start = dt.datetime.fromtimestamp(int(utc_s[a]), dt.timezone(dt.timedelta(minutes=off)))
        msg = _validated(
            ActivityBatch,
            {
                "event_id": event_id(subject, "activity", start, "actiwatch-aw4"),
                "subject_id": subject,
                "source": "actiwatch-aw4",
                "tz_offset_min": off,
                "start": start,
                "epoch_s": 60,
                "counts": values[a:b].tolist(),
            },
            report,
            b - a,
        )
        if msg is not None:
            report.messages += 1
            yield msg


# --------------------------------------------------------------------------- mmash
def _validated(model: type[M], data: dict[str, Any], report: ReadReport, rows: int) -> M | None:
    """``model.model_validate(data)``, or None with the rows counted under the rule broken."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "message"
        report.reject(f"{model.__name__}: {field}: {first['msg']}", rows)
        return None


def _nullable(values: np.ndarray, cast: type = float) -> list[Any]:
    """NumPy values -> a JSON-able list with None for NaN."""
    return [None if v != v else cast(v) for v in values.tolist()]


def _mmash_times(day: pd.Series, clock: pd.Series) -> pd.Series:
    base = pd.Timestamp(MMASH_DAY1)
    t = pd.to_timedelta(clock, errors="coerce")
    d = pd.to_numeric(day, errors="coerce")
    return base + pd.to_timedelta(d - 1, unit="D") + t


_MMASH_COLUMNS = {
    "Actigraph": {"Axis1", "day", "time"},
    "RR": {"ibi_s", "day", "time"},
    "sleep": {"In Bed Date", "In Bed Time", "Out Bed Date", "Out Bed Time"},
}


def _mmash_csv(folder: Path, name: str) -> pd.DataFrame | None:
    for candidate in (folder / f"{name}.csv.gz", folder / f"{name}.csv"):
        if candidate.exists():
            try:
                df = pd.read_csv(candidate, index_col=0)
            except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
                raise FormatError(f"{candidate}: unreadable ({exc})") from None
            missing = _MMASH_COLUMNS[name] - set(df.columns)
            if missing:
                raise FormatError(f"{candidate}: missing column(s) {sorted(missing)}")
            return df
    return None


def _append(
    out: list[Message], model: type[M], data: dict[str, Any], report: ReadReport, rows: int
) -> None:
    msg = _validated(model, data, report, rows)
    if msg is not None:
        out.append(msg)  # type: ignore[arg-type]


def read_mmash(folder: Path, *, report: ReadReport | None = None) -> Iterator[Message]:
    """One MMASH ``user_N`` folder -> activity, heart-beat and sleep-episode messages."""
    report = report if report is not None else ReadReport()
    subject = f"mmash_{folder.name}"
    tz = dt.timezone(dt.timedelta(minutes=MMASH_OFFSET_MIN))
    out: list[Message] = []

    acti = _mmash_csv(folder, "Actigraph")
    if acti is not None:
        report.rows += len(acti)
        t = _mmash_times(acti["day"], acti["time"])
        acti["Axis1"] = pd.to_numeric(acti["Axis1"], errors="coerce")
        bad = t.isna() | ~np.isfinite(acti["Axis1"]) | (acti["Axis1"] < 0)
        report.reject("mmash Actigraph: bad time or Axis1", int(bad.sum()))
        acti, t = acti[~bad], t[~bad]
        sec = (
            (t - pd.Timestamp("1970-01-01")).dt.total_seconds().astype(np.int64)
            - MMASH_OFFSET_MIN * 60
        ).to_numpy()
        order = np.argsort(sec, kind="stable")
        dup = np.concatenate([[False], np.diff(sec[order]) == 0])[: len(order)]
        report.reject("mmash Actigraph: duplicate second", int(dup.sum()))
        idx = order[~dup]
        sec = sec[idx]
        axis1 = acti["Axis1"].to_numpy(np.float64)[idx]
        steps = acti["Steps"].to_numpy(np.float64)[idx] if "Steps" in acti else None
        # one message per clock hour (hourly syncs): a 3600-second grid, null where the
        # device dropped a second (it keeps about 48 of every 60)
        hours = sec // 3600
        for hour in np.unique(hours):
            sel = hours == hour
            grid = np.full(3600, np.nan)
            grid[sec[sel] - hour * 3600] = axis1[sel]
            step_grid = None
            if steps is not None:
                step_grid = np.full(3600, np.nan)
                step_grid[sec[sel] - hour * 3600] = steps[sel]
            start = dt.datetime.fromtimestamp(int(hour * 3600), tz)
            _append(
                out,
                ActivityBatch,
                {
                    "event_id": event_id(subject, "activity", start, "actigraph-wgt3x"),
                    "subject_id": subject,
                    "source": "actigraph-wgt3x",
                    "tz_offset_min": MMASH_OFFSET_MIN,
                    "start": start,
                    "epoch_s": 1,
                    "counts": _nullable(grid),
                    "steps": None if step_grid is None else _nullable(step_grid, int),
                },
                report,
                int(sel.sum()),
            )

    rr = _mmash_csv(folder, "RR")
    if rr is not None:
        report.rows += len(rr)
        t = _mmash_times(rr["day"], rr["time"])
        ibi = pd.to_numeric(rr["ibi_s"], errors="coerce") * 1000.0
        bad = t.isna() | ibi.isna() | (ibi <= 0) | (ibi >= 60_000)
        report.reject("mmash RR: bad time or interval outside (0, 60 s)", int(bad.sum()))
        t, ibi = t[~bad], ibi[~bad]
        beat_s = (
            (t - pd.Timestamp("1970-01-01")).dt.total_seconds() - MMASH_OFFSET_MIN * 60
        ).to_numpy(np.float64)
        rr_ms = ibi.to_numpy(np.float64)
        # a new burst where the wall clock and the summed intervals disagree by > 3 s
        drift = np.diff(beat_s) - rr_ms[1:] / 1000.0
        cut = np.flatnonzero(np.abs(drift) > 3.0) + 1
        # and every 5 minutes of beats, like a strap that syncs in bursts
        bounds = [0]
        for end in [*cut.tolist(), len(rr_ms)]:
            a = bounds[-1]
            elapsed = np.cumsum(rr_ms[a:end])
            bounds.extend((a + np.flatnonzero(np.diff(elapsed // 300_000) != 0) + 1).tolist())
            bounds.append(end)
        bounds = sorted(set(bounds))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            # the first beat of the burst: the clock time of the row, minus its interval
            first = dt.datetime.fromtimestamp(float(beat_s[a]) - rr_ms[a] / 1000.0, tz)
            first = first.replace(microsecond=(first.microsecond // 1000) * 1000)
            _append(
                out,
                HeartBeatBatch,
                {
                    "event_id": event_id(subject, "heartbeat", first, "polar-h7"),
                    "subject_id": subject,
                    "source": "polar-h7",
                    "tz_offset_min": MMASH_OFFSET_MIN,
                    "first_beat": first,
                    "rr_ms": rr_ms[a:b].tolist(),
                },
                report,
                b - a,
            )

    sleep = _mmash_csv(folder, "sleep")
    if sleep is not None:
        report.rows += len(sleep)
        for _, row in sleep.iterrows():
            try:
                start = _mmash_times(
                    pd.Series([row["In Bed Date"]]), pd.Series([row["In Bed Time"] + ":00"])
                ).iloc[0]
                end = _mmash_times(
                    pd.Series([row["Out Bed Date"]]), pd.Series([row["Out Bed Time"] + ":00"])
                ).iloc[0]
                s = start.to_pydatetime().replace(tzinfo=tz)
                e = end.to_pydatetime().replace(tzinfo=tz)
                out.append(
                    SleepEpisode.model_validate(
                        {
                            "event_id": event_id(subject, "sleep", s, "actilife"),
                            "subject_id": subject,
                            "source": "actilife",
                            "tz_offset_min": MMASH_OFFSET_MIN,
                            "start": s,
                            "end": e,
                            "is_main_sleep": True,
                            "tst_min": float(row["Total Sleep Time (TST)"]),
                            "waso_min": float(row["Wake After Sleep Onset (WASO)"]),
                            "latency_min": float(row["Latency"]),
                            "efficiency_pct": float(row["Efficiency"]),
                        }
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                report.reject(f"mmash sleep: {exc}")
    out.sort(key=lambda m: m.span()[0])
    report.messages += len(out)
    yield from out


# --------------------------------------------------------------------------- jsonl
def read_jsonl(path: Path, *, report: ReadReport | None = None) -> Iterator[Message]:
    """Our own wire messages, one per line; a bad line is counted with its reason."""
    report = report if report is not None else ReadReport()
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        fh = opener(path, "rb")
    except OSError as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None
    with fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            report.rows += 1
            try:  # the "not in the future" rule against this machine's clock (the shell's)
                msg = decode(line, now=dt.datetime.now(dt.UTC))
            except InputError as exc:
                report.reject(f"jsonl: {str(exc).split(':')[0]}: {_rule(exc)}")
                continue
            report.messages += 1
            yield msg


def _rule(exc: InputError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1][:80] if ": " in text else text[:80]

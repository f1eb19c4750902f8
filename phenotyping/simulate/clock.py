"""Time zone arithmetic of the simulation: every instant is an integer UTC minute (or
millisecond), local days are cut at local midnight."""

from __future__ import annotations

import datetime as dt
import zoneinfo

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MS_MIN = 60_000
HOUR_MS = 3_600_000


class Clock:
    """UTC offsets of the cohort's time zone; all instants are integer UTC minutes."""

    def __init__(self, tz: str | int) -> None:
        self.fixed: int | None = None
        self.zone: zoneinfo.ZoneInfo | None = None
        if isinstance(tz, bool) or not isinstance(tz, int | str):
            raise ValueError(f"tz: must be an offset in minutes or an IANA name, got {tz!r}")
        if isinstance(tz, int):
            if not -720 <= tz <= 840:
                raise ValueError(f"tz: offset must be within -720..840 min, got {tz}")
            self.fixed = tz
        else:
            try:
                self.zone = zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"tz: unknown time zone {tz!r}") from None
        self._tzinfo: dict[int, dt.timezone] = {}

    def tzinfo(self, offset: int) -> dt.timezone:
        tzi = self._tzinfo.get(offset)
        if tzi is None:
            tzi = self._tzinfo[offset] = dt.timezone(dt.timedelta(minutes=offset))
        return tzi

    def offset(self, minute: int) -> int:
        """UTC offset (minutes) in force at UTC minute ``minute``."""
        if self.fixed is not None:
            return self.fixed
        off = (EPOCH + dt.timedelta(minutes=minute)).astimezone(self.zone).utcoffset()
        assert off is not None
        secs = int(off.total_seconds())
        if secs % 60:
            raise ValueError("tz: offsets with seconds are not supported")
        return secs // 60

    def to_utc(self, day: dt.date, wall_min: int) -> int:
        """UTC minute of local wall-clock ``wall_min`` minutes after ``day``'s midnight."""
        if self.fixed is not None:
            return (day - EPOCH.date()).days * 1440 + wall_min - self.fixed
        naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=wall_min)
        return (naive.replace(tzinfo=self.zone) - EPOCH) // dt.timedelta(minutes=1)

    def segments(self, a: int, b: int) -> list[tuple[int, int, int]]:
        """``[a, b)`` split where the offset changes: ``(start, end, offset)`` triples."""
        out: list[tuple[int, int, int]] = []
        while a < b:
            off = self.offset(a)
            if self.fixed is not None or self.offset(b - 1) == off:
                out.append((a, b, off))
                break
            lo, hi = a, b - 1  # offset(lo) == off != offset(hi): bisect the change
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if self.offset(mid) == off:
                    lo = mid
                else:
                    hi = mid
            out.append((a, hi, off))
            a = hi
        return out


def iso_utc(ms: int) -> str:
    t = EPOCH + dt.timedelta(milliseconds=ms)
    if ms % 1000:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

"""The incremental per-subject day engine.

:class:`SubjectDays` is fed batch after batch -- activity epochs, RR-interval bursts,
device sleep episodes -- in any order within a grace period, duplicates included, and
closes each *local* day once the subject's event-time watermark has passed the end of
that day plus the grace period. A closed day yields one row of daily features; the
result is the same whatever the arrival order (within the grace period) and equals a
whole-recording computation over the same samples.

Time
    Everything is in integer minutes (activity) or milliseconds (beats) since the Unix
    epoch, UTC. Each sample carries the subject's UTC offset; the local date of a minute
    ``u`` with offset ``o`` is ``(u + o) // 1440``. A local day is the set of UTC minutes
    with that local date, so a daylight-saving day has 1380 or 1500 minutes, and a
    repeated hour is two distinct hours, never a collision.

State
    A minute grid (float32 counts and steps, NaN = no data; int16 UTC offset per minute)
    covering the days still needed: the open days plus the ``window_days - 1`` closed
    days that rolling features look back on. Heart beats are kept only as additive
    per-5-minute sums (:mod:`phenotyping.features.hrv`), keyed by the burst they came from
    so a re-uploaded burst replaces itself. ``to_bytes()`` packs all of it in a small
    versioned, zlib-compressed envelope (no pickle).

Duplicates and conflicts
    A minute reported twice keeps the larger value (``fmax``) -- commutative, so the
    order of arrival does not matter, and an identical re-upload changes nothing.

Late data
    A sample whose local day is already closed is not applied: it is counted and reported
    in :attr:`SubjectDays.late`, never silently dropped. The caller decides what to tell.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phenotyping.features import activity as act

DAY = 1440
NO_OFFSET = np.int16(-32768)

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class EngineParams:
    """Every window and threshold of the day engine, with its reason.

    Parameters
    ----------
    grace_min
        How long (event time) after a local day ends we wait for late uploads before
        closing it. Devices sync hours late; 36 h lets a whole day arrive a day late.
    window_days
        Length of the rolling window for circadian features (IS, IV, L5, M10, RA,
        cosinor, SRI). Seven days is the usual minimum for stable IS/IV (Van Someren 1999).
    min_wear_fraction
        A day is *valid* when worn minutes cover at least this fraction of it (16 h of
        24 h, a common actigraphy rule). Invalid days are marked, not averaged.
    nonwear_zero_run_min
        A run of at least this many consecutive zero-count minutes is non-wear (a still
        wrist at night rarely gives 2 h of exact zeros; on Depresjon 74% of such runs
        start in the daytime).
    sedentary_threshold
        Counts per minute below which a worn, awake minute is sedentary (device
        specific; 100 is the ActiGraph convention).
    """

    grace_min: int = 36 * 60
    window_days: int = 7
    min_wear_fraction: float = 16 / 24
    nonwear_zero_run_min: int = 120
    sedentary_threshold: float = 100.0


_STATE_MAGIC = b"PHDS"
_STATE_VERSION = 1


@dataclass
class SubjectDays:
    """Incremental daily features of one subject.

    Examples
    --------
    >>> import numpy as np
    >>> eng = SubjectDays()
    >>> day0 = 19_000 * 1440                      # a UTC midnight, in minutes
    >>> counts = np.tile(np.r_[np.zeros(480), np.full(960, 200.0)], 3)
    >>> eng.push_activity(day0 * 60, 60, counts, None, tz_offset_min=0)
    >>> [row["date"] for row in eng.flush()]
    ['2022-01-08', '2022-01-09', '2022-01-10']
    """

    params: EngineParams = field(default_factory=EngineParams)
    base: int = -1  # UTC minute of grid index 0; -1 = empty
    counts: F32 = field(default_factory=lambda: np.empty(0, np.float32))
    steps: F32 = field(default_factory=lambda: np.empty(0, np.float32))
    offset: NDArray[np.int16] = field(default_factory=lambda: np.empty(0, np.int16))
    watermark_local: int = -(2**62)  # latest local minute seen (end of the latest sample)
    closed_through: int = -(2**62)  # local date ordinal of the last closed day
    late: int = 0  # samples for already-closed days: counted, not applied

    # ----------------------------------------------------------------- ingest
    def push_activity(
        self,
        start_s: int,
        epoch_s: int,
        counts: F64 | None,
        steps: F64 | None,
        tz_offset_min: int,
    ) -> None:
        """Add an activity batch whose first epoch starts at UTC second ``start_s``.

        Sub-minute epochs are summed into the minute they start in; a one-minute epoch
        that does not start on a whole minute is assigned to the minute it starts in.
        """
        start_min, sec = divmod(start_s, 60)
        lead = sec // epoch_s if epoch_s < 60 else 0
        c = _to_minutes(counts, epoch_s, lead)
        s = _to_minutes(steps, epoch_s, lead)
        n = len(c) if c is not None else len(s) if s is not None else 0
        if n == 0:
            return
        lo, hi = start_min, start_min + n
        keep = self._not_closed(lo, hi, tz_offset_min)
        if keep is None:
            return
        a, b = keep
        self._ensure(lo + a, lo + b)
        i, j = lo + a - self.base, lo + b - self.base
        if c is not None:
            self.counts[i:j] = np.fmax(self.counts[i:j], c[a:b])
        if s is not None:
            self.steps[i:j] = np.fmax(self.steps[i:j], s[a:b])
        self.offset[i:j] = tz_offset_min
        self.watermark_local = max(self.watermark_local, hi + tz_offset_min)

    def _not_closed(self, lo: int, hi: int, off: int) -> tuple[int, int] | None:
        """Part [a, b) of minutes lo..hi that falls in days not yet closed."""
        first_open_local = (self.closed_through + 1) * DAY
        a = max(0, first_open_local - off - lo)
        if a > 0:
            self.late += min(a, hi - lo)
        if a >= hi - lo:
            return None
        return a, hi - lo

    def _ensure(self, lo: int, hi: int) -> None:
        """Grow the grid so that UTC minutes [lo, hi) are inside it."""
        if self.base < 0:
            self.base = lo
            self.counts = np.full(0, np.nan, np.float32)
            self.steps = np.full(0, np.nan, np.float32)
            self.offset = np.full(0, NO_OFFSET, np.int16)
        if lo < self.base:
            pad = self.base - lo
            self.counts = np.r_[np.full(pad, np.nan, np.float32), self.counts]
            self.steps = np.r_[np.full(pad, np.nan, np.float32), self.steps]
            self.offset = np.r_[np.full(pad, NO_OFFSET, np.int16), self.offset]
            self.base = lo
        end = self.base + len(self.counts)
        if hi > end:
            grow = max(hi - end, DAY)  # amortise: grow by at least a day
            self.counts = np.r_[self.counts, np.full(grow, np.nan, np.float32)]
            self.steps = np.r_[self.steps, np.full(grow, np.nan, np.float32)]
            self.offset = np.r_[self.offset, np.full(grow, NO_OFFSET, np.int16)]

    # ----------------------------------------------------------------- closing
    def local_dates(self) -> NDArray[np.int64]:
        """Local date ordinal (days since 1970-01-01) of every grid minute."""
        off = _fill_offsets(self.offset)
        return (self.base + np.arange(len(off), dtype=np.int64) + off) // DAY

    def advance(self) -> list[dict[str, Any]]:
        """Close every day whose end plus the grace period the watermark has passed."""
        last_closable = (self.watermark_local - self.params.grace_min) // DAY - 1
        return self._close_through(last_closable)

    def flush(self) -> list[dict[str, Any]]:
        """Close every day that has data (end of a recording or of a replay)."""
        if self.base < 0:
            return []
        has = ~np.isnan(self.counts) | ~np.isnan(self.steps)
        if not has.any():
            return []
        dates = self.local_dates()
        return self._close_through(int(dates[np.flatnonzero(has)[-1]]))

    def _close_through(self, last: int) -> list[dict[str, Any]]:
        if self.base < 0 or last <= self.closed_through:
            return []
        dates = self.local_dates()
        has = ~np.isnan(self.counts) | ~np.isnan(self.steps)
        first = int(dates[np.flatnonzero(has)[0]]) if has.any() else last + 1
        start = max(self.closed_through + 1, first)
        rows = []
        for d in range(start, last + 1):
            rows.append(self._day_features(d, dates))
        self.closed_through = last
        self._trim(dates)
        return rows

    def _day_features(self, d: int, dates: NDArray[np.int64]) -> dict[str, Any]:
        lo, hi = np.searchsorted(dates, [d, d + 1])
        counts = self.counts[lo:hi].astype(np.float64)
        steps = self.steps[lo:hi].astype(np.float64)
        # look back over the closed previous day for zero runs crossing midnight
        back = int(np.searchsorted(dates, d - 1))
        context = self.counts[back:hi].astype(np.float64)
        worn = act.wear_mask(context, self.params.nonwear_zero_run_min)[lo - back :]
        off = _fill_offsets(self.offset[lo:hi])
        minute_of_day = self.base + lo + np.arange(hi - lo, dtype=np.int64) + off - d * DAY
        row: dict[str, Any] = {"date": _iso(d)}
        row.update(
            act.daily_activity(
                counts,
                worn,
                steps,
                minute_of_day,
                min_wear_fraction=self.params.min_wear_fraction,
                sedentary_threshold=self.params.sedentary_threshold,
            )
        )
        return row

    def _trim(self, dates: NDArray[np.int64]) -> None:
        keep_from = self.closed_through - self.params.window_days + 1
        cut = int(np.searchsorted(dates, keep_from))
        if cut > 0:
            self.counts = self.counts[cut:]
            self.steps = self.steps[cut:]
            self.offset = self.offset[cut:]
            self.base += cut

    # ----------------------------------------------------------------- state
    def to_bytes(self) -> bytes:
        """Versioned, compressed, pickle-free serialisation of the whole state."""
        arrays = {"counts": self.counts, "steps": self.steps, "offset": self.offset}
        header = {
            "params": asdict(self.params),
            "base": self.base,
            "watermark_local": self.watermark_local,
            "closed_through": self.closed_through,
            "late": self.late,
            "arrays": {k: [str(v.dtype), len(v)] for k, v in arrays.items()},
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        body = b"".join(np.ascontiguousarray(v).tobytes() for v in arrays.values())
        payload = struct.pack("<I", len(head)) + head + body
        return _STATE_MAGIC + struct.pack("<H", _STATE_VERSION) + zlib.compress(payload, 1)

    @classmethod
    def from_bytes(cls, data: bytes) -> SubjectDays:
        """Inverse of :meth:`to_bytes`."""
        from phenotyping.errors import StateError

        if data[:4] != _STATE_MAGIC:
            raise StateError("state: not a day-engine state (bad magic)")
        (version,) = struct.unpack("<H", data[4:6])
        if version != _STATE_VERSION:
            raise StateError(f"state: unknown version {version}")
        payload = zlib.decompress(data[6:])
        (hlen,) = struct.unpack("<I", payload[:4])
        header = json.loads(payload[4 : 4 + hlen])
        pos = 4 + hlen
        arrays: dict[str, NDArray[Any]] = {}
        for name, (dtype, n) in header["arrays"].items():
            dt_ = np.dtype(dtype)
            arrays[name] = np.frombuffer(payload, dt_, n, pos).copy()
            pos += dt_.itemsize * n
        return cls(
            params=EngineParams(**header["params"]),
            base=header["base"],
            watermark_local=header["watermark_local"],
            closed_through=header["closed_through"],
            late=header["late"],
            counts=arrays["counts"],
            steps=arrays["steps"],
            offset=arrays["offset"],
        )


def _to_minutes(x: F64 | None, epoch_s: int, lead: int = 0) -> F64 | None:
    """Sum sub-minute epochs into whole minutes (a minute with no observed epoch is NaN).

    ``lead`` is the number of epochs of the first minute that precede the batch.
    """
    if x is None:
        return None
    x = np.asarray(x, dtype=np.float64)
    if epoch_s == 60:
        return x
    per = 60 // epoch_s
    n = -(-(len(x) + lead) // per)
    padded = np.full(n * per, np.nan)
    padded[lead : lead + len(x)] = x
    grid = padded.reshape(n, per)
    seen = ~np.isnan(grid)
    out = np.where(seen, grid, 0.0).sum(axis=1)
    out[~seen.any(axis=1)] = np.nan
    return out


def _fill_offsets(off: NDArray[np.int16]) -> NDArray[np.int64]:
    """Forward-fill unknown offsets (then back-fill the leading ones)."""
    known = off != NO_OFFSET
    if not known.any():
        return np.zeros(len(off), np.int64)
    idx = np.where(known, np.arange(len(off)), -1)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.flatnonzero(known)[0])
    idx[idx < 0] = first
    return off[idx].astype(np.int64)


def _iso(d: int) -> str:
    return str(np.datetime64(d, "D"))

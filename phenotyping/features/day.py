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
    versioned, zstd-compressed envelope (no pickle; zlib states still load).

Duplicates and conflicts
    A minute reported twice keeps the larger value (``fmax``) -- commutative, so the
    order of arrival does not matter, and an identical re-upload changes nothing.

Late data
    A sample whose local day is already closed is not applied: it is counted and reported
    in :attr:`SubjectDays.late`, never silently dropped. The caller decides what to tell.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phenotyping.features import circadian as circ
from phenotyping.features import hrv
from phenotyping.features import kernels as kn
from phenotyping.features.envelope import pack, params_dict, unpack
from phenotyping.features.time import MINUTES_PER_DAY, iso_date, night_of, weekday

HRV_BIN_MIN = 5
EPISODE_DTYPE = np.dtype(
    [
        ("start", "<i8"),
        ("end", "<i8"),
        ("off", "<i2"),
        ("is_main", "?"),
        ("tst", "<f8"),
        ("waso", "<f8"),
        ("latency", "<f8"),
        ("efficiency", "<f8"),
    ]
)
MIDPOINT_DTYPE = np.dtype([("date", "<i8"), ("minute", "<f8")])
#: Device daily summaries (:class:`phenotyping.events.DailySummary`): daily-row column ->
#: message field, in the message's order.
SUMMARY_COLUMNS = {
    "dev_resting_hr": "resting_hr_bpm",
    "dev_rmssd": "rmssd_ms",
    "dev_sdnn": "sdnn_ms",
    "dev_sleep_score": "sleep_score",
    "dev_sedentary_min": "sedentary_min",
    "dev_lightly_active_min": "lightly_active_min",
    "dev_moderately_active_min": "moderately_active_min",
    "dev_very_active_min": "very_active_min",
}
SUMMARY_DTYPE = np.dtype([("date", "<i8"), ("off", "<i2"), *((c, "<f8") for c in SUMMARY_COLUMNS)])
DEVICE_KEYS = (
    "device_sleep_onset_clock_min",
    "device_sleep_offset_clock_min",
    "device_sleep_tib_min",
    "device_sleep_tst_min",
    "device_sleep_waso_min",
    "device_sleep_latency_min",
    "device_sleep_efficiency_pct",
    "device_sleep_start_utc_min",
)
SLEEP_KEYS = (
    "onset_clock_min",
    "offset_clock_min",
    "midpoint_clock_min",
    "spt_min",
    "tst_min",
    "waso_min",
    "se",
    "n_awakenings",
)
NIGHT_HRV_KEYS = (
    "n_beats",
    "n_nn",
    "fraction_edited",
    "mean_nn",
    "sdnn",
    "rmssd",
    "pnn50",
    "mean_hr",
)
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
    nonwear_run_min
        A run of at least this many consecutive minutes of one identical count (zero, or
        a device's constant noise floor such as 3) is non-wear: a still wrist at night
        rarely gives 2 h of exact zeros (on Depresjon 74% of such zero runs start in the
        daytime), and a worn watch never repeats one non-zero value for 2 h.
    nonwear_noise_floor
        Counts per minute at or below which a device at rest reports only sensor noise
        (Actiwatch AW4: 3-9). A run of ``nonwear_run_min`` minutes of such counts with no
        zero is non-wear; 0 disables the rule for devices without such a floor.
    sedentary_threshold
        Counts per minute below which a worn, awake minute is sedentary (device
        specific; 100 is the ActiGraph convention).
    oakley_threshold
        Oakley sleep/wake threshold (40: the Actiwatch "medium" setting, pyActigraphy's
        default).
    min_night_coverage
        A night (noon to noon) is valid when this fraction of its minutes was observed.
    min_window_days
        Rolling circadian features need at least this many valid days in the window;
        otherwise they are NaN (IS/IV are unstable on fewer days).
    min_night_beats, max_night_edited
        A night's HRV is valid (``hrv_valid``) with at least this many normal beats (about
        15 minutes of sleep at 60 bpm) and at most this fraction of beats edited.
    """

    grace_min: int = 36 * 60
    window_days: int = 7
    min_wear_fraction: float = 16 / 24
    nonwear_run_min: int = 120
    nonwear_noise_floor: float = 10.0
    sedentary_threshold: float = 100.0
    oakley_threshold: float = 40.0
    min_night_coverage: float = 0.8
    min_window_days: int = 3
    min_night_beats: int = 1000
    max_night_edited: float = 0.2


_STATE_MAGIC = b"PHDS"
_STATE_DTYPES: dict[str, np.dtype[Any]] = {
    "counts": np.dtype("<f4"),
    "steps": np.dtype("<f4"),
    "offset": np.dtype("<i2"),
    "hrv_burst": np.dtype("<i8"),
    "hrv_bin": np.dtype("<i8"),
    "hrv_off": np.dtype("<i2"),
    "hrv_sums": hrv.HRV_SUMS_DTYPE,
    "episodes": EPISODE_DTYPE,
    "midpoints": MIDPOINT_DTYPE,
    "win_dates": np.dtype("<i8"),
    "win_hourly": np.dtype("<f8"),
    "win_obs": np.dtype("<i4"),
    "win_sleep_scored": np.dtype("u1"),
    "win_sleep_asleep": np.dtype("u1"),
    "win_worn": np.dtype("u1"),
    "off_start": np.dtype("<i4"),
    "off_value": np.dtype("<i2"),
    "summaries": SUMMARY_DTYPE,
}
#: 2: the rolling window's per-day parts (``win_*``); offsets stored as runs, steps only
#: when seen. A version-1 state still loads: its parts are empty, so the next day it closes
#: recomputes the window from the retained minutes (identical results); older code
#: refuses a version-2 state by name ("unknown version 2"), it cannot go back.
#: slp.night_summary's main-sleep-period rule (its defaults): bouts of 10 min, gaps of 60
_MIN_BOUT, _MAX_GAP = 10, 60
_BASIS = circ.cosinor_basis(MINUTES_PER_DAY)
# placeholders for the window parts when they cannot be reused (typed like the parts)
_NO_CODES = np.zeros(0, np.int8)
_NO_FLOATS = np.zeros(0, np.float64)
_NO_INTS = np.zeros(0, np.int32)
_NO_BOOLS = np.zeros(0, np.bool_)
_NO_DATES = np.zeros(0, np.int64)
_NO_NIGHT_HRV = {f"night_{k}": 0.0 if k.startswith("n_") else float("nan") for k in NIGHT_HRV_KEYS}
_NAN = float("nan")
_NAN_NIGHT_HRV = dict.fromkeys(_NO_NIGHT_HRV, _NAN)  # no night at all: not even a count
_SLEEP_COLUMNS = tuple(f"sleep_{k}" for k in SLEEP_KEYS)
_NAN_SLEEP = (_NAN,) * len(SLEEP_KEYS)
_STATE_VERSION = 2
#: minutes of spare capacity a small growth of the grid leaves (see SubjectDays._grow_to)
_SPARE_MIN = 1440
_READABLE_VERSIONS = (1, 2)
_NO_DAY = -(2**62)


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
    >>> [row["date"] for row in eng.close_remaining_days()]
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
    # HRV: additive sums per (burst, 5-minute UTC bin); a re-uploaded burst replaces itself
    hrv_burst: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    hrv_bin: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    hrv_off: NDArray[np.int16] = field(default_factory=lambda: np.empty(0, np.int16))
    hrv_sums: NDArray[np.void] = field(default_factory=lambda: hrv.empty_sums(0))
    # device-reported sleep episodes, one row per episode start (a re-upload replaces it)
    episodes: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, EPISODE_DTYPE))
    # sleep midpoints of the last nights (NaN: no valid night), for timing regularity
    midpoints: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, MIDPOINT_DTYPE))
    # the rolling window's per-day parts for the window_days - 1 latest closed days (see
    # _window_features): hourly values, observed minutes, Oakley scores on the local clock
    # (1 sleep, 0 wake, -1 not scored) and the worn mask they were computed with
    win_dates: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    win_hourly: F64 = field(default_factory=lambda: np.empty(0, np.float64))
    win_obs: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    win_sleep: NDArray[np.int8] = field(default_factory=lambda: np.empty(0, np.int8))
    win_worn: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, bool))
    win_through: int = _NO_DAY  # the closed day the parts belong to (else: recompute)
    win_from_utc: int = _NO_DAY  # first UTC grid minute after that day
    #: False: recompute every window from the minutes (the reference the tests compare to)
    incremental: bool = field(default=True, repr=False, compare=False)
    # device daily summaries of the open days, one row per local date
    summaries: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, SUMMARY_DTYPE))
    #: spare capacity behind the minute grid (never serialised): the three arrays the grid
    #: is a view of, where the grid starts in them, and the three views handed out
    _spare: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

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
        if epoch_s == 60:  # minute epochs (minute_sums would return them as they are)
            c = None if counts is None else np.asarray(counts, dtype=np.float64)
            s = None if steps is None else np.asarray(steps, dtype=np.float64)
        else:
            lead = sec // epoch_s if epoch_s < 60 else 0
            c = minute_sums(counts, epoch_s, lead)
            s = minute_sums(steps, epoch_s, lead)
        n = len(c) if c is not None else len(s) if s is not None else 0
        if n == 0:
            return
        lo, hi = start_min, start_min + n
        keep = self._not_closed(lo, hi, tz_offset_min)
        if keep is None:
            return
        a, b = keep
        if lo + a < self.win_from_utc:  # rewrites minutes the window parts were built on
            self.win_through = _NO_DAY
        self._ensure(lo + a, lo + b)
        i, j = lo + a - self.base, lo + b - self.base
        if c is not None:
            self.counts[i:j] = np.fmax(self.counts[i:j], c[a:b])
        if s is not None:
            self.steps[i:j] = np.fmax(self.steps[i:j], s[a:b])
        self.offset[i:j] = tz_offset_min
        self.watermark_local = max(self.watermark_local, hi + tz_offset_min)

    def push_minute(
        self, minute: int, count: float | None, step: float | None, tz_offset_min: int
    ) -> None:
        """:meth:`push_activity` of one one-minute epoch starting in UTC minute ``minute``
        (None or NaN: no value), without arrays: a stream of single samples pays per
        message, and for one value NumPy's array machinery costs more than the work.
        The state afterwards is the one :meth:`push_activity` gives, bit for bit (tested).

        >>> days = SubjectDays()
        >>> days.push_minute(29_000_000, 12.0, None, 60)
        >>> days.push_minute(29_000_000, 5.0, 3.0, 60)  # the larger value of a minute stays
        >>> float(days.counts[0]), float(days.steps[0]), int(days.offset[0])
        (12.0, 3.0, 60)
        """
        if minute + tz_offset_min < (self.closed_through + 1) * MINUTES_PER_DAY:
            self.late += 1  # a closed day: counted, not applied
            return
        if minute < self.win_from_utc:  # rewrites a minute the window parts were built on
            self.win_through = _NO_DAY
        self._ensure(minute, minute + 1)
        i = minute - self.base
        # np.fmax (a missing value never replaces one; ties keep the stored value)
        if count is not None and count == count and not self.counts[i] >= count:
            self.counts[i] = count
        if step is not None and step == step and not self.steps[i] >= step:
            self.steps[i] = step
        self.offset[i] = tz_offset_min
        self.watermark_local = max(self.watermark_local, minute + 1 + tz_offset_min)

    def push_beats(self, first_beat_ms: int, rr_ms: F64, tz_offset_min: int) -> None:
        """Add one burst of RR intervals (beat 0 at ``first_beat_ms``, UTC epoch ms).

        Artefacts are edited per burst (:func:`hrv.artefact_mask`); the kept beats are
        reduced to additive sums per 5-minute bin, keyed by the burst's first beat so that
        a re-uploaded burst replaces its earlier copy instead of counting twice.
        """
        rr = np.asarray(rr_ms, dtype=np.float64)
        if not len(rr):
            return
        times = hrv.beat_times(first_beat_ms, rr)
        keep = hrv.artefact_mask(rr).keep
        bin_ms = HRV_BIN_MIN * 60_000
        b0, b1 = int(first_beat_ms // bin_ms), int(times[-1] // bin_ms) + 1
        sums = hrv.segment_sums(rr, times, keep, np.arange(b0, b1 + 1) * bin_ms)
        bins = np.arange(b0, b1, dtype=np.int64)
        # a beat belongs to the night (noon to noon) it falls in: night d is used when day
        # d closes, so a beat at 23:00 of a closed day still counts for the next night
        closed = night_of(bins * HRV_BIN_MIN + tz_offset_min) <= self.closed_through
        if closed.any():
            self.late += int(sums["n_beats"][closed].sum())
        used = ~closed & (sums["n_beats"] > 0)
        same = self.hrv_burst == first_beat_ms
        self.hrv_burst = np.concatenate(
            [self.hrv_burst[~same], np.full(int(used.sum()), first_beat_ms)]
        )
        self.hrv_bin = np.concatenate([self.hrv_bin[~same], bins[used]])
        self.hrv_off = np.concatenate(
            [self.hrv_off[~same], np.full(int(used.sum()), tz_offset_min, np.int16)]
        )
        self.hrv_sums = np.concatenate([self.hrv_sums[~same], sums[used]])
        # rows stay in arrival order (no re-sort per burst: that cost grew with the night);
        # night_hrv orders a night's rows once, by (bin, burst), when the day closes
        self.watermark_local = max(
            self.watermark_local, int(times[-1] // 60_000) + 1 + tz_offset_min
        )

    def push_sleep_episode(
        self,
        start_min: int,
        end_min: int,
        tz_offset_min: int,
        *,
        is_main: bool,
        tst_min: float | None = None,
        waso_min: float | None = None,
        latency_min: float | None = None,
        efficiency_pct: float | None = None,
    ) -> None:
        """Add a device-reported sleep episode (UTC minutes); it is reported beside our own
        actigraphy-derived night, labelled by the local date its episode ends on (before
        noon: that morning's night)."""
        night = night_of(end_min + tz_offset_min)
        if night <= self.closed_through:
            self.late += 1
            return
        row = np.zeros(1, EPISODE_DTYPE)
        nan = float("nan")
        row[0] = (
            start_min,
            end_min,
            tz_offset_min,
            is_main,
            nan if tst_min is None else tst_min,
            nan if waso_min is None else waso_min,
            nan if latency_min is None else latency_min,
            nan if efficiency_pct is None else efficiency_pct,
        )
        keep = self.episodes["start"] != start_min
        self.episodes = np.sort(np.concatenate([self.episodes[keep], row]), order="start")
        self._cover_day(int(night), tz_offset_min)
        self.watermark_local = max(self.watermark_local, end_min + tz_offset_min)

    def push_summary(self, d: int, tz_offset_min: int, values: list[float | None]) -> None:
        """Add a device daily summary of local date ``d`` (values in the order of
        :data:`SUMMARY_COLUMNS`, None = not reported). Values it carries override an
        earlier summary's of the same date; the ones it lacks keep theirs."""
        if d <= self.closed_through:
            self.late += 1
            return
        new = np.array([np.nan if v is None else float(v) for v in values], np.float64)
        same = self.summaries["date"] == d
        row = np.zeros(1, SUMMARY_DTYPE)
        row["date"], row["off"] = d, tz_offset_min
        for k, col in enumerate(SUMMARY_COLUMNS):
            old = self.summaries[col][same]
            row[col] = new[k] if np.isfinite(new[k]) or not len(old) else old[0]
        self.summaries = np.sort(np.concatenate([self.summaries[~same], row]), order="date")
        self._cover_day(d, tz_offset_min)
        self.watermark_local = max(self.watermark_local, (d + 1) * MINUTES_PER_DAY)

    def _device_summary(self, d: int) -> dict[str, float]:
        if not len(self.summaries):
            return dict.fromkeys(SUMMARY_COLUMNS, float("nan"))
        sel = self.summaries[self.summaries["date"] == d]
        return {c: float(sel[c][0]) if len(sel) else float("nan") for c in SUMMARY_COLUMNS}

    def _cover_day(self, d: int, tz_offset_min: int) -> None:
        """Make the grid cover local day ``d`` (its minutes missing unless already known),
        so that a day with only a device sleep episode or a daily summary gets its row."""
        lo = d * MINUTES_PER_DAY - tz_offset_min
        self._ensure(lo, lo + MINUTES_PER_DAY)
        part = self.offset[lo - self.base : lo - self.base + MINUTES_PER_DAY]
        part[part == NO_OFFSET] = tz_offset_min

    def _marked_dates(self) -> NDArray[np.int64]:
        """Local dates that have device data without minutes (sleep episodes' nights,
        daily summaries)."""
        e = self.episodes
        if not len(e) and not len(self.summaries):
            return _NO_DATES
        nights = night_of(e["end"] + e["off"]).astype(np.int64)
        return np.unique(np.concatenate([nights, self.summaries["date"]]))

    def _has_data(self, dates: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per grid minute: it has samples, or its local date has device data."""
        return kn.has_data(self.counts, self.steps, dates, self._marked_dates())

    def _device_night(self, d: int) -> dict[str, float]:
        """The device's main sleep episode of the night labelled ``d`` (the longest)."""
        e = self.episodes
        out = dict.fromkeys(DEVICE_KEYS, float("nan"))
        if not len(e):
            return out
        nights = night_of(e["end"] + e["off"])
        sel = e[(nights == d) & e["is_main"]]
        if len(sel):
            r = sel[int(np.argmax(sel["end"] - sel["start"]))]
            out.update(
                device_sleep_onset_clock_min=float((r["start"] + r["off"]) % MINUTES_PER_DAY),
                device_sleep_offset_clock_min=float((r["end"] + r["off"]) % MINUTES_PER_DAY),
                device_sleep_tib_min=float(r["end"] - r["start"]),
                device_sleep_tst_min=float(r["tst"]),
                device_sleep_waso_min=float(r["waso"]),
                device_sleep_latency_min=float(r["latency"]),
                device_sleep_efficiency_pct=float(r["efficiency"]),
                device_sleep_start_utc_min=float(r["start"]),
            )
        return out

    def night_hrv(self, lo_min: int, hi_min: int) -> dict[str, float]:
        """HRV over the beats whose 5-minute bin starts in UTC minutes [lo_min, hi_min)."""
        if not len(self.hrv_bin):
            return dict(_NO_NIGHT_HRV)
        start = self.hrv_bin * HRV_BIN_MIN
        sel = (start >= lo_min) & (start < hi_min)
        if not sel.any():
            return dict(_NO_NIGHT_HRV)
        # add the rows in one fixed order, (bin, burst), so that the result does not
        # depend on the order bursts arrived in (floating point is not associative)
        order = np.lexsort((self.hrv_burst[sel], self.hrv_bin[sel]))
        m = hrv.metrics_from_sums(hrv.combine(self.hrv_sums[sel][order]))
        return {f"night_{k}": m[k] for k in NIGHT_HRV_KEYS}

    def _not_closed(self, lo: int, hi: int, off: int) -> tuple[int, int] | None:
        """Part [a, b) of minutes lo..hi that falls in days not yet closed."""
        first_open_local = (self.closed_through + 1) * MINUTES_PER_DAY
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
            self.counts = np.concatenate([np.full(pad, np.nan, np.float32), self.counts])
            self.steps = np.concatenate([np.full(pad, np.nan, np.float32), self.steps])
            self.offset = np.concatenate([np.full(pad, NO_OFFSET, np.int16), self.offset])
            self.base = lo
            self._spare = None
        if hi > self.base + len(self.counts):
            self._grow_to(hi - self.base)

    def _spare_in_use(self) -> tuple[Any, ...] | None:
        """The spare arrays, if the grid is still the views :meth:`_grow_to` made of them
        (not if anything else replaced the grid: a decoded state, a copy)."""
        sp = self._spare
        if (
            sp is not None
            and self.counts is sp[4]
            and self.steps is sp[5]
            and self.offset is sp[6]
            and self.counts.base is sp[0]
            and self.steps.base is sp[1]
            and self.offset.base is sp[2]
        ):
            return sp
        return None

    def _grow_to(self, n: int) -> None:
        """Lengthen the grid to ``n`` minutes, the new ones missing.

        A small growth (a message of a few minutes: a stream of single samples) leaves a
        day of spare capacity behind the grid, so the next ones only re-slice it instead
        of copying the grid every message (amortised growth). The spare minutes are
        missing values that nothing writes into; they are never serialised
        (:meth:`to_bytes` packs the grid, a view), so state bytes do not grow.
        """
        sp = self._spare_in_use()
        if sp is not None and sp[3] + n <= len(sp[0]):
            c, s, o, head = sp[:4]
            self.counts, self.steps, self.offset = (
                c[head : head + n],
                s[head : head + n],
                o[head : head + n],
            )
            self._spare = (c, s, o, head, self.counts, self.steps, self.offset)
            return
        old = len(self.counts)
        spare = _SPARE_MIN if n - old < _SPARE_MIN else 0
        c = np.full(n + spare, np.nan, np.float32)
        s = np.full(n + spare, np.nan, np.float32)
        o = np.full(n + spare, NO_OFFSET, np.int16)
        c[:old], s[:old], o[:old] = self.counts, self.steps, self.offset
        self.counts, self.steps, self.offset = c[:n], s[:n], o[:n]
        self._spare = (c, s, o, 0, self.counts, self.steps, self.offset) if spare else None

    # ----------------------------------------------------------------- closing
    def one_offset(self) -> tuple[bool, int | None]:
        """``(True, offset)`` when every minute of the grid with a known UTC offset has
        this one (``(True, None)``: no minute has one), ``(False, None)`` when offsets
        differ: the usual case answered by one pass over the int16 offsets, without the
        arrays of :meth:`local_minutes`.

        >>> days = SubjectDays()
        >>> days.one_offset()
        (True, None)
        >>> days.push_activity(0, 60, np.ones(3), None, tz_offset_min=0)
        >>> days.one_offset()
        (True, 0)
        >>> days.push_activity(180, 60, np.ones(3), None, tz_offset_min=60)
        >>> days.one_offset()
        (False, None)
        """
        if self.base < 0:
            return True, None
        steady, local0 = kn.steady_clock(self.offset, self.base)
        if not steady:
            return False, None
        first = local0 - self.base  # 0 also when no offset is known (then filled with 0)
        if first == 0 and not (self.offset != NO_OFFSET).any():
            return True, None
        return True, int(first)

    def local_minutes(self) -> NDArray[np.int64]:
        """Local clock minute (since 1970-01-01 local) of every grid minute."""
        return kn.local_clock(self.offset, self.base)[0]

    def local_dates(self) -> NDArray[np.int64]:
        """Local date ordinal (days since 1970-01-01) of every grid minute."""
        return self.local_minutes() // MINUTES_PER_DAY

    def advance(self, now_utc_min: int | None = None) -> list[dict[str, Any]]:
        """Close every day whose end plus the grace period the watermark has passed.

        With ``now_utc_min`` (the stream shell's processing time, passed in), days also close
        when that much time has passed without data, so a subject who stops wearing the
        device gets empty days -- and data-gap notices -- instead of silence. The subject's
        last known UTC offset places "now" on their local clock.
        """
        mark = self.watermark_local
        if now_utc_min is not None and self.base >= 0:
            known = self.offset[self.offset != NO_OFFSET]
            off = int(known[-1]) if len(known) else 0
            mark = max(mark, now_utc_min + off)
        last_closable = (mark - self.params.grace_min) // MINUTES_PER_DAY - 1
        return self._close_through(last_closable)

    def close_remaining_days(self) -> list[dict[str, Any]]:
        """Close every day that has data (end of a recording or of a replay): the rows of
        the days the watermark has not closed yet."""
        if self.base < 0:
            return []
        dates = self.local_dates()
        has = self._has_data(dates)
        if not has.any():
            return []
        return self._close_through(int(dates[np.flatnonzero(has)[-1]]))

    def flush(self) -> list[dict[str, Any]]:
        """Former name of :meth:`close_remaining_days` (kept for callers)."""
        return self.close_remaining_days()

    def _close_through(self, last: int) -> list[dict[str, Any]]:
        if self.base < 0 or last <= self.closed_through:
            return []
        local, dates, steady = self._cover_whole_days(last)
        if dates is None:  # a steady clock
            local0 = int(local[0])
            has = kn.has_data_steady(self.counts, self.steps, local0, self._marked_dates())
        else:
            has = self._has_data(dates)
        first = int(has.argmax())
        if has[first]:
            date = (local0 + first) // MINUTES_PER_DAY if dates is None else int(dates[first])
            start = max(self.closed_through + 1, date)
        elif self.closed_through > -(2**61):
            # the window has emptied (a silent subject, closed by processing time): its days
            # still get (empty) rows, so data-gap notices keep coming
            start = self.closed_through + 1
        else:
            start = last + 1
        rows = []
        # the first grid minute of every local date from start - W on (one search for the
        # days, their windows and the trim; arithmetic on a steady clock)
        w = self.params.window_days
        if dates is None:
            at = _DateIndex.steady(start - w, last + 2, local0, len(self.counts))
        else:
            at = _DateIndex(start - w, np.searchsorted(dates, np.arange(start - w, last + 2)))
        for d in range(start, last + 1):
            a, b = at[d], at[d + 1]
            if not has[a:b].any() and self._window_empty(d, at, has):
                rows.append(self._empty_day(d, b - a))
                self.win_through = _NO_DAY
            else:
                rows.append(self._day_features(d, at, local, steady))
        self.closed_through = last
        self._trim(at[last - w + 1])
        return rows

    def _any_hrv(self, d: int) -> bool:
        return bool(np.any(night_of(self.hrv_bin * HRV_BIN_MIN + self.hrv_off) == d))

    def _window_empty(self, d: int, at: _DateIndex, has: NDArray[np.bool_]) -> bool:
        """No data in the rolling window of day d nor in its night (noon d-1 .. noon d)."""
        a, b = at[d - self.params.window_days], at[d + 1]
        return not bool(has[a:b].any()) and not self._any_hrv(d)

    def _empty_day(self, d: int, minutes: int) -> dict[str, Any]:
        """A day without any data: its row says so without computing anything (fast: a
        stray timestamp years away must not cost seconds)."""
        row: dict[str, Any] = dict.fromkeys(_row_columns(self.params), float("nan"))
        row.update(
            date=iso_date(d),
            weekday=int(weekday(d)),
            minutes_in_day=minutes,
            observed_min=0,
            worn_min=0,
            coverage=0.0,
            valid=False,
            sleep_valid=False,
            hrv_valid=False,
            sedentary_min=0,
            m10_start_min=-1,
            l5_start_min=-1,
            night_coverage=0.0,
            night_n_beats=0.0,
            night_n_nn=0.0,
        )
        row[f"circ{self.params.window_days}d_valid_days"] = 0
        return row

    def _cover_whole_days(
        self, last: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64] | None, bool]:
        """Pad the grid (with missing minutes) from the first local midnight to the end of
        day ``last``, so a partial day has its true length and low coverage; return the
        local clock of the grid: ``(local, dates, steady)``. On a steady clock (one UTC
        offset over the grid, :func:`kernels.steady_clock`: the usual case) ``local`` holds
        only grid minute 0's local minute -- minute ``i`` is ``local[0] + i`` -- and
        ``dates`` is None; otherwise the local minute and date of every grid minute."""
        steady, local0 = kn.steady_clock(self.offset, self.base)
        n = len(self.counts)
        if steady:
            first, final = local0, local0 + n - 1
        else:
            local, dates, _ = kn.local_clock(self.offset, self.base)
            first, final = int(local[0]), int(local[-1])
        head = first % MINUTES_PER_DAY
        tail = max((last + 1) * MINUTES_PER_DAY - 1 - final, 0)
        if head or tail:
            self._ensure(self.base - head, self.base + n + tail)
            steady, local0 = kn.steady_clock(self.offset, self.base)
            if not steady:
                local, dates, _ = kn.local_clock(self.offset, self.base)
        if steady:
            return np.array([local0], np.int64), None, True
        return local, dates, False

    def _day_features(
        self, d: int, at: _DateIndex, local: NDArray[np.int64], steady: bool
    ) -> dict[str, Any]:
        """The row of local day ``d`` (grid minutes ``[lo, hi)``): every number that reads
        minutes comes from one compiled pass (:func:`kernels.close_day`) and the rolling
        window's (:meth:`_window_features`); this method only names them."""
        p = self.params
        lo, hi = at[d], at[d + 1]
        worn_past, vec = kn.close_day(
            self.counts,
            self.steps,
            local,
            lo,
            hi,
            d,
            p.nonwear_run_min,
            p.nonwear_noise_floor,
            p.oakley_threshold,
            p.sedentary_threshold,
            _MIN_BOUT,
            _MAX_GAP,
            steady,
        )
        # the R_* layout of kernels.close_day, in order (one unpacking, no lookups)
        (
            _,
            n_obs_f,
            n_worn_f,
            total,
            sd,
            n_zero,
            sum_worn,
            n_sed,
            m10,
            i10_f,
            l5,
            i5_f,
            steps_total,
            n_lo_f,
            n_hi_f,
            jump_at,
            jump_by,
            night_worn,
            onset,
            offset,
            tst,
            waso,
            awakenings,
            _,
        ) = vec.tolist()
        n_lo, n_hi = int(n_lo_f), int(n_hi_f)
        nan = _NAN
        if onset >= 0:  # a main sleep period (slp.night_summary's numbers)
            start = float(_local_at(local, steady, n_lo) - (d - 1) * MINUTES_PER_DAY)
            jump = None if jump_at < 0 else (int(jump_at), jump_by)
            tib = offset - onset
            mid_clock = _clock(0.5 * (int(onset) + int(offset)), start, jump)
            sleep: tuple[float, ...] = (
                _clock(int(onset), start, jump),
                _clock(int(offset), start, jump),
                mid_clock,
                tib,
                tst,
                waso,
                tst / tib,
                awakenings,
            )
            hrv_row = self.night_hrv(self.base + n_lo + int(onset), self.base + n_lo + int(offset))
        else:
            mid_clock = tst = nan
            sleep = _NAN_SLEEP
            hrv_row = None
        night_cov = night_worn / max(n_hi - n_lo, 1)  # worn
        device = self._device_night(d)
        if onset < 0 and math.isfinite(device["device_sleep_tib_min"]):
            on = int(device["device_sleep_start_utc_min"])
            hrv_row = self.night_hrv(on, on + int(device["device_sleep_tib_min"]))
        del device["device_sleep_start_utc_min"]
        if hrv_row is None:
            hrv_row = dict(_NAN_NIGHT_HRV)

        n_day, n_obs, n_worn = hi - lo, int(n_obs_f), int(n_worn_f)
        coverage = n_worn / n_day if n_day else 0.0
        i10, i5 = int(i10_f), int(i5_f)
        day0 = d * MINUTES_PER_DAY
        sleep_valid = bool(night_cov >= p.min_night_coverage and tst > 0)
        row: dict[str, Any] = {
            "date": iso_date(d),
            "weekday": (d + 3) % 7,
            # act.daily_activity's columns, in its order
            "minutes_in_day": n_day,
            "observed_min": n_obs,
            "worn_min": n_worn,
            "coverage": coverage,
            "valid": coverage >= p.min_wear_fraction,
            "activity_total": total,
            "activity_mean": total / n_obs if n_obs else nan,
            "activity_sd": sd,
            "activity_prop_zeros": int(n_zero) / n_obs if n_obs else nan,
            "activity_mean_worn": sum_worn / n_worn if n_worn else nan,
            "sedentary_min": int(n_sed),
            "m10_mean": m10,
            "m10_start_min": _local_at(local, steady, lo + i10) - day0 if i10 >= 0 else -1,
            "l5_mean": l5,
            "l5_start_min": _local_at(local, steady, lo + i5) - day0 if i5 >= 0 else -1,
            "steps_total": steps_total,
            "night_coverage": night_cov,
            "sleep_valid": sleep_valid,
        }
        row.update(zip(_SLEEP_COLUMNS, sleep, strict=True))
        row.update(device)
        row.update(self._device_summary(d))
        row.update(hrv_row)
        row["hrv_valid"] = bool(
            hrv_row["night_n_nn"] >= p.min_night_beats
            and hrv_row["night_fraction_edited"] <= p.max_night_edited
        )
        self._keep_midpoint(d, mid_clock if sleep_valid else nan)
        self._window_features(d, at, local, worn_past, steady, row)
        return row

    def _keep_midpoint(self, d: int, minute: float) -> None:
        """Append night ``d``'s sleep midpoint; forget the nights before the window."""
        m = self.midpoints
        # nights are appended in date order: the ones to forget are a prefix
        k = int(m["date"].searchsorted(d - self.params.window_days, side="right")) if len(m) else 0
        out = np.empty(len(m) - k + 1, MIDPOINT_DTYPE)
        out[:-1] = m[k:]
        out[-1] = (d, minute)
        self.midpoints = out

    def _window_features(
        self,
        d: int,
        at: _DateIndex,
        local: NDArray[np.int64],
        worn_past: NDArray[np.bool_],
        steady: bool,
        out: dict[str, Any],
    ) -> None:
        """Rolling circadian and regularity features over the local days d-W+1 .. d, added
        to the row ``out``.

        The window is kept as per-day parts (``win_*``): each day's hourly values, its
        observed minutes and its Oakley scores on the local clock. Closing a day scores and
        sums only that day (plus the two minutes either side of midnight, which Oakley's
        5-minute window couples) and combines W small rows; the per-minute-of-day profile
        (L5, M10 and the cosinor's per-phase sums) is one (W, 1440) sum. Every reduction is
        the one a from-scratch computation over the window does, in the same order, so the
        result is identical -- the tests compare both ways on real and synthetic data.
        When the parts cannot be trusted (first day, a state from before version 2, a gap,
        a write into a closed day, a worn mask of a past day changed by a flat run that
        grew across midnight, a repeated daylight-saving hour in the window) the window is
        recomputed from the retained minutes, which the grid always holds. Both ways run
        in :func:`kernels.window_parts`; the measures in :func:`kernels.window_summary`
        (both in one call: :func:`kernels.window_close`).
        """
        p = self.params
        w = p.window_days
        first = d - w + 1
        a_prev, a, b, lo, hi = at[first - 1], at[first], at[first + 1], at[d], at[d + 1]
        trust = (
            self.incremental
            and w >= 2
            and self.win_through == d - 1
            and len(self.win_dates) == w - 1
            and int(self.win_dates[0]) == first
        )
        sleep, hourly, obs, days_ok, measures = kn.window_close(
            self.counts,
            worn_past,
            local,
            a,
            lo,
            hi,
            first,
            w,
            trust,
            self.win_sleep if trust else _NO_CODES,
            self.win_hourly if trust else _NO_FLOATS,
            self.win_obs if trust else _NO_INTS,
            self.win_worn if trust else _NO_BOOLS,
            a_prev,
            p.oakley_threshold,
            steady,
            _BASIS,
            p.min_wear_fraction * MINUTES_PER_DAY,
            p.min_window_days,
        )
        if w >= 2:  # keep the parts of days d-W+2 .. d for closing day d+1
            # (views of this close's arrays: the kernels never write into their inputs)
            self.win_dates = np.arange(first + 1, d + 1, dtype=np.int64)
            self.win_hourly = hourly[24:]
            self.win_obs = obs[1:]
            self.win_sleep = sleep[MINUTES_PER_DAY:]
            self.win_worn = worn_past[b:hi]
            self.win_through = d
            self.win_from_utc = self.base + hi
        keys = _window_columns(w)
        out[keys[0]] = days_ok
        if days_ok >= p.min_window_days:
            # slp.circular_mean_minutes of the nights' midpoints and slp.social_jet_lag
            # with Saturday and Sunday free
            m = self.midpoints
            timing = kn.midpoint_timing(m["minute"], m["date"])
            out.update(zip(keys[1:], (*measures.tolist(), *timing), strict=True))
        else:
            out.update(dict.fromkeys(keys[1:], _NAN))

    def _trim(self, cut: int) -> None:
        """Forget what the next close no longer needs: grid minutes before ``cut`` (the
        first minute of the window's first day), closed nights' episodes, beats and
        summaries."""
        ep = self.episodes
        if len(ep):
            self.episodes = ep[night_of(ep["end"] + ep["off"]) > self.closed_through]
        if len(self.summaries):
            self.summaries = self.summaries[self.summaries["date"] > self.closed_through]
        if len(self.hrv_bin):
            old = night_of(self.hrv_bin * HRV_BIN_MIN + self.hrv_off) <= self.closed_through
            if old.any():
                self.hrv_burst, self.hrv_bin = self.hrv_burst[~old], self.hrv_bin[~old]
                self.hrv_off, self.hrv_sums = self.hrv_off[~old], self.hrv_sums[~old]
        if cut > 0:
            spare = self._spare_in_use()
            self.counts = self.counts[cut:]
            self.steps = self.steps[cut:]
            self.offset = self.offset[cut:]
            self.base += cut
            self._spare = None
            if spare is not None:  # the grid still starts inside the same spare arrays
                c, s, o, head = spare[:4]
                self._spare = (c, s, o, head + cut, self.counts, self.steps, self.offset)

    # ----------------------------------------------------------------- state
    def to_bytes(self) -> bytes:
        """Versioned, compressed, pickle-free serialisation of the whole state."""
        # version 2 stores the minute grid compactly (less to compress: a worker serialises
        # the state after every message): steps only when some minute has one, the UTC
        # offsets as runs, the window's Oakley codes and worn mask as bit planes
        steps_seen = bool(len(self.steps)) and not bool(np.isnan(self.steps).all())
        runs = np.flatnonzero(np.diff(self.offset)) + 1
        off_start = np.r_[0, runs].astype(np.int32) if len(self.offset) else np.empty(0, np.int32)
        arrays: dict[str, NDArray[Any]] = {
            "counts": self.counts,
            "steps": self.steps if steps_seen else np.empty(0, np.float32),
            "off_start": off_start,
            "off_value": self.offset[off_start],
            "hrv_burst": self.hrv_burst,
            "hrv_bin": self.hrv_bin,
            "hrv_off": self.hrv_off,
            "hrv_sums": self.hrv_sums,
            "episodes": self.episodes,
            "midpoints": self.midpoints,
            "win_dates": self.win_dates,
            "win_hourly": self.win_hourly,
            "win_obs": self.win_obs,
            "win_sleep_scored": np.packbits(self.win_sleep >= 0),
            "win_sleep_asleep": np.packbits(self.win_sleep == 1),
            "win_worn": np.packbits(self.win_worn),
            "summaries": self.summaries,
        }
        header = {
            "params": params_dict(self.params),
            "base": self.base,
            "watermark_local": self.watermark_local,
            "closed_through": self.closed_through,
            "late": self.late,
            "win_through": self.win_through,
            "win_from_utc": self.win_from_utc,
            "win_worn_n": len(self.win_worn),
            "win_sleep_n": len(self.win_sleep),
        }
        return pack(_STATE_MAGIC, _STATE_VERSION, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> SubjectDays:
        """Inverse of :meth:`to_bytes`."""
        got = int.from_bytes(data[len(_STATE_MAGIC) : len(_STATE_MAGIC) + 2], "little")
        version = got if got in _READABLE_VERSIONS else _STATE_VERSION  # unpack names it
        header, arrays = unpack(data, _STATE_MAGIC, version, _STATE_DTYPES)
        parts: dict[str, Any] = {}
        counts = arrays["counts"]
        steps = arrays["steps"]
        offset: NDArray[np.int16] = arrays["offset"] if version < 2 else np.empty(0, np.int16)
        if version >= 2:
            n, m = int(header["win_worn_n"]), int(header["win_sleep_n"])
            scored = np.unpackbits(arrays["win_sleep_scored"], count=m).astype(bool)
            asleep = np.unpackbits(arrays["win_sleep_asleep"], count=m).astype(np.int8)
            if len(steps) != len(counts):
                steps = np.full(len(counts), np.nan, np.float32)
            runs = np.diff(np.r_[arrays["off_start"], len(counts)])
            offset = np.repeat(arrays["off_value"], runs).astype(np.int16)
            parts = {
                "win_dates": arrays["win_dates"],
                "win_hourly": arrays["win_hourly"],
                "win_obs": arrays["win_obs"],
                "win_sleep": np.where(scored, asleep, np.int8(-1)).astype(np.int8),
                "win_worn": np.unpackbits(arrays["win_worn"], count=n).astype(bool),
                "win_through": int(header["win_through"]),
                "win_from_utc": int(header["win_from_utc"]),
            }
        return cls(
            params=EngineParams(**header["params"]),
            base=header["base"],
            watermark_local=header["watermark_local"],
            closed_through=header["closed_through"],
            late=header["late"],
            counts=counts,
            steps=steps,
            offset=offset,
            hrv_burst=arrays["hrv_burst"],
            hrv_bin=arrays["hrv_bin"],
            hrv_off=arrays["hrv_off"],
            hrv_sums=arrays["hrv_sums"],
            episodes=arrays["episodes"],
            midpoints=arrays["midpoints"],
            **parts,
            summaries=arrays.get("summaries", np.zeros(0, SUMMARY_DTYPE)),
        )


def minute_sums(x: F64 | None, epoch_s: int, lead: int = 0) -> F64 | None:
    """Sum sub-minute epochs into whole minutes, scaled up for missing epochs; a minute
    with fewer than half of its epochs observed is NaN.

    ``lead`` is the number of epochs of the first minute that precede the batch (validated
    messages always start on a whole minute, so it is 0 for them).

    Examples
    --------
    >>> minute_sums(np.array([1.0, 2, np.nan, 3, np.nan, np.nan, np.nan, 4]), 15)
    array([ 8., nan])
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
    seen = np.count_nonzero(~np.isnan(grid), axis=1)
    out = np.where(np.isnan(grid), 0.0, grid).sum(axis=1)
    # a minute with some epochs missing is scaled to the whole minute; with fewer than half
    # of its epochs it is missing (devices drop seconds: MMASH's ActiGraph keeps ~48 of 60)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = out * per / seen
    out[seen < per / 2] = np.nan
    return np.asarray(out, dtype=np.float64)


class _DateIndex:
    """The first grid minute of local dates ``first, first + 1, ...``: what
    ``np.searchsorted(dates, date)`` gives, from one search."""

    __slots__ = ("first", "starts")

    def __init__(self, first: int, starts: NDArray[np.int64] | list[int]) -> None:
        self.first = first
        self.starts: list[int] = starts if isinstance(starts, list) else starts.tolist()

    @classmethod
    def steady(cls, first: int, stop: int, local0: int, n: int) -> _DateIndex:
        """The same for a grid of ``n`` minutes whose local clock is ``local0 + index``
        (:func:`kernels.local_clock`'s steady clock): arithmetic instead of a search.

        >>> dates = (1440 * 3 + np.arange(2000)) // 1440
        >>> _DateIndex.steady(2, 7, 1440 * 3, 2000).starts
        [0, 0, 1440, 2000, 2000]
        >>> np.searchsorted(dates, np.arange(2, 7)).tolist()
        [0, 0, 1440, 2000, 2000]
        """
        day = MINUTES_PER_DAY
        return cls(first, [min(max(k * day - local0, 0), n) for k in range(first, stop)])

    def __getitem__(self, date: int) -> int:
        return self.starts[date - self.first]


def warm_up() -> float:
    """Load (or compile, the first time) the day close's kernels by closing a few
    synthetic days; returns the CPU seconds it took. A process that must not pause on its
    first real day close (a stream worker) calls it once at start.

    Examples
    --------
    >>> warm_up() < 600
    True
    """
    t0 = time.process_time()
    eng = SubjectDays()
    day = np.r_[np.arange(420) % 3, 150 + np.arange(1020) % 9 * 10]
    eng.push_activity(19_000 * 86_400, 60, np.tile(day, 4), None, tz_offset_min=0)
    eng.close_remaining_days()
    return time.process_time() - t0


@functools.lru_cache(maxsize=8)
def _window_columns(w: int) -> tuple[str, ...]:
    """The rolling window's columns of a daily row, in order: valid days, then
    :func:`kernels.window_summary`'s measures, then :func:`kernels.midpoint_timing`'s."""
    measures = ("IS", "IV", "L5", "M10", "RA", "cosinor_mesor", "cosinor_amplitude")
    return (
        f"circ{w}d_valid_days",
        *(f"circ{w}d_{k}" for k in (*measures, "cosinor_peak_minute_of_day")),
        f"sri{w}d",
        f"sleep_midpoint{w}d_min",
        f"social_jetlag{w}d_min",
    )


@functools.lru_cache(maxsize=8)
def _row_columns(params: EngineParams) -> tuple[str, ...]:
    """The columns of a daily row, in order (from computing one tiny real row)."""
    eng = SubjectDays(params)
    eng.push_activity(0, 60, np.zeros(1), None, 0)
    return tuple(eng.close_remaining_days()[0])


def _local_at(local: NDArray[np.int64], steady: bool, i: int) -> int:
    """Local minute of grid minute ``i`` (``local`` as :meth:`SubjectDays._cover_whole_days`
    returns it: on a steady clock only grid minute 0's)."""
    return int(local[0]) + i if steady else int(local[i])


def _clock(elapsed: float, start_clock_min: float, clock_jump: tuple[int, float] | None) -> float:
    """Local clock minute of night minute ``elapsed`` (``slp.summarise_sleep``'s clock)."""
    c = start_clock_min + elapsed
    if clock_jump is not None and elapsed >= clock_jump[0]:
        c += clock_jump[1]
    return float(c % MINUTES_PER_DAY)

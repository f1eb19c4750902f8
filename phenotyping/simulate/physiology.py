"""The signals of a simulated wearer: sleep schedule, activity counts, RR intervals.

*Sleep schedule.* Each subject has a habitual sleep onset (about 23:15 local, SD 40 min
between subjects), a habitual duration (about 7.7 h), night-to-night noise, later and
longer sleep on Friday and Saturday nights, a sleep-onset latency, a snooze after the
final awakening and a few wake bouts after sleep onset (WASO). Night ``n`` is the one
that starts on the evening of local day ``n``. Sleep is placed by the *wall clock*, so on
a daylight-saving night it is an hour shorter or longer in real time.

*Activity* (Actiwatch-like counts per 1-minute epoch, calibrated on the 32 Depresjon
controls: per-subject daytime (09-21 h) means mostly 150-450 counts/min with a long
right tail (p99 about 1,500, maxima several thousand), 5-30 % zero minutes by day, about
80 % zero minutes at night, lag-1 autocorrelation of log counts about 0.85). An awake
minute is *active* when a circadian drive (rising over the first hour after waking,
falling before bedtime) plus a smooth latent noise (10- and 60-min time constants) is
positive; active minutes draw log-normal counts (median about 310), sedentary ones are
zero or small. Asleep minutes are mostly zero with short bursts of small movements (a
6-min smooth noise above ``SLEEP_MOVE_Z``, median 30 counts); awake-in-bed minutes
(latency, WASO, snooze) are low. Counts are scaled by a per-subject level, a per-day level
(day-to-day noise), a per-subject weekend factor and the deterioration factor, then rounded
to integers.

*Why the sleep movements and day-to-day noise are what they are* (issue 10, measured
against the 32 Depresjon controls, demo cohort seed 9, stable subjects). A sleeping wrist
moves every hour or so: on the 518 control nights worn all night the longest run of exact
zeros between 20:00 and 10:00 has median 44 min (p90 72); 3 % of nights have one of 2 h or
more. Sleep movements driven by the 60-min latent noise gave median 116 min (p90 172) and
45 % of nights with a 2-h still run, which the day engine's non-wear rule (a 2-h flat run is
the watch off the wrist) blanked, cutting the night: actigraphy total sleep then varied
within a person by a robust SD of 175 min (controls 62) and the sleep midpoint by 159 min
(controls 57), and the risk engine opened false episodes on stable subjects. Now: median
54 min (p90 85), 1.5 % of nights, total sleep 87 min, midpoint 70 min. The day-to-day
activity noise (``day_sd`` 0.15-0.30 plus a 0.3 SD daily drive) gave a within-person
robust SD of log daily activity of 0.31 against 0.165 in the controls; now 0.215. Measured
with ``phenotyping replay`` of ``depresjon/control`` and ``phenotyping demo`` (daily rows),
see ``docs/evaluation.md``.

*RR intervals* (integer ms) for the whole in-bed period of every night, beat by beat:
mean heart rate and RMSSD per subject (about 58 bpm and 40 ms) varying by night, higher
heart rate early in the night and while awake in bed, respiratory sinus arrhythmia.
About ``rr_artefact_prob`` of the beats carry an artefact: a missed beat (one long
interval), a spurious beat (one interval split into a very short and a short one) or an
ectopic pair (a premature short interval and its compensatory long one). The series is
cut into bursts of ``rr_burst_s`` seconds on a UTC grid. The intervals are *partitioned*
among bursts: each interval belongs to the burst in which it ends, and a burst's
``first_beat`` is the beat that closes the previous burst's last interval. Optional short
daytime bursts (``rr_day_bursts`` per day, 2 min each, higher heart rate, lower RMSSD).

*Device sleep episodes* (``is_main_sleep=True``) for nights ``0 .. days-2``, the nights
whose whole in-bed period lies inside the cohort window: in-bed start and out-of-bed end,
``latency_min``, ``waso_min``, ``tst_min`` and ``efficiency_pct`` taken from the same
minute states that shaped the activity, so they are mutually consistent.

*Deterioration* (:class:`Deterioration`) from a chosen day: activity counts multiplied by
``activity_factor`` on local days ``>= day``; nights ``>= day`` shifted later by
``shift_min`` (so day ``day`` keeps its usual wake-up but goes to bed late, and from day
``day + 1`` on the whole rest-activity cycle is shifted); optionally a higher heart rate
and a lower RMSSD. ``ramp_days`` phases it in linearly.

*Determinism and independence.* Every random draw comes from a stream keyed by
``(seed, stream, subject index, day or night)``; see :mod:`phenotyping.simulate.uploads`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phenotyping.simulate.clock import MS_MIN, Clock
from phenotyping.simulate.spec import CohortSpec, Deterioration, Treatment, subject_ids

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B1 = NDArray[np.bool_]
# Random streams (first element after the seed of every SeedSequence key).
S_SUBJECT, S_NIGHT, S_DAY, S_PERTURB, S_RR, S_RR_DAY, S_CLINIC = range(7)
#: Threshold of the 6-min smooth noise above which an asleep minute moves (see above).
SLEEP_MOVE_Z = 0.8
#: SD of the per-day shift of the propensity to be active (day-to-day activity noise).
DAY_DRIVE_SD = 0.15


@dataclass(frozen=True)
class Subject:
    idx: int
    sid: str
    onset: float  # habitual sleep onset, wall minutes after the evening's midnight
    dur: float  # habitual sleep-period duration, min
    sd_onset: float
    sd_dur: float
    wk_onset: float  # later onset on Friday/Saturday nights, min
    wk_extra: float  # longer sleep on Friday/Saturday nights, min
    lat_mean: float
    waso_rate: float  # wake bouts per night
    waso_len: float  # mean wake-bout length, min
    level: float  # activity scale
    drive: float  # propensity to be active
    wk_level: float  # weekend activity scale
    day_sd: float  # day-to-day log-SD of the activity scale
    hr: float  # mean sleeping heart rate, bpm
    rmssd: float  # typical nightly RMSSD, ms
    resp_hz: float
    det: Deterioration | None
    treat: Treatment | None = None


@dataclass(frozen=True)
class Night:
    n: int
    bed_start: int  # UTC minutes
    sleep_on: int
    sleep_off: int
    bed_end: int
    waso: B1  # per minute of [sleep_on, sleep_off)
    hr: float
    rmssd: float


def smooth(rng: np.random.Generator, n: int, tau: float) -> F64:
    """Unit-variance exponentially smoothed Gaussian noise (an AR(1)-like series)."""
    width = int(4 * tau) + 1
    kernel = np.exp(-np.arange(width) / tau)
    kernel /= math.sqrt(float(np.sum(kernel * kernel)))
    white = rng.standard_normal(n + width - 1)
    return np.convolve(white, kernel, mode="valid")


class Physiology:
    """A cohort's subjects and their signals, night by night and day by day."""

    def __init__(self, spec: CohortSpec) -> None:
        self.spec = spec
        self.clock = Clock(spec.tz)
        self.subjects = [self._subject(i, sid) for i, sid in enumerate(subject_ids(spec))]
        self._nights: list[dict[int, Night]] = [{} for _ in self.subjects]

    def rng(self, stream: int, subject: int, k: int = 0) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.spec.seed, stream, subject, k]))

    def midnight(self, day: int) -> int:
        return self.clock.to_utc(self.spec.start + dt.timedelta(days=day), 0)

    # ---- subjects and nights

    def _subject(self, idx: int, sid: str) -> Subject:
        r = self.rng(S_SUBJECT, idx)
        return Subject(
            idx=idx,
            sid=sid,
            onset=float(np.clip(r.normal(23.25 * 60, 40), 21.5 * 60, 25.5 * 60)),
            dur=float(np.clip(r.normal(465, 35), 380, 570)),
            sd_onset=float(r.uniform(20, 45)),
            sd_dur=float(r.uniform(20, 45)),
            wk_onset=float(max(0.0, r.normal(45, 25))),
            wk_extra=float(max(0.0, r.normal(35, 25))),
            lat_mean=float(r.uniform(8, 25)),
            waso_rate=float(r.uniform(2, 7)),
            waso_len=float(r.uniform(2.5, 7)),
            level=float(np.exp(r.normal(0, 0.25))),
            drive=float(r.normal(0.0, 0.35)),
            wk_level=float(np.clip(r.normal(0.95, 0.12), 0.6, 1.3)),
            day_sd=float(r.uniform(0.06, 0.14)),
            hr=float(np.clip(r.normal(58, 6), 47, 80)),
            rmssd=float(np.clip(np.exp(r.normal(math.log(40), 0.35)), 12, 120)),
            resp_hz=float(r.uniform(0.2, 0.3)),
            det=(self.spec.deteriorate or {}).get(sid),
            treat=(self.spec.treat or {}).get(sid),
        )

    def night(self, sub: Subject, n: int) -> Night:
        cache = self._nights[sub.idx]
        got = cache.get(n)
        if got is None:
            got = cache[n] = self._make_night(sub, n)
            for old in [k for k in cache if k < n - 3]:
                del cache[old]
        return got

    def _make_night(self, sub: Subject, n: int) -> Night:
        r = self.rng(S_NIGHT, sub.idx, n + 2)
        z = [min(max(v, -3.0), 3.0) for v in r.standard_normal(4).tolist()]
        latency = min(max(round(float(r.gamma(2.0, sub.lat_mean / 2))), 1), 60)
        snooze = min(max(round(float(r.gamma(1.5, 8 / 1.5))), 0), 45)
        n_bouts = int(min(r.poisson(sub.waso_rate), 12))
        bout_pos = r.random(n_bouts)
        bout_len = r.geometric(1 / sub.waso_len, n_bouts)
        date = self.spec.start + dt.timedelta(days=n)
        weekend = date.weekday() in (4, 5)  # Friday and Saturday nights
        prog = sub.det.progress(n) if sub.det else 0.0
        shift = sub.det.shift_min * prog if sub.det else 0.0
        onset = sub.onset + sub.wk_onset * weekend + sub.sd_onset * z[0] + shift
        dur = min(max(sub.dur + sub.wk_extra * weekend + sub.sd_dur * z[1], 240.0), 660.0)
        on = self.clock.to_utc(date, round(onset))
        off = max(self.clock.to_utc(date, round(onset + dur)), on + 180)
        waso = np.zeros(off - on, dtype=np.bool_)
        starts = (5 + bout_pos * (off - on - 20)).astype(np.int64)
        for s, ln in zip(starts.tolist(), bout_len.tolist(), strict=True):
            waso[s : min(s + ln, off - on - 5)] = True
        hr = sub.hr + 2.0 * z[2] + (sub.det.hr_delta_bpm * prog if sub.det else 0.0)
        rmssd = sub.rmssd * math.exp(0.15 * z[3])
        if sub.det:
            rmssd *= 1 + (sub.det.rmssd_factor - 1) * prog
        return Night(n, on - latency, on, off, off + snooze, waso, float(hr), float(rmssd))

    # ---- signals

    def activity(self, sub: Subject, d: int, t: I64) -> tuple[F64, B1]:
        """Counts for UTC minutes ``t`` of local day ``d``, and the awake-out-of-bed mask."""
        nights = [self.night(sub, n) for n in range(d - 2, d + 2)]
        a, b = int(t[0]), int(t[-1]) + 1  # t is contiguous
        n = b - a
        in_bed = np.zeros(n, dtype=np.bool_)
        asleep = np.zeros(n, dtype=np.bool_)
        for nt in nights:
            in_bed[max(nt.bed_start - a, 0) : max(nt.bed_end - a, 0)] = True
            lo, hi = max(nt.sleep_on, a), min(nt.sleep_off, b)
            if lo < hi:
                asleep[lo - a : hi - a] = ~nt.waso[lo - nt.sleep_on : hi - nt.sleep_on]
        awake = ~in_bed
        bs = np.array([x.bed_start for x in nights])
        be = np.array([x.bed_end for x in nights])
        k = np.searchsorted(bs, t, side="right") - 1
        if k[0] < 0 or k[-1] > len(nights) - 2:
            raise AssertionError("sleep schedule does not cover the day")  # pragma: no cover

        r = self.rng(S_DAY, sub.idx, d)
        day_level = math.exp(sub.day_sd * float(r.standard_normal()))
        day_drive = DAY_DRIVE_SD * float(r.standard_normal())
        # latent propensity: a 10-min and a 60-min component (the slow one on a 10-min grid)
        coarse = smooth(r, n // 10 + 2, 6.0)
        fast = smooth(r, n, 10.0)
        latent = 0.8 * fast + 0.6 * np.repeat(coarse, 10)[:n]
        wobble = smooth(r, n, 6.0)
        u = r.random(n)
        g = r.standard_normal(n)  # one white series: active/fidget/in-bed minutes are disjoint
        since = (t - be[k]).astype(np.float64)
        until = (bs[k + 1] - t).astype(np.float64)
        frac = np.clip(since / np.maximum(since + until, 1.0), 0.0, 1.0)
        drive = (
            sub.drive
            + day_drive
            - 1.4
            + 1.8 * (1 - np.exp(-np.maximum(since, 0) / 45))
            - 1.6 * np.exp(-np.maximum(until, 0) / 60)
            + 0.4 * np.sin(np.pi * frac)
        )
        y = drive + latent
        active = awake & (y > 0)
        fidget = awake & ~active & ((y > -0.45) | (u < 0.05))
        # movement while asleep and while awake in bed comes in clustered bouts
        moving = in_bed & np.where(asleep, wobble > SLEEP_MOVE_Z, latent > -0.25)
        log_c = np.where(
            active,
            math.log(310) + 0.5 * wobble + 0.45 * g,
            np.where(fidget, math.log(35) + g, np.where(asleep, math.log(30), math.log(100)) + g),
        )
        raw = np.where(active | fidget | moving, np.exp(log_c), 0.0)
        date = self.spec.start + dt.timedelta(days=d)
        scale = sub.level * day_level * (sub.wk_level if date.weekday() >= 5 else 1.0)
        if sub.det:
            scale *= 1 + (sub.det.activity_factor - 1) * sub.det.progress(d)
        if sub.treat and sub.treat.pre_activity_factor != 1.0:
            scale *= sub.treat.activity_factor(d)
        return np.round(raw * scale), awake

    def beats(
        self,
        r: np.random.Generator,
        t0_ms: int,
        end_ms: int,
        hr0: float,
        rmssd: float,
        resp_hz: float,
        awake_min: B1,
        night: bool,
    ) -> NDArray[np.int64]:
        """RR intervals (integer ms) of a recording from ``t0_ms`` to at most ``end_ms``.

        ``awake_min[i]`` says whether minute ``i`` (counted from ``t0_ms // 60000``) is
        awake. Artefacts are inserted with probability ``rr_artefact_prob`` per beat.
        """
        # slow parts (heart rate, RMSSD target) per minute, then gathered per beat
        n_min = awake_min.size
        tm = np.arange(n_min) * float(MS_MIN)
        hr_m = hr0 + 10.0 * awake_min + 2.0 * smooth(r, n_min, 5.0)
        if night:
            phase = r.uniform(0, 2 * np.pi)
            hr_m += 4.0 * np.exp(-tm / 5.4e6) + 1.5 * np.sin(2 * np.pi * tm / 5.7e6 + phase)
        mu_m = 60_000 / hr_m
        target_m = rmssd * np.where(awake_min, 0.6, 1.0)
        theta_m = (2 * np.pi * resp_hz / 1000) * mu_m
        # RSA of amplitude A adds sqrt(2)*A*sin(theta/2) to RMSSD, white noise of SD s adds
        # sqrt(2)*s; 0.7 and 0.505 split the target between them (0.7**2 + 2*0.505**2 = 1).
        amp_m = 0.7 * target_m / (math.sqrt(2) * np.maximum(np.abs(np.sin(theta_m / 2)), 0.2))
        sd_m = 0.505 * target_m
        # beat i falls in the minute where the expected beat count passes i
        per_min = np.full(n_min, float(MS_MIN))
        per_min[0] -= t0_ms % MS_MIN
        expected = np.cumsum(per_min / mu_m)
        nb = int(expected[-1]) + 8
        minute = np.searchsorted(expected, np.arange(nb), side="right")
        np.minimum(minute, n_min - 1, out=minute)
        resp = np.cumsum(theta_m[minute])
        resp += r.uniform(0, 2 * np.pi)
        noise = r.standard_normal(nb)
        rr = np.rint(mu_m[minute] + amp_m[minute] * np.sin(resp) + sd_m[minute] * noise)
        rr = np.clip(rr, 300, 2000).astype(np.int64)
        keep = int(np.searchsorted(np.cumsum(rr), end_ms - t0_ms, side="right"))
        rr = rr[:keep]
        # artefacts: ectopic pair, missed beat, spurious beat; candidates >= 3 beats apart
        m = rr.size
        n_art = int(r.binomial(max(m - 1, 0), self.spec.rr_artefact_prob))
        cand = np.unique(r.integers(0, max(m - 1, 1), n_art))
        cand = cand[np.diff(cand, prepend=-10) >= 3]
        kind = r.integers(0, 3, cand.size)
        split = r.uniform(0.15, 0.4, cand.size)
        ect = cand[kind == 0]
        short = np.rint(rr[ect] * 0.65).astype(np.int64)
        rr[ect + 1] += rr[ect] - short
        rr[ect] = short
        miss = cand[kind == 1]
        rr[miss] += rr[miss + 1]
        reps = np.ones(m, dtype=np.int64)
        reps[miss + 1] = 0
        extra = cand[kind == 2]
        reps[extra] = 2
        first = np.maximum(np.rint(rr[extra] * split[kind == 2]).astype(np.int64), 1)
        second = rr[extra] - first
        out: I64 = np.repeat(rr, reps)
        pos = (np.cumsum(reps) - reps)[extra]
        out[pos] = first
        out[pos + 1] = second
        np.minimum(out, 59_999, out=out)
        return out

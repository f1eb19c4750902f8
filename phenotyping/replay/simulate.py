"""Deterministic synthetic cohort: the wire messages a group of wearers would upload.

:func:`simulate` yields :mod:`phenotyping.events` messages (:class:`ActivityBatch`,
:class:`HeartBeatBatch`, :class:`SleepEpisode`, and :class:`ClinicalEvent` for treated
subjects) for ``n_subjects`` pseudonymous subjects
(``sim-001``, ``sim-002``...) over ``days`` local days, **in upload (arrival) order**, as
a lazy iterator. :func:`write_jsonl` writes them one :func:`phenotyping.events.encode`
line per message.

What is simulated
-----------------
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
zero or small. Asleep minutes are mostly zero with clustered small movements; awake-in-bed
minutes (latency, WASO, snooze) are low. Counts are scaled by a per-subject level, a
per-day level (day-to-day noise), a per-subject weekend factor and the deterioration
factor, then rounded to integers.

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

*Imperfect uploads*, all drawn from the seed:

* ``wear_gap_prob``: per subject-day, a 1-8 h stretch while awake with the watch off:
  ``null`` counts (hour batches entirely inside it are not sent, nor samples in it, nor
  daytime RR bursts).
* ``nonwear_day_prob``: per subject-day, nothing at all for that local day nor for the
  night that starts on its evening (no activity, RR or sleep message).
* ``late_upload_prob``: per subject-day, everything of that day and of its night arrives
  24-72 h late (after later data of the same subject).
* ``duplicate_prob``: per message, the identical message (same ``event_id``, same bytes)
  is uploaded a second time 1 min to 12 h later.

*Deterioration* (:class:`Deterioration`) from a chosen day: activity counts multiplied by
``activity_factor`` on local days ``>= day``; nights ``>= day`` shifted later by
``shift_min`` (so day ``day`` keeps its usual wake-up but goes to bed late, and from day
``day + 1`` on the whole rest-activity cycle is shifted); optionally a higher heart rate
and a lower RMSSD. ``ramp_days`` phases it in linearly.

*Treatment* (:class:`Treatment`, ``CohortSpec.treat``): a course of sessions (ketamine,
TMS...) with the clinic's records as :class:`ClinicalEvent` messages -- a session per
session day, a weekly PHQ-9 self-report (before, during and after the course), optionally
a clinician's ``response`` and a ``course_end``. PHQ-9 falls linearly over the course and,
when the subject also has a later :class:`Deterioration` (a relapse after a response),
climbs back. Optionally the course also lifts a depressed activity level. Clinical events
come from the clinic, not the wearable: they are never late, duplicated or dropped, arrive
1-30 min after they happen and use their own random stream, so a treatment that changes no
signal (``pre_activity_factor=1``) adds messages but changes none of the others.
:func:`demo_spec` is the cohort of ``phenotyping demo``.

Conventions
-----------
*Time zone.* ``tz`` is a fixed UTC offset in minutes (default ``+60``) or an IANA zone
name. Days are cut at local midnight. A batch is split where the UTC offset changes, so
every message carries one ``tz_offset_min`` valid for all of its samples (a sleep
episode, which cannot be split, carries the offset at its *end*, i.e. of the wake-up day;
its ``start`` and ``end`` each carry their own offset).

*Batches.* ``batch="day"``: one :class:`ActivityBatch` per subject per local day (1440
one-minute epochs; two batches on a daylight-saving day). ``"hour"``: one per local
clock hour. ``"sample"``: one per minute (one epoch each), for benchmarks. The counts are
the same in all three shapes.

*Event ids* are ``f"{subject}:{type}:{start}"`` with ``start`` the batch start in UTC
(``2024-01-01T23:00:00Z``; for heartbeat bursts the first beat, to the millisecond), so a
re-upload carries the same id; clinical events are ``f"{subject}:clinical:{kind}:{at}"``.

*Arrival.* A message arrives after its last sample: day batches 5-120 min after local
midnight, hour batches 1-15 min after the hour, samples at once, RR bursts 1-30 s after
their last beat, sleep episodes 5-60 min after getting up (plus the late-upload delay,
and the duplicate delay for a re-upload). :func:`simulate_timed` also yields the arrival
instant; ties keep subject order.

*Determinism and independence.* Every random draw comes from a stream keyed by
``(seed, stream, subject index, day or night)``. The same spec gives byte-identical
output; a subject's data do not depend on how many other subjects there are, every
message of a shorter cohort is also in a longer one with the same seed, switching RR off
changes no other message, and the perturbation probabilities change *which*
perturbations apply but not the underlying signals. Besides :mod:`phenotyping.events`
only NumPy and the standard library are used; generation is vectorised per subject-day
and per night, and holds about one day of data per subject in memory (messages are
built only when they are yielded).

Examples
--------
>>> from phenotyping.events import decode, encode
>>> spec = CohortSpec(n_subjects=2, days=3, rr=False)
>>> msgs = list(simulate(spec))
>>> sorted({m.type for m in msgs})
['activity', 'sleep']
>>> first = next(m for m in msgs if m.type == "activity")
>>> first.event_id, first.tz_offset_min, first.n_epochs
('sim-001:activity:2023-12-31T23:00:00Z', 60, 1440)
>>> decode(encode(first)) == first
True
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import os
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from types import MappingProxyType
from typing import Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from phenotyping.events import (
    ActivityBatch,
    ClinicalEvent,
    HeartBeatBatch,
    Modality,
    SleepEpisode,
    encode,
)

__all__ = [
    "ACTIVITY_SOURCE",
    "CLINIC_SOURCE",
    "DEMO_RELAPSING",
    "DEMO_SEED",
    "HEART_SOURCE",
    "CohortSpec",
    "Deterioration",
    "SimMessage",
    "Treatment",
    "Upload",
    "demo_spec",
    "simulate",
    "simulate_timed",
    "subject_ids",
    "write_jsonl",
]

SimMessage = ActivityBatch | HeartBeatBatch | SleepEpisode | ClinicalEvent
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B1 = NDArray[np.bool_]

#: ``source`` of the activity batches and of the device sleep episodes.
ACTIVITY_SOURCE = "sim-actiwatch"
#: ``source`` of the RR bursts.
HEART_SOURCE = "sim-hrm"
#: ``source`` of the clinical events (treatment sessions, self-reports).
CLINIC_SOURCE = "sim-clinic"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS_MIN = 60_000
_HOUR_MS = 3_600_000
# Random streams (first element after the seed of every SeedSequence key).
_S_SUBJECT, _S_NIGHT, _S_DAY, _S_PERTURB, _S_RR, _S_RR_DAY, _S_CLINIC = range(7)
#: Days over which self-reported PHQ-9 climbs back to ``phq9_before`` after a relapse.
_PHQ9_RELAPSE_DAYS = 21


@dataclass(frozen=True)
class Deterioration:
    """A relapse-like change injected into one subject from local day ``day`` (0-based).

    Parameters
    ----------
    day
        First affected local day (0 = ``CohortSpec.start``).
    activity_factor
        Activity counts are multiplied by this on days ``>= day``.
    shift_min
        Nights ``>= day`` (sleep onset and wake-up, hence the activity around them) are
        shifted this many minutes later (negative: earlier; ``|shift_min| <= 360``).
    ramp_days
        0 for a step change; otherwise the change grows linearly and is complete on day
        ``day + ramp_days - 1``.
    hr_delta_bpm, rmssd_factor
        Added to the nightly heart rate, multiplied into the nightly RMSSD.

    Examples
    --------
    >>> d = Deterioration(day=10, ramp_days=4)
    >>> [d.progress(k) for k in (9, 10, 11, 13, 20)]
    [0.0, 0.25, 0.5, 1.0, 1.0]
    """

    day: int
    activity_factor: float = 0.7
    shift_min: float = 90.0
    ramp_days: int = 0
    hr_delta_bpm: float = 0.0
    rmssd_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.day < 0:
            raise ValueError(f"day: must be >= 0, got {self.day}")
        if not self.activity_factor >= 0:
            raise ValueError(f"activity_factor: must be >= 0, got {self.activity_factor}")
        if not abs(self.shift_min) <= 360:
            raise ValueError(f"shift_min: must be within +-360 min, got {self.shift_min}")
        if self.ramp_days < 0:
            raise ValueError(f"ramp_days: must be >= 0, got {self.ramp_days}")
        if not self.rmssd_factor > 0:
            raise ValueError(f"rmssd_factor: must be > 0, got {self.rmssd_factor}")
        if not abs(self.hr_delta_bpm) <= 40:
            raise ValueError(f"hr_delta_bpm: must be within +-40, got {self.hr_delta_bpm}")

    def progress(self, day: int) -> float:
        """Fraction (0..1) of the change in effect on local day / night ``day``."""
        if day < self.day:
            return 0.0
        if self.ramp_days <= 0:
            return 1.0
        return min(1.0, (day - self.day + 1) / self.ramp_days)


_MODALITIES = ("ketamine", "esketamine", "tms", "ect", "psilocybin", "other")


@dataclass(frozen=True)
class Treatment:
    """A treatment course of one subject and the clinic's records of it.

    Emits :class:`~phenotyping.events.ClinicalEvent` messages (on the local days of the
    cohort window only), each at a local wall-clock time relative to ``session_minute``:

    * ``self_report`` (PHQ-9) at ``session_minute - 60`` every ``report_every_days``
      days, on the days ``start_day + k * report_every_days`` for every integer ``k``
      (also before the course, so there is a pre-course score; on a session day the
      questionnaire is filled in before the session);
    * ``treatment_session`` (``modality``) at ``session_minute`` on the days
      ``start_day + i * every_days``, ``i = 0 .. sessions - 1``;
    * ``response`` (a clinician judges the patient a responder) at ``session_minute + 60``
      on the day ``last session + response_after_days``, when that is not ``None``;
    * ``course_end`` at ``session_minute + 120`` on the last session's day (if
      ``course_end``).

    PHQ-9 (0-27): ``phq9_before`` up to the first session, then linear to ``phq9_after``
    at the last session, then ``phq9_after``; if the subject also has a
    :class:`Deterioration` that starts after the first session (a relapse), from its day
    the score climbs linearly back to ``phq9_before`` over 21 days. Plus Gaussian noise of
    SD ``phq9_sd``, rounded to a whole point and clipped to 0..27. (The risk engine
    detects a response from a PHQ-9 reported *during* the course, i.e. before the
    ``course_end``, that is at most half the pre-course score.)

    ``pre_activity_factor`` models the depressed state the course treats: activity counts
    are multiplied by it up to the first session, and the factor eases linearly to 1 at
    the last session (1: the course changes no device signal).

    Parameters
    ----------
    start_day
        Local day of the first session (0 = ``CohortSpec.start``).
    modality
        One of the :class:`~phenotyping.events.ClinicalEvent` modalities.
    sessions, every_days
        Number of sessions and days between them.
    phq9_before, phq9_after, phq9_sd
        PHQ-9 before the course, after it, and its report-to-report noise.
    report_every_days
        Days between self-reports.
    response_after_days
        Days after the last session on which a clinician records a response (``None``:
        never; the response is then only visible in the PHQ-9).
    course_end
        Emit a ``course_end`` after the last session.
    pre_activity_factor
        Activity multiplier before the course (see above).
    session_minute
        Local wall-clock minute of the sessions (60..1260).

    Examples
    --------
    >>> t = Treatment(start_day=10, sessions=3, every_days=2)
    >>> t.session_days()
    [10, 12, 14]
    >>> [t.phq9(d) for d in (9, 10, 12, 14, 30)]
    [20.0, 20.0, 13.5, 7.0, 7.0]
    >>> [t.activity_factor(d) for d in (0, 14)]
    [1.0, 1.0]
    """

    start_day: int
    modality: Modality = "ketamine"
    sessions: int = 6
    every_days: int = 3
    phq9_before: float = 20.0
    phq9_after: float = 7.0
    phq9_sd: float = 1.0
    report_every_days: int = 7
    response_after_days: int | None = None
    course_end: bool = True
    pre_activity_factor: float = 1.0
    session_minute: int = 600

    def __post_init__(self) -> None:
        if self.start_day < 0:
            raise ValueError(f"start_day: must be >= 0, got {self.start_day}")
        if self.modality not in _MODALITIES:
            raise ValueError(f"modality: must be one of {_MODALITIES}, got {self.modality!r}")
        if self.sessions < 1:
            raise ValueError(f"sessions: must be >= 1, got {self.sessions}")
        if self.every_days < 1:
            raise ValueError(f"every_days: must be >= 1, got {self.every_days}")
        if self.report_every_days < 1:
            raise ValueError(f"report_every_days: must be >= 1, got {self.report_every_days}")
        for name in ("phq9_before", "phq9_after"):
            if not 0 <= getattr(self, name) <= 27:
                raise ValueError(f"{name}: PHQ-9 must be within 0..27, got {getattr(self, name)}")
        if not self.phq9_sd >= 0:
            raise ValueError(f"phq9_sd: must be >= 0, got {self.phq9_sd}")
        if self.response_after_days is not None and self.response_after_days < 0:
            raise ValueError(f"response_after_days: must be >= 0, got {self.response_after_days}")
        if not self.pre_activity_factor > 0:
            raise ValueError(f"pre_activity_factor: must be > 0, got {self.pre_activity_factor}")
        if not 60 <= self.session_minute <= 1260:
            raise ValueError(f"session_minute: must be 60..1260, got {self.session_minute}")

    @property
    def last_day(self) -> int:
        """Local day of the last session."""
        return self.start_day + (self.sessions - 1) * self.every_days

    def session_days(self) -> list[int]:
        """Local days of the sessions."""
        return list(range(self.start_day, self.last_day + 1, self.every_days))

    def _course(self, day: int) -> float:
        """Fraction (0..1) of the course done by local day ``day``."""
        if day <= self.start_day:
            return 0.0
        if day >= self.last_day:
            return 1.0
        return (day - self.start_day) / (self.last_day - self.start_day)

    def phq9(self, day: int, relapse_day: int | None = None) -> float:
        """Noise-free PHQ-9 on local day ``day`` (``relapse_day``: a deterioration's day)."""
        score = self.phq9_before + (self.phq9_after - self.phq9_before) * self._course(day)
        if relapse_day is not None and relapse_day > self.start_day and day >= relapse_day:
            back = min(1.0, (day - relapse_day + 1) / _PHQ9_RELAPSE_DAYS)
            score += (self.phq9_before - score) * back
        return score

    def activity_factor(self, day: int) -> float:
        """Activity multiplier on local day ``day`` (``pre_activity_factor`` easing to 1)."""
        return self.pre_activity_factor + (1.0 - self.pre_activity_factor) * self._course(day)


def _prob(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: must be a probability in [0, 1], got {p}")


@dataclass(frozen=True)
class CohortSpec:
    """What to simulate; the module docstring describes the model behind each knob.

    Parameters
    ----------
    n_subjects, days
        Cohort size and number of local days (from ``start``, at local midnight).
    start
        First local day.
    seed
        Everything random derives from it (``>= 0``).
    tz
        UTC offset in minutes (fixed, ``-720..840``) or an IANA zone name (with DST).
    batch
        Activity batch shape: ``"day"``, ``"hour"`` or ``"sample"`` (one epoch each).
    wear_gap_prob, nonwear_day_prob, late_upload_prob
        Per subject-day probabilities of a 1-8 h wear gap, of a day (and its night)
        without any data, and of the day's uploads arriving 24-72 h late.
    duplicate_prob
        Per message probability of a second, identical upload.
    rr, rr_burst_s, rr_artefact_prob, rr_day_bursts
        Nightly RR intervals on/off, burst length (s), artefacts per beat, number of
        2-min daytime bursts per day.
    sleep_episodes
        Device sleep episodes on/off.
    deteriorate
        Subject id -> :class:`Deterioration` (stored read-only).
    treat
        Subject id -> :class:`Treatment` (stored read-only): the course's clinical events
        are added to the subject's messages. Combined with a :class:`Deterioration` that
        starts after the course, it simulates a relapse after a response.
    subject_prefix
        Subject ids are ``f"{subject_prefix}-{i:03d}"`` (letters, digits, ``._-``).

    Examples
    --------
    >>> CohortSpec(n_subjects=3).days
    28
    >>> CohortSpec(batch="week")
    Traceback (most recent call last):
    ValueError: batch: must be 'day', 'hour' or 'sample', got 'week'
    """

    n_subjects: int = 8
    days: int = 28
    start: dt.date = dt.date(2024, 1, 1)
    seed: int = 0
    tz: str | int = 60
    batch: Literal["day", "hour", "sample"] = "day"
    wear_gap_prob: float = 0.1
    nonwear_day_prob: float = 0.02
    late_upload_prob: float = 0.05
    duplicate_prob: float = 0.01
    rr: bool = True
    rr_burst_s: int = 300
    rr_artefact_prob: float = 0.005
    rr_day_bursts: int = 0
    sleep_episodes: bool = True
    deteriorate: Mapping[str, Deterioration] | None = field(default=None, hash=False)
    subject_prefix: str = "sim"
    treat: Mapping[str, Treatment] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.n_subjects < 1:
            raise ValueError(f"n_subjects: must be >= 1, got {self.n_subjects}")
        if self.days < 1:
            raise ValueError(f"days: must be >= 1, got {self.days}")
        if self.seed < 0:
            raise ValueError(f"seed: must be >= 0, got {self.seed}")
        if self.batch not in ("day", "hour", "sample"):
            raise ValueError(f"batch: must be 'day', 'hour' or 'sample', got {self.batch!r}")
        for name in (
            "wear_gap_prob",
            "nonwear_day_prob",
            "late_upload_prob",
            "duplicate_prob",
            "rr_artefact_prob",
        ):
            _prob(name, getattr(self, name))
        if not 10 <= self.rr_burst_s <= 86_400:
            raise ValueError(f"rr_burst_s: must be 10..86400 s, got {self.rr_burst_s}")
        if not 0 <= self.rr_day_bursts <= 48:
            raise ValueError(f"rr_day_bursts: must be 0..48, got {self.rr_day_bursts}")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,40}", self.subject_prefix):
            raise ValueError(
                f"subject_prefix: must be 1-40 of [A-Za-z0-9._-], got {self.subject_prefix!r}"
            )
        _Clock(self.tz)  # validates tz
        if self.deteriorate is not None:
            object.__setattr__(self, "deteriorate", MappingProxyType(dict(self.deteriorate)))
        if self.treat is not None:
            object.__setattr__(self, "treat", MappingProxyType(dict(self.treat)))
        ids = set(subject_ids(self))
        for sid in self.deteriorate or {}:
            if sid not in ids:
                raise ValueError(f"deteriorate: {sid!r} is not a subject of this cohort")
        for sid in self.treat or {}:
            if sid not in ids:
                raise ValueError(f"treat: {sid!r} is not a subject of this cohort")


def subject_ids(spec: CohortSpec) -> list[str]:
    """Pseudonymous subject ids of a cohort, in subject order.

    Examples
    --------
    >>> subject_ids(CohortSpec(n_subjects=2))
    ['sim-001', 'sim-002']
    """
    width = max(3, len(str(spec.n_subjects)))
    return [f"{spec.subject_prefix}-{i + 1:0{width}d}" for i in range(spec.n_subjects)]


class Upload(NamedTuple):
    """A message and the instant (UTC) it reaches the ingest."""

    arrival: dt.datetime
    message: SimMessage


# --------------------------------------------------------------------------- time zone


class _Clock:
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
        off = (_EPOCH + dt.timedelta(minutes=minute)).astimezone(self.zone).utcoffset()
        assert off is not None
        secs = int(off.total_seconds())
        if secs % 60:
            raise ValueError("tz: offsets with seconds are not supported")
        return secs // 60

    def to_utc(self, day: dt.date, wall_min: int) -> int:
        """UTC minute of local wall-clock ``wall_min`` minutes after ``day``'s midnight."""
        if self.fixed is not None:
            return (day - _EPOCH.date()).days * 1440 + wall_min - self.fixed
        naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=wall_min)
        return (naive.replace(tzinfo=self.zone) - _EPOCH) // dt.timedelta(minutes=1)

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


def _iso_utc(ms: int) -> str:
    t = _EPOCH + dt.timedelta(milliseconds=ms)
    if ms % 1000:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class _Subject:
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
class _Night:
    n: int
    bed_start: int  # UTC minutes
    sleep_on: int
    sleep_off: int
    bed_end: int
    waso: B1  # per minute of [sleep_on, sleep_off)
    hr: float
    rmssd: float


def _smooth(rng: np.random.Generator, n: int, tau: float) -> F64:
    """Unit-variance exponentially smoothed Gaussian noise (an AR(1)-like series)."""
    width = int(4 * tau) + 1
    kernel = np.exp(-np.arange(width) / tau)
    kernel /= math.sqrt(float(np.sum(kernel * kernel)))
    white = rng.standard_normal(n + width - 1)
    return np.convolve(white, kernel, mode="valid")


class _Group(Protocol):
    def build(self, i: int) -> SimMessage: ...


@dataclass(frozen=True)
class _ActivityGroup:
    sid: str
    clock: _Clock
    a0: int  # UTC minute of counts[0]
    counts: F64  # NaN = missing
    chunks: list[tuple[int, int, int]]  # (index start, index end, offset)

    def build(self, i: int) -> ActivityBatch:
        lo, hi, off = self.chunks[i]
        seg = self.counts[lo:hi]
        values: list[float | None] = list(seg.tolist())
        nan = np.isnan(seg)
        if nan.any():
            edges = np.flatnonzero(np.diff(np.concatenate(([False], nan, [False])).astype(np.int8)))
            for s, e in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
                values[s:e] = [None] * (e - s)
        minute = self.a0 + lo
        return ActivityBatch(
            event_id=f"{self.sid}:activity:{_iso_utc(minute * _MS_MIN)}",
            subject_id=self.sid,
            source=ACTIVITY_SOURCE,
            tz_offset_min=off,
            start=(_EPOCH + dt.timedelta(minutes=minute)).astimezone(self.clock.tzinfo(off)),
            epoch_s=60,
            counts=values,
        )


@dataclass(frozen=True)
class _HeartGroup:
    sid: str
    clock: _Clock
    first_ms: I64  # first beat of each burst, UTC ms
    bounds: I64  # burst i holds rr[bounds[i]:bounds[i + 1]]
    last_ms: I64  # last beat of each burst, UTC ms
    offsets: I64
    rr: NDArray[np.uint16]

    def build(self, i: int) -> HeartBeatBatch:
        ms = int(self.first_ms[i])
        off = int(self.offsets[i])
        return HeartBeatBatch(
            event_id=f"{self.sid}:heartbeat:{_iso_utc(ms)}",
            subject_id=self.sid,
            source=HEART_SOURCE,
            tz_offset_min=off,
            first_beat=(_EPOCH + dt.timedelta(milliseconds=ms)).astimezone(self.clock.tzinfo(off)),
            rr_ms=self.rr[int(self.bounds[i]) : int(self.bounds[i + 1])].tolist(),
        )


@dataclass(frozen=True)
class _SleepGroup:
    sid: str
    clock: _Clock
    night: _Night

    def build(self, i: int) -> SleepEpisode:
        nt = self.night
        off_start, off_end = self.clock.offset(nt.bed_start), self.clock.offset(nt.bed_end)
        waso = int(nt.waso.sum())
        tst = nt.sleep_off - nt.sleep_on - waso
        return SleepEpisode(
            event_id=f"{self.sid}:sleep:{_iso_utc(nt.bed_start * _MS_MIN)}",
            subject_id=self.sid,
            source=ACTIVITY_SOURCE,
            tz_offset_min=off_end,
            start=(_EPOCH + dt.timedelta(minutes=nt.bed_start)).astimezone(
                self.clock.tzinfo(off_start)
            ),
            end=(_EPOCH + dt.timedelta(minutes=nt.bed_end)).astimezone(self.clock.tzinfo(off_end)),
            is_main_sleep=True,
            tst_min=float(tst),
            waso_min=float(waso),
            latency_min=float(nt.sleep_on - nt.bed_start),
            efficiency_pct=round(100.0 * tst / (nt.bed_end - nt.bed_start), 1),
        )


class _Clinical(NamedTuple):
    minute: int  # UTC minute it happened
    kind: Literal["treatment_session", "course_end", "response", "self_report"]
    modality: Modality | None = None
    score: float | None = None


@dataclass(frozen=True)
class _ClinicalGroup:
    sid: str
    clock: _Clock
    events: list[_Clinical]

    def build(self, i: int) -> ClinicalEvent:
        ev = self.events[i]
        off = self.clock.offset(ev.minute)
        return ClinicalEvent(
            event_id=f"{self.sid}:clinical:{ev.kind}:{_iso_utc(ev.minute * _MS_MIN)}",
            subject_id=self.sid,
            source=CLINIC_SOURCE,
            tz_offset_min=off,
            at=(_EPOCH + dt.timedelta(minutes=ev.minute)).astimezone(self.clock.tzinfo(off)),
            kind=ev.kind,
            modality=ev.modality,
            instrument="PHQ-9" if ev.kind == "self_report" else None,
            score=ev.score,
        )


_Item = tuple[int, _Group, int]  # (arrival UTC ms, group, index in group)


class _Cohort:
    def __init__(self, spec: CohortSpec) -> None:
        self.spec = spec
        self.clock = _Clock(spec.tz)
        self.subjects = [self._subject(i, sid) for i, sid in enumerate(subject_ids(spec))]
        self._nights: list[dict[int, _Night]] = [{} for _ in self.subjects]

    def rng(self, stream: int, subject: int, k: int = 0) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.spec.seed, stream, subject, k]))

    def midnight(self, day: int) -> int:
        return self.clock.to_utc(self.spec.start + dt.timedelta(days=day), 0)

    # ---- subjects and nights

    def _subject(self, idx: int, sid: str) -> _Subject:
        r = self.rng(_S_SUBJECT, idx)
        return _Subject(
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
            day_sd=float(r.uniform(0.15, 0.3)),
            hr=float(np.clip(r.normal(58, 6), 47, 80)),
            rmssd=float(np.clip(np.exp(r.normal(math.log(40), 0.35)), 12, 120)),
            resp_hz=float(r.uniform(0.2, 0.3)),
            det=(self.spec.deteriorate or {}).get(sid),
            treat=(self.spec.treat or {}).get(sid),
        )

    def night(self, sub: _Subject, n: int) -> _Night:
        cache = self._nights[sub.idx]
        got = cache.get(n)
        if got is None:
            got = cache[n] = self._make_night(sub, n)
            for old in [k for k in cache if k < n - 3]:
                del cache[old]
        return got

    def _make_night(self, sub: _Subject, n: int) -> _Night:
        r = self.rng(_S_NIGHT, sub.idx, n + 2)
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
        return _Night(n, on - latency, on, off, off + snooze, waso, float(hr), float(rmssd))

    # ---- signals

    def activity(self, sub: _Subject, d: int, t: I64) -> tuple[F64, B1]:
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

        r = self.rng(_S_DAY, sub.idx, d)
        day_level = math.exp(sub.day_sd * float(r.standard_normal()))
        day_drive = 0.3 * float(r.standard_normal())
        # latent propensity: a 10-min and a 60-min component (the slow one on a 10-min grid)
        coarse = _smooth(r, n // 10 + 2, 6.0)
        latent = 0.8 * _smooth(r, n, 10.0) + 0.6 * np.repeat(coarse, 10)[:n]
        wobble = _smooth(r, n, 6.0)
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
        moving = in_bed & np.where(asleep, latent > 0.92, latent > -0.25)
        log_c = np.where(
            active,
            math.log(310) + 0.5 * wobble + 0.45 * g,
            np.where(fidget, math.log(35) + g, np.where(asleep, math.log(50), math.log(100)) + g),
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
        tm = np.arange(n_min) * float(_MS_MIN)
        hr_m = hr0 + 10.0 * awake_min + 2.0 * _smooth(r, n_min, 5.0)
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
        per_min = np.full(n_min, float(_MS_MIN))
        per_min[0] -= t0_ms % _MS_MIN
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

    def bursts(self, sub: _Subject, t0_ms: int, rr: I64) -> _HeartGroup:
        """Cut a recording into bursts on the UTC ``rr_burst_s`` grid and at offset changes."""
        beats = t0_ms + np.concatenate(([0], np.cumsum(rr)))
        ends = beats[1:]
        key = ends // (self.spec.rr_burst_s * 1000)
        segs = self.clock.segments(t0_ms // _MS_MIN, int(beats[-1]) // _MS_MIN + 1)
        seg_starts = np.array([s[0] * _MS_MIN for s in segs[1:]], dtype=np.int64)
        seg_idx = np.searchsorted(seg_starts, ends, side="right")
        cut = np.flatnonzero((np.diff(key) != 0) | (np.diff(seg_idx) != 0)) + 1
        bounds = np.concatenate(([0], cut, [rr.size])).astype(np.int64)
        seg_off = np.array([s[2] for s in segs], dtype=np.int64)
        return _HeartGroup(
            sid=sub.sid,
            clock=self.clock,
            first_ms=beats[bounds[:-1]],
            bounds=bounds,
            last_ms=beats[bounds[1:]],
            offsets=seg_off[seg_idx[bounds[:-1]]],
            rr=rr.astype(np.uint16),
        )

    def _chunks(self, a: int, b: int, counts: F64) -> list[tuple[int, int, int]]:
        mode = self.spec.batch
        out: list[tuple[int, int, int]] = []
        for s, e, off in self.clock.segments(a, b):
            if mode == "day":
                edges = [s, e]
            elif mode == "hour":
                first = s + (-(s + off)) % 60
                edges = [s, *range(first if first > s else first + 60, e, 60), e]
            else:
                edges = list(range(s, e + 1))
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                if mode == "day" or not np.isnan(counts[lo - a : hi - a]).all():
                    out.append((lo - a, hi - a, off))
        return out

    # ---- one subject-day: its messages in arrival order

    def subject_day(self, sub: _Subject, d: int) -> Iterator[_Item]:
        """Messages of local day ``d`` and of night ``d`` of one subject, by arrival."""
        spec = self.spec
        p = self.rng(_S_PERTURB, sub.idx, d)
        nonwear = float(p.random()) < spec.nonwear_day_prob
        gap = float(p.random()) < spec.wear_gap_prob
        gap_pos, gap_len = float(p.random()), int(p.integers(60, 481))
        late = float(p.random()) < spec.late_upload_prob
        late_ms = int(p.uniform(24, 72) * _HOUR_MS)
        # Arrival draws come from the stream that made the message (RR) or, for activity
        # and sleep, from `p` after a fixed number of draws (sleep first: its count is
        # fixed), so switching one kind of message on or off moves no other arrival.
        sleep_u = p.random(3)

        groups: list[_Group] = []
        when: list[I64] = []  # per group: arrival (UTC ms) of each of its messages
        again: list[I64] = []  # per group: arrival of the duplicate, -1 if none

        def add(
            group: _Group,
            ends: I64,
            u: F64 | None,
            r: np.random.Generator,
            lag: tuple[float, float],
        ) -> None:
            """Queue a group's messages; ``u`` (3 uniforms per message) or ``r`` draws them."""
            if u is None:
                u = r.random((3, ends.size))
            u = u.reshape(3, ends.size)
            lo, hi = lag
            at = ends + np.rint(lo + u[0] * (hi - lo)).astype(np.int64)
            at += late_ms if late else 0
            dup = u[1] < spec.duplicate_prob
            dup_at = at + np.rint(_MS_MIN + u[2] * (12 * _HOUR_MS - _MS_MIN)).astype(np.int64)
            groups.append(group)
            when.append(at)
            again.append(np.where(dup, dup_at, -1))

        if nonwear:
            return
        a, b = self.midnight(d), self.midnight(d + 1)
        counts, awake = self.activity(sub, d, np.arange(a, b, dtype=np.int64))
        if gap:
            idx = np.flatnonzero(awake)
            if idx.size:
                s = int(idx[min(int(gap_pos * idx.size), idx.size - 1)])
                bed = np.flatnonzero(~awake[s:])
                e = min(s + gap_len, s + int(bed[0]) if bed.size else b - a)
                counts[s:e] = np.nan
                awake[s:e] = False
        chunks = self._chunks(a, b, counts)
        if chunks:
            ends = np.array([(a + c[1]) * _MS_MIN for c in chunks], dtype=np.int64)
            lag = {"day": (5.0, 120.0), "hour": (1.0, 15.0), "sample": (0.0, 0.0)}[spec.batch]
            add(
                _ActivityGroup(sub.sid, self.clock, a, counts, chunks),
                ends,
                None,
                p,
                (lag[0] * _MS_MIN, lag[1] * _MS_MIN),
            )
        if spec.rr and spec.rr_day_bursts:
            rd = self.rng(_S_RR_DAY, sub.idx, d)
            idx = np.flatnonzero(awake[:-3])
            for w in rd.random(spec.rr_day_bursts).tolist() if idx.size else []:
                t0 = (a + int(idx[min(int(w * idx.size), idx.size - 1)])) * _MS_MIN
                t0 += int(rd.integers(0, _MS_MIN))
                hr = sub.hr + 18 + 5 * float(rd.standard_normal())
                rr = self.beats(
                    rd,
                    t0,
                    t0 + 120_000,
                    hr,
                    0.6 * sub.rmssd,
                    sub.resp_hz,
                    np.ones(4, dtype=np.bool_),
                    night=False,
                )
                if rr.size:
                    hg = self.bursts(sub, t0, rr)
                    add(hg, hg.last_ms, None, rd, (1_000.0, 30_000.0))
        if d <= spec.days - 2:
            nt = self.night(sub, d)
            if spec.sleep_episodes:
                add(
                    _SleepGroup(sub.sid, self.clock, nt),
                    np.array([nt.bed_end * _MS_MIN], dtype=np.int64),
                    sleep_u,
                    p,
                    (5.0 * _MS_MIN, 60.0 * _MS_MIN),
                )
            if spec.rr:
                rn = self.rng(_S_RR, sub.idx, d)
                t0 = nt.bed_start * _MS_MIN + int(rn.integers(0, _MS_MIN))
                awake_min = np.ones(nt.bed_end - nt.bed_start + 1, dtype=np.bool_)
                lat = nt.sleep_on - nt.bed_start
                awake_min[lat : lat + nt.waso.size] = nt.waso
                rr = self.beats(
                    rn,
                    t0,
                    nt.bed_end * _MS_MIN,
                    nt.hr,
                    nt.rmssd,
                    sub.resp_hz,
                    awake_min,
                    night=True,
                )
                if rr.size:
                    hg = self.bursts(sub, t0, rr)
                    add(hg, hg.last_ms, None, rn, (1_000.0, 30_000.0))
        if not groups:
            return
        sizes = [w.size for w in when]
        gid = np.repeat(np.arange(len(groups)), sizes)
        iid = np.concatenate([np.arange(n) for n in sizes])
        dup_at = np.concatenate(again)
        dup = dup_at >= 0
        arrival = np.concatenate([*when, dup_at[dup]])
        gid = np.concatenate((gid, gid[dup]))
        iid = np.concatenate((iid, iid[dup]))
        order = np.argsort(arrival, kind="stable")
        for lo in range(0, order.size, 512):
            sel = order[lo : lo + 512]
            for at, g, i in zip(
                arrival[sel].tolist(), gid[sel].tolist(), iid[sel].tolist(), strict=True
            ):
                yield at, groups[g], i

    def clinical_day(self, sub: _Subject, d: int) -> Iterator[_Item]:
        """Clinical events of local day ``d`` of a treated subject, by arrival.

        They come from the clinic, not the wearable: never late, duplicated or dropped with
        the device's data. Each arrives 1-30 min after it happened (from its own random
        stream, so a treatment moves no device message); the events of a day are at least
        60 min apart, so arrival keeps their order.
        """
        t = sub.treat
        if t is None:
            return
        r = self.rng(_S_CLINIC, sub.idx, d)
        noise = float(r.standard_normal())
        lags = r.integers(1, 31, 4)
        date = self.spec.start + dt.timedelta(days=d)
        events: list[_Clinical] = []

        def at(offset_min: int) -> int:
            return self.clock.to_utc(date, t.session_minute + offset_min)

        if (d - t.start_day) % t.report_every_days == 0:
            score = t.phq9(d, sub.det.day if sub.det else None) + t.phq9_sd * noise
            score = float(min(max(round(score), 0), 27))
            events.append(_Clinical(at(-60), "self_report", score=score))
        if d in t.session_days():
            events.append(_Clinical(at(0), "treatment_session", modality=t.modality))
        if t.response_after_days is not None and d == t.last_day + t.response_after_days:
            events.append(_Clinical(at(60), "response"))
        if t.course_end and d == t.last_day:
            events.append(_Clinical(at(120), "course_end"))
        if not events:
            return
        group = _ClinicalGroup(sub.sid, self.clock, events)
        for i, ev in enumerate(events):
            yield (ev.minute + int(lags[i])) * _MS_MIN, group, i


def simulate_timed(spec: CohortSpec) -> Iterator[Upload]:
    """Like :func:`simulate`, also yielding each message's arrival instant (UTC).

    Arrival instants never decrease.

    Examples
    --------
    >>> ups = list(simulate_timed(CohortSpec(n_subjects=1, days=2, rr=False)))
    >>> [u.message.type for u in ups]
    ['activity', 'sleep', 'activity']
    >>> all(a.arrival <= b.arrival for a, b in zip(ups, ups[1:]))
    True
    """
    cohort = _Cohort(spec)
    carry: list[_Item] = []
    for d in range(spec.days):
        # Everything produced from day d+1 on ends after local midnight d+1, so whatever
        # arrives by then can be released now; the rest waits (lazily built) in `carry`.
        watermark = cohort.midnight(d + 1) * _MS_MIN
        streams = [cohort.subject_day(sub, d) for sub in cohort.subjects]
        streams += [cohort.clinical_day(sub, d) for sub in cohort.subjects if sub.treat]
        pending: list[_Item] = []
        for item in heapq.merge(carry, *streams, key=itemgetter(0)):
            if item[0] <= watermark:  # merged items come sorted: once over, always over
                yield Upload(_EPOCH + dt.timedelta(milliseconds=item[0]), item[1].build(item[2]))
            else:
                pending.append(item)
        carry = pending
    for arr, group, i in carry:
        yield Upload(_EPOCH + dt.timedelta(milliseconds=arr), group.build(i))


def simulate(spec: CohortSpec) -> Iterator[SimMessage]:
    """Yield the cohort's messages in upload (arrival) order; see the module docstring.

    Examples
    --------
    >>> spec = CohortSpec(n_subjects=2, days=2, seed=7)
    >>> [m.event_id for m in simulate(spec)] == [m.event_id for m in simulate(spec)]
    True
    """
    for upload in simulate_timed(spec):
        yield upload.message


def write_jsonl(messages: Iterable[SimMessage], path: str | os.PathLike[str]) -> int:
    """Write one ``encode(message)`` line per message to ``path``; return the count.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = pathlib.Path(tmp) / "cohort.jsonl"
    ...     n = write_jsonl(simulate(CohortSpec(n_subjects=1, days=2)), out)
    ...     n == len(out.read_bytes().splitlines())
    True
    """
    n = 0
    with open(path, "wb", buffering=1 << 20) as fh:
        for msg in messages:
            fh.write(encode(msg))
            fh.write(b"\n")
            n += 1
    return n


#: The subject of :func:`demo_spec` who responds to a ketamine course and then relapses.
DEMO_RELAPSING = "sim-004"
#: Default seed of :func:`demo_spec` (see there why).
DEMO_SEED = 9


def demo_spec(seed: int = DEMO_SEED, *, rr: bool = False) -> CohortSpec:
    """The cohort of ``phenotyping demo``.

    Six subjects over 84 days (2024-01-01 to 2024-03-24, fixed UTC+1) with the default
    imperfect uploads (wear gaps, days off the wrist, late and duplicated uploads). Five
    stay stable. :data:`DEMO_RELAPSING` is depressed at first (activity 20 % lower), gets
    a ketamine course of 6 sessions every 3 days from day 14 (2024-01-15; PHQ-9 20 -> 7,
    reported weekly), and relapses from day 56 (2024-02-26): daily activity 35 % lower
    and the whole rest-activity cycle 120 min later, PHQ-9 climbing back over 3 weeks.

    RR intervals are off by default: with them the replay takes about 10 times longer
    (about 25 s instead of 2-3 s on a 2-core machine). :data:`DEMO_SEED` is a seed whose
    five stable subjects raise no alert; the engine does raise occasional false alarms on
    stable simulated subjects (one episode in 1-2 of the 5 on about half of the seeds
    0-9), so another seed may show one.

    Examples
    --------
    >>> spec = demo_spec()
    >>> spec.n_subjects, spec.days, sorted(spec.treat or {}), sorted(spec.deteriorate or {})
    (6, 84, ['sim-004'], ['sim-004'])
    """
    return CohortSpec(
        n_subjects=6,
        days=84,
        seed=seed,
        rr=rr,
        treat={
            DEMO_RELAPSING: Treatment(
                start_day=14,
                modality="ketamine",
                sessions=6,
                every_days=3,
                phq9_before=20,
                phq9_after=7,
                pre_activity_factor=0.8,
            )
        },
        deteriorate={DEMO_RELAPSING: Deterioration(day=56, activity_factor=0.65, shift_min=120)},
    )

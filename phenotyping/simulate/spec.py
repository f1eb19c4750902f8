"""What to simulate: the cohort, its treatments and deteriorations, and the demo cohort.

The model behind each knob is described in :mod:`phenotyping.simulate.physiology` (the
signals) and :mod:`phenotyping.simulate.uploads` (how they arrive).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from phenotyping.events import (
    Modality,
)
from phenotyping.simulate.clock import Clock

#: ``source`` of the activity batches and of the device sleep episodes.
ACTIVITY_SOURCE = "sim-actiwatch"
#: ``source`` of the RR bursts.
HEART_SOURCE = "sim-hrm"
#: ``source`` of the clinical events (treatment sessions, self-reports).
CLINIC_SOURCE = "sim-clinic"

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
        Clock(self.tz)  # validates tz
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
    (about 25 s instead of 2-3 s on a 2-core machine). :data:`DEMO_SEED` (9) was chosen
    for the previous risk engine, on which its five stable subjects raised no alert. The
    calibrated engine (issue 10) raises false episodes on stable subjects at about the
    rate it has on real controls: over seeds 0-10, 24 episodes in 4,620 stable
    person-days (0.47 per 90, exact 95% CI 0.30-0.70, risk configuration 4bb555bf01dc;
    0.34 on the real-control surrogates), so the demo usually shows a few (4 on seed 9);
    the seed was not changed to hide them. See ``docs/evaluation.md``.

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

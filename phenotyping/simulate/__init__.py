"""Deterministic synthetic cohort: the wire messages a group of wearers would upload.

:func:`simulate` yields :mod:`phenotyping.events` messages (:class:`ActivityBatch`,
:class:`HeartBeatBatch`, :class:`SleepEpisode`, and :class:`ClinicalEvent` for treated
subjects) for ``n_subjects`` pseudonymous subjects
(``sim-001``, ``sim-002``...) over ``days`` local days, **in upload (arrival) order**, as
a lazy iterator. :func:`write_jsonl` writes them one :func:`phenotyping.events.encode`
line per message.


Modules: ``spec`` (what to simulate: :class:`CohortSpec`, :class:`Treatment`,
:class:`Deterioration`, :func:`demo_spec`), ``physiology`` (the signals: sleep, activity,
RR intervals), ``clock`` (time-zone arithmetic), ``uploads`` (batches, imperfect uploads,
arrival order, :func:`simulate`). Besides :mod:`phenotyping.events` only NumPy and the
standard library are used; generation is vectorised per subject-day and per night, and
holds about one day of data per subject in memory.

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

from phenotyping.simulate.spec import (
    ACTIVITY_SOURCE,
    CLINIC_SOURCE,
    DEMO_RELAPSING,
    DEMO_SEED,
    HEART_SOURCE,
    CohortSpec,
    Deterioration,
    Treatment,
    demo_spec,
    subject_ids,
)
from phenotyping.simulate.uploads import SimMessage, Upload, simulate, simulate_timed, write_jsonl

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

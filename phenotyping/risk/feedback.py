"""Clinician feedback: what an acknowledgement's reason does to the engine.

A clinician acknowledges an alert with a reason (``ClinicalEvent(kind="feedback")``:
``reason``, optional ``until`` = the last local day it applies to). The engine
(:meth:`phenotyping.risk.engine.RiskState.clinical`) applies it on the event's local date
and answers with a ``feedback_applied`` notice that says what it changed (the audit
trail); every later alert it touches says so too.

The *acknowledged episode* is the open episode, or, when none is open, the last one if it
closed within ``washout_days`` of the event (an acknowledgement of a resolved alert).

``holiday_travel``, ``illness``, ``device_problem`` with ``until``: an explained period
    The period runs from the acknowledged episode's start (the day the deviation began, as
    the alert says) -- or the event's own date when there is no such episode -- to
    ``until`` (without it: 7 days from the event). Its days are left out of the personal
    baseline and add no evidence: every signal's CUSUM restarts at 0 when the period began
    before the event (what it had gathered came from those days) and stays unchanged on
    every day of the period, so nothing explained opens or escalates an episode. The
    acknowledged episode stays open (the feed keeps its card) until the period is over; on
    the first day after it the episode resolves *as explained* -- without the week of
    cooldown that follows other episodes -- and the days after the period are judged
    against the baseline pinned before it (the period's days never enter it): coming home
    from a trip is not a new alert, a relapse that starts after it is.
``device_problem`` without ``until``: a lasting device change
    The baseline re-anchors on the new device: from the acknowledged episode's start (or
    the event's date) the person's days are the usual range again (the short warm-up with
    the population prior while fewer than ``min_baseline_days`` exist) and the days before
    are no longer used; the CUSUMs restart and the acknowledged episode resolves as
    explained on the next day judged.
``contacted_fine``
    The same pattern -- the signals that opened the acknowledged episode or carry evidence
    now (every signal when there is no episode) -- needs ``contacted_fine_factor`` times
    the evidence above the floor (:func:`damp`) from the event to ``until``, or, without
    it, until ``contacted_fine_days`` after the acknowledged episode resolves (from the
    event when there is none). The episode stays open and resolves like any other.
``contacted_deteriorating``
    Ends an explained period or a ``contacted_fine`` allowance from that day on (days
    already left out stay out; an explained episode then resolves like any other); named
    on the next alerts.
``other``
    Named on the next alerts; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from phenotyping.features.time import iso_date
from phenotyping.risk.wording import FEEDBACK_TEXT

#: reasons that explain a period of ordinary life (its days are left out, add no evidence)
EXPLAINING = ("holiday_travel", "illness", "device_problem")
#: how long a reason without ``until`` applies (holiday, illness, a note on alerts), days
DEFAULT_DAYS = 7


def label(reason: str) -> str:
    """The reason as the clinician reads it.

    >>> label("holiday_travel"), label("something new")
    ('holiday or travel reported', 'something new')
    """
    return FEEDBACK_TEXT.get(reason, reason)


def period_text(reason: str, start: int, end: int) -> str:
    """What an explained period does, in one clause.

    >>> period_text("illness", 19_800, 19_803).split(":")[0]
    'physical illness reported, 2024-03-18 to 2024-03-21'
    """
    return (
        f"{label(reason)}, {iso_date(start)} to {iso_date(end)}: these days are left out of "
        "the usual range and add no evidence"
    )


def reanchor_text(start: int) -> str:
    """What a lasting device change does.

    >>> reanchor_text(19_800).split(": ")[1]
    'the usual range is rebuilt from the days since 2024-03-18 (new device)'
    """
    return (
        f"{label('device_problem')}, no end date: the usual range is rebuilt from the days "
        f"since {iso_date(start)} (new device)"
    )


def fine_text(date: int, factor: float, domains: Sequence[str], until: int, after: int) -> str:
    """What ``contacted_fine`` does (``after``: its days after the acknowledged episode
    resolves, 0 when it ends on ``until`` only).

    >>> t = fine_text(19_800, 1.5, ["sleep"], 19_813, 14)
    >>> for part in t.split(": ")[1].split(", "):
    ...     print(part)
    the same pattern (sleep) needs 1.5 x the evidence to alert again
    until 2024-03-31 or 14 days after this episode resolves
    whichever is later
    """
    what = ", ".join(domains) if domains else "any signal"
    text = (
        f"{label('contacted_fine')} on {iso_date(date)}: the same pattern ({what}) needs "
        f"{factor:g} x the evidence to alert again, until {iso_date(until)}"
    )
    if after:
        text += f" or {after} days after this episode resolves, whichever is later"
    return text


def damp(
    c: NDArray[np.float64], mask: NDArray[np.bool_], floor: float, factor: float
) -> NDArray[np.float64]:
    """CUSUMs with the evidence above the floor of the ``mask`` signals divided by
    ``factor`` (for a sum of one signal: the same as ``factor`` x ``h``).

    >>> damp(np.array([4.0, 4.0, 1.0]), np.array([True, False, True]), 1.0, 1.5).tolist()
    [3.0, 4.0, 1.0]
    """
    out = np.asarray(c, dtype=np.float64).copy()
    hit = mask & (out > floor)
    out[hit] = floor + (out[hit] - floor) / factor
    return out

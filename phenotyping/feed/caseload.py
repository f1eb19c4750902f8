"""The caseload: one row per patient on a clinician's roster, alerted or not.

For each patient: when data last arrived, how many of the last 7 and 28 days were worn
enough to count, the open alert and its level, the last treatment session, the newest
self-report (from the daily rows' clinical context, so never frozen at an alert's date), and
whether the workers have sent a data-gap notice that still holds.

"Today" is the feed's event-time clock (:meth:`FeedStore.data_clock`, the newest day any
patient has data for, or a newer data-gap notice), not the wall clock: a replay of old
recordings reads the same as a live deployment, where the two agree. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from phenotyping.feed.store import FeedStore
from phenotyping.feed.triage import LEVEL_RANK, triage_order

#: a patient with no data for this many days is flagged even before a data-gap notice
#: arrives (the workers send one after ``gap_notice_days``)
STALE_DAYS = 3


@dataclass(frozen=True)
class CaseRow:
    """One patient of the caseload (module docstring)."""

    subject_id: str
    as_of: dt.date | None
    last_data: dt.date | None
    worn_7: int
    worn_28: int
    level: str | None
    score: float | None
    alert_date: dt.date | None
    episode: str | None
    acknowledged: bool | None
    last_session: dt.date | None
    session_modality: str | None
    self_report: str | None
    self_report_date: dt.date | None
    gap_since: dt.date | None
    #: the newest episode was closed still deviating, and nothing is open: since when
    closed_unresolved: dt.date | None = None

    @property
    def days_without_data(self) -> int | None:
        if self.as_of is None:
            return None
        if self.last_data is None:
            return None
        return (self.as_of - self.last_data).days

    @property
    def data_state(self) -> str:
        """``gap`` (a data-gap notice holds), ``stale`` (no data for :data:`STALE_DAYS`
        days or more), ``none`` (never any data) or ``ok``."""
        if self.gap_since is not None:
            return "gap"
        if self.last_data is None:
            return "none"
        n = self.days_without_data
        return "stale" if n is not None and n >= STALE_DAYS else "ok"

    def to_json(self) -> dict[str, Any]:
        def iso(d: dt.date | None) -> str | None:
            return d.isoformat() if d is not None else None

        return {
            "subject_id": self.subject_id,
            "as_of": iso(self.as_of),
            "last_data": iso(self.last_data),
            "days_without_data": self.days_without_data,
            "worn_last_7": self.worn_7,
            "worn_last_28": self.worn_28,
            "open_alert": None
            if self.level is None
            else {
                "level": self.level,
                "score": self.score,
                "date": iso(self.alert_date),
                "episode": self.episode,
                "acknowledged": self.acknowledged,
            },
            "last_session": iso(self.last_session),
            "last_session_modality": self.session_modality,
            "latest_self_report": self.self_report,
            "latest_self_report_date": iso(self.self_report_date),
            "data_state": self.data_state,
            "data_gap_since": iso(self.gap_since),
            "closed_unresolved": iso(self.closed_unresolved),
        }


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def case_row(store: FeedStore, subject: str, as_of: dt.date | None) -> CaseRow:
    """The caseload row of one patient."""
    eps = store.subject_episodes(subject)
    open_eps = [ep for ep in eps if ep.resolved is None]
    cur = triage_order(open_eps)[0].current if open_eps else None
    ctx = store.context(subject)
    last_session = ctx.get("ctx_last_session")
    modality = ctx.get("ctx_last_session_modality")
    report, report_date = None, ctx.get("ctx_self_report_date")
    if ctx.get("ctx_self_report_instrument") and ctx.get("ctx_self_report_score") is not None:
        report = f"{ctx['ctx_self_report_instrument']} {_num(ctx['ctx_self_report_score'])}"
    # an alert newer than the daily rows may know more (or the rows may predate ctx_*)
    newest = max((e for ep in eps for e in ep.entries), key=lambda e: e.alert.date, default=None)
    if newest is not None:
        a = newest.alert
        if a.days_since_last_session is not None:
            at_alert = a.date - dt.timedelta(days=a.days_since_last_session)
            if last_session is None or at_alert > last_session:
                last_session, modality = at_alert, a.last_session_modality
        sr = a.self_report or {}
        try:
            sr_date = dt.date.fromisoformat(str(sr.get("date")))
        except ValueError:
            sr_date = None
        if sr_date is not None and (report_date is None or sr_date > report_date):
            report, report_date = f"{sr.get('instrument', '')} {sr.get('score', '')}", sr_date
            if isinstance(sr.get("score"), float):
                report = f"{sr.get('instrument', '')} {_num(float(sr['score']))}"
    worn_7 = worn_28 = 0
    if as_of is not None:
        worn_7 = store.wear(subject, as_of, 7)[0]
        worn_28 = store.wear(subject, as_of, 28)[0]
    gap = store.gap(subject)
    unresolved = None
    if not open_eps and eps and eps[0].closed_unresolved and eps[0].resolved is not None:
        unresolved = eps[0].resolved.alert.date
    return CaseRow(
        subject_id=subject,
        as_of=as_of,
        last_data=store.latest_day(subject),
        worn_7=worn_7,
        worn_28=worn_28,
        level=cur.alert.level if cur else None,
        score=cur.alert.score if cur else None,
        alert_date=cur.alert.date if cur else None,
        episode=f"{cur.alert.subject_id}_{cur.alert.episode_start.isoformat()}" if cur else None,
        acknowledged=bool(cur.acks) if cur else None,
        last_session=last_session if isinstance(last_session, dt.date) else None,
        session_modality=modality if isinstance(modality, str) else None,
        self_report=report,
        self_report_date=report_date if isinstance(report_date, dt.date) else None,
        gap_since=(gap.gap_start or gap.date) if gap is not None else None,
        closed_unresolved=unresolved,
    )


_FAR = dt.date(1, 1, 1)
_STATE_RANK = {"gap": 3, "none": 2, "stale": 1, "ok": 0}

#: sort keys: name -> (key function, natural direction descending?)
SORTS: dict[str, tuple[Callable[[CaseRow], Any], bool]] = {
    # open alert level first, then an episode closed still deviating, then data problems,
    # then fewest worn days
    "attention": (
        lambda r: (
            LEVEL_RANK.get(r.level or "", 0),
            r.score or 0.0,
            r.closed_unresolved is not None,
            _STATE_RANK[r.data_state],
            -r.worn_7,
        ),
        True,
    ),
    "subject": (lambda r: r.subject_id, False),
    "last_data": (lambda r: r.last_data or _FAR, False),
    "worn_7": (lambda r: r.worn_7, False),
    "worn_28": (lambda r: r.worn_28, False),
    "alert": (lambda r: (LEVEL_RANK.get(r.level or "", 0), r.score or 0.0), True),
    "session": (lambda r: r.last_session or _FAR, True),
    "self_report": (lambda r: r.self_report_date or _FAR, True),
    "data_state": (lambda r: _STATE_RANK[r.data_state], True),
}


def caseload(
    store: FeedStore, subjects: Iterable[str], sort: str = "attention", reverse: bool = False
) -> list[CaseRow]:
    """Every patient of ``subjects``, sorted by ``sort`` (:data:`SORTS`; ``reverse`` flips
    its natural direction); ties by subject id."""
    if sort not in SORTS:
        raise KeyError(sort)
    as_of = store.data_clock()
    rows = sorted((case_row(store, s, as_of) for s in subjects), key=lambda r: r.subject_id)
    key, desc = SORTS[sort]
    rows.sort(key=key, reverse=desc != reverse)
    return rows


def sort_names() -> Sequence[str]:
    return tuple(SORTS)

"""The feed's memory: alerts, acknowledgements and recent daily features, bounded.

Synchronous, no I/O, no clock: the shell hands over batches of consumed records
(:class:`Incoming`) and asks for views. Everything the store keeps came from the topics,
so a restarted feed rebuilds the same store by reading them again.

Every change that is applied gets the next sequence number ``seq`` (1, 2, ...). Sequence
numbers are what ``since=`` paging and the live stream resume from: a client that has
seen ``seq`` S asks for what changed after S. They are local to one feed process (a
restarted feed numbers afresh; the stream then tells the page to reload).

Bounds: ``max_alerts`` alert messages (the oldest change is dropped first, with its
acknowledgements), ``max_subjects`` subjects' features (least recently updated dropped
first), ``history_days`` local days per subject (relative to the subject's latest row),
``max_changes`` entries in the change log, ``max_session_ends`` signed-out sessions (beyond
it the oldest are folded into a per-clinician cut-off, which can only end more sessions,
never revive one).

Sessions
    Sign-in sessions are signed cookies that any feed process with the same secret honours;
    what the store keeps is which of them were ended by signing out (``session_end``
    records of the sessions topic), so signing out on one replica ends the session on all.

Episodes
    The risk engine sends ``opened``, then possibly ``escalated``, then ``resolved`` for one
    deviation episode; all three carry the same ``subject_id`` and ``episode_start``. An
    episode is *open* until its ``resolved`` message arrives. Its *current* alert is the
    latest non-resolved message: that is the one a clinician acknowledges.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import ValidationError

from phenotyping.events import Alert, Notice
from phenotyping.feed.models import Ack, SessionEnd
from phenotyping.risk.monitor import MONITORED, Monitored, value_of

Kind = Literal["alert", "features", "ack", "notice", "session"]
Visible = Callable[[str], bool]
_KIND_ORDER = {"opened": 0, "escalated": 1, "resolved": 2}
#: how the risk engine's ``resolved`` message of an episode closed still deviating begins
CLOSED_UNRESOLVED = "Closed after "
_N = len(MONITORED)
_COLUMN = {spec.column: i for i, spec in enumerate(MONITORED)}
#: after the watched features' [value, base, scale]: the day's wear state
_VALID, _COVERAGE = 3 * _N, 3 * _N + 1
_WIDTH = 3 * _N + 2
#: the clinical context a daily row carries (the risk engine's ``ctx_*`` columns)
CONTEXT = (
    "ctx_last_session",
    "ctx_last_session_modality",
    "ctx_self_report_instrument",
    "ctx_self_report_score",
    "ctx_self_report_date",
    "tz_offset_min",
)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One consumed record: which topic it came from and its value bytes."""

    kind: Kind
    value: bytes | None


@dataclass
class AlertEntry:
    """An alert message as the feed holds it: its last-change ``seq`` and its acks."""

    seq: int
    alert: Alert
    acks: list[Ack] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON API form: ``{"seq", "alert", "acks"}``."""
        return {
            "seq": self.seq,
            "alert": self.alert.model_dump(mode="json"),
            "acks": [a.model_dump(mode="json") for a in self.acks],
        }


@dataclass(frozen=True)
class Episode:
    """The alert messages of one deviation episode of one subject, in date order."""

    subject_id: str
    start: dt.date
    entries: tuple[AlertEntry, ...]

    @property
    def resolved(self) -> AlertEntry | None:
        last = self.entries[-1]
        return last if last.alert.kind == "resolved" else None

    @property
    def closed_unresolved(self) -> bool:
        """Closed by the engine's episode time limit while the data were still away from
        the usual range (its ``resolved`` message says "Closed after ..."): not a recovery,
        and shown as such (the alert schema has no field for it; the wording is checked
        against the engine's real output in the feed's tests)."""
        r = self.resolved
        return r is not None and r.alert.explanation.startswith(CLOSED_UNRESOLVED)

    @property
    def current(self) -> AlertEntry:
        """The latest opened/escalated message (the resolved one if nothing else is kept)."""
        for entry in reversed(self.entries):
            if entry.alert.kind != "resolved":
                return entry
        return self.entries[-1]

    @property
    def last_seq(self) -> int:
        return max(e.seq for e in self.entries)

    @property
    def key(self) -> str:
        """Stable id of the episode: ``<subject>_<start>``."""
        return f"{self.subject_id}_{self.start.isoformat()}"

    def sort_key(self) -> tuple[str, int]:
        """Newest first means descending by this: (date of the latest message, its seq)."""
        last = self.entries[-1]
        return (last.alert.date.isoformat(), last.seq)


@dataclass(frozen=True)
class EngineFeedback:
    """The risk engine's ``feedback_applied`` notice: what it did with a clinician's reason
    (read from the raw record, so a feed older or newer than the engine's notice schema
    still shows it)."""

    subject_id: str
    date: dt.date
    reason: str
    applies_from: dt.date | None
    applies_until: dt.date | None
    effect: str

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> EngineFeedback:
        """From a notice record; raises ``ValueError`` naming the field."""
        subject, reason, effect = raw.get("subject_id"), raw.get("reason"), raw.get("effect")
        if not isinstance(subject, str) or not _SUBJECT.match(subject):
            raise ValueError("subject_id")
        if not isinstance(reason, str) or not _SUBJECT.match(reason):
            raise ValueError("reason")
        day = _date(raw.get("date"))
        if day is None:
            raise ValueError("date")
        if effect is not None and not isinstance(effect, str):
            raise ValueError("effect")
        return cls(
            subject,
            day,
            reason,
            _date(raw.get("applies_from")),
            _date(raw.get("applies_until")),
            (effect or "")[:500],
        )

    def to_json(self) -> dict[str, Any]:
        def iso(d: dt.date | None) -> str | None:
            return d.isoformat() if d is not None else None

        return {
            "date": self.date.isoformat(),
            "reason": self.reason,
            "applies_from": iso(self.applies_from),
            "applies_until": iso(self.applies_until),
            "effect": self.effect,
        }


_SUBJECT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: engine feedback notices kept per subject (the newest)
MAX_FEEDBACK_NOTES = 50


@dataclass(frozen=True)
class Series:
    """One watched feature of one subject, day by day (for a chart).

    ``value`` is NaN where the day has no valid value (the risk engine's rule,
    :func:`~phenotyping.risk.monitor.value_of`); ``base`` and ``scale`` are the personal
    baseline median and robust scale of that day (NaN during the warm-up).
    """

    spec: Monitored
    dates: tuple[dt.date, ...]
    value: NDArray[np.float64]
    base: NDArray[np.float64]
    scale: NDArray[np.float64]


def _date(text: object) -> dt.date | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _finite(v: Any) -> float:
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return math.nan
    f = float(v)
    return f if math.isfinite(f) else math.nan


def feature_vector(row: dict[str, Any]) -> NDArray[np.float64]:
    """``[value, base, scale]`` of every watched feature of a daily row, then the day's
    ``valid`` flag (1/0, NaN when absent) and wear ``coverage``, as one array.

    Examples
    --------
    >>> spec = MONITORED[0]
    >>> row = {spec.column: 120.0, spec.valid_flag: True, f"base_{spec.column}": 150.0,
    ...        f"scale_{spec.column}": 20.0}
    >>> feature_vector(row)[:-2].reshape(3, -1)[:, 0].tolist()
    [120.0, 150.0, 20.0]
    >>> row[spec.valid_flag] = False   # an invalid day has no value, but keeps its baseline
    >>> feature_vector(row)[:-2].reshape(3, -1)[:, 0].tolist()
    [nan, 150.0, 20.0]
    """
    out = np.full(_WIDTH, np.nan)
    for i, spec in enumerate(MONITORED):
        out[i] = value_of(spec, row)
        out[_N + i] = _finite(row.get(f"base_{spec.column}"))
        out[2 * _N + i] = _finite(row.get(f"scale_{spec.column}"))
    valid = row.get("valid")
    if isinstance(valid, bool):
        out[_VALID] = float(valid)
    out[_COVERAGE] = _finite(row.get("coverage"))
    return out


def _context(row: dict[str, Any]) -> dict[str, Any]:
    """The ``ctx_*`` columns of a row, type-checked (anything else becomes ``None``)."""
    out: dict[str, Any] = {}
    for key in CONTEXT:
        v = row.get(key)
        if key == "tz_offset_min":  # the patient's UTC offset (dates their feedback)
            ok = isinstance(v, int) and not isinstance(v, bool) and -720 <= v <= 840
            out[key] = v if ok else None
        elif key == "ctx_self_report_score":
            f = _finite(v)
            out[key] = None if math.isnan(f) else f
        elif key.endswith(("_session", "_date")):
            out[key] = _date(v)
        else:
            out[key] = v if isinstance(v, str) and len(v) <= 64 else None
    return out


class FeedStore:
    """Alerts, acks and recent daily features of every subject, with a change log.

    Parameters
    ----------
    max_alerts, max_subjects, history_days, max_changes
        Memory bounds (module docstring).

    Examples
    --------
    >>> store = FeedStore()
    >>> store.ingest([Incoming("alert", b"not json"), Incoming("features", None)])
    set()
    >>> store.seq, dict(store.counts)
    (0, {'invalid_alert': 1, 'tombstone_features': 1})
    """

    def __init__(
        self,
        *,
        max_alerts: int = 20_000,
        max_subjects: int = 5_000,
        history_days: int = 90,
        max_changes: int = 100_000,
        max_session_ends: int = 10_000,
    ) -> None:
        self.max_alerts = max_alerts
        self.max_subjects = max_subjects
        self.history_days = history_days
        self.seq = 0
        self.counts: Counter[str] = Counter()
        self._alerts: OrderedDict[str, AlertEntry] = OrderedDict()  # ascending seq
        self._episodes: dict[tuple[str, dt.date], set[str]] = {}
        self._ack_ids: set[str] = set()
        self._orphans: OrderedDict[str, list[Ack]] = OrderedDict()  # acks before their alert
        self._days: OrderedDict[str, dict[int, NDArray[np.float64]]] = OrderedDict()
        self._changes: deque[tuple[int, str]] = deque(maxlen=max_changes)
        self._gaps: OrderedDict[str, Notice] = OrderedDict()
        self._feedback: OrderedDict[str, list[EngineFeedback]] = OrderedDict()
        self._context: dict[str, dict[str, Any]] = {}
        self.max_session_ends = max_session_ends
        self._ended: OrderedDict[str, tuple[str, int]] = OrderedDict()  # nonce -> (who, exp)
        self._ended_before: dict[str, int] = {}  # clinician -> sessions expiring <= are ended

    # ------------------------------------------------------------------ writing
    def _changed(self, subject: str) -> int:
        self.seq += 1
        self._changes.append((self.seq, subject))
        return self.seq

    def ingest(self, items: Iterable[Incoming]) -> set[str]:
        """Decode and apply a batch; return the subjects that changed. Records that cannot
        be used are counted in :attr:`counts` (never raised, never logged here)."""
        changed: set[str] = set()
        for item in items:
            if item.value is None:
                self.counts[f"tombstone_{item.kind}"] += 1
                continue
            subject: str | None
            try:
                if item.kind == "alert":
                    subject = self._ingest_alert(item.value)
                elif item.kind == "ack":
                    subject = self._ingest_ack(item.value)
                elif item.kind == "notice":
                    subject = self._ingest_notice(item.value)
                elif item.kind == "session":
                    self.end_session(SessionEnd.model_validate_json(item.value))
                    subject = None
                else:
                    subject = self._ingest_features(item.value)
            except Exception:  # any record the store cannot use is skipped and counted
                self.counts[f"invalid_{item.kind}"] += 1
                continue
            if subject is not None:
                changed.add(subject)
        return changed

    def _ingest_alert(self, value: bytes) -> str | None:
        try:
            alert = Alert.model_validate_json(value)
        except ValidationError:
            self.counts["invalid_alert"] += 1
            return None
        return alert.subject_id if self.add_alert(alert) else None

    def _ingest_ack(self, value: bytes) -> str | None:
        try:
            ack = Ack.model_validate_json(value)
        except ValidationError:
            self.counts["invalid_ack"] += 1
            return None
        return ack.subject_id if self.add_ack(ack) else None

    def _ingest_notice(self, value: bytes) -> str | None:
        raw = orjson.loads(value)
        if isinstance(raw, dict) and raw.get("kind") == "feedback_applied":
            note = EngineFeedback.parse(raw)  # a bad one raises: skipped and counted
            return note.subject_id if self.add_engine_feedback(note) else None
        notice = Notice.model_validate_json(value)  # a bad one raises: skipped and counted
        if notice.kind != "data_gap":
            self.counts[f"notice_{notice.kind}"] += 1
            return None
        return notice.subject_id if self.add_gap(notice) else None

    def add_gap(self, notice: Notice) -> bool:
        """Record a data-gap notice (the newest per subject; bounded like the features)."""
        old = self._gaps.get(notice.subject_id)
        if old == notice:
            self.counts["duplicate_notice"] += 1
            return False
        self._gaps[notice.subject_id] = notice
        self._gaps.move_to_end(notice.subject_id)
        while len(self._gaps) > self.max_subjects:
            self._gaps.popitem(last=False)
        self.counts["data_gap_notices"] += 1
        self._changed(notice.subject_id)
        return True

    def add_engine_feedback(self, note: EngineFeedback) -> bool:
        """Record what the engine did with a clinician's feedback (bounded per subject and
        in subjects, like the data-gap notices)."""
        notes = self._feedback.setdefault(note.subject_id, [])
        if note in notes:
            self.counts["duplicate_notice"] += 1
            return False
        notes.append(note)
        del notes[:-MAX_FEEDBACK_NOTES]
        self._feedback.move_to_end(note.subject_id)
        while len(self._feedback) > self.max_subjects:
            self._feedback.popitem(last=False)
        self.counts["feedback_notices"] += 1
        self._changed(note.subject_id)
        return True

    def engine_feedback(self, subject: str) -> list[EngineFeedback]:
        """The engine's feedback notices of ``subject``, oldest first."""
        return list(self._feedback.get(subject, ()))

    def gap(self, subject: str) -> Notice | None:
        """The subject's data-gap notice while it holds: no usable day (a day with any
        watched feature's value) came in on or after the day the gap began."""
        notice = self._gaps.get(subject)
        if notice is None:
            return None
        began = notice.gap_start or notice.date
        if began is None:
            return notice
        for d, vec in (self._days.get(subject) or {}).items():
            if d >= began.toordinal() and bool(np.isfinite(vec[:_N]).any()):
                return None
        return notice

    def _ingest_features(self, value: bytes) -> str | None:
        try:
            row = orjson.loads(value)
        except orjson.JSONDecodeError:
            row = None
        if not isinstance(row, dict):
            self.counts["invalid_features"] += 1
            return None
        return row["subject_id"] if self.add_features(row) else None

    def add_alert(self, alert: Alert) -> bool:
        """Store an alert message; ``False`` when the same message is already there."""
        old = self._alerts.get(alert.alert_id)
        if old is not None and old.alert == alert:
            self.counts["duplicate_alert"] += 1
            return False
        acks = old.acks if old is not None else self._orphans.pop(alert.alert_id, [])
        entry = AlertEntry(self._changed(alert.subject_id), alert, acks)
        self._alerts[alert.alert_id] = entry
        self._alerts.move_to_end(alert.alert_id)
        self._episodes.setdefault((alert.subject_id, alert.episode_start), set()).add(
            alert.alert_id
        )
        self.counts["alerts"] += old is None
        while len(self._alerts) > self.max_alerts:
            self._drop_oldest_alert()
        return True

    def _drop_oldest_alert(self) -> None:
        alert_id, entry = self._alerts.popitem(last=False)
        key = (entry.alert.subject_id, entry.alert.episode_start)
        ids = self._episodes.get(key)
        if ids is not None:
            ids.discard(alert_id)
            if not ids:
                del self._episodes[key]
        for ack in entry.acks:
            self._ack_ids.discard(ack.ack_id)
        self.counts["alerts_dropped"] += 1

    def add_ack(self, ack: Ack) -> bool:
        """Record an acknowledgement; ``False`` for one already recorded (same ``ack_id``)."""
        if ack.ack_id in self._ack_ids:
            self.counts["duplicate_ack"] += 1
            return False
        self._ack_ids.add(ack.ack_id)
        entry = self._alerts.get(ack.alert_id)
        if entry is None:  # its alert is not read yet (or was dropped): keep it aside
            self._orphans.setdefault(ack.alert_id, []).append(ack)
            while len(self._orphans) > self.max_alerts:
                _, dropped = self._orphans.popitem(last=False)
                for a in dropped:
                    self._ack_ids.discard(a.ack_id)
            return False
        entry.acks.append(ack)
        entry.seq = self._changed(ack.subject_id)
        self._alerts.move_to_end(ack.alert_id)
        self.counts["acks"] += 1
        return True

    def add_features(self, row: dict[str, Any]) -> bool:
        """Store the watched features of one daily row (a re-sent row replaces the day)."""
        subject, day = row.get("subject_id"), _date(row.get("date"))
        if not isinstance(subject, str) or day is None:
            self.counts["invalid_features"] += 1
            return False
        d = day.toordinal()
        vec = feature_vector(row)  # before anything changes: a bad row changes nothing
        ctx = _context(row)
        days = self._days.get(subject)
        if days is None:
            days = self._days[subject] = {}
        self._days.move_to_end(subject)
        if days and d <= max(days) - self.history_days:
            self.counts["features_too_old"] += 1
            return False
        old = days.get(d)
        if old is not None and np.array_equal(old, vec, equal_nan=True):
            self.counts["duplicate_features"] += 1
            return False
        days[d] = vec
        newest = max(days)
        if d == newest:
            self._context[subject] = ctx
        for old_day in [k for k in days if k <= newest - self.history_days]:
            del days[old_day]
        while len(self._days) > self.max_subjects:
            gone, _ = self._days.popitem(last=False)
            self._context.pop(gone, None)
            self.counts["subjects_dropped"] += 1
        self.counts["feature_rows"] += 1
        self._changed(subject)
        return True

    def end_session(self, end: SessionEnd) -> bool:
        """Record that a session was signed out; ``False`` when it already was."""
        if self.session_ended(end.session, end.clinician_id, end.exp):
            self.counts["duplicate_session_end"] += 1
            return False
        self._ended[end.session] = (end.clinician_id, end.exp)
        self.counts["session_ends"] += 1
        while len(self._ended) > self.max_session_ends:  # fold the oldest: fail-safe
            _, (who, exp) = self._ended.popitem(last=False)
            self._ended_before[who] = max(self._ended_before.get(who, -1), exp)
            self.counts["session_ends_folded"] += 1
        return True

    def session_ended(self, nonce: str, clinician_id: str, exp: int) -> bool:
        """Whether the session ``nonce`` (of ``clinician_id``, expiring at ``exp``) was
        signed out, here or on another feed process.

        Examples
        --------
        >>> import datetime as dt
        >>> store = FeedStore(max_session_ends=1)
        >>> at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> store.end_session(SessionEnd(session="a" * 16, clinician_id="dr-a", exp=100, at=at))
        True
        >>> store.session_ended("a" * 16, "dr-a", 100), store.session_ended("b" * 16, "dr-a", 90)
        (True, False)
        >>> _ = store.end_session(SessionEnd(session="c" * 16, clinician_id="dr-b", exp=200, at=at))
        >>> store.session_ended("a" * 16, "dr-a", 100)   # folded: still ended
        True
        >>> store.session_ended("b" * 16, "dr-a", 90), store.session_ended("d" * 16, "dr-a", 101)
        (True, False)
        """
        if nonce in self._ended:
            return True
        return exp <= self._ended_before.get(clinician_id, -1)

    # ------------------------------------------------------------------ reading
    def alert(self, alert_id: str) -> AlertEntry | None:
        return self._alerts.get(alert_id)

    def entries_since(
        self, since: int, visible: Visible, limit: int
    ) -> tuple[list[AlertEntry], bool]:
        """Alert messages of visible subjects whose last change is after ``since``, oldest
        change first, at most ``limit``; and whether more are waiting."""
        newer: list[AlertEntry] = []
        for entry in reversed(self._alerts.values()):
            if entry.seq <= since:
                break
            if visible(entry.alert.subject_id):
                newer.append(entry)
        newer.reverse()
        return newer[:limit], len(newer) > limit

    def episodes(self, visible: Visible) -> list[Episode]:
        """Every episode of the visible subjects, newest first."""
        out = [
            self._episode(subject, start) for (subject, start) in self._episodes if visible(subject)
        ]
        out.sort(key=Episode.sort_key, reverse=True)
        return out

    def subject_episodes(self, subject: str) -> list[Episode]:
        """One subject's episodes, newest first."""
        out = [self._episode(s, start) for (s, start) in self._episodes if s == subject]
        out.sort(key=Episode.sort_key, reverse=True)
        return out

    def episode(self, subject: str, start: dt.date) -> Episode | None:
        """One episode, if any of its messages is kept."""
        return self._episode(subject, start) if (subject, start) in self._episodes else None

    def _episode(self, subject: str, start: dt.date) -> Episode:
        entries = sorted(
            (self._alerts[i] for i in self._episodes[(subject, start)]),
            key=lambda e: (e.alert.date, _KIND_ORDER[e.alert.kind], e.seq),
        )
        return Episode(subject, start, tuple(entries))

    def changed_since(self, since: int, visible: Visible) -> set[str] | None:
        """Visible subjects changed after ``since``; ``None`` when the change log no longer
        reaches back that far (the client must start again from a full view)."""
        if since == self.seq:
            return set()
        if since < 0 or since > self.seq or not self._changes or self._changes[0][0] > since + 1:
            return None
        out: set[str] = set()
        for seq, subject in reversed(self._changes):
            if seq <= since:
                break
            if visible(subject):
                out.add(subject)
        return out

    def series(
        self, subject: str, columns: Sequence[str], days: int, end: dt.date | None = None
    ) -> list[Series]:
        """The watched features ``columns`` of ``subject`` over the ``days`` local days up
        to ``end`` (default: the subject's latest row); unknown columns are left out."""
        have = self._days.get(subject)
        if not have:
            return []
        last = end.toordinal() if end is not None else max(have)
        ordinals = range(last - days + 1, last + 1)
        matrix = np.full((len(ordinals), _WIDTH), np.nan)
        for row, d in enumerate(ordinals):
            vec = have.get(d)
            if vec is not None:
                matrix[row] = vec
        dates = tuple(dt.date.fromordinal(d) for d in ordinals)
        out = []
        for column in columns:
            i = _COLUMN.get(column)
            if i is None:
                continue
            out.append(
                Series(
                    MONITORED[i],
                    dates,
                    matrix[:, i].copy(),
                    matrix[:, _N + i].copy(),
                    matrix[:, 2 * _N + i].copy(),
                )
            )
        return out

    def context(self, subject: str) -> dict[str, Any]:
        """The clinical context of the subject's newest daily row (``ctx_*`` and the
        patient's ``tz_offset_min``; empty if none)."""
        return dict(self._context.get(subject, {}))

    def wear(self, subject: str, end: dt.date, days: int) -> tuple[int, int]:
        """``(valid days, days with any row)`` among the ``days`` local days up to ``end``:
        a valid day had enough wear for its features to count."""
        have = self._days.get(subject) or {}
        last = end.toordinal()
        valid = rows = 0
        for d in range(last - days + 1, last + 1):
            vec = have.get(d)
            if vec is not None:
                rows += 1
                valid += int(vec[_VALID] == 1.0)
        return valid, rows

    def coverage(self, subject: str, end: dt.date, days: int) -> NDArray[np.float64]:
        """Wear coverage (0-1, NaN: no row) of the ``days`` local days up to ``end``."""
        have = self._days.get(subject) or {}
        last = end.toordinal()
        return np.array(
            [
                float(have[d][_COVERAGE]) if d in have else math.nan
                for d in range(last - days + 1, last + 1)
            ]
        )

    def data_clock(self) -> dt.date | None:
        """The newest local day of any subject's data or data-gap notice (the feed's
        event-time "today")."""
        newest = [max(days) for days in self._days.values() if days]
        newest += [n.date.toordinal() for n in self._gaps.values() if n.date is not None]
        return dt.date.fromordinal(max(newest)) if newest else None

    def latest_day(self, subject: str) -> dt.date | None:
        have = self._days.get(subject)
        return dt.date.fromordinal(max(have)) if have else None

    def subjects_with_features(self) -> Iterator[str]:
        return iter(self._days)

    def stats(self) -> dict[str, int]:
        """Sizes and counters (numbers only: safe to log)."""
        return {
            "seq": self.seq,
            "alerts": len(self._alerts),
            "episodes": len(self._episodes),
            "subjects_with_features": len(self._days),
            **dict(self.counts),
        }

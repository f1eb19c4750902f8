"""The feed's own wire message: an acknowledgement (topic ``<prefix>.acks``, key alert_id).

An acknowledgement records *who* (the clinician id of the roster) acknowledged *what* (an
alert id, with its subject, kind and date copied for a reader of the audit trail),
*when* (UTC), *why* (a reason code, :data:`REASONS`) and, optionally, a free-text note.

The note is health data written by a clinician: it is kept only here, in the ack record (the
acks topic and the feed's memory); it is never logged and never copied into the
``ClinicalEvent(kind="feedback")`` that tells the risk engine the reason
(:func:`feedback_event`). Acknowledgements are only ever appended: nothing is deleted or
overwritten, and the topic is kept forever. ``ack_id`` is random, so a redelivered record
is recognised.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from phenotyping.events import Alert, ClinicalEvent, FeedbackReason, SubjectId

#: Reason codes and the words a clinician picks them by (in this order on the page).
REASONS: dict[str, str] = {
    "contacted_deteriorating": "Contacted: deteriorating",
    "contacted_fine": "Contacted: doing fine",
    "holiday_travel": "Holiday or travel",
    "illness": "Physical illness",
    "device_problem": "Device problem (not worn, broken, new device)",
    "other": "Other",
}
MAX_NOTE = 1000

ClinicianId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class Ack(BaseModel):
    """One acknowledgement of one alert message by one clinician."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["ack"] = "ack"
    version: Literal[1] = 1
    ack_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="random (uuid4 hex)")]
    alert_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    subject_id: SubjectId
    alert_kind: Literal["opened", "escalated", "resolved"]
    alert_date: dt.date
    clinician_id: ClinicianId
    at: AwareDatetime = Field(description="when it was acknowledged (UTC)")
    via: Literal["web", "api"] = Field(description="the page's button, or the JSON API")
    reason: FeedbackReason | None = Field(
        None, description="what the clinician found (absent in acks made before reasons)"
    )
    until: dt.date | None = Field(None, description="last day the reason applies to")
    note: Annotated[str, Field(max_length=MAX_NOTE)] | None = Field(
        None, description="free text (health data: kept only in this record, never logged)"
    )

    @classmethod
    def of(
        cls,
        alert: Alert,
        clinician_id: str,
        at: dt.datetime,
        via: Literal["web", "api"],
        *,
        reason: str | None = None,
        until: dt.date | None = None,
        note: str | None = None,
    ) -> Ack:
        """A new acknowledgement of ``alert`` (a fresh random ``ack_id``)."""
        return cls.model_validate(
            dict(
                ack_id=uuid.uuid4().hex,
                alert_id=alert.alert_id,
                subject_id=alert.subject_id,
                alert_kind=alert.kind,
                alert_date=alert.date,
                clinician_id=clinician_id,
                at=at.astimezone(dt.UTC),
                via=via,
                reason=reason,
                until=until,
                note=(note or "").strip() or None,
            )
        )

    def encode(self) -> bytes:
        """Compact JSON bytes (the record value)."""
        return orjson.dumps(self.model_dump(mode="json"))


def feedback_event(ack: Ack, tz_offset_min: int | None = None) -> ClinicalEvent | None:
    """The ``ClinicalEvent(kind="feedback")`` that carries an acknowledgement's reason to
    the risk engine (device topic, key subject_id); ``None`` for an ack without a reason.
    Reason code, date and validity only: never the note.

    ``tz_offset_min`` is the patient's UTC offset (the ``tz_offset_min`` of their newest
    daily row): the engine counts the event on the patient's local date at the moment of
    the acknowledgement, so an acknowledgement in the patient's late evening falls on that
    evening's date, whatever the date is in UTC. Unknown (no data yet): UTC.

    Examples
    --------
    >>> import datetime as dt
    >>> ack = Ack(ack_id="0" * 32, alert_id="a-1", subject_id="s-1", alert_kind="opened",
    ...           alert_date=dt.date(2024, 3, 4), clinician_id="dr-a", via="web",
    ...           at=dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC), reason="holiday_travel",
    ...           until=dt.date(2024, 3, 12), note="in Spain, back on the 12th")
    >>> ev = feedback_event(ack)
    >>> ev.kind, ev.reason, ev.until.isoformat(), "Spain" in ev.model_dump_json()
    ('feedback', 'holiday_travel', '2024-03-12', False)
    >>> feedback_event(ack, tz_offset_min=-600).tz_offset_min  # 09:00 UTC = 23:00 on the 4th
    -600
    """
    if ack.reason is None:
        return None
    return ClinicalEvent(
        event_id=f"feedback:{ack.ack_id}",
        subject_id=ack.subject_id,
        source=f"feed:{ack.clinician_id}",
        tz_offset_min=0 if tz_offset_min is None else tz_offset_min,
        at=ack.at,
        kind="feedback",
        reason=ack.reason,
        until=ack.until,
    )


class SessionEnd(BaseModel):
    """A clinician signed out: the session cookie with this nonce is refused by every feed
    process that shares the session secret (topic ``<prefix>.<sessions_topic>``, key the
    nonce). Ids and times only: nothing about patients.

    Examples
    --------
    >>> end = SessionEnd(session="0123456789abcdef", clinician_id="dr-a", exp=1_700_043_200,
    ...                  at=dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC))
    >>> SessionEnd.model_validate_json(end.encode()) == end
    True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["session_end"] = "session_end"
    version: Literal[1] = 1
    session: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="the cookie's nonce")]
    clinician_id: ClinicianId
    exp: Annotated[int, Field(ge=0, description="the session's expiry (Unix seconds)")]
    at: AwareDatetime = Field(description="when the clinician signed out (UTC)")

    def encode(self) -> bytes:
        """Compact JSON bytes (the record value)."""
        return orjson.dumps(self.model_dump(mode="json"))

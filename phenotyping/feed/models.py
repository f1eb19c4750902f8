"""The feed's own wire message: an acknowledgement (topic ``<prefix>.acks``, key alert_id).

An acknowledgement records *who* (the clinician id of the roster) acknowledged *what* (an
alert id, with its subject, kind and date copied for a reader of the audit trail) and
*when* (UTC). Acknowledgements are only ever appended: nothing is deleted or overwritten,
and the topic is kept forever. ``ack_id`` is random, so a redelivered record is recognised.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from phenotyping.events import Alert, SubjectId

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

    @classmethod
    def of(
        cls, alert: Alert, clinician_id: str, at: dt.datetime, via: Literal["web", "api"]
    ) -> Ack:
        """A new acknowledgement of ``alert`` (a fresh random ``ack_id``)."""
        return cls(
            ack_id=uuid.uuid4().hex,
            alert_id=alert.alert_id,
            subject_id=alert.subject_id,
            alert_kind=alert.kind,
            alert_date=alert.date,
            clinician_id=clinician_id,
            at=at.astimezone(dt.UTC),
            via=via,
        )

    def encode(self) -> bytes:
        """Compact JSON bytes (the record value)."""
        return orjson.dumps(self.model_dump(mode="json"))

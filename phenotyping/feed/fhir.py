"""FHIR R4 export of an alert: a ``Bundle`` (type ``collection``) holding a
``RiskAssessment`` and, when the alert carries a PHQ-9 self-report, an ``Observation``
(LOINC 44249-1, the PHQ-9 panel, with the total score as component LOINC 44261-6).

Pure functions returning JSON-ready dicts (validated in the tests against HL7's FHIR R4 JSON
Schema). Choices a receiving system should know:

* The patient is referenced by *identifier* (system ``urn:phenotyping:subject``, the
  pseudonymous subject id), never by a Patient resource id we do not own.
* The alert level maps to the HL7 ``risk-probability`` codes: watch -> low, elevated ->
  moderate, high -> high. The 0-1 score is a ranking, NOT a probability, so it is never put
  in ``probabilityDecimal``; it is stated in ``note`` with that caveat.
* Resource ids are UUID-5 of the alert id (stable: exporting twice gives the same ids);
  the alert id itself is the RiskAssessment's identifier (``urn:phenotyping:alert``).
* Clinicians' acknowledgement notes are never exported (free text, health data); the
  acknowledgement reasons are, as ``mitigation`` text.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from phenotyping.events import Alert
from phenotyping.feed.models import REASONS, Ack

_NS = uuid.UUID("5b0d7f2c-9a52-4f5e-8d0e-3c1f6a2b9e41")
SUBJECT_SYSTEM = "urn:phenotyping:subject"
ALERT_SYSTEM = "urn:phenotyping:alert"
LOINC = "http://loinc.org"
PHQ9_PANEL = ("44249-1", "PHQ-9 quick depression assessment panel [Reported.PHQ]")
PHQ9_TOTAL = ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]")
RISK_CODES = {"watch": "low", "elevated": "moderate", "high": "high"}
_RISK_DISPLAY = {
    "low": "Low likelihood",
    "moderate": "Moderate likelihood",
    "high": "High likelihood",
}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "|".join(parts)))


def _subject(alert: Alert) -> dict[str, Any]:
    return {"identifier": {"system": SUBJECT_SYSTEM, "value": alert.subject_id}}


def phq9_observation(alert: Alert) -> dict[str, Any] | None:
    """The alert's PHQ-9 self-report as an ``Observation``; ``None`` without one.

    Examples
    --------
    >>> import datetime as dt
    >>> a = Alert.model_construct(alert_id="a-1", subject_id="s-1",
    ...     self_report={"instrument": "PHQ-9", "score": 16.0, "date": "2024-03-10"})
    >>> obs = phq9_observation(a)
    >>> obs["code"]["coding"][0]["code"], obs["component"][0]["valueInteger"]
    ('44249-1', 16)
    """
    sr = alert.self_report or {}
    score = sr.get("score")
    if sr.get("instrument") != "PHQ-9" or not isinstance(score, int | float):
        return None
    date = str(sr.get("date") or "")
    return {
        "resourceType": "Observation",
        "id": _id(alert.alert_id, "phq9", date),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                        "display": "Survey",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": LOINC, "code": PHQ9_PANEL[0], "display": PHQ9_PANEL[1]}],
            "text": "PHQ-9",
        },
        "subject": _subject(alert),
        **({"effectiveDateTime": date} if date else {}),
        "component": [
            {
                "code": {
                    "coding": [{"system": LOINC, "code": PHQ9_TOTAL[0], "display": PHQ9_TOTAL[1]}]
                },
                "valueInteger": int(round(float(score))),
            }
        ],
    }


def risk_assessment(
    alert: Alert, acks: Sequence[Ack] = (), basis: Sequence[str] = ()
) -> dict[str, Any]:
    """The alert as a ``RiskAssessment`` (module docstring); ``basis`` are references
    (e.g. ``urn:uuid:...`` of the PHQ-9 Observation in the same Bundle)."""
    code = RISK_CODES[alert.level]
    notes = [
        f"{alert.kind} alert, level {alert.level}; score {alert.score:.2f} is a 0-1 ranking "
        "within this service, not a probability",
        *(
            f"{c.label} ({c.domain}): {c.direction} since about {c.days_in_deviation} days"
            for c in alert.contributing
        ),
    ]
    out: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": _id(alert.alert_id),
        "identifier": [{"system": ALERT_SYSTEM, "value": alert.alert_id}],
        "status": "final",
        "method": {
            "text": "phenotyping: wearable features against the person's own baseline "
            f"(configuration {alert.config_version}, baseline {alert.baseline})"
        },
        "code": {"text": "Risk of depressive relapse or deterioration (wearable data)"},
        "subject": _subject(alert),
        "occurrenceDateTime": alert.date.isoformat(),
        "prediction": [
            {
                "outcome": {"text": "Depressive relapse or deterioration"},
                "qualitativeRisk": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/risk-probability",
                            "code": code,
                            "display": _RISK_DISPLAY[code],
                        }
                    ],
                    "text": alert.level,
                },
                "whenPeriod": {"start": alert.episode_start.isoformat()},
                "rationale": alert.explanation,
            }
        ],
        "note": [{"text": n} for n in notes],
    }
    if basis:
        out["basis"] = [{"reference": ref} for ref in basis]
    reasons = [REASONS[a.reason] for a in acks if a.reason is not None]
    if reasons:
        out["mitigation"] = "Acknowledged: " + "; ".join(reasons)
    return out


def alert_bundle(alert: Alert, acks: Sequence[Ack] = ()) -> dict[str, Any]:
    """A ``collection`` Bundle: the RiskAssessment and its PHQ-9 Observation, if any."""
    entries: list[dict[str, Any]] = []
    basis: list[str] = []
    obs = phq9_observation(alert)
    if obs is not None:
        url = f"urn:uuid:{obs['id']}"
        basis.append(url)
        entries.append({"fullUrl": url, "resource": obs})
    ra = risk_assessment(alert, acks, basis)
    entries.insert(0, {"fullUrl": f"urn:uuid:{ra['id']}", "resource": ra})
    return {
        "resourceType": "Bundle",
        "id": _id(alert.alert_id, "bundle"),
        "type": "collection",
        "entry": entries,
    }

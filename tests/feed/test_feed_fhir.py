"""FHIR R4 export (issue 13 item 5): the alert as a RiskAssessment and its PHQ-9 as an
Observation (LOINC 44249-1), from the JSON API, validated against HL7's FHIR R4 JSON Schema
(vendored, tests/feed/fhir/SOURCE.md) and, independently, the fhir.resources R4B models."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from feed_helpers import alert_record, make_alert
from test_feed_web import TOK_A, TOK_B, bearer, feed

SCHEMA = Path(__file__).parent / "fhir" / "fhir.schema.json.gz"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft6Validator:
    schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"
    return jsonschema.Draft6Validator(schema)


def _errors(validator: jsonschema.Draft6Validator, doc: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def _alert() -> dict[str, Any]:
    a = make_alert("s-1", "escalated", "2024-03-09", level="high")
    a["score"] = 0.83
    a["self_report"] = {"instrument": "PHQ-9", "score": 16.0, "date": "2024-03-07"}
    return a


async def test_alert_exports_as_a_valid_fhir_r4_bundle(validator) -> None:  # type: ignore[no-untyped-def]
    alert = _alert()
    async with feed([alert_record(alert)]) as (client, _service, _bus):
        r = await client.post(
            f"/api/alerts/{alert['alert_id']}/ack",
            json={"reason": "contacted_deteriorating", "note": "not for export"},
            headers=bearer(TOK_A),
        )
        assert r.status == 200
        r = await client.get(f"/api/alerts/{alert['alert_id']}/fhir", headers=bearer(TOK_A))
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/fhir+json")
        bundle = json.loads(await r.read())
        # the same export twice: the same ids
        again = json.loads(
            await (
                await client.get(f"/api/alerts/{alert['alert_id']}/fhir", headers=bearer(TOK_A))
            ).read()
        )
        assert again == bundle
        # another clinician's patient: exactly like a missing alert
        hidden = await client.get(f"/api/alerts/{alert['alert_id']}/fhir", headers=bearer(TOK_B))
        missing = await client.get("/api/alerts/nope/fhir", headers=bearer(TOK_B))
        assert hidden.status == missing.status == 404
        assert await hidden.read() == await missing.read()

    assert _errors(validator, bundle) == []
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["RiskAssessment", "Observation"]
    ra, obs = (e["resource"] for e in bundle["entry"])
    for resource in (ra, obs):
        assert _errors(validator, resource) == []
    assert ra["subject"]["identifier"]["value"] == "s-1"
    assert ra["occurrenceDateTime"] == "2024-03-09"
    (pred,) = ra["prediction"]
    assert pred["qualitativeRisk"]["coding"][0]["code"] == "high"
    assert "probabilityDecimal" not in pred  # the score is a ranking, not a probability
    assert pred["rationale"] == alert["explanation"]
    assert ra["basis"] == [{"reference": bundle["entry"][1]["fullUrl"]}]
    assert "Contacted: deteriorating" in ra["mitigation"]
    assert "not for export" not in json.dumps(bundle)
    assert obs["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44249-1",
        "display": "PHQ-9 quick depression assessment panel [Reported.PHQ]",
    }
    assert obs["component"][0]["code"]["coding"][0]["code"] == "44261-6"
    assert obs["component"][0]["valueInteger"] == 16
    assert obs["effectiveDateTime"] == "2024-03-07"

    # independently: the fhir.resources models parse it (R4B: the same RiskAssessment and
    # Observation structure as R4)
    from fhir.resources.R4B.bundle import Bundle

    parsed = Bundle.model_validate(bundle)
    assert parsed.entry is not None and len(parsed.entry) == 2


def test_the_schema_check_can_fail(validator) -> None:  # type: ignore[no-untyped-def]
    from phenotyping.events import Alert
    from phenotyping.feed.fhir import alert_bundle

    good = alert_bundle(Alert.model_validate(_alert()))
    assert _errors(validator, good) == []
    for mutate in (
        lambda b: b["entry"][0]["resource"]["prediction"][0].__setitem__("probability", 0.8),
        lambda b: b["entry"][1]["resource"]["component"][0].__setitem__("valueInteger", "16"),
        lambda b: b["entry"][0]["resource"].__setitem__("occurrenceDateTime", "9 March"),
        lambda b: b["entry"][0]["resource"].__setitem__("riskScore", 0.8),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        assert _errors(validator, bad), "the schema must reject this"


def test_an_alert_without_phq9_has_no_observation(validator) -> None:  # type: ignore[no-untyped-def]
    from phenotyping.events import Alert
    from phenotyping.feed.fhir import alert_bundle

    a = make_alert("s-2")
    a["self_report"] = {"instrument": "MADRS", "score": 20.0, "date": "2024-03-01"}
    bundle = alert_bundle(Alert.model_validate(a))
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["RiskAssessment"]
    assert "basis" not in bundle["entry"][0]["resource"]
    assert _errors(validator, bundle) == []

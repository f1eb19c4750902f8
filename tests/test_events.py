"""Wire messages: validation names the field and the rule; JSON Schemas stay in sync."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from message_examples import activity, beats

from phenotyping.errors import InputError
from phenotyping.events import (
    ActivityBatch,
    HeartBeatBatch,
    SleepEpisode,
    decode,
    encode,
    json_schemas,
)

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def sleep(**over: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "sleep",
        "event_id": "s:1",
        "subject_id": "sub-01",
        "source": "ring",
        "tz_offset_min": 60,
        "start": "2025-12-29T23:10:00+01:00",
        "end": "2025-12-30T07:00:00+01:00",
        "is_main_sleep": True,
        "tst_min": 420,
    }
    msg.update(over)
    return msg


def test_valid_messages_round_trip_through_the_wire_format() -> None:
    for raw in (activity(), beats(), sleep()):
        msg = decode(json.dumps(raw).encode(), now=NOW)
        assert decode(encode(msg)) == msg
    assert isinstance(decode(activity()), ActivityBatch)
    assert isinstance(decode(beats()), HeartBeatBatch)
    assert isinstance(decode(sleep()), SleepEpisode)


def test_rr_outside_physiology_is_accepted_by_the_schema() -> None:
    """250-2500 ms is the artefact filter's business, not the schema's."""
    assert decode(beats(rr_ms=[180.0, 3100.0])).rr_ms == [180.0, 3100.0]


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        (activity(counts=[1, -3]), "counts.1", "greater than or equal to 0"),
        (activity(counts=None, steps=None), "counts/steps", "at least one"),
        (activity(steps=[1, 2]), "steps", "differs from counts length"),
        (activity(epoch_s=45), "epoch_s", "Input should be"),
        (
            activity(epoch_s=15, start="2025-12-30T12:00:30+01:00", counts=[1, 2, 3, 4]),
            "start",
            "must start on a whole minute",
        ),
        (activity(epoch_s=15, counts=[1, 2, 3]), "counts/steps", "must cover whole minutes"),
        (activity(start="2025-12-30T12:00:00"), "start", "timezone"),
        (activity(subject_id="Jane Doe"), "subject_id", "pattern"),
        (activity(tz_offset_min=900), "tz_offset_min", "less than or equal to 840"),
        (activity(start="1970-01-01T00:00:00Z"), "time", "before 1990"),
        (activity(start="2026-01-03T00:00:00Z"), "time", "after the ingest time"),
        (activity(counts=[0] * 604_801), "counts", "at most 604800"),
        (activity(surprise=1), "surprise", "Extra inputs"),
        (beats(rr_ms=[800, 0]), "rr_ms.1", "greater than 0"),
        (beats(rr_ms=[]), "rr_ms", "at least 1"),
        (sleep(end="2025-12-29T22:00:00+01:00"), "end", "must be after start"),
        (sleep(tst_min=900), "tst_min", "longer than the episode"),
        (sleep(efficiency_pct=120), "efficiency_pct", "less than or equal to 100"),
        (activity(version=2), "version", "unsupported version 2"),
        ({"type": "gps"}, "type", "does not match any of the expected tags"),
    ],
)
def test_bad_input_names_the_field_and_the_rule(raw: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(InputError) as info:
        decode(raw, now=NOW)
    text = str(info.value)
    assert field in text and rule in text, text


def test_undecodable_bytes_are_an_input_error() -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        decode(b"\xff\x00")
    with pytest.raises(InputError, match="must be a JSON object"):
        decode(b"[1, 2]")


def test_schema_files_are_generated_from_the_models() -> None:
    """Fails when a model changes without `phenotyping schemas --out schemas`."""
    generated = json_schemas()
    on_disk = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json")}
    assert set(on_disk) == set(generated)
    for name, schema in generated.items():
        assert on_disk[name] == json.loads(json.dumps(schema)), f"{name} is stale"


def test_json_schemas_accept_what_the_models_accept_and_reject_negative_counts() -> None:
    for raw, name in ((activity(), "activity"), (beats(), "heartbeat"), (sleep(), "sleep")):
        schema = json.loads((SCHEMAS / f"{name}.v1.schema.json").read_text())
        jsonschema.validate(raw, schema)
    schema = json.loads((SCHEMAS / "activity.v1.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(activity(counts=[-1]), schema)

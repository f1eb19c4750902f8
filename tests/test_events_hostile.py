"""Hostile input to :func:`phenotyping.events.decode`: it raises ``InputError`` naming the
field and rule, and nothing else (issue 11, rows 1 and 5), whatever bytes arrive.

The property tests run a fixed, small budget (derandomized, no deadline) so CI is
deterministic and fast.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from message_examples import activity, beats

from phenotyping.errors import InputError
from phenotyping.events import MAX_COUNT, decode

BUDGET = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

VALID: dict[str, dict[str, Any]] = {
    "activity": activity(steps=[0, 3, None]),
    "heartbeat": beats(),
    "sleep": {
        "type": "sleep",
        "event_id": "s:1",
        "subject_id": "sub-01",
        "source": "ring",
        "tz_offset_min": 0,
        "start": "2025-12-30T23:00:00Z",
        "end": "2025-12-31T07:00:00Z",
        "is_main_sleep": True,
        "tst_min": 400,
        "stages": {"epoch_s": 3600, "stages": ["light"] * 8},
    },
    "clinical": {
        "type": "clinical",
        "event_id": "c:1",
        "subject_id": "sub-01",
        "source": "clinic",
        "tz_offset_min": 0,
        "at": "2025-12-30T10:00:00Z",
        "kind": "self_report",
        "instrument": "PHQ-9",
        "score": 12,
    },
    "recording_end": {
        "type": "recording_end",
        "event_id": "e:1",
        "subject_id": "sub-01",
        "source": "replay",
        "tz_offset_min": 0,
        "at": "2025-12-30T10:00:00Z",
    },
}


def test_the_templates_are_valid() -> None:
    for doc in VALID.values():
        decode(doc)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"type": []}, "type"),
        ({"type": {}}, "type"),
        ({**VALID["activity"], "version": True}, "version"),
        ({**VALID["activity"], "version": [1]}, "version"),
        ({**VALID["activity"], "start": "9999-12-31T23:59:00+00:00"}, "time"),
        ({**VALID["heartbeat"], "first_beat": "9999-12-31T23:59:59+00:00"}, "time"),
        (
            {**VALID["sleep"], "start": "9999-12-31T00:00:00Z", "end": "9999-12-31T08:00:00Z"},
            "time",
        ),
        ({**VALID["clinical"], "at": "2250-01-01T00:00:00Z"}, "time"),
        ({**VALID["activity"], "counts": [1e308, 1.0, None]}, "counts.0"),
        ({**VALID["activity"], "counts": [MAX_COUNT * 1.01, 1.0, None]}, "counts.0"),
    ],
)
def test_red_team_inputs_are_input_errors_naming_the_field(doc: dict[str, Any], field: str) -> None:
    """Issue 11 rows 1 and 5: these raised TypeError/OverflowError, or were accepted."""
    with pytest.raises(InputError) as err:
        decode(orjson.dumps(doc), now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert field in str(err.value)


def test_a_huge_count_never_reaches_the_engine_as_infinity() -> None:
    with pytest.raises(InputError, match=r"less than or equal to 1000000"):
        decode({**VALID["activity"], "counts": [1e308] * 3, "steps": None})


# --------------------------------------------------------------------------- properties
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
hostile_strings = st.sampled_from(
    [
        "9999-12-31T23:59:00+00:00",
        "0001-01-01T00:00:00+00:00",
        "2300-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2025-12-30T12:00:00",  # no offset
        "2025-12-30T12:00:00+99:00",
        "",
        "nan",
        "\x00",
        "a" * 300,
    ]
)


def _check(data: Any) -> None:
    try:
        decode(data, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    except InputError as exc:
        assert str(exc)  # names something
    # any other exception fails the property


@BUDGET
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_input_error(data: bytes) -> None:
    _check(data)


@BUDGET
@given(json_values)
def test_any_json_value_decodes_or_raises_input_error(value: Any) -> None:
    _check(json.dumps(value))


@BUDGET
@given(
    st.sampled_from(sorted(VALID)),
    st.lists(
        st.tuples(
            st.sampled_from(
                sorted({k for v in VALID.values() for k in v} | {"version", "bogus"})
            ),
            st.one_of(json_values, hostile_strings),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_valid_messages_with_hostile_fields_decode_or_raise_input_error(
    kind: str, changes: list[tuple[str, Any]]
) -> None:
    doc = dict(VALID[kind])
    for key, value in changes:
        doc[key] = value
    _check(doc)
    _check(json.dumps(doc))


@BUDGET
@given(
    st.sampled_from(["activity", "heartbeat"]),
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(min_value=-(2**64), max_value=2**64),
            st.none(),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_any_sample_values_decode_finite_or_raise_input_error(kind: str, values: list[Any]) -> None:
    key = "counts" if kind == "activity" else "rr_ms"
    doc = {**VALID[kind], key: values}
    if kind == "activity":
        doc.pop("steps")
    try:
        msg = decode(doc)
    except InputError:
        return
    got = getattr(msg, key)
    assert all(v is None or 0 <= v <= (MAX_COUNT if kind == "activity" else 60_000) for v in got)

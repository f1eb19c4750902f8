"""Valid wire messages as plain JSON documents, shared by the tests of ``decode``
(``test_events.py``, ``test_events_hostile.py``). ``**over`` replaces or adds fields."""

from __future__ import annotations

from typing import Any


def activity(**over: Any) -> dict[str, Any]:
    """A 3-minute activity batch (counts only; one epoch null)."""
    msg: dict[str, Any] = {
        "type": "activity",
        "version": 1,
        "event_id": "a:1",
        "subject_id": "sub-01",
        "source": "watch",
        "tz_offset_min": 60,
        "start": "2025-12-30T12:00:00+01:00",
        "epoch_s": 60,
        "counts": [0, 12.5, None],
    }
    msg.update(over)
    return msg


def beats(**over: Any) -> dict[str, Any]:
    """Three heart beats (one RR of 3000 ms, accepted by the schema)."""
    msg: dict[str, Any] = {
        "type": "heartbeat",
        "event_id": "h:1",
        "subject_id": "sub-01",
        "source": "strap",
        "tz_offset_min": 60,
        "first_beat": "2025-12-30T01:00:00Z",
        "rr_ms": [812, 830, 3000],
    }
    msg.update(over)
    return msg

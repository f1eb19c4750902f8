"""A real Fitbit export (PMData p10: minute steps, sleep logs, daily summaries, self-reports)
replayed into a real Kafka broker and through a ``phenotyping worker``: every daily row,
alert and notice equals the in-process replay of the same folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from stream_helpers import Deployment
from test_kafka_worker import Expected, _check, _replay

pytestmark = [pytest.mark.kafka, pytest.mark.realdata]


def test_fitbit_export_through_kafka_equals_in_process(
    deployment: Callable[..., Deployment], data_dir: Path
) -> None:
    export = data_dir / "pmdata" / "p10"
    expected = Expected.of([export])
    days = list(expected.features.values())
    # the export exercises every message type the Fitbit reader sends
    assert sum(1 for r in days if r["valid"]) > 50
    assert sum(1 for r in days if r.get("dev_resting_hr") is not None) > 50
    assert sum(1 for r in days if r.get("device_sleep_tst_min") is not None) > 50
    d = deployment()
    printed = _replay(d, [export])
    assert "published" in printed and "recording end(s)" in printed
    d.worker()
    dup = _check(d, expected)
    assert dup == {"features": 0, "alerts": 0, "notices": 0}

"""The Apple Health, Empatica, generic CSV (ActiLife) and Open mHealth fixtures replayed into
a real Kafka broker and through a ``phenotyping worker``: every daily row and notice equals
the in-process replay of the same files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from stream_helpers import Deployment
from test_kafka_worker import Expected, _check, _replay

pytestmark = [pytest.mark.kafka]

DATA = Path(__file__).parent.parent / "data" / "importers"


def test_importer_fixtures_through_kafka_equal_in_process(
    deployment: Callable[..., Deployment],
) -> None:
    paths = [
        DATA / "apple_health_export",
        DATA / "empatica_e4_s01",
        DATA / "actilife_dated.csv",
        DATA / "omh" / "points.json",
    ]
    expected = Expected.of(paths)
    rows = list(expected.features.values())
    subjects = {r["subject_id"] for r in rows}
    assert subjects == {"apple_health_export", "empatica_e4_s01", "actilife_dated", "omh-s1"}
    # every kind of message these readers send reached a daily row
    assert any(r.get("dev_resting_hr") == 54.0 for r in rows)  # Apple DailySummary
    assert any(r.get("device_sleep_tst_min") == 420.0 for r in rows)  # Apple / OMH sleep
    assert any((r.get("night_n_beats") or 0) > 0 for r in rows)  # Apple / E4 / OMH beats
    assert any(r.get("steps_total") == 171.0 for r in rows)  # Apple steps
    d = deployment()
    printed = _replay(d, paths)
    assert "published" in printed and "recording end(s)" in printed
    d.worker()
    dup = _check(d, expected)
    assert dup == {"features": 0, "alerts": 0, "notices": 0}

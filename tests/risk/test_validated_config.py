"""The shipped risk configuration is the one docs/evaluation.md's figures were measured with.

The evaluation (``benchmarks/evaluate_risk.py``) prints the hash of the configuration it ran
(:func:`phenotyping.risk.monitor.evaluated_version`: every :class:`RiskParams` setting and
every watched feature's direction, transform and scale floor); docs/evaluation.md names the
hash of its reported figures. A changed threshold, window, prior or floor changes the hash,
and then the documented false-alarm and detection figures no longer describe what ships:
this test stops that (re-run the evaluation, update the page and its hash together).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from phenotyping.risk import monitor
from phenotyping.risk.monitor import evaluated_version
from phenotyping.risk.params import RiskParams

DOC = Path(__file__).parents[2] / "docs" / "evaluation.md"


def test_the_shipped_configuration_is_the_evaluated_one() -> None:
    text = DOC.read_text()
    found = re.search(r"Risk configuration of every figure on this page[^`]*`([0-9a-f]{12})`", text)
    assert found, "docs/evaluation.md no longer names the configuration of its figures"
    assert evaluated_version(RiskParams()) == found.group(1), (
        "the risk configuration differs from the one docs/evaluation.md was measured with: "
        "re-run benchmarks/evaluate_risk.py and update the page and its hash"
    )


@pytest.mark.parametrize(
    "changed", [{"h_single": 12.0}, {"washout_days": 15}, {"min_per_daytype": 4}]
)
def test_a_changed_setting_changes_the_hash(changed: dict[str, float]) -> None:
    assert evaluated_version(RiskParams(**changed)) != evaluated_version(RiskParams())  # type: ignore[arg-type]


def test_a_changed_scale_floor_changes_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    base = evaluated_version(RiskParams())
    hr = dataclasses.replace(monitor.DEVICE_HRV[1], min_scale=0.5)
    monkeypatch.setattr(monitor, "DEVICE_HRV", (monitor.DEVICE_HRV[0], hr))
    assert evaluated_version(RiskParams()) != base


def test_the_watched_device_sleep_log_is_part_of_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    base = evaluated_version(RiskParams())
    tst = dataclasses.replace(monitor.DEVICE_SLEEP[0], min_scale=30.0)
    monkeypatch.setattr(monitor, "DEVICE_SLEEP", (tst,))
    assert evaluated_version(RiskParams()) != base

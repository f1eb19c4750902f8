"""Whole-recording measures on hand-built recordings (no shared data needed).

The real-data parity with pyActigraphy is in tests/features/test_circadian.py and
test_sleep.py; these check, by values worked out by hand, the two settings the recording
row is defined by: counts binarised at > 4 for ``*_bin4`` and Oakley's threshold 40.
"""

from __future__ import annotations

import numpy as np

from phenotyping.features.recording import recording_summary


def test_bin4_binarises_at_more_than_4_counts() -> None:
    # 8 h of 4 counts, 16 h of 5 counts, 7 days: binarised at > 4 that is 0 then 1,
    # so L5 = 0, M10 = 1 and RA = (1 - 0) / (1 + 0) = 1; on raw counts RA = (5 - 4) / (5 + 4)
    day = np.r_[np.full(480, 4.0), np.full(960, 5.0)]
    s = recording_summary(np.tile(day, 7), 0)
    assert s["RA_bin4"] == 1.0
    assert s["L5_bin4"] == 0.0 and s["M10_bin4"] == 1.0
    assert abs(s["RA_raw"] - 1 / 9) < 1e-12
    assert s["L5_raw"] == 4.0 and s["M10_raw"] == 5.0


def test_oakley_scores_sleep_below_a_weighted_40() -> None:
    # Oakley's weights sum to 1.48: 26.5 counts score 39.22 (< 40: sleep), 27.5 score 40.70
    # (wake). Half of each day is each, so the sleep fraction is 1/2 up to the two minutes
    # at each change (and the two unscored minutes at each end, wake).
    day = np.r_[np.full(720, 26.5), np.full(720, 27.5)]
    counts = np.tile(day, 7)
    assert abs(recording_summary(counts, 0)["oakley_sleep_fraction"] - 0.5) < 5 / counts.size
    assert recording_summary(counts, 0, oakley_threshold=39.0)["oakley_sleep_fraction"] == 0.0
    assert recording_summary(counts, 0, oakley_threshold=41.0)["oakley_sleep_fraction"] > 0.99


def test_the_oakley_threshold_is_named_never_positional() -> None:
    # a positional third argument could be mistaken for the start minute or a window
    import pytest

    with pytest.raises(TypeError):
        recording_summary(np.zeros(1440), 0, 39.0)  # type: ignore[misc]

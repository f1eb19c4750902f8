"""The simulator's stable subjects against real controls, on what fooled the risk engine.

Issue 10 found the demo's stable subjects raising false alerts because the simulated
sleeping wrist lay still for hours: 45 % of nights had a run of >= 2 h of exact zeros,
which the day engine's non-wear rule (``EngineParams.nonwear_run_min``, a 2-h flat run is
a watch off the wrist) blanks, cutting the night short. On the 518 Depresjon control
nights worn all night (longest zero run under 6 h) the longest still run between 20:00 and
10:00 has median 44 min (p90 72) and 3 % reach 2 h (see ``phenotyping/simulate/physiology``
and ``docs/evaluation.md``). These bounds are taken from those real nights, not from the
simulator's output.
"""

from __future__ import annotations

import numpy as np

from phenotyping.features.day import EngineParams
from phenotyping.simulate import CohortSpec
from phenotyping.simulate.physiology import Physiology


def _longest_zero_run(x: np.ndarray) -> int:
    z = np.concatenate([[0], (x == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(z))
    return int((edges[1::2] - edges[::2]).max(initial=0))


def test_a_sleeping_wrist_is_not_still_long_enough_to_look_off_the_wrist() -> None:
    ph = Physiology(CohortSpec(n_subjects=6, days=16, seed=3, rr=False))
    longest = []
    for sub in ph.subjects:
        day = [
            ph.activity(sub, d, np.arange(ph.midnight(d), ph.midnight(d + 1)))[0]
            for d in range(1, 15)
        ]
        counts = np.concatenate(day)
        for d in range(13):  # 20:00 of day d to 10:00 of day d + 1
            longest.append(_longest_zero_run(counts[d * 1440 + 1200 : (d + 1) * 1440 + 600]))
    runs = np.array(longest)
    flat = EngineParams().nonwear_run_min
    assert runs.size == 78
    # controls: 3 % of nights reach the non-wear run; allow up to 8 % (was 45 %)
    assert np.mean(runs >= flat) <= 0.08
    # controls: median 44 min, p90 72 min; allow the simulator up to 1.5 times that
    assert np.median(runs) <= 66 and np.percentile(runs, 90) <= 108
    # and the wrist does lie still for a while every night (not constant fidgeting)
    assert np.median(runs) >= 20

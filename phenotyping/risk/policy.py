"""Alert policy: levels from the combined evidence, and when an episode resolves.

Level
    Evidence is in units of the threshold (:func:`phenotyping.risk.change.evidence`):
    ``watch`` at 0.5, ``elevated`` at 1 (an episode opens: one alert), ``high`` at 2 or at
    1 with signals from three or more domains.
Episode
    Opens at ``elevated`` (unless within ``cooldown_days`` of the last one), gives an
    ``escalated`` update when the level rises, and resolves after ``close_after_days``
    consecutive observed days on which every signal that opened it is back in the personal
    band (its smoothed oriented score below ``band_z``) -- not merely when the evidence
    stops growing, so a continuing deterioration keeps its episode open.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

LEVELS = ("none", "watch", "elevated", "high")


def level_of(evidence: float, n_domains: int, factor: float = 1.0) -> int:
    """Index into :data:`LEVELS` from evidence in units of the threshold (``factor`` > 1
    demands more, e.g. while judged against the warm-up baseline).

    Examples
    --------
    >>> [level_of(e, 1) for e in (0.25, 0.5, 1.0, 2.0)], level_of(1.0, 3), level_of(1.2, 1, 1.5)
    ([0, 1, 2, 3], 3, 1)
    """
    e = evidence / factor
    if e >= 2 or (e >= 1 and n_domains >= 3):
        return 3
    if e >= 1:
        return 2
    return 1 if e >= 0.5 else 0


def in_band(smoothed: Sequence[float], band_z: float) -> bool | None:
    """Every opening signal's smoothed oriented score is below ``band_z`` (None: no value
    today for any of them, so the day does not count either way).

    Examples
    --------
    >>> in_band([0.2, 0.9], 1.0), in_band([0.2, 1.4], 1.0), in_band([math.nan], 1.0)
    (True, False, None)
    """
    seen = [v for v in smoothed if math.isfinite(v)]
    if not seen:
        return None
    return all(v < band_z for v in seen)

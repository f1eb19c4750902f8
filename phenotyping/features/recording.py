"""Whole-recording measures: one row per recording, for researchers.

The series is the recording's minutes in *elapsed* time from its first sample, phased by
the local clock of that first sample -- pyActigraphy's "sample-index" convention, so a
daylight-saving change mid-recording does not move the clock (the streaming engine's
daily and rolling features use true local time instead).

``*_raw`` columns are on raw counts, ``*_bin4`` on counts binarised at > 4 (pyActigraphy's
default); ``oakley_*`` use Oakley (threshold 40) with pyActigraphy's edge convention
(unscored minutes are wake), so every column here can be checked against pyActigraphy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from phenotyping.features import circadian as circ
from phenotyping.features import sleep as slp

_CIRC_KEYS = ("IS", "IV", "L5", "M10", "RA")


def recording_summary(
    counts: NDArray[np.float64], start_minute_of_day: int, *, oakley_threshold: float = 40.0
) -> dict[str, float | int]:
    """Circadian and sleep-regularity measures over a whole recording.

    Examples
    --------
    >>> day = np.r_[np.zeros(480), np.full(960, 100.0)]
    >>> s = recording_summary(np.tile(day, 7), 0)
    >>> s["n_minutes"], s["RA_raw"], round(s["oakley_sleep_fraction"], 3)
    (10080, 1.0, 0.333)
    """
    out: dict[str, float | int] = {
        "n_minutes": int(len(counts)),
        "n_missing": int(np.count_nonzero(np.isnan(counts))),
        "start_minute_of_day": int(start_minute_of_day),
    }
    raw = circ.circadian_summary(counts, start_minute_of_day)
    b4 = circ.circadian_summary(counts, start_minute_of_day, binarize=True, threshold=4.0)
    out.update({f"{k}_raw": raw[k] for k in _CIRC_KEYS})
    out.update({f"{k}_bin4": b4[k] for k in _CIRC_KEYS})
    out.update(
        cosinor_mesor=raw["cosinor_mesor"],
        cosinor_amplitude=raw["cosinor_amplitude"],
        cosinor_acrophase=raw["cosinor_acrophase"],
        cosinor_peak_minute_of_day=raw["cosinor_peak_minute_of_day"],
    )
    sleep = slp.oakley(counts, oakley_threshold, missing="wake")
    out["oakley_sleep_fraction"] = float(np.mean(sleep)) if len(sleep) else float("nan")
    out["sri_oakley_pyactigraphy"] = slp.sri_pyactigraphy(sleep)
    out["sri_oakley_phillips"] = slp.sri_phillips(slp.oakley(counts, oakley_threshold))
    out["sleep_midpoint_pyactigraphy_min"] = slp.sleep_midpoint_pyactigraphy(
        sleep, start_minute_of_day
    )
    return out

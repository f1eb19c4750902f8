"""Calendar arithmetic of the engine: day ordinals, ISO dates, weekdays, nights.

The engine counts time in integer minutes since 1970-01-01 00:00 UTC, and local days as
*day ordinals*: days since 1970-01-01 (:func:`ordinal`). A sample at UTC minute ``u`` with a
UTC offset of ``o`` minutes lies on local day ``(u + o) // MINUTES_PER_DAY``. A *night* runs
from local noon to local noon and is labelled by the date it ends on (:func:`night_of`).

Examples
--------
>>> d = ordinal("2024-01-06")
>>> d, iso_date(d), weekday(d), is_weekend(d)
(19728, '2024-01-06', 5, True)
>>> int(night_of(d * MINUTES_PER_DAY + 11 * 60)), int(night_of(d * MINUTES_PER_DAY + 13 * 60))
(19728, 19729)
"""

from __future__ import annotations

from datetime import date as _date
from typing import Any

import numpy as np

#: Minutes in a calendar day (a local day around a daylight-saving change has 1380 or 1500).
MINUTES_PER_DAY = 1440
_EPOCH_ORDINAL = _date(1970, 1, 1).toordinal()


def ordinal(date: str) -> int:
    """``'2024-01-31'`` -> days since 1970-01-01."""
    return int(np.datetime64(date, "D").astype(np.int64))


def iso_date(d: int) -> str:
    """Day ordinal -> ``YYYY-MM-DD`` (NumPy's spelling, years beyond 1..9999 included).

    >>> iso_date(0), iso_date(-719162), iso_date(2_932_897)
    ('1970-01-01', '0001-01-01', '10000-01-01')
    """
    if -719_162 <= d <= 2_932_896:  # datetime's range: 4x faster than np.datetime64
        return _date.fromordinal(_EPOCH_ORDINAL + int(d)).isoformat()
    return str(np.datetime64(d, "D"))


def weekday(d: Any) -> Any:
    """Day ordinal(s) -> weekday, Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday)."""
    return (d + 3) % 7


def is_weekend(d: int) -> bool:
    """Whether day ordinal ``d`` is a Saturday or a Sunday."""
    return bool(weekday(d) >= 5)


def night_of(local_min: Any) -> Any:
    """Label of the night a local minute belongs to: noon (d-1) .. noon d -> d."""
    return (np.asarray(local_min) + MINUTES_PER_DAY // 2) // MINUTES_PER_DAY


def format_duration(minutes: float) -> str:
    """A length of time for people: ``'1 h 5 min'``, ``'2 h'``, ``'45 min'`` (sign dropped).

    Examples
    --------
    >>> format_duration(65), format_duration(-120), format_duration(44.6)
    ('1 h 5 min', '2 h', '45 min')
    """
    m = int(round(abs(minutes)))
    h, mm = divmod(m, 60)
    if h and mm:
        return f"{h} h {mm} min"
    return f"{h} h" if h else f"{mm} min"
